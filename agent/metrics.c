/*
 * Implementation of metrics.h: the counters of what happens (actions, failovers, hooks)
 * and the rendering of the exposition from the agent's state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/metrics.h"
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
