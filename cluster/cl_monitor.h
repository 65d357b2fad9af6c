/*
 * The monitor states of an instance (the orchestrator's per-object state machine), as one
 * table: each state's wire name, its class (idle, active, failed), the action a node runs
 * while in it, the failed state that action ends in when it fails, and whether a node in
 * that state may hold the service (a start elsewhere must wait). Adding a state is one
 * row. The wire carries the names ("idle", "start failed", ...): node data is decoded to
 * and encoded from this enum at the edge (cluster/cl_nodedata.c), so the protocol keeps
 * its strings. This module decides nothing.
 */
#pragma once

#include <stdbool.h>

enum om_mon {
        OM_MON_NONE, /* not set yet (node data collected before the orchestrator ran): "" */
        OM_MON_INIT, /* the status was not refreshed since the agent started */
        OM_MON_IDLE,
        OM_MON_READY, /* the HA leader waits its ready period before it starts */
        OM_MON_STARTING,
        OM_MON_STOPPING,
        OM_MON_PROVISIONING,
        OM_MON_UNPROVISIONING,
        OM_MON_PURGING,
        OM_MON_START_FAILED,
        OM_MON_STOP_FAILED,
        OM_MON_PROVISION_FAILED,
        OM_MON_UNPROVISION_FAILED,
        OM_MON_PURGE_FAILED,
        OM_MON_MONITOR_FAILED,
        OM_MON_STARTING_STANDBY, /* the standby resources start where the service is down */
        OM_MON_FENCED,           /* given up after another node preempted the reservation of its
                                  * device: stopped here, out of the HA candidates, never started
                                  * again before the service is placed back (a failed class) */
        OM_MON_UNKNOWN,          /* a name this version does not know (a newer peer's) */
        _OM_MON_MAX,
};

enum om_mon_class {
        OM_MON_CLASS_IDLE,
        OM_MON_CLASS_ACTIVE, /* an action runs, or the state is not known yet */
        OM_MON_CLASS_FAILED,
};

/* The wire name; "unknown" for OM_MON_UNKNOWN and out-of-range values. */
const char *om_mon_to_string(enum om_mon m);
/* The state named s; OM_MON_UNKNOWN for a name not in the table (never fails). */
enum om_mon om_mon_from_string(const char *s);
enum om_mon_class om_mon_class_of(enum om_mon m);
static inline bool om_mon_failed(enum om_mon m) {
        return om_mon_class_of(m) == OM_MON_CLASS_FAILED;
}
/* The action (`om <path> <action>`) a node runs in state m, NULL when none. */
const char *om_mon_action(enum om_mon m);
/* The state the action of m ends in when it fails (OM_MON_PURGE_FAILED for a state
 * without an action, as a spawn that cannot even run is a failure of what was asked). */
enum om_mon om_mon_failed_of(enum om_mon m);
/* A node in state m may run the service or is about to (starting, stopping, a stop that
 * failed, provisioning, the status not known yet, a state this version does not know):
 * a start elsewhere must wait. */
bool om_mon_holds(enum om_mon m);
