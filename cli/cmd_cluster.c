/*
 * `om cluster join --node <peer>[:<port>] --secret <secret> [--addr <address>]`: asks a
 * running member's peer API to add this node to the cluster (the request is sealed with
 * the key derived from the secret, which proves the right to join), and installs the
 * cluster.conf it answers, which every member also received. The address is the one
 * peers will beat to (the node's hostname's address when absent).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "cluster/cl_config.h"
#include "core/fileio.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

static int resolve_self(char *out, size_t len) {
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
        if (getaddrinfo(om_nodename(), NULL, &hints, &res) != 0 || !res)
                return -EADDRNOTAVAIL;
        int r = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)len, NULL, 0,
                            NI_NUMERICHOST);
        freeaddrinfo(res);
        return r == 0 ? 0 : -EADDRNOTAVAIL;
}

static int cmd_join(struct om_cli_ctx *ctx) {
        const char *peer = om_cli_opt(ctx, "node");
        const char *secret = om_cli_opt(ctx, "secret");
        const char *addr_opt = om_cli_opt(ctx, "addr");
        uint8_t bin[OM_CLUSTER_SECRET_LEN];
        char host[256], addr[OM_CL_ADDR_MAX], err[512] = "";
        long long port = 1215;
        int r;
        if (!peer || !secret)
                return om_cli_usage_error("usage: om cluster join --node <peer>[:<port>] "
                                          "--secret <secret> [--addr <address>]");
        if (strlen(secret) != 2 * OM_CLUSTER_SECRET_LEN ||
            om_hex_decode(secret, bin, sizeof(bin)) < 0)
                return om_cli_usage_error("--secret: expected %d hex digits",
                                          2 * OM_CLUSTER_SECRET_LEN);
        snprintf(host, sizeof(host), "%s", peer);
        char *colon = strrchr(host, ':');
        if (colon && !strchr(colon + 1, ']') && strchr(host, ':') == colon) {
                *colon = 0;
                if (om_parse_int(colon + 1, 1, 65535, &port) < 0)
                        return om_cli_usage_error("--node: bad port '%s'", colon + 1);
        }
        if (addr_opt)
                snprintf(addr, sizeof(addr), "%s", addr_opt);
        else if (resolve_self(addr, sizeof(addr)) < 0)
                return om_cli_usage_error("cannot resolve this node's name %s: pass --addr",
                                          om_nodename());

        /* The provisional cluster.conf holds the secret the keys derive from; the old file
         * comes back when the join fails. */
        _cleanup_free_ char *file = om_cluster_conf_path();
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        if (!file)
                return om_cli_fail("out of memory");
        r = om_read_file(file, OM_INI_MAX_FILE, &old, &old_len);
        if (r < 0 && r != -ENOENT)
                return om_cli_fail("cannot read %s: %s", file, strerror(-r));
        _cleanup_free_ char *prov = om_asprintf("[cluster]\nsecret = %s\n", secret);
        if (!prov || om_mkdir_parents(file, 0755) < 0 ||
            (r = om_write_atomic(file, prov, strlen(prov), 0600)) < 0)
                return om_cli_fail("cannot write %s", file);

        _cleanup_free_ char *conf = NULL;
        r = om_api_peer_join(host, (uint16_t)port, om_nodename(), addr, &conf, err, sizeof(err));
        if (r == 0) {
                struct om_ini *ini = NULL;
                struct om_cl_config *cfg = NULL;
                char perr[512];
                r = om_ini_parse(conf, strlen(conf), "cluster.conf", &ini, perr, sizeof(perr));
                if (r == 0)
                        r = om_cl_config_from_ini(ini, "cluster.conf", om_nodename(), &cfg, perr,
                                                  sizeof(perr));
                om_ini_free(ini);
                if (r < 0)
                        snprintf(err, sizeof(err), "the cluster.conf received is refused: %s",
                                 perr);
                else {
                        printf("om: joined cluster %s through %s: nodes", cfg->name, host);
                        for (size_t i = 0; i < cfg->n_nodes; i++)
                                printf(" %s", cfg->nodes[i]);
                        printf("\n");
                }
                free(cfg);
        }
        if (r == 0)
                r = om_write_atomic(file, conf, strlen(conf), 0600);
        if (r < 0) {
                if (old)
                        (void)om_write_atomic(file, old, old_len, 0600);
                else
                        (void)om_unlink_sync(file);
                return om_cli_fail("join failed: %s", err[0] ? err : strerror(-r));
        }
        struct om_api_reply rep;
        if (om_api_call("status", 1000, &rep) == 0)
                printf("om: restart the agent to use the new cluster.conf (om daemon stop; om "
                       "daemon start)\n");
        om_api_reply_done(&rep);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd cluster_cmds[] = {
        {"cluster join", 0, "node= secret= addr=", cmd_join,
         "Join a running cluster through one of its nodes (--node <peer>[:<port>])."},
};
OM_CLI_REGISTER(cluster_cmds)
