/*
 * Implementation of action.h. One action per object at a time: an flock on
 * <var>/.../<name>/action.lock, with the holder's action and pid written beside it so a
 * second action can say what it waits for. Resources run in the order om_res_svc_load
 * sorted them; stop and unprovision walk it backwards.
 *
 * Rollback: start and provision remember the resources this action brought up (not
 * those already up) and, when a non-optional resource fails, stop them in reverse
 * order before returning the failure. Provisioned flags stay as recorded: a file
 * created or a device formatted before the failure is provisioned, and the next
 * provision picks up from there. Stop does not roll back: it stops at the first
 * failure, leaving what it could not stop up (the reference's "stop failed").
 *
 * Standby resources (standby = true, and the device under a disk.drbd) are started
 * with the others; stop leaves them up (stop --force and a rollback of the action
 * that started them stop them, unprovision always). `start --standby` starts only the
 * standby resources and the standby-capable ones (a disk.drbd: its start_standby, as a
 * Secondary); a full start counts such a resource up as a standby as not started yet.
 * A provision that returns OM_RES_PROVISIONED_REPLICA (disk.drbd whose peer holds the
 * data) ends the walk there: the resources after it are recorded provisioned.
 *
 * A passive provision (run_passive) makes only what holds this node's data and starts
 * nothing for good: see action.h.
 */
#include "resources/action.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/keywords.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/ref.h"
#include "core/util.h"
#include "resources/render.h"
#include "resources/res.h"
#include "resources/status.h"

static const char *const actions[] = {"provision", "start",       "stop",
                                      "restart",   "unprovision", "purge"};

bool om_res_action_known(const char *action) {
        for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
                if (om_streq(actions[i], action))
                        return true;
        return false;
}

static bool rid_selected(const struct om_res *r, char **rids) {
        if (!rids)
                return true;
        for (char **x = rids; *x; x++)
                if (!strcmp(*x, r->rid) || !strcmp(*x, r->group))
                        return true;
        return false;
}

/* The words of the resource's `tags` (NULL-terminated, caller frees; NULL when none). */
static char **res_tags(struct om_res *r) {
        _cleanup_free_ char *v = NULL;
        char **out = NULL;
        if (om_res_kw(r, "tags", &v, NULL, 0) < 0 || !v || om_strv_split(v, " \t,", &out) < 0)
                return NULL;
        return out;
}

/* r carries one of tags (every resource when tags is NULL). */
static bool tag_selected(struct om_res *r, char **tags) {
        if (!tags)
                return true;
        _cleanup_strv_free_ char **have = res_tags(r);
        for (char **x = tags; *x; x++)
                if (om_strv_contains(have, *x))
                        return true;
        return false;
}

/* A resource --rid and --tag both select (each selects all when not given). */
static bool selected(struct om_res *r, char **rids, char **tags) {
        return rid_selected(r, rids) && tag_selected(r, tags);
}

static int take_lock(const struct om_path *p, const char *action, int64_t waitlock_ms, int *ret_fd,
                     char *err, size_t errlen) {
        _cleanup_free_ char *dir = om_object_var_path(p);
        _cleanup_free_ char *lock = dir ? om_asprintf("%s/action.lock", dir) : NULL;
        _cleanup_free_ char *holder = dir ? om_asprintf("%s/action.holder", dir) : NULL;
        if (!lock || !holder)
                return -ENOMEM;
        uint64_t start = om_mono_ms();
        bool told = false;
        for (;;) {
                int fd = -1;
                int r = om_lock_file(lock, false, &fd);
                if (r == 0) {
                        _cleanup_free_ char *who =
                                om_asprintf("%s pid %ld\n", action, (long)getpid());
                        if (who)
                                om_write_atomic(holder, who, strlen(who), 0644);
                        *ret_fd = fd;
                        return 0;
                }
                if (r != -EWOULDBLOCK && r != -EAGAIN) {
                        snprintf(err, errlen, "cannot lock %s: %s", lock, strerror(-r));
                        return r;
                }
                _cleanup_free_ char *who = NULL;
                if (om_read_file(holder, 256, &who, NULL) < 0 || !(who = om_strstrip(who)))
                        who = strdup("another action");
                char pathstr[OM_PATH_STRMAX];
                om_path_to_string(p, pathstr, sizeof(pathstr));
                if (waitlock_ms == 0 ||
                    (waitlock_ms > 0 && om_mono_ms() - start >= (uint64_t)waitlock_ms)) {
                        snprintf(err, errlen, "%s: action %s holds the lock; %s not run", pathstr,
                                 who ? who : "?", action);
                        return -EBUSY;
                }
                if (!told) {
                        fprintf(stderr, "om: %s: waiting for action %s to finish\n", pathstr,
                                who ? who : "?");
                        told = true;
                }
                usleep(100 * 1000);
        }
}

static void release_lock(const struct om_path *p, int fd) {
        _cleanup_free_ char *dir = om_object_var_path(p);
        _cleanup_free_ char *holder = dir ? om_asprintf("%s/action.holder", dir) : NULL;
        if (holder)
                unlink(holder);
        if (fd >= 0)
                close(fd);
}

int om_res_action_lock(const struct om_path *p, const char *what, int64_t waitlock_ms, int *ret_fd,
                       char *err, size_t errlen) {
        return take_lock(p, what, waitlock_ms, ret_fd, err, errlen);
}

void om_res_action_unlock(const struct om_path *p, int fd) {
        release_lock(p, fd);
}

static void rollback(struct om_res **started, size_t n, const char *action) {
        if (!n)
                return;
        om_log_set_rid(NULL);
        log_info("rollback %s: stop what this action started", action);
        for (size_t i = n; i-- > 0;) {
                struct om_res *r = started[i];
                om_log_set_rid(r->rid);
                if (r->drv->stop)
                        r->drv->stop(r);
        }
}

static void record_provisioned(struct om_res *r) {
        int s = om_res_state_set_provisioned(r->svc, r->rid, true);
        if (s < 0)
                log_warning_errno(s, "cannot record the provisioned state: %m");
}

/* After sel[failed] failed: stops what the walk started and, for a provision, records
 * what it never reached as not provisioned here, so its state is not inferred from the
 * layers under it. */
static void unwind(struct om_res **sel, size_t n_sel, size_t failed, struct om_res **started,
                   size_t n_started, const char *action, bool provision) {
        rollback(started, n_started, action);
        for (size_t j = failed + 1; provision && j < n_sel; j++)
                if (om_res_state_provisioned(sel[j]->svc, sel[j]->rid) < 0)
                        om_res_state_set_provisioned(sel[j]->svc, sel[j]->rid, false);
}

/* Starts r (after provisioning it when provision; in its standby state when standby);
 * remembers it in started when this action brought it up. */
static int start_one(struct om_res *r, bool provision, bool standby, struct om_res **started,
                     size_t *n) {
        int e = 0;
        om_log_set_rid(r->rid);
        bool replica = false;
        if (provision && r->drv->provision) {
                e = r->drv->provision(r);
                if (e < 0)
                        return e;
                replica = e == OM_RES_PROVISIONED_REPLICA;
        }
        if (provision)
                record_provisioned(r);
        if (replica)
                return OM_RES_PROVISIONED_REPLICA;
        r->stdby = false;
        int before = r->drv->status ? r->drv->status(r) : OM_RES_NA;
        /* up as a standby only (a Secondary): a full start brings it up for real */
        bool was_up = before == OM_RES_UP && (standby || !r->stdby);
        om_strv_free(r->notes);
        r->notes = NULL;
        if (standby && r->drv->start_standby)
                e = r->drv->start_standby(r);
        else if (r->drv->start)
                e = r->drv->start(r);
        if (e < 0)
                return e;
        if (!was_up)
                started[(*n)++] = r;
        return 0;
}

static int run_up(struct om_res **sel, size_t n_sel, bool provision, bool standby,
                  const char *action) {
        _cleanup_free_ struct om_res **started = calloc(n_sel + 1, sizeof(*started));
        size_t n_started = 0;
        if (!started)
                return -ENOMEM;
        for (size_t i = 0; i < n_sel; i++) {
                struct om_res *r = sel[i];
                int e = start_one(r, provision, standby, started, &n_started);
                if (e == OM_RES_PROVISIONED_REPLICA) {
                        /* the data of what follows comes from the peer through this
                         * replica: recorded provisioned, not formatted nor started here */
                        for (size_t j = i + 1; j < n_sel; j++) {
                                om_log_set_rid(sel[j]->rid);
                                log_info("provisioned through the replica of %s: not "
                                         "started here",
                                         r->rid);
                                record_provisioned(sel[j]);
                        }
                        return 0;
                }
                if (e < 0 && r->optional) {
                        log_warning("optional resource: the %s goes on", action);
                        continue;
                }
                if (e < 0) {
                        unwind(sel, n_sel, i, started, n_started, action, provision);
                        return e;
                }
        }
        return 0;
}

/* ---- the passive provision ---- */

/* True when a selected resource after sel[i] sits on it (its device must be up for that
 * one to be provisioned). */
static bool needed_above(struct om_res **sel, size_t n_sel, size_t i) {
        for (size_t j = i + 1; j < n_sel; j++)
                if (om_res_under(sel[j]) == sel[i])
                        return true;
        return false;
}

/* A resource on a plain device path, that is on a disk another node may reach (and the
 * node that runs the service does): what that node provisioned there must be found,
 * and is never made nor opened here. The block device's page cache is dropped first,
 * so the probe reads the disk as it is now, not as this node read it before the other
 * node formatted it. */
static int adopt_shared(struct om_res *r) {
        _cleanup_free_ char *dev = NULL;
        char err[512], what[64];
        if (r->drv == &om_res_driver_crypt)
                snprintf(what, sizeof(what), "LUKS header");
        else if (om_streq(r->group, "fs"))
                snprintf(what, sizeof(what), "%s filesystem", r->type);
        else
                snprintf(what, sizeof(what), "%s", r->drv->name);
        int e = om_res_kw(r, r->drv->dev_kw, &dev, err, sizeof(err));
        if (e < 0)
                return log_error_errno(e, "%s", err);
        struct stat st;
        if (stat(dev, &st) < 0)
                return log_error_errno(-ENOENT, "%s %s does not exist on this node", r->drv->dev_kw,
                                       dev);
        if (S_ISBLK(st.st_mode)) {
                _cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || ioctl(fd, BLKFLSBUF, 0) < 0)
                        log_warning_errno(-errno, "cannot drop the cached blocks of %s: %m", dev);
        }
        int p = r->drv->provisioned ? r->drv->provisioned(r) : 1;
        if (p < 0)
                return log_error_errno(p, "cannot read %s: %m", dev);
        if (p == 0)
                return log_error_errno(-ENODATA,
                                       "%s holds no %s: a passive provision never formats a "
                                       "device that another node may use (provision the "
                                       "service where it runs first, and check that %s names "
                                       "the same shared disk on every node)",
                                       dev, what, r->drv->dev_kw);
        log_info("%s holds the %s that the node running the service made: recorded "
                 "provisioned, not opened here",
                 dev, what);
        record_provisioned(r);
        return 0;
}

/*
 * The provision of a node that does not run a failover service while another node does
 * (the orchestrator runs it after the leader's, `provision --local --passive`). Whatever
 * the status said before, it writes nothing that the running node uses and starts
 * nothing: a resource holding this node's data only (a loop, and what sits on it) is
 * provisioned, and started only while a resource above needs its device, then stopped;
 * a replica (disk.drbd) is provisioned as a secondary, never the initial primary; a
 * resource on a plain device path has what the running node made found there, never
 * made; what sits on one of those, and what has no device (app, ip), is recorded
 * provisioned untouched. Standby resources this walk started stay up, as a stop leaves
 * them.
 */
static int run_passive(struct om_res **sel, size_t n_sel) {
        _cleanup_free_ struct om_res **started = calloc(n_sel + 1, sizeof(*started));
        size_t n_started = 0;
        if (!started)
                return -ENOMEM;
        for (size_t i = 0; i < n_sel; i++) {
                struct om_res *r = sel[i];
                enum om_res_data d = om_res_data_of(r);
                struct om_res *u = om_res_under(r);
                int e = 0;
                om_log_set_rid(r->rid);
                if (d == OM_RES_DATA_NODE && needed_above(sel, n_sel, i)) {
                        if ((e = start_one(r, true, false, started, &n_started)) < 0)
                                goto failed;
                } else if (d == OM_RES_DATA_NODE) {
                        if (r->drv->provision && (e = r->drv->provision(r)) < 0)
                                goto failed;
                        record_provisioned(r);
                } else if (r->drv->data == OM_RES_DATA_REPLICATED) {
                        if (r->drv->provision && (e = r->drv->provision(r)) < 0)
                                goto failed;
                        record_provisioned(r);
                        log_info("a replica: provisioned, not started here (passive)");
                } else if (d == OM_RES_DATA_REPLICATED && !u) {
                        if ((e = adopt_shared(r)) < 0)
                                goto failed;
                } else {
                        if (u)
                                log_info("on the device of %s, which the node that runs the "
                                         "service holds: recorded provisioned, not opened here",
                                         u->rid);
                        else
                                log_info("recorded provisioned, not started here (passive)");
                        record_provisioned(r);
                }
                continue;
        failed:
                if (r->optional) {
                        log_warning("optional resource: the provision goes on");
                        continue;
                }
                unwind(sel, n_sel, i, started, n_started, "provision", true);
                return e;
        }
        /* nothing stays up but the standby resources */
        for (size_t k = n_started; k-- > 0;) {
                struct om_res *r = started[k];
                if (r->standby || !r->drv->stop)
                        continue;
                om_log_set_rid(r->rid);
                int e = r->drv->stop(r);
                if (e < 0)
                        return e;
        }
        return 0;
}

/* Whether r runs: up, and not only as a standby (a DRBD Secondary is not). */
static bool res_running(struct om_res *r) {
        r->stdby = false;
        return r->drv->status && r->drv->status(r) == OM_RES_UP && !r->stdby;
}

/* True when r surely holds nothing to unprovision: not recorded as provisioned, and its
 * driver says it is not (a loop whose file is gone). */
static bool surely_unprovisioned(struct om_res *r) {
        if (om_res_state_provisioned(r->svc, r->rid) == 1)
                return false;
        return r->drv->provisioned && r->drv->provisioned(r) == 0;
}

/*
 * Unprovision of a stopped stack: a crypt resource erases its header on `dev`, which
 * only exists while the resource under it is up. Before walking down, bring up (start,
 * never provision) the resources that such keywords reference, and remember them: the
 * walk stops those it unprovisions, the caller stops the others afterwards.
 *
 * When every resource such a keyword references is surely unprovisioned (a second
 * unprovision, or one of a service never provisioned: the loop file is gone), there
 * is no device to start and no header left to erase: the resource is marked in skip
 * and the walk only says so, instead of failing to start what does not exist.
 */
static void prepare_unprovision(struct om_res **sel, size_t n_sel, struct om_res **started,
                                size_t *n, bool *skip) {
        for (size_t i = 0; i < n_sel; i++) {
                struct om_res *r = sel[i];
                const char *raw = r->drv->unprovision_needs
                                          ? om_res_kw_raw(r, r->drv->unprovision_needs)
                                          : NULL;
                _cleanup_strv_free_ char **rids = NULL;
                if (!raw || om_res_referenced_rids(raw, &rids) < 0 || !rids || !rids[0])
                        continue;
                bool all_gone = true;
                for (char **x = rids; *x; x++) {
                        struct om_res *under = om_res_find(r->svc, *x);
                        all_gone &= under && surely_unprovisioned(under);
                }
                if (all_gone) {
                        skip[i] = true;
                        continue;
                }
                for (char **x = rids; *x; x++) {
                        struct om_res *under = om_res_find(r->svc, *x);
                        bool known = false;
                        for (size_t k = 0; under && k < *n; k++)
                                known |= started[k] == under;
                        if (!under || known || !under->drv->start || res_running(under))
                                continue;
                        om_log_set_rid(under->rid);
                        log_info("start %s so that %s can reach its %s", under->rid, r->rid,
                                 r->drv->unprovision_needs);
                        if (under->drv->start(under) == 0)
                                started[(*n)++] = under;
                }
        }
}

/* Stops (and unprovisions) sel in reverse order; skip (NULL for none) marks the
 * resources prepare_unprovision found nothing to unprovision in. */
static int run_down(struct om_res **sel, size_t n_sel, bool unprovision, const bool *skip,
                    const char *action) {
        for (size_t i = n_sel; i-- > 0;) {
                struct om_res *r = sel[i];
                om_log_set_rid(r->rid);
                if (r->standby && !unprovision && !r->svc->force) {
                        log_info("standby resource: left up (stop --force stops it)");
                        continue;
                }
                int e = r->drv->stop ? r->drv->stop(r) : 0;
                if (e >= 0 && unprovision && skip && skip[i]) {
                        _cleanup_free_ char *label = r->drv->label ? r->drv->label(r) : NULL;
                        log_info("%s is already unprovisioned: the devices under it are gone",
                                 label ? label : r->rid);
                } else if (e >= 0 && unprovision && r->drv->unprovision)
                        e = r->drv->unprovision(r);
                if (e >= 0 && unprovision) {
                        int s = om_res_state_set_provisioned(r->svc, r->rid, false);
                        if (s < 0)
                                log_warning_errno(s, "cannot record the provisioned state: %m");
                }
                if (e < 0 && r->optional) {
                        log_warning("optional resource: the %s goes on", action);
                        continue;
                }
                if (e < 0)
                        return e;
        }
        return 0;
}

/* Static checks of every selected resource, before anything changes. */
static int preflight(struct om_res_svc *svc, struct om_res **sel, size_t n_sel,
                     enum om_res_action a) {
        struct om_buf report = {0};
        int problems =
                om_object_config_check(svc->obj->ini, &svc->obj->path, svc->obj->file, &report);
        if (problems > 0) {
                om_log_set_rid(NULL);
                log_error("the config has %d problem%s, nothing done:\n%s", problems,
                          problems > 1 ? "s" : "", report.data ? report.data : "");
                om_buf_free(&report);
                return -EINVAL;
        }
        om_buf_free(&report);
        for (size_t i = 0; i < n_sel; i++) {
                struct om_res *r = sel[i];
                if (!r->drv->check)
                        continue;
                om_log_set_rid(r->rid);
                int e = r->drv->check(r, a);
                if (e < 0 && !r->optional)
                        return e;
        }
        return 0;
}

/* What an action does once its lock is held and its log open: checks, then the walk.
 * Runs in the action's process, or in a child of it when the action has a time limit. */
struct perform {
        struct om_res_svc *svc;
        struct om_res **sel;
        size_t n_sel;
        const char *action;
        bool standby; /* start --standby */
};

static int perform(void *arg) {
        const struct perform *pf = arg;
        struct om_res_svc *svc = pf->svc;
        struct om_res **sel = pf->sel;
        size_t n_sel = pf->n_sel;
        const char *action = pf->action;
        int e;

        bool restart = om_streq(action, "restart");
        enum om_res_action a = om_streq(action, "start") || restart ? OM_ACT_START
                               : om_streq(action, "stop")           ? OM_ACT_STOP
                               : om_streq(action, "provision")      ? OM_ACT_PROVISION
                                                                    : OM_ACT_UNPROVISION;
        /* restart: a stop, then (when it went through) a start, under the one lock;
         * each checked before it runs */
        e = preflight(svc, sel, n_sel, restart ? OM_ACT_STOP : a);
        if (e >= 0 && restart && (e = run_down(sel, n_sel, false, NULL, action)) >= 0)
                e = preflight(svc, sel, n_sel, OM_ACT_START);
        if (e >= 0) {
                switch (a) {
                case OM_ACT_START:
                        e = run_up(sel, n_sel, false, pf->standby, action);
                        break;
                case OM_ACT_PROVISION:
                        e = svc->passive ? run_passive(sel, n_sel)
                                         : run_up(sel, n_sel, true, false, action);
                        break;
                case OM_ACT_STOP:
                        e = run_down(sel, n_sel, false, NULL, action);
                        break;
                case OM_ACT_UNPROVISION: {
                        _cleanup_free_ struct om_res **up = calloc(svc->n_res + 1, sizeof(*up));
                        _cleanup_free_ bool *skip = calloc(n_sel + 1, sizeof(*skip));
                        size_t n_up = 0;
                        if (!up || !skip) {
                                e = -ENOMEM;
                                break;
                        }
                        prepare_unprovision(sel, n_sel, up, &n_up, skip);
                        e = run_down(sel, n_sel, true, skip, action);
                        /* stop what was brought up for the walk and is still up (not
                         * selected, or the walk stopped before it) */
                        for (size_t k = n_up; k-- > 0;) {
                                if (up[k]->drv->status && !res_running(up[k]))
                                        continue;
                                om_log_set_rid(up[k]->rid);
                                up[k]->drv->stop(up[k]);
                        }
                        break;
                }
                }
        }
        return e;
}

/* The service's time limit for action in ms: start_timeout for start, stop_timeout for
 * stop, both added for restart; 0 for the other actions (a provision may format a large
 * device) and for a value that does not parse (the validator refuses those). */
static uint64_t action_timeout(struct om_res_svc *svc, const char *action) {
        static const struct {
                const char *action, *kw1, *kw2;
        } m[] = {{"start", "start_timeout", NULL},
                 {"stop", "stop_timeout", NULL},
                 {"restart", "stop_timeout", "start_timeout"}};
        struct om_ref_ctx c = {.path = &svc->obj->path, .ini = svc->obj->ini};
        uint64_t total = 0;
        for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
                if (!om_streq(m[i].action, action))
                        continue;
                const char *kws[] = {m[i].kw1, m[i].kw2};
                for (size_t k = 0; k < ARRAY_SIZE(kws) && kws[k]; k++) {
                        _cleanup_free_ char *v = NULL;
                        char err[256];
                        uint64_t ms;
                        if (om_ref_eval(&c, "DEFAULT", kws[k], &v, err, sizeof(err)) < 0 ||
                            om_parse_duration_ms(v, &ms) < 0)
                                return 0;
                        total += ms;
                }
        }
        return total;
}

/* monitor_action of the service: as set, else crash when a disk.crypt of it fences its
 * device (scsireserv), none otherwise. */
static const char *monitor_action(struct om_res_svc *svc, char *buf, size_t len) {
        struct om_ref_ctx c = {.path = &svc->obj->path, .ini = svc->obj->ini};
        _cleanup_free_ char *v = NULL;
        char err[256];
        if (om_ref_eval(&c, "DEFAULT", "monitor_action", &v, err, sizeof(err)) == 0 && v && v[0]) {
                snprintf(buf, len, "%s", v);
                return buf;
        }
        for (size_t i = 0; i < svc->n_res; i++)
                if (svc->res[i]->drv == &om_res_driver_crypt &&
                    om_res_kw_bool(svc->res[i], "scsireserv", false))
                        return "crash";
        return "none";
}

/* How long the suspend of one volume may take after a failed stop. */
#define OM_SUSPEND_TIMEOUT_MS 5000

static int suspend_one(void *arg) {
        return om_res_crypt_suspend(arg);
}

/* A stop that failed leaves a node that may still write to a shared device, which
 * another node may open next. monitor_action says what to do: none, nothing; the others
 * first suspend every disk.crypt volume still open (no more I/O through it, the key
 * gone from kernel memory), then freeze the instance (freezestop), or crash or reboot
 * the node through sysrq (only with OM_ALLOW_REBOOT=1: tests and demos run agents on
 * machines that must survive; without it the volumes stay suspended). */
static void stop_failed(struct om_res_svc *svc) {
        char buf[32];
        const char *ma = monitor_action(svc, buf, sizeof(buf));
        om_log_set_rid(NULL);
        if (om_streq(ma, "none")) {
                /* the object log says which step ran; the console shows the reference's
                 * lines of a failed stop and nothing more, since nothing more happens */
                bool console = om_log_console();
                om_log_set_console(false);
                log_warning("stop failed, monitor_action none: the instance is left as the "
                            "stop left it");
                om_log_set_console(console);
                return;
        }
        log_warning("stop failed: monitor_action %s", ma);
        for (size_t i = 0; i < svc->n_res; i++) {
                struct om_res *r = svc->res[i];
                if (r->drv != &om_res_driver_crypt || r->disabled)
                        continue;
                om_log_set_rid(r->rid);
                /* bounded: on a device that does not answer (the stop hung on it) the
                 * suspend waits for I/O that never ends, and the action after it must
                 * still run */
                if (om_res_run_bounded(OM_SUSPEND_TIMEOUT_MS, "crypt_suspend", suspend_one, r) ==
                    -ETIME)
                        log_warning("crypt_suspend did not end in %ds (its device does not "
                                    "answer): going on with monitor_action %s",
                                    OM_SUSPEND_TIMEOUT_MS / 1000, ma);
        }
        om_log_set_rid(NULL);
        if (om_streq(ma, "freezestop")) {
                int e = om_instance_set_frozen(&svc->obj->path, true);
                if (e < 0)
                        log_error_errno(e, "cannot freeze the instance: %m");
                else
                        log_warning("instance frozen (monitor_action freezestop)");
                return;
        }
        const char *allow = getenv("OM_ALLOW_REBOOT");
        if (!allow || !om_streq(allow, "1")) {
                log_warning("monitor_action %s not carried out: OM_ALLOW_REBOOT=1 is not set "
                            "(the volumes stay suspended)",
                            ma);
                return;
        }
        bool crash = om_streq(ma, "crash");
        log_warning("%s the node now (monitor_action %s, sysrq %c)", crash ? "crash" : "reboot", ma,
                    crash ? 'c' : 'b');
        /* no sync: it could hang on the very device that failed the stop */
        _cleanup_close_ int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, crash ? "c" : "b", 1) != 1)
                log_error_errno(-errno, "cannot write /proc/sysrq-trigger: %m");
}

/* After a failed provision, on stderr: what it left provisioned (kept, so that a second
 * provision picks up from there: files, LUKS headers) and the command that removes it. */
static void provision_left(struct om_res_svc *svc) {
        struct om_buf left = {0};
        if (om_res_left_provisioned(svc, &left) > 0 && left.data)
                fprintf(stderr,
                        "om: the provision failed; these resources stay provisioned (a second "
                        "provision picks up from there): %s; to remove them: om %s unprovision "
                        "--local\n",
                        left.data, svc->obj->pathstr);
        om_buf_free(&left);
}

int om_res_action_run(const struct om_path *p, const char *action,
                      const struct om_res_action_opts *opts, char *err, size_t errlen) {
        _cleanup_res_svc_ struct om_res_svc *svc = NULL;
        _cleanup_strv_free_ char **rids = NULL, **tags = NULL;
        int e;

        err[0] = 0;
        if (!om_res_action_known(action)) {
                snprintf(err, errlen, "unknown action '%s'", action);
                return -EINVAL;
        }
        if (opts->passive && !om_streq(action, "provision")) {
                snprintf(err, errlen, "--passive goes with provision only, not %s", action);
                return -EINVAL;
        }
        if ((e = om_res_svc_load(p, &svc, err, errlen)) < 0)
                return e;
        svc->force = opts->force;
        svc->passive = opts->passive;
        if (opts->rid && (e = om_strv_split(opts->rid, ",", &rids)) < 0)
                return e;
        if (opts->tag && (e = om_strv_split(opts->tag, ",", &tags)) < 0)
                return e;
        if ((rids || tags) && om_streq(action, "purge")) {
                snprintf(err, errlen, "purge applies to the whole object: --%s is refused",
                         rids ? "rid" : "tag");
                return -EINVAL;
        }
        for (char **x = tags; x && *x; x++) {
                bool found = false;
                for (size_t i = 0; i < svc->n_res && !found; i++) {
                        _cleanup_strv_free_ char **have = res_tags(svc->res[i]);
                        found = om_strv_contains(have, *x);
                }
                if (!found) {
                        snprintf(err, errlen, "%s has no resource tagged %s (--tag)",
                                 svc->obj->pathstr, *x);
                        return -EINVAL;
                }
        }
        if (opts->standby && !om_streq(action, "start")) {
                snprintf(err, errlen, "--standby goes with start only (not %s)", action);
                return -EINVAL;
        }
        for (char **x = rids; x && *x; x++) {
                bool found = false;
                for (size_t i = 0; i < svc->n_res; i++)
                        if (!strcmp(*x, svc->res[i]->rid) || !strcmp(*x, svc->res[i]->group))
                                found = true;
                if (!found) {
                        snprintf(err, errlen, "%s has no resource matching --rid %s",
                                 svc->obj->pathstr, *x);
                        return -EINVAL;
                }
                struct om_res *r = om_res_find(svc, *x);
                if (opts->standby && r && !om_res_is_standby(r)) {
                        snprintf(err, errlen,
                                 "--rid %s: not a standby resource (--standby starts only "
                                 "those: standby = true, a disk.drbd and the device under it)",
                                 *x);
                        return -EINVAL;
                }
        }
        _cleanup_free_ struct om_res **sel = calloc(svc->n_res + 1, sizeof(*sel));
        size_t n_sel = 0;
        if (!sel)
                return -ENOMEM;
        for (size_t i = 0; i < svc->n_res; i++)
                if (selected(svc->res[i], rids, tags) && !svc->res[i]->disabled &&
                    (!opts->standby || om_res_is_standby(svc->res[i])))
                        sel[n_sel++] = svc->res[i];

        if (opts->standby && !n_sel) {
                snprintf(err, errlen,
                         "%s has no standby resource%s (--standby starts only those: standby = "
                         "true, a disk.drbd and the device under it)",
                         svc->obj->pathstr, rids || tags ? " among those selected" : "");
                return -EINVAL;
        }
        int lock = -1;
        if ((e = take_lock(p, action, opts->waitlock_ms, &lock, err, errlen)) < 0)
                return e;

        _cleanup_free_ char *logfile = om_object_log_path(p);
        if (!logfile || (e = om_log_object_open(svc->obj->pathstr, logfile)) < 0) {
                snprintf(err, errlen, "cannot open the object log: %s", strerror(e ? -e : ENOMEM));
                release_lock(p, lock);
                return e ? e : -ENOMEM;
        }
        om_log_set_console(false);
        log_info("do %s --local%s%s%s%s%s%s%s (%s origin)", action,
                 opts->standby ? " --standby" : "", opts->rid ? " --rid " : "",
                 opts->rid ? opts->rid : "", opts->tag ? " --tag " : "", opts->tag ? opts->tag : "",
                 opts->force ? " --force" : "", opts->passive ? " --passive" : "",
                 opts->origin ? opts->origin : "user");
        om_log_set_console(opts->console);

        struct perform pf = {
                .svc = svc, .sel = sel, .n_sel = n_sel, .action = action, .standby = opts->standby};
        uint64_t limit = action_timeout(svc, action);
        e = om_res_run_bounded(limit, action, perform, &pf);
        if (limit) /* the flags the child recorded */
                (void)om_res_svc_state_reload(svc);
        if (e < 0 && om_streq(action, "stop") && !rids && !tags)
                stop_failed(svc);
        om_log_set_rid(NULL);
        if (e >= 0 && om_streq(action, "purge")) {
                log_info("delete %s", svc->obj->pathstr);
                release_lock(p, OM_TAKE_FD(lock));
                if ((e = om_object_delete(p)) < 0)
                        log_error_errno(e, "cannot delete %s: %m", svc->obj->pathstr);
                om_log_object_close();
                return e;
        }
        om_log_set_console(false);
        svc->last_error[0] = 0;
        if (e < 0) {
                log_error("%s failed", action);
                if (om_log_last_error(logfile, om_log_sid(), svc->last_error,
                                      sizeof(svc->last_error)) < 0)
                        snprintf(svc->last_error, sizeof(svc->last_error), "%s failed", action);
        }
        om_res_svc_eval(svc);
        svc->action = action;
        int s = om_res_svc_save_status(svc);
        if (s < 0)
                log_warning_errno(s, "cannot save the instance status: %m");
        om_log_object_close();
        release_lock(p, lock);
        if (e < 0 && opts->console && om_streq(action, "provision"))
                provision_left(svc);
        return e; /* the reason is in the object log and on the console: err stays empty */
}
