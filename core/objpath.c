/*
 * Implementation of objpath.h.
 */
#include "core/objpath.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

static const char *const kind_names[_OM_KIND_MAX] = {
        [OM_KIND_SVC] = "svc",
        [OM_KIND_SEC] = "sec",
        [OM_KIND_CFG] = "cfg",
};

const char *om_kind_to_string(enum om_kind k) {
        return (unsigned)k < _OM_KIND_MAX ? kind_names[k] : "?";
}

int om_kind_from_string(const char *s, enum om_kind *ret) {
        for (unsigned i = 0; i < _OM_KIND_MAX; i++)
                if (strcmp(s, kind_names[i]) == 0) {
                        *ret = (enum om_kind)i;
                        return 0;
                }
        return -EINVAL;
}

bool om_name_valid(const char *s, char *err, size_t errlen) {
        size_t n = strlen(s);
        const char *why = NULL;
        if (n == 0)
                why = "is empty";
        else if (n > OM_NAME_MAX)
                why = "is longer than 63 characters";
        else if (s[0] == '-' || s[n - 1] == '-')
                why = "starts or ends with '-'";
        else
                for (size_t i = 0; i < n; i++) {
                        char c = s[i];
                        if (c >= 'A' && c <= 'Z') {
                                why = "has upper case letters (names are lower case)";
                                break;
                        }
                        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                                why = "has a character other than a-z, 0-9 and '-'";
                                break;
                        }
                }
        if (why && err)
                snprintf(err, errlen, "%s", why);
        return why == NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
        if (err)
                snprintf(err, errlen, fmt, a, b);
        return -EINVAL;
}

int om_path_parse(const char *s, struct om_path *ret, char *err, size_t errlen) {
        char why[80];
        const char *parts[4];
        char buf[3 * (OM_NAME_MAX + 1) + 8];
        size_t nparts = 0;

        if (!s || !*s)
                return fail(err, errlen, "invalid object path '%s': it is empty%s", "", "");
        if (strlen(s) >= sizeof(buf))
                return fail(err, errlen, "invalid object path '%.80s...': %s", s, "too long");
        strcpy(buf, s);
        /* relative and empty parts first: they say more than a count of parts */
        for (char *q = buf;;) {
                size_t n = strcspn(q, "/");
                if (n == 0)
                        return fail(err, errlen, "invalid object path '%s': %s", s,
                                    "it has an empty part");
                if (n == 2 && q[0] == '.' && q[1] == '.')
                        return fail(err, errlen, "invalid object path '%s': %s", s,
                                    "'..' is not allowed (no relative parts)");
                if (n == 1 && q[0] == '.')
                        return fail(err, errlen, "invalid object path '%s': %s", s,
                                    "'.' is not allowed (no relative parts)");
                if (!q[n])
                        break;
                q += n + 1;
        }
        char *p = buf;
        for (;;) {
                if (nparts == 3)
                        return fail(err, errlen, "invalid object path '%s': %s", s,
                                    "more than three parts (<namespace>/<kind>/<name>)");
                parts[nparts++] = p;
                char *slash = strchr(p, '/');
                if (!slash)
                        break;
                *slash = 0;
                p = slash + 1;
        }

        struct om_path path = {.kind = OM_KIND_SVC};
        const char *ns = "root", *kind = NULL, *name = parts[nparts - 1];
        if (nparts == 3) {
                ns = parts[0];
                kind = parts[1];
        } else if (nparts == 2)
                kind = parts[0];

        if (nparts == 3 && !om_name_valid(ns, why, sizeof(why))) {
                char m[120];
                snprintf(m, sizeof(m), "namespace '%s' %s", ns, why);
                return fail(err, errlen, "invalid object path '%s': %s", s, m);
        }
        if (kind && om_kind_from_string(kind, &path.kind) < 0) {
                char m[120];
                snprintf(m, sizeof(m), "unknown kind '%.40s' (svc, sec or cfg)", kind);
                return fail(err, errlen, "invalid object path '%s': %s", s, m);
        }
        if (!om_name_valid(name, why, sizeof(why))) {
                char m[120];
                snprintf(m, sizeof(m), "name '%.64s' %s", name, why);
                return fail(err, errlen, "invalid object path '%s': %s", s, m);
        }
        snprintf(path.ns, sizeof(path.ns), "%s", ns);
        snprintf(path.name, sizeof(path.name), "%s", name);
        *ret = path;
        return 0;
}

const char *om_path_to_string(const struct om_path *p, char *buf, size_t len) {
        snprintf(buf, len, "%s/%s/%s", p->ns, om_kind_to_string(p->kind), p->name);
        return buf;
}

char *om_path_fqdn(const struct om_path *p, const char *clustername) {
        return om_asprintf("%s.%s.%s.%s", p->name, p->ns, om_kind_to_string(p->kind), clustername);
}

bool om_selector_is_pattern(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

bool om_selector_match(const char *selector, const struct om_path *p) {
        _cleanup_strv_free_ char **parts = NULL;
        if (om_strv_split(selector, "/", &parts) < 0)
                return false;
        size_t n = om_strv_length(parts);
        const char *kind = om_kind_to_string(p->kind);
        switch (n) {
        case 1:
                return fnmatch(parts[0], p->name, 0) == 0;
        case 2:
                return strcmp(p->ns, "root") == 0 && fnmatch(parts[0], kind, 0) == 0 &&
                       fnmatch(parts[1], p->name, 0) == 0;
        case 3:
                return fnmatch(parts[0], p->ns, 0) == 0 && fnmatch(parts[1], kind, 0) == 0 &&
                       fnmatch(parts[2], p->name, 0) == 0;
        default:
                return false;
        }
}
