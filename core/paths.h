/*
 * The filesystem layout: etc, var, log and run roots, relocated
 * together by OM_ROOT, and the node name (OM_NODENAME, else the short hostname).
 * Returned strings are owned by this module (process lifetime) unless named *_path,
 * which return allocated strings the caller frees.
 */
#pragma once

#include "core/objpath.h"

const char *om_nodename(void);
const char *om_dir_etc(void);
const char *om_dir_var(void);
const char *om_dir_log(void);
const char *om_dir_run(void);

/* Forgets cached values (tests change OM_ROOT / OM_NODENAME between cases). */
void om_paths_reset(void);

char *om_cluster_conf_path(void);
/* <etc>/namespaces/<ns>/<kind>/<name>.conf */
char *om_object_conf_path(const struct om_path *p);
/* <log>/namespaces/<ns>/<kind>/<name>.log */
char *om_object_log_path(const struct om_path *p);
/* <var>/namespaces/<ns>/<kind>/<name> (per-object state directory) */
char *om_object_var_path(const struct om_path *p);
