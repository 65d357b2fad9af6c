/*
 * The limits of every input the agent and the CLI take, in one place: the peer API's
 * TCP port, the local API's unix socket, heartbeat datagrams, config files. Each number
 * here is enforced where its input is read and each refusal is counted (see the table
 * "Limits of the inputs" in docs/ARCHITECTURE.md, which names the counter of each). This
 * header holds numbers only.
 */
#pragma once

/* ---- peer API (TCP, agent/api_peer.c; cli/api_client.c for the CLI's requests) ---- */
/* Largest sealed frame a peer connection may send before one of its frames opened with
 * the cluster key. Every request but a big setconf fits in one such frame; a bigger
 * message is announced by a small sealed frame first (cluster/frame.h). */
#define OM_LIM_PEER_FIRST_FRAME (64u * 1024)
/* Largest frame at all, announced by an authenticated frame (a sec file of 1 MiB of
 * secret is about 1.4 MB sealed; an objget reply carries one such file). */
#define OM_LIM_PEER_FRAME_MAX (16u << 20)
/* Connections held by the peer API server at once, and from one source address. At a
 * cap, the oldest connection whose first frame has not opened yet and that is older
 * than OM_LIM_CONN_GRACE_MS is closed to make room (counted); when there is none, the
 * new connection is refused (counted). */
#define OM_LIM_PEER_CONNS 64
#define OM_LIM_PEER_CONNS_PER_ADDR 8
/* A connection not done (request read, handled, reply written) within this is closed:
 * a frame that stops arriving, a client that does not read its reply. */
#define OM_LIM_PEER_DEADLINE_MS 3000
/* A request's "ts" (sender's wall clock, ms) may differ from ours by at most this; a
 * sealed request seen within it is refused as a replay (its tag remembered this long). */
#define OM_LIM_PEER_TS_SKEW_MS 60000
/* Tags of the requests accepted within the skew: when full, requests are refused
 * ("busy") until entries expire: a peer API busier than 8192 requests a minute. */
#define OM_LIM_PEER_REPLAY_ENTRIES 8192

/* A connection younger than this is never closed to make room for another: an honest
 * client sends its request at once, so a burst of new connections cannot push it out
 * before its request is read. */
#define OM_LIM_CONN_GRACE_MS 1000

/* ---- local API (unix socket, agent/api_local.c; cli/api_client.c) ---- */
/* Largest request (a map of a command and a few strings). */
#define OM_LIM_LOCAL_REQUEST_MAX (64u * 1024)
/* Largest reply the CLI reads (the status view of a big cluster). */
#define OM_LIM_LOCAL_REPLY_MAX (64u << 20)
/* Connections at once; at the cap the oldest one is closed to make room (counted) when
 * it is older than OM_LIM_CONN_GRACE_MS, else the new one is refused (counted; the CLI
 * tries again within its timeout), so stuck clients never keep a new one out for long. */
#define OM_LIM_LOCAL_CONNS 64
/* A request begun and not complete within this is closed (counted "incomplete"). */
#define OM_LIM_LOCAL_FRAME_DEADLINE_MS 5000
/* A connection with no request begun for this long is closed (counted "idle"). */
#define OM_LIM_LOCAL_IDLE_MS 30000

/* ---- heartbeats (UDP, agent/daemon.c) ---- */
/* The receive buffer of a heartbeat socket holds the beats of every peer for
 * OM_LIM_HB_RCVBUF_TIMEOUTS timeouts (a loop busy that long loses none), counting
 * OM_LIM_HB_RCVBUF_PER_DATAGRAM bytes of kernel memory per datagram (a 1400-byte
 * datagram costs about 2.3 KiB), within [MIN, MAX]. The kernel's drops beyond it are
 * read from the socket (SO_MEMINFO) and shown as the drop reason "kernel_overflow". */
#define OM_LIM_HB_RCVBUF_TIMEOUTS 4
#define OM_LIM_HB_RCVBUF_PER_DATAGRAM 4096
#define OM_LIM_HB_RCVBUF_MIN (1u << 20)
#define OM_LIM_HB_RCVBUF_MAX (16u << 20)

/* Events (agent/events.c): the ring holds the last OM_LIM_EVENTS_RING events; a
 * subscriber whose unsent events pass OM_LIM_EVENTS_SUB_QUEUE bytes (a client that does
 * not read) is closed, counted, and may reconnect with its last sequence; a stream's
 * heartbeat drops of one interval make an event when they reach OM_LIM_EVENTS_HB_DROPS. */
#define OM_LIM_EVENTS_RING 4096
#define OM_LIM_EVENTS_SUB_QUEUE (8u << 20)
#define OM_LIM_EVENTS_HB_DROPS 10
/* Hooks (agent/hooks.c): at most OM_LIM_HOOKS_RUNNING commands at once, at most
 * OM_LIM_HOOKS_WAITING runs waiting for a slot (past it a run is dropped, logged and
 * counted); OM_LIM_HOOKS_OUTPUT bytes of a command's output kept for the daemon log. */
#define OM_LIM_HOOKS_RUNNING 4
#define OM_LIM_HOOKS_WAITING 256
#define OM_LIM_HOOKS_OUTPUT 2048

/* ---- config files (core/ini.c, core/keywords.c) ---- */
/* The index of a resource section, [<group>#<index>]: 0 to this. */
#define OM_LIM_SECTION_INDEX_MAX 9999
/* A device-mapper name (DM_NAME_LEN - 1). */
#define OM_LIM_DM_NAME 127
#define OM_LIM_INI_FILE (1024 * 1024)
#define OM_LIM_INI_LINE (64 * 1024)
/* sec objects: each sealed value of up to 1 MiB is one line of about 1.4 MB of base64 */
#define OM_LIM_INI_SEC_FILE (64 * 1024 * 1024)
#define OM_LIM_INI_SEC_LINE (2 * 1024 * 1024)

/* ---- HTTP API (agent/http.c; off unless [api] http_addr is set) ---- */
/* Connections at once (lowered to the process's open file limit minus 256); a new one
 * past it is closed at once (counted "refused"). */
#define OM_LIM_HTTP_CONNS 4096
/* A request line and headers larger than this together, or more header lines than
 * OM_LIM_HTTP_HEADERS, get 431 (checked as the bytes come, before libh2o's reader sees
 * them: agent/http.c, the gate), a path (with its query) longer than OM_LIM_HTTP_PATH
 * 414, a body larger than OM_LIM_HTTP_BODY 413 (libh2o's own limit, before the body is
 * read). */
#define OM_LIM_HTTP_HEAD 16384
#define OM_LIM_HTTP_HEADERS 100
#define OM_LIM_HTTP_PATH 2048
#define OM_LIM_HTTP_BODY (64u * 1024)
/* A request not complete within this, a keep-alive connection idle this long, or a TLS
 * handshake not done within this, is closed (libh2o's timers). */
#define OM_LIM_HTTP_REQ_TIMEOUT_MS 10000
/* Requests waiting for a target (?wait=true) at once (more: 503), and the longest wait. */
#define OM_LIM_HTTP_WAITS 256
#define OM_LIM_HTTP_WAIT_MAX_MS (10 * 60 * 1000)
/* Event streams (GET /api/events) at once (more: 503), and the bytes one may have queued
 * unsent before it is closed (a subscriber that does not read). */
#define OM_LIM_HTTP_STREAMS 256
#define OM_LIM_HTTP_STREAM_BACKLOG (1u << 20)
