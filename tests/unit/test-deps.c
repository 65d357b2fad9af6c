/*
 * Unit tests of the dependency check (core/deps.h): the words of parents and children
 * (paths, bare names in the service's namespace, refusals), and the loop search over
 * the configs on this node: loops of two and three services named in order, a loop
 * that does not pass through the service left to the services on it, a dependency
 * this node has no config of, and the relations walked apart (a parents edge and a
 * children edge make no loop together).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/deps.h"
#include "core/object.h"
#include "core/util.h"
#include "om-test.h"

static char root[64];

static void put(const char *path, const char *text) {
        struct om_path p;
        char err[256];
        _cleanup_object_ struct om_object *o = NULL;
        assert_int_equal(om_path_parse(path, &p, err, sizeof(err)), 0);
        assert_int_equal(om_object_new(&p, &o), 0);
        om_ini_free(o->ini);
        o->ini = NULL;
        assert_int_equal(om_ini_parse(text, strlen(text), "t", &o->ini, err, sizeof(err)), 0);
        assert_int_equal(om_object_write(o), 0);
}

/* The report of om_deps_validate for path's config text (not written), "" when none. */
static char *check(const char *path, const char *text, int want) {
        struct om_path p;
        char err[256];
        struct om_ini *ini = NULL;
        struct om_buf report = {0};
        assert_int_equal(om_path_parse(path, &p, err, sizeof(err)), 0);
        assert_int_equal(om_ini_parse(text, strlen(text), "t", &ini, err, sizeof(err)), 0);
        int n = om_deps_validate(ini, &p, "x.conf", &report);
        om_ini_free(ini);
        if (n != want)
                fail_msg("%s: %d problems, want %d: %s", path, n, want,
                         report.data ? report.data : "");
        char *out = strdup(report.data ? report.data : "");
        om_buf_free(&report);
        return out;
}

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "deps", "n1");
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static void test_words(void **state) {
        struct om_path self, d;
        char err[256], s[OM_PATH_STRMAX];
        assert_int_equal(om_path_parse("demo/svc/app", &self, err, sizeof(err)), 0);
        assert_int_equal(om_dep_path_parse("db", &self, &d, err, sizeof(err)), 0);
        assert_string_equal(om_path_to_string(&d, s, sizeof(s)), "demo/svc/db");
        assert_int_equal(om_dep_path_parse("prod/svc/db", &self, &d, err, sizeof(err)), 0);
        assert_string_equal(om_path_to_string(&d, s, sizeof(s)), "prod/svc/db");
        assert_true(om_dep_path_parse("demo/sec/db", &self, &d, err, sizeof(err)) < 0);
        assert_string_equal(err, "'demo/sec/db' is a sec object, not a svc");
        assert_true(om_dep_path_parse("Db", &self, &d, err, sizeof(err)) < 0);
        assert_non_null(strstr(err, "invalid object path"));

        _cleanup_free_ char *r =
                check("demo/svc/app", "[DEFAULT]\nparents = db app Bad demo/cfg/c\n", 3);
        assert_non_null(strstr(r, "x.conf:2: [DEFAULT] parents: 'app' is the service itself\n"));
        assert_non_null(strstr(r, "x.conf:2: [DEFAULT] parents: invalid object path"));
        assert_non_null(strstr(r, "'demo/cfg/c' is a cfg object, not a svc"));
        free(check("demo/svc/app", "[DEFAULT]\nparents = db, demo/svc/web\nchildren = x\n", 0));
}

static void test_loops(void **state) {
        put("demo/svc/a", "[DEFAULT]\nparents = b\n");
        put("demo/svc/b", "[DEFAULT]\nparents = c\nchildren = a\n");
        put("demo/svc/x", "[DEFAULT]\nparents = y\n");
        put("demo/svc/y", "[DEFAULT]\nparents = x\n");
        /* c's new config closes a loop of three */
        _cleanup_free_ char *r = check("demo/svc/c", "[DEFAULT]\nnodes = n1\nparents = a\n", 1);
        assert_string_equal(r, "x.conf:3: [DEFAULT] parents loop: demo/svc/c -> demo/svc/a -> "
                               "demo/svc/b -> demo/svc/c\n");
        /* no loop through c: an edge to a service this node has no config of */
        free(check("demo/svc/c", "[DEFAULT]\nparents = nosuch\n", 0));
        /* the x <-> y loop does not pass through c: not c's problem */
        free(check("demo/svc/c", "[DEFAULT]\nparents = x\n", 0));
        /* but it is x's */
        free(check("demo/svc/x", "[DEFAULT]\nparents = y\n", 1));
        /* children are walked on their own: b's children = a, a's children = b */
        _cleanup_free_ char *r2 = check("demo/svc/a", "[DEFAULT]\nchildren = b\n", 1);
        assert_string_equal(r2, "x.conf:2: [DEFAULT] children loop: demo/svc/a -> demo/svc/b -> "
                                "demo/svc/a\n");
        /* a parents edge and a children edge between the same two make no loop */
        put("demo/svc/a2", "[DEFAULT]\nchildren = b2\n");
        free(check("demo/svc/b2", "[DEFAULT]\nparents = a2\n", 0));
        /* not a svc: nothing to check */
        struct om_path p;
        char err[256];
        struct om_ini *ini = NULL;
        struct om_buf report = {0};
        assert_int_equal(om_path_parse("demo/cfg/k", &p, err, sizeof(err)), 0);
        assert_int_equal(om_ini_parse("[DEFAULT]\n", 10, "t", &ini, err, sizeof(err)), 0);
        assert_int_equal(om_deps_validate(ini, &p, NULL, &report), 0);
        om_ini_free(ini);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_words, setup, teardown),
                cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
