/*
 * disk.drbd: a DRBD 8.4 resource replicating `disk` between the two nodes of the
 * service, exposed as /dev/drbd<minor>. DRBD has no library: om writes the resource
 * file `<var>/drbd/<res>.res` from the service's config (resources/drbd.h renders it)
 * at every provision and start, and runs drbdadm (told this node's om name through
 * __DRBD_NODE__) and drbdmeta; its state comes from /proc/drbd.
 *
 * provision: metadata on the local disk (drbdmeta create-md), the resource up (attach,
 * connect). The first node of `nodes` whose peer holds no data forces the initial
 * primary (an empty device: the other node synchronizes it all); a node that finds
 * its peer Primary or UpToDate is a replica: it returns OM_RES_PROVISIONED_REPLICA, the
 * engine records the resources above it as provisioned (their data, the LUKS header
 * and the filesystem, reaches it through DRBD) and starts none of them: nothing is
 * formatted on a secondary. A provision that fails takes down and wipes what it made.
 * start: up when not, waits for the peer a few seconds, promotes. Without the peer, a
 * local disk that is not UpToDate (it came back alone: Consistent, or Outdated) is
 * refused unless --force; an UpToDate one is promoted with plain `drbdadm primary`, so
 * that DRBD runs the fence-peer handler (om: the arbitrator's fence marks, below),
 * which refuses a replica another node marked outdated. stop: demote; the resource stays up and
 * connected (the resource under it, `disk`'s, is standby: kept up). unprovision: down, wipe-md,
 * remove the file. The standby start (the agent's `start --standby` where the service does
 * not run, after a reboot): attach and connect as Secondary, never promote. status: up when
 * Primary (warn when the peer's disk is not UpToDate); on a Secondary attached and connected
 * (or connecting) up as a standby (r->stdby: the instance's avail ignores it), down
 * otherwise; the label carries role, disk states, connection and resync progress.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clusterconf.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/ref.h"
#include "core/util.h"
#include "resources/drbd.h"
#include "resources/res.h"
#include "resources/status.h"

#define CMD_TIMEOUT_MS 120000
/* how long provision and start wait for the peer to connect after `up` */
#define CONNECT_WAIT_MS 10000
/* how long start waits for DRBD to notice that a Primary peer is gone */
#define PEER_GONE_WAIT_MS 15000

struct ctx {
        char *res;
        unsigned minor;
        char *protocol;
        unsigned port;
        char *nodes[2];
        char *addrs[2];
        int self; /* index of this node in nodes */
        char *file;
        char *disk; /* NULL when not resolved */
};

static void ctx_done(struct ctx *c) {
        free(c->res);
        free(c->protocol);
        for (int i = 0; i < 2; i++) {
                free(c->nodes[i]);
                free(c->addrs[i]);
        }
        free(c->file);
        free(c->disk);
        *c = (struct ctx){0};
}

static const char *peer(const struct ctx *c) {
        return c->nodes[1 - c->self];
}

static void note(struct om_res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct om_res *r, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        om_strv_push(&r->notes, buf);
}

/* err set, -errno returned; logged by the caller when it logs */
static int kw_uint(struct om_res *r, const char *key, unsigned max, unsigned *ret, char *err,
                   size_t errlen) {
        _cleanup_free_ char *v = NULL;
        long long n;
        int e = om_res_kw(r, key, &v, err, errlen);
        if (e < 0)
                return e;
        if (om_parse_int(v, 0, max, &n) < 0) {
                snprintf(err, errlen, "%s '%s' is not an integer from 0 to %u", key, v, max);
                return -EINVAL;
        }
        *ret = (unsigned)n;
        return 0;
}

/* The numeric address of name (an address already, or resolved). */
static int numeric(const char *name, char **ret) {
        unsigned char tmp[16];
        if (inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1) {
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        if (getaddrinfo(name, NULL, &hints, &ai) != 0 || !ai)
                return -EADDRNOTAVAIL;
        char buf[INET6_ADDRSTRLEN];
        const void *a = ai->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, a, buf, sizeof(buf));
        freeaddrinfo(ai);
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* The replication address of node: addr@<node> of the resource, else the node's addr in
 * the first [hb#N] section of cluster.conf that has one. */
static int node_addr(struct om_res *r, const char *node, char **ret, char *err, size_t errlen) {
        struct om_ref_ctx rc = {.path = &r->svc->obj->path,
                                .ini = r->svc->obj->ini,
                                .nodename = node,
                                .section = r->rid};
        _cleanup_free_ char *v = NULL;
        char e2[256];
        if (om_ref_eval(&rc, r->rid, "addr", &v, e2, sizeof(e2)) < 0 || !v || !v[0]) {
                free(v);
                v = NULL;
                _cleanup_ini_ struct om_ini *cc = NULL;
                if (om_clusterconf_load(&cc, e2, sizeof(e2)) == 0) {
                        for (size_t i = 0; i < cc->n_sections && !v; i++) {
                                if (strncmp(cc->sections[i].name, "hb#", 3) != 0)
                                        continue;
                                const struct om_ini_entry *en =
                                        om_ini_lookup(cc, cc->sections[i].name, "addr", node);
                                if (en && en->scope && en->value[0])
                                        v = strdup(en->value);
                        }
                }
        }
        if (!v) {
                snprintf(err, errlen,
                         "no replication address for node %s: set addr@%s on %s, or addr@%s "
                         "in a [hb#N] section of cluster.conf",
                         node, node, r->rid, node);
                return -EADDRNOTAVAIL;
        }
        if (numeric(v, ret) < 0) {
                snprintf(err, errlen, "the address of node %s, '%s', does not resolve", node, v);
                return -EADDRNOTAVAIL;
        }
        return 0;
}

/* Reads the keywords; the disk too when with_disk (-ENXIO when its device is not up). */
static int ctx_load(struct om_res *r, bool with_disk, struct ctx *c, char *err, size_t errlen) {
        int e;
        *c = (struct ctx){0};
        if ((e = om_res_kw(r, "res", &c->res, err, errlen)) < 0)
                return e;
        if (!om_drbd_res_name_valid(c->res)) {
                snprintf(err, errlen,
                         "res '%s' is not a DRBD resource name (1 to 63 of A-Z a-z 0-9 _ . + -)",
                         c->res);
                return -EINVAL;
        }
        if ((e = kw_uint(r, "minor", OM_DRBD_MINOR_MAX, &c->minor, err, errlen)) < 0 ||
            (e = kw_uint(r, "port", 65535, &c->port, err, errlen)) < 0)
                return e;
        if (c->port == 0) {
                snprintf(err, errlen, "port 0 is not a TCP port");
                return -EINVAL;
        }
        if ((e = om_res_kw(r, "protocol", &c->protocol, err, errlen)) < 0)
                return e;
        struct om_ref_ctx rc = {.path = &r->svc->obj->path, .ini = r->svc->obj->ini};
        _cleanup_free_ char *nodes = NULL;
        _cleanup_strv_free_ char **nv = NULL;
        if ((e = om_ref_eval(&rc, "DEFAULT", "nodes", &nodes, err, errlen)) < 0)
                return e;
        if ((e = om_strv_split(nodes, " \t,", &nv)) < 0)
                return e;
        if (om_strv_length(nv) != 2) {
                snprintf(err, errlen,
                         "DRBD 8.4 replicates between two nodes: the service's nodes are '%s'",
                         nodes);
                return -EINVAL;
        }
        c->self = -1;
        for (int i = 0; i < 2; i++) {
                if (!(c->nodes[i] = strdup(nv[i])))
                        return -ENOMEM;
                if (om_streq(nv[i], om_nodename()))
                        c->self = i;
        }
        if (c->self < 0) {
                snprintf(err, errlen, "this node, %s, is not one of the service's nodes (%s)",
                         om_nodename(), nodes);
                return -EINVAL;
        }
        for (int i = 0; i < 2; i++)
                if ((e = node_addr(r, c->nodes[i], &c->addrs[i], err, errlen)) < 0)
                        return e;
        if (!(c->file = om_asprintf("%s/drbd/%s.res", om_dir_var(), c->res)))
                return -ENOMEM;
        if (with_disk && (e = om_res_kw(r, "disk", &c->disk, err, errlen)) < 0) {
                if (e == -ENOENT)
                        snprintf(err, errlen, "disk is not set");
                return e == -ENOENT ? -EINVAL : e;
        }
        return 0;
}

static int ctx_load_log(struct om_res *r, bool with_disk, struct ctx *c) {
        char err[512];
        int e = ctx_load(r, with_disk, c, err, sizeof(err));
        if (e < 0)
                log_error_errno(e, "node %s: %s", om_nodename(), err);
        return e;
}

/* The state of the minor; -ENOENT when the drbd module is not loaded. */
static int read_state(unsigned minor, struct om_drbd_state *st) {
        _cleanup_free_ char *text = NULL;
        *st = (struct om_drbd_state){.sync_permille = -1};
        int e = om_read_file("/proc/drbd", 1 << 20, &text, NULL);
        if (e < 0)
                return e;
        return om_drbd_proc_parse(text, minor, st);
}

/* The full path of a drbd-utils program, NULL when not installed. */
static char *find_tool(const char *name) {
        const char *path = getenv("PATH");
        _cleanup_free_ char *all =
                om_asprintf("%s:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
        if (!all)
                return NULL;
        for (char *save = NULL, *d = strtok_r(all, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = om_asprintf("%s/%s", d, name);
                if (p && access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

static int check_tools(void) {
        static const char *const tools[] = {"drbdadm", "drbdsetup", "drbdmeta"};
        for (size_t i = 0; i < ARRAY_SIZE(tools); i++) {
                _cleanup_free_ char *p = find_tool(tools[i]);
                if (!p)
                        return log_error_errno(-ENOENT,
                                               "node %s: %s is not installed (drbd-utils is "
                                               "needed)",
                                               om_nodename(), tools[i]);
        }
        return 0;
}

/*
 * The kernel runs DRBD's handlers (before-resync-source, fence-peer...) through one
 * program for every resource of the node, its usermode_helper parameter (drbdadm by
 * default), which reads only /etc/drbd.conf: it knows nothing of the resources whose
 * files om keeps in <var>/drbd, fails, and DRBD drops the connection on a failed
 * before-resync handler. So om puts itself there: <var>/drbd/om-drbd-helper, a link to
 * om, runs drbdadm on om's file for a resource om manages and hands any other call to
 * the helper that was set before (saved in <var>/drbd/usermode_helper.prev).
 */
#define HELPER_NAME OM_DRBD_HELPER_NAME
#define HELPER_PARAM "/sys/module/drbd/parameters/usermode_helper"

static int install_helper(void) {
        _cleanup_free_ char *dir = om_asprintf("%s/drbd", om_dir_var());
        _cleanup_free_ char *link = dir ? om_asprintf("%s/" HELPER_NAME, dir) : NULL;
        _cleanup_free_ char *tmp = link ? om_asprintf("%s.tmp.%ld", link, (long)getpid()) : NULL;
        _cleanup_free_ char *nodef = dir ? om_asprintf("%s/node", dir) : NULL;
        _cleanup_free_ char *prevf = dir ? om_asprintf("%s/usermode_helper.prev", dir) : NULL;
        _cleanup_free_ char *cur = NULL;
        char self[4096];
        int e;
        if (!tmp || !nodef || !prevf)
                return -ENOMEM;
        if (strlen(link) >= 80)
                return log_error_errno(-ENAMETOOLONG,
                                       "node %s: %s is too long for DRBD's usermode_helper "
                                       "(79 characters)",
                                       om_nodename(), link);
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return log_error_errno(-errno, "cannot read /proc/self/exe: %m");
        self[n] = 0;
        if ((e = om_mkdir_p(dir, 0700)) < 0)
                return log_error_errno(e, "cannot create %s: %m", dir);
        char target[4096];
        ssize_t tn = readlink(link, target, sizeof(target) - 1);
        if (tn < 0 || (size_t)tn != strlen(self) || strncmp(target, self, (size_t)tn) != 0) {
                unlink(tmp);
                if (symlink(self, tmp) < 0 || rename(tmp, link) < 0) {
                        e = -errno;
                        unlink(tmp);
                        return log_error_errno(e, "cannot link %s to %s: %m", link, self);
                }
        }
        /* the kernel runs the helper without om's environment: the node name and
         * OM_ROOT it needs are kept beside it */
        const char *node = om_nodename(), *root = getenv("OM_ROOT");
        _cleanup_free_ char *rootf = om_asprintf("%s/root", dir);
        if (!rootf)
                return -ENOMEM;
        if ((e = om_write_atomic(nodef, node, strlen(node), 0600)) < 0 ||
            (e = om_write_atomic(rootf, root ? root : "", root ? strlen(root) : 0, 0600)) < 0)
                return log_error_errno(e, "cannot write %s: %m", nodef);
        if (om_read_file(HELPER_PARAM, 4096, &cur, NULL) < 0)
                return log_error_errno(-ENOENT, "node %s: cannot read %s", om_nodename(),
                                       HELPER_PARAM);
        cur = om_strstrip(cur);
        if (om_streq(cur, link))
                return 0;
        if (cur[0] && (e = om_write_atomic(prevf, cur, strlen(cur), 0600)) < 0)
                return log_error_errno(e, "cannot write %s: %m", prevf);
        log_info("DRBD's usermode helper: %s (was %s; the calls for resources om does not "
                 "manage go on to it)",
                 link, cur[0] ? cur : "none");
        _cleanup_close_ int fd = open(HELPER_PARAM, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, link, strlen(link)) != (ssize_t)strlen(link))
                return log_error_errno(-errno, "node %s: cannot set %s: %m", om_nodename(),
                                       HELPER_PARAM);
        return 0;
}

/* After the last disk.drbd resource of the node is unprovisioned: DRBD's usermode
 * helper goes back to what it was before om set itself there (usermode_helper.prev,
 * drbdadm's default when none was saved), unless someone changed it since. */
static void restore_helper(void) {
        _cleanup_free_ char *dir = om_asprintf("%s/drbd", om_dir_var());
        _cleanup_free_ char *link = dir ? om_asprintf("%s/" HELPER_NAME, dir) : NULL;
        _cleanup_free_ char *prevf = dir ? om_asprintf("%s/usermode_helper.prev", dir) : NULL;
        _cleanup_free_ char *cur = NULL, *prev = NULL;
        if (!link || !prevf)
                return;
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        bool more = false;
        while (!more && (de = readdir(d))) {
                size_t len = strlen(de->d_name);
                more = len > 4 && strcmp(de->d_name + len - 4, ".res") == 0;
        }
        closedir(d);
        if (more || om_read_file(HELPER_PARAM, 4096, &cur, NULL) < 0 ||
            !om_streq(om_strstrip(cur), link))
                return;
        if (om_read_file(prevf, 4096, &prev, NULL) < 0 || !om_strstrip(prev)[0] ||
            strstr(prev, HELPER_NAME)) {
                free(prev);
                prev = strdup("/sbin/drbdadm");
                if (!prev)
                        return;
        }
        const char *p = om_strstrip(prev);
        _cleanup_close_ int fd = open(HELPER_PARAM, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, p, strlen(p)) != (ssize_t)strlen(p)) {
                log_warning("cannot set %s back to %s: %m", HELPER_PARAM, p);
                return;
        }
        log_info("DRBD's usermode helper: %s again (no disk.drbd resource left on %s)", p,
                 om_nodename());
        unlink(prevf);
}

/* The resource name of an om file of dir whose device is minor (target "minor-N") or
 * whose name is target; NULL when none. */
static char *helper_find(const char *dir, const char *target, char **ret_file) {
        DIR *d = opendir(dir);
        if (!d)
                return NULL;
        char *found = NULL;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len < 5 || strcmp(de->d_name + len - 4, ".res") != 0)
                        continue;
                _cleanup_free_ char *f = om_asprintf("%s/%s", dir, de->d_name);
                _cleanup_free_ char *text = NULL;
                if (!f || om_read_file(f, 1 << 16, &text, NULL) < 0)
                        continue;
                char res[128] = "";
                unsigned minor = 0;
                bool have_minor = false;
                for (char *line = text, *next; line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        while (*line == ' ')
                                line++;
                        if (sscanf(line, "resource %127s {", res) == 1)
                                continue;
                        if (sscanf(line, "device /dev/drbd%u;", &minor) == 1)
                                have_minor = true;
                }
                char want[32];
                snprintf(want, sizeof(want), "minor-%u", minor);
                if (res[0] && (om_streq(target, res) || (have_minor && om_streq(target, want)))) {
                        found = strdup(res);
                        *ret_file = OM_TAKE_PTR(f);
                }
        }
        closedir(d);
        return found;
}

/* The marker of a split brain DRBD reported on this node for res. */
static char *split_brain_file(const char *dir, const char *res) {
        return om_asprintf("%s/%s.split-brain", dir, res);
}

/* The service path and rid om wrote in the first line of a resource file. */
static int file_origin(const char *file, struct om_path *p, char *rid, size_t ridlen) {
        _cleanup_free_ char *text = NULL;
        static const char head[] = "# written by om for ";
        if (om_read_file(file, 1 << 16, &text, NULL) < 0 || strncmp(text, head, strlen(head)))
                return -EINVAL;
        char *path = text + strlen(head), *sp = strchr(path, ' '), *colon;
        if (!sp || !(colon = strchr(sp, ':')))
                return -EINVAL;
        *sp = 0;
        *colon = 0;
        snprintf(rid, ridlen, "%s", sp + 1);
        char err[256];
        return om_path_parse(path, p, err, sizeof(err));
}

/* DRBD found that both nodes wrote while apart: the marker (what status and start
 * read), the instance frozen (the agent starts nothing more on it), the object log. */
static void split_brain_record(const char *dir, const char *res, const char *file) {
        _cleanup_free_ char *marker = split_brain_file(dir, res);
        char line[160], rid[64];
        time_t now = time(NULL);
        struct tm tm;
        struct om_path p;
        gmtime_r(&now, &tm);
        int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S UTC", &tm);
        snprintf(line + n, sizeof(line) - (size_t)n, " %s\n", om_nodename());
        if (marker)
                om_write_atomic(marker, line, strlen(line), 0600);
        if (file_origin(file, &p, rid, sizeof(rid)) < 0)
                return;
        om_instance_set_frozen(&p, true);
        char ps[OM_PATH_STRMAX];
        om_path_to_string(&p, ps, sizeof(ps));
        _cleanup_free_ char *logfile = om_object_log_path(&p);
        if (logfile && om_log_object_open(ps, logfile) == 0) {
                om_log_set_console(false);
                om_log_set_rid(rid);
                log_error("DRBD split brain on %s: both nodes wrote while apart, their data "
                          "diverged; the instance is frozen. Choose the node whose changes "
                          "are lost: om %s drbd resolve --discard <node> (on each node)",
                          res, ps);
                om_log_object_close();
        }
}

/* Whether the split brain marker of res exists here (remove: and removes it). */
static bool split_brain_marked(const char *res, bool remove) {
        _cleanup_free_ char *dir = om_asprintf("%s/drbd", om_dir_var());
        _cleanup_free_ char *f = dir ? split_brain_file(dir, res) : NULL;
        if (!f || access(f, F_OK) < 0)
                return false;
        if (remove) {
                log_info("remove %s", f);
                unlink(f);
        }
        return true;
}

/* ---- fence marks (cluster/arb_fence.h, docs/ARCHITECTURE.md "Replicated storage") ----
 *
 * Files beside the resource file, written by the handler and read by start and status:
 * <res>.fenced-peer: this node had the peer's replica marked outdated (the peer's name):
 *     cleared at the arbitrator once the two are Connected and UpToDate again;
 * <res>.outdated: the arbitrator refused this node's fence: its replica was outdated by
 *     another node ("<by> <at ms>"), the reason start and status give. */

static om_drbd_fencer fencer;

void om_res_drbd_set_fencer(om_drbd_fencer f) {
        fencer = f;
}

/* How long the handler keeps asking (DRBD waits for it with I/O suspended on a
 * Primary; a Secondary's promotion waits too). */
#define FENCE_HANDLER_MS 30000
#define FENCE_CALL_MS 12000

static char *mark_file(const char *dir, const char *res, const char *what) {
        return om_asprintf("%s/%s.%s", dir, res, what);
}

static void fmt_at(uint64_t at_ms, char *buf, size_t len) {
        time_t t = (time_t)(at_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "the replica of <self> was outdated by <by> at <time>" from the .outdated file of res,
 * into buf; false when there is none. */
static bool outdated_reason(const char *dir, const char *res, char *buf, size_t len) {
        _cleanup_free_ char *f = mark_file(dir, res, "outdated"), *text = NULL;
        char by[64], at[40];
        unsigned long long ms;
        if (!f || om_read_file(f, 256, &text, NULL) < 0 || sscanf(text, "%63s %llu", by, &ms) != 2)
                return false;
        fmt_at(ms, at, sizeof(at));
        snprintf(buf, len, "%s's replica was outdated by %s at %s", om_nodename(), by, at);
        return true;
}

/* Logs to the object log of the service the resource file was written for (and to
 * stderr, which the kernel drops). */
static void object_log(const char *file, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void object_log(const char *file, int level, const char *fmt, ...) {
        char msg[768], rid[64];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        struct om_path p;
        if (file_origin(file, &p, rid, sizeof(rid)) < 0)
                return;
        char ps[OM_PATH_STRMAX];
        om_path_to_string(&p, ps, sizeof(ps));
        _cleanup_free_ char *logfile = om_object_log_path(&p);
        if (logfile && om_log_object_open(ps, logfile) == 0) {
                om_log_set_console(false);
                om_log_set_rid(rid);
                if (level == 3)
                        log_error("%s", msg);
                else if (level == 4)
                        log_warning("%s", msg);
                else
                        log_info("%s", msg);
                om_log_object_close();
        }
}

/* The peer's name and the minor in an om resource file. */
static int file_peer(const char *file, char *peer, size_t len, unsigned *minor) {
        _cleanup_free_ char *text = NULL;
        if (om_read_file(file, 1 << 16, &text, NULL) < 0)
                return -EINVAL;
        peer[0] = 0;
        for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                while (*line == ' ')
                        line++;
                char name[64];
                if (sscanf(line, "on %63s {", name) == 1 && !om_streq(name, om_nodename()))
                        snprintf(peer, len, "%s", name);
                sscanf(line, "device /dev/drbd%u;", minor);
        }
        return peer[0] ? 0 : -EINVAL;
}

/*
 * fence-peer: DRBD lost the peer and this node is about to write without it (a Primary,
 * its I/O suspended meanwhile; or a Secondary being promoted). Exit 4 (the peer is
 * outdated: DRBD resumes, or promotes) only when the arbitrator acknowledged the mark;
 * 6 when a mark names this node and it is a Secondary (DRBD outdates this replica: its
 * promotion fails); 1 otherwise (a Primary's I/O stays suspended, a promotion fails).
 */
static int helper_fence_peer(const char *dir, const char *res, const char *file) {
        char peer[64], err[320], at[40];
        unsigned minor = 0;
        struct om_drbd_state st;
        if (file_peer(file, peer, sizeof(peer), &minor) < 0) {
                object_log(file, 3, "fence-peer %s: the peer is not named in %s", res, file);
                return 1;
        }
        bool primary = read_state(minor, &st) == 0 && om_streq(st.role, "Primary");
        uint64_t end = om_mono_ms() + FENCE_HANDLER_MS;
        struct om_drbd_fence_answer ans;
        int e = -ENOSYS;
        snprintf(err, sizeof(err), "no way to reach the agent");
        object_log(file, 6,
                   "fence-peer %s: DRBD lost %s while this node %s: ask the arbitrator to mark "
                   "%s's replica outdated",
                   res, peer, primary ? "is Primary (I/O suspended until then)" : "is promoted",
                   peer);
        while (fencer) {
                e = fencer("fence", res, peer, FENCE_CALL_MS, &ans, err, sizeof(err));
                if (e == 0 || om_mono_ms() + 1000 >= end)
                        break;
                usleep(1000 * 1000);
        }
        if (e < 0) {
                object_log(file, 3, "fence-peer %s: cannot mark %s's replica outdated: %s. %s", res,
                           peer, err,
                           primary ? "The I/O stays suspended (drbdadm resume-io once the peer "
                                     "is known outdated)"
                                   : "The promotion is refused");
                return 1;
        }
        fmt_at(ans.at, at, sizeof(at));
        if (om_streq(ans.result, "set") || om_streq(ans.result, "kept")) {
                _cleanup_free_ char *f = mark_file(dir, res, "fenced-peer");
                if (f)
                        om_write_atomic(f, peer, strlen(peer), 0600);
                object_log(file, 6,
                           "fence-peer %s: %s's replica marked outdated by %s at %s (arbitrator "
                           "%s): this node writes without it",
                           res, peer, om_nodename(), at, ans.arbitrator);
                return 4;
        }
        if (om_streq(ans.result, "refused")) {
                _cleanup_free_ char *f = mark_file(dir, res, "outdated");
                char line[128];
                snprintf(line, sizeof(line), "%s %llu\n", ans.by, (unsigned long long)ans.at);
                if (f)
                        om_write_atomic(f, line, strlen(line), 0600);
                object_log(file, 3,
                           "fence-peer %s: %s's replica was outdated by %s at %s (arbitrator %s): "
                           "%s",
                           res, om_nodename(), ans.by, at, ans.arbitrator,
                           primary ? "its I/O stays suspended"
                                   : "start refused, the replica is marked Outdated");
                return primary ? 1 : 6;
        }
        object_log(file, 3, "fence-peer %s: the arbitrator answered %s: %s not marked outdated",
                   res, ans.result, peer);
        return 1;
}

/* after-resync-target: this replica is UpToDate again; the mark naming it is cleared. */
static int helper_after_resync(const char *dir, const char *res, const char *file) {
        struct om_drbd_fence_answer ans;
        char err[320];
        _cleanup_free_ char *f = mark_file(dir, res, "outdated");
        if (!fencer)
                return 0;
        int e = fencer("unfence", res, om_nodename(), FENCE_CALL_MS, &ans, err, sizeof(err));
        if (e < 0) {
                object_log(file, 4,
                           "after-resync-target %s: cannot clear the mark of %s's replica: %s "
                           "(the status clears it later)",
                           res, om_nodename(), err);
                return 0;
        }
        if (f)
                unlink(f);
        if (om_streq(ans.result, "cleared"))
                object_log(file, 6,
                           "after-resync-target %s: %s's replica is UpToDate again: its mark "
                           "cleared at the arbitrator",
                           res, om_nodename());
        return 0;
}

int om_res_drbd_helper(int argc, char **argv) {
        /* the kernel's environment: no OM_ROOT; the directory is the link's own */
        _cleanup_free_ char *dir = strdup(argv[0]);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!slash)
                return 20;
        *slash = 0;
        _cleanup_free_ char *file = NULL;
        _cleanup_free_ char *res = argc >= 3 ? helper_find(dir, argv[2], &file) : NULL;
        if (res) {
                _cleanup_free_ char *nodef = om_asprintf("%s/node", dir), *node = NULL;
                _cleanup_free_ char *rootf = om_asprintf("%s/root", dir), *root = NULL;
                if (nodef && om_read_file(nodef, 256, &node, NULL) == 0) {
                        setenv("__DRBD_NODE__", om_strstrip(node), 1);
                        setenv("OM_NODENAME", om_strstrip(node), 1);
                }
                if (rootf && om_read_file(rootf, 4096, &root, NULL) == 0 && om_strstrip(root)[0])
                        setenv("OM_ROOT", om_strstrip(root), 1);
                if (om_streq(argv[1], "split-brain"))
                        split_brain_record(dir, res, file);
                if (om_streq(argv[1], "fence-peer"))
                        return helper_fence_peer(dir, res, file);
                if (om_streq(argv[1], "after-resync-target"))
                        return helper_after_resync(dir, res, file);
                _cleanup_free_ char *adm = find_tool("drbdadm");
                if (!adm)
                        return 20;
                char *av[] = {adm, (char *)"-c", file, argv[1], res, NULL};
                execv(adm, av);
                return 20;
        }
        _cleanup_free_ char *prevf = om_asprintf("%s/usermode_helper.prev", dir), *prev = NULL;
        if (!prevf || om_read_file(prevf, 4096, &prev, NULL) < 0 || !om_strstrip(prev)[0] ||
            strstr(prev, HELPER_NAME))
                prev = strdup("/sbin/drbdadm");
        if (!prev)
                return 20;
        char *p = om_strstrip(prev);
        argv[0] = p;
        execv(p, argv);
        return 20;
}

/* Loads the module when /proc/drbd is missing; a DRBD 9 module is refused (its
 * /proc/drbd has no per-device lines: this driver speaks 8.4). */
static int ensure_module(void) {
        if (access("/proc/drbd", F_OK) < 0) {
                _cleanup_free_ char *mp = find_tool("modprobe");
                int status = -1;
                if (mp) {
                        char *argv[] = {mp, (char *)"drbd", NULL};
                        log_info("modprobe drbd");
                        om_res_exec(argv, 60000, NULL, false, &status);
                }
                if (access("/proc/drbd", F_OK) < 0)
                        return log_error_errno(-ENODEV,
                                               "node %s: the kernel has no drbd module "
                                               "(%s)",
                                               om_nodename(),
                                               mp ? "modprobe drbd failed"
                                                  : "no /proc/drbd, and no modprobe");
        }
        _cleanup_free_ char *text = NULL;
        if (om_read_file("/proc/drbd", 1 << 20, &text, NULL) < 0 ||
            strncmp(text, "version: 8.", 11) != 0)
                return log_error_errno(-EPROTONOSUPPORT,
                                       "node %s: the drbd module is not DRBD 8 (first line of "
                                       "/proc/drbd: %.40s): disk.drbd drives DRBD 8.4",
                                       om_nodename(), text ? text : "unreadable");
        return install_helper();
}

static int write_conf(struct om_res *r, const struct ctx *c) {
        char err[512];
        _cleanup_free_ char *text = NULL, *origin = om_asprintf("%s %s", om_res_path(r), r->rid);
        struct om_drbd_node nodes[2] = {{c->nodes[0], c->addrs[0]}, {c->nodes[1], c->addrs[1]}};
        _cleanup_free_ char *helper = om_asprintf("%s/drbd/" HELPER_NAME, om_dir_var());
        if (!helper)
                return -ENOMEM;
        struct om_drbd_conf conf = {.helper = helper,
                                    .origin = origin,
                                    .res = c->res,
                                    .minor = c->minor,
                                    .disk = c->disk,
                                    .protocol = c->protocol,
                                    .port = c->port,
                                    .nodes = nodes,
                                    .n_nodes = 2};
        int e = om_drbd_conf_render(&conf, &text, err, sizeof(err));
        if (e < 0)
                return log_error_errno(e, "node %s: %s", om_nodename(), err);
        if ((e = om_mkdir_parents(c->file, 0700)) < 0 ||
            (e = om_write_atomic(c->file, text, strlen(text), 0600)) < 0)
                return log_error_errno(e, "cannot write %s: %m", c->file);
        return 0;
}

/* drbdadm 8.4 tells, for each drbdsetup it runs, that it takes the host name from
 * __DRBD_NODE__: "found __DRBD_NODE__ in environment", "PRETENDING that I am >>n1<<",
 * framed by empty lines. om sets it on purpose (the resource file names om's nodes):
 * those lines are not logged. */
static bool drbdadm_noise(const char *line, size_t len) {
        while (len && (line[0] == ' ' || line[0] == '\t')) {
                line++;
                len--;
        }
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
                len--;
        static const char found[] = "found __DRBD_NODE__ in environment";
        static const char pretend[] = "PRETENDING that I am >>";
        return len == 0 || (len == strlen(found) && memcmp(line, found, len) == 0) ||
               (len > strlen(pretend) && memcmp(line, pretend, strlen(pretend)) == 0);
}

/* Runs drbdadm -c <file> <cmd> [opt] <res> as this node. */
static int adm(const struct ctx *c, const char *cmd, const char *opt) {
        _cleanup_free_ char *prog = find_tool("drbdadm");
        if (!prog)
                return log_error_errno(-ENOENT, "node %s: drbdadm is not installed", om_nodename());
        char *argv[8];
        int n = 0;
        argv[n++] = prog;
        argv[n++] = (char *)"-c";
        argv[n++] = c->file;
        argv[n++] = (char *)cmd;
        if (opt)
                argv[n++] = (char *)opt;
        argv[n++] = c->res;
        argv[n] = NULL;
        setenv("__DRBD_NODE__", om_nodename(), 1);
        log_info("drbdadm -c %s %s%s%s %s", c->file, cmd, opt ? " " : "", opt ? opt : "", c->res);
        int status = 0;
        int e = om_res_exec_skip_lines(argv, CMD_TIMEOUT_MS, NULL, false, drbdadm_noise, &status);
        if (e < 0)
                return log_error_errno(e, "drbdadm %s %s: %m", cmd, c->res);
        if (status != 0)
                return log_error_errno(-EIO, "node %s: drbdadm %s %s exited %d", om_nodename(), cmd,
                                       c->res, status);
        return 0;
}

/* drbdmeta --force <minor> v08 <disk> internal <cmd> */
static int meta(const struct ctx *c, const char *cmd) {
        _cleanup_free_ char *prog = find_tool("drbdmeta");
        char minor[16];
        if (!prog)
                return log_error_errno(-ENOENT, "node %s: drbdmeta is not installed",
                                       om_nodename());
        snprintf(minor, sizeof(minor), "%u", c->minor);
        char *argv[] = {prog,    (char *)"--force",  minor,       (char *)"v08",
                        c->disk, (char *)"internal", (char *)cmd, NULL};
        log_info("drbdmeta --force %s v08 %s internal %s", minor, c->disk, cmd);
        int status = 0;
        int e = om_res_exec(argv, CMD_TIMEOUT_MS, NULL, false, &status);
        if (e < 0)
                return log_error_errno(e, "drbdmeta %s: %m", cmd);
        if (status != 0)
                return log_error_errno(-EIO, "node %s: drbdmeta %s on %s exited %d", om_nodename(),
                                       cmd, c->disk, status);
        return 0;
}

/* 1 when dev holds DRBD metadata, 0 when not, negative when unreadable. */
static int has_md(const char *dev) {
        _cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        uint64_t size = 0;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return -errno;
        } else
                size = (uint64_t)st.st_size;
        if (size < 8192)
                return 0;
        unsigned char b[4096];
        if (pread(fd, b, sizeof(b), (off_t)((size & ~(uint64_t)4095) - 4096)) != sizeof(b))
                return -EIO;
        return om_drbd_md_magic(b) ? 1 : 0;
}

/* Whether nothing listens on addr:port (TCP). */
static int port_free(const char *addr, unsigned port) {
        struct sockaddr_storage ss = {0};
        socklen_t len;
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
                s4->sin_family = AF_INET;
                s4->sin_port = htons((uint16_t)port);
                len = sizeof(*s4);
        } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons((uint16_t)port);
                len = sizeof(*s6);
        } else
                return -EINVAL;
        _cleanup_close_ int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&ss, len) < 0)
                return -errno;
        return 0;
}

static int check_port(const struct ctx *c) {
        const char *a = c->addrs[c->self];
        int e = port_free(a, c->port);
        if (e == -EADDRINUSE)
                return log_error_errno(e,
                                       "node %s: port %u on %s is in use (another DRBD "
                                       "resource or program): set port",
                                       om_nodename(), c->port, a);
        if (e == -EADDRNOTAVAIL)
                return log_error_errno(e,
                                       "node %s: the replication address %s is not an address "
                                       "of this node",
                                       om_nodename(), a);
        if (e < 0)
                return log_error_errno(e, "node %s: cannot bind %s port %u: %m", om_nodename(), a,
                                       c->port);
        return 0;
}

/* Waits up to ms for pred; the last state in st. */
static bool wait_state(const struct ctx *c, uint64_t ms, bool (*pred)(const struct om_drbd_state *),
                       struct om_drbd_state *st) {
        uint64_t end = om_mono_ms() + ms;
        for (;;) {
                if (read_state(c->minor, st) == 0 && pred(st))
                        return true;
                if (om_mono_ms() >= end)
                        return false;
                usleep(100 * 1000);
        }
}

static bool settled(const struct om_drbd_state *st) {
        /* connected, and the peer's disk state negotiated */
        return st->present && om_drbd_cs_connected(st->cs) && strcmp(st->peer_disk, "DUnknown") &&
               strcmp(st->disk, "Negotiating") && strcmp(st->peer_disk, "Negotiating");
}

/*
 * The fence marks live at the arbitrator: they protect a replica only when every quorum
 * that does not contain a node contains the arbitrator. That holds for a cluster of the
 * two DRBD nodes and one arbitrator; with a third node (or a second arbitrator) a
 * quorum could form without the arbitrator that holds a mark, so disk.drbd refuses
 * those clusters rather than run unfenced (docs/ARCHITECTURE.md).
 */
static int check_fence_store(const struct ctx *c) {
        char err[512];
        _cleanup_ini_ struct om_ini *cc = NULL;
        if (om_clusterconf_load(&cc, err, sizeof(err)) < 0)
                return log_error_errno(-EINVAL, "node %s: disk.drbd needs cluster.conf: %s",
                                       om_nodename(), err);
        size_t n_arb = 0;
        for (size_t i = 0; i < cc->n_sections; i++)
                n_arb += strncmp(cc->sections[i].name, "arbitrator#", 11) == 0;
        const char *nodes = om_ini_get(cc, "cluster", "nodes", NULL);
        _cleanup_strv_free_ char **nv = NULL;
        if (nodes && om_strv_split(nodes, " \t,", &nv) < 0)
                return -ENOMEM;
        size_t n_nodes = om_strv_length(nv);
        bool ours = n_nodes == 2;
        for (size_t i = 0; ours && i < 2; i++)
                ours = om_streq(nv[i], c->nodes[0]) || om_streq(nv[i], c->nodes[1]);
        if (n_arb == 1 && ours)
                return 0;
        return log_error_errno(-EINVAL,
                               "node %s: disk.drbd needs a cluster of its two nodes (%s, %s) "
                               "and one arbitrator, which keeps DRBD's fence marks so that an "
                               "outdated replica is never promoted; cluster.conf has %zu "
                               "node%s (%s) and %zu arbitrator%s: refused (see "
                               "docs/ARCHITECTURE.md, Replicated storage)",
                               om_nodename(), c->nodes[0], c->nodes[1], n_nodes,
                               n_nodes == 1 ? "" : "s", nodes ? nodes : "", n_arb,
                               n_arb == 1 ? "" : "s");
}

static int drbd_check(struct om_res *r, enum om_res_action a) {
        struct ctx c;
        int e = ctx_load_log(r, false, &c);
        if (e < 0 || (a != OM_ACT_PROVISION && a != OM_ACT_START)) {
                ctx_done(&c);
                return e;
        }
        if ((e = check_tools()) == 0)
                e = check_fence_store(&c);
        ctx_done(&c);
        return e;
}

/* Status on a node whose replica and its peer's are Connected and UpToDate: the marks
 * this node set on its peer, or that name this node, are cleared at the arbitrator
 * (after-resync-target does it on the resynchronized node; this covers a handler that
 * could not reach it). */
static void status_unfence(const struct ctx *c, const struct om_drbd_state *st) {
        if (!fencer || !om_drbd_cs_connected(st->cs) || !om_streq(st->cs, "Connected") ||
            !om_streq(st->disk, "UpToDate") || !om_streq(st->peer_disk, "UpToDate"))
                return;
        _cleanup_free_ char *dir = om_asprintf("%s/drbd", om_dir_var());
        if (!dir)
                return;
        static const char *const what[] = {"fenced-peer", "outdated"};
        for (size_t i = 0; i < ARRAY_SIZE(what); i++) {
                _cleanup_free_ char *f = mark_file(dir, c->res, what[i]);
                if (!f || access(f, F_OK) < 0)
                        continue;
                const char *node = i == 0 ? peer(c) : om_nodename();
                struct om_drbd_fence_answer ans;
                char err[320];
                if (fencer("unfence", c->res, node, 5000, &ans, err, sizeof(err)) < 0) {
                        log_warning("cannot clear the fence mark of %s's replica: %s", node, err);
                        continue;
                }
                if (om_streq(ans.result, "cleared"))
                        log_info("%s and %s are Connected and UpToDate: the fence mark of %s's "
                                 "replica cleared at the arbitrator",
                                 c->nodes[0], c->nodes[1], node);
                unlink(f);
        }
}

/* A Secondary in its standby state: attached, and connected or connecting (DRBD retries
 * by itself until StandAlone). */
static bool standby_ready(const struct om_drbd_state *st) {
        return st->present && !om_streq(st->role, "Primary") && !om_streq(st->disk, "Diskless") &&
               !om_streq(st->cs, "StandAlone");
}

static int drbd_status(struct om_res *r) {
        struct ctx c;
        struct om_drbd_state st;
        char err[512];
        if (ctx_load(r, false, &c, err, sizeof(err)) < 0) {
                note(r, "warn: %s", err);
                ctx_done(&c);
                return OM_RES_UNDEF;
        }
        int e = read_state(c.minor, &st);
        if (e == -ENOENT) {
                note(r, "info: drbd module not loaded");
                ctx_done(&c);
                return OM_RES_DOWN;
        }
        if (e < 0 || !st.present) {
                ctx_done(&c);
                return OM_RES_DOWN;
        }
        int ret = OM_RES_DOWN;
        _cleanup_free_ char *sbdir = om_asprintf("%s/drbd", om_dir_var());
        _cleanup_free_ char *sbf = sbdir ? split_brain_file(sbdir, c.res) : NULL, *sb = NULL;
        if (sbf && om_read_file(sbf, 256, &sb, NULL) == 0) {
                char *at = om_strstrip(sb), *sp = strrchr(at, ' ');
                if (sp)
                        *sp = 0;
                note(r,
                     "warn: split brain (%s): the data of %s and %s diverged; om %s drbd "
                     "resolve --discard <node>",
                     at, c.nodes[0], c.nodes[1], om_res_path(r));
                r->diverged = true;
                ret = OM_RES_WARN;
        }
        if (om_streq(st.role, "Primary")) {
                ret = OM_RES_UP;
                if (!om_streq(st.peer_disk, "UpToDate")) {
                        note(r, "warn: the replica on %s is %s (%s)", peer(&c), st.peer_disk,
                             st.cs);
                        ret = OM_RES_WARN;
                }
        } else if (ret != OM_RES_WARN && standby_ready(&st)) {
                /* a replica kept in step with the peer (or waiting for it): up as a
                 * standby, which runs nothing of the service (the instance stays down) */
                r->stdby = true;
                ret = OM_RES_UP;
                if (!om_drbd_cs_connected(st.cs))
                        note(r, "info: Secondary, waiting for %s (%s)", peer(&c), st.cs);
        } else if (ret == OM_RES_WARN)
                ret = OM_RES_DOWN;
        char why[256];
        if (!om_streq(st.disk, "UpToDate") && sbdir &&
            outdated_reason(sbdir, c.res, why, sizeof(why)))
                note(r, "warn: the local replica is %s (%s)", st.disk, why);
        else if (!om_streq(st.disk, "UpToDate"))
                note(r, "info: the local replica is %s", st.disk);
        status_unfence(&c, &st);
        if (om_streq(st.cs, "StandAlone"))
                note(r, "warn: not connected to %s (StandAlone)", peer(&c));
        ctx_done(&c);
        return ret;
}

static int drbd_provisioned(struct om_res *r) {
        struct ctx c;
        struct om_drbd_state st;
        int ret;
        if (ctx_load(r, false, &c, NULL, 0) < 0) {
                ctx_done(&c);
                return -EINVAL;
        }
        if (read_state(c.minor, &st) == 0 && st.present && !om_streq(st.disk, "Diskless")) {
                ctx_done(&c);
                return 1;
        }
        _cleanup_free_ char *disk = NULL;
        int e = om_res_kw(r, "disk", &disk, NULL, 0);
        if (e == -ENXIO)
                ret = 0; /* the device under it is not up: never provisioned here */
        else if (e < 0)
                ret = e;
        else
                ret = access(disk, F_OK) < 0 ? 0 : has_md(disk);
        ctx_done(&c);
        return ret;
}

/* Brings the resource up (attach and connect) when it is not; *upped tells. */
static int bring_up(const struct ctx *c, bool *upped) {
        struct om_drbd_state st;
        *upped = false;
        if (read_state(c->minor, &st) == 0 && st.present)
                return 0;
        int e = check_port(c);
        if (e < 0)
                return e;
        if ((e = adm(c, "up", NULL)) < 0)
                return e;
        *upped = true;
        return 0;
}

/* Undoes a provision that failed: down, and the metadata when it made it. */
static void provision_undo(const struct ctx *c, bool upped, bool made_md) {
        log_info("undo the provision of %s on %s", c->res, om_nodename());
        if (upped)
                adm(c, "down", NULL);
        if (made_md)
                meta(c, "wipe-md");
        if (made_md || upped)
                unlink(c->file);
}

static int drbd_provision(struct om_res *r) {
        struct ctx c;
        int e;
        bool made_md = false, upped = false;
        if ((e = ctx_load_log(r, true, &c)) < 0)
                goto out;
        if ((e = check_tools()) < 0)
                goto out;
        struct stat sb;
        if (stat(c.disk, &sb) < 0) {
                e = log_error_errno(-ENOENT, "node %s: disk %s does not exist", om_nodename(),
                                    c.disk);
                goto out;
        }
        if (!S_ISBLK(sb.st_mode)) {
                e = log_error_errno(-ENOTBLK, "node %s: disk %s is not a block device",
                                    om_nodename(), c.disk);
                goto out;
        }
        struct om_drbd_state st;
        bool present = read_state(c.minor, &st) == 0 && st.present;
        if (present && access(c.file, F_OK) < 0) {
                e = log_error_errno(-EBUSY,
                                    "node %s: minor %u (/dev/drbd%u) is used by another DRBD "
                                    "resource: set minor",
                                    om_nodename(), c.minor, c.minor);
                goto out;
        }
        int md = has_md(c.disk);
        if (md < 0) {
                e = log_error_errno(md, "node %s: cannot read %s: %m", om_nodename(), c.disk);
                goto out;
        }
        if (!md && !present) {
                _cleanup_free_ char *type = NULL;
                if ((e = om_res_probe_type(c.disk, &type)) < 0) {
                        log_error_errno(e, "node %s: cannot read %s: %m", om_nodename(), c.disk);
                        goto out;
                }
                if (type && !r->svc->force) {
                        e = log_error_errno(-EEXIST,
                                            "node %s: %s already holds a %s signature: refusing "
                                            "to put DRBD metadata on it (use --force to "
                                            "overwrite)",
                                            om_nodename(), c.disk, type);
                        goto out;
                }
        }
        if (!present && (e = check_port(&c)) < 0)
                goto out;
        /* the checks above change nothing; from here on, a failure undoes */
        if ((e = ensure_module()) < 0 || (e = write_conf(r, &c)) < 0)
                goto out;
        present = read_state(c.minor, &st) == 0 && st.present;
        if (md)
                log_info("%s already holds DRBD metadata", c.disk);
        else if (!present) {
                if ((e = meta(&c, "create-md")) < 0)
                        goto out;
                made_md = true;
        }
        if ((e = bring_up(&c, &upped)) < 0)
                goto undo;
        if (read_state(c.minor, &st) == 0 && om_streq(st.role, "Primary")) {
                log_info("%s is already Primary here", c.res);
                goto out;
        }
        bool first = c.self == 0;
        log_info("wait up to %d s for %s to connect", CONNECT_WAIT_MS / 1000, peer(&c));
        if (wait_state(&c, CONNECT_WAIT_MS, settled, &st)) {
                log_info("connected to %s: %s", peer(&c), st.cs);
                if (om_streq(st.peer_role, "Primary") || om_streq(st.peer_disk, "UpToDate")) {
                        log_info("%s holds the data (%s, %s): this node is its replica, "
                                 "synchronized by DRBD; the resources above are not formatted "
                                 "here",
                                 peer(&c), st.peer_role, st.peer_disk);
                        e = OM_RES_PROVISIONED_REPLICA;
                        goto out;
                }
        } else
                log_info("%s is not connected (%s)", peer(&c), st.present ? st.cs : "down");
        if (om_streq(st.disk, "UpToDate") || om_streq(st.disk, "Consistent")) {
                log_info("the local replica is %s: start decides", st.disk);
                goto out;
        }
        if (r->svc->passive) {
                /* the service runs on another node: never the initial primary here */
                e = log_error_errno(-EAGAIN,
                                    "node %s: the peer %s holds no data to synchronize from "
                                    "(%s), and a passive provision never makes this node the "
                                    "initial primary",
                                    om_nodename(), peer(&c),
                                    st.present ? st.peer_disk : "not connected");
                goto undo;
        }
        if (!first) {
                e = log_error_errno(-EAGAIN,
                                    "node %s: the peer %s holds no data to synchronize from "
                                    "(%s): provision %s first, the first node of the "
                                    "service's nodes",
                                    om_nodename(), peer(&c),
                                    st.present ? st.peer_disk : "not connected", peer(&c));
                goto undo;
        }
        log_info("initial primary: %s is the first node of the service's nodes (--force: DRBD "
                 "promotes a replica that is not UpToDate only so; the peer holds no data yet)",
                 om_nodename());
        if ((e = adm(&c, "primary", "--force")) < 0)
                goto undo;
        if (fencer && made_md) {
                /* new data: a mark an earlier resource of this name left at the
                 * arbitrator naming this node would refuse its fences */
                struct om_drbd_fence_answer ans;
                char err[320];
                if (fencer("unfence", c.res, om_nodename(), 5000, &ans, err, sizeof(err)) < 0)
                        log_warning("cannot clear a fence mark of %s at the arbitrator: %s", c.res,
                                    err);
                else if (om_streq(ans.result, "cleared"))
                        log_info("a fence mark of %s left by %s at the arbitrator cleared (new "
                                 "metadata)",
                                 c.res, ans.by);
        }
        goto out;
undo:
        provision_undo(&c, upped, made_md);
out:
        ctx_done(&c);
        return e;
}

static bool peer_not_primary(const struct om_drbd_state *st) {
        return !st->present || !om_streq(st->peer_role, "Primary");
}

static int drbd_start(struct om_res *r) {
        struct ctx c;
        struct om_drbd_state st;
        bool upped;
        int e;
        _cleanup_free_ char *mdir = NULL;
        char why[256];
        if ((e = ctx_load_log(r, true, &c)) < 0)
                goto out;
        if ((e = check_tools()) < 0 || (e = ensure_module()) < 0 || (e = write_conf(r, &c)) < 0)
                goto out;
        if (read_state(c.minor, &st) == 0 && om_streq(st.role, "Primary")) {
                log_info("%s is already Primary", c.res);
                goto out;
        }
        if (split_brain_marked(c.res, false) && !r->svc->force) {
                e = log_error_errno(-EUCLEAN,
                                    "node %s: DRBD reported a split brain of %s (the data of "
                                    "%s and %s diverged): start refused; om %s drbd resolve "
                                    "--discard <node> first, or --force",
                                    om_nodename(), c.res, c.nodes[0], c.nodes[1], om_res_path(r));
                goto out;
        }
        if ((e = bring_up(&c, &upped)) < 0)
                goto out;
        if (upped) {
                log_info("wait up to %d s for %s to connect", CONNECT_WAIT_MS / 1000, peer(&c));
                wait_state(&c, CONNECT_WAIT_MS, settled, &st);
        }
        if ((e = read_state(c.minor, &st)) < 0 || !st.present) {
                e = log_error_errno(-EIO, "node %s: %s is not configured after up", om_nodename(),
                                    c.res);
                goto out;
        }
        if (om_streq(st.peer_role, "Primary")) {
                log_info("%s is Primary: wait up to %d s for DRBD to see it gone", peer(&c),
                         PEER_GONE_WAIT_MS / 1000);
                if (!wait_state(&c, PEER_GONE_WAIT_MS, peer_not_primary, &st)) {
                        e = log_error_errno(-EBUSY,
                                            "node %s: %s is Primary on %s: stop the service "
                                            "there first",
                                            om_nodename(), c.res, peer(&c));
                        goto out;
                }
        }
        char sum[160];
        om_drbd_state_summary(&st, sum, sizeof(sum));
        if (om_drbd_cs_connected(st.cs)) {
                log_info("promote %s (%s)", c.res, sum);
                e = adm(&c, "primary", NULL);
                goto out;
        }
        /* the peer is unreachable */
        if (om_streq(st.cs, "StandAlone") && !r->svc->force) {
                e = log_error_errno(-ENOTCONN,
                                    "node %s: %s is StandAlone (DRBD dropped the connection to "
                                    "%s: a split brain, or a peer that refused it; see the "
                                    "kernel log): start refused, --force starts anyway",
                                    om_nodename(), c.res, peer(&c));
                goto out;
        }
        mdir = om_asprintf("%s/drbd", om_dir_var());
        if (!om_streq(st.disk, "UpToDate") && !r->svc->force && mdir &&
            outdated_reason(mdir, c.res, why, sizeof(why))) {
                e = log_error_errno(-ESTALE,
                                    "node %s: %s (the local replica of %s is %s, %s is "
                                    "unreachable): start refused, --force starts anyway and "
                                    "loses what %s wrote since",
                                    om_nodename(), why, c.res, st.disk, peer(&c), peer(&c));
                goto out;
        }
        if (!om_streq(st.disk, "UpToDate") && !r->svc->force) {
                e = log_error_errno(-ESTALE,
                                    "node %s: the local replica of %s is %s and %s is "
                                    "unreachable (%s): it may miss what %s wrote, starting on "
                                    "it would lose that data; start refused, --force starts "
                                    "anyway",
                                    om_nodename(), c.res, st.disk, peer(&c), st.cs, peer(&c));
                goto out;
        }
        if (r->svc->force) {
                log_warning("--force: promote the %s replica of %s without %s, bypassing "
                            "DRBD's fence-peer handler (the arbitrator's marks: a replica "
                            "outdated by %s is promoted anyway, and what %s wrote since it "
                            "was cut is lost)",
                            st.disk, c.res, peer(&c), peer(&c), peer(&c));
                e = adm(&c, "primary", "--force");
                goto out;
        }
        /* DRBD runs the fence-peer handler (om): the promotion goes on only once the
         * arbitrator marked the peer's replica outdated, and fails when a mark names
         * this node's replica */
        log_info("promote %s without %s (%s): DRBD asks the arbitrator through the "
                 "fence-peer handler",
                 c.res, peer(&c), sum);
        e = adm(&c, "primary", NULL);
        if (e < 0) {
                read_state(c.minor, &st);
                if (mdir && outdated_reason(mdir, c.res, why, sizeof(why))) {
                        if (om_streq(st.disk, "UpToDate"))
                                (void)adm(&c, "outdate", NULL);
                        e = log_error_errno(-ESTALE,
                                            "node %s: %s: start refused (%s misses what %s "
                                            "wrote since; --force starts anyway and loses it)",
                                            om_nodename(), why, c.res, peer(&c));
                } else
                        e = log_error_errno(e,
                                            "node %s: DRBD refused to promote %s without %s: "
                                            "the fence-peer handler could not have %s's "
                                            "replica marked outdated (see the lines above)",
                                            om_nodename(), c.res, peer(&c), peer(&c));
        }
out:
        ctx_done(&c);
        return e;
}

/*
 * The standby start, where the service does not run (the agent's `start --standby`: a
 * node that rebooted with its om state comes back so): the replica attached and
 * connected as a Secondary, so that DRBD resynchronizes it from the peer (an Outdated,
 * Consistent or Inconsistent replica is a sync target, never a source: it holds the
 * older generation). Never promotes, never discards data, never creates metadata; a
 * Primary is left as it is.
 */
static int drbd_start_standby(struct om_res *r) {
        struct ctx c;
        struct om_drbd_state st;
        bool upped = false;
        int e;
        char sum[160];
        if ((e = ctx_load_log(r, true, &c)) < 0)
                goto out;
        if ((e = check_tools()) < 0 || (e = ensure_module()) < 0 || (e = write_conf(r, &c)) < 0)
                goto out;
        if (read_state(c.minor, &st) < 0)
                st = (struct om_drbd_state){.sync_permille = -1};
        if (om_streq(st.role, "Primary")) {
                log_info("%s is Primary here: left so (a standby start never demotes)", c.res);
                goto out;
        }
        if (split_brain_marked(c.res, false)) {
                e = log_error_errno(-EUCLEAN,
                                    "node %s: DRBD reported a split brain of %s (the data of "
                                    "%s and %s diverged): not connected again as a standby; "
                                    "om %s drbd resolve --discard <node> first",
                                    om_nodename(), c.res, c.nodes[0], c.nodes[1], om_res_path(r));
                goto out;
        }
        if (!st.present) {
                int md = access(c.disk, F_OK) < 0 ? -ENOENT : has_md(c.disk);
                if (md <= 0) {
                        /* metadata is made by provision only */
                        e = log_error_errno(md < 0 ? md : -ENODATA,
                                            "node %s: %s holds no DRBD metadata%s: %s is not "
                                            "brought up as a standby (om %s provision --local "
                                            "makes it)",
                                            om_nodename(), c.disk, md < 0 ? " (unreadable)" : "",
                                            c.res, om_res_path(r));
                        goto out;
                }
                log_info("bring %s up as a Secondary: attach %s, connect to %s (never promoted "
                         "here; DRBD resynchronizes what it lacks from its peer)",
                         c.res, c.disk, peer(&c));
                if ((e = bring_up(&c, &upped)) < 0)
                        goto out;
                if (upped) {
                        log_info("wait up to %d s for %s to connect", CONNECT_WAIT_MS / 1000,
                                 peer(&c));
                        wait_state(&c, CONNECT_WAIT_MS, settled, &st);
                }
        } else {
                if (om_streq(st.disk, "Diskless")) {
                        log_info("%s is Diskless: attach %s", c.res, c.disk);
                        if ((e = adm(&c, "attach", NULL)) < 0)
                                goto out;
                }
                if (om_streq(st.cs, "StandAlone")) {
                        log_info("%s is StandAlone: connect to %s as a Secondary", c.res, peer(&c));
                        if ((e = adm(&c, "connect", NULL)) < 0)
                                goto out;
                }
        }
        if ((e = read_state(c.minor, &st)) < 0 || !st.present) {
                e = log_error_errno(-EIO, "node %s: %s is not configured after up", om_nodename(),
                                    c.res);
                goto out;
        }
        om_drbd_state_summary(&st, sum, sizeof(sum));
        log_info("%s is a standby here: %s", c.res, sum);
out:
        ctx_done(&c);
        return e;
}

static int drbd_stop(struct om_res *r) {
        struct ctx c;
        struct om_drbd_state st;
        int e;
        if ((e = ctx_load_log(r, false, &c)) < 0)
                goto out;
        if (read_state(c.minor, &st) < 0 || !st.present) {
                log_info("%s is not configured here", c.res);
                goto out;
        }
        if (!om_streq(st.role, "Primary")) {
                log_info("%s is already Secondary (%s)", c.res, st.cs);
                goto out;
        }
        e = adm(&c, "secondary", NULL);
out:
        ctx_done(&c);
        return e;
}

static int drbd_unprovision(struct om_res *r) {
        struct ctx c;
        struct om_drbd_state st;
        char err[512];
        int e;
        if ((e = ctx_load(r, true, &c, err, sizeof(err))) < 0 && e != -ENXIO) {
                log_error_errno(e, "node %s: %s", om_nodename(), err);
                goto out;
        }
        if (read_state(c.minor, &st) == 0 && st.present) {
                if (access(c.file, F_OK) < 0 && (e = write_conf(r, &c)) < 0)
                        goto out;
                if ((e = adm(&c, "down", NULL)) < 0)
                        goto out;
        }
        if (!c.disk) {
                if (!r->svc->force) {
                        e = log_error_errno(-ENXIO,
                                            "node %s: cannot wipe the DRBD metadata: %s. start "
                                            "the resource under it first, or use --force to "
                                            "skip the wipe",
                                            om_nodename(), err);
                        goto out;
                }
                log_warning("skip the DRBD metadata wipe (%s)", err);
                e = 0;
        } else if (access(c.disk, F_OK) == 0 && has_md(c.disk) == 1) {
                if ((e = meta(&c, "wipe-md")) < 0)
                        goto out;
        } else
                log_info("%s holds no DRBD metadata", c.disk);
        split_brain_marked(c.res, true);
        if (access(c.file, F_OK) == 0) {
                log_info("remove %s", c.file);
                if ((e = om_unlink_sync(c.file)) < 0)
                        log_error_errno(e, "cannot remove %s: %m", c.file);
        }
        if (e == 0) {
                _cleanup_free_ char *dir = om_asprintf("%s/drbd", om_dir_var());
                static const char *const marks[] = {"fenced-peer", "outdated"};
                for (size_t i = 0; dir && i < ARRAY_SIZE(marks); i++) {
                        _cleanup_free_ char *f = mark_file(dir, c.res, marks[i]);
                        if (f)
                                unlink(f);
                }
                restore_helper();
        }
out:
        ctx_done(&c);
        return e;
}

int om_res_drbd_resolve(struct om_res *r, const char *discard) {
        struct ctx c;
        struct om_drbd_state st;
        bool upped;
        int e;
        if (r->drv != &om_res_driver_drbd)
                return log_error_errno(-EINVAL, "%s is not a disk.drbd resource", r->rid);
        if ((e = ctx_load_log(r, false, &c)) < 0)
                goto out;
        if (!om_streq(discard, c.nodes[0]) && !om_streq(discard, c.nodes[1])) {
                e = log_error_errno(-EINVAL, "--discard %s: not one of the two nodes (%s, %s)",
                                    discard, c.nodes[0], c.nodes[1]);
                goto out;
        }
        char err[512];
        if ((e = om_res_kw(r, "disk", &c.disk, err, sizeof(err))) < 0) {
                log_error_errno(e, "node %s: disk: %s", om_nodename(), err);
                goto out;
        }
        if ((e = check_tools()) < 0 || (e = ensure_module()) < 0 || (e = write_conf(r, &c)) < 0 ||
            (e = bring_up(&c, &upped)) < 0 || (e = read_state(c.minor, &st)) < 0)
                goto out;
        bool me = om_streq(discard, om_nodename());
        if (me) {
                if (om_streq(st.role, "Primary")) {
                        e = log_error_errno(-EBUSY,
                                            "node %s: %s is Primary here: stop the service "
                                            "here first (om %s stop --local), then resolve",
                                            om_nodename(), c.res, om_res_path(r));
                        goto out;
                }
                log_warning("discard the changes of %s on %s: DRBD resynchronizes it from %s",
                            c.res, om_nodename(), peer(&c));
                if (!om_streq(st.cs, "StandAlone"))
                        (void)adm(&c, "disconnect", NULL);
                if ((e = adm(&c, "connect", "--discard-my-data")) < 0)
                        goto out;
        } else {
                log_info("keep the data of %s on %s: %s discards its changes", c.res, om_nodename(),
                         discard);
                if (om_streq(st.cs, "StandAlone") && (e = adm(&c, "connect", NULL)) < 0)
                        goto out;
        }
        split_brain_marked(c.res, true);
        log_info("%s: run the same command on %s too; once resynchronized, om %s thaw", c.res,
                 peer(&c), om_res_path(r));
out:
        ctx_done(&c);
        return e;
}

static int drbd_devs(struct om_res *r, enum om_res_devs which, char ***ret, char *err,
                     size_t errlen) {
        struct ctx c;
        int e;
        char **out = NULL;
        if (which != OM_RES_DEVS_EXPOSED) {
                _cleanup_free_ char *disk = NULL;
                if ((e = om_res_kw(r, "disk", &disk, err, errlen)) < 0)
                        return e;
                if (which == OM_RES_DEVS_BASE)
                        return om_res_base_devs_of(disk, ret);
                if ((e = om_strv_push(&out, disk)) < 0)
                        return e;
                *ret = out;
                return 0;
        }
        if ((e = ctx_load(r, false, &c, err, errlen)) < 0) {
                ctx_done(&c);
                return e;
        }
        struct om_drbd_state st;
        if (read_state(c.minor, &st) < 0 || !st.present) {
                snprintf(err, errlen, "%s is not up (DRBD resource %s not configured)", r->rid,
                         c.res);
                ctx_done(&c);
                return -ENXIO;
        }
        char dev[32];
        snprintf(dev, sizeof(dev), "/dev/drbd%u", c.minor);
        ctx_done(&c);
        if ((e = om_strv_push(&out, dev)) < 0)
                return e;
        *ret = out;
        return 0;
}

static char *drbd_label(struct om_res *r) {
        _cleanup_free_ char *res = om_res_kw_label(r, "res"), *minor = om_res_kw_label(r, "minor");
        long long m = -1;
        struct om_drbd_state st;
        char sum[160] = "";
        if (minor && om_parse_int(minor, 0, OM_DRBD_MINOR_MAX, &m) == 0 &&
            read_state((unsigned)m, &st) == 0) {
                sum[0] = ' ';
                om_drbd_state_summary(&st, sum + 1, sizeof(sum) - 1);
        }
        return om_asprintf("drbd %s /dev/drbd%s%s", res ? res : "", minor ? minor : "", sum);
}

static const char *const drbd_keywords[] = {"res",  "disk",     "minor", "port",
                                            "addr", "protocol", NULL};

const struct om_res_driver om_res_driver_drbd = {
        .group = "disk",
        .type = "drbd",
        .name = "disk.drbd",
        .keywords = drbd_keywords,
        .check = drbd_check,
        .status = drbd_status,
        .provisioned = drbd_provisioned,
        .start = drbd_start,
        .stop = drbd_stop,
        .start_standby = drbd_start_standby,
        .provision = drbd_provision,
        .unprovision = drbd_unprovision,
        .devs = drbd_devs,
        .label = drbd_label,
        .unprovision_needs = "disk",
        .data = OM_RES_DATA_REPLICATED,
        .dev_kw = "disk",
};
