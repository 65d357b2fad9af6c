/*
 * Objects on disk: the config file of a path, its version, its lock, the listing of
 * objects and their deletion. Every write goes through om_object_write, which stamps a
 * new version (core/hlc.h) into the reserved [om] section (version, writer) and
 * replaces the file atomically. sec objects are written 0600, others 0644.
 */
#pragma once

#include <stdbool.h>

#include "core/hlc.h"
#include "core/ini.h"
#include "core/keywords.h"
#include "core/objpath.h"
#include "core/ref.h"

struct om_object {
        struct om_path path;
        char pathstr[OM_PATH_STRMAX];
        char *file;
        struct om_ini *ini;
};

void om_object_free(struct om_object *o);
OM_DEFINE_CLEANUP(struct om_object, om_object_free)
#define _cleanup_object_ _cleanup_(om_object_freep)

/* A new object with an empty config (not written). */
int om_object_new(const struct om_path *p, struct om_object **ret);
/* Loads an object's config. -ENOENT ("object X does not exist" in err) when absent. */
int om_object_load(const struct om_path *p, struct om_object **ret, char *err, size_t errlen);
bool om_object_exists(const struct om_path *p);

/* Stamps a new version and writes the config atomically. -EFBIG, nothing written, when
 * the formatted config would not parse back (a line over 64 KiB, a file over 1 MiB). */
int om_object_write(struct om_object *o);
/* Writes o as it is, its version and writer kept: for a change of form that is not a new
 * version (sec values sealed again with another secret of the cluster, same plaintext).
 * Peers holding this version keep theirs. */
int om_object_rewrite(struct om_object *o);
/* The version recorded in the config (zero when none). */
void om_object_version(const struct om_object *o, struct om_version *ret);

/* The checks create, set, validate config and every action run on an object's config:
 * the keyword tables (om_config_validate) and the references (om_ref_validate). The
 * number of problems, each a line of report; a negative errno on failure. */
int om_object_config_check(const struct om_ini *ini, const struct om_path *p, const char *filename,
                           struct om_buf *report);

/* One keyword change of om_object_edit: set key (add or replace) when value is not
 * NULL, unset it otherwise. */
struct om_kw_change {
        struct om_kw_ref kw;
        const char *value;
};

/* Changes keywords of an object's config, all or nothing, under the object's lock:
 * loads the config, applies the changes in order (a set in a section that does not
 * exist creates it after the others; an unset removes key or key@node exactly, and a
 * section it leaves empty), checks every set against the keyword tables (known keyword
 * for the section's type, value of the keyword's type, scope only on a scopable keyword,
 * a value the ini format holds as given), then validates the whole result as create
 * does (om_config_validate) and writes it with a new version (om_object_write). Section
 * order and the order of untouched keywords are kept; comments are not (the file is
 * rewritten from its parsed content, as every writer of object configs does).
 * Returns 1 when written, 0 when the result equals the current config (nothing
 * written). Errors, the reason in err and nothing written: -ENOENT the object does not
 * exist; -EPERM a change of the reserved [om] section or of the sealed [data] of a sec
 * object; -EINVAL a refused change; -EBADMSG the validator found problems, each as one
 * line appended to report, numbered as the lines of the file that would have been
 * written; -EFBIG the result is over the size limits; other negative errnos (lock, io). */
int om_object_edit(const struct om_path *p, const struct om_kw_change *changes, size_t n,
                   struct om_buf *report, char *err, size_t errlen);

/* Exclusive lock of the object's config (serializes writers of one object). */
int om_object_lock(const struct om_path *p, int *ret_fd);

/* Deletes the config file (and the object's var state), leaving a tombstone with a new
 * version (core/tombstone.h) when the file existed, so the deletion replicates. */
int om_object_delete(const struct om_path *p);
/* The same without a tombstone (the replication applies a peer's tombstone itself). */
int om_object_remove(const struct om_path *p);

/* Lists the paths stored as <root>/<ns>/<kind>/<name><suffix> (suffix may be ""), those
 * matching selector (NULL, "*" or "**": all), sorted. Entries that are not valid paths
 * are skipped. */
int om_path_tree_list(const char *root, const char *suffix, const char *selector,
                      struct om_path **ret, size_t *ret_n);

/* Lists objects matching selector (NULL or "*" or "**": all), sorted by path. */
int om_object_list(const char *selector, struct om_path **ret, size_t *ret_n);

/* A reference context for the object as seen from this node. */
struct om_ref_ctx om_object_ref_ctx(const struct om_object *o);
