/*
 * The resource driver interface and the loaded view of a service.
 * A service is its config plus one struct om_res per `[<group>#<index>]` section, in
 * action order (ip, disk, fs, app, each by index). A driver reads its keywords through
 * om_res_kw, which expands references, including the deferred device references that
 * ask the other resources' drivers for their live devices. This header does not run
 * actions (see action.h) nor render anything (see render.h).
 */
#pragma once

#include "resources/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/object.h"

enum om_res_status { OM_RES_UP, OM_RES_DOWN, OM_RES_WARN, OM_RES_NA, OM_RES_UNDEF };
const char *om_res_status_to_string(enum om_res_status s);

enum om_res_devs { OM_RES_DEVS_EXPOSED, OM_RES_DEVS_SUB, OM_RES_DEVS_BASE };
const char *om_res_devs_to_string(enum om_res_devs d); /* "exposed_devs"... */

enum om_res_action { OM_ACT_START, OM_ACT_STOP, OM_ACT_PROVISION, OM_ACT_UNPROVISION };

struct om_res;

/* Whose data the device of a resource holds, as a passive provision (action.h) needs to
 * know: what it may make and open on a node that does not run the service. */
enum om_res_data {
        OM_RES_DATA_NONE,       /* no device (app, ip) */
        OM_RES_DATA_NODE,       /* this node's only: a loop over a file of this node */
        OM_RES_DATA_REPLICATED, /* the peers' too, through the driver (disk.drbd) */
        /* the data of the device it sits on, named by its keyword dev_kw (crypt, fs): a
         * reference to another resource of the service is that resource's; a plain path
         * may be a disk another node reaches (a SAN LUN) */
        OM_RES_DATA_UNDER,
};

/* A driver. Every callback returns 0 or a negative errno, having logged the reason
 * (the engine sets the object log context and the rid before calling). NULL callbacks
 * mean "nothing to do" (start, stop, provision, unprovision) or "none" (devs). */
struct om_res_driver {
        const char *group; /* "disk" */
        const char *type;  /* "loop" */
        const char *name;  /* as `print devs` shows it: "disk.loop", "fs" */
        /* the keywords the driver reads, NULL-terminated; every one is declared in the
         * tables of core/keywords.c (a unit test checks it) */
        const char *const *keywords;
        /* static checks before an action changes anything (bad size, missing device) */
        int (*check)(struct om_res *r, enum om_res_action a);
        /* enum om_res_status; notes for `print status` go to r->notes; never logs */
        int (*status)(struct om_res *r);
        /* 1 provisioned, 0 not, negative: cannot tell now */
        int (*provisioned)(struct om_res *r);
        int (*start)(struct om_res *r);
        int (*stop)(struct om_res *r);
        /* brings the resource up in its standby state only, for a node where the service
         * does not run (disk.drbd: attached and connected as Secondary, never promoted).
         * A driver with one is standby-capable: the agent keeps it so where the instance
         * is down (`start --standby`), and its status sets r->stdby in that state. NULL:
         * the resource has no standby state (a `standby = true` one is started whole) */
        int (*start_standby)(struct om_res *r);
        /* may return OM_RES_PROVISIONED_REPLICA (disk.drbd on a node whose peer holds
         * the data): provisioned, not started, and the resources after it in the action
         * order are provisioned by the replication (recorded so, neither provisioned nor
         * started here) */
        int (*provision)(struct om_res *r);
        int (*unprovision)(struct om_res *r);
        /* the devices of a kind, NULL-terminated; -ENXIO with a reason when not up */
        int (*devs)(struct om_res *r, enum om_res_devs which, char ***ret, char *err,
                    size_t errlen);
        /* "loop /opt/x.img"; allocated */
        char *(*label)(struct om_res *r);
        /* the keyword naming a device that unprovision must reach ("dev" for crypt,
         * whose header lives there): the engine brings up the resources it references
         * first. NULL: unprovision needs no other resource up. */
        const char *unprovision_needs;
        enum om_res_data data;
        /* the keyword naming the device the resource sits on ("dev", "disk"), NULL none */
        const char *dev_kw;
};

extern const struct om_res_driver om_res_driver_loop;
extern const struct om_res_driver om_res_driver_crypt;
extern const struct om_res_driver om_res_driver_drbd;

/* The program DRBD's kernel module runs for its handlers while om manages a DRBD
 * resource of the node (res_drbd.c): the om binary called through a link of this name
 * (cli/main.c dispatches on it). Returns an exit status when it cannot exec. */
#define OM_DRBD_HELPER_NAME "om-drbd-helper"
int om_res_drbd_helper(int argc, char **argv);
/* After a DRBD split brain, on this node: when discard names this node, its changes are
 * dropped and DRBD resynchronizes it from the other (refused while Primary here);
 * otherwise this node keeps its data and reconnects. Clears the split brain marker. */
int om_res_drbd_resolve(struct om_res *r, const char *discard);

/* The arbitrator's fence marks (cluster/arb_fence.h) as disk.drbd asks for them: through
 * the local agent, which resources/ does not reach itself; the CLI sets the function
 * (cli/main.c). op is "fence" (mark node's replica outdated, by this node) or "unfence"
 * (clear the mark naming node). Returns 0 with the arbitrator's answer, or a negative
 * errno with the reason in err (no agent, no arbitrator, no answer in time). */
struct om_drbd_fence_answer {
        char result[16]; /* set, kept, refused, full, cleared, none, other */
        char outdated[64];
        char by[64];
        uint64_t at; /* wall clock ms of the arbitrator when the mark was set */
        char arbitrator[64];
};
typedef int (*om_drbd_fencer)(const char *op, const char *res, const char *node, int timeout_ms,
                              struct om_drbd_fence_answer *ret, char *err, size_t errlen);
void om_res_drbd_set_fencer(om_drbd_fencer f);

/* What a provision callback returns for a replica (see provision above). */
#define OM_RES_PROVISIONED_REPLICA 1
extern const struct om_res_driver om_res_driver_ext4;
extern const struct om_res_driver om_res_driver_xfs;
extern const struct om_res_driver om_res_driver_app;
extern const struct om_res_driver om_res_driver_ip;

/* The driver of group and type (type NULL: the group's default), NULL when none. */
const struct om_res_driver *om_res_driver_find(const char *group, const char *type);
/* Every driver, for tests and documentation. */
const struct om_res_driver *const *om_res_drivers(size_t *ret_n);

struct om_res_svc;

struct om_res {
        struct om_res_svc *svc;
        const struct om_res_driver *drv;
        char rid[64];
        char group[32];
        char type[32];
        long index;
        bool optional, disabled, monitor, standby;
        int restart;
        char **notes; /* status notes ("info: dev is not defined") */
        /* set by the status: another node took the reservation of the device this
         * resource fences (scsireserv): its writes are refused, the instance is fenced */
        bool fenced;
        /* set by the status: this node's copy of the data and another node's diverged (a
         * replicated device's split brain): the instance says so to the cluster */
        bool diverged;
        /* set by the status: up in its standby state only (a DRBD Secondary, attached
         * and connected), not running the service: the instance's avail ignores it,
         * `print status` shows "stdby up" */
        bool stdby;
        /* filled by om_res_svc_eval */
        enum om_res_status status;
        int provisioned; /* 1, 0, -1 unknown */
        char *label;
};

struct om_res_svc {
        struct om_object *obj;
        struct om_res **res;
        size_t n_res;
        bool force;
        /* a passive provision runs (action.h): disk.drbd never becomes the initial primary */
        bool passive;
        const char *action;                   /* the action running, recorded in the status cache */
        char last_error[OM_STATUS_ERROR_MAX]; /* why it failed ("" when it succeeded) */
        struct om_ini *state;                 /* <var>/.../resources: provisioned flags */
        int depth;                            /* device reference recursion guard */
        /* filled by om_res_svc_eval */
        enum om_res_status avail, overall;
        int provisioned; /* 1, 0, -1 unknown */
        bool frozen;
        /* where the instance is not up: up when its standby resources (standby = true,
         * and the standby-capable ones with what they stand on) are all up, down when
         * one is not; n/a when it is up or has none */
        enum om_res_status standby;
};

/* Loads the object and builds its resources. -ENOENT when the object does not exist,
 * -EINVAL for an unknown driver, with the reason in err. */
int om_res_svc_load(const struct om_path *p, struct om_res_svc **ret, char *err, size_t errlen);
void om_res_svc_free(struct om_res_svc *svc);
/* Reads the provisioned flags of <var>/.../resources again (after an action ran them in a
 * child process). */
int om_res_svc_state_reload(struct om_res_svc *svc);
OM_DEFINE_CLEANUP(struct om_res_svc, om_res_svc_free)
#define _cleanup_res_svc_ _cleanup_(om_res_svc_freep)

struct om_res *om_res_find(struct om_res_svc *svc, const char *rid);
/* The resource of the service whose device r's dev_kw references
 * ({disk#1.exposed_devs[0]}), NULL when it names a plain path, nothing, or no resource. */
struct om_res *om_res_under(struct om_res *r);
/* Whose data r's device holds, following dev_kw down: this node's only
 * (OM_RES_DATA_NODE), other nodes' too (OM_RES_DATA_REPLICATED: a replica, or a plain
 * device path, which may be a disk that another node reaches), or none
 * (OM_RES_DATA_NONE). What a passive provision may make and open here. */
enum om_res_data om_res_data_of(struct om_res *r);

/* The expanded value of keyword key of the resource (default of the keyword table when
 * unset). -ENOENT when neither; -ENXIO when a device reference cannot be resolved now.
 * The reason is in err. */
int om_res_kw(struct om_res *r, const char *key, char **ret, char *err, size_t errlen);
/* Same, but an unresolvable device reference stays as written (for labels). */
char *om_res_kw_label(struct om_res *r, const char *key);
/* The raw value of key (NULL when unset): tells whether it holds a device reference. */
const char *om_res_kw_raw(struct om_res *r, const char *key);
bool om_res_kw_bool(struct om_res *r, const char *key, bool def);
/* The service path "ns/kind/name". */
const char *om_res_path(const struct om_res *r);

/* Devices of a resource, NULL-terminated (empty vector when none). */
int om_res_devs(struct om_res *r, enum om_res_devs which, char ***ret, char *err, size_t errlen);

/* Computes every resource's status, provisioned flag and label, and the instance's
 * avail, overall and provisioned. Never logs, never changes anything. */
int om_res_svc_eval(struct om_res_svc *svc);
/* Writes the evaluated status to the cache read by the agent (resources/status.h),
 * unless the cache already says the same and is younger than OM_RES_STATUS_REFRESH_MS.
 * (The frozen flag is a file of its own, never stale in the cache.) */
#define OM_RES_STATUS_REFRESH_MS 10000
int om_res_svc_save_status(struct om_res_svc *svc);

/* The provisioned flag recorded by the last provision/unprovision of rid: 1, 0, or -1
 * when never recorded. */
int om_res_state_provisioned(struct om_res_svc *svc, const char *rid);
int om_res_state_set_provisioned(struct om_res_svc *svc, const char *rid, bool on);

/* "<flags>" column: R M D O E P S restart, 8 characters + NUL. */
void om_res_flags(const struct om_res *r, char buf[9]);

/* disk.crypt: suspends the open volume of r (luksSuspend: I/O held, the volume key out
 * of kernel memory), for a stop that failed. 0 when suspended or not open. */
int om_res_crypt_suspend(struct om_res *r);

/* --- helpers shared by drivers --- */

/* Runs argv (no shell) with stdin on /dev/null, stdout and stderr captured and logged
 * line by line as "| <line>" at info level (discarded when quiet); kills the process group after
 * timeout_ms (0: none). *ret_status is the exit status (128+signal when killed by one). Returns
 * -ETIME on timeout, -errno when it cannot run. */
int om_res_exec(char *const argv[], uint64_t timeout_ms, const char *cwd, bool quiet,
                int *ret_status);
/* The same, the output lines for which skip(line, len) is true not logged (a tool's
 * banner that says nothing of the action). */
typedef bool (*om_res_exec_skip)(const char *line, size_t len);
int om_res_exec_skip_lines(char *const argv[], uint64_t timeout_ms, const char *cwd, bool quiet,
                           om_res_exec_skip skip, int *ret_status);
/* Runs body(arg) within limit_ms (0: no limit, in this process): in a child process that,
 * past the limit, is killed with every process under it, what (the action) logged as
 * timed out. Returns body's result (a negative errno, as it passed through the child's
 * exit status), -ETIME on timeout. */
int om_res_run_bounded(uint64_t limit_ms, const char *what, int (*body)(void *arg), void *arg);
/* Splits a command line into words: white space separates, '...' and "..." quote,
 * backslash escapes outside single quotes. -EINVAL for an unterminated quote. */
int om_res_split_command(const char *s, char ***ret);

/* The whole-disk block devices under dev (for a regular file: under the filesystem
 * holding it) (a partition's disk, a loop device's backing
 * file's disk, a device-mapper device's slaves), as /dev paths. */
int om_res_base_devs_of(const char *dev, char ***ret);

/* The rids the agent keeps up in their standby state where the instance does not run,
 * comma separated in buf: the enabled resources with `standby = true`, the disk.drbd
 * ones and the resources their `disk` references (node: the scope of the keywords).
 * -ENOSPC when they do not fit. */
int om_res_standby_rids(const struct om_ini *ini, const char *node, char *buf, size_t len);
/* Whether r is a standby resource or a standby-capable one. */
bool om_res_is_standby(const struct om_res *r);

/* The resource ids a value references through device references
 * ({disk#0.exposed_devs[0]}), as a NULL-terminated vector (NULL when none). */
int om_res_referenced_rids(const char *value, char ***ret);
/* The loop device (/dev/loopN) whose backing file is file, 0 when found, -ENODEV when
 * none. */
int om_res_loop_find(const char *file, char *ret, size_t len);
/* The filesystem type found on dev by libblkid ("ext4", "crypto_LUKS"), NULL in *ret
 * when dev holds no known signature. */
int om_res_probe_type(const char *dev, char **ret);
