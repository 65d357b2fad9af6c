/*
 * The HTTP API (agent/http.c): HTTP/1.1 and HTTP/2 through libh2o's libuv binding, on
 * the agent's loop, on `[api] http_addr` and `http_port` (off when http_addr is unset).
 * Routes, roles and limits: docs/ARCHITECTURE.md, "The HTTP API"; the JSON bodies:
 * docs/openapi.json. Agent files only.
 */
#pragma once

#include <msgpack.h>
#include <stdint.h>

struct om_agent;

/* Starts the server when [api] http_addr is set: 0, or a negative errno with the reason
 * on stderr (the agent does not start). */
int om_http_start(struct om_agent *a);
/* Closes the listener, the waits and the context's handles (before the loop's remaining
 * handles are closed); om_http_free frees the server once the loop ran them closed. */
void om_http_stop(struct om_agent *a);
void om_http_free(struct om_agent *a);
/* The server's counters as a msgpack map (`om daemon status`). */
void om_http_pack_stats(struct om_agent *a, msgpack_packer *pk);
/* The names of the reasons a connection is closed or a request refused (NULL past the
 * last), and how many so far (0 while the server is off): om_http_dropped_total. */
const char *om_http_drop_name(int d);
uint64_t om_http_dropped(struct om_agent *a, int d);
