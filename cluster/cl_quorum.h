/*
 * Quorum arithmetic: whether a node that sees some of its peers alive and holds some
 * arbitrators' votes holds the majority of the cluster's votes. This module only
 * counts; the agent asks the arbitrators for their vote (cluster/arb_vote.h) and applies
 * `split_action` when the answer turns to "no" (and not "keep").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct om_quorum_input {
        bool enabled;      /* [cluster] quorum (see om_quorum_default) */
        size_t n_nodes;    /* nodes of the cluster, this one included */
        size_t live_nodes; /* nodes seen alive, this one included */
        int arb_weight;    /* sum of every arbitrator's weight */
        int arb_reachable; /* sum of the weights of the arbitrators whose vote this node
                              counts (cluster/arb_vote.h: OM_ARB_COUNT_VOTE) */
        int arb_keep;      /* sum of the weights of the arbitrators whose lease this node
                              holds without counting it (OM_ARB_COUNT_KEEP) */
};

struct om_quorum {
        bool have;  /* the majority is held (always true when disabled) */
        int votes;  /* live nodes + reachable arbitrators' weight */
        int total;  /* nodes + every arbitrator's weight */
        int needed; /* votes needed: more than half of total */
        bool keep;  /* not held, but would be with the kept arbitrator leases: start
                       nothing, and apply no split action either (the vote may be on its
                       way to this side: see cluster/arb_vote.h) */
};

/* The default of `[cluster] quorum` when it is not set: on from three nodes, and with
 * two nodes only when an arbitrator breaks the tie. */
bool om_quorum_default(size_t n_nodes, size_t n_arbitrators);

/* Counts the votes. Returns 0 and fills ret; -EINVAL when live_nodes exceeds n_nodes or
 * counted and kept weights exceed the total. */
int om_quorum_compute(const struct om_quorum_input *in, struct om_quorum *ret);
