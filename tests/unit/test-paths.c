/*
 * Unit tests of core/paths.h: the default roots, OM_ROOT relocating all four together,
 * OM_NODENAME and the short hostname, the per-object file paths, and the checks of
 * OM_ROOT and of the node name (om_paths_check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        for (char *c = host; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        assert_string_equal(om_nodename(), host);
        assert_null(strchr(om_nodename(), '.'));
        env("/x", "");
        assert_string_equal(om_nodename(), host);
}

/* check(root, node): om_paths_check's message, "" when accepted */
static const char *check(const char *root, const char *node) {
        static char err[512];
        env(root, node);
        err[0] = 0;
        int r = om_paths_check(err, sizeof(err));
        assert_int_equal(r == 0, err[0] == 0);
        if (r < 0)
                assert_int_equal(r, -EINVAL);
        return err;
}

#define ROOT_RULE " (OM_ROOT is the absolute path of a directory, existing or to be created)"
#define NODE_RULE                                                                                  \
        " (a node name is lower case letters, digits and '-', 63 at most, not starting or "        \
        "ending with '-')"

static void test_check_root(void **state) {
        char dir[] = "/tmp/om-test-paths.XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *file = om_asprintf("%s/file", dir);
        _cleanup_free_ char *under_file = om_asprintf("%s/file/x/y", dir);
        _cleanup_free_ char *to_make = om_asprintf("%s/a/b/c", dir);
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fclose(f);

        assert_string_equal(check(NULL, "n1"), "");
        assert_string_equal(check("", "n1"), ""); /* empty is unset */
        assert_string_equal(check(dir, "n1"), "");
        assert_string_equal(check(to_make, "n1"), ""); /* created when first needed */
        assert_string_equal(check("/", "n1"), "");
        assert_string_equal(check("rel/x", "n1"),
                            "OM_ROOT 'rel/x' is not an absolute path" ROOT_RULE);
        assert_string_equal(check("./x", "n1"), "OM_ROOT './x' is not an absolute path" ROOT_RULE);
        assert_string_equal(check("/etc/passwd", "n1"),
                            "OM_ROOT '/etc/passwd' is not a directory" ROOT_RULE);
        char want[1024];
        snprintf(want, sizeof(want), "OM_ROOT '%s' is not a directory" ROOT_RULE, file);
        assert_string_equal(check(file, "n1"), want);
        snprintf(want, sizeof(want),
                 "OM_ROOT '%s' cannot be created: '%s' is not a directory" ROOT_RULE, under_file,
                 file);
        assert_string_equal(check(under_file, "n1"), want);
        char *longroot = malloc(OM_ROOT_MAX + 2);
        assert_non_null(longroot);
        memset(longroot, 'a', OM_ROOT_MAX + 1);
        longroot[0] = '/';
        longroot[OM_ROOT_MAX + 1] = 0;
        assert_string_equal(check(longroot, "n1"),
                            "OM_ROOT is longer than 3800 characters" ROOT_RULE);
        longroot[OM_ROOT_MAX] = 0; /* at the limit: accepted */
        assert_string_equal(check(longroot, "n1"), "");
        free(longroot);
        unlink(file);
        rmdir(dir);
}

static void test_check_nodename(void **state) {
        assert_string_equal(check("/x", "demo1"), "");
        assert_string_equal(check("/x", "a"), "");
        assert_string_equal(check("/x", "Bad Node"),
                            "OM_NODENAME 'Bad Node' is not a valid node name: it has upper case "
                            "letters (names are lower case)" NODE_RULE);
        assert_string_equal(check("/x", "bad node"),
                            "OM_NODENAME 'bad node' is not a valid node name: it has a character "
                            "other than a-z, 0-9 and '-'" NODE_RULE);
        assert_string_equal(check("/x", "n1.example.com"),
                            "OM_NODENAME 'n1.example.com' is not a valid node name: it has a "
                            "character other than a-z, 0-9 and '-'" NODE_RULE);
        assert_string_equal(check("/x", "-n1"), "OM_NODENAME '-n1' is not a valid node name: it "
                                                "starts or ends with '-'" NODE_RULE);
        char name[80];
        memset(name, 'a', 64);
        name[64] = 0;
        char want[512];
        snprintf(want, sizeof(want),
                 "OM_NODENAME '%s' is not a valid node name: it is longer than 63 "
                 "characters" NODE_RULE,
                 name);
        assert_string_equal(check("/x", name), want);
        name[63] = 0;
        assert_string_equal(check("/x", name), "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),       cmocka_unit_test(test_root),
                cmocka_unit_test(test_nodename),       cmocka_unit_test(test_check_root),
                cmocka_unit_test(test_check_nodename),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
