/*
 * The cluster view: what one node knows of every node of the cluster (itself included),
 * and the only definitions of what the rest of the code asks of it: whether a node is
 * alive, whether we hold its latest data (fresh), its node data, the instance of an
 * object on it, and the inputs of the quorum. The agent owns the peer table (daemon.c
 * fills it from heartbeats and the peer API); the decide step (cl_decide.h), the local
 * API's view, replication, rotation and the cluster simulator of the tests only read it
 * through these functions. No I/O, no clock: a view is plain data.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cl_config.h"
#include "cluster/cl_nodedata.h"
#include "cluster/cl_quorum.h"
#include "cluster/hb_frame.h"

/* Liveness of a peer, in stages: a missed beat or two make it suspect, `timeout`
 * without a valid frame makes it down; any valid frame makes it up. */
enum om_peer_state { OM_PEER_UNKNOWN, OM_PEER_UP, OM_PEER_SUSPECT, OM_PEER_DOWN };
const char *om_peer_state_to_string(enum om_peer_state s);

struct om_peer {
        char name[OM_CL_NAME_MAX];
        bool self;
        enum om_peer_state state;
        uint64_t last_rx;                  /* loop time of the last valid frame, any stream */
        uint64_t last_rx_hb[OM_CL_HB_MAX]; /* per stream, 0 never */
        uint64_t gen_announced;            /* generation its beats announce */
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        bool have_data;
        uint8_t data_boot[OM_HB_BOOT_ID_LEN];
        struct om_cl_nodedata data;
        bool pulling;
        uint64_t pulls, pull_errors;
        /* the nodes it hears, from its last beat (see om_hb_beat): by node index */
        bool hears_known;
        uint64_t hears[OM_HB_HEARS_WORDS];
        /* the nodes it lends its vote to, from its last beat ("l"; older agents send
         * none: hears stands for it) */
        bool lends_known;
        uint64_t lends[OM_HB_HEARS_WORDS];
        /* our loop stalled since we last had its current data: not counted for the
         * quorum until data pulled after the stall shows it fresh (om_peer_seen) */
        bool unsure;
        /* loop time of our last beat that lent it our vote (om_view_endorses), 0 never:
         * until that promise runs out (om_view_promise_end) it may count our vote */
        uint64_t endorsed_at;
        uint64_t pull_stalls; /* our stall count when the pull in flight was asked */
        /* heartbeat frames per stream: received from it (valid), sent to it (unicast) */
        uint64_t rx_frames[OM_CL_HB_MAX], tx_frames[OM_CL_HB_MAX];
};

/* The liveness peer p has at now, judged from its last frame (p->last_rx): down when
 * silent for more than timeout, suspect when it was up and is silent for more than two
 * intervals, else its state unchanged. Never judges this node. */
enum om_peer_state om_peer_judge(const struct om_peer *p, uint64_t now, uint64_t interval,
                                 uint64_t timeout);

/* One node's view: peers[self] is this node, whose data is local. stalled: our loop
 * stalled less than two timeouts ago (the window in which a peer may have just taken
 * over what we run). now: the loop time the view is read at; vote_ms: the vote window
 * (om_vote_window), 0 in views built without a clock (unit rows), which then judge
 * votes by the liveness state alone. */
struct om_view {
        const struct om_peer *peers;
        size_t n;
        int self;
        const struct om_cl_nodedata *local;
        bool stalled;
        uint64_t now;
        uint64_t vote_ms;
};

/*
 * Alive, and who counts for the quorum.
 *
 * Problem: links can fail one way. When n2 stops hearing n1 while n1 still hears n2,
 * n2 counts n1 dead and n1 counts n2 alive: n2 takes over what n1 runs while n1, holding
 * a majority with n2 counted, keeps it. Majority arithmetic alone is then unsafe. A
 * node whose own loop stalled has the same problem with time: the peers it saw alive
 * before the stall may have declared it down and moved on.
 *
 * Behaviour: a node is heard when a valid frame came from it within `timeout` (up or
 * suspect). It is alive when heard, or when a peer we hear says in its beats that it
 * hears it: we do not take over what a node runs that others still hear (we cannot
 * reach its data, so it stays not fresh, and a live node without fresh data counts as
 * running). It counts for the quorum only when heard, when its own beats say it hears
 * us (beats of older agents say nothing: counted as before), and when we hold its data
 * pulled since our last loop stall. For two timeouts after a stall, until every peer
 * alive is so, the quorum is in doubt (om_view_quorum): no start, no split action; a
 * peer still unsure then does not count, and a failover instance it may have taken over
 * is stopped here (cl_decide.h).
 *
 * Reason: a vote must be mutual to be a vote: two sides that do not both hear each
 * other must not both count one node. Refusing to take over a node that a third node
 * still hears costs a takeover only in the partial splits where two nodes would
 * otherwise both run the service.
 */
bool om_view_alive(const struct om_view *v, size_t i);
/* Heard: this node, or a peer with a valid frame within `timeout` (up or suspect). */
bool om_view_heard(const struct om_view *v, size_t i);
/* Counts for the quorum (see above, and "A vote is lent for a bounded time" below). */
bool om_view_votes(const struct om_view *v, size_t i);

/*
 * A vote is lent for a bounded time.
 *
 * Problem: when n1 counts n2's vote, it does so on the word of n2's last beat ("I hear
 * n1"). n2 may stop hearing n1 right after sending it; n2 then judges n1 down, and, with
 * the arbitrator's vote, takes over, while n1 still counts n2 (its beat said so) and
 * holds a majority too: one vote counted on both sides, two nodes running one service.
 * The simulator found this on lossy links (two nodes and an arbitrator, 70% of the
 * frames between them lost).
 *
 * Behaviour: a node's beats lend its vote to a peer only while a frame came from that
 * peer within the vote window (two intervals: om_view_endorses); a node counts a peer's
 * vote only while it heard that peer within the same window and the peer's last beat
 * lends its vote to us (om_view_votes). The beats' other set, the nodes heard within
 * `timeout`, stays what third nodes judge liveness by (om_view_alive). Each beat that says so is a
 * promise: the receiver may count the sender for up to om_promise_hold after it, which covers the
 * window plus the time a beat may wait unread without the receiver noticing a stall of its loop.
 * The sender keeps the time of its last such beat per peer (endorsed_at), and starts no failover
 * instance while a peer that does not count for its own quorum may still count it
 * (om_view_promise_end; cl_decide.h).
 *
 * Reason: the two windows add up to the promise, and the promise must be over before the
 * side that dropped the peer acts. With windows of a whole `timeout` the wait after a
 * peer is judged down would be another `timeout`; with two intervals it is
 * 4 x interval + the stall bound - timeout - ready_period, 1.5 s with the defaults, and
 * none when `timeout` >= 4 x interval + the stall bound. A vote window shorter than
 * `timeout` may make a vote come and go on a link that loses two beats in a row, or on
 * a loaded machine whose loops run late: a peer still heard within `timeout` whose vote
 * lapsed from the window leaves the quorum in doubt (om_view_quorum: start nothing, stop
 * nothing), not lost, so the split action waits for the peer to be judged down, as it
 * did before votes were lent; a moment of doubt delays a start, never causes a stop.
 */
/* A node's beats lend its vote to peer i: i is a peer heard within the vote window. */
bool om_view_endorses(const struct om_view *v, size_t i);
/* The vote window: two intervals. */
uint64_t om_vote_window(uint64_t interval);
/* How long a receiver may count a beat's promise after it was sent: the vote window plus
 * the loop delay the stall guard lets pass unnoticed (max(interval, timeout / 2)). */
uint64_t om_promise_hold(uint64_t interval, uint64_t timeout);
/* The time until which a peer that does not count for our quorum may still count our
 * vote (0 when none may): the latest endorsed_at + hold among such peers. */
uint64_t om_view_promise_end(const struct om_view *v, uint64_t hold);
/* Fresh: this node, or a peer we hear whose latest announced generation, from its
 * current boot, we hold (a node alive only through another's beats is never fresh).
 * Decisions that depend on what a peer runs wait for this. */
bool om_view_fresh(const struct om_view *v, size_t i);
/* Every alive node is fresh. */
bool om_view_all_fresh(const struct om_view *v);
/* Node i's data: the local data for this node, the last received for a peer (NULL when
 * none was received yet). */
const struct om_cl_nodedata *om_view_data(const struct om_view *v, size_t i);
/* The instance of path on node i, NULL when i holds none (or we hold no data of it). */
const struct om_cl_instance *om_view_inst(const struct om_view *v, size_t i, const char *path);
/* The liveness as the view shows it to users: "up" for an alive node (suspect included),
 * else "down" or "unknown". */
const char *om_view_state_string(const struct om_view *v, size_t i);

/* The quorum this view holds: the votes of the nodes that count (om_view_votes) plus
 * arb_votes (the weight of the arbitrators whose vote this node counts) out of every node
 * and arb_weight; arb_keep is the weight of the arbitrators whose lease this node holds
 * without counting it (cluster/arb_vote.h). enabled is `[cluster] quorum`. Returns 0 and
 * fills ret, or a negative errno (bad weights). Within two timeouts of our last stall (v->stalled),
 * while a peer alive is unsure or its data not fresh, the quorum is not held: any peer may have
 * taken over what we run; ret->keep is then set when it would be held with those peers
 * (in doubt: start nothing, split nothing), as it is for kept arbitrator leases and for
 * peers heard within `timeout` whose vote lapsed from the vote window. */
int om_view_quorum(const struct om_view *v, bool enabled, int arb_weight, int arb_votes,
                   int arb_keep, struct om_quorum *ret);

/* Our loop stalled: every peer is unsure until heard again with fresh data. */
void om_peer_stalled(struct om_peer *p);
/* The node data of p, pulled after our last stall (frames queued during a stall are
 * read after it and say nothing of now), was taken in: p is sure again when its data is
 * fresh. */
void om_peer_seen(struct om_peer *p);

/* An instance is up for placement: its availability is up or warn. */
bool om_inst_up(const struct om_cl_instance *in);
/* An instance runs, may run, or is about to (up, or a monitor state that holds it): a
 * start elsewhere must wait. */
bool om_inst_holds(const struct om_cl_instance *in);
