/*
 * Unit tests of core/paths.h: the default roots, OM_ROOT relocating all four together,
 * OM_NODENAME and the short hostname, and the per-object file paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/paths.h"
#include "core/util.h"

static void env(const char *root, const char *node) {
        if (root)
                setenv("OM_ROOT", root, 1);
        else
                unsetenv("OM_ROOT");
        if (node)
                setenv("OM_NODENAME", node, 1);
        else
                unsetenv("OM_NODENAME");
        om_paths_reset();
}

static void test_defaults(void **state) {
        env(NULL, "n1");
        assert_string_equal(om_dir_etc(), "/etc/om");
        assert_string_equal(om_dir_var(), "/var/lib/om");
        assert_string_equal(om_dir_log(), "/var/log/om");
        assert_string_equal(om_dir_run(), "/run/om");
        env("", "n1"); /* empty is unset */
        assert_string_equal(om_dir_etc(), "/etc/om");
        _cleanup_free_ char *cc = om_cluster_conf_path();
        assert_string_equal(cc, "/etc/om/cluster.conf");
}

static void test_root(void **state) {
        env("/x", "n1");
        assert_string_equal(om_dir_etc(), "/x/etc");
        assert_string_equal(om_dir_var(), "/x/var");
        assert_string_equal(om_dir_log(), "/x/log");
        assert_string_equal(om_dir_run(), "/x/run");
        _cleanup_free_ char *cc = om_cluster_conf_path();
        assert_string_equal(cc, "/x/etc/cluster.conf");

        struct om_path p;
        assert_int_equal(om_path_parse("demo/svc/loopcrypt", &p, NULL, 0), 0);
        _cleanup_free_ char *conf = om_object_conf_path(&p);
        _cleanup_free_ char *log = om_object_log_path(&p);
        _cleanup_free_ char *var = om_object_var_path(&p);
        assert_string_equal(conf, "/x/etc/namespaces/demo/svc/loopcrypt.conf");
        assert_string_equal(log, "/x/log/namespaces/demo/svc/loopcrypt.log");
        assert_string_equal(var, "/x/var/namespaces/demo/svc/loopcrypt");

        assert_int_equal(om_path_parse("web", &p, NULL, 0), 0);
        _cleanup_free_ char *rconf = om_object_conf_path(&p);
        assert_string_equal(rconf, "/x/etc/namespaces/root/svc/web.conf");

        /* cached until reset */
        setenv("OM_ROOT", "/y", 1);
        assert_string_equal(om_dir_etc(), "/x/etc");
        om_paths_reset();
        assert_string_equal(om_dir_etc(), "/y/etc");
}

static void test_nodename(void **state) {
        env("/x", "demo1");
        assert_string_equal(om_nodename(), "demo1");
        env("/x", NULL);
        char host[256] = "";
        assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
        host[strcspn(host, ".")] = 0;
        assert_string_equal(om_nodename(), host);
        assert_null(strchr(om_nodename(), '.'));
        env("/x", "");
        assert_string_equal(om_nodename(), host);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_root),
                cmocka_unit_test(test_nodename),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
