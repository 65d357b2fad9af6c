/*
 * `om daemon run|start|stop|status`: run the agent in the foreground, start it detached
 * (and wait until its API answers), stop it through its API (SIGTERM when the API does
 * not answer), and show its heartbeat streams, peers' last-seen ages and drop counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cluster/cl_mp.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/paths.h"
#include "core/util.h"

static int cmd_run(struct om_cli_ctx *ctx) {
        int r = om_agent_run();
        return r < 0 ? OM_EXIT_FAIL : OM_EXIT_OK;
}

static pid_t read_pid(void) {
        _cleanup_free_ char *file = om_asprintf("%s/daemon.pid", om_dir_run());
        _cleanup_free_ char *txt = NULL;
        long long pid;
        if (!file || om_read_file(file, 64, &txt, NULL) < 0 ||
            om_parse_int(om_strstrip(txt), 1, 1 << 30, &pid) < 0)
                return -1;
        return (pid_t)pid;
}

static bool api_answers(void) {
        struct om_api_reply rep;
        int r = om_api_call("status", 1000, &rep);
        om_api_reply_done(&rep);
        return r == 0;
}

static int cmd_start(struct om_cli_ctx *ctx) {
        char exe[4096];
        int pfd[2];
        if (api_answers()) {
                printf("om: the agent already runs (pid %d)\n", (int)read_pid());
                return OM_EXIT_OK;
        }
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return om_cli_fail("cannot find the om binary: %s", strerror(errno));
        exe[n] = 0;
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return om_cli_fail("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
                return om_cli_fail("fork: %s", strerror(errno));
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                setsid();
                if (null >= 0) {
                        dup2(null, 0);
                        dup2(null, 1);
                }
                dup2(pfd[1], 2); /* start-up errors reach `om daemon start` */
                execl(exe, exe, "daemon", "run", (char *)NULL);
                _exit(127);
        }
        close(pfd[1]);
        fcntl(pfd[0], F_SETFL, O_NONBLOCK);
        struct om_buf errtxt = {0};
        uint64_t deadline = om_mono_ms() + 15000;
        int status;
        while (om_mono_ms() < deadline) {
                char buf[512];
                ssize_t k;
                while ((k = read(pfd[0], buf, sizeof(buf))) > 0)
                        om_buf_append(&errtxt, buf, (size_t)k);
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        while ((k = read(pfd[0], buf, sizeof(buf))) > 0)
                                om_buf_append(&errtxt, buf, (size_t)k);
                        fputs(errtxt.data ? errtxt.data : "", stderr);
                        om_buf_free(&errtxt);
                        close(pfd[0]);
                        return om_cli_fail("the agent did not start (exit status %d)",
                                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                }
                if (api_answers()) {
                        om_buf_free(&errtxt);
                        close(pfd[0]);
                        printf("om: agent started (pid %d)\n", (int)pid);
                        return OM_EXIT_OK;
                }
                poll(NULL, 0, 50);
        }
        om_buf_free(&errtxt);
        close(pfd[0]);
        return om_cli_fail("the agent (pid %d) did not answer within 15s", (int)pid);
}

static int cmd_stop(struct om_cli_ctx *ctx) {
        pid_t pid = read_pid();
        struct om_api_reply rep;
        int r = om_api_call("stop", 3000, &rep);
        om_api_reply_done(&rep);
        if (r < 0) {
                if (pid <= 0 || kill(pid, 0) < 0) {
                        printf("om: no agent runs\n");
                        return OM_EXIT_OK;
                }
                if (kill(pid, SIGTERM) < 0)
                        return om_cli_fail("cannot signal pid %d: %s", (int)pid, strerror(errno));
        }
        uint64_t deadline = om_mono_ms() + 15000;
        while (pid > 0 && kill(pid, 0) == 0) {
                if (om_mono_ms() > deadline)
                        return om_cli_fail("the agent (pid %d) did not stop within 15s", (int)pid);
                poll(NULL, 0, 20);
        }
        printf("om: agent stopped\n");
        return OM_EXIT_OK;
}

/* `om daemon metrics`: the agent's metrics in the Prometheus text format, as an HTTP
 * scraper gets them (agent/metrics.h). */
static int cmd_metrics(struct om_cli_ctx *ctx) {
        struct om_api_reply rep;
        const msgpack_object *t;
        int r = om_api_call("metrics", 5000, &rep);
        if (r < 0 || !rep.data || !(t = om_cl_mp_get(rep.data, "text")) ||
            t->type != MSGPACK_OBJECT_STR)
                return om_api_fail(r < 0 ? r : -EBADMSG, &rep);
        fwrite(t->via.str.ptr, 1, t->via.str.size, stdout);
        om_api_reply_done(&rep);
        return fflush(stdout) == EOF ? OM_EXIT_FAIL : OM_EXIT_OK;
}

static void print_age(int64_t ms, char *buf, size_t len) {
        if (ms < 0)
                snprintf(buf, len, "never");
        else
                snprintf(buf, len, "%lld.%llds ago", (long long)(ms / 1000),
                         (long long)(ms % 1000 / 100));
}

static void s_get(const msgpack_object *m, const char *k, char *buf, size_t len) {
        if (om_cl_mp_get_str(m, k, buf, len) < 0)
                snprintf(buf, len, "?");
}

static uint64_t u_get(const msgpack_object *m, const char *k) {
        uint64_t v = 0;
        (void)om_cl_mp_get_u64(m, k, &v);
        return v;
}

static int64_t i_get(const msgpack_object *m, const char *k) {
        int64_t v = -1;
        (void)om_cl_mp_get_i64(m, k, &v);
        return v;
}

static int print_json(const msgpack_object *o, const char *fmt) {
        struct om_json j;
        om_json_init(&j, fmt);
        om_cl_mp_to_json(o, &j);
        om_json_print(&j, fmt, stdout);
        om_json_free(&j);
        return OM_EXIT_OK;
}

static int cmd_status(struct om_cli_ctx *ctx) {
        const char *fmt;
        struct om_api_reply rep;
        char s1[128], s2[128];
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        int r = om_api_call("status", 5000, &rep);
        if (r < 0 || !rep.data) {
                om_api_reply_done(&rep);
                if ((r == -ENOENT || r == -ECONNREFUSED) && strcmp(fmt, "text") != 0)
                        return om_cli_fail("daemon not running (om daemon start starts it)");
                if (r == -ENOENT || r == -ECONNREFUSED) {
                        printf("daemon    not running\n");
                        return OM_EXIT_FAIL;
                }
                return om_api_fail(r, &rep);
        }
        if (strcmp(fmt, "text") != 0) {
                print_json(rep.data, fmt);
                om_api_reply_done(&rep);
                return OM_EXIT_OK;
        }
        const msgpack_object *d = om_cl_mp_get(rep.data, "daemon");
        const msgpack_object *cl = om_cl_mp_get(rep.data, "cluster");
        const msgpack_object *hb = om_cl_mp_get(rep.data, "hb");
        const msgpack_object *nodes = om_cl_mp_get(rep.data, "nodes");
        s_get(cl, "node", s1, sizeof(s1));
        s_get(cl, "name", s2, sizeof(s2));
        printf("daemon    running  pid %llu  node %s  cluster %s  uptime %llus\n",
               (unsigned long long)u_get(d, "pid"), s1, s2,
               (unsigned long long)(u_get(d, "uptime_ms") / 1000));
        printf("          node data gen %llu  interval %llums  timeout %llums  loop stalls %llu  "
               "peer api errors %llu\n",
               (unsigned long long)u_get(d, "gen"), (unsigned long long)u_get(d, "interval_ms"),
               (unsigned long long)u_get(d, "timeout_ms"), (unsigned long long)u_get(d, "stalls"),
               (unsigned long long)u_get(d, "peer_api_errors"));
        s_get(d, "secret_rotation", s1, sizeof(s1));
        printf("          secret generation %llu%s%s\n", (unsigned long long)u_get(d, "secret_gen"),
               strcmp(s1, "none") ? ", rotation: " : "", strcmp(s1, "none") ? s1 : "");
        const msgpack_object *rp = om_cl_mp_get(d, "repl");
        if (rp)
                printf("repl      installed %llu  deleted %llu  refused %llu  fetched %llu  "
                       "stale %llu  out of scope %llu  errors %llu  served %llu\n",
                       (unsigned long long)u_get(rp, "installed"),
                       (unsigned long long)u_get(rp, "deleted"),
                       (unsigned long long)u_get(rp, "refused"),
                       (unsigned long long)u_get(rp, "fetched"),
                       (unsigned long long)u_get(rp, "stale"),
                       (unsigned long long)u_get(rp, "out_of_scope"),
                       (unsigned long long)u_get(rp, "errors"),
                       (unsigned long long)u_get(rp, "served"));
        static const char *const apis[][2] = {{"peer_api", "peer api"}, {"local_api", "local api"}};
        for (size_t i = 0; i < 2; i++) {
                const msgpack_object *ap = om_cl_mp_get(d, apis[i][0]);
                if (!ap)
                        continue;
                printf("%-9s connections %llu  served %llu  refused", apis[i][1],
                       (unsigned long long)u_get(ap, "connections"),
                       (unsigned long long)u_get(ap, "served"));
                om_api_print_drops(om_cl_mp_get(ap, "drops"));
                printf("\n");
        }
        const msgpack_object *hp = om_cl_mp_get(d, "http");
        if (hp && hp->type == MSGPACK_OBJECT_MAP) {
                char haddr[96];
                s_get(hp, "addr", haddr, sizeof(haddr));
                printf("http      %s  connections %llu  requests %llu  waiting %llu  refused",
                       haddr, (unsigned long long)u_get(hp, "connections"),
                       (unsigned long long)u_get(hp, "requests"),
                       (unsigned long long)u_get(hp, "waiting"));
                om_api_print_drops(om_cl_mp_get(hp, "drops"));
                printf("\n");
        }
        for (uint32_t i = 0; hb && hb->type == MSGPACK_OBJECT_ARRAY && i < hb->via.array.size;
             i++) {
                const msgpack_object *h = &hb->via.array.ptr[i];
                const msgpack_object *rx = om_cl_mp_get(h, "rx"), *tx = om_cl_mp_get(h, "tx");
                const msgpack_object *drops = om_cl_mp_get(rx, "drops");
                char name[32], addr[96], state[32];
                s_get(h, "name", name, sizeof(name));
                s_get(h, "addr", addr, sizeof(addr));
                s_get(h, "state", state, sizeof(state));
                char type[16];
                s_get(h, "type", type, sizeof(type));
                printf("%-9s %-8s %s  %s  rcvbuf %llu KiB\n", name, type, addr, state,
                       (unsigned long long)u_get(h, "rcvbuf") / 1024);
                const msgpack_object *io = om_cl_mp_get(h, "io");
                if (io) { /* a disk stream */
                        char derr[320];
                        s_get(h, "error", derr, sizeof(derr));
                        printf("  io      reads %llu (%llu bytes)  writes %llu (%llu bytes)  "
                               "busy %llu%s%s\n",
                               (unsigned long long)u_get(io, "reads"),
                               (unsigned long long)u_get(io, "read_bytes"),
                               (unsigned long long)u_get(io, "writes"),
                               (unsigned long long)u_get(io, "write_bytes"),
                               (unsigned long long)u_get(io, "busy"), derr[0] ? "\n  error   " : "",
                               derr);
                }
                printf("  rx      frames %llu  bytes %llu\n",
                       (unsigned long long)u_get(rx, "frames"),
                       (unsigned long long)u_get(rx, "bytes"));
                printf("  drops  ");
                om_api_print_drops(drops);
                printf("\n  tx      frames %llu  bytes %llu  errors %llu\n",
                       (unsigned long long)u_get(tx, "frames"),
                       (unsigned long long)u_get(tx, "bytes"),
                       (unsigned long long)u_get(tx, "errors"));
                const msgpack_object *peers = om_cl_mp_get(h, "peers");
                for (uint32_t k = 0;
                     peers && peers->type == MSGPACK_OBJECT_MAP && k < peers->via.map.size; k++) {
                        char pn[64], prx[16], age[32];
                        const msgpack_object_kv *kv = &peers->via.map.ptr[k];
                        if (om_cl_mp_str(&kv->key, pn, sizeof(pn)) < 0)
                                continue;
                        s_get(&kv->val, "rx", prx, sizeof(prx));
                        print_age(i_get(&kv->val, "last_rx_age_ms"), age, sizeof(age));
                        printf("  peer    %-16s rx %-5s last frame %s\n", pn, prx, age);
                }
        }
        const msgpack_object *arbs = om_cl_mp_get(rep.data, "arbitrators");
        for (uint32_t i = 0; arbs && arbs->type == MSGPACK_OBJECT_ARRAY && i < arbs->via.array.size;
             i++) {
                const msgpack_object *ar = &arbs->via.array.ptr[i];
                char name[32], uri[256], vote[16], ans[16], why[16], holders[512], age[32];
                s_get(ar, "name", name, sizeof(name));
                s_get(ar, "uri", uri, sizeof(uri));
                s_get(ar, "vote", vote, sizeof(vote));
                s_get(ar, "answer", ans, sizeof(ans));
                s_get(ar, "reason", why, sizeof(why));
                s_get(ar, "holders", holders, sizeof(holders));
                print_age(i_get(ar, "last_answer_ms"), age, sizeof(age));
                printf("%-9s %s  weight %lld  vote %s  lease left %llums\n", name, uri,
                       (long long)i_get(ar, "weight"), vote,
                       (unsigned long long)u_get(ar, "lease_left_ms"));
                printf("  answer  %s%s%s  holders {%s}  their lease %llums  last %s\n",
                       ans[0] ? ans : "none", strcmp(why, "none") && why[0] ? " " : "",
                       strcmp(why, "none") && why[0] ? why : "", holders,
                       (unsigned long long)u_get(ar, "holder_lease_left_ms"), age);
                printf("  tx      requests %llu\n  rx      answers %llu\n  drops  ",
                       (unsigned long long)u_get(ar, "tx"),
                       (unsigned long long)u_get(om_cl_mp_get(ar, "rx"), "frames"));
                om_api_print_drops(om_cl_mp_get(om_cl_mp_get(ar, "rx"), "drops"));
                printf("\n");
        }
        printf("nodes\n");
        for (uint32_t k = 0; nodes && nodes->type == MSGPACK_OBJECT_MAP && k < nodes->via.map.size;
             k++) {
                char pn[64], st[16], age[32];
                const msgpack_object_kv *kv = &nodes->via.map.ptr[k];
                if (om_cl_mp_str(&kv->key, pn, sizeof(pn)) < 0)
                        continue;
                s_get(&kv->val, "liveness", st, sizeof(st));
                print_age(i_get(&kv->val, "last_seen_ms"), age, sizeof(age));
                printf("  %-16s %-8s last seen %-12s gen %llu\n", pn, st,
                       strcmp(pn, s1) == 0 ? "(self)" : age,
                       (unsigned long long)u_get(&kv->val, "gen"));
        }
        om_api_reply_done(&rep);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd daemon_cmds[] = {
        {"daemon run", 0, "", cmd_run, "Run the agent in the foreground."},
        {"daemon start", 0, "", cmd_start, "Start the agent in the background."},
        {"daemon stop", 0, "", cmd_stop, "Stop the agent."},
        {"daemon metrics", 0, "", cmd_metrics,
         "Print the agent's metrics in the Prometheus text format (what /metrics serves)."},
        {"daemon status", 0, "format=", cmd_status,
         "Show the agent, its heartbeat streams, peers and drop counters."},
};
OM_CLI_REGISTER(daemon_cmds)
