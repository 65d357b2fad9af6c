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
