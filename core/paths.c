/*
 * Implementation of paths.h.
 */
#include "core/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

static struct {
        char node[256];
        char etc[4096], var[4096], log[4096], run[4096];
        int ready;
} P;

void om_paths_reset(void) {
        P.ready = 0;
}

static void init(void) {
        if (P.ready)
                return;
        const char *root = getenv("OM_ROOT");
        if (root && *root) {
                snprintf(P.etc, sizeof(P.etc), "%s/etc", root);
                snprintf(P.var, sizeof(P.var), "%s/var", root);
                snprintf(P.log, sizeof(P.log), "%s/log", root);
                snprintf(P.run, sizeof(P.run), "%s/run", root);
        } else {
                strcpy(P.etc, "/etc/om");
                strcpy(P.var, "/var/lib/om");
                strcpy(P.log, "/var/log/om");
                strcpy(P.run, "/run/om");
        }
        const char *node = getenv("OM_NODENAME");
        if (node && *node)
                snprintf(P.node, sizeof(P.node), "%s", node);
        else {
                if (gethostname(P.node, sizeof(P.node) - 1) < 0)
                        strcpy(P.node, "localhost");
                P.node[strcspn(P.node, ".")] = 0;
        }
        P.ready = 1;
}

const char *om_nodename(void) {
        init();
        return P.node;
}
const char *om_dir_etc(void) {
        init();
        return P.etc;
}
const char *om_dir_var(void) {
        init();
        return P.var;
}
const char *om_dir_log(void) {
        init();
        return P.log;
}
const char *om_dir_run(void) {
        init();
        return P.run;
}

char *om_cluster_conf_path(void) {
        return om_asprintf("%s/cluster.conf", om_dir_etc());
}

char *om_object_conf_path(const struct om_path *p) {
        return om_asprintf("%s/namespaces/%s/%s/%s.conf", om_dir_etc(), p->ns,
                           om_kind_to_string(p->kind), p->name);
}

char *om_object_log_path(const struct om_path *p) {
        return om_asprintf("%s/namespaces/%s/%s/%s.log", om_dir_log(), p->ns,
                           om_kind_to_string(p->kind), p->name);
}

char *om_object_var_path(const struct om_path *p) {
        return om_asprintf("%s/namespaces/%s/%s/%s", om_dir_var(), p->ns,
                           om_kind_to_string(p->kind), p->name);
}
