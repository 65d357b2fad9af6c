/*
 * Tombstones of deleted objects: deleting an object leaves
 * <var>/tombstones/<ns>/<kind>/<name>, one line "<hlc> <writer>\n" holding the deletion's
 * version, so the deletion replicates like a write and a node that missed it is told by
 * its peers. A tombstone is compared with the object's file version: the newer wins, so
 * an object created again after a delete outlives its old tombstone. This module only
 * reads and writes the markers; the decisions are in cluster/cl_repl.c. Tombstones are
 * never collected (a handful of bytes per deleted object).
 */
#pragma once

#include <stddef.h>

#include "core/hlc.h"
#include "core/objpath.h"

/* The tombstone file of p (caller frees), NULL on ENOMEM. */
char *om_tombstone_path(const struct om_path *p);

/* Reads p's tombstone: -ENOENT when none, -EBADMSG when the file is not one. */
int om_tombstone_read(const struct om_path *p, struct om_version *ret);

/* Writes p's tombstone with version v atomically (replacing an older one). */
int om_tombstone_write(const struct om_path *p, const struct om_version *v);

/* Removes p's tombstone; 0 when there was none. */
int om_tombstone_remove(const struct om_path *p);

/* Removes the tombstones whose version's HLC is below horizon (garbage: older than the
 * cluster's tombstone_ttl); returns how many, or a negative errno. */
int om_tombstone_gc(uint64_t horizon);

/* Lists every tombstone's path, sorted. *ret is malloc'd (may be NULL when *ret_n is 0). */
int om_tombstone_list(struct om_path **ret, size_t *ret_n);
