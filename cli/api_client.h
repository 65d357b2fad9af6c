/*
 * The CLI's clients of the agent: the local API over `<run>/api.sock` (msgpack maps with
 * a version field, 4-byte length prefix), a generic msgpack to JSON renderer for
 * `--format json`, and a blocking peer API client for `om cluster join` and
 * `om cluster rotate-secret`, which talk to members' TCP peer API with frames sealed by
 * the cluster key.
 */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/json.h"

struct om_api_reply {
        char *buf;
        msgpack_unpacked u;
        bool have_u;
        const msgpack_object *data; /* "data" of the reply, NULL when none */
        char error[256];            /* "error" of a refused request */
};

void om_api_reply_done(struct om_api_reply *r);

/* Sends {"v":1,"cmd":cmd} to the local agent and reads its reply. Returns 0 when the
 * agent answered ok; -ECONNREFUSED or -ENOENT when no agent listens; -EREMOTEIO when it
 * refused (reason in ret->error); -EBADMSG for a malformed reply. timeout_ms bounds
 * the whole exchange. */
int om_api_call(const char *cmd, int timeout_ms, struct om_api_reply *ret);

/* In a "status" reply's data: the first node whose instance of path is up (or warn too,
 * with warn: partly up, such as a DRBD Primary without its peer), other than except
 * (NULL: any), copied into buf; NULL when there is none. A node the agent judged down
 * runs nothing it knows of (its instance's last word is not counted), as om mon shows. */
const char *om_api_status_up_node(const msgpack_object *status, const char *path,
                                  const char *except, bool warn, char *buf, size_t len);

/* Frees rep and prints why the agent did not answer r; returns the exit status 1. */
int om_api_fail(int r, struct om_api_reply *rep);

/* Prints the drop counters of a heartbeat stream (" <reason> <count>" each). */
void om_api_print_drops(const msgpack_object *drops);

/* Sends raw request bytes (already framed or not: the caller's choice) and reads one
 * framed reply; for tests of malformed requests. */
int om_api_call_raw(const void *req, size_t len, int timeout_ms, struct om_api_reply *ret);

/* A streaming request (the agent's `events`): sends req (framed: om_frame_sbuf_begin/end)
 * and reads the first reply into ret within timeout_ms. Returns the connection's fd, to
 * read the following messages from with om_api_stream_next and close, or a negative
 * errno as om_api_call. */
int om_api_stream_open(const msgpack_sbuffer *req, int timeout_ms, struct om_api_reply *ret);
/* The next message of a stream into ret (ret->u.data is the whole map), waiting at most
 * timeout_ms (-1: for ever): 0, -ETIMEDOUT, -ECONNRESET when the agent closed, or
 * another negative errno. */
int om_api_stream_next(int fd, int timeout_ms, struct om_api_reply *ret);

/* Keys of the peer API: requests are sealed with keys[0] (its generation gens[0] in the
 * frame); a reply is opened with the key of the generation it names (during a secret
 * rotation a node may answer with the other secret). */
struct om_api_peer_keys {
        uint8_t keys[2][32];
        uint32_t gens[2];
        size_t n;
};

struct om_api_peer_reply {
        uint8_t *plain;
        size_t plain_len;
        msgpack_unpacked u;
        bool have_u;
        bool ok;                    /* "ok" of the reply */
        const msgpack_object *data; /* the reply map */
        char error[256];            /* "error" of a refused request */
};
void om_api_peer_reply_done(struct om_api_peer_reply *r);

/* One request (payload: a packed msgpack map) to the peer API of host:port from sender, and
 * its reply: 0 once a well-formed reply arrived (ok or refused: ret->ok, ret->error), or a
 * negative errno with the reason in err. */
int om_api_peer_request(const char *host, uint16_t port, const char *sender,
                        const struct om_api_peer_keys *keys, const msgpack_sbuffer *payload,
                        int timeout_ms, struct om_api_peer_reply *ret, char *err, size_t errlen);

/* Asks the peer API of host:port to add node (reachable at addr) to the cluster, sealed
 * with the key derived from the local cluster.conf's secret. On success *ret_conf
 * receives the cluster.conf text to install. */
int om_api_peer_join(const char *host, uint16_t port, const char *node, const char *addr,
                     char **ret_conf, char *err, size_t errlen);

/* The local agent's drbd_fence request (the om_drbd_fencer of resources/res.h). */
struct om_drbd_fence_answer;
int om_api_drbd_fence(const char *op, const char *res, const char *node, int timeout_ms,
                      struct om_drbd_fence_answer *ret, char *err, size_t errlen);
