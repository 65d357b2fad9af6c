/*
 * Helpers the drivers share: running a child program without a shell (output captured
 * into the object log, a timeout enforced on its process group), splitting command
 * lines, reading block device topology from sysfs (loop backing files, whole disks,
 * device-mapper slaves) and recognizing on-disk signatures by their superblock magic.
 * No driver logic lives here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/util.h"
#include "resources/res.h"

static void log_lines(struct om_buf *pending, bool flush, om_res_exec_skip skip) {
        for (;;) {
                char *nl = pending->data ? memchr(pending->data, '\n', pending->len) : NULL;
                if (!nl && !(flush && pending->len))
                        return;
                size_t n = nl ? (size_t)(nl - pending->data) : pending->len;
                if (!skip || !skip(pending->data, n))
                        log_info("| %.*s", (int)n, pending->data);
                size_t consumed = nl ? n + 1 : n;
                memmove(pending->data, pending->data + consumed, pending->len - consumed);
                pending->len -= consumed;
                pending->data[pending->len] = 0;
        }
}

int om_res_exec(char *const argv[], uint64_t timeout_ms, const char *cwd, bool quiet,
                int *ret_status) {
        return om_res_exec_skip_lines(argv, timeout_ms, cwd, quiet, NULL, ret_status);
}

int om_res_exec_skip_lines(char *const argv[], uint64_t timeout_ms, const char *cwd, bool quiet,
                           om_res_exec_skip skip, int *ret_status) {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(pfd[0]);
                close(pfd[1]);
                return -e;
        }
        if (pid == 0) {
                setpgid(0, 0);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, 0);
                dup2(pfd[1], 1);
                dup2(pfd[1], 2);
                if (cwd && chdir(cwd) < 0) {
                        dprintf(2, "cannot chdir to %s: %s\n", cwd, strerror(errno));
                        _exit(126);
                }
                signal(SIGPIPE, SIG_DFL);
                execvp(argv[0], argv);
                dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(errno == ENOENT ? 127 : 126);
        }
        setpgid(pid, pid);
        close(pfd[1]);

        struct om_buf pending = {0};
        uint64_t deadline = timeout_ms ? om_mono_ms() + timeout_ms : 0;
        bool timed_out = false;
        for (;;) {
                int wait_ms = -1;
                if (deadline) {
                        uint64_t now = om_mono_ms();
                        if (now >= deadline) {
                                timed_out = true;
                                break;
                        }
                        wait_ms = (int)OM_MIN(deadline - now, (uint64_t)INT_MAX);
                }
                struct pollfd p = {.fd = pfd[0], .events = POLLIN};
                int pr = poll(&p, 1, wait_ms);
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr == 0)
                        continue;
                char chunk[4096];
                ssize_t n = read(pfd[0], chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (!quiet && om_buf_append(&pending, chunk, (size_t)n) == 0)
                        log_lines(&pending, false, skip);
        }
        if (timed_out)
                kill(-pid, SIGKILL);
        close(pfd[0]);
        log_lines(&pending, true, skip);
        om_buf_free(&pending);

        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (timed_out)
                return -ETIME;
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return 0;
}

static int read_attr(const char *path, char *buf, size_t len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, len - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return 0;
}

/* Stops pid and every process under it (found through /proc/<pid>/task/<tid>/children,
 * each stopped as it is found so that it forks no more), then kills them all. A command
 * an action runs lives in a process group of its own, so killing the action's group
 * would leave it running. */
static void kill_tree(pid_t pid, int depth) {
        kill(pid, SIGSTOP);
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
        DIR *d = depth < 32 ? opendir(dir) : NULL;
        for (struct dirent *t; d && (t = readdir(d));) {
                if (t->d_name[0] == '.')
                        continue;
                char path[128], buf[4096];
                snprintf(path, sizeof(path), "%s/%s/children", dir, t->d_name);
                if (read_attr(path, buf, sizeof(buf)) < 0)
                        continue;
                for (char *p = buf, *end; *p; p = end) {
                        long c = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        if (c > 0)
                                kill_tree((pid_t)c, depth + 1);
                }
        }
        if (d)
                closedir(d);
        kill(pid, SIGKILL);
}

int om_res_run_bounded(uint64_t limit_ms, const char *what, int (*body)(void *arg), void *arg) {
        if (!limit_ms)
                return body(arg);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(-errno, "cannot fork to bound %s: %m", what);
        if (pid == 0) {
                int e = body(arg);
                fflush(NULL);
                _exit(e < 0 ? OM_MIN(-e, 254) : 0);
        }
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        uint64_t deadline = om_mono_ms() + limit_ms;
        bool timed_out = false;
        int status;
        for (;;) {
                uint64_t now = om_mono_ms();
                if (now >= deadline) {
                        timed_out = true;
                        break;
                }
                int wait_ms = (int)OM_MIN(deadline - now, (uint64_t)INT_MAX);
                if (pfd < 0) { /* no pidfd (kernel before 5.3): poll the child */
                        pid_t w = waitpid(pid, &status, WNOHANG);
                        if (w == pid)
                                break;
                        usleep(10 * 1000);
                        continue;
                }
                struct pollfd p = {.fd = pfd, .events = POLLIN};
                int pr = poll(&p, 1, wait_ms);
                if (pr < 0 && errno != EINTR)
                        return log_error_errno(-errno, "cannot wait for %s: %m", what);
                if (pr > 0)
                        break;
        }
        if (timed_out) {
                kill_tree(pid, 0);
                /* a process blocked in uninterruptible I/O (a hung device) dies only when
                 * the I/O ends: wait a little, then go on without it, so that what follows
                 * a failed stop (monitor_action) is not held by the device that hangs */
                bool reaped = false;
                for (int k = 0; k < 200 && !reaped; k++) {
                        reaped = waitpid(pid, &status, WNOHANG) == pid;
                        if (!reaped)
                                usleep(10 * 1000);
                }
                if (!reaped)
                        log_error("%s: pid %d does not die (blocked in I/O?): left behind", what,
                                  (int)pid);
                if (limit_ms % 1000 == 0)
                        log_error("%s timed out after %llus: killed with every process it ran",
                                  what, (unsigned long long)(limit_ms / 1000));
                else
                        log_error("%s timed out after %llums: killed with every process it ran",
                                  what, (unsigned long long)limit_ms);
                return -ETIME;
        }
        if (pfd >= 0)
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                return -errno;
        if (WIFEXITED(status))
                return -WEXITSTATUS(status);
        return log_error_errno(-EINTR, "%s was killed by signal %d", what, WTERMSIG(status));
}

int om_res_split_command(const char *s, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        struct om_buf word = {0};
        bool in_word = false;
        char quote = 0;
        int r = 0;
        for (const char *p = s;; p++) {
                char c = *p;
                if (!c) {
                        if (quote) {
                                r = -EINVAL;
                                break;
                        }
                        if (in_word && (r = om_strv_consume(&v, om_buf_steal(&word))) < 0)
                                break;
                        break;
                }
                if (quote == '\'') {
                        if (c == '\'')
                                quote = 0;
                        else
                                r = om_buf_append(&word, &c, 1);
                } else if (c == '\\' && p[1]) {
                        p++;
                        r = om_buf_append(&word, p, 1);
                        in_word = true;
                } else if (quote == '"') {
                        if (c == '"')
                                quote = 0;
                        else
                                r = om_buf_append(&word, &c, 1);
                } else if (c == '\'' || c == '"') {
                        quote = c;
                        in_word = true;
                } else if (c == ' ' || c == '\t' || c == '\n') {
                        if (in_word && (r = om_strv_consume(&v, om_buf_steal(&word))) < 0)
                                break;
                        in_word = false;
                } else {
                        r = om_buf_append(&word, &c, 1);
                        in_word = true;
                }
                if (r < 0)
                        break;
        }
        om_buf_free(&word);
        if (r < 0)
                return r;
        if (!v && !(v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = OM_TAKE_PTR(v);
        return 0;
}

/* Reads a one-line sysfs attribute, newline stripped. */

int om_res_loop_find(const char *file, char *ret, size_t len) {
        char want[PATH_MAX];
        if (!realpath(file, want))
                snprintf(want, sizeof(want), "%s", file);
        DIR *d = opendir("/sys/block");
        if (!d)
                return -errno;
        struct dirent *de;
        int r = -ENODEV;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, "loop", 4) != 0)
                        continue;
                char attr[300], back[PATH_MAX];
                snprintf(attr, sizeof(attr), "/sys/block/%s/loop/backing_file", de->d_name);
                if (read_attr(attr, back, sizeof(back)) < 0)
                        continue;
                if (strcmp(back, want) == 0) {
                        snprintf(ret, len, "/dev/%s", de->d_name);
                        r = 0;
                        break;
                }
        }
        closedir(d);
        return r;
}

/* The kernel name ("sda", "loop0", "dm-3") of a device number, whole disk when it is a
 * partition. */
static int disk_name_of(dev_t devno, char *ret, size_t len) {
        char link[128], target[PATH_MAX];
        snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(devno), minor(devno));
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        char part[PATH_MAX];
        snprintf(part, sizeof(part), "%s/partition", link);
        char *name = strrchr(target, '/');
        if (!name)
                return -EINVAL;
        if (access(part, F_OK) == 0) {
                *name = 0; /* the parent directory is the disk */
                name = strrchr(target, '/');
                if (!name)
                        return -EINVAL;
        }
        snprintf(ret, len, "%s", name + 1);
        return 0;
}

static int base_of_name(const char *name, char ***v, int depth);

static int base_of_devno(dev_t devno, char ***v, int depth) {
        char name[256];
        if (major(devno) == 0)
                return 0; /* tmpfs, overlay: no block device */
        int r = disk_name_of(devno, name, sizeof(name));
        if (r < 0)
                return 0;
        return base_of_name(name, v, depth);
}

static int base_of_name(const char *name, char ***v, int depth) {
        if (depth > 8)
                return 0;
        char path[PATH_MAX], back[PATH_MAX];
        if (!strncmp(name, "loop", 4)) {
                snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", name);
                struct stat st;
                if (read_attr(path, back, sizeof(back)) == 0 && stat(back, &st) == 0)
                        return base_of_devno(st.st_dev, v, depth + 1);
                return 0;
        }
        snprintf(path, sizeof(path), "/sys/block/%s/slaves", name);
        DIR *d = opendir(path);
        bool any = false;
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        any = true;
                        char dn[256];
                        snprintf(dn, sizeof(dn), "%s", de->d_name);
                        /* a slave may be a partition: climb to its disk */
                        char dev[300];
                        snprintf(dev, sizeof(dev), "/sys/class/block/%s/dev", dn);
                        char num[64];
                        unsigned ma, mi;
                        if (read_attr(dev, num, sizeof(num)) == 0 &&
                            sscanf(num, "%u:%u", &ma, &mi) == 2 &&
                            disk_name_of(makedev(ma, mi), dn, sizeof(dn)) < 0)
                                snprintf(dn, sizeof(dn), "%s", de->d_name);
                        base_of_name(dn, v, depth + 1);
                }
                closedir(d);
        }
        if (any)
                return 0;
        _cleanup_free_ char *devpath = om_asprintf("/dev/%s", name);
        if (!devpath)
                return -ENOMEM;
        if (om_strv_contains(*v, devpath))
                return 0;
        return om_strv_push(v, devpath);
}

int om_res_base_devs_of(const char *dev, char ***ret) {
        char **v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        struct stat st;
        if (stat(dev, &st) == 0 && S_ISBLK(st.st_mode))
                base_of_devno(st.st_rdev, &v, 0);
        else if (stat(dev, &st) == 0)
                base_of_devno(st.st_dev, &v, 0); /* a file: the disk holding it */
        om_strv_sort(v);
        *ret = v;
        return 0;
}

/*
 * Signatures recognized by their magic, enough to refuse formatting over data and to
 * decide whether a device needs mkfs: ext2/3/4 (0xEF53 at 1080, ext4 when it has
 * extents or 64bit features), xfs, btrfs, LUKS, LVM2, swap, vfat, iso9660.
 */
int om_res_probe_type(const char *dev, char **ret) {
        _cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        unsigned char b[70 * 1024];
        ssize_t n = pread(fd, b, sizeof(b), 0);
        if (n < 0)
                return -errno;
        if ((size_t)n < sizeof(b))
                memset(b + n, 0, sizeof(b) - (size_t)n);
        const char *t = NULL;
        if (!memcmp(b, "LUKS\xba\xbe", 6))
                t = "crypto_LUKS";
        else if (!memcmp(b, "XFSB", 4))
                t = "xfs";
        else if (b[1080] == 0x53 && b[1081] == 0xEF) {
                uint32_t incompat = (uint32_t)b[1024 + 0x60] | (uint32_t)b[1024 + 0x61] << 8 |
                                    (uint32_t)b[1024 + 0x62] << 16 | (uint32_t)b[1024 + 0x63] << 24;
                uint32_t compat = (uint32_t)b[1024 + 0x5c];
                if (incompat & (0x40 | 0x80 | 0x200)) /* extents, 64bit, flex_bg */
                        t = "ext4";
                else if (compat & 0x4) /* has_journal */
                        t = "ext3";
                else
                        t = "ext2";
        } else if (!memcmp(b + 65600, "_BHRfS_M", 8))
                t = "btrfs";
        else if (!memcmp(b + 512 + 24, "LVM2 001", 8))
                t = "LVM2_member";
        else if (!memcmp(b + 4096 - 10, "SWAPSPACE2", 10) ||
                 !memcmp(b + 4096 - 10, "SWAP-SPACE", 10))
                t = "swap";
        else if (!memcmp(b + 82, "FAT32   ", 8) || !memcmp(b + 54, "FAT1", 4))
                t = "vfat";
        else if (!memcmp(b + 32769, "CD001", 5))
                t = "iso9660";
        if (!t) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

/* The resource ids a value references through device references ({disk#0.exposed_devs[0]}). */
int om_res_referenced_rids(const char *value, char ***ret) {
        char **v = NULL;
        for (const char *p = value; p && (p = strchr(p, '{'));) {
                const char *close = strchr(p, '}');
                const char *dot = strchr(p, '.');
                if (!close)
                        break;
                if (dot && dot < close && memmem(dot, (size_t)(close - dot), "_devs", 5)) {
                        _cleanup_free_ char *rid = strndup(p + 1, (size_t)(dot - p - 1));
                        if (!rid || om_strv_push(&v, rid) < 0) {
                                om_strv_free(v);
                                return -ENOMEM;
                        }
                }
                p = close + 1;
        }
        *ret = v;
        return 0;
}
