/*
 * Implementation of object.h.
 */
#include "core/object.h"

#include "core/deps.h"
#include "core/ref.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/keywords.h"
#include "core/paths.h"
#include "core/tombstone.h"
#include "core/util.h"

void om_object_free(struct om_object *o) {
        if (!o)
                return;
        om_ini_free(o->ini);
        free(o->file);
        free(o);
}

int om_object_new(const struct om_path *p, struct om_object **ret) {
        struct om_object *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->path = *p;
        om_path_to_string(p, o->pathstr, sizeof(o->pathstr));
        o->file = om_object_conf_path(p);
        o->ini = om_ini_new();
        if (!o->file || !o->ini) {
                om_object_free(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

int om_object_load(const struct om_path *p, struct om_object **ret, char *err, size_t errlen) {
        struct om_object *o;
        int r = om_object_new(p, &o);
        if (r < 0)
                return r;
        om_ini_free(o->ini);
        o->ini = NULL;
        if (p->kind == OM_KIND_SEC)
                r = om_ini_load_max(o->file, OM_INI_SEC_MAX_FILE, OM_INI_SEC_MAX_LINE, &o->ini, err,
                                    errlen);
        else
                r = om_ini_load(o->file, &o->ini, err, errlen);
        if (r == -ENOENT && err)
                snprintf(err, errlen, "object %s does not exist", o->pathstr);
        if (r < 0) {
                om_object_free(o);
                return r;
        }
        *ret = o;
        return 0;
}

bool om_object_exists(const struct om_path *p) {
        _cleanup_free_ char *file = om_object_conf_path(p);
        return file && access(file, F_OK) == 0;
}

static int write_text(struct om_object *o);

int om_object_write(struct om_object *o) {
        uint64_t hlc;
        char buf[64];
        int r = om_hlc_next(&hlc);
        if (r < 0)
                return r;
        om_hlc_format(hlc, buf, sizeof(buf));
        /* the metadata section goes last, out of the user's way */
        om_ini_remove_section(o->ini, OM_META_SECTION);
        if ((r = om_ini_set(o->ini, OM_META_SECTION, "version", NULL, buf)) < 0 ||
            (r = om_ini_set(o->ini, OM_META_SECTION, "writer", NULL, om_nodename())) < 0)
                return r;
        return write_text(o);
}

int om_object_rewrite(struct om_object *o) {
        return write_text(o);
}

static int write_text(struct om_object *o) {
        int r;
        _cleanup_free_ char *text = om_ini_format(o->ini);
        if (!text)
                return -ENOMEM;
        /* Never write what om_object_load cannot read back: formatting adds " = ", the
         * indentation of continuation lines and the [om] section, which can push a line
         * over 64 KiB or the file over 1 MiB. */
        _cleanup_ini_ struct om_ini *check = NULL;
        if (o->path.kind == OM_KIND_SEC)
                r = om_ini_parse_max(text, strlen(text), o->file, OM_INI_SEC_MAX_FILE,
                                     OM_INI_SEC_MAX_LINE, &check, NULL, 0);
        else
                r = om_ini_parse(text, strlen(text), o->file, &check, NULL, 0);
        if (r < 0)
                return r == -ENOMEM ? r : -EFBIG;
        mode_t mode = o->path.kind == OM_KIND_SEC ? 0600 : 0644;
        return om_write_atomic(o->file, text, strlen(text), mode);
}

void om_object_version(const struct om_object *o, struct om_version *ret) {
        *ret = (struct om_version){0};
        const char *v = om_ini_get(o->ini, OM_META_SECTION, "version", NULL);
        const char *w = om_ini_get(o->ini, OM_META_SECTION, "writer", NULL);
        if (v)
                om_hlc_parse(v, &ret->hlc);
        if (w)
                snprintf(ret->writer, sizeof(ret->writer), "%s", w);
}

static void kw_name(const struct om_kw_ref *k, char *buf, size_t len) {
        snprintf(buf, len, "%s.%s%s%s", k->section, k->key, k->scope[0] ? "@" : "", k->scope);
}

/* Applies one change to o's config; an unset is checked here, against the config as the
 * changes before it left it (a set is checked once every change is applied: its
 * section's type may come later in the list). */
static int apply_change(struct om_object *o, const struct om_kw_change *c, char *err,
                        size_t errlen) {
        const struct om_kw_ref *k = &c->kw;
        const char *scope = k->scope[0] ? k->scope : NULL;
        char name[200], why[256];
        kw_name(k, name, sizeof(name));
        if (strcmp(k->section, OM_META_SECTION) == 0) {
                snprintf(err, errlen,
                         "%s: section [%s] is reserved for om (the object's version and writer)",
                         name, OM_META_SECTION);
                return -EPERM;
        }
        if (o->path.kind == OM_KIND_SEC && strcmp(k->section, "data") == 0) {
                if (c->value)
                        snprintf(err, errlen,
                                 "%s: [data] holds sealed values: store one with om %s add "
                                 "--key %s (or change --key %s) --from FILE",
                                 name, o->pathstr, k->key, k->key);
                else
                        snprintf(err, errlen,
                                 "%s: [data] holds sealed values: remove one with om %s remove "
                                 "--key %s",
                                 name, o->pathstr, k->key);
                return -EPERM;
        }
        if (c->value)
                return om_ini_set(o->ini, k->section, k->key, scope, c->value);

        struct om_ini_section *s = om_ini_find_section(o->ini, k->section);
        int r = om_ini_unset(o->ini, k->section, k->key, scope);
        if (r < 0)
                return r;
        if (r == 0 &&
            !om_keyword_lookup(o->ini, o->path.kind, k->section, k->key, why, sizeof(why))) {
                /* absent and unknown: a typo, not a no-op */
                snprintf(err, errlen, "%s: %s", name, why);
                return -EINVAL;
        }
        if (s && s->n_entries == 0)
                om_ini_remove_section(o->ini, k->section);
        return 0;
}

static int check_set(const struct om_object *o, const struct om_kw_change *c, char *err,
                     size_t errlen) {
        const struct om_kw_ref *k = &c->kw;
        char name[200], why[256];
        kw_name(k, name, sizeof(name));
        const struct om_keyword *kw =
                om_keyword_lookup(o->ini, o->path.kind, k->section, k->key, why, sizeof(why));
        int r = -EINVAL;
        if (!kw)
                snprintf(err, errlen, "%s: %s", name, why);
        else if (k->scope[0] && !(kw->flags & OM_KWF_SCOPABLE))
                snprintf(err, errlen, "%s: keyword '%s' cannot be scoped to a node", name, k->key);
        else if (om_keyword_check_value(kw, c->value, why, sizeof(why)) < 0 ||
                 om_ini_check_value(c->value, why, sizeof(why)) < 0)
                snprintf(err, errlen, "%s: %s", name, why);
        else
                r = 0;
        return r;
}

int om_object_config_check(const struct om_ini *ini, const struct om_path *p, const char *filename,
                           struct om_buf *report) {
        int problems = om_config_validate(ini, p->kind, filename, report);
        if (problems < 0)
                return problems;
        int refs = om_ref_validate(ini, p, filename, report);
        if (refs < 0)
                return refs;
        int deps = om_deps_validate(ini, p, filename, report);
        return deps < 0 ? deps : problems + refs + deps;
}

int om_object_edit(const struct om_path *p, const struct om_kw_change *changes, size_t n,
                   struct om_buf *report, char *err, size_t errlen) {
        char pathstr[OM_PATH_STRMAX];
        om_path_to_string(p, pathstr, sizeof(pathstr));
        /* before the lock, whose file would create the object's var dir */
        if (!om_object_exists(p)) {
                snprintf(err, errlen, "object %s does not exist", pathstr);
                return -ENOENT;
        }
        _cleanup_close_ int lock = -1;
        int r = om_object_lock(p, &lock);
        if (r < 0) {
                snprintf(err, errlen, "cannot lock %s: %s", pathstr, strerror(-r));
                return r;
        }
        /* loaded under the lock: a concurrent writer's change is in what we load */
        _cleanup_object_ struct om_object *o = NULL;
        if ((r = om_object_load(p, &o, err, errlen)) < 0)
                return r;
        /* om_object_write stamps a new [om] last: without it now, a section the changes
         * create lands where the file will have it */
        om_ini_remove_section(o->ini, OM_META_SECTION);
        _cleanup_free_ char *before = om_ini_format(o->ini);
        if (!before)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++)
                if ((r = apply_change(o, &changes[i], err, errlen)) < 0)
                        return r;
        for (size_t i = 0; i < n; i++)
                if (changes[i].value && (r = check_set(o, &changes[i], err, errlen)) < 0)
                        return r;

        _cleanup_free_ char *after = om_ini_format(o->ini);
        if (!after)
                return -ENOMEM;
        if (strcmp(before, after) == 0)
                return 0;

        /* validate what the file would hold, so the report's line numbers are its lines */
        _cleanup_free_ char *label = om_asprintf("%s (changed)", o->file);
        _cleanup_ini_ struct om_ini *check = NULL;
        if (!label)
                return -ENOMEM;
        bool sec = p->kind == OM_KIND_SEC;
        r = om_ini_parse_max(after, strlen(after), label,
                             sec ? OM_INI_SEC_MAX_FILE : OM_INI_MAX_FILE,
                             sec ? OM_INI_SEC_MAX_LINE : OM_INI_MAX_LINE, &check, err, errlen);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(err, errlen,
                         "once formatted, the config would have a line over "
                         "64 KiB or be over its size limit");
                return -EFBIG;
        }
        int problems = om_object_config_check(check, p, label, report);
        if (problems < 0)
                return problems;
        if (problems > 0) {
                snprintf(err, errlen, "the changed config has %d problem%s", problems,
                         problems > 1 ? "s" : "");
                return -EBADMSG;
        }
        if ((r = om_object_write(o)) < 0) {
                if (r == -EFBIG)
                        snprintf(err, errlen,
                                 "once formatted, the config would have a line "
                                 "over 64 KiB or be over its size limit");
                else
                        snprintf(err, errlen, "cannot write %s: %s", o->file, strerror(-r));
                return r;
        }
        return 1;
}

int om_object_lock(const struct om_path *p, int *ret_fd) {
        _cleanup_free_ char *dir = om_object_var_path(p);
        _cleanup_free_ char *lock = dir ? om_asprintf("%s/config.lock", dir) : NULL;
        if (!lock)
                return -ENOMEM;
        return om_lock_file(lock, true, ret_fd);
}

static int rm_rf(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                DIR *d = opendir(path);
                if (!d)
                        return -errno;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                                continue;
                        _cleanup_free_ char *sub = om_asprintf("%s/%s", path, de->d_name);
                        if (sub)
                                rm_rf(sub);
                }
                closedir(d);
                return rmdir(path) < 0 ? -errno : 0;
        }
        return unlink(path) < 0 ? -errno : 0;
}

int om_object_delete(const struct om_path *p) {
        /* the tombstone first: a crash in between leaves a deletion newer than the file */
        if (om_object_exists(p)) {
                struct om_version v = {0};
                int r = om_hlc_next(&v.hlc);
                if (r < 0)
                        return r;
                snprintf(v.writer, sizeof(v.writer), "%s", om_nodename());
                if ((r = om_tombstone_write(p, &v)) < 0)
                        return r;
        }
        return om_object_remove(p);
}

int om_object_remove(const struct om_path *p) {
        _cleanup_free_ char *file = om_object_conf_path(p);
        _cleanup_free_ char *var = om_object_var_path(p);
        if (!file || !var)
                return -ENOMEM;
        int r = om_unlink_sync(file);
        if (r < 0)
                return r;
        rm_rf(var);
        return 0;
}

static int cmp_path(const void *a, const void *b) {
        char x[OM_PATH_STRMAX], y[OM_PATH_STRMAX];
        return strcmp(om_path_to_string(a, x, sizeof(x)), om_path_to_string(b, y, sizeof(y)));
}

int om_path_tree_list(const char *root, const char *suffix, const char *selector,
                      struct om_path **ret, size_t *ret_n) {
        struct om_path *v = NULL;
        size_t n = 0, slen = strlen(suffix);
        bool all = !selector || !strcmp(selector, "*") || !strcmp(selector, "**");

        DIR *nsd = opendir(root);
        struct dirent *ns;
        while (nsd && (ns = readdir(nsd))) {
                if (!om_name_valid(ns->d_name, NULL, 0))
                        continue;
                for (int k = 0; k < _OM_KIND_MAX; k++) {
                        _cleanup_free_ char *kd =
                                om_asprintf("%s/%s/%s", root, ns->d_name, om_kind_to_string(k));
                        DIR *d = kd ? opendir(kd) : NULL;
                        struct dirent *de;
                        while (d && (de = readdir(d))) {
                                size_t len = strlen(de->d_name);
                                if (len <= slen || len - slen > OM_NAME_MAX ||
                                    !om_endswith(de->d_name, suffix))
                                        continue;
                                struct om_path p = {.kind = k};
                                snprintf(p.ns, sizeof(p.ns), "%s", ns->d_name);
                                memcpy(p.name, de->d_name, len - slen);
                                p.name[len - slen] = 0;
                                if (!om_name_valid(p.name, NULL, 0) ||
                                    (!all && !om_selector_match(selector, &p)))
                                        continue;
                                struct om_path *nv = realloc(v, (n + 1) * sizeof(*v));
                                if (!nv) {
                                        closedir(d);
                                        closedir(nsd);
                                        free(v);
                                        return -ENOMEM;
                                }
                                v = nv;
                                v[n++] = p;
                        }
                        if (d)
                                closedir(d);
                }
        }
        if (nsd)
                closedir(nsd);
        if (n)
                qsort(v, n, sizeof(*v), cmp_path);
        *ret = v;
        *ret_n = n;
        return 0;
}

int om_object_list(const char *selector, struct om_path **ret, size_t *ret_n) {
        _cleanup_free_ char *root = om_asprintf("%s/namespaces", om_dir_etc());
        if (!root)
                return -ENOMEM;
        return om_path_tree_list(root, ".conf", selector, ret, ret_n);
}

struct om_ref_ctx om_object_ref_ctx(const struct om_object *o) {
        return (struct om_ref_ctx){
                .path = &o->path,
                .ini = o->ini,
        };
}
