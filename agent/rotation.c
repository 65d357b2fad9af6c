/*
 * The agent's side of a cluster secret rotation (`om cluster rotate-secret`, which drives
 * it over the peer API of every node, cli/cmd_cluster.c). Each step is idempotent and
 * leaves cluster.conf in a state every node can talk from:
 *
 *   rotkey      a fresh X25519 key pair for this rotation; its public half is returned
 *               (the secret travels sealed to it: a peer API recording opened later
 *               with the old secret does not give the new one away)
 *   rotinstall  the new secret, sealed to that key: kept as secret_next, accepted in
 *               frames and sec values, not used yet
 *   rotcommit   the new secret becomes `secret` (frames and values are sealed with it),
 *               the old one stays accepted as secret_prev; sec files are sealed again
 *               in place, in the thread pool
 *   rotfinish   once this node holds every sec version its peers advertise and none of
 *               its sec values needs the old secret any more, secret_prev is dropped
 *   rotabort    an installed secret_next is dropped (the rotation failed before any
 *               node used it)
 *
 * Frames carry the generation of the secret that sealed them, so during the steps every
 * node opens what every other node sends.
 */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "cluster/cl_nodedata.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"
#include "secrets/cluster_key.h"
#include "secrets/sec.h"

#define ROT_KEY_TTL_MS 60000

struct om_rot {
        bool key_set;
        uint64_t key_until; /* uv_now */
        uint8_t pk[crypto_box_PUBLICKEYBYTES];
        uint8_t sk[crypto_box_SECRETKEYBYTES];
        bool resealing;
        /* a finish waiting for the reseal it started */
        void (*done)(void *arg, int r, const char *err);
        void *arg;
        uint32_t finish_gen;
};

struct reseal_job {
        uv_work_t work;
        struct om_agent *agent;
        size_t objects, resealed, unopened, failed;
        int r;
};

static struct om_rot *rot(struct om_agent *a) {
        if (!a->rot)
                a->rot = calloc(1, sizeof(struct om_rot));
        return a->rot;
}

void om_rot_free(struct om_agent *a) {
        if (a->rot)
                sodium_memzero(a->rot, sizeof(*a->rot));
        free(a->rot);
        a->rot = NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

int om_rot_key(struct om_agent *a, uint8_t ret_pk[32]) {
        struct om_rot *r = rot(a);
        if (!r || sodium_init() < 0)
                return -ENOMEM;
        crypto_box_keypair(r->pk, r->sk);
        r->key_set = true;
        r->key_until = uv_now(&a->loop) + ROT_KEY_TTL_MS;
        memcpy(ret_pk, r->pk, sizeof(r->pk));
        return 0;
}

/* The keyring, or an error for the requester. */
static int ring_load(struct om_cluster_keyring *ring, char *err, size_t errlen) {
        int e = om_cluster_keyring_load(ring);
        if (e < 0)
                set_err(err, errlen, "cannot read this node's cluster secrets: %s", strerror(-e));
        return e;
}

/* Stores ring and takes its keys into use. */
static int ring_apply(struct om_agent *a, struct om_cluster_keyring *ring, char *err,
                      size_t errlen) {
        int e = om_cluster_keyring_store(ring);
        if (e == 0)
                e = om_agent_keys_set(a, ring);
        om_cluster_keyring_wipe(ring);
        if (e < 0)
                set_err(err, errlen, "cannot store the cluster secrets: %s", strerror(-e));
        return e;
}

int om_rot_install(struct om_agent *a, uint32_t gen, const uint8_t *box, size_t len, char *err,
                   size_t errlen) {
        struct om_rot *r = rot(a);
        uint8_t secret[OM_CLUSTER_SECRET_LEN];
        struct om_cluster_keyring ring;
        if (!r)
                return -ENOMEM;
        if (!r->key_set || uv_now(&a->loop) > r->key_until) {
                set_err(err, errlen, "no rotation key (rotkey first, within %ds)",
                        ROT_KEY_TTL_MS / 1000);
                return -EINVAL;
        }
        int ok = len == crypto_box_SEALBYTES + sizeof(secret) &&
                 crypto_box_seal_open(secret, box, len, r->pk, r->sk) == 0;
        /* the key pair serves once */
        sodium_memzero(r->sk, sizeof(r->sk));
        r->key_set = false;
        if (!ok) {
                set_err(err, errlen, "the new secret does not open with this node's rotation key");
                return -EBADMSG;
        }
        int e = ring_load(&ring, err, errlen);
        if (e < 0) {
                sodium_memzero(secret, sizeof(secret));
                return e;
        }
        if (ring.state == OM_ROT_NEXT && ring.gens[1] == gen &&
            sodium_memcmp(ring.secrets[1], secret, sizeof(secret)) == 0)
                e = 0; /* installed already */
        else if (ring.state != OM_ROT_NONE) {
                set_err(err, errlen, "a rotation to generation %u is under way here",
                        ring.state == OM_ROT_NEXT ? ring.gens[1] : ring.gens[0]);
                e = -EBUSY;
        } else if (gen != ring.gens[0] + 1) {
                set_err(err, errlen, "generation %u expected, not %u", ring.gens[0] + 1, gen);
                e = -ESTALE;
        } else {
                memcpy(ring.secrets[1], secret, sizeof(secret));
                ring.gens[1] = gen;
                ring.n = 2;
                ring.state = OM_ROT_NEXT;
                e = ring_apply(a, &ring, err, errlen);
                if (e == 0) {
                        om_log_set_component("daemon");
                        log_info("secret rotation: generation %u installed (accepted, not used "
                                 "yet)",
                                 gen);
                }
        }
        sodium_memzero(secret, sizeof(secret));
        om_cluster_keyring_wipe(&ring);
        return e;
}

int om_rot_abort(struct om_agent *a, uint32_t gen, char *err, size_t errlen) {
        struct om_cluster_keyring ring;
        int e = ring_load(&ring, err, errlen);
        if (e < 0)
                return e;
        if (ring.state == OM_ROT_NEXT && ring.gens[1] == gen) {
                ring.n = 1;
                ring.state = OM_ROT_NONE;
                e = ring_apply(a, &ring, err, errlen);
                if (e == 0) {
                        om_log_set_component("daemon");
                        log_info("secret rotation: generation %u given up", gen);
                }
        } else if (ring.gens[0] >= gen) {
                set_err(err, errlen, "generation %u is in use here: too late to give it up", gen);
                e = -EBUSY;
        }
        om_cluster_keyring_wipe(&ring);
        return e;
}

/* ---- sealing the sec files again, in the thread pool ---- */

static void reseal_work(uv_work_t *w) {
        struct reseal_job *j = container_of(w, struct reseal_job, work);
        _cleanup_free_ struct om_path *paths = NULL;
        size_t n = 0;
        if ((j->r = om_object_list("*/sec/*", &paths, &n)) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                size_t resealed = 0, unopened = 0;
                j->objects++;
                if (om_sec_reseal(&paths[i], &resealed, &unopened) < 0)
                        j->failed++;
                j->resealed += resealed;
                j->unopened += unopened;
        }
}

/* Whether this node holds, of every sec object any live peer advertises, at least that
 * version: nothing sealed with the old secret is still on its way here. */
static bool secs_synced(struct om_agent *a) {
        const struct om_view v = om_agent_view(a);
        for (size_t i = 0; i < a->n_peers; i++) {
                if (a->peers[i].self || !om_view_alive(&v, i))
                        continue;
                /* the peer's latest data, from its current boot, is here */
                if (!om_view_fresh(&v, i) ||
                    !om_cl_nodedata_secs_synced(&a->local, om_view_data(&v, i), NULL))
                        return false;
        }
        return true;
}

static void finish_now(struct om_agent *a, char *err, size_t errlen, int *ret);

static void reseal_after(uv_work_t *w, int status) {
        struct reseal_job *j = container_of(w, struct reseal_job, work);
        struct om_agent *a = j->agent;
        struct om_rot *r = a->rot;
        om_log_set_component("daemon");
        if (j->r < 0)
                log_error_errno(j->r, "secret rotation: cannot list the sec objects: %m");
        else if (j->resealed || j->failed || j->unopened)
                log_info("secret rotation: %zu values of %zu sec objects sealed again with the "
                         "new secret%s%s",
                         j->resealed, j->objects, j->failed ? ", some objects failed" : "",
                         j->unopened ? ", some values open with no secret of this node" : "");
        r->resealing = false;
        if (r->done) {
                char err[256] = "";
                int e = j->r < 0 || j->failed ? -EAGAIN : 0;
                if (e < 0)
                        snprintf(err, sizeof(err), "not yet: %s",
                                 j->r < 0 ? strerror(-j->r)
                                          : "sec objects failed "
                                            "to be sealed again");
                else
                        finish_now(a, err, sizeof(err), &e);
                void (*done)(void *, int, const char *) = r->done;
                r->done = NULL;
                done(r->arg, e, err);
        }
        free(j);
}

static int reseal_start(struct om_agent *a) {
        struct om_rot *r = rot(a);
        if (!r)
                return -ENOMEM;
        if (r->resealing)
                return 0;
        struct reseal_job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->agent = a;
        int e = uv_queue_work(&a->loop, &j->work, reseal_work, reseal_after);
        if (e < 0) {
                free(j);
                return e;
        }
        r->resealing = true;
        return 0;
}

int om_rot_commit(struct om_agent *a, uint32_t gen, char *err, size_t errlen) {
        struct om_cluster_keyring ring;
        const char *t = getenv("OM_TEST_ROTCOMMIT_FAIL");
        if (t && strcmp(t, "1") == 0) { /* tests: a node that fails the switch */
                set_err(err, errlen, "OM_TEST_ROTCOMMIT_FAIL=1");
                return -EIO;
        }
        int e = ring_load(&ring, err, errlen);
        if (e < 0)
                return e;
        if (ring.state == OM_ROT_NEXT && ring.gens[1] == gen) {
                uint8_t old[OM_CLUSTER_SECRET_LEN];
                memcpy(old, ring.secrets[0], sizeof(old));
                memcpy(ring.secrets[0], ring.secrets[1], sizeof(old));
                memcpy(ring.secrets[1], old, sizeof(old));
                sodium_memzero(old, sizeof(old));
                ring.gens[1] = ring.gens[0];
                ring.gens[0] = gen;
                ring.state = OM_ROT_PREV;
                e = ring_apply(a, &ring, err, errlen);
                if (e == 0) {
                        om_log_set_component("daemon");
                        log_info("secret rotation: generation %u in use, generation %u still "
                                 "accepted",
                                 gen, gen - 1);
                        (void)reseal_start(a);
                }
        } else if (ring.gens[0] != gen) {
                set_err(err, errlen, "generation %u is not installed here (generation %u in use)",
                        gen, ring.gens[0]);
                e = -ESTALE;
        }
        om_cluster_keyring_wipe(&ring);
        return e;
}

/* The last step, after a reseal: drops secret_prev when nothing needs it. */
static void finish_now(struct om_agent *a, char *err, size_t errlen, int *ret) {
        struct om_rot *r = a->rot;
        struct om_cluster_keyring ring;
        if (!secs_synced(a)) {
                set_err(err, errlen, "not yet: sec objects still on their way to this node");
                *ret = -EAGAIN;
                return;
        }
        if ((*ret = ring_load(&ring, err, errlen)) < 0)
                return;
        if (ring.state == OM_ROT_PREV && ring.gens[0] == r->finish_gen) {
                ring.n = 1;
                ring.state = OM_ROT_NONE;
                *ret = ring_apply(a, &ring, err, errlen);
                if (*ret == 0) {
                        om_log_set_component("daemon");
                        log_info("secret rotation: generation %u alone in use, the previous "
                                 "secret dropped",
                                 r->finish_gen);
                }
        }
        om_cluster_keyring_wipe(&ring);
}

int om_rot_finish(struct om_agent *a, uint32_t gen, void (*done)(void *arg, int r, const char *err),
                  void *arg, char *err, size_t errlen) {
        struct om_rot *r = rot(a);
        struct om_cluster_keyring ring;
        if (!r)
                return -ENOMEM;
        int e = ring_load(&ring, err, errlen);
        if (e < 0)
                return e;
        bool done_already = ring.state == OM_ROT_NONE && ring.gens[0] == gen;
        bool wrong = !done_already && !(ring.state == OM_ROT_PREV && ring.gens[0] == gen);
        if (wrong)
                set_err(err, errlen, "generation %u is not the one in use here (%u)", gen,
                        ring.gens[0]);
        om_cluster_keyring_wipe(&ring);
        if (done_already)
                return 1;
        if (wrong)
                return -ESTALE;
        if (r->done || r->resealing) {
                set_err(err, errlen, "not yet: sec objects are being sealed again");
                return -EAGAIN;
        }
        r->finish_gen = gen;
        r->done = done;
        r->arg = arg;
        if ((e = reseal_start(a)) < 0) {
                r->done = NULL;
                set_err(err, errlen, "cannot seal the sec objects again: %s", strerror(-e));
                return e;
        }
        return 0;
}
