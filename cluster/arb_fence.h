/*
 * Fence marks: the arbitrator's record that the replica of a node is outdated, for
 * replicated storage (disk.drbd). Pure: no I/O, no clock reads.
 *
 * The problem. Two nodes replicate a volume; the link between them breaks while the
 * primary, n1, goes on writing (it holds the quorum with the arbitrator). Later n1
 * dies; n2 (with the arbitrator) takes over and would promote its replica, which DRBD
 * still calls UpToDate, though it misses every write n1 made after the cut.
 *
 * The rule. A node about to write without its peer (the primary that lost it, or a
 * secondary being promoted while the peer is unknown) first asks the arbitrator to
 * record "res R: the replica of V is outdated, by N" (FENCE). The arbitrator does it
 * atomically, as a compare-and-set:
 * - FENCE(res, requester, victim) is REFUSED when a mark of res names the requester
 *   as outdated: the requester's data is the stale side; it must not write.
 * - otherwise the mark of (res, victim) is set, or kept when it exists; either way it
 *   gets a new id (every acknowledged FENCE is a new version of the mark).
 * - UNFENCE(res, node, id) clears the mark naming node when its id is id; an id of 0
 *   (or another id) changes nothing and answers the current mark, so the node can
 *   clear it with the id it read: a clear delayed in the network never removes a mark
 *   set again since (a later FENCE gave it a new id). A node sends UNFENCE only once
 *   its replica is Connected and UpToDate again.
 * The arbitrator answers FENCE only after the marks are on its disk.
 *
 * Why it closes the gap: in a cluster of the two replicating nodes and one arbitrator,
 * every quorum without a node contains the arbitrator; whoever writes without its peer
 * has asked it first, so the mark of the one that wrote is there when the other asks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/arb_vote.h"

#define OM_ARB_MARKS_MAX 256 /* marks per cluster */
#define OM_ARB_RES_MAX 64    /* resource names, NUL included (1 to 63 of A-Za-z0-9_.+-) */

struct om_arb_mark {
        char res[OM_ARB_RES_MAX];
        char victim[OM_ARB_NAME_MAX]; /* the node whose replica is outdated */
        char by[OM_ARB_NAME_MAX];     /* the node that asked */
        uint64_t id;                  /* this version of the mark (> 0) */
        uint64_t at;                  /* when set: the arbitrator's wall clock, ms */
};

struct om_arb_marks {
        uint64_t last_id; /* ids are never given twice */
        size_t n;
        struct om_arb_mark m[OM_ARB_MARKS_MAX];
};

enum om_arb_fence_op {
        OM_ARB_FENCE,
        OM_ARB_UNFENCE,
        _OM_ARB_FENCE_OP_MAX,
};
const char *om_arb_fence_op_to_string(enum om_arb_fence_op o);
int om_arb_fence_op_from_string(const char *s);

enum om_arb_fence_result {
        OM_ARB_FENCE_SET,     /* FENCE: the mark was set */
        OM_ARB_FENCE_KEPT,    /* FENCE: it existed, it has a new id */
        OM_ARB_FENCE_REFUSED, /* FENCE: a mark names the requester (the answer's mark) */
        OM_ARB_FENCE_FULL,    /* FENCE: no room for another mark */
        OM_ARB_FENCE_CLEARED, /* UNFENCE: the mark is gone */
        OM_ARB_FENCE_NONE,    /* UNFENCE: no mark names the node */
        OM_ARB_FENCE_OTHER,   /* UNFENCE: the mark has another id (the answer's mark) */
        _OM_ARB_FENCE_RESULT_MAX,
};
const char *om_arb_fence_result_to_string(enum om_arb_fence_result r);
int om_arb_fence_result_from_string(const char *s);
/* Whether the result lets the requester write without its peer (SET, KEPT). */
bool om_arb_fence_acked(enum om_arb_fence_result r);

/* Whether s is a resource name a mark may carry. */
bool om_arb_res_name_ok(const char *s);

/* FENCE: -EINVAL when a name is malformed or requester is victim; else 0, the result
 * in *ret and the mark concerned (set, kept, or the one that refused) in *ret_mark. */
int om_arb_fence(struct om_arb_marks *ms, const char *res, const char *requester,
                 const char *victim, uint64_t now_wall_ms, enum om_arb_fence_result *ret,
                 struct om_arb_mark *ret_mark);

/* UNFENCE: -EINVAL on a malformed name; else 0, the result in *ret and, for OTHER and
 * CLEARED, the mark in *ret_mark. */
int om_arb_unfence(struct om_arb_marks *ms, const char *res, const char *node, uint64_t id,
                   enum om_arb_fence_result *ret, struct om_arb_mark *ret_mark);

/* The persistent form of one mark: "mark <cluster> <res> <victim> <by> <id> <at>" (a
 * line without its newline), and the counter: "last <cluster> <id>". Returns the
 * length written or -EMSGSIZE. */
int om_arb_mark_format(const char *cluster, const struct om_arb_mark *m, char *buf, size_t len);
/* Parses one line of that form: 0 and the cluster in ret_cluster, and either the mark
 * (*ret_is_mark true) or the counter in ret_mark->id; -EBADMSG when malformed. */
int om_arb_mark_parse(const char *line, char ret_cluster[64], bool *ret_is_mark,
                      struct om_arb_mark *ret_mark);
