/*
 * The CLI's side of the agent's event stream (the local API's `events` command): a
 * connection that asks, when it connects again, for what followed the last event it
 * read. Used by `om node events` and `om mon --watch`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct om_events_stream {
        int fd; /* -1 when not connected: set it so before the first call */
        bool have_since;
        uint64_t since; /* the last sequence read (or asked with --since) */
        char boot[64];  /* the agent's boot id, once connected */
        const char *filters[8];
        size_t n_filters;
        /* called when the agent no longer holds events after `after` (lost of them), or
         * restarted since */
        void (*on_lost)(void *arg, uint64_t lost, uint64_t after, bool restarted);
        void *arg;
        char error[256]; /* the agent's refusal, with -EREMOTEIO */
};

struct om_event_msg {
        uint64_t seq, ts;
        char kind[32];
        char text[2048];
        char json[4096];
};

/* The next event, connecting first when not connected; waits at most timeout_ms (-1:
 * for ever). 0, -ETIMEDOUT, or a negative errno when the agent did not answer or closed
 * the stream (the next call connects again). */
int om_events_stream_next(struct om_events_stream *s, int timeout_ms, struct om_event_msg *ret);
void om_events_stream_close(struct om_events_stream *s);
