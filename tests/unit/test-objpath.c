/*
 * Unit tests of core/objpath.h: path forms, every refusal with its message, kinds,
 * canonical strings, {fqdn} and selectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/objpath.h"
#include "core/util.h"

static void parse_ok(const char *s, const char *want) {
        struct om_path p;
        char err[256] = "", buf[OM_PATH_STRMAX];
        if (om_path_parse(s, &p, err, sizeof(err)) < 0)
                fail_msg("'%s' refused: %s", s, err);
        assert_string_equal(om_path_to_string(&p, buf, sizeof(buf)), want);
}

static void parse_fails(const char *s, const char *msg) {
        struct om_path p = {.ns = "untouched"};
        char err[256] = "";
        assert_int_equal(om_path_parse(s, &p, err, sizeof(err)), -EINVAL);
        assert_string_equal(p.ns, "untouched");
        assert_string_equal(err, msg);
}

static void test_forms(void **state) {
        parse_ok("demo/svc/loopcrypt", "demo/svc/loopcrypt");
        parse_ok("svc/web", "root/svc/web");
        parse_ok("web", "root/svc/web");
        parse_ok("sec/s1", "root/sec/s1");
        parse_ok("demo/sec/loopcrypt", "demo/sec/loopcrypt");
        parse_ok("ns-1/cfg/a-0", "ns-1/cfg/a-0");
        parse_ok("0", "root/svc/0");
        char name63[64];
        memset(name63, 'a', 63);
        name63[63] = 0;
        _cleanup_free_ char *p63 = om_asprintf("%s/svc/%s", name63, name63);
        parse_ok(p63, p63);

        struct om_path p;
        assert_int_equal(om_path_parse("demo/sec/x", &p, NULL, 0), 0);
        assert_int_equal(p.kind, OM_KIND_SEC);
        assert_string_equal(p.ns, "demo");
        assert_string_equal(p.name, "x");
}

static void test_refused(void **state) {
        parse_fails("demo/svc/../x", "invalid object path 'demo/svc/../x': '..' is not allowed "
                                     "(no relative parts)");
        parse_fails("../x", "invalid object path '../x': '..' is not allowed (no relative parts)");
        parse_fails("demo/svc/..",
                    "invalid object path 'demo/svc/..': '..' is not allowed (no relative parts)");
        parse_fails("./x", "invalid object path './x': '.' is not allowed (no relative parts)");
        parse_fails("a/b/c/d", "invalid object path 'a/b/c/d': more than three parts "
                               "(<namespace>/<kind>/<name>)");
        parse_fails("demo//x", "invalid object path 'demo//x': it has an empty part");
        parse_fails("/x", "invalid object path '/x': it has an empty part");
        parse_fails("svc/", "invalid object path 'svc/': it has an empty part");
        parse_fails("", "invalid object path '': it is empty");
        parse_fails("Demo/svc/x", "invalid object path 'Demo/svc/x': namespace 'Demo' has upper "
                                  "case letters (names are lower case)");
        parse_fails("demo/svc/X", "invalid object path 'demo/svc/X': name 'X' has upper case "
                                  "letters (names are lower case)");
        parse_fails("demo/SVC/x",
                    "invalid object path 'demo/SVC/x': unknown kind 'SVC' (svc, sec or cfg)");
        parse_fails("demo/vol/x",
                    "invalid object path 'demo/vol/x': unknown kind 'vol' (svc, sec or cfg)");
        parse_fails("a.b", "invalid object path 'a.b': name 'a.b' has a character other than "
                           "a-z, 0-9 and '-'");
        parse_fails("-a", "invalid object path '-a': name '-a' starts or ends with '-'");
        parse_fails("a-", "invalid object path 'a-': name 'a-' starts or ends with '-'");
        parse_fails("a_b", "invalid object path 'a_b': name 'a_b' has a character other than "
                           "a-z, 0-9 and '-'");

        char name64[65];
        memset(name64, 'a', 64);
        name64[64] = 0;
        char want[256];
        snprintf(want, sizeof(want),
                 "invalid object path '%s': name '%s' is longer than 63 characters", name64,
                 name64);
        parse_fails(name64, want);
        _cleanup_free_ char *ns64 = om_asprintf("%s/svc/x", name64);
        snprintf(want, sizeof(want),
                 "invalid object path '%s': namespace '%s' is longer than 63 characters", ns64,
                 name64);
        parse_fails(ns64, want);

        char huge[400];
        memset(huge, 'a', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = 0;
        struct om_path p;
        char err[256];
        assert_int_equal(om_path_parse(huge, &p, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "too long"));
}

static void test_names(void **state) {
        char err[128] = "";
        assert_true(om_name_valid("loopcrypt", err, sizeof(err)));
        assert_true(om_name_valid("a-b-0", NULL, 0));
        assert_false(om_name_valid("", err, sizeof(err)));
        assert_string_equal(err, "is empty");
        assert_false(om_name_valid("a b", NULL, 0));
        assert_false(om_name_valid("a/b", NULL, 0));
        assert_false(om_name_valid("caf\xc3\xa9", NULL, 0));
}

static void test_kinds(void **state) {
        enum om_kind k = OM_KIND_SVC;
        assert_int_equal(om_kind_from_string("sec", &k), 0);
        assert_int_equal(k, OM_KIND_SEC);
        assert_int_equal(om_kind_from_string("cfg", &k), 0);
        assert_int_equal(k, OM_KIND_CFG);
        assert_int_equal(om_kind_from_string("vol", &k), -EINVAL);
        assert_int_equal(k, OM_KIND_CFG);
        assert_string_equal(om_kind_to_string(OM_KIND_SVC), "svc");
        assert_string_equal(om_kind_to_string(_OM_KIND_MAX), "?");
}

static void test_fqdn(void **state) {
        struct om_path p;
        assert_int_equal(om_path_parse("demo/svc/loopcrypt", &p, NULL, 0), 0);
        _cleanup_free_ char *f = om_path_fqdn(&p, "default");
        assert_string_equal(f, "loopcrypt.demo.svc.default");
}

static void test_selectors(void **state) {
        struct om_path svc, sec, rootsvc;
        assert_int_equal(om_path_parse("demo/svc/loopcrypt", &svc, NULL, 0), 0);
        assert_int_equal(om_path_parse("demo/sec/loopcrypt", &sec, NULL, 0), 0);
        assert_int_equal(om_path_parse("web", &rootsvc, NULL, 0), 0);

        assert_true(om_selector_is_pattern("demo/svc/*"));
        assert_true(om_selector_is_pattern("web?"));
        assert_false(om_selector_is_pattern("demo/svc/x"));

        assert_true(om_selector_match("demo/svc/*", &svc));
        assert_false(om_selector_match("demo/svc/*", &sec));
        assert_false(om_selector_match("demo/svc/*", &rootsvc));
        assert_true(om_selector_match("*/sec/*", &sec));
        assert_false(om_selector_match("*/sec/*", &svc));
        assert_true(om_selector_match("*/*/*", &rootsvc));
        assert_true(om_selector_match("loop*", &svc)); /* a bare word: any namespace, kind */
        assert_true(om_selector_match("loop*", &sec));
        assert_true(om_selector_match("svc/w*", &rootsvc)); /* two parts: root namespace */
        assert_false(om_selector_match("svc/l*", &svc));
        assert_true(om_selector_match("demo/svc/loopcrypt", &svc));
        assert_false(om_selector_match("demo/svc/loopcrypt2", &svc));
        assert_false(om_selector_match("a/b/c/d", &svc));
        assert_true(om_selector_match("d[a-f]mo/s?c/*", &svc));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_forms), cmocka_unit_test(test_refused),
                cmocka_unit_test(test_names), cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_fqdn),  cmocka_unit_test(test_selectors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
