/*
 * The filesystem layout: etc, var, log and run roots, relocated together by OM_ROOT,
 * and the node name (OM_NODENAME, else the short hostname in lower case).
 * Returned strings are owned by this module (process lifetime) unless named *_path,
 * which return allocated strings the caller frees.
 */
#pragma once

#include <stddef.h>

#include "core/objpath.h"

const char *om_nodename(void);
const char *om_dir_etc(void);
const char *om_dir_var(void);
const char *om_dir_log(void);
const char *om_dir_run(void);

/* The longest OM_ROOT accepted: the files under it stay within PATH_MAX. */
#define OM_ROOT_MAX 3800

/* Checks the environment: OM_ROOT, when set, is absolute, not longer than OM_ROOT_MAX and
 * a directory or creatable (its nearest existing parent a directory); the node name
 * (OM_NODENAME, else the short host name in lower case) follows the object name rule.
 * 0, or -EINVAL with a message naming what is wrong and the rule in err. */
int om_paths_check(char *err, size_t errlen);

/* Forgets cached values (tests change OM_ROOT / OM_NODENAME between cases). */
void om_paths_reset(void);

char *om_cluster_conf_path(void);
/* <etc>/namespaces/<ns>/<kind>/<name>.conf */
char *om_object_conf_path(const struct om_path *p);
/* <log>/namespaces/<ns>/<kind>/<name>.log */
char *om_object_log_path(const struct om_path *p);
/* <var>/namespaces/<ns>/<kind>/<name> (per-object state directory) */
char *om_object_var_path(const struct om_path *p);
