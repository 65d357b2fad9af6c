/*
 * The cached status of an object's instance on this node: written by every action and
 * by `om <path> print status` (which computes it from the drivers), read by the agent
 * without touching any device. Stored as ini text in <var>/namespaces/<ns>/<kind>/<name>/
 * status, replaced atomically. The frozen flag is the file `frozen` beside it; the fenced
 * flag, the file `fenced`, is the agent's: there while the instance's monitor state is
 * "fenced" (another node preempted its reservation), so that it survives an agent restart.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/objpath.h"

#define OM_STATUS_ERROR_MAX 200
struct om_instance_status {
        char avail[8];   /* up, down, warn, n/a, undef */
        char overall[8]; /* avail, worsened by warnings of optional resources */
        bool provisioned;
        bool frozen;
        uint64_t updated_ms; /* wall clock of the computation */
        char down[512];      /* rids of the enabled resources found down, space-separated */
        char fenced[256];    /* rids whose device reservation another node took */
        char diverged[64];   /* rids whose data diverged from another node's (split brain) */
        /* where the instance is not up and has standby resources: "up" when they all are
         * (a DRBD replica attached and connected as Secondary), "down" when one is not;
         * "" otherwise */
        char standby[8];
        char last_action[16]; /* the last action run on the instance ("" when none) */
        uint64_t last_action_ms;
        /* why that action failed, from its object log ("" when it succeeded): shown on
         * other nodes through the node data (cluster/cl_nodedata.h) */
        char last_error[OM_STATUS_ERROR_MAX];
};

/* Loads the cached status; -ENOENT when never computed (avail "undef" is then right). */
int om_instance_status_load(const struct om_path *p, struct om_instance_status *ret);
int om_instance_status_save(const struct om_path *p, const struct om_instance_status *st);

bool om_instance_frozen(const struct om_path *p);
int om_instance_set_frozen(const struct om_path *p, bool frozen);
/* The agent's "fenced" flag: present while the monitor state is fenced; it holds the
 * version and writer of the target known then (cl_decide.h, fenced_tver). fenced reads
 * it: false when absent; ver 0 and writer "" when it holds none (an older agent's). */
bool om_instance_fenced(const struct om_path *p, uint64_t *ver, char *writer, size_t len);
int om_instance_set_fenced(const struct om_path *p, bool fenced, uint64_t ver, const char *writer);
/* Adds rid to the `fenced` rids of the cached status (a stop that found the reservation of
 * the resource's device taken by another node), keeping the rest of it. */
int om_instance_status_add_fenced(const struct om_path *p, const char *rid);
