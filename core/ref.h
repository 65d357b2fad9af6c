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
