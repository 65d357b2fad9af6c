/*
 * Implementation of tombstone.h. A tombstone is tiny and written atomically; a file that
 * does not parse as one ("<ms>.<counter> <writer>", writer a valid node name) is reported
 * as -EBADMSG and never trusted.
 */
#include "core/tombstone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"

#define TOMBSTONE_MAX 256

char *om_tombstone_path(const struct om_path *p) {
        return om_asprintf("%s/tombstones/%s/%s/%s", om_dir_var(), p->ns,
                           om_kind_to_string(p->kind), p->name);
}

int om_tombstone_read(const struct om_path *p, struct om_version *ret) {
        _cleanup_free_ char *file = om_tombstone_path(p);
        _cleanup_free_ char *text = NULL;
        if (!file)
                return -ENOMEM;
        int r = om_read_file(file, TOMBSTONE_MAX, &text, NULL);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        char *s = om_strstrip(text);
        char *sp = strchr(s, ' ');
        if (!sp)
                return -EBADMSG;
        *sp = 0;
        struct om_version v = {0};
        const char *w = sp + 1;
        if (om_hlc_parse(s, &v.hlc) < 0 || !*w || strlen(w) >= sizeof(v.writer))
                return -EBADMSG;
        for (const char *c = w; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f)
                        return -EBADMSG;
        snprintf(v.writer, sizeof(v.writer), "%s", w);
        *ret = v;
        return 0;
}

int om_tombstone_write(const struct om_path *p, const struct om_version *v) {
        _cleanup_free_ char *file = om_tombstone_path(p);
        char hlc[64];
        if (!file)
                return -ENOMEM;
        om_hlc_format(v->hlc, hlc, sizeof(hlc));
        _cleanup_free_ char *text = om_asprintf("%s %s\n", hlc, v->writer);
        if (!text)
                return -ENOMEM;
        int r = om_mkdir_parents(file, 0755);
        if (r < 0)
                return r;
        return om_write_atomic(file, text, strlen(text), 0644);
}

int om_tombstone_remove(const struct om_path *p) {
        _cleanup_free_ char *file = om_tombstone_path(p);
        if (!file)
                return -ENOMEM;
        return om_unlink_sync(file);
}

int om_tombstone_list(struct om_path **ret, size_t *ret_n) {
        _cleanup_free_ char *root = om_asprintf("%s/tombstones", om_dir_var());
        if (!root)
                return -ENOMEM;
        return om_path_tree_list(root, "", NULL, ret, ret_n);
}

int om_tombstone_gc(uint64_t horizon) {
        _cleanup_free_ struct om_path *paths = NULL;
        size_t n = 0;
        int r = om_tombstone_list(&paths, &n), removed = 0;
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        for (size_t i = 0; i < n; i++) {
                struct om_version v;
                if (om_tombstone_read(&paths[i], &v) < 0 || v.hlc >= horizon)
                        continue;
                if (om_tombstone_remove(&paths[i]) == 0)
                        removed++;
        }
        return removed;
}
