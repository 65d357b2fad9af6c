/*
 * Implementation of api_client.h with blocking sockets and poll() deadlines: the CLI
 * runs one request at a time and has no event loop.
 */
#include "cli/api_client.h"
#include "cli/cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cluster/cl_mp.h"
#include "cluster/frame.h"
#include "cluster/hb_frame.h"
#include "resources/res.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

void om_api_reply_done(struct om_api_reply *r) {
        if (r->have_u)
                msgpack_unpacked_destroy(&r->u);
        free(r->buf);
        r->buf = NULL;
        r->have_u = false;
        r->data = NULL;
}

static int wait_fd(int fd, short ev, uint64_t deadline) {
        for (;;) {
                uint64_t now = om_mono_ms();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = ev};
                int r = poll(&p, 1, deadline == UINT64_MAX ? -1 : (int)(deadline - now));
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

static int write_all(int fd, const void *data, size_t len, uint64_t deadline) {
        const char *p = data;
        while (len) {
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                }
        }
        return 0;
}

static int read_all(int fd, void *data, size_t len, uint64_t deadline) {
        char *p = data;
        while (len) {
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, p, len, 0);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                }
        }
        return 0;
}

/* Reads one length-prefixed message of at most max bytes. */
static int read_msg(int fd, size_t max, uint64_t deadline, char **ret, size_t *ret_len) {
        uint8_t h[OM_FRAME_PREFIX];
        int r = read_all(fd, h, sizeof(h), deadline);
        if (r < 0)
                return r;
        uint32_t n = om_frame_prefix_get(h);
        if (n == 0 || n > max)
                return -EBADMSG;
        char *buf = malloc(n);
        if (!buf)
                return -ENOMEM;
        if ((r = read_all(fd, buf, n, deadline)) < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

static int local_connect(void) {
        _cleanup_free_ char *path = om_asprintf("%s/api.sock", om_dir_run());
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (!path)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int parse_reply(char *buf, size_t len, struct om_api_reply *ret) {
        bool ok = false;
        uint64_t v = 0;
        ret->buf = buf;
        if (om_cl_mp_unpack(buf, len, &ret->u) < 0)
                return -EBADMSG;
        ret->have_u = true;
        if (om_cl_mp_get_u64(&ret->u.data, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_bool(&ret->u.data, "ok", &ok) < 0)
                return -EBADMSG;
        ret->data = om_cl_mp_get(&ret->u.data, "data");
        if (!ok) {
                if (om_cl_mp_get_str(&ret->u.data, "error", ret->error, sizeof(ret->error)) < 0)
                        snprintf(ret->error, sizeof(ret->error), "refused");
                return -EREMOTEIO;
        }
        return 0;
}

int om_api_call_raw(const void *req, size_t len, int timeout_ms, struct om_api_reply *ret) {
        uint64_t deadline = om_mono_ms() + (uint64_t)timeout_ms;
        char *buf = NULL;
        size_t n;
        int r;
        *ret = (struct om_api_reply){0};
        /* a connection closed before any reply is one the agent refused at its
         * connection cap (core/limits.h) without reading the request: tried again */
        for (;;) {
                _cleanup_close_ int fd = local_connect();
                if (fd < 0)
                        return fd;
                r = write_all(fd, req, len, deadline);
                if (r == 0)
                        r = read_msg(fd, OM_LIM_LOCAL_REPLY_MAX, deadline, &buf, &n);
                if (r == 0)
                        break;
                if ((r != -ECONNRESET && r != -EPIPE) || om_mono_ms() + 50 >= deadline)
                        return r;
                usleep(20 * 1000);
        }
        return parse_reply(buf, n, ret);
}

int om_api_call(const char *cmd, int timeout_ms, struct om_api_reply *ret) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        om_frame_sbuf_begin(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", cmd);
        om_frame_sbuf_end(&sb);
        int r = om_api_call_raw(sb.data, sb.size, timeout_ms, ret);
        msgpack_sbuffer_destroy(&sb);
        return r;
}

int om_api_stream_open(const msgpack_sbuffer *req, int timeout_ms, struct om_api_reply *ret) {
        uint64_t deadline = om_mono_ms() + (uint64_t)timeout_ms;
        char *buf = NULL;
        size_t n;
        *ret = (struct om_api_reply){0};
        int fd = local_connect();
        if (fd < 0)
                return fd;
        int r = write_all(fd, req->data, req->size, deadline);
        if (r == 0)
                r = read_msg(fd, OM_LIM_LOCAL_REPLY_MAX, deadline, &buf, &n);
        if (r == 0)
                r = parse_reply(buf, n, ret);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int om_api_stream_next(int fd, int timeout_ms, struct om_api_reply *ret) {
        char *buf = NULL;
        size_t n;
        *ret = (struct om_api_reply){0};
        /* wait for the message's first byte, then give the rest a bounded time: a
         * timeout never leaves half a message read */
        int r = wait_fd(fd, POLLIN,
                        timeout_ms < 0 ? UINT64_MAX : om_mono_ms() + (uint64_t)timeout_ms);
        if (r == 0)
                r = read_msg(fd, OM_LIM_LOCAL_REPLY_MAX, om_mono_ms() + 5000, &buf, &n);
        return r < 0 ? r : parse_reply(buf, n, ret);
}

void om_api_peer_reply_done(struct om_api_peer_reply *r) {
        if (r->have_u)
                msgpack_unpacked_destroy(&r->u);
        if (r->plain)
                sodium_memzero(r->plain, r->plain_len);
        free(r->plain);
        *r = (struct om_api_peer_reply){0};
}

/* Opens a reply frame with the key of the generation it names: its plain text into
 * *ret (the caller frees it) and unpacked into *u. */
static int open_reply(const struct om_api_peer_keys *keys, const uint8_t *frame, size_t len,
                      uint8_t **ret, size_t *ret_len, msgpack_unpacked *u) {
        struct om_hb_info rinfo;
        enum om_hb_drop why;
        uint8_t *plain = malloc(len);
        int plen = -EBADMSG;
        if (plain && om_hb_peek(frame, len, OM_LIM_PEER_FRAME_MAX, &rinfo, &why) == 0 &&
            rinfo.type == OM_HB_PEER_RESP)
                for (size_t k = 0; k < keys->n && plen < 0; k++)
                        if (keys->gens[k] == rinfo.keygen || keys->n == 1)
                                plen = om_hb_open(keys->keys[k], frame, len, plain);
        if (plen < 0 || om_cl_mp_unpack(plain, (size_t)plen, u) < 0) {
                if (plain)
                        sodium_memzero(plain, len);
                free(plain);
                return plen < 0 ? -ENOKEY : -EBADMSG;
        }
        *ret = plain;
        *ret_len = (size_t)plen;
        return 0;
}

int om_api_peer_request(const char *host, uint16_t port, const char *sender,
                        const struct om_api_peer_keys *keys, const msgpack_sbuffer *payload,
                        int timeout_ms, struct om_api_peer_reply *ret, char *err, size_t errlen) {
        uint8_t boot[OM_HB_BOOT_ID_LEN];
        uint64_t deadline = om_mono_ms() + (uint64_t)timeout_ms;
        char portstr[8];
        int r;
        *ret = (struct om_api_peer_reply){0};
        om_hb_boot_id_new(boot);
        struct om_hb_info info = {.type = OM_HB_PEER_REQ, .keygen = keys->gens[0], .seq = 0};
        snprintf(info.sender, sizeof(info.sender), "%s", sender);
        memcpy(info.boot_id, boot, sizeof(boot));
        _cleanup_free_ uint8_t *out = NULL;
        size_t out_len = 0;
        if ((r = om_frame_peer_seal(keys->keys[0], &info, 0, om_now_ms(), payload->data,
                                    payload->size, &out, &out_len)) < 0) {
                snprintf(err, errlen, "cannot seal the request: %s", strerror(-r));
                return r;
        }
        uint64_t seq = info.seq;

        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        snprintf(portstr, sizeof(portstr), "%u", port);
        if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res) {
                snprintf(err, errlen, "cannot resolve %s", host);
                return -EADDRNOTAVAIL;
        }
        _cleanup_close_ int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
                r = -errno;
                freeaddrinfo(res);
                snprintf(err, errlen, "cannot connect to %s:%u: %s", host, port, strerror(-r));
                return r;
        }
        freeaddrinfo(res);
        if ((r = write_all(fd, out, out_len, deadline)) < 0) {
                snprintf(err, errlen, "cannot send to %s:%u: %s", host, port, strerror(-r));
                return r;
        }
        /* the reply: one frame of at most OM_LIM_PEER_FIRST_FRAME, or an announce of
         * that size and the longer frame it announces */
        size_t max = OM_LIM_PEER_FIRST_FRAME;
        for (int frames = 0;; frames++) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                uint64_t echo = 0, more = 0;
                if ((r = read_msg(fd, max, deadline, &buf, &len)) < 0) {
                        snprintf(err, errlen, "no reply from %s:%u (wrong secret?): %s", host, port,
                                 strerror(-r));
                        return r;
                }
                if ((r = open_reply(keys, (uint8_t *)buf, len, &ret->plain, &ret->plain_len,
                                    &ret->u)) < 0) {
                        snprintf(err, errlen,
                                 r == -ENOKEY ? "the reply of %s does not open with this secret"
                                              : "malformed reply from %s",
                                 host);
                        return -EBADMSG;
                }
                ret->have_u = true;
                if (om_cl_mp_get_u64(&ret->u.data, "echo", &echo) < 0 || echo != seq ||
                    (r = om_frame_peer_announce(&ret->u.data, &more)) < 0 || (r > 0 && frames)) {
                        om_api_peer_reply_done(ret);
                        snprintf(err, errlen, "malformed reply from %s", host);
                        return -EBADMSG;
                }
                if (r == 0)
                        break;
                om_api_peer_reply_done(ret);
                max = more;
        }
        if (om_cl_mp_get_bool(&ret->u.data, "ok", &ret->ok) < 0) {
                om_api_peer_reply_done(ret);
                snprintf(err, errlen, "malformed reply from %s", host);
                return -EBADMSG;
        }
        if (!ret->ok) {
                snprintf(ret->error, sizeof(ret->error), "refused");
                (void)om_cl_mp_get_str(&ret->u.data, "error", ret->error, sizeof(ret->error));
        }
        ret->data = &ret->u.data;
        return 0;
}

int om_api_peer_join(const char *host, uint16_t port, const char *node, const char *addr,
                     char **ret_conf, char *err, size_t errlen) {
        struct om_api_peer_keys keys = {.n = 1, .gens = {1}};
        int r;
        if ((r = om_cluster_key_derive(OM_FRAME_KDF_ID, "peerapi_", keys.keys[0])) < 0) {
                snprintf(err, errlen, "cannot derive the peer key: %s", strerror(-r));
                return r;
        }
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 5);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", "join");
        om_cl_mp_kv_u64(&pk, "ts", om_now_ms());
        om_cl_mp_kv_str(&pk, "node", node);
        om_cl_mp_kv_str(&pk, "addr", addr);
        struct om_api_peer_reply rep;
        r = om_api_peer_request(host, port, node, &keys, &sb, 10000, &rep, err, errlen);
        msgpack_sbuffer_destroy(&sb);
        sodium_memzero(&keys, sizeof(keys));
        if (r < 0)
                return r;
        if (!rep.ok) {
                snprintf(err, errlen, "%s refused the join: %s", host, rep.error);
                om_api_peer_reply_done(&rep);
                return -EPERM;
        }
        const msgpack_object *c = om_cl_mp_get(rep.data, "conf");
        if (!c || c->type != MSGPACK_OBJECT_STR ||
            !(*ret_conf = strndup(c->via.str.ptr, c->via.str.size))) {
                snprintf(err, errlen, "malformed reply");
                r = -EBADMSG;
        }
        om_api_peer_reply_done(&rep);
        return r;
}

const char *om_api_status_up_node(const msgpack_object *status, const char *path,
                                  const char *except, bool warn, char *buf, size_t len) {
        const msgpack_object *insts =
                om_cl_mp_get(om_cl_mp_get(om_cl_mp_get(status, "objects"), path), "instances");
        const msgpack_object *nodes = om_cl_mp_get(status, "nodes");
        for (uint32_t k = 0; insts && insts->type == MSGPACK_OBJECT_MAP && k < insts->via.map.size;
             k++) {
                const msgpack_object_kv *kv = &insts->via.map.ptr[k];
                char avail[16] = "";
                if (om_cl_mp_str(&kv->key, buf, len) == 0 && (!except || strcmp(buf, except)) &&
                    !om_cl_mp_streq(om_cl_mp_get(om_cl_mp_get(nodes, buf), "state"), "down") &&
                    om_cl_mp_get_str(&kv->val, "avail", avail, sizeof(avail)) == 0 &&
                    (!strcmp(avail, "up") || (warn && !strcmp(avail, "warn"))))
                        return buf;
        }
        return NULL;
}

int om_api_fail(int r, struct om_api_reply *rep) {
        om_cli_fail("the agent did not answer: %s", r == -EREMOTEIO ? rep->error : strerror(-r));
        om_api_reply_done(rep);
        return 1;
}

void om_api_print_drops(const msgpack_object *drops) {
        for (uint32_t k = 0; drops && drops->type == MSGPACK_OBJECT_MAP && k < drops->via.map.size;
             k++) {
                char key[32];
                const msgpack_object_kv *kv = &drops->via.map.ptr[k];
                if (om_cl_mp_str(&kv->key, key, sizeof(key)) == 0 &&
                    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                        printf(" %s %llu", key, (unsigned long long)kv->val.via.u64);
        }
}

int om_api_drbd_fence(const char *op, const char *res, const char *node, int timeout_ms,
                      struct om_drbd_fence_answer *ret, char *err, size_t errlen) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        struct om_api_reply rep;
        msgpack_sbuffer_init(&sb);
        om_frame_sbuf_begin(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 5);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", "drbd_fence");
        om_cl_mp_kv_str(&pk, "op", op);
        om_cl_mp_kv_str(&pk, "res", res);
        om_cl_mp_kv_str(&pk, "node", node);
        om_frame_sbuf_end(&sb);
        int r = om_api_call_raw(sb.data, sb.size, timeout_ms, &rep);
        msgpack_sbuffer_destroy(&sb);
        *ret = (struct om_drbd_fence_answer){0};
        if (r == 0 &&
            (!rep.data ||
             om_cl_mp_get_str(rep.data, "result", ret->result, sizeof(ret->result)) < 0 ||
             om_cl_mp_get_str(rep.data, "outdated", ret->outdated, sizeof(ret->outdated)) < 0 ||
             om_cl_mp_get_str(rep.data, "by", ret->by, sizeof(ret->by)) < 0 ||
             om_cl_mp_get_u64(rep.data, "at", &ret->at) < 0 ||
             om_cl_mp_get_str(rep.data, "arbitrator", ret->arbitrator, sizeof(ret->arbitrator)) <
                     0))
                r = -EBADMSG;
        if (r == -EREMOTEIO)
                snprintf(err, errlen, "the agent: %s", rep.error);
        else if (r == -ENOENT || r == -ECONNREFUSED)
                snprintf(err, errlen, "no agent runs here (%s)", strerror(-r));
        else if (r == -ETIMEDOUT)
                snprintf(err, errlen, "the agent did not answer within %d ms", timeout_ms);
        else if (r < 0)
                snprintf(err, errlen, "the agent's answer: %s", strerror(-r));
        om_api_reply_done(&rep);
        return r;
}
