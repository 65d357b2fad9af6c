/*
 * The agent's events (the pure part is cluster/cl_event.h): the ring of the last
 * OM_LIM_EVENTS_RING events, what emits them, and their subscribers. Every state change
 * the agent makes or sees is emitted where it happens (daemon.c: node liveness and
 * heartbeat drops; orchestrator.c: quorum, monitor states, targets, takeovers and
 * failovers; runner.c: actions; repl.c: installs and refusals) and om_events_scan finds
 * what the view shows changed on peers (instance availability and monitor states).
 *
 * A subscriber (the local API's `events` command, an HTTP event stream) first asks
 * om_events_replay for what it missed after the last sequence it saw, then gets each new
 * event through its callback, on the loop thread, as it is emitted. Agent files only.
 */
#pragma once

#include <stdint.h>

#include "cluster/cl_event.h"

struct om_agent;
struct om_ev_sub;

int om_events_start(struct om_agent *a);
void om_events_free(struct om_agent *a);

/* Begins an event of this node now; add fields (cl_event.h), then om_events_emit. */
void om_events_begin(struct om_agent *a, struct om_ev_build *b, enum om_ev_kind kind);
/* Stores the event in the ring, hands it to every subscriber whose filter matches and to
 * the hooks (agent/hooks.h). Takes b over. */
void om_events_emit(struct om_agent *a, struct om_ev_build *b);

/* The ring, for replays and the sequence numbers (read only). */
const struct om_ev_ring *om_events_ring(struct om_agent *a);

/* cb(arg, e) runs for every event emitted from now on that f matches (f taken over; NULL
 * matches everything), on the loop thread, until om_events_unsubscribe (which cb itself
 * may call). NULL when out of memory. */
typedef void (*om_ev_cb)(void *arg, const struct om_event *e);
struct om_ev_sub *om_events_subscribe(struct om_agent *a, struct om_ev_filter *f, om_ev_cb cb,
                                      void *arg);
void om_events_unsubscribe(struct om_agent *a, struct om_ev_sub *s);
/* Calls cb for each event held after sequence `after` that f matches (NULL: all), oldest
 * first, and returns how many events after `after` the ring no longer holds (lost to its
 * wrapping). */
uint64_t om_events_replay(struct om_agent *a, uint64_t after, const struct om_ev_filter *f,
                          om_ev_cb cb, void *arg);
/* Subscribers now, and events emitted per kind since the start (metrics). */
size_t om_events_subscribers(struct om_agent *a);
uint64_t om_events_count(struct om_agent *a, enum om_ev_kind kind);

/* What the view shows changed since the last call: an instance's availability on any
 * node, a peer's monitor state (this node's are emitted by the orchestrator). daemon.c
 * calls it before the loop sleeps, after node data changed. */
void om_events_scan(struct om_agent *a);
