/*
 * Implementation of arb_fence.h: the compare-and-set of the fence marks and their
 * one-line persistent form. The rule and its reasons are written in arb_fence.h.
 */
#include "cluster/arb_fence.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/om.h"

static const char *const op_names[_OM_ARB_FENCE_OP_MAX] = {
        [OM_ARB_FENCE] = "fence",
        [OM_ARB_UNFENCE] = "unfence",
};

static const char *const result_names[_OM_ARB_FENCE_RESULT_MAX] = {
        [OM_ARB_FENCE_SET] = "set",         [OM_ARB_FENCE_KEPT] = "kept",
        [OM_ARB_FENCE_REFUSED] = "refused", [OM_ARB_FENCE_FULL] = "full",
        [OM_ARB_FENCE_CLEARED] = "cleared", [OM_ARB_FENCE_NONE] = "none",
        [OM_ARB_FENCE_OTHER] = "other",
};

const char *om_arb_fence_op_to_string(enum om_arb_fence_op o) {
        return (unsigned)o < _OM_ARB_FENCE_OP_MAX ? op_names[o] : "?";
}

int om_arb_fence_op_from_string(const char *s) {
        for (int i = 0; s && i < _OM_ARB_FENCE_OP_MAX; i++)
                if (strcmp(s, op_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *om_arb_fence_result_to_string(enum om_arb_fence_result r) {
        return (unsigned)r < _OM_ARB_FENCE_RESULT_MAX ? result_names[r] : "?";
}

int om_arb_fence_result_from_string(const char *s) {
        for (int i = 0; s && i < _OM_ARB_FENCE_RESULT_MAX; i++)
                if (strcmp(s, result_names[i]) == 0)
                        return i;
        return -EINVAL;
}

bool om_arb_fence_acked(enum om_arb_fence_result r) {
        return r == OM_ARB_FENCE_SET || r == OM_ARB_FENCE_KEPT;
}

bool om_arb_res_name_ok(const char *s) {
        size_t n = s ? strnlen(s, OM_ARB_RES_MAX) : 0;
        if (n == 0 || n >= OM_ARB_RES_MAX || s[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.+-", s[i]))
                        return false;
        return true;
}

/* A node name as the vote's tables take it, printable and without white space (it is
 * written in the marks file, one word). */
static bool node_ok(const char *s) {
        size_t n = s ? strnlen(s, OM_ARB_NAME_MAX) : 0;
        if (n == 0 || n >= OM_ARB_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
                        return false;
        return true;
}

static struct om_arb_mark *find(struct om_arb_marks *ms, const char *res, const char *victim) {
        for (size_t i = 0; i < ms->n; i++)
                if (strcmp(ms->m[i].res, res) == 0 && strcmp(ms->m[i].victim, victim) == 0)
                        return &ms->m[i];
        return NULL;
}

int om_arb_fence(struct om_arb_marks *ms, const char *res, const char *requester,
                 const char *victim, uint64_t now_wall_ms, enum om_arb_fence_result *ret,
                 struct om_arb_mark *ret_mark) {
        if (!om_arb_res_name_ok(res) || !node_ok(requester) || !node_ok(victim) ||
            strcmp(requester, victim) == 0)
                return -EINVAL;
        *ret_mark = (struct om_arb_mark){0};
        struct om_arb_mark *own = find(ms, res, requester);
        if (own) {
                *ret = OM_ARB_FENCE_REFUSED;
                *ret_mark = *own;
                return 0;
        }
        struct om_arb_mark *m = find(ms, res, victim);
        if (m)
                *ret = OM_ARB_FENCE_KEPT;
        else if (ms->n >= OM_ARB_MARKS_MAX) {
                *ret = OM_ARB_FENCE_FULL;
                return 0;
        } else {
                m = &ms->m[ms->n++];
                *m = (struct om_arb_mark){0};
                snprintf(m->res, sizeof(m->res), "%s", res);
                snprintf(m->victim, sizeof(m->victim), "%s", victim);
                *ret = OM_ARB_FENCE_SET;
        }
        snprintf(m->by, sizeof(m->by), "%s", requester);
        m->id = ++ms->last_id;
        m->at = now_wall_ms;
        *ret_mark = *m;
        return 0;
}

int om_arb_unfence(struct om_arb_marks *ms, const char *res, const char *node, uint64_t id,
                   enum om_arb_fence_result *ret, struct om_arb_mark *ret_mark) {
        if (!om_arb_res_name_ok(res) || !node_ok(node))
                return -EINVAL;
        *ret_mark = (struct om_arb_mark){0};
        struct om_arb_mark *m = find(ms, res, node);
        if (!m) {
                *ret = OM_ARB_FENCE_NONE;
                return 0;
        }
        *ret_mark = *m;
        if (id == 0 || m->id != id) {
                *ret = OM_ARB_FENCE_OTHER;
                return 0;
        }
        *m = ms->m[--ms->n];
        *ret = OM_ARB_FENCE_CLEARED;
        return 0;
}

int om_arb_mark_format(const char *cluster, const struct om_arb_mark *m, char *buf, size_t len) {
        int n = m->res[0] ? snprintf(buf, len, "mark %s %s %s %s %" PRIu64 " %" PRIu64, cluster,
                                     m->res, m->victim, m->by, m->id, m->at)
                          : snprintf(buf, len, "last %s %" PRIu64, cluster, m->id);
        return n < 0 || (size_t)n >= len ? -EMSGSIZE : n;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        if (!s || !isdigit((unsigned char)s[0]))
                return -EBADMSG;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int om_arb_mark_parse(const char *line, char ret_cluster[64], bool *ret_is_mark,
                      struct om_arb_mark *ret_mark) {
        char buf[512], *w[8], *save = NULL;
        size_t n = 0;
        if (strlen(line) >= sizeof(buf))
                return -EBADMSG;
        snprintf(buf, sizeof(buf), "%s", line);
        for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                if (n == ARRAY_SIZE(w))
                        return -EBADMSG;
                w[n++] = t;
        }
        *ret_mark = (struct om_arb_mark){0};
        if (n < 3 || strlen(w[1]) >= 64 || !node_ok(w[1]))
                return -EBADMSG;
        snprintf(ret_cluster, 64, "%s", w[1]);
        if (strcmp(w[0], "last") == 0 && n == 3) {
                *ret_is_mark = false;
                return parse_u64(w[2], &ret_mark->id);
        }
        if (strcmp(w[0], "mark") != 0 || n != 7 || !om_arb_res_name_ok(w[2]) || !node_ok(w[3]) ||
            !node_ok(w[4]) || strcmp(w[3], w[4]) == 0 || parse_u64(w[5], &ret_mark->id) < 0 ||
            ret_mark->id == 0 || parse_u64(w[6], &ret_mark->at) < 0)
                return -EBADMSG;
        snprintf(ret_mark->res, sizeof(ret_mark->res), "%s", w[2]);
        snprintf(ret_mark->victim, sizeof(ret_mark->victim), "%s", w[3]);
        snprintf(ret_mark->by, sizeof(ret_mark->by), "%s", w[4]);
        *ret_is_mark = true;
        return 0;
}
