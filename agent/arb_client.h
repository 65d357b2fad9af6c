/*
 * The node's side of the arbitrators (`[arbitrator#N] uri = om://host:port`): every
 * interval, and at once when this node's view of the cluster changes, it asks each
 * arbitrator for its vote with its view (the nodes it sees alive, itself included) and
 * the number of failover services up on them, and keeps what the answers grant as a
 * lease counted by the rule of cluster/arb_vote.h (from the time the request was sent,
 * on CLOCK_BOOTTIME). The orchestrator asks, per arbitrator, whether this node holds its
 * vote now (om_arbc_count). This file does the I/O; the rule is arb_vote's.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "cluster/arb_fence.h"
#include "cluster/arb_vote.h"

struct om_agent;
struct om_cluster_keyring;

/* Opens one UDP socket per configured arbitrator (from this node's cluster address) and
 * sends the first requests. */
int om_arbc_start(struct om_agent *a);
void om_arbc_free(struct om_agent *a);
/* The arbitrator key of the keyring's current secret (called again on a rotation). */
int om_arbc_keys_set(struct om_agent *a, const struct om_cluster_keyring *ring);
/* Asks every arbitrator now when the view or the services count changed since the last
 * request (the orchestrator calls it on each evaluation). */
void om_arbc_view_changed(struct om_agent *a);
/* Whether this node holds arbitrator k's vote now, with its current view. */
enum om_arb_count om_arbc_count(struct om_agent *a, size_t k);
/* For the status view: an array, one map per arbitrator. */
void om_arbc_pack(struct om_agent *a, msgpack_packer *pk);

/* Fence marks (cluster/arb_fence.h): a request to the arbitrator, sent again every
 * 500 ms (a new sequence each time) until it answers or timeout_ms passed. An UNFENCE
 * is two requests: the first (id 0) reads the mark naming the node, the second clears
 * it with the id read, so that a clear delayed in the network never removes a mark set
 * since. The callback runs once, on the loop thread, unless the request is cancelled
 * first. Only the first arbitrator is asked (a cluster whose replicated storage uses
 * marks has one: resources/res_drbd.c refuses the others). */
struct om_arbc_fence_done {
        int error; /* 0; -ETIMEDOUT: no answer in time; -ENOTCONN: no arbitrator */
        enum om_arb_fence_result result;
        struct om_arb_mark mark;
        char arbitrator[OM_ARB_NAME_MAX]; /* the name the arbitrator answers with */
};
typedef void (*om_arbc_fence_cb)(void *arg, const struct om_arbc_fence_done *d);
struct om_arbc_fence;
/* NULL when it cannot be sent (*ret_error: -ENOTCONN when no arbitrator is configured
 * or its socket is not open, -EINVAL on a malformed name, -ENOMEM). */
struct om_arbc_fence *om_arbc_fence_start(struct om_agent *a, enum om_arb_fence_op op,
                                          const char *res, const char *node, uint64_t timeout_ms,
                                          om_arbc_fence_cb cb, void *arg, int *ret_error);
void om_arbc_fence_cancel(struct om_arbc_fence *f);
