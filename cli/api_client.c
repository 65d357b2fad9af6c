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
#include "cluster/hb_frame.h"
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
                int r = poll(&p, 1, (int)(deadline - now));
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
        uint8_t h[4];
        int r = read_all(fd, h, 4, deadline);
        if (r < 0)
                return r;
        uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
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
        *ret = (struct om_api_reply){0};
        _cleanup_close_ int fd = local_connect();
        if (fd < 0)
                return fd;
        int r = write_all(fd, req, len, deadline);
        if (r < 0)
                return r;
        if ((r = read_msg(fd, 64u << 20, deadline, &buf, &n)) < 0)
                return r;
        return parse_reply(buf, n, ret);
}

int om_api_call(const char *cmd, int timeout_ms, struct om_api_reply *ret) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_sbuffer_write(&sb, "\0\0\0\0", 4);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", cmd);
        uint32_t n = (uint32_t)(sb.size - 4);
        uint8_t *p = (uint8_t *)sb.data;
        p[0] = (uint8_t)(n >> 24);
        p[1] = (uint8_t)(n >> 16);
        p[2] = (uint8_t)(n >> 8);
        p[3] = (uint8_t)n;
        int r = om_api_call_raw(sb.data, sb.size, timeout_ms, ret);
        msgpack_sbuffer_destroy(&sb);
        return r;
}

void om_api_peer_reply_done(struct om_api_peer_reply *r) {
        if (r->have_u)
                msgpack_unpacked_destroy(&r->u);
        if (r->plain)
                sodium_memzero(r->plain, r->plain_len);
        free(r->plain);
        *r = (struct om_api_peer_reply){0};
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
        struct om_hb_info info = {.type = OM_HB_PEER_REQ, .keygen = keys->gens[0], .seq = 1};
        snprintf(info.sender, sizeof(info.sender), "%s", sender);
        memcpy(info.boot_id, boot, sizeof(boot));
        size_t max = payload->size + OM_HB_OVERHEAD + 4;
        _cleanup_free_ uint8_t *out = malloc(max);
        int n = out ? om_hb_seal(keys->keys[0], &info, payload->data, payload->size, out + 4,
                                 max - 4)
                    : -ENOMEM;
        if (n < 0) {
                snprintf(err, errlen, "cannot seal the request: %s", strerror(-n));
                return n;
        }
        out[0] = (uint8_t)((uint32_t)n >> 24);
        out[1] = (uint8_t)((uint32_t)n >> 16);
        out[2] = (uint8_t)((uint32_t)n >> 8);
        out[3] = (uint8_t)n;

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
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if ((r = write_all(fd, out, (size_t)n + 4, deadline)) < 0 ||
            (r = read_msg(fd, OM_HB_PEER_MAX, deadline, &buf, &len)) < 0) {
                snprintf(err, errlen, "no reply from %s:%u (wrong secret?): %s", host, port,
                         strerror(-r));
                return r;
        }
        /* the reply is sealed with the key of the generation it names */
        struct om_hb_info rinfo;
        enum om_hb_drop why;
        uint8_t *plain = malloc(len);
        int plen = -EBADMSG;
        if (plain && om_hb_peek((uint8_t *)buf, len, OM_HB_PEER_MAX, &rinfo, &why) == 0 &&
            rinfo.type == OM_HB_PEER_RESP)
                for (size_t k = 0; k < keys->n && plen < 0; k++)
                        if (keys->gens[k] == rinfo.keygen || keys->n == 1)
                                plen = om_hb_open(keys->keys[k], (uint8_t *)buf, len, plain);
        if (plen < 0) {
                free(plain);
                snprintf(err, errlen, "the reply of %s does not open with this secret", host);
                return -EBADMSG;
        }
        ret->plain = plain;
        ret->plain_len = (size_t)plen;
        uint64_t echo = 0;
        if (om_cl_mp_unpack(plain, (size_t)plen, &ret->u) < 0) {
                om_api_peer_reply_done(ret);
                snprintf(err, errlen, "malformed reply from %s", host);
                return -EBADMSG;
        }
        ret->have_u = true;
        if (om_cl_mp_get_u64(&ret->u.data, "echo", &echo) < 0 || echo != 1 ||
            om_cl_mp_get_bool(&ret->u.data, "ok", &ret->ok) < 0) {
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
                                  const char *except, char *buf, size_t len) {
        const msgpack_object *insts =
                om_cl_mp_get(om_cl_mp_get(om_cl_mp_get(status, "objects"), path), "instances");
        for (uint32_t k = 0; insts && insts->type == MSGPACK_OBJECT_MAP && k < insts->via.map.size;
             k++) {
                const msgpack_object_kv *kv = &insts->via.map.ptr[k];
                char avail[16] = "";
                if (om_cl_mp_str(&kv->key, buf, len) == 0 && (!except || strcmp(buf, except)) &&
                    om_cl_mp_get_str(&kv->val, "avail", avail, sizeof(avail)) == 0 &&
                    !strcmp(avail, "up"))
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
