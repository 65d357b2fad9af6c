/*
 * `om node events`: the local agent's events (agent/events.h), streamed until
 * interrupted: one line each ("<time> <seq> <kind> key=value ..."), or with --format json
 * one JSON object per line. --filter keeps the events every term matches, --since replays
 * the events the agent still holds after a sequence number, --count stops after that
 * many. When the agent goes away the command connects again and asks for what came after
 * the last event it printed; what the agent no longer holds (its ring wrapped, or it
 * restarted) is said on stderr and, in JSON, as a {"lost": N, ...} line.
 *
 * The stream itself (om_events_stream) also drives `om mon --watch`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cluster/cl_event.h"
#include "cluster/cl_mp.h"
#include "cluster/frame.h"
#include "core/util.h"

static int stream_open(struct om_events_stream *s) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        struct om_api_reply rep;
        msgpack_sbuffer_init(&sb);
        om_frame_sbuf_begin(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2 + (s->have_since ? 1 : 0) + (s->boot[0] ? 1 : 0) +
                                      (s->n_filters ? 1 : 0));
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", "events");
        if (s->have_since)
                om_cl_mp_kv_u64(&pk, "since", s->since);
        if (s->boot[0])
                om_cl_mp_kv_str(&pk, "boot", s->boot);
        if (s->n_filters) {
                om_cl_mp_str_pack(&pk, "filter");
                msgpack_pack_array(&pk, s->n_filters);
                for (size_t i = 0; i < s->n_filters; i++)
                        om_cl_mp_str_pack(&pk, s->filters[i]);
        }
        om_frame_sbuf_end(&sb);
        int fd = om_api_stream_open(&sb, 5000, &rep);
        msgpack_sbuffer_destroy(&sb);
        if (fd < 0) {
                if (fd == -EREMOTEIO)
                        snprintf(s->error, sizeof(s->error), "%s", rep.error);
                om_api_reply_done(&rep);
                return fd;
        }
        char boot[64] = "";
        uint64_t lost = 0, last = 0;
        bool restarted = false;
        if (rep.data) {
                (void)om_cl_mp_get_str(rep.data, "boot", boot, sizeof(boot));
                (void)om_cl_mp_get_u64(rep.data, "lost", &lost);
                (void)om_cl_mp_get_u64(rep.data, "last", &last);
                (void)om_cl_mp_get_bool(rep.data, "restarted", &restarted);
        }
        om_api_reply_done(&rep);
        if ((restarted || lost) && s->on_lost)
                s->on_lost(s->arg, lost, s->since, restarted);
        snprintf(s->boot, sizeof(s->boot), "%s", boot);
        if (!s->have_since) {
                /* from now on: a reconnection asks for what followed */
                s->have_since = true;
                s->since = last;
        }
        if (restarted)
                s->since = 0;
        s->fd = fd;
        return 0;
}

int om_events_stream_next(struct om_events_stream *s, int timeout_ms, struct om_event_msg *ret) {
        for (;;) {
                if (s->fd < 0) {
                        int r = stream_open(s);
                        if (r < 0)
                                return r;
                }
                struct om_api_reply rep;
                int r = om_api_stream_next(s->fd, timeout_ms, &rep);
                if (r == -ETIMEDOUT) {
                        om_api_reply_done(&rep);
                        return r;
                }
                const msgpack_object *ev = r == 0 ? om_cl_mp_get(&rep.u.data, "event") : NULL;
                if (!ev || om_cl_mp_get_u64(ev, "seq", &ret->seq) < 0) {
                        /* the agent closed (it stopped, or closed a slow reader): the
                         * caller decides whether to connect again */
                        om_api_reply_done(&rep);
                        close(s->fd);
                        s->fd = -1;
                        return r < 0 ? r : -EBADMSG;
                }
                (void)om_cl_mp_get_u64(ev, "ts", &ret->ts);
                (void)om_cl_mp_get_str(ev, "kind", ret->kind, sizeof(ret->kind));
                (void)om_cl_mp_get_str(ev, "text", ret->text, sizeof(ret->text));
                (void)om_cl_mp_get_str(ev, "json", ret->json, sizeof(ret->json));
                om_api_reply_done(&rep);
                s->since = ret->seq;
                s->have_since = true;
                return 0;
        }
}

void om_events_stream_close(struct om_events_stream *s) {
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
}

/* ---- om node events ---- */

struct print_ctx {
        bool json;
};

static void print_lost(void *arg, uint64_t lost, uint64_t after, bool restarted) {
        struct print_ctx *p = arg;
        if (restarted)
                fprintf(stderr,
                        "om: the agent restarted: events of its previous run after %" PRIu64
                        " are lost\n",
                        after);
        else
                fprintf(stderr,
                        "om: %" PRIu64 " events after %" PRIu64
                        " are lost (the agent's ring wrapped)\n",
                        lost, after);
        if (p->json) {
                printf("{\"lost\":%" PRIu64 ",\"after\":%" PRIu64 ",\"restarted\":%s}\n", lost,
                       after, restarted ? "true" : "false");
                fflush(stdout);
        }
}

static int cmd_events(struct om_cli_ctx *ctx) {
        const char *fmt, *since = om_cli_opt(ctx, "since"), *count = om_cli_opt(ctx, "count");
        struct print_ctx pc = {0};
        struct om_events_stream s = {.fd = -1, .on_lost = print_lost, .arg = &pc};
        uint64_t max = 0, n = 0;
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        if (strcmp(fmt, "yaml") == 0)
                return om_cli_usage_error("--format yaml does not stream: use text or json");
        pc.json = strcmp(fmt, "json") == 0;
        long long v;
        if (since && om_parse_int(since, 0, INT64_MAX, &v) < 0)
                return om_cli_usage_error("--since '%s' is not a sequence number", since);
        s.since = since ? (uint64_t)v : 0;
        s.have_since = since != NULL;
        if (count && om_parse_int(count, 1, INT64_MAX, &v) < 0)
                return om_cli_usage_error("--count '%s' is not a number above 0", count);
        max = count ? (uint64_t)v : 0;
        /* the filters are checked here with the agent's rule, so a typo fails at once */
        struct om_ev_filter f = {0};
        for (int i = 0; i < ctx->n_opts; i++) {
                char err[320];
                if (strcmp(ctx->opts[i].name, "filter") != 0)
                        continue;
                if (s.n_filters >= ARRAY_SIZE(s.filters)) {
                        om_ev_filter_free(&f);
                        return om_cli_usage_error("more than %zu --filter", ARRAY_SIZE(s.filters));
                }
                if (om_ev_filter_add(&f, ctx->opts[i].value, err, sizeof(err)) < 0) {
                        om_ev_filter_free(&f);
                        return om_cli_usage_error("%s", err);
                }
                s.filters[s.n_filters++] = ctx->opts[i].value;
        }
        om_ev_filter_free(&f);
        bool connected = false;
        for (;;) {
                struct om_event_msg m;
                int r = om_events_stream_next(&s, -1, &m);
                if (r == 0) {
                        connected = true;
                        if (pc.json)
                                printf("%s\n", m.json);
                        else {
                                char when[40];
                                time_t t = (time_t)(m.ts / 1000);
                                struct tm tm;
                                gmtime_r(&t, &tm);
                                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
                                printf("%s.%03uZ %" PRIu64 " %s\n", when, (unsigned)(m.ts % 1000),
                                       m.seq, m.text);
                        }
                        if (fflush(stdout) == EOF || ferror(stdout))
                                return OM_EXIT_FAIL; /* the reader went away */
                        if (max && ++n >= max)
                                break;
                        continue;
                }
                if (r == -EREMOTEIO) {
                        om_events_stream_close(&s);
                        return om_cli_fail("the agent refused: %s", s.error);
                }
                if (!connected && s.fd < 0 && !s.boot[0]) {
                        struct om_api_reply rep = {0};
                        return om_api_fail(r, &rep);
                }
                /* the agent went away after it answered once: wait for it */
                if (connected || s.boot[0])
                        fprintf(stderr,
                                "om: the agent closed the event stream (%s); "
                                "connecting again\n",
                                strerror(-r));
                connected = false;
                while ((r = stream_open(&s)) < 0) {
                        if (r == -EREMOTEIO)
                                return om_cli_fail("the agent refused: %s", s.error);
                        usleep(500 * 1000);
                }
        }
        om_events_stream_close(&s);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd events_cmds[] = {
        {"node events", 0, "format= filter= since= count=", cmd_events,
         "Print the agent's events as they happen (node up and down, quorum, monitor states, "
         "targets, takeovers, actions, replication, heartbeat drops) until interrupted."},
};
OM_CLI_REGISTER(events_cmds)
