/*
 * Implementation of metrics.h: the counters of what happens (actions, failovers, hooks)
 * and the rendering of the exposition from the agent's state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/events.h"
#include "agent/http.h"
#include "agent/metrics.h"
#include "agent/orchestrator.h"
#include "core/fileio.h"
#include "core/objpath.h"

#define ACTION_KINDS_MAX 32

struct action_count {
        char kind[24];
        uint64_t n[2];      /* failed, ok */
        uint64_t ms_sum[2]; /* their durations */
};

struct failover_count {
        char path[OM_PATH_STRMAX];
        uint64_t n[2];
        uint64_t ms_sum[2];
};

static const char *const hook_results[] = {"ok", "failed", "timeout", "spawn_error", "dropped"};

struct om_metrics {
        struct action_count actions[ACTION_KINDS_MAX];
        size_t n_actions;
        struct failover_count *failovers;
        size_t n_failovers;
        uint64_t hooks[ARRAY_SIZE(hook_results)];
};

static struct om_metrics *metrics(struct om_agent *a) {
        if (!a->metrics)
                a->metrics = calloc(1, sizeof(*a->metrics));
        return a->metrics;
}

void om_metrics_action(struct om_agent *a, const char *kind, bool ok, uint64_t ms) {
        struct om_metrics *m = metrics(a);
        if (!m)
                return;
        struct action_count *c = NULL;
        for (size_t i = 0; i < m->n_actions && !c; i++)
                if (strcmp(m->actions[i].kind, kind) == 0)
                        c = &m->actions[i];
        if (!c && m->n_actions < ACTION_KINDS_MAX) {
                c = &m->actions[m->n_actions++];
                snprintf(c->kind, sizeof(c->kind), "%s", kind);
        }
        if (!c)
                return;
        c->n[ok]++;
        c->ms_sum[ok] += ms;
}

void om_metrics_failover(struct om_agent *a, const char *path, bool ok, uint64_t ms) {
        struct om_metrics *m = metrics(a);
        if (!m)
                return;
        struct failover_count *c = NULL;
        for (size_t i = 0; i < m->n_failovers && !c; i++)
                if (strcmp(m->failovers[i].path, path) == 0)
                        c = &m->failovers[i];
        if (!c) {
                struct failover_count *v = realloc(m->failovers, (m->n_failovers + 1) * sizeof(*v));
                if (!v)
                        return;
                m->failovers = v;
                c = &v[m->n_failovers++];
                *c = (struct failover_count){0};
                snprintf(c->path, sizeof(c->path), "%s", path);
        }
        c->n[ok]++;
        c->ms_sum[ok] += ms;
}

void om_metrics_hook(struct om_agent *a, const char *result) {
        struct om_metrics *m = metrics(a);
        for (size_t i = 0; m && i < ARRAY_SIZE(hook_results); i++)
                if (strcmp(hook_results[i], result) == 0)
                        m->hooks[i]++;
}

void om_metrics_free(struct om_agent *a) {
        if (!a->metrics)
                return;
        free(a->metrics->failovers);
        free(a->metrics);
        a->metrics = NULL;
}

/* ---- the exposition ---- */

struct out {
        struct om_buf *b;
        int r;
};

static void put(struct out *o, const char *fmt, ...) _printf_(2, 3);
static void put(struct out *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = om_vasprintf(fmt, ap);
        va_end(ap);
        if (!s || om_buf_puts(o->b, s) < 0)
                o->r = -ENOMEM;
        free(s);
}

static void head(struct out *o, const char *name, const char *type, const char *help) {
        put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format wants (backslash, quote, newline). */
static void label(struct out *o, const char *key, const char *val, bool first) {
        struct om_buf *b = o->b;
        if (om_buf_printf(b, "%s%s=\"", first ? "" : ",", key) < 0)
                o->r = -ENOMEM;
        for (const char *p = val; *p; p++) {
                const char *e = *p == '\\'   ? "\\\\"
                                : *p == '"'  ? "\\\""
                                : *p == '\n' ? "\\n"
                                             : NULL;
                if ((e ? om_buf_puts(b, e) : om_buf_append(b, p, 1)) < 0)
                        o->r = -ENOMEM;
        }
        if (om_buf_puts(b, "\"") < 0)
                o->r = -ENOMEM;
}

/* name{k1="v1",k2="v2"} value: labels as pairs, NULL-terminated */
static void sample(struct out *o, const char *name, const char *value, ...) {
        va_list ap;
        put(o, "%s", name);
        va_start(ap, value);
        const char *k = va_arg(ap, const char *);
        if (k) {
                put(o, "{");
                for (bool first = true; k; k = va_arg(ap, const char *), first = false)
                        label(o, k, va_arg(ap, const char *), first);
                put(o, "}");
        }
        va_end(ap);
        put(o, " %s\n", value);
}

static const char *u64s(char *buf, uint64_t v) {
        snprintf(buf, 24, "%llu", (unsigned long long)v);
        return buf;
}

static const char *secs(char *buf, uint64_t ms) {
        snprintf(buf, 24, "%llu.%03llu", (unsigned long long)(ms / 1000),
                 (unsigned long long)(ms % 1000));
        return buf;
}

static void process_metrics(struct out *o, struct om_agent *a) {
        char v[24];
        struct rusage ru;
        _cleanup_free_ char *statm = NULL;
        unsigned long long size = 0, resident = 0;
        if (om_read_file("/proc/self/statm", 4096, &statm, NULL) == 0 &&
            sscanf(statm, "%llu %llu", &size, &resident) == 2) {
                head(o, "om_process_resident_memory_bytes", "gauge",
                     "Resident memory of the agent process.");
                sample(o, "om_process_resident_memory_bytes",
                       u64s(v, resident * (uint64_t)sysconf(_SC_PAGESIZE)), NULL);
        }
        if (getrusage(RUSAGE_SELF, &ru) == 0) {
                uint64_t us =
                        (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
                        (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
                head(o, "om_process_cpu_seconds_total", "counter",
                     "CPU time of the agent process (user and system), its children apart.");
                snprintf(v, sizeof(v), "%llu.%06llu", (unsigned long long)(us / 1000000),
                         (unsigned long long)(us % 1000000));
                sample(o, "om_process_cpu_seconds_total", v, NULL);
        }
        head(o, "om_process_start_time_seconds", "gauge",
             "When the agent started, seconds since the epoch.");
        sample(o, "om_process_start_time_seconds", secs(v, a->started_wall), NULL);
        head(o, "om_loop_stalls_total", "counter",
             "Ticks of the agent's loop late by half a timeout or more (its peers not judged).");
        sample(o, "om_loop_stalls_total", u64s(v, a->stalls), NULL);
        head(o, "om_node_data_generation", "gauge", "Generation of this node's data.");
        sample(o, "om_node_data_generation", u64s(v, a->local.gen), NULL);
}

static void hb_metrics(struct out *o, struct om_agent *a) {
        char v[24];
        uint64_t now = uv_now(&a->loop);
        head(o, "om_hb_frames_sent_total", "counter",
             "Heartbeat frames sent, by stream and peer (a relay stream's to its arbitrator: "
             "peer \"\").");
        for (size_t h = 0; h < a->n_hb; h++) {
                const char *st = a->cfg->hb[h].name;
                if (a->cfg->hb[h].relay) {
                        sample(o, "om_hb_frames_sent_total", u64s(v, a->hb[h].st.tx_frames),
                               "stream", st, "peer", "", NULL);
                        continue;
                }
                for (size_t i = 0; i < a->n_peers; i++)
                        if (!a->peers[i].self)
                                sample(o, "om_hb_frames_sent_total",
                                       u64s(v, a->peers[i].tx_frames[h]), "stream", st, "peer",
                                       a->peers[i].name, NULL);
        }
        head(o, "om_hb_frames_received_total", "counter",
             "Heartbeat frames received and accepted, by stream and peer.");
        for (size_t h = 0; h < a->n_hb; h++)
                for (size_t i = 0; i < a->n_peers; i++)
                        if (!a->peers[i].self)
                                sample(o, "om_hb_frames_received_total",
                                       u64s(v, a->peers[i].rx_frames[h]), "stream",
                                       a->cfg->hb[h].name, "peer", a->peers[i].name, NULL);
        head(o, "om_hb_frames_dropped_total", "counter",
             "Heartbeat datagrams dropped, by stream and reason (before the sender is known).");
        for (size_t h = 0; h < a->n_hb; h++) {
                om_hb_kernel_drops(&a->hb[h]);
                for (int d = 0; d < _OM_HB_DROP_MAX; d++)
                        sample(o, "om_hb_frames_dropped_total", u64s(v, a->hb[h].st.drops[d]),
                               "stream", a->cfg->hb[h].name, "reason", om_hb_drop_to_string(d),
                               NULL);
        }
        head(o, "om_hb_send_errors_total", "counter", "Heartbeat frames that could not be sent.");
        for (size_t h = 0; h < a->n_hb; h++)
                sample(o, "om_hb_send_errors_total", u64s(v, a->hb[h].st.tx_errors), "stream",
                       a->cfg->hb[h].name, NULL);
        head(o, "om_hb_sent_bytes_total", "counter", "Heartbeat bytes sent.");
        for (size_t h = 0; h < a->n_hb; h++)
                sample(o, "om_hb_sent_bytes_total", u64s(v, a->hb[h].st.tx_bytes), "stream",
                       a->cfg->hb[h].name, NULL);
        head(o, "om_hb_received_bytes_total", "counter", "Heartbeat bytes received and accepted.");
        for (size_t h = 0; h < a->n_hb; h++)
                sample(o, "om_hb_received_bytes_total", u64s(v, a->hb[h].st.rx_bytes), "stream",
                       a->cfg->hb[h].name, NULL);

        const struct om_view view = om_agent_view(a);
        head(o, "om_peer_up", "gauge",
             "1 when the node is alive in this node's view (heard, or vouched for), else 0.");
        for (size_t i = 0; i < a->n_peers; i++)
                sample(o, "om_peer_up", om_view_alive(&view, i) ? "1" : "0", "peer",
                       a->peers[i].name, NULL);
        head(o, "om_peer_liveness", "gauge",
             "1 for the liveness stage the node is in (unknown, up, suspect, down), else 0.");
        for (size_t i = 0; i < a->n_peers; i++)
                for (int st = OM_PEER_UNKNOWN; st <= OM_PEER_DOWN; st++)
                        sample(o, "om_peer_liveness", (int)a->peers[i].state == st ? "1" : "0",
                               "peer", a->peers[i].name, "state", om_peer_state_to_string(st),
                               NULL);
        head(o, "om_peer_last_seen_seconds", "gauge",
             "Time since the last valid frame of the peer (peers heard since the start only).");
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_peer *p = &a->peers[i];
                bool seen = false;
                for (size_t h = 0; h < a->n_hb; h++)
                        seen |= p->last_rx_hb[h] != 0;
                if (!p->self && seen && p->state != OM_PEER_UNKNOWN)
                        sample(o, "om_peer_last_seen_seconds", secs(v, now - p->last_rx), "peer",
                               p->name, NULL);
        }
}

static void cluster_metrics(struct out *o, struct om_agent *a) {
        char v[24];
        bool have;
        int votes, total;
        om_orch_quorum(a, &have, &votes, &total);
        head(o, "om_quorum_held", "gauge", "1 when this node holds the quorum.");
        sample(o, "om_quorum_held", have ? "1" : "0", NULL);
        head(o, "om_quorum_votes", "gauge",
             "Votes this node counts: live nodes and arbitrators whose vote it holds.");
        sample(o, "om_quorum_votes", u64s(v, (uint64_t)(votes > 0 ? votes : 0)), NULL);
        head(o, "om_quorum_votes_possible", "gauge", "Votes of the whole cluster.");
        sample(o, "om_quorum_votes_possible", u64s(v, (uint64_t)(total > 0 ? total : 0)), NULL);

        const struct om_view view = om_agent_view(a);
        head(o, "om_instance_avail", "gauge",
             "1 for an instance's availability (up, down, warn, n/a...) on a node, as this node "
             "last knew it.");
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_cl_nodedata *nd = om_view_data(&view, i);
                for (size_t k = 0; nd && k < nd->n_inst; k++)
                        sample(o, "om_instance_avail", "1", "path", nd->inst[k].path, "node",
                               a->peers[i].name, "avail", nd->inst[k].avail, NULL);
        }
        head(o, "om_instance_monitor", "gauge",
             "1 for an instance's monitor state (idle, ready, starting, start failed...) on a "
             "node.");
        for (size_t i = 0; i < a->n_peers; i++) {
                const struct om_cl_nodedata *nd = om_view_data(&view, i);
                for (size_t k = 0; nd && k < nd->n_inst; k++)
                        sample(o, "om_instance_monitor", "1", "path", nd->inst[k].path, "node",
                               a->peers[i].name, "state",
                               om_mon_to_string(nd->inst[k].monitor ? nd->inst[k].monitor
                                                                    : OM_MON_IDLE),
                               NULL);
        }
        size_t secs_n = 0;
        for (size_t k = 0; k < a->local.n_objs; k++) {
                struct om_path p;
                if (!a->local.objs[k].deleted &&
                    om_path_parse(a->local.objs[k].path, &p, NULL, 0) == 0 && p.kind == OM_KIND_SEC)
                        secs_n++;
        }
        head(o, "om_secret_objects", "gauge", "Secret (sec) objects this node holds.");
        sample(o, "om_secret_objects", u64s(v, secs_n), NULL);

        struct om_repl_counts rc;
        om_repl_counts(a, &rc);
        head(o, "om_repl_versions_behind", "gauge",
             "Object versions a live peer has, newer than this node's and in its scope, at the "
             "last replication pass.");
        sample(o, "om_repl_versions_behind", u64s(v, rc.behind), NULL);
        head(o, "om_repl_jobs_inflight", "gauge", "Replication fetches and installs under way.");
        sample(o, "om_repl_jobs_inflight", u64s(v, rc.inflight), NULL);
        static const char *const results[] = {"installed", "deleted", "refused", "stale", "error"};
        const uint64_t counts[] = {rc.installed, rc.deleted, rc.refused, rc.stale, rc.errors};
        head(o, "om_repl_versions_total", "counter",
             "Versions replication handled, by result (installed, deleted by a tombstone, "
             "refused by the checks, stale, error).");
        for (size_t i = 0; i < ARRAY_SIZE(results); i++)
                sample(o, "om_repl_versions_total", u64s(v, counts[i]), "result", results[i], NULL);
        head(o, "om_repl_served_total", "counter", "Object files served to peers.");
        sample(o, "om_repl_served_total", u64s(v, rc.served), NULL);
}

static void happened_metrics(struct out *o, struct om_agent *a) {
        struct om_metrics *m = metrics(a);
        char v[24];
        if (!m)
                return;
        static const char *const res[2] = {"failed", "ok"};
        head(o, "om_actions_total", "counter",
             "Actions the agent ran, by kind (status: the monitor's refreshes) and result.");
        for (size_t i = 0; i < m->n_actions; i++)
                for (int ok = 0; ok < 2; ok++)
                        sample(o, "om_actions_total", u64s(v, m->actions[i].n[ok]), "action",
                               m->actions[i].kind, "result", res[ok], NULL);
        head(o, "om_action_duration_seconds", "summary",
             "Time the agent's actions ran, by kind and result.");
        for (size_t i = 0; i < m->n_actions; i++)
                for (int ok = 0; ok < 2; ok++) {
                        sample(o, "om_action_duration_seconds_sum",
                               secs(v, m->actions[i].ms_sum[ok]), "action", m->actions[i].kind,
                               "result", res[ok], NULL);
                        sample(o, "om_action_duration_seconds_count", u64s(v, m->actions[i].n[ok]),
                               "action", m->actions[i].kind, "result", res[ok], NULL);
                }
        head(o, "om_failovers_total", "counter",
             "Takeovers by this node of a service that ran on another node, by result of their "
             "start.");
        for (size_t i = 0; i < m->n_failovers; i++)
                for (int ok = 0; ok < 2; ok++)
                        sample(o, "om_failovers_total", u64s(v, m->failovers[i].n[ok]), "path",
                               m->failovers[i].path, "result", res[ok], NULL);
        head(o, "om_failover_duration_seconds", "summary",
             "Time from this node finding no instance up to the end of its start, by result.");
        for (size_t i = 0; i < m->n_failovers; i++)
                for (int ok = 0; ok < 2; ok++) {
                        sample(o, "om_failover_duration_seconds_sum",
                               secs(v, m->failovers[i].ms_sum[ok]), "path", m->failovers[i].path,
                               "result", res[ok], NULL);
                        sample(o, "om_failover_duration_seconds_count",
                               u64s(v, m->failovers[i].n[ok]), "path", m->failovers[i].path,
                               "result", res[ok], NULL);
                }
        head(o, "om_hook_runs_total", "counter",
             "Hook commands run for events, by result (dropped: not run, too many waiting).");
        for (size_t i = 0; i < ARRAY_SIZE(hook_results); i++)
                sample(o, "om_hook_runs_total", u64s(v, m->hooks[i]), "result", hook_results[i],
                       NULL);
        head(o, "om_events_total", "counter", "Events emitted, by kind.");
        for (int k = 0; k < _OM_EV_KIND_MAX; k++)
                sample(o, "om_events_total", u64s(v, om_events_count(a, k)), "kind",
                       om_ev_kind_to_string(k), NULL);
        head(o, "om_event_subscribers", "gauge", "Event subscribers connected now.");
        sample(o, "om_event_subscribers", u64s(v, om_events_subscribers(a)), NULL);
        head(o, "om_local_api_dropped_total", "counter",
             "Local API connections closed or requests refused, by reason.");
        for (int d = 0; om_api_local_drop_name(d); d++)
                sample(o, "om_local_api_dropped_total", u64s(v, a->local_conns.drops[d]), "reason",
                       om_api_local_drop_name(d), NULL);
        head(o, "om_peer_api_dropped_total", "counter",
             "Peer API connections closed or requests refused, by reason.");
        for (int d = 0; om_api_peer_drop_name(d); d++)
                sample(o, "om_peer_api_dropped_total", u64s(v, a->peer_conns.drops[d]), "reason",
                       om_api_peer_drop_name(d), NULL);
        head(o, "om_http_dropped_total", "counter",
             "HTTP API connections closed or requests refused, by reason.");
        for (int d = 0; om_http_drop_name(d); d++)
                sample(o, "om_http_dropped_total", u64s(v, om_http_dropped(a, d)), "reason",
                       om_http_drop_name(d), NULL);
}

int om_metrics_render(struct om_agent *a, struct om_buf *out) {
        struct out o = {.b = out};
        process_metrics(&o, a);
        hb_metrics(&o, a);
        cluster_metrics(&o, a);
        happened_metrics(&o, a);
        return o.r;
}
