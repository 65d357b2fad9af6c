/*
 * Service commands: the actions provision, start, stop, unprovision and purge, and
 * `print status` / `print devs`. With --local an action runs here through the action
 * engine (resources/action.h), which is also what the agent spawns; without it the
 * command must go through the daemon, which this file only looks for: the API client
 * belongs to the agent work.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/action.h"
#include "resources/render.h"
#include "resources/res.h"

/* The local API socket of the agent (DESIGN section 6). */
#define API_SOCKET_NAME "api.sock"

static bool daemon_answers(const char *sock) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

static int run_action(struct om_cli_ctx *ctx, const char *action) {
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (!om_cli_flag(ctx, "local")) {
                _cleanup_free_ char *sock = om_asprintf("%s/%s", om_dir_run(), API_SOCKET_NAME);
                if (!sock)
                        return om_cli_fail("out of memory");
                if (daemon_answers(sock))
                        return om_cli_fail("%s: the daemon at %s answers, but orchestrated actions "
                                           "are not wired yet; use --local to run the action on "
                                           "this node",
                                           ctx->pathstr, sock);
                return om_cli_fail("no daemon answers at %s; use --local to run the action on "
                                   "this node",
                                   sock);
        }
        struct om_res_action_opts o = {
                .force = om_cli_flag(ctx, "force"),
                .rid = om_cli_opt(ctx, "rid"),
                .waitlock_ms = 60000,
                .origin = getenv("OM_ORIGIN") && !strcmp(getenv("OM_ORIGIN"), "daemon") ? "daemon"
                                                                                        : "user",
                .console = true,
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

static int load_svc(struct om_cli_ctx *ctx, struct om_res_svc **ret) {
        char err[512];
        int r = om_res_svc_load(&ctx->path, ret, err, sizeof(err));
        if (r == -ENOENT)
                return om_cli_fail("%s", err);
        if (r < 0)
                return om_cli_usage_error("%s", err[0] ? err : strerror(-r));
        return 0;
}

static int cmd_print_status(struct om_cli_ctx *ctx) {
        _cleanup_res_svc_ struct om_res_svc *svc = NULL;
        const char *format;
        int r;
        if (om_cli_format(ctx, &format) < 0)
                return OM_EXIT_USAGE;
        if ((r = load_svc(ctx, &svc)))
                return r;
        om_res_svc_eval(svc);
        /* the agent reads this cache; a read-only var (a user's om) must not fail here */
        om_res_svc_save_status(svc);
        struct om_buf out = {0};
        if (!strcmp(format, "text"))
                r = om_res_render_status(svc, om_res_term_width(), &out);
        else
                r = om_res_render_status_json(svc, &out);
        if (r < 0) {
                om_buf_free(&out);
                return om_cli_fail("out of memory");
        }
        fputs(out.data ? out.data : "", stdout);
        om_buf_free(&out);
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
                r = om_res_render_devs_json(svc, &out);
        if (r < 0) {
                om_buf_free(&out);
                return om_cli_fail("out of memory");
        }
        fputs(out.data ? out.data : "", stdout);
        om_buf_free(&out);
        return OM_EXIT_OK;
}

#define SVC OM_KIND_BIT(OM_KIND_SVC)
#define ACTION_OPTS "local force rid= waitlock="

static const struct om_cli_cmd svc_cmds[] = {
        {"provision", SVC, ACTION_OPTS, cmd_provision,
         "Create the resources (files, LUKS, filesystems) and start them."},
        {"start", SVC, ACTION_OPTS, cmd_start,
         "Start the resources in order; a failure stops what the action started."},
        {"stop", SVC, ACTION_OPTS, cmd_stop, "Stop the resources in reverse order."},
        {"unprovision", SVC, ACTION_OPTS, cmd_unprovision,
         "Stop and destroy the resources (data loss)."},
        {"purge", SVC, "local force waitlock=", cmd_purge,
         "Unprovision, then delete the object (data loss)."},
        {"print status", SVC, "recursive|r format=", cmd_print_status,
         "Print the instance status tree (and cache it for the agent)."},
        {"print devs", SVC, "format=", cmd_print_devs,
         "Print the devices each resource exposes, sits on and is based on."},
};
OM_CLI_REGISTER(svc_cmds)
