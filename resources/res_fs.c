/*
 * fs.ext4 / fs.ext3 / fs.ext2 / fs.xfs: a filesystem on a block device mounted on `mnt`.
 * Provision creates the mount point and runs mkfs only when the device holds no
 * signature (an ext family or xfs device is left as is; anything else is refused
 * unless --force); start runs `e2fsck -p` for the ext family (exit 0 and 1 are fine)
 * and mounts with libmount; stop unmounts with libmount. mkfs and e2fsck run as child
 * processes, their output in the object log. It does not manage fstab nor resize.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/util.h"
#include "resources/cleanup.h"
#include "resources/res.h"

#define FS_TOOL_TIMEOUT_MS (30 * 60 * 1000)

static bool is_ext(const struct om_res *r) {
        return !strncmp(r->type, "ext", 3);
}

/* Resolves dev; with log, failures are logged. */
static int get_dev(struct om_res *r, char **ret, bool log) {
        char err[512];
        int e = om_res_kw(r, "dev", ret, err, sizeof(err));
        if (e == -ENOENT)
                return log ? log_error_errno(-EINVAL, "dev is not set") : -EINVAL;
        if (e < 0)
                return log ? log_error_errno(e, "dev: %s", err) : e;
        return 0;
}

static int get_mnt(struct om_res *r, char **ret, bool log) {
        char err[512];
        int e = om_res_kw(r, "mnt", ret, err, sizeof(err));
        if (e < 0)
                return log ? log_error_errno(e == -ENOENT ? -EINVAL : e, "mnt: %s", err) : e;
        if ((*ret)[0] != '/') {
                if (log)
                        log_error("mnt '%s' is not an absolute path", *ret);
                free(*ret);
                *ret = NULL;
                return -EINVAL;
        }
        return 0;
}

/* The mount on mnt (last one wins): 1 and its source in ret_src (optional) when
 * mounted, 0 when not. *ret_ours tells whether the mounted device is dev. */
static int mounted(const char *mnt, const char *dev, bool *ret_ours, char **ret_src) {
        _cleanup_mnt_table_ struct libmnt_table *tb =
                mnt_new_table_from_file("/proc/self/mountinfo");
        if (!tb)
                return -errno ? -errno : -EIO;
        char canon[4096];
        const char *target = realpath(mnt, canon) ? canon : mnt;
        struct libmnt_fs *fs = mnt_table_find_target(tb, target, MNT_ITER_BACKWARD);
        if (!fs)
                return 0;
        /* find_target may match a parent mount through canonicalization: check it */
        if (!om_streq(mnt_fs_get_target(fs), target))
                return 0;
        bool ours = false;
        struct stat st;
        if (dev && stat(dev, &st) == 0 && S_ISBLK(st.st_mode))
                ours = mnt_fs_get_devno(fs) == st.st_rdev;
        if (ret_ours)
                *ret_ours = ours;
        if (ret_src) {
                const char *s = mnt_fs_get_source(fs);
                *ret_src = strdup(s ? s : "?");
        }
        return 1;
}

/* check_read: one block of the device read past the page cache, so that a filesystem
 * still mounted on a device that fails its I/O (a lost SAN path, a dead disk) reports
 * down. A read error is a note naming the device and the error. A device that hangs
 * makes the read hang: the status is computed by `om <path> print status`, a process of
 * its own, never by the agent's loop. */
static int read_check(struct om_res *r, const char *dev) {
        _cleanup_free_ char *s = NULL;
        bool on = false;
        if (om_res_kw(r, "check_read", &s, NULL, 0) < 0 || om_parse_bool(s, &on) < 0 || !on)
                return 0;
        _cleanup_close_ int fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
        void *buf = NULL;
        int e = 0;
        if (fd < 0)
                e = -errno;
        else if ((e = -posix_memalign(&buf, 4096, 4096)) == 0) {
                ssize_t n = pread(fd, buf, 4096, 0);
                e = n < 0 ? -errno : n == 0 ? -EIO : 0;
        }
        free(buf);
        if (e < 0) {
                _cleanup_free_ char *n =
                        om_asprintf("warn: read of %s failed: %s", dev, strerror(-e));
                if (n)
                        om_strv_push(&r->notes, n);
        }
        return e;
}

static int fs_status(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *mnt = NULL;
        int e = get_dev(r, &dev, false);
        if (e == -ENXIO) {
                om_strv_push(&r->notes, "info: dev is not defined");
                return OM_RES_DOWN;
        }
        if (e < 0 || get_mnt(r, &mnt, false) < 0)
                return OM_RES_UNDEF;
        bool ours = false;
        _cleanup_free_ char *src = NULL;
        if (mounted(mnt, dev, &ours, &src) <= 0)
                return OM_RES_DOWN;
        if (!ours) {
                _cleanup_free_ char *n = om_asprintf("warn: %s is mounted from %s", mnt, src);
                if (n)
                        om_strv_push(&r->notes, n);
                return OM_RES_DOWN;
        }
        return read_check(r, dev) < 0 ? OM_RES_DOWN : OM_RES_UP;
}

static bool type_matches(const struct om_res *r, const char *found) {
        if (is_ext(r))
                return !strncmp(found, "ext", 3);
        return om_streq(found, r->type);
}

/* The provisioned state of the resource whose device `dev` references
 * ({disk#1.exposed_devs[0]}): recorded, else asked from its driver. 0 for a plain dev. */
static int under_provisioned(struct om_res *r) {
        struct om_res *u = om_res_under(r);
        if (!u)
                return 0;
        int p = om_res_state_provisioned(r->svc, u->rid);
        if (p < 0 && u->drv->provisioned)
                p = u->drv->provisioned(u);
        return p == 1 ? 1 : 0;
}

static int fs_provisioned(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *type = NULL;
        int e = get_dev(r, &dev, false);
        if (e < 0)
                return e;
        if (access(dev, F_OK) < 0) {
                /* The device is not up, so the filesystem cannot be probed: what this node
                 * recorded wins; a node that never provisioned it (the passive node of a
                 * shared disk, formatted by the node that ran the provision) takes the
                 * state of the resource under it. */
                int p = om_res_state_provisioned(r->svc, r->rid);
                return p >= 0 ? p : under_provisioned(r);
        }
        if (om_res_probe_type(dev, &type) < 0)
                return -EIO;
        return type && type_matches(r, type) ? 1 : 0;
}

/* Refuses a mount point where another device is mounted. */
static int check_mnt_free(struct om_res *r, const char *mnt, const char *dev) {
        bool ours = false;
        _cleanup_free_ char *src = NULL;
        int m = mounted(mnt, dev, &ours, &src);
        if (m < 0)
                return log_error_errno(m, "cannot read the mount table: %m");
        if (m > 0 && !ours)
                return log_error_errno(-EBUSY, "mount point %s is in use by %s", mnt, src);
        return 0;
}

static int fs_check(struct om_res *r, enum om_res_action a) {
        _cleanup_free_ char *dev = NULL, *mnt = NULL;
        if (a != OM_ACT_START && a != OM_ACT_PROVISION)
                return 0;
        int e = get_mnt(r, &mnt, true);
        if (e < 0)
                return e;
        e = get_dev(r, &dev, false);
        if (e == -ENXIO)
                dev = NULL; /* a device another resource brings up */
        else if (e < 0)
                return get_dev(r, &dev, true);
        const char *raw = om_res_kw_raw(r, "dev");
        bool deferred = raw && strstr(raw, "_devs");
        if (dev && !deferred && access(dev, F_OK) < 0)
                return log_error_errno(-ENOENT, "dev %s does not exist", dev);
        return check_mnt_free(r, mnt, dev);
}

static int run_tool(char **argv, const char *what) {
        _cleanup_free_ char *line = om_strv_join(argv, " ");
        log_info("%s", line ? line : what);
        int status = 0;
        int e = om_res_exec(argv, FS_TOOL_TIMEOUT_MS, NULL, false, &status);
        if (e == -ETIME)
                return log_error_errno(e, "%s timed out", what);
        if (e < 0)
                return log_error_errno(e, "cannot run %s: %m", what);
        return status;
}

static int make_mnt(const char *mnt) {
        if (access(mnt, F_OK) == 0)
                return 0;
        int e = om_mkdir_p(mnt, 0755);
        if (e < 0)
                return log_error_errno(e, "cannot create mount point %s: %m", mnt);
        log_info("%s mount point created", mnt);
        return 0;
}

static int fs_provision(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *mnt = NULL, *type = NULL, *opts = NULL;
        _cleanup_strv_free_ char **argv = NULL, **extra = NULL;
        int e;
        if ((e = get_dev(r, &dev, true)) < 0 || (e = get_mnt(r, &mnt, true)) < 0)
                return e;
        if (access(dev, F_OK) < 0)
                return log_error_errno(-ENOENT, "dev %s does not exist", dev);
        if ((e = make_mnt(mnt)) < 0)
                return e;
        if ((e = om_res_probe_type(dev, &type)) < 0)
                return log_error_errno(e, "cannot read %s: %m", dev);
        if (type && type_matches(r, type)) {
                log_info("%s is already formatted (%s)", dev, type);
                return 0;
        }
        if (type && !r->svc->force)
                return log_error_errno(-EEXIST,
                                       "%s holds a %s signature, not %s: refusing to format it "
                                       "(use --force to overwrite)",
                                       dev, type, r->type);
        if (!type)
                log_info("%s is not formatted", dev);
        if (om_res_kw(r, "mkfs_opt", &opts, NULL, 0) == 0 &&
            (e = om_res_split_command(opts, &extra)) < 0)
                return log_error_errno(e, "mkfs_opt: unterminated quote in '%s'", opts);
        _cleanup_free_ char *tool = om_asprintf("mkfs.%s", r->type);
        if (!tool || om_strv_push(&argv, tool) < 0 ||
            om_strv_push(&argv, is_ext(r) ? "-F" : "-f") < 0 || om_strv_push(&argv, "-q") < 0)
                return -ENOMEM;
        for (char **x = extra; x && *x; x++)
                if (om_strv_push(&argv, *x) < 0)
                        return -ENOMEM;
        if (om_strv_push(&argv, dev) < 0)
                return -ENOMEM;
        int st = run_tool(argv, tool);
        if (st < 0)
                return st;
        if (st != 0)
                return log_error_errno(-EIO, "%s exited with status %d", tool, st);
        return 0;
}

static int fs_start(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *mnt = NULL, *opts = NULL;
        int e;
        if ((e = get_dev(r, &dev, true)) < 0 || (e = get_mnt(r, &mnt, true)) < 0)
                return e;
        bool ours = false;
        if (mounted(mnt, dev, &ours, NULL) > 0 && ours) {
                log_info("%s %s@%s is already mounted", r->type, dev, mnt);
                return 0;
        }
        struct stat st;
        if (stat(dev, &st) < 0)
                return log_error_errno(-errno, "dev %s does not exist", dev);
        if (!S_ISBLK(st.st_mode))
                return log_error_errno(-ENOTBLK, "dev %s is not a block device", dev);
        if ((e = check_mnt_free(r, mnt, dev)) < 0 || (e = make_mnt(mnt)) < 0)
                return e;
        if (is_ext(r)) {
                char *argv[] = {"e2fsck", "-p", dev, NULL};
                int s = run_tool(argv, "e2fsck");
                if (s < 0)
                        return s;
                if (s > 1)
                        return log_error_errno(-EIO, "e2fsck -p %s exited with status %d", dev, s);
        }
        bool has_opts = om_res_kw(r, "mnt_opt", &opts, NULL, 0) == 0 && opts[0];
        log_info("mount -t %s%s%s %s %s", r->type, has_opts ? " -o " : "", has_opts ? opts : "",
                 dev, mnt);
        _cleanup_mnt_context_ struct libmnt_context *cxt = mnt_new_context();
        if (!cxt)
                return -ENOMEM;
        mnt_context_set_optsmode(cxt, MNT_OMODE_IGNORE);
        if (mnt_context_set_source(cxt, dev) < 0 || mnt_context_set_target(cxt, mnt) < 0 ||
            mnt_context_set_fstype(cxt, r->type) < 0 ||
            (has_opts && mnt_context_set_options(cxt, opts) < 0))
                return log_error_errno(-EINVAL, "cannot set up the mount of %s", dev);
        int rc = mnt_context_mount(cxt);
        if (rc != 0 || mnt_context_get_status(cxt) != 1) {
                char buf[512] = "";
                mnt_context_get_excode(cxt, rc, buf, sizeof(buf));
                return log_error_errno(-EIO, "mount %s on %s failed: %s", dev, mnt,
                                       buf[0] ? buf : "unknown error");
        }
        return 0;
}

static int fs_stop(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *mnt = NULL;
        int e;
        if ((e = get_mnt(r, &mnt, true)) < 0)
                return e;
        if (get_dev(r, &dev, false) < 0)
                dev = NULL;
        bool ours = false;
        int m = mounted(mnt, dev, &ours, NULL);
        if (m < 0)
                return log_error_errno(m, "cannot read the mount table: %m");
        if (m == 0 || (!ours && dev)) {
                _cleanup_free_ char *label = r->drv->label(r);
                log_info("%s is already umounted", label ? label : mnt);
                return 0;
        }
        if (!dev) {
                /* the device reference does not resolve: trust the mount table */
                log_info("%s is mounted but dev does not resolve: unmount anyway", mnt);
        }
        log_info("umount %s", mnt);
        _cleanup_mnt_context_ struct libmnt_context *cxt = mnt_new_context();
        if (!cxt)
                return -ENOMEM;
        if (mnt_context_set_target(cxt, mnt) < 0)
                return -EINVAL;
        int rc = mnt_context_umount(cxt);
        if (rc != 0 || mnt_context_get_status(cxt) != 1) {
                char buf[512] = "";
                mnt_context_get_excode(cxt, rc, buf, sizeof(buf));
                return log_error_errno(-EIO, "umount %s failed: %s", mnt,
                                       buf[0] ? buf : "unknown error");
        }
        return 0;
}

static int fs_unprovision(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *mnt = NULL, *type = NULL;
        if (get_mnt(r, &mnt, true) < 0)
                return -EINVAL;
        char err[512];
        int e = om_res_kw(r, "dev", &dev, err, sizeof(err));
        if (e < 0) {
                log_info("skip the filesystem wipe: %s", err);
        } else if (access(dev, F_OK) < 0) {
                log_info("skip the filesystem wipe: %s does not exist", dev);
        } else if (om_res_probe_type(dev, &type) == 0 && type && type_matches(r, type)) {
                log_info("wipe the %s signature of %s", type, dev);
                _cleanup_close_ int fd = open(dev, O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(-errno, "cannot open %s: %m", dev);
                static const char zero[65536];
                for (off_t off = 0; off < 1024 * 1024; off += (off_t)sizeof(zero))
                        if (pwrite(fd, zero, sizeof(zero), off) != (ssize_t)sizeof(zero))
                                return log_error_errno(-errno, "cannot wipe %s: %m", dev);
                if (fsync(fd) < 0)
                        return log_error_errno(-errno, "cannot wipe %s: %m", dev);
        }
        if (rmdir(mnt) == 0)
                log_info("%s mount point removed", mnt);
        return 0;
}

static int fs_devs(struct om_res *r, enum om_res_devs which, char ***ret, char *err,
                   size_t errlen) {
        if (which == OM_RES_DEVS_EXPOSED) {
                *ret = calloc(1, sizeof(char *));
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_free_ char *dev = NULL;
        int e = om_res_kw(r, "dev", &dev, err, errlen);
        if (e < 0)
                return e;
        if (which == OM_RES_DEVS_BASE)
                return om_res_base_devs_of(dev, ret);
        char **v = NULL;
        if ((e = om_strv_push(&v, dev)) < 0)
                return e;
        *ret = v;
        return 0;
}

static char *fs_label(struct om_res *r) {
        _cleanup_free_ char *dev = om_res_kw_label(r, "dev");
        _cleanup_free_ char *mnt = om_res_kw_label(r, "mnt");
        return om_asprintf("%s %s@%s", r->type, dev ? dev : "", mnt ? mnt : "");
}

static const char *const fs_keywords[] = {"dev", "mnt", "mnt_opt", "mkfs_opt", "check_read", NULL};

#define FS_DRIVER(t)                                                                               \
        {                                                                                          \
                .group = "fs", .type = t, .name = "fs", .keywords = fs_keywords,                   \
                .check = fs_check, .status = fs_status, .provisioned = fs_provisioned,             \
                .start = fs_start, .stop = fs_stop, .provision = fs_provision,                     \
                .unprovision = fs_unprovision, .devs = fs_devs, .label = fs_label,                 \
                .data = OM_RES_DATA_UNDER, .dev_kw = "dev",                                        \
        }

const struct om_res_driver om_res_driver_ext4 = FS_DRIVER("ext4");
const struct om_res_driver om_res_driver_xfs = FS_DRIVER("xfs");
