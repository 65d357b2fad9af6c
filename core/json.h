/*
 * A small streaming JSON writer for `--format json` output: compact, valid UTF-8 in
 * and out (control characters escaped), keys and values written in call order. It
 * does not parse JSON (om reads msgpack and ini, never JSON).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/util.h"

#define OM_JSON_MAX_DEPTH 32

struct om_json {
        struct om_buf buf;
        int depth;
        bool first[OM_JSON_MAX_DEPTH];
        bool after_key;
};

void om_json_object_begin(struct om_json *j);
void om_json_object_end(struct om_json *j);
void om_json_array_begin(struct om_json *j);
void om_json_array_end(struct om_json *j);
void om_json_key(struct om_json *j, const char *key);
void om_json_string(struct om_json *j, const char *s);
void om_json_int(struct om_json *j, int64_t v);
void om_json_bool(struct om_json *j, bool v);
void om_json_null(struct om_json *j);
/* key + value shorthands */
void om_json_kv_string(struct om_json *j, const char *key, const char *s);
void om_json_kv_int(struct om_json *j, const char *key, int64_t v);
void om_json_kv_bool(struct om_json *j, const char *key, bool v);
/* Appends an escaped JSON string literal to b. */
void om_json_escape(struct om_buf *b, const char *s);
