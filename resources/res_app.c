/*
 * app: an application driven by three commands, `start`, `stop` and `check`, each run
 * as a child process (words split like a shell would, but no shell: write
 * `sh -c '...'` for pipelines) with `timeout` and `cwd`, its output in the object log.
 * The status is the check command's exit status: 0 up, anything else down; without a
 * check command the status is n/a. Nothing to provision.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "resources/res.h"

static uint64_t app_timeout(struct om_res *r) {
        _cleanup_free_ char *v = NULL;
        uint64_t ms = 60000;
        if (om_res_kw(r, "timeout", &v, NULL, 0) == 0)
                om_parse_duration_ms(v, &ms);
        return ms;
}

/* Runs the command of keyword key: -ENOENT when not set, else 0 with its exit status. */
static int run(struct om_res *r, const char *key, bool log, int *ret_status) {
        _cleanup_free_ char *cmd = NULL, *cwd = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        char err[512];
        int e = om_res_kw(r, key, &cmd, err, sizeof(err));
        if (e == -ENOENT)
                return -ENOENT;
        if (e < 0)
                return log ? log_error_errno(e, "%s: %s", key, err) : e;
        if ((e = om_res_split_command(cmd, &argv)) < 0)
                return log ? log_error_errno(e, "%s: unterminated quote in '%s'", key, cmd) : e;
        if (!argv[0])
                return -ENOENT;
        if (om_res_kw(r, "cwd", &cwd, NULL, 0) < 0)
                cwd = NULL;
        if (!log) /* status checks write neither to the object log nor the terminal */
                return om_res_exec(argv, app_timeout(r), cwd, true, ret_status);
        log_info("%s", cmd);
        e = om_res_exec(argv, app_timeout(r), cwd, false, ret_status);
        if (e == -ETIME)
                return log_error_errno(e, "%s timed out", cmd);
        if (e < 0)
                return log_error_errno(e, "cannot run %s: %m", cmd);
        return 0;
}

static int app_status(struct om_res *r) {
        int st;
        int e = run(r, "check", false, &st);
        if (e == -ENOENT)
                return OM_RES_NA;
        if (e < 0)
                return OM_RES_UNDEF;
        return st == 0 ? OM_RES_UP : OM_RES_DOWN;
}

static int app_start(struct om_res *r) {
        int st;
        if (app_status(r) == OM_RES_UP) {
                log_info("%s is already up", r->rid);
                return 0;
        }
        int e = run(r, "start", true, &st);
        if (e == -ENOENT)
                return 0;
        if (e < 0)
                return e;
        if (st != 0)
                return log_error_errno(-EIO, "start command exited with status %d", st);
        return 0;
}

static int app_stop(struct om_res *r) {
        int st;
        if (app_status(r) == OM_RES_DOWN) {
                log_info("%s is already down", r->rid);
                return 0;
        }
        int e = run(r, "stop", true, &st);
        if (e == -ENOENT)
                return 0;
        if (e < 0)
                return e;
        if (st != 0)
                return log_error_errno(-EIO, "stop command exited with status %d", st);
        return 0;
}

static char *app_label(struct om_res *r) {
        _cleanup_free_ char *cmd = om_res_kw_label(r, "start");
        return om_asprintf("app %s", cmd && cmd[0] ? cmd : "(no start command)");
}

static const char *const app_keywords[] = {"start", "stop", "check", "timeout", "cwd", NULL};

const struct om_res_driver om_res_driver_app = {
        .group = "app",
        .type = "simple",
        .name = "app",
        .keywords = app_keywords,
        .status = app_status,
        .start = app_start,
        .stop = app_stop,
        .label = app_label,
};
