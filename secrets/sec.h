/*
 * sec objects: configs whose [data] values are sealed with
 * XChaCha20-Poly1305-IETF under a key derived from the cluster secret, associated data
 * "<path>\0<key>". Plaintext values live in sodium_malloc memory and never reach disk,
 * argv or a log line. Writers lock the object; every write stamps a new version.
 *
 * Contract used by the resources module (disk.crypt) and the CLI.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/objpath.h"

#define OM_SEC_VALUE_MAX (1024 * 1024)
#define OM_SEC_KEY_MAX 255
#define OM_SEC_SEALED_PREFIX "sealed:"
/* crypto_kdf subkey of the cluster secret that seals values at rest */
#define OM_SEC_KDF_CTX "sealsec_"
#define OM_SEC_KDF_ID 1
#define OM_PASSPHRASE_LEN 256
/* The 92 symbols of generated passphrases: A-Z a-z 0-9 and ASCII punctuation but ' and \ */
#define OM_PASSPHRASE_ALPHABET                                                                     \
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"                           \
        "!\"#$%&()*+,-./:;<=>?@[]^_`{|}~"

/* Decodes the value of key. *ret_value is sodium_malloc'd, NUL-terminated (the NUL is
 * not counted in *ret_len), freed with om_sec_value_free. -ENOENT when the object or the
 * key does not exist, -EBADMSG when the sealed value does not open. */
int om_sec_get(const struct om_path *sec, const char *key, uint8_t **ret_value, size_t *ret_len);
void om_sec_value_free(uint8_t *value, size_t len);

/* Seals and stores value under key, creating the object when it does not exist. */
int om_sec_set(const struct om_path *sec, const char *key, const uint8_t *value, size_t len);

/* Removes key: 1 removed, 0 absent. */
int om_sec_remove(const struct om_path *sec, const char *key);

/* After a secret rotation: under the object's lock, every value that opens only with the
 * keyring's other secret is sealed again with the current one, the file rewritten in
 * place (same version: the plaintext did not change). Counts the values sealed again and
 * those no secret of the keyring opens. 0 when the object does not exist. */
int om_sec_reseal(const struct om_path *sec, size_t *ret_resealed, size_t *ret_unopened);

/* 1 when the object has the key, 0 when not (or no object). */
int om_sec_has(const struct om_path *sec, const char *key);

/* 256 characters drawn uniformly from the 92-symbol alphabet, in
 * sodium_malloc memory, NUL-terminated; free with om_sec_value_free(p, 256). */
int om_passphrase_generate(char **ret);

/* ---- extensions (the calls above are built on these) ---- */

/* Key names: [A-Za-z0-9_.-]{1,255}. */
bool om_sec_key_valid(const char *key);

/* om_sec_put flags */
enum {
        OM_SEC_PUT_CREATE = 1 << 0,     /* create the object when absent (else -ENOENT) */
        OM_SEC_PUT_NO_REPLACE = 1 << 1, /* -EEXIST when the key exists (`add`) */
        OM_SEC_PUT_MUST_EXIST = 1 << 2, /* -ENOKEY when the key does not exist (`change`) */
};
/* Seals and stores value under key with the object locked, checking the flags' conditions
 * under the same lock. -EINVAL for a bad key name, -EFBIG over OM_SEC_VALUE_MAX.
 * Returns 1 when a value was replaced, 0 when added. om_sec_set is
 * om_sec_put(..., OM_SEC_PUT_CREATE) (returning 0). */
int om_sec_put(const struct om_path *sec, const char *key, const uint8_t *value, size_t len,
               unsigned flags);

/* The keys of [data], sorted (strv, free with om_strv_free). -ENOENT when no object. */
int om_sec_keys(const struct om_path *sec, char ***ret);

/* The sealing itself, with an explicit key (tests, and the replication check): pathstr is
 * the canonical "ns/sec/name". om_sec_seal returns "sealed:<base64>" (malloc'd; it holds
 * no plaintext); om_sec_open returns sodium_malloc'd plaintext as om_sec_get does, or
 * -EBADMSG when the text is not a sealed value or does not open with this key and
 * associated data. */
int om_sec_seal(const uint8_t key[32], const char *pathstr, const char *k, const uint8_t *value,
                size_t len, char **ret_sealed);
int om_sec_open(const uint8_t key[32], const char *pathstr, const char *k, const char *sealed,
                uint8_t **ret_value, size_t *ret_len);

/* Fills out[0..len) with symbols drawn uniformly (randombytes_uniform) from alphabet. */
int om_passphrase_fill(char *out, size_t len, const char *alphabet);
