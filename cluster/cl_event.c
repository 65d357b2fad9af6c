/*
 * Implementation of cl_event.h: event kinds, the builder, the ring, the filters.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cl_event.h"

static const char *const kind_names[_OM_EV_KIND_MAX] = {
        [OM_EV_NODE_UP] = "node_up",
        [OM_EV_NODE_SUSPECT] = "node_suspect",
        [OM_EV_NODE_DOWN] = "node_down",
        [OM_EV_QUORUM_HELD] = "quorum_held",
        [OM_EV_QUORUM_DOUBT] = "quorum_doubt",
        [OM_EV_QUORUM_LOST] = "quorum_lost",
        [OM_EV_MONITOR] = "monitor",
        [OM_EV_AVAIL] = "avail",
        [OM_EV_TARGET_SET] = "target_set",
        [OM_EV_TARGET_REACHED] = "target_reached",
        [OM_EV_TARGET_FAILED] = "target_failed",
        [OM_EV_TAKEOVER] = "takeover",
        [OM_EV_FAILOVER] = "failover",
        [OM_EV_ACTION_START] = "action_start",
        [OM_EV_ACTION_END] = "action_end",
        [OM_EV_REPL_INSTALL] = "repl_install",
        [OM_EV_REPL_REFUSED] = "repl_refused",
        [OM_EV_HB_DROPS] = "hb_drops",
};

const char *om_ev_kind_to_string(enum om_ev_kind k) {
        return (unsigned)k < _OM_EV_KIND_MAX ? kind_names[k] : "unknown";
}

int om_ev_kind_from_string(const char *s) {
        for (int k = 0; k < _OM_EV_KIND_MAX; k++)
                if (om_streq(kind_names[k], s))
                        return k;
        return -EINVAL;
}

void om_event_done(struct om_event *e) {
        free(e->path);
        free(e->peer);
        free(e->json);
        free(e->text);
        *e = (struct om_event){0};
}

/* ---- building ---- */

void om_ev_begin(struct om_ev_build *b, enum om_ev_kind kind, const char *node, uint64_t ts_ms) {
        *b = (struct om_ev_build){0};
        b->ev.kind = kind;
        b->ev.ts_ms = ts_ms;
        om_json_init(&b->j, "json");
        om_json_object_begin(&b->j);
        om_json_kv_int(&b->j, "ts", (int64_t)ts_ms);
        om_json_kv_string(&b->j, "kind", om_ev_kind_to_string(kind));
        om_json_kv_string(&b->j, "node", node);
        if (om_buf_puts(&b->text, om_ev_kind_to_string(kind)) < 0)
                b->failed = true;
}

/* A text value is quoted when it holds a space, a quote or nothing. */
static void text_field(struct om_ev_build *b, const char *key, const char *val) {
        bool quote = !val[0] || strpbrk(val, " \t\"=") != NULL;
        if (om_buf_printf(&b->text, " %s=", key) < 0)
                b->failed = true;
        if (!quote) {
                if (om_buf_puts(&b->text, val) < 0)
                        b->failed = true;
                return;
        }
        if (om_buf_puts(&b->text, "\"") < 0)
                b->failed = true;
        for (const char *p = val; *p; p++) {
                /* the line stays one line: control characters as spaces */
                char c = (unsigned char)*p < 0x20 ? ' ' : *p;
                if ((c == '"' || c == '\\') && om_buf_puts(&b->text, "\\") < 0)
                        b->failed = true;
                if (om_buf_append(&b->text, &c, 1) < 0)
                        b->failed = true;
        }
        if (om_buf_puts(&b->text, "\"") < 0)
                b->failed = true;
}

void om_ev_str(struct om_ev_build *b, const char *key, const char *val) {
        if (!val)
                val = "";
        om_json_kv_string(&b->j, key, val);
        text_field(b, key, val);
}

void om_ev_int(struct om_ev_build *b, const char *key, int64_t val) {
        om_json_kv_int(&b->j, key, val);
        if (om_buf_printf(&b->text, " %s=%" PRId64, key, val) < 0)
                b->failed = true;
}

void om_ev_path(struct om_ev_build *b, const char *path) {
        free(b->ev.path);
        if (!(b->ev.path = strdup(path ? path : "")))
                b->failed = true;
        om_ev_str(b, "path", path);
}

void om_ev_peer(struct om_ev_build *b, const char *peer) {
        free(b->ev.peer);
        if (!(b->ev.peer = strdup(peer ? peer : "")))
                b->failed = true;
        om_ev_str(b, "peer", peer);
}

void om_ev_build_done(struct om_ev_build *b) {
        om_event_done(&b->ev);
        om_json_free(&b->j);
        om_buf_free(&b->text);
}

/* ---- the ring ---- */

int om_ev_ring_init(struct om_ev_ring *r, size_t cap) {
        *r = (struct om_ev_ring){0};
        if (cap == 0)
                return -EINVAL;
        r->v = calloc(cap, sizeof(*r->v));
        if (!r->v)
                return -ENOMEM;
        r->cap = cap;
        return 0;
}

void om_ev_ring_free(struct om_ev_ring *r) {
        for (size_t i = 0; r->v && i < r->cap; i++)
                om_event_done(&r->v[i]);
        free(r->v);
        *r = (struct om_ev_ring){0};
}

const struct om_event *om_ev_ring_push(struct om_ev_ring *r, struct om_ev_build *b) {
        om_json_object_end(&b->j);
        const char *body = b->j.buf.data;
        char *json = NULL;
        if (!b->failed && body && body[0] == '{')
                json = om_asprintf("{\"seq\":%" PRIu64 ",%s", r->last + 1, body + 1);
        if (!json) {
                om_ev_build_done(b);
                return NULL;
        }
        struct om_event *slot;
        if (r->n == r->cap) {
                slot = &r->v[r->head];
                om_event_done(slot);
                r->head = (r->head + 1) % r->cap;
        } else
                slot = &r->v[(r->head + r->n++) % r->cap];
        *slot = b->ev;
        b->ev = (struct om_event){0};
        slot->seq = ++r->last;
        slot->json = json;
        slot->text = om_buf_steal(&b->text);
        om_ev_build_done(b);
        return slot;
}

uint64_t om_ev_ring_first(const struct om_ev_ring *r) {
        return r->last + 1 - r->n;
}

const struct om_event *om_ev_ring_get(const struct om_ev_ring *r, uint64_t seq) {
        uint64_t first = om_ev_ring_first(r);
        if (seq < first || seq > r->last)
                return NULL;
        return &r->v[(r->head + (seq - first)) % r->cap];
}

uint64_t om_ev_ring_lost(const struct om_ev_ring *r, uint64_t after) {
        uint64_t first = om_ev_ring_first(r);
        return after + 1 < first ? first - (after + 1) : 0;
}

/* ---- filters ---- */

static const char *const filter_keys[] = {"kind", "path", "node"};

int om_ev_filter_add(struct om_ev_filter *f, const char *spec, char *err, size_t errlen) {
        size_t len = strlen(spec);
        const char *eq = strchr(spec, '=');
        int key = -1;
        if (len == 0 || len > OM_EV_FILTER_LEN) {
                snprintf(err, errlen, "filter '%.40s': %s", spec,
                         len ? "longer than 256 characters" : "empty");
                return -EINVAL;
        }
        if (f->n >= OM_EV_FILTER_TERMS) {
                snprintf(err, errlen, "filter '%s': more than %d filters", spec,
                         OM_EV_FILTER_TERMS);
                return -EINVAL;
        }
        for (size_t k = 0; eq && k < ARRAY_SIZE(filter_keys); k++)
                if ((size_t)(eq - spec) == strlen(filter_keys[k]) &&
                    strncmp(spec, filter_keys[k], (size_t)(eq - spec)) == 0)
                        key = (int)k;
        if (key < 0) {
                snprintf(err, errlen, "filter '%s': not key=value with key kind, path or node",
                         spec);
                return -EINVAL;
        }
        char **globs = NULL;
        if (om_strv_split(eq + 1, ",", &globs) < 0)
                return -ENOMEM;
        size_t n = om_strv_length(globs);
        if (n == 0 || n > OM_EV_FILTER_GLOBS) {
                snprintf(err, errlen, "filter '%s': %s", spec,
                         n ? "more than 16 values" : "no value after '='");
                om_strv_free(globs);
                return -EINVAL;
        }
        /* a kind without a wildcard must name one: a typo matches nothing forever */
        for (size_t i = 0; key == 0 && i < n; i++)
                if (!strpbrk(globs[i], "*?[") && om_ev_kind_from_string(globs[i]) < 0) {
                        snprintf(err, errlen, "filter '%s': no event kind '%s'", spec, globs[i]);
                        om_strv_free(globs);
                        return -EINVAL;
                }
        f->term[f->n].key = key;
        f->term[f->n].globs = globs;
        f->n++;
        return 0;
}

bool om_ev_filter_match(const struct om_ev_filter *f, const struct om_event *e) {
        for (size_t t = 0; f && t < f->n; t++) {
                const char *v = f->term[t].key == 0   ? om_ev_kind_to_string(e->kind)
                                : f->term[t].key == 1 ? e->path
                                                      : e->peer;
                bool any = false;
                for (char **g = f->term[t].globs; v && *g && !any; g++)
                        any = fnmatch(*g, v, 0) == 0;
                if (!any)
                        return false;
        }
        return true;
}

void om_ev_filter_free(struct om_ev_filter *f) {
        for (size_t t = 0; t < f->n; t++)
                om_strv_free(f->term[t].globs);
        *f = (struct om_ev_filter){0};
}
