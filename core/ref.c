/*
 * Implementation of ref.h. Expansion is a single left-to-right scan; keyword references
 * recurse through om_ref_eval with the chain of keywords being expanded, which is how
 * loops are found (and reported with the whole chain).
 */
#include "core/ref.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clusterconf.h"
#include "core/keywords.h"
#include "core/paths.h"
#include "core/util.h"

#define MAX_DEPTH 16
/* Bounds on the work of one expansion: without them, ten keywords each naming the next
 * one ten times expand 10^10 references (a config that hangs every node it reaches). */
#define MAX_REFS 10000
#define MAX_EXPANDED OM_INI_MAX_FILE

struct chain {
        const char *items[MAX_DEPTH];
        size_t n;
        size_t refs; /* references resolved so far, across the whole expansion */
};

static int expand(const struct om_ref_ctx *ctx, const char *value, struct chain *ch, char **ret,
                  char *err, size_t errlen);

static int eval(const struct om_ref_ctx *ctx, const char *section, const char *key,
                struct chain *ch, char **ret, char *err, size_t errlen) {
        char id[300];
        snprintf(id, sizeof(id), "%s.%s", section, key);
        for (size_t i = 0; i < ch->n; i++)
                if (strcmp(ch->items[i], id) == 0) {
                        struct om_buf b = {0};
                        for (size_t j = i; j < ch->n; j++)
                                om_buf_printf(&b, "%s -> ", ch->items[j]);
                        snprintf(err, errlen, "reference loop: %s%s", b.data ? b.data : "", id);
                        om_buf_free(&b);
                        return -ELOOP;
                }
        if (ch->n >= MAX_DEPTH) {
                snprintf(err, errlen, "references nested deeper than %d at %s", MAX_DEPTH, id);
                return -ELOOP;
        }

        const char *node = ctx->nodename ? ctx->nodename : om_nodename();
        const char *raw = om_ini_get(ctx->ini, section, key, node);
        if (!raw) {
                char group[64], index[64];
                const char *type = om_ini_get(ctx->ini, section, "type", node);
                if (om_section_split(section, group, sizeof(group), index, sizeof(index)) == 0) {
                        const struct om_keyword *kw = om_keyword_find(group, type, key);
                        if (kw)
                                raw = kw->default_value;
                }
        }
        if (!raw) {
                snprintf(err, errlen, "%s is not set", id);
                return -ENOENT;
        }

        ch->items[ch->n++] = id;
        struct om_ref_ctx sub = *ctx;
        if (strcmp(section, "DEFAULT") != 0)
                sub.section = section;
        int r = expand(&sub, raw, ch, ret, err, errlen);
        ch->n--;
        return r;
}

/* Splits "word[3]" into word and index (-1 when none). */
static int split_index(char *s, long *ret_index) {
        char *br = strchr(s, '[');
        *ret_index = -1;
        if (!br)
                return 0;
        size_t n = strlen(br);
        if (n < 3 || br[n - 1] != ']')
                return -EINVAL;
        br[n - 1] = 0;
        long long v;
        if (om_parse_int(br + 1, 0, 1 << 20, &v) < 0)
                return -EINVAL;
        *br = 0;
        *ret_index = (long)v;
        return 0;
}

static int pick_word(const char *value, long index, const char *ref, char **ret, char *err,
                     size_t errlen) {
        if (index < 0) {
                *ret = strdup(value);
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_strv_free_ char **words = NULL;
        int r = om_strv_split(value, " \t\n", &words);
        if (r < 0)
                return r;
        if ((size_t)index >= om_strv_length(words)) {
                snprintf(err, errlen, "reference {%s}: index %ld out of range (%zu items)", ref,
                         index, om_strv_length(words));
                return -EINVAL;
        }
        *ret = strdup(words[index]);
        return *ret ? 0 : -ENOMEM;
}

static int builtin(const struct om_ref_ctx *ctx, const char *word, char **ret) {
        const struct om_path *p = ctx->path;
        char buf[OM_PATH_STRMAX];
        const char *cluster = ctx->clustername ? ctx->clustername : om_cluster_name();
        const char *v = NULL;
        char *alloc = NULL;

        if (!strcmp(word, "name") || !strcmp(word, "svcname"))
                v = p->name;
        else if (!strcmp(word, "namespace"))
                v = p->ns;
        else if (!strcmp(word, "kind"))
                v = om_kind_to_string(p->kind);
        else if (!strcmp(word, "path"))
                v = om_path_to_string(p, buf, sizeof(buf));
        else if (!strcmp(word, "nodename"))
                v = ctx->nodename ? ctx->nodename : om_nodename();
        else if (!strcmp(word, "clustername"))
                v = cluster;
        else if (!strcmp(word, "fqdn"))
                v = alloc = om_path_fqdn(p, cluster);
        else if (!strcmp(word, "etc"))
                v = om_dir_etc();
        else if (!strcmp(word, "var"))
                v = om_dir_var();
        else if (!strcmp(word, "rid") && ctx->section)
                v = ctx->section;
        else if (!strcmp(word, "rindex") && ctx->section && strchr(ctx->section, '#'))
                v = strchr(ctx->section, '#') + 1;
        else
                return 0;
        if (alloc) {
                *ret = alloc;
                return 1;
        }
        *ret = strdup(v);
        return *ret ? 1 : -ENOMEM;
}

static bool is_devs_word(const char *w) {
        return !strcmp(w, "exposed_devs") || !strcmp(w, "sub_devs") || !strcmp(w, "base_devs");
}

/* Resolves the text between braces. */
static int resolve(const struct om_ref_ctx *ctx, const char *ref, struct chain *ch, char **ret,
                   char *err, size_t errlen) {
        _cleanup_free_ char *copy = strdup(ref);
        if (!copy)
                return -ENOMEM;
        char *dot = strchr(copy, '.');
        long index;

        if (!dot) {
                if (split_index(copy, &index) < 0) {
                        snprintf(err, errlen, "malformed reference {%s}", ref);
                        return -EINVAL;
                }
                _cleanup_free_ char *v = NULL;
                int r = builtin(ctx, copy, &v);
                if (r < 0)
                        return r;
                if (r == 0) {
                        /* a bare object keyword: {nodes}, {topology} */
                        if (!om_keyword_find("DEFAULT", NULL, copy)) {
                                snprintf(err, errlen, "unknown reference {%s}", ref);
                                return -EINVAL;
                        }
                        r = eval(ctx, "DEFAULT", copy, ch, &v, err, errlen);
                        if (r < 0)
                                return r;
                }
                return pick_word(v, index, ref, ret, err, errlen);
        }

        *dot = 0;
        char *section = copy, *key = dot + 1;
        if (split_index(key, &index) < 0 || !*section || !*key) {
                snprintf(err, errlen, "malformed reference {%s}", ref);
                return -EINVAL;
        }
        if (is_devs_word(key)) {
                if (!om_ini_find_section(ctx->ini, section)) {
                        snprintf(err, errlen, "reference {%s}: no resource %s", ref, section);
                        return -EINVAL;
                }
                char why[256] = "";
                _cleanup_strv_free_ char **devs = NULL;
                int r = ctx->devs ? ctx->devs(ctx->userdata, section, key, &devs, why, sizeof(why))
                                  : -ENXIO;
                if (r < 0) {
                        snprintf(err, errlen, "reference {%s}: %s", ref,
                                 why[0] ? why : "the resource is not up");
                        return r;
                }
                _cleanup_free_ char *joined = om_strv_join(devs, " ");
                if (!joined)
                        return -ENOMEM;
                if (index >= 0 && (size_t)index >= om_strv_length(devs)) {
                        snprintf(err, errlen, "reference {%s}: %s has %zu %s", ref, section,
                                 om_strv_length(devs), key);
                        return -ENXIO;
                }
                return pick_word(joined, index, ref, ret, err, errlen);
        }
        if (!om_ini_find_section(ctx->ini, section) && strcmp(section, "DEFAULT") != 0) {
                snprintf(err, errlen, "reference {%s}: no section [%s]", ref, section);
                return -EINVAL;
        }
        _cleanup_free_ char *v = NULL;
        int r = eval(ctx, section, key, ch, &v, err, errlen);
        if (r == -ENOENT) {
                snprintf(err, errlen, "reference {%s}: %s.%s is not set", ref, section, key);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return pick_word(v, index, ref, ret, err, errlen);
}

static int expand(const struct om_ref_ctx *ctx, const char *value, struct chain *ch, char **ret,
                  char *err, size_t errlen) {
        struct om_buf b = {0};
        const char *p = value;
        int r = 0;

        while (*p && r == 0) {
                const char *open = strchr(p, '{');
                if (!open) {
                        r = om_buf_puts(&b, p);
                        break;
                }
                r = om_buf_append(&b, p, (size_t)(open - p));
                if (r < 0)
                        break;
                const char *close = strchr(open + 1, '}');
                const char *nested = strchr(open + 1, '{');
                if (!close || (nested && nested < close)) {
                        snprintf(err, errlen, "unterminated reference in '%s'", value);
                        r = -EINVAL;
                        break;
                }
                if (++ch->refs > MAX_REFS) {
                        snprintf(err, errlen, "more than %d references to expand in '%.80s'",
                                 MAX_REFS, value);
                        r = -ELOOP;
                        break;
                }
                _cleanup_free_ char *ref = strndup(open + 1, (size_t)(close - open - 1));
                _cleanup_free_ char *v = NULL;
                if (!ref) {
                        r = -ENOMEM;
                        break;
                }
                r = resolve(ctx, ref, ch, &v, err, errlen);
                if (r == -ENXIO && ctx->keep_unresolved) {
                        r = om_buf_append(&b, open, (size_t)(close - open + 1));
                } else if (r == 0)
                        r = om_buf_puts(&b, v);
                p = close + 1;
                if (r == 0 && b.len > MAX_EXPANDED) {
                        snprintf(err, errlen, "expansion of '%.80s' is longer than 1 MiB", value);
                        r = -EINVAL;
                }
        }
        if (r < 0) {
                om_buf_free(&b);
                return r;
        }
        *ret = om_buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int om_ref_expand(const struct om_ref_ctx *ctx, const char *value, char **ret, char *err,
                  size_t errlen) {
        struct chain ch = {.n = 0};
        return expand(ctx, value, &ch, ret, err, errlen);
}

int om_ref_eval(const struct om_ref_ctx *ctx, const char *section, const char *key, char **ret,
                char *err, size_t errlen) {
        struct chain ch = {.n = 0};
        return eval(ctx, section, key, &ch, ret, err, errlen);
}

int om_ref_validate(const struct om_ini *ini, const struct om_path *path, const char *filename,
                    struct om_buf *report) {
        int problems = 0;
        for (size_t i = 0; i < ini->n_sections; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                if (!strcmp(s->name, "data") || !strcmp(s->name, OM_META_SECTION))
                        continue;
                for (size_t j = 0; j < s->n_entries; j++) {
                        const struct om_ini_entry *e = &s->entries[j];
                        if (!strchr(e->value, '{'))
                                continue;
                        /* no device resolver: a device reference to a resource that
                         * exists is -ENXIO, kept as written */
                        struct om_ref_ctx ctx = {
                                .path = path,
                                .ini = ini,
                                .nodename = e->scope,
                                .section = strcmp(s->name, "DEFAULT") ? s->name : NULL,
                                .keep_unresolved = true,
                        };
                        char err[512] = "";
                        _cleanup_free_ char *v = NULL;
                        int r = om_ref_expand(&ctx, e->value, &v, err, sizeof(err));
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                om_buf_printf(report, "%s:%u: [%s] %s%s%s: %s\n",
                                              filename ? filename : "<config>", e->line, s->name,
                                              e->key, e->scope ? "@" : "", e->scope ? e->scope : "",
                                              err);
                                problems++;
                        }
                }
        }
        return problems;
}
