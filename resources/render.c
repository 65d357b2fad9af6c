/*
 * Implementation of render.h. The status tree follows the reference's layout rules:
 * four columns (name, flags, avail, label/notice) separated by one space; the name
 * column is as wide as the longest name (at least 14) plus 3 per tree level below the
 * object, so every row's flags and avail columns line up whatever its indentation;
 * the avail column is 10 wide. When the rows are wider than the width minus 4, the
 * columns wider than an even share are narrowed to split what is left, and their text
 * wraps under the column (continuation lines keep the tree's bars). Trailing blanks
 * are dropped.
 */
#include "resources/render.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/json.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/pr.h"

int om_res_term_width(void) {
        const char *c = getenv("COLUMNS");
        long long v;
        if (c && om_parse_int(c, 1, 100000, &v) == 0)
                return (int)OM_MAX(v, 78);
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return OM_MAX((int)ws.ws_col, 78);
        /* not a terminal (a pipe, a file, a test): lines are not wrapped */
        return 4096;
}

#define NCOLS 4
#define MAX_FRAGS 8
#define MAX_NODES 256

struct node {
        int parent;
        int depth; /* 0 for the object */
        const char *frag[NCOLS][MAX_FRAGS];
        int nfrag[NCOLS];
        int ncols;
};

struct forest {
        struct node n[MAX_NODES];
        int count;
};

static int add_node(struct forest *f, int parent) {
        if (f->count >= MAX_NODES)
                return -1;
        int i = f->count++;
        memset(&f->n[i], 0, sizeof(f->n[i]));
        f->n[i].parent = parent;
        f->n[i].depth = parent < 0 ? 0 : f->n[parent].depth + 1;
        return i;
}

static void add_text(struct forest *f, int node, int col, const char *text) {
        if (node < 0)
                return;
        struct node *n = &f->n[node];
        if (n->nfrag[col] < MAX_FRAGS)
                n->frag[col][n->nfrag[col]++] = text ? text : "";
        if (col + 1 > n->ncols)
                n->ncols = col + 1;
}

/* Word wrap at width like Python's textwrap (which the reference uses), without its
 * hyphen splitting: words go on the line while they fit; a word longer than width
 * fills what is left of the line and continues on the next ones. */
static int wrap(const char *text, int width, char ***ret) {
        char **v = NULL;
        int r = 0;
        if (width <= 0 || !text[0]) {
                *ret = calloc(1, sizeof(char *));
                return *ret ? 0 : -ENOMEM;
        }
        struct om_buf line = {0};
        const char *p = text;
        while (r == 0) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                size_t wl = strcspn(p, " ");
                size_t sep = line.len ? 1 : 0;
                if (line.len + sep + wl <= (size_t)width) {
                        if (sep)
                                om_buf_puts(&line, " ");
                        om_buf_append(&line, p, wl);
                        p += wl;
                        continue;
                }
                if (wl > (size_t)width) {
                        size_t room = (size_t)width - line.len - sep;
                        if (line.len && (line.len + sep >= (size_t)width)) {
                                r = om_strv_consume(&v, om_buf_steal(&line));
                                continue;
                        }
                        if (sep)
                                om_buf_puts(&line, " ");
                        om_buf_append(&line, p, room);
                        p += room;
                }
                r = om_strv_consume(&v, om_buf_steal(&line));
        }
        if (r == 0 && line.len)
                r = om_strv_consume(&v, om_buf_steal(&line));
        om_buf_free(&line);
        if (r == 0 && !v && !(v = calloc(1, sizeof(char *))))
                r = -ENOMEM;
        if (r < 0) {
                om_strv_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

static bool is_last_child(const struct forest *f, int i) {
        for (int j = i + 1; j < f->count; j++)
                if (f->n[j].parent == f->n[i].parent)
                        return false;
        return true;
}

static bool has_children(const struct forest *f, int i) {
        for (int j = i + 1; j < f->count; j++)
                if (f->n[j].parent == i)
                        return true;
        return false;
}

/* The tree markers of node i: first line or continuation line. */
static void prefix(const struct forest *f, int i, bool first, struct om_buf *out) {
        int chain[64], n = 0;
        for (int j = i; j >= 0 && f->n[j].parent >= 0 && n < 64; j = f->n[j].parent)
                chain[n++] = j;
        /* chain holds i and its ancestors below the root, deepest first */
        for (int k = n - 1; k >= 0; k--) {
                bool last = is_last_child(f, chain[k]);
                if (k > 0 || !first)
                        om_buf_puts(out, last ? "   " : "|  ");
                else
                        om_buf_puts(out, last ? "`- " : "|- ");
        }
        if (!first && n > 0)
                om_buf_puts(out, has_children(f, i) ? "|  " : "   ");
}

static void rstrip_line(struct om_buf *out, size_t line_start) {
        while (out->len > line_start && out->data[out->len - 1] == ' ')
                out->data[--out->len] = 0;
}

static int render_forest(const struct forest *f, int width, struct om_buf *out) {
        int pads[NCOLS] = {0};
        int depth = 0;
        for (int i = 0; i < f->count; i++) {
                depth = OM_MAX(depth, f->n[i].depth);
                for (int c = 0; c < NCOLS; c++)
                        for (int k = 0; k < f->n[i].nfrag[c]; k++)
                                pads[c] = OM_MAX(pads[c], (int)strlen(f->n[i].frag[c][k]));
        }
        if (pads[0] > 0)
                pads[0] = OM_MAX(pads[0], 14);
        pads[2] = 10;

        /* narrow the oversized columns when the rows do not fit */
        int twidth = width - 4;
        int total = (NCOLS - 1) + (depth > 0 ? (depth - 1) * 3 : 0);
        for (int c = 0; c < NCOLS; c++)
                total += pads[c];
        if (total > twidth) {
                int avg = (twidth - (NCOLS - 1)) / NCOLS;
                int n_over = 0, remaining = twidth - depth * 3;
                for (int c = 0; c < NCOLS; c++) {
                        if (pads[c] > avg)
                                n_over++;
                        else
                                remaining -= pads[c] + 1;
                }
                for (int c = 0; c < NCOLS; c++)
                        if (pads[c] > avg && n_over)
                                pads[c] = OM_MAX(remaining / n_over, 1);
        }

        for (int i = 0; i < f->count; i++) {
                const struct node *n = &f->n[i];
                char **lines[NCOLS] = {0};
                int nlines[NCOLS] = {0}, max_lines = 0;
                for (int c = 0; c < n->ncols; c++) {
                        for (int k = 0; k < n->nfrag[c]; k++) {
                                _cleanup_strv_free_ char **w = NULL;
                                if (wrap(n->frag[c][k], pads[c], &w) < 0)
                                        goto oom;
                                for (char **x = w; *x; x++)
                                        if (om_strv_push(&lines[c], *x) < 0)
                                                goto oom;
                        }
                        nlines[c] = (int)om_strv_length(lines[c]);
                        max_lines = OM_MAX(max_lines, nlines[c]);
                }
                for (int l = 0; l < max_lines; l++) {
                        size_t start = out->len;
                        prefix(f, i, l == 0, out);
                        int plen = (int)(out->len - start);
                        for (int c = 0; c < n->ncols; c++) {
                                int w = pads[c] + (c == 0 ? depth * 3 - plen : 0);
                                const char *t = l < nlines[c] ? lines[c][l] : "";
                                om_buf_printf(out, "%-*s ", OM_MAX(w, 0), t);
                        }
                        rstrip_line(out, start);
                        om_buf_puts(out, "\n");
                }
                for (int c = 0; c < NCOLS; c++)
                        om_strv_free(lines[c]);
                continue;
        oom:
                for (int c = 0; c < NCOLS; c++)
                        om_strv_free(lines[c]);
                return -ENOMEM;
        }
        return 0;
}

int om_res_left_provisioned(const struct om_res_svc *svc, struct om_buf *out) {
        int n = 0;
        for (size_t i = 0; i < svc->n_res; i++) {
                const struct om_res *r = svc->res[i];
                if (r->disabled || r->provisioned != 1)
                        continue;
                om_buf_printf(out, "%s%s%s%s%s", n ? ", " : "", r->rid, r->label ? " (" : "",
                              r->label ? r->label : "", r->label ? ")" : "");
                n++;
        }
        return n;
}

bool om_res_svc_partly_provisioned(const struct om_res_svc *svc) {
        if (svc->provisioned != 0)
                return false;
        for (size_t i = 0; i < svc->n_res; i++)
                if (!svc->res[i]->disabled && svc->res[i]->provisioned == 1)
                        return true;
        return false;
}

bool om_res_svc_fenced(const struct om_res_svc *svc) {
        for (size_t i = 0; i < svc->n_res; i++)
                if (!svc->res[i]->disabled && svc->res[i]->fenced)
                        return true;
        return false;
}

/* A resource's status as shown: "stdby up" for one up as a standby only (a Secondary). */
static const char *res_status_string(const struct om_res *r) {
        return r->stdby && r->status == OM_RES_UP ? "stdby up" : om_res_status_to_string(r->status);
}

static void instance_notice(struct om_res_svc *svc, struct om_buf *b) {
        if (svc->overall == OM_RES_WARN)
                om_buf_puts(b, "warn, ");
        if (svc->frozen)
                om_buf_puts(b, "frozen, ");
        if (om_res_svc_partly_provisioned(svc))
                om_buf_puts(b, "partially provisioned, ");
        else if (svc->provisioned == 0)
                om_buf_puts(b, "not provisioned, ");
        om_buf_puts(b, om_res_svc_fenced(svc) ? "fenced" : "idle");
        if (svc->avail == OM_RES_UP)
                om_buf_puts(b, ", started");
        else if (svc->standby == OM_RES_UP)
                om_buf_puts(b, ", standby up");
        else if (svc->standby == OM_RES_DOWN)
                om_buf_puts(b, ", standby down");
}

int om_res_render_status(struct om_res_svc *svc, int width, struct om_buf *out) {
        static struct forest f; /* large: keep it off the stack */
        char flags[MAX_NODES][9];
        struct om_buf notice = {0};
        f.count = 0;

        int obj = add_node(&f, -1);
        add_text(&f, obj, 0, svc->obj->pathstr);
        add_text(&f, obj, 1, "");
        add_text(&f, obj, 2, om_res_status_to_string(svc->avail));
        add_text(&f, obj, 3, svc->overall == OM_RES_WARN ? "warn" : "");
        int inst = add_node(&f, obj);
        add_text(&f, inst, 0, "instances");
        int node = add_node(&f, inst);
        instance_notice(svc, &notice);
        add_text(&f, node, 0, om_nodename());
        add_text(&f, node, 1, "");
        add_text(&f, node, 2, om_res_status_to_string(svc->avail));
        add_text(&f, node, 3, notice.data ? notice.data : "");
        for (size_t i = 0; i < svc->n_res && i < MAX_NODES - 4; i++) {
                struct om_res *r = svc->res[i];
                int rn = add_node(&f, node);
                om_res_flags(r, flags[i]);
                add_text(&f, rn, 0, r->rid);
                add_text(&f, rn, 1, flags[i]);
                add_text(&f, rn, 2, res_status_string(r));
                add_text(&f, rn, 3, r->label ? r->label : "");
                for (char **x = r->notes; x && *x; x++)
                        add_text(&f, rn, 3, *x);
        }
        int e = render_forest(&f, width, out);
        om_buf_free(&notice);
        return e;
}

int om_res_render_status_json(struct om_res_svc *svc, const char *format, struct om_buf *out) {
        struct om_json j;
        om_json_init(&j, format);
        char flags[9];
        om_json_object_begin(&j);
        om_json_kv_string(&j, "path", svc->obj->pathstr);
        om_json_kv_string(&j, "node", om_nodename());
        om_json_kv_string(&j, "avail", om_res_status_to_string(svc->avail));
        om_json_kv_string(&j, "overall", om_res_status_to_string(svc->overall));
        om_json_kv_bool(&j, "frozen", svc->frozen);
        om_json_kv_string(&j, "standby",
                          svc->standby == OM_RES_NA ? "" : om_res_status_to_string(svc->standby));
        om_json_key(&j, "provisioned");
        if (svc->provisioned < 0)
                om_json_string(&j, "mixed");
        else
                om_json_bool(&j, svc->provisioned == 1);
        om_json_key(&j, "monitor");
        om_json_object_begin(&j);
        om_json_kv_string(&j, "status", om_res_svc_fenced(svc) ? "fenced" : "idle");
        om_json_kv_string(&j, "local_expect", svc->avail == OM_RES_UP ? "started" : "");
        om_json_object_end(&j);
        om_json_key(&j, "resources");
        om_json_object_begin(&j);
        for (size_t i = 0; i < svc->n_res; i++) {
                struct om_res *r = svc->res[i];
                char type[80];
                snprintf(type, sizeof(type), "%s.%s", r->group, r->type);
                om_res_flags(r, flags);
                om_json_key(&j, r->rid);
                om_json_object_begin(&j);
                om_json_kv_string(&j, "type", type);
                om_json_kv_string(&j, "label", r->label ? r->label : "");
                om_json_kv_string(&j, "status", res_status_string(r));
                om_json_kv_string(&j, "flags", flags);
                om_json_key(&j, "provisioned");
                om_json_object_begin(&j);
                om_json_key(&j, "state");
                if (r->provisioned < 0)
                        om_json_null(&j);
                else
                        om_json_bool(&j, r->provisioned == 1);
                om_json_object_end(&j);
                om_json_kv_bool(&j, "optional", r->optional);
                om_json_kv_bool(&j, "disable", r->disabled);
                om_json_kv_bool(&j, "monitor", r->monitor);
                om_json_kv_bool(&j, "standby", r->standby);
                om_json_kv_int(&j, "restart", r->restart);
                om_json_key(&j, "log");
                om_json_array_begin(&j);
                for (char **x = r->notes; x && *x; x++)
                        om_json_string(&j, *x);
                om_json_array_end(&j);
                om_json_object_end(&j);
        }
        om_json_object_end(&j);
        om_json_object_end(&j);
        int e = om_json_render(&j, format, out);
        om_json_free(&j);
        return e;
}

/* The persistent reservation key of a resource fencing its device (scsireserv), NULL
 * when it does not. */
static char **res_prkey(struct om_res *r) {
        bool has = false;
        for (const char *const *k = r->drv->keywords; k && *k; k++)
                if (strcmp(*k, "scsireserv") == 0)
                        has = true;
        if (!has || !om_res_kw_bool(r, "scsireserv", false))
                return NULL;
        char key[19];
        char **v = NULL;
        om_pr_key_format(om_pr_key_local(), key);
        if (om_strv_push(&v, key) < 0)
                return NULL;
        return v;
}

/*
 * Device lists of a resource in the reference's print order (base, sub, exposed: the
 * stack read from the disk up), then the reservation key of a fenced device (prkey,
 * only with scsireserv); empty lists NULL.
 */
static void res_devs(struct om_res *r, char **v[4]) {
        static const enum om_res_devs order[3] = {OM_RES_DEVS_BASE, OM_RES_DEVS_SUB,
                                                  OM_RES_DEVS_EXPOSED};
        for (int k = 0; k < 3; k++) {
                char err[256];
                v[k] = NULL;
                if (om_res_devs(r, order[k], &v[k], err, sizeof(err)) < 0 || !v[k] || !v[k][0]) {
                        om_strv_free(v[k]);
                        v[k] = NULL;
                }
        }
        v[3] = res_prkey(r);
}

int om_res_render_devs(struct om_res_svc *svc, struct om_buf *out) {
        static const char *const names[4] = {"base", "sub", "exposed", "prkey"};
        char **devs[MAX_NODES][4];
        size_t n = OM_MIN(svc->n_res, (size_t)MAX_NODES);
        size_t last = 0;
        for (size_t i = 0; i < n; i++) {
                res_devs(svc->res[i], devs[i]);
                if (devs[i][0] || devs[i][1] || devs[i][2] || devs[i][3])
                        last = i;
        }
        om_buf_printf(out, "%s\n", svc->obj->pathstr);
        for (size_t i = 0; i < n; i++) {
                if (!devs[i][0] && !devs[i][1] && !devs[i][2] && !devs[i][3])
                        continue;
                bool rlast = i == last;
                om_buf_printf(out, "%s%s (%s)\n", rlast ? "`- " : "|- ", svc->res[i]->rid,
                              svc->res[i]->drv->name);
                int lastk = -1;
                for (int k = 0; k < 4; k++)
                        if (devs[i][k])
                                lastk = k;
                for (int k = 0; k < 4; k++) {
                        if (!devs[i][k])
                                continue;
                        const char *p1 = rlast ? "   " : "|  ";
                        om_buf_printf(out, "%s%s%s\n", p1, k == lastk ? "`- " : "|- ", names[k]);
                        for (char **x = devs[i][k]; *x; x++)
                                om_buf_printf(out, "%s%s%s%s\n", p1, k == lastk ? "   " : "|  ",
                                              x[1] ? "|- " : "`- ", *x);
                }
        }
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 4; k++)
                        om_strv_free(devs[i][k]);
        return 0;
}

int om_res_render_devs_json(struct om_res_svc *svc, const char *format, struct om_buf *out) {
        struct om_json j;
        om_json_init(&j, format);
        om_json_object_begin(&j);
        for (size_t i = 0; i < svc->n_res; i++) {
                char **v[4];
                res_devs(svc->res[i], v);
                if (v[0] || v[1] || v[2] || v[3]) {
                        om_json_key(&j, svc->res[i]->rid);
                        om_json_object_begin(&j);
                        /* keys in alphabetical order, as the reference prints them */
                        static const int order[3] = {0, 2, 1}; /* base, exposed, sub */
                        static const char *const names[3] = {"base", "sub", "exposed"};
                        for (int o = 0; o < 3; o++) {
                                int k = order[o];
                                if (o == 2 && v[3]) /* prkey, a string */
                                        om_json_kv_string(&j, "prkey", v[3][0]);
                                if (!v[k])
                                        continue;
                                om_json_key(&j, names[k]);
                                om_json_array_begin(&j);
                                for (char **x = v[k]; *x; x++)
                                        om_json_string(&j, *x);
                                om_json_array_end(&j);
                        }
                        om_json_kv_string(&j, "type", svc->res[i]->drv->name);
                        om_json_object_end(&j);
                }
                for (int k = 0; k < 4; k++)
                        om_strv_free(v[k]);
        }
        om_json_object_end(&j);
        int e = om_json_render(&j, format, out);
        om_json_free(&j);
        return e;
}
