/*
 * Object replication (docs/ARCHITECTURE.md, "Object replication"), the decisions and the file work,
 * without any I/O on the network: which objects this node must take from which peer (a plan drawn
 * from its own node data and its peers'), whether a fetched file may be installed (its
 * check), and the installation itself (atomic, under the object lock) of a file or of a
 * peer's tombstone. The agent (agent/repl.c) drives it: it fetches over the peer API and
 * runs the file work below on libuv's thread pool, never on its loop thread. Every
 * function here but om_repl_plan touches files and may block.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cl_nodedata.h"
#include "core/hlc.h"
#include "core/objpath.h"

/* Adds the local tombstones to node data collected by om_cl_nodedata_collect: a tombstone
 * newer than the object's file replaces the file's entry (deleted = true), a tombstone of
 * an object without a file adds one; older tombstones are ignored. nd->objs ends sorted
 * by path. */
int om_repl_collect_tombstones(struct om_cl_nodedata *nd);

/* What this node should take: path's newest version among the peers, newer than ours. */
struct om_repl_want {
        char path[OM_PATH_STRMAX];
        struct om_version v;
        bool deleted; /* v is a tombstone's: apply the deletion, nothing to fetch */
        size_t peer;  /* index (in the peers array) of a node advertising v, its writer
                         when it does */
};

/* Draws the plan: for every path some peer advertises, the newest advertised version
 * (om_version_compare) when it is newer than local's. peers[i] NULL: skip that node
 * (itself, down, or no data yet); names[i] its node name. A tombstone whose HLC is below
 * tomb_horizon is garbage (older than tombstone_ttl): it still deletes a copy this node
 * holds, but is not taken when this node holds nothing of the path (the peers collect
 * theirs too, and taking it back would undo that). *ret is malloc'd, sorted by path.
 * Scope is not judged here (a svc's scope is in its file: om_repl_check). */
int om_repl_plan(const struct om_cl_nodedata *local, const struct om_cl_nodedata *const *peers,
                 const char *const *names, size_t n_peers, uint64_t tomb_horizon,
                 struct om_repl_want **ret, size_t *ret_n);

/* Checks a fetched file before anything is written: at most the kind's size limits
 * (OM_INI_MAX_* or OM_INI_SEC_MAX_* of core/ini.h), parses as ini with them, its [om]
 * version and writer equal want, and for a sec object every [data] value is an unscoped,
 * validly named `sealed:` value that opens with one of the n_seckeys sealing keys
 * (om_sec_open; two during a secret rotation). Returns 0 when it
 * may be installed, with *ret_in_scope telling whether self is in the object's scope
 * (sec and cfg: always; svc: self listed in its expanded `nodes`, which defaults to the
 * node that wrote it); -EFBIG over the limits, -ESTALE when the version is another one
 * (the peer moved on: not a fault), -EBADMSG for anything else; the reason in err. */
int om_repl_check(const struct om_path *p, const char *text, size_t len,
                  const struct om_version *want, const uint8_t (*seckeys)[32], size_t n_seckeys,
                  const char *self, bool *ret_in_scope, char *err, size_t errlen);

/* This node's version of p from its files: the file's or the tombstone's, whichever is
 * newer (zero version when neither exists). */
int om_repl_local_version(const struct om_path *p, struct om_version *ret, bool *ret_deleted);

/* Installs checked text as p's config with version v: under the object lock, only when v
 * is still newer than the local version (a local write may have happened meanwhile),
 * atomically with mode 0600 (sec) or 0644; an older tombstone is removed and the clock
 * observes v. Returns 1 when installed, 0 when the local version is as new or newer. */
int om_repl_install(const struct om_path *p, const char *text, size_t len,
                    const struct om_version *v);

/* Applies a peer's tombstone v: under the object lock, when v is newer than the local
 * version, writes the tombstone, removes the config file (and var state) and observes v.
 * Returns 1 when applied, 0 when the local version is as new or newer. */
int om_repl_delete(const struct om_path *p, const struct om_version *v);
