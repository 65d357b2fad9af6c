/*
 * The arbitrator daemon (`om arbitrator run`): a small libuv program that gives each
 * cluster it serves its vote as a lease to one partition at a time (the rule is
 * cluster/arb_vote.h, the wire cluster/arb_wire.h). It reads `<etc>/arbitrator.conf`:
 *
 *     [arbitrator]
 *     addr = 0.0.0.0          # address to listen on (UDP)
 *     port = 1216
 *     name = arb1             # the sender name of its answers (default: the host name)
 *     [cluster#1]
 *     name = prod             # the cluster's [cluster] name
 *     secret = <64 hex>       # the cluster's [cluster] secret
 *     lease = 3s              # the vote's lease (1s to 60s; about the heartbeat timeout)
 *
 * It keeps no vote state on disk: after a start it gives no vote for one lease. The fence
 * marks of replicated storage are on disk, in `<var>/arbitrator.marks`. Its status
 * (`om arbitrator status`) is served on `<run>/arbitrator.sock` (mode 0600).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cluster/arb_wire.h"
#include "secrets/cluster_key.h"

#define OM_ARBD_CLUSTERS_MAX 64

struct om_arbd_conf {
        char addr[64];
        uint16_t port;
        char name[OM_ARB_NAME_MAX];
        size_t n_clusters;
        struct {
                char name[OM_ARB_CLUSTER_MAX];
                uint8_t secret[OM_CLUSTER_SECRET_LEN];
                uint64_t lease_ms;
        } clusters[OM_ARBD_CLUSTERS_MAX];
};

/* Loads and checks the config file (`<etc>/arbitrator.conf` when file is NULL). On error
 * returns -EINVAL (or -ENOENT) with "<file>:<line>: <what>" in err. Wipe ret's secrets
 * with om_arbd_conf_wipe. */
int om_arbd_conf_load(const char *file, struct om_arbd_conf *ret, char *err, size_t errlen);
void om_arbd_conf_wipe(struct om_arbd_conf *c);

/* Runs the arbitrator in the foreground until SIGTERM or SIGINT: 0 on a clean stop, a
 * negative errno when it could not start (the reason on stderr). */
int om_arbd_run(void);

/* The path of the status socket. */
char *om_arbd_sock_path(void);
