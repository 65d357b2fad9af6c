/*
 * libFuzzer target for the ini parser (core/ini.h). Property: whatever om_ini_parse
 * accepts, om_ini_format writes as text that parses again to the same sections, keys,
 * scopes, values and comments (the round trip `om` relies on when it rewrites a config).
 * It is not a test of error messages; rejected inputs only have to be rejected cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ini.h"

static int same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct om_ini *a, const struct om_ini *b) {
        if (a->n_sections != b->n_sections)
                abort();
        for (size_t i = 0; i < a->n_sections; i++) {
                const struct om_ini_section *x = &a->sections[i], *y = &b->sections[i];
                if (strcmp(x->name, y->name) != 0 || x->n_entries != y->n_entries ||
                    !same_str(x->comment, y->comment) ||
                    !same_str(x->inline_comment, y->inline_comment))
                        abort();
                for (size_t j = 0; j < x->n_entries; j++)
                        if (strcmp(x->entries[j].key, y->entries[j].key) != 0 ||
                            !same_str(x->entries[j].scope, y->entries[j].scope) ||
                            strcmp(x->entries[j].value, y->entries[j].value) != 0 ||
                            !same_str(x->entries[j].comment, y->entries[j].comment) ||
                            !same_str(x->entries[j].inline_comment, y->entries[j].inline_comment))
                                abort();
        }
        if (!same_str(a->tail, b->tail))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256];
        _cleanup_ini_ struct om_ini *ini = NULL;
        _cleanup_ini_ struct om_ini *again = NULL;

        /* Formatting adds " = " and indentation: an input line right at the 64 KiB limit
         * may legitimately come back over it. Stay clear of the limits. */
        if (size > OM_INI_MAX_LINE / 2)
                return 0;
        if (om_ini_parse((const char *)data, size, "fuzz", &ini, err, sizeof(err)) < 0)
                return 0;
        char *text = om_ini_format(ini);
        if (!text)
                abort();
        if (om_ini_parse(text, strlen(text), "formatted", &again, err, sizeof(err)) < 0) {
                fprintf(stderr, "round trip failed: %s\n--- formatted:\n%s\n", err, text);
                abort();
        }
        check_same(ini, again);
        free(text);
        return 0;
}
