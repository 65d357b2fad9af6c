/*
 * Unit tests of core/hlc.h: monotonic values in one process and across concurrent
 * processes sharing <var>/hlc, observe() moving past remote values, the text form and
 * version comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "om-test.h"

#include <sys/wait.h>

#include "core/fileio.h"
#include "core/hlc.h"
#include "core/paths.h"
#include "core/util.h"

static char root[64];

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "hlc", "n1");
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static void test_monotonic(void **state) {
        uint64_t prev = 0, v;
        uint64_t wall = om_now_ms();
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(om_hlc_next(&v), 0);
                assert_true(v > prev);
                prev = v;
        }
        /* physical part is the wall clock */
        assert_true((v >> 16) >= wall);
        assert_true((v >> 16) <= om_now_ms() + 1);
        /* persisted: a value written with a clock far ahead keeps later values ahead */
        char buf[64];
        uint64_t future = (om_now_ms() + 3600000) << 16;
        om_hlc_format(future, buf, sizeof(buf));
        _cleanup_free_ char *file = om_asprintf("%s/var/hlc", root);
        assert_int_equal(om_write_atomic(file, buf, strlen(buf), 0644), 0);
        assert_int_equal(om_hlc_next(&v), 0);
        assert_int_equal(v, future + 1);
}

static void test_observe(void **state) {
        uint64_t v;
        uint64_t remote = (om_now_ms() + 60000) << 16 | 5; /* a peer one minute ahead */
        assert_int_equal(om_hlc_observe(remote), 0);
        assert_int_equal(om_hlc_next(&v), 0);
        assert_true(v > remote);
        assert_int_equal(v, remote + 2);
        /* an old remote value does not move the clock back */
        assert_int_equal(om_hlc_observe(1ULL << 16), 0);
        uint64_t w;
        assert_int_equal(om_hlc_next(&w), 0);
        assert_true(w > v);
        /* the largest value cannot be moved past: refused, not wrapped to zero */
        assert_int_equal(om_hlc_observe(UINT64_MAX), -EOVERFLOW);
        assert_int_equal(om_hlc_next(&v), 0);
        assert_true(v > w);
}

#define PROCS 2
#define ROUNDS 300

/* Two processes take values concurrently: every value is distinct and each process
 * sees its own increasing. */
static void test_processes(void **state) {
        int fds[PROCS][2];
        pid_t pids[PROCS];
        for (int p = 0; p < PROCS; p++) {
                assert_int_equal(pipe(fds[p]), 0);
                pids[p] = fork();
                assert_true(pids[p] >= 0);
                if (pids[p] == 0) {
                        close(fds[p][0]);
                        uint64_t prev = 0, v;
                        for (int i = 0; i < ROUNDS; i++) {
                                if (om_hlc_next(&v) < 0 || v <= prev)
                                        _exit(1);
                                prev = v;
                                if (write(fds[p][1], &v, sizeof(v)) != sizeof(v))
                                        _exit(1);
                        }
                        _exit(0);
                }
                close(fds[p][1]);
        }
        uint64_t *all = calloc(PROCS * ROUNDS, sizeof(uint64_t));
        assert_non_null(all);
        size_t n = 0;
        for (int p = 0; p < PROCS; p++) {
                uint64_t v;
                while (read(fds[p][0], &v, sizeof(v)) == sizeof(v))
                        all[n++] = v;
                close(fds[p][0]);
                int status;
                assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        assert_int_equal(n, PROCS * ROUNDS);
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (all[i] == all[j])
                                fail_msg("value %zu and %zu are both %llu", i, j,
                                         (unsigned long long)all[i]);
        free(all);
}

static void test_format_parse(void **state) {
        char buf[64];
        uint64_t v = 0;
        om_hlc_format((1795705687750ULL << 16) | 3, buf, sizeof(buf));
        assert_string_equal(buf, "1795705687750.3");
        assert_int_equal(om_hlc_parse(buf, &v), 0);
        assert_int_equal(v, (1795705687750ULL << 16) | 3);
        assert_int_equal(om_hlc_parse("0.0", &v), 0);
        assert_int_equal(v, 0);
        v = 42;
        assert_int_equal(om_hlc_parse("1.65536", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("1", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("1.2x", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("281474976710656.0", &v), -EINVAL); /* 2^48 ms */
        assert_int_equal(om_hlc_parse(" 1.2", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("1. 2", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("-1.2", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("+1.2", &v), -EINVAL);
        assert_int_equal(om_hlc_parse("1.-2", &v), -EINVAL);
        assert_int_equal(v, 42);
}

static void test_version_compare(void **state) {
        struct om_version a = {.hlc = 100, .writer = "n1"};
        struct om_version b = {.hlc = 101, .writer = "n0"};
        struct om_version c = {.hlc = 100, .writer = "n2"};
        struct om_version d = {.hlc = 100, .writer = "n1"};
        assert_true(om_version_compare(&a, &b) < 0);
        assert_true(om_version_compare(&b, &a) > 0);
        assert_true(om_version_compare(&a, &c) < 0); /* same clock: writer name decides */
        assert_true(om_version_compare(&c, &a) > 0);
        assert_int_equal(om_version_compare(&a, &d), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_monotonic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_observe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
                cmocka_unit_test(test_format_parse),
                cmocka_unit_test(test_version_compare),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
