/*
 * `om cluster rotate-secret [--time D]`: replaces the cluster secret on every node, with
 * no node ever unable to open what another sends. It talks to the peer API of every
 * node of cluster.conf (this one included), in steps that each finish on every node
 * before the next begins (agent/rotation.c has the node's side):
 *
 *   0. the HTTP API's CA, derived from the secret until now, is stored in the sec object
 *      system/sec/http-ca (secrets/tls_ca.h), so that it outlives the rotation;
 *   1. rotkey: each node makes a key pair for this rotation and sends its public half;
 *   2. rotinstall: a new secret from libsodium's CSPRNG, sealed to each node's key, is
 *      installed everywhere as secret_next (accepted, not used); a node that fails here
 *      ends the rotation: the others drop it again (rotabort), nothing changed;
 *   3. rotcommit: every node sends and seals with the new secret, still accepting the
 *      old one, and seals its sec files again;
 *   4. rotfinish: once a node holds every sec version and none needs the old secret, it
 *      drops it (asked again until --time, 60s, runs out).
 *
 * Every node must answer: a node that misses the rotation could not talk to the others
 * once they drop the old secret, so step 1 refuses when one does not. Run again after a
 * failure in step 3 or 4, it takes the rotation up where this node's cluster.conf left it;
 * `--abort` gives up one that is installed and used nowhere yet (rotabort everywhere).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "cluster/cl_config.h"
#include "cluster/cl_mp.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"
#include "secrets/tls_ca.h"

#define STEP_TIMEOUT_MS 10000

struct rot_ctx {
        struct om_cl_config *cfg;
        struct om_api_peer_keys keys; /* [0] sends */
        uint32_t gen;                 /* the new generation */
};

/* One step on node i: {"v":1,"cmd":cmd,"c":cluster,"ts":now[,"gen":gen][,"box":box]}.
 * 0 when it answered ok; 1 when it refused (reason in err), 2 when it said to ask again
 * later; <0 when it did not answer. */
static int step(struct rot_ctx *x, size_t i, const char *cmd, const uint8_t *box, size_t box_len,
                struct om_api_peer_reply *ret, char *err, size_t errlen) {
        const char *addr = om_cl_config_node_addr(x->cfg, i);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4 + (strcmp(cmd, "rotkey") != 0) + (box != NULL));
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", cmd);
        om_cl_mp_kv_str(&pk, "c", x->cfg->name);
        om_cl_mp_kv_u64(&pk, "ts", om_now_ms());
        if (strcmp(cmd, "rotkey") != 0)
                om_cl_mp_kv_u64(&pk, "gen", x->gen);
        if (box) {
                om_cl_mp_str_pack(&pk, "box");
                msgpack_pack_bin(&pk, box_len);
                msgpack_pack_bin_body(&pk, box, box_len);
        }
        struct om_api_peer_reply rep;
        int r = addr ? om_api_peer_request(addr, x->cfg->api_port, om_nodename(), &x->keys, &sb,
                                           STEP_TIMEOUT_MS, &rep, err, errlen)
                     : -EADDRNOTAVAIL;
        msgpack_sbuffer_destroy(&sb);
        if (!addr)
                snprintf(err, errlen, "no address for %s in cluster.conf", x->cfg->nodes[i]);
        if (r < 0)
                return r;
        if (!rep.ok) {
                bool retry = false;
                (void)om_cl_mp_get_bool(rep.data, "retry", &retry);
                snprintf(err, errlen, "%s", rep.error);
                om_api_peer_reply_done(&rep);
                return retry ? 2 : 1;
        }
        if (ret)
                *ret = rep;
        else
                om_api_peer_reply_done(&rep);
        return 0;
}

/* "generation N <what> on n1 n2 ...": a step that ended on every node. */
static void said_all(const struct rot_ctx *x, const char *what) {
        printf("generation %u %s on", x->gen, what);
        for (size_t i = 0; i < x->cfg->n_nodes; i++)
                printf(" %s", x->cfg->nodes[i]);
        printf("\n");
        fflush(stdout);
}

/* Step cmd on every node, "<what> on n1 n2 ..." when all answered ok. 0, or the exit
 * status 1 after saying which node failed and why. */
static int all_nodes(struct rot_ctx *x, const char *cmd, const char *what) {
        char err[512];
        for (size_t i = 0; i < x->cfg->n_nodes; i++) {
                int r = step(x, i, cmd, NULL, 0, NULL, err, sizeof(err));
                if (r != 0) {
                        fprintf(stderr, "om: rotate-secret: %s on %s failed: %s\n", cmd,
                                x->cfg->nodes[i], err);
                        return OM_EXIT_FAIL;
                }
        }
        said_all(x, what);
        return 0;
}

/* Steps 1 and 2: 0 when every node installed the new secret (made here, in secret). */
static int install(struct rot_ctx *x, uint8_t secret[OM_CLUSTER_SECRET_LEN]) {
        static uint8_t pks[OM_CL_NODES_MAX][crypto_box_PUBLICKEYBYTES];
        uint8_t box[crypto_box_SEALBYTES + OM_CLUSTER_SECRET_LEN];
        char err[512];
        for (size_t i = 0; i < x->cfg->n_nodes; i++) {
                struct om_api_peer_reply rep;
                int r = step(x, i, "rotkey", NULL, 0, &rep, err, sizeof(err));
                const msgpack_object *pk = r == 0 ? om_cl_mp_get(rep.data, "pk") : NULL;
                if (r == 0 &&
                    (!pk || pk->type != MSGPACK_OBJECT_BIN || pk->via.bin.size != sizeof(pks[i]))) {
                        snprintf(err, sizeof(err), "malformed reply");
                        r = 1;
                }
                if (r == 0)
                        memcpy(pks[i], pk->via.bin.ptr, sizeof(pks[i]));
                if (r == 0)
                        om_api_peer_reply_done(&rep);
                if (r != 0) {
                        fprintf(stderr,
                                "om: rotate-secret: %s does not take part (%s): every node "
                                "must; nothing changed\n",
                                x->cfg->nodes[i], err);
                        return OM_EXIT_FAIL;
                }
        }
        randombytes_buf(secret, OM_CLUSTER_SECRET_LEN);
        size_t done = 0;
        int r = 0;
        for (; done < x->cfg->n_nodes; done++) {
                crypto_box_seal(box, secret, OM_CLUSTER_SECRET_LEN, pks[done]);
                if ((r = step(x, done, "rotinstall", box, sizeof(box), NULL, err, sizeof(err))))
                        break;
        }
        if (r == 0)
                return 0;
        sodium_memzero(secret, OM_CLUSTER_SECRET_LEN);
        fprintf(stderr, "om: rotate-secret: rotinstall on %s failed: %s\n", x->cfg->nodes[done],
                err);
        for (size_t i = 0; i < done; i++)
                if (step(x, i, "rotabort", NULL, 0, NULL, err, sizeof(err)) != 0)
                        fprintf(stderr, "om: rotate-secret: rotabort on %s failed: %s\n",
                                x->cfg->nodes[i], err);
        fprintf(stderr, "om: rotate-secret: given up, the secret in use is unchanged\n");
        return OM_EXIT_FAIL;
}

/* Step 4, asked again while a node says to (or does not answer) until limit_ms. */
static int finish(struct rot_ctx *x, uint64_t limit_ms) {
        uint64_t t0 = om_mono_ms();
        char err[512];
        for (size_t i = 0; i < x->cfg->n_nodes; i++) {
                for (;;) {
                        int r = step(x, i, "rotfinish", NULL, 0, NULL, err, sizeof(err));
                        if (r == 0)
                                break;
                        if (r == 1 || om_mono_ms() - t0 > limit_ms) {
                                fprintf(stderr,
                                        "om: rotate-secret: %s still accepts the previous "
                                        "secret: %s (run om cluster rotate-secret again)\n",
                                        x->cfg->nodes[i], err);
                                return OM_EXIT_FAIL;
                        }
                        struct timespec ts = {0, 200 * 1000000L};
                        nanosleep(&ts, NULL);
                }
        }
        said_all(x, "alone in use");
        return 0;
}

static int cmd_rotate(struct om_cli_ctx *ctx) {
        const char *tm = om_cli_opt(ctx, "time");
        bool abort_ = om_cli_flag(ctx, "abort");
        uint64_t limit = 60000;
        char err[512];
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (tm && abort_)
                return om_cli_usage_error("--time and --abort do not go together");
        if (tm && (om_parse_duration_ms(tm, &limit) < 0 || limit == 0))
                return om_cli_usage_error("--time '%s' is not a duration (like 1m)", tm);
        struct rot_ctx x = {0};
        int r = om_cl_config_load(om_nodename(), &x.cfg, err, sizeof(err));
        if (r < 0)
                return om_cli_fail("%s", r == -EINVAL ? err : strerror(-r));
        struct om_cluster_keyring ring;
        if ((r = om_cluster_keyring_load(&ring)) < 0) {
                free(x.cfg);
                return om_cli_fail("cannot read the cluster secrets: %s", strerror(-r));
        }
        /* requests go sealed with the secret every node accepts at every step: the one in
         * use before the rotation (the current one, or secret_prev when this node already
         * switched); the new one is the finish's */
        const uint8_t *old = ring.state == OM_ROT_PREV ? ring.secrets[1] : ring.secrets[0];
        uint32_t old_gen = ring.state == OM_ROT_PREV ? ring.gens[1] : ring.gens[0];
        x.gen = ring.state == OM_ROT_NONE   ? ring.gens[0] + 1
                : ring.state == OM_ROT_NEXT ? ring.gens[1]
                                            : ring.gens[0];
        x.keys.n = 2;
        x.keys.gens[0] = old_gen;
        x.keys.gens[1] = x.gen;
        r = om_cluster_key_derive_from(old, OM_FRAME_KDF_ID, "peerapi_", x.keys.keys[0]);
        if (r == 0 && ring.state != OM_ROT_NONE)
                r = om_cluster_key_derive_from(ring.state == OM_ROT_PREV ? ring.secrets[0]
                                                                         : ring.secrets[1],
                                               OM_FRAME_KDF_ID, "peerapi_", x.keys.keys[1]);
        bool resume = ring.state != OM_ROT_NONE;
        enum om_rotation state = ring.state;
        om_cluster_keyring_wipe(&ring);
        if (r < 0) {
                free(x.cfg);
                return om_cli_fail("cannot derive the peer key: %s", strerror(-r));
        }
        if (abort_) {
                /* a rotation installed and not used yet (secret_next here) is given up on
                 * every node; one in use somewhere can only be finished */
                if (state != OM_ROT_NEXT)
                        r = om_cli_fail("rotate-secret --abort: no rotation to give up here "
                                        "(%s)",
                                        state == OM_ROT_PREV ? "this node uses the new secret "
                                                               "already: run om cluster "
                                                               "rotate-secret to finish it"
                                                             : "none under way");
                else if ((r = all_nodes(&x, "rotabort", "given up")) != 0)
                        fprintf(stderr, "om: rotate-secret --abort: run it again once every node "
                                        "answers\n");
                goto out;
        }
        if (resume)
                printf("taking up the rotation to generation %u\n", x.gen);
        else {
                uint8_t secret[OM_CLUSTER_SECRET_LEN];
                /* the HTTP API's CA is derived from the secret until it is stored: store
                 * it first, so the CA (and what trusts it) outlives the rotation */
                if ((r = om_tls_ca_pin()) < 0) {
                        r = om_cli_fail("rotate-secret: cannot keep the HTTP API's CA in %s: %s "
                                        "(nothing changed)",
                                        OM_TLS_CA_OBJECT, strerror(-r));
                        goto out;
                }
                if ((r = install(&x, secret)) != 0)
                        goto out;
                /* replies of the nodes that switched come sealed with the new secret */
                r = om_cluster_key_derive_from(secret, OM_FRAME_KDF_ID, "peerapi_", x.keys.keys[1]);
                sodium_memzero(secret, sizeof(secret));
                if (r < 0)
                        goto out;
                said_all(&x, "installed");
        }
        if ((r = all_nodes(&x, "rotcommit", "in use")) != 0)
                goto out;
        /* every node now accepts the new secret: the finish goes sealed with it */
        struct om_api_peer_keys old_first = x.keys;
        x.keys = (struct om_api_peer_keys){.n = 2, .gens = {x.gen, old_first.gens[0]}};
        memcpy(x.keys.keys[0], old_first.keys[1], sizeof(x.keys.keys[0]));
        memcpy(x.keys.keys[1], old_first.keys[0], sizeof(x.keys.keys[1]));
        sodium_memzero(&old_first, sizeof(old_first));
        r = finish(&x, limit);
out:
        sodium_memzero(&x.keys, sizeof(x.keys));
        free(x.cfg);
        return r < 0 ? om_cli_fail("rotate-secret: %s", strerror(-r)) : r;
}

static const struct om_cli_cmd rotate_cmds[] = {
        {"cluster rotate-secret", 0, "time= abort", cmd_rotate,
         "Replace the cluster secret on every node (all must be up); sec objects are sealed "
         "again. --abort gives up a rotation no node uses yet."},
};
OM_CLI_REGISTER(rotate_cmds)
