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

int om_hlc_parse(const char *s, uint64_t *ret) {
        unsigned long long ms, c;
        int n = 0;
        if (sscanf(s, "%llu.%llu%n", &ms, &c, &n) != 2 || s[n] || c > 0xffff ||
            ms > (UINT64_MAX >> 16))
                return -EINVAL;
        *ret = (uint64_t)ms << 16 | c;
        return 0;
}

int om_version_compare(const struct om_version *a, const struct om_version *b) {
        if (a->hlc != b->hlc)
                return a->hlc < b->hlc ? -1 : 1;
        return strcmp(a->writer, b->writer);
}
