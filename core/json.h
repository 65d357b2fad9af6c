/*
 * A small streaming writer for machine-readable output: `--format json` (compact,
 * control characters escaped, keys and values in call order) and `--format yaml`
 * (through libyaml's emitter). Callers write once with the om_json_* calls; when the
 * writer was made with record set, the calls are also kept as events that
 * om_json_print replays into YAML. It does not parse JSON.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/util.h"

#define OM_JSON_MAX_DEPTH 32

struct om_json {
        struct om_buf buf;
        int depth;
        bool first[OM_JSON_MAX_DEPTH];
        bool after_key;
        bool record; /* keep events for YAML (set before the first call) */
        struct om_json_event *events;
        size_t n_events;
};

struct om_json_event {
        int type; /* enum in json.c */
        char *text;
};

/* A writer for --format FORMAT ("json" or "yaml"). */
void om_json_init(struct om_json *j, const char *format);
/* Prints the document (JSON, or YAML when recorded for it) with a final newline to f. */
int om_json_print(struct om_json *j, const char *format, FILE *f);
/* The same into a buffer. */
int om_json_render(struct om_json *j, const char *format, struct om_buf *out);
void om_json_free(struct om_json *j);

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
