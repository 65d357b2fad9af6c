/*
 * Implementation of arb_wire.h: msgpack payloads checked field by field (cl_mp.c bounds
 * every container before anything is allocated) and the one-byte-length cluster prefix.
 */
#include "cluster/arb_wire.h"

#include <errno.h>
#include <msgpack.h>
#include <string.h>

#include "cluster/cl_mp.h"

static int sbuf_out(msgpack_sbuffer *sb, uint8_t *out, size_t outmax) {
        int r = -EMSGSIZE;
        if (sb->size <= outmax) {
                memcpy(out, sb->data, sb->size);
                r = (int)sb->size;
        }
        msgpack_sbuffer_destroy(sb);
        return r;
}

int om_arb_req_pack(const char *cluster, const char *const *view, size_t n_view, uint32_t services,
                    uint8_t *out, size_t outmax) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", cluster);
        om_cl_mp_str_pack(&pk, "w");
        msgpack_pack_array(&pk, n_view);
        for (size_t i = 0; i < n_view; i++)
                om_cl_mp_str_pack(&pk, view[i]);
        om_cl_mp_kv_u64(&pk, "s", services);
        return sbuf_out(&sb, out, outmax);
}

static int names_get(const msgpack_object *map, const char *key, char (*names)[OM_ARB_NAME_MAX],
                     size_t *ret_n) {
        const msgpack_object *a = om_cl_mp_get(map, key);
        if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size > OM_ARB_NODES_MAX)
                return -EBADMSG;
        for (uint32_t i = 0; i < a->via.array.size; i++)
                if (om_cl_mp_str(&a->via.array.ptr[i], names[i], OM_ARB_NAME_MAX) < 0 ||
                    !names[i][0])
                        return -EBADMSG;
        *ret_n = a->via.array.size;
        return 0;
}

int om_arb_req_unpack(const uint8_t *p, size_t len, struct om_arb_req_msg *ret) {
        msgpack_unpacked u;
        uint64_t v = 0, s = 0;
        if (om_cl_mp_unpack(p, len, &u) < 0)
                return -EBADMSG;
        int r = om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
                                om_cl_mp_get_str(&u.data, "c", ret->cluster, sizeof(ret->cluster)) <
                                        0 ||
                                om_cl_mp_get_u64(&u.data, "s", &s) < 0 || s > UINT32_MAX ||
                                names_get(&u.data, "w", ret->view, &ret->n_view) < 0
                        ? -EBADMSG
                        : 0;
        ret->services = (uint32_t)s;
        msgpack_unpacked_destroy(&u);
        return r;
}

int om_arb_ans_pack(const char *cluster, uint64_t seq, const struct om_arb_answer *a,
                    const char *const *holders, size_t n_holders, uint8_t *out, size_t outmax) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 8);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", cluster);
        om_cl_mp_kv_u64(&pk, "q", seq);
        om_cl_mp_kv_str(&pk, "k", om_arb_kind_to_string(a->kind));
        om_cl_mp_kv_str(&pk, "r", om_arb_reason_to_string(a->reason));
        om_cl_mp_kv_u64(&pk, "l", a->lease_ms);
        om_cl_mp_str_pack(&pk, "h");
        msgpack_pack_array(&pk, n_holders);
        for (size_t i = 0; i < n_holders; i++)
                om_cl_mp_str_pack(&pk, holders[i]);
        om_cl_mp_kv_u64(&pk, "hl", a->holder_left_ms);
        return sbuf_out(&sb, out, outmax);
}

int om_arb_ans_unpack(const uint8_t *p, size_t len, struct om_arb_ans_msg *ret) {
        msgpack_unpacked u;
        uint64_t v = 0;
        char kind[16], reason[16];
        if (om_cl_mp_unpack(p, len, &u) < 0)
                return -EBADMSG;
        int r = 0;
        if (om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_str(&u.data, "c", ret->cluster, sizeof(ret->cluster)) < 0 ||
            om_cl_mp_get_u64(&u.data, "q", &ret->seq) < 0 ||
            om_cl_mp_get_str(&u.data, "k", kind, sizeof(kind)) < 0 ||
            om_cl_mp_get_str(&u.data, "r", reason, sizeof(reason)) < 0 ||
            om_cl_mp_get_u64(&u.data, "l", &ret->lease_ms) < 0 ||
            om_cl_mp_get_u64(&u.data, "hl", &ret->holder_left_ms) < 0 ||
            names_get(&u.data, "h", ret->holders, &ret->n_holders) < 0)
                r = -EBADMSG;
        msgpack_unpacked_destroy(&u);
        if (r)
                return r;
        int k = om_arb_kind_from_string(kind), why = om_arb_reason_from_string(reason);
        if (k < 0 || why < 0 || ret->lease_ms > OM_ARB_LEASE_MAX_MS)
                return -EBADMSG;
        ret->kind = (enum om_arb_kind)k;
        ret->reason = (enum om_arb_reason)why;
        return 0;
}

int om_arb_dgram_wrap(const char *cluster, const uint8_t *frame, size_t flen, uint8_t *out,
                      size_t outmax) {
        size_t n = strlen(cluster);
        if (n == 0 || n >= OM_ARB_CLUSTER_MAX || 1 + n + flen > outmax)
                return -EMSGSIZE;
        out[0] = (uint8_t)n;
        memcpy(out + 1, cluster, n);
        memcpy(out + 1 + n, frame, flen);
        return (int)(1 + n + flen);
}

int om_arb_dgram_split(const uint8_t *d, size_t len, char ret_cluster[OM_ARB_CLUSTER_MAX]) {
        if (len < 1)
                return -EBADMSG;
        size_t n = d[0];
        if (n == 0 || n >= OM_ARB_CLUSTER_MAX || len < 1 + n + OM_HB_OVERHEAD)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (d[1 + i] <= ' ' || d[1 + i] > '~')
                        return -EBADMSG;
        memcpy(ret_cluster, d + 1, n);
        ret_cluster[n] = 0;
        return (int)(1 + n);
}

int om_arb_fence_req_pack(const char *cluster, enum om_arb_fence_op op, const char *res,
                          const char *node, uint64_t id, uint8_t *out, size_t outmax) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 6);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", cluster);
        om_cl_mp_kv_str(&pk, "o", om_arb_fence_op_to_string(op));
        om_cl_mp_kv_str(&pk, "r", res);
        om_cl_mp_kv_str(&pk, "n", node);
        om_cl_mp_kv_u64(&pk, "i", id);
        return sbuf_out(&sb, out, outmax);
}

int om_arb_fence_req_unpack(const uint8_t *p, size_t len, struct om_arb_fence_req_msg *ret) {
        msgpack_unpacked u;
        uint64_t v = 0;
        char op[16];
        if (om_cl_mp_unpack(p, len, &u) < 0)
                return -EBADMSG;
        int r = om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
                                om_cl_mp_get_str(&u.data, "c", ret->cluster, sizeof(ret->cluster)) <
                                        0 ||
                                om_cl_mp_get_str(&u.data, "o", op, sizeof(op)) < 0 ||
                                om_cl_mp_get_str(&u.data, "r", ret->res, sizeof(ret->res)) < 0 ||
                                om_cl_mp_get_str(&u.data, "n", ret->node, sizeof(ret->node)) < 0 ||
                                om_cl_mp_get_u64(&u.data, "i", &ret->id) < 0
                        ? -EBADMSG
                        : 0;
        msgpack_unpacked_destroy(&u);
        if (r)
                return r;
        int o = om_arb_fence_op_from_string(op);
        if (o < 0 || !om_arb_res_name_ok(ret->res) || !ret->node[0])
                return -EBADMSG;
        ret->op = (enum om_arb_fence_op)o;
        return 0;
}

int om_arb_fence_ans_pack(const char *cluster, uint64_t seq, enum om_arb_fence_result result,
                          const struct om_arb_mark *mark, uint8_t *out, size_t outmax) {
        static const struct om_arb_mark none;
        const struct om_arb_mark *m = mark ? mark : &none;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 9);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "c", cluster);
        om_cl_mp_kv_u64(&pk, "q", seq);
        om_cl_mp_kv_str(&pk, "k", om_arb_fence_result_to_string(result));
        om_cl_mp_kv_str(&pk, "r", m->res);
        om_cl_mp_kv_str(&pk, "n", m->victim);
        om_cl_mp_kv_str(&pk, "b", m->by);
        om_cl_mp_kv_u64(&pk, "i", m->id);
        om_cl_mp_kv_u64(&pk, "t", m->at);
        return sbuf_out(&sb, out, outmax);
}

int om_arb_fence_ans_unpack(const uint8_t *p, size_t len, struct om_arb_fence_ans_msg *ret) {
        msgpack_unpacked u;
        uint64_t v = 0;
        char kind[16];
        if (om_cl_mp_unpack(p, len, &u) < 0)
                return -EBADMSG;
        *ret = (struct om_arb_fence_ans_msg){0};
        struct om_arb_mark *m = &ret->mark;
        int r = 0;
        if (om_cl_mp_get_u64(&u.data, "v", &v) < 0 || v != 1 ||
            om_cl_mp_get_str(&u.data, "c", ret->cluster, sizeof(ret->cluster)) < 0 ||
            om_cl_mp_get_u64(&u.data, "q", &ret->seq) < 0 ||
            om_cl_mp_get_str(&u.data, "k", kind, sizeof(kind)) < 0 ||
            om_cl_mp_get_str(&u.data, "r", m->res, sizeof(m->res)) < 0 ||
            om_cl_mp_get_str(&u.data, "n", m->victim, sizeof(m->victim)) < 0 ||
            om_cl_mp_get_str(&u.data, "b", m->by, sizeof(m->by)) < 0 ||
            om_cl_mp_get_u64(&u.data, "i", &m->id) < 0 ||
            om_cl_mp_get_u64(&u.data, "t", &m->at) < 0)
                r = -EBADMSG;
        msgpack_unpacked_destroy(&u);
        if (r)
                return r;
        int k = om_arb_fence_result_from_string(kind);
        if (k < 0)
                return -EBADMSG;
        ret->result = (enum om_arb_fence_result)k;
        return 0;
}
