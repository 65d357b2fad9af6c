/*
 * Implementation of ini.h. One pass over the text, line by line; every error names the
 * line it was found on. Memory: each string is its own allocation, owned by the tree.
 */
#include "core/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/fileio.h"
#include "core/util.h"

/*
 * The duplicate checks of the parser in constant time: an open-addressing table of
 * indexes (of the sections, or of the current section's entries) by the hash of their
 * name, so that a file of many sections or keys parses in linear time.
 */
struct names {
        size_t *slot; /* index + 1; 0: empty */
        size_t cap;   /* a power of 2, or 0 */
        size_t n;
};

static size_t name_hash(const char *a, const char *b) {
        size_t h = 14695981039346656037ull;
        for (; *a; a++)
                h = (h ^ (unsigned char)*a) * 1099511628211ull;
        h = (h ^ '@') * 1099511628211ull;
        for (; b && *b; b++)
                h = (h ^ (unsigned char)*b) * 1099511628211ull;
        return h;
}

static void names_free(struct names *t) {
        free(t->slot);
        *t = (struct names){0};
}

/* The index recorded under (a, b) for which same(ctx, index, a, b), or -1. */
static ssize_t names_find(const struct names *t, const char *a, const char *b,
                          bool (*same)(const void *, size_t, const char *, const char *),
                          const void *ctx) {
        if (!t->cap)
                return -1;
        for (size_t i = name_hash(a, b) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
                if (!t->slot[i])
                        return -1;
                if (same(ctx, t->slot[i] - 1, a, b))
                        return (ssize_t)(t->slot[i] - 1);
        }
}

/* Records index under (a, b); -ENOMEM. hash(k) gives the (a, b) of a recorded index. */
static int names_add(struct names *t, const char *a, const char *b, size_t index,
                     void (*key)(const void *, size_t, const char **, const char **),
                     const void *ctx) {
        if (2 * (t->n + 1) > t->cap) {
                struct names bigger = {.cap = t->cap ? 2 * t->cap : 64};
                if (!(bigger.slot = calloc(bigger.cap, sizeof(size_t))))
                        return -ENOMEM;
                for (size_t k = 0; k < t->cap; k++) {
                        if (!t->slot[k])
                                continue;
                        const char *ka, *kb;
                        key(ctx, t->slot[k] - 1, &ka, &kb);
                        size_t i = name_hash(ka, kb) & (bigger.cap - 1);
                        while (bigger.slot[i])
                                i = (i + 1) & (bigger.cap - 1);
                        bigger.slot[i] = t->slot[k];
                }
                bigger.n = t->n;
                free(t->slot);
                *t = bigger;
        }
        size_t i = name_hash(a, b) & (t->cap - 1);
        while (t->slot[i])
                i = (i + 1) & (t->cap - 1);
        t->slot[i] = index + 1;
        t->n++;
        return 0;
}

static bool same_section(const void *ctx, size_t i, const char *a, const char *b) {
        return strcmp(((const struct om_ini *)ctx)->sections[i].name, a) == 0;
}

static void section_key(const void *ctx, size_t i, const char **a, const char **b) {
        *a = ((const struct om_ini *)ctx)->sections[i].name;
        *b = NULL;
}

static bool same_entry(const void *ctx, size_t i, const char *a, const char *b) {
        const struct om_ini_entry *e = &((const struct om_ini_section *)ctx)->entries[i];
        return strcmp(e->key, a) == 0 &&
               ((!e->scope && !b) || (e->scope && b && !strcmp(e->scope, b)));
}

static void entry_key(const void *ctx, size_t i, const char **a, const char **b) {
        const struct om_ini_entry *e = &((const struct om_ini_section *)ctx)->entries[i];
        *a = e->key;
        *b = e->scope;
}

struct om_ini *om_ini_new(void) {
        return calloc(1, sizeof(struct om_ini));
}

static void entry_clear(struct om_ini_entry *e) {
        free(e->key);
        free(e->scope);
        free(e->value);
        free(e->comment);
        free(e->inline_comment);
}

static void section_clear(struct om_ini_section *s) {
        for (size_t i = 0; i < s->n_entries; i++)
                entry_clear(&s->entries[i]);
        free(s->entries);
        free(s->name);
        free(s->comment);
        free(s->inline_comment);
}

void om_ini_free(struct om_ini *ini) {
        if (!ini)
                return;
        for (size_t i = 0; i < ini->n_sections; i++)
                section_clear(&ini->sections[i]);
        free(ini->sections);
        free(ini->tail);
        free(ini);
}

struct om_ini_section *om_ini_find_section(const struct om_ini *ini, const char *name) {
        for (size_t i = 0; i < ini->n_sections; i++)
                if (strcmp(ini->sections[i].name, name) == 0)
                        return &ini->sections[i];
        return NULL;
}

static struct om_ini_section *add_section(struct om_ini *ini, const char *name, unsigned line) {
        struct om_ini_section *n =
                realloc(ini->sections, (ini->n_sections + 1) * sizeof(struct om_ini_section));
        if (!n)
                return NULL;
        ini->sections = n;
        struct om_ini_section *s = &n[ini->n_sections];
        *s = (struct om_ini_section){.name = strdup(name), .line = line};
        if (!s->name)
                return NULL;
        ini->n_sections++;
        return s;
}

int om_ini_add_section(struct om_ini *ini, const char *name) {
        if (om_ini_find_section(ini, name))
                return 0;
        return add_section(ini, name, 0) ? 0 : -ENOMEM;
}

int om_ini_remove_section(struct om_ini *ini, const char *name) {
        struct om_ini_section *s = om_ini_find_section(ini, name);
        if (!s)
                return 0;
        size_t i = (size_t)(s - ini->sections);
        section_clear(s);
        memmove(s, s + 1, (ini->n_sections - i - 1) * sizeof(*s));
        ini->n_sections--;
        return 1;
}

static bool same_scope(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static struct om_ini_entry *find_entry(struct om_ini_section *s, const char *key,
                                       const char *scope) {
        for (size_t i = 0; i < s->n_entries; i++)
                if (strcmp(s->entries[i].key, key) == 0 && same_scope(s->entries[i].scope, scope))
                        return &s->entries[i];
        return NULL;
}

static struct om_ini_entry *add_entry(struct om_ini_section *s, const char *key, const char *scope,
                                      const char *value, unsigned line) {
        struct om_ini_entry *n =
                realloc(s->entries, (s->n_entries + 1) * sizeof(struct om_ini_entry));
        if (!n)
                return NULL;
        s->entries = n;
        struct om_ini_entry *e = &n[s->n_entries];
        *e = (struct om_ini_entry){
                .key = strdup(key),
                .scope = scope ? strdup(scope) : NULL,
                .value = strdup(value),
                .line = line,
        };
        if (!e->key || !e->value || (scope && !e->scope)) {
                entry_clear(e);
                return NULL;
        }
        s->n_entries++;
        return e;
}

const struct om_ini_entry *om_ini_lookup(const struct om_ini *ini, const char *section,
                                         const char *key, const char *node) {
        struct om_ini_section *s = om_ini_find_section(ini, section);
        if (!s)
                return NULL;
        struct om_ini_entry *e = node ? find_entry(s, key, node) : NULL;
        return e ? e : find_entry(s, key, NULL);
}

const char *om_ini_get(const struct om_ini *ini, const char *section, const char *key,
                       const char *node) {
        const struct om_ini_entry *e = om_ini_lookup(ini, section, key, node);
        return e ? e->value : NULL;
}

int om_ini_set(struct om_ini *ini, const char *section, const char *key, const char *scope,
               const char *value) {
        struct om_ini_section *s = om_ini_find_section(ini, section);
        if (!s && !(s = add_section(ini, section, 0)))
                return -ENOMEM;
        struct om_ini_entry *e = find_entry(s, key, scope);
        if (e) {
                char *v = strdup(value);
                if (!v)
                        return -ENOMEM;
                free(e->value);
                e->value = v;
                return 0;
        }
        return add_entry(s, key, scope, value, 0) ? 0 : -ENOMEM;
}

int om_ini_unset(struct om_ini *ini, const char *section, const char *key, const char *scope) {
        struct om_ini_section *s = om_ini_find_section(ini, section);
        if (!s)
                return 0;
        struct om_ini_entry *e = find_entry(s, key, scope);
        if (!e)
                return 0;
        size_t i = (size_t)(e - s->entries);
        entry_clear(e);
        memmove(e, e + 1, (s->n_entries - i - 1) * sizeof(*e));
        s->n_entries--;
        return 1;
}

/* The message may quote the line buffer: it is freed only after formatting. */
#define PARSE_FAIL(...)                                                                            \
        do {                                                                                       \
                if (err)                                                                           \
                        snprintf(err, errlen, __VA_ARGS__);                                        \
                free(line);                                                                        \
                om_buf_free(&pend);                                                                \
                om_buf_free(&cont);                                                                \
                names_free(&sec_names);                                                            \
                names_free(&key_names);                                                            \
                om_ini_free(ini);                                                                  \
                return -EINVAL;                                                                    \
        } while (0)

/* The comment and blank lines gathered so far, NULL when none; b is left empty. */
static char *pend_take(struct om_buf *b) {
        if (!b->len) {
                om_buf_free(b);
                return NULL;
        }
        return om_buf_steal(b);
}

int om_ini_parse(const char *text, size_t len, const char *filename, struct om_ini **ret, char *err,
                 size_t errlen) {
        return om_ini_parse_max(text, len, filename, OM_INI_MAX_FILE, OM_INI_MAX_LINE, ret, err,
                                errlen);
}

int om_ini_parse_max(const char *text, size_t len, const char *filename, size_t max_file,
                     size_t max_line, struct om_ini **ret, char *err, size_t errlen) {
        const char *fn = filename ? filename : "<input>";
        struct om_ini *ini = NULL;

        if (len > max_file) {
                if (err)
                        snprintf(err, errlen, "%s: file is larger than %zu MiB (%zu bytes)", fn,
                                 max_file >> 20, len);
                return -EFBIG;
        }
        ini = om_ini_new();
        if (!ini)
                return -ENOMEM;

        struct om_ini_section *cur = NULL;
        struct om_ini_entry *last = NULL; /* target of continuation lines */
        struct om_buf pend = {0};         /* comment, blank lines waiting for what follows */
        struct om_buf cont = {0};         /* last's value while continuation lines come */
        struct names sec_names = {0}, key_names = {0}; /* the duplicate checks */
        bool in_cont = false;
        unsigned lineno = 0;
        const char *p = text, *end = text + len;
        char *line = malloc(max_line + 1);
        if (!line) {
                om_ini_free(ini);
                return -ENOMEM;
        }
#define PARSE_OOM()                                                                                \
        do {                                                                                       \
                free(line);                                                                        \
                om_buf_free(&pend);                                                                \
                om_buf_free(&cont);                                                                \
                names_free(&sec_names);                                                            \
                names_free(&key_names);                                                            \
                om_ini_free(ini);                                                                  \
                return -ENOMEM;                                                                    \
        } while (0)

        while (p < end) {
                lineno++;
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (n > max_line) {
                        PARSE_FAIL("%s:%u: line is longer than %zu KiB", fn, lineno,
                                   max_line >> 10);
                }
                if (memchr(p, 0, n) || !om_utf8_valid(p, n)) {
                        PARSE_FAIL("%s:%u: bytes that are not UTF-8 text", fn, lineno);
                }
                memcpy(line, p, n);
                line[n] = 0;
                if (n && line[n - 1] == '\r')
                        line[n - 1] = 0;
                p = nl ? nl + 1 : end;

                bool indented = line[0] == ' ' || line[0] == '\t';
                char *s = om_strstrip(line);
                if (*s == 0 || *s == '#' || *s == ';') {
                        if (om_buf_printf(&pend, "%s\n", s) < 0)
                                PARSE_OOM();
                        continue;
                }

                if (indented && last) {
                        /* continuation of a multi-line value: appended to a buffer that
                         * grows by doubling, so a long value costs linear time */
                        if (!in_cont && om_buf_puts(&cont, last->value) < 0)
                                PARSE_OOM();
                        in_cont = true;
                        if (om_buf_printf(&cont, "\n%s", s) < 0)
                                PARSE_OOM();
                        continue;
                }
                if (in_cont) { /* the value is complete */
                        free(last->value);
                        last->value = om_buf_steal(&cont);
                        in_cont = false;
                }

                if (*s == '[') {
                        char *close = strchr(s, ']');
                        if (!close) {
                                PARSE_FAIL("%s:%u: unterminated section header", fn, lineno);
                        }
                        char *rest = om_strstrip(close + 1);
                        if (*rest && *rest != '#' && *rest != ';') {
                                PARSE_FAIL("%s:%u: text after the section header", fn, lineno);
                        }
                        char *inl = *rest ? rest : NULL;
                        *close = 0;
                        char *name = om_strstrip(s + 1);
                        if (!*name) {
                                PARSE_FAIL("%s:%u: empty section name", fn, lineno);
                        }
                        ssize_t dup = names_find(&sec_names, name, NULL, same_section, ini);
                        if (dup >= 0) {
                                unsigned first = ini->sections[dup].line;
                                PARSE_FAIL("%s:%u: duplicate section [%s] (first at line %u)", fn,
                                           lineno, name, first);
                        }
                        cur = add_section(ini, name, lineno);
                        if (!cur || names_add(&sec_names, name, NULL, ini->n_sections - 1,
                                              section_key, ini) < 0)
                                PARSE_OOM();
                        names_free(&key_names);
                        if (inl && !(cur->inline_comment = strdup(inl)))
                                PARSE_OOM();
                        cur->comment = pend_take(&pend);
                        cur->parsed = true;
                        last = NULL;
                        continue;
                }

                char *eq = strchr(s, '=');
                if (!cur) {
                        PARSE_FAIL("%s:%u: text outside a section", fn, lineno);
                }
                if (!eq) {
                        PARSE_FAIL("%s:%u: expected 'key = value'", fn, lineno);
                }
                *eq = 0;
                char *key = om_strstrip(s);
                char *value = eq + 1;
                _cleanup_free_ char *inl = NULL;
                /* inline comment: white space then '#' */
                for (char *c = value; *c; c++)
                        if (*c == '#' && c > value && (c[-1] == ' ' || c[-1] == '\t')) {
                                if (!(inl = strdup(c)))
                                        PARSE_OOM();
                                *c = 0;
                                break;
                        }
                value = om_strstrip(value);
                if (!*key) {
                        PARSE_FAIL("%s:%u: empty key", fn, lineno);
                }
                char *scope = strchr(key, '@');
                if (scope) {
                        *scope++ = 0;
                        if (!*scope || !*key) {
                                PARSE_FAIL("%s:%u: bad scoped key (expected key@node)", fn, lineno);
                        }
                }
                for (char *c = key; *c; c++)
                        if (isspace((unsigned char)*c)) {
                                PARSE_FAIL("%s:%u: white space in key '%s'", fn, lineno, key);
                        }
                ssize_t dup = names_find(&key_names, key, scope, same_entry, cur);
                if (dup >= 0) {
                        unsigned first = cur->entries[dup].line;
                        PARSE_FAIL("%s:%u: duplicate key '%s%s%s' in [%s] (first at line %u)", fn,
                                   lineno, key, scope ? "@" : "", scope ? scope : "", cur->name,
                                   first);
                }
                last = add_entry(cur, key, scope, value, lineno);
                if (!last ||
                    names_add(&key_names, key, scope, cur->n_entries - 1, entry_key, cur) < 0)
                        PARSE_OOM();
                last->comment = pend_take(&pend);
                last->inline_comment = OM_TAKE_PTR(inl);
        }
        if (in_cont) {
                free(last->value);
                last->value = om_buf_steal(&cont);
        }
        free(line);
        names_free(&sec_names);
        names_free(&key_names);
        ini->tail = pend_take(&pend);
        *ret = ini;
        return 0;
}

int om_ini_load(const char *file, struct om_ini **ret, char *err, size_t errlen) {
        return om_ini_load_max(file, OM_INI_MAX_FILE, OM_INI_MAX_LINE, ret, err, errlen);
}

int om_ini_load_max(const char *file, size_t max_file, size_t max_line, struct om_ini **ret,
                    char *err, size_t errlen) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = om_read_file(file, max_file, &text, &len);
        if (r == -EFBIG) {
                if (err)
                        snprintf(err, errlen, "%s: file is larger than %zu MiB", file,
                                 max_file >> 20);
                return r;
        }
        if (r < 0) {
                if (err)
                        snprintf(err, errlen, "%s: %s", file, strerror(-r));
                return r;
        }
        return om_ini_parse_max(text, len, file, max_file, max_line, ret, err, errlen);
}

/* Comment and blank lines, each ending in '\n'. */
static int put_comment(struct om_buf *b, const char *comment) {
        return comment ? om_buf_puts(b, comment) : 0;
}

char *om_ini_format(const struct om_ini *ini) {
        struct om_buf b = {0};
        int r = 0;
        for (size_t i = 0; i < ini->n_sections && r == 0; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                /* a parsed section brings the lines before it; a new one a blank line */
                r = om_buf_puts(&b, i && !s->parsed ? "\n" : "");
                if (r == 0)
                        r = put_comment(&b, s->comment);
                if (r == 0)
                        r = om_buf_printf(&b, "[%s]%s%s\n", s->name, s->inline_comment ? " " : "",
                                          s->inline_comment ? s->inline_comment : "");
                for (size_t j = 0; j < s->n_entries && r == 0; j++) {
                        const struct om_ini_entry *e = &s->entries[j];
                        r = put_comment(&b, e->comment);
                        if (r == 0)
                                r = om_buf_printf(&b, "%s%s%s =", e->key, e->scope ? "@" : "",
                                                  e->scope ? e->scope : "");
                        /* continuation lines are indented so they parse back */
                        const char *v = e->value;
                        bool first = true;
                        do {
                                size_t n = strcspn(v, "\n");
                                /* "k = #x" would read back as an empty value and a
                                 * comment: a first line starting with '#' is glued to '=' */
                                const char *lead = !first ? "    " : *v == '#' ? "" : " ";
                                if (r == 0 && (n || !first))
                                        r = om_buf_printf(&b, "%s%.*s", lead, (int)n, v);
                                if (r == 0 && first && e->inline_comment)
                                        r = om_buf_printf(&b, " %s", e->inline_comment);
                                if (r == 0)
                                        r = om_buf_puts(&b, "\n");
                                v += n;
                                if (*v == '\n')
                                        v++;
                                first = false;
                        } while (*v && r == 0);
                }
        }
        if (r == 0)
                r = put_comment(&b, ini->tail);
        if (r < 0) {
                om_buf_free(&b);
                return NULL;
        }
        return om_buf_steal(&b);
}

int om_ini_check_value(const char *value, char *err, size_t errlen) {
        size_t len = strlen(value);
        if (!om_utf8_valid(value, len)) {
                snprintf(err, errlen, "the value has bytes that are not UTF-8 text");
                return -EINVAL;
        }
        for (const char *p = value; *p;) {
                size_t n = strcspn(p, "\n");
                if (n > OM_INI_MAX_LINE - 64) {
                        snprintf(err, errlen, "the value has a line longer than %d KiB",
                                 (OM_INI_MAX_LINE - 64) >> 10);
                        return -EINVAL;
                }
                p += n + (p[n] == '\n');
        }
        /* the simplest faithful test: write it, read it back */
        _cleanup_ini_ struct om_ini *ini = om_ini_new();
        _cleanup_ini_ struct om_ini *back = NULL;
        if (!ini || om_ini_set(ini, "s", "k", NULL, value) < 0)
                return -ENOMEM;
        _cleanup_free_ char *text = om_ini_format(ini);
        if (!text)
                return -ENOMEM;
        int r = om_ini_parse(text, strlen(text), NULL, &back, NULL, 0);
        if (r == -ENOMEM)
                return r;
        const char *got = r == 0 ? om_ini_get(back, "s", "k", NULL) : NULL;
        if (!got || strcmp(got, value) != 0) {
                snprintf(err, errlen,
                         "the value would not read back as given (white space at either end, "
                         "' #' starting a comment, or an empty or comment line in a multi-line "
                         "value)");
                return -EINVAL;
        }
        return 0;
}
