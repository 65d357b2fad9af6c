/*
 * Hooks: `[hook#N] events = <kinds> command = <argv>` of cluster.conf (cluster/cl_config.h).
 * Each event of a kind a hook names runs its command as a child process, never a shell:
 * the event's JSON object (cluster/cl_event.h) and a newline on its standard input,
 * OM_EVENT_KIND and OM_EVENT_SEQ in its environment, in a process group of its own,
 * killed with it past the hook's timeout. The loop thread only spawns it and hears its
 * end; at most OM_LIM_HOOKS_RUNNING run at once, OM_LIM_HOOKS_WAITING more wait in
 * order, and past that a run is dropped. Every end is logged when it is not a success
 * (exit status, signal or timeout, and the start of its output) and counted by result
 * (metrics.h: ok, failed, timeout, spawn_error, dropped). Agent files only.
 */
#pragma once

struct om_agent;
struct om_event;

/* Runs (or queues) the hooks of a->cfg that take e's kind. */
void om_hooks_event(struct om_agent *a, const struct om_event *e);
/* Kills what runs and forgets what waits (the agent stops). */
void om_hooks_free(struct om_agent *a);
