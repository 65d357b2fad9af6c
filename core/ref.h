/*
 * References in config values, expanded when a keyword is read:
 * {name} {svcname} {namespace} {kind} {path} {nodename} {clustername} {fqdn} {rid}
 * {rindex} {etc} {var}, {<section>.<keyword>} (the keyword's value as seen from this
 * node, or its default, itself expanded) and the deferred device references
 * {<rid>.exposed_devs[n]}, {<rid>.sub_devs[n]}, {<rid>.base_devs[n]}, which ask a
 * resolver plugged in by the resources module. `[n]` picks the n-th word of any list.
 * A loop of references and an unknown reference are errors naming the reference.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/ini.h"
#include "core/objpath.h"
#include "core/util.h"

/* Resolves a device reference: the devices of kind `which` ("exposed_devs", "sub_devs",
 * "base_devs") of resource rid, as a NULL-terminated vector the caller frees. Returns
 * -ENXIO with a reason in err when the resource cannot tell now (not up). */
typedef int (*om_ref_devs_fn)(void *userdata, const char *rid, const char *which, char ***ret,
                              char *err, size_t errlen);

struct om_ref_ctx {
        const struct om_path *path;
        const struct om_ini *ini;
        const char *nodename;    /* NULL: this node */
        const char *clustername; /* NULL: read from cluster.conf */
        const char *section;     /* for {rid} and {rindex}; NULL outside a resource */
        om_ref_devs_fn devs;     /* NULL: device references are unresolvable */
        void *userdata;
        bool keep_unresolved; /* leave an unresolvable device reference as written */
};

/* Expands every reference of value. Errors: -EINVAL (unknown or malformed reference),
 * -ELOOP (reference loop), -ENXIO (device reference not resolvable now), with the
 * reason in err. */
int om_ref_expand(const struct om_ref_ctx *ctx, const char *value, char **ret, char *err,
                  size_t errlen);

/* The expanded value of keyword key of section as seen from the context's node, falling
 * back to the keyword table's default. -ENOENT when neither is set. */
int om_ref_eval(const struct om_ref_ctx *ctx, const char *section, const char *key, char **ret,
                char *err, size_t errlen);

/* Checks every reference of every value of ini (but the [data] values of sec and cfg
 * objects and om's own section) as `create`, `set` and `validate config` must: a
 * reference that names no keyword, no section or no resource, a malformed one and a
 * loop are problems, one line each in report ("<file>:<line>: [<section>] <key>: <why>");
 * a device reference to a resource that exists is left for action time (it resolves
 * only while that resource is up). Returns the number of problems. */
int om_ref_validate(const struct om_ini *ini, const struct om_path *path, const char *filename,
                    struct om_buf *report);
