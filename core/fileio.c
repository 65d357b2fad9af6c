/*
 * Implementation of fileio.h.
 */
#include "core/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/om.h"
#include "core/util.h"

int om_read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        struct om_buf b = {0};
        for (;;) {
                int r = om_buf_reserve(&b, 65536);
                if (r < 0) {
                        om_buf_free(&b);
                        return r;
                }
                ssize_t n = read(fd, b.data + b.len, 65536);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        om_buf_free(&b);
                        return r;
                }
                if (n == 0) {
                        b.data[b.len] = 0; /* an empty file reads as "", not garbage */
                        break;
                }
                b.len += (size_t)n;
                b.data[b.len] = 0;
                if (b.len > max) {
                        om_buf_free(&b);
                        return -EFBIG;
                }
        }
        if (ret_len)
                *ret_len = b.len;
        *ret = om_buf_steal(&b);
        return 0;
}

static int fsync_dir_of(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return fsync(dfd) < 0 ? -errno : 0;
}

/* Whether name is "<base>.tmp.<pid>" (base NULL: any) written by a process that no
 * longer runs; its pid in *ret_pid. */
static bool tmp_orphan(const char *name, const char *base, pid_t *ret_pid) {
        const char *t = strstr(name, ".tmp.");
        if (!t || t == name ||
            (base && (strncmp(name, base, strlen(base)) != 0 || name + strlen(base) != t)))
                return false;
        char *end;
        errno = 0;
        long pid = strtol(t + 5, &end, 10);
        if (errno || *end || end == t + 5 || t[5] < '1' || t[5] > '9' || pid <= 0 ||
            pid > INT32_MAX)
                return false;
        /* EPERM: it runs, as another user */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                return false;
        *ret_pid = (pid_t)pid;
        return true;
}

static void tmp_remove(const char *file, pid_t pid) {
        if (unlink(file) == 0)
                log_info("removed %s, left by process %d that no longer runs", file, (int)pid);
}

/* Removes the temporary files of path that killed writers left beside it. */
static void tmp_clean(const char *path) {
        _cleanup_free_ char *copy = strdup(path), *copy2 = strdup(path);
        if (!copy || !copy2)
                return;
        const char *dir = dirname(copy), *base = basename(copy2);
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *e;
        pid_t pid;
        while ((e = readdir(d)))
                if (tmp_orphan(e->d_name, base, &pid)) {
                        _cleanup_free_ char *f = om_asprintf("%s/%s", dir, e->d_name);
                        if (f)
                                tmp_remove(f, pid);
                }
        closedir(d);
}

static int sweep_cb(const char *file, const struct stat *st, int flag, struct FTW *ftw) {
        pid_t pid;
        if (flag == FTW_F && S_ISREG(st->st_mode) && tmp_orphan(file + ftw->base, NULL, &pid))
                tmp_remove(file, pid);
        return 0;
}

int om_tmp_sweep(const char *dir) {
        int r = nftw(dir, sweep_cb, 16, FTW_PHYS);
        return r < 0 && errno != ENOENT ? -errno : 0;
}

int om_write_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        int r = om_mkdir_parents(path, 0755);
        if (r < 0)
                return r;
        tmp_clean(path);
        _cleanup_free_ char *tmp = om_asprintf("%s.tmp.%d", path, (int)getpid());
        if (!tmp)
                return -ENOMEM;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        const char *p = data;
        size_t left = len;
        r = 0;
        while (left) {
                ssize_t n = write(fd, p, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                p += n;
                left -= (size_t)n;
        }
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        return fsync_dir_of(path);
}

int om_mkdir_p(const char *dir, mode_t mode) {
        _cleanup_free_ char *p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int om_mkdir_parents(const char *file, mode_t mode) {
        _cleanup_free_ char *copy = strdup(file);
        if (!copy)
                return -ENOMEM;
        return om_mkdir_p(dirname(copy), mode);
}

int om_lock_file(const char *path, bool wait, int *ret_fd) {
        int r = om_mkdir_parents(path, 0755);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
                if (errno != EINTR)
                        return -errno;
        }
        *ret_fd = OM_TAKE_FD(fd);
        return 0;
}

int om_unlink_sync(const char *path) {
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return fsync_dir_of(path);
}
