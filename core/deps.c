/*
 * Implementation of deps.h. The loop search is a depth-first walk from the service over
 * one relation (parents, or children), the service's own edges from the config being
 * checked (not yet on disk at create or set), the others' from their configs on this
 * node; a service this node has no config of has no edges. The walk is bounded: at most
 * OM_DEPS_WALK_MAX services are visited.
 */
#include "core/deps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/object.h"

#define OM_DEPS_WALK_MAX 1024
#define OM_DEPS_DEPTH_MAX 64

int om_dep_path_parse(const char *word, const struct om_path *self, struct om_path *ret, char *err,
                      size_t errlen) {
        char buf[OM_PATH_STRMAX + 8];
        if (!strchr(word, '/')) {
                /* a bare name: a svc of the service's namespace */
                snprintf(buf, sizeof(buf), "%s/svc/%.*s", self->ns, OM_NAME_MAX + 1, word);
                word = buf;
        }
        struct om_path p;
        int r = om_path_parse(word, &p, err, errlen);
        if (r < 0)
                return r;
        if (p.kind != OM_KIND_SVC) {
                if (err)
                        snprintf(err, errlen, "'%s' is a %s object, not a svc", word,
                                 om_kind_to_string(p.kind));
                return -EINVAL;
        }
        *ret = p;
        return 0;
}

struct walk {
        const char *key;
        const struct om_path *root;
        const struct om_ini *root_ini;
        char stack[OM_DEPS_DEPTH_MAX][OM_PATH_STRMAX];
        size_t depth;
        char **done; /* services whose whole walk found no way back to root */
        size_t visited;
        char loop[OM_DEPS_DEPTH_MAX * OM_PATH_STRMAX];
};

/* The edges of p over w->key, as canonical paths (NULL-terminated, caller frees). */
static char **edges(struct walk *w, const struct om_path *p) {
        _cleanup_object_ struct om_object *o = NULL;
        const struct om_ini *ini = w->root_ini;
        char ps[OM_PATH_STRMAX], rs[OM_PATH_STRMAX];
        om_path_to_string(p, ps, sizeof(ps));
        om_path_to_string(w->root, rs, sizeof(rs));
        if (strcmp(ps, rs) != 0) {
                if (om_object_load(p, &o, NULL, 0) < 0)
                        return NULL;
                ini = o->ini;
        }
        const char *v = om_ini_get(ini, "DEFAULT", w->key, NULL);
        _cleanup_strv_free_ char **words = NULL;
        char **out = NULL;
        if (!v || om_strv_split(v, " \t,", &words) < 0)
                return NULL;
        for (size_t k = 0; words[k]; k++) {
                struct om_path d;
                char ds[OM_PATH_STRMAX];
                if (om_dep_path_parse(words[k], p, &d, NULL, 0) < 0)
                        continue;
                om_path_to_string(&d, ds, sizeof(ds));
                if (om_strv_push(&out, ds) < 0)
                        break;
        }
        return out;
}

/* True when a walk from p (on the stack at w->depth) leads back to the root: w->loop
 * names the loop then. */
static bool walk(struct walk *w, const struct om_path *p) {
        char ps[OM_PATH_STRMAX];
        om_path_to_string(p, ps, sizeof(ps));
        if (w->depth > 0 && strcmp(ps, w->stack[0]) == 0) {
                size_t n = 0;
                for (size_t k = 0; k < w->depth; k++)
                        n += (size_t)snprintf(w->loop + n, sizeof(w->loop) - n, "%s -> ",
                                              w->stack[k]);
                snprintf(w->loop + n, sizeof(w->loop) - n, "%s", ps);
                return true;
        }
        if (om_strv_contains(w->done, ps) || w->depth >= OM_DEPS_DEPTH_MAX ||
            ++w->visited > OM_DEPS_WALK_MAX)
                return false;
        for (size_t k = 1; k < w->depth; k++)
                if (strcmp(w->stack[k], ps) == 0)
                        return false; /* a loop that does not pass through the root */
        snprintf(w->stack[w->depth++], OM_PATH_STRMAX, "%s", ps);
        _cleanup_strv_free_ char **next = edges(w, p);
        bool found = false;
        for (size_t k = 0; next && next[k] && !found; k++) {
                struct om_path d;
                if (om_path_parse(next[k], &d, NULL, 0) == 0)
                        found = walk(w, &d);
        }
        w->depth--;
        if (!found)
                (void)om_strv_push(&w->done, ps);
        return found;
}

int om_deps_validate(const struct om_ini *ini, const struct om_path *p, const char *filename,
                     struct om_buf *report) {
        static const char *const keys[] = {"parents", "children"};
        const char *fn = filename ? filename : "<config>";
        int problems = 0;
        if (p->kind != OM_KIND_SVC)
                return 0;
        char self[OM_PATH_STRMAX];
        om_path_to_string(p, self, sizeof(self));
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                const struct om_ini_entry *e = om_ini_lookup(ini, "DEFAULT", keys[i], NULL);
                if (!e)
                        continue;
                _cleanup_strv_free_ char **words = NULL;
                if (om_strv_split(e->value, " \t,", &words) < 0)
                        return -ENOMEM;
                bool bad = false;
                for (size_t k = 0; words[k]; k++) {
                        struct om_path d;
                        char err[200], ds[OM_PATH_STRMAX];
                        if (om_dep_path_parse(words[k], p, &d, err, sizeof(err)) < 0) {
                                om_buf_printf(report, "%s:%u: [DEFAULT] %s: %s\n", fn, e->line,
                                              keys[i], err);
                                problems++;
                                bad = true;
                                continue;
                        }
                        if (strcmp(om_path_to_string(&d, ds, sizeof(ds)), self) == 0) {
                                om_buf_printf(report,
                                              "%s:%u: [DEFAULT] %s: '%s' is the service "
                                              "itself\n",
                                              fn, e->line, keys[i], words[k]);
                                problems++;
                                bad = true;
                        }
                }
                if (bad)
                        continue;
                struct walk *w = calloc(1, sizeof(*w));
                if (!w)
                        return -ENOMEM;
                w->key = keys[i];
                w->root = p;
                w->root_ini = ini;
                if (walk(w, p)) {
                        om_buf_printf(report, "%s:%u: [DEFAULT] %s loop: %s\n", fn, e->line,
                                      keys[i], w->loop);
                        problems++;
                }
                om_strv_free(w->done);
                free(w);
        }
        return problems;
}
