/*
 * Unit tests of core/keywords.h: lookups in the tables, section names, value checks by
 * type, and om_config_validate's report (every problem with file, line and section).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ini.h"
#include "core/keywords.h"
#include "core/util.h"

static void test_find(void **state) {
        const struct om_keyword *k = om_keyword_find("disk", "loop", "file");
        assert_non_null(k);
        assert_true(k->flags & OM_KWF_REQUIRED);
        assert_null(om_keyword_find("disk", "crypt", "file"));
        k = om_keyword_find("disk", "crypt", "name");
        assert_non_null(k);
        assert_string_equal(k->default_value, "{fqdn}-crypt");
        k = om_keyword_find("fs", "ext4", "optional"); /* a keyword of every resource */
        assert_non_null(k);
        assert_int_equal(k->kwtype, OM_KW_BOOL);
        assert_null(om_keyword_find("DEFAULT", NULL, "optional"));
        assert_null(om_keyword_find("DEFAULT", NULL, "type"));
        assert_non_null(om_keyword_find("DEFAULT", NULL, "nodes"));
        assert_non_null(om_keyword_find("hb", NULL, "timeout"));

        size_t n = 0;
        const struct om_keyword *all = om_keywords_all(&n);
        assert_true(n > 20);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(all[i].section);
                assert_non_null(all[i].name);
                assert_non_null(all[i].doc);
                assert_string_not_equal(om_kw_type_to_string(all[i].kwtype), "?");
                if (all[i].kwtype == OM_KW_CHOICE)
                        assert_non_null(all[i].choices);
                /* every default satisfies its own type */
                char err[200];
                if (all[i].default_value &&
                    om_keyword_check_value(&all[i], all[i].default_value, err, sizeof(err)) < 0)
                        fail_msg("default of %s.%s: %s", all[i].section, all[i].name, err);
        }
        assert_true(om_keyword_group_known(OM_KIND_SVC, "disk"));
        assert_false(om_keyword_group_known(OM_KIND_SEC, "disk"));
        assert_false(om_keyword_group_known(OM_KIND_SVC, "volume"));
        assert_true(om_keyword_type_known("disk", "crypt"));
        assert_false(om_keyword_type_known("disk", "ext4"));
        assert_false(om_keyword_type_known("disk", "cry"));
}

static void test_section_split(void **state) {
        char g[64], i[64];
        assert_int_equal(om_section_split("disk#1", g, sizeof(g), i, sizeof(i)), 0);
        assert_string_equal(g, "disk");
        assert_string_equal(i, "1");
        assert_int_equal(om_section_split("DEFAULT", g, sizeof(g), i, sizeof(i)), 0);
        assert_string_equal(g, "DEFAULT");
        assert_string_equal(i, "");
        assert_int_equal(om_section_split("data", g, sizeof(g), i, sizeof(i)), 0);
        assert_int_equal(om_section_split("disk", g, sizeof(g), i, sizeof(i)), -EINVAL);
        assert_int_equal(om_section_split("#1", g, sizeof(g), i, sizeof(i)), -EINVAL);
        assert_int_equal(om_section_split("disk#", g, sizeof(g), i, sizeof(i)), -EINVAL);
        assert_int_equal(om_section_split("Disk#1", g, sizeof(g), i, sizeof(i)), -EINVAL);
        assert_int_equal(om_section_split("disk#1.x", g, sizeof(g), i, sizeof(i)), -EINVAL);
        assert_int_equal(om_section_split("disk#1", g, 4, i, sizeof(i)), -EINVAL);
}

static void check(const char *section, const char *type, const char *key, const char *value,
                  const char *want_err) {
        const struct om_keyword *k = om_keyword_find(section, type, key);
        assert_non_null(k);
        char err[200] = "";
        int r = om_keyword_check_value(k, value, err, sizeof(err));
        if (!want_err) {
                if (r < 0)
                        fail_msg("%s = %s refused: %s", key, value, err);
                return;
        }
        assert_int_equal(r, -EINVAL);
        assert_string_equal(err, want_err);
}

static void test_values(void **state) {
        check("disk", "loop", "size", "1G", NULL);
        check("disk", "loop", "size", "1Q", "value '1Q' is not a size (like 512M, 1G)");
        check("DEFAULT", NULL, "ready_period", "500ms", NULL);
        check("DEFAULT", NULL, "ready_period", "soon",
              "value 'soon' is not a duration (like 500ms, 1s, 2m)");
        check("DEFAULT", NULL, "priority", "0", NULL);
        check("DEFAULT", NULL, "priority", "100", NULL);
        check("DEFAULT", NULL, "priority", "-3",
              "value '-3' is not an integer from 0 to 100 (the rule: an integer from 0 to 100)");
        check("DEFAULT", NULL, "priority", "101",
              "value '101' is not an integer from 0 to 100 (the rule: an integer from 0 to 100)");
        check("DEFAULT", NULL, "priority", "3.5",
              "value '3.5' is not an integer from 0 to 100 (the rule: an integer from 0 to 100)");
        check("node", NULL, "max_parallel", "1", NULL);
        check("node", NULL, "max_parallel", "1000", NULL);
        check("node", NULL, "max_parallel", "0",
              "value '0' is not an integer from 1 to 1000 (the rule: an integer from 1 to 1000)");
        check("DEFAULT", NULL, "placement", "spread", NULL);
        check("DEFAULT", NULL, "placement", "load avg", NULL);
        check("DEFAULT", NULL, "placement", "random",
              "value 'random' is not one of nodes order|none|load avg|spread|shift|score");
        check("fs", "ext4", "optional", "yes", NULL);
        check("fs", "ext4", "optional", "perhaps",
              "value 'perhaps' is not a boolean (true or false)");
        check("DEFAULT", NULL, "id", "e60306f6-e429-4a02-bd8f-a537a918a217", NULL);
        check("DEFAULT", NULL, "id", "1234", "value '1234' is not a UUID");
        check("DEFAULT", NULL, "topology", "flex", NULL);
        check("DEFAULT", NULL, "topology", "active", "value 'active' is not one of failover|flex");
        check("DEFAULT", NULL, "orchestrate", "h", "value 'h' is not one of no|ha|start");
        check("DEFAULT", NULL, "placement", "nodes order", NULL);
        check("DEFAULT", NULL, "priority", "{DEFAULT.env}", NULL); /* checked once expanded */
}

/* The rules beyond the types: absolute paths, node names, device-mapper names, sizes
 * above 0, required keywords not empty. */
static void test_rules(void **state) {
        check("disk", "loop", "file", "/var/lib/x.img", NULL);
        check("disk", "loop", "file", "../../etc/x.img",
              "value '../../etc/x.img' is not an absolute path (the rule: an absolute path "
              "without '..')");
        check("disk", "loop", "file", "/srv/../etc/x.img",
              "value '/srv/../etc/x.img' has a '..' component (the rule: an absolute path "
              "without '..')");
        check("disk", "loop", "file", "/srv/a..b/x.img", NULL);
        check("disk", "loop", "file", "", "is required and may not be empty");
        check("disk", "loop", "file", "{fqdn}.img", NULL); /* checked once expanded */
        check("disk", "loop", "file", "rel/{fqdn}.img",
              "value 'rel/{fqdn}.img' is not an absolute path (the rule: an absolute path "
              "without '..')");
        check("fs", "ext4", "mnt", "relative/path",
              "value 'relative/path' is not an absolute path (the rule: an absolute path "
              "without '..')");
        check("fs", "ext4", "dev", "/dev/sdb1", NULL);
        check("disk", "crypt", "dev", "sdb",
              "value 'sdb' is not an absolute path (the rule: an absolute path without '..')");
        check("disk", "crypt", "name", "web-data_1.x", NULL);
        check("disk", "crypt", "name", "../../evil",
              "value '../../evil' starts with '.' (the rule: a device-mapper name: A-Z, a-z, "
              "0-9, '.', '_', '+' and '-', not '.' first, at most 127 characters)");
        check("disk", "crypt", "name", "has space",
              "value 'has space' has the character ' ' (the rule: a device-mapper name: A-Z, "
              "a-z, 0-9, '.', '_', '+' and '-', not '.' first, at most 127 characters)");
        check("disk", "crypt", "name", "a/b",
              "value 'a/b' has the character '/' (the rule: a device-mapper name: A-Z, a-z, "
              "0-9, '.', '_', '+' and '-', not '.' first, at most 127 characters)");
        check("DEFAULT", NULL, "nodes", "n1 n2,n3", NULL);
        check("DEFAULT", NULL, "nodes", "n1 {nodename}", NULL);
        check("DEFAULT", NULL, "nodes", "bad/node ../x",
              "node name 'bad/node' has a character other than a-z, 0-9 and '-' (the rule: "
              "node names: a-z, 0-9 and '-', at most 63 characters)");
        check("cluster", NULL, "nodes", "N1",
              "node name 'N1' has upper case letters (names are lower case) (the rule: node "
              "names: a-z, 0-9 and '-', at most 63 characters)");
        check("disk", "loop", "size", "0", "value '0' is 0 (the rule: a size above 0)");
        check("disk", "loop", "size", "512M", NULL);
}

static void test_section_index(void **state) {
        char g[64], i[64];
        assert_int_equal(om_section_split("disk#0", g, sizeof(g), i, sizeof(i)), 0);
        assert_int_equal(om_section_split("disk#9999", g, sizeof(g), i, sizeof(i)), 0);
        assert_int_equal(om_section_split("disk#10000", g, sizeof(g), i, sizeof(i)), -ERANGE);
        assert_int_equal(om_section_split("disk#-1", g, sizeof(g), i, sizeof(i)), -ERANGE);
        assert_int_equal(om_section_split("disk#01", g, sizeof(g), i, sizeof(i)), -ERANGE);
        assert_int_equal(om_section_split("disk#99999999999999999999", g, sizeof(g), i, sizeof(i)),
                         -ERANGE);
        char err[256];
        assert_null(om_keyword_lookup(NULL, OM_KIND_SVC, "disk#-1", "file", err, sizeof(err)));
        assert_string_equal(err, "section [disk#-1]: index '-1' out of range (the rule: an "
                                 "integer from 0 to 9999, without leading zeros)");
}

static int validate(const char *text, enum om_kind kind, char **ret_report) {
        _cleanup_ini_ struct om_ini *ini = NULL;
        char err[256] = "";
        if (om_ini_parse(text, strlen(text), "x.conf", &ini, err, sizeof(err)) < 0)
                fail_msg("%s", err);
        struct om_buf report = {0};
        int n = om_config_validate(ini, kind, "x.conf", &report);
        *ret_report = om_buf_steal(&report);
        return n;
}

static void test_validate_reference(void **state) {
        const char conf[] = "[DEFAULT]\n"
                            "id = e60306f6-e429-4a02-bd8f-a537a918a217\n"
                            "[disk#0]\n"
                            "type = loop\n"
                            "file = /opt/{fqdn}.img\n"
                            "size = 1G\n"
                            "[disk#1]\n"
                            "type = crypt\n"
                            "dev = {disk#0.exposed_devs[0]}\n"
                            "name = {fqdn}-crypt\n"
                            "[fs#0]\n"
                            "type = ext4\n"
                            "dev = {disk#1.exposed_devs[0]}\n"
                            "mnt = /srv/{svcname}\n"
                            "[om]\n"
                            "version = 1.0\n";
        _cleanup_free_ char *report = NULL;
        assert_int_equal(validate(conf, OM_KIND_SVC, &report), 0);
        assert_string_equal(report, "");
}

static void test_validate_rules(void **state) {
        const char conf[] = "[DEFAULT]\n"                   /* 1 */
                            "nodes = n1 bad/node\n"         /* 2 */
                            "[disk#0]\n"                    /* 3 */
                            "type = loop\n"                 /* 4 */
                            "file =\n"                      /* 5 */
                            "size = 0\n"                    /* 6 */
                            "[disk#99999999999999999999]\n" /* 7 */
                            "type = loop\n"                 /* 8 */
                            "[fs#0]\n"                      /* 9 */
                            "type = ext4\n"                 /* 10 */
                            "dev = /dev/sdb\n"              /* 11 */
                            "mnt = relative/path\n";        /* 12 */
        _cleanup_free_ char *report = NULL;
        assert_int_equal(validate(conf, OM_KIND_SVC, &report), 5);
        assert_string_equal(
                report,
                "x.conf:2: [DEFAULT] nodes: node name 'bad/node' has a character other than a-z, "
                "0-9 and '-' (the rule: node names: a-z, 0-9 and '-', at most 63 characters)\n"
                "x.conf:5: [disk#0] file: is required and may not be empty\n"
                "x.conf:6: [disk#0] size: value '0' is 0 (the rule: a size above 0)\n"
                "x.conf:7: [disk#99999999999999999999] section index '99999999999999999999' out "
                "of range (the rule: an integer from 0 to 9999, without leading zeros)\n"
                "x.conf:12: [fs#0] mnt: value 'relative/path' is not an absolute path (the rule: "
                "an absolute path without '..')\n");
}

static void test_validate_problems(void **state) {
        const char conf[] = "[DEFAULT]\n"            /* 1 */
                            "nodes = n1\n"           /* 2 */
                            "topolgy = failover\n"   /* 3 */
                            "priority = high\n"      /* 4 */
                            "[disk#0]\n"             /* 5 */
                            "type = loop\n"          /* 6 */
                            "size = big\n"           /* 7 */
                            "colour = red\n"         /* 8 */
                            "[disk#1]\n"             /* 9 */
                            "type = zfs\n"           /* 10 */
                            "[disk#2]\n"             /* 11 */
                            "[volume#0]\n"           /* 12 */
                            "[fs#0]\n"               /* 13 */
                            "type = ext4\n"          /* 14 */
                            "mnt = /srv\n"           /* 15 */
                            "optional = sometimes\n" /* 16 */
                            "[weird]\n"              /* 17 */
                            "[data]\n"               /* 18 */
                            "k = v\n";               /* 19 */
        _cleanup_free_ char *report = NULL;
        assert_int_equal(validate(conf, OM_KIND_SVC, &report), 12);
        assert_string_equal(
                report,
                "x.conf:3: [DEFAULT] unknown keyword 'topolgy'\n"
                "x.conf:4: [DEFAULT] priority: value 'high' is not an integer from 0 to 100 "
                "(the rule: an integer from 0 to 100)\n"
                "x.conf:7: [disk#0] size: value 'big' is not a size (like 512M, 1G)\n"
                "x.conf:8: [disk#0] unknown keyword 'colour'\n"
                "x.conf:5: [disk#0] missing required keyword 'file'\n"
                "x.conf:10: [disk#1] unknown disk type 'zfs'\n"
                "x.conf:11: [disk#2] missing required keyword 'type'\n"
                "x.conf:12: [volume#0] unknown section group 'volume' for a svc object\n"
                "x.conf:16: [fs#0] optional: value 'sometimes' is not a boolean (true or false)\n"
                "x.conf:13: [fs#0] missing required keyword 'dev'\n"
                "x.conf:17: [weird] bad section name 'weird' (expected DEFAULT or "
                "<group>#<index>)\n"
                "x.conf:18: [data] unknown section group 'data' for a svc object\n");
}

static void test_validate_sec(void **state) {
        _cleanup_free_ char *report = NULL;
        assert_int_equal(validate("[data]\nk.1 = sealed:x\nbad!key = y\nk@n1 = z\n"
                                  "[disk#0]\ntype = loop\n",
                                  OM_KIND_SEC, &report),
                         3);
        assert_string_equal(
                report, "x.conf:3: [data] bad key name 'bad!key' (expected [A-Za-z0-9_.-]{1,255})\n"
                        "x.conf:4: [data] bad key name 'k' (expected [A-Za-z0-9_.-]{1,255})\n"
                        "x.conf:5: [disk#0] unknown section group 'disk' for a sec object\n");
}

static void test_kw_ref_parse(void **state) {
        struct om_kw_ref k;
        char err[256] = "";
        assert_int_equal(om_kw_ref_parse("nodes", &k, err, sizeof(err)), 0);
        assert_string_equal(k.section, "DEFAULT");
        assert_string_equal(k.key, "nodes");
        assert_string_equal(k.scope, "");
        assert_int_equal(om_kw_ref_parse("fs#0.mnt@n2", &k, err, sizeof(err)), 0);
        assert_string_equal(k.section, "fs#0");
        assert_string_equal(k.key, "mnt");
        assert_string_equal(k.scope, "n2");
        assert_int_equal(om_kw_ref_parse("DEFAULT.priority", &k, err, sizeof(err)), 0);
        assert_string_equal(k.section, "DEFAULT");
        assert_int_equal(om_kw_ref_parse("data.a.b", &k, err, sizeof(err)), 0);
        assert_string_equal(k.key, "a.b"); /* the first dot ends the section */

        static const struct {
                const char *in, *why;
        } bad[] = {
                {"", "empty keyword name"},
                {".size", "empty section name"},
                {"disk#1.", "empty keyword name"},
                {"disk#1.@n1", "empty keyword name"},
                {"disk.size", "bad section name 'disk'"},
                {"Disk#1.size", "bad section name"},
                {"disk#1.si ze", "bad keyword name"},
                {"disk#1.size@", "bad node name"},
                {"disk#1.size@a b", "bad node name"},
                {"disk#1.size@n1@n2", "bad node name"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                err[0] = 0;
                if (om_kw_ref_parse(bad[i].in, &k, err, sizeof(err)) != -EINVAL ||
                    !strstr(err, bad[i].why))
                        fail_msg("'%s': want '%s', got '%s'", bad[i].in, bad[i].why, err);
        }
}

static void test_lookup(void **state) {
        static const char conf[] = "[DEFAULT]\n"
                                   "[disk#1]\ntype = loop\n"
                                   "[disk#2]\ntype = crypt\n"
                                   "[disk#3]\n"
                                   "[disk#4]\ntype = zfs\n"
                                   "[fs#0]\ntype = ext4\n"
                                   "[app#0]\n";
        _cleanup_ini_ struct om_ini *ini = NULL;
        char err[256];
        assert_int_equal(om_ini_parse(conf, strlen(conf), "x", &ini, err, sizeof(err)), 0);

        const struct om_keyword *k =
                om_keyword_lookup(ini, OM_KIND_SVC, "disk#1", "size", err, sizeof(err));
        assert_non_null(k);
        assert_string_equal(k->type, "loop");
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "disk#2", "size", err, sizeof(err)));
        assert_string_equal(err, "unknown keyword 'size' in [disk#2] (a disk of type crypt)");
        assert_non_null(om_keyword_lookup(ini, OM_KIND_SVC, "disk#2", "manage_passphrase", err,
                                          sizeof(err)));
        /* keywords of every resource need no type */
        assert_non_null(om_keyword_lookup(ini, OM_KIND_SVC, "disk#3", "type", err, sizeof(err)));
        assert_non_null(
                om_keyword_lookup(ini, OM_KIND_SVC, "disk#9", "optional", err, sizeof(err)));
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "disk#3", "size", err, sizeof(err)));
        assert_string_equal(err, "[disk#3] has no type, and 'size' is not a keyword of every disk "
                                 "(set disk#3.type too: loop, crypt, drbd)");
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "disk#4", "size", err, sizeof(err)));
        assert_string_equal(err, "[disk#4]: unknown disk type 'zfs' (loop, crypt, drbd)");
        /* app has a default type */
        assert_non_null(om_keyword_lookup(ini, OM_KIND_SVC, "app#0", "start", err, sizeof(err)));
        assert_non_null(om_keyword_lookup(ini, OM_KIND_SVC, "fs#0", "mnt", err, sizeof(err)));
        assert_non_null(om_keyword_lookup(ini, OM_KIND_SVC, "DEFAULT", "nodes", err, sizeof(err)));
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "DEFAULT", "optional", err, sizeof(err)));
        assert_string_equal(err, "unknown keyword 'optional' in [DEFAULT]");
        /* sections a kind does not have */
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "vol#1", "size", err, sizeof(err)));
        assert_string_equal(err, "[vol#1] is not a section of a svc object (DEFAULT, or "
                                 "<group>#<index> with group disk, fs, app or ip)");
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "data", "k", err, sizeof(err)));
        assert_true(strstr(err, "is not a section of a svc object") != NULL);
        assert_null(om_keyword_lookup(ini, OM_KIND_SVC, "cluster", "name", err, sizeof(err)));
        assert_true(strstr(err, "is not a section") != NULL);
        assert_null(om_keyword_lookup(ini, OM_KIND_SEC, "disk#1", "size", err, sizeof(err)));
        assert_string_equal(err, "[disk#1] is not a section of a sec object (DEFAULT or data)");
        /* [data] of a sec object: free-form, no table entry and no error */
        assert_null(om_keyword_lookup(ini, OM_KIND_SEC, "data", "k", err, sizeof(err)));
        assert_string_equal(err, "");

        assert_string_equal(om_section_type(ini, "disk#2"), "crypt");
        assert_null(om_section_type(ini, "disk#3"));
        assert_string_equal(om_section_type(ini, "app#0"), "simple");
        assert_string_equal(om_section_type(ini, "app#7"), "simple"); /* absent: default */
        assert_null(om_section_type(ini, "DEFAULT"));
}

static void test_names(void **state) {
        _cleanup_strv_free_ char **loop = NULL, **any = NULL, **def = NULL;
        assert_int_equal(om_keyword_names("disk", "loop", &loop), 0);
        assert_true(om_strv_contains(loop, "size"));
        assert_true(om_strv_contains(loop, "optional"));
        assert_true(om_strv_contains(loop, "type"));
        assert_false(om_strv_contains(loop, "manage_passphrase"));
        assert_int_equal(om_keyword_names("disk", NULL, &any), 0);
        assert_true(om_strv_contains(any, "size"));
        assert_true(om_strv_contains(any, "manage_passphrase"));
        /* "comment" is a keyword of every resource: listed once */
        size_t comments = 0;
        for (char **k = any; *k; k++)
                comments += strcmp(*k, "comment") == 0;
        assert_int_equal(comments, 1);
        assert_int_equal(om_keyword_names("DEFAULT", NULL, &def), 0);
        assert_true(om_strv_contains(def, "nodes"));
        assert_false(om_strv_contains(def, "optional"));
        for (char **k = def; *k; k++)
                assert_non_null(om_keyword_find("DEFAULT", NULL, *k));
        for (char **k = loop; *k; k++)
                assert_non_null(om_keyword_find("disk", "loop", *k));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_section_split),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_validate_reference),
                cmocka_unit_test(test_validate_problems),
                cmocka_unit_test(test_validate_sec),
                cmocka_unit_test(test_kw_ref_parse),
                cmocka_unit_test(test_rules),
                cmocka_unit_test(test_section_index),
                cmocka_unit_test(test_validate_rules),
                cmocka_unit_test(test_lookup),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
