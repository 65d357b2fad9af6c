/*
 * The local API: a unix stream socket `<run>/api.sock`, mode 0600, whose clients must be
 * root or run as the agent's uid (SO_PEERCRED). Each message is a 4-byte big-endian
 * length then one msgpack map; requests carry {"v":1, "cmd":...}, replies
 * {"v":1, "ok":bool, "error":str | "data":...}. A malformed request gets an error reply;
 * an oversized one an error reply and the connection closed. This file also packs the
 * cluster view that `om mon`, `om node ls` and `om daemon status` render.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "secrets/cluster_key.h"
#include "agent/orchestrator.h"
#include "cluster/cl_mp.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"

#define API_MAX_REQUEST (1u << 20)

struct api_conn {
        uv_pipe_t pipe;
        struct om_agent *agent;
        struct om_buf in;
        bool close_after;
};

struct api_write {
        uv_write_t req;
        struct api_conn *conn;
        msgpack_sbuffer sb;
        bool close_after;
};

static void conn_closed(uv_handle_t *h) {
        struct api_conn *c = container_of((uv_pipe_t *)h, struct api_conn, pipe);
        om_buf_free(&c->in);
        free(c);
}

static void conn_close(struct api_conn *c) {
        if (!uv_is_closing((uv_handle_t *)&c->pipe))
                uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void write_done(uv_write_t *req, int status) {
        struct api_write *w = container_of(req, struct api_write, req);
        if (status < 0 || w->close_after)
                conn_close(w->conn);
        msgpack_sbuffer_destroy(&w->sb);
        free(w);
}

/* Starts a reply: reserves the length prefix; the caller packs one map into pk. */
static struct api_write *reply_begin(struct api_conn *c, msgpack_packer *pk) {
        struct api_write *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->conn = c;
        msgpack_sbuffer_init(&w->sb);
        msgpack_sbuffer_write(&w->sb, "\0\0\0\0", 4);
        msgpack_packer_init(pk, &w->sb, msgpack_sbuffer_write);
        return w;
}

static void reply_send(struct api_write *w, bool close_after) {
        uint32_t n = (uint32_t)(w->sb.size - 4);
        uint8_t *p = (uint8_t *)w->sb.data;
        p[0] = (uint8_t)(n >> 24);
        p[1] = (uint8_t)(n >> 16);
        p[2] = (uint8_t)(n >> 8);
        p[3] = (uint8_t)n;
        w->close_after = close_after;
        uv_buf_t b = uv_buf_init(w->sb.data, (unsigned)w->sb.size);
        if (uv_write(&w->req, (uv_stream_t *)&w->conn->pipe, &b, 1, write_done) < 0) {
                conn_close(w->conn);
                msgpack_sbuffer_destroy(&w->sb);
                free(w);
        }
}

static void reply_error(struct api_conn *c, const char *msg, bool close_after) {
        msgpack_packer pk;
        struct api_write *w = reply_begin(c, &pk);
        if (!w) {
                conn_close(c);
                return;
        }
        msgpack_pack_map(&pk, 3);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_bool(&pk, "ok", false);
        om_cl_mp_kv_str(&pk, "error", msg);
        reply_send(w, close_after);
}

static void reply_ok(struct api_conn *c, bool close_after) {
        msgpack_packer pk;
        struct api_write *w = reply_begin(c, &pk);
        if (!w) {
                conn_close(c);
                return;
        }
        msgpack_pack_map(&pk, 2);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_bool(&pk, "ok", true);
        reply_send(w, close_after);
}

/* ---- the cluster view ---- */

static const struct om_cl_nodedata *node_data(struct om_agent *a, size_t i) {
        if (a->peers[i].self)
                return &a->local;
        return a->peers[i].have_data ? &a->peers[i].data : NULL;
}

static const struct om_cl_instance *find_inst(const struct om_cl_nodedata *nd, const char *path) {
        for (size_t k = 0; nd && k < nd->n_inst; k++)
                if (strcmp(nd->inst[k].path, path) == 0)
                        return &nd->inst[k];
        return NULL;
}

static int cmp_str(const void *x, const void *y) {
        return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char *aggregate(const char *const *v, size_t n) {
        bool up = false, warn = false, down = false, na = n > 0;
        for (size_t i = 0; i < n; i++) {
                up |= om_streq(v[i], "up");
                warn |= om_streq(v[i], "warn");
                down |= om_streq(v[i], "down");
                na &= om_streq(v[i], "n/a");
        }
        return warn ? "warn" : up ? "up" : down ? "down" : na ? "n/a" : "undef";
}

static bool peer_alive(const struct om_peer *p) {
        return p->self || p->state == OM_PEER_UP || p->state == OM_PEER_SUSPECT;
}

static void pack_drops(msgpack_packer *pk, const struct om_hb_stats *st) {
        msgpack_pack_map(pk, _OM_HB_DROP_MAX);
        for (int d = 0; d < _OM_HB_DROP_MAX; d++)
                om_cl_mp_kv_u64(pk, om_hb_drop_to_string(d), st->drops[d]);
}

void om_api_view_pack(struct om_agent *a, msgpack_packer *pk) {
        uint64_t now = uv_now(&a->loop);
        msgpack_pack_map(pk, 5);

        om_cl_mp_str_pack(pk, "cluster");
        bool q_have;
        int q_votes, q_total;
        om_orch_quorum(a, &q_have, &q_votes, &q_total);
        msgpack_pack_map(pk, 7);
        om_cl_mp_kv_str(pk, "name", a->cfg->name);
        om_cl_mp_kv_bool(pk, "quorum", a->cfg->quorum);
        om_cl_mp_kv_bool(pk, "quorum_held", q_have);
        om_cl_mp_kv_i64(pk, "votes", q_votes);
        om_cl_mp_kv_i64(pk, "votes_total", q_total);
        om_cl_mp_kv_str(pk, "node", a->self);
        om_cl_mp_kv_u64(pk, "api_port", a->cfg->api_port);

        char boot[2 * OM_HB_BOOT_ID_LEN + 1];
        om_hex_encode(a->boot_id, OM_HB_BOOT_ID_LEN, boot, sizeof(boot));
        om_cl_mp_str_pack(pk, "daemon");
        msgpack_pack_map(pk, 11);
        om_cl_mp_kv_u64(pk, "pid", (uint64_t)getpid());
        om_cl_mp_kv_u64(pk, "secret_gen", a->keygen);
        om_cl_mp_kv_str(pk, "secret_rotation",
                        a->rotation == OM_ROT_NEXT   ? "next installed"
                        : a->rotation == OM_ROT_PREV ? "previous accepted"
                                                     : "none");
        om_cl_mp_kv_u64(pk, "uptime_ms", now - a->started);
        om_cl_mp_kv_str(pk, "boot_id", boot);
        om_cl_mp_kv_u64(pk, "gen", a->local.gen);
        om_cl_mp_kv_u64(pk, "interval_ms", a->interval);
        om_cl_mp_kv_u64(pk, "timeout_ms", a->timeout);
        om_cl_mp_kv_u64(pk, "stalls", a->stalls);
        om_cl_mp_kv_u64(pk, "peer_api_errors", a->peer_rx_errors);
        om_cl_mp_str_pack(pk, "repl");
        om_repl_pack_stats(a, pk);

        om_cl_mp_str_pack(pk, "hb");
        msgpack_pack_array(pk, a->n_hb);
        for (size_t h = 0; h < a->n_hb; h++) {
                const struct om_hb_stream *s = &a->hb[h];
                msgpack_pack_map(pk, 7);
                om_cl_mp_kv_str(pk, "name", a->cfg->hb[h].name);
                om_cl_mp_kv_str(pk, "type", "unicast");
                om_cl_mp_kv_str(pk, "addr", s->bind);
                om_cl_mp_kv_str(pk, "state", s->running ? "running" : "stopped");
                om_cl_mp_str_pack(pk, "rx");
                msgpack_pack_map(pk, 3);
                om_cl_mp_kv_u64(pk, "frames", s->st.rx_frames);
                om_cl_mp_kv_u64(pk, "bytes", s->st.rx_bytes);
                om_cl_mp_str_pack(pk, "drops");
                pack_drops(pk, &s->st);
                om_cl_mp_str_pack(pk, "tx");
                msgpack_pack_map(pk, 3);
                om_cl_mp_kv_u64(pk, "frames", s->st.tx_frames);
                om_cl_mp_kv_u64(pk, "bytes", s->st.tx_bytes);
                om_cl_mp_kv_u64(pk, "errors", s->st.tx_errors);
                om_cl_mp_str_pack(pk, "peers");
                msgpack_pack_map(pk, a->n_peers - (a->self_idx >= 0));
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_peer *p = &a->peers[i];
                        if (p->self)
                                continue;
                        om_cl_mp_str_pack(pk, p->name);
                        msgpack_pack_map(pk, 2);
                        bool seen = p->last_rx_hb[h] != 0;
                        om_cl_mp_kv_i64(pk, "last_rx_age_ms",
                                        seen ? (int64_t)(now - p->last_rx_hb[h]) : -1);
                        om_cl_mp_kv_str(pk, "rx",
                                        seen && now - p->last_rx_hb[h] <= a->timeout ? "up"
                                                                                     : "down");
                }
        }

        om_cl_mp_str_pack(pk, "nodes");
        msgpack_pack_map(pk, a->n_peers);
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_peer *p = &a->peers[i];
                const struct om_cl_nodedata *nd = node_data(a, i);
                om_cl_mp_str_pack(pk, p->name);
                msgpack_pack_map(pk, 9);
                om_cl_mp_kv_str(pk, "state",
                                p->self                       ? "up"
                                : p->state == OM_PEER_SUSPECT ? "up"
                                                              : om_peer_state_to_string(p->state));
                om_cl_mp_kv_str(pk, "liveness", om_peer_state_to_string(p->state));
                om_cl_mp_kv_bool(pk, "frozen", nd ? nd->frozen : false);
                om_cl_mp_kv_str(pk, "addr", om_cl_config_node_addr(a->cfg, i));
                om_cl_mp_kv_u64(pk, "gen", nd ? nd->gen : 0);
                om_cl_mp_kv_u64(pk, "gen_announced", p->self ? a->local.gen : p->gen_announced);
                om_cl_mp_kv_i64(pk, "last_seen_ms",
                                p->self ? 0
                                : (p->state == OM_PEER_UNKNOWN || !p->last_rx_hb[0])
                                        ? -1
                                        : (int64_t)(now - p->last_rx));
                om_cl_mp_kv_str(pk, "monitor", nd ? nd->state : "unknown");
                om_cl_mp_str_pack(pk, "hb");
                msgpack_pack_map(pk, 2);
                bool rx_up = false;
                for (size_t h = 0; h < a->n_hb; h++)
                        rx_up |= p->last_rx_hb[h] && now - p->last_rx_hb[h] <= a->timeout;
                om_cl_mp_kv_str(pk, "rx", p->self ? "-" : rx_up ? "up" : "down");
                bool tx_up = false;
                for (size_t h = 0; h < a->n_hb; h++)
                        tx_up |= a->hb[h].running;
                om_cl_mp_kv_str(pk, "tx", p->self ? "-" : tx_up ? "up" : "down");
        }

        /* objects: the union of every node's instances */
        char **paths = NULL;
        size_t n_paths = 0;
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_cl_nodedata *nd = node_data(a, i);
                for (size_t k = 0; nd && k < nd->n_inst; k++) {
                        bool dup = false;
                        for (size_t j = 0; j < n_paths && !dup; j++)
                                dup = strcmp(paths[j], nd->inst[k].path) == 0;
                        if (dup)
                                continue;
                        char **np = realloc(paths, (n_paths + 1) * sizeof(*paths));
                        if (!np)
                                break;
                        paths = np;
                        paths[n_paths++] = (char *)nd->inst[k].path;
                }
        }
        if (n_paths)
                qsort(paths, n_paths, sizeof(*paths), cmp_str);
        om_cl_mp_str_pack(pk, "objects");
        msgpack_pack_map(pk, n_paths);
        for (size_t j = 0; j < n_paths; j++) {
                const char *avail[OM_CL_NODES_MAX], *overall[OM_CL_NODES_MAX];
                size_t n = 0;
                int leader = om_orch_leader(a, paths[j]);
                const struct om_cl_instance *tin = NULL;
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_nodedata *nd = node_data(a, i);
                        const struct om_cl_instance *in = find_inst(nd, paths[j]);
                        if (!in)
                                continue;
                        avail[n] = in->avail;
                        overall[n++] = in->overall;
                        if (peer_alive(&a->peers[i]) && in->target_ver &&
                            (!tin || in->target_ver > tin->target_ver))
                                tin = in;
                }
                om_cl_mp_str_pack(pk, paths[j]);
                msgpack_pack_map(pk, 7);
                om_cl_mp_kv_str(pk, "orchestrate", om_orch_orchestrate(a, paths[j]));
                om_cl_mp_kv_str(pk, "topology", om_orch_topology(a, paths[j]));
                om_cl_mp_kv_str(pk, "target", tin && !tin->target_done ? tin->target : "");
                om_cl_mp_kv_str(pk, "last_target", tin ? tin->target : "");
                om_cl_mp_kv_str(pk, "avail", aggregate(avail, n));
                om_cl_mp_kv_str(pk, "overall", aggregate(overall, n));
                om_cl_mp_str_pack(pk, "instances");
                msgpack_pack_map(pk, n);
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_nodedata *nd = node_data(a, i);
                        const struct om_cl_instance *in = find_inst(nd, paths[j]);
                        if (!in)
                                continue;
                        om_cl_mp_str_pack(pk, a->peers[i].name);
                        msgpack_pack_map(pk, 7);
                        om_cl_mp_kv_str(pk, "avail", in->avail);
                        om_cl_mp_kv_str(pk, "overall", in->overall);
                        om_cl_mp_kv_bool(pk, "frozen", in->frozen || nd->frozen);
                        om_cl_mp_kv_bool(pk, "provisioned", in->provisioned);
                        om_cl_mp_kv_str(pk, "monitor", in->monitor[0] ? in->monitor : "idle");
                        om_cl_mp_kv_bool(pk, "ha_leader", leader == (int)i);
                        om_cl_mp_kv_bool(pk, "stale", !peer_alive(&a->peers[i]));
                }
        }
        free(paths);
}

/* ---- requests ---- */

static void handle(struct api_conn *c, const uint8_t *data, size_t len) {
        struct om_agent *a = c->agent;
        msgpack_unpacked u;
        uint64_t v;
        char cmd[64];
        if (om_cl_mp_unpack(data, len, &u) < 0) {
                reply_error(c, "malformed request: not one msgpack object", false);
                return;
        }
        if (u.data.type != MSGPACK_OBJECT_MAP) {
                reply_error(c, "malformed request: not a map", false);
                goto out;
        }
        if (om_cl_mp_get_u64(&u.data, "v", &v) < 0) {
                reply_error(c, "malformed request: no version field", false);
                goto out;
        }
        if (v != 1) {
                reply_error(c, "unsupported request version", false);
                goto out;
        }
        if (om_cl_mp_get_str(&u.data, "cmd", cmd, sizeof(cmd)) < 0) {
                reply_error(c, "malformed request: no cmd", false);
                goto out;
        }
        if (strcmp(cmd, "status") == 0) {
                msgpack_packer pk;
                struct api_write *w = reply_begin(c, &pk);
                if (!w)
                        goto out;
                msgpack_pack_map(&pk, 3);
                om_cl_mp_kv_u64(&pk, "v", 1);
                om_cl_mp_kv_bool(&pk, "ok", true);
                om_cl_mp_str_pack(&pk, "data");
                om_api_view_pack(a, &pk);
                reply_send(w, false);
        } else if (strcmp(cmd, "stop") == 0) {
                om_log_set_component("daemon");
                log_info("stop requested through the API");
                reply_ok(c, true);
                om_agent_stop(a);
        } else if (strcmp(cmd, "node_freeze") == 0 || strcmp(cmd, "node_thaw") == 0) {
                int r = om_cl_node_set_frozen(strcmp(cmd, "node_freeze") == 0);
                if (r < 0)
                        reply_error(c, strerror(-r), false);
                else {
                        om_agent_rescan(a);
                        reply_ok(c, false);
                }
        } else if (om_orch_api_known(cmd)) {
                msgpack_packer pk;
                struct api_write *w = reply_begin(c, &pk);
                if (!w)
                        goto out;
                om_orch_api(a, cmd, &u.data, &pk);
                reply_send(w, false);
        } else if (strcmp(cmd, "rescan") == 0) {
                om_agent_rescan(a);
                reply_ok(c, false);
        } else if (strcmp(cmd, "reload") == 0) {
                int r = om_agent_reload(a);
                if (r < 0)
                        reply_error(c, "cluster.conf reload refused (see the daemon log)", false);
                else
                        reply_ok(c, false);
        } else
                reply_error(c, "unknown cmd", false);
out:
        msgpack_unpacked_destroy(&u);
}

static void api_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rx[65536];
        buf->base = rx;
        buf->len = sizeof(rx);
}

static void api_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
        struct api_conn *c = container_of((uv_pipe_t *)s, struct api_conn, pipe);
        if (nread < 0) {
                conn_close(c);
                return;
        }
        if (c->close_after || om_buf_append(&c->in, buf->base, (size_t)nread) < 0)
                return;
        while (c->in.len >= 4 && !c->close_after) {
                const uint8_t *p = (const uint8_t *)c->in.data;
                uint32_t n =
                        (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
                if (n == 0 || n > API_MAX_REQUEST) {
                        c->close_after = true;
                        uv_read_stop(s);
                        reply_error(c, n ? "request too large" : "empty request", true);
                        return;
                }
                if (c->in.len < 4 + (size_t)n)
                        return;
                handle(c, p + 4, n);
                memmove(c->in.data, c->in.data + 4 + n, c->in.len - 4 - n);
                c->in.len -= 4 + n;
        }
}

static void api_connection(uv_stream_t *server, int status) {
        struct om_agent *a = container_of((uv_pipe_t *)server, struct om_agent, api);
        if (status < 0)
                return;
        struct api_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->agent = a;
        uv_pipe_init(&a->loop, &c->pipe, 0);
        if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
                conn_close(c);
                return;
        }
        uv_os_fd_t fd;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != 0 && cred.uid != getuid())) {
                om_log_set_component("api");
                log_warning("local API connection refused: uid %d is neither root nor %d",
                            (int)cred.uid, (int)getuid());
                conn_close(c);
                return;
        }
        uv_read_start((uv_stream_t *)&c->pipe, api_alloc, api_read);
}

int om_api_local_start(struct om_agent *a) {
        a->api_path = om_asprintf("%s/api.sock", om_dir_run());
        if (!a->api_path)
                return -ENOMEM;
        (void)unlink(a->api_path); /* we hold the pid file lock: any socket here is stale */
        uv_pipe_init(&a->loop, &a->api, 0);
        mode_t old = umask(0177);
        int r = uv_pipe_bind(&a->api, a->api_path);
        umask(old);
        if (r == 0)
                r = chmod(a->api_path, 0600) < 0 ? -errno : 0;
        if (r == 0)
                r = uv_listen((uv_stream_t *)&a->api, 64, api_connection);
        if (r < 0) {
                fprintf(stderr, "om: cannot listen on %s: %s\n", a->api_path, uv_strerror(r));
                return r;
        }
        a->api_bound = true;
        return 0;
}
