/*
 * The arbitrator's wire format: what a node and `om arbitrator run` exchange over UDP.
 * A request datagram is one byte of cluster name length, the cluster name (in clear, so
 * an arbitrator serving several clusters picks the key without trying each), then a
 * sealed heartbeat frame (cluster/hb_frame.h) of type OM_HB_ARB_REQ whose payload names
 * the cluster again (checked after opening). The answer is a sealed frame of type
 * OM_HB_ARB_RESP sent back to the request's source, echoing the request's sequence.
 * Frames are sealed with the subkey OM_ARB_KDF_CTX of the cluster secret, so a vote
 * frame can never be taken for a beat or a peer API message. This module packs and
 * unpacks payloads and datagrams; it does no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/arb_fence.h"
#include "cluster/arb_vote.h"
#include "cluster/hb_frame.h"

#define OM_ARB_KDF_CTX "arbvote_"
/* Largest datagram either way: a view of 128 names of 63 bytes fits. */
#define OM_ARB_UDP_MAX 9216
#define OM_ARB_CLUSTER_MAX 64 /* cluster names, NUL included */
#define OM_ARB_PORT_DEFAULT 1216

/* The request payload: {"v":1, "c":<cluster>, "w":[<view names>], "s":<services>}. */
struct om_arb_req_msg {
        char cluster[OM_ARB_CLUSTER_MAX];
        size_t n_view;
        char view[OM_ARB_NODES_MAX][OM_ARB_NAME_MAX];
        uint32_t services;
};
int om_arb_req_pack(const char *cluster, const char *const *view, size_t n_view, uint32_t services,
                    uint8_t *out, size_t outmax);
/* -EBADMSG when malformed (missing field, bad type, a name empty or too long, more than
 * OM_ARB_NODES_MAX names). */
int om_arb_req_unpack(const uint8_t *p, size_t len, struct om_arb_req_msg *ret);

/* The answer payload: {"v":1, "c":<cluster>, "q":<request seq>, "k":<kind>, "r":<reason>,
 * "l":<lease ms>, "h":[<holder names>], "hl":<holder lease left ms>}. */
struct om_arb_ans_msg {
        char cluster[OM_ARB_CLUSTER_MAX];
        uint64_t seq;
        enum om_arb_kind kind;
        enum om_arb_reason reason;
        uint64_t lease_ms;
        size_t n_holders;
        char holders[OM_ARB_NODES_MAX][OM_ARB_NAME_MAX];
        uint64_t holder_left_ms;
};
/* holders: names of the answer's holder set (NULL-free array of n_holders). */
int om_arb_ans_pack(const char *cluster, uint64_t seq, const struct om_arb_answer *a,
                    const char *const *holders, size_t n_holders, uint8_t *out, size_t outmax);
int om_arb_ans_unpack(const uint8_t *p, size_t len, struct om_arb_ans_msg *ret);

/* Prefixes a sealed frame with its cluster name: the datagram length, or -EMSGSIZE. */
int om_arb_dgram_wrap(const char *cluster, const uint8_t *frame, size_t flen, uint8_t *out,
                      size_t outmax);
/* Splits a received request datagram: the cluster name copied to ret_cluster, the frame's
 * offset returned; -EBADMSG when the prefix is malformed (empty, too long, not printable
 * ASCII, or no room left for a frame). */
int om_arb_dgram_split(const uint8_t *d, size_t len, char ret_cluster[OM_ARB_CLUSTER_MAX]);

/* Fence requests (cluster/arb_fence.h), frames of type OM_HB_ARB_FENCE sealed with the
 * same key, in the same datagram; the answer is an OM_HB_ARB_FENCE_RESP frame.
 * Request: {"v":1, "c":<cluster>, "o":"fence"|"unfence", "r":<res>, "n":<victim or node>,
 * "i":<mark id, unfence>}. The requester is the frame's sender. */
struct om_arb_fence_req_msg {
        char cluster[OM_ARB_CLUSTER_MAX];
        enum om_arb_fence_op op;
        char res[OM_ARB_RES_MAX];
        char node[OM_ARB_NAME_MAX];
        uint64_t id;
};
int om_arb_fence_req_pack(const char *cluster, enum om_arb_fence_op op, const char *res,
                          const char *node, uint64_t id, uint8_t *out, size_t outmax);
/* -EBADMSG when malformed (a field missing or of another type, an unknown op, a resource
 * or node name out of the rules of cluster/arb_fence.h). */
int om_arb_fence_req_unpack(const uint8_t *p, size_t len, struct om_arb_fence_req_msg *ret);

/* Answer: {"v":1, "c":<cluster>, "q":<request seq>, "k":<result>, "r":<res>, "n":<victim>,
 * "b":<by>, "i":<mark id>, "t":<mark set at, wall ms>} (the mark fields empty or 0 when the
 * answer names no mark). */
struct om_arb_fence_ans_msg {
        char cluster[OM_ARB_CLUSTER_MAX];
        uint64_t seq;
        enum om_arb_fence_result result;
        struct om_arb_mark mark;
};
int om_arb_fence_ans_pack(const char *cluster, uint64_t seq, enum om_arb_fence_result result,
                          const struct om_arb_mark *mark, uint8_t *out, size_t outmax);
int om_arb_fence_ans_unpack(const uint8_t *p, size_t len, struct om_arb_fence_ans_msg *ret);
