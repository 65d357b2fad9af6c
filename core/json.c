/*
 * Implementation of json.h.
 */
#include "core/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { EV_MAP_BEGIN, EV_MAP_END, EV_SEQ_BEGIN, EV_SEQ_END, EV_STRING, EV_PLAIN };

static void record(struct om_json *j, int type, const char *text) {
        if (!j->record)
                return;
        struct om_json_event *n = realloc(j->events, (j->n_events + 1) * sizeof(*n));
        if (!n)
                return;
        j->events = n;
        n[j->n_events].type = type;
        n[j->n_events].text = text ? strdup(text) : NULL;
        j->n_events++;
}

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
        record(j, EV_MAP_BEGIN, NULL);
        open(j, "{");
}
void om_json_object_end(struct om_json *j) {
        record(j, EV_MAP_END, NULL);
        close_(j, "}");
}
void om_json_array_begin(struct om_json *j) {
        record(j, EV_SEQ_BEGIN, NULL);
        open(j, "[");
}
void om_json_array_end(struct om_json *j) {
        record(j, EV_SEQ_END, NULL);
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
        record(j, EV_STRING, key);
        sep(j);
        om_json_escape(&j->buf, key);
        om_buf_puts(&j->buf, ":");
        j->after_key = true;
}

void om_json_string(struct om_json *j, const char *s) {
        record(j, s ? EV_STRING : EV_PLAIN, s ? s : "null");
        sep(j);
        if (s)
                om_json_escape(&j->buf, s);
        else
                om_buf_puts(&j->buf, "null");
}

void om_json_int(struct om_json *j, int64_t v) {
        char t[32];
        snprintf(t, sizeof(t), "%" PRId64, v);
        record(j, EV_PLAIN, t);
        sep(j);
        om_buf_printf(&j->buf, "%" PRId64, v);
}

void om_json_bool(struct om_json *j, bool v) {
        record(j, EV_PLAIN, v ? "true" : "false");
        sep(j);
        om_buf_puts(&j->buf, v ? "true" : "false");
}

void om_json_null(struct om_json *j) {
        record(j, EV_PLAIN, "null");
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

void om_json_init(struct om_json *j, const char *format) {
        *j = (struct om_json){.record = format && strcmp(format, "yaml") == 0};
}

void om_json_free(struct om_json *j) {
        for (size_t i = 0; i < j->n_events; i++)
                free(j->events[i].text);
        free(j->events);
        om_buf_free(&j->buf);
        *j = (struct om_json){0};
}

/* A string YAML would read back as something else (bool, null, number) is quoted. */
static bool yaml_ambiguous(const char *s) {
        static const char *const words[] = {"true", "false", "yes",  "no",    "on",   "off",
                                            "null", "~",     "y",    "n",     "True", "False",
                                            "Null", "NULL",  "TRUE", "FALSE", ""};
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
                if (strcmp(s, words[i]) == 0)
                        return true;
        char *end;
        strtod(s, &end);
        return *end == 0;
}

static int yaml_write(void *data, unsigned char *buffer, size_t size) {
        return om_buf_append(data, buffer, size) == 0;
}

static int render_yaml(struct om_json *j, struct om_buf *out) {
        yaml_emitter_t em;
        yaml_event_t ev;
        int ok = yaml_emitter_initialize(&em);
        if (!ok)
                return -ENOMEM;
        yaml_emitter_set_output(&em, yaml_write, out);
        yaml_emitter_set_unicode(&em, 1);
        ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&em, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&em, &ev);
        for (size_t i = 0; ok && i < j->n_events; i++) {
                const struct om_json_event *e = &j->events[i];
                switch (e->type) {
                case EV_MAP_BEGIN:
                        ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                                 YAML_BLOCK_MAPPING_STYLE);
                        break;
                case EV_MAP_END:
                        ok = yaml_mapping_end_event_initialize(&ev);
                        break;
                case EV_SEQ_BEGIN:
                        ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                                  YAML_BLOCK_SEQUENCE_STYLE);
                        break;
                case EV_SEQ_END:
                        ok = yaml_sequence_end_event_initialize(&ev);
                        break;
                default: {
                        bool plain = e->type == EV_PLAIN || !yaml_ambiguous(e->text);
                        ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)e->text,
                                                          (int)strlen(e->text), plain, 1,
                                                          YAML_ANY_SCALAR_STYLE);
                }
                }
                ok = ok && yaml_emitter_emit(&em, &ev);
        }
        ok = ok && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
        yaml_emitter_delete(&em);
        return ok ? 0 : -EINVAL;
}

int om_json_render(struct om_json *j, const char *format, struct om_buf *out) {
        if (format && strcmp(format, "yaml") == 0) {
                if (!j->record)
                        return -EINVAL;
                return render_yaml(j, out);
        }
        int r = om_buf_puts(out, j->buf.data ? j->buf.data : "null");
        return r < 0 ? r : om_buf_puts(out, "\n");
}

int om_json_print(struct om_json *j, const char *format, FILE *f) {
        struct om_buf out = {0};
        int r = om_json_render(j, format, &out);
        if (r == 0)
                fputs(out.data, f);
        om_buf_free(&out);
        return r;
}
