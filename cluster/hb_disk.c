/*
 * Implementation of hb_disk.h: the slot encoding and the judgement of a slot read, in the
 * order that costs least: the digest of the block (an unchanged slot stops there), the
 * slot header and the frame length (never more than OM_HB_UDP_MAX bytes of frame are
 * looked at), the frame header and whose slot it is, then om_hb_receive's checks.
 */
#include "cluster/hb_disk.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "core/util.h"

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int om_hbd_slot_pack(const uint8_t *frame, size_t len, uint8_t *slot) {
        if (len > OM_HB_UDP_MAX)
                return -EMSGSIZE;
        memset(slot, 0, OM_HBD_SLOT_SIZE);
        memcpy(slot, OM_HBD_MAGIC, 8);
        put_be32(slot + 8, (uint32_t)len);
        memcpy(slot + OM_HBD_HEADER, frame, len);
        return 0;
}

static bool zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

enum om_hbd_kind om_hbd_slot_parse(const uint8_t *slot, const uint8_t **ret_frame,
                                   size_t *ret_len) {
        if (memcmp(slot, OM_HBD_MAGIC, 8) != 0)
                return zero(slot, OM_HBD_SLOT_SIZE) ? OM_HBD_BLANK : OM_HBD_GARBAGE;
        uint32_t len = get_be32(slot + 8);
        /* one encoding per frame: the reserved bytes and everything after the frame zero */
        if (len < OM_HB_OVERHEAD || len > OM_HB_UDP_MAX || !zero(slot + 12, 4) ||
            !zero(slot + OM_HBD_HEADER + len, OM_HBD_SLOT_SIZE - OM_HBD_HEADER - len))
                return OM_HBD_GARBAGE;
        *ret_frame = slot + OM_HBD_HEADER;
        *ret_len = len;
        return OM_HBD_FRAME;
}

static int drop(struct om_hb_stats *st, enum om_hb_drop d) {
        st->drops[d]++;
        return -EBADMSG;
}

static int node_index(const struct om_hb_rx_ctx *ctx, const char *name) {
        for (size_t i = 0; i < ctx->n_nodes; i++)
                if (strcmp(ctx->nodes[i], name) == 0)
                        return (int)i;
        return -1;
}

int om_hbd_slot_receive(const struct om_hb_rx_ctx *ctx, struct om_hb_stats *st,
                        struct om_hbd_slot_state *ss, size_t idx, const uint8_t *slot,
                        struct om_hb_beat *ret) {
        uint8_t digest[sizeof(ss->digest)];
        const uint8_t *frame = NULL;
        size_t len = 0;
        struct om_hb_info info;
        enum om_hb_drop why;

        if (idx >= ctx->n_nodes || om_streq(ctx->nodes[idx], ctx->self))
                return 0;
        crypto_generichash(digest, sizeof(digest), slot, OM_HBD_SLOT_SIZE, NULL, 0);
        if (ss->seen && memcmp(digest, ss->digest, sizeof(digest)) == 0)
                return 0;
        ss->seen = true;
        memcpy(ss->digest, digest, sizeof(digest));
        bool first = !ss->primed;
        ss->primed = true;

        switch (om_hbd_slot_parse(slot, &frame, &len)) {
        case OM_HBD_BLANK:
                return 0;
        case OM_HBD_GARBAGE:
                return drop(st, OM_HB_DROP_MALFORMED);
        case OM_HBD_FRAME:
                break;
        }
        if (om_hb_peek(frame, len, OM_HB_UDP_MAX, &info, &why) < 0)
                return drop(st, why);
        if (!om_streq(info.sender, ctx->nodes[idx]))
                return drop(st, node_index(ctx, info.sender) >= 0 ? OM_HB_DROP_SLOT
                                                                  : OM_HB_DROP_SENDER);
        int r = om_hb_receive(ctx, st, frame, len, ret);
        if (r < 0)
                return r;
        return first ? 0 : 1;
}

int om_hbd_own_slot_check(const uint8_t *slot, const char *self, size_t n_nodes,
                          const char (*nodes)[64], char owner[OM_HB_SENDER_MAX + 1]) {
        const uint8_t *frame = NULL;
        size_t len = 0;
        struct om_hb_info info;
        enum om_hb_drop why;
        owner[0] = 0;
        switch (om_hbd_slot_parse(slot, &frame, &len)) {
        case OM_HBD_BLANK:
                return 0;
        case OM_HBD_GARBAGE:
                return -ENOTBLK;
        case OM_HBD_FRAME:
                break;
        }
        /* a slot of ours whose frame is damaged is still ours to write */
        if (om_hb_peek(frame, len, OM_HB_UDP_MAX, &info, &why) < 0 || om_streq(info.sender, self))
                return 0;
        for (size_t i = 0; i < n_nodes; i++)
                if (om_streq(nodes[i], info.sender)) {
                        memcpy(owner, info.sender, sizeof(info.sender));
                        return -EEXIST;
                }
        return 0;
}
