/*
 * Implementation of hooks.h. A run owns five libuv handles (the process, its stdin,
 * stdout and stderr pipes, the timeout timer); it ends when the last of them is closed,
 * which happens once the process exited (its pipes are closed then too: a grandchild
 * that keeps them open does not hold the slot) or, at the agent's stop, when the loop
 * closes every handle (the process group is then killed).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/hooks.h"
#include "agent/metrics.h"
#include "cluster/cl_event.h"
#include "core/limits.h"
#include "core/log.h"
#include "resources/res.h"

extern char **environ;

struct run {
        struct om_agent *agent;
        char name[24];
        char command[OM_CL_HOOK_CMD_MAX];
        uint64_t timeout_ms;
        char *json;
        uint64_t seq;
        char kind[24];
        uv_process_t proc;
        uv_pipe_t in, out, err;
        uv_timer_t timer;
        uv_write_t wreq;
        int handles; /* open handles: the run ends at 0 */
        bool spawned, exited, timed_out;
        int64_t status;
        int sig;
        uint64_t started;
        char output[OM_LIM_HOOKS_OUTPUT];
        size_t out_len;
        struct run *next;
};

struct om_hooks {
        struct run *head, *tail; /* waiting, oldest first */
        size_t n_waiting, n_running;
};

static struct om_hooks *hooks(struct om_agent *a) {
        if (!a->hooks)
                a->hooks = calloc(1, sizeof(*a->hooks));
        return a->hooks;
}

static void run_start(struct run *r);

static void run_free(struct run *r) {
        free(r->json);
        free(r);
}

static void next_run(struct om_agent *a) {
        struct om_hooks *h = a->hooks;
        while (h && !a->stopping && h->head && h->n_running < OM_LIM_HOOKS_RUNNING) {
                struct run *r = h->head;
                h->head = r->next;
                if (!h->head)
                        h->tail = NULL;
                h->n_waiting--;
                h->n_running++;
                run_start(r);
        }
}

/* The output kept for the log on one line: newlines as " | ", other control
 * characters as spaces. */
static void output_line(const struct run *r, char *buf, size_t len) {
        size_t w = 0;
        for (size_t i = 0; i < r->out_len && w + 4 < len; i++) {
                unsigned char c = (unsigned char)r->output[i];
                if (c == '\n') {
                        if (i + 1 < r->out_len)
                                w += (size_t)snprintf(buf + w, len - w, " | ");
                } else
                        buf[w++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        buf[w] = 0;
}

static void run_end(struct run *r) {
        struct om_agent *a = r->agent;
        const char *result;
        char out[OM_LIM_HOOKS_OUTPUT * 2];
        uint64_t ms = uv_now(&a->loop) - r->started;
        if (r->spawned && !r->exited)
                (void)kill(-r->proc.pid, SIGKILL); /* the agent stops: nothing outlives it */
        output_line(r, out, sizeof(out));
        om_log_set_component("hook");
        if (!r->spawned)
                result = "spawn_error";
        else if (r->timed_out)
                result = "timeout";
        else if (r->exited && r->status == 0 && r->sig == 0)
                result = "ok";
        else
                result = "failed";
        if (om_streq(result, "ok"))
                log_info("%s ran for event %llu (%s): ok after %llums", r->name,
                         (unsigned long long)r->seq, r->kind, (unsigned long long)ms);
        else if (om_streq(result, "spawn_error"))
                log_warning("%s for event %llu (%s): cannot run '%s': %s", r->name,
                            (unsigned long long)r->seq, r->kind, r->command, out);
        else if (r->timed_out)
                log_warning("%s for event %llu (%s): killed after its timeout of %llums%s%s",
                            r->name, (unsigned long long)r->seq, r->kind,
                            (unsigned long long)r->timeout_ms, out[0] ? "; output: " : "", out);
        else if (!r->exited)
                log_warning("%s for event %llu (%s): stopped with the agent", r->name,
                            (unsigned long long)r->seq, r->kind);
        else
                log_warning("%s for event %llu (%s): failed, %s %lld after %llums%s%s", r->name,
                            (unsigned long long)r->seq, r->kind, r->sig ? "signal" : "exit status",
                            (long long)(r->sig ? r->sig : r->status), (unsigned long long)ms,
                            out[0] ? "; output: " : "", out);
        om_metrics_hook(a, result);
        if (a->hooks)
                a->hooks->n_running--;
        run_free(r);
        next_run(a);
}

static void handle_closed(uv_handle_t *h) {
        struct run *r = h->data;
        if (--r->handles == 0)
                run_end(r);
}

static void close_once(uv_handle_t *h) {
        if (!uv_is_closing(h))
                uv_close(h, handle_closed);
}

static void close_all(struct run *r) {
        close_once((uv_handle_t *)&r->proc);
        close_once((uv_handle_t *)&r->in);
        close_once((uv_handle_t *)&r->out);
        close_once((uv_handle_t *)&r->err);
        close_once((uv_handle_t *)&r->timer);
}

static void proc_exit(uv_process_t *p, int64_t status, int sig) {
        struct run *r = p->data;
        r->exited = true;
        r->status = status;
        r->sig = sig;
        close_all(r);
}

/* Before the process handle exists: the pipes and the timer only. */
static void close_unspawned(struct run *r) {
        r->handles = 4;
        close_once((uv_handle_t *)&r->in);
        close_once((uv_handle_t *)&r->out);
        close_once((uv_handle_t *)&r->err);
        close_once((uv_handle_t *)&r->timer);
}

static void on_timeout(uv_timer_t *t) {
        struct run *r = t->data;
        r->timed_out = true;
        (void)kill(-r->proc.pid, SIGKILL); /* its own process group (a new session) */
}

static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rx[4096];
        buf->base = rx;
        buf->len = sizeof(rx);
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
        struct run *r = s->data;
        if (n < 0) {
                close_once((uv_handle_t *)s);
                return;
        }
        size_t keep = OM_MIN((size_t)n, sizeof(r->output) - r->out_len);
        memcpy(r->output + r->out_len, buf->base, keep);
        r->out_len += keep;
}

static void in_written(uv_write_t *w, int status) {
        struct run *r = w->data;
        /* EOF for the command (a command that does not read gets EPIPE here: fine) */
        close_once((uv_handle_t *)&r->in);
}

static void run_start(struct run *r) {
        struct om_agent *a = r->agent;
        uv_loop_t *loop = &a->loop;
        char kindenv[64], seqenv[48];
        _cleanup_strv_free_ char **argv = NULL;
        size_t nenv = 0;
        r->started = uv_now(loop);
        uv_pipe_init(loop, &r->in, 0);
        uv_pipe_init(loop, &r->out, 0);
        uv_pipe_init(loop, &r->err, 0);
        uv_timer_init(loop, &r->timer);
        r->proc.data = r->in.data = r->out.data = r->err.data = r->timer.data = r->wreq.data = r;
        r->handles = 5;
        if (om_res_split_command(r->command, &argv) < 0 || !argv[0]) {
                /* checked when cluster.conf was read: only memory can fail here */
                snprintf(r->output, sizeof(r->output), "cannot split the command");
                r->out_len = strlen(r->output);
                close_unspawned(r);
                return;
        }
        while (environ[nenv])
                nenv++;
        _cleanup_free_ char **env = calloc(nenv + 3, sizeof(*env));
        if (!env) {
                close_unspawned(r);
                return;
        }
        size_t k = 0;
        for (size_t i = 0; i < nenv; i++)
                if (!om_startswith(environ[i], "OM_EVENT_KIND=") &&
                    !om_startswith(environ[i], "OM_EVENT_SEQ="))
                        env[k++] = environ[i];
        snprintf(kindenv, sizeof(kindenv), "OM_EVENT_KIND=%s", r->kind);
        snprintf(seqenv, sizeof(seqenv), "OM_EVENT_SEQ=%llu", (unsigned long long)r->seq);
        env[k++] = kindenv;
        env[k++] = seqenv;
        env[k] = NULL;
        uv_stdio_container_t stdio[3] = {
                {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&r->in},
                {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out},
                {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->err},
        };
        uv_process_options_t o = {
                .exit_cb = proc_exit,
                .file = argv[0],
                .args = argv,
                .env = env,
                .stdio_count = 3,
                .stdio = stdio,
                .flags = UV_PROCESS_DETACHED, /* a session, so a process group, of its own */
        };
        int e = uv_spawn(loop, &r->proc, &o);
        if (e < 0) {
                snprintf(r->output, sizeof(r->output), "%s", uv_strerror(e));
                r->out_len = strlen(r->output);
                close_all(r); /* a failed uv_spawn still initialized the handle */
                return;
        }
        r->spawned = true;
        uv_timer_start(&r->timer, on_timeout, r->timeout_ms, 0);
        uv_read_start((uv_stream_t *)&r->out, out_alloc, out_read);
        uv_read_start((uv_stream_t *)&r->err, out_alloc, out_read);
        uv_buf_t b = uv_buf_init(r->json, (unsigned)strlen(r->json));
        if (uv_write(&r->wreq, (uv_stream_t *)&r->in, &b, 1, in_written) < 0)
                close_once((uv_handle_t *)&r->in);
}

void om_hooks_event(struct om_agent *a, const struct om_event *e) {
        const struct om_cl_config *cfg = a->cfg;
        for (size_t i = 0; cfg && i < cfg->n_hooks && !a->stopping; i++) {
                if (!(cfg->hooks[i].kinds & (1u << e->kind)))
                        continue;
                struct om_hooks *h = hooks(a);
                if (!h)
                        return;
                if (h->n_waiting >= OM_LIM_HOOKS_WAITING) {
                        om_log_set_component("hook");
                        log_warning("%s for event %llu (%s): dropped, %d runs already wait",
                                    cfg->hooks[i].name, (unsigned long long)e->seq,
                                    om_ev_kind_to_string(e->kind), OM_LIM_HOOKS_WAITING);
                        om_metrics_hook(a, "dropped");
                        continue;
                }
                struct run *r = calloc(1, sizeof(*r));
                if (!r || !(r->json = om_asprintf("%s\n", e->json))) {
                        free(r);
                        om_metrics_hook(a, "dropped");
                        continue;
                }
                r->agent = a;
                snprintf(r->name, sizeof(r->name), "%s", cfg->hooks[i].name);
                snprintf(r->command, sizeof(r->command), "%s", cfg->hooks[i].command);
                snprintf(r->kind, sizeof(r->kind), "%s", om_ev_kind_to_string(e->kind));
                r->timeout_ms = cfg->hooks[i].timeout_ms;
                r->seq = e->seq;
                if (h->tail)
                        h->tail->next = r;
                else
                        h->head = r;
                h->tail = r;
                h->n_waiting++;
        }
        next_run(a);
}

void om_hooks_free(struct om_agent *a) {
        struct om_hooks *h = a->hooks;
        if (!h)
                return;
        while (h->head) {
                struct run *r = h->head;
                h->head = r->next;
                run_free(r);
        }
        free(h);
        a->hooks = NULL;
}
