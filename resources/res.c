/*
 * The loaded view of a service: its resources in action order, keyword access through
 * the reference expander with a device resolver that asks sibling drivers, the
 * recorded provisioned flags (<var>/namespaces/<ns>/<kind>/<name>/resources) and the
 * status evaluation shared by `print status` and the action engine. Nothing here
 * changes a device: drivers do that (res_*.c), called by action.c.
 */
#include "resources/res.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/fileio.h"
#include "core/ini.h"
#include "core/keywords.h"
#include "core/paths.h"
#include "core/ref.h"
#include "core/util.h"
#include "resources/status.h"

static const struct om_res_driver *const drivers[] = {
        &om_res_driver_ip,   &om_res_driver_loop, &om_res_driver_crypt, &om_res_driver_drbd,
        &om_res_driver_ext4, &om_res_driver_xfs,  &om_res_driver_app,
};

const struct om_res_driver *const *om_res_drivers(size_t *ret_n) {
        *ret_n = ARRAY_SIZE(drivers);
        return drivers;
}

const struct om_res_driver *om_res_driver_find(const char *group, const char *type) {
        if (om_streq(group, "app") && !type)
                type = "simple";
        if (om_streq(group, "ip") && !type)
                type = "host";
        for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
                const struct om_res_driver *d = drivers[i];
                if (!om_streq(d->group, group))
                        continue;
                if (om_streq(d->type, type))
                        return d;
                /* fs types sharing a driver family, app flavors */
                if (om_streq(group, "fs") && d == &om_res_driver_ext4 &&
                    (om_streq(type, "ext3") || om_streq(type, "ext2")))
                        return d;
                if (om_streq(group, "app") &&
                    (om_streq(type, "simple") || om_streq(type, "forking")))
                        return d;
        }
        return NULL;
}

const char *om_res_status_to_string(enum om_res_status s) {
        switch (s) {
        case OM_RES_UP:
                return "up";
        case OM_RES_DOWN:
                return "down";
        case OM_RES_WARN:
                return "warn";
        case OM_RES_NA:
                return "n/a";
        case OM_RES_UNDEF:
                break;
        }
        return "undef";
}

const char *om_res_devs_to_string(enum om_res_devs d) {
        switch (d) {
        case OM_RES_DEVS_EXPOSED:
                return "exposed_devs";
        case OM_RES_DEVS_SUB:
                return "sub_devs";
        case OM_RES_DEVS_BASE:
                return "base_devs";
        }
        return "?";
}

static int group_rank(const char *group) {
        static const char *const order[] = {"ip", "disk", "fs", "app"};
        for (size_t i = 0; i < ARRAY_SIZE(order); i++)
                if (!strcmp(order[i], group))
                        return (int)i;
        return (int)ARRAY_SIZE(order);
}

static int cmp_res(const void *a, const void *b) {
        const struct om_res *x = *(struct om_res *const *)a, *y = *(struct om_res *const *)b;
        int gx = group_rank(x->group), gy = group_rank(y->group);
        if (gx != gy)
                return gx - gy;
        int g = strcmp(x->group, y->group);
        if (g)
                return g;
        if (x->index != y->index)
                return x->index < y->index ? -1 : 1;
        return strcmp(x->rid, y->rid);
}

static void res_free(struct om_res *r) {
        if (!r)
                return;
        om_strv_free(r->notes);
        free(r->label);
        free(r);
}

void om_res_svc_free(struct om_res_svc *svc) {
        if (!svc)
                return;
        for (size_t i = 0; i < svc->n_res; i++)
                res_free(svc->res[i]);
        free(svc->res);
        om_ini_free(svc->state);
        om_object_free(svc->obj);
        free(svc);
}

static char *state_file(const struct om_path *p) {
        _cleanup_free_ char *dir = om_object_var_path(p);
        return dir ? om_asprintf("%s/resources", dir) : NULL;
}

int om_res_svc_state_reload(struct om_res_svc *svc) {
        _cleanup_free_ char *sf = state_file(&svc->obj->path);
        struct om_ini *state = NULL;
        if (!sf)
                return -ENOMEM;
        if (om_ini_load(sf, &state, NULL, 0) < 0 && !(state = om_ini_new()))
                return -ENOMEM;
        om_ini_free(svc->state);
        svc->state = state;
        return 0;
}

int om_res_svc_load(const struct om_path *p, struct om_res_svc **ret, char *err, size_t errlen) {
        struct om_res_svc *svc = calloc(1, sizeof(*svc));
        _cleanup_res_svc_ struct om_res_svc *guard = svc;
        if (!svc)
                return -ENOMEM;
        int r = om_object_load(p, &svc->obj, err, errlen);
        if (r < 0)
                return r;
        if ((r = om_res_svc_state_reload(svc)) < 0)
                return r;

        const struct om_ini *ini = svc->obj->ini;
        for (size_t i = 0; i < ini->n_sections; i++) {
                const char *name = ini->sections[i].name;
                char group[32], index[32];
                if (om_section_split(name, group, sizeof(group), index, sizeof(index)) < 0 ||
                    !index[0] || !om_keyword_group_known(p->kind, group))
                        continue;
                const char *type = om_ini_get(ini, name, "type", om_nodename());
                const struct om_res_driver *drv = om_res_driver_find(group, type);
                if (!drv) {
                        snprintf(err, errlen, "[%s]: no driver for %s type '%s'", name, group,
                                 type ? type : "(none)");
                        return -EINVAL;
                }
                struct om_res *res = calloc(1, sizeof(*res));
                struct om_res **nv = realloc(svc->res, (svc->n_res + 1) * sizeof(*nv));
                if (!res || !nv) {
                        free(res);
                        if (nv)
                                svc->res = nv;
                        return -ENOMEM;
                }
                svc->res = nv;
                svc->res[svc->n_res++] = res;
                res->svc = svc;
                res->drv = drv;
                snprintf(res->rid, sizeof(res->rid), "%s", name);
                snprintf(res->group, sizeof(res->group), "%s", group);
                snprintf(res->type, sizeof(res->type), "%s", type ? type : drv->type);
                res->index = strtol(index, NULL, 10);
                res->optional = om_res_kw_bool(res, "optional", false);
                res->disabled = om_res_kw_bool(res, "disable", false);
                res->monitor = om_res_kw_bool(res, "monitor", false);
                res->standby = om_res_kw_bool(res, "standby", false);
                _cleanup_free_ char *rs = NULL;
                long long n = 0;
                if (om_res_kw(res, "restart", &rs, NULL, 0) == 0)
                        om_parse_int(rs, 0, 1000, &n);
                res->restart = (int)n;
                res->provisioned = -1;
                res->status = OM_RES_UNDEF;
        }
        if (svc->n_res)
                qsort(svc->res, svc->n_res, sizeof(*svc->res), cmp_res);
        /* the device under a disk.drbd stays up where the service stops: replication
         * goes on there (standby) */
        for (size_t i = 0; i < svc->n_res; i++) {
                if (svc->res[i]->drv != &om_res_driver_drbd)
                        continue;
                const char *raw = om_res_kw_raw(svc->res[i], "disk");
                _cleanup_strv_free_ char **rids = NULL;
                if (!raw || om_res_referenced_rids(raw, &rids) < 0)
                        continue;
                for (char **x = rids; x && *x; x++) {
                        struct om_res *under = om_res_find(svc, *x);
                        if (under && under != svc->res[i])
                                under->standby = true;
                }
        }
        *ret = OM_TAKE_PTR(guard);
        return 0;
}

bool om_res_is_standby(const struct om_res *r) {
        return r->standby || r->drv->start_standby;
}

/* Appends rid to the comma separated list in buf, unless there already. */
static int rid_append(char *buf, size_t len, const char *rid) {
        size_t n = strlen(buf), l = strlen(rid);
        for (const char *p = buf; *p;) {
                size_t w = strcspn(p, ",");
                if (w == l && !strncmp(p, rid, l))
                        return 0;
                p += w;
                p += *p == ',';
        }
        if (n + l + 2 > len)
                return -ENOSPC;
        snprintf(buf + n, len - n, "%s%s", n ? "," : "", rid);
        return 0;
}

int om_res_standby_rids(const struct om_ini *ini, const char *node, char *buf, size_t len) {
        buf[0] = 0;
        for (size_t k = 0; k < ini->n_sections; k++) {
                const char *sec = ini->sections[k].name, *s;
                bool sb = false, dis = false;
                if (!strchr(sec, '#'))
                        continue;
                if ((s = om_ini_get(ini, sec, "disable", node)))
                        (void)om_parse_bool(s, &dis);
                if (dis)
                        continue;
                if ((s = om_ini_get(ini, sec, "standby", node)))
                        (void)om_parse_bool(s, &sb);
                const char *type = om_ini_get(ini, sec, "type", node);
                char group[32];
                snprintf(group, sizeof(group), "%.*s", (int)strcspn(sec, "#"), sec);
                bool drbd = om_res_driver_find(group, type) == &om_res_driver_drbd;
                /* the device under a disk.drbd stays up with it (om_res_svc_load): listed
                 * first, as the action order has it */
                const char *raw = drbd ? om_ini_get(ini, sec, "disk", node) : NULL;
                _cleanup_strv_free_ char **rids = NULL;
                if (raw && om_res_referenced_rids(raw, &rids) < 0)
                        return -ENOMEM;
                for (char **x = rids; x && *x; x++) {
                        const char *d = om_ini_get(ini, *x, "disable", node);
                        bool xdis = false;
                        if (d)
                                (void)om_parse_bool(d, &xdis);
                        if (!xdis && om_ini_find_section(ini, *x) && rid_append(buf, len, *x) < 0)
                                return -ENOSPC;
                }
                if ((sb || drbd) && rid_append(buf, len, sec) < 0)
                        return -ENOSPC;
        }
        return 0;
}

struct om_res *om_res_find(struct om_res_svc *svc, const char *rid) {
        for (size_t i = 0; i < svc->n_res; i++)
                if (!strcmp(svc->res[i]->rid, rid))
                        return svc->res[i];
        return NULL;
}

struct om_res *om_res_under(struct om_res *r) {
        _cleanup_strv_free_ char **rids = NULL;
        const char *raw = r->drv->dev_kw ? om_res_kw_raw(r, r->drv->dev_kw) : NULL;
        if (!raw || om_res_referenced_rids(raw, &rids) < 0 || !rids || !rids[0])
                return NULL;
        struct om_res *u = om_res_find(r->svc, rids[0]);
        return u == r ? NULL : u;
}

enum om_res_data om_res_data_of(struct om_res *r) {
        for (int depth = 0; depth < 16; depth++) {
                if (r->drv->data != OM_RES_DATA_UNDER)
                        return r->drv->data;
                struct om_res *u = om_res_under(r);
                if (!u)
                        return OM_RES_DATA_REPLICATED;
                r = u;
        }
        return OM_RES_DATA_REPLICATED; /* a loop of references: the safe answer */
}

const char *om_res_path(const struct om_res *r) {
        return r->svc->obj->pathstr;
}

int om_res_devs(struct om_res *r, enum om_res_devs which, char ***ret, char *err, size_t errlen) {
        if (!r->drv->devs) {
                *ret = calloc(1, sizeof(char *));
                return *ret ? 0 : -ENOMEM;
        }
        if (r->svc->depth > 8) {
                snprintf(err, errlen, "device references nested too deep at %s", r->rid);
                return -ELOOP;
        }
        r->svc->depth++;
        int ret_r = r->drv->devs(r, which, ret, err, errlen);
        r->svc->depth--;
        return ret_r;
}

static int resolve_devs(void *userdata, const char *rid, const char *which, char ***ret, char *err,
                        size_t errlen) {
        struct om_res_svc *svc = userdata;
        struct om_res *r = om_res_find(svc, rid);
        if (!r) {
                snprintf(err, errlen, "no resource %s", rid);
                return -ENXIO;
        }
        enum om_res_devs w = !strcmp(which, "exposed_devs") ? OM_RES_DEVS_EXPOSED
                             : !strcmp(which, "sub_devs")   ? OM_RES_DEVS_SUB
                                                            : OM_RES_DEVS_BASE;
        return om_res_devs(r, w, ret, err, errlen);
}

static struct om_ref_ctx ref_ctx(struct om_res *r) {
        struct om_ref_ctx c = om_object_ref_ctx(r->svc->obj);
        c.section = r->rid;
        c.devs = resolve_devs;
        c.userdata = r->svc;
        return c;
}

int om_res_kw(struct om_res *r, const char *key, char **ret, char *err, size_t errlen) {
        struct om_ref_ctx c = ref_ctx(r);
        char buf[512];
        int rr = om_ref_eval(&c, r->rid, key, ret, err ? err : buf, err ? errlen : sizeof(buf));
        return rr;
}

char *om_res_kw_label(struct om_res *r, const char *key) {
        struct om_ref_ctx c = ref_ctx(r);
        c.keep_unresolved = true;
        char err[512];
        char *v = NULL;
        if (om_ref_eval(&c, r->rid, key, &v, err, sizeof(err)) < 0) {
                const char *raw = om_res_kw_raw(r, key);
                return strdup(raw ? raw : "");
        }
        return v;
}

const char *om_res_kw_raw(struct om_res *r, const char *key) {
        return om_ini_get(r->svc->obj->ini, r->rid, key, om_nodename());
}

bool om_res_kw_bool(struct om_res *r, const char *key, bool def) {
        _cleanup_free_ char *v = NULL;
        bool b = def;
        if (om_res_kw(r, key, &v, NULL, 0) == 0)
                om_parse_bool(v, &b);
        return b;
}

int om_res_state_provisioned(struct om_res_svc *svc, const char *rid) {
        const char *v = om_ini_get(svc->state, rid, "provisioned", NULL);
        bool b;
        if (!v || om_parse_bool(v, &b) < 0)
                return -1;
        return b ? 1 : 0;
}

int om_res_state_set_provisioned(struct om_res_svc *svc, const char *rid, bool on) {
        int r = om_ini_set(svc->state, rid, "provisioned", NULL, on ? "true" : "false");
        if (r < 0)
                return r;
        _cleanup_free_ char *sf = state_file(&svc->obj->path);
        _cleanup_free_ char *text = om_ini_format(svc->state);
        if (!sf || !text)
                return -ENOMEM;
        return om_write_atomic(sf, text, strlen(text), 0644);
}

void om_res_flags(const struct om_res *r, char buf[9]) {
        buf[0] = '.'; /* running: tasks only, none yet */
        buf[1] = r->monitor ? 'M' : '.';
        buf[2] = r->disabled ? 'D' : '.';
        buf[3] = r->optional ? 'O' : '.';
        buf[4] = '.'; /* encap: no containers */
        buf[5] = r->provisioned == 1 ? '.' : r->provisioned == 0 ? 'P' : '/';
        buf[6] = r->standby ? 'S' : '.';
        buf[7] = r->restart < 1 ? '.' : r->restart < 10 ? (char)('0' + r->restart) : '+';
        buf[8] = 0;
}

/*
 * Aggregation, as the reference does it: disabled resources and n/a statuses do not
 * count; the instance is up when every counted resource is up, down when every one is
 * down, warn otherwise. A down optional resource does not change avail, it only makes
 * overall warn. The instance is provisioned when no resource says it is not.
 */
static bool word_in(const char *list, const char *w) {
        size_t n = strlen(w);
        for (const char *p = list; (p = strstr(p, w)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return true;
        return false;
}

/*
 * Fenced stays fenced: a resource found preempted (its status said so, the cache has it
 * in `fenced`) is stopped by the orchestrator, after which its volume is closed and its
 * status alone no longer tells. It stays fenced in the cache, print status and the
 * node data until it is up again, which only a start here makes it (the service placed
 * back on this node: the start preempts the other node in turn).
 */
int om_res_svc_eval(struct om_res_svc *svc) {
        int n_up = 0, n_down = 0, n_warn = 0, n_sb = 0, sb_down = 0;
        bool opt_bad = false;
        struct om_instance_status old;
        bool have_old = om_instance_status_load(&svc->obj->path, &old) == 0;
        svc->provisioned = 1;
        for (size_t i = 0; i < svc->n_res; i++) {
                struct om_res *r = svc->res[i];
                om_strv_free(r->notes);
                r->notes = NULL;
                r->fenced = false;
                r->stdby = false;
                free(r->label);
                r->label = r->drv->label ? r->drv->label(r) : NULL;
                int st = r->drv->status ? r->drv->status(r) : OM_RES_NA;
                r->status = st < 0 ? OM_RES_UNDEF : (enum om_res_status)st;
                if (!r->fenced && r->status != OM_RES_UP && have_old &&
                    word_in(old.fenced, r->rid)) {
                        r->fenced = true;
                        om_strv_push(&r->notes, "warn: fenced: another node preempted the "
                                                "reservation; started here again only when the "
                                                "service is placed back");
                }
                int p = om_res_state_provisioned(svc, r->rid);
                if (p < 0 && r->drv->provisioned) {
                        int dp = r->drv->provisioned(r);
                        p = dp < 0 ? -1 : dp;
                } else if (p < 0 && !r->drv->provisioned)
                        p = 1;
                r->provisioned = p;
                if (r->disabled)
                        continue;
                if (p == 0)
                        svc->provisioned = 0;
                if (r->status == OM_RES_NA || r->status == OM_RES_UNDEF)
                        continue;
                if (om_res_is_standby(r)) {
                        n_sb++;
                        sb_down += r->status != OM_RES_UP;
                }
                if (r->stdby) /* up as a standby only: it runs nothing of the service */
                        continue;
                if (r->optional || r->standby) {
                        if (r->status != OM_RES_UP)
                                opt_bad = true;
                        continue;
                }
                if (r->status == OM_RES_UP)
                        n_up++;
                else if (r->status == OM_RES_DOWN)
                        n_down++;
                else
                        n_warn++;
        }
        if (!n_up && !n_down && !n_warn)
                svc->avail = OM_RES_NA;
        else if (n_warn || (n_up && n_down))
                svc->avail = OM_RES_WARN;
        else
                svc->avail = n_up ? OM_RES_UP : OM_RES_DOWN;
        svc->overall = (opt_bad && svc->avail == OM_RES_UP) ? OM_RES_WARN : svc->avail;
        svc->standby = !n_sb || svc->avail == OM_RES_UP || svc->avail == OM_RES_WARN ? OM_RES_NA
                       : sb_down                                                     ? OM_RES_DOWN
                                                                                     : OM_RES_UP;
        svc->frozen = om_instance_frozen(&svc->obj->path);
        return 0;
}

int om_res_svc_save_status(struct om_res_svc *svc) {
        struct om_instance_status st = {0};
        snprintf(st.avail, sizeof(st.avail), "%s", om_res_status_to_string(svc->avail));
        snprintf(st.overall, sizeof(st.overall), "%s", om_res_status_to_string(svc->overall));
        st.provisioned = svc->provisioned != 0;
        st.frozen = svc->frozen;
        if (svc->standby != OM_RES_NA)
                snprintf(st.standby, sizeof(st.standby), "%s",
                         om_res_status_to_string(svc->standby));
        st.updated_ms = om_now_ms();
        for (size_t i = 0; i < svc->n_res; i++) {
                const struct om_res *r = svc->res[i];
                size_t len = strlen(st.down);
                if (r->disabled || r->status != OM_RES_DOWN ||
                    len + strlen(r->rid) + 2 > sizeof(st.down))
                        continue;
                snprintf(st.down + len, sizeof(st.down) - len, "%s%s", len ? " " : "", r->rid);
        }
        for (size_t i = 0; i < svc->n_res; i++) {
                const struct om_res *r = svc->res[i];
                size_t len = strlen(st.fenced);
                if (r->disabled || !r->fenced || len + strlen(r->rid) + 2 > sizeof(st.fenced))
                        continue;
                snprintf(st.fenced + len, sizeof(st.fenced) - len, "%s%s", len ? " " : "", r->rid);
        }
        for (size_t i = 0; i < svc->n_res; i++) {
                const struct om_res *r = svc->res[i];
                size_t len = strlen(st.diverged);
                if (r->disabled || !r->diverged || len + strlen(r->rid) + 2 > sizeof(st.diverged))
                        continue;
                snprintf(st.diverged + len, sizeof(st.diverged) - len, "%s%s", len ? " " : "",
                         r->rid);
        }
        /* steady state: a repeated `print status` rewrites (and fsyncs) the cache only
         * when it changed or is older than OM_RES_STATUS_REFRESH_MS */
        struct om_instance_status old;
        bool have_old = om_instance_status_load(&svc->obj->path, &old) == 0;
        if (svc->action) {
                snprintf(st.last_action, sizeof(st.last_action), "%s", svc->action);
                st.last_action_ms = st.updated_ms;
                memcpy(st.last_error, svc->last_error, sizeof(st.last_error));
        } else if (have_old) {
                memcpy(st.last_action, old.last_action, sizeof(st.last_action));
                st.last_action_ms = old.last_action_ms;
                memcpy(st.last_error, old.last_error, sizeof(st.last_error));
        }
        if (have_old && !svc->action && !strcmp(old.avail, st.avail) &&
            !strcmp(old.overall, st.overall) && old.provisioned == st.provisioned &&
            !strcmp(old.down, st.down) && !strcmp(old.fenced, st.fenced) &&
            !strcmp(old.diverged, st.diverged) && !strcmp(old.standby, st.standby) &&
            old.updated_ms <= st.updated_ms &&
            st.updated_ms - old.updated_ms < OM_RES_STATUS_REFRESH_MS)
                return 0;
        return om_instance_status_save(&svc->obj->path, &st);
}
