/*
 * The arbitrator's vote as a lease given to one partition at a time, and the node-side
 * rule for counting it. Pure: no I/O, no clock reads (every function takes `now`, in
 * milliseconds of a clock that does not jump back), no globals. The arbitrator daemon
 * (`om arbitrator run`) keeps one struct om_arb_vote per cluster it serves and feeds it
 * the requests that opened with that cluster's key; the agent keeps one struct
 * om_arb_license per configured arbitrator and asks it, every evaluation, whether the
 * arbitrator's weight counts. The cluster simulator calls the same functions.
 *
 * The problem. A tie-breaker that answers everybody (a TCP listener) gives its vote to
 * both sides of a cut between two nodes: each side then counts 2 votes of 3 and starts
 * the failover services the other side runs. The vote must go to one side only, and a
 * node must stop counting it before the arbitrator can give it to the other side.
 *
 * The words.
 * - A request carries the requester's name, its view (the nodes it sees alive, itself
 *   included) and how many failover services run on the nodes of that view.
 * - The holder set H is the partition the vote belongs to now. The arbitrator answers:
 *   GRANT (the vote, with H and the lease length), HOLD (a lease that lets the node
 *   keep what it runs but not count the vote: the vote is about to be its side's, once
 *   nodes outside it have let theirs run out), PENDING (ask again: keep the lease you
 *   have, nothing is extended), REFUSE (you do not hold the vote: drop your lease).
 * - A node's license is what it keeps from its last GRANT or HOLD: the holder set and
 *   the time it runs out. The arbitrator keeps, per node, when the last lease it gave
 *   that node runs out on its own clock (`expires`); a node is "licensed" while then.
 *
 * The rule (om_arb_vote_request), in order:
 * 1. For one lease after the arbitrator started it gives nothing (PENDING, reason
 *    "restarting"): it does not know who held the vote before, and every lease it gave
 *    before a restart has run out by then. Requests are still recorded, so the sides
 *    that asked meanwhile compete at the end of that time.
 * 2. Renewal: a member of H whose view contains all of H gets GRANT(H) when every
 *    licensed node is in H, else HOLD (nodes outside H are still licensed: wait them
 *    out). Every GRANT and HOLD sets the requester's `expires` to now + lease.
 * 3. Join: a node outside H whose view contains all of H joins H (GRANT) when every
 *    licensed member of H lists it in its last view; otherwise REFUSE while H's lease
 *    runs.
 * 4. Change: a member of H that no longer sees all of H, or anyone while no member of
 *    H is licensed (the lease ended, or no holder yet), is a candidate of a contest.
 *    A candidate that a licensed, renewing node does not see but that node sees (one-way
 *    loss: the other node still renews the larger partition that contains this one) is
 *    not eligible: the side that still hears everybody keeps the vote. Until the contest
 *    is decided, a candidate that is a member of H gets HOLD (its lease extended: it
 *    keeps what it runs, counts nothing), others PENDING. A contest is
 *    decided at the first request after one window (lease / 3) since it opened, or at
 *    once when every member of H that is licensed or was heard within one lease has
 *    asked as a candidate. The winner, among eligible candidates heard within one
 *    lease: the side that runs more failover services (moving a running service is
 *    what costs, and the side that runs it is the one that keeps its disk consistent),
 *    then the larger view (more nodes keep more redundancy), then the view whose lowest
 *    node name is lowest, then the lowest requester name (deterministic, so every
 *    replay of the same requests picks the same side). H becomes the winner's view;
 *    the winner then goes through rule 2: HOLD until the losers' leases ran out, then
 *    GRANT. Losers and outsiders get REFUSE while H's lease runs.
 *
 * Counting on the node (om_arb_license_count): the node counts the arbitrator's weight
 * only while its license is a GRANT that has not run out on the node's clock and its
 * current view contains every node of the license's holder set; a license that is
 * valid but not counted (a HOLD, or a GRANT whose holders the node no longer all sees)
 * means "keep": the node starts nothing on that vote but applies no split action for
 * it either. Why it is safe: a GRANT(H) is given only when every licensed node is in H;
 * so when two nodes x and y both count the vote, the one granted later lists the other
 * in H and, counting it, sees it alive. Two sides that do not see each other never both
 * count it. What the node side must guarantee: (1) the view in a request is the view
 * it counts with (nodes alive, itself included); (2) liveness is mutual, or a one-way
 * loss is judged alike on both ends soon enough: a node that sees a peer alive must not
 * start what that peer runs (it sees it up), and a node counts a peer alive only when
 * that peer hears it too, so that "x sees y" holds on both ends within one beat;
 * (3) it counts its lease from the moment it SENT the request that got it, with the
 * node lease om_arb_node_lease(), on a clock that keeps running while the machine is
 * suspended (CLOCK_BOOTTIME).
 *
 * Time. The arbitrator counts a lease from the moment it received the request (its
 * clock), the node from the moment it sent it (its clock), so the node's start is never
 * later in real time. Clock rates are assumed within OM_ARB_DRIFT_PERMILLE (1%) of real
 * time: the arbitrator's lease L lasts at least L / 1.01 real time, the node's lease L'
 * at most L' / 0.99; L' = L - L/50 - OM_ARB_MARGIN_MS is below L * 0.99 / 1.01
 * (= 0.9802 L), and the margin covers millisecond rounding and the time between a
 * clock read and the send. So the node stops counting before the arbitrator can give
 * the vote to anyone else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OM_ARB_NODES_MAX 128     /* nodes one arbitrator tracks per cluster */
#define OM_ARB_NAME_MAX 64       /* node names, NUL included */
#define OM_ARB_DRIFT_PERMILLE 10 /* assumed bound on clock rate error: 1% */
#define OM_ARB_MARGIN_MS 50      /* fixed margin taken off the node's lease */
#define OM_ARB_LEASE_MIN_MS 1000
#define OM_ARB_LEASE_MAX_MS 60000
#define OM_ARB_LEASE_DEFAULT_MS 3000

/* A set of node indexes (of the arbitrator's node table, or of the node's cluster.conf
 * node list on the node side). */
struct om_arb_set {
        uint64_t w[OM_ARB_NODES_MAX / 64];
};
void om_arb_set_add(struct om_arb_set *s, size_t i);
bool om_arb_set_has(const struct om_arb_set *s, size_t i);
/* a is a subset of b */
bool om_arb_set_within(const struct om_arb_set *a, const struct om_arb_set *b);
size_t om_arb_set_count(const struct om_arb_set *s);

enum om_arb_kind {
        OM_ARB_GRANT,   /* the vote: count it while the view holds the holder set */
        OM_ARB_HOLD,    /* keep what you run, count nothing: the vote is on its way */
        OM_ARB_PENDING, /* nothing changes: keep the lease you have, ask again */
        OM_ARB_REFUSE,  /* you do not hold the vote: drop your lease */
        _OM_ARB_KIND_MAX,
};
const char *om_arb_kind_to_string(enum om_arb_kind k);
int om_arb_kind_from_string(const char *s); /* -EINVAL when unknown */

enum om_arb_reason {
        OM_ARB_R_NONE,       /* GRANT */
        OM_ARB_R_RESTARTING, /* within one lease of the arbitrator's start */
        OM_ARB_R_CLEARING,   /* HOLD: nodes outside the holder set are still licensed */
        OM_ARB_R_CONTEST,    /* HOLD or PENDING: sides compete, decided within one window */
        OM_ARB_R_SEEN,       /* HOLD or PENDING: a renewing holder sees you, not you it */
        OM_ARB_R_HELD,       /* REFUSE: another partition holds the vote */
        OM_ARB_R_FULL,       /* REFUSE: the node table of this cluster is full */
        _OM_ARB_REASON_MAX,
};
const char *om_arb_reason_to_string(enum om_arb_reason r);
int om_arb_reason_from_string(const char *s);

/* ---- the arbitrator's side ---- */

struct om_arb_node {
        char name[OM_ARB_NAME_MAX];
        uint64_t seen;    /* last request */
        uint64_t expires; /* the last GRANT or HOLD given runs out (0: none) */
        struct om_arb_set view;
        uint32_t services;
        bool renewing; /* its last request contained all of H (rule 2) */
        bool cand;     /* a candidate of the open contest */
};

struct om_arb_vote {
        uint64_t lease_ms, window_ms;
        uint64_t started; /* no vote before started + lease (rule 1) */
        size_t n_nodes;
        struct om_arb_node nodes[OM_ARB_NODES_MAX];
        bool has_holder;
        struct om_arb_set holders;
        bool contest;
        uint64_t contest_since;
        uint64_t decisions; /* contests decided, for status */
};

/* One request, names as received (validated by the caller: non-empty, shorter than
 * OM_ARB_NAME_MAX). view must contain node. */
struct om_arb_request {
        const char *node;
        const char *const *view;
        size_t n_view;
        uint32_t services;
};

/* The answer. holders are indexes into v->nodes (om_arb_vote_name). */
struct om_arb_answer {
        enum om_arb_kind kind;
        enum om_arb_reason reason;
        uint64_t lease_ms; /* GRANT, HOLD: length of the lease, from the request's receipt */
        bool has_holder;
        struct om_arb_set holders;
        uint64_t holder_left_ms; /* longest lease left among the holders */
};

/* Starts the state of one cluster at time now with the given lease (clamped to
 * [OM_ARB_LEASE_MIN_MS, OM_ARB_LEASE_MAX_MS]). v is plain memory, caller-owned. */
void om_arb_vote_init(struct om_arb_vote *v, uint64_t lease_ms, uint64_t now);

/* Judges one authenticated request received at now. Returns 0 and fills ret; -EINVAL
 * when the request is malformed (empty or overlong name, view without the requester,
 * duplicate names), nothing recorded then. now must not go back between calls. */
int om_arb_vote_request(struct om_arb_vote *v, const struct om_arb_request *req, uint64_t now,
                        struct om_arb_answer *ret);

/* The name of node index i of v. */
const char *om_arb_vote_name(const struct om_arb_vote *v, size_t i);

/* The longest lease left among the members of H at now (0 when none is licensed). */
uint64_t om_arb_vote_holder_left(const struct om_arb_vote *v, uint64_t now);

/* ---- the node's side ---- */

/* The lease length a node counts for an arbitrator lease of lease_ms (see "Time"). */
uint64_t om_arb_node_lease(uint64_t lease_ms);

/* What a node keeps of the answers of one arbitrator. Zero-initialised = nothing. */
struct om_arb_license {
        enum om_arb_kind kind; /* OM_ARB_GRANT or OM_ARB_HOLD when valid */
        bool valid;
        uint64_t until;            /* node clock: sent + om_arb_node_lease(lease) */
        struct om_arb_set holders; /* indexes into the node's cluster node list */
        bool holders_known;        /* every holder is a node of this cluster */
        bool applied;              /* an answer was applied: last_sent is set */
        uint64_t last_sent;        /* send time of the request whose answer was applied last */
};

/* Applies the answer to a request this node sent at `sent` (its clock). An answer to a
 * request older than the last one applied is ignored (returns 0, nothing changes).
 * GRANT and HOLD replace the license, REFUSE drops it, PENDING keeps it. holders are
 * the answer's holder set mapped to this node's node list; holders_known is false when
 * a holder is not a node this node knows (then a GRANT never counts). Returns 1 when
 * applied. */
int om_arb_license_apply(struct om_arb_license *l, uint64_t sent, enum om_arb_kind kind,
                         uint64_t lease_ms, const struct om_arb_set *holders, bool holders_known);

enum om_arb_count {
        OM_ARB_COUNT_NONE, /* no valid lease: the weight does not count */
        OM_ARB_COUNT_KEEP, /* a valid lease not counted: start nothing, split nothing for it */
        OM_ARB_COUNT_VOTE, /* the weight counts */
};
const char *om_arb_count_to_string(enum om_arb_count c);

/* The counting rule at now (node clock) with the node's current view (its index set). */
enum om_arb_count om_arb_license_count(const struct om_arb_license *l,
                                       const struct om_arb_set *view, uint64_t now);
