/*
 * Unit tests of core/log.h: the object log line format of the reference, one session id
 * per process (or the one OM_SID hands down), the r:<rid> tag, multi-line messages, the
 * daemon log, return values and %m, rotation by size with concurrent writers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "om-test.h"

#include <errno.h>
#include <regex.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"

static char root[64];

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}"
#define UUID "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "log", "demo1");
        unsetenv("OM_DEBUG");
        return 0;
}

static int teardown(void **state) {
        om_log_object_close();
        om_test_root_remove(root);
        return 0;
}

static void assert_match(const char *re, const char *s) {
        regex_t rx;
        assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
        int r = regexec(&rx, s, 0, NULL, 0);
        regfree(&rx);
        if (r != 0)
                fail_msg("'%s' does not match /%s/", s, re);
}

static char **read_lines(const char *file) {
        _cleanup_free_ char *text = NULL;
        assert_int_equal(om_read_file(file, 1 << 20, &text, NULL), 0);
        char **lines = NULL;
        assert_int_equal(om_strv_split(text, "\n", &lines), 0);
        return lines;
}

static void test_timestamp(void **state) {
        char ts[40];
        om_log_timestamp(ts, sizeof(ts));
        assert_match("^" TS "$", ts);
}

static void test_object_log(void **state) {
        _cleanup_free_ char *file = om_asprintf("%s/log/namespaces/demo/svc/x.log", root);
        assert_int_equal(om_log_object_open("demo/svc/x", file), 0);
        log_info("create");
        om_log_set_rid("disk#1");
        log_warning("two\nlines");
        om_log_set_rid(NULL);
        log_error("failed: %d", 3);
        log_debug("dropped without OM_DEBUG");
        om_log_object_close();
        log_info("after close: not in the object log");

        _cleanup_strv_free_ char **lines = read_lines(file);
        assert_int_equal(om_strv_length(lines), 4);
        assert_match("^" TS " INFO sid:" UUID " n:demo1 o:demo/svc/x sc:n \\| create$", lines[0]);
        assert_match("^" TS " WARNING sid:" UUID " n:demo1 o:demo/svc/x r:disk#1 sc:n \\| two$",
                     lines[1]);
        assert_match("^" TS " WARNING sid:" UUID " n:demo1 o:demo/svc/x r:disk#1 sc:n \\| lines$",
                     lines[2]);
        assert_match("^" TS " ERROR sid:" UUID " n:demo1 o:demo/svc/x sc:n \\| failed: 3$",
                     lines[3]);
        /* one session id for everything this process logged */
        char want[64];
        snprintf(want, sizeof(want), "sid:%s ", om_log_sid());
        for (char **l = lines; *l; l++)
                assert_non_null(strstr(*l, want));
}

/* The reason an action failed: its session's last ERROR line, with the resource, not the
 * closing "<action> failed"; other sessions' errors are not its reason; only the tail of
 * a long log is read. */
static void test_last_error(void **state) {
        _cleanup_free_ char *file = om_asprintf("%s/log/namespaces/demo/svc/e.log", root);
        char why[200];
        assert_int_equal(om_log_last_error(file, om_log_sid(), why, sizeof(why)), -ENOENT);
        assert_int_equal(om_log_object_open("demo/svc/e", file), 0);
        log_info("do start --local");
        assert_int_equal(om_log_last_error(file, om_log_sid(), why, sizeof(why)), -ENOENT);
        om_log_set_rid("disk#1");
        log_error("first");
        log_error("cannot open /dev/x: No such device");
        om_log_set_rid(NULL);
        log_error("start failed");
        om_log_object_close();
        assert_int_equal(om_log_last_error(file, om_log_sid(), why, sizeof(why)), 0);
        assert_string_equal(why, "disk#1: cannot open /dev/x: No such device");
        assert_int_equal(
                om_log_last_error(file, "00000000-0000-4000-8000-000000000000", why, sizeof(why)),
                -ENOENT);
        /* another session's error after ours, and an object-level one of ours */
        _cleanup_fclose_ FILE *f = fopen(file, "ae");
        assert_non_null(f);
        fprintf(f, "2026-12-04 10:00:00,000 ERROR sid:00000000-0000-4000-8000-000000000000 "
                   "n:demo1 o:demo/svc/e sc:n | not ours\n");
        fprintf(f,
                "2026-12-04 10:00:00,001 ERROR sid:%s n:demo1 o:demo/svc/e sc:n | ours, "
                "object-level\n",
                om_log_sid());
        /* a long tail of other lines: the error stays within the scanned tail */
        for (int i = 0; i < 100; i++)
                fprintf(f,
                        "2026-12-04 10:00:01,000 INFO sid:%s n:demo1 o:demo/svc/e sc:n | "
                        "filler %d\n",
                        om_log_sid(), i);
        fflush(f);
        assert_int_equal(om_log_last_error(file, om_log_sid(), why, sizeof(why)), 0);
        assert_string_equal(why, "ours, object-level");
        /* pushed out of the scanned tail: not found */
        for (size_t i = 0; i < OM_LOG_ERROR_SCAN / 64 + 1; i++)
                fprintf(f,
                        "2026-12-04 10:00:02,000 INFO sid:x n:demo1 o:demo/svc/e sc:n | %039zu\n",
                        i);
        fflush(f);
        assert_int_equal(om_log_last_error(file, om_log_sid(), why, sizeof(why)), -ENOENT);
}

static void test_sid(void **state) {
        const char *sid = om_log_sid();
        assert_true(om_uuid_valid(sid));
        assert_string_equal(om_log_sid(), sid);

        /* a child process spawned with OM_SID logs under its parent's session */
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                om_log_set_sid(""); /* forget the inherited value, as a fresh process */
                setenv("OM_SID", "e60306f6-e429-4a02-bd8f-a537a918a217", 1);
                const char *s = om_log_sid();
                _exit(write(fds[1], s, 36) == 36 ? 0 : 1);
        }
        close(fds[1]);
        char got[37] = "";
        assert_int_equal(read(fds[0], got, 36), 36);
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);
        assert_string_equal(got, "e60306f6-e429-4a02-bd8f-a537a918a217");

        /* without OM_SID, a fresh session id */
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        if (pid == 0) {
                om_log_set_sid("");
                unsetenv("OM_SID");
                const char *s = om_log_sid();
                _exit(write(fds[1], s, 36) == 36 ? 0 : 1);
        }
        close(fds[1]);
        assert_int_equal(read(fds[0], got, 36), 36);
        close(fds[0]);
        waitpid(pid, &status, 0);
        assert_true(om_uuid_valid(got));
        assert_string_not_equal(got, sid);
        assert_string_not_equal(got, "e60306f6-e429-4a02-bd8f-a537a918a217");
}

static void test_daemon_log(void **state) {
        _cleanup_free_ char *file = om_asprintf("%s/log/daemon.log", root);
        assert_int_equal(om_log_open_daemon(file), 0);
        om_log_set_component("hb");
        log_info("beating");
        om_log_set_component(NULL);
        log_warning("plain");
        om_log_set_debug(true);
        log_debug("now kept");
        om_log_set_debug(false);
        _cleanup_strv_free_ char **lines = read_lines(file);
        assert_int_equal(om_strv_length(lines), 3);
        assert_match("^" TS " INFO n:demo1 c:hb \\| beating$", lines[0]);
        assert_match("^" TS " WARNING n:demo1 c:daemon \\| plain$", lines[1]);
        assert_match("^" TS " DEBUG n:demo1 c:daemon \\| now kept$", lines[2]);
}

static void test_returns(void **state) {
        assert_int_equal(log_info("x"), 0);
        assert_int_equal(log_error_errno(-ENOENT, "open: %m"), -ENOENT);
        assert_int_equal(log_error_errno(EACCES, "open"), -EACCES);
        assert_string_equal(om_log_level_to_string(OM_LOG_WARNING), "WARNING");

        _cleanup_free_ char *file = om_asprintf("%s/log/m.log", root);
        assert_int_equal(om_log_object_open("root/svc/m", file), 0);
        errno = EBUSY;
        log_error_errno(-ENOENT, "cannot open: %m");
        assert_int_equal(errno, EBUSY); /* preserved */
        om_log_object_close();
        _cleanup_strv_free_ char **lines = read_lines(file);
        assert_int_equal(om_strv_length(lines), 1);
        assert_match("\\| cannot open: No such file or directory$", lines[0]);
}

/* Rotation: a full log becomes <file>.1 and a new one starts; 4 processes writing 25
 * lines each into a log that fills up in the middle rotate it once between them and
 * lose no line (each one's lines in order, across the two files); a log removed by hand
 * is created again. */
static void test_rotation(void **state) {
        _cleanup_free_ char *file = om_asprintf("%s/log/namespaces/demo/svc/r.log", root);
        _cleanup_free_ char *old = om_asprintf("%s.1", file);
        om_log_set_max_size(12288); /* 130 lines of ~115 bytes: one rotation */
        assert_int_equal(om_log_object_open("demo/svc/r", file), 0);
        for (int i = 0; i < 30; i++) /* about 3.4 KiB */
                log_info("before %02d", i);
        assert_int_equal(access(old, F_OK), -1);
        fflush(NULL);
        pid_t kids[4];
        for (int k = 0; k < 4; k++) {
                kids[k] = fork();
                assert_true(kids[k] >= 0);
                if (kids[k] == 0) {
                        for (int i = 0; i < 25; i++)
                                log_info("child %d line %02d", k, i);
                        _exit(0);
                }
        }
        for (int k = 0; k < 4; k++) {
                int st;
                assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        om_log_object_close();
        om_log_set_max_size(OM_LOG_MAX_SIZE);

        assert_int_equal(access(old, F_OK), 0);
        _cleanup_strv_free_ char **a = read_lines(old);
        _cleanup_strv_free_ char **b = read_lines(file);
        /* the 30 first lines open the rotated file; 130 lines in all */
        assert_int_equal(om_strv_length(a) + om_strv_length(b), 130);
        assert_true(om_strv_length(a) >= 30);
        for (int i = 0; i < 30; i++) {
                char want[32];
                snprintf(want, sizeof(want), "| before %02d", i);
                assert_non_null(strstr(a[i], want));
        }
        /* each child's lines, in order, over both files; nothing over the size */
        int next[4] = {0};
        for (int f = 0; f < 2; f++)
                for (char **l = f ? b : a; *l; l++) {
                        const char *m = strstr(*l, "| child ");
                        if (!m)
                                continue;
                        int k, i;
                        assert_int_equal(sscanf(m, "| child %d line %d", &k, &i), 2);
                        assert_true(k >= 0 && k < 4);
                        assert_int_equal(i, next[k]);
                        next[k]++;
                }
        for (int k = 0; k < 4; k++)
                assert_int_equal(next[k], 25);
        /* the size is checked before each write, not under a lock: writers that checked
         * at once may each add their line (4 writers, lines under 128 bytes) */
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_true(st.st_size <= 12288 + 4 * 128);
        assert_int_equal(stat(old, &st), 0);
        assert_true(st.st_size <= 12288 + 4 * 128);

        /* removed by hand: the next line starts it again */
        assert_int_equal(om_log_object_open("demo/svc/r", file), 0);
        assert_int_equal(unlink(file), 0);
        log_info("after removal");
        om_log_object_close();
        _cleanup_strv_free_ char **c = read_lines(file);
        assert_int_equal(om_strv_length(c), 1);
        assert_non_null(strstr(c[0], "| after removal"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_timestamp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_log, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_last_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_daemon_log, setup, teardown),
                cmocka_unit_test_setup_teardown(test_returns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
