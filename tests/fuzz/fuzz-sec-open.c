/*
 * Fuzz target for the sealed value decoder (om_sec_open): arbitrary text after
 * "sealed:" must be refused cleanly (-EBADMSG), never read out of bounds. The first
 * input byte picks whether a real sealed value is mutated or raw text is tried.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/sec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        if (sodium_init() < 0)
                return 0;
        char *text = malloc(size + 8);
        if (!text)
                return 0;
        memcpy(text, "sealed:", 7);
        memcpy(text + 7, data, size);
        text[size + 7] = 0;

        uint8_t *value = NULL;
        size_t len = 0;
        /* inputs with an embedded NUL are read up to it, as the ini parser would refuse them */
        if (om_sec_open(key, "demo/sec/x", "k", text, &value, &len) == 0)
                om_sec_value_free(value, len);
        if (om_sec_open(key, "demo/sec/x", "k", text + 7, &value, &len) == 0)
                om_sec_value_free(value, len);
        free(text);
        return 0;
}
