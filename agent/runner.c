/*
 * The action runner: the agent never runs an action on its loop thread (a mkfs or a
 * LUKS open would stall heartbeats); it spawns its own executable as
 * `om <path> <words...> --local` with uv_spawn, in the agent's environment plus
 * OM_ORIGIN=daemon (the object log says "do start --local (daemon origin)") and a fresh
 * OM_SID (one session id per action, as in the reference log lines). The exit status
 * comes back as a callback on the loop. This file knows nothing of monitor states.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/events.h"
#include "agent/metrics.h"
#include "agent/orchestrator.h"
#include "core/log.h"
#include "core/objpath.h"
#include "core/util.h"

extern char **environ;

struct job {
        uv_process_t proc;
        struct om_agent *agent;
        om_orch_run_cb cb;
        void *arg;
        uint64_t started;
        char what[160];
        char path[OM_PATH_STRMAX];
        char action[48];  /* "start", "start --rid fs#0", "status" for a monitor refresh */
        bool status_only; /* a monitor refresh: counted, no event */
};

static void job_closed(uv_handle_t *h) {
        free(container_of((uv_process_t *)h, struct job, proc));
}

static void job_exit(uv_process_t *p, int64_t status, int sig) {
        struct job *j = container_of(p, struct job, proc);
        int st = sig ? 128 + sig : (int)status;
        om_log_set_component("runner");
        uint64_t ms = uv_now(&j->agent->loop) - j->started;
        log_info("%s exited %d after %llums", j->what, st, (unsigned long long)ms);
        char kind[48];
        snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(j->action, " "), j->action);
        om_metrics_action(j->agent, j->status_only ? "status" : kind, st == 0, ms);
        if (!j->status_only) {
                struct om_ev_build b;
                om_events_begin(j->agent, &b, OM_EV_ACTION_END);
                om_ev_path(&b, j->path);
                om_ev_str(&b, "action", j->action);
                om_ev_int(&b, "status", st);
                om_ev_str(&b, "result", st == 0 ? "ok" : "failed");
                om_ev_int(&b, "duration_ms", (int64_t)ms);
                om_events_emit(j->agent, &b);
        }
        if (j->cb)
                j->cb(j->agent, j->arg, st);
        uv_close((uv_handle_t *)p, job_closed);
}

static const char *self_exe(void) {
        static char exe[4096];
        if (!exe[0]) {
                ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
                if (n <= 0)
                        return NULL;
                exe[n] = 0;
        }
        return exe;
}

int om_orch_run(struct om_agent *a, const char *path, const char *const *words, om_orch_run_cb cb,
                void *arg) {
        const char *exe = self_exe();
        char *args[16];
        size_t n = 0, nenv = 0;
        char sid[37], sidenv[48];
        if (!exe)
                return -ENOENT;
        args[n++] = (char *)exe;
        args[n++] = (char *)path;
        for (size_t i = 0; words[i] && n < 13; i++)
                args[n++] = (char *)words[i];
        bool status_only = strcmp(words[0], "print") == 0;
        if (!status_only)
                args[n++] = (char *)"--local";
        args[n] = NULL;

        while (environ[nenv])
                nenv++;
        _cleanup_free_ char **env = calloc(nenv + 3, sizeof(*env));
        if (!env)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < nenv; i++)
                if (!om_startswith(environ[i], "OM_ORIGIN=") &&
                    !om_startswith(environ[i], "OM_SID="))
                        env[k++] = environ[i];
        if (om_uuid4(sid) < 0)
                return -EIO;
        snprintf(sidenv, sizeof(sidenv), "OM_SID=%s", sid);
        env[k++] = (char *)"OM_ORIGIN=daemon";
        env[k++] = sidenv;
        env[k] = NULL;

        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->agent = a;
        j->cb = cb;
        j->arg = arg;
        j->started = uv_now(&a->loop);
        snprintf(j->what, sizeof(j->what), "%s %s%s%s (sid %s)", path, words[0],
                 words[1] ? " " : "", words[1] ? words[1] : "", sid);
        snprintf(j->path, sizeof(j->path), "%s", path);
        snprintf(j->action, sizeof(j->action), "%s", words[0]);
        for (size_t i = 1; words[i] && !status_only; i++) {
                size_t l = strlen(j->action);
                snprintf(j->action + l, sizeof(j->action) - l, " %s", words[i]);
        }
        j->status_only = status_only;
        uv_stdio_container_t stdio[3] = {
                {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
        uv_process_options_t o = {
                .exit_cb = job_exit,
                .file = exe,
                .args = args,
                .env = env,
                .stdio_count = 3,
                .stdio = stdio,
        };
        int r = uv_spawn(&a->loop, &j->proc, &o);
        if (r < 0) {
                om_log_set_component("runner");
                log_error("cannot spawn %s: %s", j->what, uv_strerror(r));
                /* a failed uv_spawn still initialized the handle: close it */
                uv_close((uv_handle_t *)&j->proc, job_closed);
                return r;
        }
        om_log_set_component("runner");
        log_info("%s spawned, pid %d", j->what, j->proc.pid);
        if (!status_only) {
                struct om_ev_build b;
                om_events_begin(a, &b, OM_EV_ACTION_START);
                om_ev_path(&b, path);
                om_ev_str(&b, "action", j->action);
                om_ev_int(&b, "pid", j->proc.pid);
                om_ev_str(&b, "sid", sid);
                om_events_emit(a, &b);
        }
        return 0;
}
