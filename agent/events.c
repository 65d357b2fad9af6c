/*
 * Implementation of events.h: the ring, the subscribers (a list walked on every emit; a
 * subscriber removed from its own callback is only marked, and unlinked once the walk
 * ends) and the scan of the view for what changed on the nodes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/events.h"
#include "agent/hooks.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/objpath.h"

struct om_ev_sub {
        struct om_ev_filter f;
        om_ev_cb cb;
        void *arg;
        bool dead;
        struct om_ev_sub *next;
};

/* What the last scan saw of one instance on one node. */
struct seen {
        int node;
        char path[OM_PATH_STRMAX];
        char avail[16];
        enum om_mon mon;
        bool mark;
};

struct om_events {
        struct om_ev_ring ring;
        struct om_ev_sub *subs;
        size_t n_subs;
        int walking; /* emit depth: subscribers are unlinked only at 0 */
        uint64_t count[_OM_EV_KIND_MAX];
        struct seen *seen;
        size_t n_seen;
};

int om_events_start(struct om_agent *a) {
        struct om_events *ev = calloc(1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        /* tests make the ring small to see it wrap (8 to the limit) */
        size_t cap = OM_LIM_EVENTS_RING;
        const char *t = getenv("OM_TEST_EVENTS_RING");
        if (t && atoi(t) >= 8 && atoi(t) <= OM_LIM_EVENTS_RING)
                cap = (size_t)atoi(t);
        int r = om_ev_ring_init(&ev->ring, cap);
        if (r < 0) {
                free(ev);
                return r;
        }
        a->events = ev;
        return 0;
}

void om_events_free(struct om_agent *a) {
        struct om_events *ev = a->events;
        if (!ev)
                return;
        while (ev->subs) {
                struct om_ev_sub *s = ev->subs;
                ev->subs = s->next;
                om_ev_filter_free(&s->f);
                free(s);
        }
        om_ev_ring_free(&ev->ring);
        free(ev->seen);
        free(ev);
        a->events = NULL;
}

void om_events_begin(struct om_agent *a, struct om_ev_build *b, enum om_ev_kind kind) {
        om_ev_begin(b, kind, a->self, om_now_ms());
}

static void subs_sweep(struct om_events *ev) {
        for (struct om_ev_sub **p = &ev->subs; *p;) {
                struct om_ev_sub *s = *p;
                if (!s->dead) {
                        p = &s->next;
                        continue;
                }
                *p = s->next;
                om_ev_filter_free(&s->f);
                free(s);
        }
}

void om_events_emit(struct om_agent *a, struct om_ev_build *b) {
        struct om_events *ev = a->events;
        if (!ev) {
                om_ev_build_done(b);
                return;
        }
        const struct om_event *e = om_ev_ring_push(&ev->ring, b);
        if (!e)
                return;
        ev->count[e->kind]++;
        ev->walking++;
        for (struct om_ev_sub *s = ev->subs; s; s = s->next)
                if (!s->dead && om_ev_filter_match(&s->f, e))
                        s->cb(s->arg, e);
        if (--ev->walking == 0)
                subs_sweep(ev);
        om_hooks_event(a, e);
}

const struct om_ev_ring *om_events_ring(struct om_agent *a) {
        return &a->events->ring;
}

struct om_ev_sub *om_events_subscribe(struct om_agent *a, struct om_ev_filter *f, om_ev_cb cb,
                                      void *arg) {
        struct om_events *ev = a->events;
        struct om_ev_sub *s = ev ? calloc(1, sizeof(*s)) : NULL;
        if (!s) {
                if (f)
                        om_ev_filter_free(f);
                return NULL;
        }
        if (f) {
                s->f = *f;
                *f = (struct om_ev_filter){0};
        }
        s->cb = cb;
        s->arg = arg;
        s->next = ev->subs;
        ev->subs = s;
        ev->n_subs++;
        return s;
}

void om_events_unsubscribe(struct om_agent *a, struct om_ev_sub *s) {
        struct om_events *ev = a->events;
        if (!ev || !s || s->dead)
                return;
        s->dead = true;
        ev->n_subs--;
        if (ev->walking == 0)
                subs_sweep(ev);
}

uint64_t om_events_replay(struct om_agent *a, uint64_t after, const struct om_ev_filter *f,
                          om_ev_cb cb, void *arg) {
        const struct om_ev_ring *r = &a->events->ring;
        uint64_t lost = om_ev_ring_lost(r, after);
        uint64_t first = om_ev_ring_first(r);
        for (uint64_t s = after + 1 > first ? after + 1 : first; s <= r->last; s++) {
                const struct om_event *e = om_ev_ring_get(r, s);
                if (e && om_ev_filter_match(f, e))
                        cb(arg, e);
        }
        return lost;
}

size_t om_events_subscribers(struct om_agent *a) {
        return a->events ? a->events->n_subs : 0;
}

uint64_t om_events_count(struct om_agent *a, enum om_ev_kind kind) {
        return a->events && (unsigned)kind < _OM_EV_KIND_MAX ? a->events->count[kind] : 0;
}

/* ---- the view's changes ---- */

static struct seen *seen_find(struct om_events *ev, int node, const char *path) {
        for (size_t i = 0; i < ev->n_seen; i++)
                if (ev->seen[i].node == node && strcmp(ev->seen[i].path, path) == 0)
                        return &ev->seen[i];
        return NULL;
}

void om_events_scan(struct om_agent *a) {
        struct om_events *ev = a->events;
        if (!ev)
                return;
        const struct om_view v = om_agent_view(a);
        for (size_t i = 0; i < ev->n_seen; i++)
                ev->seen[i].mark = false;
        for (size_t n = 0; n < a->n_peers; n++) {
                const struct om_cl_nodedata *nd = om_view_data(&v, n);
                for (size_t k = 0; nd && k < nd->n_inst; k++) {
                        const struct om_cl_instance *in = &nd->inst[k];
                        struct seen *s = seen_find(ev, (int)n, in->path);
                        bool fresh = !s;
                        if (!s) {
                                struct seen *nv = realloc(ev->seen, (ev->n_seen + 1) * sizeof(*nv));
                                if (!nv)
                                        continue;
                                ev->seen = nv;
                                s = &ev->seen[ev->n_seen++];
                                *s = (struct seen){.node = (int)n, .mon = OM_MON_NONE};
                                snprintf(s->path, sizeof(s->path), "%s", in->path);
                        }
                        s->mark = true;
                        if (fresh || strcmp(s->avail, in->avail) != 0) {
                                struct om_ev_build b;
                                om_events_begin(a, &b, OM_EV_AVAIL);
                                om_ev_path(&b, in->path);
                                om_ev_peer(&b, a->peers[n].name);
                                om_ev_str(&b, "from", s->avail);
                                om_ev_str(&b, "to", in->avail);
                                snprintf(s->avail, sizeof(s->avail), "%s", in->avail);
                                om_events_emit(a, &b);
                        }
                        /* this node's monitor changes come from the orchestrator, with
                         * their reason */
                        if (!a->peers[n].self && in->monitor != s->mon &&
                            in->monitor != OM_MON_NONE) {
                                struct om_ev_build b;
                                om_events_begin(a, &b, OM_EV_MONITOR);
                                om_ev_path(&b, in->path);
                                om_ev_peer(&b, a->peers[n].name);
                                om_ev_str(&b, "from",
                                          s->mon == OM_MON_NONE ? "" : om_mon_to_string(s->mon));
                                om_ev_str(&b, "to", om_mon_to_string(in->monitor));
                                om_events_emit(a, &b);
                        }
                        s->mon = in->monitor;
                }
        }
        /* instances no longer in a node's data are forgotten (the object was deleted,
         * or the node table changed) */
        size_t w = 0;
        for (size_t i = 0; i < ev->n_seen; i++)
                if (ev->seen[i].mark)
                        ev->seen[w++] = ev->seen[i];
        ev->n_seen = w;
}
