/*
 * Unit tests of core/log.h: the object log line format of the reference, one session id
 * per process (or the one OM_SID hands down), the r:<rid> tag, multi-line messages, the
 * daemon log, return values and %m.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "om-test.h"

#include <regex.h>
#include <sys/wait.h>

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_timestamp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_log, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_daemon_log, setup, teardown),
                cmocka_unit_test_setup_teardown(test_returns, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
