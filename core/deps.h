/*
 * Dependencies between services: the `parents` and `children` keywords of [DEFAULT]. A
 * word names a svc object: `<namespace>/svc/<name>`, or a bare `<name>` in the service's
 * own namespace. What the orchestrator does with them is in cluster/cl_decide.h (a
 * service starts once every parent is up on some node; an orchestrated stop waits until
 * no child runs); this file parses them and checks a config's: every word a svc path,
 * none the service itself, and no loop (a -> b -> a) through the service, following
 * the parents (or the children) of the other services as this node has their configs.
 */
#pragma once

#include "core/ini.h"
#include "core/objpath.h"
#include "core/util.h"

/* The service a `parents` or `children` word of service self names. -EINVAL with the
 * reason in err (when err) for a malformed path or a kind other than svc. */
int om_dep_path_parse(const char *word, const struct om_path *self, struct om_path *ret, char *err,
                      size_t errlen);

/* Checks the dependencies of ini, the config of p: each problem a line
 * "<file>:<line>: [DEFAULT] <what>" appended to report (a loop is named in full:
 * "parents loop: root/svc/a -> root/svc/b -> root/svc/a"). Returns the number of
 * problems, or a negative errno. */
int om_deps_validate(const struct om_ini *ini, const struct om_path *p, const char *filename,
                     struct om_buf *report);
