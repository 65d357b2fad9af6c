/*
 * Implementation of paths.h.
 */
#include "core/paths.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
                for (char *c = P.node; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
        }
        P.ready = 1;
}

static int check_fail(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (err)
                vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

#define ROOT_RULE "OM_ROOT is the absolute path of a directory, existing or to be created"
#define NODE_RULE                                                                                  \
        "a node name is lower case letters, digits and '-', 63 at most, not starting or "          \
        "ending with '-'"

int om_paths_check(char *err, size_t errlen) {
        const char *root = getenv("OM_ROOT");
        if (root && *root) {
                struct stat st;
                if (root[0] != '/')
                        return check_fail(err, errlen, "OM_ROOT '%s' is not an absolute path (%s)",
                                          root, ROOT_RULE);
                if (strlen(root) > OM_ROOT_MAX)
                        return check_fail(err, errlen, "OM_ROOT is longer than %d characters (%s)",
                                          OM_ROOT_MAX, ROOT_RULE);
                if (stat(root, &st) == 0) {
                        if (!S_ISDIR(st.st_mode))
                                return check_fail(err, errlen,
                                                  "OM_ROOT '%s' is not a directory (%s)", root,
                                                  ROOT_RULE);
                } else {
                        /* to be created: the nearest existing parent must be a directory */
                        char parent[OM_ROOT_MAX + 1];
                        snprintf(parent, sizeof(parent), "%s", root);
                        for (;;) {
                                char *slash = strrchr(parent, '/');
                                if (!slash || slash == parent) {
                                        strcpy(parent, "/");
                                        break;
                                }
                                *slash = 0;
                                if (stat(parent, &st) == 0)
                                        break;
                        }
                        if (stat(parent, &st) == 0 && !S_ISDIR(st.st_mode))
                                return check_fail(err, errlen,
                                                  "OM_ROOT '%s' cannot be created: '%s' is not a "
                                                  "directory (%s)",
                                                  root, parent, ROOT_RULE);
                }
        }
        char why[128];
        const char *node = getenv("OM_NODENAME");
        if (node && *node && !om_name_valid(node, why, sizeof(why)))
                return check_fail(err, errlen,
                                  "OM_NODENAME '%s' is not a valid node name: it %s (%s)", node,
                                  why, NODE_RULE);
        if (!(node && *node) && !om_name_valid(om_nodename(), why, sizeof(why)))
                return check_fail(err, errlen,
                                  "the host name '%s' is not a valid node name: it %s (%s); set "
                                  "OM_NODENAME to one",
                                  om_nodename(), why, NODE_RULE);
        return 0;
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
