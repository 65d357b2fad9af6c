/*
 * Read access to `<etc>/cluster.conf` for the lower layers: the cluster's name (for
 * {clustername} and {fqdn}). The cluster module owns the rest of the file (nodes,
 * heartbeats, the secret: see secrets/ and cluster/).
 */
#pragma once

#include "core/ini.h"

/* The parsed cluster.conf; -ENOENT when it does not exist, -EINVAL with err when bad. */
int om_clusterconf_load(struct om_ini **ret, char *err, size_t errlen);

/* [cluster] name, "default" when the file or the keyword is absent. Cached. */
const char *om_cluster_name(void);
void om_cluster_name_reset(void);
