/*
 * Implementation of cl_nodedata.h. The local collection reads the object configs (for
 * their versions) and the cached instance statuses of resources/status.h; decoding
 * bounds every count by what the message can hold and checks every field's type.
 */
#include "cluster/cl_nodedata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cl_mp.h"
#include "cluster/cl_repl.h"
#include "core/fileio.h"
#include "core/hlc.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/status.h"

#define NODEDATA_MAX_ENTRIES 100000

void om_cl_nodedata_done(struct om_cl_nodedata *nd) {
        free(nd->inst);
        free(nd->objs);
        nd->inst = NULL;
        nd->objs = NULL;
        nd->n_inst = nd->n_objs = 0;
}

static int inst_cmp(const void *x, const void *y) {
        return strcmp(((const struct om_cl_instance *)x)->path,
                      ((const struct om_cl_instance *)y)->path);
}

/* Sorts the instances by path, so that a reader finds one by binary search. */
static void inst_sort(struct om_cl_nodedata *nd) {
        if (nd->n_inst > 1)
                qsort(nd->inst, nd->n_inst, sizeof(*nd->inst), inst_cmp);
        nd->inst_sorted = true;
}

int om_cl_nodedata_collect(struct om_cl_nodedata *ret) {
        _cleanup_free_ struct om_path *paths = NULL;
        size_t n = 0;
        struct om_cl_nodedata nd = {0};
        int r = om_object_list(NULL, &paths, &n);
        if (r < 0)
                return r;
        snprintf(nd.state, sizeof(nd.state), "idle");
        nd.objs = calloc(n ? n : 1, sizeof(*nd.objs));
        nd.inst = calloc(n ? n : 1, sizeof(*nd.inst));
        if (!nd.objs || !nd.inst) {
                om_cl_nodedata_done(&nd);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                char ps[OM_PATH_STRMAX];
                om_path_to_string(&paths[i], ps, sizeof(ps));
                _cleanup_object_ struct om_object *o = NULL;
                if (om_object_load(&paths[i], &o, NULL, 0) == 0) {
                        struct om_version v;
                        om_object_version(o, &v);
                        struct om_cl_objver *ov = &nd.objs[nd.n_objs++];
                        snprintf(ov->path, sizeof(ov->path), "%s", ps);
                        ov->hlc = v.hlc;
                        snprintf(ov->writer, sizeof(ov->writer), "%s", v.writer);
                }
                if (paths[i].kind != OM_KIND_SVC)
                        continue;
                struct om_instance_status st = {0};
                struct om_cl_instance *in = &nd.inst[nd.n_inst++];
                snprintf(in->path, sizeof(in->path), "%s", ps);
                if (om_instance_status_load(&paths[i], &st) == 0) {
                        snprintf(in->avail, sizeof(in->avail), "%s", st.avail);
                        snprintf(in->overall, sizeof(in->overall), "%s", st.overall);
                        in->provisioned = st.provisioned;
                        snprintf(in->error, sizeof(in->error), "%s", st.last_error);
                } else {
                        snprintf(in->avail, sizeof(in->avail), "undef");
                        snprintf(in->overall, sizeof(in->overall), "undef");
                        in->provisioned = false;
                }
                in->frozen = om_instance_frozen(&paths[i]);
        }
        if ((r = om_repl_collect_tombstones(&nd)) < 0) {
                om_cl_nodedata_done(&nd);
                return r;
        }
        inst_sort(&nd);
        *ret = nd;
        return 0;
}

bool om_cl_nodedata_secs_synced(const struct om_cl_nodedata *local,
                                const struct om_cl_nodedata *peer, const char *ns) {
        char prefix[OM_NAME_MAX + 8];
        snprintf(prefix, sizeof(prefix), "%s/sec/", ns ? ns : "");
        for (size_t i = 0; i < peer->n_objs; i++) {
                const struct om_cl_objver *pv = &peer->objs[i];
                const char *slash = strchr(pv->path, '/');
                if (ns ? !om_startswith(pv->path, prefix)
                       : !slash || !om_startswith(slash, "/sec/"))
                        continue;
                const struct om_cl_objver *lv = NULL;
                for (size_t k = 0; k < local->n_objs && !lv; k++)
                        if (strcmp(local->objs[k].path, pv->path) == 0)
                                lv = &local->objs[k];
                if (!lv) {
                        if (pv->deleted)
                                continue;
                        return false;
                }
                struct om_version a = {.hlc = lv->hlc}, b = {.hlc = pv->hlc};
                snprintf(a.writer, sizeof(a.writer), "%s", lv->writer);
                snprintf(b.writer, sizeof(b.writer), "%s", pv->writer);
                if (om_version_compare(&a, &b) < 0)
                        return false;
        }
        return true;
}

bool om_cl_nodedata_same(const struct om_cl_nodedata *a, const struct om_cl_nodedata *b) {
        return a->n_inst == b->n_inst && a->n_objs == b->n_objs && a->frozen == b->frozen &&
               strcmp(a->state, b->state) == 0 &&
               (a->n_inst == 0 || memcmp(a->inst, b->inst, a->n_inst * sizeof(*a->inst)) == 0) &&
               (a->n_objs == 0 || memcmp(a->objs, b->objs, a->n_objs * sizeof(*a->objs)) == 0);
}

void om_cl_nodedata_pack(const struct om_cl_nodedata *nd, msgpack_packer *pk) {
        msgpack_pack_map(pk, 5);
        om_cl_mp_kv_u64(pk, "gen", nd->gen);
        om_cl_mp_kv_str(pk, "state", nd->state);
        om_cl_mp_kv_bool(pk, "frozen", nd->frozen);
        om_cl_mp_str_pack(pk, "instances");
        msgpack_pack_map(pk, nd->n_inst);
        for (size_t i = 0; i < nd->n_inst; i++) {
                const struct om_cl_instance *in = &nd->inst[i];
                om_cl_mp_str_pack(pk, in->path);
                msgpack_pack_map(pk, 9 + (in->error[0] != 0));
                om_cl_mp_kv_str(pk, "avail", in->avail);
                om_cl_mp_kv_str(pk, "overall", in->overall);
                om_cl_mp_kv_bool(pk, "provisioned", in->provisioned);
                om_cl_mp_kv_bool(pk, "frozen", in->frozen);
                om_cl_mp_kv_str(pk, "monitor", om_mon_to_string(in->monitor));
                om_cl_mp_kv_str(pk, "target", in->target);
                om_cl_mp_kv_u64(pk, "target_ver", in->target_ver);
                om_cl_mp_kv_str(pk, "target_writer", in->target_writer);
                om_cl_mp_kv_bool(pk, "target_done", in->target_done);
                if (in->error[0])
                        om_cl_mp_kv_str(pk, "error", in->error);
        }
        om_cl_mp_str_pack(pk, "objects");
        msgpack_pack_map(pk, nd->n_objs);
        for (size_t i = 0; i < nd->n_objs; i++) {
                const struct om_cl_objver *ov = &nd->objs[i];
                om_cl_mp_str_pack(pk, ov->path);
                msgpack_pack_map(pk, ov->deleted ? 3 : 2);
                om_cl_mp_kv_u64(pk, "hlc", ov->hlc);
                om_cl_mp_kv_str(pk, "writer", ov->writer);
                if (ov->deleted)
                        om_cl_mp_kv_bool(pk, "deleted", true);
        }
}

int om_cl_nodedata_unpack(const msgpack_object *o, struct om_cl_nodedata *ret) {
        struct om_cl_nodedata nd = {0};
        const msgpack_object *inst = om_cl_mp_get(o, "instances");
        const msgpack_object *objs = om_cl_mp_get(o, "objects");
        if (om_cl_mp_get_u64(o, "gen", &nd.gen) < 0 ||
            om_cl_mp_get_str(o, "state", nd.state, sizeof(nd.state)) < 0 ||
            om_cl_mp_get_bool(o, "frozen", &nd.frozen) < 0 || !inst ||
            inst->type != MSGPACK_OBJECT_MAP || !objs || objs->type != MSGPACK_OBJECT_MAP ||
            inst->via.map.size > NODEDATA_MAX_ENTRIES || objs->via.map.size > NODEDATA_MAX_ENTRIES)
                return -EBADMSG;
        nd.inst = calloc(inst->via.map.size + 1, sizeof(*nd.inst));
        nd.objs = calloc(objs->via.map.size + 1, sizeof(*nd.objs));
        if (!nd.inst || !nd.objs) {
                om_cl_nodedata_done(&nd);
                return -ENOMEM;
        }
        for (uint32_t i = 0; i < inst->via.map.size; i++) {
                const msgpack_object_kv *kv = &inst->via.map.ptr[i];
                struct om_cl_instance *in = &nd.inst[nd.n_inst];
                struct om_path p;
                char mon[24];
                if (om_cl_mp_str(&kv->key, in->path, sizeof(in->path)) < 0 ||
                    om_path_parse(in->path, &p, NULL, 0) < 0 ||
                    om_cl_mp_get_str(&kv->val, "avail", in->avail, sizeof(in->avail)) < 0 ||
                    om_cl_mp_get_str(&kv->val, "overall", in->overall, sizeof(in->overall)) < 0 ||
                    om_cl_mp_get_bool(&kv->val, "provisioned", &in->provisioned) < 0 ||
                    om_cl_mp_get_bool(&kv->val, "frozen", &in->frozen) < 0)
                        goto bad;
                /* the orchestrator's fields are optional (older agents send none) */
                if (om_cl_mp_get(&kv->val, "monitor") &&
                    (om_cl_mp_get_str(&kv->val, "monitor", mon, sizeof(mon)) < 0 ||
                     om_cl_mp_get_str(&kv->val, "target", in->target, sizeof(in->target)) < 0 ||
                     om_cl_mp_get_u64(&kv->val, "target_ver", &in->target_ver) < 0 ||
                     om_cl_mp_get_str(&kv->val, "target_writer", in->target_writer,
                                      sizeof(in->target_writer)) < 0 ||
                     om_cl_mp_get_bool(&kv->val, "target_done", &in->target_done) < 0))
                        goto bad;
                if (om_cl_mp_get(&kv->val, "monitor"))
                        in->monitor = om_mon_from_string(mon);
                /* optional: absent when its last action did not fail */
                if (om_cl_mp_get(&kv->val, "error") &&
                    om_cl_mp_get_str(&kv->val, "error", in->error, sizeof(in->error)) < 0)
                        goto bad;
                nd.n_inst++;
        }
        for (uint32_t i = 0; i < objs->via.map.size; i++) {
                const msgpack_object_kv *kv = &objs->via.map.ptr[i];
                struct om_cl_objver *ov = &nd.objs[nd.n_objs];
                struct om_path p;
                if (om_cl_mp_str(&kv->key, ov->path, sizeof(ov->path)) < 0 ||
                    om_path_parse(ov->path, &p, NULL, 0) < 0 ||
                    om_cl_mp_get_u64(&kv->val, "hlc", &ov->hlc) < 0 ||
                    om_cl_mp_get_str(&kv->val, "writer", ov->writer, sizeof(ov->writer)) < 0)
                        goto bad;
                /* optional: absent means a file's version */
                if (om_cl_mp_get(&kv->val, "deleted") &&
                    om_cl_mp_get_bool(&kv->val, "deleted", &ov->deleted) < 0)
                        goto bad;
                nd.n_objs++;
        }
        om_cl_nodedata_done(ret);
        inst_sort(&nd);
        *ret = nd;
        return 0;
bad:
        om_cl_nodedata_done(&nd);
        return -EBADMSG;
}

static char *node_frozen_file(void) {
        return om_asprintf("%s/node/frozen", om_dir_var());
}

bool om_cl_node_frozen(void) {
        _cleanup_free_ char *f = node_frozen_file();
        return f && access(f, F_OK) == 0;
}

int om_cl_node_set_frozen(bool frozen) {
        _cleanup_free_ char *f = node_frozen_file();
        if (!f)
                return -ENOMEM;
        if (!frozen)
                return om_unlink_sync(f);
        int r = om_mkdir_parents(f, 0755);
        if (r < 0)
                return r;
        return om_write_atomic(f, "", 0, 0644);
}
