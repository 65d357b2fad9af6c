/*
 * The length-prefixed messages of the local API and the peer API, used by the agent
 * (agent/api_local.c, agent/api_peer.c) and the CLI (cli/api_client.c): a 4-byte
 * big-endian length, then that many bytes. It has three parts:
 *   - the prefix itself (put, get, and reserving it in front of a msgpack buffer);
 *   - a receiving state machine fed with whatever a stream read returned (a frame split
 *     at any byte, several frames in one read) that holds at most `max` bytes of the
 *     frame being received, growing its buffer only as bytes arrive; its bound can be
 *     raised between frames (once the peer proved who it is);
 *   - the peer API's sealed messages (cluster/hb_frame.h frames, key "peerapi_"): a
 *     message whose sealed frame is longer than OM_LIM_PEER_FIRST_FRAME goes as two
 *     frames, a small sealed announce {"v":1, "more":N, "ts":..., "echo":...} then the
 *     frame of N bytes, so that a receiver holds no more than OM_LIM_PEER_FIRST_FRAME
 *     bytes from anyone who has not proved the cluster secret.
 * It does no I/O and keeps no global state.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/hb_frame.h"
#include "core/limits.h"
#include "core/util.h"

#define OM_FRAME_PREFIX 4

void om_frame_prefix_put(uint8_t p[OM_FRAME_PREFIX], uint32_t n);
uint32_t om_frame_prefix_get(const uint8_t p[OM_FRAME_PREFIX]);
/* Starts sb (initialized and empty) with a prefix to fill by om_frame_sbuf_end once the
 * message is packed after it. */
void om_frame_sbuf_begin(msgpack_sbuffer *sb);
void om_frame_sbuf_end(msgpack_sbuffer *sb);

/* Why a frame was refused. */
enum om_frame_err {
        OM_FRAME_OK = 0,
        OM_FRAME_TOO_SMALL, /* its length is below min (0 for the local API) */
        OM_FRAME_TOO_LARGE, /* its length is above max */
        OM_FRAME_NOMEM,
};

struct om_frame_rx {
        uint8_t prefix[OM_FRAME_PREFIX];
        size_t n_prefix;
        size_t want;        /* length of the frame being received, once the prefix is in */
        struct om_buf body; /* its bytes so far */
        size_t min, max;    /* bounds of a frame's length */
        bool ready;         /* body holds a whole frame of want bytes */
        enum om_frame_err err;
};

void om_frame_rx_init(struct om_frame_rx *rx, size_t min, size_t max);
void om_frame_rx_free(struct om_frame_rx *rx);
/* Takes bytes from data until one frame is complete (rx->ready) or data is used up;
 * returns the number of bytes taken, or -1 with rx->err set when the frame's length is
 * out of bounds (the stream is then unusable). Call again with the rest of data after
 * om_frame_rx_next. */
ssize_t om_frame_rx_feed(struct om_frame_rx *rx, const uint8_t *data, size_t len);
/* The complete frame: its bytes and length (valid until om_frame_rx_next). */
static inline const uint8_t *om_frame_rx_data(const struct om_frame_rx *rx) {
        return (const uint8_t *)rx->body.data;
}
/* Drops the complete frame (its memory freed) and waits for the next one. */
void om_frame_rx_next(struct om_frame_rx *rx);
/* Whether part of a frame is held (a prefix byte or more, and not a whole frame). */
bool om_frame_rx_partial(const struct om_frame_rx *rx);
const char *om_frame_err_to_string(enum om_frame_err e);

/* ---- sealed peer API messages ---- */

/* Seals payload as one frame, or as an announce and a frame when the sealed frame would
 * be longer than OM_LIM_PEER_FIRST_FRAME, into *ret (prefixes included; the caller frees
 * it). info->seq is the last sequence used: each frame takes the next one and info->seq
 * is left at the payload frame's. echo goes into the announce (a reply's request
 * sequence), ts too (the sender's wall clock in ms). -EMSGSIZE when the payload does not
 * fit in OM_LIM_PEER_FRAME_MAX. */
int om_frame_peer_seal(const uint8_t key[OM_HB_KEY_LEN], struct om_hb_info *info, uint64_t echo,
                       uint64_t ts, const void *payload, size_t len, uint8_t **ret,
                       size_t *ret_len);
/* Whether an opened payload map is an announce: 1 and *ret_more (the length of the frame
 * that follows, within (OM_HB_OVERHEAD, OM_LIM_PEER_FRAME_MAX]) when it is, 0 when it is
 * not, -EBADMSG when it claims to be one and is malformed. */
int om_frame_peer_announce(const msgpack_object *map, uint64_t *ret_more);
