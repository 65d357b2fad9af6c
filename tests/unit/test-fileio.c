/*
 * Unit tests of core/fileio.h: bounded reads, atomic writes (content, mode, no
 * temporary left behind, on success or failure; those of killed writers removed by the
 * next write and by a sweep, those of running writers kept), directory creation, locks,
 * unlink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "om-test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/fileio.h"
#include "core/util.h"

static char root[64];

static int setup(void **state) {
        snprintf(root, sizeof(root), "/tmp/om-test-fileio-XXXXXX");
        assert_non_null(mkdtemp(root));
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void test_write_read(void **state) {
        _cleanup_free_ char *file = om_asprintf("%s/a/b/c.conf", root);
        _cleanup_free_ char *dir = om_asprintf("%s/a/b", root);
        assert_int_equal(om_write_atomic(file, "hello\0world", 11, 0600), 0);
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(count_entries(dir), 1); /* no temporary file left */

        char *data = NULL;
        size_t len = 0;
        assert_int_equal(om_read_file(file, 100, &data, &len), 0);
        assert_int_equal(len, 11);
        assert_memory_equal(data, "hello\0world", 12); /* NUL-terminated */
        free(data);

        /* replaced, mode applied even though the file existed */
        assert_int_equal(om_write_atomic(file, "x", 1, 0644), 0);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(om_read_file(file, 100, &data, NULL), 0);
        assert_string_equal(data, "x");
        free(data);

        /* bounds */
        assert_int_equal(om_write_atomic(file, "0123456789", 10, 0644), 0);
        assert_int_equal(om_read_file(file, 10, &data, &len), 0);
        free(data);
        data = (char *)0x1;
        assert_int_equal(om_read_file(file, 9, &data, &len), -EFBIG);
        assert_ptr_equal(data, (char *)0x1);
        assert_int_equal(om_read_file(root, 9, &data, &len), -EISDIR);
        _cleanup_free_ char *none = om_asprintf("%s/none", root);
        assert_int_equal(om_read_file(none, 9, &data, &len), -ENOENT);

        /* empty file */
        assert_int_equal(om_write_atomic(file, "", 0, 0644), 0);
        assert_int_equal(om_read_file(file, 10, &data, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(data, "");
        free(data);

        assert_int_equal(om_unlink_sync(file), 0);
        assert_int_equal(access(file, F_OK), -1);
        assert_int_equal(om_unlink_sync(file), 0);
}

/* A pid that no longer runs: a child's, reaped. */
static pid_t dead_pid(void) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        return pid;
}

static void plant(const char *file) {
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fputs("sealed text", f);
        fclose(f);
}

static bool exists(const char *file) {
        struct stat st;
        return stat(file, &st) == 0;
}

static void test_tmp_orphans(void **state) {
        _cleanup_free_ char *file = om_asprintf("%s/x.conf", root);
        _cleanup_free_ char *dead = om_asprintf("%s/x.conf.tmp.%d", root, (int)dead_pid());
        _cleanup_free_ char *live = om_asprintf("%s/x.conf.tmp.%d", root, (int)getppid());
        _cleanup_free_ char *other = om_asprintf("%s/y.conf.tmp.%d", root, (int)dead_pid());
        _cleanup_free_ char *notpid = om_asprintf("%s/x.conf.tmp.12ab", root);
        plant(dead);
        plant(live);
        plant(other);
        plant(notpid);
        /* the next write of x.conf removes its own orphan only */
        assert_int_equal(om_write_atomic(file, "v", 1, 0600), 0);
        assert_false(exists(dead));
        assert_true(exists(live));
        assert_true(exists(other));
        assert_true(exists(notpid));
        /* a sweep removes every orphan below a directory */
        _cleanup_free_ char *sub = om_asprintf("%s/a/b", root);
        assert_int_equal(om_mkdir_p(sub, 0755), 0);
        _cleanup_free_ char *deep = om_asprintf("%s/z.conf.tmp.%d", sub, (int)dead_pid());
        plant(deep);
        assert_int_equal(om_tmp_sweep(root), 0);
        assert_false(exists(other));
        assert_false(exists(deep));
        assert_true(exists(live));
        assert_true(exists(notpid));
        assert_int_equal(om_tmp_sweep("/nonexistent-om-dir"), 0);
}

static void test_write_fails_clean(void **state) {
        /* rename onto a directory fails: the temporary file goes too */
        _cleanup_free_ char *dir = om_asprintf("%s/d", root);
        assert_int_equal(om_mkdir_p(dir, 0755), 0);
        _cleanup_free_ char *inner = om_asprintf("%s/d/f", root);
        plant(inner);
        assert_true(om_write_atomic(dir, "v", 1, 0600) < 0);
        assert_int_equal(count_entries(root), 1); /* d only */
}

static void test_mkdir(void **state) {
        _cleanup_free_ char *dir = om_asprintf("%s/x/y/z", root);
        assert_int_equal(om_mkdir_p(dir, 0755), 0);
        assert_int_equal(om_mkdir_p(dir, 0755), 0);
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        _cleanup_free_ char *file = om_asprintf("%s/p/q/f", root);
        assert_int_equal(om_mkdir_parents(file, 0755), 0);
        _cleanup_free_ char *parent = om_asprintf("%s/p/q", root);
        assert_int_equal(stat(parent, &st), 0);
        assert_int_equal(access(file, F_OK), -1);
        /* a file in the way */
        _cleanup_free_ char *blocker = om_asprintf("%s/blk", root);
        assert_int_equal(om_write_atomic(blocker, "", 0, 0644), 0);
        _cleanup_free_ char *under = om_asprintf("%s/blk/sub", root);
        assert_true(om_mkdir_p(under, 0755) < 0);
}

static void test_lock(void **state) {
        _cleanup_free_ char *lock = om_asprintf("%s/locks/l", root);
        int fd = -1;
        assert_int_equal(om_lock_file(lock, false, &fd), 0);
        assert_true(fd >= 0);
        /* another process cannot take it while we hold it */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd2 = -1;
                _exit(om_lock_file(lock, false, &fd2) == -EWOULDBLOCK ? 0 : 1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        close(fd);
        pid = fork();
        if (pid == 0) {
                int fd2 = -1;
                _exit(om_lock_file(lock, false, &fd2) == 0 ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tmp_orphans, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_fails_clean, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
