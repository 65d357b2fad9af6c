/*
 * The orchestrator: one monitor state machine per object on this node (idle, ready,
 * starting, stopping, provisioning, ..., start failed, stop failed), driven by the
 * cluster view the agent keeps (every node's data, every peer's liveness) and by the
 * object's target state. A target ("started", "stopped", "placed@n2", ...) is set on
 * one node through the local API, published in its node data with a version, and
 * adopted by every node that sees a newer one, so all nodes work towards the same goal.
 * Without a target, `orchestrate = ha` failover services are placed by the HA leader.
 * Actions are child processes (runner.c); their exit status drives the state machine,
 * then the instance status cache is read again and beaten at once. This file does not
 * talk to peers itself: what it decides leaves through node data.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/orchestrator.h"
#include "cluster/cl_mp.h"
#include "cluster/cl_quorum.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"
#include "resources/status.h"

#define EVAL_MS 100
#define MAX_OBJ_NODES 64

enum mon {
        MON_INIT,
        MON_IDLE,
        MON_READY,
        MON_STARTING,
        MON_STOPPING,
        MON_PROVISIONING,
        MON_UNPROVISIONING,
        MON_PURGING,
        MON_START_FAILED,
        MON_STOP_FAILED,
        MON_PROVISION_FAILED,
        MON_UNPROVISION_FAILED,
        MON_PURGE_FAILED,
        MON_MONITOR_FAILED,
};

static const char *mon_to_string(enum mon m) {
        static const char *const s[] = {
                [MON_INIT] = "init",
                [MON_IDLE] = "idle",
                [MON_READY] = "ready",
                [MON_STARTING] = "starting",
                [MON_STOPPING] = "stopping",
                [MON_PROVISIONING] = "provisioning",
                [MON_UNPROVISIONING] = "unprovisioning",
                [MON_PURGING] = "purging",
                [MON_START_FAILED] = "start failed",
                [MON_STOP_FAILED] = "stop failed",
                [MON_PROVISION_FAILED] = "provision failed",
                [MON_UNPROVISION_FAILED] = "unprovision failed",
                [MON_PURGE_FAILED] = "purge failed",
                [MON_MONITOR_FAILED] = "monitor failed",
        };
        return m < ARRAY_SIZE(s) && s[m] ? s[m] : "unknown";
}

static bool mon_failed(enum mon m) {
        return m >= MON_START_FAILED;
}

struct obj {
        char path[OM_PATH_STRMAX];
        struct om_path p;
        bool present; /* the config is on this node */
        /* config, reloaded when the object's version changes */
        uint64_t cfg_hlc;
        char cfg_writer[64];
        bool loaded;
        char nodes[MAX_OBJ_NODES][OM_CL_NAME_MAX];
        size_t n_nodes;
        bool ha, failover;
        bool prov_refreshed;
        uint64_t ready_ms;
        char split_action[16];
        /* resource monitoring (keywords monitor, restart, monitor_interval) */
        uint64_t mon_ms, mon_next;
        bool mon_refreshing; /* the running job is the monitor's status refresh */
        bool mon_check;      /* a refresh ended: judge the resources found down */
        bool rid_job;        /* the running job restarts one resource */
        bool fail_after;     /* the running stop gives the instance up: then "monitor failed" */
        struct watch {
                char rid[64];
                bool monitor, warned;
                int restart, restarted;
        } watch[32];
        size_t n_watch;
        /* monitor */
        enum mon state;
        uint64_t ready_until;
        bool job;
        const char *then; /* action chained after the running one succeeds */
        bool split_done;
        uint64_t dup_check_stalls;
        uint64_t stall_window; /* loop time until which a duplicate is ours to stop */
        uint64_t dup_since;
        /* target */
        char target[80];
        uint64_t tver;
        char twriter[OM_CL_NAME_MAX];
        bool tdone, tfailed;
        char treason[256];
};

struct om_orch {
        struct om_agent *agent;
        uv_timer_t eval, kick, probe, ready;
        struct obj **objs;
        size_t n_objs;
        bool dirty; /* local node data must be collected again */
        bool boot_ready;
        uint64_t last_ver;
        /* quorum */
        bool quorum_have;
        int votes, total;
        bool quorum_logged;
        struct arb {
                struct om_orch *o;
                uv_tcp_t tcp;
                uv_connect_t req;
                uv_timer_t timer;
                bool in_flight, reachable;
        } arb[OM_CL_ARB_MAX];
        size_t n_arb;
};

/* ---- the cluster view ---- */

static const struct om_cl_nodedata *node_data(struct om_agent *a, size_t i) {
        if (a->peers[i].self)
                return &a->local;
        return a->peers[i].have_data ? &a->peers[i].data : NULL;
}

static bool alive(struct om_agent *a, size_t i) {
        const struct om_peer *p = &a->peers[i];
        return p->self || p->state == OM_PEER_UP || p->state == OM_PEER_SUSPECT;
}

/* We hold the latest data this peer announced, from its current boot. */
static bool fresh(struct om_agent *a, size_t i) {
        const struct om_peer *p = &a->peers[i];
        return p->self || (p->have_data && p->data.gen >= p->gen_announced &&
                           memcmp(p->data_boot, p->boot_id, OM_HB_BOOT_ID_LEN) == 0);
}

static const struct om_cl_instance *inst_of(struct om_agent *a, size_t i, const char *path) {
        const struct om_cl_nodedata *nd = node_data(a, i);
        for (size_t k = 0; nd && k < nd->n_inst; k++)
                if (strcmp(nd->inst[k].path, path) == 0)
                        return &nd->inst[k];
        return NULL;
}

static bool avail_up(const struct om_cl_instance *in) {
        return in && (om_streq(in->avail, "up") || om_streq(in->avail, "warn"));
}

/* The instance runs, may run, or is about to: a start elsewhere must wait. */
static bool inst_active(const struct om_cl_instance *in) {
        if (!in)
                return false;
        return avail_up(in) || om_streq(in->monitor, "starting") ||
               om_streq(in->monitor, "stopping") || om_streq(in->monitor, "stop failed") ||
               om_streq(in->monitor, "provisioning") || om_streq(in->monitor, "init");
}

static bool inst_failed(const struct om_cl_instance *in) {
        return in && strstr(in->monitor, "failed") != NULL;
}

static struct obj *obj_find(struct om_orch *o, const char *path) {
        for (size_t i = 0; i < o->n_objs; i++)
                if (strcmp(o->objs[i]->path, path) == 0)
                        return o->objs[i];
        return NULL;
}

static bool obj_has_node(const struct obj *ob, const char *node) {
        for (size_t i = 0; i < ob->n_nodes; i++)
                if (strcmp(ob->nodes[i], node) == 0)
                        return true;
        return false;
}

/*
 * HA leader election.
 *
 * Problem: when a failover service must start (its node died, or someone asked for it),
 * exactly one node may start it, and the nodes cannot hold a vote for each decision:
 * the node that died may be the one that would count the votes, and a vote costs round
 * trips on the failover's critical path.
 *
 * Behaviour: every node computes the leader from the same inputs, the shared view:
 * walk the service's `nodes` in their preference order and take the first node that is
 * alive, whose data we hold fresh (the latest generation it announced), that holds the
 * object, that is not frozen (node or instance, unless a start target thaws them all),
 * is provisioned (unless we are provisioning) and whose monitor is not in a failed
 * state ("start failed" excludes a node that could not start it). Only the leader
 * starts, and only when it also holds the quorum and no live peer reports the instance
 * up, starting, stopping or still initializing, and every live peer's data is fresh.
 *
 * Reason: the view converges within a heartbeat, since every change is beaten at once,
 * and two nodes whose views differ for an instant are kept from a double start by the
 * other conditions: a node that is not sure a peer is down counts it alive, and the
 * leader first waits `ready_period` in the "ready" state and checks everything again
 * before it spawns the start.
 */
static int leader_of(struct om_orch *o, const struct obj *ob, bool ignore_frozen,
                     bool ignore_prov) {
        struct om_agent *a = o->agent;
        for (size_t k = 0; k < ob->n_nodes; k++) {
                int i = om_cl_config_node_index(a->cfg, ob->nodes[k]);
                if (i < 0 || !alive(a, (size_t)i) || !fresh(a, (size_t)i))
                        continue;
                const struct om_cl_nodedata *nd = node_data(a, (size_t)i);
                const struct om_cl_instance *in = inst_of(a, (size_t)i, ob->path);
                if (!nd || !in || inst_failed(in) || om_streq(in->monitor, "init"))
                        continue;
                if (!ignore_frozen && (nd->frozen || in->frozen))
                        continue;
                if (!ignore_prov && !in->provisioned)
                        continue;
                return i;
        }
        return -1;
}

/* This node holds the sec objects of the object's namespace at least as new as node i
 * advertises them. A node provisions after the leader only then: the leader stored the
 * passphrases it generated before its instance came up, and a node that would not see
 * them yet would generate different ones (and a second writer of one key loses). */
static bool secs_synced(struct om_agent *a, size_t i, const char *path) {
        const struct om_cl_nodedata *nd = node_data(a, i);
        char ns[OM_NAME_MAX + 1];
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : 0;
        if (!nd || len == 0 || len >= sizeof(ns))
                return false;
        memcpy(ns, path, len);
        ns[len] = '\0';
        return om_cl_nodedata_secs_synced(&a->local, nd, ns);
}

/* secs_synced with every live peer: a node about to provision, leader or not, first takes
 * the passphrases any node already generated */
static bool secs_synced_all(struct om_agent *a, const char *path) {
        for (size_t i = 0; i < a->n_peers; i++)
                if (!a->peers[i].self && alive(a, i) && node_data(a, i) && !secs_synced(a, i, path))
                        return false;
        return true;
}

/* ---- state changes ---- */

static void set_state(struct om_orch *o, struct obj *ob, enum mon s, const char *why) {
        if (ob->state == s)
                return;
        om_log_set_component("monitor");
        /* the reference's line, exactly; the reason on a line of its own */
        log_info("%s monitor status change: %s => %s", ob->path, mon_to_string(ob->state),
                 mon_to_string(s));
        if (why)
                log_info("%s monitor: %s", ob->path, why);
        ob->state = s;
        o->dirty = true;
}

static void job_done(struct om_agent *a, void *arg, int status);

static const char *action_of(enum mon s) {
        switch (s) {
        case MON_STARTING:
                return "start";
        case MON_STOPPING:
                return "stop";
        case MON_PROVISIONING:
                return "provision";
        case MON_UNPROVISIONING:
                return "unprovision";
        case MON_PURGING:
                return "purge";
        default:
                return NULL;
        }
}

static enum mon failed_of(enum mon s) {
        switch (s) {
        case MON_STARTING:
                return MON_START_FAILED;
        case MON_STOPPING:
                return MON_STOP_FAILED;
        case MON_PROVISIONING:
                return MON_PROVISION_FAILED;
        case MON_UNPROVISIONING:
                return MON_UNPROVISION_FAILED;
        default:
                return MON_PURGE_FAILED;
        }
}

static void job_start_words(struct om_orch *o, struct obj *ob, enum mon s, const char *why,
                            const char *const *words) {
        set_state(o, ob, s, why);
        ob->job = true;
        int r = om_orch_run(o->agent, ob->path, words, job_done, ob);
        if (r < 0) {
                ob->job = false;
                ob->then = NULL;
                ob->rid_job = ob->fail_after = false;
                set_state(o, ob, failed_of(s), "cannot spawn the action");
        }
}

static void job_start(struct om_orch *o, struct obj *ob, enum mon s, const char *why) {
        const char *words[] = {action_of(s), NULL};
        job_start_words(o, ob, s, why, words);
}

static void refresh_start(struct om_orch *o, struct obj *ob) {
        /* the monitor's refresh never runs beside an action (it skips a round instead) */
        const char *words[] = {"print", "status", ob->mon_refreshing ? "--waitlock" : NULL, "0",
                               NULL};
        ob->job = true;
        if (om_orch_run(o->agent, ob->path, words, job_done, ob) < 0) {
                ob->job = false;
                ob->mon_refreshing = false;
                set_state(o, ob, MON_IDLE, "status refresh could not run");
        }
}

static void job_done(struct om_agent *a, void *arg, int status) {
        struct om_orch *o = a->orch;
        struct obj *ob = arg;
        bool refresh = ob->mon_refreshing, rid_job = ob->rid_job, fail_after = ob->fail_after;
        ob->job = false;
        ob->mon_refreshing = ob->rid_job = ob->fail_after = false;
        if (!o)
                return;
        if (ob->state == MON_INIT)
                set_state(o, ob, MON_IDLE, "status refreshed");
        else if (refresh || rid_job) {
                if (refresh) /* the monitor's status refresh: the state stays, judged next */
                        ob->mon_check = status == 0;
                else /* a resource restart that failed is one attempt spent, not a failed
                      * start: the next check counts it and, restarts exhausted, gives the
                      * instance up */
                        set_state(o, ob, MON_IDLE, status ? "resource restart failed" : NULL);
                if (ob->then) { /* a stop asked meanwhile (quorum lost) */
                        const char *next = ob->then;
                        ob->then = NULL;
                        job_start(o, ob, strcmp(next, "stop") == 0 ? MON_STOPPING : MON_STARTING,
                                  NULL);
                }
        } else if (fail_after && status == 0) {
                set_state(o, ob, MON_MONITOR_FAILED,
                          "stopped after a monitored resource failed: another node may take "
                          "over");
        } else if (status != 0) {
                ob->then = NULL;
                set_state(o, ob, failed_of(ob->state), NULL);
        } else if (ob->then) {
                const char *next = ob->then;
                ob->then = NULL;
                job_start(o, ob, strcmp(next, "stop") == 0 ? MON_STOPPING : MON_STARTING, NULL);
        } else {
                if (ob->state == MON_STARTING || ob->state == MON_PROVISIONING)
                        for (size_t k = 0; k < ob->n_watch; k++)
                                ob->watch[k].restarted = 0; /* a whole start: counts reset */
                set_state(o, ob, MON_IDLE, NULL);
        }
        om_agent_rescan(a);
        om_orch_kick(a);
}

static void set_frozen(struct om_orch *o, struct obj *ob, bool frozen) {
        if (!ob->present || om_instance_frozen(&ob->p) == frozen)
                return;
        int r = om_instance_set_frozen(&ob->p, frozen);
        om_log_set_component("monitor");
        if (r < 0)
                log_error("%s: cannot %s the instance: %s", ob->path, frozen ? "freeze" : "thaw",
                          strerror(-r));
        else
                log_info("%s instance %s", ob->path, frozen ? "frozen" : "thawed");
        o->dirty = true;
}

/* ---- objects and their config ---- */

static void obj_load_config(struct om_orch *o, struct obj *ob) {
        struct om_agent *a = o->agent;
        _cleanup_object_ struct om_object *obj = NULL;
        if (om_object_load(&ob->p, &obj, NULL, 0) < 0)
                return;
        struct om_version v;
        om_object_version(obj, &v);
        if (ob->loaded && v.hlc == ob->cfg_hlc && strcmp(v.writer, ob->cfg_writer) == 0)
                return;
        ob->cfg_hlc = v.hlc;
        snprintf(ob->cfg_writer, sizeof(ob->cfg_writer), "%s", v.writer);
        ob->loaded = true;
        const char *s = om_ini_get(obj->ini, "DEFAULT", "nodes", a->self);
        ob->n_nodes = 0;
        _cleanup_strv_free_ char **v_nodes = NULL;
        if (s && om_strv_split(s, " \t,", &v_nodes) == 0)
                for (size_t k = 0; v_nodes[k] && ob->n_nodes < MAX_OBJ_NODES; k++) {
                        const char *n = v_nodes[k];
                        if (om_streq(n, "{nodename}"))
                                n = a->self;
                        snprintf(ob->nodes[ob->n_nodes++], OM_CL_NAME_MAX, "%s", n);
                }
        if (ob->n_nodes == 0)
                snprintf(ob->nodes[ob->n_nodes++], OM_CL_NAME_MAX, "%s", a->self);
        s = om_ini_get(obj->ini, "DEFAULT", "orchestrate", a->self);
        ob->ha = s && om_streq(s, "ha");
        s = om_ini_get(obj->ini, "DEFAULT", "topology", a->self);
        ob->failover = !s || om_streq(s, "failover");
        ob->ready_ms = 1000;
        if ((s = om_ini_get(obj->ini, "DEFAULT", "ready_period", a->self)))
                (void)om_parse_duration_ms(s, &ob->ready_ms);
        s = om_ini_get(obj->ini, "DEFAULT", "split_action", a->self);
        snprintf(ob->split_action, sizeof(ob->split_action), "%s", s ? s : "stop");
        ob->mon_ms = 5000;
        if ((s = om_ini_get(obj->ini, "DEFAULT", "monitor_interval", a->self)))
                (void)om_parse_duration_ms(s, &ob->mon_ms);
        if (ob->mon_ms < 100)
                ob->mon_ms = 100;
        ob->n_watch = 0;
        for (size_t k = 0; k < obj->ini->n_sections && ob->n_watch < ARRAY_SIZE(ob->watch); k++) {
                const char *sec = obj->ini->sections[k].name;
                bool mon = false, dis = false;
                long restart = 0;
                if (!strchr(sec, '#'))
                        continue;
                if ((s = om_ini_get(obj->ini, sec, "disable", a->self)))
                        (void)om_parse_bool(s, &dis);
                if ((s = om_ini_get(obj->ini, sec, "monitor", a->self)))
                        (void)om_parse_bool(s, &mon);
                if ((s = om_ini_get(obj->ini, sec, "restart", a->self)))
                        restart = strtol(s, NULL, 10);
                if (dis || (!mon && restart <= 0))
                        continue;
                struct watch *w = &ob->watch[ob->n_watch++];
                memset(w, 0, sizeof(*w));
                snprintf(w->rid, sizeof(w->rid), "%s", sec);
                w->monitor = mon;
                w->restart = restart > 0 ? (restart > 100 ? 100 : (int)restart) : 0;
        }
        om_log_set_component("monitor");
        log_info("%s config: orchestrate %s, topology %s, %zu nodes, ready_period %llums, "
                 "split_action %s, %zu watched resources every %llums",
                 ob->path, ob->ha ? "ha" : "no", ob->failover ? "failover" : "flex", ob->n_nodes,
                 (unsigned long long)ob->ready_ms, ob->split_action, ob->n_watch,
                 (unsigned long long)ob->mon_ms);
}

static struct obj *obj_add(struct om_orch *o, const char *path) {
        struct obj *ob = calloc(1, sizeof(*ob));
        struct obj **v = realloc(o->objs, (o->n_objs + 1) * sizeof(*v));
        if (!ob || !v) {
                free(ob);
                if (v)
                        o->objs = v;
                return NULL;
        }
        o->objs = v;
        snprintf(ob->path, sizeof(ob->path), "%s", path);
        if (om_path_parse(path, &ob->p, NULL, 0) < 0) {
                free(ob);
                return NULL;
        }
        ob->state = MON_INIT;
        ob->dup_check_stalls = o->agent->stalls;
        o->objs[o->n_objs++] = ob;
        return ob;
}

/* Objects appear with the local node data (svc instances) and stay known after a purge
 * (the target and the wait of `om <path> purge --wait` outlive the config). */
static void sync_objects(struct om_orch *o) {
        struct om_agent *a = o->agent;
        for (size_t i = 0; i < o->n_objs; i++)
                o->objs[i]->present = false;
        for (size_t k = 0; k < a->local.n_inst; k++) {
                struct obj *ob = obj_find(o, a->local.inst[k].path);
                if (!ob && !(ob = obj_add(o, a->local.inst[k].path)))
                        continue;
                if (!ob->present && ob->loaded == false)
                        ob->state = MON_INIT;
                ob->present = true;
                /* the config is read again only when its version moves (the scan
                 * collects every object's version each interval) */
                bool same = false;
                for (size_t j = 0; j < a->local.n_objs && ob->loaded; j++)
                        if (strcmp(a->local.objs[j].path, ob->path) == 0)
                                same = a->local.objs[j].hlc == ob->cfg_hlc &&
                                       strcmp(a->local.objs[j].writer, ob->cfg_writer) == 0;
                if (!same)
                        obj_load_config(o, ob);
        }
}

/* ---- targets ---- */

static int target_cmp(uint64_t v1, const char *w1, uint64_t v2, const char *w2) {
        if (v1 != v2)
                return v1 < v2 ? -1 : 1;
        return strcmp(w1, w2);
}

static void adopt_targets(struct om_orch *o, struct obj *ob) {
        struct om_agent *a = o->agent;
        for (size_t i = 0; i < a->n_peers; i++) {
                if (a->peers[i].self || !alive(a, i))
                        continue;
                const struct om_cl_instance *in = inst_of(a, i, ob->path);
                if (!in || !in->target_ver ||
                    target_cmp(in->target_ver, in->target_writer, ob->tver, ob->twriter) <= 0)
                        continue;
                snprintf(ob->target, sizeof(ob->target), "%s", in->target);
                ob->tver = in->target_ver;
                snprintf(ob->twriter, sizeof(ob->twriter), "%s", in->target_writer);
                ob->tdone = ob->tfailed = false;
                ob->treason[0] = 0;
                om_log_set_component("monitor");
                log_info("%s target state set to %s (by %s, seen from %s)", ob->path, ob->target,
                         ob->twriter, a->peers[i].name);
                if (mon_failed(ob->state))
                        set_state(o, ob, MON_IDLE, "new target");
                o->dirty = true;
        }
}

static void target_end(struct om_orch *o, struct obj *ob, bool failed, const char *fmt, ...)
        _printf_(4, 5);
static void target_end(struct om_orch *o, struct obj *ob, bool failed, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ob->treason, sizeof(ob->treason), fmt, ap);
        va_end(ap);
        ob->tdone = true;
        ob->tfailed = failed;
        o->dirty = true;
        om_log_set_component("monitor");
        log_info("%s target %s %s%s%s", ob->path, ob->target, failed ? "failed" : "reached",
                 ob->treason[0] ? ": " : "", ob->treason);
}

/* Every live node that holds the object, with fresh data. false when one is not fresh
 * yet (the caller waits). */
static bool all_fresh(struct om_orch *o) {
        struct om_agent *a = o->agent;
        for (size_t i = 0; i < a->n_peers; i++)
                if (alive(a, i) && !fresh(a, i))
                        return false;
        return true;
}

/* A failed monitor among the live instances: its node's name in ret. */
static bool some_failed(struct om_orch *o, struct obj *ob, const char *what, char *ret,
                        size_t len) {
        struct om_agent *a = o->agent;
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_cl_instance *in = inst_of(a, i, ob->path);
                /* only a node that works on this very target can have failed it */
                if (alive(a, i) && in && om_streq(in->monitor, what) &&
                    in->target_ver == ob->tver && om_streq(in->target_writer, ob->twriter)) {
                        snprintf(ret, len, "%s", a->peers[i].name);
                        return true;
                }
        }
        return false;
}

static bool quorum_ok(struct om_orch *o) {
        return o->quorum_have;
}

static bool others_active(struct om_orch *o, struct obj *ob, int except) {
        struct om_agent *a = o->agent;
        for (size_t i = 0; i < a->n_peers; i++) {
                if ((int)i == except || a->peers[i].self || !alive(a, i))
                        continue;
                if (!fresh(a, i))
                        return true; /* unknown: count it as running */
                if (inst_active(inst_of(a, i, ob->path)))
                        return true;
        }
        return false;
}

static void eval_target(struct om_orch *o, struct obj *ob, const struct om_cl_instance *me) {
        struct om_agent *a = o->agent;
        char who[OM_CL_NAME_MAX];
        const char *t = ob->target;
        bool fr = all_fresh(o);

        if (om_streq(t, "frozen") || om_streq(t, "thawed")) {
                bool want = om_streq(t, "frozen");
                set_frozen(o, ob, want);
                if (!fr)
                        return;
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_instance *in = inst_of(a, i, ob->path);
                        if (alive(a, i) && in && in->frozen != want)
                                return;
                }
                target_end(o, ob, false, "%s", "");
                return;
        }
        if (om_streq(t, "stopped")) {
                /* frozen first, so that no HA logic starts it again anywhere */
                set_frozen(o, ob, true);
                if (me && avail_up(me) && ob->state == MON_IDLE)
                        job_start(o, ob, MON_STOPPING, "target stopped");
                if (some_failed(o, ob, "stop failed", who, sizeof(who))) {
                        target_end(o, ob, true, "stop failed on %s (see its object log)", who);
                        return;
                }
                if (!fr)
                        return;
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_instance *in = inst_of(a, i, ob->path);
                        if (alive(a, i) && in && (inst_active(in) || !in->frozen))
                                return;
                }
                target_end(o, ob, false, "%s", "");
                return;
        }
        if (om_streq(t, "started") || om_streq(t, "provisioned") || om_startswith(t, "placed@")) {
                bool prov = om_streq(t, "provisioned");
                const char *dest = om_startswith(t, "placed@") ? t + 7 : NULL;
                set_frozen(o, ob, false);
                int leader =
                        dest ? om_cl_config_node_index(a->cfg, dest) : leader_of(o, ob, true, prov);
                bool me_leader = leader == a->self_idx;
                const char *fail = prov ? "provision failed" : "start failed";
                if (some_failed(o, ob, fail, who, sizeof(who)) &&
                    (dest || !ob->failover || leader < 0)) {
                        target_end(o, ob, true, "%s on %s (see its object log)", fail, who);
                        return;
                }
                if (some_failed(o, ob, "stop failed", who, sizeof(who))) {
                        target_end(o, ob, true, "stop failed on %s (see its object log)", who);
                        return;
                }
                if (leader < 0 && fr) {
                        target_end(o, ob, true,
                                   "no node can %s it (none alive, provisioned "
                                   "and not failed among its nodes)",
                                   prov ? "provision" : "start");
                        return;
                }
                /* a node provisions only on a fresh view, holding the secrets the other
                 * nodes have (leader or not: two nodes may briefly both think they lead) */
                bool may_prov = fr && secs_synced_all(a, ob->path);
                if (ob->state == MON_IDLE && me) {
                        if (dest && !me_leader && avail_up(me))
                                job_start(o, ob, MON_STOPPING, t);
                        else if (me_leader && !avail_up(me) && fr && quorum_ok(o) &&
                                 o->boot_ready && (!ob->failover || !others_active(o, ob, -1)) &&
                                 (!prov || me->provisioned || may_prov))
                                job_start(o, ob,
                                          prov && !me->provisioned ? MON_PROVISIONING
                                                                   : MON_STARTING,
                                          t);
                        else if (!ob->failover && !avail_up(me) && quorum_ok(o) && o->boot_ready &&
                                 (!prov || me->provisioned || (me_leader && may_prov)))
                                job_start(o, ob, prov ? MON_PROVISIONING : MON_STARTING, t);
                        else if (prov && !me_leader && !me->provisioned && leader >= 0 &&
                                 avail_up(inst_of(a, (size_t)leader, ob->path)) && may_prov) {
                                if (ob->failover && !ob->prov_refreshed) {
                                        ob->prov_refreshed = true;
                                        refresh_start(o, ob);
                                        return;
                                }
                                ob->then = ob->failover ? "stop" : NULL;
                                job_start(o, ob, MON_PROVISIONING, t);
                        }
                }
                /* reached: the destination runs it (switch), or one instance runs it
                 * wherever it is (failover: a node that comes back and adopts an old
                 * target finds it reached), or every instance does (flex) */
                if (!fr)
                        return;
                int n_up = 0, n_active = 0, n_inst = 0;
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_instance *in = inst_of(a, i, ob->path);
                        if (!alive(a, i) || !in)
                                continue;
                        if (prov && !in->provisioned)
                                return;
                        n_inst++;
                        n_active += inst_active(in);
                        n_up += avail_up(in) && om_streq(in->monitor, "idle");
                        if (dest && (int)i == leader && !avail_up(in))
                                return;
                }
                if (ob->failover ? n_up != 1 || n_active != 1 : n_up != n_inst)
                        return;
                target_end(o, ob, false, "%s", "");
                return;
        }
        if (om_streq(t, "unprovisioned") || om_streq(t, "purged")) {
                bool purge = om_streq(t, "purged");
                if (me && ob->state == MON_IDLE) {
                        bool all_adopted = true;
                        for (size_t i = 0; i < a->n_peers; i++) {
                                const struct om_cl_instance *in = inst_of(a, i, ob->path);
                                if (alive(a, i) && in &&
                                    (in->target_ver != ob->tver ||
                                     !om_streq(in->target_writer, ob->twriter)))
                                        all_adopted = false;
                        }
                        if (purge && all_adopted && fr)
                                job_start(o, ob, MON_PURGING, t);
                        else if (!purge && (me->provisioned || avail_up(me)))
                                job_start(o, ob, MON_UNPROVISIONING, t);
                }
                const char *fail = purge ? "purge failed" : "unprovision failed";
                if (some_failed(o, ob, fail, who, sizeof(who))) {
                        target_end(o, ob, true, "%s on %s (see its object log)", fail, who);
                        return;
                }
                if (!fr)
                        return;
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_instance *in = inst_of(a, i, ob->path);
                        if (alive(a, i) && in && (purge || in->provisioned || inst_active(in)))
                                return;
                }
                target_end(o, ob, false, "%s", "");
                return;
        }
        target_end(o, ob, true, "unknown target %s", t);
}

/* ---- HA ---- */

static void eval(struct om_orch *o);

static void ready_cb(uv_timer_t *t) {
        eval(container_of(t, struct om_orch, ready));
}

static void eval_ha(struct om_orch *o, struct obj *ob, const struct om_cl_instance *me) {
        struct om_agent *a = o->agent;
        uint64_t now = uv_now(&a->loop);
        if (!ob->ha || !ob->failover || !me)
                return;

        /* Two instances up. After a loop stall long enough for peers to declare us
         * down, they may have taken over what we run: once their fresh data shows the
         * instance up elsewhere (within two timeouts of the stall, since the frames
         * queued during the stall are read after the timers that notice it), ours is
         * the one that goes (they acted on a real silence, we on nothing). Any other
         * duplicate that lasts a timeout is resolved by the service's `nodes` order:
         * the node later in the list stops, as computed the same way on both. */
        if (a->stalls != ob->dup_check_stalls) {
                ob->dup_check_stalls = a->stalls;
                ob->stall_window = now + 2 * a->timeout;
        }
        int other = -1;
        for (size_t i = 0; i < a->n_peers && avail_up(me); i++)
                if (!a->peers[i].self && alive(a, i) && fresh(a, i) &&
                    avail_up(inst_of(a, i, ob->path)))
                        other = (int)i;
        if (other < 0 || ob->state != MON_IDLE) {
                ob->dup_since = 0;
        } else if (now < ob->stall_window) {
                job_start(o, ob, MON_STOPPING, "also up elsewhere after our loop stalled");
                return;
        } else {
                if (!ob->dup_since)
                        ob->dup_since = now;
                int me_rank = -1, other_rank = -1;
                for (size_t k = 0; k < ob->n_nodes; k++) {
                        if (om_streq(ob->nodes[k], a->self))
                                me_rank = (int)k;
                        if (om_streq(ob->nodes[k], a->peers[other].name))
                                other_rank = (int)k;
                }
                if (now - ob->dup_since >= a->timeout && other_rank >= 0 &&
                    (me_rank < 0 || me_rank > other_rank)) {
                        char why[128];
                        snprintf(why, sizeof(why), "also up on %s, earlier in nodes",
                                 a->peers[other].name);
                        job_start(o, ob, MON_STOPPING, why);
                        return;
                }
        }

        bool frozen = me->frozen || a->local.frozen;
        int leader = leader_of(o, ob, false, false);
        bool can = !frozen && me->provisioned && leader == a->self_idx && quorum_ok(o) &&
                   o->boot_ready && !avail_up(me) && !others_active(o, ob, -1);
        if (ob->state == MON_IDLE && can) {
                ob->ready_until = now + ob->ready_ms;
                set_state(o, ob, MON_READY, "no instance up, this node is the leader");
                /* evaluate again right when the period ends, not at the next 100ms tick */
                uv_timer_start(&o->ready, ready_cb, ob->ready_ms, 0);
                return;
        }
        if (ob->state != MON_READY)
                return;
        if (!can) {
                set_state(o, ob, MON_IDLE, "placement changed while ready");
                return;
        }
        if (now >= ob->ready_until)
                job_start(o, ob, MON_STARTING, "ha leader, ready period elapsed");
}

/* ---- resource monitoring ----
 *
 * An instance that runs here (avail up or warn), idle and not frozen, whose config
 * watches resources (`monitor = true` or `restart = N`), has its status computed again
 * every `monitor_interval` by a child (`om <path> print status`, which writes the status
 * cache with the rids found down). A watched resource found down is started again
 * (`start --local --rid <rid>`) up to `restart` times; past that, a monitored resource
 * gives the instance up: a failover service with orchestrate = ha is stopped here and
 * its monitor left in "monitor failed", which takes this node out of the HA leader's
 * candidates, so the next node starts it. A restart count is reset by a whole start.
 */

static bool word_in(const char *list, const char *w) {
        size_t n = strlen(w);
        for (const char *p = list; (p = strstr(p, w)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return true;
        return false;
}

static void monitor_judge(struct om_orch *o, struct obj *ob) {
        struct om_instance_status st;
        if (om_instance_status_load(&ob->p, &st) < 0)
                return;
        /* stopped on purpose (a stop --local ran after the refresh began): not a failure */
        if (om_streq(st.last_action, "stop") || om_streq(st.last_action, "unprovision") ||
            om_streq(st.last_action, "shutdown"))
                return;
        om_log_set_component("monitor");
        for (size_t k = 0; k < ob->n_watch; k++) {
                struct watch *w = &ob->watch[k];
                if (!word_in(st.down, w->rid)) {
                        w->warned = false;
                        continue;
                }
                if (w->restarted < w->restart) {
                        char why[160];
                        w->restarted++;
                        snprintf(why, sizeof(why), "resource %s is down: restart %d/%d", w->rid,
                                 w->restarted, w->restart);
                        log_warning("%s %s", ob->path, why);
                        const char *words[] = {"start", "--rid", w->rid, NULL};
                        ob->rid_job = true;
                        job_start_words(o, ob, MON_STARTING, why, words);
                        return;
                }
                if (!w->monitor)
                        continue;
                if (ob->ha && ob->failover) {
                        char why[200];
                        snprintf(why, sizeof(why),
                                 "monitored resource %s is down after %d restart%s: giving the "
                                 "instance up",
                                 w->rid, w->restarted, w->restarted == 1 ? "" : "s");
                        log_warning("%s %s", ob->path, why);
                        ob->fail_after = true;
                        job_start(o, ob, MON_STOPPING, why);
                        return;
                }
                if (!w->warned) {
                        w->warned = true;
                        log_warning("%s monitored resource %s is down after %d restart%s (no "
                                    "failover: orchestrate is not ha or the topology is flex)",
                                    ob->path, w->rid, w->restarted, w->restarted == 1 ? "" : "s");
                }
        }
}

static void eval_monitor(struct om_orch *o, struct obj *ob, const struct om_cl_instance *me) {
        struct om_agent *a = o->agent;
        uint64_t now = uv_now(&a->loop);
        if (!me || !ob->present || ob->job || ob->state != MON_IDLE || ob->n_watch == 0 ||
            me->frozen || a->local.frozen) {
                ob->mon_check = false;
                return;
        }
        /* judged even when the refresh found the whole instance down: it ran before */
        if (ob->mon_check) {
                ob->mon_check = false;
                monitor_judge(o, ob);
                if (ob->job)
                        return;
        }
        if (!avail_up(me) || now < ob->mon_next)
                return;
        ob->mon_next = now + ob->mon_ms;
        ob->mon_refreshing = true;
        refresh_start(o, ob);
}

/* ---- split brain ---- */

static void split_apply(struct om_orch *o, struct obj *ob, const struct om_cl_instance *me) {
        if (!ob->failover || !me || !avail_up(me) || ob->split_done)
                return;
        ob->split_done = true;
        om_log_set_component("monitor");
        log_warning("%s: quorum lost, split_action %s", ob->path, ob->split_action);
        if (om_streq(ob->split_action, "freeze")) {
                set_frozen(o, ob, true);
                return;
        }
        if (om_streq(ob->split_action, "crash") || om_streq(ob->split_action, "reboot")) {
                const char *allow = getenv("OM_ALLOW_REBOOT");
                if (om_streq(ob->split_action, "reboot") && allow && om_streq(allow, "1")) {
                        log_warning("rebooting the node (split_action reboot)");
                        sync();
                        reboot(RB_AUTOBOOT);
                }
                /* without OM_ALLOW_REBOOT=1 (tests, demos) a reboot is a crash: the agent
                 * dies hard, without stopping anything */
                log_warning("agent exits hard (split_action %s)", ob->split_action);
                _exit(70);
        }
        if (ob->job) {
                ob->then = "stop";
                return;
        }
        if (ob->state == MON_READY || ob->state == MON_IDLE || mon_failed(ob->state))
                job_start(o, ob, MON_STOPPING, "quorum lost");
}

static void quorum_update(struct om_orch *o) {
        struct om_agent *a = o->agent;
        struct om_quorum_input in = {.enabled = a->cfg->quorum, .n_nodes = a->n_peers};
        for (size_t i = 0; i < a->n_peers; i++)
                in.live_nodes += alive(a, i);
        for (size_t k = 0; k < o->n_arb && k < a->cfg->n_arb; k++) {
                in.arb_weight += a->cfg->arb[k].weight;
                if (o->arb[k].reachable)
                        in.arb_reachable += a->cfg->arb[k].weight;
        }
        struct om_quorum q;
        if (om_quorum_compute(&in, &q) < 0)
                return;
        bool was = o->quorum_have;
        o->quorum_have = q.have;
        o->votes = q.votes;
        o->total = q.total;
        if (was != q.have || !o->quorum_logged) {
                /* at start, before a peer is heard, it was never held: not "lost" */
                const char *what = q.have ? "held" : o->quorum_logged ? "lost" : "not held yet";
                o->quorum_logged = true;
                om_log_set_component("monitor");
                log_info("quorum %s: %d/%d votes (%zu live nodes, arbitrators %d/%d)%s", what,
                         q.votes, q.total, in.live_nodes, in.arb_reachable, in.arb_weight,
                         a->cfg->quorum ? "" : ", not enforced");
                if (q.have)
                        for (size_t i = 0; i < o->n_objs; i++)
                                o->objs[i]->split_done = false;
        }
}

/*
 * The restart guard.
 *
 * Problem: a node that boots (or whose agent restarts) knows nothing of the cluster:
 * no peer data yet, every peer "unknown". Its own cached status may be older than the
 * failover that happened while it was gone. If it acted at once it would find no
 * instance up anywhere and, being first in `nodes`, start the service a second time:
 * the reference system does exactly that when the node comes back one second after the
 * takeover.
 *
 * Behaviour: until the guard is lifted the node starts nothing and applies no split
 * action. Every instance begins in the "init" monitor state (peers see it and count it
 * as possibly running) until a status refresh (`om <path> print status`, a child
 * process) has run. The guard lifts when every peer that beats has handed us its fresh
 * node data, and every peer that does not beat has been silent for two heartbeat
 * timeouts since we started (it is down, not slow to answer).
 *
 * Reason: the data of every live peer is what tells us another node runs the service;
 * waiting for it costs one round trip on a normal boot, and two timeouts only when some
 * peer is really gone, which is the case where the quorum rule protects us anyway.
 */
static void boot_guard(struct om_orch *o) {
        struct om_agent *a = o->agent;
        if (o->boot_ready)
                return;
        uint64_t now = uv_now(&a->loop);
        bool waited = now - a->started >= 2 * a->timeout;
        for (size_t i = 0; i < a->n_peers; i++) {
                if (a->peers[i].self)
                        continue;
                if (alive(a, i) ? !fresh(a, i) : !waited)
                        return;
        }
        for (size_t i = 0; i < o->n_objs; i++)
                if (o->objs[i]->present && o->objs[i]->state == MON_INIT)
                        return;
        o->boot_ready = true;
        om_log_set_component("monitor");
        log_info("restart guard lifted after %llums: %s", (unsigned long long)(now - a->started),
                 waited ? "every live peer's data received, the others silent for 2 timeouts"
                        : "every peer's data received");
}

/* ---- the evaluation ---- */

static void eval(struct om_orch *o) {
        struct om_agent *a = o->agent;
        if (a->stopping)
                return;
        sync_objects(o);
        quorum_update(o);
        for (size_t i = 0; i < o->n_objs; i++) {
                struct obj *ob = o->objs[i];
                if (ob->state == MON_INIT && ob->present && !ob->job)
                        refresh_start(o, ob);
        }
        boot_guard(o);
        for (size_t i = 0; i < o->n_objs; i++) {
                struct obj *ob = o->objs[i];
                const struct om_cl_instance *me =
                        ob->present ? inst_of(a, (size_t)a->self_idx, ob->path) : NULL;
                adopt_targets(o, ob);
                if (ob->state == MON_INIT)
                        continue;
                if (a->cfg->quorum && !o->quorum_have && o->boot_ready)
                        split_apply(o, ob, me);
                if (ob->job)
                        continue;
                if (ob->tver && !ob->tdone) {
                        if (ob->state == MON_READY)
                                set_state(o, ob, MON_IDLE, "a target takes over");
                        eval_target(o, ob, me);
                } else {
                        /* first: a refresh that found a watched resource down is the
                         * monitor's to handle (restart it, or give the instance up),
                         * not a placement question */
                        eval_monitor(o, ob, me);
                        if (!ob->job)
                                eval_ha(o, ob, me);
                }
        }
        if (o->dirty) {
                o->dirty = false;
                om_agent_rescan(a);
        }
}

static void eval_cb(uv_timer_t *t) {
        eval(container_of(t, struct om_orch, eval));
}

static void kick_cb(uv_timer_t *t) {
        eval(container_of(t, struct om_orch, kick));
}

void om_orch_kick(struct om_agent *a) {
        if (a->orch && !a->stopping)
                uv_timer_start(&a->orch->kick, kick_cb, 0, 0);
}

/* ---- arbitrators: a TCP connect answered in time is a vote ---- */

static void arb_closed(uv_handle_t *h) {
        struct arb *r = h->data;
        r->in_flight = false;
}

static void arb_finish(struct arb *r, bool ok) {
        if (!r->in_flight || uv_is_closing((uv_handle_t *)&r->tcp))
                return;
        if (r->reachable != ok) {
                om_log_set_component("monitor");
                log_info("arbitrator#%ld %s", (long)(r - r->o->arb) + 1,
                         ok ? "reachable" : "unreachable");
        }
        r->reachable = ok;
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->tcp, arb_closed);
        om_orch_kick(r->o->agent);
}

static void arb_connected(uv_connect_t *req, int status) {
        struct arb *r = container_of(req, struct arb, req);
        if (status == UV_ECANCELED)
                return;
        arb_finish(r, status == 0);
}

static void arb_timeout(uv_timer_t *t) {
        struct arb *r = container_of(t, struct arb, timer);
        arb_finish(r, false);
}

static void probe_cb(uv_timer_t *t) {
        struct om_orch *o = container_of(t, struct om_orch, probe);
        struct om_agent *a = o->agent;
        for (size_t k = 0; k < o->n_arb; k++) {
                struct arb *r = &o->arb[k];
                char host[128];
                unsigned port = 0;
                struct sockaddr_storage ss;
                if (r->in_flight)
                        continue;
                const char *u = a->cfg->arb[k].uri + strlen("tcp://");
                const char *colon = strrchr(u, ':');
                if (!colon || (size_t)(colon - u) >= sizeof(host))
                        continue;
                snprintf(host, sizeof(host), "%.*s", (int)(colon - u), u);
                port = (unsigned)strtoul(colon + 1, NULL, 10);
                if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                        memmove(host, host + 1, strlen(host));
                        host[strlen(host) - 1] = 0;
                }
                if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss) &&
                    uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&ss))
                        continue;
                r->in_flight = true;
                uv_tcp_init(&a->loop, &r->tcp);
                r->tcp.data = r;
                /* from the node's cluster address: the arbitrator must be reachable on
                 * the cluster's network, not through whatever route the host prefers */
                struct sockaddr_storage src;
                const char *self_addr = om_cl_config_node_addr(a->cfg, (size_t)a->self_idx);
                if (self_addr && (!uv_ip4_addr(self_addr, 0, (struct sockaddr_in *)&src) ||
                                  !uv_ip6_addr(self_addr, 0, (struct sockaddr_in6 *)&src)))
                        (void)uv_tcp_bind(&r->tcp, (struct sockaddr *)&src, 0);
                if (uv_tcp_connect(&r->req, &r->tcp, (struct sockaddr *)&ss, arb_connected) < 0) {
                        arb_finish(r, false);
                        continue;
                }
                uv_timer_start(&r->timer, arb_timeout, a->timeout, 0);
        }
}

/* ---- life cycle ---- */

int om_orch_start(struct om_agent *a) {
        struct om_orch *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->agent = a;
        a->orch = o;
        uv_timer_init(&a->loop, &o->eval);
        uv_timer_init(&a->loop, &o->kick);
        uv_timer_init(&a->loop, &o->probe);
        uv_timer_init(&a->loop, &o->ready);
        o->n_arb = a->cfg->n_arb;
        for (size_t k = 0; k < o->n_arb; k++) {
                o->arb[k].o = o;
                uv_timer_init(&a->loop, &o->arb[k].timer);
        }
        /* with arbitrators, the first answer must count before anything is decided */
        if (o->n_arb) {
                probe_cb(&o->probe);
                uv_timer_start(&o->probe, probe_cb, a->interval, a->interval);
        }
        sync_objects(o);
        uv_timer_start(&o->eval, eval_cb, EVAL_MS, EVAL_MS);
        om_log_set_component("monitor");
        log_info("orchestrator started: %zu objects, %zu arbitrators, quorum %s", o->n_objs,
                 o->n_arb, a->cfg->quorum ? "enforced" : "not enforced");
        return 0;
}

void om_orch_free(struct om_agent *a) {
        struct om_orch *o = a->orch;
        if (!o)
                return;
        for (size_t i = 0; i < o->n_objs; i++)
                free(o->objs[i]);
        free(o->objs);
        free(o);
        a->orch = NULL;
}

void om_orch_fill(struct om_agent *a, struct om_cl_nodedata *nd) {
        struct om_orch *o = a->orch;
        for (size_t k = 0; k < nd->n_inst; k++) {
                struct om_cl_instance *in = &nd->inst[k];
                struct obj *ob = o ? obj_find(o, in->path) : NULL;
                snprintf(in->monitor, sizeof(in->monitor), "%s",
                         mon_to_string(ob ? ob->state : MON_INIT));
                if (ob && ob->tver) {
                        snprintf(in->target, sizeof(in->target), "%s", ob->target);
                        in->target_ver = ob->tver;
                        snprintf(in->target_writer, sizeof(in->target_writer), "%s", ob->twriter);
                        in->target_done = ob->tdone;
                }
                /* as the reference shows it: a failed stop leaves the instance in doubt */
                if (ob && ob->state == MON_STOP_FAILED) {
                        snprintf(in->avail, sizeof(in->avail), "warn");
                        snprintf(in->overall, sizeof(in->overall), "warn");
                }
        }
}

int om_orch_leader(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        if (!ob || !ob->loaded)
                return -1;
        return leader_of(a->orch, ob, false, false);
}

const char *om_orch_orchestrate(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        return ob && ob->ha ? "ha" : "no";
}

const char *om_orch_topology(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        return !ob || ob->failover ? "failover" : "flex";
}

void om_orch_quorum(struct om_agent *a, bool *ret_have, int *ret_votes, int *ret_total) {
        struct om_orch *o = a->orch;
        *ret_have = o ? o->quorum_have : true;
        *ret_votes = o ? o->votes : 0;
        *ret_total = o ? o->total : 0;
}

/* ---- local API ---- */

bool om_orch_api_known(const char *cmd) {
        return om_streq(cmd, "object_set") || om_streq(cmd, "object_target");
}

static void pack_error(msgpack_packer *pk, const char *fmt, ...) _printf_(2, 3);
static void pack_error(msgpack_packer *pk, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        msgpack_pack_map(pk, 3);
        om_cl_mp_kv_u64(pk, "v", 1);
        om_cl_mp_kv_bool(pk, "ok", false);
        om_cl_mp_kv_str(pk, "error", msg);
}

static void pack_target(struct om_agent *a, msgpack_packer *pk, const struct obj *ob) {
        msgpack_pack_map(pk, 3);
        om_cl_mp_kv_u64(pk, "v", 1);
        om_cl_mp_kv_bool(pk, "ok", true);
        om_cl_mp_str_pack(pk, "data");
        msgpack_pack_map(pk, 8);
        om_cl_mp_kv_str(pk, "node", a->self);
        om_cl_mp_kv_str(pk, "path", ob->path);
        om_cl_mp_kv_str(pk, "target", ob->target);
        om_cl_mp_kv_u64(pk, "ver", ob->tver);
        om_cl_mp_kv_str(pk, "writer", ob->twriter);
        om_cl_mp_kv_bool(pk, "done", ob->tdone);
        om_cl_mp_kv_bool(pk, "failed", ob->tfailed);
        om_cl_mp_kv_str(pk, "reason", ob->treason);
}

static bool target_valid(const char *t) {
        static const char *const ok[] = {"started", "stopped", "provisioned", "unprovisioned",
                                         "purged",  "frozen",  "thawed"};
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                if (om_streq(t, ok[i]))
                        return true;
        return om_startswith(t, "placed@") && t[7];
}

void om_orch_api(struct om_agent *a, const char *cmd, const msgpack_object *req,
                 msgpack_packer *pk) {
        struct om_orch *o = a->orch;
        char path[OM_PATH_STRMAX], target[80];
        struct om_path p;
        if (!o)
                return pack_error(pk, "the orchestrator is not running");
        if (om_cl_mp_get_str(req, "path", path, sizeof(path)) < 0 ||
            om_path_parse(path, &p, NULL, 0) < 0)
                return pack_error(pk, "malformed request: no valid path");
        om_path_to_string(&p, path, sizeof(path));
        struct obj *ob = obj_find(o, path);
        if (om_streq(cmd, "object_target")) {
                if (!ob)
                        return pack_error(pk, "%s: no target known on %s", path, a->self);
                return pack_target(a, pk, ob);
        }
        if (om_cl_mp_get_str(req, "target", target, sizeof(target)) < 0 || !target_valid(target))
                return pack_error(pk, "malformed request: no valid target");
        if (!om_object_exists(&p))
                return pack_error(pk, "object %s does not exist on %s", path, a->self);
        if (!ob) {
                om_agent_rescan(a);
                sync_objects(o);
                if (!(ob = obj_find(o, path)))
                        return pack_error(pk, "%s: not a service this agent orchestrates", path);
        }
        if (om_startswith(target, "placed@") && !obj_has_node(ob, target + 7))
                return pack_error(pk, "%s: %s is not one of the service's nodes", path, target + 7);
        uint64_t ver = om_now_ms();
        if (ver <= o->last_ver)
                ver = o->last_ver + 1;
        if (ver <= ob->tver)
                ver = ob->tver + 1;
        o->last_ver = ver;
        snprintf(ob->target, sizeof(ob->target), "%s", target);
        ob->tver = ver;
        snprintf(ob->twriter, sizeof(ob->twriter), "%s", a->self);
        ob->tdone = ob->tfailed = false;
        ob->treason[0] = 0;
        if (mon_failed(ob->state))
                set_state(o, ob, MON_IDLE, "new target");
        om_log_set_component("monitor");
        log_info("%s target state set to %s", path, target);
        o->dirty = true;
        om_orch_kick(a);
        pack_target(a, pk, ob);
}
