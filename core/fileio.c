/*
 * Implementation of fileio.h.
 */
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

int om_write_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        int r = om_mkdir_parents(path, 0755);
        if (r < 0)
                return r;
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
