/*
 * The agent's metrics in the Prometheus text exposition format (version 0.0.4), as
 * `om daemon metrics` prints them and an HTTP server serves them at /metrics: names with
 * the `om_` prefix, base units (seconds, bytes), counters ending in `_total`. Most values
 * are read from the agent's state when rendered (heartbeat counters, liveness, quorum,
 * instances, replication, API drops, the process); the few that exist only as they
 * happen (actions and failovers with their durations, hooks) are counted here by the
 * files that see them. Agent files only; the list of metrics is in docs/ARCHITECTURE.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/util.h"

struct om_agent;

/* An action child ended (runner.c): its kind ("start", "stop", ..., "status" for a
 * monitor refresh), whether it exited 0, how long it ran. */
void om_metrics_action(struct om_agent *a, const char *kind, bool ok, uint64_t ms);
/* A failover's start ended here (orchestrator.c): ok or failed, ms since this node
 * found no instance up. */
void om_metrics_failover(struct om_agent *a, const char *path, bool ok, uint64_t ms);
/* A hook run ended (hooks.c): result "ok", "failed", "timeout", "spawn_error", "dropped". */
void om_metrics_hook(struct om_agent *a, const char *result);

/* Appends the whole exposition to out: 0 or -ENOMEM. */
int om_metrics_render(struct om_agent *a, struct om_buf *out);
void om_metrics_free(struct om_agent *a);
