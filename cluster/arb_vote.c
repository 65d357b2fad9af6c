/*
 * Implementation of arb_vote.h: the arbitrator's lease rule and the node's counting
 * rule. Plain data and arithmetic; the daemon and the agent do the I/O and read the
 * clocks. The rule and its reasons are written in arb_vote.h.
 */
#include "cluster/arb_vote.h"

#include <errno.h>
#include <string.h>

#include "core/om.h"

/* ---- sets ---- */

void om_arb_set_add(struct om_arb_set *s, size_t i) {
        if (i < OM_ARB_NODES_MAX)
                s->w[i / 64] |= UINT64_C(1) << (i % 64);
}

bool om_arb_set_has(const struct om_arb_set *s, size_t i) {
        return i < OM_ARB_NODES_MAX && (s->w[i / 64] >> (i % 64) & 1);
}

bool om_arb_set_within(const struct om_arb_set *a, const struct om_arb_set *b) {
        for (size_t k = 0; k < ARRAY_SIZE(a->w); k++)
                if (a->w[k] & ~b->w[k])
                        return false;
        return true;
}

size_t om_arb_set_count(const struct om_arb_set *s) {
        size_t n = 0;
        for (size_t k = 0; k < ARRAY_SIZE(s->w); k++)
                n += (size_t)__builtin_popcountll(s->w[k]);
        return n;
}

/* ---- names ---- */

static const char *const kind_names[_OM_ARB_KIND_MAX] = {
        [OM_ARB_GRANT] = "grant",
        [OM_ARB_HOLD] = "hold",
        [OM_ARB_PENDING] = "pending",
        [OM_ARB_REFUSE] = "refuse",
};

static const char *const reason_names[_OM_ARB_REASON_MAX] = {
        [OM_ARB_R_NONE] = "none",         [OM_ARB_R_RESTARTING] = "restarting",
        [OM_ARB_R_CLEARING] = "clearing", [OM_ARB_R_CONTEST] = "contest",
        [OM_ARB_R_SEEN] = "seen",         [OM_ARB_R_HELD] = "held",
        [OM_ARB_R_FULL] = "full",
};

const char *om_arb_kind_to_string(enum om_arb_kind k) {
        return (unsigned)k < _OM_ARB_KIND_MAX ? kind_names[k] : "?";
}

int om_arb_kind_from_string(const char *s) {
        for (int i = 0; s && i < _OM_ARB_KIND_MAX; i++)
                if (strcmp(s, kind_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *om_arb_reason_to_string(enum om_arb_reason r) {
        return (unsigned)r < _OM_ARB_REASON_MAX ? reason_names[r] : "?";
}

int om_arb_reason_from_string(const char *s) {
        for (int i = 0; s && i < _OM_ARB_REASON_MAX; i++)
                if (strcmp(s, reason_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *om_arb_count_to_string(enum om_arb_count c) {
        static const char *const names[] = {
                [OM_ARB_COUNT_NONE] = "none",
                [OM_ARB_COUNT_KEEP] = "keep",
                [OM_ARB_COUNT_VOTE] = "vote",
        };
        return (unsigned)c < ARRAY_SIZE(names) ? names[c] : "?";
}

/* ---- the arbitrator ---- */

void om_arb_vote_init(struct om_arb_vote *v, uint64_t lease_ms, uint64_t now) {
        memset(v, 0, sizeof(*v));
        v->lease_ms = OM_MIN(OM_MAX(lease_ms, (uint64_t)OM_ARB_LEASE_MIN_MS),
                             (uint64_t)OM_ARB_LEASE_MAX_MS);
        v->window_ms = v->lease_ms / 3;
        v->started = now;
}

const char *om_arb_vote_name(const struct om_arb_vote *v, size_t i) {
        return i < v->n_nodes ? v->nodes[i].name : NULL;
}

static int find(const struct om_arb_vote *v, const char *name) {
        for (size_t i = 0; i < v->n_nodes; i++)
                if (strcmp(v->nodes[i].name, name) == 0)
                        return (int)i;
        return -ENOENT;
}

static bool name_ok(const char *s) {
        return s && s[0] && strnlen(s, OM_ARB_NAME_MAX) < OM_ARB_NAME_MAX;
}

static bool licensed(const struct om_arb_vote *v, size_t i, uint64_t now) {
        return v->nodes[i].expires > now;
}

static bool holder_licensed(const struct om_arb_vote *v, uint64_t now) {
        for (size_t i = 0; v->has_holder && i < v->n_nodes; i++)
                if (om_arb_set_has(&v->holders, i) && licensed(v, i, now))
                        return true;
        return false;
}

uint64_t om_arb_vote_holder_left(const struct om_arb_vote *v, uint64_t now) {
        uint64_t left = 0;
        for (size_t i = 0; v->has_holder && i < v->n_nodes; i++)
                if (om_arb_set_has(&v->holders, i) && licensed(v, i, now))
                        left = OM_MAX(left, v->nodes[i].expires - now);
        return left;
}

/* Rule 2's end: GRANT when every licensed node is in H, else HOLD; either is a lease. */
static void grant_or_hold(struct om_arb_vote *v, size_t x, uint64_t now, struct om_arb_answer *a) {
        bool clear = true;
        for (size_t i = 0; i < v->n_nodes; i++)
                if (i != x && licensed(v, i, now) && !om_arb_set_has(&v->holders, i))
                        clear = false;
        v->nodes[x].expires = now + v->lease_ms;
        v->nodes[x].renewing = true;
        v->nodes[x].cand = false;
        a->kind = clear ? OM_ARB_GRANT : OM_ARB_HOLD;
        a->reason = clear ? OM_ARB_R_NONE : OM_ARB_R_CLEARING;
        a->lease_ms = v->lease_ms;
}

/* A candidate that a licensed, renewing node sees, while it does not see that node:
 * the other still renews the larger partition containing this one (one-way loss). */
static bool eligible(const struct om_arb_vote *v, size_t c, uint64_t now) {
        for (size_t o = 0; o < v->n_nodes; o++) {
                const struct om_arb_node *n = &v->nodes[o];
                if (o == c || !licensed(v, o, now) || !n->renewing)
                        continue;
                if (!om_arb_set_has(&v->nodes[c].view, o) && om_arb_set_has(&n->view, c))
                        return false;
        }
        return true;
}

static const char *lowest_name(const struct om_arb_vote *v, const struct om_arb_set *s) {
        const char *low = NULL;
        for (size_t i = 0; i < v->n_nodes; i++)
                if (om_arb_set_has(s, i) && (!low || strcmp(v->nodes[i].name, low) < 0))
                        low = v->nodes[i].name;
        return low ? low : "";
}

/* > 0 when candidate a beats b (rule 4's order). */
static int better(const struct om_arb_vote *v, size_t a, size_t b) {
        const struct om_arb_node *na = &v->nodes[a], *nb = &v->nodes[b];
        if (na->services != nb->services)
                return na->services > nb->services ? 1 : -1;
        size_t ca = om_arb_set_count(&na->view), cb = om_arb_set_count(&nb->view);
        if (ca != cb)
                return ca > cb ? 1 : -1;
        int r = strcmp(lowest_name(v, &nb->view), lowest_name(v, &na->view));
        if (r)
                return r;
        return strcmp(nb->name, na->name);
}

static bool contest_due(const struct om_arb_vote *v, uint64_t now) {
        if (now >= v->contest_since + v->window_ms)
                return true;
        if (!v->has_holder)
                return false;
        /* early: every member of H that is licensed or was heard within one lease has
         * asked as a candidate */
        for (size_t i = 0; i < v->n_nodes; i++) {
                const struct om_arb_node *n = &v->nodes[i];
                if (!om_arb_set_has(&v->holders, i))
                        continue;
                if ((licensed(v, i, now) || n->seen + v->lease_ms > now) && !n->cand)
                        return false;
        }
        return true;
}

/* Decides the open contest; false when no candidate is eligible (window restarted). */
static bool contest_decide(struct om_arb_vote *v, uint64_t now) {
        int best = -1;
        for (size_t i = 0; i < v->n_nodes; i++) {
                const struct om_arb_node *n = &v->nodes[i];
                if (!n->cand || n->seen + v->lease_ms <= now || !eligible(v, i, now))
                        continue;
                if (best < 0 || better(v, i, (size_t)best) > 0)
                        best = (int)i;
        }
        if (best < 0) {
                v->contest_since = now;
                return false;
        }
        v->holders = v->nodes[best].view;
        v->has_holder = true;
        v->contest = false;
        v->decisions++;
        for (size_t i = 0; i < v->n_nodes; i++)
                v->nodes[i].cand = false;
        return true;
}

/* Interns every name of req (all or none). Returns 0, -EINVAL or -ENOSPC. */
static int intern(struct om_arb_vote *v, const struct om_arb_request *req, size_t *ret_x,
                  struct om_arb_set *ret_view) {
        if (!name_ok(req->node) || req->n_view == 0 || req->n_view > OM_ARB_NODES_MAX)
                return -EINVAL;
        size_t fresh = 0;
        bool self = false;
        for (size_t k = 0; k < req->n_view; k++) {
                if (!name_ok(req->view[k]))
                        return -EINVAL;
                for (size_t j = 0; j < k; j++)
                        if (strcmp(req->view[j], req->view[k]) == 0)
                                return -EINVAL;
                if (strcmp(req->view[k], req->node) == 0)
                        self = true;
                if (find(v, req->view[k]) < 0)
                        fresh++;
        }
        if (!self)
                return -EINVAL;
        if (v->n_nodes + fresh > OM_ARB_NODES_MAX)
                return -ENOSPC;
        struct om_arb_set view = {0};
        for (size_t k = 0; k < req->n_view; k++) {
                int i = find(v, req->view[k]);
                if (i < 0) {
                        i = (int)v->n_nodes++;
                        memset(&v->nodes[i], 0, sizeof(v->nodes[i]));
                        strcpy(v->nodes[i].name, req->view[k]);
                }
                om_arb_set_add(&view, (size_t)i);
        }
        *ret_x = (size_t)find(v, req->node);
        *ret_view = view;
        return 0;
}

int om_arb_vote_request(struct om_arb_vote *v, const struct om_arb_request *req, uint64_t now,
                        struct om_arb_answer *ret) {
        struct om_arb_answer a = {0};
        size_t x;
        struct om_arb_set view;
        int r = intern(v, req, &x, &view);
        if (r == -EINVAL)
                return r;
        if (r == -ENOSPC) {
                a.kind = OM_ARB_REFUSE;
                a.reason = OM_ARB_R_FULL;
                goto out;
        }
        struct om_arb_node *n = &v->nodes[x];
        n->seen = now;
        n->view = view;
        n->services = req->services;

        bool in_h = v->has_holder && om_arb_set_has(&v->holders, x);
        bool sees_h = v->has_holder && om_arb_set_within(&v->holders, &view);
        bool h_lic = holder_licensed(v, now);

        if (now < v->started + v->lease_ms) {
                /* rule 1: record the candidate, give nothing */
                n->renewing = false;
                n->cand = true;
                if (!v->contest) {
                        v->contest = true;
                        v->contest_since = now;
                }
                a.kind = OM_ARB_PENDING;
                a.reason = OM_ARB_R_RESTARTING;
                goto out;
        }
        if (in_h && sees_h && (h_lic || !v->contest)) {
                grant_or_hold(v, x, now, &a); /* rule 2 */
                goto out;
        }
        if (!in_h && sees_h && h_lic) {
                /* rule 3 */
                for (size_t i = 0; i < v->n_nodes; i++)
                        if (om_arb_set_has(&v->holders, i) && licensed(v, i, now) &&
                            !om_arb_set_has(&v->nodes[i].view, x)) {
                                n->renewing = false;
                                a.kind = OM_ARB_REFUSE;
                                a.reason = OM_ARB_R_HELD;
                                goto out;
                        }
                om_arb_set_add(&v->holders, x);
                grant_or_hold(v, x, now, &a);
                goto out;
        }
        if (!in_h && h_lic) {
                n->renewing = false;
                n->cand = false;
                a.kind = OM_ARB_REFUSE;
                a.reason = OM_ARB_R_HELD;
                goto out;
        }
        /* rule 4: a member of H that lost sight of part of it, or anyone once H's
         * lease ended */
        n->renewing = false;
        n->cand = true;
        if (!v->contest) {
                v->contest = true;
                v->contest_since = now;
        }
        if (!contest_due(v, now) || !contest_decide(v, now)) {
                a.reason = eligible(v, x, now) ? OM_ARB_R_CONTEST : OM_ARB_R_SEEN;
                if (in_h) {
                        /* a member of H keeps what it runs while the contest lasts: its
                         * lease is extended as a HOLD (no GRANT can go to a set without
                         * it meanwhile, and a HOLD counts nothing) */
                        n->expires = now + v->lease_ms;
                        a.kind = OM_ARB_HOLD;
                        a.lease_ms = v->lease_ms;
                } else
                        a.kind = OM_ARB_PENDING;
                goto out;
        }
        if (om_arb_set_has(&v->holders, x) && om_arb_set_within(&v->holders, &view))
                grant_or_hold(v, x, now, &a);
        else {
                a.kind = OM_ARB_REFUSE;
                a.reason = OM_ARB_R_HELD;
        }
out:
        a.has_holder = v->has_holder;
        a.holders = v->holders;
        a.holder_left_ms = om_arb_vote_holder_left(v, now);
        *ret = a;
        return 0;
}

/* ---- the node ---- */

uint64_t om_arb_node_lease(uint64_t lease_ms) {
        /* 2% covers the two clocks' rate error of 1% each (0.99 / 1.01 > 0.98) */
        uint64_t off = lease_ms / 50 + OM_ARB_MARGIN_MS;
        return lease_ms > off ? lease_ms - off : 0;
}

int om_arb_license_apply(struct om_arb_license *l, uint64_t sent, enum om_arb_kind kind,
                         uint64_t lease_ms, const struct om_arb_set *holders, bool holders_known) {
        if (l->applied && sent < l->last_sent)
                return 0;
        l->applied = true;
        l->last_sent = sent;
        switch (kind) {
        case OM_ARB_GRANT:
        case OM_ARB_HOLD:
                l->valid = true;
                l->kind = kind;
                l->until = sent + om_arb_node_lease(lease_ms);
                l->holders = holders ? *holders : (struct om_arb_set){0};
                l->holders_known = holders_known && holders;
                break;
        case OM_ARB_REFUSE:
                l->valid = false;
                break;
        default:
                break;
        }
        return 1;
}

enum om_arb_count om_arb_license_count(const struct om_arb_license *l,
                                       const struct om_arb_set *view, uint64_t now) {
        if (!l->valid || now >= l->until)
                return OM_ARB_COUNT_NONE;
        if (l->kind == OM_ARB_GRANT && l->holders_known && om_arb_set_within(&l->holders, view))
                return OM_ARB_COUNT_VOTE;
        return OM_ARB_COUNT_KEEP;
}
