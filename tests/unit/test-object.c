/*
 * Unit tests of om_object_edit (core/object.h): changes applied all or nothing, the
 * refusals (reserved [om], sealed [data], unknown keywords, bad values and scopes,
 * values the ini format cannot hold), the validator's report numbered as the lines of
 * the file that would be written, the version stamped by each write, and concurrent
 * editors of one object losing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/keywords.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "om-test.h"

static char root[64];
static struct om_path svc, sec;

static const char base_conf[] = "[DEFAULT]\n"
                                "nodes = n1 n2\n"
                                "\n"
                                "[disk#1]\n"
                                "type = loop\n"
                                "file = /opt/x.img\n"
                                "size = 1G\n"
                                "\n"
                                "[fs#0]\n"
                                "type = ext4\n"
                                "dev = /dev/loop0\n"
                                "mnt = /srv/x\n";

static void write_object(const struct om_path *p, const char *text) {
        _cleanup_object_ struct om_object *o = NULL;
        char err[256];
        assert_int_equal(om_object_new(p, &o), 0);
        om_ini_free(o->ini);
        o->ini = NULL;
        assert_int_equal(om_ini_parse(text, strlen(text), "t", &o->ini, err, sizeof(err)), 0);
        assert_int_equal(om_object_write(o), 0);
}

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "object", "n1");
        char err[256];
        assert_int_equal(om_path_parse("demo/svc/x", &svc, err, sizeof(err)), 0);
        assert_int_equal(om_path_parse("demo/sec/s", &sec, err, sizeof(err)), 0);
        write_object(&svc, base_conf);
        write_object(&sec, "[data]\nk = sealed:xyz\n");
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static char *file_text(const struct om_path *p) {
        _cleanup_free_ char *file = om_object_conf_path(p);
        char *text = NULL;
        assert_int_equal(om_read_file(file, 1 << 20, &text, NULL), 0);
        return text;
}

static struct om_kw_change change(const char *ref, const char *value) {
        struct om_kw_change c = {.value = value};
        char err[256];
        if (om_kw_ref_parse(ref, &c.kw, err, sizeof(err)) < 0)
                fail_msg("%s: %s", ref, err);
        return c;
}

static const char *get(const struct om_path *p, const char *section, const char *key,
                       const char *node, char *buf, size_t len) {
        _cleanup_object_ struct om_object *o = NULL;
        assert_int_equal(om_object_load(p, &o, NULL, 0), 0);
        const char *v = om_ini_get(o->ini, section, key, node);
        if (!v)
                return NULL;
        snprintf(buf, len, "%s", v);
        return buf;
}

static void version_of(const struct om_path *p, struct om_version *ret) {
        _cleanup_object_ struct om_object *o = NULL;
        assert_int_equal(om_object_load(p, &o, NULL, 0), 0);
        om_object_version(o, ret);
}

static void test_set(void **state) {
        struct om_version v0, v1;
        char buf[256], err[512] = "";
        struct om_buf report = {0};
        version_of(&svc, &v0);

        struct om_kw_change c[] = {
                change("disk#1.size", "2G"), change("comment", "hello"),
                change("fs#0.mnt@n2", "/mnt/x"),
                change("app#1.start", "/bin/true"), /* a new section */
        };
        assert_int_equal(om_object_edit(&svc, c, ARRAY_SIZE(c), &report, err, sizeof(err)), 1);
        assert_null(report.data);
        assert_string_equal(get(&svc, "disk#1", "size", NULL, buf, sizeof(buf)), "2G");
        assert_string_equal(get(&svc, "DEFAULT", "comment", NULL, buf, sizeof(buf)), "hello");
        assert_string_equal(get(&svc, "fs#0", "mnt", "n2", buf, sizeof(buf)), "/mnt/x");
        assert_string_equal(get(&svc, "fs#0", "mnt", NULL, buf, sizeof(buf)), "/srv/x");
        assert_string_equal(get(&svc, "app#1", "start", NULL, buf, sizeof(buf)), "/bin/true");
        version_of(&svc, &v1);
        assert_true(om_version_compare(&v1, &v0) > 0);
        assert_string_equal(v1.writer, "n1");

        /* order kept: new keywords and sections go last, [om] stays the last section */
        _cleanup_free_ char *text = file_text(&svc);
        const char *want = "[DEFAULT]\n"
                           "nodes = n1 n2\n"
                           "comment = hello\n"
                           "\n"
                           "[disk#1]\n"
                           "type = loop\n"
                           "file = /opt/x.img\n"
                           "size = 2G\n"
                           "\n"
                           "[fs#0]\n"
                           "type = ext4\n"
                           "dev = /dev/loop0\n"
                           "mnt = /srv/x\n"
                           "mnt@n2 = /mnt/x\n"
                           "\n"
                           "[app#1]\n"
                           "start = /bin/true\n"
                           "\n"
                           "[om]\n";
        assert_memory_equal(text, want, strlen(want));

        /* the same values again: nothing written, the version stays */
        assert_int_equal(om_object_edit(&svc, c, 1, &report, err, sizeof(err)), 0);
        struct om_version v2;
        version_of(&svc, &v2);
        assert_int_equal(om_version_compare(&v2, &v1), 0);
}

static void test_unset(void **state) {
        char buf[256], err[512] = "";
        struct om_buf report = {0};
        struct om_kw_change set[] = {change("app#1.start", "/bin/true"),
                                     change("fs#0.mnt_opt", "noatime")};
        assert_int_equal(om_object_edit(&svc, set, 2, &report, err, sizeof(err)), 1);
        struct om_kw_change c[] = {change("app#1.start", NULL), change("fs#0.mnt_opt", NULL),
                                   change("comment", NULL) /* absent: no change */};
        assert_int_equal(om_object_edit(&svc, c, ARRAY_SIZE(c), &report, err, sizeof(err)), 1);
        assert_null(get(&svc, "fs#0", "mnt_opt", NULL, buf, sizeof(buf)));
        _cleanup_free_ char *text = file_text(&svc);
        assert_null(strstr(text, "[app#1]")); /* left empty: removed */
        /* nothing to remove: nothing written */
        assert_int_equal(om_object_edit(&svc, c, ARRAY_SIZE(c), &report, err, sizeof(err)), 0);
        /* absent and unknown is an error, not a no-op */
        struct om_kw_change typo[] = {change("fs#0.mnt_op", NULL)};
        assert_int_equal(om_object_edit(&svc, typo, 1, &report, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "fs#0.mnt_op: unknown keyword 'mnt_op' in [fs#0] (a fs of type "
                                 "ext4)");
}

/* om_object_edit fails with r, err holding want, and the file is byte-identical */
static void expect_refused(const struct om_path *p, const struct om_kw_change *c, size_t n, int r,
                           const char *want, const char *want_report) {
        _cleanup_free_ char *before = file_text(p);
        char err[512] = "";
        struct om_buf report = {0};
        assert_int_equal(om_object_edit(p, c, n, &report, err, sizeof(err)), r);
        if (!strstr(err, want))
                fail_msg("'%s' not in '%s'", want, err);
        if (want_report && (!report.data || !strstr(report.data, want_report)))
                fail_msg("'%s' not in the report '%s'", want_report,
                         report.data ? report.data : "");
        om_buf_free(&report);
        _cleanup_free_ char *after = file_text(p);
        assert_string_equal(before, after);
}

static void test_refused(void **state) {
        struct om_kw_change size[] = {change("comment", "ok"), change("disk#1.size", "banana")};
        expect_refused(&svc, size, 2, -EINVAL, "disk#1.size: value 'banana' is not a size", NULL);
        struct om_kw_change unknown[] = {change("fs#0.colour", "blue")};
        expect_refused(&svc, unknown, 1, -EINVAL, "unknown keyword 'colour' in [fs#0]", NULL);
        struct om_kw_change scope[] = {change("topology@n2", "flex")};
        expect_refused(&svc, scope, 1, -EINVAL, "keyword 'topology' cannot be scoped", NULL);
        struct om_kw_change comment[] = {change("comment", "a #b")};
        expect_refused(&svc, comment, 1, -EINVAL, "would not read back", NULL);
        struct om_kw_change meta[] = {change("om.version", "1.0")};
        expect_refused(&svc, meta, 1, -EPERM, "section [om] is reserved", NULL);
        struct om_kw_change unmeta[] = {change("om.writer", NULL)};
        expect_refused(&svc, unmeta, 1, -EPERM, "section [om] is reserved", NULL);
        struct om_kw_change data[] = {change("data.k", "plain")};
        expect_refused(&sec, data, 1, -EPERM, "om demo/sec/s add --key k", NULL);
        struct om_kw_change undata[] = {change("data.k", NULL)};
        expect_refused(&sec, undata, 1, -EPERM, "om demo/sec/s remove --key k", NULL);
        struct om_kw_change svcdata[] = {change("data.k", "v")};
        expect_refused(&svc, svcdata, 1, -EINVAL, "[data] is not a section of a svc object", NULL);

        /* the validator's report, numbered as the lines of the file to be: [fs#1] would
         * start at line 14 */
        struct om_kw_change fs[] = {change("fs#1.type", "ext4")};
        expect_refused(&svc, fs, 1, -EBADMSG, "the changed config has 2 problems",
                       " (changed):14: [fs#1] missing required keyword 'dev'\n");
        struct om_kw_change unreq[] = {change("fs#0.mnt", NULL)};
        expect_refused(&svc, unreq, 1, -EBADMSG, "1 problem",
                       ":9: [fs#0] missing required keyword 'mnt'\n");
        struct om_kw_change retype[] = {change("disk#1.type", "crypt")};
        expect_refused(&svc, retype, 1, -EBADMSG, "3 problems",
                       ":6: [disk#1] unknown keyword 'file'\n");
}

static void test_absent(void **state) {
        struct om_path p;
        char err[512] = "";
        struct om_buf report = {0};
        assert_int_equal(om_path_parse("demo/svc/nosuch", &p, err, sizeof(err)), 0);
        struct om_kw_change c[] = {change("comment", "x")};
        assert_int_equal(om_object_edit(&p, c, 1, &report, err, sizeof(err)), -ENOENT);
        assert_string_equal(err, "object demo/svc/nosuch does not exist");
        assert_false(om_object_exists(&p));
        _cleanup_free_ char *var = om_object_var_path(&p);
        assert_int_equal(access(var, F_OK), -1);
}

/* Each child sets its own keyword; with the lock and the load under it, all land. */
static void test_concurrent(void **state) {
        enum { N = 16 };
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        char ref[32], val[32], err[512];
                        struct om_buf report = {0};
                        snprintf(ref, sizeof(ref), "app#%d.start", i);
                        snprintf(val, sizeof(val), "/bin/echo %d", i);
                        struct om_kw_change c[] = {change(ref, val)};
                        _exit(om_object_edit(&svc, c, 1, &report, err, sizeof(err)) == 1 ? 0 : 1);
                }
        }
        for (int i = 0; i < N; i++) {
                int st;
                assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        for (int i = 0; i < N; i++) {
                char sect[16], want[32], buf[64];
                snprintf(sect, sizeof(sect), "app#%d", i);
                snprintf(want, sizeof(want), "/bin/echo %d", i);
                const char *v = get(&svc, sect, "start", NULL, buf, sizeof(buf));
                if (!v || strcmp(v, want) != 0)
                        fail_msg("[%s] start = %s, want %s", sect, v ? v : "(lost)", want);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_set, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
