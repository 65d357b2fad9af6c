/*
 * The agent's side of object replication (cluster/cl_repl.h): after
 * any change of node data (ours after a rescan, a peer's after a pull) it draws the plan
 * on the next loop turn, fetches each object that a peer holds in a newer version over
 * the peer API ("objget", sealed like every peer message), and runs the check and the
 * installation on libuv's thread pool, so the loop thread never reads, parses, decrypts
 * or fsyncs an object file. After an installation the node data is rescanned, which
 * bumps the generation and beats it at once. Each path has at most one job in flight,
 * jobs are bounded in number, and a refused version of a path is not fetched again from
 * the same peer (same boot) for REFUSED_RETRY_MS. Tombstones older than tombstone_ttl are
 * collected by the periodic scan (daemon.c) and not taken back from peers. Not here:
 * removing a stale copy of a svc whose `nodes` no longer lists this node (it is left as it is).
 *
 * Fault injection for the tests: OM_TEST_CORRUPT_SERVE=1 in an agent's environment makes
 * it flip one byte of every file it serves (in the first sealed value of a sec, else in
 * the middle), so a test can check the receivers refuse and count it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/events.h"
#include "cluster/cl_mp.h"
#include "cluster/cl_repl.h"
#include "core/fileio.h"
#include "core/ini.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"
#include "secrets/sec.h"
#include "sodium.h"

#define MAX_JOBS 16
#define REFUSED_RETRY_MS 10000
/* a version this node failed to install (disk full, a path in the way, ...) is tried again
 * after 1 s, then 2, 4, ... up to 30 s: never in a loop that floods the log */
#define FAILED_RETRY_MS 1000
#define FAILED_RETRY_MAX_MS 30000
/* room for the reply's other fields and the frame's overhead in OM_HB_PEER_MAX */
#define SERVE_MAX (OM_HB_PEER_MAX - 65536)

/* What the agent remembers of a path. */
struct rec {
        char path[OM_PATH_STRMAX];
        bool inflight;
        bool out_of_scope; /* judged at version `judged` */
        struct om_version judged;
        struct om_version refused;         /* refused at this version, served by refused_peer in */
        char refused_peer[OM_CL_NAME_MAX]; /* its boot refused_boot, until retry_at */
        uint8_t refused_boot[OM_HB_BOOT_ID_LEN];
        uint64_t retry_at;
        struct om_version failed; /* could not be installed here, tried again at failed_at */
        uint64_t failed_at;
        unsigned n_failed;
};

struct om_repl {
        struct om_agent *agent;
        uint8_t (*seckeys)[32]; /* sodium_malloc'd, 2 slots: the keyring's sealing keys */
        size_t n_seckeys;
        bool corrupt_serve;
        struct rec *recs;
        size_t n_recs;
        size_t inflight;
        uint64_t fetched, installed, deleted, refused, stale, out_of_scope, errors, served;
        size_t behind; /* versions the last plan found newer on a live peer, in scope */
};

enum job_kind { JOB_FETCH, JOB_DELETE, JOB_SERVE };

struct job {
        uv_work_t work;
        struct om_agent *agent;
        enum job_kind kind;
        struct om_path path;
        char pathstr[OM_PATH_STRMAX];
        struct om_version v;
        char peer[OM_CL_NAME_MAX];
        uint8_t peer_boot[OM_HB_BOOT_ID_LEN];
        char *text;
        size_t len;
        int r;
        bool in_scope;
        char err[512];
        /* JOB_FETCH: the sealing keys when the job was made (the keyring may change) */
        uint8_t seckeys[2][32];
        size_t n_seckeys;
        /* JOB_SERVE */
        bool corrupt;
        void (*done)(void *arg, int r, char *text, size_t len);
        void *arg;
};

static void job_free(struct job *j) {
        if (!j)
                return;
        sodium_memzero(j->seckeys, sizeof(j->seckeys));
        free(j->text);
        free(j);
}

static struct rec *rec_get(struct om_repl *r, const char *path) {
        for (size_t i = 0; i < r->n_recs; i++)
                if (strcmp(r->recs[i].path, path) == 0)
                        return &r->recs[i];
        struct rec *v = realloc(r->recs, (r->n_recs + 1) * sizeof(*v));
        if (!v)
                return NULL;
        r->recs = v;
        struct rec *x = &r->recs[r->n_recs++];
        *x = (struct rec){0};
        snprintf(x->path, sizeof(x->path), "%s", path);
        return x;
}

static bool version_eq(const struct om_version *a, const struct om_version *b) {
        return om_version_compare(a, b) == 0;
}

/* ---- the work, on the thread pool ---- */

static void work_cb(uv_work_t *w) {
        struct job *j = container_of(w, struct job, work);
        if (j->kind == JOB_DELETE) {
                j->r = om_repl_delete(&j->path, &j->v);
                return;
        }
        if (j->kind == JOB_SERVE) {
                _cleanup_free_ char *file = om_object_conf_path(&j->path);
                size_t max = j->path.kind == OM_KIND_SEC ? OM_INI_SEC_MAX_FILE : OM_INI_MAX_FILE;
                if (!file) {
                        j->r = -ENOMEM;
                        return;
                }
                j->r = om_read_file(file, OM_MIN(max, (size_t)SERVE_MAX), &j->text, &j->len);
                if (j->r == 0 && j->corrupt && j->len) {
                        char *s = strstr(j->text, OM_SEC_SEALED_PREFIX);
                        size_t at = s && (size_t)(s - j->text) + 20 < j->len
                                            ? (size_t)(s - j->text) + 20
                                            : j->len / 2;
                        j->text[at] ^= 0x01;
                }
                return;
        }
        j->r = om_repl_check(&j->path, j->text, j->len, &j->v, (const uint8_t(*)[32])j->seckeys,
                             j->n_seckeys, j->agent->self, &j->in_scope, j->err, sizeof(j->err));
        if (j->r < 0 || !j->in_scope)
                return;
        j->r = om_repl_install(&j->path, j->text, j->len, &j->v); /* strerror on the loop */
}

static void job_finish(struct om_repl *r, struct job *j) {
        struct rec *rec = rec_get(r, j->pathstr);
        if (rec)
                rec->inflight = false;
        r->inflight--;
        job_free(j);
        om_repl_kick(r->agent);
}

static void after_work_cb(uv_work_t *w, int status) {
        struct job *j = container_of(w, struct job, work);
        struct om_agent *a = j->agent;
        struct om_repl *r = a->repl;
        char ver[64];
        if (j->kind == JOB_SERVE) {
                r->served++;
                j->done(j->arg, status < 0 ? status : j->r, j->r == 0 ? j->text : NULL, j->len);
                if (j->r == 0)
                        j->text = NULL; /* done owns it */
                job_free(j);
                return;
        }
        if (status < 0 && j->r == 0)
                j->r = status;
        om_hlc_format(j->v.hlc, ver, sizeof(ver));
        om_log_set_component("repl");
        struct rec *rec = rec_get(r, j->pathstr);
        if (j->r > 0) {
                if (j->kind == JOB_DELETE) {
                        r->deleted++;
                        log_info("%s deleted: tombstone %s by %s", j->pathstr, ver, j->v.writer);
                } else {
                        r->installed++;
                        log_info("%s installed: version %s by %s, from %s", j->pathstr, ver,
                                 j->v.writer, j->peer);
                }
                struct om_ev_build b;
                om_events_begin(a, &b, OM_EV_REPL_INSTALL);
                om_ev_path(&b, j->pathstr);
                om_ev_str(&b, "what", j->kind == JOB_DELETE ? "tombstone" : "config");
                om_ev_str(&b, "version", ver);
                om_ev_str(&b, "writer", j->v.writer);
                om_ev_str(&b, "from", j->peer);
                om_events_emit(a, &b);
                a->todo |= OM_TODO_RESCAN; /* bumps the generation: beaten before sleep */
                if (rec)
                        rec->n_failed = 0;
        } else if (j->r == 0 && j->kind == JOB_FETCH && !j->in_scope) {
                r->out_of_scope++;
                if (rec) {
                        rec->out_of_scope = true;
                        rec->judged = j->v;
                }
        } else if (j->r == -ESTALE)
                r->stale++; /* the peer moved on: its next node data tells */
        else if (j->r == -EBADMSG || j->r == -EFBIG) {
                r->refused++;
                log_warning("%s version %s by %s from %s refused: %s", j->pathstr, ver, j->v.writer,
                            j->peer, j->err);
                struct om_ev_build b;
                om_events_begin(a, &b, OM_EV_REPL_REFUSED);
                om_ev_path(&b, j->pathstr);
                om_ev_str(&b, "version", ver);
                om_ev_str(&b, "writer", j->v.writer);
                om_ev_str(&b, "from", j->peer);
                om_ev_str(&b, "reason", j->err);
                om_events_emit(a, &b);
                if (rec) {
                        rec->refused = j->v;
                        rec->retry_at = uv_now(&a->loop) + REFUSED_RETRY_MS;
                        snprintf(rec->refused_peer, sizeof(rec->refused_peer), "%s", j->peer);
                        memcpy(rec->refused_boot, j->peer_boot, OM_HB_BOOT_ID_LEN);
                }
        } else if (j->r < 0) {
                r->errors++;
                uint64_t wait = FAILED_RETRY_MS;
                if (rec) {
                        if (!version_eq(&rec->failed, &j->v))
                                rec->n_failed = 0;
                        for (unsigned k = 0; k < rec->n_failed && wait < FAILED_RETRY_MAX_MS; k++)
                                wait *= 2;
                        if (wait > FAILED_RETRY_MAX_MS)
                                wait = FAILED_RETRY_MAX_MS;
                        rec->failed = j->v;
                        rec->n_failed++;
                        rec->failed_at = uv_now(&a->loop) + wait;
                }
                log_error("%s version %s: cannot %s: %s (next try in %llums)", j->pathstr, ver,
                          j->kind == JOB_DELETE ? "delete" : "install", strerror(-j->r),
                          (unsigned long long)wait);
        }
        job_finish(r, j);
}

/* ---- fetching ---- */

/* The reply of om_api_peer_fetch: the reply map, or NULL when the fetch failed. */
static void fetched(void *job, const msgpack_object *reply) {
        struct job *j = job;
        struct om_agent *a = j->agent;
        struct om_repl *r = a->repl;
        const msgpack_object *t = reply ? om_cl_mp_get(reply, "text") : NULL;
        if (!t || t->type != MSGPACK_OBJECT_BIN) {
                r->errors++;
                job_finish(r, j);
                return;
        }
        r->fetched++;
        j->len = t->via.bin.size;
        j->text = malloc(j->len + 1);
        if (!j->text) {
                r->errors++;
                job_finish(r, j);
                return;
        }
        memcpy(j->text, t->via.bin.ptr, j->len);
        j->text[j->len] = 0;
        if (a->stopping || uv_queue_work(&a->loop, &j->work, work_cb, after_work_cb) < 0)
                job_finish(r, j);
}

static void start_job(struct om_agent *a, const struct om_repl_want *w) {
        struct om_repl *r = a->repl;
        struct rec *rec = rec_get(r, w->path);
        struct job *j;
        if (!rec || rec->inflight)
                return;
        if (!w->deleted && rec->out_of_scope && version_eq(&rec->judged, &w->v))
                return;
        if (rec->n_failed && version_eq(&rec->failed, &w->v) && uv_now(&a->loop) < rec->failed_at)
                return;
        /* a refused version is not fetched again from the same peer (same boot) for a
         * while: another peer, or the same one restarted, may serve it sound */
        const struct om_peer *p = &a->peers[w->peer];
        if (version_eq(&rec->refused, &w->v) && uv_now(&a->loop) < rec->retry_at &&
            strcmp(rec->refused_peer, p->name) == 0 &&
            memcmp(rec->refused_boot, p->data_boot, OM_HB_BOOT_ID_LEN) == 0)
                return;
        if (!(j = calloc(1, sizeof(*j))))
                return;
        j->agent = a;
        j->kind = w->deleted ? JOB_DELETE : JOB_FETCH;
        memcpy(j->seckeys, r->seckeys, r->n_seckeys * sizeof(r->seckeys[0]));
        j->n_seckeys = r->n_seckeys;
        j->v = w->v;
        snprintf(j->pathstr, sizeof(j->pathstr), "%s", w->path);
        snprintf(j->peer, sizeof(j->peer), "%s", p->name);
        memcpy(j->peer_boot, p->data_boot, OM_HB_BOOT_ID_LEN);
        if (om_path_parse(w->path, &j->path, NULL, 0) < 0) {
                job_free(j);
                return;
        }
        rec->inflight = true;
        r->inflight++;
        int e = w->deleted ? uv_queue_work(&a->loop, &j->work, work_cb, after_work_cb)
                           : om_api_peer_fetch(a, (int)w->peer, w->path, fetched, j);
        if (e < 0) {
                r->errors++;
                job_finish(r, j);
        }
}

static void plan(struct om_agent *a) {
        struct om_repl *r = a->repl;
        _cleanup_free_ const struct om_cl_nodedata **peers = calloc(a->n_peers + 1, sizeof(*peers));
        _cleanup_free_ const char **names = calloc(a->n_peers + 1, sizeof(*names));
        _cleanup_free_ struct om_repl_want *w = NULL;
        size_t n = 0;
        const struct om_view v = om_agent_view(a);
        if (!peers || !names)
                return;
        for (size_t i = 0; i < a->n_peers; i++) {
                names[i] = a->peers[i].name;
                if (!a->peers[i].self && om_view_alive(&v, i))
                        peers[i] = om_view_data(&v, i);
        }
        if (om_repl_plan(&a->local, peers, names, a->n_peers, om_tombstone_horizon(a), &w, &n) < 0)
                return;
        r->behind = 0;
        for (size_t i = 0; i < n; i++) {
                struct rec *rec = rec_get(r, w[i].path);
                r->behind += w[i].deleted || !rec || !rec->out_of_scope ||
                             !version_eq(&rec->judged, &w[i].v);
        }
        for (size_t i = 0; i < n && r->inflight < MAX_JOBS; i++)
                start_job(a, &w[i]);
}

void om_repl_pass(struct om_agent *a) {
        if (a->repl && !a->stopping)
                plan(a);
}

void om_repl_kick(struct om_agent *a) {
        if (a->repl && !a->stopping)
                a->todo |= OM_TODO_REPL;
}

/* ---- serving ---- */

int om_repl_serve(struct om_agent *a, const char *path,
                  void (*done)(void *arg, int r, char *text, size_t len), void *arg) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        if (!a->repl || om_path_parse(path, &j->path, NULL, 0) < 0) {
                free(j);
                return -EINVAL;
        }
        j->agent = a;
        j->kind = JOB_SERVE;
        j->corrupt = a->repl->corrupt_serve;
        j->done = done;
        j->arg = arg;
        int r = uv_queue_work(&a->loop, &j->work, work_cb, after_work_cb);
        if (r < 0)
                free(j);
        return r;
}

/* ---- lifecycle and status ---- */

int om_repl_keys_set(struct om_agent *a, const struct om_cluster_keyring *ring) {
        struct om_repl *r = a->repl;
        int e = 0;
        size_t n = 0;
        for (size_t i = 0; i < ring->n && e == 0; i++)
                if ((e = om_cluster_key_derive_from(ring->secrets[i], OM_SEC_KDF_ID, OM_SEC_KDF_CTX,
                                                    r->seckeys[i])) == 0)
                        n = i + 1;
        if (e == 0)
                r->n_seckeys = n;
        return e;
}

int om_repl_start(struct om_agent *a) {
        struct om_repl *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->agent = a;
        r->seckeys = sodium_malloc(2 * sizeof(r->seckeys[0]));
        if (!r->seckeys) {
                free(r);
                return -ENOMEM;
        }
        a->repl = r;
        struct om_cluster_keyring ring;
        int e = om_cluster_keyring_load(&ring);
        if (e == 0)
                e = om_repl_keys_set(a, &ring);
        om_cluster_keyring_wipe(&ring);
        if (e < 0) {
                sodium_free(r->seckeys);
                free(r);
                a->repl = NULL;
                return e;
        }
        const char *c = getenv("OM_TEST_CORRUPT_SERVE");
        r->corrupt_serve = c && strcmp(c, "1") == 0;
        a->repl = r;
        if (r->corrupt_serve) {
                om_log_set_component("repl");
                log_warning("OM_TEST_CORRUPT_SERVE=1: every object served is corrupted (tests)");
        }
        return 0;
}

void om_repl_free(struct om_agent *a) {
        struct om_repl *r = a->repl;
        if (!r)
                return;
        sodium_free(r->seckeys);
        free(r->recs);
        free(r);
        a->repl = NULL;
}

void om_repl_counts(struct om_agent *a, struct om_repl_counts *ret) {
        const struct om_repl *r = a->repl;
        *ret = (struct om_repl_counts){0};
        if (!r)
                return;
        *ret = (struct om_repl_counts){.fetched = r->fetched,
                                       .installed = r->installed,
                                       .deleted = r->deleted,
                                       .refused = r->refused,
                                       .stale = r->stale,
                                       .errors = r->errors,
                                       .served = r->served,
                                       .inflight = r->inflight,
                                       .behind = r->behind};
}

void om_repl_pack_stats(struct om_agent *a, msgpack_packer *pk) {
        struct om_repl *r = a->repl;
        struct om_repl z = {0};
        if (!r)
                r = &z;
        msgpack_pack_map(pk, 9);
        om_cl_mp_kv_u64(pk, "fetched", r->fetched);
        om_cl_mp_kv_u64(pk, "installed", r->installed);
        om_cl_mp_kv_u64(pk, "deleted", r->deleted);
        om_cl_mp_kv_u64(pk, "refused", r->refused);
        om_cl_mp_kv_u64(pk, "stale", r->stale);
        om_cl_mp_kv_u64(pk, "out_of_scope", r->out_of_scope);
        om_cl_mp_kv_u64(pk, "errors", r->errors);
        om_cl_mp_kv_u64(pk, "served", r->served);
        om_cl_mp_kv_u64(pk, "inflight", r->inflight);
}
