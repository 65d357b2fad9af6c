/*
 * Implementation of hlc.h.
 */
#include "core/hlc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/paths.h"
#include "core/util.h"

/* Reads the persisted value under the lock, applies f, writes it back. */
static int update(uint64_t remote, uint64_t *ret) {
        _cleanup_free_ char *file = om_asprintf("%s/hlc", om_dir_var());
        _cleanup_free_ char *lock = om_asprintf("%s/hlc.lock", om_dir_var());
        if (!file || !lock)
                return -ENOMEM;
        _cleanup_close_ int fd = -1;
        int r = om_lock_file(lock, true, &fd);
        if (r < 0)
                return r;
        uint64_t last = 0;
        _cleanup_free_ char *text = NULL;
        if (om_read_file(file, 64, &text, NULL) == 0)
                om_hlc_parse(om_strstrip(text), &last);
        if (OM_MAX(last, remote) == UINT64_MAX)
                return -EOVERFLOW; /* +1 would wrap to the past */
        uint64_t wall = om_now_ms() << 16;
        uint64_t v = OM_MAX(wall, OM_MAX(last, remote) + 1);
        char buf[64];
        om_hlc_format(v, buf, sizeof(buf));
        strcat(buf, "\n");
        r = om_write_atomic(file, buf, strlen(buf), 0644);
        if (r < 0)
                return r;
        if (ret)
                *ret = v;
        return 0;
}

int om_hlc_next(uint64_t *ret) {
        return update(0, ret);
}

int om_hlc_observe(uint64_t remote) {
        return update(remote, NULL);
}

void om_hlc_format(uint64_t hlc, char *buf, size_t len) {
        snprintf(buf, len, "%" PRIu64 ".%" PRIu64, hlc >> 16, hlc & 0xffff);
}

/* Digits only: sscanf's %llu would also take white space, a sign and wrap negatives. */
static const char *parse_digits(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        const char *p = s;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (max - (uint64_t)(*p - '0')) / 10)
                        return NULL;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (p == s)
                return NULL;
        *ret = v;
        return p;
}

int om_hlc_parse(const char *s, uint64_t *ret) {
        uint64_t ms, c;
        const char *p = parse_digits(s, UINT64_MAX >> 16, &ms);
        if (!p || *p != '.' || !(p = parse_digits(p + 1, 0xffff, &c)) || *p)
                return -EINVAL;
        *ret = (uint64_t)ms << 16 | c;
        return 0;
}

int om_version_compare(const struct om_version *a, const struct om_version *b) {
        if (a->hlc != b->hlc)
                return a->hlc < b->hlc ? -1 : 1;
        return strcmp(a->writer, b->writer);
}
