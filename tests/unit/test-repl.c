/*
 * Unit tests of cluster/cl_repl.h and core/tombstone.h: the conflict rule of the plan
 * (newest version wins, ties by writer name, tombstones compared like files, a
 * re-create beating an older tombstone, the writer preferred as the source), the
 * collection of tombstones into node data, the check of fetched files (tampered,
 * misplaced, oversized, stale, plaintext, scoped values refused; svc scope) and the
 * installation under the lock (never over a newer local version).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "om-test.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/cl_repl.h"
#include "core/fileio.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/tombstone.h"
#include "core/util.h"
#include "secrets/cluster_key.h"
#include "secrets/sec.h"

static char root[64];

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "repl", "n2");
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static void add(struct om_cl_nodedata *nd, const char *path, uint64_t hlc, const char *writer,
                bool deleted) {
        nd->objs = realloc(nd->objs, (nd->n_objs + 1) * sizeof(*nd->objs));
        assert_non_null(nd->objs);
        struct om_cl_objver *o = &nd->objs[nd->n_objs++];
        memset(o, 0, sizeof(*o));
        snprintf(o->path, sizeof(o->path), "%s", path);
        o->hlc = hlc;
        snprintf(o->writer, sizeof(o->writer), "%s", writer);
        o->deleted = deleted;
}

static const char *const names[] = {"n1", "n2", "n3", "n4"};

static void plan_h(const struct om_cl_nodedata *local, const struct om_cl_nodedata *const *peers,
                   uint64_t horizon, struct om_repl_want **w, size_t *n) {
        *w = NULL;
        assert_int_equal(om_repl_plan(local, peers, names, 4, horizon, w, n), 0);
}

static void plan(const struct om_cl_nodedata *local, const struct om_cl_nodedata *const *peers,
                 struct om_repl_want **w, size_t *n) {
        plan_h(local, peers, 0, w, n);
}

/* A tombstone older than the horizon (tombstone_ttl) still deletes a copy this node
 * holds, but is not taken back by a node that holds nothing of the path. */
static void test_plan_old_tombstones(void **state) {
        (void)state;
        struct om_cl_nodedata local = {0}, a = {0};
        add(&a, "demo/sec/gone", 100, "n1", true);
        add(&a, "demo/sec/kept", 300, "n1", true);
        const struct om_cl_nodedata *peers[] = {&a, NULL, NULL, NULL};
        struct om_repl_want *w;
        size_t n;
        plan_h(&local, peers, 200, &w, &n);
        assert_int_equal(n, 1); /* only the young one */
        assert_string_equal(w[0].path, "demo/sec/kept");
        free(w);
        add(&local, "demo/sec/gone", 50, "n2", false); /* an older copy here: deleted */
        plan_h(&local, peers, 200, &w, &n);
        assert_int_equal(n, 2);
        assert_string_equal(w[0].path, "demo/sec/gone");
        assert_true(w[0].deleted);
        free(w);
        plan_h(&local, peers, 0, &w, &n); /* no horizon: both, as before */
        assert_int_equal(n, 2);
        free(w);
        om_cl_nodedata_done(&local);
        om_cl_nodedata_done(&a);
}

static void test_plan_newest_wins(void **state) {
        struct om_cl_nodedata local = {0}, a = {0}, c = {0};
        add(&local, "demo/sec/x", 100, "n2", false);
        add(&a, "demo/sec/x", 200, "n1", false);
        add(&c, "demo/sec/x", 150, "n3", false);
        add(&c, "demo/sec/y", 10, "n3", false);
        const struct om_cl_nodedata *peers[4] = {&a, NULL, &c, NULL};
        struct om_repl_want *w;
        size_t n;
        plan(&local, peers, &w, &n);
        assert_int_equal(n, 2);
        assert_string_equal(w[0].path, "demo/sec/x");
        assert_int_equal(w[0].v.hlc, 200);
        assert_string_equal(w[0].v.writer, "n1");
        assert_int_equal(w[0].peer, 0);
        assert_false(w[0].deleted);
        assert_string_equal(w[1].path, "demo/sec/y"); /* unknown here: taken */
        assert_int_equal(w[1].peer, 2);
        free(w);
        /* nothing newer than ours: nothing to do; a node without data is skipped */
        local.objs[0].hlc = 200;
        snprintf(local.objs[0].writer, sizeof(local.objs[0].writer), "n1");
        const struct om_cl_nodedata *only_a[4] = {&a, NULL, NULL, NULL};
        plan(&local, only_a, &w, &n);
        assert_int_equal(n, 0);
        free(w);
        om_cl_nodedata_done(&local);
        om_cl_nodedata_done(&a);
        om_cl_nodedata_done(&c);
}

/* Concurrent writes with the same HLC: the writer name decides, the same on every node
 * whatever order the peers are listed in. */
static void test_plan_tie_by_writer(void **state) {
        struct om_cl_nodedata local = {0}, a = {0}, c = {0};
        add(&a, "demo/sec/x", 500, "n1", false);
        add(&c, "demo/sec/x", 500, "n3", false);
        const struct om_cl_nodedata *p1[4] = {&a, NULL, &c, NULL};
        const struct om_cl_nodedata *p2[4] = {&c, NULL, &a, NULL};
        struct om_repl_want *w;
        size_t n;
        plan(&local, p1, &w, &n);
        assert_int_equal(n, 1);
        assert_string_equal(w[0].v.writer, "n3");
        free(w);
        plan(&local, p2, &w, &n);
        assert_int_equal(n, 1);
        assert_string_equal(w[0].v.writer, "n3");
        free(w);
        /* the node holding n3's version locally keeps it: n1's loses */
        add(&local, "demo/sec/x", 500, "n3", false);
        plan(&local, p1, &w, &n);
        assert_int_equal(n, 0);
        free(w);
        om_cl_nodedata_done(&local);
        om_cl_nodedata_done(&a);
        om_cl_nodedata_done(&c);
}

static void test_plan_tombstones(void **state) {
        struct om_cl_nodedata local = {0}, a = {0};
        struct om_repl_want *w;
        size_t n;
        const struct om_cl_nodedata *peers[4] = {&a, NULL, NULL, NULL};
        /* a newer tombstone beats our file */
        add(&local, "demo/sec/x", 200, "n2", false);
        add(&a, "demo/sec/x", 300, "n1", true);
        plan(&local, peers, &w, &n);
        assert_int_equal(n, 1);
        assert_true(w[0].deleted);
        assert_int_equal(w[0].v.hlc, 300);
        free(w);
        /* an older file does not come back over our tombstone */
        local.objs[0] = a.objs[0];
        a.objs[0].hlc = 200;
        a.objs[0].deleted = false;
        plan(&local, peers, &w, &n);
        assert_int_equal(n, 0);
        free(w);
        /* a later create beats the tombstone */
        a.objs[0].hlc = 400;
        plan(&local, peers, &w, &n);
        assert_int_equal(n, 1);
        assert_false(w[0].deleted);
        assert_int_equal(w[0].v.hlc, 400);
        free(w);
        om_cl_nodedata_done(&local);
        om_cl_nodedata_done(&a);
}

static void test_plan_prefers_writer(void **state) {
        struct om_cl_nodedata local = {0}, a = {0}, c = {0};
        add(&a, "demo/sec/x", 700, "n3", false); /* n1 relays n3's version */
        add(&c, "demo/sec/x", 700, "n3", false);
        const struct om_cl_nodedata *peers[4] = {&a, NULL, &c, NULL};
        struct om_repl_want *w;
        size_t n;
        plan(&local, peers, &w, &n);
        assert_int_equal(n, 1);
        assert_int_equal(w[0].peer, 2);
        free(w);
        const struct om_cl_nodedata *relay_only[4] = {&a, NULL, NULL, NULL};
        plan(&local, relay_only, &w, &n);
        assert_int_equal(n, 1);
        assert_int_equal(w[0].peer, 0);
        free(w);
        om_cl_nodedata_done(&a);
        om_cl_nodedata_done(&c);
}

static void path(const char *s, struct om_path *p) {
        assert_int_equal(om_path_parse(s, p, NULL, 0), 0);
}

static void test_tombstones_collected(void **state) {
        struct om_path x, y, z;
        path("demo/sec/tx", &x);
        path("demo/sec/ty", &y);
        path("demo/svc/tz", &z);
        assert_int_equal(om_sec_set(&x, "k", (const uint8_t *)"v", 1), 0);
        assert_int_equal(om_sec_set(&y, "k", (const uint8_t *)"v", 1), 0);
        struct om_version old = {.hlc = 1, .writer = "n9"},
                          fut = {.hlc = UINT64_MAX >> 1, .writer = "n9"};
        assert_int_equal(om_tombstone_write(&x, &old), 0); /* older than the file */
        assert_int_equal(om_tombstone_write(&y, &fut), 0); /* newer than the file */
        assert_int_equal(om_tombstone_write(&z, &old), 0); /* no file */
        struct om_cl_nodedata nd = {0};
        assert_int_equal(om_cl_nodedata_collect(&nd), 0);
        assert_int_equal(nd.n_objs, 3);
        assert_string_equal(nd.objs[0].path, "demo/sec/tx");
        assert_false(nd.objs[0].deleted);
        assert_true(nd.objs[0].hlc > 1);
        assert_string_equal(nd.objs[1].path, "demo/sec/ty");
        assert_true(nd.objs[1].deleted);
        assert_int_equal(nd.objs[1].hlc, fut.hlc);
        assert_string_equal(nd.objs[2].path, "demo/svc/tz");
        assert_true(nd.objs[2].deleted);
        om_cl_nodedata_done(&nd);
        /* a tombstone that is not one is ignored */
        _cleanup_free_ char *tf = om_tombstone_path(&z);
        assert_int_equal(om_write_atomic(tf, "garbage\n", 8, 0644), 0);
        assert_int_equal(om_cl_nodedata_collect(&nd), 0);
        assert_int_equal(nd.n_objs, 2);
        om_cl_nodedata_done(&nd);
        /* delete leaves a tombstone newer than the file it removes */
        struct om_version before, after;
        bool deleted;
        assert_int_equal(om_repl_local_version(&x, &before, &deleted), 0);
        assert_false(deleted);
        assert_int_equal(om_object_delete(&x), 0);
        assert_false(om_object_exists(&x));
        assert_int_equal(om_repl_local_version(&x, &after, &deleted), 0);
        assert_true(deleted);
        assert_true(om_version_compare(&after, &before) > 0);
        assert_int_equal(om_tombstone_remove(&x), 0);
        assert_int_equal(om_tombstone_remove(&y), 0);
        assert_int_equal(om_tombstone_remove(&z), 0);
        assert_int_equal(om_object_remove(&y), 0);
}

/* A sec written on this node, as a peer would serve it. */
static char *sec_text(const char *ps, size_t *len, struct om_version *v) {
        struct om_path p;
        path(ps, &p);
        assert_int_equal(om_sec_set(&p, "pass", (const uint8_t *)"s3cret", 6), 0);
        assert_int_equal(om_sec_set(&p, "other", (const uint8_t *)"x", 1), 0);
        _cleanup_free_ char *file = om_object_conf_path(&p);
        char *text;
        assert_int_equal(om_read_file(file, OM_INI_SEC_MAX_FILE, &text, len), 0);
        assert_int_equal(om_repl_local_version(&p, v, NULL), 0);
        assert_int_equal(om_object_remove(&p), 0);
        return text;
}

static int check(const char *ps, const char *text, size_t len, const struct om_version *v,
                 bool *in_scope) {
        struct om_path p;
        uint8_t key[32];
        char err[512];
        bool dummy;
        path(ps, &p);
        assert_int_equal(om_cluster_key_derive(OM_SEC_KDF_ID, OM_SEC_KDF_CTX, key), 0);
        return om_repl_check(&p, text, len, v, &key, 1, "n2", in_scope ? in_scope : &dummy, err,
                             sizeof(err));
}

static void test_check_sec(void **state) {
        struct om_version v;
        size_t len;
        bool in;
        _cleanup_free_ char *text = sec_text("demo/sec/c", &len, &v);
        assert_int_equal(check("demo/sec/c", text, len, &v, &in), 0);
        assert_true(in);
        /* a flipped byte inside a sealed value */
        char *s = strstr(text, "sealed:");
        s[20] ^= 1;
        assert_int_equal(check("demo/sec/c", text, len, &v, NULL), -EBADMSG);
        s[20] ^= 1;
        /* the same file offered as another object: the values are bound to their path */
        assert_int_equal(check("demo/sec/other", text, len, &v, NULL), -EBADMSG);
        /* another version than advertised */
        struct om_version v2 = v;
        v2.hlc++;
        assert_int_equal(check("demo/sec/c", text, len, &v2, NULL), -ESTALE);
        snprintf(v2.writer, sizeof(v2.writer), "n1");
        v2.hlc--;
        assert_int_equal(check("demo/sec/c", text, len, &v2, NULL), -ESTALE);
        /* a NUL byte, a plaintext value, a scoped value, no [om] */
        _cleanup_free_ char *nul = strdup(text);
        nul[len / 2] = 0;
        assert_int_equal(check("demo/sec/c", nul, len, &v, NULL), -EBADMSG);
        char buf[512], ver[64];
        om_hlc_format(v.hlc, ver, sizeof(ver));
        snprintf(buf, sizeof(buf), "[data]\nk = plain\n\n[om]\nversion = %s\nwriter = %s\n", ver,
                 v.writer);
        assert_int_equal(check("demo/sec/c", buf, strlen(buf), &v, NULL), -EBADMSG);
        _cleanup_free_ char *scoped = om_asprintf("%.*s", (int)len, text);
        char *pass = strstr(scoped, "pass = ");
        memcpy(pass, "pass@n=", 7); /* "pass@n=sealed..." is scoped to node "n" */
        {
                struct om_ini *ini = NULL;
                assert_int_equal(om_ini_parse(scoped, len, "x", &ini, NULL, 0), 0);
                assert_non_null(om_ini_lookup(ini, "data", "pass", "n")->scope);
                om_ini_free(ini);
        }
        assert_int_equal(check("demo/sec/c", scoped, len, &v, NULL), -EBADMSG);
        snprintf(buf, sizeof(buf), "[data]\n");
        assert_int_equal(check("demo/sec/c", buf, strlen(buf), &v, NULL), -EBADMSG);
        assert_int_equal(check("demo/sec/c", "[x", 2, &v, NULL), -EBADMSG);
}

static void test_check_limits(void **state) {
        struct om_version v = {.hlc = 1 << 16, .writer = "n1"};
        size_t big = OM_INI_MAX_FILE + 1;
        _cleanup_free_ char *text = malloc(big);
        memset(text, '#', big);
        assert_int_equal(check("demo/svc/big", text, big, &v, NULL), -EFBIG);
        /* a sec may be larger (up to its own limit) but not past it */
        assert_int_equal(check("demo/sec/big", text, big, &v, NULL), -EBADMSG); /* no [om] */
        assert_int_equal(check("demo/sec/big", text, (size_t)OM_INI_SEC_MAX_FILE + 1, &v, NULL),
                         -EFBIG);
}

static void test_check_svc_scope(void **state) {
        struct om_version v = {.hlc = 5 << 16, .writer = "n1"};
        bool in;
        const char *listed = "[DEFAULT]\nnodes = n1 n2\n\n[om]\nversion = 5.0\nwriter = n1\n";
        const char *other = "[DEFAULT]\nnodes = n1 n3\n\n[om]\nversion = 5.0\nwriter = n1\n";
        const char *dflt = "[DEFAULT]\nid = x\n\n[om]\nversion = 5.0\nwriter = n1\n";
        assert_int_equal(check("demo/svc/s", listed, strlen(listed), &v, &in), 0);
        assert_true(in);
        assert_int_equal(check("demo/svc/s", other, strlen(other), &v, &in), 0);
        assert_false(in);
        assert_int_equal(check("demo/svc/s", dflt, strlen(dflt), &v, &in), 0);
        assert_false(in); /* the default is the node that wrote it */
        assert_int_equal(check("demo/cfg/s", other, strlen(other), &v, &in), 0);
        assert_true(in); /* cfg and sec: every node */
}

static void test_install_and_delete(void **state) {
        struct om_path p;
        path("demo/sec/inst", &p);
        struct om_version v, have;
        size_t len;
        _cleanup_free_ char *text = sec_text("demo/sec/inst", &len, &v);
        assert_int_equal(om_repl_install(&p, text, len, &v), 1);
        _cleanup_free_ char *file = om_object_conf_path(&p);
        _cleanup_free_ char *back = NULL;
        size_t blen;
        assert_int_equal(om_read_file(file, OM_INI_SEC_MAX_FILE, &back, &blen), 0);
        assert_int_equal(blen, len);
        assert_memory_equal(back, text, len);
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* the same version again, or an older one: nothing done */
        assert_int_equal(om_repl_install(&p, text, len, &v), 0);
        struct om_version older = v;
        older.hlc--;
        assert_int_equal(om_repl_delete(&p, &older), 0);
        assert_true(om_object_exists(&p));
        /* a newer tombstone removes it; the older file cannot come back */
        struct om_version newer = v;
        newer.hlc += 10;
        assert_int_equal(om_repl_delete(&p, &newer), 1);
        assert_false(om_object_exists(&p));
        assert_int_equal(om_tombstone_read(&p, &have), 0);
        assert_int_equal(om_version_compare(&have, &newer), 0);
        assert_int_equal(om_repl_install(&p, text, len, &v), 0);
        assert_false(om_object_exists(&p));
        /* the clock moved past what it observed */
        uint64_t now;
        assert_int_equal(om_hlc_next(&now), 0);
        assert_true(now > newer.hlc);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plan_newest_wins),
                cmocka_unit_test(test_plan_tie_by_writer),
                cmocka_unit_test(test_plan_tombstones),
                cmocka_unit_test(test_plan_old_tombstones),
                cmocka_unit_test(test_plan_prefers_writer),
                cmocka_unit_test(test_tombstones_collected),
                cmocka_unit_test(test_check_sec),
                cmocka_unit_test(test_check_limits),
                cmocka_unit_test(test_check_svc_scope),
                cmocka_unit_test(test_install_and_delete),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
