/*
 * The orchestrator's effects: the object registry (one entry per object this node
 * holds, its config read again when its version moves), the timers that drive the
 * evaluation, the arbitrators' votes counted (agent/arb_client.c), the child processes
 * that run actions, and the log of every decided transition. What to do is decided elsewhere, by
 * the pure functions of cluster/cl_decide.h, from this node's view of the cluster
 * (cluster/cl_view.h): a pass hands each object's config and decision state to om_decide and
 * performs the effects it returns, in order. A target ("started", "stopped", "placed@n2", ...) set
 * through the local API is published in the node data with a version and adopted by every node that
 * sees a newer one. This file does not talk to peers: what it decides leaves through
 * node data. Work it needs from the daemon (a rescan) is asked with a todo bit, done
 * before the loop sleeps (see docs/ARCHITECTURE.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/arb_client.h"
#include "agent/events.h"
#include "agent/metrics.h"
#include "agent/orchestrator.h"
#include "cluster/cl_decide.h"
#include "cluster/cl_mp.h"
#include "cluster/cl_quorum.h"
#include "core/deps.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"
#include "resources/res.h"
#include "resources/status.h"

#define EVAL_MS 100

struct obj {
        char path[OM_PATH_STRMAX];
        struct om_path p;
        /* config, reloaded when the object's version changes */
        uint64_t cfg_hlc;
        char cfg_writer[64];
        bool loaded;
        struct om_dec_cfg cfg;
        struct om_dec_obj st;
        /* takeovers: the last other node seen running the instance, when this node went
         * ready to start it, and the failover in progress (started at 0: none) */
        char up_on[OM_CL_NAME_MAX];
        uint64_t ready_at;
        uint64_t fo_began;
        char fo_from[OM_CL_NAME_MAX];
        bool fenced_file; /* the instance's fenced flag is on disk */
};

struct om_orch {
        struct om_agent *agent;
        uv_timer_t eval, ready;
        struct obj **objs;
        size_t n_objs;
        struct obj **sched; /* objs in priority order (om_decide_sched_cmp), for a pass */
        bool resort;        /* a priority changed or an object came: sort sched again */
        int max_parallel;   /* action slots ([node] max_parallel, default twice the CPUs) */
        bool held_logged;
        bool dirty; /* local node data must be collected again */
        bool boot_ready;
        uint64_t last_ver;
        /* quorum */
        bool quorum_have, quorum_keep;
        int quorum_state; /* 2 held, 1 in doubt, 0 not held */
        int votes, total;
        bool quorum_logged;
};

static struct obj *obj_find(struct om_orch *o, const char *path) {
        for (size_t i = 0; i < o->n_objs; i++)
                if (strcmp(o->objs[i]->path, path) == 0)
                        return o->objs[i];
        return NULL;
}

static bool obj_has_node(const struct obj *ob, const char *node) {
        for (size_t i = 0; i < ob->cfg.n_nodes; i++)
                if (strcmp(ob->cfg.nodes[i], node) == 0)
                        return true;
        return false;
}

/* ---- effects ---- */

static void job_done(struct om_agent *a, void *arg, int status);
static void ready_cb(uv_timer_t *t);

static void set_frozen(struct om_orch *o, struct obj *ob, bool frozen) {
        if (!ob->st.present || om_instance_frozen(&ob->p) == frozen)
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

/* The monitor state "fenced" outlives the agent: a flag file beside the instance status
 * (resources/status.h) is there exactly while the state is fenced, and the next agent
 * reads it at start (cl_decide.h, fenced_mark). */
static void fenced_keep(struct obj *ob, bool fenced) {
        if (ob->fenced_file == fenced)
                return;
        int r = om_instance_set_fenced(&ob->p, fenced, ob->st.fenced_tver, ob->st.fenced_twriter);
        if (r < 0) {
                log_error("%s: cannot %s the fenced flag: %s", ob->path,
                          fenced ? "write" : "remove", strerror(-r));
                return;
        }
        ob->fenced_file = fenced;
}

/* The events of a monitor state change: the change itself; entering "ready" (the HA
 * leader found no instance up); the start that follows, a takeover when the instance ran
 * on another node before; the end of that start, a failover done (or not). */
static void state_events(struct om_orch *o, struct obj *ob, const struct om_eff *e) {
        struct om_agent *a = o->agent;
        uint64_t now = uv_now(&a->loop);
        struct om_ev_build b;
        om_events_begin(a, &b, OM_EV_MONITOR);
        om_ev_path(&b, ob->path);
        om_ev_peer(&b, a->self);
        om_ev_str(&b, "from", om_mon_to_string(e->from));
        om_ev_str(&b, "to", om_mon_to_string(e->to));
        if (e->why[0])
                om_ev_str(&b, "reason", e->why);
        om_events_emit(a, &b);
        if (e->to == OM_MON_READY)
                ob->ready_at = now;
        if (e->from == OM_MON_READY && e->to == OM_MON_STARTING) {
                om_events_begin(a, &b, OM_EV_TAKEOVER);
                om_ev_path(&b, ob->path);
                om_ev_str(&b, "from", ob->up_on);
                om_ev_str(&b, "reason", e->why);
                om_events_emit(a, &b);
                if (ob->up_on[0]) {
                        ob->fo_began = ob->ready_at ? ob->ready_at : now;
                        snprintf(ob->fo_from, sizeof(ob->fo_from), "%s", ob->up_on);
                }
        } else if (e->from == OM_MON_STARTING && ob->fo_began) {
                bool ok = !om_mon_failed(e->to);
                uint64_t ms = now - ob->fo_began;
                ob->fo_began = 0;
                om_metrics_failover(a, ob->path, ok, ms);
                om_events_begin(a, &b, OM_EV_FAILOVER);
                om_ev_path(&b, ob->path);
                om_ev_str(&b, "from", ob->fo_from);
                om_ev_str(&b, "result", ok ? "ok" : "failed");
                om_ev_int(&b, "duration_ms", (int64_t)ms);
                om_events_emit(a, &b);
        }
}

/* Performs the effects of a decision on ob, in order. */
static void apply(struct om_orch *o, struct obj *ob, const struct om_decision *d) {
        struct om_agent *a = o->agent;
        for (size_t k = 0; k < d->n; k++) {
                const struct om_eff *e = &d->eff[k];
                om_log_set_component("monitor");
                switch (e->kind) {
                case OM_EFF_STATE:
                        /* the reference's line, exactly; the reason on a line of its own */
                        log_info("%s monitor status change: %s => %s", ob->path,
                                 om_mon_to_string(e->from), om_mon_to_string(e->to));
                        if (e->why[0])
                                log_info("%s monitor: %s", ob->path, e->why);
                        o->dirty = true;
                        state_events(o, ob, e);
                        fenced_keep(ob, e->to == OM_MON_FENCED);
                        break;
                case OM_EFF_SPAWN:
                case OM_EFF_REFRESH:
                        if (om_orch_run(a, ob->path, e->words, job_done, ob) < 0) {
                                struct om_decision f;
                                f.n = 0; /* not zeroed whole: see cl_decide.h */
                                om_decide_spawn_failed(&ob->st, e->kind == OM_EFF_REFRESH, &f);
                                apply(o, ob, &f);
                        }
                        break;
                case OM_EFF_FROZEN:
                        set_frozen(o, ob, e->flag);
                        break;
                case OM_EFF_TARGET_SET: {
                        log_info("%s target state set to %s (by %s, seen from %s)", ob->path,
                                 ob->st.target, ob->st.twriter, a->peers[e->node].name);
                        o->dirty = true;
                        ob->up_on[0] = 0; /* a start the operator asked is no takeover */
                        struct om_ev_build b;
                        om_events_begin(a, &b, OM_EV_TARGET_SET);
                        om_ev_path(&b, ob->path);
                        om_ev_str(&b, "target", ob->st.target);
                        om_ev_str(&b, "writer", ob->st.twriter);
                        om_events_emit(a, &b);
                        break;
                }
                case OM_EFF_TARGET_END: {
                        log_info("%s target %s %s%s%s", ob->path, ob->st.target,
                                 e->flag ? "failed" : "reached", ob->st.treason[0] ? ": " : "",
                                 ob->st.treason);
                        o->dirty = true;
                        struct om_ev_build b;
                        om_events_begin(a, &b,
                                        e->flag ? OM_EV_TARGET_FAILED : OM_EV_TARGET_REACHED);
                        om_ev_path(&b, ob->path);
                        om_ev_str(&b, "target", ob->st.target);
                        if (e->flag)
                                om_ev_str(&b, "reason", ob->st.treason);
                        om_events_emit(a, &b);
                        break;
                }
                case OM_EFF_SPLIT:
                        log_warning("%s: quorum lost, split_action %s", ob->path, e->why);
                        break;
                case OM_EFF_EXIT: {
                        const char *allow = getenv("OM_ALLOW_REBOOT");
                        if (e->flag && allow && om_streq(allow, "1")) {
                                log_warning("rebooting the node (split_action reboot)");
                                sync();
                                reboot(RB_AUTOBOOT);
                        }
                        /* without OM_ALLOW_REBOOT=1 (tests, demos) a reboot is a crash: the
                         * agent dies hard, without stopping anything */
                        log_warning("agent exits hard (split_action %s)", ob->cfg.split_action);
                        _exit(70);
                }
                case OM_EFF_WAKE: {
                        uint64_t now = uv_now(&a->loop);
                        uv_timer_start(&o->ready, ready_cb, e->at > now ? e->at - now : 0, 0);
                        break;
                }
                case OM_EFF_WARN:
                        log_warning("%s %s", ob->path, e->why);
                        break;
                }
        }
}

static void job_done(struct om_agent *a, void *arg, int status) {
        struct om_orch *o = a->orch;
        struct obj *ob = arg;
        struct om_decision d;
        d.n = 0; /* not zeroed whole: see cl_decide.h */
        if (!o) {
                ob->st.job = false;
                return;
        }
        /* what the job left in the instance status (a stop that found the reservation
         * taken names the resource fenced there) */
        struct om_instance_status ist;
        struct om_dec_status ds = {0}, *dsp = NULL;
        if (om_instance_status_load(&ob->p, &ist) == 0) {
                ds.last_action = ist.last_action;
                ds.down = ist.down;
                ds.fenced = ist.fenced;
                dsp = &ds;
        }
        om_decide_job_done(&ob->cfg, &ob->st, status, dsp, &d);
        apply(o, ob, &d);
        a->todo |= OM_TODO_RESCAN | OM_TODO_EVAL;
}

/* ---- objects and their config ---- */

/* The standby rids, parents and children of the config (om_decide's cfg). */
static void obj_load_deps(struct om_agent *a, struct obj *ob, const struct om_object *obj) {
        struct om_dec_cfg *c = &ob->cfg;
        const char *s;
        /* standby = true, and a disk.drbd with the device under it */
        int sr = om_res_standby_rids(obj->ini, a->self, c->standby, sizeof(c->standby));
        if (sr == -ENOSPC)
                log_warning("%s: more standby resources than the agent keeps up (%zu "
                            "characters of rids): those past %s are not started where the "
                            "service does not run",
                            ob->path, sizeof(c->standby) - 1, c->standby);
        else if (sr < 0)
                log_warning_errno(sr, "%s: cannot list the standby resources: %m", ob->path);
        static const char *const kws[] = {"parents", "children"};
        for (size_t w = 0; w < ARRAY_SIZE(kws); w++) {
                char(*dst)[OM_PATH_STRMAX] = w == 0 ? c->parents : c->children;
                size_t *n = w == 0 ? &c->n_parents : &c->n_children;
                *n = 0;
                _cleanup_strv_free_ char **v = NULL;
                s = om_ini_get(obj->ini, "DEFAULT", kws[w], a->self);
                if (!s || om_strv_split(s, " \t,", &v) < 0)
                        continue;
                for (size_t k = 0; v[k] && *n < OM_DEC_DEPS_MAX; k++) {
                        struct om_path dp;
                        if (om_dep_path_parse(v[k], &ob->p, &dp, NULL, 0) == 0)
                                om_path_to_string(&dp, dst[(*n)++], OM_PATH_STRMAX);
                }
        }
}

static void obj_load_config(struct om_orch *o, struct obj *ob) {
        struct om_agent *a = o->agent;
        struct om_dec_cfg *c = &ob->cfg;
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
        snprintf(c->path, sizeof(c->path), "%s", ob->path);
        const char *s = om_ini_get(obj->ini, "DEFAULT", "nodes", a->self);
        c->n_nodes = 0;
        _cleanup_strv_free_ char **v_nodes = NULL;
        if (s && om_strv_split(s, " \t,", &v_nodes) == 0)
                for (size_t k = 0; v_nodes[k] && c->n_nodes < OM_DEC_NODES_MAX; k++) {
                        const char *n = v_nodes[k];
                        if (om_streq(n, "{nodename}"))
                                n = a->self;
                        snprintf(c->nodes[c->n_nodes++], OM_CL_NAME_MAX, "%s", n);
                }
        if (c->n_nodes == 0)
                snprintf(c->nodes[c->n_nodes++], OM_CL_NAME_MAX, "%s", a->self);
        s = om_ini_get(obj->ini, "DEFAULT", "placement", a->self);
        int pl = om_placement_from_string(s ? s : "nodes order");
        c->placement = pl < 0 ? OM_PLACE_NODES_ORDER : (enum om_placement)pl;
        long long prio = 50;
        if ((s = om_ini_get(obj->ini, "DEFAULT", "priority", a->self)) &&
            om_parse_int(s, 0, 100, &prio) < 0)
                prio = 50; /* refused at create and set: an older file */
        if (c->priority != (int)prio)
                o->resort = true;
        c->priority = (int)prio;
        s = om_ini_get(obj->ini, "DEFAULT", "orchestrate", a->self);
        c->ha = s && om_streq(s, "ha");
        c->start_once = s && om_streq(s, "start");
        s = om_ini_get(obj->ini, "DEFAULT", "topology", a->self);
        c->failover = !s || om_streq(s, "failover");
        c->ready_ms = 1000;
        if ((s = om_ini_get(obj->ini, "DEFAULT", "ready_period", a->self)))
                (void)om_parse_duration_ms(s, &c->ready_ms);
        s = om_ini_get(obj->ini, "DEFAULT", "split_action", a->self);
        snprintf(c->split_action, sizeof(c->split_action), "%s", s ? s : "stop");
        c->mon_ms = 5000;
        if ((s = om_ini_get(obj->ini, "DEFAULT", "monitor_interval", a->self)))
                (void)om_parse_duration_ms(s, &c->mon_ms);
        if (c->mon_ms < 100)
                c->mon_ms = 100;
        c->n_watch = 0;
        c->refresh = false;
        for (size_t k = 0; k < obj->ini->n_sections && c->n_watch < OM_DEC_WATCH_MAX; k++) {
                const char *sec = obj->ini->sections[k].name;
                bool mon = false, dis = false, fence = false;
                long restart = 0;
                if (!strchr(sec, '#'))
                        continue;
                if ((s = om_ini_get(obj->ini, sec, "disable", a->self)))
                        (void)om_parse_bool(s, &dis);
                if ((s = om_ini_get(obj->ini, sec, "monitor", a->self)))
                        (void)om_parse_bool(s, &mon);
                if ((s = om_ini_get(obj->ini, sec, "restart", a->self)))
                        restart = strtol(s, NULL, 10);
                if ((s = om_ini_get(obj->ini, sec, "scsireserv", a->self)))
                        (void)om_parse_bool(s, &fence);
                /* DRBD's state moves by itself (a sync ends): shown by periodic refreshes */
                if (!dis && !strncmp(sec, "disk#", 5) &&
                    (s = om_ini_get(obj->ini, sec, "type", a->self)) && om_streq(s, "drbd"))
                        c->refresh = true;
                if (dis || (!mon && restart <= 0 && !fence))
                        continue;
                size_t w = c->n_watch++;
                memset(&c->watch[w], 0, sizeof(c->watch[w]));
                ob->st.restarted[w] = 0;
                ob->st.warned[w] = false;
                snprintf(c->watch[w].rid, sizeof(c->watch[w].rid), "%s", sec);
                c->watch[w].monitor = mon;
                c->watch[w].restart = restart > 0 ? (restart > 100 ? 100 : (int)restart) : 0;
                c->watch[w].fence = fence;
        }
        obj_load_deps(a, ob, obj);
        om_log_set_component("monitor");
        log_info("%s config: orchestrate %s, topology %s, %zu nodes, placement %s, priority %d, "
                 "ready_period %llums, split_action %s, %zu watched resources every %llums",
                 ob->path,
                 c->ha           ? "ha"
                 : c->start_once ? "start"
                                 : "no",
                 c->failover ? "failover" : "flex", c->n_nodes,
                 om_placement_to_string(c->placement), c->priority, (unsigned long long)c->ready_ms,
                 c->split_action, c->n_watch, (unsigned long long)c->mon_ms);
}

static struct obj *obj_add(struct om_orch *o, const char *path) {
        struct obj *ob = calloc(1, sizeof(*ob));
        struct obj **v = realloc(o->objs, (o->n_objs + 1) * sizeof(*v));
        if (v)
                o->objs = v;
        struct obj **sv = realloc(o->sched, (o->n_objs + 1) * sizeof(*sv));
        if (sv)
                o->sched = sv;
        if (!ob || !v || !sv) {
                free(ob);
                return NULL;
        }
        snprintf(ob->path, sizeof(ob->path), "%s", path);
        snprintf(ob->cfg.path, sizeof(ob->cfg.path), "%s", path);
        if (om_path_parse(path, &ob->p, NULL, 0) < 0) {
                free(ob);
                return NULL;
        }
        ob->st.state = OM_MON_INIT;
        ob->st.dup_check_stalls = o->agent->stalls;
        ob->st.fenced_mark = ob->fenced_file = om_instance_fenced(
                &ob->p, &ob->st.fenced_tver, ob->st.fenced_twriter, sizeof(ob->st.fenced_twriter));
        ob->cfg.priority = 50;
        o->sched[o->n_objs] = ob;
        o->objs[o->n_objs++] = ob;
        o->resort = true;
        return ob;
}

/* Objects appear with the local node data (svc instances) and stay known after a purge
 * (the target and the wait of `om <path> purge --wait` outlive the config). */
static void sync_objects(struct om_orch *o) {
        struct om_agent *a = o->agent;
        for (size_t i = 0; i < o->n_objs; i++)
                o->objs[i]->st.present = false;
        for (size_t k = 0; k < a->local.n_inst; k++) {
                struct obj *ob = obj_find(o, a->local.inst[k].path);
                if (!ob && !(ob = obj_add(o, a->local.inst[k].path)))
                        continue;
                if (!ob->st.present && ob->loaded == false)
                        ob->st.state = OM_MON_INIT;
                ob->st.present = true;
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

/* ---- quorum and the restart guard ---- */

static void quorum_update(struct om_orch *o) {
        struct om_agent *a = o->agent;
        const struct om_view v = om_agent_view(a);
        int weight = 0, votes = 0, kept = 0;
        /* an arbitrator's weight counts only under the lease it gave this node's
         * partition (cluster/arb_vote.h, agent/arb_client.c); a lease kept but not
         * counted makes the quorum "in doubt": start nothing, split nothing */
        om_arbc_view_changed(a);
        for (size_t k = 0; k < a->cfg->n_arb; k++) {
                weight += a->cfg->arb[k].weight;
                enum om_arb_count c = om_arbc_count(a, k);
                if (c == OM_ARB_COUNT_VOTE)
                        votes += a->cfg->arb[k].weight;
                else if (c == OM_ARB_COUNT_KEEP)
                        kept += a->cfg->arb[k].weight;
        }
        struct om_quorum q;
        if (om_view_quorum(&v, a->cfg->quorum, weight, votes, kept, &q) < 0)
                return;
        bool keep = q.keep;
        int was = o->quorum_state, now = q.have ? 2 : keep ? 1 : 0;
        o->quorum_have = q.have;
        o->quorum_keep = keep;
        o->votes = q.votes;
        o->total = q.total;
        o->quorum_state = now;
        if (was != now || !o->quorum_logged) {
                /* at start, before a peer is heard, it was never held: not "lost" */
                const char *what = q.have             ? "held"
                                   : keep             ? "in doubt"
                                   : o->quorum_logged ? "lost"
                                                      : "not held yet";
                o->quorum_logged = true;
                om_log_set_component("monitor");
                log_info("quorum %s: %d/%d votes (%d live nodes, arbitrators %d/%d%s)%s", what,
                         q.votes, q.total, q.votes - votes, votes, weight,
                         kept ? ", a lease kept" : "", a->cfg->quorum ? "" : ", not enforced");
                struct om_ev_build b;
                om_events_begin(a, &b,
                                q.have ? OM_EV_QUORUM_HELD
                                : keep ? OM_EV_QUORUM_DOUBT
                                       : OM_EV_QUORUM_LOST);
                om_ev_int(&b, "votes", q.votes);
                om_ev_int(&b, "total", q.total);
                om_ev_str(&b, "state", what);
                om_events_emit(a, &b);
        }
}

size_t om_orch_failover_up(struct om_agent *a, const struct om_arb_set *view) {
        struct om_orch *o = a->orch;
        const struct om_view v = om_agent_view(a);
        size_t n = 0;
        for (size_t i = 0; o && i < o->n_objs; i++) {
                const struct obj *ob = o->objs[i];
                if (!ob->cfg.failover)
                        continue;
                for (size_t k = 0; k < a->n_peers; k++)
                        if (om_arb_set_has(view, k) && om_inst_up(om_view_inst(&v, k, ob->path))) {
                                n++;
                                break;
                        }
        }
        return n;
}

static void boot_guard(struct om_orch *o) {
        struct om_agent *a = o->agent;
        if (o->boot_ready)
                return;
        const struct om_view v = om_agent_view(a);
        uint64_t now = uv_now(&a->loop);
        bool any_init = false;
        for (size_t i = 0; i < o->n_objs; i++)
                any_init |= o->objs[i]->st.present && o->objs[i]->st.state == OM_MON_INIT;
        if (!om_decide_boot_ready(&v, now, a->started, a->timeout, any_init))
                return;
        o->boot_ready = true;
        bool waited = now - a->started >= 2 * a->timeout;
        om_log_set_component("monitor");
        log_info("restart guard lifted after %llums: %s", (unsigned long long)(now - a->started),
                 waited ? "every live peer's data received, the others silent for 2 timeouts"
                        : "every peer's data received");
}

/* ---- the evaluation ---- */

static int sched_cmp(const void *x, const void *y) {
        const struct obj *a = *(const struct obj *const *)x, *b = *(const struct obj *const *)y;
        return om_decide_sched_cmp(&a->cfg, &b->cfg);
}

static void eval(struct om_orch *o) {
        struct om_agent *a = o->agent;
        if (a->stopping)
                return;
        sync_objects(o);
        quorum_update(o);
        boot_guard(o);
        const struct om_view v = om_agent_view(a);
        const struct om_dec_ctx c = {
                .view = &v,
                .self = a->self,
                .now = uv_now(&a->loop),
                .timeout = a->timeout,
                .stalls = a->stalls,
                .quorum_enabled = a->cfg->quorum,
                .quorum_have = o->quorum_have,
                .quorum_keep = o->quorum_keep,
                .boot_ready = o->boot_ready,
                .promise_end = om_view_promise_end(&v, om_promise_hold(a->interval, a->timeout))};
        if (o->resort) {
                o->resort = false;
                qsort(o->sched, o->n_objs, sizeof(*o->sched), sched_cmp);
        }
        /* The action slots: the objects are evaluated in priority order, and once
         * max_parallel jobs run, the starts and refreshes of the next ones wait (an HA
         * leader stays ready) for a job to end (job_done asks for a pass). */
        struct om_dec_slots sl = {.max = o->max_parallel};
        for (size_t i = 0; i < o->n_objs; i++)
                sl.running += o->objs[i]->st.job;
        for (size_t i = 0; i < o->n_objs; i++) {
                struct obj *ob = o->sched[i];
                struct om_instance_status status;
                for (size_t k = 0; k < a->n_peers; k++)
                        if (!a->peers[k].self && om_view_alive(&v, k) &&
                            om_inst_up(om_view_inst(&v, k, ob->path)))
                                snprintf(ob->up_on, sizeof(ob->up_on), "%s", a->peers[k].name);
                struct om_dec_status ds = {0}, *dsp = NULL;
                /* the status a monitor refresh left, for the decision to judge */
                if ((ob->st.mon_check || ob->st.standby_check) &&
                    om_instance_status_load(&ob->p, &status) == 0) {
                        ds.last_action = status.last_action;
                        ds.down = status.down;
                        ds.fenced = status.fenced;
                        dsp = &ds;
                }
                struct om_decision d;
                d.n = 0; /* not zeroed whole: see cl_decide.h */
                om_decide_slotted(&c, &sl, &ob->cfg, &ob->st, dsp, &d);
                apply(o, ob, &d);
        }
        /* once per burst: the starts that wait for a slot */
        if (sl.held && !o->held_logged) {
                om_log_set_component("monitor");
                log_info("%d start%s wait%s for an action slot (max_parallel %d, %d running)",
                         sl.held, sl.held > 1 ? "s" : "", sl.held > 1 ? "" : "s", o->max_parallel,
                         sl.running);
        }
        o->held_logged = sl.held > 0;
        if (o->dirty) {
                o->dirty = false;
                a->todo |= OM_TODO_RESCAN;
        }
}

void om_orch_eval(struct om_agent *a) {
        if (a->orch)
                eval(a->orch);
}

static void eval_cb(uv_timer_t *t) {
        eval(container_of(t, struct om_orch, eval));
}

static void ready_cb(uv_timer_t *t) {
        eval(container_of(t, struct om_orch, ready));
}

void om_orch_kick(struct om_agent *a) {
        if (a->orch && !a->stopping)
                a->todo |= OM_TODO_EVAL;
}

/* ---- life cycle ---- */

int om_orch_start(struct om_agent *a) {
        struct om_orch *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->agent = a;
        a->orch = o;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o->max_parallel =
                a->cfg->max_parallel > 0 ? a->cfg->max_parallel : 2 * (int)(cpus > 0 ? cpus : 1);
        uv_timer_init(&a->loop, &o->eval);
        uv_timer_init(&a->loop, &o->ready);
        int r = om_arbc_start(a);
        if (r < 0) {
                om_log_set_component("monitor");
                return log_error_errno(r, "cannot start asking the arbitrators: %m");
        }
        sync_objects(o);
        uv_timer_start(&o->eval, eval_cb, EVAL_MS, EVAL_MS);
        om_log_set_component("monitor");
        log_info("orchestrator started: %zu objects, %zu arbitrators, quorum %s, max_parallel %d",
                 o->n_objs, a->cfg->n_arb, a->cfg->quorum ? "enforced" : "not enforced",
                 o->max_parallel);
        return 0;
}

void om_orch_free(struct om_agent *a) {
        struct om_orch *o = a->orch;
        if (!o)
                return;
        for (size_t i = 0; i < o->n_objs; i++)
                free(o->objs[i]);
        free(o->objs);
        free(o->sched);
        free(o);
        a->orch = NULL;
        om_arbc_free(a);
}

void om_orch_fill(struct om_agent *a, struct om_cl_nodedata *nd) {
        struct om_orch *o = a->orch;
        for (size_t k = 0; k < nd->n_inst; k++) {
                struct om_cl_instance *in = &nd->inst[k];
                struct obj *ob = o ? obj_find(o, in->path) : NULL;
                in->monitor = ob ? ob->st.state : OM_MON_INIT;
                if (ob && ob->st.tver) {
                        snprintf(in->target, sizeof(in->target), "%s", ob->st.target);
                        in->target_ver = ob->st.tver;
                        snprintf(in->target_writer, sizeof(in->target_writer), "%s",
                                 ob->st.twriter);
                        in->target_done = ob->st.tdone;
                }
                /* as the reference shows it: a failed stop leaves the instance in doubt */
                if (ob && ob->st.state == OM_MON_STOP_FAILED) {
                        snprintf(in->avail, sizeof(in->avail), "warn");
                        snprintf(in->overall, sizeof(in->overall), "warn");
                }
        }
}

int om_orch_leader(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        if (!ob || !ob->loaded)
                return -1;
        const struct om_view v = om_agent_view(a);
        return om_decide_leader(&v, &ob->cfg, false, false);
}

const char *om_orch_leader_why(struct om_agent *a, const char *path, size_t node, char *buf,
                               size_t len) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        if (!ob || !ob->loaded) {
                snprintf(buf, len, "%s", "not orchestrated by this node's agent");
                return buf;
        }
        const struct om_view v = om_agent_view(a);
        return om_decide_leader_why(&v, &ob->cfg, a->orch->quorum_have, node, buf, len);
}

const char *om_orch_placement(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        return ob && ob->loaded ? om_placement_to_string(ob->cfg.placement) : "";
}

const char *om_orch_orchestrate(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        return !ob ? "no" : ob->cfg.ha ? "ha" : ob->cfg.start_once ? "start" : "no";
}

const char *om_orch_topology(struct om_agent *a, const char *path) {
        struct obj *ob = a->orch ? obj_find(a->orch, path) : NULL;
        return !ob || ob->cfg.failover ? "failover" : "flex";
}

void om_orch_quorum(struct om_agent *a, bool *ret_have, int *ret_votes, int *ret_total) {
        struct om_orch *o = a->orch;
        *ret_have = o ? o->quorum_have : true;
        *ret_votes = o ? o->votes : 0;
        *ret_total = o ? o->total : 0;
}

/* ---- local API ---- */

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
        om_cl_mp_kv_str(pk, "target", ob->st.target);
        om_cl_mp_kv_u64(pk, "ver", ob->st.tver);
        om_cl_mp_kv_str(pk, "writer", ob->st.twriter);
        om_cl_mp_kv_bool(pk, "done", ob->st.tdone);
        om_cl_mp_kv_bool(pk, "failed", ob->st.tfailed);
        om_cl_mp_kv_str(pk, "reason", ob->st.treason);
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
        if (om_cl_mp_get_str(req, "target", target, sizeof(target)) < 0 ||
            !om_decide_target_valid(target))
                return pack_error(pk, "malformed request: no valid target");
        if (!om_object_exists(&p))
                return pack_error(pk, "object %s does not exist on %s", path, a->self);
        if (!ob) {
                om_agent_rescan(a); /* synchronous: the object is looked up next */
                sync_objects(o);
                if (!(ob = obj_find(o, path)))
                        return pack_error(pk, "%s: not a service this agent orchestrates", path);
        }
        if (om_startswith(target, "placed@") && !obj_has_node(ob, target + 7))
                return pack_error(pk, "%s: %s is not one of the service's nodes", path, target + 7);
        uint64_t ver = om_now_ms();
        if (ver <= o->last_ver)
                ver = o->last_ver + 1;
        if (ver <= ob->st.tver)
                ver = ob->st.tver + 1;
        o->last_ver = ver;
        struct om_decision d;
        d.n = 0; /* not zeroed whole: see cl_decide.h */
        om_decide_target_set(&ob->st, target, ver, a->self, &d);
        ob->up_on[0] = 0; /* a start the operator asked is no takeover */
        struct om_ev_build b;
        om_events_begin(a, &b, OM_EV_TARGET_SET);
        om_ev_path(&b, ob->path);
        om_ev_str(&b, "target", ob->st.target);
        om_ev_str(&b, "writer", ob->st.twriter);
        om_events_emit(a, &b);
        apply(o, ob, &d);
        om_log_set_component("monitor");
        log_info("%s target state set to %s", path, target);
        o->dirty = true;
        om_orch_kick(a);
        pack_target(a, pk, ob);
}
