/*
 * sec objects on disk: sealing and opening [data] values, and the locked
 * read-modify-write of a sec object's config. A value is sealed as
 * "sealed:" base64(nonce || ciphertext || tag) with XChaCha20-Poly1305-IETF, a random
 * 24-byte nonce, associated data "<ns>/sec/<name>\0<key>" (so a value moved to another
 * key or object does not open) and the key OM_SEC_KDF_ID/"sealsec_" derived from the
 * cluster secret. Plaintext only exists in sodium_malloc memory owned by the caller.
 * This file does not parse the command line nor print anything; it logs no value.
 */
#include "secrets/sec.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "core/keywords.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

_Static_assert(OM_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "aead key size");

static int sodium_ready(void) {
        return sodium_init() < 0 ? -EIO : 0;
}

/* The sealing keys of the keyring's secrets (secrets/cluster_key.h): [0] seals, every
 * one opens (two during a rotation). sodium_malloc'd, wiped and freed by the cleanup. */
struct seal_keys {
        uint8_t *k[2];
        size_t n;
};

static void seal_keys_free(struct seal_keys *s) {
        for (size_t i = 0; i < 2; i++)
                if (s->k[i])
                        sodium_free(s->k[i]);
        s->n = 0;
}
#define _cleanup_seal_keys_ _cleanup_(seal_keys_free)

static int seal_keys_load(struct seal_keys *ret) {
        struct om_cluster_keyring ring;
        int r = sodium_ready();
        if (r < 0 || (r = om_cluster_keyring_load(&ring)) < 0)
                return r;
        for (size_t i = 0; i < ring.n && r == 0; i++) {
                if (!(ret->k[i] = sodium_malloc(OM_KEY_LEN)))
                        r = -ENOMEM;
                else if ((r = om_cluster_key_derive_from(ring.secrets[i], OM_SEC_KDF_ID,
                                                         OM_SEC_KDF_CTX, ret->k[i])) == 0)
                        ret->n = i + 1;
        }
        om_cluster_keyring_wipe(&ring);
        if (r < 0)
                seal_keys_free(ret);
        return r;
}

/* Opens sealed with the first key that opens it: its index in *ret_which. */
static int open_any(const struct seal_keys *keys, const char *pathstr, const char *k,
                    const char *sealed, uint8_t **ret_value, size_t *ret_len, size_t *ret_which) {
        int r = -EBADMSG;
        for (size_t i = 0; i < keys->n; i++)
                if ((r = om_sec_open(keys->k[i], pathstr, k, sealed, ret_value, ret_len)) !=
                    -EBADMSG) {
                        if (ret_which)
                                *ret_which = i;
                        return r;
                }
        return r;
}

bool om_sec_key_valid(const char *key) {
        size_t n = key ? strlen(key) : 0;
        if (n == 0 || n > OM_SEC_KEY_MAX)
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

void om_sec_value_free(uint8_t *value, size_t len) {
        if (!value)
                return;
        sodium_memzero(value, len);
        sodium_free(value);
}

/* "<path>\0<key>" */
static int make_ad(const char *pathstr, const char *k, uint8_t **ret, size_t *ret_len) {
        size_t pl = strlen(pathstr), kl = strlen(k);
        uint8_t *ad = malloc(pl + 1 + kl);
        if (!ad)
                return -ENOMEM;
        memcpy(ad, pathstr, pl);
        ad[pl] = 0;
        memcpy(ad + pl + 1, k, kl);
        *ret = ad;
        *ret_len = pl + 1 + kl;
        return 0;
}

int om_sec_seal(const uint8_t key[32], const char *pathstr, const char *k, const uint8_t *value,
                size_t len, char **ret_sealed) {
        int r;
        if ((r = sodium_ready()) < 0)
                return r;
        if (len > OM_SEC_VALUE_MAX)
                return -EFBIG;
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_len;
        if ((r = make_ad(pathstr, k, &ad, &ad_len)) < 0)
                return r;
        size_t bin_len = NONCE_LEN + len + TAG_LEN;
        _cleanup_free_ uint8_t *bin = malloc(bin_len);
        size_t prefix = strlen(OM_SEC_SEALED_PREFIX);
        size_t b64_len = sodium_base64_ENCODED_LEN(bin_len, B64_VARIANT);
        _cleanup_free_ char *out = malloc(prefix + b64_len);
        if (!bin || !out)
                return -ENOMEM;
        randombytes_buf(bin, NONCE_LEN);
        unsigned long long clen;
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(bin + NONCE_LEN, &clen, value, len, ad,
                                                       ad_len, NULL, bin, key) < 0)
                return -EBADMSG;
        memcpy(out, OM_SEC_SEALED_PREFIX, prefix);
        sodium_bin2base64(out + prefix, b64_len, bin, bin_len, B64_VARIANT);
        *ret_sealed = OM_TAKE_PTR(out);
        return 0;
}

int om_sec_open(const uint8_t key[32], const char *pathstr, const char *k, const char *sealed,
                uint8_t **ret_value, size_t *ret_len) {
        int r;
        if ((r = sodium_ready()) < 0)
                return r;
        if (!sealed || !om_startswith(sealed, OM_SEC_SEALED_PREFIX))
                return -EBADMSG;
        const char *b64 = sealed + strlen(OM_SEC_SEALED_PREFIX);
        size_t b64_len = strlen(b64);
        if (b64_len + 1 >
            sodium_base64_ENCODED_LEN(NONCE_LEN + OM_SEC_VALUE_MAX + TAG_LEN, B64_VARIANT))
                return -EBADMSG;
        size_t max_bin = b64_len / 4 * 3 + 3;
        _cleanup_free_ uint8_t *bin = malloc(max_bin ? max_bin : 1);
        if (!bin)
                return -ENOMEM;
        size_t bin_len;
        if (sodium_base642bin(bin, max_bin, b64, b64_len, NULL, &bin_len, NULL, B64_VARIANT) < 0 ||
            bin_len < NONCE_LEN + TAG_LEN || bin_len - NONCE_LEN - TAG_LEN > OM_SEC_VALUE_MAX)
                return -EBADMSG;
        _cleanup_free_ uint8_t *ad = NULL;
        size_t ad_len;
        if ((r = make_ad(pathstr, k, &ad, &ad_len)) < 0)
                return r;
        size_t len = bin_len - NONCE_LEN - TAG_LEN;
        uint8_t *value = sodium_malloc(len + 1);
        if (!value)
                return -ENOMEM;
        unsigned long long mlen;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(value, &mlen, NULL, bin + NONCE_LEN,
                                                       bin_len - NONCE_LEN, ad, ad_len, bin,
                                                       key) < 0) {
                om_sec_value_free(value, len + 1);
                return -EBADMSG;
        }
        value[len] = 0;
        *ret_value = value;
        *ret_len = len;
        return 0;
}

static int load(const struct om_path *sec, struct om_object **ret) {
        if (sec->kind != OM_KIND_SEC)
                return -EINVAL;
        char err[512];
        int r = om_object_load(sec, ret, err, sizeof(err));
        if (r < 0 && r != -ENOENT)
                log_error_errno(r, "%s", err);
        return r;
}

int om_sec_get(const struct om_path *sec, const char *key, uint8_t **ret_value, size_t *ret_len) {
        if (!om_sec_key_valid(key))
                return -EINVAL;
        _cleanup_object_ struct om_object *o = NULL;
        int r = load(sec, &o);
        if (r < 0)
                return r;
        const struct om_ini_entry *e = om_ini_lookup(o->ini, "data", key, NULL);
        if (!e || e->scope)
                return -ENOENT;
        _cleanup_seal_keys_ struct seal_keys keys = {0};
        if ((r = seal_keys_load(&keys)) < 0)
                return r;
        return open_any(&keys, o->pathstr, key, e->value, ret_value, ret_len, NULL);
}

int om_sec_reseal(const struct om_path *sec, size_t *ret_resealed, size_t *ret_unopened) {
        *ret_resealed = *ret_unopened = 0;
        if (sec->kind != OM_KIND_SEC)
                return -EINVAL;
        _cleanup_seal_keys_ struct seal_keys keys = {0};
        int r = seal_keys_load(&keys);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        if ((r = om_object_lock(sec, &lock)) < 0)
                return r;
        _cleanup_object_ struct om_object *o = NULL;
        if ((r = load(sec, &o)) < 0)
                return r == -ENOENT ? 0 : r;
        struct om_ini_section *data = om_ini_find_section(o->ini, "data");
        for (size_t i = 0; data && i < data->n_entries; i++) {
                struct om_ini_entry *e = &data->entries[i];
                uint8_t *plain = NULL;
                size_t len = 0, which = 0;
                if (e->scope ||
                    open_any(&keys, o->pathstr, e->key, e->value, &plain, &len, &which) < 0) {
                        (*ret_unopened)++;
                        continue;
                }
                _cleanup_free_ char *sealed = NULL;
                if (which != 0)
                        r = om_sec_seal(keys.k[0], o->pathstr, e->key, plain, len, &sealed);
                om_sec_value_free(plain, len + 1);
                if (r < 0)
                        return r;
                if (which != 0) {
                        free(e->value);
                        e->value = OM_TAKE_PTR(sealed);
                        (*ret_resealed)++;
                }
        }
        if (*ret_resealed && (r = om_object_rewrite(o)) < 0)
                return r;
        return 0;
}

int om_sec_has(const struct om_path *sec, const char *key) {
        if (!om_sec_key_valid(key))
                return 0;
        _cleanup_object_ struct om_object *o = NULL;
        if (load(sec, &o) < 0)
                return 0;
        return om_ini_get(o->ini, "data", key, NULL) ? 1 : 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int om_sec_keys(const struct om_path *sec, char ***ret) {
        _cleanup_object_ struct om_object *o = NULL;
        int r = load(sec, &o);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0;
        const struct om_ini_section *s = om_ini_find_section(o->ini, "data");
        for (size_t i = 0; s && i < s->n_entries; i++, n++)
                if ((r = om_strv_push(&v, s->entries[i].key)) < 0)
                        return r;
        if (!v && !(v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = OM_TAKE_PTR(v);
        return 0;
}

int om_sec_put(const struct om_path *sec, const char *key, const uint8_t *value, size_t len,
               unsigned flags) {
        if (sec->kind != OM_KIND_SEC || !om_sec_key_valid(key))
                return -EINVAL;
        if (len > OM_SEC_VALUE_MAX)
                return -EFBIG;
        _cleanup_seal_keys_ struct seal_keys keys = {0}; /* keys.k[0] seals */
        int r = seal_keys_load(&keys);
        if (r < 0)
                return r;

        _cleanup_close_ int lock = -1;
        if ((r = om_object_lock(sec, &lock)) < 0)
                return log_error_errno(r, "Failed to lock the object: %m");
        _cleanup_object_ struct om_object *o = NULL;
        r = load(sec, &o);
        if (r == -ENOENT && (flags & OM_SEC_PUT_CREATE))
                r = om_object_new(sec, &o);
        if (r < 0)
                return r;
        bool exists = om_ini_get(o->ini, "data", key, NULL) != NULL;
        if (exists && (flags & OM_SEC_PUT_NO_REPLACE))
                return -EEXIST;
        if (!exists && (flags & OM_SEC_PUT_MUST_EXIST))
                return -ENOKEY;

        _cleanup_free_ char *sealed = NULL;
        if ((r = om_sec_seal(keys.k[0], o->pathstr, key, value, len, &sealed)) < 0)
                return r;
        if ((r = om_ini_set(o->ini, "data", key, NULL, sealed)) < 0)
                return r;
        if ((r = om_object_write(o)) < 0)
                return log_error_errno(r, "Failed to write %s: %m", o->file);
        return exists ? 1 : 0;
}

int om_sec_set(const struct om_path *sec, const char *key, const uint8_t *value, size_t len) {
        int r = om_sec_put(sec, key, value, len, OM_SEC_PUT_CREATE);
        return r < 0 ? r : 0;
}

int om_sec_remove(const struct om_path *sec, const char *key) {
        if (sec->kind != OM_KIND_SEC || !om_sec_key_valid(key))
                return -EINVAL;
        _cleanup_close_ int lock = -1;
        int r = om_object_lock(sec, &lock);
        if (r < 0)
                return log_error_errno(r, "Failed to lock the object: %m");
        _cleanup_object_ struct om_object *o = NULL;
        if ((r = load(sec, &o)) < 0)
                return r == -ENOENT ? 0 : r;
        if ((r = om_ini_unset(o->ini, "data", key, NULL)) <= 0)
                return r;
        if ((r = om_object_write(o)) < 0)
                return log_error_errno(r, "Failed to write %s: %m", o->file);
        return 1;
}
