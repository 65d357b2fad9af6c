/*
 * The arbitrator daemon: config, the UDP receive path (every limit checked before
 * anything is authenticated), one om_arb_vote per cluster, the answers, and the status
 * socket. It is not a cluster node: it has no node data, runs nothing, and forgets
 * everything when it stops (it then gives no vote for one lease after it starts again).
 *
 * Receive order, each step counted when it drops: the datagram's size (garbage below
 * the smallest frame, oversized above OM_ARB_UDP_MAX), the source's rate (flood: a
 * token bucket per source address, and one for all sources together, so that what
 * reaches the cipher is bounded), the cluster prefix (garbage, unknown cluster), the
 * frame header (garbage: magic, version, type: a vote request or a beat to relay), the
 * sender's replay window when it has one (replay), the seal with that cluster's key
 * for the type (bad tag), the sender table (full), the payload (bad request). Only a
 * frame that opened creates or moves a sender's replay window. A beat that opened is
 * forwarded as it came to the cluster's other nodes that relay (`[hb#N] type = relay`).
 */
#include "arbitrator/arbd.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cluster/cl_mp.h"
#include "core/fileio.h"
#include "core/keywords.h"
#include "core/ini.h"
#include "core/log.h"
#include "core/om.h"
#include "core/paths.h"
#include "core/util.h"
#include "sodium.h"

/* ---- config ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}
#define FAIL(line, fmt, ...) fail(err, errlen, "%s:%u: " fmt, fn, line, ##__VA_ARGS__)

static bool cluster_name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n >= OM_ARB_CLUSTER_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
                        return false;
        return true;
}

int om_arbd_conf_load(const char *file, struct om_arbd_conf *ret, char *err, size_t errlen) {
        _cleanup_free_ char *dflt = NULL;
        if (!file)
                file = dflt = om_asprintf("%s/arbitrator.conf", om_dir_etc());
        if (!file)
                return -ENOMEM;
        const char *fn = file;
        _cleanup_ini_ struct om_ini *ini = NULL;
        int r = om_ini_load(file, &ini, err, errlen);
        if (r == -ENOENT)
                return fail(err, errlen, "%s: no such file (see `man om.conf`, ARBITRATOR.CONF)",
                            file);
        if (r < 0)
                return r;
        struct om_arbd_conf c = {.port = OM_ARB_PORT_DEFAULT};
        snprintf(c.addr, sizeof(c.addr), "0.0.0.0");
        snprintf(c.name, sizeof(c.name), "%s", om_nodename());
        bool have_arb = false;
        for (size_t i = 0; i < ini->n_sections; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                bool arb = strcmp(s->name, "arbitrator") == 0;
                if (!arb && !om_startswith(s->name, "cluster#"))
                        return FAIL(s->line,
                                    "unknown section [%s] (expected [arbitrator] or [cluster#N])",
                                    s->name);
                if (arb)
                        have_arb = true;
                else if (c.n_clusters >= OM_ARBD_CLUSTERS_MAX)
                        return FAIL(s->line, "more than %d clusters", OM_ARBD_CLUSTERS_MAX);
                bool has_name = false, has_secret = false;
                uint64_t lease = OM_ARB_LEASE_DEFAULT_MS;
                for (size_t j = 0; j < s->n_entries; j++) {
                        const struct om_ini_entry *e = &s->entries[j];
                        long long p;
                        if (e->scope)
                                return FAIL(e->line, "[%s] %s@%s: no node scope here", s->name,
                                            e->key, e->scope);
                        /* the keywords are those of core/keywords.c (man om.conf) */
                        if (!om_keyword_find(arb ? "arbd" : "arbd-cluster", NULL, e->key)) {
                                sodium_memzero(&c, sizeof(c));
                                return FAIL(e->line, "[%s] unknown keyword '%s'", s->name, e->key);
                        }
                        if (arb && strcmp(e->key, "port") == 0) {
                                if (om_parse_int(e->value, 1, 65535, &p) < 0)
                                        return FAIL(e->line,
                                                    "[arbitrator] port: not a port number");
                                c.port = (uint16_t)p;
                        } else if (arb && strcmp(e->key, "addr") == 0) {
                                struct sockaddr_storage ss;
                                if (strlen(e->value) >= sizeof(c.addr) ||
                                    (uv_ip4_addr(e->value, 0, (struct sockaddr_in *)&ss) &&
                                     uv_ip6_addr(e->value, 0, (struct sockaddr_in6 *)&ss)))
                                        return FAIL(e->line,
                                                    "[arbitrator] addr: not a numeric address");
                                snprintf(c.addr, sizeof(c.addr), "%s", e->value);
                        } else if (arb && strcmp(e->key, "name") == 0) {
                                if (!e->value[0] || strlen(e->value) >= OM_ARB_NAME_MAX ||
                                    strlen(e->value) >= OM_HB_SENDER_MAX)
                                        return FAIL(e->line, "[arbitrator] name: 1 to 63 bytes");
                                snprintf(c.name, sizeof(c.name), "%s", e->value);
                        } else if (!arb && strcmp(e->key, "name") == 0) {
                                if (!cluster_name_ok(e->value))
                                        return FAIL(e->line,
                                                    "[%s] name: 1 to 63 printable characters",
                                                    s->name);
                                for (size_t k = 0; k < c.n_clusters; k++)
                                        if (strcmp(c.clusters[k].name, e->value) == 0)
                                                return FAIL(e->line,
                                                            "[%s] name: cluster '%s' served twice",
                                                            s->name, e->value);
                                snprintf(c.clusters[c.n_clusters].name, OM_ARB_CLUSTER_MAX, "%s",
                                         e->value);
                                has_name = true;
                        } else if (!arb && strcmp(e->key, "secret") == 0) {
                                if (strlen(e->value) != 2 * OM_CLUSTER_SECRET_LEN ||
                                    om_hex_decode(e->value, c.clusters[c.n_clusters].secret,
                                                  OM_CLUSTER_SECRET_LEN) < 0) {
                                        sodium_memzero(&c, sizeof(c));
                                        return FAIL(e->line,
                                                    "[%s] secret: not %d hex digits (copy the "
                                                    "cluster's [cluster] secret)",
                                                    s->name, 2 * OM_CLUSTER_SECRET_LEN);
                                }
                                has_secret = true;
                        } else if (!arb && strcmp(e->key, "lease") == 0) {
                                if (om_parse_duration_ms(e->value, &lease) < 0 ||
                                    lease < OM_ARB_LEASE_MIN_MS || lease > OM_ARB_LEASE_MAX_MS) {
                                        sodium_memzero(&c, sizeof(c));
                                        return FAIL(e->line,
                                                    "[%s] lease: a duration from 1s to 60s",
                                                    s->name);
                                }
                        } else {
                                sodium_memzero(&c, sizeof(c));
                                return FAIL(e->line, "[%s] unknown keyword '%s'", s->name, e->key);
                        }
                }
                if (arb)
                        continue;
                if (!has_name || !has_secret) {
                        sodium_memzero(&c, sizeof(c));
                        return FAIL(s->line, "[%s] missing required keyword '%s'", s->name,
                                    has_name ? "secret" : "name");
                }
                c.clusters[c.n_clusters++].lease_ms = lease;
        }
        (void)have_arb;
        if (c.n_clusters == 0)
                return fail(err, errlen,
                            "%s: no [cluster#N] section: the arbitrator would serve "
                            "no cluster",
                            fn);
        *ret = c;
        sodium_memzero(&c, sizeof(c));
        return 0;
}

void om_arbd_conf_wipe(struct om_arbd_conf *c) {
        sodium_memzero(c, sizeof(*c));
}

char *om_arbd_sock_path(void) {
        return om_asprintf("%s/arbitrator.sock", om_dir_run());
}

/* ---- state ---- */

enum gdrop { GD_GARBAGE, GD_OVERSIZED, GD_UNKNOWN, GD_FLOOD, _GD_MAX };
static const char *const gdrop_names[_GD_MAX] = {
        [GD_GARBAGE] = "garbage",
        [GD_OVERSIZED] = "oversized",
        [GD_UNKNOWN] = "unknown_cluster",
        [GD_FLOOD] = "flood",
};
enum cdrop { CD_REPLAY, CD_TAG, CD_REQUEST, CD_FULL, _CD_MAX };
static const char *const cdrop_names[_CD_MAX] = {
        [CD_REPLAY] = "replay",
        [CD_TAG] = "bad_tag",
        [CD_REQUEST] = "bad_request",
        [CD_FULL] = "full",
};

struct sender {
        char name[OM_HB_SENDER_MAX];
        struct om_hb_window w; /* one sequence space: its vote requests and relayed beats */
        struct sockaddr_storage relay_addr; /* where its relayed beats come from */
        uint64_t relay_seen;                /* ms, 0: never */
};
/* A node whose relayed beat came within this gets the others' beats. */
#define RELAY_KEEP_MS 10000

struct cluster {
        char name[OM_ARB_CLUSTER_MAX];
        uint8_t key[OM_HB_KEY_LEN];    /* vote requests: subkey arbvote_ */
        uint8_t hb_key[OM_HB_KEY_LEN]; /* relayed beats: subkey hbframe_ */
        struct om_arb_vote vote;
        struct sender senders[OM_ARB_NODES_MAX];
        size_t n_senders;
        uint64_t rx, answers[_OM_ARB_KIND_MAX], drops[_CD_MAX];
        uint64_t relay_in, relay_out;
        struct om_arb_marks marks;
        uint64_t fence_answers[_OM_ARB_FENCE_RESULT_MAX];
        struct om_arb_set last_holders;
        bool last_has;
};

/* Flood control: a token bucket per source address (the port ignored), and one for all
 * sources. Sources beyond the table replace the one idle longest. */
#define SRC_MAX 256
#define SRC_RATE 100 /* frames per second per source, burst twice that */
#define ALL_RATE 5000
struct source {
        uint8_t addr[16];
        int family;
        uint64_t last;  /* ms */
        uint64_t milli; /* tokens x 1000 */
};

struct arbd {
        uv_loop_t loop;
        uv_udp_t udp;
        uv_pipe_t sock;
        uv_signal_t sigterm, sigint;
        struct om_arbd_conf conf;
        struct cluster *clusters;
        size_t n_clusters;
        uint64_t drops[_GD_MAX];
        uint64_t rx, tx, tx_errors;
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        uint64_t seq;
        uint64_t started;
        struct source src[SRC_MAX];
        struct source all;
        char *sock_path;
        bool sock_bound;
        char **marks_orphans; /* lines of the marks file of clusters not served */
        uint64_t marks_errors;
        int pid_fd;
};

/* The clock of leases: CLOCK_BOOTTIME, which also runs while the machine is suspended. */
static uint64_t boot_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool bucket_take(struct source *s, uint64_t rate, uint64_t now) {
        uint64_t cap = 2 * rate * 1000;
        uint64_t add = (now - s->last) * rate;
        s->milli = OM_MIN(cap, s->milli + add);
        s->last = now;
        if (s->milli < 1000)
                return false;
        s->milli -= 1000;
        return true;
}

static bool flood_ok(struct arbd *d, const struct sockaddr *addr, uint64_t now) {
        uint8_t key[16] = {0};
        int fam = addr->sa_family;
        if (fam == AF_INET)
                memcpy(key, &((const struct sockaddr_in *)addr)->sin_addr, 4);
        else if (fam == AF_INET6)
                memcpy(key, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
        else
                return false;
        struct source *s = NULL, *oldest = &d->src[0];
        for (size_t i = 0; i < SRC_MAX; i++) {
                struct source *x = &d->src[i];
                if (x->family == fam && memcmp(x->addr, key, 16) == 0) {
                        s = x;
                        break;
                }
                if (x->last < oldest->last)
                        oldest = x;
        }
        if (!s) {
                s = oldest;
                memcpy(s->addr, key, 16);
                s->family = fam;
                s->last = now;
                s->milli = 2 * SRC_RATE * 1000;
        }
        return bucket_take(s, SRC_RATE, now) && bucket_take(&d->all, ALL_RATE, now);
}

/* ---- the receive path ---- */

/* ---- fence marks ---- */

#define MARKS_HEAD "om-arbitrator-marks 1"
#define MARKS_FILE_MAX (1 << 20)

static char *marks_path(void) {
        return om_asprintf("%s/arbitrator.marks", om_dir_var());
}

static struct cluster *cluster_find(struct arbd *d, const char *name) {
        for (size_t i = 0; i < d->n_clusters; i++)
                if (strcmp(d->clusters[i].name, name) == 0)
                        return &d->clusters[i];
        return NULL;
}

/* Loads the marks file: 0 (also when there is none), or -EINVAL with the file and line
 * in err. Lines of clusters this arbitrator no longer serves are kept as they are. */
static int marks_load(struct arbd *d, char *err, size_t errlen) {
        _cleanup_free_ char *file = marks_path(), *text = NULL;
        if (!file)
                return -ENOMEM;
        int r = om_read_file(file, MARKS_FILE_MAX, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(err, errlen, "%s: cannot read the fence marks: %s", file, strerror(-r));
                return r == -EFBIG ? -EINVAL : r;
        }
        unsigned ln = 0;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (!next) {
                        snprintf(err, errlen, "%s:%u: the last line has no end (a torn write?)",
                                 file, ln + 1);
                        return -EINVAL;
                }
                *next++ = 0;
                ln++;
                if (ln == 1) {
                        if (strcmp(line, MARKS_HEAD) != 0) {
                                snprintf(err, errlen,
                                         "%s:1: not a fence marks file (first line '%.40s', "
                                         "expected '" MARKS_HEAD "')",
                                         file, line);
                                return -EINVAL;
                        }
                        continue;
                }
                char cname[64];
                bool is_mark;
                struct om_arb_mark m;
                if (om_arb_mark_parse(line, cname, &is_mark, &m) < 0) {
                        snprintf(err, errlen, "%s:%u: not a fence mark line: '%.80s'", file, ln,
                                 line);
                        return -EINVAL;
                }
                struct cluster *c = cluster_find(d, cname);
                if (!c) {
                        if (om_strv_push(&d->marks_orphans, line) < 0)
                                return -ENOMEM;
                        continue;
                }
                struct om_arb_marks *ms = &c->marks;
                if (!is_mark) {
                        ms->last_id = OM_MAX(ms->last_id, m.id);
                        continue;
                }
                for (size_t i = 0; i < ms->n; i++)
                        if (strcmp(ms->m[i].res, m.res) == 0 &&
                            strcmp(ms->m[i].victim, m.victim) == 0) {
                                snprintf(err, errlen, "%s:%u: a second mark of %s on %s", file, ln,
                                         m.victim, m.res);
                                return -EINVAL;
                        }
                if (ms->n >= OM_ARB_MARKS_MAX) {
                        snprintf(err, errlen, "%s:%u: more than %d marks for cluster %s", file, ln,
                                 OM_ARB_MARKS_MAX, cname);
                        return -EINVAL;
                }
                ms->m[ms->n++] = m;
                ms->last_id = OM_MAX(ms->last_id, m.id);
        }
        return 0;
}

/* Writes every mark (temp file, fsync, rename). */
static int marks_save(struct arbd *d) {
        _cleanup_free_ char *file = marks_path();
        struct om_buf b = {0};
        char line[512];
        if (!file)
                return -ENOMEM;
        om_buf_printf(&b, MARKS_HEAD "\n");
        for (size_t k = 0; k < d->n_clusters; k++) {
                const struct cluster *c = &d->clusters[k];
                struct om_arb_mark last = {.id = c->marks.last_id};
                if (om_arb_mark_format(c->name, &last, line, sizeof(line)) > 0)
                        om_buf_printf(&b, "%s\n", line);
                for (size_t i = 0; i < c->marks.n; i++)
                        if (om_arb_mark_format(c->name, &c->marks.m[i], line, sizeof(line)) > 0)
                                om_buf_printf(&b, "%s\n", line);
        }
        for (size_t i = 0; d->marks_orphans && d->marks_orphans[i]; i++)
                om_buf_printf(&b, "%s\n", d->marks_orphans[i]);
        int r = b.data ? om_write_atomic(file, b.data, b.len, 0600) : -ENOMEM;
        om_buf_free(&b);
        return r;
}

static uint64_t wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Seals payload as a frame of type (the request's keygen, the arbitrator's own sequence)
 * and sends it to addr; true when it left. */
static bool send_sealed(struct arbd *d, struct cluster *c, const struct om_hb_info *req,
                        enum om_hb_type type, const uint8_t *payload, int plen,
                        const struct sockaddr *addr) {
        static uint8_t frame[OM_ARB_UDP_MAX];
        if (plen < 0)
                return false;
        struct om_hb_info info = {.type = type, .keygen = req->keygen, .seq = ++d->seq};
        snprintf(info.sender, sizeof(info.sender), "%s", d->conf.name);
        memcpy(info.boot_id, d->boot_id, OM_HB_BOOT_ID_LEN);
        int flen = om_hb_seal(c->key, &info, payload, (size_t)plen, frame, sizeof(frame));
        if (flen < 0)
                return false;
        uv_buf_t b = uv_buf_init((char *)frame, (unsigned)flen);
        if (uv_udp_try_send(&d->udp, &b, 1, addr) < 0) {
                d->tx_errors++;
                return false;
        }
        d->tx++;
        return true;
}

static void fence_answer(struct arbd *d, struct cluster *c, const struct om_hb_info *req,
                         enum om_arb_fence_result res, const struct om_arb_mark *m,
                         const struct sockaddr *addr) {
        static uint8_t payload[1024];
        int plen = om_arb_fence_ans_pack(c->name, req->seq, res, m, payload, sizeof(payload));
        if (send_sealed(d, c, req, OM_HB_ARB_FENCE_RESP, payload, plen, addr))
                c->fence_answers[res]++;
}

/* A fence request that opened: the compare-and-set, the marks on disk when they
 * changed, then the answer (none when they could not be written: the node asks again
 * and, without an answer, writes nothing). */
static void on_fence(struct arbd *d, struct cluster *c, const struct om_hb_info *info,
                     const uint8_t *payload, size_t plen, const struct sockaddr *addr) {
        static struct om_arb_fence_req_msg m;
        static struct om_arb_marks before;
        if (om_arb_fence_req_unpack(payload, plen, &m) < 0 || strcmp(m.cluster, c->name) != 0) {
                c->drops[CD_REQUEST]++;
                return;
        }
        before = c->marks;
        enum om_arb_fence_result res;
        struct om_arb_mark mark;
        int r = m.op == OM_ARB_FENCE ? om_arb_fence(&c->marks, m.res, info->sender, m.node,
                                                    wall_ms(), &res, &mark)
                                     : om_arb_unfence(&c->marks, m.res, m.node, m.id, &res, &mark);
        if (r < 0) {
                c->drops[CD_REQUEST]++;
                return;
        }
        c->rx++;
        d->rx++;
        om_log_set_component("arbitrator");
        if (memcmp(&before, &c->marks, sizeof(before)) != 0) {
                if ((r = marks_save(d)) < 0) {
                        c->marks = before;
                        d->marks_errors++;
                        log_error("cluster %s: cannot write the fence marks: %s: %s unanswered",
                                  c->name, strerror(-r), om_arb_fence_op_to_string(m.op));
                        return;
                }
                if (m.op == OM_ARB_FENCE)
                        log_info("cluster %s: %s: the replica of %s is outdated, by %s (mark "
                                 "%llu, %s)",
                                 c->name, mark.res, mark.victim, mark.by,
                                 (unsigned long long)mark.id, om_arb_fence_result_to_string(res));
                else
                        log_info("cluster %s: %s: the replica of %s is up to date again, asked "
                                 "by %s (mark %llu cleared)",
                                 c->name, m.res, m.node, info->sender, (unsigned long long)m.id);
        } else if (res == OM_ARB_FENCE_REFUSED)
                log_warning("cluster %s: %s: %s may not write without %s: its replica was "
                            "outdated by %s (mark %llu)",
                            c->name, m.res, info->sender, m.node, mark.by,
                            (unsigned long long)mark.id);
        else if (res == OM_ARB_FENCE_FULL)
                log_error("cluster %s: %s: no room for another fence mark (%d): %s refused",
                          c->name, m.res, OM_ARB_MARKS_MAX, info->sender);
        fence_answer(d, c, info, res, &mark, addr);
}

static void log_holders(struct arbd *d, struct cluster *c) {
        const struct om_arb_vote *v = &c->vote;
        if (v->has_holder == c->last_has &&
            memcmp(&v->holders, &c->last_holders, sizeof(v->holders)) == 0)
                return;
        c->last_has = v->has_holder;
        c->last_holders = v->holders;
        struct om_buf b = {0};
        for (size_t i = 0; i < v->n_nodes; i++)
                if (om_arb_set_has(&v->holders, i))
                        om_buf_printf(&b, "%s%s", b.len ? " " : "", v->nodes[i].name);
        om_log_set_component("arbitrator");
        log_info("cluster %s: the vote goes to {%s} (contest %llu)", c->name, b.data ? b.data : "",
                 (unsigned long long)v->decisions);
        om_buf_free(&b);
}

static void answer(struct arbd *d, struct cluster *c, const struct om_hb_info *req,
                   const struct om_arb_answer *a, const struct sockaddr *addr) {
        const char *holders[OM_ARB_NODES_MAX];
        size_t n = 0;
        for (size_t i = 0; a->has_holder && i < c->vote.n_nodes; i++)
                if (om_arb_set_has(&a->holders, i))
                        holders[n++] = c->vote.nodes[i].name;
        static uint8_t payload[OM_ARB_UDP_MAX];
        int plen =
                om_arb_ans_pack(c->name, req->seq, a, holders, n, payload, sizeof(payload) - 256);
        if (send_sealed(d, c, req, OM_HB_ARB_RESP, payload, plen, addr))
                c->answers[a->kind]++;
}

/* A beat that opened with the cluster's heartbeat key goes, as it came, to every other
 * node of the cluster whose relayed beat came recently (at most 128: the sender table). */
static void relay(struct arbd *d, struct cluster *c, struct sender *s, const uint8_t *frame,
                  size_t flen, const struct sockaddr *addr, uint64_t now) {
        memcpy(&s->relay_addr, addr,
               addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
        s->relay_seen = now;
        c->relay_in++;
        uv_buf_t b = uv_buf_init((char *)frame, (unsigned)flen);
        for (size_t i = 0; i < c->n_senders; i++) {
                struct sender *o = &c->senders[i];
                if (o == s || !o->relay_seen || o->relay_seen + RELAY_KEEP_MS < now)
                        continue;
                if (uv_udp_try_send(&d->udp, &b, 1, (struct sockaddr *)&o->relay_addr) < 0)
                        d->tx_errors++;
                else
                        c->relay_out++;
        }
}

static void on_frame(struct arbd *d, const uint8_t *buf, size_t len, const struct sockaddr *addr) {
        uint64_t now = boot_ms();
        if (len > OM_ARB_UDP_MAX) {
                d->drops[GD_OVERSIZED]++;
                return;
        }
        if (!flood_ok(d, addr, now)) {
                d->drops[GD_FLOOD]++;
                return;
        }
        char cname[OM_ARB_CLUSTER_MAX];
        int off = om_arb_dgram_split(buf, len, cname);
        if (off < 0) {
                d->drops[GD_GARBAGE]++;
                return;
        }
        struct cluster *c = NULL;
        for (size_t i = 0; i < d->n_clusters; i++)
                if (strcmp(d->clusters[i].name, cname) == 0)
                        c = &d->clusters[i];
        if (!c) {
                d->drops[GD_UNKNOWN]++;
                return;
        }
        const uint8_t *frame = buf + off;
        size_t flen = len - (size_t)off;
        struct om_hb_info info;
        enum om_hb_drop why;
        if (om_hb_peek(frame, flen, OM_ARB_UDP_MAX, &info, &why) < 0 ||
            (info.type != OM_HB_ARB_REQ && info.type != OM_HB_BEAT &&
             info.type != OM_HB_ARB_FENCE)) {
                d->drops[GD_GARBAGE]++;
                return;
        }
        struct sender *s = NULL;
        for (size_t i = 0; i < c->n_senders; i++)
                if (strcmp(c->senders[i].name, info.sender) == 0)
                        s = &c->senders[i];
        if (s && om_hb_window_check(&s->w, info.boot_id, info.seq) < 0) {
                c->drops[CD_REPLAY]++;
                return;
        }
        static uint8_t payload[OM_ARB_UDP_MAX];
        bool beat = info.type == OM_HB_BEAT;
        int plen = om_hb_open(beat ? c->hb_key : c->key, frame, flen, payload);
        if (plen < 0) {
                c->drops[CD_TAG]++;
                return;
        }
        if (!s) {
                if (c->n_senders >= OM_ARB_NODES_MAX) {
                        c->drops[CD_FULL]++;
                        return;
                }
                s = &c->senders[c->n_senders++];
                memset(s, 0, sizeof(*s));
                snprintf(s->name, sizeof(s->name), "%s", info.sender);
        }
        om_hb_window_commit(&s->w, info.boot_id, info.seq);
        if (beat) {
                relay(d, c, s, frame, flen, addr, now);
                return;
        }
        if (info.type == OM_HB_ARB_FENCE) {
                on_fence(d, c, &info, payload, (size_t)plen, addr);
                return;
        }
        static struct om_arb_req_msg m;
        if (om_arb_req_unpack(payload, (size_t)plen, &m) < 0 || strcmp(m.cluster, c->name) != 0) {
                c->drops[CD_REQUEST]++;
                return;
        }
        const char *view[OM_ARB_NODES_MAX];
        for (size_t i = 0; i < m.n_view; i++)
                view[i] = m.view[i];
        struct om_arb_request req = {info.sender, view, m.n_view, m.services};
        struct om_arb_answer a;
        if (om_arb_vote_request(&c->vote, &req, now, &a) < 0) {
                c->drops[CD_REQUEST]++;
                return;
        }
        c->rx++;
        d->rx++;
        log_holders(d, c);
        answer(d, c, &info, &a, addr);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rxbuf[65536];
        buf->base = rxbuf;
        buf->len = sizeof(rxbuf);
}

static void udp_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags) {
        struct arbd *d = container_of(u, struct arbd, udp);
        if (nread <= 0 || !addr)
                return;
        if (flags & UV_UDP_PARTIAL) {
                d->drops[GD_OVERSIZED]++;
                return;
        }
        on_frame(d, (const uint8_t *)buf->base, (size_t)nread, addr);
}

/* ---- status ---- */

static void status_pack(struct arbd *d, msgpack_packer *pk) {
        uint64_t now = boot_ms();
        msgpack_pack_map(pk, 3);
        om_cl_mp_str_pack(pk, "arbitrator");
        msgpack_pack_map(pk, 9);
        om_cl_mp_kv_u64(pk, "pid", (uint64_t)getpid());
        om_cl_mp_kv_str(pk, "name", d->conf.name);
        om_cl_mp_kv_str(pk, "addr", d->conf.addr);
        om_cl_mp_kv_u64(pk, "port", d->conf.port);
        om_cl_mp_kv_u64(pk, "uptime_ms", now - d->started);
        om_cl_mp_kv_u64(pk, "rx", d->rx);
        om_cl_mp_kv_u64(pk, "tx", d->tx);
        om_cl_mp_kv_u64(pk, "tx_errors", d->tx_errors);
        om_cl_mp_kv_u64(pk, "marks_errors", d->marks_errors);
        om_cl_mp_str_pack(pk, "drops");
        msgpack_pack_map(pk, _GD_MAX);
        for (int i = 0; i < _GD_MAX; i++)
                om_cl_mp_kv_u64(pk, gdrop_names[i], d->drops[i]);
        om_cl_mp_str_pack(pk, "clusters");
        msgpack_pack_array(pk, d->n_clusters);
        for (size_t k = 0; k < d->n_clusters; k++) {
                struct cluster *c = &d->clusters[k];
                const struct om_arb_vote *v = &c->vote;
                uint64_t guard = v->started + v->lease_ms;
                msgpack_pack_map(pk, 13);
                om_cl_mp_kv_str(pk, "name", c->name);
                om_cl_mp_str_pack(pk, "marks");
                msgpack_pack_array(pk, c->marks.n);
                for (size_t i = 0; i < c->marks.n; i++) {
                        const struct om_arb_mark *m = &c->marks.m[i];
                        msgpack_pack_map(pk, 5);
                        om_cl_mp_kv_str(pk, "res", m->res);
                        om_cl_mp_kv_str(pk, "outdated", m->victim);
                        om_cl_mp_kv_str(pk, "by", m->by);
                        om_cl_mp_kv_u64(pk, "id", m->id);
                        om_cl_mp_kv_u64(pk, "at", m->at);
                }
                om_cl_mp_str_pack(pk, "fence_answers");
                msgpack_pack_map(pk, _OM_ARB_FENCE_RESULT_MAX);
                for (int i = 0; i < _OM_ARB_FENCE_RESULT_MAX; i++)
                        om_cl_mp_kv_u64(pk, om_arb_fence_result_to_string(i), c->fence_answers[i]);
                om_cl_mp_str_pack(pk, "relay");
                msgpack_pack_map(pk, 3);
                om_cl_mp_kv_u64(pk, "beats_in", c->relay_in);
                om_cl_mp_kv_u64(pk, "beats_out", c->relay_out);
                size_t live = 0;
                for (size_t i = 0; i < c->n_senders; i++)
                        live += c->senders[i].relay_seen &&
                                c->senders[i].relay_seen + RELAY_KEEP_MS >= now;
                om_cl_mp_kv_u64(pk, "nodes", live);
                om_cl_mp_kv_u64(pk, "lease_ms", v->lease_ms);
                om_cl_mp_kv_u64(pk, "restart_guard_left_ms", guard > now ? guard - now : 0);
                om_cl_mp_str_pack(pk, "holders");
                size_t nh = 0;
                for (size_t i = 0; v->has_holder && i < v->n_nodes; i++)
                        nh += om_arb_set_has(&v->holders, i);
                msgpack_pack_array(pk, nh);
                for (size_t i = 0; v->has_holder && i < v->n_nodes; i++)
                        if (om_arb_set_has(&v->holders, i))
                                om_cl_mp_str_pack(pk, v->nodes[i].name);
                om_cl_mp_kv_u64(pk, "lease_left_ms", om_arb_vote_holder_left(v, now));
                om_cl_mp_kv_bool(pk, "contest", v->contest);
                om_cl_mp_kv_u64(pk, "decisions", v->decisions);
                om_cl_mp_str_pack(pk, "answers");
                msgpack_pack_map(pk, _OM_ARB_KIND_MAX);
                for (int i = 0; i < _OM_ARB_KIND_MAX; i++)
                        om_cl_mp_kv_u64(pk, om_arb_kind_to_string(i), c->answers[i]);
                om_cl_mp_str_pack(pk, "drops");
                msgpack_pack_map(pk, _CD_MAX);
                for (int i = 0; i < _CD_MAX; i++)
                        om_cl_mp_kv_u64(pk, cdrop_names[i], c->drops[i]);
                om_cl_mp_str_pack(pk, "nodes");
                msgpack_pack_array(pk, v->n_nodes);
                for (size_t i = 0; i < v->n_nodes; i++) {
                        const struct om_arb_node *n = &v->nodes[i];
                        msgpack_pack_map(pk, 5);
                        om_cl_mp_kv_str(pk, "name", n->name);
                        om_cl_mp_kv_i64(pk, "last_request_ms",
                                        n->seen ? (int64_t)(now - n->seen) : -1);
                        om_cl_mp_kv_u64(pk, "lease_left_ms",
                                        n->expires > now ? n->expires - now : 0);
                        om_cl_mp_kv_u64(pk, "services", n->services);
                        om_cl_mp_str_pack(pk, "view");
                        msgpack_pack_array(pk, om_arb_set_count(&n->view));
                        for (size_t j = 0; j < v->n_nodes; j++)
                                if (om_arb_set_has(&n->view, j))
                                        om_cl_mp_str_pack(pk, v->nodes[j].name);
                }
        }
}

struct conn {
        uv_pipe_t pipe;
        uv_write_t wr;
        msgpack_sbuffer sb;
};

static void conn_closed(uv_handle_t *h) {
        struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);
        msgpack_sbuffer_destroy(&c->sb);
        free(c);
}

static void conn_written(uv_write_t *w, int status) {
        struct conn *c = container_of(w, struct conn, wr);
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void on_status_conn(uv_stream_t *server, int status) {
        struct arbd *d = server->data;
        if (status < 0)
                return;
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        msgpack_sbuffer_init(&c->sb);
        uv_pipe_init(&d->loop, &c->pipe, 0);
        if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
                uv_close((uv_handle_t *)&c->pipe, conn_closed);
                return;
        }
        /* only root or the arbitrator's own user (the socket is 0600 too) */
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
            (cred.uid != 0 && cred.uid != getuid())) {
                uv_close((uv_handle_t *)&c->pipe, conn_closed);
                return;
        }
        msgpack_packer pk;
        msgpack_packer_init(&pk, &c->sb, msgpack_sbuffer_write);
        status_pack(d, &pk);
        uv_buf_t b = uv_buf_init(c->sb.data, (unsigned)c->sb.size);
        if (uv_write(&c->wr, (uv_stream_t *)&c->pipe, &b, 1, conn_written) < 0)
                uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

/* ---- lifecycle ---- */

static void on_signal(uv_signal_t *s, int signum) {
        struct arbd *d = s->data;
        om_log_set_component("arbitrator");
        log_info("signal %d: stopping", signum);
        uv_stop(&d->loop);
}

static void close_walk(uv_handle_t *h, void *arg) {
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static int pidfile_take(struct arbd *d, char **ret_path) {
        char *file = om_asprintf("%s/arbitrator.pid", om_dir_run());
        int fd, r;
        if (!file)
                return -ENOMEM;
        r = om_lock_file(file, false, &fd);
        if (r < 0) {
                fprintf(stderr, "om: %s: %s\n", file,
                        r == -EWOULDBLOCK ? "an arbitrator already runs here" : strerror(-r));
                free(file);
                return r == -EWOULDBLOCK ? -EBUSY : r;
        }
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
                close(fd);
                free(file);
                return -errno;
        }
        d->pid_fd = fd;
        *ret_path = file;
        return 0;
}

int om_arbd_run(void) {
        struct arbd *d = calloc(1, sizeof(*d));
        _cleanup_free_ char *pidfile = NULL, *logfile = NULL;
        char err[512];
        int r;
        if (!d)
                return -ENOMEM;
        d->pid_fd = -1;
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                fprintf(stderr, "om: cannot make the arbitrator undumpable: %s\n", strerror(errno));
        if ((r = om_arbd_conf_load(NULL, &d->conf, err, sizeof(err))) < 0) {
                fprintf(stderr, "om: %s\n", r == -EINVAL ? err : strerror(-r));
                free(d);
                return r;
        }
        d->n_clusters = d->conf.n_clusters;
        d->clusters = calloc(d->n_clusters, sizeof(*d->clusters));
        if (!d->clusters) {
                free(d);
                return -ENOMEM;
        }
        d->started = boot_ms();
        for (size_t i = 0; i < d->n_clusters; i++) {
                struct cluster *c = &d->clusters[i];
                snprintf(c->name, sizeof(c->name), "%s", d->conf.clusters[i].name);
                om_cluster_key_derive_from(d->conf.clusters[i].secret, OM_FRAME_KDF_ID,
                                           OM_ARB_KDF_CTX, c->key);
                om_cluster_key_derive_from(d->conf.clusters[i].secret, OM_FRAME_KDF_ID, "hbframe_",
                                           c->hb_key);
                om_arb_vote_init(&c->vote, d->conf.clusters[i].lease_ms, d->started);
        }
        /* the raw secrets are not needed any more */
        for (size_t i = 0; i < d->n_clusters; i++)
                sodium_memzero(d->conf.clusters[i].secret, OM_CLUSTER_SECRET_LEN);
        if ((r = marks_load(d, err, sizeof(err))) < 0) {
                fprintf(stderr, "om: %s\n", r == -EINVAL ? err : strerror(-r));
                goto fail_early;
        }
        d->all.last = d->started;
        d->all.milli = 2 * ALL_RATE * 1000;
        om_hb_boot_id_new(d->boot_id);

        if ((r = om_mkdir_p(om_dir_run(), 0755)) < 0 || (r = om_mkdir_p(om_dir_log(), 0755)) < 0 ||
            (r = om_mkdir_p(om_dir_var(), 0755)) < 0) {
                fprintf(stderr, "om: cannot set up %s: %s\n", om_dir_run(), strerror(-r));
                goto fail_early;
        }
        if ((r = pidfile_take(d, &pidfile)) < 0)
                goto fail_early;
        logfile = om_asprintf("%s/arbitrator.log", om_dir_log());
        if (!logfile || om_log_open_daemon(logfile) < 0)
                fprintf(stderr, "om: cannot open the arbitrator log %s\n", logfile ? logfile : "");

        uv_loop_init(&d->loop);
        struct sockaddr_storage ss;
        if (uv_ip4_addr(d->conf.addr, d->conf.port, (struct sockaddr_in *)&ss) &&
            uv_ip6_addr(d->conf.addr, d->conf.port, (struct sockaddr_in6 *)&ss)) {
                r = -EINVAL;
                goto out;
        }
        uv_udp_init(&d->loop, &d->udp);
        if ((r = uv_udp_bind(&d->udp, (struct sockaddr *)&ss, 0)) < 0 ||
            (r = uv_udp_recv_start(&d->udp, udp_alloc, udp_recv)) < 0) {
                fprintf(stderr, "om: cannot bind udp %s:%u: %s\n", d->conf.addr, d->conf.port,
                        uv_strerror(r));
                goto out;
        }
        d->sock_path = om_arbd_sock_path();
        uv_pipe_init(&d->loop, &d->sock, 0);
        d->sock.data = d;
        if (d->sock_path) {
                unlink(d->sock_path);
                mode_t old = umask(0077);
                r = uv_pipe_bind(&d->sock, d->sock_path);
                umask(old);
                if (r == 0)
                        r = uv_listen((uv_stream_t *)&d->sock, 16, on_status_conn);
                if (r < 0) {
                        fprintf(stderr, "om: cannot listen on %s: %s\n", d->sock_path,
                                uv_strerror(r));
                        goto out;
                }
                d->sock_bound = true;
        }
        uv_signal_init(&d->loop, &d->sigterm);
        uv_signal_init(&d->loop, &d->sigint);
        d->sigterm.data = d->sigint.data = d;
        uv_signal_start(&d->sigterm, on_signal, SIGTERM);
        uv_signal_start(&d->sigint, on_signal, SIGINT);
        signal(SIGPIPE, SIG_IGN);
        om_log_set_component("arbitrator");
        log_info("arbitrator started: om " OM_VERSION ", pid %d, udp %s:%u, %zu clusters, no vote "
                 "given before one lease",
                 (int)getpid(), d->conf.addr, d->conf.port, d->n_clusters);
        uv_run(&d->loop, UV_RUN_DEFAULT);
        om_log_set_component("arbitrator");
        log_info("arbitrator stopped");
        r = 0;
out:
        uv_walk(&d->loop, close_walk, NULL);
        uv_run(&d->loop, UV_RUN_DEFAULT);
        uv_loop_close(&d->loop);
        if (d->sock_bound)
                unlink(d->sock_path);
        if (pidfile)
                unlink(pidfile);
fail_early:
        if (d->pid_fd >= 0)
                close(d->pid_fd);
        for (size_t i = 0; i < d->n_clusters; i++) {
                sodium_memzero(d->clusters[i].key, sizeof(d->clusters[i].key));
                sodium_memzero(d->clusters[i].hb_key, sizeof(d->clusters[i].hb_key));
        }
        om_arbd_conf_wipe(&d->conf);
        om_strv_free(d->marks_orphans);
        free(d->clusters);
        free(d->sock_path);
        free(d);
        return r;
}
