/*
 * Implementation of hb_frame.h: frame sealing and opening with libsodium, the replay
 * window, and the receive-side judgement of a heartbeat datagram in the order that costs
 * least to an attacker: size and header first, then the sender, then the replay window
 * (without committing), then the seal, then the payload, and only then the window is
 * advanced, so a forged frame can never move a window.
 */
#include "cluster/hb_frame.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "cluster/cl_mp.h"
#include "core/util.h"

const char *om_hb_drop_to_string(enum om_hb_drop d) {
        static const char *const names[_OM_HB_DROP_MAX] = {
                [OM_HB_DROP_SHORT] = "truncated",     [OM_HB_DROP_SIZE] = "oversized",
                [OM_HB_DROP_MALFORMED] = "malformed", [OM_HB_DROP_SENDER] = "unknown_sender",
                [OM_HB_DROP_OPEN] = "open_failed",    [OM_HB_DROP_CLUSTER] = "other_cluster",
                [OM_HB_DROP_REPLAY] = "replay",       [OM_HB_DROP_KERNEL] = "kernel_overflow",
                [OM_HB_DROP_SLOT] = "wrong_slot",
        };
        return (unsigned)d < _OM_HB_DROP_MAX ? names[d] : "?";
}

static void put_be(uint8_t *p, uint64_t v, int n) {
        for (int i = n - 1; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n) {
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
                v = (v << 8) | p[i];
        return v;
}

void om_hb_boot_id_new(uint8_t ret[OM_HB_BOOT_ID_LEN]) {
        put_be(ret, om_now_ms(), 8);
        randombytes_buf(ret + 8, 8);
}

int om_hb_seal(const uint8_t key[OM_HB_KEY_LEN], const struct om_hb_info *info, const void *payload,
               size_t len, uint8_t *out, size_t outmax) {
        struct om_hb_header h = {0};
        unsigned long long clen = 0;
        if (len > outmax || outmax - len < OM_HB_OVERHEAD ||
            strlen(info->sender) >= OM_HB_SENDER_MAX)
                return -EMSGSIZE;
        memcpy(h.magic, OM_HB_MAGIC, 4);
        h.version = OM_HB_VERSION;
        h.type = (uint8_t)info->type;
        put_be(h.keygen, info->keygen, 4);
        memcpy(h.sender, info->sender, strlen(info->sender));
        memcpy(h.boot_id, info->boot_id, OM_HB_BOOT_ID_LEN);
        put_be(h.seq, info->seq, 8);
        randombytes_buf(h.nonce, sizeof(h.nonce));
        memcpy(out, &h, sizeof(h));
        crypto_aead_xchacha20poly1305_ietf_encrypt(out + sizeof(h), &clen, payload, len, out,
                                                   sizeof(h), NULL, h.nonce, key);
        return (int)(sizeof(h) + clen);
}

int om_hb_peek(const uint8_t *frame, size_t len, size_t max, struct om_hb_info *info,
               enum om_hb_drop *ret_drop) {
        struct om_hb_header h;
        if (len > max) {
                *ret_drop = OM_HB_DROP_SIZE;
                return -EBADMSG;
        }
        if (len < OM_HB_OVERHEAD) {
                *ret_drop = OM_HB_DROP_SHORT;
                return -EBADMSG;
        }
        memcpy(&h, frame, sizeof(h));
        if (memcmp(h.magic, OM_HB_MAGIC, 4) != 0 || h.version != OM_HB_VERSION ||
            h.type < OM_HB_BEAT || h.type >= _OM_HB_TYPE_MAX || h.reserved[0] || h.reserved[1]) {
                *ret_drop = OM_HB_DROP_MALFORMED;
                return -EBADMSG;
        }
        /* the sender is NUL-padded: a name filling the field, or bytes after the NUL, are
         * malformed, so two encodings of one name cannot exist */
        size_t n = strnlen(h.sender, OM_HB_SENDER_MAX);
        if (n == 0 || n == OM_HB_SENDER_MAX) {
                *ret_drop = OM_HB_DROP_MALFORMED;
                return -EBADMSG;
        }
        for (size_t i = n; i < OM_HB_SENDER_MAX; i++)
                if (h.sender[i]) {
                        *ret_drop = OM_HB_DROP_MALFORMED;
                        return -EBADMSG;
                }
        info->type = h.type;
        info->keygen = (uint32_t)get_be(h.keygen, 4);
        memcpy(info->sender, h.sender, n);
        info->sender[n] = 0;
        memcpy(info->boot_id, h.boot_id, OM_HB_BOOT_ID_LEN);
        info->seq = get_be(h.seq, 8);
        return 0;
}

int om_hb_open(const uint8_t key[OM_HB_KEY_LEN], const uint8_t *frame, size_t len, uint8_t *out) {
        const struct om_hb_header *h = (const struct om_hb_header *)frame;
        unsigned long long plen = 0;
        if (len < OM_HB_OVERHEAD)
                return -EBADMSG;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, frame + sizeof(*h),
                                                       len - sizeof(*h), frame, sizeof(*h),
                                                       h->nonce, key) != 0)
                return -EBADMSG;
        return (int)plen;
}

/*
 * The replay window.
 *
 * Problem: a frame captured on the wire opens fine forever, so somebody who records a
 * beat of n2 and plays it back after n2 died would make n2 look alive. UDP also
 * reorders and duplicates on its own, and a node restarts its sequence when it
 * restarts.
 *
 * Behaviour: each sender's frames carry (boot id, sequence). The boot id starts with the
 * sender's wall clock at start-up, so a later incarnation has a greater boot id. For the
 * current boot id the receiver keeps the highest sequence accepted (top) and a 64-bit
 * mask of which of the 64 sequences below it were accepted, as IPsec does. A frame is
 * accepted when its boot id is greater than the current one (a restart: the window
 * starts over), or when it is the current boot and its sequence is above top, or within
 * the 64 below top and not yet seen. Everything else (an older boot, a sequence seen or
 * more than 64 behind) is a replay.
 *
 * Reason: the window survives reordering across several heartbeat streams (each frame
 * gets its own sequence) while a replayed frame, which by construction carries a pair
 * already accepted or older, never passes. The window only moves after the frame opened
 * with the cluster key, so forged headers cannot push it forward and lock a node out. A
 * node whose clock jumps backwards between two boots is seen as replaying until the
 * receiver forgets it (agent restart); that is the price of needing no persistent
 * counter, and clocks of cluster nodes are kept in sync anyway.
 */
int om_hb_window_check(const struct om_hb_window *w, const uint8_t boot_id[OM_HB_BOOT_ID_LEN],
                       uint64_t seq) {
        if (!w->init)
                return 0;
        int c = memcmp(boot_id, w->boot_id, OM_HB_BOOT_ID_LEN);
        if (c > 0)
                return 0;
        if (c < 0)
                return -ESTALE;
        if (seq > w->top)
                return 0;
        uint64_t back = w->top - seq;
        if (back >= OM_HB_WINDOW || (w->bits & (1ULL << back)))
                return -ESTALE;
        return 0;
}

int om_hb_window_commit(struct om_hb_window *w, const uint8_t boot_id[OM_HB_BOOT_ID_LEN],
                        uint64_t seq) {
        if (!w->init || memcmp(boot_id, w->boot_id, OM_HB_BOOT_ID_LEN) != 0) {
                w->init = true;
                memcpy(w->boot_id, boot_id, OM_HB_BOOT_ID_LEN);
                w->top = seq;
                w->bits = 1;
                return 1;
        }
        if (seq > w->top) {
                uint64_t shift = seq - w->top;
                w->bits = shift >= OM_HB_WINDOW ? 0 : w->bits << shift;
                w->bits |= 1;
                w->top = seq;
        } else
                w->bits |= 1ULL << (w->top - seq);
        return 0;
}

static void pack_set(msgpack_packer *pk, const char *key, const uint64_t *set) {
        om_cl_mp_str_pack(pk, key);
        msgpack_pack_array(pk, OM_HB_HEARS_WORDS);
        for (size_t k = 0; k < OM_HB_HEARS_WORDS; k++)
                msgpack_pack_uint64(pk, set[k]);
}

int om_hb_beat_pack(const char *cluster, uint64_t gen, uint64_t ts, const uint64_t *hears,
                    const uint64_t *lends, uint8_t *out, size_t outmax) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4 + (hears != NULL) + (lends != NULL));
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", cluster);
        om_cl_mp_kv_u64(&pk, "g", gen);
        om_cl_mp_kv_u64(&pk, "t", ts);
        if (hears)
                pack_set(&pk, "h", hears);
        if (lends)
                pack_set(&pk, "l", lends);
        int r = -EMSGSIZE;
        if (sb.size <= outmax) {
                memcpy(out, sb.data, sb.size);
                r = (int)sb.size;
        }
        msgpack_sbuffer_destroy(&sb);
        return r;
}

/* An optional node set: absent (known false), or an array of at most
 * OM_HB_HEARS_WORDS unsigned words; anything else is -EBADMSG. */
static int get_set(const msgpack_object *map, const char *key, uint64_t *set, bool *known) {
        const msgpack_object *o = om_cl_mp_get(map, key);
        *known = o != NULL;
        if (!o)
                return 0;
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > OM_HB_HEARS_WORDS)
                return -EBADMSG;
        for (uint32_t k = 0; k < o->via.array.size; k++) {
                if (o->via.array.ptr[k].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                        return -EBADMSG;
                set[k] = o->via.array.ptr[k].via.u64;
        }
        return 0;
}

static int drop(struct om_hb_stats *st, enum om_hb_drop d) {
        st->drops[d]++;
        return -EBADMSG;
}

int om_hb_receive(const struct om_hb_rx_ctx *ctx, struct om_hb_stats *st, const uint8_t *frame,
                  size_t len, struct om_hb_beat *ret) {
        struct om_hb_info info;
        enum om_hb_drop why;
        uint8_t payload[OM_HB_UDP_MAX];
        int node = -1;

        if (om_hb_peek(frame, len, OM_HB_UDP_MAX, &info, &why) < 0)
                return drop(st, why);
        if (info.type != (ctx->type ? ctx->type : OM_HB_BEAT))
                return drop(st, OM_HB_DROP_MALFORMED);
        for (size_t i = 0; i < ctx->n_nodes; i++)
                if (strcmp(ctx->nodes[i], info.sender) == 0)
                        node = (int)i;
        if (node < 0 || om_streq(info.sender, ctx->self))
                return drop(st, OM_HB_DROP_SENDER);
        if (om_hb_window_check(&ctx->windows[node], info.boot_id, info.seq) < 0)
                return drop(st, OM_HB_DROP_REPLAY);
        const uint8_t *key = info.keygen == ctx->keygen                       ? ctx->key
                             : ctx->key_alt && info.keygen == ctx->keygen_alt ? ctx->key_alt
                                                                              : NULL;
        if (!key)
                return drop(st, OM_HB_DROP_OPEN);
        int plen = om_hb_open(key, frame, len, payload);
        if (plen < 0)
                return drop(st, OM_HB_DROP_OPEN);

        msgpack_unpacked u;
        uint64_t v = 0, gen = 0, ts = 0;
        char cluster[128];
        if (om_cl_mp_unpack(payload, (size_t)plen, &u) < 0)
                return drop(st, OM_HB_DROP_MALFORMED);
        int r = om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
                om_cl_mp_get_str(&u.data, "c", cluster, sizeof(cluster)) < 0 ||
                om_cl_mp_get_u64(&u.data, "g", &gen) < 0 || om_cl_mp_get_u64(&u.data, "t", &ts) < 0;
        /* optional: the sets of nodes the sender hears and lends its vote to */
        uint64_t hears[OM_HB_HEARS_WORDS] = {0}, lends[OM_HB_HEARS_WORDS] = {0};
        bool hears_known = false, lends_known = false;
        if (!r)
                r = get_set(&u.data, "h", hears, &hears_known) < 0 ||
                    get_set(&u.data, "l", lends, &lends_known) < 0;
        msgpack_unpacked_destroy(&u);
        if (r)
                return drop(st, OM_HB_DROP_MALFORMED);
        if (strcmp(cluster, ctx->cluster) != 0)
                return drop(st, OM_HB_DROP_CLUSTER);

        ret->new_boot = om_hb_window_commit(&ctx->windows[node], info.boot_id, info.seq) == 1;
        ret->node = node;
        ret->gen = gen;
        ret->ts = ts;
        ret->hears_known = hears_known;
        memcpy(ret->hears, hears, sizeof(hears));
        ret->lends_known = lends_known;
        memcpy(ret->lends, lends, sizeof(lends));
        memcpy(ret->boot_id, info.boot_id, OM_HB_BOOT_ID_LEN);
        st->rx_frames++;
        st->rx_bytes += len;
        return 0;
}
