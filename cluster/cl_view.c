/*
 * Implementation of cl_view.h: the definitions of alive and fresh, and the readers of
 * node data, over a table of peers the caller owns.
 */
#include "cluster/cl_view.h"

#include <string.h>

#include "core/util.h"

const char *om_peer_state_to_string(enum om_peer_state s) {
        switch (s) {
        case OM_PEER_UP:
                return "up";
        case OM_PEER_SUSPECT:
                return "suspect";
        case OM_PEER_DOWN:
                return "down";
        default:
                return "unknown";
        }
}

enum om_peer_state om_peer_judge(const struct om_peer *p, uint64_t now, uint64_t interval,
                                 uint64_t timeout) {
        uint64_t silent = now > p->last_rx ? now - p->last_rx : 0;
        if (p->self)
                return p->state;
        if (silent > timeout)
                return OM_PEER_DOWN;
        if (silent > 2 * interval && p->state == OM_PEER_UP)
                return OM_PEER_SUSPECT;
        return p->state;
}

static bool peer_heard(const struct om_peer *p) {
        return p->self || p->state == OM_PEER_UP || p->state == OM_PEER_SUSPECT;
}

static bool bit(const uint64_t *set, size_t i) {
        return i < 64 * OM_HB_HEARS_WORDS && (set[i / 64] >> (i % 64) & 1);
}

bool om_view_heard(const struct om_view *v, size_t i) {
        return peer_heard(&v->peers[i]);
}

bool om_view_alive(const struct om_view *v, size_t i) {
        if (peer_heard(&v->peers[i]))
                return true;
        for (size_t j = 0; j < v->n; j++) {
                const struct om_peer *p = &v->peers[j];
                if (j != i && !p->self && peer_heard(p) && p->hears_known && bit(p->hears, i))
                        return true;
        }
        return false;
}

static bool peer_fresh(const struct om_peer *p) {
        return p->self || (p->have_data && p->data.gen >= p->gen_announced &&
                           memcmp(p->data_boot, p->boot_id, OM_HB_BOOT_ID_LEN) == 0);
}

bool om_view_fresh(const struct om_view *v, size_t i) {
        /* a node we do not hear announces nothing to us: what we hold of it may be old */
        return peer_heard(&v->peers[i]) && peer_fresh(&v->peers[i]);
}

static bool in_window(const struct om_view *v, const struct om_peer *p) {
        return !v->vote_ms || (v->now >= p->last_rx && v->now - p->last_rx <= v->vote_ms);
}

bool om_view_votes(const struct om_view *v, size_t i) {
        const struct om_peer *p = &v->peers[i];
        if (p->self)
                return true;
        const uint64_t *lends = p->lends_known ? p->lends : p->hears;
        return peer_heard(p) && in_window(v, p) && !p->unsure &&
               (!(p->lends_known || p->hears_known) ||
                (v->self >= 0 && bit(lends, (size_t)v->self)));
}

bool om_view_endorses(const struct om_view *v, size_t i) {
        const struct om_peer *p = &v->peers[i];
        return !p->self && peer_heard(p) && in_window(v, p);
}

uint64_t om_vote_window(uint64_t interval) {
        return 2 * interval;
}

uint64_t om_promise_hold(uint64_t interval, uint64_t timeout) {
        return om_vote_window(interval) + (interval > timeout / 2 ? interval : timeout / 2);
}

uint64_t om_view_promise_end(const struct om_view *v, uint64_t hold) {
        uint64_t end = 0;
        for (size_t i = 0; i < v->n; i++) {
                const struct om_peer *p = &v->peers[i];
                if (!p->self && p->endorsed_at && !om_view_votes(v, i) &&
                    p->endorsed_at + hold > end)
                        end = p->endorsed_at + hold;
        }
        return end;
}

void om_peer_stalled(struct om_peer *p) {
        if (!p->self)
                p->unsure = true;
}

void om_peer_seen(struct om_peer *p) {
        if (p->unsure && peer_heard(p) && peer_fresh(p))
                p->unsure = false;
}

bool om_view_all_fresh(const struct om_view *v) {
        for (size_t i = 0; i < v->n; i++)
                if (om_view_alive(v, i) && !om_view_fresh(v, i))
                        return false;
        return true;
}

const struct om_cl_nodedata *om_view_data(const struct om_view *v, size_t i) {
        const struct om_peer *p = &v->peers[i];
        if (p->self)
                return v->local;
        return p->have_data ? &p->data : NULL;
}

const struct om_cl_instance *om_view_inst(const struct om_view *v, size_t i, const char *path) {
        const struct om_cl_nodedata *nd = om_view_data(v, i);
        if (!nd)
                return NULL;
        if (nd->inst_sorted) { /* a decide pass asks this for every object and node */
                size_t lo = 0, hi = nd->n_inst;
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        int c = strcmp(nd->inst[mid].path, path);
                        if (c == 0)
                                return &nd->inst[mid];
                        if (c < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                return NULL;
        }
        for (size_t k = 0; k < nd->n_inst; k++)
                if (strcmp(nd->inst[k].path, path) == 0)
                        return &nd->inst[k];
        return NULL;
}

const char *om_view_state_string(const struct om_view *v, size_t i) {
        return om_view_alive(v, i) ? "up" : om_peer_state_to_string(v->peers[i].state);
}

int om_view_quorum(const struct om_view *v, bool enabled, int arb_weight, int arb_votes,
                   int arb_keep, struct om_quorum *ret) {
        struct om_quorum_input in = {.enabled = enabled,
                                     .n_nodes = v->n,
                                     .arb_weight = arb_weight,
                                     .arb_reachable = arb_votes,
                                     .arb_keep = arb_keep};
        size_t unsure = 0, lapsed = 0;
        for (size_t i = 0; i < v->n; i++) {
                const struct om_peer *p = &v->peers[i];
                bool votes = om_view_votes(v, i);
                in.live_nodes += votes;
                /* heard within `timeout`, lending us its vote, but not within the vote
                 * window: a loaded loop or two lost beats, or the start of its loss */
                lapsed += !votes && !p->self && peer_heard(p) && !p->unsure &&
                          (!(p->lends_known || p->hears_known) ||
                           (v->self >= 0 &&
                            bit(p->lends_known ? p->lends : p->hears, (size_t)v->self)));
                /* within two timeouts of our stall: alive (heard, or a third node
                 * hears it) and unsure or without fresh data; past that, a peer still
                 * unsure just does not count (the quorum may then be lost: the split
                 * action applies) */
                unsure += v->stalled && !v->peers[i].self && om_view_alive(v, i) &&
                          (v->peers[i].unsure || !om_view_fresh(v, i));
        }
        int r = om_quorum_compute(&in, ret);
        if (r < 0)
                return r;
        /* a vote that lapsed from the window but not yet from `timeout` leaves the quorum
         * in doubt, not lost: nothing starts on it, and nothing is split away before the
         * peer is judged down (cl_view.h, "A vote is lent for a bounded time") */
        if (enabled && !ret->have && lapsed &&
            ret->votes + arb_keep + (int)(lapsed + unsure) >= ret->needed)
                ret->keep = true;
        /* after a stall, any peer may have taken over what we run: the quorum is held
         * again only once every peer alive is sure (or judged down), for two timeouts */
        if (enabled && unsure) {
                ret->keep = ret->keep || ret->have ||
                            ret->votes + arb_keep + (int)unsure >= ret->needed;
                ret->have = false;
        }
        return 0;
}

bool om_inst_up(const struct om_cl_instance *in) {
        return in && (om_streq(in->avail, "up") || om_streq(in->avail, "warn"));
}

bool om_inst_holds(const struct om_cl_instance *in) {
        return in && (om_inst_up(in) || om_mon_holds(in->monitor));
}
