/*
 * `om arbitrator run|status|validate`: the arbitrator daemon that gives a cluster's
 * tie-breaking vote to one partition at a time (arbitrator/arbd.h), its status (each
 * cluster it serves, who holds the vote, the lease left, answers and drops by reason),
 * and a check of its config file.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "arbitrator/arbd.h"
#include "cli/api_client.h"
#include "cli/cli.h"
#include "cluster/cl_mp.h"
#include "core/json.h"
#include "core/om.h"
#include "core/util.h"

static int cmd_run(struct om_cli_ctx *ctx) {
        return om_arbd_run() < 0 ? OM_EXIT_FAIL : OM_EXIT_OK;
}

static int cmd_validate(struct om_cli_ctx *ctx) {
        struct om_arbd_conf c;
        char err[512];
        int r = om_arbd_conf_load(ctx->n_args ? ctx->args[0] : NULL, &c, err, sizeof(err));
        if (r < 0)
                return om_cli_fail("%s", r == -EINVAL ? err : strerror(-r));
        printf("arbitrator.conf: ok, udp %s:%u, %zu cluster%s\n", c.addr, c.port, c.n_clusters,
               c.n_clusters > 1 ? "s" : "");
        om_arbd_conf_wipe(&c);
        return OM_EXIT_OK;
}

/* Reads the status the daemon writes on its socket (then closes): at most 4 MiB. */
static int status_read(struct om_buf *out) {
        _cleanup_free_ char *path = om_arbd_sock_path();
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (!path || strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                struct pollfd p = {fd, POLLIN, 0};
                if (poll(&p, 1, 5000) <= 0)
                        return -ETIMEDOUT;
                char buf[8192];
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (out->len + (size_t)n > (4u << 20))
                        return -EFBIG;
                om_buf_append(out, buf, (size_t)n);
        }
}

static uint64_t u_get(const msgpack_object *m, const char *k) {
        uint64_t v = 0;
        (void)om_cl_mp_get_u64(m, k, &v);
        return v;
}

static void names(const msgpack_object *a, char *buf, size_t len) {
        buf[0] = 0;
        for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_ARRAY && i < a->via.array.size; i++) {
                char n[64];
                size_t l = strlen(buf);
                if (om_cl_mp_str(&a->via.array.ptr[i], n, sizeof(n)) == 0)
                        snprintf(buf + l, len - l, "%s%s", l ? " " : "", n);
        }
}

static int cmd_status(struct om_cli_ctx *ctx) {
        const char *fmt;
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        struct om_buf b = {0};
        int r = status_read(&b);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                om_buf_free(&b);
                printf("arbitrator  not running\n");
                return OM_EXIT_FAIL;
        }
        msgpack_unpacked u;
        if (r < 0 || om_cl_mp_unpack(b.data, b.len, &u) < 0) {
                om_buf_free(&b);
                return om_cli_fail("cannot read the arbitrator's status: %s",
                                   strerror(r < 0 ? -r : EBADMSG));
        }
        /* the decoded strings point into b: freed with u */
        if (strcmp(fmt, "text") != 0) {
                struct om_json j;
                om_json_init(&j, fmt);
                om_cl_mp_to_json(&u.data, &j);
                om_json_print(&j, fmt, stdout);
                om_json_free(&j);
                msgpack_unpacked_destroy(&u);
                om_buf_free(&b);
                return OM_EXIT_OK;
        }
        const msgpack_object *a = om_cl_mp_get(&u.data, "arbitrator");
        const msgpack_object *cl = om_cl_mp_get(&u.data, "clusters");
        char name[64] = "?", addr[64] = "?";
        (void)om_cl_mp_get_str(a, "name", name, sizeof(name));
        (void)om_cl_mp_get_str(a, "addr", addr, sizeof(addr));
        printf("arbitrator  running  pid %llu  name %s  udp %s:%llu  uptime %llus\n",
               (unsigned long long)u_get(a, "pid"), name, addr,
               (unsigned long long)u_get(a, "port"),
               (unsigned long long)(u_get(a, "uptime_ms") / 1000));
        printf("  requests %llu  answers %llu  send errors %llu\n",
               (unsigned long long)u_get(a, "rx"), (unsigned long long)u_get(a, "tx"),
               (unsigned long long)u_get(a, "tx_errors"));
        printf("  drops  ");
        om_api_print_drops(om_cl_mp_get(&u.data, "drops"));
        printf("\n");
        for (uint32_t i = 0; cl && cl->type == MSGPACK_OBJECT_ARRAY && i < cl->via.array.size;
             i++) {
                const msgpack_object *c = &cl->via.array.ptr[i];
                char cname[64] = "?", holders[1024];
                bool contest = false;
                (void)om_cl_mp_get_str(c, "name", cname, sizeof(cname));
                (void)om_cl_mp_get_bool(c, "contest", &contest);
                names(om_cl_mp_get(c, "holders"), holders, sizeof(holders));
                printf("cluster %s  lease %llums\n", cname,
                       (unsigned long long)u_get(c, "lease_ms"));
                uint64_t guard = u_get(c, "restart_guard_left_ms");
                if (guard)
                        printf("  vote      none given for %llums more (just started)\n",
                               (unsigned long long)guard);
                else
                        printf("  vote      held by {%s}  lease left %llums%s\n", holders,
                               (unsigned long long)u_get(c, "lease_left_ms"),
                               contest ? "  (contest open)" : "");
                const msgpack_object *rl = om_cl_mp_get(c, "relay");
                printf("  relay     beats in %llu  forwarded %llu  nodes relaying %llu\n",
                       (unsigned long long)u_get(rl, "beats_in"),
                       (unsigned long long)u_get(rl, "beats_out"),
                       (unsigned long long)u_get(rl, "nodes"));
                printf("  answers ");
                om_api_print_drops(om_cl_mp_get(c, "answers"));
                printf("  decisions %llu\n", (unsigned long long)u_get(c, "decisions"));
                printf("  drops   ");
                om_api_print_drops(om_cl_mp_get(c, "drops"));
                printf("\n");
                printf("  fences  ");
                om_api_print_drops(om_cl_mp_get(c, "fence_answers"));
                printf("\n");
                const msgpack_object *mk = om_cl_mp_get(c, "marks");
                for (uint32_t k = 0;
                     mk && mk->type == MSGPACK_OBJECT_ARRAY && k < mk->via.array.size; k++) {
                        const msgpack_object *m = &mk->via.array.ptr[k];
                        char res[64] = "?", out[64] = "?", by[64] = "?", at[40] = "?";
                        (void)om_cl_mp_get_str(m, "res", res, sizeof(res));
                        (void)om_cl_mp_get_str(m, "outdated", out, sizeof(out));
                        (void)om_cl_mp_get_str(m, "by", by, sizeof(by));
                        time_t t = (time_t)(u_get(m, "at") / 1000);
                        struct tm tm;
                        if (gmtime_r(&t, &tm))
                                strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S UTC", &tm);
                        printf("  mark %-16s %s's replica outdated by %s at %s (mark %llu)\n", res,
                               out, by, at, (unsigned long long)u_get(m, "id"));
                }
                const msgpack_object *nodes = om_cl_mp_get(c, "nodes");
                for (uint32_t k = 0;
                     nodes && nodes->type == MSGPACK_OBJECT_ARRAY && k < nodes->via.array.size;
                     k++) {
                        const msgpack_object *n = &nodes->via.array.ptr[k];
                        char nn[64] = "?", view[1024];
                        int64_t last = -1;
                        (void)om_cl_mp_get_str(n, "name", nn, sizeof(nn));
                        (void)om_cl_mp_get_i64(n, "last_request_ms", &last);
                        names(om_cl_mp_get(n, "view"), view, sizeof(view));
                        if (last < 0)
                                printf("  node %-16s never asked (seen in a view)\n", nn);
                        else
                                printf("  node %-16s asked %lld.%llds ago  lease left %llums  "
                                       "services %llu  view {%s}\n",
                                       nn, (long long)(last / 1000), (long long)(last % 1000 / 100),
                                       (unsigned long long)u_get(n, "lease_left_ms"),
                                       (unsigned long long)u_get(n, "services"), view);
                }
        }
        msgpack_unpacked_destroy(&u);
        om_buf_free(&b);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd arbitrator_cmds[] = {
        {"arbitrator run", 0, "", cmd_run,
         "Run the arbitrator (<etc>/arbitrator.conf) in the foreground."},
        {"arbitrator status", 0, "format=", cmd_status,
         "Show each cluster the arbitrator serves, who holds its vote, the lease left, the "
         "fence marks of replicated storage (a node's replica outdated, by which node, "
         "when), and drop counters."},
        {"arbitrator validate", 0, "", cmd_validate,
         "Check the arbitrator's config file (<etc>/arbitrator.conf, or the one given)."},
};
OM_CLI_REGISTER(arbitrator_cmds)
