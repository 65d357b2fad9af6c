/*
 * Keyword tables: every configuration keyword om knows, with its type, default, scope
 * and one-line documentation. The validator, `print config --eval`, the resource drivers
 * and the generated man page all read these tables; nothing else lists keywords.
 *
 * A section of an object config is `[DEFAULT]` (object keywords), `[<group>#<index>]`
 * (a resource: disk, fs, app, ip, ...) whose `type` keyword picks the driver, or
 * `[data]` in sec objects (free-form keys). A table entry with a NULL type applies to
 * every driver of its group.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/ini.h"
#include "core/objpath.h"
#include "core/util.h"

/* The section om writes into every object file for its version (core/object.h). */
#define OM_META_SECTION "om"

enum om_kw_type {
        OM_KW_STRING,
        OM_KW_INT,
        OM_KW_BOOL,
        OM_KW_SIZE,
        OM_KW_DURATION,
        OM_KW_LIST, /* white-space separated words */
        OM_KW_UUID,
        OM_KW_CHOICE, /* one of choices, separated by '|' */
};

enum {
        OM_KWF_REQUIRED = 1 << 0,
        OM_KWF_PROVISION = 1 << 1, /* only used by provision */
        OM_KWF_SCOPABLE = 1 << 2,  /* key@node accepted */
};

/* A rule a keyword's value must follow beyond its type (checked at create, set and
 * validate; a value holding a {reference} is checked once expanded, by the driver). */
enum om_kw_rule {
        OM_KWR_NONE,
        OM_KWR_ABSPATH,  /* an absolute path without '..' components */
        OM_KWR_NODES,    /* node names (the object name rule), white space or ',' between */
        OM_KWR_DMNAME,   /* a device-mapper name: [A-Za-z0-9._+-], not '.' first, <= 127 */
        OM_KWR_POSITIVE, /* a size above 0 */
        OM_KWR_PRIORITY, /* an integer from 0 to 100 */
        OM_KWR_MAXPAR,   /* an integer from 1 to 1000 */
};
const char *om_kw_rule_to_string(enum om_kw_rule r);

struct om_keyword {
        const char *section; /* "DEFAULT", a resource group ("disk"), "cluster", "hb"... */
        const char *type;    /* driver type within the group, NULL for all */
        const char *name;
        enum om_kw_type kwtype;
        const char *default_value; /* NULL: no default */
        const char *choices;
        unsigned flags;
        const char *doc;
        enum om_kw_rule rule;
};

const char *om_kw_type_to_string(enum om_kw_type t);

/* All keywords, for documentation; ret_n receives the count. */
const struct om_keyword *om_keywords_all(size_t *ret_n);

/* Finds the keyword of section group (and driver type) by name. */
const struct om_keyword *om_keyword_find(const char *group, const char *type, const char *name);

/* The driver types a group accepts ("loop crypt" for disk), NULL when none. */
bool om_keyword_group_known(enum om_kind kind, const char *group);
bool om_keyword_type_known(const char *group, const char *type);

/* Splits a section name "disk#1" into group "disk" and index "1". Returns -EINVAL
 * for names that are neither DEFAULT, data, nor <group>#<index>, -ERANGE for an index
 * that is not an integer from 0 to OM_LIM_SECTION_INDEX_MAX (no sign, no leading 0). */
int om_section_split(const char *section, char *group, size_t glen, char *index, size_t ilen);

/* The driver type of a resource section of ini: its `type` keyword, else the group's
 * default type ("simple" for app); NULL when neither (or section is not a resource). */
const char *om_section_type(const struct om_ini *ini, const char *section);

/* The table entry of keyword key in section of an object config of the given kind, as
 * the validator would find it (the section's group and driver type, from ini). NULL
 * with the reason in err when section is not one the kind has (DEFAULT, data for sec
 * objects, <group>#<index> for the resource groups of svc objects), when the section's
 * type is missing or unknown, or when the keyword is not in the tables. The free-form
 * keys of [data] have no table entry: NULL, err "". */
const struct om_keyword *om_keyword_lookup(const struct om_ini *ini, enum om_kind kind,
                                           const char *section, const char *key, char *err,
                                           size_t errlen);

/* Names of the keywords a section of group accepts, in table order without duplicates,
 * as a NULL-terminated vector the caller frees: for a resource group, the keywords of
 * every resource, those of the group and those of driver type (every type of the group
 * when type is NULL or unknown). */
int om_keyword_names(const char *group, const char *type, char ***ret);

/* A keyword as a command line names it: `[<section>.]<keyword>[@<node>]`, section
 * DEFAULT when omitted (`nodes`, `fs#0.mnt`, `fs#0.mnt@n2`). */
struct om_kw_ref {
        char section[64];
        char key[64];
        char scope[64]; /* node of keyword@node, "" when unscoped */
};

/* Parses a keyword reference. -EINVAL with the reason in err for an empty or malformed
 * section, keyword or node name; the keyword tables are not consulted. */
int om_kw_ref_parse(const char *s, struct om_kw_ref *ret, char *err, size_t errlen);

/* Checks a value against a keyword's type and rule (a required keyword may not be
 * empty); on failure the reason, naming the rule, goes to err. */
int om_keyword_check_value(const struct om_keyword *kw, const char *value, char *err,
                           size_t errlen);

/* Validates an object config: unknown sections and keywords, bad values, missing
 * required keywords, each problem as one line "<file>:<line>: [<section>] <what>" appended
 * to report. Returns the number of problems (0 = valid) or a negative errno. */
int om_config_validate(const struct om_ini *ini, enum om_kind kind, const char *filename,
                       struct om_buf *report);
