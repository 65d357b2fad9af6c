/*
 * Implementation of cl_decide.h. Every function here reads the view, the config and the
 * object's state, changes that state and appends effects; nothing else. The caller does
 * what the effects say, in order (agent/orchestrator.c is the agent's caller).
 */
#include "cluster/cl_decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

static struct om_eff *eff_add(struct om_decision *out, enum om_eff_kind kind) {
        /* a pass over one object appends a handful of effects at most; when the list
         * is full (a caller that never empties it) the last one is reused */
        struct om_eff *e = &out->eff[out->n < OM_DEC_EFF_MAX ? out->n++ : OM_DEC_EFF_MAX - 1];
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        return e;
}

static void eff_why(struct om_eff *e, const char *fmt, ...) _printf_(2, 3);
static void eff_why(struct om_eff *e, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->why, sizeof(e->why), fmt, ap);
        va_end(ap);
}

static int target_cmp(uint64_t v1, const char *w1, uint64_t v2, const char *w2) {
        if (v1 != v2)
                return v1 < v2 ? -1 : 1;
        return strcmp(w1, w2);
}

static void set_state(struct om_dec_obj *st, enum om_mon s, const char *why,
                      struct om_decision *out) {
        if (st->state == s)
                return;
        if (s == OM_MON_FENCED &&
            target_cmp(st->tver, st->twriter, st->fenced_tver, st->fenced_twriter) > 0) {
                st->fenced_tver = st->tver;
                snprintf(st->fenced_twriter, sizeof(st->fenced_twriter), "%s", st->twriter);
        }
        struct om_eff *e = eff_add(out, OM_EFF_STATE);
        e->from = st->state;
        e->to = s;
        if (why)
                snprintf(e->why, sizeof(e->why), "%s", why);
        st->state = s;
}

static void job_start_words(struct om_dec_obj *st, enum om_mon s, const char *why,
                            const char *const *words, struct om_decision *out) {
        set_state(st, s, why, out);
        st->job = true;
        struct om_eff *e = eff_add(out, OM_EFF_SPAWN);
        e->to = s;
        for (size_t k = 0; k + 1 < OM_DEC_WORDS_MAX && words[k]; k++)
                e->words[k] = words[k];
}

static void job_start(struct om_dec_obj *st, enum om_mon s, const char *why,
                      struct om_decision *out) {
        const char *words[] = {om_mon_action(s), NULL};
        job_start_words(st, s, why, words, out);
}

/* A failover instance may start here only once no peer outside our quorum may still
 * count our vote (cl_view.h, "A vote is lent for a bounded time"): false, with a wake
 * at the end of the promise, until then. */
static bool promise_over(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg,
                         struct om_decision *out) {
        if (!cfg->failover || !c->quorum_enabled || c->now >= c->promise_end)
                return true;
        eff_add(out, OM_EFF_WAKE)->at = c->promise_end;
        return false;
}

static void refresh_start(struct om_dec_obj *st, struct om_decision *out) {
        /* the monitor's refresh never runs beside an action (it skips a round instead) */
        struct om_eff *e = eff_add(out, OM_EFF_REFRESH);
        e->words[0] = "print";
        e->words[1] = "status";
        e->words[2] = st->mon_refreshing ? "--waitlock" : NULL;
        e->words[3] = st->mon_refreshing ? "0" : NULL;
        st->job = true;
}

void om_decide_spawn_failed(struct om_dec_obj *st, bool refresh, struct om_decision *out) {
        st->job = false;
        if (refresh) {
                st->mon_refreshing = st->standby_job = false;
                set_state(st, OM_MON_IDLE, "status refresh could not run", out);
                return;
        }
        st->then = OM_THEN_NONE;
        st->rid_job = false;
        st->fail_after = OM_MON_NONE;
        if (st->standby_job) { /* tried again at the next check */
                st->standby_job = false;
                set_state(st, OM_MON_IDLE, "cannot spawn the standby start", out);
                return;
        }
        set_state(st, om_mon_failed_of(st->state), "cannot spawn the action", out);
}

static bool word_in(const char *list, const char *w) {
        size_t n = strlen(w);
        for (const char *p = list; (p = strstr(p, w)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return true;
        return false;
}

/* The first resource the config watches for fencing (scsireserv) that the instance
 * status names fenced, NULL none; only an HA failover service is given up for it. */
static const char *fenced_watch(const struct om_dec_cfg *cfg, const struct om_dec_status *inst) {
        if (!inst || !inst->fenced || !cfg->ha || !cfg->failover)
                return NULL;
        for (size_t k = 0; k < cfg->n_watch; k++)
                if (cfg->watch[k].fence && word_in(inst->fenced, cfg->watch[k].rid))
                        return cfg->watch[k].rid;
        return NULL;
}

static void then_start(struct om_dec_obj *st, struct om_decision *out) {
        enum om_dec_then next = st->then;
        st->then = OM_THEN_NONE;
        job_start(st, next == OM_THEN_STOP ? OM_MON_STOPPING : OM_MON_STARTING, NULL, out);
}

void om_decide_job_done(const struct om_dec_cfg *cfg, struct om_dec_obj *st, int status,
                        const struct om_dec_status *inst, struct om_decision *out) {
        bool refresh = st->mon_refreshing, rid_job = st->rid_job;
        enum om_mon fail_after = st->fail_after;
        bool standby = st->standby_job;
        const char *fenced_rid;
        st->job = false;
        st->mon_refreshing = st->rid_job = st->standby_job = false;
        st->fail_after = OM_MON_NONE;
        if (st->state == OM_MON_INIT && st->fenced_mark &&
            (status != 0 || !inst || fenced_watch(cfg, inst))) {
                /* fenced when the agent last ran, and its resource still fenced (not
                 * started here since; or its status unknown): an agent restart makes no
                 * candidate of it */
                st->fenced_mark = false;
                set_state(st, OM_MON_FENCED,
                          "fenced before the agent started (another node preempted the "
                          "reservation): fenced until the service is placed back here",
                          out);
        } else if (st->state == OM_MON_INIT) {
                st->fenced_mark = false;
                set_state(st, OM_MON_IDLE, "status refreshed", out);
        } else if (standby) {
                /* the standby check's refresh (judged next), or the start of the standby
                 * resources: one that failed is tried again at the next check, and does
                 * not make this node a "start failed" one */
                if (refresh)
                        st->standby_check = status == 0;
                else
                        set_state(st, OM_MON_IDLE, status ? "standby resources start failed" : NULL,
                                  out);
                if (st->then != OM_THEN_NONE)
                        then_start(st, out);
        } else if (refresh || rid_job) {
                if (refresh) /* the monitor's status refresh: the state stays, judged next */
                        st->mon_check = status == 0;
                else /* a resource restart that failed is one attempt spent, not a failed
                      * start: the next check counts it and, restarts exhausted, gives the
                      * instance up */
                        set_state(st, OM_MON_IDLE, status ? "resource restart failed" : NULL, out);
                if (st->then != OM_THEN_NONE) /* a stop asked meanwhile (quorum lost) */
                        then_start(st, out);
        } else if (fail_after == OM_MON_FENCED && status == 0) {
                set_state(st, OM_MON_FENCED,
                          "stopped after another node preempted the reservation: fenced until "
                          "the service is placed back here",
                          out);
        } else if (fail_after != OM_MON_NONE && status == 0) {
                set_state(st, OM_MON_MONITOR_FAILED,
                          "stopped after a monitored resource failed: another node may take "
                          "over",
                          out);
        } else if (st->state == OM_MON_STOPPING && status == 0 &&
                   (fenced_rid = fenced_watch(cfg, inst))) {
                /* a stop for another reason (the duplicate after a loop stall, the quorum
                 * lost, a target) that found the reservation taken: fenced as well, and
                 * nothing chained after it (a start would preempt the other node back) */
                char why[OM_DEC_WHY_MAX];
                snprintf(why, sizeof(why),
                         "stopped, and the reservation of %s was preempted by another node "
                         "while the instance ran here: fenced until the service is placed "
                         "back here",
                         fenced_rid);
                eff_why(eff_add(out, OM_EFF_WARN), "%s", why);
                st->then = OM_THEN_NONE;
                set_state(st, OM_MON_FENCED, why, out);
        } else if (status != 0) {
                st->then = OM_THEN_NONE;
                set_state(st, om_mon_failed_of(st->state), NULL, out);
        } else if (st->then != OM_THEN_NONE) {
                then_start(st, out);
        } else {
                if (st->state == OM_MON_STARTING || st->state == OM_MON_PROVISIONING)
                        for (size_t k = 0; k < cfg->n_watch; k++)
                                st->restarted[k] = 0; /* a whole start: counts reset */
                set_state(st, OM_MON_IDLE, NULL, out);
        }
}

/* ---- the view, as the decisions read it ---- */

/*
 * HA leader election.
 *
 * Problem: when a failover service must start (its node died, or someone asked for it),
 * exactly one node may start it, and the nodes cannot hold a vote for each decision:
 * the node that died may be the one that would count the votes, and a vote costs round
 * trips on the failover's critical path.
 *
 * Behaviour: every node computes the leader from the same inputs, the shared view:
 * walk the service's `nodes` in placement order (cl_place.h: `nodes order` by default;
 * the load and memory that `load avg` and `score` read are in the node data every node
 * holds, so all compute the same order) and take the first node that is
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
static int node_index(const struct om_view *v, const char *name) {
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->peers[i].name, name) == 0)
                        return (int)i;
        return -1;
}

/* Why node k of cfg->nodes cannot lead (NULL: it can); *ret_i its index in the view. */
static const char *cannot_lead(const struct om_view *v, const struct om_dec_cfg *cfg, size_t k,
                               bool ignore_frozen, bool ignore_prov, int *ret_i) {
        int i = *ret_i = node_index(v, cfg->nodes[k]);
        if (i < 0)
                return "not a node of the cluster";
        if (!om_view_alive(v, (size_t)i))
                return "down";
        if (!om_view_fresh(v, (size_t)i))
                return "its data is not fresh yet";
        const struct om_cl_nodedata *nd = om_view_data(v, (size_t)i);
        const struct om_cl_instance *in = om_view_inst(v, (size_t)i, cfg->path);
        if (!nd || !in)
                return "holds no instance of the service";
        if (om_mon_failed(in->monitor))
                return om_mon_to_string(in->monitor);
        if (in->monitor == OM_MON_INIT)
                return "its status is not known yet (init)";
        if (!ignore_frozen && nd->frozen)
                return "node frozen";
        if (!ignore_frozen && in->frozen)
                return "frozen";
        if (!ignore_prov && !in->provisioned)
                return "not provisioned";
        return NULL;
}

static int leader_of(const struct om_view *v, const struct om_dec_cfg *cfg, bool ignore_frozen,
                     bool ignore_prov, enum om_placement p) {
        size_t order[OM_DEC_NODES_MAX];
        size_t n = om_place_order(v, p, cfg->path, cfg->nodes, cfg->n_nodes, order);
        for (size_t j = 0; j < n; j++) {
                int i;
                if (!cannot_lead(v, cfg, order[j], ignore_frozen, ignore_prov, &i))
                        return i;
        }
        return -1;
}

int om_decide_leader(const struct om_view *v, const struct om_dec_cfg *cfg, bool ignore_frozen,
                     bool ignore_prov) {
        return leader_of(v, cfg, ignore_frozen, ignore_prov, cfg->placement);
}

const char *om_decide_leader_why(const struct om_view *v, const struct om_dec_cfg *cfg,
                                 bool quorum_have, size_t i, char *buf, size_t len) {
        size_t order[OM_DEC_NODES_MAX];
        size_t n = om_place_order(v, cfg->placement, cfg->path, cfg->nodes, cfg->n_nodes, order);
        const char *pl = om_placement_to_string(cfg->placement);
        int leader = om_decide_leader(v, cfg, false, false);
        size_t k = 0;
        while (k < cfg->n_nodes && !om_streq(cfg->nodes[k], v->peers[i].name))
                k++;
        if (k == cfg->n_nodes) {
                snprintf(buf, len, "not in the service's nodes");
                return buf;
        }
        if (!cfg->ha || !cfg->failover) {
                snprintf(buf, len, "no leader: orchestrate is not ha or the topology is flex");
                return buf;
        }
        if (n == 0) {
                snprintf(buf, len, "no leader: placement none (the daemon starts it nowhere)");
                return buf;
        }
        int ix;
        const char *why = cannot_lead(v, cfg, k, false, false, &ix);
        if (why)
                snprintf(buf, len, "%s", why);
        else if (leader == (int)i)
                snprintf(buf, len, "leader (%s)%s", pl,
                         quorum_have ? "" : ", but no quorum here: nothing starts");
        else {
                size_t rank = 0;
                while (rank < n && order[rank] != k)
                        rank++;
                snprintf(buf, len, "lower in placement (%s: %s first, this node #%zu)", pl,
                         leader >= 0 ? v->peers[leader].name : "?", rank + 1);
        }
        return buf;
}

int om_decide_sched_cmp(const struct om_dec_cfg *x, const struct om_dec_cfg *y) {
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return strcmp(x->path, y->path);
}

/*
 * The restart guard.
 *
 * Problem: a node that boots (or whose agent restarts) knows nothing of the cluster:
 * no peer data yet, every peer "unknown". Its own cached status may be older than the
 * failover that happened while it was gone. If it acted at once it would find no
 * instance up anywhere and, being first in `nodes`, start the service a second time.
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
bool om_decide_boot_ready(const struct om_view *v, uint64_t now, uint64_t started, uint64_t timeout,
                          bool any_init) {
        bool waited = now - started >= 2 * timeout;
        for (size_t i = 0; i < v->n; i++) {
                if (v->peers[i].self)
                        continue;
                if (om_view_alive(v, i) ? !om_view_fresh(v, i) : !waited)
                        return false;
        }
        return !any_init;
}

/* This node holds the sec objects of the object's namespace at least as new as node i
 * advertises them. A node provisions after the leader only then: the leader stored the
 * passphrases it generated before its instance came up, and a node that would not see
 * them yet would generate different ones (and a second writer of one key loses). */
static bool secs_synced(const struct om_view *v, size_t i, const char *path) {
        const struct om_cl_nodedata *nd = om_view_data(v, i);
        char ns[OM_NAME_MAX + 1];
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : 0;
        if (!nd || len == 0 || len >= sizeof(ns))
                return false;
        memcpy(ns, path, len);
        ns[len] = '\0';
        return om_cl_nodedata_secs_synced(v->local, nd, ns);
}

/* secs_synced with every live peer: a node about to provision, leader or not, first takes
 * the passphrases any node already generated */
static bool secs_synced_all(const struct om_view *v, const char *path) {
        for (size_t i = 0; i < v->n; i++)
                if (!v->peers[i].self && om_view_alive(v, i) && om_view_data(v, i) &&
                    !secs_synced(v, i, path))
                        return false;
        return true;
}

/* A failed monitor among the live instances that work on this very target: its node's
 * index, -1 none. */
static int some_failed(const struct om_view *v, const struct om_dec_cfg *cfg,
                       const struct om_dec_obj *st, enum om_mon what) {
        for (size_t i = 0; i < v->n; i++) {
                const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                if (om_view_alive(v, i) && in && in->monitor == what &&
                    in->target_ver == st->tver && om_streq(in->target_writer, st->twriter))
                        return (int)i;
        }
        return -1;
}

/* A live node of the view (this one included, as its node data shows it) whose instance
 * is still in its first status refresh ("init"): it may become a candidate in a moment,
 * so no target is judged impossible meanwhile. */
static bool some_init(const struct om_view *v, const char *path) {
        for (size_t i = 0; i < v->n; i++) {
                const struct om_cl_instance *in = om_view_inst(v, i, path);
                if (om_view_alive(v, i) && in && in->monitor == OM_MON_INIT)
                        return true;
        }
        return false;
}

/* A live peer runs the instance, may run it, or we do not know (its data not fresh,
 * unless known_only: then only what fresh data says counts). */
static bool others_hold(const struct om_view *v, const char *path, bool known_only) {
        for (size_t i = 0; i < v->n; i++) {
                if (v->peers[i].self || !om_view_alive(v, i))
                        continue;
                if (!om_view_fresh(v, i)) {
                        if (known_only)
                                continue;
                        return true; /* unknown: count it as running */
                }
                if (om_inst_holds(om_view_inst(v, i, path)))
                        return true;
        }
        return false;
}

static bool others_active(const struct om_view *v, const char *path) {
        return others_hold(v, path, false);
}

/* ---- dependencies between services ----
 *
 * `parents`: the service starts (HA start, orchestrate = start, a started, provisioned
 * or placed target) only once each parent is up on some live node of the view.
 * `children`: an orchestrated stop of the service (a stopped, unprovisioned or purged
 * target) waits until no live node runs (or may run) a child. Each node reads the same
 * shared view, so the order holds across nodes. A loop of dependencies is refused by
 * the config validator (core/object.c), not here. The split action never waits.
 */

static const char *parent_down(const struct om_view *v, const struct om_dec_cfg *cfg) {
        for (size_t k = 0; k < cfg->n_parents; k++) {
                bool up = false;
                for (size_t i = 0; i < v->n && !up; i++)
                        up = om_view_alive(v, i) && om_inst_up(om_view_inst(v, i, cfg->parents[k]));
                if (!up)
                        return cfg->parents[k];
        }
        return NULL;
}

static const char *child_up(const struct om_view *v, const struct om_dec_cfg *cfg) {
        for (size_t k = 0; k < cfg->n_children; k++)
                for (size_t i = 0; i < v->n; i++) {
                        const struct om_cl_instance *in = om_view_inst(v, i, cfg->children[k]);
                        /* a live node whose data is not fresh may run it still */
                        if (om_view_alive(v, i) &&
                            (om_inst_holds(in) || (in && !om_view_fresh(v, i))))
                                return cfg->children[k];
                }
        return NULL;
}

static bool dep_wait(struct om_dec_obj *st, const char *who, const char *what,
                     struct om_decision *out) {
        if (!who) {
                st->dep_warned = false;
                return false;
        }
        if (!st->dep_warned) {
                st->dep_warned = true;
                eff_why(eff_add(out, OM_EFF_WARN), "waits for %s %s", what, who);
        }
        return true;
}

/* Every parent is up somewhere; when not, the wait is logged once. */
static bool parents_up(const struct om_view *v, const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                       struct om_decision *out) {
        return !dep_wait(st, parent_down(v, cfg), "its parent to be up:", out);
}

/* No child runs anywhere; when one does, the wait is logged once. */
static bool children_down(const struct om_view *v, const struct om_dec_cfg *cfg,
                          struct om_dec_obj *st, struct om_decision *out) {
        return !dep_wait(st, child_up(v, cfg), "its child to stop:", out);
}

/* ---- targets ---- */

/* A target that reaches a failed instance makes it idle again (a candidate): for
 * "fenced", only a target newer than the one known when it was fenced (the service
 * placed back), not that one learned again. */
static void target_unfail(struct om_dec_obj *st, struct om_decision *out) {
        if (!om_mon_failed(st->state) ||
            (st->state == OM_MON_FENCED &&
             target_cmp(st->tver, st->twriter, st->fenced_tver, st->fenced_twriter) <= 0))
                return;
        set_state(st, OM_MON_IDLE, "new target", out);
}

static void target_adopt(struct om_dec_obj *st, const char *target, uint64_t ver,
                         const char *writer) {
        snprintf(st->target, sizeof(st->target), "%s", target);
        st->tver = ver;
        snprintf(st->twriter, sizeof(st->twriter), "%s", writer);
        st->tdone = st->tfailed = false;
        st->treason[0] = 0;
}

/* The newest target any live peer holds, when newer than ours, becomes ours. */
static void adopt_targets(const struct om_view *v, const struct om_dec_cfg *cfg,
                          struct om_dec_obj *st, struct om_decision *out) {
        int best = -1;
        const struct om_cl_instance *bin = NULL;
        for (size_t i = 0; i < v->n; i++) {
                if (v->peers[i].self || !om_view_alive(v, i))
                        continue;
                const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                if (!in || !in->target_ver ||
                    target_cmp(in->target_ver, in->target_writer, st->tver, st->twriter) <= 0)
                        continue;
                if (bin && target_cmp(in->target_ver, in->target_writer, bin->target_ver,
                                      bin->target_writer) <= 0)
                        continue;
                best = (int)i;
                bin = in;
        }
        if (!bin)
                return;
        target_adopt(st, bin->target, bin->target_ver, bin->target_writer);
        eff_add(out, OM_EFF_TARGET_SET)->node = best;
        target_unfail(st, out);
}

void om_decide_target_set(struct om_dec_obj *st, const char *target, uint64_t ver,
                          const char *writer, struct om_decision *out) {
        target_adopt(st, target, ver, writer);
        target_unfail(st, out);
}

bool om_decide_target_valid(const char *t) {
        static const char *const ok[] = {"started", "stopped", "provisioned", "unprovisioned",
                                         "purged",  "frozen",  "thawed"};
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                if (om_streq(t, ok[i]))
                        return true;
        return om_startswith(t, "placed@") && t[7];
}

static void target_end(struct om_dec_obj *st, bool failed, struct om_decision *out, const char *fmt,
                       ...) _printf_(4, 5);
static void target_end(struct om_dec_obj *st, bool failed, struct om_decision *out, const char *fmt,
                       ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->treason, sizeof(st->treason), fmt, ap);
        va_end(ap);
        st->tdone = true;
        st->tfailed = failed;
        eff_add(out, OM_EFF_TARGET_END)->flag = failed;
}

static void set_frozen(bool frozen, struct om_decision *out) {
        eff_add(out, OM_EFF_FROZEN)->flag = frozen;
}

static void eval_target(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg,
                        struct om_dec_obj *st, const struct om_cl_instance *me,
                        struct om_decision *out) {
        const struct om_view *v = c->view;
        const char *t = st->target;
        bool fr = om_view_all_fresh(v);
        int who;

        if (om_streq(t, "frozen") || om_streq(t, "thawed")) {
                bool want = om_streq(t, "frozen");
                set_frozen(want, out);
                if (!fr)
                        return;
                for (size_t i = 0; i < v->n; i++) {
                        const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                        if (om_view_alive(v, i) && in && in->frozen != want)
                                return;
                }
                target_end(st, false, out, "%s", "");
                return;
        }
        if (om_streq(t, "stopped")) {
                /* frozen first, so that no HA logic starts it again anywhere */
                set_frozen(true, out);
                if (me && om_inst_up(me) && st->state == OM_MON_IDLE &&
                    children_down(v, cfg, st, out))
                        job_start(st, OM_MON_STOPPING, "target stopped", out);
                if ((who = some_failed(v, cfg, st, OM_MON_STOP_FAILED)) >= 0) {
                        target_end(st, true, out, "stop failed on %s (see its object log)",
                                   v->peers[who].name);
                        return;
                }
                if (!fr)
                        return;
                for (size_t i = 0; i < v->n; i++) {
                        const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                        if (om_view_alive(v, i) && in && (om_inst_holds(in) || !in->frozen))
                                return;
                }
                target_end(st, false, out, "%s", "");
                return;
        }
        if (om_streq(t, "started") || om_streq(t, "provisioned") || om_startswith(t, "placed@")) {
                bool prov = om_streq(t, "provisioned");
                const char *dest = om_startswith(t, "placed@") ? t + 7 : NULL;
                set_frozen(false, out);
                /* placement none: the daemon chooses no node to start a failover service
                 * on; a provision and a flex service use the nodes order for the node
                 * that goes first */
                bool none = !dest && cfg->placement == OM_PLACE_NONE;
                int leader = dest ? node_index(v, dest)
                                  : leader_of(v, cfg, true, prov,
                                              none ? OM_PLACE_NODES_ORDER : cfg->placement);
                /* a failover service that runs already: the node that runs it leads the
                 * provision (the others provision after it and stop), whatever the order
                 * says; a node earlier in the order that comes back blank would otherwise
                 * wait, as leader, for a start the running instance forbids */
                for (size_t i = 0; prov && !dest && cfg->failover && i < v->n; i++)
                        if (om_view_alive(v, i) && om_inst_up(om_view_inst(v, i, cfg->path))) {
                                leader = (int)i;
                                break;
                        }
                if (none && cfg->failover && !prov) {
                        leader = -1;
                        for (size_t i = 0; i < v->n && leader < 0; i++)
                                if (om_view_alive(v, i) &&
                                    om_inst_up(om_view_inst(v, i, cfg->path)))
                                        leader = (int)i;
                }
                bool me_leader = leader == v->self;
                enum om_mon fail = prov ? OM_MON_PROVISION_FAILED : OM_MON_START_FAILED;
                if ((who = some_failed(v, cfg, st, fail)) >= 0 &&
                    (dest || !cfg->failover || leader < 0)) {
                        target_end(st, true, out, "%s on %s (see its object log)",
                                   om_mon_to_string(fail), v->peers[who].name);
                        return;
                }
                if ((who = some_failed(v, cfg, st, OM_MON_STOP_FAILED)) >= 0) {
                        target_end(st, true, out, "stop failed on %s (see its object log)",
                                   v->peers[who].name);
                        return;
                }
                if (leader < 0 && fr && none && cfg->failover && !prov) {
                        target_end(st, true, out,
                                   "placement is none: the daemon chooses no node (om %s "
                                   "switch --to <node> places it)",
                                   cfg->path);
                        return;
                }
                if (leader < 0 && fr && !some_init(v, cfg->path)) {
                        target_end(st, true, out,
                                   "no node can %s it (none alive, provisioned "
                                   "and not failed among its nodes)",
                                   prov ? "provision" : "start");
                        return;
                }
                /* a node provisions only on a fresh view, holding the secrets the other
                 * nodes have (leader or not: two nodes may briefly both think they lead) */
                bool may_prov = fr && secs_synced_all(v, cfg->path);
                if (st->state == OM_MON_IDLE && me && !om_inst_up(me) &&
                    (me_leader || !cfg->failover) && !parents_up(v, cfg, st, out))
                        return; /* would start here: a parent first */
                if (st->state == OM_MON_IDLE && me) {
                        if (dest && !me_leader && om_inst_up(me))
                                job_start(st, OM_MON_STOPPING, t, out);
                        else if (c->spawn_held)
                                ; /* every action slot is taken: the start waits */
                        else if (me_leader && !om_inst_up(me) && fr && c->quorum_have &&
                                 c->boot_ready &&
                                 (!cfg->failover || !others_active(v, cfg->path)) &&
                                 (!prov || me->provisioned || may_prov) &&
                                 promise_over(c, cfg, out))
                                job_start(st,
                                          prov && !me->provisioned ? OM_MON_PROVISIONING
                                                                   : OM_MON_STARTING,
                                          t, out);
                        else if (!cfg->failover && !om_inst_up(me) && c->quorum_have &&
                                 c->boot_ready &&
                                 (!prov || me->provisioned || (me_leader && may_prov)))
                                job_start(st, prov ? OM_MON_PROVISIONING : OM_MON_STARTING, t, out);
                        else if (prov && !me_leader && !me->provisioned && leader >= 0 &&
                                 om_inst_up(om_view_inst(v, (size_t)leader, cfg->path)) &&
                                 may_prov) {
                                if (cfg->failover && !st->prov_refreshed) {
                                        st->prov_refreshed = true;
                                        refresh_start(st, out);
                                        return;
                                }
                                /* a failover service runs on the leader: this node's
                                 * provision is passive, whatever the refresh said (it
                                 * writes nothing the leader uses and starts nothing) */
                                static const char *const passive[] = {"provision", "--passive",
                                                                      NULL};
                                st->then = OM_THEN_NONE;
                                if (cfg->failover)
                                        job_start_words(st, OM_MON_PROVISIONING, t, passive, out);
                                else
                                        job_start(st, OM_MON_PROVISIONING, t, out);
                        }
                }
                /* reached: the destination runs it (switch), or one instance runs it
                 * wherever it is (failover: a node that comes back and adopts an old
                 * target finds it reached), or every instance does (flex) */
                if (!fr)
                        return;
                int n_up = 0, n_active = 0, n_inst = 0;
                for (size_t i = 0; i < v->n; i++) {
                        const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                        if (!om_view_alive(v, i) || !in)
                                continue;
                        if (prov && !in->provisioned)
                                return;
                        n_inst++;
                        n_active += om_inst_holds(in);
                        n_up += om_inst_up(in) && in->monitor == OM_MON_IDLE;
                        if (dest && (int)i == leader && !om_inst_up(in))
                                return;
                }
                if (cfg->failover ? n_up != 1 || n_active != 1 : n_up != n_inst)
                        return;
                target_end(st, false, out, "%s", "");
                return;
        }
        if (om_streq(t, "unprovisioned") || om_streq(t, "purged")) {
                bool purge = om_streq(t, "purged");
                if (me && st->state == OM_MON_IDLE) {
                        bool all_adopted = true;
                        for (size_t i = 0; i < v->n; i++) {
                                const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                                if (om_view_alive(v, i) && in &&
                                    (in->target_ver != st->tver ||
                                     !om_streq(in->target_writer, st->twriter)))
                                        all_adopted = false;
                        }
                        if (om_inst_up(me) && !children_down(v, cfg, st, out))
                                ; /* its children stop first */
                        else if (purge && all_adopted && fr)
                                job_start(st, OM_MON_PURGING, t, out);
                        else if (!purge && (me->provisioned || om_inst_up(me)))
                                job_start(st, OM_MON_UNPROVISIONING, t, out);
                }
                enum om_mon fail = purge ? OM_MON_PURGE_FAILED : OM_MON_UNPROVISION_FAILED;
                if ((who = some_failed(v, cfg, st, fail)) >= 0) {
                        target_end(st, true, out, "%s on %s (see its object log)",
                                   om_mon_to_string(fail), v->peers[who].name);
                        return;
                }
                if (!fr)
                        return;
                for (size_t i = 0; i < v->n; i++) {
                        const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                        if (om_view_alive(v, i) && in &&
                            (purge || in->provisioned || om_inst_holds(in)))
                                return;
                }
                target_end(st, false, out, "%s", "");
                return;
        }
        target_end(st, true, out, "unknown target %s", t);
}

/* ---- HA ---- */

static void eval_ha(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                    const struct om_cl_instance *me, struct om_decision *out) {
        const struct om_view *v = c->view;
        uint64_t now = c->now;
        if (!cfg->ha || !cfg->failover || !me)
                return;

        /* Two instances up. After a loop stall long enough for peers to declare us
         * down, they may have taken over what we run: once their fresh data shows the
         * instance up elsewhere (within two timeouts of the stall, since the frames
         * queued during the stall are read after the timers that notice it), ours is
         * the one that goes (they acted on a real silence, we on nothing). The same
         * holds when the agent restarted while the instance kept running here (the
         * first two timeouts after the restart guard lifts). Any other duplicate that
         * lasts a timeout is resolved by the service's `nodes` order: the node later in
         * the list stops, as computed the same way on both. An instance elsewhere that is
         * being stopped is no duplicate to resolve: it is going (a thawed owner stopping
         * its copy may take longer than a timeout, and stopping ours too would leave
         * none, then start it again where the takeover moved it from). */
        if (c->stalls != st->dup_check_stalls || (c->boot_ready && !st->booted)) {
                st->stall_confirm = c->stalls != st->dup_check_stalls;
                st->dup_check_stalls = c->stalls;
                st->booted = st->booted || c->boot_ready;
                st->stall_window = now + 2 * c->timeout;
        }
        /* The window ended and a peer alive is still unsure (we never got its data since
         * the stall: a link fails one way, or is lossy): it may run what we run, and we
         * cannot tell. Ours goes. */
        if (st->stall_confirm && now >= st->stall_window) {
                st->stall_confirm = false;
                for (size_t k = 0; k < cfg->n_nodes && st->state == OM_MON_IDLE && om_inst_up(me);
                     k++) {
                        int i = node_index(v, cfg->nodes[k]);
                        if (i < 0 || v->peers[i].self || !om_view_alive(v, (size_t)i) ||
                            !v->peers[i].unsure)
                                continue;
                        char why[160];
                        snprintf(why, sizeof(why),
                                 "cannot tell whether %s took over during our loop stall",
                                 v->peers[i].name);
                        job_start(st, OM_MON_STOPPING, why, out);
                        return;
                }
        }
        int other = -1;
        bool stalled = now < st->stall_window;
        for (size_t i = 0; i < v->n && om_inst_up(me); i++) {
                const struct om_cl_instance *in = om_view_inst(v, i, cfg->path);
                /* after our stall, a start elsewhere is a takeover too */
                if (!v->peers[i].self && om_view_alive(v, i) && om_view_fresh(v, i) &&
                    (om_inst_up(in) || (stalled && in && in->monitor == OM_MON_STARTING)) &&
                    in->monitor != OM_MON_STOPPING)
                        other = (int)i;
        }
        if (other < 0 || st->state != OM_MON_IDLE) {
                st->dup_since = 0;
        } else if (stalled) {
                job_start(st, OM_MON_STOPPING, "also up elsewhere after our loop stalled", out);
                return;
        } else {
                if (!st->dup_since)
                        st->dup_since = now;
                int me_rank = -1, other_rank = -1;
                for (size_t k = 0; k < cfg->n_nodes; k++) {
                        if (om_streq(cfg->nodes[k], c->self))
                                me_rank = (int)k;
                        if (om_streq(cfg->nodes[k], v->peers[other].name))
                                other_rank = (int)k;
                }
                if (now - st->dup_since >= c->timeout && other_rank >= 0 &&
                    (me_rank < 0 || me_rank > other_rank)) {
                        char why[128];
                        snprintf(why, sizeof(why), "also up on %s, earlier in nodes",
                                 v->peers[other].name);
                        job_start(st, OM_MON_STOPPING, why, out);
                        return;
                }
        }

        /* A peer's data that is not fresh (it changed, our pull is on its way) keeps an
         * idle node from getting ready and a ready one from starting, but does not end
         * the ready period: every state change is beaten at once, so leaders of
         * different services would otherwise knock each other back to idle forever. */
        const struct om_cl_nodedata *local = om_view_data(v, (size_t)v->self);
        bool frozen = me->frozen || (local && local->frozen);
        int leader = om_decide_leader(v, cfg, false, false);
        /* a quorum in doubt (keep) holds a ready period without ending it, as stale data
         * does: after a stall it comes and goes with every peer's new generation */
        bool may = !frozen && me->provisioned && leader == v->self &&
                   (c->quorum_have || c->quorum_keep) && c->boot_ready && !om_inst_up(me) &&
                   !others_hold(v, cfg->path, true);
        may = may && parents_up(v, cfg, st, out);
        bool can = may && c->quorum_have && !others_active(v, cfg->path);
        if (st->state == OM_MON_IDLE && can) {
                st->ready_until = now + cfg->ready_ms;
                set_state(st, OM_MON_READY, "no instance up, this node is the leader", out);
                /* evaluate again right when the period ends, not at the next pass */
                eff_add(out, OM_EFF_WAKE)->at = st->ready_until;
                return;
        }
        if (st->state != OM_MON_READY)
                return;
        if (!may) {
                set_state(st, OM_MON_IDLE, "placement changed while ready", out);
                return;
        }
        /* held for an action slot: stays ready, checked again at each pass */
        if (now >= st->ready_until && can && !c->spawn_held && promise_over(c, cfg, out))
                job_start(st, OM_MON_STARTING, "ha leader, ready period elapsed", out);
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

static void judge(const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                  const struct om_dec_status *status, struct om_decision *out) {
        /* stopped on purpose (a stop --local ran after the refresh began): not a failure */
        if (om_streq(status->last_action, "stop") || om_streq(status->last_action, "unprovision") ||
            om_streq(status->last_action, "shutdown"))
                return;
        /* fenced: another node preempted our reservation, so it runs the service and the
         * storage refuses our writes. Never restart the resource (its start would preempt
         * the other node back): give the instance up like a failed monitored resource,
         * which keeps this node out of the candidates until the service is placed back. */
        for (size_t k = 0; k < cfg->n_watch; k++) {
                const struct om_dec_watch *w = &cfg->watch[k];
                if (!w->fence || !word_in(status->fenced ? status->fenced : "", w->rid))
                        continue;
                char why[200];
                if (cfg->ha && cfg->failover) {
                        snprintf(why, sizeof(why),
                                 "the reservation of %s was preempted by another node: the "
                                 "instance is fenced, giving it up",
                                 w->rid);
                        eff_why(eff_add(out, OM_EFF_WARN), "%s", why);
                        st->fail_after = OM_MON_FENCED;
                        job_start(st, OM_MON_STOPPING, why, out);
                        return;
                }
                if (!st->warned[k]) {
                        st->warned[k] = true;
                        eff_why(eff_add(out, OM_EFF_WARN),
                                "the reservation of %s was preempted by another node: the "
                                "instance is fenced (no failover: orchestrate is not ha or the "
                                "topology is flex)",
                                w->rid);
                }
                return;
        }
        for (size_t k = 0; k < cfg->n_watch; k++) {
                const struct om_dec_watch *w = &cfg->watch[k];
                if (!word_in(status->down ? status->down : "", w->rid)) {
                        st->warned[k] = false;
                        continue;
                }
                if (st->restarted[k] < w->restart) {
                        char why[160];
                        st->restarted[k]++;
                        snprintf(why, sizeof(why), "resource %s is down: restart %d/%d", w->rid,
                                 st->restarted[k], w->restart);
                        eff_why(eff_add(out, OM_EFF_WARN), "%s", why);
                        const char *words[] = {"start", "--rid", w->rid, NULL};
                        st->rid_job = true;
                        job_start_words(st, OM_MON_STARTING, why, words, out);
                        return;
                }
                if (!w->monitor)
                        continue;
                if (cfg->ha && cfg->failover) {
                        char why[200];
                        snprintf(why, sizeof(why),
                                 "monitored resource %s is down after %d restart%s: giving the "
                                 "instance up",
                                 w->rid, st->restarted[k], st->restarted[k] == 1 ? "" : "s");
                        eff_why(eff_add(out, OM_EFF_WARN), "%s", why);
                        st->fail_after = OM_MON_MONITOR_FAILED;
                        job_start(st, OM_MON_STOPPING, why, out);
                        return;
                }
                if (!st->warned[k]) {
                        st->warned[k] = true;
                        eff_why(eff_add(out, OM_EFF_WARN),
                                "monitored resource %s is down after %d restart%s (no "
                                "failover: orchestrate is not ha or the topology is flex)",
                                w->rid, st->restarted[k], st->restarted[k] == 1 ? "" : "s");
                }
        }
}

static void eval_monitor(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg,
                         struct om_dec_obj *st, const struct om_cl_instance *me,
                         const struct om_dec_status *status, struct om_decision *out) {
        const struct om_cl_nodedata *local = om_view_data(c->view, (size_t)c->view->self);
        if (!me || !st->present || st->job || st->state != OM_MON_IDLE ||
            (cfg->n_watch == 0 && !cfg->refresh) || me->frozen || (local && local->frozen)) {
                st->mon_check = false;
                return;
        }
        /* judged even when the refresh found the whole instance down: it ran before */
        if (st->mon_check) {
                st->mon_check = false;
                if (status)
                        judge(cfg, st, status, out);
                if (st->job)
                        return;
        }
        if (!om_inst_up(me) || c->now < st->mon_next || c->spawn_held)
                return;
        st->mon_next = c->now + cfg->mon_ms;
        st->mon_refreshing = true;
        refresh_start(st, out);
}

/* ---- orchestrate = start ----
 *
 * The service is started once, on the placement leader (failover; on each of its nodes
 * for flex), when no instance is up anywhere: after the agents start (a boot) or after
 * a create. Once this node has seen an instance up (or spawned the start), it never
 * starts it again on its own: when the node running it dies, nothing takes it over. The
 * leader waits ready_period first, as an HA start does, and checks everything again.
 * A start that fails puts the node in "start failed", out of the candidates, so the
 * next node in placement makes the first start instead.
 */
static void eval_start(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg,
                       struct om_dec_obj *st, const struct om_cl_instance *me,
                       struct om_decision *out) {
        const struct om_view *v = c->view;
        if (!cfg->start_once || !me)
                return;
        for (size_t i = 0; i < v->n && !st->start_seen; i++)
                st->start_seen = om_view_alive(v, i) && om_inst_up(om_view_inst(v, i, cfg->path));
        if (st->start_seen) {
                if (st->state == OM_MON_READY)
                        set_state(st, OM_MON_IDLE, "an instance is up", out);
                return;
        }
        const struct om_cl_nodedata *local = om_view_data(v, (size_t)v->self);
        bool frozen = me->frozen || (local && local->frozen);
        bool may = !frozen && me->provisioned && (c->quorum_have || c->quorum_keep) &&
                   c->boot_ready && om_view_all_fresh(v) &&
                   (!cfg->failover || (om_decide_leader(v, cfg, false, false) == v->self &&
                                       !others_hold(v, cfg->path, true)));
        may = may && parents_up(v, cfg, st, out);
        /* as an HA start: a quorum in doubt holds the ready period without ending it */
        bool can = may && c->quorum_have && (!cfg->failover || !others_active(v, cfg->path));
        if (st->state == OM_MON_IDLE && can) {
                st->ready_until = c->now + cfg->ready_ms;
                set_state(st, OM_MON_READY,
                          cfg->failover ? "orchestrate start: no instance up, this node is the "
                                          "leader"
                                        : "orchestrate start: no instance up",
                          out);
                eff_add(out, OM_EFF_WAKE)->at = st->ready_until;
                return;
        }
        if (st->state != OM_MON_READY)
                return;
        if (!may) {
                set_state(st, OM_MON_IDLE, "placement changed while ready", out);
                return;
        }
        if (c->now >= st->ready_until && can && !c->spawn_held && promise_over(c, cfg, out)) {
                st->start_seen = true;
                job_start(st, OM_MON_STARTING, "orchestrate start, ready period elapsed", out);
        }
}

/* ---- standby resources ----
 *
 * A resource with `standby = true` is kept up on every node where the instance is
 * provisioned, also where the service is not running (stop leaves it up unless forced,
 * the instance's avail ignores it); so is a disk.drbd and the device under it (cfg
 * standby lists them too), in its standby state: a Secondary, attached and connected. Where
 * the instance is not up, idle and not frozen, its status is computed again every
 * monitor_interval (`print status`, which lists the rids found down in the status cache);
 * the standby rids found down are started in their standby state (`start --standby
 * --rid <rids>`: a disk.drbd is never promoted by it), which brings up nothing else: a
 * node that rebooted with its om state brings its DRBD replica back so. Where the
 * instance is up, the start already brought them up and the monitor watches what it is
 * told to watch.
 */
static void eval_standby(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg,
                         struct om_dec_obj *st, const struct om_cl_instance *me,
                         const struct om_dec_status *status, struct om_decision *out) {
        const struct om_cl_nodedata *local = om_view_data(c->view, (size_t)c->view->self);
        bool check = st->standby_check;
        st->standby_check = false;
        if (!cfg->standby[0] || !me || !st->present || st->job || st->state != OM_MON_IDLE ||
            !me->provisioned || me->frozen || (local && local->frozen) || om_inst_up(me) ||
            !c->boot_ready)
                return;
        if (check && status && c->spawn_held) {
                st->standby_check = true; /* every action slot is taken: judged next pass */
                return;
        }
        if (check && status) {
                /* the spawn's words point into the state, which the caller keeps */
                char *o = st->standby_rids;
                size_t left = sizeof(st->standby_rids);
                o[0] = 0;
                for (const char *p = cfg->standby; *p;) {
                        size_t n = strcspn(p, ",");
                        char rid[64];
                        snprintf(rid, sizeof(rid), "%.*s", (int)(n < 63 ? n : 63), p);
                        if (word_in(status->down ? status->down : "", rid)) {
                                size_t w = (size_t)snprintf(o, left, "%s%s",
                                                            o == st->standby_rids ? "" : ",", rid);
                                if (w >= left)
                                        break;
                                o += w;
                                left -= w;
                        }
                        p += n;
                        p += *p == ',';
                }
                if (st->standby_rids[0]) {
                        char why[OM_DEC_WHY_MAX];
                        snprintf(why, sizeof(why), "standby resources down: %s", st->standby_rids);
                        const char *words[] = {"start", "--standby", "--rid", st->standby_rids,
                                               NULL};
                        st->standby_job = true;
                        job_start_words(st, OM_MON_STARTING_STANDBY, why, words, out);
                        return;
                }
        }
        if (c->now < st->standby_next || c->spawn_held)
                return;
        st->standby_next = c->now + cfg->mon_ms;
        st->mon_refreshing = true;
        st->standby_job = true;
        refresh_start(st, out);
}

/* ---- split brain ---- */

static void split_apply(const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                        const struct om_cl_instance *me, struct om_decision *out) {
        if (!cfg->failover || !me || !om_inst_up(me) || st->split_done)
                return;
        st->split_done = true;
        eff_why(eff_add(out, OM_EFF_SPLIT), "%s", cfg->split_action);
        if (om_streq(cfg->split_action, "freeze")) {
                set_frozen(true, out);
                return;
        }
        if (om_streq(cfg->split_action, "crash") || om_streq(cfg->split_action, "reboot")) {
                eff_add(out, OM_EFF_EXIT)->flag = om_streq(cfg->split_action, "reboot");
                return;
        }
        if (st->job) {
                st->then = OM_THEN_STOP;
                return;
        }
        if (st->state == OM_MON_READY || st->state == OM_MON_IDLE || om_mon_failed(st->state))
                job_start(st, OM_MON_STOPPING, "quorum lost", out);
}

/* ---- one pass ---- */

void om_decide(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg, struct om_dec_obj *st,
               const struct om_dec_status *status, struct om_decision *out) {
        const struct om_view *v = c->view;
        const struct om_cl_instance *me =
                st->present && v->self >= 0 ? om_view_inst(v, (size_t)v->self, cfg->path) : NULL;
        if (c->quorum_have)
                st->split_done = false; /* a split action applies again after the next loss */
        if (st->state == OM_MON_INIT && st->present && !st->job && !c->spawn_held)
                refresh_start(st, out);
        adopt_targets(v, cfg, st, out);
        if (st->state == OM_MON_INIT)
                return;
        if (c->quorum_enabled && !c->quorum_have && !c->quorum_keep && c->boot_ready)
                split_apply(cfg, st, me, out);
        if (st->job)
                return;
        if (st->tver && !st->tdone) {
                if (st->state == OM_MON_READY)
                        set_state(st, OM_MON_IDLE, "a target takes over", out);
                eval_target(c, cfg, st, me, out);
        } else {
                /* first: a refresh that found a watched resource down is the monitor's to
                 * handle (restart it, or give the instance up), not a placement question */
                eval_monitor(c, cfg, st, me, status, out);
                if (!st->job)
                        eval_ha(c, cfg, st, me, out);
                if (!st->job)
                        eval_start(c, cfg, st, me, out);
                if (!st->job)
                        eval_standby(c, cfg, st, me, status, out);
        }
}

void om_decide_slotted(const struct om_dec_ctx *c, struct om_dec_slots *sl,
                       const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                       const struct om_dec_status *status, struct om_decision *out) {
        struct om_dec_ctx cs = *c;
        bool was_job = st->job;
        cs.spawn_held = sl->running >= sl->max;
        om_decide(&cs, cfg, st, status, out);
        if (st->job && !was_job)
                sl->running++;
        if (cs.spawn_held && st->state == OM_MON_READY && c->now >= st->ready_until)
                sl->held++;
}
