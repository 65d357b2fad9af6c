/*
 * Implementation of cl_repl.h. The plan is pure (node data in, a list out) so the
 * conflict rule is unit-tested without a network; the check trusts nothing of the
 * fetched bytes; the installation re-reads the local version under the object lock so a
 * concurrent local write is never overwritten by an older remote one.
 */
#include "cluster/cl_repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/ini.h"
#include "core/keywords.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/ref.h"
#include "core/tombstone.h"
#include "core/util.h"
#include "secrets/sec.h"

static int cmp_objver(const void *a, const void *b) {
        return strcmp(((const struct om_cl_objver *)a)->path,
                      ((const struct om_cl_objver *)b)->path);
}

static struct om_cl_objver *find_objver(const struct om_cl_nodedata *nd, const char *path) {
        struct om_cl_objver key;
        snprintf(key.path, sizeof(key.path), "%s", path);
        return nd->n_objs ? bsearch(&key, nd->objs, nd->n_objs, sizeof(*nd->objs), cmp_objver)
                          : NULL;
}

static struct om_version objver_version(const struct om_cl_objver *ov) {
        struct om_version v = {.hlc = ov->hlc};
        snprintf(v.writer, sizeof(v.writer), "%s", ov->writer);
        return v;
}

int om_repl_collect_tombstones(struct om_cl_nodedata *nd) {
        _cleanup_free_ struct om_path *paths = NULL;
        size_t n = 0;
        int r = om_tombstone_list(&paths, &n);
        if (r < 0)
                return r;
        if (nd->n_objs)
                qsort(nd->objs, nd->n_objs, sizeof(*nd->objs), cmp_objver);
        size_t n_sorted = nd->n_objs;
        for (size_t i = 0; i < n; i++) {
                struct om_version t;
                char ps[OM_PATH_STRMAX];
                if (om_tombstone_read(&paths[i], &t) < 0)
                        continue; /* not a tombstone: never advertised */
                om_path_to_string(&paths[i], ps, sizeof(ps));
                struct om_cl_objver key, *ov = NULL;
                snprintf(key.path, sizeof(key.path), "%s", ps);
                if (n_sorted)
                        ov = bsearch(&key, nd->objs, n_sorted, sizeof(*nd->objs), cmp_objver);
                if (ov) {
                        struct om_version f = objver_version(ov);
                        if (om_version_compare(&t, &f) <= 0)
                                continue; /* created again after the delete */
                } else {
                        struct om_cl_objver *v = realloc(nd->objs, (nd->n_objs + 1) * sizeof(*v));
                        if (!v)
                                return -ENOMEM;
                        nd->objs = v;
                        ov = &nd->objs[nd->n_objs++];
                }
                memset(ov, 0, sizeof(*ov)); /* padding too: node data compare with memcmp */
                snprintf(ov->path, sizeof(ov->path), "%s", ps);
                ov->hlc = t.hlc;
                snprintf(ov->writer, sizeof(ov->writer), "%s", t.writer);
                ov->deleted = true;
        }
        if (nd->n_objs)
                qsort(nd->objs, nd->n_objs, sizeof(*nd->objs), cmp_objver);
        return 0;
}

/*
 * The conflict rule.
 *
 * Problem: any node may write any object in its scope (a sec changed on n1 while n2
 * changes it too, or deletes it, or a node that was down comes back with an old copy),
 * and no node coordinates the writes. Every node must still end with the same file,
 * whatever order the news reaches it in, and a node must never trade a newer state for
 * an older one.
 *
 * Behaviour: every write carries a version, its hybrid logical clock value and the name
 * of the node that wrote it; a deletion is a write too, its version kept in a tombstone.
 * Versions are totally ordered: by HLC, then by writer name (om_version_compare). For
 * each path, a node takes the greatest version any live peer advertises when it is
 * greater than its own, whether that is a file or a tombstone, and nothing else: last
 * writer wins, one deterministic winner for concurrent writes. A copy equal to ours is
 * never fetched; among the peers that advertise the winning version, its writer is
 * preferred (it surely holds it), else the first in cluster order.
 *
 * Reason: "greatest version wins" is commutative, associative and idempotent, so nodes
 * converge to the same state once they have heard of the same versions, through any
 * peer, in any order, and a node back from the dead converges by the same rule. The HLC
 * moves past every version a node observed, so a write made after seeing another one
 * always wins over it (a re-create beats the tombstone it saw); only writes that did not
 * see each other are decided by the clock and then the name, which is arbitrary but the
 * same everywhere. The cost is that one of two concurrent writes is lost whole (no merge
 * of keys): acceptable for configs and secrets, which are written by operators rarely.
 */
struct offer {
        const struct om_cl_objver *ov;
        size_t peer;
        bool by_writer;
};

static int cmp_offer(const void *a, const void *b) {
        const struct offer *x = a, *y = b;
        int c = strcmp(x->ov->path, y->ov->path);
        if (c)
                return c;
        struct om_version vx = objver_version(x->ov), vy = objver_version(y->ov);
        c = om_version_compare(&vy, &vx); /* newest first */
        if (c)
                return c;
        if (x->by_writer != y->by_writer)
                return x->by_writer ? -1 : 1;
        return x->peer < y->peer ? -1 : x->peer > y->peer;
}

int om_repl_plan(const struct om_cl_nodedata *local, const struct om_cl_nodedata *const *peers,
                 const char *const *names, size_t n_peers, uint64_t tomb_horizon,
                 struct om_repl_want **ret, size_t *ret_n) {
        size_t n_off = 0;
        for (size_t i = 0; i < n_peers; i++)
                if (peers[i])
                        n_off += peers[i]->n_objs;
        _cleanup_free_ struct offer *off = calloc(n_off ? n_off : 1, sizeof(*off));
        _cleanup_free_ struct om_cl_objver *mine = NULL;
        struct om_repl_want *w = NULL;
        size_t n_w = 0, k = 0;
        if (!off)
                return -ENOMEM;
        for (size_t i = 0; i < n_peers; i++)
                for (size_t j = 0; peers[i] && j < peers[i]->n_objs; j++)
                        off[k++] = (struct offer){
                                .ov = &peers[i]->objs[j],
                                .peer = i,
                                .by_writer = strcmp(peers[i]->objs[j].writer, names[i]) == 0};
        qsort(off, n_off, sizeof(*off), cmp_offer);
        /* our own entries, sorted for bsearch (the caller's array is left as it is) */
        struct om_cl_nodedata sorted = {0};
        if (local->n_objs) {
                mine = malloc(local->n_objs * sizeof(*mine));
                if (!mine)
                        return -ENOMEM;
                memcpy(mine, local->objs, local->n_objs * sizeof(*mine));
                qsort(mine, local->n_objs, sizeof(*mine), cmp_objver);
                sorted.objs = mine;
                sorted.n_objs = local->n_objs;
        }
        for (size_t i = 0; i < n_off; i++) {
                if (i > 0 && strcmp(off[i].ov->path, off[i - 1].ov->path) == 0)
                        continue; /* the first of each path is its newest */
                struct om_version best = objver_version(off[i].ov), have = {0};
                const struct om_cl_objver *ov = find_objver(&sorted, off[i].ov->path);
                if (ov)
                        have = objver_version(ov);
                if (om_version_compare(&best, &have) <= 0)
                        continue;
                if (off[i].ov->deleted && !ov && best.hlc < tomb_horizon)
                        continue; /* garbage: nothing here to delete */
                if (n_w % 64 == 0) {
                        struct om_repl_want *nw = realloc(w, (n_w + 64) * sizeof(*w));
                        if (!nw) {
                                free(w);
                                return -ENOMEM;
                        }
                        w = nw;
                }
                struct om_repl_want *x = &w[n_w++];
                *x = (struct om_repl_want){
                        .v = best, .deleted = off[i].ov->deleted, .peer = off[i].peer};
                snprintf(x->path, sizeof(x->path), "%s", off[i].ov->path);
        }
        *ret = w;
        *ret_n = n_w;
        return 0;
}

/* A svc's scope: its expanded `nodes` as seen from self, or its writer when unset (the
 * keyword's default, {nodename}, means the node that created it). */
static bool svc_in_scope(const struct om_path *p, const struct om_ini *ini, const char *self,
                         const struct om_version *v) {
        const char *raw = om_ini_get(ini, "DEFAULT", "nodes", self);
        if (!raw)
                return strcmp(v->writer, self) == 0;
        _cleanup_free_ char *expanded = NULL;
        struct om_ref_ctx ctx = {.path = p, .ini = ini, .nodename = self};
        char err[256];
        if (om_ref_expand(&ctx, raw, &expanded, err, sizeof(err)) < 0)
                expanded = strdup(raw);
        _cleanup_strv_free_ char **nodes = NULL;
        if (!expanded || om_strv_split(expanded, " \t,", &nodes) < 0)
                return false;
        return om_strv_contains(nodes, self);
}

int om_repl_check(const struct om_path *p, const char *text, size_t len,
                  const struct om_version *want, const uint8_t (*seckeys)[32], size_t n_seckeys,
                  const char *self, bool *ret_in_scope, char *err, size_t errlen) {
        bool sec = p->kind == OM_KIND_SEC;
        size_t max_file = sec ? OM_INI_SEC_MAX_FILE : OM_INI_MAX_FILE;
        size_t max_line = sec ? OM_INI_SEC_MAX_LINE : OM_INI_MAX_LINE;
        char ps[OM_PATH_STRMAX], e[512];
        om_path_to_string(p, ps, sizeof(ps));
        if (len > max_file) {
                snprintf(err, errlen, "%zu bytes, over the %s limit of %zu", len,
                         om_kind_to_string(p->kind), max_file);
                return -EFBIG;
        }
        if (memchr(text, 0, len)) {
                snprintf(err, errlen, "a NUL byte in the file");
                return -EBADMSG;
        }
        _cleanup_ini_ struct om_ini *ini = NULL;
        int r = om_ini_parse_max(text, len, ps, max_file, max_line, &ini, e, sizeof(e));
        if (r < 0) {
                snprintf(err, errlen, "does not parse: %s", e);
                return r == -EFBIG ? -EFBIG : -EBADMSG;
        }
        const char *vs = om_ini_get(ini, OM_META_SECTION, "version", NULL);
        const char *ws = om_ini_get(ini, OM_META_SECTION, "writer", NULL);
        struct om_version v = {0};
        if (!vs || !ws || om_hlc_parse(vs, &v.hlc) < 0 || strlen(ws) >= sizeof(v.writer)) {
                snprintf(err, errlen, "no valid [%s] version and writer", OM_META_SECTION);
                return -EBADMSG;
        }
        snprintf(v.writer, sizeof(v.writer), "%s", ws);
        if (om_version_compare(&v, want) != 0) {
                snprintf(err, errlen, "version %s by %s, not the one advertised", vs, ws);
                return -ESTALE;
        }
        if (sec) {
                const struct om_ini_section *data = om_ini_find_section(ini, "data");
                for (size_t i = 0; data && i < data->n_entries; i++) {
                        const struct om_ini_entry *en = &data->entries[i];
                        uint8_t *plain = NULL;
                        size_t plen = 0;
                        if (en->scope || !om_sec_key_valid(en->key)) {
                                snprintf(err, errlen, "[data] line %u: not a valid key", en->line);
                                return -EBADMSG;
                        }
                        int opened = -EBADMSG;
                        for (size_t k = 0; k < n_seckeys && opened < 0; k++)
                                opened = om_sec_open(seckeys[k], ps, en->key, en->value, &plain,
                                                     &plen);
                        if (!om_startswith(en->value, OM_SEC_SEALED_PREFIX) || opened < 0) {
                                snprintf(err, errlen,
                                         "[data] %s: not a value sealed for %s by "
                                         "this cluster",
                                         en->key, ps);
                                return -EBADMSG;
                        }
                        om_sec_value_free(plain, plen);
                }
        }
        *ret_in_scope = p->kind != OM_KIND_SVC || svc_in_scope(p, ini, self, &v);
        return 0;
}

int om_repl_local_version(const struct om_path *p, struct om_version *ret, bool *ret_deleted) {
        struct om_version f = {0}, t = {0};
        _cleanup_object_ struct om_object *o = NULL;
        int r = om_object_load(p, &o, NULL, 0);
        if (r == 0)
                om_object_version(o, &f);
        else if (r == -ENOMEM)
                return r; /* a broken local file counts as no version: a good copy replaces it */
        r = om_tombstone_read(p, &t);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                return r;
        bool deleted = om_version_compare(&t, &f) > 0;
        *ret = deleted ? t : f;
        if (ret_deleted)
                *ret_deleted = deleted;
        return 0;
}

int om_repl_install(const struct om_path *p, const char *text, size_t len,
                    const struct om_version *v) {
        _cleanup_close_ int lock = -1;
        _cleanup_free_ char *file = om_object_conf_path(p);
        struct om_version have;
        if (!file)
                return -ENOMEM;
        int r = om_object_lock(p, &lock);
        if (r < 0)
                return r;
        if ((r = om_repl_local_version(p, &have, NULL)) < 0)
                return r;
        if (om_version_compare(v, &have) <= 0)
                return 0;
        if ((r = om_mkdir_parents(file, 0755)) < 0 ||
            (r = om_write_atomic(file, text, len, p->kind == OM_KIND_SEC ? 0600 : 0644)) < 0)
                return r;
        (void)om_tombstone_remove(p); /* older than v: the file wins from now on */
        (void)om_hlc_observe(v->hlc);
        return 1;
}

int om_repl_delete(const struct om_path *p, const struct om_version *v) {
        _cleanup_close_ int lock = -1;
        struct om_version have;
        int r = om_object_lock(p, &lock);
        if (r < 0)
                return r;
        if ((r = om_repl_local_version(p, &have, NULL)) < 0)
                return r;
        if (om_version_compare(v, &have) <= 0)
                return 0;
        if ((r = om_tombstone_write(p, v)) < 0)
                return r;
        /* also when there was no file: the lock's var dir goes with it */
        if ((r = om_object_remove(p)) < 0)
                return r;
        (void)om_hlc_observe(v->hlc);
        return 1;
}
