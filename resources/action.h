/*
 * The action engine: provision, start, stop, unprovision and purge of one service on
 * this node. It orders resources (ip, disk, fs, app by index; stop
 * and unprovision in reverse), rolls back what a failed start or provision started,
 * serializes actions per object with a lock, records provisioned flags under <var>,
 * logs every step to the object log and refreshes the cached instance status. It is a
 * plain function so `om <path> <action> --local` (what the agent spawns) and tests call
 * the same code; it never talks to a daemon.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/objpath.h"

struct om_res_action_opts {
        bool force;
        /* provision only: the passive provision of a node that does not run a failover
         * service while another node does. It makes what holds this node's data only (a
         * loop and what sits on it, started while needed, then stopped), provisions a
         * replica (disk.drbd) as a secondary, finds on a plain device path (a disk that
         * other nodes may reach) what the running node made there and never formats or
         * opens it, and records the rest provisioned untouched: nothing but standby
         * resources is left up, nothing another node uses is written. */
        bool passive;
        const char *rid;     /* comma separated rids or groups ("disk#0,fs"), NULL: all */
        const char *tag;     /* comma separated tags: the resources with any of them */
        int64_t waitlock_ms; /* wait for another action's lock: <0 forever, 0 not at all */
        const char *origin;  /* "user" or "daemon" (log line "do start --local (user origin)") */
        bool console;        /* show the reference's blocks on stdout */
        /* start only: the standby resources only, each in its standby state (a disk.drbd
         * attached and connected as Secondary, never promoted); what the agent runs where
         * the instance does not */
        bool standby;
};

/* Actions accepted by om_res_action_run. */
bool om_res_action_known(const char *action);

/* Runs action on the service p. Returns 0 on success; -EBUSY when another action holds
 * the lock (err says which); -ENOENT when the object does not exist; another negative
 * errno when the action failed. err is set when the failure happened before the action
 * began (bad --rid, lock, load); once begun, the reasons are in the object log and, with
 * console, on stdout, and err stays empty. */
/* The object's action lock (what names the holder, as an action name does): -EBUSY with
 * the holder in err when another action holds it past waitlock_ms (<0 forever, 0 not at
 * all). `print status --waitlock` takes it so that a status is never computed halfway
 * through an action. */
int om_res_action_lock(const struct om_path *p, const char *what, int64_t waitlock_ms, int *ret_fd,
                       char *err, size_t errlen);
void om_res_action_unlock(const struct om_path *p, int fd);

int om_res_action_run(const struct om_path *p, const char *action,
                      const struct om_res_action_opts *opts, char *err, size_t errlen);
