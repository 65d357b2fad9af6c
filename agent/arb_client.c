/*
 * Implementation of arb_client.h: per arbitrator, a UDP socket bound to this node's
 * cluster address, the requests (sealed frames of type OM_HB_ARB_REQ behind the cluster
 * name, cluster/arb_wire.h), the answers (checked: size, header, the arbitrator's replay
 * window, the seal, the payload, this cluster's name, a sequence this node sent), and
 * the license each answer leaves (cluster/arb_vote.h). It decides nothing: the
 * orchestrator counts what om_arbc_count says.
 */
#include "agent/arb_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/orchestrator.h"
#include "cluster/arb_wire.h"
#include "cluster/cl_mp.h"
#include "core/log.h"
#include "core/om.h"
#include "secrets/cluster_key.h"
#include "sodium.h"

#define SENT_KEEP 16 /* requests remembered to match answers (about 16 intervals) */

enum adrop { AD_GARBAGE, AD_REPLAY, AD_TAG, AD_PAYLOAD, AD_UNKNOWN_SEQ, _AD_MAX };
static const char *const adrop_names[_AD_MAX] = {
        [AD_GARBAGE] = "garbage",     [AD_REPLAY] = "replay",           [AD_TAG] = "bad_tag",
        [AD_PAYLOAD] = "bad_payload", [AD_UNKNOWN_SEQ] = "unknown_seq",
};

struct arbc_one {
        struct om_arbc *c;
        size_t k;
        uv_udp_t udp;
        bool running;
        struct sockaddr_storage dst;
        struct {
                uint64_t seq, sent;
        } sent[SENT_KEEP];
        size_t next_sent;
        struct om_hb_window win;
        struct om_arb_license lic;
        enum om_arb_count last_count;
        bool logged;
        /* the last answer, for the status */
        bool answered;
        uint64_t answer_at; /* boot ms */
        enum om_arb_kind kind;
        enum om_arb_reason reason;
        char holders[512];
        uint64_t holder_left_ms;
        char sender[OM_HB_SENDER_MAX + 1];
        uint64_t tx, tx_errors, rx, drops[_AD_MAX];
};

#define FENCE_SENT_KEEP 64  /* a fence request's sequences remembered (its resends) */
#define FENCE_RESEND_MS 500 /* a fence request is sent again this often */

struct om_arbc_fence {
        struct om_arbc *c;
        uv_timer_t timer;
        enum om_arb_fence_op op;
        char res[OM_ARB_RES_MAX];
        char node[OM_ARB_NAME_MAX];
        uint64_t id;       /* UNFENCE: 0 reads the mark, then the id read clears it */
        uint64_t deadline; /* boot ms */
        uint64_t sent[FENCE_SENT_KEEP];
        size_t n_sent;
        om_arbc_fence_cb cb;
        void *arg;
        bool done;
        struct om_arbc_fence *next;
};

struct om_arbc {
        struct om_agent *a;
        struct om_arbc_fence *fences;
        uint8_t key[OM_HB_KEY_LEN];
        struct arbc_one arb[OM_CL_ARB_MAX];
        size_t n;
        uv_timer_t timer;
        uint64_t period; /* between two requests: the interval, or a third of a shorter lease */
        struct om_arb_set last_view;
        uint32_t last_services;
};

/* The lease clock: CLOCK_BOOTTIME, which runs while the machine is suspended, so a node
 * that wakes up never counts a lease that ran out meanwhile. */
static uint64_t boot_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The view this node sends and counts with: the nodes that count for its quorum
 * (itself, and the peers it hears that hear it too: om_view_votes), so that "x sees y"
 * holds on both ends, as the counting rule of cluster/arb_vote.h requires. */
static struct om_arb_set view_now(struct om_agent *a) {
        const struct om_view v = om_agent_view(a);
        struct om_arb_set s = {0};
        for (size_t i = 0; i < a->n_peers; i++)
                if (om_view_votes(&v, i))
                        om_arb_set_add(&s, i);
        return s;
}

/* Seals payload as a frame of type under this node's sequence, behind the cluster
 * prefix, and sends it to the arbitrator of o. *seq gets the frame's sequence and
 * *sent_ms (when given) the time taken just before the send, from which a lease
 * counts. -1 (counted in tx_errors) when nothing left. */
static int send_sealed(struct arbc_one *o, enum om_hb_type type, const uint8_t *payload, int plen,
                       uint64_t *seq, uint64_t *sent_ms) {
        struct om_arbc *c = o->c;
        struct om_agent *a = c->a;
        uint8_t frame[OM_ARB_UDP_MAX], dgram[OM_ARB_UDP_MAX];
        struct om_hb_info info = {.type = type, .keygen = a->keygen, .seq = ++a->seq};
        snprintf(info.sender, sizeof(info.sender), "%s", a->self);
        memcpy(info.boot_id, a->boot_id, OM_HB_BOOT_ID_LEN);
        int flen = plen < 0
                           ? plen
                           : om_hb_seal(c->key, &info, payload, (size_t)plen, frame, sizeof(frame));
        int dlen = flen < 0 ? flen
                            : om_arb_dgram_wrap(a->cfg->name, frame, (size_t)flen, dgram,
                                                sizeof(dgram));
        if (dlen < 0) {
                o->tx_errors++;
                return -1;
        }
        *seq = info.seq;
        if (sent_ms)
                *sent_ms = boot_ms();
        uv_buf_t b = uv_buf_init((char *)dgram, (unsigned)dlen);
        if (uv_udp_try_send(&o->udp, &b, 1, (struct sockaddr *)&o->dst) < 0)
                o->tx_errors++;
        else
                o->tx++;
        return 0;
}

static void send_one(struct arbc_one *o, const struct om_arb_set *view, uint32_t services) {
        struct om_arbc *c = o->c;
        struct om_agent *a = c->a;
        const char *names[OM_ARB_NODES_MAX];
        size_t n = 0;
        for (size_t i = 0; i < a->n_peers && n < OM_ARB_NODES_MAX; i++)
                if (om_arb_set_has(view, i))
                        names[n++] = a->peers[i].name;
        uint8_t payload[OM_ARB_UDP_MAX];
        int plen =
                om_arb_req_pack(a->cfg->name, names, n, services, payload, sizeof(payload) - 512);
        uint64_t seq, sent;
        if (send_sealed(o, OM_HB_ARB_REQ, payload, plen, &seq, &sent) < 0)
                return;
        /* the lease counts from the time taken before the send (the answer is read on a
         * later turn of the loop, after this record) */
        o->sent[o->next_sent % SENT_KEEP].seq = seq;
        o->sent[o->next_sent % SENT_KEEP].sent = sent;
        o->next_sent++;
}

static void ask_all(struct om_arbc *c) {
        struct om_agent *a = c->a;
        struct om_arb_set view = view_now(a);
        uint32_t services = (uint32_t)om_orch_failover_up(a, &view);
        c->last_view = view;
        c->last_services = services;
        for (size_t k = 0; k < c->n; k++)
                if (c->arb[k].running)
                        send_one(&c->arb[k], &view, services);
}

static void timer_cb(uv_timer_t *t) {
        ask_all(container_of(t, struct om_arbc, timer));
}

void om_arbc_view_changed(struct om_agent *a) {
        struct om_arbc *c = a->arbc;
        if (!c || a->stopping)
                return;
        struct om_arb_set view = view_now(a);
        if (memcmp(&view, &c->last_view, sizeof(view)) == 0 &&
            om_orch_failover_up(a, &view) == c->last_services)
                return;
        ask_all(c);
}

static void on_fence_answer(struct arbc_one *o, const struct om_hb_info *info,
                            const uint8_t *payload, size_t plen);

static void log_count(struct arbc_one *o, enum om_arb_count cnt) {
        if (o->logged && cnt == o->last_count)
                return;
        o->logged = true;
        o->last_count = cnt;
        om_log_set_component("monitor");
        log_info("arbitrator#%zu (%s): %s%s%s%s", o->k + 1, o->c->a->cfg->arb[o->k].uri,
                 cnt == OM_ARB_COUNT_VOTE   ? "vote held"
                 : cnt == OM_ARB_COUNT_KEEP ? "lease kept, vote not counted"
                                            : "vote not held",
                 o->answered ? " (last answer " : "",
                 o->answered ? om_arb_kind_to_string(o->kind) : "", o->answered ? ")" : "");
}

static void on_answer(struct arbc_one *o, const uint8_t *buf, size_t len) {
        struct om_arbc *c = o->c;
        struct om_agent *a = c->a;
        struct om_hb_info info;
        enum om_hb_drop why;
        if (om_hb_peek(buf, len, OM_ARB_UDP_MAX, &info, &why) < 0 ||
            (info.type != OM_HB_ARB_RESP && info.type != OM_HB_ARB_FENCE_RESP)) {
                o->drops[AD_GARBAGE]++;
                return;
        }
        if (om_hb_window_check(&o->win, info.boot_id, info.seq) < 0) {
                o->drops[AD_REPLAY]++;
                return;
        }
        static uint8_t payload[OM_ARB_UDP_MAX];
        int plen = om_hb_open(c->key, buf, len, payload);
        if (plen < 0) {
                o->drops[AD_TAG]++;
                return;
        }
        if (info.type == OM_HB_ARB_FENCE_RESP) {
                on_fence_answer(o, &info, payload, (size_t)plen);
                return;
        }
        static struct om_arb_ans_msg m;
        if (om_arb_ans_unpack(payload, (size_t)plen, &m) < 0 ||
            strcmp(m.cluster, a->cfg->name) != 0) {
                o->drops[AD_PAYLOAD]++;
                return;
        }
        int slot = -1;
        for (size_t i = 0; i < SENT_KEEP; i++)
                if (o->sent[i].seq == m.seq && m.seq)
                        slot = (int)i;
        if (slot < 0) {
                o->drops[AD_UNKNOWN_SEQ]++;
                return;
        }
        om_hb_window_commit(&o->win, info.boot_id, info.seq);
        o->rx++;
        struct om_arb_set holders = {0};
        bool known = true;
        o->holders[0] = 0;
        for (size_t i = 0; i < m.n_holders; i++) {
                int idx = om_cl_config_node_index(a->cfg, m.holders[i]);
                if (idx < 0)
                        known = false;
                else
                        om_arb_set_add(&holders, (size_t)idx);
                size_t l = strlen(o->holders);
                snprintf(o->holders + l, sizeof(o->holders) - l, "%s%s", l ? " " : "",
                         m.holders[i]);
        }
        om_arb_license_apply(&o->lic, o->sent[slot].sent, m.kind, m.lease_ms, &holders, known);
        o->answered = true;
        o->answer_at = boot_ms();
        o->kind = m.kind;
        o->reason = m.reason;
        o->holder_left_ms = m.holder_left_ms;
        /* a lease is renewed at least three times over its length, whatever the
         * heartbeat interval (an arbitrator.conf lease shorter than the interval) */
        if ((m.kind == OM_ARB_GRANT || m.kind == OM_ARB_HOLD) && m.lease_ms / 3 < c->period &&
            m.lease_ms >= 300) {
                c->period = m.lease_ms / 3;
                uv_timer_start(&c->timer, timer_cb, c->period, c->period);
                om_log_set_component("monitor");
                log_warning("arbitrator#%zu: lease %llums shorter than three heartbeat "
                            "intervals: asking every %llums",
                            o->k + 1, (unsigned long long)m.lease_ms,
                            (unsigned long long)c->period);
        }
        snprintf(o->sender, sizeof(o->sender), "%s", info.sender);
        log_count(o, om_arbc_count(a, o->k));
        om_orch_kick(a);
}

/* ---- fence requests ---- */

static void fence_closed(uv_handle_t *h) {
        free(container_of((uv_timer_t *)h, struct om_arbc_fence, timer));
}

static void fence_unlink(struct om_arbc_fence *f) {
        for (struct om_arbc_fence **p = &f->c->fences; *p; p = &(*p)->next)
                if (*p == f) {
                        *p = f->next;
                        break;
                }
        f->done = true;
        uv_timer_stop(&f->timer);
        uv_close((uv_handle_t *)&f->timer, fence_closed);
}

static void fence_finish(struct om_arbc_fence *f, const struct om_arbc_fence_done *d) {
        om_log_set_component("monitor");
        if (d->error)
                log_error("drbd %s %s of %s: arbitrator#1 did not answer", f->res,
                          om_arb_fence_op_to_string(f->op), f->node);
        else if (d->result == OM_ARB_FENCE_REFUSED) {
                char at[40];
                time_t t = (time_t)(d->mark.at / 1000);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S UTC", &tm);
                log_error("drbd %s: %s's replica was outdated by %s at %s: %s may not write "
                          "without %s (arbitrator %s refused the fence)",
                          f->res, f->c->a->self, d->mark.by, at, f->c->a->self, f->node,
                          d->arbitrator);
        } else if (f->op == OM_ARB_FENCE && om_arb_fence_acked(d->result))
                log_warning("drbd %s: %s's replica marked outdated at arbitrator %s (mark "
                            "%llu): %s writes without it",
                            f->res, f->node, d->arbitrator, (unsigned long long)d->mark.id,
                            f->c->a->self);
        else
                log_info("drbd %s %s of %s: %s", f->res, om_arb_fence_op_to_string(f->op), f->node,
                         om_arb_fence_result_to_string(d->result));
        om_arbc_fence_cb cb = f->cb;
        void *arg = f->arg;
        fence_unlink(f);
        cb(arg, d);
}

static void fence_send(struct om_arbc_fence *f) {
        struct om_arbc *c = f->c;
        struct om_agent *a = c->a;
        uint8_t payload[1024];
        int plen = om_arb_fence_req_pack(a->cfg->name, f->op, f->res, f->node, f->id, payload,
                                         sizeof(payload));
        uint64_t seq;
        if (send_sealed(&c->arb[0], OM_HB_ARB_FENCE, payload, plen, &seq, NULL) == 0)
                f->sent[f->n_sent++ % FENCE_SENT_KEEP] = seq;
}

static void fence_timer(uv_timer_t *t) {
        struct om_arbc_fence *f = container_of(t, struct om_arbc_fence, timer);
        if (boot_ms() >= f->deadline) {
                struct om_arbc_fence_done d = {.error = -ETIMEDOUT};
                fence_finish(f, &d);
                return;
        }
        fence_send(f);
}

static void on_fence_answer(struct arbc_one *o, const struct om_hb_info *info,
                            const uint8_t *payload, size_t plen) {
        struct om_arbc *c = o->c;
        static struct om_arb_fence_ans_msg m;
        if (om_arb_fence_ans_unpack(payload, plen, &m) < 0 ||
            strcmp(m.cluster, c->a->cfg->name) != 0) {
                o->drops[AD_PAYLOAD]++;
                return;
        }
        struct om_arbc_fence *f = NULL;
        for (struct om_arbc_fence *x = c->fences; x && !f; x = x->next)
                for (size_t i = 0; i < OM_MIN(x->n_sent, (size_t)FENCE_SENT_KEEP); i++)
                        if (m.seq && x->sent[i] == m.seq)
                                f = x;
        if (!f) {
                o->drops[AD_UNKNOWN_SEQ]++;
                return;
        }
        om_hb_window_commit(&o->win, info->boot_id, info->seq);
        o->rx++;
        if (f->op == OM_ARB_UNFENCE && f->id == 0 && m.result == OM_ARB_FENCE_OTHER && m.mark.id) {
                /* the mark read: clear it with its id (the earlier sequences no longer
                 * match, so a late answer to the read is not taken for the clear) */
                f->id = m.mark.id;
                f->n_sent = 0;
                fence_send(f);
                return;
        }
        struct om_arbc_fence_done d = {.result = m.result, .mark = m.mark};
        snprintf(d.arbitrator, sizeof(d.arbitrator), "%s", info->sender);
        fence_finish(f, &d);
}

struct om_arbc_fence *om_arbc_fence_start(struct om_agent *a, enum om_arb_fence_op op,
                                          const char *res, const char *node, uint64_t timeout_ms,
                                          om_arbc_fence_cb cb, void *arg, int *ret_error) {
        struct om_arbc *c = a->arbc;
        if (!c || c->n == 0 || !c->arb[0].running) {
                *ret_error = -ENOTCONN;
                return NULL;
        }
        if (!om_arb_res_name_ok(res) || !node || !node[0] || strlen(node) >= OM_ARB_NAME_MAX ||
            (op == OM_ARB_FENCE && strcmp(node, a->self) == 0)) {
                *ret_error = -EINVAL;
                return NULL;
        }
        struct om_arbc_fence *f = calloc(1, sizeof(*f));
        if (!f) {
                *ret_error = -ENOMEM;
                return NULL;
        }
        f->c = c;
        f->op = op;
        snprintf(f->res, sizeof(f->res), "%s", res);
        snprintf(f->node, sizeof(f->node), "%s", node);
        f->deadline = boot_ms() + timeout_ms;
        f->cb = cb;
        f->arg = arg;
        f->next = c->fences;
        c->fences = f;
        uv_timer_init(&a->loop, &f->timer);
        uv_timer_start(&f->timer, fence_timer, FENCE_RESEND_MS, FENCE_RESEND_MS);
        fence_send(f);
        return f;
}

void om_arbc_fence_cancel(struct om_arbc_fence *f) {
        if (f && !f->done)
                fence_unlink(f);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rxbuf[65536];
        buf->base = rxbuf;
        buf->len = sizeof(rxbuf);
}

static void udp_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags) {
        struct arbc_one *o = container_of(u, struct arbc_one, udp);
        if (nread <= 0 || !addr)
                return;
        if (flags & UV_UDP_PARTIAL) {
                o->drops[AD_GARBAGE]++;
                return;
        }
        on_answer(o, (const uint8_t *)buf->base, (size_t)nread);
}

enum om_arb_count om_arbc_count(struct om_agent *a, size_t k) {
        struct om_arbc *c = a->arbc;
        if (!c || k >= c->n)
                return OM_ARB_COUNT_NONE;
        struct om_arb_set view = view_now(a);
        enum om_arb_count cnt = om_arb_license_count(&c->arb[k].lic, &view, boot_ms());
        log_count(&c->arb[k], cnt);
        return cnt;
}

int om_arbc_keys_set(struct om_agent *a, const struct om_cluster_keyring *ring) {
        struct om_arbc *c = a->arbc;
        if (!c)
                return 0;
        return om_cluster_key_derive_from(ring->secrets[0], OM_FRAME_KDF_ID, OM_ARB_KDF_CTX,
                                          c->key);
}

int om_arbc_start(struct om_agent *a) {
        if (!a->cfg->n_arb)
                return 0;
        struct om_arbc *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->a = a;
        a->arbc = c;
        struct om_cluster_keyring ring;
        int r = om_cluster_keyring_load(&ring);
        if (r == 0)
                r = om_arbc_keys_set(a, &ring);
        om_cluster_keyring_wipe(&ring);
        if (r < 0)
                return r;
        c->n = a->cfg->n_arb;
        const char *self_addr = om_cl_config_node_addr(a->cfg, (size_t)a->self_idx);
        for (size_t k = 0; k < c->n; k++) {
                struct arbc_one *o = &c->arb[k];
                o->c = c;
                o->k = k;
                if (uv_ip4_addr(a->cfg->arb[k].addr, a->cfg->arb[k].port,
                                (struct sockaddr_in *)&o->dst) &&
                    uv_ip6_addr(a->cfg->arb[k].addr, a->cfg->arb[k].port,
                                (struct sockaddr_in6 *)&o->dst))
                        continue;
                uv_udp_init(&a->loop, &o->udp);
                /* from the node's cluster address: the arbitrator must be reachable on the
                 * cluster's network, not through whatever route the host prefers */
                struct sockaddr_storage src = {0};
                bool v6 = o->dst.ss_family == AF_INET6;
                if (!self_addr || (v6 ? uv_ip6_addr(self_addr, 0, (struct sockaddr_in6 *)&src)
                                      : uv_ip4_addr(self_addr, 0, (struct sockaddr_in *)&src)))
                        v6 ? uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&src)
                           : uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&src);
                if ((r = uv_udp_bind(&o->udp, (struct sockaddr *)&src, 0)) < 0 ||
                    (r = uv_udp_recv_start(&o->udp, udp_alloc, udp_recv)) < 0) {
                        om_log_set_component("monitor");
                        log_warning("arbitrator#%zu: cannot open a udp socket: %s", k + 1,
                                    uv_strerror(r));
                        continue;
                }
                o->running = true;
        }
        uv_timer_init(&a->loop, &c->timer);
        ask_all(c);
        c->period = a->interval;
        uv_timer_start(&c->timer, timer_cb, c->period, c->period);
        return 0;
}

void om_arbc_free(struct om_agent *a) {
        struct om_arbc *c = a->arbc;
        if (!c)
                return;
        sodium_memzero(c->key, sizeof(c->key));
        free(c);
        a->arbc = NULL;
}

void om_arbc_pack(struct om_agent *a, msgpack_packer *pk) {
        struct om_arbc *c = a->arbc;
        size_t n = c ? c->n : 0;
        uint64_t now = boot_ms();
        msgpack_pack_array(pk, n);
        for (size_t k = 0; k < n; k++) {
                struct arbc_one *o = &c->arb[k];
                struct om_arb_set view = view_now(a);
                enum om_arb_count cnt = om_arb_license_count(&o->lic, &view, now);
                char name[32];
                snprintf(name, sizeof(name), "arbitrator#%zu", k + 1);
                msgpack_pack_map(pk, 13);
                om_cl_mp_kv_str(pk, "name", name);
                om_cl_mp_kv_str(pk, "uri", a->cfg->arb[k].uri);
                om_cl_mp_kv_i64(pk, "weight", a->cfg->arb[k].weight);
                om_cl_mp_kv_str(pk, "vote", om_arb_count_to_string(cnt));
                om_cl_mp_kv_u64(pk, "lease_left_ms",
                                o->lic.valid && o->lic.until > now ? o->lic.until - now : 0);
                om_cl_mp_kv_str(pk, "answer", o->answered ? om_arb_kind_to_string(o->kind) : "");
                om_cl_mp_kv_str(pk, "reason",
                                o->answered ? om_arb_reason_to_string(o->reason) : "");
                om_cl_mp_kv_str(pk, "holders", o->holders);
                om_cl_mp_kv_u64(pk, "holder_lease_left_ms", o->holder_left_ms);
                om_cl_mp_kv_i64(pk, "last_answer_ms",
                                o->answered ? (int64_t)(now - o->answer_at) : -1);
                om_cl_mp_kv_str(pk, "arbitrator", o->sender);
                om_cl_mp_kv_u64(pk, "tx", o->tx);
                om_cl_mp_str_pack(pk, "rx");
                msgpack_pack_map(pk, 2);
                om_cl_mp_kv_u64(pk, "frames", o->rx);
                om_cl_mp_str_pack(pk, "drops");
                msgpack_pack_map(pk, _AD_MAX);
                for (int i = 0; i < _AD_MAX; i++)
                        om_cl_mp_kv_u64(pk, adrop_names[i], o->drops[i]);
        }
}
