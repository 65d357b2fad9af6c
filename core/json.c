/*
 * Implementation of json.h.
 */
#include "core/json.h"

#include <inttypes.h>

static void sep(struct om_json *j) {
        if (j->after_key) {
                j->after_key = false;
                return;
        }
        if (j->depth > 0) {
                if (!j->first[j->depth])
                        om_buf_puts(&j->buf, ",");
                j->first[j->depth] = false;
        }
}

static void open(struct om_json *j, const char *c) {
        sep(j);
        om_buf_puts(&j->buf, c);
        if (j->depth < OM_JSON_MAX_DEPTH - 1)
                j->depth++;
        j->first[j->depth] = true;
}

static void close_(struct om_json *j, const char *c) {
        om_buf_puts(&j->buf, c);
        if (j->depth > 0)
                j->depth--;
}

void om_json_object_begin(struct om_json *j) {
        open(j, "{");
}
void om_json_object_end(struct om_json *j) {
        close_(j, "}");
}
void om_json_array_begin(struct om_json *j) {
        open(j, "[");
}
void om_json_array_end(struct om_json *j) {
        close_(j, "]");
}

void om_json_escape(struct om_buf *b, const char *s) {
        om_buf_puts(b, "\"");
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':
                        om_buf_puts(b, "\\\"");
                        break;
                case '\\':
                        om_buf_puts(b, "\\\\");
                        break;
                case '\n':
                        om_buf_puts(b, "\\n");
                        break;
                case '\t':
                        om_buf_puts(b, "\\t");
                        break;
                case '\r':
                        om_buf_puts(b, "\\r");
                        break;
                default:
                        if (*p < 0x20)
                                om_buf_printf(b, "\\u%04x", *p);
                        else
                                om_buf_append(b, p, 1);
                }
        }
        om_buf_puts(b, "\"");
}

void om_json_key(struct om_json *j, const char *key) {
        sep(j);
        om_json_escape(&j->buf, key);
        om_buf_puts(&j->buf, ":");
        j->after_key = true;
}

void om_json_string(struct om_json *j, const char *s) {
        sep(j);
        if (s)
                om_json_escape(&j->buf, s);
        else
                om_buf_puts(&j->buf, "null");
}

void om_json_int(struct om_json *j, int64_t v) {
        sep(j);
        om_buf_printf(&j->buf, "%" PRId64, v);
}

void om_json_bool(struct om_json *j, bool v) {
        sep(j);
        om_buf_puts(&j->buf, v ? "true" : "false");
}

void om_json_null(struct om_json *j) {
        sep(j);
        om_buf_puts(&j->buf, "null");
}

void om_json_kv_string(struct om_json *j, const char *key, const char *s) {
        om_json_key(j, key);
        om_json_string(j, s);
}
void om_json_kv_int(struct om_json *j, const char *key, int64_t v) {
        om_json_key(j, key);
        om_json_int(j, v);
}
void om_json_kv_bool(struct om_json *j, const char *key, bool v) {
        om_json_key(j, key);
        om_json_bool(j, v);
}
