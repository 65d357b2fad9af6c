/*
 * Implementation of pr.h: key derivation, the PERSISTENT RESERVE IN command and its
 * parameter data, sense data, and the kernel's PR ioctls. Nothing here decides when to
 * reserve or preempt: the drivers do (res_crypt.c).
 */
#include "resources/pr.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/pr.h>
#include <scsi/sg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/clusterconf.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/cleanup.h"

#define SCSI_STATUS_CHECK_CONDITION 0x02
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SENSE_UNIT_ATTENTION 0x6
#define SENSE_ILLEGAL_REQUEST 0x5

uint64_t om_pr_key(const char *cluster, const char *node) {
        static const char domain[] = "om scsireserv key";
        crypto_generichash_state st;
        uint8_t out[8];
        crypto_generichash_init(&st, NULL, 0, sizeof(out));
        crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
        crypto_generichash_update(&st, (const uint8_t *)cluster, strlen(cluster) + 1);
        crypto_generichash_update(&st, (const uint8_t *)node, strlen(node) + 1);
        crypto_generichash_final(&st, out, sizeof(out));
        uint64_t k = 0;
        for (size_t i = 0; i < sizeof(out); i++)
                k = k << 8 | out[i];
        return k ? k : 1;
}

uint64_t om_pr_key_local(void) {
        return om_pr_key(om_cluster_name(), om_nodename());
}

void om_pr_key_format(uint64_t key, char buf[19]) {
        snprintf(buf, 19, "0x%016" PRIx64, key);
}

bool om_pr_key_node(uint64_t key, char *buf, size_t len) {
        const char *cluster = om_cluster_name();
        if (om_pr_key(cluster, om_nodename()) == key) {
                snprintf(buf, len, "%s", om_nodename());
                return true;
        }
        _cleanup_ini_ struct om_ini *ini = NULL;
        if (om_clusterconf_load(&ini, NULL, 0) < 0)
                return false;
        const char *nodes = om_ini_get(ini, "cluster", "nodes", NULL);
        _cleanup_strv_free_ char **v = NULL;
        if (!nodes || om_strv_split(nodes, " ,", &v) < 0)
                return false;
        for (char **n = v; n && *n; n++)
                if (om_pr_key(cluster, *n) == key) {
                        snprintf(buf, len, "%s", *n);
                        return true;
                }
        return false;
}

void om_pr_in_cdb(uint8_t sa, uint16_t alloc, uint8_t cdb[10]) {
        memset(cdb, 0, 10);
        cdb[0] = 0x5e;
        cdb[1] = sa & 0x1f;
        cdb[7] = (uint8_t)(alloc >> 8);
        cdb[8] = (uint8_t)alloc;
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) {
        return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int om_pr_parse_keys(const uint8_t *buf, size_t len, struct om_pr_state *st) {
        if (len < 8)
                return -EBADMSG;
        uint32_t add = be32(buf + 4);
        if (add % 8)
                return -EBADMSG;
        st->generation = be32(buf);
        st->n_keys = 0;
        st->truncated = false;
        size_t have = (len - 8) / 8, announced = add / 8;
        for (size_t i = 0; i < announced; i++) {
                if (i >= have || st->n_keys >= OM_PR_MAX_KEYS) {
                        st->truncated = true;
                        break;
                }
                st->keys[st->n_keys++] = be64(buf + 8 + 8 * i);
        }
        return 0;
}

int om_pr_parse_reservation(const uint8_t *buf, size_t len, struct om_pr_state *st) {
        if (len < 8)
                return -EBADMSG;
        uint32_t add = be32(buf + 4);
        st->generation = be32(buf);
        st->held = false;
        st->holder = 0;
        st->type = 0;
        if (add == 0)
                return 0;
        if (add < 16 || len < 24)
                return -EBADMSG;
        st->held = true;
        st->holder = be64(buf + 8);
        st->type = buf[21] & 0x0f;
        return 0;
}

int om_pr_sense_key(const uint8_t *sense, size_t len) {
        if (len < 2)
                return -1;
        uint8_t code = sense[0] & 0x7f;
        if (code == 0x70 || code == 0x71)
                return len >= 3 ? sense[2] & 0x0f : -1;
        if (code == 0x72 || code == 0x73)
                return sense[1] & 0x0f;
        return -1;
}

static const char *const sense_keys[16] = {
        "NO SENSE",       "RECOVERED ERROR", "NOT READY",      "MEDIUM ERROR",
        "HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
        "BLANK CHECK",    "VENDOR SPECIFIC", "COPY ABORTED",   "ABORTED COMMAND",
        "sense key 0xc",  "VOLUME OVERFLOW", "MISCOMPARE",     "sense key 0xf",
};

static const struct {
        uint8_t asc, ascq;
        const char *text;
} asc_texts[] = {
        {0x20, 0x00, "invalid command operation code"},
        {0x24, 0x00, "invalid field in cdb"},
        {0x25, 0x00, "logical unit not supported"},
        {0x26, 0x00, "invalid field in parameter list"},
        {0x29, 0x00, "power on, reset, or bus device reset occurred"},
        {0x2a, 0x03, "reservations preempted"},
        {0x2a, 0x04, "reservations released"},
        {0x2a, 0x05, "registrations preempted"},
        {0x3a, 0x00, "medium not present"},
        {0x55, 0x02, "insufficient registration resources"},
};

void om_pr_sense_format(const uint8_t *sense, size_t len, char *buf, size_t buflen) {
        int key = om_pr_sense_key(sense, len);
        if (key < 0) {
                snprintf(buf, buflen, "no sense data");
                return;
        }
        uint8_t code = sense[0] & 0x7f, asc = 0, ascq = 0;
        if (code >= 0x72 && len >= 4) {
                asc = sense[2];
                ascq = sense[3];
        } else if (code < 0x72 && len >= 14) {
                asc = sense[12];
                ascq = sense[13];
        }
        const char *text = NULL;
        for (size_t i = 0; i < sizeof(asc_texts) / sizeof(asc_texts[0]); i++)
                if (asc_texts[i].asc == asc && asc_texts[i].ascq == ascq)
                        text = asc_texts[i].text;
        snprintf(buf, buflen, "%s, asc/ascq 0x%02x/0x%02x%s%s%s", sense_keys[key], asc, ascq,
                 text ? " (" : "", text ? text : "", text ? ")" : "");
}

int om_pr_ioctl_result(int rv, int err, const char **what) {
        const char *w = NULL;
        int e = 0;
        if (rv < 0) {
                e = -err;
                w = err == EBADE ? "reservation conflict" : strerror(err);
        } else if (rv > 0) {
                if ((rv & 0xff) == SCSI_STATUS_RESERVATION_CONFLICT) {
                        e = -EBADE;
                        w = "reservation conflict";
                } else if ((rv & 0xff) == SCSI_STATUS_CHECK_CONDITION) {
                        e = -EIO;
                        w = "CHECK CONDITION (the kernel log has the sense data)";
                } else {
                        e = -EIO;
                        w = "SCSI error";
                }
        }
        if (what)
                *what = w;
        return e;
}

/* One PERSISTENT RESERVE IN through SG_IO; a unit attention is retried (a preempt by
 * another node, a reset: the command itself is fine). */
static int pr_in(int fd, const char *dev, uint8_t sa, uint8_t *buf, uint16_t len, size_t *ret_len,
                 char *err, size_t errlen) {
        for (int attempt = 0; attempt < 4; attempt++) {
                uint8_t cdb[10], sense[64] = {0};
                om_pr_in_cdb(sa, len, cdb);
                struct sg_io_hdr io = {
                        .interface_id = 'S',
                        .dxfer_direction = SG_DXFER_FROM_DEV,
                        .cmd_len = sizeof(cdb),
                        .mx_sb_len = sizeof(sense),
                        .dxfer_len = len,
                        .dxferp = buf,
                        .cmdp = cdb,
                        .sbp = sense,
                        .timeout = 20000,
                };
                if (ioctl(fd, SG_IO, &io) < 0) {
                        int e = -errno;
                        if (e == -ENOTTY || e == -EINVAL || e == -EOPNOTSUPP)
                                snprintf(err, errlen,
                                         "%s is not a SCSI device: no persistent reservations "
                                         "(SG_IO: %s)",
                                         dev, strerror(-e));
                        else
                                snprintf(err, errlen, "PERSISTENT RESERVE IN on %s: %s", dev,
                                         strerror(-e));
                        return e == -ENOTTY || e == -EINVAL ? -EOPNOTSUPP : e;
                }
                if (io.sb_len_wr > 0 || io.masked_status) {
                        int key = om_pr_sense_key(sense, io.sb_len_wr);
                        if (key == SENSE_UNIT_ATTENTION)
                                continue;
                        char s[160];
                        om_pr_sense_format(sense, io.sb_len_wr, s, sizeof(s));
                        snprintf(err, errlen,
                                 "%s does not support persistent reservations: PERSISTENT "
                                 "RESERVE IN answered status 0x%02x, %s",
                                 dev, io.status, s);
                        return key == SENSE_ILLEGAL_REQUEST ? -EOPNOTSUPP : -EIO;
                }
                if (io.host_status || io.driver_status) {
                        snprintf(err, errlen,
                                 "PERSISTENT RESERVE IN on %s failed: host status 0x%x, driver "
                                 "status 0x%x",
                                 dev, io.host_status, io.driver_status);
                        return -EIO;
                }
                *ret_len = (size_t)(len - OM_MAX(io.resid, 0));
                return 0;
        }
        snprintf(err, errlen, "PERSISTENT RESERVE IN on %s: unit attention after 4 attempts", dev);
        return -EIO;
}

static int open_dev(const char *dev, int flags, char *err, size_t errlen) {
        int fd = open(dev, flags | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                int e = -errno;
                snprintf(err, errlen, "cannot open %s: %s", dev, strerror(-e));
                return e;
        }
        return fd;
}

int om_pr_read(const char *dev, struct om_pr_state *ret, char *err, size_t errlen) {
        _cleanup_close_ int fd = open_dev(dev, O_RDONLY, err, errlen);
        if (fd < 0)
                return fd;
        struct om_pr_state st = {0};
        uint8_t buf[8 + 8 * OM_PR_MAX_KEYS];
        size_t n;
        int e = pr_in(fd, dev, OM_PR_IN_READ_KEYS, buf, sizeof(buf), &n, err, errlen);
        if (e < 0)
                return e;
        if (om_pr_parse_keys(buf, n, &st) < 0) {
                snprintf(err, errlen, "%s: malformed READ KEYS data (%zu bytes)", dev, n);
                return -EBADMSG;
        }
        e = pr_in(fd, dev, OM_PR_IN_READ_RESERVATION, buf, 24, &n, err, errlen);
        if (e < 0)
                return e;
        if (om_pr_parse_reservation(buf, n, &st) < 0) {
                snprintf(err, errlen, "%s: malformed READ RESERVATION data (%zu bytes)", dev, n);
                return -EBADMSG;
        }
        *ret = st;
        return 0;
}

static int pr_ioctl(const char *dev, unsigned long req, void *arg, const char *name, char *err,
                    size_t errlen) {
        _cleanup_close_ int fd = open_dev(dev, O_RDONLY, err, errlen);
        if (fd < 0)
                return fd;
        int rv = ioctl(fd, req, arg);
        const char *what = NULL;
        int e = om_pr_ioctl_result(rv, errno, &what);
        if (e < 0) {
                if (e == -ENOTTY || e == -EOPNOTSUPP)
                        snprintf(err, errlen,
                                 "%s on %s: %s: the device has no persistent "
                                 "reservations",
                                 name, dev, what);
                else
                        snprintf(err, errlen, "%s on %s: %s", name, dev, what);
        }
        return e;
}

int om_pr_register(const char *dev, uint64_t key, char *err, size_t errlen) {
        struct pr_registration r = {.old_key = 0, .new_key = key, .flags = PR_FL_IGNORE_KEY};
        return pr_ioctl(dev, IOC_PR_REGISTER, &r, "REGISTER", err, errlen);
}

int om_pr_unregister(const char *dev, uint64_t key, char *err, size_t errlen) {
        struct pr_registration r = {.old_key = key, .new_key = 0};
        return pr_ioctl(dev, IOC_PR_REGISTER, &r, "REGISTER (remove)", err, errlen);
}

int om_pr_reserve(const char *dev, uint64_t key, char *err, size_t errlen) {
        struct pr_reservation r = {.key = key, .type = PR_WRITE_EXCLUSIVE_REG_ONLY};
        return pr_ioctl(dev, IOC_PR_RESERVE, &r, "RESERVE", err, errlen);
}

int om_pr_release(const char *dev, uint64_t key, char *err, size_t errlen) {
        struct pr_reservation r = {.key = key, .type = PR_WRITE_EXCLUSIVE_REG_ONLY};
        return pr_ioctl(dev, IOC_PR_RELEASE, &r, "RELEASE", err, errlen);
}

int om_pr_preempt_abort(const char *dev, uint64_t key, uint64_t victim, char *err, size_t errlen) {
        struct pr_preempt p = {
                .old_key = key, .new_key = victim, .type = PR_WRITE_EXCLUSIVE_REG_ONLY};
        return pr_ioctl(dev, IOC_PR_PREEMPT_ABORT, &p, "PREEMPT AND ABORT", err, errlen);
}

int om_pr_clear(const char *dev, uint64_t key, char *err, size_t errlen) {
        struct pr_clear c = {.key = key};
        return pr_ioctl(dev, IOC_PR_CLEAR, &c, "CLEAR", err, errlen);
}
