/*
 * String, number and buffer helpers used across the tree: growable buffers, string
 * vectors, size/duration/boolean parsing, hex, UUIDs, UTF-8 checks. Pure functions with
 * no global state; every parser returns 0 or -EINVAL and writes its result only on
 * success.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/om.h"

static inline bool om_streq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}
static inline bool om_startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool om_endswith(const char *s, const char *suffix);

/* asprintf that returns the string or NULL on allocation failure. */
char *om_asprintf(const char *fmt, ...) _printf_(1, 2);
char *om_vasprintf(const char *fmt, va_list ap);

/* Growable byte buffer, always NUL-terminated for convenience. */
struct om_buf {
        char *data;
        size_t len;
        size_t cap;
};
int om_buf_reserve(struct om_buf *b, size_t extra);
int om_buf_append(struct om_buf *b, const void *data, size_t len);
int om_buf_puts(struct om_buf *b, const char *s);
int om_buf_printf(struct om_buf *b, const char *fmt, ...) _printf_(2, 3);
void om_buf_free(struct om_buf *b);
/* Hands the data to the caller (never NULL: an empty buffer gives ""). */
char *om_buf_steal(struct om_buf *b);

/* NULL-terminated string vectors. */
void om_strv_free(char **v);
OM_DEFINE_CLEANUP(char *, om_strv_free)
#define _cleanup_strv_free_ _cleanup_(om_strv_freep)
size_t om_strv_length(char *const *v);
int om_strv_push(char ***v, const char *s); /* copies s */
int om_strv_consume(char ***v, char *s);    /* takes s, frees it on failure */
bool om_strv_contains(char *const *v, const char *s);
/* Splits on any of the separator characters, dropping empty words. */
int om_strv_split(const char *s, const char *seps, char ***ret);
char *om_strv_join(char *const *v, const char *sep);
void om_strv_sort(char **v);

/* "1G", "512M", "100MiB", "4096" -> bytes (binary units). */
int om_parse_size(const char *s, uint64_t *ret);
/* "500ms", "1s", "2m", "1h"; a bare number is seconds. */
int om_parse_duration_ms(const char *s, uint64_t *ret);
int om_parse_bool(const char *s, bool *ret);
int om_parse_int(const char *s, long long min, long long max, long long *ret);
/* Formats a size the way df -h does: 977M, 1.0G. */
void om_format_size(uint64_t bytes, char *buf, size_t len);

int om_hex_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
int om_hex_decode(const char *in, uint8_t *out, size_t outlen);

/* Random version 4 UUID, lower case, 36 characters + NUL. */
int om_uuid4(char out[37]);
bool om_uuid_valid(const char *s);

bool om_utf8_valid(const char *s, size_t len);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in milliseconds. */
uint64_t om_now_ms(void);
uint64_t om_mono_ms(void);

/* Strips leading and trailing white space in place, returns s. */
char *om_strstrip(char *s);
