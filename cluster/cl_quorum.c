/*
 * Implementation of cl_quorum.h: plain arithmetic, no I/O, so the same answer comes out
 * of the agent and of the unit tests that script splits.
 */
#include "cluster/cl_quorum.h"

#include <errno.h>

bool om_quorum_default(size_t n_nodes, size_t n_arbitrators) {
        return n_nodes >= 3 || (n_nodes == 2 && n_arbitrators > 0);
}

/*
 * Majority, and why arbitrators exist.
 *
 * Problem: when the network splits, each side sees the other stale and, left alone,
 * would take over the failover services the other side runs: two nodes mounting the
 * same filesystem. Only one side may act, and each side must decide alone, from what
 * it sees.
 *
 * Behaviour: every node and every arbitrator holds votes (a node one, an arbitrator
 * its weight). A side holds the quorum when its votes (the nodes it sees alive, itself
 * included, plus the arbitrators that answer it) are more than half of all the votes
 * that exist. Two disjoint sides cannot both hold more than half, so at most one side
 * acts; a side that does not hold it starts nothing and applies `split_action` to what
 * it runs.
 *
 * Reason: with an even number of nodes a clean split in halves leaves no majority at
 * all, and the whole cluster would stop; an arbitrator reachable from both sides gives
 * the tie its deciding vote, which is why two nodes get quorum on by default only when
 * an arbitrator is configured. The arbitrator's vote must go to one side only: it is a
 * lease given to one partition at a time (cluster/arb_vote.h), and a node counts it
 * only under that lease. A lease the node holds but may not count yet ("keep": the
 * arbitrator is handing the vote to this side once the other side's lease ran out)
 * makes the side start nothing but stop nothing either.
 */
int om_quorum_compute(const struct om_quorum_input *in, struct om_quorum *ret) {
        if (in->live_nodes > in->n_nodes || in->arb_weight < 0 || in->arb_reachable < 0 ||
            in->arb_keep < 0 || in->arb_reachable + in->arb_keep > in->arb_weight)
                return -EINVAL;
        struct om_quorum q = {
                .votes = (int)in->live_nodes + in->arb_reachable,
                .total = (int)in->n_nodes + in->arb_weight,
        };
        q.needed = q.total / 2 + 1;
        q.have = !in->enabled || q.votes >= q.needed;
        q.keep = !q.have && q.votes + in->arb_keep >= q.needed;
        *ret = q;
        return 0;
}
