/*
 * The agent (`om daemon run`): one libuv loop thread owning every piece of state below:
 * the cluster config, the heartbeat streams, the node table with each peer's liveness
 * and node data, the local API (unix socket) and the peer API (TCP). Nothing here
 * blocks on a device; actions will run as child processes. This header is shared by the
 * agent's files only (the files of agent/) plus the daemon command that calls om_agent_run.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/cl_config.h"
#include "cluster/cl_nodedata.h"
#include "cluster/cl_view.h"
#include "cluster/hb_disk.h"
#include "cluster/hb_frame.h"

/* Runs the agent in the foreground until SIGTERM, SIGINT or an API stop. Returns 0 on a
 * clean stop, a negative errno when it could not start (the reason printed on stderr). */
int om_agent_run(void);

struct om_agent;
struct om_repl;

/* The connections of one API server (api_local.c, api_peer.c), oldest first, and its
 * refusals counted by reason (each file's enum; `om daemon status`). */
struct om_api_conns {
        void *head, *tail;
        size_t n;
        uint64_t drops[16];
        uint64_t served;
};

/* Work a piece of the agent needs from another, asked by setting a bit in a->todo (never
 * by calling up into the daemon) and done once, in this order, before the loop sleeps
 * (daemon.c's before_sleep): the local node data read again, an orchestrator pass, a
 * replication pass. */
enum {
        OM_TODO_RESCAN = 1 << 0,
        OM_TODO_EVAL = 1 << 1,
        OM_TODO_REPL = 1 << 2,
};

struct om_hb_stream {
        struct om_agent *agent;
        int index;
        uv_udp_t udp;
        bool running;
        struct om_hb_stats st;
        char bind[96];
        int rcvbuf; /* the socket's receive buffer as the kernel set it, bytes */
        uint64_t drops_seen[_OM_HB_DROP_MAX]; /* at the last tick, for hb_drops events */
        /* type = disk (hb_disk.c): its own timer, the device read and written in the
         * thread pool, its own replay windows (disk beats are read late and in bulk) and
         * what it remembers of each node's slot, by node index */
        bool disk;
        int fd;           /* opened by the first job; -1 until then */
        bool own_checked; /* our slot was read and is ours to write */
        bool inflight;    /* a job runs in the thread pool */
        uv_timer_t timer;
        struct om_hb_window dwin[OM_CL_NODES_MAX];
        struct om_hbd_slot_state slots[OM_CL_NODES_MAX];
        uint64_t read_prev; /* loop time the last job that read the slots was queued */
        char error[256];    /* the last error, logged when it changes */
        uint64_t io_reads, io_writes, io_read_bytes, io_write_bytes, io_busy;
};

struct om_agent {
        uv_loop_t loop;
        struct om_cl_config *cfg;
        char self[OM_CL_NAME_MAX];
        int self_idx;
        /* keys of the cluster secret (om_agent_keys_load): frames are sealed with the
         * current one and carry its generation; during a rotation the keyring's other
         * secret opens the frames that carry its generation */
        uint8_t hb_key[OM_HB_KEY_LEN];
        uint8_t peer_key[OM_HB_KEY_LEN];
        uint32_t keygen;
        uint8_t hb_key_alt[OM_HB_KEY_LEN]; /* used while rotation is not OM_ROT_NONE */
        uint8_t peer_key_alt[OM_HB_KEY_LEN];
        uint32_t keygen_alt;
        int rotation;       /* enum om_rotation of secrets/cluster_key.h */
        struct om_rot *rot; /* rotation.c's state, made on first use */
        uint8_t boot_id[OM_HB_BOOT_ID_LEN];
        uint64_t seq;

        struct om_peer *peers; /* cfg->n_nodes entries, cfg order */
        size_t n_peers;
        struct om_hb_window *windows;
        struct om_hb_stream hb[OM_CL_HB_MAX];
        size_t n_hb;

        uint64_t interval, timeout;
        uv_timer_t tick;
        uint64_t tick_due; /* loop time the tick was due */
        uint64_t stalls, stall_max_ms;
        uint64_t stall_until; /* loop time two timeouts after the last stall */
        uv_timer_t judge;     /* liveness judged again at the earliest peer deadline */
        uint64_t judge_due;
        uv_check_t judge_check;
        uv_timer_t scan;
        uint64_t scan_seq;  /* bumped by every synchronous rescan */
        bool scan_inflight; /* a periodic scan runs in the thread pool */
        uv_prepare_t before_sleep;
        unsigned todo; /* OM_TODO_* bits: work done once before the loop sleeps */
        bool beat_now;
        uv_signal_t sigterm, sigint;

        uv_pipe_t api;
        bool api_bound;
        uv_tcp_t peer_api;
        bool peer_bound;
        char *api_path;

        struct om_cl_nodedata local; /* gen is the node data generation */
        uint64_t started;            /* loop time */
        uint64_t started_wall;
        int pid_fd;
        bool stopping;
        uint64_t peer_rx_errors;
        struct om_api_conns local_conns, peer_conns;
        struct om_api_replay *peer_replay; /* api_peer.c: tags of recent requests */
        struct om_orch *orch;              /* agent/orchestrator.c */
        struct om_repl *repl;              /* object replication state (repl.c) */
        struct om_arbc *arbc;              /* the arbitrators' votes (arb_client.c) */
        struct om_events *events;          /* the event ring and subscribers (events.c) */
        struct om_metrics *metrics;        /* counters of what happens (metrics.c) */
        struct om_http *http;              /* the HTTP API (http.c), NULL when off */
        struct om_hooks *hooks;            /* hook runs, running and waiting (hooks.c) */
};

/* The agent's view of the cluster (cluster/cl_view.h), valid until the peer table
 * changes (a reload). */
static inline struct om_view om_agent_view(const struct om_agent *a) {
        return (struct om_view){.peers = a->peers,
                                .n = a->n_peers,
                                .self = a->self_idx,
                                .local = &a->local,
                                .stalled = uv_now(&a->loop) < a->stall_until,
                                .now = uv_now(&a->loop),
                                .vote_ms = om_vote_window(a->interval)};
}

/* daemon.c */
void om_agent_stop(struct om_agent *a);
/* Reads the datagrams the kernel dropped on s's socket, its receive buffer full, into
 * s->st.drops[OM_HB_DROP_KERNEL]. */
void om_hb_kernel_drops(struct om_hb_stream *s);
/* The beat payload (cluster/hb_frame.h) this node sends now: length or -EMSGSIZE;
 * lends: the peers it lends its vote to (cluster/cl_view.h). */
int om_agent_beat_payload(struct om_agent *a, uint64_t lends[OM_HB_HEARS_WORDS], uint8_t *out,
                          size_t outmax);
/* A beat lending our vote to the peers of lends was sent at loop time when: each may
 * count it until its promise runs out (endorsed_at). */
void om_agent_endorsed(struct om_agent *a, const uint64_t lends[OM_HB_HEARS_WORDS], uint64_t when);
/* A beat that passed every check, on stream, counted received at loop time when: the
 * peer is up, its announced generation pulled when newer than what we hold. */
/* The receive context of a heartbeat stream of this agent: its keys (both during a
 * secret rotation), cluster, nodes, the stream's replay windows and frame type. */
struct om_hb_rx_ctx om_agent_hb_rx_ctx(const struct om_agent *a, struct om_hb_window *windows,
                                       enum om_hb_type type);
void om_agent_beat_accepted(struct om_agent *a, int stream, const struct om_hb_beat *beat,
                            uint64_t when);

/* hb_disk.c: the disk heartbeat streams (`[hb#N] type = disk`, cluster/hb_disk.h) */
int om_hbd_start(struct om_agent *a, size_t h);
/* The node list changed (a reload): from[i] is the old index of new node i, or -1. */
void om_hbd_nodes_moved(struct om_agent *a, const int *from, size_t n);
/* Packs a disk stream's I/O counters (`om daemon status`). */
void om_hbd_pack_io(const struct om_hb_stream *s, msgpack_packer *pk);
/* The HLC below which a tombstone is garbage: now minus the cluster's tombstone_ttl. */
uint64_t om_tombstone_horizon(struct om_agent *a);
/* Re-reads the local node data now; bumps the generation and beats when it changed. */
void om_agent_rescan(struct om_agent *a);
/* A node's data arrived over the peer API. */
void om_agent_peer_data(struct om_agent *a, int node, const uint8_t boot[OM_HB_BOOT_ID_LEN],
                        struct om_cl_nodedata *nd);
/* Re-reads cluster.conf after a join (new nodes join the table). */
int om_agent_reload(struct om_agent *a);

/* api_local.c */
int om_api_local_start(struct om_agent *a);
/* Packs the cluster view (om mon, node ls, daemon status) as a msgpack map. */
void om_api_view_pack(struct om_agent *a, msgpack_packer *pk);
/* Packs the local API server's counters (`om daemon status`). */
void om_api_local_pack_stats(struct om_agent *a, msgpack_packer *pk);
/* Runs the local API command cmd (req: its request map) and packs its whole reply map
 * into pk, as the socket would answer it: the HTTP API's way to the same handlers. 1 when
 * the command asks the connection closed (stop), 0, or -ENOENT for no such command (or a
 * stream: events). */
int om_api_local_exec(struct om_agent *a, const char *cmd, const msgpack_object *req,
                      msgpack_packer *pk);
/* The name of drops[i] of a->local_conns, NULL past the last (metrics). */
const char *om_api_local_drop_name(int i);

/* api_peer.c */
int om_api_peer_start(struct om_agent *a);
/* Starts pulling node's data (no-op when a pull is in flight). */
void om_api_peer_pull(struct om_agent *a, int node);
/* Sends cluster.conf text to every other node (after a join). */
void om_api_peer_push_conf(struct om_agent *a, const char *text, const char *skip);
/* Asks node for the config file of path ("objget"); cb(arg, reply) is called exactly
 * once, later, with the reply map or NULL when the fetch failed, unless this returns a
 * negative errno. */
typedef void (*om_api_fetch_cb)(void *arg, const msgpack_object *reply);
int om_api_peer_fetch(struct om_agent *a, int node, const char *path, om_api_fetch_cb cb,
                      void *arg);
/* Packs the peer API server's counters (`om daemon status`). */
void om_api_peer_pack_stats(struct om_agent *a, msgpack_packer *pk);
/* The name of drops[i] of a->peer_conns, NULL past the last (metrics). */
const char *om_api_peer_drop_name(int i);
void om_api_peer_free(struct om_agent *a);

/* rotation.c: the steps of a cluster secret rotation, asked over the peer API (see
 * there). 0 or a negative errno with the reason in err. om_rot_finish returns 1 when the
 * rotation already ended here, or 0 when done(arg, r, err) will be called once the sec
 * files are sealed again (-EAGAIN "not yet: ..." while this node is not ready). */
int om_rot_key(struct om_agent *a, uint8_t ret_pk[32]);
int om_rot_install(struct om_agent *a, uint32_t gen, const uint8_t *box, size_t len, char *err,
                   size_t errlen);
int om_rot_commit(struct om_agent *a, uint32_t gen, char *err, size_t errlen);
int om_rot_abort(struct om_agent *a, uint32_t gen, char *err, size_t errlen);
int om_rot_finish(struct om_agent *a, uint32_t gen, void (*done)(void *arg, int r, const char *err),
                  void *arg, char *err, size_t errlen);
void om_rot_free(struct om_agent *a);

/* daemon.c: the frame keys of a keyring (secrets/cluster_key.h) into use, and the
 * replication's sealing keys; om_agent_keys_load reads the keyring of cluster.conf. */
struct om_cluster_keyring;
int om_agent_keys_set(struct om_agent *a, const struct om_cluster_keyring *ring);
int om_agent_keys_load(struct om_agent *a);

/* repl.c: object replication (cluster/cl_repl.h) */
/* The sealing keys a fetched sec file is checked with: those of ring's secrets. */
int om_repl_keys_set(struct om_agent *a, const struct om_cluster_keyring *ring);
int om_repl_start(struct om_agent *a);
void om_repl_free(struct om_agent *a);
/* Node data changed (ours or a peer's): plan again before the loop sleeps (sets
 * OM_TODO_REPL). */
void om_repl_kick(struct om_agent *a);
/* One replication pass now (daemon.c's before-sleep work, for OM_TODO_REPL). */
void om_repl_pass(struct om_agent *a);
/* Reads path's config file for a peer on the thread pool; done(arg, r, text, len) runs
 * on the loop thread and owns text (NULL when r < 0). */
int om_repl_serve(struct om_agent *a, const char *path,
                  void (*done)(void *arg, int r, char *text, size_t len), void *arg);
/* The replication counters (metrics.c); behind: the versions the last plan found newer
 * on a live peer, in this node's scope as far as known. */
struct om_repl_counts {
        uint64_t fetched, installed, deleted, refused, stale, errors, served;
        size_t inflight, behind;
};
void om_repl_counts(struct om_agent *a, struct om_repl_counts *ret);
/* Packs the replication counters as a msgpack map (`om daemon status`). */
void om_repl_pack_stats(struct om_agent *a, msgpack_packer *pk);
