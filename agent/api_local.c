/*
 * The local API: a unix stream socket `<run>/api.sock`, mode 0600, whose clients must be
 * root or run as the agent's uid (SO_PEERCRED); when a group `om` exists the socket is
 * 0660 of that group and its members may call the read commands (viewer access). Each message is a
 * cluster/frame.h frame holding one msgpack map; requests carry {"v":1, "cmd":...}, replies
 * {"v":1, "ok":bool, "error":str | "data":...}. The commands are the table `commands`
 * below. A malformed request gets an error reply; an oversized or empty one an error
 * reply and the connection closed. The server's limits (core/limits.h): requests of at
 * most OM_LIM_LOCAL_REQUEST_MAX bytes, OM_LIM_LOCAL_CONNS connections (the oldest closed
 * to make room), a request begun and not complete within OM_LIM_LOCAL_FRAME_DEADLINE_MS
 * or a connection idle for OM_LIM_LOCAL_IDLE_MS closed; each closing counted by reason.
 * This file also packs the cluster view that `om mon`, `om node ls` and `om daemon
 * status` render.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/api_cmds.h"
#include "agent/arb_client.h"
#include "agent/events.h"
#include "agent/http.h"
#include "agent/metrics.h"
#include "agent/orchestrator.h"
#include "cluster/cl_mp.h"
#include "cluster/frame.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

/* Why the server closed a connection or refused a request (counted). */
enum local_drop {
        LOCAL_DROP_TOO_LARGE,  /* a request over OM_LIM_LOCAL_REQUEST_MAX */
        LOCAL_DROP_EMPTY,      /* a zero length */
        LOCAL_DROP_EVICTED,    /* closed to make room at OM_LIM_LOCAL_CONNS */
        LOCAL_DROP_REFUSED,    /* new, at the cap with every connection in its grace */
        LOCAL_DROP_INCOMPLETE, /* a request begun, not complete in time */
        LOCAL_DROP_IDLE,       /* no request for OM_LIM_LOCAL_IDLE_MS */
        LOCAL_DROP_CRED,       /* neither root nor the agent's uid */
        LOCAL_DROP_MALFORMED,  /* not a map, no version or cmd, unknown cmd */
        LOCAL_DROP_SLOW,       /* an event subscriber past OM_LIM_EVENTS_SUB_QUEUE unsent */
        _LOCAL_DROP_MAX,
};

static const char *const local_drop_names[_LOCAL_DROP_MAX] = {
        [LOCAL_DROP_TOO_LARGE] = "too_large",   [LOCAL_DROP_EMPTY] = "empty",
        [LOCAL_DROP_EVICTED] = "evicted",       [LOCAL_DROP_REFUSED] = "refused",
        [LOCAL_DROP_INCOMPLETE] = "incomplete", [LOCAL_DROP_IDLE] = "idle",
        [LOCAL_DROP_CRED] = "credentials",      [LOCAL_DROP_MALFORMED] = "malformed",
        [LOCAL_DROP_SLOW] = "slow_subscriber",
};

struct api_conn {
        uv_pipe_t pipe;
        uv_timer_t timer;
        int closing;
        struct om_agent *agent;
        struct om_frame_rx rx;
        bool close_after;
        bool partial; /* the timer runs the incomplete-request deadline */
        uid_t uid;
        bool om_group;               /* not root nor the agent's uid: a member of the om group */
        uint64_t accepted;           /* loop time */
        struct om_ev_sub *sub;       /* an `events` subscriber: no more requests, no idle limit */
        struct om_arbc_fence *fence; /* a drbd_fence request waiting for the arbitrator */
        struct api_conn *prev, *next;
};

struct api_write {
        uv_write_t req;
        struct api_conn *conn;
        msgpack_sbuffer sb;
        bool close_after;
};

static void conn_unlink(struct api_conn *c) {
        struct om_api_conns *l = &c->agent->local_conns;
        if (c->prev)
                c->prev->next = c->next;
        else if (l->head == c)
                l->head = c->next;
        else
                return; /* not linked */
        if (c->next)
                c->next->prev = c->prev;
        else
                l->tail = c->prev;
        c->prev = c->next = NULL;
        l->n--;
}

static void conn_closed(uv_handle_t *h) {
        struct api_conn *c = h->data;
        if (--c->closing > 0)
                return;
        om_frame_rx_free(&c->rx);
        free(c);
}

static void conn_close(struct api_conn *c) {
        if (c->closing)
                return;
        if (c->sub) {
                om_events_unsubscribe(c->agent, c->sub);
                c->sub = NULL;
        }
        if (c->fence) {
                om_arbc_fence_cancel(c->fence);
                c->fence = NULL;
        }
        conn_unlink(c);
        c->closing = 2;
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
        uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void conn_drop(struct api_conn *c, enum local_drop why) {
        c->agent->local_conns.drops[why]++;
        conn_close(c);
}

static void write_done(uv_write_t *req, int status) {
        struct api_write *w = container_of(req, struct api_write, req);
        if (status < 0 || w->close_after)
                conn_close(w->conn);
        msgpack_sbuffer_destroy(&w->sb);
        free(w);
}

/* Starts a reply: reserves the length prefix; the caller packs one map into pk. */
static struct api_write *reply_begin(struct api_conn *c, msgpack_packer *pk) {
        struct api_write *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->conn = c;
        msgpack_sbuffer_init(&w->sb);
        om_frame_sbuf_begin(&w->sb);
        msgpack_packer_init(pk, &w->sb, msgpack_sbuffer_write);
        return w;
}

static void reply_send(struct api_write *w, bool close_after) {
        om_frame_sbuf_end(&w->sb);
        w->close_after = close_after;
        uv_buf_t b = uv_buf_init(w->sb.data, (unsigned)w->sb.size);
        if (uv_write(&w->req, (uv_stream_t *)&w->conn->pipe, &b, 1, write_done) < 0) {
                conn_close(w->conn);
                msgpack_sbuffer_destroy(&w->sb);
                free(w);
        }
}

static void reply_error(struct api_conn *c, const char *msg, bool close_after) {
        msgpack_packer pk;
        struct api_write *w = reply_begin(c, &pk);
        if (!w) {
                conn_close(c);
                return;
        }
        msgpack_pack_map(&pk, 3);
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_bool(&pk, "ok", false);
        om_cl_mp_kv_str(&pk, "error", msg);
        reply_send(w, close_after);
}

/* ---- the cluster view ---- */

static int cmp_str(const void *x, const void *y) {
        return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char *aggregate(const char *const *v, size_t n) {
        bool up = false, warn = false, down = false, na = n > 0;
        for (size_t i = 0; i < n; i++) {
                up |= om_streq(v[i], "up");
                warn |= om_streq(v[i], "warn");
                down |= om_streq(v[i], "down");
                na &= om_streq(v[i], "n/a");
        }
        return warn ? "warn" : up ? "up" : down ? "down" : na ? "n/a" : "undef";
}

static void pack_drops(msgpack_packer *pk, const struct om_hb_stats *st) {
        msgpack_pack_map(pk, _OM_HB_DROP_MAX);
        for (int d = 0; d < _OM_HB_DROP_MAX; d++)
                om_cl_mp_kv_u64(pk, om_hb_drop_to_string(d), st->drops[d]);
}

/* Which kinds of heartbeat a peer is heard on: "net+disk", "disk (net down)" (a node
 * cut from the network whose disk beats go on: alive, nothing taken over), "net (disk
 * down)", "net" when no disk stream is configured, "down", or "-" for this node. */
static const char *hb_paths(const struct om_agent *a, const struct om_peer *p, uint64_t now) {
        bool net = false, disk = false, has_disk = false;
        if (p->self)
                return "-";
        for (size_t h = 0; h < a->n_hb; h++) {
                bool up = p->last_rx_hb[h] && now - p->last_rx_hb[h] <= a->timeout;
                has_disk |= a->hb[h].disk;
                if (a->hb[h].disk)
                        disk |= up;
                else
                        net |= up;
        }
        return net && disk ? "net+disk"
               : disk      ? "disk (net down)"
               : !net      ? "down"
               : has_disk  ? "net (disk down)"
                           : "net";
}

static bool heard_ever(const struct om_agent *a, const struct om_peer *p) {
        for (size_t h = 0; h < a->n_hb; h++)
                if (p->last_rx_hb[h])
                        return true;
        return false;
}

void om_api_view_pack(struct om_agent *a, msgpack_packer *pk) {
        uint64_t now = uv_now(&a->loop);
        const struct om_view v = om_agent_view(a);
        msgpack_pack_map(pk, 6);

        om_cl_mp_str_pack(pk, "arbitrators");
        om_arbc_pack(a, pk);

        om_cl_mp_str_pack(pk, "cluster");
        bool q_have;
        int q_votes, q_total;
        om_orch_quorum(a, &q_have, &q_votes, &q_total);
        msgpack_pack_map(pk, 7);
        om_cl_mp_kv_str(pk, "name", a->cfg->name);
        om_cl_mp_kv_bool(pk, "quorum", a->cfg->quorum);
        om_cl_mp_kv_bool(pk, "quorum_held", q_have);
        om_cl_mp_kv_i64(pk, "votes", q_votes);
        om_cl_mp_kv_i64(pk, "votes_total", q_total);
        om_cl_mp_kv_str(pk, "node", a->self);
        om_cl_mp_kv_u64(pk, "api_port", a->cfg->api_port);

        char boot[2 * OM_HB_BOOT_ID_LEN + 1];
        om_hex_encode(a->boot_id, OM_HB_BOOT_ID_LEN, boot, sizeof(boot));
        om_cl_mp_str_pack(pk, "daemon");
        msgpack_pack_map(pk, 14);
        om_cl_mp_kv_u64(pk, "pid", (uint64_t)getpid());
        om_cl_mp_kv_u64(pk, "secret_gen", a->keygen);
        om_cl_mp_kv_str(pk, "secret_rotation",
                        a->rotation == OM_ROT_NEXT   ? "next installed"
                        : a->rotation == OM_ROT_PREV ? "previous accepted"
                                                     : "none");
        om_cl_mp_kv_u64(pk, "uptime_ms", now - a->started);
        om_cl_mp_kv_str(pk, "boot_id", boot);
        om_cl_mp_kv_u64(pk, "gen", a->local.gen);
        om_cl_mp_kv_u64(pk, "interval_ms", a->interval);
        om_cl_mp_kv_u64(pk, "timeout_ms", a->timeout);
        om_cl_mp_kv_u64(pk, "stalls", a->stalls);
        om_cl_mp_kv_u64(pk, "peer_api_errors", a->peer_rx_errors);
        om_cl_mp_str_pack(pk, "repl");
        om_repl_pack_stats(a, pk);
        om_cl_mp_str_pack(pk, "peer_api");
        om_api_peer_pack_stats(a, pk);
        om_cl_mp_str_pack(pk, "local_api");
        om_api_local_pack_stats(a, pk);
        om_cl_mp_str_pack(pk, "http");
        om_http_pack_stats(a, pk);

        om_cl_mp_str_pack(pk, "hb");
        msgpack_pack_array(pk, a->n_hb);
        for (size_t h = 0; h < a->n_hb; h++) {
                struct om_hb_stream *s = &a->hb[h];
                om_hb_kernel_drops(s);
                msgpack_pack_map(pk, s->disk ? 10 : 8);
                om_cl_mp_kv_str(pk, "name", a->cfg->hb[h].name);
                om_cl_mp_kv_str(pk, "type",
                                s->disk               ? "disk"
                                : a->cfg->hb[h].relay ? "relay"
                                                      : "unicast");
                if (s->disk) {
                        om_cl_mp_str_pack(pk, "io");
                        om_hbd_pack_io(s, pk);
                        om_cl_mp_kv_str(pk, "error", s->error);
                }
                om_cl_mp_kv_str(pk, "addr", s->bind);
                om_cl_mp_kv_str(pk, "state", s->running ? "running" : "stopped");
                om_cl_mp_kv_u64(pk, "rcvbuf", (uint64_t)s->rcvbuf);
                om_cl_mp_str_pack(pk, "rx");
                msgpack_pack_map(pk, 3);
                om_cl_mp_kv_u64(pk, "frames", s->st.rx_frames);
                om_cl_mp_kv_u64(pk, "bytes", s->st.rx_bytes);
                om_cl_mp_str_pack(pk, "drops");
                pack_drops(pk, &s->st);
                om_cl_mp_str_pack(pk, "tx");
                msgpack_pack_map(pk, 3);
                om_cl_mp_kv_u64(pk, "frames", s->st.tx_frames);
                om_cl_mp_kv_u64(pk, "bytes", s->st.tx_bytes);
                om_cl_mp_kv_u64(pk, "errors", s->st.tx_errors);
                om_cl_mp_str_pack(pk, "peers");
                msgpack_pack_map(pk, a->n_peers - (a->self_idx >= 0));
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_peer *p = &a->peers[i];
                        if (p->self)
                                continue;
                        om_cl_mp_str_pack(pk, p->name);
                        msgpack_pack_map(pk, 2);
                        bool seen = p->last_rx_hb[h] != 0;
                        om_cl_mp_kv_i64(pk, "last_rx_age_ms",
                                        seen ? (int64_t)(now - p->last_rx_hb[h]) : -1);
                        om_cl_mp_kv_str(pk, "rx",
                                        seen && now - p->last_rx_hb[h] <= a->timeout ? "up"
                                                                                     : "down");
                }
        }

        om_cl_mp_str_pack(pk, "nodes");
        msgpack_pack_map(pk, a->n_peers);
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_peer *p = &a->peers[i];
                const struct om_cl_nodedata *nd = om_view_data(&v, i);
                om_cl_mp_str_pack(pk, p->name);
                msgpack_pack_map(pk, 10);
                om_cl_mp_kv_str(pk, "state", om_view_state_string(&v, i));
                om_cl_mp_kv_str(pk, "heartbeats", hb_paths(a, p, now));
                om_cl_mp_kv_str(pk, "liveness", om_peer_state_to_string(p->state));
                om_cl_mp_kv_bool(pk, "frozen", nd ? nd->frozen : false);
                om_cl_mp_kv_str(pk, "addr", om_cl_config_node_addr(a->cfg, i));
                om_cl_mp_kv_u64(pk, "gen", nd ? nd->gen : 0);
                om_cl_mp_kv_u64(pk, "gen_announced", p->self ? a->local.gen : p->gen_announced);
                om_cl_mp_kv_i64(pk, "last_seen_ms",
                                p->self ? 0
                                : (p->state == OM_PEER_UNKNOWN || !heard_ever(a, p))
                                        ? -1
                                        : (int64_t)(now - p->last_rx));
                om_cl_mp_kv_str(pk, "monitor", nd ? nd->state : "unknown");
                om_cl_mp_str_pack(pk, "hb");
                msgpack_pack_map(pk, 2);
                bool rx_up = false;
                for (size_t h = 0; h < a->n_hb; h++)
                        rx_up |= p->last_rx_hb[h] && now - p->last_rx_hb[h] <= a->timeout;
                om_cl_mp_kv_str(pk, "rx", p->self ? "-" : rx_up ? "up" : "down");
                bool tx_up = false;
                for (size_t h = 0; h < a->n_hb; h++)
                        tx_up |= a->hb[h].running;
                om_cl_mp_kv_str(pk, "tx", p->self ? "-" : tx_up ? "up" : "down");
        }

        /* objects: the union of every node's instances */
        char **paths = NULL;
        size_t n_paths = 0;
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_cl_nodedata *nd = om_view_data(&v, i);
                for (size_t k = 0; nd && k < nd->n_inst; k++) {
                        bool dup = false;
                        for (size_t j = 0; j < n_paths && !dup; j++)
                                dup = strcmp(paths[j], nd->inst[k].path) == 0;
                        if (dup)
                                continue;
                        char **np = realloc(paths, (n_paths + 1) * sizeof(*paths));
                        if (!np)
                                break;
                        paths = np;
                        paths[n_paths++] = (char *)nd->inst[k].path;
                }
        }
        if (n_paths)
                qsort(paths, n_paths, sizeof(*paths), cmp_str);
        om_cl_mp_str_pack(pk, "objects");
        msgpack_pack_map(pk, n_paths);
        for (size_t j = 0; j < n_paths; j++) {
                const char *avail[OM_CL_NODES_MAX], *overall[OM_CL_NODES_MAX];
                size_t n = 0;
                int leader = om_orch_leader(a, paths[j]);
                const struct om_cl_instance *tin = NULL;
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_instance *in = om_view_inst(&v, i, paths[j]);
                        if (!in)
                                continue;
                        avail[n] = in->avail;
                        overall[n++] = in->overall;
                        if (om_view_alive(&v, i) && in->target_ver &&
                            (!tin || in->target_ver > tin->target_ver))
                                tin = in;
                }
                om_cl_mp_str_pack(pk, paths[j]);
                msgpack_pack_map(pk, 8);
                om_cl_mp_kv_str(pk, "orchestrate", om_orch_orchestrate(a, paths[j]));
                om_cl_mp_kv_str(pk, "placement", om_orch_placement(a, paths[j]));
                om_cl_mp_kv_str(pk, "topology", om_orch_topology(a, paths[j]));
                om_cl_mp_kv_str(pk, "target", tin && !tin->target_done ? tin->target : "");
                om_cl_mp_kv_str(pk, "last_target", tin ? tin->target : "");
                om_cl_mp_kv_str(pk, "avail", aggregate(avail, n));
                om_cl_mp_kv_str(pk, "overall", aggregate(overall, n));
                om_cl_mp_str_pack(pk, "instances");
                msgpack_pack_map(pk, n);
                for (size_t i = 0; i < a->n_peers; i++) {
                        const struct om_cl_nodedata *nd = om_view_data(&v, i);
                        const struct om_cl_instance *in = om_view_inst(&v, i, paths[j]);
                        if (!in)
                                continue;
                        char why[160];
                        om_cl_mp_str_pack(pk, a->peers[i].name);
                        msgpack_pack_map(pk, 11);
                        om_cl_mp_kv_str(pk, "avail", in->avail);
                        om_cl_mp_kv_str(pk, "overall", in->overall);
                        om_cl_mp_kv_bool(pk, "frozen", in->frozen || nd->frozen);
                        om_cl_mp_kv_bool(pk, "provisioned", in->provisioned);
                        om_cl_mp_kv_str(pk, "monitor",
                                        om_mon_to_string(in->monitor ? in->monitor : OM_MON_IDLE));
                        om_cl_mp_kv_bool(pk, "ha_leader", leader == (int)i);
                        om_cl_mp_kv_str(pk, "leader_why",
                                        om_orch_leader_why(a, paths[j], i, why, sizeof(why)));
                        om_cl_mp_kv_bool(pk, "stale", !om_view_alive(&v, i));
                        om_cl_mp_kv_str(pk, "error", in->error);
                        om_cl_mp_kv_str(pk, "diverged", in->diverged);
                        om_cl_mp_kv_str(pk, "standby", in->standby);
                }
        }
        free(paths);
}

/* ---- requests: the command table ---- */

/* A handler packs its whole reply map ({v, ok, data | error}) into pk and returns
 * LOCAL_CLOSE when the connection closes after the reply. */
enum { LOCAL_CLOSE = 1 << 0 };

static void pack_ok(msgpack_packer *pk) {
        msgpack_pack_map(pk, 2);
        om_cl_mp_kv_u64(pk, "v", 1);
        om_cl_mp_kv_bool(pk, "ok", true);
}

/* The head of a reply that carries something: {v: 1, ok: true, <key>: ...}; the caller
 * packs the value of key next. */
static void pack_ok_with(msgpack_packer *pk, const char *key) {
        msgpack_pack_map(pk, 3);
        om_cl_mp_kv_u64(pk, "v", 1);
        om_cl_mp_kv_bool(pk, "ok", true);
        om_cl_mp_str_pack(pk, key);
}

static void pack_error(msgpack_packer *pk, const char *msg) {
        msgpack_pack_map(pk, 3);
        om_cl_mp_kv_u64(pk, "v", 1);
        om_cl_mp_kv_bool(pk, "ok", false);
        om_cl_mp_kv_str(pk, "error", msg);
}

static int cmd_status(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        pack_ok_with(pk, "data");
        om_api_view_pack(a, pk);
        return 0;
}

static int cmd_stop(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        om_log_set_component("daemon");
        log_info("stop requested through the API");
        pack_ok(pk);
        om_agent_stop(a); /* the loop ends after this turn: the reply is written first */
        return LOCAL_CLOSE;
}

static int node_frozen(struct om_agent *a, msgpack_packer *pk, bool frozen) {
        int r = om_cl_node_set_frozen(frozen);
        if (r < 0)
                pack_error(pk, strerror(-r));
        else {
                om_agent_rescan(a);
                pack_ok(pk);
        }
        return 0;
}

static int cmd_node_freeze(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        return node_frozen(a, pk, true);
}

static int cmd_node_thaw(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        return node_frozen(a, pk, false);
}

/* object_set and object_target: the orchestrator packs the whole reply */
static int cmd_orch(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        char cmd[OM_API_CMD_MAX] = "";
        (void)om_cl_mp_get_str(req, "cmd", cmd, sizeof(cmd));
        om_orch_api(a, cmd, req, pk);
        return 0;
}

static int cmd_rescan(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        om_agent_rescan(a);
        pack_ok(pk);
        return 0;
}

static int cmd_reload(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        if (om_agent_reload(a) < 0)
                pack_error(pk, "cluster.conf reload refused (see the daemon log)");
        else
                pack_ok(pk);
        return 0;
}

/* ---- events ---- */

/* One event to a subscriber: {v, ok, event: {seq, ts, kind, text, json}}. A subscriber
 * that does not read is closed once its unsent events pass OM_LIM_EVENTS_SUB_QUEUE. */
static void event_send(void *arg, const struct om_event *e) {
        struct api_conn *c = arg;
        if (c->closing)
                return;
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > OM_LIM_EVENTS_SUB_QUEUE) {
                om_log_set_component("api");
                log_warning("event subscriber closed: %u bytes unsent",
                            (unsigned)uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe));
                conn_drop(c, LOCAL_DROP_SLOW);
                return;
        }
        msgpack_packer pk;
        struct api_write *w = reply_begin(c, &pk);
        if (!w) {
                conn_close(c);
                return;
        }
        pack_ok_with(&pk, "event");
        msgpack_pack_map(&pk, 5);
        om_cl_mp_kv_u64(&pk, "seq", e->seq);
        om_cl_mp_kv_u64(&pk, "ts", e->ts_ms);
        om_cl_mp_kv_str(&pk, "kind", om_ev_kind_to_string(e->kind));
        om_cl_mp_kv_str(&pk, "text", e->text);
        om_cl_mp_kv_str(&pk, "json", e->json);
        reply_send(w, false);
}

/* "events" {since?, boot?, filter?: [term...]}: a first reply {boot, first, last, lost,
 * restarted}, then the events held after `since` (of this agent's boot: another boot's
 * sequence numbers mean nothing here, so all held are sent, restarted = true), then
 * every new one, as long as the connection stays. Without since, only new events. */
static void cmd_events(struct api_conn *c, const msgpack_object *req) {
        struct om_agent *a = c->agent;
        struct om_ev_filter f = {0};
        char err[320], boot[2 * OM_HB_BOOT_ID_LEN + 1], cboot[2 * OM_HB_BOOT_ID_LEN + 8] = "";
        const struct om_ev_ring *ring = om_events_ring(a);
        uint64_t since = ring->last;
        bool restarted = false;
        om_hex_encode(a->boot_id, OM_HB_BOOT_ID_LEN, boot, sizeof(boot));
        const msgpack_object *fl = om_cl_mp_get(req, "filter");
        if (fl && fl->type != MSGPACK_OBJECT_ARRAY) {
                reply_error(c, "malformed request: filter is not an array", false);
                return;
        }
        for (uint32_t i = 0; fl && i < fl->via.array.size; i++) {
                const msgpack_object *t = &fl->via.array.ptr[i];
                char term[OM_EV_FILTER_LEN + 2];
                if (t->type != MSGPACK_OBJECT_STR || t->via.str.size >= sizeof(term)) {
                        om_ev_filter_free(&f);
                        reply_error(c,
                                    "malformed request: a filter is not a string of 256 "
                                    "characters at most",
                                    false);
                        return;
                }
                memcpy(term, t->via.str.ptr, t->via.str.size);
                term[t->via.str.size] = 0;
                if (om_ev_filter_add(&f, term, err, sizeof(err)) < 0) {
                        om_ev_filter_free(&f);
                        reply_error(c, err, false);
                        return;
                }
        }
        if (om_cl_mp_get(req, "since") && om_cl_mp_get_u64(req, "since", &since) < 0) {
                om_ev_filter_free(&f);
                reply_error(c, "malformed request: since is not a sequence number", false);
                return;
        }
        if (om_cl_mp_get(req, "boot") && (om_cl_mp_get_str(req, "boot", cboot, sizeof(cboot)) < 0 ||
                                          strlen(cboot) != strlen(boot))) {
                om_ev_filter_free(&f);
                reply_error(c, "malformed request: boot is not an agent boot id", false);
                return;
        }
        if (cboot[0] && strcmp(cboot, boot) != 0) {
                restarted = true;
                since = 0;
        }
        if (since > ring->last)
                since = ring->last; /* a sequence this boot never gave: nothing missed */
        msgpack_packer pk;
        struct api_write *w = reply_begin(c, &pk);
        if (!w) {
                om_ev_filter_free(&f);
                conn_close(c);
                return;
        }
        pack_ok_with(&pk, "data");
        msgpack_pack_map(&pk, 5);
        om_cl_mp_kv_str(&pk, "boot", boot);
        om_cl_mp_kv_u64(&pk, "first", om_ev_ring_first(ring));
        om_cl_mp_kv_u64(&pk, "last", ring->last);
        om_cl_mp_kv_u64(&pk, "lost", om_ev_ring_lost(ring, since));
        om_cl_mp_kv_bool(&pk, "restarted", restarted);
        reply_send(w, false);
        (void)om_events_replay(a, since, &f, event_send, c);
        if (c->closing) {
                om_ev_filter_free(&f);
                return;
        }
        uv_timer_stop(&c->timer);
        c->sub = om_events_subscribe(a, &f, event_send, c);
        if (!c->sub)
                conn_close(c);
}

/* How long the agent waits for the arbitrator's answer to a drbd_fence request (the
 * DRBD handler that asks waits a little longer). */
#define FENCE_TIMEOUT_MS 10000

static void fence_done(void *arg, const struct om_arbc_fence_done *d) {
        struct api_conn *c = arg;
        c->fence = NULL;
        if (c->closing)
                return;
        if (d->error) {
                char msg[160];
                snprintf(msg, sizeof(msg), "the arbitrator did not answer within %d s",
                         FENCE_TIMEOUT_MS / 1000);
                reply_error(c, msg, false);
                return;
        }
        msgpack_packer pk;
        struct api_write *w = reply_begin(c, &pk);
        if (!w) {
                conn_close(c);
                return;
        }
        pack_ok_with(&pk, "data");
        msgpack_pack_map(&pk, 7);
        om_cl_mp_kv_str(&pk, "result", om_arb_fence_result_to_string(d->result));
        om_cl_mp_kv_str(&pk, "res", d->mark.res);
        om_cl_mp_kv_str(&pk, "outdated", d->mark.victim);
        om_cl_mp_kv_str(&pk, "by", d->mark.by);
        om_cl_mp_kv_u64(&pk, "id", d->mark.id);
        om_cl_mp_kv_u64(&pk, "at", d->mark.at);
        om_cl_mp_kv_str(&pk, "arbitrator", d->arbitrator);
        reply_send(w, false);
}

/* "drbd_fence" {op: fence|unfence, res, node}: asks the arbitrator to set the fence mark
 * "the replica of node is outdated, by this node" (fence), or to clear the mark naming
 * node (unfence), and replies with its answer once it came (cluster/arb_fence.h):
 * {result, res, outdated, by, id, at, arbitrator}. DRBD's fence-peer handler calls it
 * (resources/res_drbd.c). */
static void cmd_drbd_fence(struct api_conn *c, const msgpack_object *req) {
        char op[16], res[OM_ARB_RES_MAX], node[OM_ARB_NAME_MAX];
        if (om_cl_mp_get_str(req, "op", op, sizeof(op)) < 0 ||
            om_arb_fence_op_from_string(op) < 0) {
                reply_error(c, "malformed request: op is not fence or unfence", false);
                return;
        }
        if (om_cl_mp_get_str(req, "res", res, sizeof(res)) < 0 || !om_arb_res_name_ok(res)) {
                reply_error(c, "malformed request: res is not a resource name", false);
                return;
        }
        if (om_cl_mp_get_str(req, "node", node, sizeof(node)) < 0 ||
            om_cl_config_node_index(c->agent->cfg, node) < 0) {
                reply_error(c, "malformed request: node is not a node of the cluster", false);
                return;
        }
        if (c->fence) {
                reply_error(c, "a drbd_fence request is already waiting on this connection", false);
                return;
        }
        int e = 0;
        c->fence =
                om_arbc_fence_start(c->agent, (enum om_arb_fence_op)om_arb_fence_op_from_string(op),
                                    res, node, FENCE_TIMEOUT_MS, fence_done, c, &e);
        if (!c->fence)
                reply_error(c,
                            e == -ENOTCONN ? "no arbitrator: cluster.conf has no [arbitrator#N] "
                                             "whose socket is open"
                            : e == -EINVAL ? "malformed request: a node cannot fence itself"
                                           : "out of memory",
                            false);
}

/* "metrics": {text: the Prometheus exposition (agent/metrics.h)} */
static int cmd_metrics(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk) {
        struct om_buf text = {0};
        if (om_metrics_render(a, &text) < 0) {
                om_buf_free(&text);
                pack_error(pk, "out of memory");
                return 0;
        }
        pack_ok_with(pk, "data");
        msgpack_pack_map(pk, 1);
        om_cl_mp_str_pack(pk, "text");
        msgpack_pack_str(pk, text.len);
        msgpack_pack_str_body(pk, text.data ? text.data : "", text.len);
        om_buf_free(&text);
        return 0;
}

typedef int (*local_handler)(struct om_agent *a, const msgpack_object *req, msgpack_packer *pk);
/* A command that writes its replies itself on the connection (events: a stream). */
typedef void (*local_stream)(struct api_conn *c, const msgpack_object *req);

/* Every command of the local API: its name, who may call it (read: members of the om
 * group too), its handler. Adding a command is one row (and its test:
 * tests/integration/test-api-limits.sh calls each). The HTTP API (agent/http.c) calls
 * the same handlers through om_api_local_exec. */
static const struct {
        struct om_api_cmd cmd;
        local_handler handler; /* packs one reply */
        local_stream stream;   /* or writes its replies itself */
} commands[] = {
        {{"status", OM_API_WHO_LOCAL_USER, true}, cmd_status},
        {{"stop", OM_API_WHO_LOCAL_USER, false}, cmd_stop},
        {{"node_freeze", OM_API_WHO_LOCAL_USER, false}, cmd_node_freeze},
        {{"node_thaw", OM_API_WHO_LOCAL_USER, false}, cmd_node_thaw},
        {{"object_set", OM_API_WHO_LOCAL_USER, false}, cmd_orch},
        {{"object_target", OM_API_WHO_LOCAL_USER, true}, cmd_orch},
        {{"rescan", OM_API_WHO_LOCAL_USER, false}, cmd_rescan},
        {{"reload", OM_API_WHO_LOCAL_USER, false}, cmd_reload},
        {{"events", OM_API_WHO_LOCAL_USER, true}, NULL, cmd_events},
        {{"metrics", OM_API_WHO_LOCAL_USER, true}, cmd_metrics},
        {{"drbd_fence", OM_API_WHO_LOCAL_USER, false}, NULL, cmd_drbd_fence},
};

bool om_api_local_may(const struct om_api_cmd *c, uid_t uid, uid_t agent_uid, bool om_group) {
        return c->who == OM_API_WHO_LOCAL_USER &&
               (uid == 0 || uid == agent_uid || (om_group && c->read));
}

const struct om_api_cmd *om_api_local_cmd(size_t i) {
        return i < ARRAY_SIZE(commands) ? &commands[i].cmd : NULL;
}

int om_api_local_exec(struct om_agent *a, const char *cmd, const msgpack_object *req,
                      msgpack_packer *pk) {
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (om_streq(commands[i].cmd.name, cmd) && commands[i].handler)
                        return commands[i].handler(a, req, pk) & LOCAL_CLOSE ? 1 : 0;
        return -ENOENT;
}

static void handle(struct api_conn *c, const uint8_t *data, size_t len) {
        struct om_agent *a = c->agent;
        msgpack_unpacked u;
        uint64_t v;
        char cmd[OM_API_CMD_MAX];
        if (om_cl_mp_unpack(data, len, &u) < 0) {
                a->local_conns.drops[LOCAL_DROP_MALFORMED]++;
                reply_error(c, "malformed request: not one msgpack object", false);
                return;
        }
        if (u.data.type != MSGPACK_OBJECT_MAP) {
                a->local_conns.drops[LOCAL_DROP_MALFORMED]++;
                reply_error(c, "malformed request: not a map", false);
                goto out;
        }
        if (om_cl_mp_get_u64(&u.data, "v", &v) < 0) {
                a->local_conns.drops[LOCAL_DROP_MALFORMED]++;
                reply_error(c, "malformed request: no version field", false);
                goto out;
        }
        if (v != 1) {
                a->local_conns.drops[LOCAL_DROP_MALFORMED]++;
                reply_error(c, "unsupported request version", false);
                goto out;
        }
        if (om_cl_mp_get_str(&u.data, "cmd", cmd, sizeof(cmd)) < 0) {
                a->local_conns.drops[LOCAL_DROP_MALFORMED]++;
                reply_error(c, "malformed request: no cmd", false);
                goto out;
        }
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                if (!om_streq(commands[i].cmd.name, cmd))
                        continue;
                if (!om_api_local_may(&commands[i].cmd, c->uid, getuid(), c->om_group)) {
                        a->local_conns.drops[LOCAL_DROP_CRED]++;
                        reply_error(c, "not allowed: members of the om group may only read", false);
                } else if (commands[i].stream) {
                        a->local_conns.served++;
                        commands[i].stream(c, &u.data);
                } else {
                        a->local_conns.served++;
                        msgpack_packer pk;
                        struct api_write *w = reply_begin(c, &pk);
                        if (!w) {
                                conn_close(c);
                                goto out;
                        }
                        int f = commands[i].handler(a, &u.data, &pk);
                        reply_send(w, f & LOCAL_CLOSE);
                }
                goto out;
        }
        a->local_conns.drops[LOCAL_DROP_MALFORMED]++;
        reply_error(c, "unknown cmd", false);
out:
        msgpack_unpacked_destroy(&u);
}

static void api_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char rx[65536];
        buf->base = rx;
        buf->len = sizeof(rx);
}

static void conn_timeout(uv_timer_t *t) {
        struct api_conn *c = t->data;
        conn_drop(c, c->partial ? LOCAL_DROP_INCOMPLETE : LOCAL_DROP_IDLE);
}

/* The timer runs the deadline of the state the connection is in: a request begun, or
 * waiting for one. */
static void conn_arm(struct api_conn *c) {
        bool partial = om_frame_rx_partial(&c->rx);
        if (partial && c->partial)
                return; /* the deadline runs from the request's first byte */
        c->partial = partial;
        uv_timer_start(&c->timer, conn_timeout,
                       partial ? OM_LIM_LOCAL_FRAME_DEADLINE_MS : OM_LIM_LOCAL_IDLE_MS, 0);
}

static void api_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
        struct api_conn *c = container_of((uv_pipe_t *)s, struct api_conn, pipe);
        if (nread < 0) {
                conn_close(c);
                return;
        }
        if (c->sub)
                return; /* a subscriber's connection only streams events */
        const uint8_t *p = (const uint8_t *)buf->base;
        size_t left = (size_t)nread;
        while (left && !c->close_after && !c->closing && !c->sub) {
                ssize_t used = om_frame_rx_feed(&c->rx, p, left);
                if (used < 0) {
                        bool empty = c->rx.err == OM_FRAME_TOO_SMALL;
                        c->agent->local_conns
                                .drops[empty ? LOCAL_DROP_EMPTY : LOCAL_DROP_TOO_LARGE]++;
                        c->close_after = true;
                        uv_read_stop(s);
                        uv_timer_start(&c->timer, conn_timeout, OM_LIM_LOCAL_FRAME_DEADLINE_MS, 0);
                        reply_error(c, empty ? "empty request" : "request too large", true);
                        return;
                }
                p += used;
                left -= (size_t)used;
                if (c->rx.ready) {
                        handle(c, om_frame_rx_data(&c->rx), c->rx.want);
                        om_frame_rx_next(&c->rx);
                }
        }
        if (!c->closing && !c->close_after && !c->sub)
                conn_arm(c);
}

/* The gid of the om group, -1 when there is none. */
static gid_t om_gid(void) {
        struct group *g = getgrnam("om");
        return g ? g->gr_gid : (gid_t)-1;
}

/* Whether the client on fd (cred from SO_PEERCRED) is in the om group: its primary group
 * or one of its supplementary groups (SO_PEERGROUPS, as they were at connect time). */
static bool in_om_group(int fd, const struct ucred *cred) {
        gid_t om = om_gid(), groups[256];
        socklen_t len = sizeof(groups);
        if (om == (gid_t)-1)
                return false;
        if (cred->gid == om)
                return true;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == om)
                        return true;
        return false;
}

static void api_connection(uv_stream_t *server, int status) {
        struct om_agent *a = container_of((uv_pipe_t *)server, struct om_agent, api);
        struct om_api_conns *l = &a->local_conns;
        if (status < 0)
                return;
        struct api_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->agent = a;
        om_frame_rx_init(&c->rx, 1, OM_LIM_LOCAL_REQUEST_MAX);
        uv_pipe_init(&a->loop, &c->pipe, 0);
        uv_timer_init(&a->loop, &c->timer);
        c->pipe.data = c->timer.data = c;
        if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
                conn_close(c);
                return;
        }
        uv_os_fd_t fd;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        bool known = uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
                     getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
        bool member = known && cred.uid != 0 && cred.uid != getuid() && in_om_group(fd, &cred);
        if (!known || (cred.uid != 0 && cred.uid != getuid() && !member)) {
                om_log_set_component("api");
                log_warning("local API connection refused: uid %d is neither root nor %d nor "
                            "in the om group",
                            known ? (int)cred.uid : -1, (int)getuid());
                conn_drop(c, LOCAL_DROP_CRED);
                return;
        }
        c->uid = cred.uid;
        c->om_group = member;
        c->accepted = uv_now(&a->loop);
        /* at the cap the oldest connection makes room: a stuck client never keeps a new
         * one out, and the oldest is the one stuck the longest; one in its grace period
         * has not had the time to send its request */
        if (l->n >= OM_LIM_LOCAL_CONNS) {
                struct api_conn *old = l->head;
                if (c->accepted - old->accepted < OM_LIM_CONN_GRACE_MS) {
                        conn_drop(c, LOCAL_DROP_REFUSED);
                        return;
                }
                conn_drop(old, LOCAL_DROP_EVICTED);
        }
        c->prev = l->tail;
        if (l->tail)
                ((struct api_conn *)l->tail)->next = c;
        else
                l->head = c;
        l->tail = c;
        l->n++;
        conn_arm(c);
        uv_read_start((uv_stream_t *)&c->pipe, api_alloc, api_read);
}

const char *om_api_local_drop_name(int i) {
        return i >= 0 && i < _LOCAL_DROP_MAX ? local_drop_names[i] : NULL;
}

void om_api_local_pack_stats(struct om_agent *a, msgpack_packer *pk) {
        const struct om_api_conns *l = &a->local_conns;
        msgpack_pack_map(pk, 4);
        om_cl_mp_kv_u64(pk, "connections", l->n);
        om_cl_mp_kv_u64(pk, "event_subscribers", om_events_subscribers(a));
        om_cl_mp_kv_u64(pk, "served", l->served);
        om_cl_mp_str_pack(pk, "drops");
        msgpack_pack_map(pk, _LOCAL_DROP_MAX);
        for (int d = 0; d < _LOCAL_DROP_MAX; d++)
                om_cl_mp_kv_u64(pk, local_drop_names[d], l->drops[d]);
}

int om_api_local_start(struct om_agent *a) {
        a->api_path = om_asprintf("%s/api.sock", om_dir_run());
        if (!a->api_path)
                return -ENOMEM;
        (void)unlink(a->api_path); /* we hold the pid file lock: any socket here is stale */
        uv_pipe_init(&a->loop, &a->api, 0);
        mode_t old = umask(0177);
        int r = uv_pipe_bind(&a->api, a->api_path);
        umask(old);
        /* members of the om group may connect (read commands only: om_api_local_may) */
        gid_t om = om_gid();
        if (r == 0 && om != (gid_t)-1 && chown(a->api_path, (uid_t)-1, om) < 0)
                om = (gid_t)-1;
        if (r == 0)
                r = chmod(a->api_path, om != (gid_t)-1 ? 0660 : 0600) < 0 ? -errno : 0;
        if (r == 0)
                r = uv_listen((uv_stream_t *)&a->api, 128, api_connection);
        if (r < 0) {
                fprintf(stderr, "om: cannot listen on %s: %s\n", a->api_path, uv_strerror(r));
                return r;
        }
        a->api_bound = true;
        return 0;
}
