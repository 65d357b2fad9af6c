/*
 * Table-driven tests of the orchestrator's pure decisions (cluster/cl_decide.h): each
 * row is a situation (three nodes n1 n2 n3 seen from n1: each one's liveness, whether
 * its data is fresh, its instance; the object's decision state; quorum and restart
 * guard) and the decision expected, written as the list of effects the pass returns
 * ("state:ready wake" is a change to ready followed by a wake-up). No agent, no loop,
 * no file: the view is built in memory and the function called.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cl_decide.h"

#define P "root/svc/web"

struct node_row {
        enum om_peer_state live; /* 0 (OM_PEER_UNKNOWN): up, see never_heard */
        bool never_heard;        /* OM_PEER_UNKNOWN */
        bool stale;              /* its data is not fresh */
        bool no_inst;            /* holds no instance of P */
        const char *avail;       /* NULL: "down" */
        enum om_mon mon;         /* 0: idle */
        bool frozen, unprov, node_frozen;
        bool unsure;        /* not heard with fresh data since our last stall */
        const char *target; /* its instance's target, version 10 by n2 */
        uint32_t load, mem; /* its metrics: 15-minute load x 100, free memory per mille */
        bool no_metrics;    /* it publishes none (an older agent) */
};

struct row {
        const char *name;
        struct node_row n[3];
        const char *nodes; /* the service's nodes, NULL: "n1 n2 n3" */
        const char *path;  /* the service, NULL: P */
        enum om_placement placement;
        bool held;         /* no action slot free */
        enum om_mon state; /* n1's decision state, 0: idle */
        bool no_quorum, not_booted, flex, split_freeze;
        const char *target; /* n1's own target (version 5 by n1), NULL none */
        uint64_t now, ready_until, dup_since;
        bool refreshed;       /* n1's status was refreshed before its provision */
        bool stalled;         /* a loop stall counted since the last pass */
        bool restarted;       /* the agent's first pass since its restart guard lifted */
        bool confirm;         /* the window after our stall just ended */
        bool keep;            /* with no_quorum: the quorum is in doubt, not lost */
        uint64_t promise_end; /* a peer outside our quorum may count our vote until then */
        const char *want;
};

#define UP(...)                                                                                    \
        { .avail = "up", __VA_ARGS__ }

static const struct row rows[] = {
        {"leader takes the service after the ready period, step 1", .want = "state:ready wake"},
        {"no quorum: nothing starts", .no_quorum = true, .want = ""},
        {"restart guard not lifted: nothing starts", .not_booted = true, .want = ""},
        {"an instance up elsewhere: nothing", .n = {{0}, UP()}, .want = ""},
        {"a peer's data not fresh: counted as running", .n = {{0}, {.stale = true}}, .want = ""},
        {"a suspect peer is alive, its fresh data says down: ready",
         .n = {{0}, {.live = OM_PEER_SUSPECT}}, .want = "state:ready wake"},
        {"a peer starting elsewhere holds the service", .n = {{0}, {.mon = OM_MON_STARTING}},
         .want = ""},
        {"a peer whose state this version does not know holds it",
         .n = {{0}, {.mon = OM_MON_UNKNOWN}}, .want = ""},
        {"a peer in init holds it", .n = {{0}, {.mon = OM_MON_INIT}}, .want = ""},
        {"a peer unprovisioning does not hold it", .n = {{0}, {.mon = OM_MON_UNPROVISIONING}},
         .want = "state:ready wake"},
        {"instance frozen here: nothing", .n = {{.frozen = true}}, .want = ""},
        {"node frozen here: nothing", .n = {{.node_frozen = true}}, .want = ""},
        {"not provisioned here: nothing", .n = {{.unprov = true}}, .want = ""},
        {"n2 first in nodes and alive: n2 leads", .nodes = "n2 n1 n3", .want = ""},
        {"n2 first in nodes but down: n1 leads", .nodes = "n2 n1 n3",
         .n = {{0}, {.live = OM_PEER_DOWN}}, .want = "state:ready wake"},
        {"n2 first in nodes but never heard: n1 leads", .nodes = "n2 n1 n3",
         .n = {{0}, {.never_heard = true}}, .want = "state:ready wake"},
        {"n2 first but start failed there: n1 leads", .nodes = "n2 n1 n3",
         .n = {{0}, {.mon = OM_MON_START_FAILED}}, .want = "state:ready wake"},
        {"n2 first but frozen: n1 leads", .nodes = "n2 n1 n3", .n = {{0}, {.frozen = true}},
         .want = "state:ready wake"},
        {"ready period elapsed: start", .state = OM_MON_READY, .now = 2000, .ready_until = 1500,
         .want = "state:starting spawn:start"},
        {"ready period not elapsed: wait", .state = OM_MON_READY, .now = 1000, .ready_until = 1500,
         .want = ""},
        {"ready, then an instance comes up elsewhere: back to idle", .state = OM_MON_READY,
         .now = 2000, .ready_until = 1500, .n = {{0}, UP()}, .want = "state:idle"},
        {"ready, a peer's data not fresh at the end: wait, still ready", .state = OM_MON_READY,
         .now = 2000, .ready_until = 1500, .n = {{0}, {.stale = true}}, .want = ""},
        {"ready, then the quorum is lost: back to idle", .state = OM_MON_READY, .now = 2000,
         .ready_until = 1500, .no_quorum = true, .want = "state:idle"},
        {"ready, the quorum in doubt: still ready, no start", .state = OM_MON_READY, .now = 2000,
         .ready_until = 1500, .no_quorum = true, .keep = true, .want = ""},
        {"idle, the quorum in doubt: not ready", .no_quorum = true, .keep = true, .want = ""},
        {"ready period elapsed, our vote still lent to a peer outside: wait for its end",
         .state = OM_MON_READY, .now = 2000, .ready_until = 1500, .promise_end = 2600,
         .want = "wake"},
        {"ready period elapsed, the lent vote ran out: start", .state = OM_MON_READY, .now = 2600,
         .ready_until = 1500, .promise_end = 2600, .want = "state:starting spawn:start"},
        {"a flex service's started target does not wait for a lent vote", .flex = true,
         .target = "started", .now = 2000, .promise_end = 2600,
         .want = "frozen:0 state:starting spawn:start"},
        {"a started target waits for the lent vote too", .target = "started", .now = 2000,
         .promise_end = 2600, .want = "frozen:0 wake"},
        {"quorum lost while running: split action stop", .no_quorum = true, .n = {UP()},
         .want = "split state:stopping spawn:stop"},
        {"quorum lost while running, split_action freeze", .no_quorum = true, .split_freeze = true,
         .n = {UP()}, .want = "split frozen:1"},
        {"quorum lost, nothing runs here: no split action", .no_quorum = true, .want = ""},
        {"quorum lost before the restart guard lifts: no split action", .no_quorum = true,
         .not_booted = true, .n = {UP()}, .want = ""},
        {"flex topology: no HA start", .flex = true, .want = ""},
        {"up on n2 too, right after our stall: ours stops", .stalled = true, .now = 5000,
         .n = {UP(), UP()}, .want = "state:stopping spawn:stop"},
        {"up on n2 too for a timeout, n2 earlier in nodes: ours stops", .nodes = "n2 n1 n3",
         .now = 5000, .dup_since = 3000, .n = {UP(), UP()}, .want = "state:stopping spawn:stop"},
        {"up on n2 too for a timeout, n2 earlier but stopping it: ours stays", .nodes = "n2 n1 n3",
         .now = 5000, .dup_since = 3000, .n = {UP(), UP(.mon = OM_MON_STOPPING)}, .want = ""},
        {"up on n2 too when our agent restarted: ours stops", .restarted = true, .now = 5000,
         .n = {UP(), UP()}, .want = "state:stopping spawn:stop"},
        {"stall window over, n2 still unsure: ours stops", .confirm = true,
         .n = {UP(), {.unsure = true}}, .want = "state:stopping spawn:stop"},
        {"stall window over, every peer sure: ours stays", .confirm = true, .n = {UP()},
         .want = ""},
        {"stall window over, the unsure n2 is down: ours stays", .confirm = true,
         .n = {UP(), {.unsure = true, .live = OM_PEER_DOWN}}, .want = ""},
        {"up on n2 too, n1 earlier in nodes: ours stays", .now = 5000, .dup_since = 3000,
         .n = {UP(), UP()}, .want = ""},
        {"up on n2 too, not for a timeout yet: wait", .nodes = "n2 n1 n3", .now = 5000,
         .dup_since = 4500, .n = {UP(), UP()}, .want = ""},
        {"init: the status is refreshed first", .state = OM_MON_INIT, .want = "refresh"},
        {"target stopped: frozen, then stopped", .target = "stopped", .n = {UP()},
         .want = "frozen:1 state:stopping spawn:stop"},
        {"target stopped reached: all frozen and down", .target = "stopped",
         .n = {{.frozen = true}, {.frozen = true}, {.frozen = true}},
         .want = "frozen:1 target_end:0"},
        {"target started: the leader starts at once", .target = "started",
         .want = "frozen:0 state:starting spawn:start"},
        {"target started without quorum: waits", .target = "started", .no_quorum = true,
         .want = "frozen:0"},
        {"target placed@n2: the instance here stops", .target = "placed@n2", .n = {UP()},
         .want = "frozen:0 state:stopping spawn:stop"},
        {"target placed@n2, start failed there: the target fails", .target = "placed@n2",
         .n = {{0}, {.mon = OM_MON_START_FAILED, .target = "placed@n2"}},
         .want = "target_set frozen:0 target_end:1"},
        {"a provisioned target while every node is in its first refresh: waits, not failed",
         .target = "provisioned",
         .n = {{.mon = OM_MON_INIT, .unprov = true},
               {.mon = OM_MON_INIT, .unprov = true},
               {.mon = OM_MON_INIT, .unprov = true}},
         .want = "frozen:0"},
        {"a provisioned target, n1 first in nodes but blank while n2 runs it: n1 follows n2 "
         "(its status refreshed first)",
         .target = "provisioned", .n = {{.unprov = true}, UP()}, .want = "frozen:0 refresh"},
        {"a provisioned target, n1 still blank after the refresh while n2 runs it: n1's "
         "provision is passive (it starts nothing) and no stop follows",
         .target = "provisioned", .n = {{.unprov = true}, UP()}, .refreshed = true,
         .want = "frozen:0 state:provisioning spawn:provision,--passive"},
        {"a provisioned target, no node can: failed", .target = "provisioned",
         .n = {{.mon = OM_MON_PROVISION_FAILED, .unprov = true},
               {.mon = OM_MON_PROVISION_FAILED, .unprov = true},
               {.mon = OM_MON_PROVISION_FAILED, .unprov = true}},
         .want = "frozen:0 target_end:1"},
        {"a newer target on a live peer is adopted", .target = "stopped",
         .n = {{0}, {.target = "started"}},
         .want = "target_set frozen:0 state:starting spawn:start"},
        {"a newer target on a dead peer is not", .target = "stopped",
         .n = {{0}, {.target = "started", .live = OM_PEER_DOWN}}, .want = "frozen:1"},
        {"a new target clears a failed state", .state = OM_MON_START_FAILED,
         .n = {{0}, {.target = "stopped"}}, .want = "target_set state:idle frozen:1"},
        {"target started, no node can: the target fails", .target = "started",
         .n = {{.unprov = true, .mon = OM_MON_START_FAILED},
               {.live = OM_PEER_DOWN},
               {.live = OM_PEER_DOWN}},
         .state = OM_MON_START_FAILED, .want = "frozen:0 target_end:1"},
        {"unknown target", .target = "sideways", .want = "target_end:1"},

        /* placement */
        {"load avg: n1 the least loaded leads", .placement = OM_PLACE_LOAD_AVG,
         .n = {{.load = 10}, {.load = 50}, {.load = 90}}, .want = "state:ready wake"},
        {"load avg: n2 less loaded than n1 leads", .placement = OM_PLACE_LOAD_AVG,
         .n = {{.load = 200}, {.load = 50}, {.load = 90}}, .want = ""},
        {"load avg: the least loaded frozen, n1 next leads", .placement = OM_PLACE_LOAD_AVG,
         .n = {{.load = 100}, {.load = 50, .frozen = true}, {.load = 150}},
         .want = "state:ready wake"},
        {"load avg: the least loaded down, n1 next leads", .placement = OM_PLACE_LOAD_AVG,
         .n = {{.load = 100}, {.load = 5, .live = OM_PEER_DOWN}, {.load = 150}},
         .want = "state:ready wake"},
        {"load avg: a node without metrics comes after those with", .placement = OM_PLACE_LOAD_AVG,
         .nodes = "n2 n1 n3", .n = {{.load = 900}, {.no_metrics = true}, {.load = 950}},
         .want = "state:ready wake"},
        {"load avg: equal loads keep the nodes order", .placement = OM_PLACE_LOAD_AVG,
         .nodes = "n2 n1 n3", .n = {{.load = 70}, {.load = 70}, {.load = 70}}, .want = ""},
        {"score: n1 has the most free memory per load", .placement = OM_PLACE_SCORE,
         .n = {{.load = 100, .mem = 900}, {.load = 100, .mem = 500}, {.load = 0, .mem = 400}},
         .want = "state:ready wake"},
        {"score: n3 with less memory but idle leads", .placement = OM_PLACE_SCORE,
         .n = {{.load = 800, .mem = 900}, {.load = 800, .mem = 500}, {.load = 0, .mem = 600}},
         .want = ""},
        {"spread: root/svc/s1 hashes to n1 first", .placement = OM_PLACE_SPREAD,
         .path = "root/svc/s1", .want = "state:ready wake"},
        {"spread: root/svc/s2 hashes to n2 first", .placement = OM_PLACE_SPREAD,
         .path = "root/svc/s2", .want = ""},
        {"spread: root/svc/s2, n2 down: n3 next, not n1", .placement = OM_PLACE_SPREAD,
         .path = "root/svc/s2", .n = {{0}, {.live = OM_PEER_DOWN}}, .want = ""},
        {"spread: root/svc/s3, n3 and n2 down: n1 leads", .placement = OM_PLACE_SPREAD,
         .path = "root/svc/s3", .n = {{0}, {.live = OM_PEER_DOWN}, {.live = OM_PEER_DOWN}},
         .want = "state:ready wake"},
        {"shift: web3 on three nodes rotates back to n1", .placement = OM_PLACE_SHIFT,
         .path = "root/svc/web3", .want = "state:ready wake"},
        {"shift: web1 rotates to n2", .placement = OM_PLACE_SHIFT, .path = "root/svc/web1",
         .want = ""},
        {"shift: web2 rotates to n3, n3 frozen: n1 next", .placement = OM_PLACE_SHIFT,
         .path = "root/svc/web2", .n = {{0}, {0}, {.frozen = true}}, .want = "state:ready wake"},
        {"shift: a name without a number is not rotated", .placement = OM_PLACE_SHIFT,
         .want = "state:ready wake"},
        {"none: no HA start", .placement = OM_PLACE_NONE, .want = ""},
        {"none: target started fails, naming switch", .placement = OM_PLACE_NONE,
         .target = "started", .want = "frozen:0 target_end:1"},
        {"none: target started, up on n2: reached", .placement = OM_PLACE_NONE, .target = "started",
         .n = {{0}, UP()}, .want = "frozen:0 target_end:0"},
        {"none: target placed@n1 starts here", .placement = OM_PLACE_NONE, .target = "placed@n1",
         .want = "frozen:0 state:starting spawn:start"},
        {"none: target provisioned uses the nodes order", .placement = OM_PLACE_NONE,
         .target = "provisioned", .n = {{.unprov = true}, {.unprov = true}, {.unprov = true}},
         .want = "frozen:0 state:provisioning spawn:provision"},

        /* action slots */
        {"ready period elapsed, no slot free: stays ready", .held = true, .state = OM_MON_READY,
         .now = 2000, .ready_until = 1500, .want = ""},
        {"no slot free: still gets ready (nothing spawned)", .held = true,
         .want = "state:ready wake"},
        {"target started, no slot free: waits", .held = true, .target = "started",
         .want = "frozen:0"},
        {"target placed@n2, no slot free: the stop is not held", .held = true,
         .target = "placed@n2", .n = {UP()}, .want = "frozen:0 state:stopping spawn:stop"},
        {"quorum lost, no slot free: the split stop is not held", .held = true, .no_quorum = true,
         .n = {UP()}, .want = "split state:stopping spawn:stop"},
        {"init, no slot free: the refresh waits", .held = true, .state = OM_MON_INIT, .want = ""},
};

static struct om_peer peers[3];
static struct om_cl_instance inst[3];
static struct om_cl_nodedata local;

static void view_make(const struct row *r, struct om_view *v, struct om_dec_cfg *cfg) {
        memset(peers, 0, sizeof(peers));
        memset(inst, 0, sizeof(inst));
        memset(cfg, 0, sizeof(*cfg));
        for (int i = 0; i < 3; i++) {
                const struct node_row *n = &r->n[i];
                struct om_peer *p = &peers[i];
                struct om_cl_nodedata *nd = i == 0 ? &local : &p->data;
                snprintf(p->name, sizeof(p->name), "n%d", i + 1);
                p->self = i == 0;
                p->state = i == 0           ? OM_PEER_UP
                           : n->never_heard ? OM_PEER_UNKNOWN
                           : n->live        ? n->live
                                            : OM_PEER_UP;
                p->have_data = i != 0;
                p->gen_announced = n->stale ? 2 : 1;
                p->unsure = n->unsure;
                memset(nd, 0, sizeof(*nd));
                nd->gen = 1;
                nd->frozen = n->node_frozen;
                struct om_cl_instance *in = &inst[i];
                snprintf(in->path, sizeof(in->path), "%s", r->path ? r->path : P);
                snprintf(in->avail, sizeof(in->avail), "%s", n->avail ? n->avail : "down");
                in->monitor = n->mon ? n->mon : OM_MON_IDLE;
                in->frozen = n->frozen;
                in->provisioned = !n->unprov;
                nd->metrics = !n->no_metrics;
                nd->load15 = n->load;
                nd->mem_avail = n->mem;
                nd->ncpu = 2;
                if (n->target) {
                        snprintf(in->target, sizeof(in->target), "%s", n->target);
                        in->target_ver = 10;
                        snprintf(in->target_writer, sizeof(in->target_writer), "n2");
                }
                nd->inst = n->no_inst ? NULL : in;
                nd->n_inst = n->no_inst ? 0 : 1;
        }
        *v = (struct om_view){.peers = peers, .n = 3, .self = 0, .local = &local};
        snprintf(cfg->path, sizeof(cfg->path), "%s", r->path ? r->path : P);
        cfg->placement = r->placement;
        const char *nodes = r->nodes ? r->nodes : "n1 n2 n3";
        for (size_t k = 0; k < 3; k++)
                snprintf(cfg->nodes[k], OM_CL_NAME_MAX, "%.2s", nodes + 3 * k);
        cfg->n_nodes = 3;
        cfg->ha = true;
        cfg->failover = !r->flex;
        cfg->ready_ms = 500;
        cfg->mon_ms = 5000;
        snprintf(cfg->split_action, sizeof(cfg->split_action), "%s",
                 r->split_freeze ? "freeze" : "stop");
}

/* The effects as one line: "state:ready wake". */
static void describe(const struct om_decision *d, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = 0;
        for (size_t k = 0; k < d->n && o < len; k++) {
                const struct om_eff *e = &d->eff[k];
                const char *sep = k ? " " : "";
                switch (e->kind) {
                case OM_EFF_STATE:
                        o += (size_t)snprintf(buf + o, len - o, "%sstate:%s", sep,
                                              om_mon_to_string(e->to));
                        break;
                case OM_EFF_SPAWN:
                        o += (size_t)snprintf(buf + o, len - o, "%sspawn", sep);
                        for (size_t w = 0; e->words[w] && o < len; w++)
                                o += (size_t)snprintf(buf + o, len - o, "%s%s", w ? "," : ":",
                                                      e->words[w]);
                        break;
                case OM_EFF_REFRESH:
                        o += (size_t)snprintf(buf + o, len - o, "%srefresh", sep);
                        break;
                case OM_EFF_FROZEN:
                        o += (size_t)snprintf(buf + o, len - o, "%sfrozen:%d", sep, e->flag);
                        break;
                case OM_EFF_TARGET_SET:
                        o += (size_t)snprintf(buf + o, len - o, "%starget_set", sep);
                        break;
                case OM_EFF_TARGET_END:
                        o += (size_t)snprintf(buf + o, len - o, "%starget_end:%d", sep, e->flag);
                        break;
                case OM_EFF_SPLIT:
                        o += (size_t)snprintf(buf + o, len - o, "%ssplit", sep);
                        break;
                case OM_EFF_EXIT:
                        o += (size_t)snprintf(buf + o, len - o, "%sexit:%d", sep, e->flag);
                        break;
                case OM_EFF_WAKE:
                        o += (size_t)snprintf(buf + o, len - o, "%swake", sep);
                        break;
                case OM_EFF_WARN:
                        o += (size_t)snprintf(buf + o, len - o, "%swarn", sep);
                        break;
                }
        }
}

static void test_rows(void **state) {
        int bad = 0;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                const struct row *r = &rows[i];
                struct om_view v;
                struct om_dec_cfg cfg;
                view_make(r, &v, &cfg);
                struct om_dec_obj st = {.state = r->state ? r->state : OM_MON_IDLE,
                                        .present = true,
                                        .ready_until = r->ready_until,
                                        .dup_since = r->dup_since,
                                        .dup_check_stalls = r->stalled ? 0 : 1,
                                        .booted = !r->restarted,
                                        .stall_confirm = r->confirm,
                                        .stall_window = 0,
                                        .prov_refreshed = r->refreshed};
                if (r->target) {
                        snprintf(st.target, sizeof(st.target), "%s", r->target);
                        st.tver = 5;
                        snprintf(st.twriter, sizeof(st.twriter), "n1");
                }
                struct om_dec_ctx c = {.view = &v,
                                       .self = "n1",
                                       .now = r->now ? r->now : 1000,
                                       .timeout = 1000,
                                       .stalls = 1,
                                       .quorum_enabled = true,
                                       .quorum_have = !r->no_quorum,
                                       .quorum_keep = r->keep,
                                       .boot_ready = !r->not_booted,
                                       .promise_end = r->promise_end,
                                       .spawn_held = r->held};
                struct om_decision d = {0};
                char got[512];
                om_decide(&c, &cfg, &st, NULL, &d);
                describe(&d, got, sizeof(got));
                if (strcmp(got, r->want) != 0) {
                        print_error("row %zu \"%s\": got \"%s\", want \"%s\"\n", i, r->name, got,
                                    r->want);
                        bad++;
                }
        }
        assert_int_equal(bad, 0);
}

/* ---- the end of a job ---- */

struct done_row {
        const char *name;
        enum om_mon state;
        bool refresh, rid_job;
        enum om_mon fail_after;
        enum om_dec_then then;
        int status;
        const char *want;
        /* the instance status the job left: its fenced rids (NULL: no status read);
         * the config is an HA failover service watching disk#1 for fencing */
        const char *fenced;
        bool fenced_mark; /* the persisted fenced flag at the agent's start */
};

static const struct done_row done_rows[] = {
        {"start succeeded", OM_MON_STARTING, .want = "state:idle"},
        {"start failed", OM_MON_STARTING, .status = 1, .want = "state:start failed"},
        {"stop failed", OM_MON_STOPPING, .status = 1, .want = "state:stop failed"},
        {"provision killed", OM_MON_PROVISIONING, .status = 137, .want = "state:provision failed"},
        {"first refresh done", OM_MON_INIT, .refresh = true, .want = "state:idle"},
        {"monitor refresh: the state stays", OM_MON_IDLE, .refresh = true, .want = ""},
        {"monitor refresh, then a stop asked meanwhile", OM_MON_IDLE, .refresh = true,
         .then = OM_THEN_STOP, .want = "state:stopping spawn:stop"},
        {"resource restart failed: an attempt spent", OM_MON_STARTING, .rid_job = true, .status = 1,
         .want = "state:idle"},
        {"giving the instance up", OM_MON_STOPPING, .fail_after = OM_MON_MONITOR_FAILED,
         .want = "state:monitor failed"},
        {"giving a fenced instance up", OM_MON_STOPPING, .fail_after = OM_MON_FENCED,
         .want = "state:fenced"},
        {"a fenced instance whose stop failed", OM_MON_STOPPING, .fail_after = OM_MON_FENCED,
         .status = 1, .want = "state:stop failed"},
        {"a stop after our loop stall that found the reservation taken", OM_MON_STOPPING,
         .fenced = "disk#1", .want = "warn state:fenced"},
        {"a stop of the quorum lost, then a start chained: fenced, no start", OM_MON_STOPPING,
         .then = OM_THEN_START, .fenced = "disk#1", .want = "warn state:fenced"},
        {"a stop that found nothing fenced", OM_MON_STOPPING, .fenced = "", .want = "state:idle"},
        {"a stop whose status names an unwatched rid fenced", OM_MON_STOPPING, .fenced = "disk#2",
         .want = "state:idle"},
        {"a stop that failed, the reservation taken", OM_MON_STOPPING, .status = 1,
         .fenced = "disk#1", .want = "state:stop failed"},
        {"a start whose status names the resource fenced (the sticky cache)", OM_MON_STARTING,
         .fenced = "disk#1", .want = "state:idle"},
        {"first refresh, fenced when the agent last ran, still fenced", OM_MON_INIT,
         .refresh = true, .fenced = "fs#0 disk#1", .fenced_mark = true, .want = "state:fenced"},
        {"first refresh, fenced before, started here since (not fenced)", OM_MON_INIT,
         .refresh = true, .fenced = "", .fenced_mark = true, .want = "state:idle"},
        {"first refresh, fenced before, status unreadable", OM_MON_INIT, .refresh = true,
         .fenced_mark = true, .want = "state:fenced"},
        {"first refresh, fenced before, the refresh failed", OM_MON_INIT, .refresh = true,
         .status = 1, .fenced = "", .fenced_mark = true, .want = "state:fenced"},
        {"first refresh, the cache says fenced but the state was not (placed since)", OM_MON_INIT,
         .refresh = true, .fenced = "disk#1", .want = "state:idle"},
        {"a start chained after a provision", OM_MON_PROVISIONING, .then = OM_THEN_START,
         .want = "state:starting spawn:start"},
        {"a chained start dropped when the first action failed", OM_MON_PROVISIONING,
         .then = OM_THEN_START, .status = 2, .want = "state:provision failed"},
};

static void test_job_done(void **state) {
        int bad = 0;
        struct om_dec_cfg cfg = {.ha = true, .failover = true, .n_watch = 1};
        snprintf(cfg.watch[0].rid, sizeof(cfg.watch[0].rid), "disk#1");
        cfg.watch[0].fence = true;
        for (size_t i = 0; i < sizeof(done_rows) / sizeof(done_rows[0]); i++) {
                const struct done_row *r = &done_rows[i];
                struct om_dec_obj st = {.state = r->state,
                                        .job = true,
                                        .mon_refreshing = r->refresh && r->state != OM_MON_INIT,
                                        .rid_job = r->rid_job,
                                        .fail_after = r->fail_after,
                                        .then = r->then,
                                        .fenced_mark = r->fenced_mark};
                struct om_dec_status ds = {.last_action = "stop", .down = "", .fenced = r->fenced};
                struct om_decision d = {0};
                char got[512];
                om_decide_job_done(&cfg, &st, r->status, r->fenced ? &ds : NULL, &d);
                describe(&d, got, sizeof(got));
                if (strcmp(got, r->want) != 0 || (st.job && !strstr(r->want, "spawn"))) {
                        print_error("row %zu \"%s\": got \"%s\", want \"%s\"\n", i, r->name, got,
                                    r->want);
                        bad++;
                }
        }
        assert_int_equal(bad, 0);
}

/* ---- the monitor's judgement of a refresh ---- */

/* A resource fencing its device (scsireserv) found preempted: the instance is given up
 * (stopped, "fenced": out of the candidates until placed back), never restarted, even
 * with restart = N; without ha failover a warning, once. */
static void test_judge_fenced(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        static const struct row r = {.n = {UP()}};
        view_make(&r, &v, &cfg);
        cfg.n_watch = 1;
        snprintf(cfg.watch[0].rid, sizeof(cfg.watch[0].rid), "disk#1");
        cfg.watch[0].fence = true;
        cfg.watch[0].restart = 2;
        struct om_dec_ctx c = {.view = &v,
                               .self = "n1",
                               .now = 1000,
                               .timeout = 1000,
                               .quorum_enabled = true,
                               .quorum_have = true,
                               .boot_ready = true};
        struct om_dec_obj st = {
                .state = OM_MON_IDLE, .present = true, .mon_check = true, .mon_next = 99999};
        struct om_dec_status fenced = {
                .last_action = "start", .down = "disk#1", .fenced = "disk#1"};
        struct om_decision d = {0};
        char got[512];
        om_decide(&c, &cfg, &st, &fenced, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "warn state:stopping spawn:stop");
        assert_string_equal(d.eff[0].why, "the reservation of disk#1 was preempted by another "
                                          "node: the instance is fenced, giving it up");
        assert_int_equal(st.fail_after, OM_MON_FENCED);
        assert_int_equal(st.restarted[0], 0);
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        assert_int_equal(st.state, OM_MON_FENCED);
        assert_string_equal(om_mon_to_string(st.state), "fenced");
        assert_true(om_mon_failed(st.state));
        assert_false(om_mon_holds(st.state));
        /* fenced: not started again here while nothing places it back, even as the
         * leader with no instance up anywhere */
        struct om_dec_status stopped = {.last_action = "stop", .down = "", .fenced = ""};
        memset(&d, 0, sizeof(d));
        st.mon_check = false;
        om_decide(&c, &cfg, &st, &stopped, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "");
        assert_int_equal(st.state, OM_MON_FENCED);
        /* placed back (a new target): idle again */
        memset(&d, 0, sizeof(d));
        om_decide_target_set(&st, "started", 5, "n2", &d);
        assert_int_equal(st.state, OM_MON_IDLE);

        /* down but not fenced: the restart rule as for any resource */
        struct om_dec_obj st2 = {
                .state = OM_MON_IDLE, .present = true, .mon_check = true, .mon_next = 99999};
        struct om_dec_status down = {.last_action = "start", .down = "disk#1", .fenced = ""};
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st2, &down, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "warn state:starting spawn:start,--rid,disk#1");

        /* no ha failover: warned once, nothing run */
        cfg.ha = false;
        struct om_dec_obj st3 = {
                .state = OM_MON_IDLE, .present = true, .mon_check = true, .mon_next = 99999};
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st3, &fenced, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "warn");
        st3.mon_check = true;
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st3, &fenced, &d);
        assert_int_equal(d.n, 0);
}

/* A service whose status changes by itself (cfg.refresh: disk.drbd) and that watches no
 * resource: where it runs, its status is refreshed every monitor_interval, and a refresh
 * that finds a resource down acts on nothing; without the flag, no refresh at all. */
/* "fenced" records the target known then; the same target learned again (from a peer,
 * after an agent restart: the state came back from the flag file, the target from the
 * peer's data) does not place the service back, a newer one does. */
static void test_fenced_target(void **state) {
        struct om_dec_cfg cfg = {.ha = true, .failover = true, .n_watch = 1};
        snprintf(cfg.watch[0].rid, sizeof(cfg.watch[0].rid), "disk#1");
        cfg.watch[0].fence = true;
        struct om_dec_obj st = {.state = OM_MON_STOPPING, .job = true, .tver = 5};
        snprintf(st.target, sizeof(st.target), "provisioned");
        snprintf(st.twriter, sizeof(st.twriter), "n1");
        struct om_dec_status fenced = {.last_action = "stop", .fenced = "disk#1"};
        struct om_decision d = {0};
        om_decide_job_done(&cfg, &st, 0, &fenced, &d);
        assert_int_equal(st.state, OM_MON_FENCED);
        assert_int_equal(st.fenced_tver, 5);
        assert_string_equal(st.fenced_twriter, "n1");
        /* the agent restarted: the state and the recorded target come from the flag */
        struct om_dec_obj again = {.state = OM_MON_FENCED, .fenced_tver = 5};
        snprintf(again.fenced_twriter, sizeof(again.fenced_twriter), "n1");
        memset(&d, 0, sizeof(d));
        om_decide_target_set(&again, "provisioned", 5, "n1", &d);
        assert_int_equal(again.state, OM_MON_FENCED);
        om_decide_target_set(&again, "provisioned", 4, "n2", &d);
        assert_int_equal(again.state, OM_MON_FENCED);
        /* placed back: a newer target */
        om_decide_target_set(&again, "placed@n1", 6, "n2", &d);
        assert_int_equal(again.state, OM_MON_IDLE);
        /* another failed state is made idle by any target, as before */
        struct om_dec_obj sf = {.state = OM_MON_START_FAILED, .tver = 9};
        memset(&d, 0, sizeof(d));
        om_decide_target_set(&sf, "started", 3, "n1", &d);
        assert_int_equal(sf.state, OM_MON_IDLE);
}

static void test_refresh_unwatched(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        static const struct row r = {.n = {UP()}};
        view_make(&r, &v, &cfg);
        cfg.n_watch = 0;
        cfg.mon_ms = 5000;
        struct om_dec_ctx c = {.view = &v,
                               .self = "n1",
                               .now = 1000,
                               .timeout = 1000,
                               .quorum_enabled = true,
                               .quorum_have = true,
                               .boot_ready = true};
        struct om_dec_obj st = {.state = OM_MON_IDLE, .present = true};
        struct om_decision d = {0};
        char got[512];
        om_decide(&c, &cfg, &st, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "");
        cfg.refresh = true;
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "refresh");
        assert_true(st.mon_refreshing);
        assert_int_equal(st.mon_next, 6000);
        /* the refresh found a resource down: nothing is done about it */
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        struct om_dec_status down = {.last_action = "start", .down = "disk#1", .fenced = ""};
        memset(&d, 0, sizeof(d));
        c.now = 2000;
        om_decide(&c, &cfg, &st, &down, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "");
        assert_int_equal(st.state, OM_MON_IDLE);
        /* and the next one comes a monitor_interval after the last */
        c.now = 6000;
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "refresh");
}

static void test_judge(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        static const struct row r = {.n = {UP()}};
        view_make(&r, &v, &cfg);
        cfg.n_watch = 1;
        snprintf(cfg.watch[0].rid, sizeof(cfg.watch[0].rid), "fs#1");
        cfg.watch[0].monitor = true;
        cfg.watch[0].restart = 1;
        struct om_dec_ctx c = {.view = &v,
                               .self = "n1",
                               .now = 1000,
                               .timeout = 1000,
                               .quorum_enabled = true,
                               .quorum_have = true,
                               .boot_ready = true};
        struct om_dec_obj st = {
                .state = OM_MON_IDLE, .present = true, .mon_check = true, .mon_next = 99999};
        struct om_dec_status down = {.last_action = "start", .down = "app#1 fs#1"};
        struct om_decision d = {0};
        char got[512];

        /* down once: restarted (1/1) */
        om_decide(&c, &cfg, &st, &down, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "warn state:starting spawn:start,--rid,fs#1");
        assert_true(st.rid_job);
        assert_string_equal(d.eff[1].why, "resource fs#1 is down: restart 1/1");
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        /* down again: restarts exhausted, a monitored resource gives the instance up */
        st.mon_check = true;
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st, &down, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "warn state:stopping spawn:stop");
        assert_int_equal(st.fail_after, OM_MON_MONITOR_FAILED);
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        assert_int_equal(st.state, OM_MON_MONITOR_FAILED);

        /* stopped on purpose: not judged; a rid not down is not either */
        struct om_dec_obj st2 = {
                .state = OM_MON_IDLE, .present = true, .mon_check = true, .mon_next = 99999};
        struct om_dec_status stopped = {.last_action = "stop", .down = "fs#1"};
        memset(&d, 0, sizeof(d));
        om_decide(&c, &cfg, &st2, &stopped, &d);
        assert_int_equal(d.n, 0);
        struct om_dec_status other = {.last_action = "start", .down = "fs#10"};
        st2.mon_check = true;
        om_decide(&c, &cfg, &st2, &other, &d);
        assert_int_equal(d.n, 0);
        /* monitor_interval elapsed: a refresh */
        c.now = 100000;
        om_decide(&c, &cfg, &st2, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "refresh");
        assert_string_equal(d.eff[0].words[2], "--waitlock");
}

/* ---- the restart guard and the monitor state table ---- */

static void test_boot_guard(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        static const struct row r = {.n = {{0}, {.stale = true}, {.never_heard = true}}};
        view_make(&r, &v, &cfg);
        assert_false(om_decide_boot_ready(&v, 5000, 0, 1000, false)); /* n2 not fresh */
        peers[1].data.gen = 2;
        assert_false(om_decide_boot_ready(&v, 1500, 0, 1000, false)); /* n3 silent < 2 timeouts */
        assert_true(om_decide_boot_ready(&v, 2000, 0, 1000, false));
        assert_false(om_decide_boot_ready(&v, 2000, 0, 1000, true)); /* an object in init */
}

/* The quorum of a view: a peer counts only when it hears us; after our stall, a peer alive
 * but unsure (or, within two timeouts, not fresh) puts the quorum in doubt. */
static void test_view_quorum(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        struct om_quorum q;
        static const struct row r = {0};
        view_make(&r, &v, &cfg);
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_true(q.have);
        assert_int_equal(q.votes, 3);
        /* n2's beats say it does not hear n1 (one-way loss): not counted */
        peers[1].hears_known = true;
        peers[1].hears[0] = 1u << 2;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_int_equal(q.votes, 2);
        assert_true(q.have);
        peers[1].hears[0] |= 1u << 0;
        /* after our stall: n2 unsure, in the window: in doubt */
        peers[1].unsure = true;
        v.stalled = true;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_false(q.have);
        assert_true(q.keep);
        /* past the window: n2 does not count, n1 and n3 hold it */
        v.stalled = false;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_true(q.have);
        assert_int_equal(q.votes, 2);
        /* in the window, n3 not fresh either: in doubt */
        peers[1].unsure = false;
        peers[2].gen_announced = 5;
        v.stalled = true;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_false(q.have);
        assert_true(q.keep);
        /* n3 is alive through n2's beats when we stop hearing it, and never fresh then */
        peers[2].gen_announced = 1;
        v.stalled = false;
        peers[2].state = OM_PEER_DOWN;
        peers[1].hears[0] &= ~(1u << 2);
        assert_false(om_view_alive(&v, 2));
        peers[1].hears[0] |= 1u << 2;
        assert_true(om_view_alive(&v, 2));
        assert_false(om_view_fresh(&v, 2));
        assert_false(om_view_votes(&v, 2));
}

/* A vote is lent for a bounded time: counted only within the vote window of the lender's
 * last frame and only when its beats lend it to us ("l" over "h"); our own beats lend
 * within the same window; the promise runs out a hold after the last lending beat, and
 * only peers outside our quorum make us wait for it. */
static void test_view_lent_votes(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        static const struct row r = {0};
        view_make(&r, &v, &cfg);
        v.now = 10000;
        v.vote_ms = om_vote_window(100);
        assert_int_equal(v.vote_ms, 200);
        assert_int_equal(om_promise_hold(100, 300), 350);    /* window + timeout / 2 */
        assert_int_equal(om_promise_hold(1000, 1500), 3000); /* window + interval */
        for (int i = 1; i < 3; i++)
                peers[i].last_rx = 9900;
        assert_true(om_view_votes(&v, 1));
        assert_true(om_view_endorses(&v, 1));
        assert_false(om_view_endorses(&v, 0)); /* not to ourselves */
        /* silent for more than the window: heard (alive), neither counted nor lent to */
        peers[1].last_rx = 9799;
        assert_true(om_view_heard(&v, 1));
        assert_true(om_view_alive(&v, 1));
        assert_false(om_view_votes(&v, 1));
        assert_false(om_view_endorses(&v, 1));
        /* ... and the quorum without it is in doubt, not lost, while it is heard */
        struct om_quorum q;
        peers[2].last_rx = 9799;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_false(q.have);
        assert_true(q.keep);
        /* one of the two judged down: still in doubt with the other; both: lost */
        peers[2].state = OM_PEER_DOWN;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_true(q.keep);
        peers[1].state = OM_PEER_DOWN;
        assert_int_equal(om_view_quorum(&v, true, 0, 0, 0, &q), 0);
        assert_false(q.have);
        assert_false(q.keep);
        peers[1].state = peers[2].state = OM_PEER_UP;
        peers[2].last_rx = 9900;
        peers[1].last_rx = 9800;
        assert_true(om_view_votes(&v, 1));
        /* its beats say it hears us but lend its vote elsewhere: not counted */
        peers[1].hears_known = peers[1].lends_known = true;
        peers[1].hears[0] = 1u << 0;
        peers[1].lends[0] = 1u << 2;
        assert_false(om_view_votes(&v, 1));
        peers[1].lends[0] |= 1u << 0;
        assert_true(om_view_votes(&v, 1));
        /* promises: none made, none to wait for */
        assert_int_equal(om_view_promise_end(&v, 350), 0);
        peers[1].endorsed_at = peers[2].endorsed_at = 9950;
        /* both count for us: no wait */
        assert_int_equal(om_view_promise_end(&v, 350), 0);
        /* n3 falls out of our quorum: we wait for our promise to it */
        peers[2].last_rx = 9700;
        assert_int_equal(om_view_promise_end(&v, 350), 10300);
        peers[1].lends[0] = 0;
        peers[1].endorsed_at = 9990;
        assert_int_equal(om_view_promise_end(&v, 350), 10340);
}

static void test_mon_table(void **state) {
        for (int m = 0; m < _OM_MON_MAX; m++) {
                if (m == OM_MON_UNKNOWN)
                        continue;
                assert_int_equal(om_mon_from_string(om_mon_to_string((enum om_mon)m)), m);
        }
        assert_int_equal(om_mon_from_string("sleeping"), OM_MON_UNKNOWN);
        assert_true(om_mon_failed(OM_MON_STOP_FAILED));
        assert_false(om_mon_failed(OM_MON_STOPPING));
        assert_int_equal(om_mon_failed_of(OM_MON_STARTING), OM_MON_START_FAILED);
        assert_string_equal(om_mon_action(OM_MON_UNPROVISIONING), "unprovision");
        assert_null(om_mon_action(OM_MON_IDLE));
        assert_true(om_mon_holds(OM_MON_STOP_FAILED));
        assert_false(om_mon_holds(OM_MON_START_FAILED));
        assert_string_equal(om_mon_to_string((enum om_mon)999), "unknown");
}

/* ---- orchestrate = start, standby resources, dependencies between services ---- */

static struct om_dec_ctx ctx_of(const struct om_view *v, uint64_t now) {
        return (struct om_dec_ctx){.view = v,
                                   .self = "n1",
                                   .now = now,
                                   .timeout = 1000,
                                   .stalls = 1,
                                   .quorum_enabled = true,
                                   .quorum_have = true,
                                   .boot_ready = true};
}

static void pass(const struct om_dec_ctx *c, const struct om_dec_cfg *cfg, struct om_dec_obj *st,
                 const struct om_dec_status *status, char *got, size_t len) {
        struct om_decision d = {0};
        om_decide(c, cfg, st, status, &d);
        describe(&d, got, len);
}

/* orchestrate = start: the leader starts it once when no instance is up anywhere; once
 * an instance was seen up, its node's death starts nothing. */
static void test_start_once(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        char got[512];
        static const struct row nothing = {0};
        view_make(&nothing, &v, &cfg);
        cfg.ha = false;
        cfg.start_once = true;
        struct om_dec_ctx c = ctx_of(&v, 1000);
        struct om_dec_obj st = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "state:ready wake");
        c.now = 1600;
        c.promise_end = 1700; /* a peer outside our quorum may count our vote: wait */
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "wake");
        assert_false(st.start_seen);
        c.promise_end = 0;
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "state:starting spawn:start");
        assert_true(st.start_seen);

        /* it ran on n1, n1 died: n2 (which saw it up) starts nothing */
        static const struct row n1_up = {.n = {UP()}};
        view_make(&n1_up, &v, &cfg);
        cfg.ha = false;
        cfg.start_once = true;
        c = ctx_of(&v, 1000);
        struct om_dec_obj st2 = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &st2, NULL, got, sizeof(got));
        assert_string_equal(got, "");
        assert_true(st2.start_seen);
        inst[0].avail[0] = 0;
        snprintf(inst[0].avail, sizeof(inst[0].avail), "down");
        peers[1].state = OM_PEER_DOWN; /* whoever ran it is gone: nothing moves */
        pass(&c, &cfg, &st2, NULL, got, sizeof(got));
        assert_string_equal(got, "");
        c.now = 99999;
        pass(&c, &cfg, &st2, NULL, got, sizeof(got));
        assert_string_equal(got, "");

        /* not the leader, an instance up elsewhere, a peer not fresh, frozen, no quorum,
         * restart guard: nothing */
        static const struct row rows2[] = {
                {"n2 leads", .nodes = "n2 n1 n3"},
                {"up on n2", .n = {{0}, UP()}},
                {"n2 not fresh", .n = {{0}, {.stale = true}}},
                {"frozen", .n = {{.frozen = true}}},
                {"not provisioned", .n = {{.unprov = true}}},
                {"no quorum", .no_quorum = true},
                {"guard", .not_booted = true},
        };
        for (size_t i = 0; i < sizeof(rows2) / sizeof(rows2[0]); i++) {
                view_make(&rows2[i], &v, &cfg);
                cfg.ha = false;
                cfg.start_once = true;
                c = ctx_of(&v, 1000);
                c.quorum_have = !rows2[i].no_quorum;
                c.boot_ready = !rows2[i].not_booted;
                struct om_dec_obj s3 = {
                        .state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
                pass(&c, &cfg, &s3, NULL, got, sizeof(got));
                if (strcmp(got, "") != 0)
                        fail_msg("%s: got \"%s\"", rows2[i].name, got);
        }
        /* ready, then an instance comes up elsewhere: back to idle, never again */
        static const struct row up2 = {.n = {{0}, UP()}};
        view_make(&up2, &v, &cfg);
        cfg.ha = false;
        cfg.start_once = true;
        c = ctx_of(&v, 2000);
        struct om_dec_obj s4 = {
                .state = OM_MON_READY, .present = true, .ready_until = 1500, .dup_check_stalls = 1};
        pass(&c, &cfg, &s4, NULL, got, sizeof(got));
        assert_string_equal(got, "state:idle");
        /* orchestrate = no: nothing, ever */
        view_make(&nothing, &v, &cfg);
        cfg.ha = false;
        c = ctx_of(&v, 1000);
        struct om_dec_obj s5 = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &s5, NULL, got, sizeof(got));
        assert_string_equal(got, "");
}

/* standby resources: where the instance is down and provisioned, a refresh every
 * monitor_interval, then the standby rids found down are started (and only they). */
static void test_standby(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        char got[512];
        static const struct row passive = {.n = {{0}, UP()}};
        view_make(&passive, &v, &cfg);
        snprintf(cfg.standby, sizeof(cfg.standby), "ip#1,fs#2");
        struct om_dec_ctx c = ctx_of(&v, 1000);
        struct om_dec_obj st = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "refresh");
        struct om_decision d = {0};
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        assert_int_equal(d.n, 0);
        assert_true(st.standby_check);
        struct om_dec_status down = {.last_action = "stop", .down = "app#0 fs#2 ip#1"};
        c.spawn_held = true; /* no action slot free: the start waits, the check is kept */
        pass(&c, &cfg, &st, &down, got, sizeof(got));
        assert_string_equal(got, "");
        assert_true(st.standby_check);
        c.spawn_held = false;
        pass(&c, &cfg, &st, &down, got, sizeof(got));
        assert_string_equal(got, "state:starting standby spawn:start,--standby,--rid,ip#1,fs#2");
        assert_false(om_mon_holds(OM_MON_STARTING_STANDBY)); /* others may start */
        /* a failed standby start is no "start failed": the node stays a candidate */
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 1, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "state:idle");
        assert_string_equal(d.eff[0].why, "standby resources start failed");
        /* not before monitor_interval, then again */
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "");
        c.now = 1000 + cfg.mon_ms;
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "refresh");
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        /* every standby rid up: nothing to start */
        struct om_dec_status up = {.last_action = "start", .down = "app#0 fs#20"};
        pass(&c, &cfg, &st, &up, got, sizeof(got));
        assert_string_equal(got, "");

        /* frozen, not provisioned, or the instance up here: no check */
        static const struct row no[] = {
                {"frozen", .n = {{.frozen = true}}},
                {"node frozen", .n = {{.node_frozen = true}}},
                {"not provisioned", .n = {{.unprov = true}}},
                {"up here", .n = {UP()}},
        };
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
                view_make(&no[i], &v, &cfg);
                cfg.ha = false;
                snprintf(cfg.standby, sizeof(cfg.standby), "ip#1");
                c = ctx_of(&v, 1000);
                struct om_dec_obj s2 = {.state = OM_MON_IDLE,
                                        .present = true,
                                        .dup_check_stalls = 1,
                                        .mon_next = 99999};
                pass(&c, &cfg, &s2, NULL, got, sizeof(got));
                if (strcmp(got, "") != 0)
                        fail_msg("%s: got \"%s\"", no[i].name, got);
        }
}

/* A node that rebooted with its om state, the HA service running on n2: after the
 * agent's first refresh its instance is provisioned, down and idle; its DRBD replica
 * (disk#1, on the loop disk#0) is down. The standby check starts disk#0 and disk#1 in
 * their standby state (never a full start: that would promote), then leaves the
 * replica, found up as a standby (not in down), alone. */
static void test_standby_drbd_reboot(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        char got[512];
        static const struct row peer_runs = {.n = {{0}, UP()}};
        view_make(&peer_runs, &v, &cfg);
        snprintf(cfg.standby, sizeof(cfg.standby), "disk#0,disk#1");
        struct om_dec_ctx c = ctx_of(&v, 1000);
        struct om_dec_obj st = {.state = OM_MON_INIT, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "refresh");
        struct om_decision d = {0};
        struct om_dec_status boot = {.last_action = "", .down = "disk#0 disk#1 disk#2 fs#0"};
        om_decide_job_done(&cfg, &st, 0, &boot, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "state:idle");
        /* the service runs on n2: no start here, the standby check's refresh */
        pass(&c, &cfg, &st, &boot, got, sizeof(got));
        assert_string_equal(got, "refresh");
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, &boot, &d);
        pass(&c, &cfg, &st, &boot, got, sizeof(got));
        assert_string_equal(got,
                            "state:starting standby spawn:start,--standby,--rid,disk#0,disk#1");
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "state:idle");
        /* the replica is a connected Secondary: up as a standby, the instance down */
        struct om_dec_status replica = {.last_action = "start", .down = "disk#2 fs#0"};
        c.now = 1000 + cfg.mon_ms;
        pass(&c, &cfg, &st, &replica, got, sizeof(got));
        assert_string_equal(got, "refresh");
        memset(&d, 0, sizeof(d));
        om_decide_job_done(&cfg, &st, 0, &replica, &d);
        pass(&c, &cfg, &st, &replica, got, sizeof(got));
        assert_string_equal(got, "");
        assert_int_equal(st.state, OM_MON_IDLE);
}

/* parents: a start (HA, orchestrate = start, a started target) waits until each parent
 * is up on a live node; children: an orchestrated stop waits until no child runs. */
static void test_deps(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        char got[512];
        static const struct row r = {0};
        view_make(&r, &v, &cfg);
        snprintf(cfg.parents[0], OM_PATH_STRMAX, "root/svc/db");
        cfg.n_parents = 1;
        /* n2 holds the parent's instance, down */
        static struct om_cl_instance two[3][2];
        for (int i = 0; i < 3; i++) {
                struct om_cl_nodedata *nd = i == 0 ? &local : &peers[i].data;
                two[i][0] = inst[i];
                memset(&two[i][1], 0, sizeof(two[i][1]));
                snprintf(two[i][1].path, sizeof(two[i][1].path), "root/svc/db");
                snprintf(two[i][1].avail, sizeof(two[i][1].avail), "down");
                two[i][1].monitor = OM_MON_IDLE;
                nd->inst = two[i];
                nd->n_inst = 2;
                nd->inst_sorted = false;
        }
        struct om_dec_ctx c = ctx_of(&v, 1000);
        struct om_dec_obj st = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        struct om_decision d = {0};
        om_decide(&c, &cfg, &st, NULL, &d);
        describe(&d, got, sizeof(got));
        assert_string_equal(got, "warn");
        assert_string_equal(d.eff[0].why, "waits for its parent to be up: root/svc/db");
        pass(&c, &cfg, &st, NULL, got, sizeof(got)); /* said once */
        assert_string_equal(got, "");
        /* the parent up on a node that is down does not count */
        snprintf(two[1][1].avail, sizeof(two[1][1].avail), "up");
        peers[1].state = OM_PEER_DOWN;
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "");
        /* up on a live node: the HA start goes on */
        peers[1].state = OM_PEER_UP;
        pass(&c, &cfg, &st, NULL, got, sizeof(got));
        assert_string_equal(got, "state:ready wake");

        /* a started target waits for the parent too */
        snprintf(two[1][1].avail, sizeof(two[1][1].avail), "down");
        struct om_dec_obj st2 = {
                .state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1, .tver = 5};
        snprintf(st2.target, sizeof(st2.target), "started");
        snprintf(st2.twriter, sizeof(st2.twriter), "n1");
        pass(&c, &cfg, &st2, NULL, got, sizeof(got));
        assert_string_equal(got, "frozen:0 warn");
        snprintf(two[2][1].avail, sizeof(two[2][1].avail), "up");
        pass(&c, &cfg, &st2, NULL, got, sizeof(got));
        assert_string_equal(got, "frozen:0 state:starting spawn:start");

        /* orchestrate = start waits for it as well */
        snprintf(two[2][1].avail, sizeof(two[2][1].avail), "down");
        cfg.ha = false;
        cfg.start_once = true;
        struct om_dec_obj st3 = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &st3, NULL, got, sizeof(got));
        assert_string_equal(got, "warn");

        /* children: the stop of this service (up here) waits while db runs somewhere */
        cfg.n_parents = 0;
        snprintf(cfg.children[0], OM_PATH_STRMAX, "root/svc/db");
        cfg.n_children = 1;
        snprintf(two[0][0].avail, sizeof(two[0][0].avail), "up");
        snprintf(two[2][1].avail, sizeof(two[2][1].avail), "up");
        struct om_dec_obj st4 = {
                .state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1, .tver = 5};
        snprintf(st4.target, sizeof(st4.target), "stopped");
        snprintf(st4.twriter, sizeof(st4.twriter), "n1");
        pass(&c, &cfg, &st4, NULL, got, sizeof(got));
        assert_string_equal(got, "frozen:1 warn");
        /* the child stopping still holds it */
        snprintf(two[2][1].avail, sizeof(two[2][1].avail), "down");
        two[2][1].monitor = OM_MON_STOPPING;
        pass(&c, &cfg, &st4, NULL, got, sizeof(got));
        assert_string_equal(got, "frozen:1");
        /* its node's data not fresh: it may still run it */
        two[2][1].monitor = OM_MON_IDLE;
        peers[2].gen_announced = 2;
        pass(&c, &cfg, &st4, NULL, got, sizeof(got));
        assert_string_equal(got, "frozen:1");
        /* stopped everywhere: ours stops */
        peers[2].gen_announced = 1;
        pass(&c, &cfg, &st4, NULL, got, sizeof(got));
        assert_string_equal(got, "frozen:1 state:stopping spawn:stop");
        /* the split action never waits */
        snprintf(two[2][1].avail, sizeof(two[2][1].avail), "up");
        c.quorum_have = false;
        struct om_dec_obj st5 = {.state = OM_MON_IDLE, .present = true, .dup_check_stalls = 1};
        pass(&c, &cfg, &st5, NULL, got, sizeof(got));
        assert_string_equal(got, "split state:stopping spawn:stop");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rows),          cmocka_unit_test(test_job_done),
                cmocka_unit_test(test_fenced_target), cmocka_unit_test(test_refresh_unwatched),
                cmocka_unit_test(test_judge),         cmocka_unit_test(test_judge_fenced),
                cmocka_unit_test(test_boot_guard),    cmocka_unit_test(test_mon_table),
                cmocka_unit_test(test_view_quorum),   cmocka_unit_test(test_start_once),
                cmocka_unit_test(test_standby),       cmocka_unit_test(test_standby_drbd_reboot),
                cmocka_unit_test(test_deps),          cmocka_unit_test(test_view_lent_votes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
