/*
 * The peer API: TCP on the node's cluster address and `[cluster] api_port`, one sealed
 * request and one sealed reply per connection, each a 4-byte big-endian length then a
 * frame of cluster/hb_frame.h (type request or reply, key "peerapi_"). A reply echoes
 * the request's sequence, so a recorded reply cannot answer another request. Requests:
 * "nodedata" (a peer behind on our generation pulls our node data), "join" (a new node
 * asks to be added; it knows the secret, not yet a member) and "setconf" (a member
 * distributes cluster.conf after a join) and "objget" (a peer fetches an object's config
 * file to replicate it, agent/repl.c), and the steps of a secret rotation ("rotkey",
 * "rotinstall", "rotcommit", "rotfinish", "rotabort": agent/rotation.c). This file holds
 * the server and the agent's
 * asynchronous client; cli/api_client.c has a blocking client for `om cluster join`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "cluster/cl_mp.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

#define PEER_TIMEOUT_MS 3000
#define PEER_TS_SKEW_MS 60000

/* ---- framing shared by both sides ---- */

static int seal_msg(struct om_agent *a, enum om_hb_type type, msgpack_sbuffer *payload,
                    uint64_t *ret_seq, uint8_t **ret, size_t *ret_len) {
        size_t max = payload->size + OM_HB_OVERHEAD + 4;
        uint8_t *out = malloc(max);
        if (!out)
                return -ENOMEM;
        struct om_hb_info info = {.type = type, .keygen = a->keygen, .seq = ++a->seq};
        snprintf(info.sender, sizeof(info.sender), "%s", a->self);
        memcpy(info.boot_id, a->boot_id, OM_HB_BOOT_ID_LEN);
        int n = om_hb_seal(a->peer_key, &info, payload->data, payload->size, out + 4, max - 4);
        if (n < 0) {
                free(out);
                return n;
        }
        out[0] = (uint8_t)((uint32_t)n >> 24);
        out[1] = (uint8_t)((uint32_t)n >> 16);
        out[2] = (uint8_t)((uint32_t)n >> 8);
        out[3] = (uint8_t)n;
        if (ret_seq)
                *ret_seq = info.seq;
        *ret = out;
        *ret_len = (size_t)n + 4;
        return 0;
}

/* Opens a complete frame: the payload is unpacked into *u (which references buf). */
static int open_msg(struct om_agent *a, const uint8_t *frame, size_t len, enum om_hb_type type,
                    struct om_hb_info *info, uint8_t **ret_plain, msgpack_unpacked *u) {
        enum om_hb_drop why;
        if (om_hb_peek(frame, len, OM_HB_PEER_MAX, info, &why) < 0 || info->type != type)
                return -EBADMSG;
        uint8_t *plain = malloc(len);
        if (!plain)
                return -ENOMEM;
        /* the key of the frame's generation; a generation this node does not know (a
         * joining node knows the secret, not its generation) is tried with the current */
        const uint8_t *key = a->rotation != OM_ROT_NONE && info->keygen == a->keygen_alt
                                     ? a->peer_key_alt
                                     : a->peer_key;
        int n = om_hb_open(key, frame, len, plain);
        if (n < 0 || om_cl_mp_unpack(plain, (size_t)n, u) < 0 ||
            u->data.type != MSGPACK_OBJECT_MAP) {
                if (n >= 0)
                        msgpack_unpacked_destroy(u);
                free(plain);
                return -EBADMSG;
        }
        *ret_plain = plain;
        return 0;
}

/* Returns the frame length once buf holds a whole one, 0 when more is needed, <0 bad. */
static int64_t frame_complete(const struct om_buf *b) {
        if (b->len < 4)
                return 0;
        const uint8_t *p = (const uint8_t *)b->data;
        uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (n < OM_HB_OVERHEAD || n > OM_HB_PEER_MAX)
                return -EBADMSG;
        return b->len >= 4 + (size_t)n ? (int64_t)n : 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rx[65536];
        buf->base = rx;
        buf->len = sizeof(rx);
}

/* ---- server ---- */

struct srv_conn {
        uv_tcp_t tcp;
        uv_timer_t timer;
        int closing;
        struct om_agent *agent;
        struct om_buf in;
        uv_write_t wr;
        uint8_t *out;
        uint64_t echo;
        bool done;
        bool busy;   /* an objget read runs on the thread pool: it frees c when closed */
        bool closed; /* both handles closed */
};

static void srv_free(struct srv_conn *c) {
        om_buf_free(&c->in);
        free(c->out);
        free(c);
}

static void srv_closed(uv_handle_t *h) {
        struct srv_conn *c = h->data;
        if (--c->closing > 0)
                return;
        c->closed = true;
        if (!c->busy)
                srv_free(c);
}

static void srv_close(struct srv_conn *c) {
        if (c->closing)
                return;
        c->closing = 2;
        uv_close((uv_handle_t *)&c->tcp, srv_closed);
        uv_close((uv_handle_t *)&c->timer, srv_closed);
}

static void srv_written(uv_write_t *w, int status) {
        srv_close(container_of(w, struct srv_conn, wr));
}

static void srv_reply(struct srv_conn *c, uint64_t echo, bool ok, const char *error,
                      void (*body)(struct om_agent *, msgpack_packer *, void *), void *arg,
                      int n_body) {
        struct om_agent *a = c->agent;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        size_t len;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4 + (error ? 1 : 0) + (size_t)n_body);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_bool(&pk, "ok", ok);
        om_cl_mp_kv_u64(&pk, "echo", echo);
        om_cl_mp_kv_str(&pk, "c", a->cfg->name);
        if (error)
                om_cl_mp_kv_str(&pk, "error", error);
        if (body)
                body(a, &pk, arg);
        int r = seal_msg(a, OM_HB_PEER_RESP, &sb, NULL, &c->out, &len);
        msgpack_sbuffer_destroy(&sb);
        if (r < 0) {
                srv_close(c);
                return;
        }
        c->done = true;
        uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)len);
        if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, srv_written) < 0)
                srv_close(c);
}

static void body_nodedata(struct om_agent *a, msgpack_packer *pk, void *arg) {
        om_cl_mp_str_pack(pk, "boot");
        msgpack_pack_bin(pk, OM_HB_BOOT_ID_LEN);
        msgpack_pack_bin_body(pk, a->boot_id, OM_HB_BOOT_ID_LEN);
        om_cl_mp_str_pack(pk, "data");
        om_cl_nodedata_pack(&a->local, pk);
}

static void body_conf(struct om_agent *a, msgpack_packer *pk, void *arg) {
        om_cl_mp_kv_str(pk, "conf", arg);
}

struct objget {
        const char *text;
        size_t len;
};

static void body_objget(struct om_agent *a, msgpack_packer *pk, void *arg) {
        const struct objget *g = arg;
        om_cl_mp_str_pack(pk, "text");
        msgpack_pack_bin(pk, g->len);
        msgpack_pack_bin_body(pk, g->text, g->len);
}

/* The file read of an objget is done: reply, or free the connection closed meanwhile. */
static void srv_objget_done(void *arg, int r, char *text, size_t len) {
        struct srv_conn *c = arg;
        c->busy = false;
        if (c->closed || c->closing) {
                free(text);
                if (c->closed)
                        srv_free(c);
                return;
        }
        if (r < 0)
                srv_reply(c, c->echo, false, r == -ENOENT ? "no such object" : strerror(-r), NULL,
                          NULL, 0);
        else {
                struct objget g = {text, len};
                srv_reply(c, c->echo, true, NULL, body_objget, &g, 1);
        }
        free(text);
}

static void body_rotkey(struct om_agent *a, msgpack_packer *pk, void *arg) {
        om_cl_mp_str_pack(pk, "pk");
        msgpack_pack_bin(pk, 32);
        msgpack_pack_bin_body(pk, arg, 32);
}

/* A step that cannot end yet (-EAGAIN): the reply says to ask again. */
static void body_retry(struct om_agent *a, msgpack_packer *pk, void *arg) {
        om_cl_mp_kv_bool(pk, "retry", true);
}

static void srv_rotation_reply(struct srv_conn *c, uint64_t seq, int r, const char *err) {
        srv_reply(c, seq, r == 0, r == 0 ? NULL : err, r == -EAGAIN ? body_retry : NULL, NULL,
                  r == -EAGAIN);
}

/* A rotation finish is done (the sec files sealed again): reply, or free the connection
 * closed meanwhile. */
static void srv_rotfinish_done(void *arg, int r, const char *err) {
        struct srv_conn *c = arg;
        c->busy = false;
        if (c->closed || c->closing) {
                if (c->closed)
                        srv_free(c);
                return;
        }
        srv_rotation_reply(c, c->echo, r, err);
}

/* The rotation steps (agent/rotation.c): {"gen": N} and, for rotinstall, "box". */
static void srv_rotation(struct srv_conn *c, const char *cmd, const msgpack_object *req,
                         uint64_t seq, const char *sender) {
        struct om_agent *a = c->agent;
        char err[256] = "";
        uint64_t gen = 0;
        int r;
        if (strcmp(cmd, "rotkey") == 0) {
                uint8_t pk[32];
                if ((r = om_rot_key(a, pk)) < 0)
                        srv_reply(c, seq, false, strerror(-r), NULL, NULL, 0);
                else
                        srv_reply(c, seq, true, NULL, body_rotkey, pk, 1);
                return;
        }
        if (om_cl_mp_get_u64(req, "gen", &gen) < 0 || gen < 2 || gen > UINT32_MAX - 1) {
                srv_reply(c, seq, false, "malformed rotation request", NULL, NULL, 0);
                return;
        }
        if (strcmp(cmd, "rotinstall") == 0) {
                const msgpack_object *box = om_cl_mp_get(req, "box");
                if (!box || box->type != MSGPACK_OBJECT_BIN) {
                        srv_reply(c, seq, false, "malformed rotinstall", NULL, NULL, 0);
                        return;
                }
                r = om_rot_install(a, (uint32_t)gen, (const uint8_t *)box->via.bin.ptr,
                                   box->via.bin.size, err, sizeof(err));
        } else if (strcmp(cmd, "rotcommit") == 0)
                r = om_rot_commit(a, (uint32_t)gen, err, sizeof(err));
        else if (strcmp(cmd, "rotabort") == 0)
                r = om_rot_abort(a, (uint32_t)gen, err, sizeof(err));
        else {
                c->echo = seq;
                c->busy = true;
                r = om_rot_finish(a, (uint32_t)gen, srv_rotfinish_done, c, err, sizeof(err));
                if (r == 0)
                        return; /* srv_rotfinish_done replies */
                c->busy = false;
                if (r == 1)
                        r = 0;
        }
        if (r < 0 && r != -EAGAIN) {
                om_log_set_component("daemon");
                log_warning("secret rotation: %s from %s refused: %s", cmd, sender, err);
        }
        srv_rotation_reply(c, seq, r, err);
}

/* Writes new cluster.conf text after checking it, then reloads. */
static int install_conf(struct om_agent *a, const char *text, char *err, size_t errlen) {
        _cleanup_ini_ struct om_ini *ini = NULL;
        _cleanup_free_ struct om_cl_config *cfg = NULL;
        _cleanup_free_ char *file = om_cluster_conf_path();
        if (!file)
                return -ENOMEM;
        int r = om_ini_parse(text, strlen(text), "cluster.conf", &ini, err, errlen);
        if (r < 0)
                return r;
        r = om_cl_config_from_ini(ini, "cluster.conf", a->self, &cfg, err, errlen);
        if (r < 0)
                return r;
        if (strcmp(cfg->name, a->cfg->name) != 0) {
                snprintf(err, errlen, "another cluster's config");
                return -EINVAL;
        }
        r = om_write_atomic(file, text, strlen(text), 0600);
        if (r < 0) {
                snprintf(err, errlen, "cannot write cluster.conf: %s", strerror(-r));
                return r;
        }
        return om_agent_reload(a);
}

/* Adds node (at addr) to nodes and to every heartbeat section. Returns the new text. */
static int add_node(struct om_agent *a, const char *node, const char *addr, char **ret, char *err,
                    size_t errlen) {
        _cleanup_ini_ struct om_ini *ini = NULL;
        _cleanup_free_ char *file = om_cluster_conf_path();
        _cleanup_strv_free_ char **v = NULL;
        _cleanup_free_ char *joined = NULL, *text = NULL;
        int lock_fd = -1;
        if (!file)
                return -ENOMEM;
        int r = om_cluster_conf_lock(&lock_fd);
        if (r < 0)
                return r;
        r = om_ini_load(file, &ini, err, errlen);
        if (r < 0)
                goto out;
        const char *nodes = om_ini_get(ini, "cluster", "nodes", NULL);
        if ((r = om_strv_split(nodes ? nodes : a->self, " \t,", &v)) < 0)
                goto out;
        if (!om_strv_contains(v, node) && (r = om_strv_push(&v, node)) < 0)
                goto out;
        joined = om_strv_join(v, " ");
        if (!joined || (r = om_ini_set(ini, "cluster", "nodes", NULL, joined)) < 0)
                goto out;
        for (size_t i = 0; i < ini->n_sections; i++)
                if (om_startswith(ini->sections[i].name, "hb#") &&
                    (r = om_ini_set(ini, ini->sections[i].name, "addr", node, addr)) < 0)
                        goto out;
        text = om_ini_format(ini);
        if (!text) {
                r = -ENOMEM;
                goto out;
        }
        r = install_conf(a, text, err, errlen);
        if (r == 0)
                *ret = OM_TAKE_PTR(text);
out:
        if (lock_fd >= 0)
                close(lock_fd);
        return r;
}

static void srv_handle(struct srv_conn *c, const uint8_t *frame, size_t len) {
        struct om_agent *a = c->agent;
        struct om_hb_info info;
        msgpack_unpacked u;
        _cleanup_free_ uint8_t *plain = NULL;
        char cmd[32], cluster[OM_CL_NAME_MAX], err[512] = "";
        uint64_t v = 0, ts = 0;
        if (open_msg(a, frame, len, OM_HB_PEER_REQ, &info, &plain, &u) < 0) {
                a->peer_rx_errors++;
                srv_close(c);
                return;
        }
        if (om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_str(&u.data, "cmd", cmd, sizeof(cmd)) < 0) {
                srv_reply(c, info.seq, false, "malformed request", NULL, NULL, 0);
                goto out;
        }
        /* a joining node knows the secret but not yet the cluster's name */
        if (om_cl_mp_get_str(&u.data, "c", cluster, sizeof(cluster)) < 0)
                snprintf(cluster, sizeof(cluster), "%s", strcmp(cmd, "join") ? "" : a->cfg->name);
        if (strcmp(cluster, a->cfg->name) != 0) {
                srv_reply(c, info.seq, false, "another cluster", NULL, NULL, 0);
                goto out;
        }
        bool member = om_cl_config_node_index(a->cfg, info.sender) >= 0;
        if (!member && strcmp(cmd, "join") != 0) {
                a->peer_rx_errors++;
                srv_reply(c, info.seq, false, "unknown sender", NULL, NULL, 0);
                goto out;
        }
        if (strcmp(cmd, "nodedata") == 0) {
                srv_reply(c, info.seq, true, NULL, body_nodedata, NULL, 2);
                goto out;
        }
        if (strcmp(cmd, "objget") == 0) {
                char path[OM_PATH_STRMAX];
                if (om_cl_mp_get_str(&u.data, "path", path, sizeof(path)) < 0) {
                        srv_reply(c, info.seq, false, "malformed objget", NULL, NULL, 0);
                        goto out;
                }
                c->echo = info.seq;
                c->busy = true;
                int r = om_repl_serve(a, path, srv_objget_done, c);
                if (r < 0) {
                        c->busy = false;
                        srv_reply(c, info.seq, false, strerror(-r), NULL, NULL, 0);
                }
                goto out;
        }
        /* requests that change the config must be fresh */
        uint64_t now = om_now_ms();
        if (om_cl_mp_get_u64(&u.data, "ts", &ts) < 0 ||
            (ts > now ? ts - now : now - ts) > PEER_TS_SKEW_MS) {
                srv_reply(c, info.seq, false, "stale request", NULL, NULL, 0);
                goto out;
        }
        if (om_startswith(cmd, "rot")) {
                srv_rotation(c, cmd, &u.data, info.seq, info.sender);
                goto out;
        }
        if (strcmp(cmd, "join") == 0 && a->rotation != OM_ROT_NONE) {
                srv_reply(c, info.seq, false, "a secret rotation is under way: join once it ended",
                          NULL, NULL, 0);
                goto out;
        }
        if (strcmp(cmd, "join") == 0) {
                char node[OM_CL_NAME_MAX], addr[OM_CL_ADDR_MAX];
                _cleanup_free_ char *text = NULL;
                if (om_cl_mp_get_str(&u.data, "node", node, sizeof(node)) < 0 ||
                    om_cl_mp_get_str(&u.data, "addr", addr, sizeof(addr)) < 0 ||
                    strcmp(node, info.sender) != 0 || !om_name_valid(node, NULL, 0)) {
                        srv_reply(c, info.seq, false, "malformed join", NULL, NULL, 0);
                        goto out;
                }
                struct in_addr a4;
                struct in6_addr a6;
                if (inet_pton(AF_INET, addr, &a4) != 1 && inet_pton(AF_INET6, addr, &a6) != 1) {
                        srv_reply(c, info.seq, false, "join: addr is not a numeric address", NULL,
                                  NULL, 0);
                        goto out;
                }
                int r = add_node(a, node, addr, &text, err, sizeof(err));
                om_log_set_component("daemon");
                if (r < 0) {
                        log_error("join of %s refused: %s", node, err[0] ? err : strerror(-r));
                        srv_reply(c, info.seq, false, err[0] ? err : strerror(-r), NULL, NULL, 0);
                        goto out;
                }
                log_info("node %s (%s) joined the cluster", node, addr);
                om_api_peer_push_conf(a, text, node);
                srv_reply(c, info.seq, true, NULL, body_conf, text, 1);
        } else if (strcmp(cmd, "setconf") == 0) {
                char *text = NULL;
                const msgpack_object *o = om_cl_mp_get(&u.data, "conf");
                if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size > OM_INI_MAX_FILE ||
                    !(text = strndup(o->via.str.ptr, o->via.str.size))) {
                        srv_reply(c, info.seq, false, "malformed setconf", NULL, NULL, 0);
                        goto out;
                }
                int r = install_conf(a, text, err, sizeof(err));
                free(text);
                om_log_set_component("daemon");
                if (r < 0)
                        log_error("cluster.conf from %s refused: %s", info.sender, err);
                else
                        log_info("cluster.conf installed from %s", info.sender);
                srv_reply(c, info.seq, r == 0, r < 0 ? err : NULL, NULL, NULL, 0);
        } else
                srv_reply(c, info.seq, false, "unknown cmd", NULL, NULL, 0);
out:
        msgpack_unpacked_destroy(&u);
}

static void srv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
        struct srv_conn *c = container_of((uv_tcp_t *)s, struct srv_conn, tcp);
        if (nread < 0) {
                srv_close(c);
                return;
        }
        if (c->done || om_buf_append(&c->in, buf->base, (size_t)nread) < 0)
                return;
        int64_t n = frame_complete(&c->in);
        if (n < 0) {
                c->agent->peer_rx_errors++;
                srv_close(c);
        } else if (n > 0) {
                uv_read_stop(s);
                srv_handle(c, (const uint8_t *)c->in.data + 4, (size_t)n);
        }
}

static void srv_timeout(uv_timer_t *t) {
        srv_close(t->data);
}

static void srv_connection(uv_stream_t *server, int status) {
        struct om_agent *a = container_of((uv_tcp_t *)server, struct om_agent, peer_api);
        if (status < 0)
                return;
        struct srv_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->agent = a;
        uv_tcp_init(&a->loop, &c->tcp);
        uv_timer_init(&a->loop, &c->timer);
        c->tcp.data = c->timer.data = c;
        if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
                srv_close(c);
                return;
        }
        uv_timer_start(&c->timer, srv_timeout, PEER_TIMEOUT_MS, 0);
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, srv_read);
}

int om_api_peer_start(struct om_agent *a) {
        const char *addr =
                a->self_idx >= 0 ? om_cl_config_node_addr(a->cfg, (size_t)a->self_idx) : NULL;
        struct sockaddr_storage ss;
        if (!addr)
                return 0; /* a one-node cluster without heartbeat sections */
        if (uv_ip4_addr(addr, a->cfg->api_port, (struct sockaddr_in *)&ss) &&
            uv_ip6_addr(addr, a->cfg->api_port, (struct sockaddr_in6 *)&ss))
                return -EINVAL;
        uv_tcp_init(&a->loop, &a->peer_api);
        int r = uv_tcp_bind(&a->peer_api, (struct sockaddr *)&ss, 0);
        if (r == 0)
                r = uv_listen((uv_stream_t *)&a->peer_api, 128, srv_connection);
        if (r < 0) {
                fprintf(stderr, "om: cannot listen on tcp %s:%u: %s\n", addr, a->cfg->api_port,
                        uv_strerror(r));
                return r;
        }
        a->peer_bound = true;
        return 0;
}

/* ---- client ---- */

enum call_kind { CALL_PULL, CALL_SETCONF, CALL_OBJGET };

struct call {
        uv_tcp_t tcp;
        uv_timer_t timer;
        uv_connect_t conn;
        uv_write_t wr;
        int closing;
        struct om_agent *agent;
        enum call_kind kind;
        char node[OM_CL_NAME_MAX];
        uint64_t seq;
        uint8_t *out;
        size_t out_len;
        struct om_buf in;
        bool ok;
        void *job; /* CALL_OBJGET: handed back to om_repl_fetched exactly once */
};

static struct om_peer *peer_by_name(struct om_agent *a, const char *name, int *ret_idx) {
        for (size_t i = 0; i < a->n_peers; i++)
                if (strcmp(a->peers[i].name, name) == 0) {
                        if (ret_idx)
                                *ret_idx = (int)i;
                        return &a->peers[i];
                }
        return NULL;
}

static void call_closed(uv_handle_t *h) {
        struct call *c = h->data;
        if (--c->closing > 0)
                return;
        if (c->kind == CALL_PULL) {
                struct om_peer *p = peer_by_name(c->agent, c->node, NULL);
                if (p) {
                        p->pulling = false;
                        if (!c->ok)
                                p->pull_errors++;
                }
        }
        if (c->kind == CALL_OBJGET && c->job)
                om_repl_fetched(c->agent, c->job, NULL);
        om_buf_free(&c->in);
        free(c->out);
        free(c);
}

static void call_close(struct call *c) {
        if (c->closing)
                return;
        c->closing = 2;
        uv_close((uv_handle_t *)&c->tcp, call_closed);
        uv_close((uv_handle_t *)&c->timer, call_closed);
}

static void call_reply(struct call *c, const uint8_t *frame, size_t len) {
        struct om_agent *a = c->agent;
        struct om_hb_info info;
        msgpack_unpacked u;
        _cleanup_free_ uint8_t *plain = NULL;
        uint64_t v = 0, echo = 0;
        bool ok = false;
        if (open_msg(a, frame, len, OM_HB_PEER_RESP, &info, &plain, &u) < 0) {
                a->peer_rx_errors++;
                return;
        }
        if (strcmp(info.sender, c->node) != 0 || om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_u64(&u.data, "echo", &echo) < 0 || echo != c->seq ||
            om_cl_mp_get_bool(&u.data, "ok", &ok) < 0 || !ok) {
                a->peer_rx_errors++;
                goto out;
        }
        if (c->kind == CALL_PULL) {
                int idx;
                const msgpack_object *boot = om_cl_mp_get(&u.data, "boot");
                const msgpack_object *data = om_cl_mp_get(&u.data, "data");
                struct om_cl_nodedata nd = {0};
                if (!boot || boot->type != MSGPACK_OBJECT_BIN ||
                    boot->via.bin.size != OM_HB_BOOT_ID_LEN || !peer_by_name(a, c->node, &idx) ||
                    om_cl_nodedata_unpack(data, &nd) < 0) {
                        a->peer_rx_errors++;
                        goto out;
                }
                om_agent_peer_data(a, idx, (const uint8_t *)boot->via.bin.ptr, &nd);
                om_cl_nodedata_done(&nd);
        } else if (c->kind == CALL_OBJGET) {
                void *job = c->job;
                c->job = NULL;
                om_repl_fetched(a, job, &u.data);
        }
        c->ok = true;
out:
        msgpack_unpacked_destroy(&u);
}

static void call_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
        struct call *c = container_of((uv_tcp_t *)s, struct call, tcp);
        if (nread < 0 || om_buf_append(&c->in, buf->base, (size_t)nread) < 0) {
                call_close(c);
                return;
        }
        int64_t n = frame_complete(&c->in);
        if (n == 0)
                return;
        if (n > 0)
                call_reply(c, (const uint8_t *)c->in.data + 4, (size_t)n);
        call_close(c);
}

static void call_written(uv_write_t *w, int status) {
        struct call *c = container_of(w, struct call, wr);
        if (status < 0)
                call_close(c);
}

static void call_connected(uv_connect_t *req, int status) {
        struct call *c = container_of(req, struct call, conn);
        if (status < 0) {
                call_close(c);
                return;
        }
        uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
        if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, call_written) < 0 ||
            uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, call_read) < 0)
                call_close(c);
}

static void call_timeout(uv_timer_t *t) {
        call_close(t->data);
}

static int call_start(struct om_agent *a, int node, enum call_kind kind, const char *conf,
                      void *job) {
        const char *addr = om_cl_config_node_addr(a->cfg, (size_t)node);
        struct sockaddr_storage ss;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        if (!addr)
                return -EINVAL;
        if (uv_ip4_addr(addr, a->cfg->api_port, (struct sockaddr_in *)&ss) &&
            uv_ip6_addr(addr, a->cfg->api_port, (struct sockaddr_in6 *)&ss))
                return -EINVAL;
        struct call *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->agent = a;
        c->kind = kind;
        snprintf(c->node, sizeof(c->node), "%s", a->peers[node].name);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, kind == CALL_PULL ? 3 : kind == CALL_OBJGET ? 4 : 5);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", a->cfg->name);
        static const char *const cmds[] = {"nodedata", "setconf", "objget"};
        om_cl_mp_kv_str(&pk, "cmd", cmds[kind]);
        if (kind == CALL_SETCONF) {
                om_cl_mp_kv_u64(&pk, "ts", om_now_ms());
                om_cl_mp_kv_str(&pk, "conf", conf);
        } else if (kind == CALL_OBJGET)
                om_cl_mp_kv_str(&pk, "path", conf);
        int r = seal_msg(a, OM_HB_PEER_REQ, &sb, &c->seq, &c->out, &c->out_len);
        msgpack_sbuffer_destroy(&sb);
        if (r < 0) {
                free(c);
                return r;
        }
        uv_tcp_init(&a->loop, &c->tcp);
        uv_timer_init(&a->loop, &c->timer);
        c->tcp.data = c->timer.data = c;
        uv_timer_start(&c->timer, call_timeout, PEER_TIMEOUT_MS, 0);
        uv_tcp_nodelay(&c->tcp, 1);
        if (kind == CALL_PULL)
                a->peers[node].pulling = true;
        c->job = job; /* from here on, call_closed hands it back */
        r = uv_tcp_connect(&c->conn, &c->tcp, (struct sockaddr *)&ss, call_connected);
        if (r < 0)
                call_close(c);
        return 0;
}

void om_api_peer_pull(struct om_agent *a, int node) {
        struct om_peer *p = &a->peers[node];
        if (p->pulling || p->self)
                return;
        p->pulls++;
        (void)call_start(a, node, CALL_PULL, NULL, NULL);
}

void om_api_peer_push_conf(struct om_agent *a, const char *text, const char *skip) {
        for (size_t i = 0; i < a->n_peers; i++)
                if (!a->peers[i].self && strcmp(a->peers[i].name, skip) != 0)
                        (void)call_start(a, (int)i, CALL_SETCONF, text, NULL);
}

int om_api_peer_fetch(struct om_agent *a, int node, const char *path, void *job) {
        if (node < 0 || (size_t)node >= a->n_peers || a->peers[node].self)
                return -EINVAL;
        return call_start(a, node, CALL_OBJGET, path, job);
}
