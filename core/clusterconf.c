/*
 * Implementation of clusterconf.h.
 */
#include "core/clusterconf.h"

#include <stdio.h>
#include <string.h>

#include "core/paths.h"
#include "core/util.h"

static char cached_name[64];

int om_clusterconf_load(struct om_ini **ret, char *err, size_t errlen) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        if (!file)
                return -ENOMEM;
        return om_ini_load(file, ret, err, errlen);
}

const char *om_cluster_name(void) {
        if (cached_name[0])
                return cached_name;
        _cleanup_ini_ struct om_ini *ini = NULL;
        const char *name = NULL;
        if (om_clusterconf_load(&ini, NULL, 0) == 0)
                name = om_ini_get(ini, "cluster", "name", NULL);
        snprintf(cached_name, sizeof(cached_name), "%s", name && *name ? name : "default");
        return cached_name;
}

void om_cluster_name_reset(void) {
        cached_name[0] = 0;
}
