/*
 * `om node ls` (the nodes with their liveness, address, last-seen age, node data
 * generation and heartbeat state, from the agent's view; from cluster.conf alone when no
 * agent answers), `om node freeze|thaw` (the node's frozen flag, through the agent
 * so the change is beaten at once) and `om node drain`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "cluster/cl_config.h"
#include "cluster/cl_mp.h"
#include "cluster/cl_nodedata.h"
#include "core/json.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/action.h"

static int ls_offline(const char *fmt) {
        struct om_cl_config *cfg = NULL;
        char err[512];
        int r = om_cl_config_load(om_nodename(), &cfg, err, sizeof(err));
        if (r < 0)
                return om_cli_fail("%s", r == -EINVAL ? err : strerror(-r));
        fprintf(stderr, "om: no agent answers on this node: states unknown\n");
        if (strcmp(fmt, "text") != 0) {
                struct om_json j;
                om_json_init(&j, fmt);
                om_json_object_begin(&j);
                for (size_t i = 0; i < cfg->n_nodes; i++) {
                        om_json_key(&j, cfg->nodes[i]);
                        om_json_object_begin(&j);
                        om_json_kv_string(&j, "state", "unknown");
                        om_json_object_end(&j);
                }
                om_json_object_end(&j);
                om_json_print(&j, fmt, stdout);
                om_json_free(&j);
        } else
                for (size_t i = 0; i < cfg->n_nodes; i++)
                        printf("%s\n", cfg->nodes[i]);
        free(cfg);
        return OM_EXIT_OK;
}

static int cmd_ls(struct om_cli_ctx *ctx) {
        const char *fmt;
        struct om_api_reply rep;
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        int r = om_api_call("status", 5000, &rep);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                om_api_reply_done(&rep);
                return ls_offline(fmt);
        }
        if (r < 0 || !rep.data)
                return om_api_fail(r, &rep);
        const msgpack_object *nodes = om_cl_mp_get(rep.data, "nodes");
        if (strcmp(fmt, "text") != 0) {
                struct om_json j;
                om_json_init(&j, fmt);
                om_cl_mp_to_json(nodes, &j);
                om_json_print(&j, fmt, stdout);
                om_json_free(&j);
                om_api_reply_done(&rep);
                return OM_EXIT_OK;
        }
        printf("%-16s %-8s %-16s %-10s %-6s %-6s %s\n", "NODE", "STATE", "ADDR", "LAST_SEEN", "GEN",
               "FROZEN", "HB_RX");
        for (uint32_t k = 0; nodes && nodes->type == MSGPACK_OBJECT_MAP && k < nodes->via.map.size;
             k++) {
                const msgpack_object_kv *kv = &nodes->via.map.ptr[k];
                char name[64], st[16], addr[64], rx[16], age[24];
                int64_t seen = -1;
                uint64_t gen = 0;
                bool frozen = false;
                if (om_cl_mp_str(&kv->key, name, sizeof(name)) < 0)
                        continue;
                if (om_cl_mp_get_str(&kv->val, "liveness", st, sizeof(st)) < 0)
                        snprintf(st, sizeof(st), "?");
                if (om_cl_mp_get_str(&kv->val, "addr", addr, sizeof(addr)) < 0)
                        snprintf(addr, sizeof(addr), "-");
                if (om_cl_mp_get_str(om_cl_mp_get(&kv->val, "hb"), "rx", rx, sizeof(rx)) < 0)
                        snprintf(rx, sizeof(rx), "?");
                (void)om_cl_mp_get_i64(&kv->val, "last_seen_ms", &seen);
                (void)om_cl_mp_get_u64(&kv->val, "gen", &gen);
                (void)om_cl_mp_get_bool(&kv->val, "frozen", &frozen);
                if (strcmp(rx, "-") == 0)
                        snprintf(age, sizeof(age), "-"); /* this node */
                else if (seen < 0)
                        snprintf(age, sizeof(age), "never");
                else
                        snprintf(age, sizeof(age), "%lld.%llds", (long long)(seen / 1000),
                                 (long long)(seen % 1000 / 100));
                printf("%-16s %-8s %-16s %-10s %-6llu %-6s %s\n", name, st, addr, age,
                       (unsigned long long)gen, frozen ? "yes" : "no", rx);
        }
        /* the streams these ages come from, with what they dropped */
        const msgpack_object *hb = om_cl_mp_get(rep.data, "hb");
        for (uint32_t i = 0; hb && hb->type == MSGPACK_OBJECT_ARRAY && i < hb->via.array.size;
             i++) {
                const msgpack_object *h = &hb->via.array.ptr[i];
                const msgpack_object *drops = om_cl_mp_get(om_cl_mp_get(h, "rx"), "drops");
                char name[32] = "?", addr[96] = "?";
                (void)om_cl_mp_get_str(h, "name", name, sizeof(name));
                (void)om_cl_mp_get_str(h, "addr", addr, sizeof(addr));
                printf("%s %s drops:", name, addr);
                om_api_print_drops(drops);
                printf("\n");
        }
        om_api_reply_done(&rep);
        return OM_EXIT_OK;
}

static int set_frozen(bool frozen) {
        struct om_api_reply rep;
        int r = om_api_call(frozen ? "node_freeze" : "node_thaw", 5000, &rep);
        om_api_reply_done(&rep);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                /* no agent: the flag file is what an agent reads when it starts */
                r = om_cl_node_set_frozen(frozen);
                if (r < 0)
                        return om_cli_fail("cannot set the node frozen flag: %s", strerror(-r));
                return OM_EXIT_OK;
        }
        if (r < 0)
                return om_cli_fail("the agent refused: %s",
                                   r == -EREMOTEIO ? rep.error : strerror(-r));
        return OM_EXIT_OK;
}

static int cmd_freeze(struct om_cli_ctx *ctx) {
        return set_frozen(true);
}

static int cmd_thaw(struct om_cli_ctx *ctx) {
        return set_frozen(false);
}

/* An instance of this node that runs (up or warn), from a status reply. */
struct drained {
        char path[OM_PATH_STRMAX];
        bool ha; /* orchestrate = ha, failover: another node takes it over */
        bool failed;
};

static size_t running_here(const msgpack_object *status, struct drained *ret, size_t max) {
        const msgpack_object *objs = om_cl_mp_get(status, "objects");
        size_t n = 0;
        for (uint32_t k = 0; objs && objs->type == MSGPACK_OBJECT_MAP && k < objs->via.map.size;
             k++) {
                const msgpack_object_kv *kv = &objs->via.map.ptr[k];
                const msgpack_object *in =
                        om_cl_mp_get(om_cl_mp_get(&kv->val, "instances"), om_nodename());
                char avail[16] = "", orch[16] = "", topo[16] = "";
                if (!in || om_cl_mp_get_str(in, "avail", avail, sizeof(avail)) < 0 ||
                    (strcmp(avail, "up") && strcmp(avail, "warn")) || n == max ||
                    om_cl_mp_str(&kv->key, ret[n].path, sizeof(ret[n].path)) < 0)
                        continue;
                (void)om_cl_mp_get_str(&kv->val, "orchestrate", orch, sizeof(orch));
                (void)om_cl_mp_get_str(&kv->val, "topology", topo, sizeof(topo));
                ret[n].ha = !strcmp(orch, "ha") && !strcmp(topo, "failover");
                ret[n].failed = false;
                n++;
        }
        return n;
}

/* `om node drain [--wait [--time D]]`: freezes this node (no orchestration here, and it
 * is no HA leader any more), then stops here every service instance that runs, one
 * after the other (`stop --local`); the HA failover ones are taken over by the next
 * node. --wait waits until each of those runs on another node. */
static int cmd_drain(struct om_cli_ctx *ctx) {
        static struct drained list[1024];
        struct om_api_reply rep;
        uint64_t limit = 60000;
        const char *tm = om_cli_opt(ctx, "time");
        bool wait = om_cli_flag(ctx, "wait");
        if (tm && !wait)
                return om_cli_usage_error("--time goes with --wait");
        if (tm && (om_parse_duration_ms(tm, &limit) < 0 || limit == 0))
                return om_cli_usage_error("--time '%s' is not a duration (like 2m)", tm);
        int r = om_api_call("node_freeze", 5000, &rep);
        om_api_reply_done(&rep);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return om_cli_fail("no agent answers on this node: drain needs it to hand the "
                                   "services over (om daemon start)");
        if (r < 0)
                return om_cli_fail("the agent refused to freeze the node: %s",
                                   r == -EREMOTEIO ? rep.error : strerror(-r));
        printf("%s frozen\n", om_nodename());
        if ((r = om_api_call("status", 5000, &rep)) < 0 || !rep.data) {
                om_api_reply_done(&rep);
                return om_api_fail(r, &rep);
        }
        size_t n = running_here(rep.data, list, ARRAY_SIZE(list));
        om_api_reply_done(&rep);
        int worst = OM_EXIT_OK;
        for (size_t i = 0; i < n; i++) {
                struct om_path p;
                char err[1024];
                struct om_res_action_opts o = {
                        .waitlock_ms = 60000, .origin = "user", .console = true};
                if (om_path_parse(list[i].path, &p, err, sizeof(err)) < 0 ||
                    om_res_action_run(&p, "stop", &o, err, sizeof(err)) < 0) {
                        fprintf(stderr, "om: drain: %s was not stopped%s%s\n", list[i].path,
                                err[0] ? ": " : " (see its object log)", err);
                        list[i].failed = true;
                        worst = OM_EXIT_FAIL;
                }
        }
        /* the agent reads the new status caches now, not at its next scan */
        (void)om_api_call("rescan", 500, &rep);
        om_api_reply_done(&rep);
        if (!wait)
                return worst;
        uint64_t t0 = om_mono_ms();
        for (size_t i = 0; i < n; i++) {
                char node[OM_CL_NAME_MAX];
                if (list[i].failed || !list[i].ha)
                        continue;
                for (;;) {
                        const char *where = NULL;
                        if (om_api_call("status", 5000, &rep) == 0 && rep.data)
                                where = om_api_status_up_node(rep.data, list[i].path, om_nodename(),
                                                              false, node, sizeof(node));
                        om_api_reply_done(&rep);
                        if (where) {
                                printf("%s up on %s\n", list[i].path, where);
                                break;
                        }
                        if (om_mono_ms() - t0 > limit) {
                                fprintf(stderr, "om: drain: %s runs on no other node after %s\n",
                                        list[i].path, tm ? tm : "60s");
                                worst = OM_EXIT_FAIL;
                                break;
                        }
                        struct timespec ts = {0, 100 * 1000000L};
                        nanosleep(&ts, NULL);
                }
        }
        return worst;
}

static const struct om_cli_cmd node_cmds[] = {
        {"node ls", 0, "format=", cmd_ls,
         "List the nodes: liveness, address, last-seen age, generation, heartbeat."},
        {"node freeze", 0, "", cmd_freeze, "Freeze this node (no orchestration here)."},
        {"node thaw", 0, "", cmd_thaw, "Thaw this node."},
        {"node drain", 0, "wait time=", cmd_drain,
         "Freeze this node and stop what runs here; HA services move to the next node "
         "(--wait: until they run there)."},
};
OM_CLI_REGISTER(node_cmds)
