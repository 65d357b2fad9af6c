/*
 * The sealed frame of heartbeats and peer API messages (docs/ARCHITECTURE.md): a fixed
 * binary header (magic, version, type, key generation, sender, boot id, sequence, nonce)
 * used whole as associated data, then a msgpack payload sealed with
 * XChaCha20-Poly1305-IETF. This module seals, opens and judges frames and keeps the
 * per-sender replay windows; it does no I/O (the agent, agent/daemon.c, sends and
 * receives).
 */
#pragma once

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define OM_HB_MAGIC "OMHB"
#define OM_HB_VERSION 1
#define OM_HB_SENDER_MAX 64
#define OM_HB_BOOT_ID_LEN 16
#define OM_HB_NONCE_LEN 24
#define OM_HB_TAG_LEN 16
#define OM_HB_KEY_LEN 32
/* Largest heartbeat datagram accepted (and sent): fits one Ethernet frame. */
#define OM_HB_UDP_MAX 1400
/* Largest peer API message (core/limits.h). */
#define OM_HB_PEER_MAX OM_LIM_PEER_FRAME_MAX

enum om_hb_type {
        OM_HB_BEAT = 1,
        OM_HB_PEER_REQ = 2,
        OM_HB_PEER_RESP = 3,
        OM_HB_ARB_REQ = 4,        /* a node asks an arbitrator for its vote (cluster/arb_wire.h) */
        OM_HB_ARB_RESP = 5,       /* the arbitrator's answer */
        OM_HB_DISK_BEAT = 6,      /* a beat written to a disk heartbeat slot (cluster/hb_disk.h) */
        OM_HB_ARB_FENCE = 7,      /* a node asks an arbitrator to set or clear a fence mark */
        OM_HB_ARB_FENCE_RESP = 8, /* its answer (cluster/arb_wire.h) */
        _OM_HB_TYPE_MAX,
};

/* On the wire, integers big-endian; every field a byte array so there is no padding. */
struct om_hb_header {
        uint8_t magic[4];
        uint8_t version;
        uint8_t type;
        uint8_t reserved[2];
        uint8_t keygen[4];
        char sender[OM_HB_SENDER_MAX]; /* NUL-padded node name */
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        uint8_t seq[8];
        uint8_t nonce[OM_HB_NONCE_LEN];
};
static_assert(sizeof(struct om_hb_header) == 124, "heartbeat header is 124 bytes on the wire");
#define OM_HB_OVERHEAD (sizeof(struct om_hb_header) + OM_HB_TAG_LEN)

/* Why a frame was dropped; counted per reason and shown by `om daemon status`. */
enum om_hb_drop {
        OM_HB_DROP_SHORT,     /* truncated: shorter than header + tag */
        OM_HB_DROP_SIZE,      /* oversized */
        OM_HB_DROP_MALFORMED, /* bad magic, version, type or payload */
        OM_HB_DROP_SENDER,    /* sender not in cluster.nodes */
        OM_HB_DROP_OPEN,      /* fails to open (wrong key, tampered) */
        OM_HB_DROP_CLUSTER,   /* another cluster's name */
        OM_HB_DROP_REPLAY,    /* sequence or boot already seen */
        OM_HB_DROP_KERNEL,    /* dropped by the kernel, the socket's receive buffer full
                               * (read from the socket by the agent, not by om_hb_receive) */
        OM_HB_DROP_SLOT,      /* disk heartbeat: a frame in a slot that is not its sender's */
        _OM_HB_DROP_MAX,
};
const char *om_hb_drop_to_string(enum om_hb_drop d);

/* A decoded header, integers in host order. */
struct om_hb_info {
        enum om_hb_type type;
        uint32_t keygen;
        char sender[OM_HB_SENDER_MAX + 1];
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        uint64_t seq;
};

/* A new boot id: 8 bytes of wall clock milliseconds (big-endian) then 8 random bytes, so
 * a later boot of a node compares greater (see the replay window). */
void om_hb_boot_id_new(uint8_t ret[OM_HB_BOOT_ID_LEN]);

/* Seals payload into out (outmax bytes): returns the frame length or -EMSGSIZE. */
int om_hb_seal(const uint8_t key[OM_HB_KEY_LEN], const struct om_hb_info *info, const void *payload,
               size_t len, uint8_t *out, size_t outmax);

/* Checks the header of a frame of len bytes (at most max). Returns 0 and fills info, or
 * -EBADMSG with the reason in *ret_drop (SHORT, SIZE or MALFORMED). */
int om_hb_peek(const uint8_t *frame, size_t len, size_t max, struct om_hb_info *info,
               enum om_hb_drop *ret_drop);

/* Opens a frame whose header om_hb_peek accepted: the payload goes to out (at least
 * len - OM_HB_OVERHEAD bytes), its length returned; -EBADMSG when it fails to open. */
int om_hb_open(const uint8_t key[OM_HB_KEY_LEN], const uint8_t *frame, size_t len, uint8_t *out);

/* Replay window of one sender: see the essay in hb_frame.c. */
#define OM_HB_WINDOW 64
struct om_hb_window {
        bool init;
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        uint64_t top;  /* highest sequence accepted from this boot */
        uint64_t bits; /* bit i: top - i was accepted */
};
/* 0 when (boot_id, seq) is new, -ESTALE when replayed or too old. Does not change w. */
int om_hb_window_check(const struct om_hb_window *w, const uint8_t boot_id[OM_HB_BOOT_ID_LEN],
                       uint64_t seq);
/* Records an accepted (boot_id, seq); returns 1 when it starts a new boot of the sender. */
int om_hb_window_commit(struct om_hb_window *w, const uint8_t boot_id[OM_HB_BOOT_ID_LEN],
                        uint64_t seq);

/* The beat payload: {"v":1, "c":<cluster>, "g":<node data generation>, "t":<wall ms>,
 * "h":[<word>...], "l":[<word>...]}. "h" is the set of nodes the sender hears (frames
 * received within its timeout), as a bit mask over the node indexes of cluster.conf, 64
 * per word, at most OM_HB_HEARS_WORDS words: a receiver uses it to see a node alive that
 * a peer hears when it does not itself. "l" is the set of nodes the sender lends its
 * vote to (frames received within the vote window, cluster/cl_view.h): a receiver counts
 * the sender for the quorum only when "l" names it. Beats of older agents carry no "l"
 * ("h" then stands for both) or neither (hears_known false: counted as before). */
#define OM_HB_HEARS_WORDS 2
struct om_hb_beat {
        int node; /* index of the sender in the receiver's node list */
        uint64_t gen;
        uint64_t ts;
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        bool new_boot;
        bool hears_known;
        uint64_t hears[OM_HB_HEARS_WORDS];
        bool lends_known;
        uint64_t lends[OM_HB_HEARS_WORDS];
};
/* hears, lends: OM_HB_HEARS_WORDS words each, or NULL to send no "h" or no "l". */
int om_hb_beat_pack(const char *cluster, uint64_t gen, uint64_t ts, const uint64_t *hears,
                    const uint64_t *lends, uint8_t *out, size_t outmax);

/* Counters of one receiving stream. */
struct om_hb_stats {
        uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, tx_errors;
        uint64_t drops[_OM_HB_DROP_MAX];
};

/* What a receiver knows to judge a frame. windows has one entry per node of nodes. */
struct om_hb_rx_ctx {
        const uint8_t *key; /* OM_HB_KEY_LEN bytes, for keygen */
        uint32_t keygen;
        const uint8_t *key_alt; /* during a secret rotation, for keygen_alt; else NULL */
        uint32_t keygen_alt;
        const char *cluster;
        const char *self;
        size_t n_nodes;
        const char (*nodes)[64];
        struct om_hb_window *windows;
        /* the frame type the stream carries: OM_HB_BEAT when 0, OM_HB_DISK_BEAT for a disk
         * stream (so a beat cannot be replayed from one kind of stream into the other) */
        enum om_hb_type type;
};

/* Judges one received heartbeat datagram: 0 and *ret filled when accepted (the sender's
 * window updated), or -EBADMSG after counting the drop reason in st. */
int om_hb_receive(const struct om_hb_rx_ctx *ctx, struct om_hb_stats *st, const uint8_t *frame,
                  size_t len, struct om_hb_beat *ret);
