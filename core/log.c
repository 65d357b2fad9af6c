/*
 * Implementation of log.h. State is per process (the CLI is one process per command,
 * the agent logs from its loop thread only). Object log lines are written with one
 * write(2) on an O_APPEND descriptor, so concurrent writers never interleave a line.
 * Log files are rotated by size (see om_log_set_max_size).
 */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/paths.h"
#include "core/util.h"

/* A log file open for appending, and its path (to rotate it and follow rotations). */
struct sink {
        int fd;
        char *path;
};

static struct {
        char sid[37];
        bool console;
        bool debug;
        struct sink daemon;
        char component[32];
        struct sink obj;
        char objpath[300];
        char rid[64];
        char last_header[400];
        size_t max_size;
} L = {.daemon.fd = -1, .obj.fd = -1, .max_size = OM_LOG_MAX_SIZE};

const char *om_log_level_to_string(enum om_log_level l) {
        switch (l) {
        case OM_LOG_DEBUG:
                return "DEBUG";
        case OM_LOG_INFO:
                return "INFO";
        case OM_LOG_WARNING:
                return "WARNING";
        case OM_LOG_ERROR:
                return "ERROR";
        }
        return "?";
}

const char *om_log_sid(void) {
        if (!L.sid[0]) {
                const char *e = getenv("OM_SID");
                if (e && om_uuid_valid(e))
                        snprintf(L.sid, sizeof(L.sid), "%s", e);
                else if (om_uuid4(L.sid) < 0)
                        snprintf(L.sid, sizeof(L.sid), "00000000-0000-4000-8000-000000000000");
        }
        return L.sid;
}

void om_log_set_sid(const char *sid) {
        snprintf(L.sid, sizeof(L.sid), "%s", sid);
}

void om_log_set_console(bool on) {
        L.console = on;
}

bool om_log_console(void) {
        return L.console;
}

void om_log_set_debug(bool on) {
        L.debug = on;
}

void om_log_timestamp(char *buf, size_t len) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(buf + n, len - n, ",%03ld", (long)(tv.tv_usec / 1000));
}

static int open_append(const char *file) {
        int r = om_mkdir_parents(file, 0755);
        if (r < 0)
                return r;
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        return fd < 0 ? -errno : fd;
}

static void write_all(int fd, const char *s, size_t n) {
        while (n) {
                ssize_t w = write(fd, s, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                s += w;
                n -= (size_t)w;
        }
}

static void sink_close(struct sink *k) {
        if (k->fd >= 0)
                close(k->fd);
        k->fd = -1;
        free(k->path);
        k->path = NULL;
}

static int sink_open(struct sink *k, const char *file) {
        char *path = strdup(file);
        if (!path)
                return -ENOMEM;
        int fd = open_append(file);
        if (fd < 0) {
                free(path);
                return fd;
        }
        sink_close(k);
        k->fd = fd;
        k->path = path;
        return 0;
}

void om_log_set_max_size(size_t bytes) {
        L.max_size = bytes;
}

/* Before n bytes go to k: when they would take its file past the maximum size, the file
 * becomes "<path>.1" (replacing the one before) and a new one is started; when another
 * process did that (or the file was removed), the new file is opened. The rename is
 * done under an flock of the log's directory, after looking again, so that processes
 * finding the file full at once rotate it once: a line is never lost, it lands in the
 * current file or in the one just rotated. Failures leave k writing where it did. */
static void sink_prepare(struct sink *k, size_t n) {
        struct stat fst, pst;
        if (!k->path || fstat(k->fd, &fst) < 0)
                return;
        bool same =
                stat(k->path, &pst) == 0 && pst.st_ino == fst.st_ino && pst.st_dev == fst.st_dev;
        if (same && (fst.st_size == 0 || (size_t)fst.st_size + n <= L.max_size))
                return;
        if (same) {
                _cleanup_free_ char *dir = strdup(k->path), *old = om_asprintf("%s.1", k->path);
                char *slash = dir ? strrchr(dir, '/') : NULL;
                if (!old || !slash)
                        return;
                *slash = 0;
                int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        return;
                if (flock(dfd, LOCK_EX) == 0 && stat(k->path, &pst) == 0 &&
                    pst.st_ino == fst.st_ino && pst.st_dev == fst.st_dev)
                        (void)rename(k->path, old);
                close(dfd); /* releases the lock */
        }
        /* (its directory is not made again: a log whose directory went away keeps
         * writing where it did) */
        int fd = open(k->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd >= 0) {
                close(k->fd);
                k->fd = fd;
        }
}

static void sink_write(struct sink *k, const char *s, size_t n) {
        sink_prepare(k, n);
        write_all(k->fd, s, n);
}

int om_log_open_daemon(const char *file) {
        return sink_open(&L.daemon, file);
}

void om_log_set_component(const char *component) {
        snprintf(L.component, sizeof(L.component), "%s", component ? component : "");
}

int om_log_object_open(const char *objpath, const char *file) {
        om_log_object_close();
        int r = sink_open(&L.obj, file);
        if (r < 0)
                return r;
        snprintf(L.objpath, sizeof(L.objpath), "%s", objpath);
        L.rid[0] = 0;
        return 0;
}

void om_log_object_close(void) {
        sink_close(&L.obj);
        L.objpath[0] = 0;
        L.rid[0] = 0;
}

void om_log_set_rid(const char *rid) {
        snprintf(L.rid, sizeof(L.rid), "%s", rid ? rid : "");
}

/* One message may span lines: each line becomes its own log line. */
static void emit(enum om_log_level level, const char *msg) {
        char ts[40];
        const char *lvl = om_log_level_to_string(level);
        const char *node = om_nodename();
        om_log_timestamp(ts, sizeof(ts));

        const char *p = msg;
        do {
                size_t n = strcspn(p, "\n");
                struct om_buf b = {0};
                if (L.obj.fd >= 0) {
                        om_buf_printf(&b, "%s %s sid:%s n:%s o:%s%s%s sc:n | %.*s\n", ts, lvl,
                                      om_log_sid(), node, L.objpath, L.rid[0] ? " r:" : "", L.rid,
                                      (int)n, p);
                        if (b.data)
                                sink_write(&L.obj, b.data, b.len);
                        if (L.console) {
                                char header[400];
                                snprintf(header, sizeof(header), "@ n:%s o:%s%s%s sc:n", node,
                                         L.objpath, L.rid[0] ? " r:" : "", L.rid);
                                if (strcmp(header, L.last_header) != 0) {
                                        printf("%s\n", header);
                                        memcpy(L.last_header, header, sizeof(header));
                                }
                                const char *mark = level == OM_LOG_ERROR     ? "E "
                                                   : level == OM_LOG_WARNING ? "W "
                                                                             : "  ";
                                printf("%s%.*s\n", mark, (int)n, p);
                                fflush(stdout);
                        }
                } else if (L.daemon.fd >= 0) {
                        om_buf_printf(&b, "%s %s n:%s c:%s | %.*s\n", ts, lvl, node,
                                      L.component[0] ? L.component : "daemon", (int)n, p);
                        if (b.data)
                                sink_write(&L.daemon, b.data, b.len);
                } else if (level >= OM_LOG_WARNING || L.console) {
                        fprintf(stderr, "om: %.*s\n", (int)n, p);
                }
                om_buf_free(&b);
                p += n;
                if (*p == '\n')
                        p++;
        } while (*p);
}

/* One object log line: "<ts> <LEVEL> sid:<sid> n:<node> o:<path>[ r:<rid>] sc:n | <msg>".
 * Fills out when it is an ERROR of sid that says more than "<word> failed". */
static bool error_of(const char *line, const char *sid, char *out, size_t len) {
        const char *msg = strstr(line, " | ");
        const char *lvl = strstr(line, " ERROR sid:");
        if (!msg || !lvl || lvl > msg)
                return false;
        const char *s = lvl + 11;
        size_t sl = strlen(sid);
        if (strncmp(s, sid, sl) != 0 || s[sl] != ' ')
                return false;
        msg += 3;
        char word[32];
        int n = 0;
        if (sscanf(msg, "%31[a-z] failed%n", word, &n) == 1 && msg[n] == 0)
                return false;
        const char *rid = strstr(line, " r:");
        if (rid && rid < msg)
                snprintf(out, len, "%.*s: %s", (int)strcspn(rid + 3, " "), rid + 3, msg);
        else
                snprintf(out, len, "%s", msg);
        return true;
}

int om_log_last_error(const char *file, const char *sid, char *out, size_t len) {
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) < 0)
                return -errno;
        off_t from =
                sb.st_size > (off_t)OM_LOG_ERROR_SCAN ? sb.st_size - (off_t)OM_LOG_ERROR_SCAN : 0;
        _cleanup_free_ char *buf = malloc(OM_LOG_ERROR_SCAN + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread(fd, buf, OM_LOG_ERROR_SCAN, from);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        char *p = buf;
        if (from > 0) /* the first line is cut: skip it */
                p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0);
        int r = -ENOENT;
        while (*p) {
                char *eol = p + strcspn(p, "\n");
                bool last = *eol == 0;
                *eol = 0;
                if (error_of(p, sid, out, len))
                        r = 0;
                if (last)
                        break;
                p = eol + 1;
        }
        return r;
}

int om_log_fullv(enum om_log_level level, int err, const char *fmt, va_list ap) {
        int ret = err < 0 ? err : -err;
        if (level == OM_LOG_DEBUG && !L.debug && !getenv("OM_DEBUG"))
                return ret;
        int saved = errno;
        errno = -ret;
        char *msg = om_vasprintf(fmt, ap);
        errno = saved;
        if (msg) {
                emit(level, msg);
                free(msg);
        }
        return ret;
}

int om_log_full(enum om_log_level level, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = om_log_fullv(level, err, fmt, ap);
        va_end(ap);
        return r;
}
