/*
 * The disk heartbeat's slots (`[hb#N] type = disk`, docs/ARCHITECTURE.md): the layout of
 * the shared device, the encoding of one slot, and the judgement of the slots a node
 * read. No I/O: the agent (agent/hb_disk.c) reads and writes the device in the thread
 * pool and hands the blocks it read to om_hbd_slot_receive.
 *
 * Layout: the device is cut in blocks of OM_HBD_SLOT_SIZE bytes. Block 0 is never
 * written (left to a partition table or a label). The slot of the node at index i of
 * `[cluster] nodes` is block i + 1: a node added later (a join appends it to `nodes`)
 * gets the next block, and no other slot moves. A slot holds a 16-byte header (magic
 * "OMDSKHB1", the frame length as 4 bytes big-endian, 4 zero bytes), then one sealed
 * heartbeat frame (cluster/hb_frame.h, type OM_HB_DISK_BEAT) of at most OM_HB_UDP_MAX
 * bytes, then zeros to the end of the block. A blank (all zero) block is a slot never
 * written.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/hb_frame.h"

#define OM_HBD_SLOT_SIZE 4096
#define OM_HBD_MAGIC "OMDSKHB1"
#define OM_HBD_HEADER 16

/* Byte offset of the slot of the node at index idx. */
static inline uint64_t om_hbd_slot_offset(size_t idx) {
        return (uint64_t)(idx + 1) * OM_HBD_SLOT_SIZE;
}
/* How many slots a device of size bytes holds. */
static inline size_t om_hbd_slots_fit(uint64_t size) {
        return size < 2 * OM_HBD_SLOT_SIZE ? 0 : (size_t)(size / OM_HBD_SLOT_SIZE - 1);
}

/* Fills slot (OM_HBD_SLOT_SIZE bytes) with frame: 0, or -EMSGSIZE when the frame is
 * larger than OM_HB_UDP_MAX. */
int om_hbd_slot_pack(const uint8_t *frame, size_t len, uint8_t *slot);

enum om_hbd_kind {
        OM_HBD_BLANK,   /* all zero: never written */
        OM_HBD_FRAME,   /* a slot header and a frame of a plausible length (not opened) */
        OM_HBD_GARBAGE, /* anything else: not a disk heartbeat slot */
};
/* Classifies slot; for OM_HBD_FRAME, *ret_frame and *ret_len give the frame inside it.
 * Reads nothing past the block, and at most OM_HB_UDP_MAX bytes of frame. */
enum om_hbd_kind om_hbd_slot_parse(const uint8_t *slot, const uint8_t **ret_frame, size_t *ret_len);

/* What a reader remembers of one slot: the digest of its content at the last read, so an
 * unchanged slot (the last beat of a node that stopped writing) is not judged again. */
struct om_hbd_slot_state {
        bool seen;   /* read at least once since the agent started */
        bool primed; /* a first read took in the frame it held */
        uint8_t digest[16];
};

/*
 * Judges the slot of node idx as read now.
 *
 * Returns 1 with *ret filled when it holds a beat that is new: accepted by the same
 * checks as a network beat (om_hb_receive with ctx, whose type is OM_HB_DISK_BEAT, and
 * its windows: authenticity, replay, unknown sender, another cluster), sent by the node
 * the slot belongs to, and not the content the slot held at the first read since the
 * agent started (a dead node's last beat stays on the device: it proves nothing about
 * now, so the first read only primes the replay window). Returns 0 for nothing new (the
 * content did not change, a blank slot, this node's own slot, the first read), or
 * -EBADMSG after counting the reason in st (truncated, malformed and garbage, unknown
 * sender, fails to open, another cluster's, replayed, or a frame in another node's slot:
 * wrong_slot). A content is judged once: the same bytes read again count nothing.
 */
int om_hbd_slot_receive(const struct om_hb_rx_ctx *ctx, struct om_hb_stats *st,
                        struct om_hbd_slot_state *ss, size_t idx, const uint8_t *slot,
                        struct om_hb_beat *ret);

/* The node this node's own slot (as read before its first write) belongs to: 0 when it
 * may write it (blank, or a disk heartbeat slot of this node or of a node that is not in
 * nodes any more), -EEXIST with the owner's name in owner when another node of the
 * cluster writes it (the nodes lists of the two disagree), -ENOTBLK when it holds
 * something that is not a disk heartbeat slot (the device holds other data: never
 * overwritten). The sender name is read from the frame's header without opening it. */
int om_hbd_own_slot_check(const uint8_t *slot, const char *self, size_t n_nodes,
                          const char (*nodes)[64], char owner[OM_HB_SENDER_MAX + 1]);
