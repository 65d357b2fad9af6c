/*
 * Passphrase generation for managed LUKS keys: OM_PASSPHRASE_LEN
 * symbols drawn from libsodium's CSPRNG with randombytes_uniform, which rejects the
 * values that would make a modulo biased, so every symbol of the alphabet is equally
 * likely. The result lives in sodium_malloc memory (locked, guarded) and leaves through
 * om_sec_value_free. It does not store the passphrase anywhere (see sec_store.c).
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "secrets/sec.h"

_Static_assert(sizeof(OM_PASSPHRASE_ALPHABET) - 1 == 92, "92 passphrase symbols");

int om_passphrase_fill(char *out, size_t len, const char *alphabet) {
        size_t n = alphabet ? strlen(alphabet) : 0;
        if (n == 0 || n > UINT32_MAX)
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;
        for (size_t i = 0; i < len; i++)
                out[i] = alphabet[randombytes_uniform((uint32_t)n)];
        return 0;
}

int om_passphrase_generate(char **ret) {
        if (sodium_init() < 0) /* sodium_malloc needs it */
                return -EIO;
        char *p = sodium_malloc(OM_PASSPHRASE_LEN + 1);
        if (!p)
                return -ENOMEM;
        int r = om_passphrase_fill(p, OM_PASSPHRASE_LEN, OM_PASSPHRASE_ALPHABET);
        if (r < 0) {
                om_sec_value_free((uint8_t *)p, OM_PASSPHRASE_LEN + 1);
                return r;
        }
        p[OM_PASSPHRASE_LEN] = 0;
        *ret = p;
        return 0;
}
