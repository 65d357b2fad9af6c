/*
 * Helpers shared by the unit test programs: a fresh OM_ROOT per test, so that tests
 * never touch /etc/om nor see each other's state. Header-only; include after cmocka.
 */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clusterconf.h"
#include "core/paths.h"

static int om_test_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(p);
}

/* Makes /tmp/om-test-<name>.XXXXXX into root, sets OM_ROOT and OM_NODENAME=node, and
 * forgets the cached paths and cluster name. */
static inline void om_test_root_make(char *root, size_t len, const char *name, const char *node) {
        snprintf(root, len, "/tmp/om-test-%s.XXXXXX", name);
        assert_non_null(mkdtemp(root));
        setenv("OM_ROOT", root, 1);
        setenv("OM_NODENAME", node, 1);
        om_paths_reset();
        om_cluster_name_reset();
}

static inline void om_test_root_remove(const char *root) {
        nftw(root, om_test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
