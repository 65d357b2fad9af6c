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
#include <unistd.h>

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
                        snprintf(in->diverged, sizeof(in->diverged), "%s", st.diverged);
                        snprintf(in->standby, sizeof(in->standby), "%s", st.standby);
                } else {
                        snprintf(in->avail, sizeof(in->avail), "undef");
                        snprintf(in->overall, sizeof(in->overall), "undef");
                        in->provisioned = false;
                }
                in->frozen = om_instance_frozen(&paths[i]);
        }
        om_cl_nodedata_metrics(&nd);
        if ((r = om_repl_collect_tombstones(&nd)) < 0) {
                om_cl_nodedata_done(&nd);
                return r;
        }
        inst_sort(&nd);
        *ret = nd;
        return 0;
}

/* The first number of a /proc/loadavg line's third field, x 100 (parsed by hand: no
 * locale, no float). */
static int parse_load15(const char *line, uint32_t *ret) {
        const char *p = line;
        for (int f = 0; f < 2; f++) {
                p += strcspn(p, " ");
                p += strspn(p, " ");
        }
        uint64_t ip = 0, frac = 0;
        int digits = 0, fd = 0;
        for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
                ip = ip * 10 + (uint64_t)(*p - '0');
        if (!digits)
                return -EINVAL;
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++, fd++)
                        if (fd < 2)
                                frac = frac * 10 + (uint64_t)(*p - '0');
        if (fd == 1)
                frac *= 10;
        if (*p && *p != ' ' && *p != '\n')
                return -EINVAL;
        *ret = (uint32_t)(ip * 100 + frac);
        return 0;
}

static int meminfo_kb(const char *text, const char *key, uint64_t *ret) {
        size_t n = strlen(key);
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, key, n) != 0 || p[n] != ':')
                        continue;
                char *end;
                unsigned long long v = strtoull(p + n + 1, &end, 10);
                if (end == p + n + 1)
                        return -EINVAL;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

void om_cl_nodedata_metrics(struct om_cl_nodedata *nd) {
        const char *lf = getenv("OM_TEST_LOADAVG"), *mf = getenv("OM_TEST_MEMINFO");
        _cleanup_free_ char *load = NULL, *mem = NULL;
        size_t len;
        uint64_t total = 0, avail = 0;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nd->metrics = false;
        if (om_read_file(lf && lf[0] ? lf : "/proc/loadavg", 4096, &load, &len) < 0 ||
            om_read_file(mf && mf[0] ? mf : "/proc/meminfo", 1 << 16, &mem, &len) < 0 ||
            parse_load15(load, &nd->load15) < 0 || meminfo_kb(mem, "MemTotal", &total) < 0 ||
            meminfo_kb(mem, "MemAvailable", &avail) < 0 || total == 0)
                return;
        nd->mem_avail = (uint32_t)(avail >= total ? 1000 : avail * 1000 / total);
        nd->ncpu = cpus > 0 ? (uint32_t)cpus : 1;
        nd->metrics = true;
}

void om_cl_nodedata_metrics_settle(const struct om_cl_nodedata *prev, struct om_cl_nodedata *nd) {
        if (!prev->metrics || !nd->metrics || prev->ncpu != nd->ncpu)
                return;
        uint32_t dl =
                nd->load15 > prev->load15 ? nd->load15 - prev->load15 : prev->load15 - nd->load15;
        uint32_t dm = nd->mem_avail > prev->mem_avail ? nd->mem_avail - prev->mem_avail
                                                      : prev->mem_avail - nd->mem_avail;
        if (dl < 20)
                nd->load15 = prev->load15;
        if (dm < 50)
                nd->mem_avail = prev->mem_avail;
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
               a->metrics == b->metrics && a->load15 == b->load15 && a->mem_avail == b->mem_avail &&
               a->ncpu == b->ncpu && strcmp(a->state, b->state) == 0 &&
               (a->n_inst == 0 || memcmp(a->inst, b->inst, a->n_inst * sizeof(*a->inst)) == 0) &&
               (a->n_objs == 0 || memcmp(a->objs, b->objs, a->n_objs * sizeof(*a->objs)) == 0);
}

void om_cl_nodedata_pack(const struct om_cl_nodedata *nd, msgpack_packer *pk) {
        msgpack_pack_map(pk, nd->metrics ? 8 : 5);
        om_cl_mp_kv_u64(pk, "gen", nd->gen);
        om_cl_mp_kv_str(pk, "state", nd->state);
        om_cl_mp_kv_bool(pk, "frozen", nd->frozen);
        if (nd->metrics) {
                om_cl_mp_kv_u64(pk, "load15", nd->load15);
                om_cl_mp_kv_u64(pk, "mem_avail", nd->mem_avail);
                om_cl_mp_kv_u64(pk, "ncpu", nd->ncpu);
        }
        om_cl_mp_str_pack(pk, "instances");
        msgpack_pack_map(pk, nd->n_inst);
        for (size_t i = 0; i < nd->n_inst; i++) {
                const struct om_cl_instance *in = &nd->inst[i];
                om_cl_mp_str_pack(pk, in->path);
                msgpack_pack_map(pk, 9 + (in->error[0] != 0) + (in->diverged[0] != 0) +
                                             (in->standby[0] != 0));
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
                if (in->diverged[0])
                        om_cl_mp_kv_str(pk, "diverged", in->diverged);
                if (in->standby[0])
                        om_cl_mp_kv_str(pk, "standby", in->standby);
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
        /* the metrics are optional (older agents send none), all three or none */
        if (om_cl_mp_get(o, "load15")) {
                uint64_t l, m, c;
                if (om_cl_mp_get_u64(o, "load15", &l) < 0 ||
                    om_cl_mp_get_u64(o, "mem_avail", &m) < 0 ||
                    om_cl_mp_get_u64(o, "ncpu", &c) < 0 || l > 100000000 || m > 1000 || c == 0 ||
                    c > 1000000)
                        return -EBADMSG;
                nd.metrics = true;
                nd.load15 = (uint32_t)l;
                nd.mem_avail = (uint32_t)m;
                nd.ncpu = (uint32_t)c;
        }
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
                /* optional: absent while its data diverged from no other node's */
                if (om_cl_mp_get(&kv->val, "diverged") &&
                    om_cl_mp_get_str(&kv->val, "diverged", in->diverged, sizeof(in->diverged)) < 0)
                        goto bad;
                /* optional: absent where the instance runs or has no standby resource */
                if (om_cl_mp_get(&kv->val, "standby") &&
                    om_cl_mp_get_str(&kv->val, "standby", in->standby, sizeof(in->standby)) < 0)
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
