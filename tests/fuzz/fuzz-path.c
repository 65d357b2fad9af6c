/*
 * libFuzzer target for object paths and selectors (core/objpath.h). The input is split
 * at its first newline into a path and a selector. Properties: a parsed path has valid
 * parts and its canonical string parses back to the same path, a refused one says why;
 * a selector that is a plain canonical path matches exactly that path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/objpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256];
        if (size > 1024)
                return 0;
        char *in = strndup((const char *)data, size);
        if (!in)
                return 0;
        char *sel = strchr(in, '\n');
        if (sel)
                *sel++ = 0;

        struct om_path p, q;
        err[0] = 0;
        if (om_path_parse(in, &p, err, sizeof(err)) == 0) {
                char s[OM_PATH_STRMAX];
                if (!om_name_valid(p.ns, NULL, 0) || !om_name_valid(p.name, NULL, 0))
                        abort();
                om_path_to_string(&p, s, sizeof(s));
                if (om_path_parse(s, &q, NULL, 0) < 0 || memcmp(&p, &q, sizeof(p)) != 0)
                        abort();
                if (!om_selector_match(s, &p))
                        abort();
                if (sel)
                        (void)om_selector_match(sel, &p);
                char *fqdn = om_path_fqdn(&p, "default");
                free(fqdn);
        } else if (!err[0]) {
                abort();
        }
        (void)om_selector_is_pattern(in);
        free(in);
        return 0;
}
