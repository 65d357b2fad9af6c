/*
 * sec objects (DESIGN section 4): configs whose [data] values are sealed with
 * XChaCha20-Poly1305-IETF under a key derived from the cluster secret, associated data
 * "<path>\0<key>". Plaintext values live in sodium_malloc memory and never reach disk,
 * argv or a log line. Writers lock the object; every write stamps a new version.
 *
 * Contract used by the resources module (disk.crypt) and the CLI.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/objpath.h"

#define OM_SEC_VALUE_MAX (1024 * 1024)

/* Decodes the value of key. *ret_value is sodium_malloc'd, NUL-terminated (the NUL is
 * not counted in *ret_len), freed with om_sec_value_free. -ENOENT when the object or the
 * key does not exist, -EBADMSG when the sealed value does not open. */
int om_sec_get(const struct om_path *sec, const char *key, uint8_t **ret_value, size_t *ret_len);
void om_sec_value_free(uint8_t *value, size_t len);

/* Seals and stores value under key, creating the object when it does not exist. */
int om_sec_set(const struct om_path *sec, const char *key, const uint8_t *value, size_t len);

/* Removes key: 1 removed, 0 absent. */
int om_sec_remove(const struct om_path *sec, const char *key);

/* 1 when the object has the key, 0 when not (or no object). */
int om_sec_has(const struct om_path *sec, const char *key);

/* 256 characters drawn uniformly from the 92 symbols of DESIGN section 4, in
 * sodium_malloc memory, NUL-terminated; free with om_sec_value_free(p, 256). */
int om_passphrase_generate(char **ret);
