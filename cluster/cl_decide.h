/*
 * The orchestrator's decisions, as pure functions: given one node's view of the cluster
 * (cl_view.h), an object's config and its decision state, and the time, say what to do.
 * Leader choice, HA takeover after the ready period, duplicate resolution (after a
 * stall, or by the `nodes` order), the restart (boot) guard, the split action when the
 * quorum is lost, resource monitoring (restart a resource, or give the instance up) and
 * target orchestration (started, stopped, placed@, provisioned, ...) all live here.
 *
 * What this module does not do: no I/O, no clock reads, no globals, no libuv, no
 * logging. A decision updates the object's state (struct om_dec_obj, a plain value the
 * caller keeps between passes) and appends effects to a list (struct om_decision): the
 * caller (agent/orchestrator.c, or the cluster simulator of the tests) performs them in
 * order: spawns the action, writes the frozen flag, logs each state change with its
 * reason, ends the target, applies the split action, wakes again at a given time. See
 * docs/ARCHITECTURE.md for where this sits.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cl_monitor.h"
#include "cluster/cl_place.h"
#include "cluster/cl_view.h"
#include "core/objpath.h"

#define OM_DEC_NODES_MAX OM_PLACE_NODES_MAX
#define OM_DEC_WATCH_MAX 32
#define OM_DEC_WHY_MAX 256
#define OM_DEC_DEPS_MAX 16
#define OM_DEC_STANDBY_MAX 256

/* A resource the monitor watches (`monitor = true` or `restart = N` in its section). */
struct om_dec_watch {
        char rid[64];
        bool monitor;
        int restart;
        bool fence; /* scsireserv: a refresh may find its reservation taken (fenced) */
};

/* An object's config, as far as the decisions go. */
struct om_dec_cfg {
        char path[OM_PATH_STRMAX];
        char nodes[OM_DEC_NODES_MAX][OM_CL_NAME_MAX]; /* preference order */
        size_t n_nodes;
        enum om_placement placement; /* the order of the leader's candidates */
        int priority;      /* 0 to 100, lower first: the order of the starts held for a slot */
        bool ha, failover; /* orchestrate = ha; topology = failover */
        uint64_t ready_ms; /* ready_period */
        char split_action[16];
        uint64_t mon_ms; /* monitor_interval */
        struct om_dec_watch watch[OM_DEC_WATCH_MAX];
        size_t n_watch;
        /* a resource whose status changes by itself (disk.drbd: a sync ends, the peer
         * goes): the status of an instance that runs here is refreshed every
         * monitor_interval, as with watched resources, only to show it */
        bool refresh;
        /* orchestrate = start, standby resources, dependencies between services */
        bool start_once;                               /* orchestrate = start */
        char standby[OM_DEC_STANDBY_MAX];              /* "fs#1,ip#0": the standby rids */
        char parents[OM_DEC_DEPS_MAX][OM_PATH_STRMAX]; /* canonical paths */
        size_t n_parents;
        char children[OM_DEC_DEPS_MAX][OM_PATH_STRMAX];
        size_t n_children;
};

enum om_dec_then { OM_THEN_NONE, OM_THEN_START, OM_THEN_STOP };

/* An object's decision state, kept by the caller between passes. Zero it, then set state
 * to OM_MON_INIT, dup_check_stalls to the node's stall count and fenced_mark to the
 * instance's persisted fenced flag, to start an object. */
struct om_dec_obj {
        enum om_mon state;
        bool present;        /* the config is on this node */
        bool job;            /* an action (or a status refresh) runs */
        bool mon_refreshing; /* the running job is the monitor's status refresh */
        bool mon_check;      /* a refresh ended: judge the resources found down */
        bool rid_job;        /* the running job restarts one resource */
        /* the running stop gives the instance up: the state it ends in, "monitor
         * failed" or "fenced" (OM_MON_NONE: a plain stop) */
        enum om_mon fail_after;
        /* the instance was "fenced" when the agent last ran (the caller keeps the state
         * fenced on disk, see om_decide_job_done): the first refresh ends in "fenced"
         * again, unless the instance was started here meanwhile */
        bool fenced_mark;
        /* the newest target this node knew when the instance became fenced (the caller
         * keeps it with the flag, and sets it with fenced_mark at start): only a newer
         * target places the service back here, not the same one learned again from a
         * peer after an agent restart */
        uint64_t fenced_tver;
        char fenced_twriter[OM_CL_NAME_MAX];
        bool prov_refreshed;
        bool split_done;
        bool booted;           /* a pass after the restart guard lifted ran */
        bool stall_confirm;    /* at the end of the stall window: is every peer sure? */
        enum om_dec_then then; /* action chained after the running one succeeds */
        uint64_t ready_until;
        uint64_t mon_next;
        uint64_t dup_check_stalls;
        uint64_t stall_window; /* time until which a duplicate is ours to stop */
        uint64_t dup_since;
        int restarted[OM_DEC_WATCH_MAX];
        bool warned[OM_DEC_WATCH_MAX];
        /* the target */
        char target[80];
        uint64_t tver;
        char twriter[OM_CL_NAME_MAX];
        bool tdone, tfailed;
        char treason[256];
        /* orchestrate = start, standby, dependencies */
        bool start_seen;    /* an instance was seen up, or this node spawned the start */
        bool standby_job;   /* the running job starts the standby resources */
        bool standby_check; /* a refresh ended: start the standby resources found down */
        char standby_rids[OM_DEC_STANDBY_MAX]; /* the words of the standby start */
        uint64_t standby_next;
        bool dep_warned; /* the wait for a parent or a child was logged */
};

/* What one node knows besides the view, for one pass. */
struct om_dec_ctx {
        const struct om_view *view;
        const char *self; /* this node's name */
        uint64_t now;     /* ms, monotonic */
        uint64_t timeout; /* heartbeat timeout, ms */
        uint64_t stalls;  /* loop stalls counted so far */
        bool quorum_enabled, quorum_have;
        /* the quorum is not held but not lost either (peers not heard again since a
         * stall of our loop, an arbitrator's lease not counted): start nothing, and
         * apply no split action */
        bool quorum_keep;
        bool boot_ready; /* the restart guard is lifted (om_decide_boot_ready) */
        /* until then a peer that does not count for our quorum may still count our vote
         * (om_view_promise_end): no failover instance starts here before it, 0 none */
        uint64_t promise_end;
        /* no action slot is free ([node] max_parallel actions run): a start waits (an HA
         * leader stays ready, a target waits), stops never do. The caller evaluates the
         * objects in priority order (om_decide_sched_cmp) and sets this for each object
         * from the count of jobs running then, so the slots that free go to the lowest
         * priority number first. */
        bool spawn_held;
};

enum om_eff_kind {
        OM_EFF_STATE,      /* from => to, why (may be empty) */
        OM_EFF_SPAWN,      /* run `om <path> words... --local` for the state set before */
        OM_EFF_REFRESH,    /* run the status refresh (words) */
        OM_EFF_FROZEN,     /* freeze (flag) or thaw the local instance */
        OM_EFF_TARGET_SET, /* a newer target adopted from node `node` */
        OM_EFF_TARGET_END, /* the target is reached or failed (flag), reason in why */
        OM_EFF_SPLIT,      /* quorum lost: apply split_action (why: the action) */
        OM_EFF_EXIT,       /* split_action crash or reboot (flag: reboot) */
        OM_EFF_WAKE,       /* evaluate again at `at` */
        OM_EFF_WARN,       /* a warning for the operator: why */
};

#define OM_DEC_WORDS_MAX 5
struct om_eff {
        enum om_eff_kind kind;
        enum om_mon from, to;
        bool flag;
        int node;
        uint64_t at;
        const char *words[OM_DEC_WORDS_MAX]; /* NULL-terminated; point into cfg, st or static */
        char why[OM_DEC_WHY_MAX];
};

#define OM_DEC_EFF_MAX 16
/* A list of effects: start one by setting n to 0 (each effect is cleared when it is
 * added; zeroing the whole list costs more than a pass over an object). */
struct om_decision {
        struct om_eff eff[OM_DEC_EFF_MAX];
        size_t n;
};

/* The HA leader of an object: walking cfg->nodes in placement order (cl_place.h; none
 * for `placement = none`), the first node that is alive
 * and fresh, holds the object, is not frozen (node or instance; unless ignore_frozen),
 * is provisioned (unless ignore_prov), and whose monitor is neither failed nor init.
 * Returns its index in the view, -1 when none. */
int om_decide_leader(const struct om_view *v, const struct om_dec_cfg *cfg, bool ignore_frozen,
                     bool ignore_prov);

/* Why node i (an index in the view) is or is not the leader of cfg's service, in words for
 * `print status` ("leader", "frozen", "not provisioned", "start failed", "lower in
 * placement (spread: n2 first)", ...; the node's quorum, quorum_have, is said about the
 * leader: it starts nothing without it). Returns buf. */
const char *om_decide_leader_why(const struct om_view *v, const struct om_dec_cfg *cfg,
                                 bool quorum_have, size_t i, char *buf, size_t len);

/*
 * Action slots: at most `max` jobs (actions and status refreshes the decisions spawn) run
 * at once on a node. A pass evaluates the objects in priority order (om_decide_sched_cmp)
 * through om_decide_slotted, which holds the starts and refreshes of an object once the
 * slots are taken (ctx->spawn_held); a stop is never held but takes a slot. A slot frees
 * when a job ends; the caller then runs a pass, and the lowest priority number waiting
 * gets it.
 */
struct om_dec_status;
struct om_dec_slots {
        int max;     /* [node] max_parallel */
        int running; /* jobs running, counted as the pass goes */
        int held;    /* HA starts that found no slot in this pass */
};

/* The order of a pass: lower priority first, then the path (<0, 0, >0 as strcmp). */
int om_decide_sched_cmp(const struct om_dec_cfg *a, const struct om_dec_cfg *b);

/* om_decide for one object of a pass under slots sl (running set to the jobs running
 * when the pass began, held to 0): c->spawn_held is set from the slots, and a job the
 * decision spawns takes one. */
void om_decide_slotted(const struct om_dec_ctx *c, struct om_dec_slots *sl,
                       const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                       const struct om_dec_status *status, struct om_decision *out);

/* The restart guard: true once every peer that beats has handed us its fresh data and
 * every other one has been silent for two timeouts since we started (started: the time
 * the agent started), and no object present here is still in "init". */
bool om_decide_boot_ready(const struct om_view *v, uint64_t now, uint64_t started, uint64_t timeout,
                          bool any_init);

/* The status a monitor refresh (or an action) left: the last action run on the instance
 * and the space-separated rids found down. */
struct om_dec_status {
        const char *last_action;
        const char *down;
        const char *fenced; /* rids whose device reservation another node took */
};

/* One evaluation pass of one object. status is what the last monitor refresh left, read
 * by the caller when st->mon_check is set (NULL when it could not be read: nothing is
 * judged then). Appends to out (not cleared). */
void om_decide(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg, struct om_dec_obj *st,
               const struct om_dec_status *status, struct om_decision *out);

/* The running job ended with status (0 success, else the exit status). inst is the
 * instance status the job left (NULL when it could not be read). It decides two ends:
 * the first refresh of an instance whose fenced_mark is set ends in "fenced" while its
 * status still names a watched fencing resource fenced (not started here since) or
 * cannot be read; a stop that went through, of an HA failover instance, whose status names a
 * watched fencing resource fenced (its stop found the reservation held by another node: it was
 * preempted while the instance ran here, e.g. during a loop stall) ends in "fenced"
 * too, whatever asked for the stop. The caller keeps a persisted flag equal to "the
 * state is fenced" at every state change after the first refresh. */
void om_decide_job_done(const struct om_dec_cfg *cfg, struct om_dec_obj *st, int status,
                        const struct om_dec_status *inst, struct om_decision *out);

/* The action asked by the last SPAWN or REFRESH effect could not be spawned. */
void om_decide_spawn_failed(struct om_dec_obj *st, bool refresh, struct om_decision *out);

/* A target set here (through the local API) at version ver by writer. */
void om_decide_target_set(struct om_dec_obj *st, const char *target, uint64_t ver,
                          const char *writer, struct om_decision *out);
/* A target string the API accepts. */
bool om_decide_target_valid(const char *t);
