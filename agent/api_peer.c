/*
 * The peer API: TCP on the node's cluster address and `[cluster] api_port`, one sealed
 * request and one sealed reply per connection, each a message of cluster/frame.h (one
 * frame of cluster/hb_frame.h, type request or reply, key "peerapi_", or a small sealed
 * announce then such a frame when it is longer than OM_LIM_PEER_FIRST_FRAME). A reply
 * echoes the request's sequence, so a recorded reply cannot answer another request. Every
 * request carries "ts" (the sender's wall clock): one older than OM_LIM_PEER_TS_SKEW_MS
 * or seen already (its tag remembered as long) is refused, reads included. The commands
 * are the table `commands` below: "nodedata" (a peer behind on our generation pulls our
 * node data), "join" (a new node asks to be added; it knows the secret, not yet a
 * member), "setconf" (a member distributes cluster.conf after a join), "objget" (a peer
 * fetches an object's config file to replicate it, agent/repl.c), and the steps of a
 * secret rotation ("rotkey", "rotinstall", "rotcommit", "rotfinish", "rotabort":
 * agent/rotation.c). The server's limits are those of core/limits.h (OM_LIM_PEER_*):
 * until a frame of a connection opened with the cluster key it holds at most
 * OM_LIM_PEER_FIRST_FRAME bytes of it; connections are capped in all and per source
 * address; a connection not done within OM_LIM_PEER_DEADLINE_MS is closed; every refusal
 * is counted by reason (`om daemon status`). This file holds the server and the agent's
 * asynchronous client; cli/api_client.c has a blocking client for `om cluster join` and
 * `om cluster rotate-secret`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/api_cmds.h"
#include "cluster/cl_mp.h"
#include "cluster/frame.h"
#include "core/fileio.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

/* Why the server closed a connection or refused a request (counted). */
enum peer_drop {
        PEER_DROP_TOO_LARGE, /* a frame longer than the connection's bound */
        PEER_DROP_TOO_SMALL, /* a frame shorter than a sealed frame's overhead */
        PEER_DROP_EVICTED,   /* not authenticated yet, closed to make room (all conns) */
        PEER_DROP_ADDR_CAP,  /* the same, among the connections of one source address */
        PEER_DROP_REFUSED,   /* a cap reached and none of those to close (see make_room) */
        PEER_DROP_TIMEOUT,   /* not done within OM_LIM_PEER_DEADLINE_MS */
        PEER_DROP_OPEN,      /* a frame that does not open with the cluster key */
        PEER_DROP_MALFORMED, /* opens, but not a request, announce or known command */
        PEER_DROP_STALE,     /* "ts" missing or off by more than the skew */
        PEER_DROP_REPLAY,    /* a frame seen already */
        PEER_DROP_BUSY,      /* the replay memory is full */
        PEER_DROP_SENDER,    /* a command for members from a non-member */
        PEER_DROP_CLUSTER,   /* another cluster's name */
        _PEER_DROP_MAX,
};

static const char *const peer_drop_names[_PEER_DROP_MAX] = {
        [PEER_DROP_TOO_LARGE] = "too_large", [PEER_DROP_TOO_SMALL] = "too_small",
        [PEER_DROP_EVICTED] = "evicted",     [PEER_DROP_ADDR_CAP] = "addr_cap",
        [PEER_DROP_REFUSED] = "refused",     [PEER_DROP_TIMEOUT] = "timeout",
        [PEER_DROP_OPEN] = "open",           [PEER_DROP_MALFORMED] = "malformed",
        [PEER_DROP_STALE] = "stale",         [PEER_DROP_REPLAY] = "replay",
        [PEER_DROP_BUSY] = "busy",           [PEER_DROP_SENDER] = "sender",
        [PEER_DROP_CLUSTER] = "cluster",
};

/* ---- framing shared by both sides ---- */

static int seal_msg(struct om_agent *a, enum om_hb_type type, msgpack_sbuffer *payload,
                    uint64_t echo, uint64_t *ret_seq, uint8_t **ret, size_t *ret_len) {
        struct om_hb_info info = {.type = type, .keygen = a->keygen, .seq = a->seq};
        snprintf(info.sender, sizeof(info.sender), "%s", a->self);
        memcpy(info.boot_id, a->boot_id, OM_HB_BOOT_ID_LEN);
        int r = om_frame_peer_seal(a->peer_key, &info, echo, om_now_ms(), payload->data,
                                   payload->size, ret, ret_len);
        if (r < 0)
                return r;
        a->seq = info.seq;
        if (ret_seq)
                *ret_seq = info.seq;
        return 0;
}

/* Opens a complete frame: the payload is unpacked into *u (which references *ret_plain). */
static int open_msg(struct om_agent *a, const uint8_t *frame, size_t len, enum om_hb_type type,
                    struct om_hb_info *info, uint8_t **ret_plain, msgpack_unpacked *u) {
        enum om_hb_drop why;
        if (om_hb_peek(frame, len, OM_LIM_PEER_FRAME_MAX, info, &why) < 0 || info->type != type)
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

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rx[65536];
        buf->base = rx;
        buf->len = sizeof(rx);
}

/* ---- replay memory of the server ---- */

/* The tags (the last OM_HB_TAG_LEN bytes, unique to each sealing) of the frames accepted
 * within the last OM_LIM_PEER_TS_SKEW_MS: a frame older than that is refused by its "ts",
 * a younger one by its tag, so no request is answered twice. */
struct om_api_replay {
        size_t n;
        struct {
                uint8_t tag[OM_HB_TAG_LEN];
                uint64_t expire; /* wall ms */
        } e[OM_LIM_PEER_REPLAY_ENTRIES];
};

/* 0 when the frame is new (then remembered), else the drop reason. */
static int replay_check(struct om_agent *a, const uint8_t *frame, size_t len) {
        struct om_api_replay *rp = a->peer_replay;
        uint64_t now = om_now_ms();
        const uint8_t *tag = frame + len - OM_HB_TAG_LEN;
        if (!rp && !(rp = a->peer_replay = calloc(1, sizeof(*rp))))
                return PEER_DROP_BUSY;
        size_t k = 0;
        bool seen = false;
        for (size_t i = 0; i < rp->n; i++) {
                if (rp->e[i].expire <= now)
                        continue;
                seen |= memcmp(rp->e[i].tag, tag, OM_HB_TAG_LEN) == 0;
                rp->e[k++] = rp->e[i];
        }
        rp->n = k;
        if (seen)
                return PEER_DROP_REPLAY;
        if (rp->n == OM_LIM_PEER_REPLAY_ENTRIES)
                return PEER_DROP_BUSY;
        memcpy(rp->e[rp->n].tag, tag, OM_HB_TAG_LEN);
        rp->e[rp->n++].expire = now + 2 * OM_LIM_PEER_TS_SKEW_MS;
        return 0;
}

static bool ts_fresh(const msgpack_object *map) {
        uint64_t ts = 0, now = om_now_ms();
        return om_cl_mp_get_u64(map, "ts", &ts) == 0 &&
               (ts > now ? ts - now : now - ts) <= OM_LIM_PEER_TS_SKEW_MS;
}

/* ---- server ---- */

struct srv_conn {
        uv_tcp_t tcp;
        uv_timer_t timer;
        int closing;
        struct om_agent *agent;
        struct om_frame_rx rx;
        struct sockaddr_storage peer; /* source address, port zeroed */
        bool authed;                  /* a frame opened: the bound is raised */
        uint64_t accepted;            /* loop time */
        uv_write_t wr;
        uint8_t *out;
        uint64_t echo;
        bool done;
        bool busy;   /* an objget read runs on the thread pool: it frees c when closed */
        bool closed; /* both handles closed */
        struct srv_conn *prev, *next;
};

static void srv_unlink(struct srv_conn *c) {
        struct om_api_conns *l = &c->agent->peer_conns;
        if (c->prev)
                c->prev->next = c->next;
        else if (l->head == c)
                l->head = c->next;
        else
                return;
        if (c->next)
                c->next->prev = c->prev;
        else
                l->tail = c->prev;
        c->prev = c->next = NULL;
        l->n--;
}

static void srv_free(struct srv_conn *c) {
        om_frame_rx_free(&c->rx);
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
        srv_unlink(c);
        c->closing = 2;
        uv_close((uv_handle_t *)&c->tcp, srv_closed);
        uv_close((uv_handle_t *)&c->timer, srv_closed);
}

static void srv_drop(struct srv_conn *c, enum peer_drop why) {
        c->agent->peer_conns.drops[why]++;
        srv_close(c);
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
        int r = seal_msg(a, OM_HB_PEER_RESP, &sb, echo, NULL, &c->out, &len);
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
        /* a disk stream has no addresses: the new node's slot is the next block */
        for (size_t i = 0; i < ini->n_sections; i++)
                if (om_startswith(ini->sections[i].name, "hb#") &&
                    !om_streq(om_ini_get(ini, ini->sections[i].name, "type", NULL), "disk") &&
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

/* ---- the command table ---- */

/* A request that opened, its header checked: cmd, payload map, sequence and sender. */
struct req {
        const char *cmd;
        const msgpack_object *map;
        uint64_t seq;
        const char *sender;
};

static void cmd_nodedata(struct srv_conn *c, const struct req *q) {
        srv_reply(c, q->seq, true, NULL, body_nodedata, NULL, 2);
}

static void cmd_objget(struct srv_conn *c, const struct req *q) {
        char path[OM_PATH_STRMAX];
        if (om_cl_mp_get_str(q->map, "path", path, sizeof(path)) < 0) {
                srv_reply(c, q->seq, false, "malformed objget", NULL, NULL, 0);
                return;
        }
        c->echo = q->seq;
        c->busy = true;
        int r = om_repl_serve(c->agent, path, srv_objget_done, c);
        if (r < 0) {
                c->busy = false;
                srv_reply(c, q->seq, false, strerror(-r), NULL, NULL, 0);
        }
}

static void cmd_rotation(struct srv_conn *c, const struct req *q) {
        srv_rotation(c, q->cmd, q->map, q->seq, q->sender);
}

static void cmd_join(struct srv_conn *c, const struct req *q) {
        struct om_agent *a = c->agent;
        char node[OM_CL_NAME_MAX], addr[OM_CL_ADDR_MAX], err[512] = "";
        _cleanup_free_ char *text = NULL;
        if (a->rotation != OM_ROT_NONE) {
                srv_reply(c, q->seq, false, "a secret rotation is under way: join once it ended",
                          NULL, NULL, 0);
                return;
        }
        if (om_cl_mp_get_str(q->map, "node", node, sizeof(node)) < 0 ||
            om_cl_mp_get_str(q->map, "addr", addr, sizeof(addr)) < 0 ||
            strcmp(node, q->sender) != 0 || !om_name_valid(node, NULL, 0)) {
                srv_reply(c, q->seq, false, "malformed join", NULL, NULL, 0);
                return;
        }
        struct in_addr a4;
        struct in6_addr a6;
        if (inet_pton(AF_INET, addr, &a4) != 1 && inet_pton(AF_INET6, addr, &a6) != 1) {
                srv_reply(c, q->seq, false, "join: addr is not a numeric address", NULL, NULL, 0);
                return;
        }
        int r = add_node(a, node, addr, &text, err, sizeof(err));
        om_log_set_component("daemon");
        if (r < 0) {
                log_error("join of %s refused: %s", node, err[0] ? err : strerror(-r));
                srv_reply(c, q->seq, false, err[0] ? err : strerror(-r), NULL, NULL, 0);
                return;
        }
        log_info("node %s (%s) joined the cluster", node, addr);
        om_api_peer_push_conf(a, text, node);
        srv_reply(c, q->seq, true, NULL, body_conf, text, 1);
}

static void cmd_setconf(struct srv_conn *c, const struct req *q) {
        char err[512] = "";
        char *text = NULL;
        const msgpack_object *o = om_cl_mp_get(q->map, "conf");
        if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size > OM_INI_MAX_FILE ||
            !(text = strndup(o->via.str.ptr, o->via.str.size))) {
                srv_reply(c, q->seq, false, "malformed setconf", NULL, NULL, 0);
                return;
        }
        int r = install_conf(c->agent, text, err, sizeof(err));
        free(text);
        om_log_set_component("daemon");
        if (r < 0)
                log_error("cluster.conf from %s refused: %s", q->sender, err);
        else
                log_info("cluster.conf installed from %s", q->sender);
        srv_reply(c, q->seq, r == 0, r < 0 ? err : NULL, NULL, NULL, 0);
}

typedef void (*peer_handler)(struct srv_conn *c, const struct req *q);

/* Every command of the peer API: its name, who may call it, its handler. Every request
 * must be fresh and new (see replay_check); a member's commands are refused to a sender
 * not in cluster.nodes. */
static const struct {
        struct om_api_cmd cmd;
        peer_handler handler;
} commands[] = {
        {{"nodedata", OM_API_WHO_MEMBER}, cmd_nodedata},
        {{"objget", OM_API_WHO_MEMBER}, cmd_objget},
        {{"join", OM_API_WHO_SECRET}, cmd_join},
        {{"setconf", OM_API_WHO_MEMBER}, cmd_setconf},
        {{"rotkey", OM_API_WHO_MEMBER}, cmd_rotation},
        {{"rotinstall", OM_API_WHO_MEMBER}, cmd_rotation},
        {{"rotcommit", OM_API_WHO_MEMBER}, cmd_rotation},
        {{"rotfinish", OM_API_WHO_MEMBER}, cmd_rotation},
        {{"rotabort", OM_API_WHO_MEMBER}, cmd_rotation},
};

const struct om_api_cmd *om_api_peer_cmd(size_t i) {
        return i < ARRAY_SIZE(commands) ? &commands[i].cmd : NULL;
}

const char *om_api_peer_may(const struct om_api_cmd *c, bool member, bool fresh) {
        if (c->who == OM_API_WHO_MEMBER && !member)
                return "unknown sender";
        if (c->who != OM_API_WHO_MEMBER && c->who != OM_API_WHO_SECRET)
                return "not a peer command";
        if (!fresh)
                return "stale request";
        return NULL;
}

/* Handles the request of an opened frame (the connection is not read any more). */
static void srv_handle(struct srv_conn *c, const struct om_hb_info *info, const msgpack_object *m) {
        struct om_agent *a = c->agent;
        char cmd[OM_API_CMD_MAX], cluster[OM_CL_NAME_MAX];
        uint64_t v = 0;
        struct om_api_conns *l = &a->peer_conns;
        if (om_cl_mp_get_u64(m, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_str(m, "cmd", cmd, sizeof(cmd)) < 0) {
                l->drops[PEER_DROP_MALFORMED]++;
                srv_reply(c, info->seq, false, "malformed request", NULL, NULL, 0);
                return;
        }
        /* a joining node knows the secret but not yet the cluster's name */
        if (om_cl_mp_get_str(m, "c", cluster, sizeof(cluster)) < 0)
                snprintf(cluster, sizeof(cluster), "%s", strcmp(cmd, "join") ? "" : a->cfg->name);
        if (strcmp(cluster, a->cfg->name) != 0) {
                l->drops[PEER_DROP_CLUSTER]++;
                srv_reply(c, info->seq, false, "another cluster", NULL, NULL, 0);
                return;
        }
        bool member = om_cl_config_node_index(a->cfg, info->sender) >= 0;
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                if (!om_streq(commands[i].cmd.name, cmd))
                        continue;
                const char *no = om_api_peer_may(&commands[i].cmd, member, ts_fresh(m));
                if (no) {
                        l->drops[member ? PEER_DROP_STALE : PEER_DROP_SENDER]++;
                        if (!member)
                                a->peer_rx_errors++;
                        srv_reply(c, info->seq, false, no, NULL, NULL, 0);
                        return;
                }
                l->served++;
                struct req q = {cmd, m, info->seq, info->sender};
                commands[i].handler(c, &q);
                return;
        }
        l->drops[PEER_DROP_MALFORMED]++;
        srv_reply(c, info->seq, false, "unknown cmd", NULL, NULL, 0);
}

/* A whole frame arrived: an announce raises the bound for the next frame; a request is
 * handled. Returns false when the connection is closed or done with reading. */
static bool srv_frame(struct srv_conn *c, const uint8_t *frame, size_t len) {
        struct om_agent *a = c->agent;
        struct om_hb_info info;
        msgpack_unpacked u;
        _cleanup_free_ uint8_t *plain = NULL;
        uint64_t more = 0;
        if (open_msg(a, frame, len, OM_HB_PEER_REQ, &info, &plain, &u) < 0) {
                a->peer_rx_errors++;
                srv_drop(c, PEER_DROP_OPEN);
                return false;
        }
        int r = om_frame_peer_announce(&u.data, &more);
        int why = r < 0 || (r > 0 && c->authed) ? PEER_DROP_MALFORMED
                  : !ts_fresh(&u.data)          ? PEER_DROP_STALE
                                                : replay_check(a, frame, len);
        if (why) {
                msgpack_unpacked_destroy(&u);
                srv_drop(c, why);
                return false;
        }
        c->authed = true;
        if (r > 0) {
                c->rx.max = more;
                msgpack_unpacked_destroy(&u);
                return true;
        }
        uv_read_stop((uv_stream_t *)&c->tcp);
        srv_handle(c, &info, &u.data);
        msgpack_unpacked_destroy(&u);
        return false;
}

static void srv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
        struct srv_conn *c = container_of((uv_tcp_t *)s, struct srv_conn, tcp);
        if (nread < 0) {
                srv_close(c);
                return;
        }
        const uint8_t *p = (const uint8_t *)buf->base;
        size_t left = (size_t)nread;
        while (left && !c->done && !c->closing && !c->busy) {
                ssize_t used = om_frame_rx_feed(&c->rx, p, left);
                if (used < 0) {
                        c->agent->peer_rx_errors++;
                        srv_drop(c, c->rx.err == OM_FRAME_TOO_SMALL ? PEER_DROP_TOO_SMALL
                                                                    : PEER_DROP_TOO_LARGE);
                        return;
                }
                p += used;
                left -= (size_t)used;
                if (!c->rx.ready)
                        continue;
                bool more = srv_frame(c, om_frame_rx_data(&c->rx), c->rx.want);
                if (!c->closing)
                        om_frame_rx_next(&c->rx);
                if (!more)
                        return;
        }
}

static void srv_timeout(uv_timer_t *t) {
        srv_drop(t->data, PEER_DROP_TIMEOUT);
}

static bool same_addr(const struct sockaddr_storage *x, const struct sockaddr_storage *y) {
        if (x->ss_family != y->ss_family)
                return false;
        if (x->ss_family == AF_INET)
                return ((const struct sockaddr_in *)x)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *)y)->sin_addr.s_addr;
        return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
                      &((const struct sockaddr_in6 *)y)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Makes room for c at a cap: closes the oldest connection not authenticated yet and out
 * of its grace period among those of c's address (per_addr) or all; false when there is
 * none. */
static bool make_room(struct om_agent *a, struct srv_conn *c, bool per_addr) {
        size_t n = 0;
        struct srv_conn *oldest = NULL;
        for (struct srv_conn *x = a->peer_conns.head; x; x = x->next) {
                if (per_addr && !same_addr(&x->peer, &c->peer))
                        continue;
                n++;
                if (!oldest && !x->authed && !x->busy && !x->done &&
                    c->accepted - x->accepted >= OM_LIM_CONN_GRACE_MS)
                        oldest = x;
        }
        if (n < (per_addr ? OM_LIM_PEER_CONNS_PER_ADDR : OM_LIM_PEER_CONNS))
                return true;
        if (!oldest)
                return false;
        srv_drop(oldest, per_addr ? PEER_DROP_ADDR_CAP : PEER_DROP_EVICTED);
        return true;
}

static void srv_connection(uv_stream_t *server, int status) {
        struct om_agent *a = container_of((uv_tcp_t *)server, struct om_agent, peer_api);
        struct om_api_conns *l = &a->peer_conns;
        if (status < 0)
                return;
        struct srv_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->agent = a;
        om_frame_rx_init(&c->rx, OM_HB_OVERHEAD, OM_LIM_PEER_FIRST_FRAME);
        uv_tcp_init(&a->loop, &c->tcp);
        uv_timer_init(&a->loop, &c->timer);
        c->tcp.data = c->timer.data = c;
        if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
                srv_close(c);
                return;
        }
        int len = sizeof(c->peer);
        c->accepted = uv_now(&a->loop);
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) < 0 ||
            !make_room(a, c, true) || !make_room(a, c, false)) {
                srv_drop(c, PEER_DROP_REFUSED);
                return;
        }
        c->prev = l->tail;
        if (l->tail)
                ((struct srv_conn *)l->tail)->next = c;
        else
                l->head = c;
        l->tail = c;
        l->n++;
        uv_timer_start(&c->timer, srv_timeout, OM_LIM_PEER_DEADLINE_MS, 0);
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, srv_read);
}

const char *om_api_peer_drop_name(int i) {
        return i >= 0 && i < _PEER_DROP_MAX ? peer_drop_names[i] : NULL;
}

void om_api_peer_pack_stats(struct om_agent *a, msgpack_packer *pk) {
        const struct om_api_conns *l = &a->peer_conns;
        msgpack_pack_map(pk, 3);
        om_cl_mp_kv_u64(pk, "connections", l->n);
        om_cl_mp_kv_u64(pk, "served", l->served);
        om_cl_mp_str_pack(pk, "drops");
        msgpack_pack_map(pk, _PEER_DROP_MAX);
        for (int d = 0; d < _PEER_DROP_MAX; d++)
                om_cl_mp_kv_u64(pk, peer_drop_names[d], l->drops[d]);
}

void om_api_peer_free(struct om_agent *a) {
        free(a->peer_replay);
        a->peer_replay = NULL;
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
        struct om_frame_rx rx;
        bool ok;
        om_api_fetch_cb cb; /* CALL_OBJGET: called exactly once */
        void *arg;
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
        if (c->cb)
                c->cb(c->arg, NULL);
        om_frame_rx_free(&c->rx);
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

/* A whole reply frame: returns true when it announced a longer one (read on). */
static bool call_reply(struct call *c, const uint8_t *frame, size_t len) {
        struct om_agent *a = c->agent;
        struct om_hb_info info;
        msgpack_unpacked u;
        _cleanup_free_ uint8_t *plain = NULL;
        uint64_t v = 0, echo = 0, more = 0;
        bool ok = false, read_on = false;
        if (open_msg(a, frame, len, OM_HB_PEER_RESP, &info, &plain, &u) < 0) {
                a->peer_rx_errors++;
                return false;
        }
        if (strcmp(info.sender, c->node) != 0 || om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_u64(&u.data, "echo", &echo) < 0 || echo != c->seq) {
                a->peer_rx_errors++;
                goto out;
        }
        int r = om_frame_peer_announce(&u.data, &more);
        if (r != 0) {
                if (r < 0 || c->rx.max != OM_LIM_PEER_FIRST_FRAME)
                        a->peer_rx_errors++;
                else {
                        c->rx.max = more;
                        read_on = true;
                }
                goto out;
        }
        if (om_cl_mp_get_bool(&u.data, "ok", &ok) < 0 || !ok) {
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
                om_api_fetch_cb cb = c->cb;
                c->cb = NULL;
                cb(c->arg, &u.data);
        }
        c->ok = true;
out:
        msgpack_unpacked_destroy(&u);
        return read_on;
}

static void call_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
        struct call *c = container_of((uv_tcp_t *)s, struct call, tcp);
        if (nread < 0) {
                call_close(c);
                return;
        }
        const uint8_t *p = (const uint8_t *)buf->base;
        size_t left = (size_t)nread;
        while (left && !c->closing) {
                ssize_t used = om_frame_rx_feed(&c->rx, p, left);
                if (used < 0) {
                        c->agent->peer_rx_errors++;
                        call_close(c);
                        return;
                }
                p += used;
                left -= (size_t)used;
                if (!c->rx.ready)
                        continue;
                bool read_on = call_reply(c, om_frame_rx_data(&c->rx), c->rx.want);
                om_frame_rx_next(&c->rx);
                if (!read_on)
                        call_close(c);
        }
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
                      om_api_fetch_cb cb, void *arg) {
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
        om_frame_rx_init(&c->rx, OM_HB_OVERHEAD, OM_LIM_PEER_FIRST_FRAME);
        snprintf(c->node, sizeof(c->node), "%s", a->peers[node].name);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, kind == CALL_PULL ? 4 : 5);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", a->cfg->name);
        static const char *const cmds[] = {"nodedata", "setconf", "objget"};
        om_cl_mp_kv_str(&pk, "cmd", cmds[kind]);
        om_cl_mp_kv_u64(&pk, "ts", om_now_ms());
        if (kind == CALL_SETCONF)
                om_cl_mp_kv_str(&pk, "conf", conf);
        else if (kind == CALL_OBJGET)
                om_cl_mp_kv_str(&pk, "path", conf);
        int r = seal_msg(a, OM_HB_PEER_REQ, &sb, 0, &c->seq, &c->out, &c->out_len);
        msgpack_sbuffer_destroy(&sb);
        if (r < 0) {
                free(c);
                return r;
        }
        uv_tcp_init(&a->loop, &c->tcp);
        uv_timer_init(&a->loop, &c->timer);
        c->tcp.data = c->timer.data = c;
        uv_timer_start(&c->timer, call_timeout, OM_LIM_PEER_DEADLINE_MS, 0);
        uv_tcp_nodelay(&c->tcp, 1);
        if (kind == CALL_PULL)
                a->peers[node].pulling = true;
        c->cb = cb; /* from here on, call_closed calls it when the reply did not */
        c->arg = arg;
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
        (void)call_start(a, node, CALL_PULL, NULL, NULL, NULL);
}

void om_api_peer_push_conf(struct om_agent *a, const char *text, const char *skip) {
        for (size_t i = 0; i < a->n_peers; i++)
                if (!a->peers[i].self && strcmp(a->peers[i].name, skip) != 0)
                        (void)call_start(a, (int)i, CALL_SETCONF, text, NULL, NULL);
}

int om_api_peer_fetch(struct om_agent *a, int node, const char *path, om_api_fetch_cb cb,
                      void *arg) {
        if (node < 0 || (size_t)node >= a->n_peers || a->peers[node].self || !cb)
                return -EINVAL;
        return call_start(a, node, CALL_OBJGET, path, cb, arg);
}
