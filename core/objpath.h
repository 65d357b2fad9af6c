/*
 * Object paths: `[<namespace>/][<kind>/]<name>` and the selectors
 * `om ls` takes (a glob per part: `demo/svc/<star>`, `<star>/sec/<star>`). Names follow DNS
 * labels, lower case; anything else is refused with a message naming the problem, before
 * any file is touched.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define OM_NAME_MAX 63

enum om_kind { OM_KIND_SVC, OM_KIND_SEC, OM_KIND_CFG, _OM_KIND_MAX };

struct om_path {
        char ns[OM_NAME_MAX + 1];
        enum om_kind kind;
        char name[OM_NAME_MAX + 1];
};

const char *om_kind_to_string(enum om_kind k);
int om_kind_from_string(const char *s, enum om_kind *ret);

/* Checks a namespace or object name; on failure writes why into err. */
bool om_name_valid(const char *s, char *err, size_t errlen);

/* Parses a path. On failure returns -EINVAL with the reason in err (when err). */
int om_path_parse(const char *s, struct om_path *ret, char *err, size_t errlen);

/* Canonical string "ns/kind/name" (always three parts) into buf. */
const char *om_path_to_string(const struct om_path *p, char *buf, size_t len);
#define OM_PATH_STRMAX (3 * (OM_NAME_MAX + 1) + 4)

/* {fqdn}: <name>.<namespace>.<kind>.<clustername> */
char *om_path_fqdn(const struct om_path *p, const char *clustername);

/* Selector: a path whose parts may be `*` or use fnmatch globbing. A bare word matches
 * that name in any namespace and kind. */
bool om_selector_is_pattern(const char *s);
bool om_selector_match(const char *selector, const struct om_path *p);
