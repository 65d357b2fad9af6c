/*
 * Implementation of cluster/frame.h. The receiving state machine copies each byte once
 * (from the read buffer into the frame's buffer) and grows that buffer by doubling, capped
 * at the announced length, so an announced length costs nothing until its bytes arrive.
 */
#include "cluster/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cl_mp.h"

void om_frame_prefix_put(uint8_t p[OM_FRAME_PREFIX], uint32_t n) {
        p[0] = (uint8_t)(n >> 24);
        p[1] = (uint8_t)(n >> 16);
        p[2] = (uint8_t)(n >> 8);
        p[3] = (uint8_t)n;
}

uint32_t om_frame_prefix_get(const uint8_t p[OM_FRAME_PREFIX]) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void om_frame_sbuf_begin(msgpack_sbuffer *sb) {
        msgpack_sbuffer_write(sb, "\0\0\0\0", OM_FRAME_PREFIX);
}

void om_frame_sbuf_end(msgpack_sbuffer *sb) {
        om_frame_prefix_put((uint8_t *)sb->data, (uint32_t)(sb->size - OM_FRAME_PREFIX));
}

void om_frame_rx_init(struct om_frame_rx *rx, size_t min, size_t max) {
        *rx = (struct om_frame_rx){.min = min, .max = max};
}

void om_frame_rx_free(struct om_frame_rx *rx) {
        om_buf_free(&rx->body);
        rx->n_prefix = rx->want = 0;
        rx->ready = false;
}

void om_frame_rx_next(struct om_frame_rx *rx) {
        om_buf_free(&rx->body);
        rx->n_prefix = rx->want = 0;
        rx->ready = false;
}

bool om_frame_rx_partial(const struct om_frame_rx *rx) {
        return rx->n_prefix > 0 && !rx->ready;
}

/* Room for extra more bytes, at most want in all: doubling, so that the bytes of a
 * frame are copied O(1) times on average and an unsent tail costs nothing. */
static int body_grow(struct om_frame_rx *rx, size_t extra) {
        struct om_buf *b = &rx->body;
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 512;
        while (cap < need)
                cap *= 2;
        if (cap > rx->want + 1)
                cap = rx->want + 1;
        char *n = realloc(b->data, cap);
        if (!n)
                return -ENOMEM;
        b->data = n;
        b->cap = cap;
        return 0;
}

ssize_t om_frame_rx_feed(struct om_frame_rx *rx, const uint8_t *data, size_t len) {
        size_t used = 0;
        if (rx->err)
                return -1;
        while (used < len && !rx->ready) {
                if (rx->n_prefix < OM_FRAME_PREFIX) {
                        rx->prefix[rx->n_prefix++] = data[used++];
                        if (rx->n_prefix < OM_FRAME_PREFIX)
                                continue;
                        rx->want = om_frame_prefix_get(rx->prefix);
                        if (rx->want < rx->min || rx->want == 0) {
                                rx->err = OM_FRAME_TOO_SMALL;
                                return -1;
                        }
                        if (rx->want > rx->max) {
                                rx->err = OM_FRAME_TOO_LARGE;
                                return -1;
                        }
                        continue;
                }
                size_t n = rx->want - rx->body.len;
                if (n > len - used)
                        n = len - used;
                if (body_grow(rx, n) < 0) {
                        rx->err = OM_FRAME_NOMEM;
                        return -1;
                }
                memcpy(rx->body.data + rx->body.len, data + used, n);
                rx->body.len += n;
                rx->body.data[rx->body.len] = 0;
                used += n;
                rx->ready = rx->body.len == rx->want;
        }
        return (ssize_t)used;
}

const char *om_frame_err_to_string(enum om_frame_err e) {
        static const char *const s[] = {
                [OM_FRAME_OK] = "ok",
                [OM_FRAME_TOO_SMALL] = "too_small",
                [OM_FRAME_TOO_LARGE] = "too_large",
                [OM_FRAME_NOMEM] = "no_memory",
        };
        return (unsigned)e < sizeof(s) / sizeof(s[0]) ? s[e] : "?";
}

/* ---- sealed peer API messages ---- */

static int seal_one(const uint8_t key[OM_HB_KEY_LEN], struct om_hb_info *info, const void *payload,
                    size_t len, struct om_buf *out) {
        size_t max = len + OM_HB_OVERHEAD;
        int r = om_buf_reserve(out, OM_FRAME_PREFIX + max);
        if (r < 0)
                return r;
        info->seq++;
        uint8_t *p = (uint8_t *)out->data + out->len;
        int n = om_hb_seal(key, info, payload, len, p + OM_FRAME_PREFIX, max);
        if (n < 0)
                return n;
        om_frame_prefix_put(p, (uint32_t)n);
        out->len += OM_FRAME_PREFIX + (size_t)n;
        return 0;
}

int om_frame_peer_seal(const uint8_t key[OM_HB_KEY_LEN], struct om_hb_info *info, uint64_t echo,
                       uint64_t ts, const void *payload, size_t len, uint8_t **ret,
                       size_t *ret_len) {
        struct om_buf out = {0};
        size_t sealed = len + OM_HB_OVERHEAD;
        int r = 0;
        if (sealed > OM_LIM_PEER_FRAME_MAX)
                return -EMSGSIZE;
        if (sealed > OM_LIM_PEER_FIRST_FRAME) {
                msgpack_sbuffer sb;
                msgpack_packer pk;
                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                msgpack_pack_map(&pk, 4);
                om_cl_mp_kv_u64(&pk, "v", 1);
                om_cl_mp_kv_u64(&pk, "more", sealed);
                om_cl_mp_kv_u64(&pk, "ts", ts);
                om_cl_mp_kv_u64(&pk, "echo", echo);
                r = seal_one(key, info, sb.data, sb.size, &out);
                msgpack_sbuffer_destroy(&sb);
        }
        if (r == 0)
                r = seal_one(key, info, payload, len, &out);
        if (r < 0) {
                om_buf_free(&out);
                return r;
        }
        *ret_len = out.len;
        *ret = (uint8_t *)out.data;
        return 0;
}

int om_frame_peer_announce(const msgpack_object *map, uint64_t *ret_more) {
        const msgpack_object *m = om_cl_mp_get(map, "more");
        if (!m)
                return 0;
        if (m->type != MSGPACK_OBJECT_POSITIVE_INTEGER || m->via.u64 <= OM_HB_OVERHEAD ||
            m->via.u64 > OM_LIM_PEER_FRAME_MAX)
                return -EBADMSG;
        *ret_more = m->via.u64;
        return 1;
}
