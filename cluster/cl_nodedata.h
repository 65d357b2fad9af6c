/*
 * Node data: what a node says about itself to the cluster, its node
 * state, the status of each of its instances and the version of each object it holds.
 * Each node is the only writer of its own; a generation counts its changes. This module
 * collects the local data from the files the CLI and the actions write (never touching
 * a device), compares two collections, and encodes and decodes them as msgpack.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cl_monitor.h"
#include "core/objpath.h"

struct om_cl_instance {
        char path[OM_PATH_STRMAX];
        char avail[8];
        char overall[8];
        bool provisioned;
        bool frozen;
        char error[200];   /* why its last action failed ("" none): from the status cache */
        char diverged[64]; /* rids whose data diverged from another node's ("" none): same */
        char standby[8];   /* "up"/"down": its standby resources where it does not run ("" none) */
        /* set by the agent's orchestrator (empty from om_cl_nodedata_collect) */
        enum om_mon monitor;    /* on the wire by its name: "idle", "stop failed" */
        char target[80];        /* the object's target state as this node knows it */
        uint64_t target_ver;    /* its version (ms), ties broken by target_writer */
        char target_writer[64]; /* the node that set it */
        bool target_done;       /* this node saw the target reached or failed */
};

struct om_cl_objver {
        char path[OM_PATH_STRMAX];
        uint64_t hlc;
        char writer[64];
        bool deleted; /* the version is a tombstone's (cluster/cl_repl.h) */
};

struct om_cl_nodedata {
        uint64_t gen;
        char state[16]; /* node monitor state: "idle" */
        bool frozen;
        struct om_cl_instance *inst;
        size_t n_inst;
        bool inst_sorted; /* inst is in strcmp order of path (collect and unpack sort it) */
        struct om_cl_objver *objs;
        size_t n_objs;
        /* what placement reads (cluster/cl_place.h); metrics is false when the node sent
         * none (an older agent, or /proc unreadable) */
        bool metrics;
        uint32_t load15;    /* 15-minute load average x 100 */
        uint32_t mem_avail; /* MemAvailable in per mille of MemTotal */
        uint32_t ncpu;      /* CPUs online */
};

void om_cl_nodedata_done(struct om_cl_nodedata *nd);

/* Reads the local node data (gen left 0, frozen left false: the caller owns them). */
int om_cl_nodedata_collect(struct om_cl_nodedata *ret);

/* Reads the node's metrics into nd (load15, mem_avail, ncpu; metrics false when they
 * cannot be read). Tests of placement point OM_TEST_LOADAVG and OM_TEST_MEMINFO at files
 * of /proc/loadavg's and /proc/meminfo's formats, read instead (agents of one test host
 * share the kernel's load average). */
void om_cl_nodedata_metrics(struct om_cl_nodedata *nd);

/* Metrics vary a little at every collection; a new generation for each would make every
 * peer pull the node data every few seconds. When nd's metrics moved less than a step
 * from prev's (0.2 of load, 5% of memory), nd takes prev's values. */
void om_cl_nodedata_metrics_settle(const struct om_cl_nodedata *prev, struct om_cl_nodedata *nd);

/* True when a and b say the same thing (generations ignored). */
bool om_cl_nodedata_same(const struct om_cl_nodedata *a, const struct om_cl_nodedata *b);

/* True when local holds every sec object of namespace ns (of every namespace when ns is
 * NULL) that peer advertises, at the
 * peer's version or a newer one (a peer's tombstone is satisfied by a local one of at
 * least its version, or by the object's absence). A node that provisions after another
 * (the passive nodes of a failover service) waits for this, so that it uses the
 * passphrases the first node generated instead of generating its own. */
bool om_cl_nodedata_secs_synced(const struct om_cl_nodedata *local,
                                const struct om_cl_nodedata *peer, const char *ns);

/* Packs nd as one msgpack map. */
void om_cl_nodedata_pack(const struct om_cl_nodedata *nd, msgpack_packer *pk);
/* Decodes a map packed by om_cl_nodedata_pack (unknown keys skipped); -EBADMSG when it is
 * not one. ret is replaced only on success. */
int om_cl_nodedata_unpack(const msgpack_object *o, struct om_cl_nodedata *ret);

/* Frozen flag of the node: <var>/node/frozen. */
bool om_cl_node_frozen(void);
int om_cl_node_set_frozen(bool frozen);
