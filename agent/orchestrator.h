/*
 * The orchestrator and its action runner, as the rest of the agent sees them: per-object
 * monitor state machines fed by the cluster view, target states set through the local
 * API and agreed on through node data, HA placement, quorum with arbitrator probes and
 * split actions, and the restart guard. The decisions are cluster/cl_decide.h's; this
 * part performs them. Actions run as child processes (`om <path> <action> --local`),
 * never on the loop thread. Agent files only.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct om_agent;
struct om_cl_nodedata;

/* Starts the orchestrator's timers and probes; call once the first rescan is done.
 * Returns 0 or a negative errno. */
int om_orch_start(struct om_agent *a);
/* Frees the orchestrator (after the loop's handles are closed). */
void om_orch_free(struct om_agent *a);
/* Asks for an evaluation before the loop sleeps (a peer changed, data arrived): sets
 * OM_TODO_EVAL. */
void om_orch_kick(struct om_agent *a);
/* One evaluation pass now (daemon.c's before-sleep work, for OM_TODO_EVAL). */
void om_orch_eval(struct om_agent *a);
/* Writes the orchestrator's fields (monitor state, target) into freshly collected local
 * node data; a no-op before om_orch_start. */
void om_orch_fill(struct om_agent *a, struct om_cl_nodedata *nd);

/* Local API requests handled here: "object_set" {path, target} and "object_target"
 * {path}. om_orch_api packs a whole reply map ({v, ok, data | error}) into pk. */
void om_orch_api(struct om_agent *a, const char *cmd, const msgpack_object *req,
                 msgpack_packer *pk);

/* For the cluster view: the HA leader of path (index in the node table, -1 none), the
 * object's orchestrate mode and target, and the quorum. */
int om_orch_leader(struct om_agent *a, const char *path);
const char *om_orch_orchestrate(struct om_agent *a, const char *path);
/* Why node (index in the node table) is or is not the leader of path, in words
 * (om_decide_leader_why, with this node's quorum); and the object's placement policy. */
const char *om_orch_leader_why(struct om_agent *a, const char *path, size_t node, char *buf,
                               size_t len);
const char *om_orch_placement(struct om_agent *a, const char *path);
const char *om_orch_topology(struct om_agent *a, const char *path);
void om_orch_quorum(struct om_agent *a, bool *ret_have, int *ret_votes, int *ret_total);
/* How many failover services have an instance up on the nodes of view (indexes into
 * the node list): what this node's side runs, sent to the arbitrators. */
struct om_arb_set;
size_t om_orch_failover_up(struct om_agent *a, const struct om_arb_set *view);

/* runner.c: spawns `<self exe> <path> <action> --local [extra...]` with OM_ORIGIN=daemon
 * and OM_SID set, stdio on /dev/null. cb runs on the loop when the child exits, with its
 * exit status (128 + signal when killed). Returns 0 or a negative errno (cb not called). */
typedef void (*om_orch_run_cb)(struct om_agent *a, void *arg, int status);
int om_orch_run(struct om_agent *a, const char *path, const char *const *words, om_orch_run_cb cb,
                void *arg);
