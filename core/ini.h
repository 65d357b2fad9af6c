/*
 * The ini format of object and cluster configs: `[section]` headers,
 * `key = value` lines, `#`/`;` comment lines, an inline comment after white space and
 * `#`, `key@<nodename>` scoping, and multi-line values continued by indented lines.
 * The parser is strict: a duplicate key or section, text outside a section, an
 * unterminated header, a line over 64 KiB, a file over 1 MiB or bytes that are not
 * UTF-8 text are errors reported as "<file>:<line>: <what>". Section order and entry
 * order are kept, and so is the layout: the comment and blank lines before a section
 * header or an entry belong to it, an inline comment to its line, the lines after the
 * last entry of the file to the file; so formatting a parsed file gives back its text
 * (white space around keys, values and comments normalized), and changing a value keeps
 * the rest. A section added to the tree is set off by a blank line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "core/om.h"

#define OM_INI_MAX_FILE OM_LIM_INI_FILE
#define OM_INI_MAX_LINE OM_LIM_INI_LINE

struct om_ini_entry {
        char *key;
        char *scope; /* node name of key@node, NULL when unscoped */
        char *value;
        unsigned line;
        char *comment;        /* comment and blank lines before it, each ending in '\n', or NULL */
        char *inline_comment; /* "# ..." after its value on its first line, or NULL */
};

struct om_ini_section {
        char *name;
        unsigned line;
        struct om_ini_entry *entries;
        size_t n_entries;
        char *comment;        /* comment and blank lines before its header, or NULL */
        char *inline_comment; /* "# ..." after its header */
        bool parsed;          /* read from text: its comment holds every line before it */
};

struct om_ini {
        struct om_ini_section *sections;
        size_t n_sections;
        char *tail; /* comment and blank lines after the last entry */
};

struct om_ini *om_ini_new(void);
void om_ini_free(struct om_ini *ini);
OM_DEFINE_CLEANUP(struct om_ini, om_ini_free)
#define _cleanup_ini_ _cleanup_(om_ini_freep)

/* Parses text; filename only labels errors. On error returns -EINVAL (-EFBIG for an
 * oversized file) with "<file>:<line>: <what>" in err. */
int om_ini_parse(const char *text, size_t len, const char *filename, struct om_ini **ret, char *err,
                 size_t errlen);
/* Reads and parses a file; -ENOENT when it does not exist. */
int om_ini_load(const char *file, struct om_ini **ret, char *err, size_t errlen);

/* The same with other limits. sec objects use OM_INI_SEC_MAX_*: each sealed value of up to
 * 1 MiB is one line of about 1.4 MB of base64 (see secrets/sec.h). */
#define OM_INI_SEC_MAX_FILE OM_LIM_INI_SEC_FILE
#define OM_INI_SEC_MAX_LINE OM_LIM_INI_SEC_LINE
int om_ini_parse_max(const char *text, size_t len, const char *filename, size_t max_file,
                     size_t max_line, struct om_ini **ret, char *err, size_t errlen);
int om_ini_load_max(const char *file, size_t max_file, size_t max_line, struct om_ini **ret,
                    char *err, size_t errlen);

struct om_ini_section *om_ini_find_section(const struct om_ini *ini, const char *name);
/* The entry for key in section as seen from node: key@node wins over key. */
const struct om_ini_entry *om_ini_lookup(const struct om_ini *ini, const char *section,
                                         const char *key, const char *node);
const char *om_ini_get(const struct om_ini *ini, const char *section, const char *key,
                       const char *node);

/* Sets (adds or replaces) key[@scope] in section, creating the section at the end. */
int om_ini_set(struct om_ini *ini, const char *section, const char *key, const char *scope,
               const char *value);
/* Removes key[@scope]; returns 1 when removed, 0 when absent. */
int om_ini_unset(struct om_ini *ini, const char *section, const char *key, const char *scope);
int om_ini_add_section(struct om_ini *ini, const char *name);
int om_ini_remove_section(struct om_ini *ini, const char *name);

/* Whether value, written by om_ini_format, parses back as the same value. -EINVAL with
 * the reason in err when it would not: bytes that are not UTF-8 text, a line over
 * OM_INI_MAX_LINE, white space at either end, " #" (an inline comment), an empty or
 * comment line inside a multi-line value. */
int om_ini_check_value(const char *value, char *err, size_t errlen);

/* Serializes to ini text (caller frees). */
char *om_ini_format(const struct om_ini *ini);
