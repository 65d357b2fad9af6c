/*
 * disk.loop: a loop device over a file. Provision creates the sparse backing file of
 * `size`; start asks /dev/loop-control for a free device and binds the file with one
 * LOOP_CONFIGURE ioctl (no losetup); stop clears it. The device is found again from
 * sysfs (/sys/block/loop<N>/loop/backing_file), so the state survives `om` restarts
 * and nothing about the device is stored. It does not manage partitions on the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/util.h"
#include "resources/res.h"

static int get_file(struct om_res *r, char **ret) {
        char err[512];
        int e = om_res_kw(r, "file", ret, err, sizeof(err));
        if (e == -ENOENT)
                return log_error_errno(-EINVAL, "file is not set");
        if (e < 0)
                return log_error_errno(e, "file: %s", err);
        if ((*ret)[0] != '/') {
                log_error("file '%s' is not an absolute path", *ret);
                free(*ret);
                *ret = NULL;
                return -EINVAL;
        }
        return 0;
}

static int get_size(struct om_res *r, uint64_t *ret) {
        char err[512];
        _cleanup_free_ char *v = NULL;
        int e = om_res_kw(r, "size", &v, err, sizeof(err));
        if (e == -ENOENT)
                return log_error_errno(-EINVAL, "size is not set: provision needs the size of "
                                                "the file to create");
        if (e < 0)
                return log_error_errno(e, "size: %s", err);
        if (om_parse_size(v, ret) < 0 || *ret == 0)
                return log_error_errno(-EINVAL, "size '%s' is not a size (like 512M, 1G)", v);
        if (*ret < 4096)
                return log_error_errno(-EINVAL, "size '%s' is too small for a loop device", v);
        return 0;
}

static int loop_check(struct om_res *r, enum om_res_action a) {
        _cleanup_free_ char *file = NULL;
        int e = get_file(r, &file);
        if (e < 0)
                return e;
        if (a == OM_ACT_PROVISION && access(file, F_OK) < 0) {
                uint64_t size;
                return get_size(r, &size);
        }
        return 0;
}

static int loop_status(struct om_res *r) {
        _cleanup_free_ char *file = NULL;
        char dev[64];
        if (om_res_kw(r, "file", &file, NULL, 0) < 0)
                return OM_RES_UNDEF;
        return om_res_loop_find(file, dev, sizeof(dev)) == 0 ? OM_RES_UP : OM_RES_DOWN;
}

static int loop_provisioned(struct om_res *r) {
        _cleanup_free_ char *file = NULL;
        if (om_res_kw(r, "file", &file, NULL, 0) < 0)
                return -EINVAL;
        return access(file, F_OK) == 0 ? 1 : 0;
}

static int loop_provision(struct om_res *r) {
        _cleanup_free_ char *file = NULL;
        uint64_t size;
        int e = get_file(r, &file);
        if (e < 0)
                return e;
        struct stat st;
        if (stat(file, &st) == 0) {
                if (!S_ISREG(st.st_mode))
                        return log_error_errno(-EEXIST, "%s exists and is not a file", file);
                log_info("%s already exists, size %lld", file, (long long)st.st_size);
                return 0;
        }
        if ((e = get_size(r, &size)) < 0)
                return e;
        _cleanup_free_ char *dir = strdup(file);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                if (access(dir, F_OK) < 0) {
                        log_info("create directory %s", dir);
                        if ((e = om_mkdir_p(dir, 0755)) < 0)
                                return log_error_errno(e, "cannot create %s: %m", dir);
                }
        }
        log_info("create file %s, size %llu", file, (unsigned long long)size);
        _cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "cannot create %s: %m", file);
        if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
                e = -errno;
                unlink(file);
                return log_error_errno(e, "cannot size %s: %m", file);
        }
        return 0;
}

static int loop_start(struct om_res *r) {
        _cleanup_free_ char *file = NULL;
        char dev[64];
        int e = get_file(r, &file);
        if (e < 0)
                return e;
        if (om_res_loop_find(file, dev, sizeof(dev)) == 0) {
                log_info("loop %s is already up", file);
                return 0;
        }
        _cleanup_close_ int ffd = open(file, O_RDWR | O_CLOEXEC);
        if (ffd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", file);
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return log_error_errno(-errno, "cannot open /dev/loop-control: %m");

        /* another process may take the free device between GET_FREE and CONFIGURE */
        for (int attempt = 0; attempt < 16; attempt++) {
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return log_error_errno(-errno, "no free loop device: %m");
                snprintf(dev, sizeof(dev), "/dev/loop%d", n);
                _cleanup_close_ int lfd = open(dev, O_RDWR | O_CLOEXEC);
                if (lfd < 0) {
                        if (errno == ENOENT) {
                                usleep(10000); /* udev has not created the node yet */
                                continue;
                        }
                        return log_error_errno(-errno, "cannot open %s: %m", dev);
                }
                struct loop_config cfg = {.fd = (unsigned)ffd, .block_size = 0};
                snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", file);
                if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
                        log_info("%s now loops to %s", dev, file);
                        return 0;
                }
                if (errno != EBUSY)
                        return log_error_errno(-errno, "cannot configure %s over %s: %m", dev,
                                               file);
        }
        return log_error_errno(-EBUSY, "cannot find a free loop device for %s", file);
}

static int loop_stop(struct om_res *r) {
        _cleanup_free_ char *file = NULL;
        char dev[64];
        int e = get_file(r, &file);
        if (e < 0)
                return e;
        if (om_res_loop_find(file, dev, sizeof(dev)) < 0) {
                log_info("loop %s is already down", file);
                return 0;
        }
        /* the reference's words; done here with the LOOP_CLR_FD ioctl */
        log_info("/sbin/losetup -d %s", dev);
        _cleanup_close_ int lfd = open(dev, O_RDWR | O_CLOEXEC);
        if (lfd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", dev);
        if (ioctl(lfd, LOOP_CLR_FD, 0) < 0)
                return log_error_errno(-errno, "cannot detach %s: %m", dev);
        /* the kernel detaches when the last opener closes: us first, maybe udev then */
        close(OM_TAKE_FD(lfd));
        for (int i = 0; i < 100; i++) {
                char again[64];
                if (om_res_loop_find(file, again, sizeof(again)) < 0)
                        return 0;
                usleep(10000);
        }
        return log_error_errno(-EBUSY, "%s is still attached to %s (in use?)", dev, file);
}

static int loop_unprovision(struct om_res *r) {
        _cleanup_free_ char *file = NULL;
        int e = get_file(r, &file);
        if (e < 0)
                return e;
        if (access(file, F_OK) < 0) {
                log_info("%s is already removed", file);
                return 0;
        }
        log_info("remove %s", file);
        if ((e = om_unlink_sync(file)) < 0)
                return log_error_errno(e, "cannot remove %s: %m", file);
        return 0;
}

static int loop_devs(struct om_res *r, enum om_res_devs which, char ***ret, char *err,
                     size_t errlen) {
        _cleanup_free_ char *file = NULL;
        _cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
        char dev[64];
        if (!v)
                return -ENOMEM;
        int e = om_res_kw(r, "file", &file, err, errlen);
        if (e < 0)
                return e;
        if (which == OM_RES_DEVS_SUB) {
                *ret = OM_TAKE_PTR(v);
                return 0;
        }
        if (om_res_loop_find(file, dev, sizeof(dev)) < 0) {
                if (which == OM_RES_DEVS_BASE) {
                        /* the disk holding the file, attached or not */
                        om_strv_free(OM_TAKE_PTR(v));
                        return om_res_base_devs_of(file, ret);
                }
                snprintf(err, errlen, "%s is not up (no loop device over %s)", r->rid, file);
                return -ENXIO;
        }
        if (which == OM_RES_DEVS_BASE)
                return om_res_base_devs_of(dev, ret);
        if ((e = om_strv_push(&v, dev)) < 0)
                return e;
        *ret = OM_TAKE_PTR(v);
        return 0;
}

static char *loop_label(struct om_res *r) {
        _cleanup_free_ char *file = om_res_kw_label(r, "file");
        return om_asprintf("loop %s", file ? file : "");
}

static const char *const loop_keywords[] = {"file", "size", NULL};

const struct om_res_driver om_res_driver_loop = {
        .group = "disk",
        .type = "loop",
        .name = "disk.loop",
        .keywords = loop_keywords,
        .check = loop_check,
        .status = loop_status,
        .provisioned = loop_provisioned,
        .start = loop_start,
        .stop = loop_stop,
        .provision = loop_provision,
        .unprovision = loop_unprovision,
        .devs = loop_devs,
        .label = loop_label,
        .data = OM_RES_DATA_NODE,
};
