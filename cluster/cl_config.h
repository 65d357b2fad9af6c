/*
 * The cluster's configuration as the agent uses it: `<etc>/cluster.conf` parsed and checked into
 * nodes, heartbeat streams, the peer API port, the arbitrators and this node's [node] settings.
 * This module only reads and validates; writing the file (join) is done by the callers through
 * om_write_atomic. A bad file is refused with a message naming its line, so the agent can stop
 * before it binds anything.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ini.h"

#define OM_CL_NODES_MAX 128
#define OM_CL_HB_MAX 4
#define OM_CL_ARB_MAX 8
#define OM_CL_NAME_MAX 64
#define OM_CL_ADDR_MAX 64
#define OM_CL_HOOK_MAX 16
#define OM_CL_HOOK_CMD_MAX 1024

struct om_cl_hb_conf {
        char name[16]; /* "hb#1" */
        uint16_t port;
        uint64_t interval_ms;
        uint64_t timeout_ms;
        char addrs[OM_CL_NODES_MAX][OM_CL_ADDR_MAX]; /* by node index, numeric address */
        bool relay; /* type = relay: beats go through an arbitrator, which forwards them */
        int arb;    /* relay: index in arb[] of the arbitrator named by `arbitrator` */
        bool disk;  /* type = disk: beats written to slots of a shared device (cluster/hb_disk.h) */
        char dev[256]; /* disk: the device (or file), an absolute path */
};

struct om_cl_config {
        char name[OM_CL_NAME_MAX];
        char nodes[OM_CL_NODES_MAX][OM_CL_NAME_MAX];
        size_t n_nodes;
        bool quorum;
        uint16_t api_port;
        uint64_t tombstone_ttl_ms;
        int max_parallel; /* [node] max_parallel for this node; 0: not set (twice the CPUs) */
        struct om_cl_hb_conf hb[OM_CL_HB_MAX];
        size_t n_hb;
        struct {
                char uri[256];             /* om://<host>:<port>, as written */
                char addr[OM_CL_ADDR_MAX]; /* its host, numeric */
                uint16_t port;
                int weight;
        } arb[OM_CL_ARB_MAX];
        char arb_names[OM_CL_ARB_MAX][24]; /* their sections: "arbitrator#1" */
        size_t n_arb;
        /* [api]: the HTTP API of this node (agent/http.c); off when http_addr is empty */
        struct {
                char addr[OM_CL_ADDR_MAX]; /* numeric */
                uint16_t port;
                enum { OM_HTTP_TLS_CLUSTER, OM_HTTP_TLS_FILES, OM_HTTP_TLS_OFF } tls;
                char cert[256], key[256]; /* tls = files */
        } http;
        /* [hook#N] as this node reads them (agent/hooks.c) */
        struct {
                char name[24];                    /* "hook#1" */
                uint32_t kinds;                   /* bit (1 << enum om_ev_kind) per kind */
                char command[OM_CL_HOOK_CMD_MAX]; /* checked to split into words */
                uint64_t timeout_ms;
        } hooks[OM_CL_HOOK_MAX];
        size_t n_hooks;
};

/* Checks a parsed cluster.conf and fills ret (allocated, caller frees). self is this
 * node's name: it must be in `nodes` when `nodes` is set; when `nodes` is absent the
 * cluster is this node alone. Addresses that are not numeric are resolved (this may
 * block: call it at start-up or from the CLI). On error returns -EINVAL with
 * "<file>:<line>: <what>" in err. */
int om_cl_config_from_ini(const struct om_ini *ini, const char *filename, const char *self,
                          struct om_cl_config **ret, char *err, size_t errlen);

/* Loads and checks `<etc>/cluster.conf`. A missing file gives the one-node default. */
int om_cl_config_load(const char *self, struct om_cl_config **ret, char *err, size_t errlen);

/* Index of node name in cfg->nodes, or -ENOENT. */
int om_cl_config_node_index(const struct om_cl_config *cfg, const char *name);

/* The address of a node for the peer API: its address on the first network heartbeat
 * stream (a disk stream has no addresses). */
const char *om_cl_config_node_addr(const struct om_cl_config *cfg, size_t idx);
