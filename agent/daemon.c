/*
 * The agent's lifecycle and its cluster loop: start-up (config checked before anything
 * is bound, pid file, daemon log, keys, sockets), the periodic tick that beats and
 * judges peers' liveness, the receive path of heartbeats, the local node data and its
 * generation, and a clean stop on SIGTERM. The APIs are in api_local.c and api_peer.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/arb_client.h"
#include "agent/events.h"
#include "agent/hooks.h"
#include "agent/metrics.h"
#include "agent/http.h"
#include "agent/orchestrator.h"
#include "cluster/arb_wire.h"
#include "core/fileio.h"
#include "core/limits.h"
#include "core/tombstone.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"
#include "sodium.h"

static void peer_set_state(struct om_agent *a, struct om_peer *p, enum om_peer_state s,
                           const char *why) {
        if (p->state == s)
                return;
        om_log_set_component("hb");
        log_info("node %s %s => %s%s%s", p->name, om_peer_state_to_string(p->state),
                 om_peer_state_to_string(s), why ? ": " : "", why ? why : "");
        enum om_peer_state was = p->state;
        p->state = s;
        om_orch_kick(a);
        if (s == OM_PEER_UNKNOWN)
                return;
        struct om_ev_build b;
        om_events_begin(a, &b,
                        s == OM_PEER_UP        ? OM_EV_NODE_UP
                        : s == OM_PEER_SUSPECT ? OM_EV_NODE_SUSPECT
                                               : OM_EV_NODE_DOWN);
        om_ev_peer(&b, p->name);
        om_ev_str(&b, "from", om_peer_state_to_string(was));
        if (why)
                om_ev_str(&b, "reason", why);
        om_events_emit(a, &b);
}

void om_hb_kernel_drops(struct om_hb_stream *s) {
        uv_os_fd_t fd;
        uint32_t mem[SK_MEMINFO_VARS];
        socklen_t len = sizeof(mem);
        if (s->disk) /* no socket */
                return;
        if (s->running && uv_fileno((uv_handle_t *)&s->udp, &fd) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
            len > SK_MEMINFO_DROPS * sizeof(mem[0]))
                s->st.drops[OM_HB_DROP_KERNEL] = mem[SK_MEMINFO_DROPS];
}

/* A stream that dropped OM_LIM_EVENTS_HB_DROPS frames or more since the last tick makes
 * an hb_drops event with the count of each reason. */
static void drops_check(struct om_agent *a) {
        for (size_t h = 0; h < a->n_hb; h++) {
                struct om_hb_stream *s = &a->hb[h];
                uint64_t d[_OM_HB_DROP_MAX], total = 0;
                om_hb_kernel_drops(s);
                for (int k = 0; k < _OM_HB_DROP_MAX; k++) {
                        d[k] = s->st.drops[k] - s->drops_seen[k];
                        total += d[k];
                        s->drops_seen[k] = s->st.drops[k];
                }
                if (total < OM_LIM_EVENTS_HB_DROPS)
                        continue;
                struct om_ev_build b;
                om_events_begin(a, &b, OM_EV_HB_DROPS);
                om_ev_str(&b, "stream", a->cfg->hb[h].name);
                om_ev_int(&b, "count", (int64_t)total);
                for (int k = 0; k < _OM_HB_DROP_MAX; k++)
                        if (d[k])
                                om_ev_int(&b, om_hb_drop_to_string(k), (int64_t)d[k]);
                om_events_emit(a, &b);
        }
}

/* ---- beats ---- */

/* A relay stream sends one beat to its arbitrator, behind the cluster name as every
 * frame to an arbitrator (cluster/arb_wire.h); the arbitrator opens it with the cluster's
 * heartbeat key and forwards the frame as it is to the other nodes it heard. */
static void relay_beat(struct om_agent *a, struct om_hb_stream *s, size_t h, const uint8_t *payload,
                       size_t plen) {
        uint8_t frame[OM_HB_UDP_MAX], dgram[OM_HB_UDP_MAX + OM_ARB_CLUSTER_MAX + 1];
        const struct om_cl_config *cfg = a->cfg;
        int k = cfg->hb[h].arb;
        struct om_hb_info info = {.type = OM_HB_BEAT, .keygen = a->keygen, .seq = ++a->seq};
        snprintf(info.sender, sizeof(info.sender), "%s", a->self);
        memcpy(info.boot_id, a->boot_id, OM_HB_BOOT_ID_LEN);
        int flen = om_hb_seal(a->hb_key, &info, payload, plen, frame, sizeof(frame));
        int dlen =
                flen < 0 ? flen
                         : om_arb_dgram_wrap(cfg->name, frame, (size_t)flen, dgram, sizeof(dgram));
        struct sockaddr_storage ss;
        if (dlen < 0 || k < 0 ||
            (uv_ip4_addr(cfg->arb[k].addr, cfg->arb[k].port, (struct sockaddr_in *)&ss) &&
             uv_ip6_addr(cfg->arb[k].addr, cfg->arb[k].port, (struct sockaddr_in6 *)&ss))) {
                s->st.tx_errors++;
                return;
        }
        uv_buf_t b = uv_buf_init((char *)dgram, (unsigned)dlen);
        if (uv_udp_try_send(&s->udp, &b, 1, (struct sockaddr *)&ss) < 0)
                s->st.tx_errors++;
        else {
                s->st.tx_frames++;
                s->st.tx_bytes += (uint64_t)dlen;
        }
}

int om_agent_beat_payload(struct om_agent *a, uint64_t lends[OM_HB_HEARS_WORDS], uint8_t *out,
                          size_t outmax) {
        uint64_t hears[OM_HB_HEARS_WORDS] = {0};
        memset(lends, 0, OM_HB_HEARS_WORDS * sizeof(*lends));
        const struct om_view v = om_agent_view(a);
        for (size_t i = 0; i < a->n_peers && i < 64 * OM_HB_HEARS_WORDS; i++) {
                if (!a->peers[i].self && om_view_heard(&v, i))
                        hears[i / 64] |= 1ull << (i % 64);
                if (om_view_endorses(&v, i))
                        lends[i / 64] |= 1ull << (i % 64);
        }
        return om_hb_beat_pack(a->cfg->name, a->local.gen, om_now_ms(), hears, lends, out, outmax);
}

void om_agent_endorsed(struct om_agent *a, const uint64_t lends[OM_HB_HEARS_WORDS], uint64_t when) {
        for (size_t i = 0; i < a->n_peers && i < 64 * OM_HB_HEARS_WORDS; i++)
                if (lends[i / 64] >> (i % 64) & 1)
                        a->peers[i].endorsed_at = OM_MAX(a->peers[i].endorsed_at, when);
}

static void send_beats(struct om_agent *a) {
        uint8_t payload[256], frame[OM_HB_UDP_MAX];
        uint64_t lends[OM_HB_HEARS_WORDS];
        /* the loop time may lag by this turn's work: a promise counts from its real send */
        uv_update_time(&a->loop);
        int plen = om_agent_beat_payload(a, lends, payload, sizeof(payload));
        if (plen < 0)
                return;
        bool net = false; /* a disk stream promises when its write completes (hb_disk.c) */
        for (size_t h = 0; h < a->n_hb; h++)
                net |= a->hb[h].running && !a->hb[h].disk;
        if (net)
                om_agent_endorsed(a, lends, uv_now(&a->loop));
        for (size_t h = 0; h < a->n_hb; h++) {
                struct om_hb_stream *s = &a->hb[h];
                if (!s->running || s->disk) /* a disk stream writes on its own timer */
                        continue;
                if (a->cfg->hb[h].relay) {
                        relay_beat(a, s, h, payload, (size_t)plen);
                        continue;
                }
                for (size_t i = 0; i < a->n_peers; i++) {
                        if (a->peers[i].self)
                                continue;
                        struct om_hb_info info = {
                                .type = OM_HB_BEAT, .keygen = a->keygen, .seq = ++a->seq};
                        snprintf(info.sender, sizeof(info.sender), "%s", a->self);
                        memcpy(info.boot_id, a->boot_id, OM_HB_BOOT_ID_LEN);
                        int flen = om_hb_seal(a->hb_key, &info, payload, (size_t)plen, frame,
                                              sizeof(frame));
                        if (flen < 0)
                                continue;
                        struct sockaddr_storage ss;
                        const char *addr = a->cfg->hb[h].addrs[i];
                        if (uv_ip4_addr(addr, a->cfg->hb[h].port, (struct sockaddr_in *)&ss) &&
                            uv_ip6_addr(addr, a->cfg->hb[h].port, (struct sockaddr_in6 *)&ss)) {
                                s->st.tx_errors++;
                                continue;
                        }
                        uv_buf_t b = uv_buf_init((char *)frame, (unsigned)flen);
                        int r = uv_udp_try_send(&s->udp, &b, 1, (struct sockaddr *)&ss);
                        if (r < 0)
                                s->st.tx_errors++;
                        else {
                                s->st.tx_frames++;
                                s->st.tx_bytes += (uint64_t)flen;
                                a->peers[i].tx_frames[h]++;
                        }
                }
        }
}

static void hb_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rxbuf[65536];
        buf->base = rxbuf;
        buf->len = sizeof(rxbuf);
}

static void hb_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
        struct om_hb_stream *s = container_of(u, struct om_hb_stream, udp);
        struct om_agent *a = s->agent;
        struct om_hb_beat beat;
        if (nread < 0 || !addr)
                return;
        if (flags & UV_UDP_PARTIAL) {
                s->st.drops[OM_HB_DROP_SIZE]++;
                return;
        }
        struct om_hb_rx_ctx ctx = om_agent_hb_rx_ctx(a, a->windows, OM_HB_BEAT);
        if (om_hb_receive(&ctx, &s->st, (const uint8_t *)buf->base, (size_t)nread, &beat) < 0)
                return;
        om_agent_beat_accepted(a, s->index, &beat, uv_now(&a->loop));
}

struct om_hb_rx_ctx om_agent_hb_rx_ctx(const struct om_agent *a, struct om_hb_window *windows,
                                       enum om_hb_type type) {
        return (struct om_hb_rx_ctx){.key = a->hb_key,
                                     .keygen = a->keygen,
                                     .key_alt = a->rotation != OM_ROT_NONE ? a->hb_key_alt : NULL,
                                     .keygen_alt = a->keygen_alt,
                                     .cluster = a->cfg->name,
                                     .self = a->self,
                                     .n_nodes = a->cfg->n_nodes,
                                     .nodes = (const char(*)[64])a->cfg->nodes,
                                     .windows = windows,
                                     .type = type};
}

void om_agent_beat_accepted(struct om_agent *a, int stream, const struct om_hb_beat *beat,
                            uint64_t when) {
        struct om_peer *p = &a->peers[beat->node];
        p->last_rx = OM_MAX(p->last_rx, when);
        p->last_rx_hb[stream] = OM_MAX(p->last_rx_hb[stream], when);
        p->rx_frames[stream]++;
        p->gen_announced = beat->gen;
        /* each stream keeps its own replay windows: a restart is logged by the first */
        bool restarted = beat->new_boot && p->have_data &&
                         memcmp(p->boot_id, beat->boot_id, OM_HB_BOOT_ID_LEN) != 0;
        memcpy(p->boot_id, beat->boot_id, OM_HB_BOOT_ID_LEN);
        p->hears_known = beat->hears_known;
        memcpy(p->hears, beat->hears, sizeof(p->hears));
        p->lends_known = beat->lends_known;
        memcpy(p->lends, beat->lends, sizeof(p->lends));
        if (restarted) {
                om_log_set_component("hb");
                log_info("node %s restarted (new boot id)", p->name);
        }
        peer_set_state(a, p, OM_PEER_UP, NULL);
        if (p->unsure || !p->have_data ||
            memcmp(p->data_boot, beat->boot_id, OM_HB_BOOT_ID_LEN) != 0 ||
            p->data.gen < beat->gen) {
                if (!p->pulling)
                        p->pull_stalls = a->stalls;
                om_api_peer_pull(a, beat->node);
        }
}

static void judge_cb(uv_timer_t *t);

/*
 * Liveness, and the stall guard.
 *
 * Problem: a peer is declared stale when no valid frame came from it for `timeout`. The
 * clock that measures this runs in our own process: when our loop does not run (the
 * process was stopped, swapped out, or the machine starved it of CPU) frames pile up
 * unread in the socket buffer and the timer fires late, all at once, so a naive check
 * would find every peer silent for longer than `timeout` and declare the whole cluster
 * down, when the only thing that stopped was us.
 *
 * Behaviour: the tick is due every `interval`; when it fires later than due by half of
 * `timeout` or more (and at least one interval), the tick counts a stall and resets the
 * last-seen time of every peer to now, instead of judging them. Peers then get a full
 * `timeout` of fresh listening, which the frames queued during the stall usually answer
 * at once. Until a peer is heard again with fresh data it does not count for the quorum
 * (cluster/cl_view.h): the quorum is then in doubt, which starts nothing and applies no
 * split action. Otherwise failure detection goes in stages, never on one missed packet: a
 * peer silent for two intervals is "suspect" (shown, nothing acts on it), silent for
 * `timeout` it is "down". Any valid frame makes it "up".
 *
 * Reason: a stalled node cannot tell how long it was gone from the peers' point of view
 * without their frames, so it must not act on its own pause; the peers, whose loops ran,
 * did see it go silent and rightly declare it down. The cost is that a real failure
 * during our own stall is detected one `timeout` after we wake, which errs on the safe
 * side (no false takeover).
 */
static void judge_peers(struct om_agent *a, uint64_t now) {
        for (size_t i = 0; i < a->n_peers; i++) {
                struct om_peer *p = &a->peers[i];
                if (p->self)
                        continue;
                enum om_peer_state s = om_peer_judge(p, now, a->interval, a->timeout);
                if (s == OM_PEER_DOWN && p->state != OM_PEER_DOWN) {
                        char why[64];
                        snprintf(why, sizeof(why), "no valid frame for %llums",
                                 (unsigned long long)(now - p->last_rx));
                        peer_set_state(a, p, s, why);
                } else
                        peer_set_state(a, p, s, NULL);
        }
        /* The tick judges once per interval, so a peer would be seen down up to one
         * interval after its `timeout` of silence (a second with the defaults, on the
         * failover's critical path): a one-shot timer judges again at the earliest
         * deadline. It does not judge when it fires late by a stall (the tick, late
         * too, resets the last-seen times instead). */
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < a->n_peers; i++)
                if (!a->peers[i].self && a->peers[i].state != OM_PEER_DOWN &&
                    a->peers[i].state != OM_PEER_UNKNOWN)
                        next = OM_MIN(next, a->peers[i].last_rx + a->timeout + 1);
        if (next == UINT64_MAX)
                return;
        a->judge_due = OM_MAX(next, now);
        uv_timer_start(&a->judge, judge_cb, a->judge_due - now, 0);
}

/* after this turn's I/O: frames that arrived meanwhile count before a peer is judged */
static void judge_check_cb(uv_check_t *c) {
        struct om_agent *a = container_of(c, struct om_agent, judge_check);
        uv_check_stop(c);
        judge_peers(a, uv_now(&a->loop));
}

static void judge_cb(uv_timer_t *t) {
        struct om_agent *a = container_of(t, struct om_agent, judge);
        uint64_t now = uv_now(&a->loop);
        uint64_t late = now > a->judge_due ? now - a->judge_due : 0;
        if (late >= OM_MAX(a->interval, a->timeout / 2))
                return;
        uv_check_start(&a->judge_check, judge_check_cb);
}

static void tick_cb(uv_timer_t *t) {
        struct om_agent *a = container_of(t, struct om_agent, tick);
        uint64_t now = uv_now(&a->loop);
        uint64_t late = now > a->tick_due ? now - a->tick_due : 0;
        uint64_t limit = OM_MAX(a->interval, a->timeout / 2);
        a->tick_due = now + a->interval;
        if (late >= limit) {
                a->stalls++;
                a->stall_max_ms = OM_MAX(a->stall_max_ms, late);
                a->stall_until = now + 2 * a->timeout;
                om_log_set_component("hb");
                log_warning("loop stalled %llums: peers' last-seen reset, not judged",
                            (unsigned long long)late);
                for (size_t i = 0; i < a->n_peers; i++) {
                        a->peers[i].last_rx = now;
                        om_peer_stalled(&a->peers[i]);
                }
                om_orch_kick(a);
        }
        send_beats(a);
        judge_peers(a, now);
        drops_check(a);
}

/* ---- local node data ---- */

/* Installs nd (collected by om_cl_nodedata_collect) as the local node data: a new
 * generation, beaten at once, when it says something new. Takes nd over. */
static void local_apply(struct om_agent *a, struct om_cl_nodedata *nd, bool frozen) {
        nd->frozen = frozen;
        om_orch_fill(a, nd);
        om_repl_kick(a);
        om_cl_nodedata_metrics_settle(&a->local, nd);
        if (a->local.gen && om_cl_nodedata_same(nd, &a->local)) {
                om_cl_nodedata_done(nd);
                return;
        }
        nd->gen = a->local.gen + 1;
        om_cl_nodedata_done(&a->local);
        a->local = *nd;
        a->beat_now = true;
        om_log_set_component("daemon");
        log_info("node data generation %llu", (unsigned long long)nd->gen);
}

/* After a change this node made or was told of (an action ended, an object installed,
 * the CLI's ping): read at once, on the loop thread, so what follows sees it. */
void om_agent_rescan(struct om_agent *a) {
        struct om_cl_nodedata nd = {0};
        a->scan_seq++; /* a periodic scan in flight now reads older files: dropped */
        if (om_cl_nodedata_collect(&nd) < 0)
                return;
        local_apply(a, &nd, om_cl_node_frozen());
}

/* The periodic scan (changes nobody told the agent of) reads the object and status
 * files in the thread pool, so the loop never waits on the disk for it. */
struct scan_job {
        uv_work_t work;
        struct om_agent *a;
        uint64_t seq;
        uint64_t horizon; /* tombstones below it are collected first */
        int gc;           /* how many were */
        int r;
        bool frozen;
        struct om_cl_nodedata nd;
};

uint64_t om_tombstone_horizon(struct om_agent *a) {
        uint64_t now = om_now_ms(), ttl = a->cfg->tombstone_ttl_ms;
        return now > ttl ? (now - ttl) << 16 : 0;
}

static void scan_work_cb(uv_work_t *w) {
        struct scan_job *j = container_of(w, struct scan_job, work);
        j->gc = om_tombstone_gc(j->horizon);
        j->r = om_cl_nodedata_collect(&j->nd);
        j->frozen = om_cl_node_frozen();
}

static void scan_after_cb(uv_work_t *w, int status) {
        struct scan_job *j = container_of(w, struct scan_job, work);
        struct om_agent *a = j->a;
        a->scan_inflight = false;
        if (status == 0 && j->gc != 0) {
                om_log_set_component("repl");
                if (j->gc > 0)
                        log_info("%d tombstone%s older than tombstone_ttl collected", j->gc,
                                 j->gc > 1 ? "s" : "");
                else
                        log_warning("cannot collect old tombstones: %s", strerror(-j->gc));
        }
        if (status == 0 && j->r == 0 && !a->stopping && j->seq == a->scan_seq)
                local_apply(a, &j->nd, j->frozen);
        else if (j->r == 0)
                om_cl_nodedata_done(&j->nd);
        free(j);
}

static void scan_cb(uv_timer_t *t) {
        struct om_agent *a = container_of(t, struct om_agent, scan);
        if (a->scan_inflight || a->stopping)
                return;
        struct scan_job *j = calloc(1, sizeof(*j));
        if (!j)
                return;
        j->a = a;
        j->seq = a->scan_seq;
        j->horizon = om_tombstone_horizon(a);
        j->r = -1;
        if (uv_queue_work(&a->loop, &j->work, scan_work_cb, scan_after_cb) < 0) {
                free(j);
                return;
        }
        a->scan_inflight = true;
}

/* The work the pieces asked for with todo bits, once each, before the loop sleeps; a
 * piece's work may ask for more (an evaluation that changed a state asks for a rescan),
 * done in the next round, a few rounds at most. */
static void before_sleep_cb(uv_prepare_t *p) {
        struct om_agent *a = container_of(p, struct om_agent, before_sleep);
        for (int round = 0; a->todo && !a->stopping && round < 8; round++) {
                unsigned todo = a->todo;
                a->todo = 0;
                if (todo & OM_TODO_RESCAN)
                        om_agent_rescan(a);
                if (todo & OM_TODO_EVAL)
                        om_orch_eval(a);
                if (todo & OM_TODO_REPL)
                        om_repl_pass(a);
                if (todo & (OM_TODO_RESCAN | OM_TODO_EVAL))
                        om_events_scan(a);
        }
        if (a->beat_now) {
                a->beat_now = false;
                send_beats(a);
        }
}

void om_agent_peer_data(struct om_agent *a, int node, const uint8_t boot[OM_HB_BOOT_ID_LEN],
                        struct om_cl_nodedata *nd) {
        struct om_peer *p = &a->peers[node];
        bool same_boot = p->have_data && memcmp(p->data_boot, boot, OM_HB_BOOT_ID_LEN) == 0;
        bool current = p->pull_stalls == a->stalls; /* asked after our last stall */
        if (same_boot && nd->gen <= p->data.gen) {
                if (current && p->unsure) {
                        om_peer_seen(p);
                        om_orch_kick(a);
                }
                return;
        }
        om_cl_nodedata_done(&p->data);
        p->data = *nd;
        *nd = (struct om_cl_nodedata){0};
        memcpy(p->data_boot, boot, OM_HB_BOOT_ID_LEN);
        p->have_data = true;
        if (current)
                om_peer_seen(p);
        om_log_set_component("daemon");
        log_info("node %s data generation %llu received", p->name, (unsigned long long)p->data.gen);
        om_orch_kick(a);
        om_repl_kick(a);
}

/* ---- config and peers ---- */

static int setup_peers(struct om_agent *a, struct om_cl_config *cfg) {
        struct om_peer *peers = calloc(cfg->n_nodes, sizeof(*peers));
        struct om_hb_window *win = calloc(cfg->n_nodes, sizeof(*win));
        uint64_t now = uv_now(&a->loop);
        if (!peers || !win) {
                free(peers);
                free(win);
                return -ENOMEM;
        }
        int from[OM_CL_NODES_MAX];
        for (size_t i = 0; i < cfg->n_nodes; i++) {
                struct om_peer *p = &peers[i];
                bool found = false;
                from[i] = -1;
                for (size_t j = 0; j < a->n_peers; j++)
                        if (strcmp(a->peers[j].name, cfg->nodes[i]) == 0) {
                                *p = a->peers[j];
                                a->peers[j].data = (struct om_cl_nodedata){0};
                                win[i] = a->windows[j];
                                from[i] = (int)j;
                                found = true;
                        }
                if (found)
                        continue;
                snprintf(p->name, sizeof(p->name), "%s", cfg->nodes[i]);
                p->self = strcmp(p->name, a->self) == 0;
                p->state = p->self ? OM_PEER_UP : OM_PEER_UNKNOWN;
                p->last_rx = now;
                /* an earlier run of this agent may have told it we hear it just before it
                 * ended: that promise is assumed, from now (cl_view.h) */
                p->endorsed_at = p->self ? 0 : now;
        }
        for (size_t j = 0; j < a->n_peers; j++)
                om_cl_nodedata_done(&a->peers[j].data);
        free(a->peers);
        free(a->windows);
        a->peers = peers;
        a->windows = win;
        a->n_peers = cfg->n_nodes;
        free(a->cfg);
        a->cfg = cfg;
        a->self_idx = om_cl_config_node_index(cfg, a->self);
        om_hbd_nodes_moved(a, from, cfg->n_nodes);
        return 0;
}

int om_agent_keys_set(struct om_agent *a, const struct om_cluster_keyring *ring) {
        int r = 0;
        for (size_t i = 0; i < ring->n && r == 0; i++) {
                uint8_t *hb = i ? a->hb_key_alt : a->hb_key,
                        *peer = i ? a->peer_key_alt : a->peer_key;
                if ((r = om_cluster_key_derive_from(ring->secrets[i], OM_FRAME_KDF_ID, "hbframe_",
                                                    hb)) == 0)
                        r = om_cluster_key_derive_from(ring->secrets[i], OM_FRAME_KDF_ID,
                                                       "peerapi_", peer);
        }
        if (r == 0)
                r = om_arbc_keys_set(a, ring);
        if (r < 0)
                return r;
        a->keygen = ring->gens[0];
        a->keygen_alt = ring->n == 2 ? ring->gens[1] : 0;
        a->rotation = ring->state;
        if (ring->n == 1) {
                sodium_memzero(a->hb_key_alt, sizeof(a->hb_key_alt));
                sodium_memzero(a->peer_key_alt, sizeof(a->peer_key_alt));
        }
        return a->repl ? om_repl_keys_set(a, ring) : 0;
}

int om_agent_keys_load(struct om_agent *a) {
        struct om_cluster_keyring ring;
        int r = om_cluster_keyring_load(&ring);
        if (r == 0)
                r = om_agent_keys_set(a, &ring);
        om_cluster_keyring_wipe(&ring);
        return r;
}

int om_agent_reload(struct om_agent *a) {
        struct om_cl_config *cfg = NULL;
        char err[512];
        int r = om_cl_config_load(a->self, &cfg, err, sizeof(err));
        if (r < 0) {
                om_log_set_component("daemon");
                return log_error_errno(r, "cluster.conf reload refused: %s", err);
        }
        /* streams and addresses stay as bound: only the node list may grow */
        if (cfg->n_hb != a->cfg->n_hb) {
                free(cfg);
                return log_error_errno(-EINVAL, "cluster.conf reload: heartbeat sections "
                                                "changed, restart the agent");
        }
        r = setup_peers(a, cfg);
        if (r < 0) {
                free(cfg);
                return r;
        }
        om_log_set_component("daemon");
        if ((r = om_agent_keys_load(a)) < 0) /* the secrets came with the file */
                return log_error_errno(r, "cluster.conf reload: cannot read its secrets: %m");
        log_info("cluster.conf reloaded: %zu nodes", a->n_peers);
        return 0;
}

/* The receive buffer for the beat rate of the cluster (core/limits.h): forced past the
 * system's rmem_max when the agent may (CAP_NET_ADMIN), else as large as it allows. */
static void hb_rcvbuf(struct om_agent *a, struct om_hb_stream *s) {
        uv_os_fd_t fd;
        uint64_t beats = a->interval ? a->timeout / a->interval + 1 : 1;
        uint64_t want = (uint64_t)a->n_peers * beats * OM_LIM_HB_RCVBUF_TIMEOUTS *
                        OM_LIM_HB_RCVBUF_PER_DATAGRAM;
        want = want < OM_LIM_HB_RCVBUF_MIN   ? OM_LIM_HB_RCVBUF_MIN
               : want > OM_LIM_HB_RCVBUF_MAX ? OM_LIM_HB_RCVBUF_MAX
                                             : want;
        int v = (int)want / 2; /* the kernel doubles it for its bookkeeping */
        socklen_t len = sizeof(s->rcvbuf);
        if (uv_fileno((uv_handle_t *)&s->udp, &fd) < 0)
                return;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
        if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->rcvbuf, &len) < 0)
                s->rcvbuf = 0;
}

static int hb_start(struct om_agent *a, size_t h) {
        struct om_hb_stream *s = &a->hb[h];
        if (a->cfg->hb[h].disk)
                return om_hbd_start(a, h);
        struct sockaddr_storage ss;
        const char *addr = a->cfg->hb[h].addrs[a->self_idx];
        /* a relay stream receives what its arbitrator forwards to the port it sends from */
        uint16_t port = a->cfg->hb[h].relay ? 0 : a->cfg->hb[h].port;
        s->agent = a;
        s->index = (int)h;
        if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) &&
            uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss))
                return -EINVAL;
        snprintf(s->bind, sizeof(s->bind), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
        int r = uv_udp_init(&a->loop, &s->udp);
        if (r < 0)
                return r;
        r = uv_udp_bind(&s->udp, (struct sockaddr *)&ss, 0);
        if (r == 0) {
                hb_rcvbuf(a, s);
                r = uv_udp_recv_start(&s->udp, hb_alloc, hb_recv);
        }
        if (r < 0) {
                fprintf(stderr, "om: %s: cannot bind udp %s: %s\n", a->cfg->hb[h].name, s->bind,
                        uv_strerror(r));
                return r;
        }
        s->running = true;
        return 0;
}

/* ---- lifecycle ---- */

static void on_signal(uv_signal_t *s, int signum) {
        struct om_agent *a = s->data;
        om_log_set_component("daemon");
        log_info("signal %d: stopping", signum);
        om_agent_stop(a);
}

static void close_walk(uv_handle_t *h, void *arg) {
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

void om_agent_stop(struct om_agent *a) {
        if (a->stopping)
                return;
        a->stopping = true;
        uv_stop(&a->loop);
}

static int pidfile_take(struct om_agent *a, char **ret_path) {
        char *file = om_asprintf("%s/daemon.pid", om_dir_run());
        int fd, r;
        if (!file)
                return -ENOMEM;
        r = om_lock_file(file, false, &fd);
        if (r == -EWOULDBLOCK) {
                _cleanup_free_ char *txt = NULL;
                (void)om_read_file(file, 64, &txt, NULL);
                fprintf(stderr, "om: an agent already runs here (pid %s)\n",
                        txt ? om_strstrip(txt) : "?");
                free(file);
                return -EBUSY;
        }
        if (r < 0) {
                fprintf(stderr, "om: cannot lock %s: %s\n", file, strerror(-r));
                free(file);
                return r;
        }
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
                close(fd);
                free(file);
                return -errno;
        }
        a->pid_fd = fd;
        *ret_path = file;
        return 0;
}

int om_agent_run(void) {
        struct om_agent *a = calloc(1, sizeof(*a));
        struct om_cl_config *cfg = NULL;
        _cleanup_free_ char *pidfile = NULL, *logfile = NULL;
        char err[512];
        int r;
        if (!a)
                return -ENOMEM;
        a->pid_fd = -1;
        snprintf(a->self, sizeof(a->self), "%s", om_nodename());
        /* the keys derived below live in this process: no core file holds them, no other
         * user may ptrace it (the flag does not survive the exec of a child) */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                fprintf(stderr, "om: cannot make the agent undumpable: %s\n", strerror(errno));

        /* 1. the config, checked before anything is bound or written */
        r = om_cl_config_load(a->self, &cfg, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "om: %s\n", r == -EINVAL ? err : strerror(-r));
                free(a);
                return r;
        }
        if ((r = om_agent_keys_load(a)) < 0) {
                fprintf(stderr, "om: cannot read the cluster secret: %s\n", strerror(-r));
                free(cfg);
                free(a);
                return r;
        }

        /* 2. pid file and log */
        if ((r = om_mkdir_p(om_dir_run(), 0755)) < 0 || (r = om_mkdir_p(om_dir_log(), 0755)) < 0 ||
            (r = pidfile_take(a, &pidfile)) < 0) {
                if (r != -EBUSY)
                        fprintf(stderr, "om: cannot set up %s: %s\n", om_dir_run(), strerror(-r));
                free(cfg);
                free(a);
                return r;
        }
        logfile = om_asprintf("%s/daemon.log", om_dir_log());
        if (!logfile || om_log_open_daemon(logfile) < 0)
                fprintf(stderr, "om: cannot open the daemon log %s\n", logfile ? logfile : "");
        om_log_set_component("daemon");
        (void)om_tmp_sweep(om_dir_etc()); /* temporary files of killed writers */
        (void)om_tmp_sweep(om_dir_var());

        /* 3. loop, sockets, timers */
        uv_loop_init(&a->loop);
        a->started = uv_now(&a->loop);
        a->started_wall = om_now_ms();
        om_hb_boot_id_new(a->boot_id);
        if ((r = setup_peers(a, cfg)) < 0) {
                free(cfg);
                goto out;
        }
        a->interval = 1000;
        a->timeout = 3000;
        if (a->cfg->n_hb) {
                a->interval = a->cfg->hb[0].interval_ms;
                a->timeout = a->cfg->hb[0].timeout_ms;
                for (size_t h = 1; h < a->cfg->n_hb; h++) {
                        a->interval = OM_MIN(a->interval, a->cfg->hb[h].interval_ms);
                        a->timeout = OM_MAX(a->timeout, a->cfg->hb[h].timeout_ms);
                }
        }
        a->n_hb = a->cfg->n_hb;
        if ((r = om_events_start(a)) < 0)
                goto out;
        for (size_t h = 0; h < a->n_hb; h++)
                if ((r = hb_start(a, h)) < 0)
                        goto out;
        if ((r = om_repl_start(a)) < 0 || (r = om_api_peer_start(a)) < 0 ||
            (r = om_api_local_start(a)) < 0 || (r = om_http_start(a)) < 0)
                goto out;

        uv_signal_init(&a->loop, &a->sigterm);
        uv_signal_init(&a->loop, &a->sigint);
        a->sigterm.data = a->sigint.data = a;
        uv_signal_start(&a->sigterm, on_signal, SIGTERM);
        uv_signal_start(&a->sigint, on_signal, SIGINT);
        signal(SIGPIPE, SIG_IGN);
        om_agent_rescan(a);
        if ((r = om_orch_start(a)) < 0)
                goto out;
        uv_timer_init(&a->loop, &a->tick);
        uv_timer_init(&a->loop, &a->judge);
        uv_check_init(&a->loop, &a->judge_check);
        uv_timer_init(&a->loop, &a->scan);
        a->tick_due = uv_now(&a->loop) + a->interval;
        uv_timer_start(&a->tick, tick_cb, a->interval, a->interval);
        uv_timer_start(&a->scan, scan_cb, a->interval, a->interval);
        uv_prepare_init(&a->loop, &a->before_sleep);
        uv_prepare_start(&a->before_sleep, before_sleep_cb);

        om_log_set_component("daemon");
        log_info("agent started: om " OM_VERSION
                 ", pid %d, cluster %s, %zu nodes, %zu heartbeat streams",
                 (int)getpid(), a->cfg->name, a->n_peers, a->n_hb);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        om_log_set_component("daemon");
        log_info("agent stopped");
        r = 0;
out:
        om_http_stop(a);
        uv_walk(&a->loop, close_walk, NULL);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        uv_loop_close(&a->loop);
        if (a->api_path && a->api_bound)
                unlink(a->api_path);
        if (pidfile)
                unlink(pidfile);
        if (a->pid_fd >= 0)
                close(a->pid_fd);
        om_orch_free(a);
        for (size_t i = 0; i < a->n_peers; i++)
                om_cl_nodedata_done(&a->peers[i].data);
        om_cl_nodedata_done(&a->local);
        om_repl_free(a);
        om_rot_free(a);
        om_api_peer_free(a);
        om_hooks_free(a);
        om_events_free(a);
        om_metrics_free(a);
        om_http_free(a);
        sodium_memzero(a->hb_key, sizeof(a->hb_key));
        sodium_memzero(a->peer_key, sizeof(a->peer_key));
        sodium_memzero(a->hb_key_alt, sizeof(a->hb_key_alt));
        sodium_memzero(a->peer_key_alt, sizeof(a->peer_key_alt));
        free(a->peers);
        free(a->windows);
        free(a->cfg);
        free(a->api_path);
        free(a);
        return r;
}
