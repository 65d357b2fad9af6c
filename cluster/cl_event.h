/*
 * Events: every state change the agent makes or sees, as a record with a sequence number,
 * kept in a bounded ring (the agent's side, subscribers and hooks, is agent/events.c).
 * This part is pure: the event kinds, building one event (its JSON object and its one-line
 * text), the ring with "everything after sequence N" and what was lost to its wrapping,
 * and the subscribers' filters. No loop, no clock read, no I/O.
 *
 * An event's JSON object: {"seq": N, "ts": <ms since the epoch>, "kind": "<kind>",
 * "node": "<the node that saw it>", then the kind's fields ("path", "peer", ...)}. Its
 * text: "<kind> key=value ...", the same fields in order.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/util.h"

enum om_ev_kind {
        OM_EV_NODE_UP,        /* peer: heard again (or for the first time) */
        OM_EV_NODE_SUSPECT,   /* peer: silent two intervals */
        OM_EV_NODE_DOWN,      /* peer: silent `timeout`; reason */
        OM_EV_QUORUM_HELD,    /* votes, total */
        OM_EV_QUORUM_DOUBT,   /* not held, not lost (a lease kept, peers unsure) */
        OM_EV_QUORUM_LOST,    /* votes, total */
        OM_EV_MONITOR,        /* path, peer: monitor state from => to (reason) */
        OM_EV_AVAIL,          /* path, peer: availability from => to */
        OM_EV_TARGET_SET,     /* path, target, writer */
        OM_EV_TARGET_REACHED, /* path, target */
        OM_EV_TARGET_FAILED,  /* path, target, reason */
        OM_EV_TAKEOVER,       /* path, from: this node starts what ran on `from` */
        OM_EV_FAILOVER,       /* path, from, duration_ms: the takeover's start ended */
        OM_EV_ACTION_START,   /* path, action, pid */
        OM_EV_ACTION_END,     /* path, action, status, result, duration_ms */
        OM_EV_REPL_INSTALL,   /* path, version, from */
        OM_EV_REPL_REFUSED,   /* path, from, reason */
        OM_EV_HB_DROPS,       /* stream, count, then a count per reason */
        _OM_EV_KIND_MAX,
};

const char *om_ev_kind_to_string(enum om_ev_kind k);
/* The kind named s, or -EINVAL. */
int om_ev_kind_from_string(const char *s);

struct om_event {
        uint64_t seq;
        uint64_t ts_ms; /* wall clock, ms since the epoch */
        enum om_ev_kind kind;
        char *path; /* the object it is about, NULL when none */
        char *peer; /* the node it is about, NULL when none */
        char *json; /* the whole event, one JSON object, no newline */
        char *text; /* "<kind> key=value ..." */
};
void om_event_done(struct om_event *e);

/* Building one event: begin, add fields in order, then om_ev_ring_push. */
struct om_ev_build {
        struct om_event ev;
        struct om_json j;
        struct om_buf text;
        bool failed; /* an allocation failed: push refuses it */
};
void om_ev_begin(struct om_ev_build *b, enum om_ev_kind kind, const char *node, uint64_t ts_ms);
void om_ev_str(struct om_ev_build *b, const char *key, const char *val);
void om_ev_int(struct om_ev_build *b, const char *key, int64_t val);
/* "path" and "peer" are fields too, and what filters match. */
void om_ev_path(struct om_ev_build *b, const char *path);
void om_ev_peer(struct om_ev_build *b, const char *peer);
/* Frees a build that is not pushed. */
void om_ev_build_done(struct om_ev_build *b);

/* The ring: the last `cap` events; sequence numbers start at 1 and never repeat in a
 * ring's life. */
struct om_ev_ring {
        struct om_event *v;
        size_t cap, n, head; /* head: index of the oldest */
        uint64_t last;       /* sequence of the newest, 0 before the first */
};
int om_ev_ring_init(struct om_ev_ring *r, size_t cap);
void om_ev_ring_free(struct om_ev_ring *r);
/* Stores the built event under the next sequence number (the oldest goes when the ring
 * is full) and returns it, or NULL (-ENOMEM: nothing stored, b freed either way). */
const struct om_event *om_ev_ring_push(struct om_ev_ring *r, struct om_ev_build *b);
/* Sequence of the oldest event held (last + 1 when empty). */
uint64_t om_ev_ring_first(const struct om_ev_ring *r);
/* The event of sequence seq, NULL when not held. */
const struct om_event *om_ev_ring_get(const struct om_ev_ring *r, uint64_t seq);
/* For a reader that saw everything up to `after`: how many events after it the ring no
 * longer holds (0 when none is lost). */
uint64_t om_ev_ring_lost(const struct om_ev_ring *r, uint64_t after);

/* A subscriber's filter: terms "key=glob[,glob...]" (key: kind, path or node), every
 * term must match, one glob of a term is enough; `node` matches the node the event is
 * about (its peer field). An empty filter matches everything. */
#define OM_EV_FILTER_TERMS 8
#define OM_EV_FILTER_GLOBS 16
#define OM_EV_FILTER_LEN 256
struct om_ev_filter {
        size_t n;
        struct {
                int key; /* 0 kind, 1 path, 2 node */
                char **globs;
        } term[OM_EV_FILTER_TERMS];
};
/* Adds one term; -EINVAL with the reason in err (an unknown key, an empty or too long
 * term, a kind that names none, too many terms or globs). */
int om_ev_filter_add(struct om_ev_filter *f, const char *spec, char *err, size_t errlen);
bool om_ev_filter_match(const struct om_ev_filter *f, const struct om_event *e);
void om_ev_filter_free(struct om_ev_filter *f);
