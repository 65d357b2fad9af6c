/*
 * The table of monitor states (cl_monitor.h). One row per state; the functions below
 * only read it.
 */
#include "cluster/cl_monitor.h"

#include <string.h>

#include "core/util.h"

static const struct mon_row {
        const char *name;
        enum om_mon_class cls;
        const char *action;
        enum om_mon failed;
        bool holds;
} table[_OM_MON_MAX] = {
        [OM_MON_NONE] = {"", OM_MON_CLASS_IDLE, NULL, OM_MON_PURGE_FAILED, false},
        [OM_MON_INIT] = {"init", OM_MON_CLASS_ACTIVE, NULL, OM_MON_PURGE_FAILED, true},
        [OM_MON_IDLE] = {"idle", OM_MON_CLASS_IDLE, NULL, OM_MON_PURGE_FAILED, false},
        [OM_MON_READY] = {"ready", OM_MON_CLASS_IDLE, NULL, OM_MON_PURGE_FAILED, false},
        [OM_MON_STARTING] = {"starting", OM_MON_CLASS_ACTIVE, "start", OM_MON_START_FAILED, true},
        [OM_MON_STOPPING] = {"stopping", OM_MON_CLASS_ACTIVE, "stop", OM_MON_STOP_FAILED, true},
        [OM_MON_PROVISIONING] = {"provisioning", OM_MON_CLASS_ACTIVE, "provision",
                                 OM_MON_PROVISION_FAILED, true},
        [OM_MON_UNPROVISIONING] = {"unprovisioning", OM_MON_CLASS_ACTIVE, "unprovision",
                                   OM_MON_UNPROVISION_FAILED, false},
        [OM_MON_PURGING] = {"purging", OM_MON_CLASS_ACTIVE, "purge", OM_MON_PURGE_FAILED, false},
        [OM_MON_START_FAILED] = {"start failed", OM_MON_CLASS_FAILED, NULL, OM_MON_START_FAILED,
                                 false},
        [OM_MON_STOP_FAILED] = {"stop failed", OM_MON_CLASS_FAILED, NULL, OM_MON_STOP_FAILED, true},
        [OM_MON_PROVISION_FAILED] = {"provision failed", OM_MON_CLASS_FAILED, NULL,
                                     OM_MON_PROVISION_FAILED, false},
        [OM_MON_UNPROVISION_FAILED] = {"unprovision failed", OM_MON_CLASS_FAILED, NULL,
                                       OM_MON_UNPROVISION_FAILED, false},
        [OM_MON_PURGE_FAILED] = {"purge failed", OM_MON_CLASS_FAILED, NULL, OM_MON_PURGE_FAILED,
                                 false},
        [OM_MON_MONITOR_FAILED] = {"monitor failed", OM_MON_CLASS_FAILED, NULL,
                                   OM_MON_MONITOR_FAILED, false},
        /* the service itself is not started: a start elsewhere need not wait */
        [OM_MON_STARTING_STANDBY] = {"starting standby", OM_MON_CLASS_ACTIVE, "start",
                                     OM_MON_START_FAILED, false},
        [OM_MON_FENCED] = {"fenced", OM_MON_CLASS_FAILED, NULL, OM_MON_FENCED, false},
        [OM_MON_UNKNOWN] = {"unknown", OM_MON_CLASS_ACTIVE, NULL, OM_MON_PURGE_FAILED, true},
};

static const struct mon_row *row(enum om_mon m) {
        return (unsigned)m < _OM_MON_MAX ? &table[m] : &table[OM_MON_UNKNOWN];
}

const char *om_mon_to_string(enum om_mon m) {
        return row(m)->name;
}

enum om_mon om_mon_from_string(const char *s) {
        for (int m = 0; s && m < _OM_MON_MAX; m++)
                if (m != OM_MON_UNKNOWN && strcmp(table[m].name, s) == 0)
                        return (enum om_mon)m;
        return OM_MON_UNKNOWN;
}

enum om_mon_class om_mon_class_of(enum om_mon m) {
        return row(m)->cls;
}

const char *om_mon_action(enum om_mon m) {
        return row(m)->action;
}

enum om_mon om_mon_failed_of(enum om_mon m) {
        return row(m)->failed;
}

bool om_mon_holds(enum om_mon m) {
        return row(m)->holds;
}
