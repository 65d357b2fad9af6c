/*
 * The command tables of the local API (agent/api_local.c) and the peer API
 * (agent/api_peer.c): each command a row with its name, who may call it and its handler;
 * a request is dispatched by looking its "cmd" up in the table. This header gives the
 * rows (without their handlers) and the checks of who may call, so that the tests can
 * walk every command.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OM_API_CMD_MAX 32

enum om_api_who {
        OM_API_WHO_LOCAL_USER, /* local API: root or the agent's uid (SO_PEERCRED) */
        OM_API_WHO_MEMBER,     /* peer API: a node of cluster.nodes, with a fresh request */
        OM_API_WHO_SECRET,     /* peer API: whoever proves the cluster secret (a joining
                                * node), with a fresh request */
};

struct om_api_cmd {
        const char *name;
        enum om_api_who who;
        bool read; /* local API: changes nothing, so members of the om group may call it */
};

/* The i-th row of each table, NULL past the end. */
const struct om_api_cmd *om_api_local_cmd(size_t i);
const struct om_api_cmd *om_api_peer_cmd(size_t i);

/* Whether a local client of uid may call c (the agent runs as agent_uid); om_group: the
 * client is in the om group (viewer access: read commands only). */
bool om_api_local_may(const struct om_api_cmd *c, uid_t uid, uid_t agent_uid, bool om_group);
/* Whether a peer request of c may run: NULL when it may, else the refusal sent back.
 * member: the sender is a node of cluster.nodes; fresh: its "ts" is within
 * OM_LIM_PEER_TS_SKEW_MS of our clock. */
const char *om_api_peer_may(const struct om_api_cmd *c, bool member, bool fresh);
