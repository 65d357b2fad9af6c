/*
 * msgpack helpers of the cluster and agent modules: typed lookups in a decoded map that
 * never trust the input (a missing key, a wrong type or an over-long string is reported,
 * not assumed), and packing shorthands. Unknown keys are simply never looked up, which is
 * how every decoder here skips fields it does not know.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

/* The value of key in map, NULL when map is not a map or has no such key. */
const msgpack_object *om_cl_mp_get(const msgpack_object *map, const char *key);
/* Copies a string value into buf (NUL-terminated); -EINVAL when not a string, contains a
 * NUL, or does not fit. */
int om_cl_mp_str(const msgpack_object *o, char *buf, size_t len);
int om_cl_mp_get_str(const msgpack_object *map, const char *key, char *buf, size_t len);
int om_cl_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *ret);
int om_cl_mp_get_i64(const msgpack_object *map, const char *key, int64_t *ret);
int om_cl_mp_get_bool(const msgpack_object *map, const char *key, bool *ret);
/* True when the string object equals s. */
bool om_cl_mp_streq(const msgpack_object *o, const char *s);

void om_cl_mp_str_pack(msgpack_packer *pk, const char *s);
void om_cl_mp_kv_str(msgpack_packer *pk, const char *key, const char *s);
void om_cl_mp_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
void om_cl_mp_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void om_cl_mp_kv_bool(msgpack_packer *pk, const char *key, bool v);

/* Decodes exactly one msgpack object filling data; -EBADMSG when it is not one complete
 * object, or has trailing bytes. The result lives in *ret (msgpack_unpacked_destroy). */
int om_cl_mp_unpack(const void *data, size_t len, msgpack_unpacked *ret);

/* Writes any msgpack object as JSON (maps with string keys, arrays, scalars; binary data
 * as hex; non-string keys skipped). */
void om_cl_mp_to_json(const msgpack_object *o, struct om_json *j);
