/*
 * Fuzz target for the check of replicated files (om_repl_check): any bytes a peer may
 * serve, judged as a sec and as a svc, must be refused or accepted cleanly, never read
 * out of bounds. The first input byte picks whether the advertised version is the one
 * the corpus files carry (5.0 by n1) or another, so both the stale path and the checks
 * past it are reached. The sealed values are checked with a fixed key.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cl_repl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        static const char *const paths[] = {"demo/sec/x", "demo/svc/x", "root/cfg/c"};
        if (sodium_init() < 0 || size < 1)
                return 0;
        struct om_version v = {.hlc = (uint64_t)5 << 16, .writer = "n1"};
        if (data[0] & 1)
                v.hlc++;
        setenv("OM_ROOT", "/nonexistent/om-fuzz", 0);
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                struct om_path p;
                char err[512];
                bool in_scope;
                if (om_path_parse(paths[i], &p, NULL, 0) < 0)
                        abort();
                (void)om_repl_check(&p, (const char *)data + 1, size - 1, &v, &key, 1, "n2",
                                    &in_scope, err, sizeof(err));
        }
        return 0;
}
