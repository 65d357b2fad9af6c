/*
 * Service commands: the actions provision, start, stop, restart, unprovision, purge,
 * freeze, thaw and switch, and `print status` / `print devs`. With --local an action runs here
 * through the action engine (resources/action.h), which is also what the agent spawns.
 * Without it the command asks the local agent to set the object's target state (the
 * orchestrated path: see docs/ARCHITECTURE.md), prints the reference's two lines, and with
 * --wait polls the agent until the target is reached (exit 0) or failed (exit 1, with
 * the reason). It never runs an action itself in that case.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "cluster/cl_config.h"
#include "cluster/cl_mp.h"
#include "cluster/frame.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/action.h"
#include "resources/render.h"
#include "resources/res.h"
#include "resources/status.h"

/* The local API socket of the agent. */
#define API_SOCKET_NAME "api.sock"

/* One request to the local agent: {"v":1, "cmd":cmd, "path":path[, "target":target]}. */
static int orch_call(const char *cmd, const char *path, const char *target,
                     struct om_api_reply *rep) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        om_frame_sbuf_begin(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, target ? 4 : 3);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", cmd);
        om_cl_mp_kv_str(&pk, "path", path);
        if (target)
                om_cl_mp_kv_str(&pk, "target", target);
        om_frame_sbuf_end(&sb);
        int r = om_api_call_raw(sb.data, sb.size, 5000, rep);
        msgpack_sbuffer_destroy(&sb);
        return r;
}

/* The failed instances of the object: node, monitor state and reason (the last error of
 * its last action as its node data carries it, "" none). Returns how many, -1 on error. */
struct failed_inst {
        char node[OM_CL_NAME_MAX], mon[64], why[256];
};
static int failed_instances(const char *path, struct failed_inst *out, int max) {
        struct om_api_reply rep;
        if (om_api_call("status", 5000, &rep) < 0 || !rep.data) {
                om_api_reply_done(&rep);
                return -1;
        }
        const msgpack_object *insts =
                om_cl_mp_get(om_cl_mp_get(om_cl_mp_get(rep.data, "objects"), path), "instances");
        int n = 0;
        for (uint32_t k = 0;
             insts && insts->type == MSGPACK_OBJECT_MAP && k < insts->via.map.size && n < max;
             k++) {
                const msgpack_object_kv *kv = &insts->via.map.ptr[k];
                struct failed_inst *f = &out[n];
                memset(f, 0, sizeof(*f));
                if (om_cl_mp_str(&kv->key, f->node, sizeof(f->node)) < 0 ||
                    om_cl_mp_get_str(&kv->val, "monitor", f->mon, sizeof(f->mon)) < 0 ||
                    !strstr(f->mon, "failed"))
                        continue;
                (void)om_cl_mp_get_str(&kv->val, "error", f->why, sizeof(f->why));
                n++;
        }
        om_api_reply_done(&rep);
        return n;
}

/* Under a failed target's line, on stderr, each failing node's reason: the last error of
 * its last action (every node's status cache keeps it and its node data carries it: the
 * failed state may arrive a beat before the reason, so this waits up to 2 s for it), or
 * where to look when it carries none. */
static void explain_failure(struct om_cli_ctx *ctx) {
        struct failed_inst f[64]; /* a cluster's nodes at most */
        int n = -1;
        for (int round = 0; round < 20; round++) {
                n = failed_instances(ctx->pathstr, f, (int)ARRAY_SIZE(f));
                bool all = n >= 0;
                for (int i = 0; i < n; i++)
                        all = all && f[i].why[0];
                if (all)
                        break;
                usleep(100 * 1000);
        }
        for (int i = 0; i < n; i++) {
                if (f[i].why[0])
                        fprintf(stderr, "  %s %s: %s\n", f[i].node, f[i].mon, f[i].why);
                else
                        fprintf(stderr,
                                "  %s %s: the reason is in its object log (om %s logs, on "
                                "%s)\n",
                                f[i].node, f[i].mon, ctx->pathstr, f[i].node);
        }
}

/* The orchestrated path: set the target, print the reference lines, wait if asked. */
static int orchestrate_wait(struct om_cli_ctx *ctx, const char *target, bool wait);
static int orchestrate(struct om_cli_ctx *ctx, const char *target) {
        return orchestrate_wait(ctx, target, om_cli_flag(ctx, "wait"));
}

static int orchestrate_wait(struct om_cli_ctx *ctx, const char *target, bool wait) {
        struct om_api_reply rep;
        char node[64] = "", buf[256];
        uint64_t ver = 0;
        int r = orch_call("object_set", ctx->pathstr, target, &rep);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                om_api_reply_done(&rep);
                _cleanup_free_ char *sock = om_asprintf("%s/%s", om_dir_run(), API_SOCKET_NAME);
                return om_cli_fail("no daemon answers at %s; use --local to run the action on "
                                   "this node",
                                   sock ? sock : API_SOCKET_NAME);
        }
        if (r < 0 || !rep.data) {
                om_api_reply_done(&rep);
                return om_cli_fail("%s: %s", ctx->pathstr,
                                   r == -EREMOTEIO ? rep.error : strerror(-r));
        }
        (void)om_cl_mp_get_str(rep.data, "node", node, sizeof(node));
        (void)om_cl_mp_get_u64(rep.data, "ver", &ver);
        om_api_reply_done(&rep);
        printf("@ n:%s o:%s sc:n\n  %s defer target state set to %s\n", node, ctx->pathstr,
               ctx->pathstr, target);
        fflush(stdout);
        if (!wait)
                return OM_EXIT_OK;
        uint64_t limit = 0, t0 = om_mono_ms();
        const char *tm = om_cli_opt(ctx, "time");
        if (tm && om_parse_duration_ms(tm, &limit) < 0)
                return om_cli_usage_error("--time '%s' is not a duration (like 30s)", tm);
        for (;;) {
                bool done = false, failed = false;
                uint64_t v = 0;
                r = orch_call("object_target", ctx->pathstr, NULL, &rep);
                if (r < 0 || !rep.data) {
                        om_api_reply_done(&rep);
                        return om_cli_fail("%s: lost the agent while waiting: %s", ctx->pathstr,
                                           r == -EREMOTEIO ? rep.error : strerror(-r));
                }
                (void)om_cl_mp_get_u64(rep.data, "ver", &v);
                (void)om_cl_mp_get_bool(rep.data, "done", &done);
                (void)om_cl_mp_get_bool(rep.data, "failed", &failed);
                if (om_cl_mp_get_str(rep.data, "reason", buf, sizeof(buf)) < 0)
                        buf[0] = 0;
                char now_target[80] = "";
                (void)om_cl_mp_get_str(rep.data, "target", now_target, sizeof(now_target));
                om_api_reply_done(&rep);
                if (v != ver)
                        return om_cli_fail("%s: target %s superseded by %s before it was "
                                           "reached",
                                           ctx->pathstr, target, now_target);
                if (done && failed) {
                        om_cli_fail("%s: target %s failed: %s", ctx->pathstr, target, buf);
                        explain_failure(ctx);
                        return OM_EXIT_FAIL;
                }
                if (done)
                        return OM_EXIT_OK;
                if (limit && om_mono_ms() - t0 > limit)
                        return om_cli_fail("%s: target %s not reached within %s", ctx->pathstr,
                                           target, tm);
                usleep(50 * 1000);
        }
}

static const char *target_of(const char *action) {
        static const struct {
                const char *action, *target;
        } m[] = {{"provision", "provisioned"},
                 {"start", "started"},
                 {"stop", "stopped"},
                 {"unprovision", "unprovisioned"},
                 {"purge", "purged"},
                 {"freeze", "frozen"},
                 {"thaw", "thawed"}};
        for (size_t i = 0; i < ARRAY_SIZE(m); i++)
                if (!strcmp(m[i].action, action))
                        return m[i].target;
        return NULL;
}

/* The options of one mode only: --force, --passive, --rid, --tag, --waitlock and
 * --standby act on a local run; --wait and --time on an orchestrated one. Accepted in the
 * other mode they would do nothing, so they are refused, saying why. */
static int check_mode(struct om_cli_ctx *ctx) {
        static const char *const local_only[] = {"force", "passive",  "rid",
                                                 "tag",   "waitlock", "standby"};
        bool local = om_cli_flag(ctx, "local");
        for (size_t i = 0; i < ARRAY_SIZE(local_only); i++)
                if (!local && om_cli_opt(ctx, local_only[i]))
                        return om_cli_usage_error("--%s goes with --local (the agents run an "
                                                  "orchestrated action on every resource, "
                                                  "unforced)",
                                                  local_only[i]);
        if (local && om_cli_flag(ctx, "wait"))
                return om_cli_usage_error("--wait goes without --local (a local action returns "
                                          "when it is done)");
        if (om_cli_opt(ctx, "time") && !om_cli_flag(ctx, "wait"))
                return om_cli_usage_error("--time goes with --wait");
        return 0;
}

/* The node whose instance of the object is up (or warn too, with warn), other than except
 * (NULL: any), in the agent's view ("" when none, or when the object is not a failover
 * one: a flex service is started everywhere). */
static int running_node(struct om_cli_ctx *ctx, const char *except, bool warn, char *ret,
                        size_t len) {
        struct om_api_reply rep;
        char topo[32] = "";
        ret[0] = 0;
        int r = om_api_call("status", 5000, &rep);
        if (r < 0 || !rep.data) {
                om_api_reply_done(&rep);
                return r < 0 ? r : -EIO;
        }
        (void)om_cl_mp_get_str(om_cl_mp_get(om_cl_mp_get(rep.data, "objects"), ctx->pathstr),
                               "topology", topo, sizeof(topo));
        if (!strcmp(topo, "failover") &&
            !om_api_status_up_node(rep.data, ctx->pathstr, except, warn, ret, len))
                ret[0] = 0;
        om_api_reply_done(&rep);
        return 0;
}

/* A start, restart or full provision run here by a user while this node's agent sees
 * the failover service up on another node would make two writers of its volumes: it
 * is refused unless --force (the agent's own actions, OM_ORIGIN=daemon, are its
 * decisions; a passive provision and a standby start open nothing the running node
 * uses). Without an agent (-ENOENT,
 * -ECONNREFUSED) there is no cluster view to ask: the action goes on. */
static int check_elsewhere(struct om_cli_ctx *ctx, const char *action, bool daemon) {
        if (daemon || om_cli_flag(ctx, "force") || om_cli_flag(ctx, "passive") ||
            om_cli_flag(ctx, "standby") ||
            !(om_streq(action, "start") || om_streq(action, "restart") ||
              om_streq(action, "provision")))
                return 0;
        char node[OM_CL_NAME_MAX];
        int r = running_node(ctx, om_nodename(), true, node, sizeof(node));
        if (r == -ENOENT || r == -ECONNREFUSED)
                return 0;
        if (r < 0)
                return om_cli_fail("%s: cannot ask this node's agent where the service runs "
                                   "(%s): --force goes on without it",
                                   ctx->pathstr, strerror(-r));
        if (node[0])
                return om_cli_fail("%s is up on %s as this node's agent last heard: a failover "
                                   "service runs on one node at a time (stop it there, or om "
                                   "%s switch --to %s; --force if %s surely runs nothing)",
                                   ctx->pathstr, node, ctx->pathstr, om_nodename(), node);
        return 0;
}

static int run_action(struct om_cli_ctx *ctx, const char *action) {
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (check_mode(ctx))
                return OM_EXIT_USAGE;
        if (!om_cli_flag(ctx, "local"))
                return orchestrate(ctx, target_of(action));
        bool daemon = getenv("OM_ORIGIN") && !strcmp(getenv("OM_ORIGIN"), "daemon");
        if (check_elsewhere(ctx, action, daemon))
                return OM_EXIT_FAIL;
        struct om_res_action_opts o = {
                .force = om_cli_flag(ctx, "force"),
                .passive = om_cli_flag(ctx, "passive"),
                .rid = om_cli_opt(ctx, "rid"),
                .tag = om_cli_opt(ctx, "tag"),
                .waitlock_ms = 60000,
                .origin = daemon ? "daemon" : "user",
                .console = true,
                .standby = om_streq(action, "start") && om_cli_flag(ctx, "standby"),
        };
        const char *wl = om_cli_opt(ctx, "waitlock");
        if (wl) {
                uint64_t ms;
                if (!strcmp(wl, "-1"))
                        o.waitlock_ms = -1;
                else if (om_parse_duration_ms(wl, &ms) < 0)
                        return om_cli_usage_error("--waitlock '%s' is not a duration (like 10s)",
                                                  wl);
                else
                        o.waitlock_ms = (int64_t)ms;
        }
        char err[1024];
        int r = om_res_action_run(&ctx->path, action, &o, err, sizeof(err));
        if (r == -ENOENT && err[0])
                return om_cli_fail("%s", err);
        if (r == -EINVAL && err[0])
                return om_cli_usage_error("%s", err);
        if (r < 0) {
                if (err[0])
                        fprintf(stderr, "om: %s\n", err);
                return OM_EXIT_FAIL;
        }
        if (!strcmp(action, "purge"))
                printf("purge %s\n", ctx->pathstr);
        return OM_EXIT_OK;
}

/* restart: --local, a stop then a start here under one lock. Orchestrated: the stop
 * target (which freezes, so nothing starts it meanwhile), waited for, then a failover
 * service is placed again on the node that ran it (started where the leader is when
 * it ran nowhere), a flex one started. */
static int cmd_restart(struct om_cli_ctx *ctx) {
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (check_mode(ctx))
                return OM_EXIT_USAGE;
        if (om_cli_flag(ctx, "local"))
                return run_action(ctx, "restart");
        char node[OM_CL_NAME_MAX], target[96];
        int r = running_node(ctx, NULL, false, node, sizeof(node));
        if (r == -ENOENT || r == -ECONNREFUSED)
                return orchestrate(ctx, "stopped"); /* says there is no agent */
        if (r < 0)
                return om_cli_fail("%s: cannot ask the agent where it runs: %s", ctx->pathstr,
                                   strerror(-r));
        if ((r = orchestrate_wait(ctx, "stopped", true)) != OM_EXIT_OK)
                return r;
        if (node[0])
                snprintf(target, sizeof(target), "placed@%s", node);
        return orchestrate(ctx, node[0] ? target : "started");
}

static int cmd_provision(struct om_cli_ctx *ctx) {
        return run_action(ctx, "provision");
}
static int cmd_start(struct om_cli_ctx *ctx) {
        return run_action(ctx, "start");
}
static int cmd_stop(struct om_cli_ctx *ctx) {
        return run_action(ctx, "stop");
}
static int cmd_unprovision(struct om_cli_ctx *ctx) {
        return run_action(ctx, "unprovision");
}
static int cmd_purge(struct om_cli_ctx *ctx) {
        return run_action(ctx, "purge");
}

static int set_frozen(struct om_cli_ctx *ctx, bool frozen) {
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (check_mode(ctx))
                return OM_EXIT_USAGE;
        if (!om_cli_flag(ctx, "local"))
                return orchestrate(ctx, frozen ? "frozen" : "thawed");
        if (!om_object_exists(&ctx->path))
                return om_cli_fail("object %s does not exist", ctx->pathstr);
        int r = om_instance_set_frozen(&ctx->path, frozen);
        if (r < 0)
                return om_cli_fail("%s: cannot %s: %s", ctx->pathstr, frozen ? "freeze" : "thaw",
                                   strerror(-r));
        return OM_EXIT_OK;
}
static int cmd_freeze(struct om_cli_ctx *ctx) {
        return set_frozen(ctx, true);
}
static int cmd_thaw(struct om_cli_ctx *ctx) {
        return set_frozen(ctx, false);
}

static int cmd_switch(struct om_cli_ctx *ctx) {
        const char *to = om_cli_opt(ctx, "to");
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (!to || !to[0])
                return om_cli_usage_error("switch needs --to <node>");
        if (om_cli_opt(ctx, "time") && !om_cli_flag(ctx, "wait"))
                return om_cli_usage_error("--time goes with --wait");
        char target[96];
        snprintf(target, sizeof(target), "placed@%s", to);
        return orchestrate(ctx, target);
}

static int load_svc(struct om_cli_ctx *ctx, struct om_res_svc **ret) {
        char err[512];
        int r = om_res_svc_load(&ctx->path, ret, err, sizeof(err));
        if (r == -ENOENT)
                return om_cli_fail("%s", err);
        if (r < 0)
                return om_cli_usage_error("%s", err[0] ? err : strerror(-r));
        return 0;
}

/* Under the status of an HA failover service, when this node's daemon answers: the
 * placement policy and, for each node, why it is or is not the leader, as that daemon's
 * view has it. Nothing for other services, nor when the daemon runs this command (its
 * status refresh), so the output of those stays the reference's. */
static void print_placement(struct om_cli_ctx *ctx) {
        const char *origin = getenv("OM_ORIGIN");
        if (origin && om_streq(origin, "daemon"))
                return;
        struct om_api_reply rep;
        if (om_api_call("status", 2000, &rep) < 0 || !rep.data) {
                om_api_reply_done(&rep);
                return;
        }
        const msgpack_object *objs = om_cl_mp_get(rep.data, "objects");
        const msgpack_object *ob = objs ? om_cl_mp_get(objs, ctx->pathstr) : NULL;
        const msgpack_object *insts = ob ? om_cl_mp_get(ob, "instances") : NULL;
        char orch[16] = "", topo[16] = "", pl[32] = "", self[64] = "";
        const msgpack_object *cl = om_cl_mp_get(rep.data, "cluster");
        if (cl)
                (void)om_cl_mp_get_str(cl, "node", self, sizeof(self));
        if (!ob || !insts || insts->type != MSGPACK_OBJECT_MAP ||
            om_cl_mp_get_str(ob, "orchestrate", orch, sizeof(orch)) < 0 ||
            om_cl_mp_get_str(ob, "topology", topo, sizeof(topo)) < 0 ||
            om_cl_mp_get_str(ob, "placement", pl, sizeof(pl)) < 0 || !om_streq(orch, "ha") ||
            !om_streq(topo, "failover")) {
                om_api_reply_done(&rep);
                return;
        }
        printf("placement %s, the leader as %s sees it:\n", pl, self[0] ? self : "this node");
        for (uint32_t k = 0; k < insts->via.map.size; k++) {
                char node[64], why[200];
                const msgpack_object_kv *kv = &insts->via.map.ptr[k];
                if (om_cl_mp_str(&kv->key, node, sizeof(node)) < 0 ||
                    om_cl_mp_get_str(&kv->val, "leader_why", why, sizeof(why)) < 0)
                        continue;
                printf("  %-20s %s\n", node, why);
        }
        om_api_reply_done(&rep);
}

static int cmd_print_status(struct om_cli_ctx *ctx) {
        _cleanup_res_svc_ struct om_res_svc *svc = NULL;
        _cleanup_close_ int lock = -1;
        const char *format, *wl = om_cli_opt(ctx, "waitlock");
        int r;
        if (om_cli_format(ctx, &format) < 0)
                return OM_EXIT_USAGE;
        bool legend = om_cli_flag(ctx, "legend");
        if (legend && strcmp(format, "text") != 0)
                return om_cli_usage_error("--legend goes with the text format");
        /* --refresh (-r): what every print status does, the status evaluated now */
        if (wl) {
                /* the daemon's monitor: never a status taken halfway through an action */
                uint64_t ms;
                char err[512];
                if (om_parse_duration_ms(wl, &ms) < 0)
                        return om_cli_usage_error("--waitlock '%s' is not a duration (like 10s)",
                                                  wl);
                if ((r = om_res_action_lock(&ctx->path, "print status", (int64_t)ms, &lock, err,
                                            sizeof(err))) < 0)
                        return om_cli_fail("%s", err);
        }
        if ((r = load_svc(ctx, &svc)))
                return r;
        om_res_svc_eval(svc);
        /* the agent reads this cache; a read-only var (a user's om) must not fail here */
        om_res_svc_save_status(svc);
        if (lock >= 0)
                om_res_action_unlock(&ctx->path, OM_TAKE_FD(lock));
        struct om_buf out = {0};
        if (!strcmp(format, "text"))
                r = om_res_render_status(svc, om_res_term_width(), &out);
        else
                r = om_res_render_status_json(svc, format, &out);
        if (r < 0) {
                om_buf_free(&out);
                return om_cli_fail("out of memory");
        }
        fputs(out.data ? out.data : "", stdout);
        om_buf_free(&out);
        if (!strcmp(format, "text") && !wl)
                print_placement(ctx);
        struct om_buf left = {0};
        if (!strcmp(format, "text") && om_res_svc_partly_provisioned(svc) &&
            om_res_left_provisioned(svc, &left) > 0 && left.data) {
                fflush(stdout);
                fprintf(stderr,
                        "om: partially provisioned: %s stay provisioned from a provision that "
                        "failed; om %s provision --local goes on from there, om %s unprovision "
                        "--local removes them\n",
                        left.data, ctx->pathstr, ctx->pathstr);
        }
        om_buf_free(&left);
        if (legend) {
                printf("\n");
                om_cli_legend_print(stdout, OM_LEGEND_FLAGS);
        }
        return OM_EXIT_OK;
}

static int cmd_print_devs(struct om_cli_ctx *ctx) {
        _cleanup_res_svc_ struct om_res_svc *svc = NULL;
        const char *format;
        int r;
        if (om_cli_format(ctx, &format) < 0)
                return OM_EXIT_USAGE;
        if ((r = load_svc(ctx, &svc)))
                return r;
        struct om_buf out = {0};
        if (!strcmp(format, "text"))
                r = om_res_render_devs(svc, &out);
        else
                r = om_res_render_devs_json(svc, format, &out);
        if (r < 0) {
                om_buf_free(&out);
                return om_cli_fail("out of memory");
        }
        fputs(out.data ? out.data : "", stdout);
        om_buf_free(&out);
        return OM_EXIT_OK;
}

/* om <path> drbd resolve --discard <node> [--rid <rid>]: on this node, under the
 * action lock. */
static int cmd_drbd_resolve(struct om_cli_ctx *ctx) {
        const char *discard = om_cli_opt(ctx, "discard"), *rid = om_cli_opt(ctx, "rid");
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (!discard || !discard[0])
                return om_cli_usage_error("drbd resolve needs --discard <node>: the node whose "
                                          "changes since the split are lost");
        _cleanup_res_svc_ struct om_res_svc *svc = NULL;
        char err[512];
        int r = om_res_svc_load(&ctx->path, &svc, err, sizeof(err));
        if (r < 0)
                return om_cli_fail("%s", err);
        size_t n = 0;
        for (size_t i = 0; i < svc->n_res; i++) {
                struct om_res *x = svc->res[i];
                n += x->drv == &om_res_driver_drbd && (!rid || om_streq(rid, x->rid));
        }
        if (!n)
                return om_cli_fail("%s has no disk.drbd resource%s%s", ctx->pathstr, rid ? " " : "",
                                   rid ? rid : "");
        int lock = -1;
        if ((r = om_res_action_lock(&ctx->path, "drbd resolve", 60000, &lock, err, sizeof(err))) <
            0)
                return om_cli_fail("%s", err);
        _cleanup_free_ char *logfile = om_object_log_path(&ctx->path);
        if (logfile)
                om_log_object_open(ctx->pathstr, logfile);
        om_log_set_console(true); /* what it does and why it refuses, on the terminal too */
        int e = 0;
        for (size_t i = 0; i < svc->n_res && e >= 0; i++) {
                struct om_res *x = svc->res[i];
                if (x->drv != &om_res_driver_drbd || (rid && !om_streq(rid, x->rid)))
                        continue;
                om_log_set_rid(x->rid);
                e = om_res_drbd_resolve(x, discard);
        }
        om_log_set_rid(NULL);
        om_log_object_close();
        om_res_action_unlock(&ctx->path, lock);
        return e < 0 ? OM_EXIT_FAIL : OM_EXIT_OK;
}

#define SVC OM_KIND_BIT(OM_KIND_SVC)
#define ACTION_OPTS "local force rid= tag= waitlock= wait time="

static const struct om_cli_cmd svc_cmds[] = {
        {"provision", SVC, ACTION_OPTS " passive", cmd_provision,
         "Create the resources (files, LUKS, filesystems) and start them."},
        {"start", SVC, ACTION_OPTS " standby", cmd_start,
         "Start the resources in order; a failure stops what the action started."},
        {"stop", SVC, ACTION_OPTS, cmd_stop,
         "Stop the resources in reverse order (standby resources stay up, unless --force)."},
        {"restart", SVC, ACTION_OPTS, cmd_restart,
         "Stop, then start again on the same node (orchestrated: the stop is waited for)."},
        {"unprovision", SVC, ACTION_OPTS, cmd_unprovision,
         "Stop and destroy the resources (data loss)."},
        {"purge", SVC, "local force waitlock= wait time=", cmd_purge,
         "Unprovision, then delete the object (data loss)."},
        {"freeze", SVC, "local wait time=", cmd_freeze,
         "Freeze the instances: the agent starts and stops nothing on its own."},
        {"thaw", SVC, "local wait time=", cmd_thaw, "Thaw the instances."},
        {"switch", SVC, "to= wait time=", cmd_switch,
         "Stop the service where it runs and start it on the node given by --to."},
        {"print status", SVC, "refresh|r format= legend waitlock=", cmd_print_status,
         "Print the instance status tree, evaluated now (and cache it for the agent)."},
        {"drbd resolve", SVC, "discard= rid=", cmd_drbd_resolve,
         "After a DRBD split brain, on each of the two nodes: --discard names the node "
         "whose changes are dropped (resynchronized from the other)."},
        {"print devs", SVC, "format=", cmd_print_devs,
         "Print the devices each resource exposes, sits on and is based on."},
};
OM_CLI_REGISTER(svc_cmds)
