/*
 * Renderers of `print status` and `print devs` (text trees as the reference draws
 * them, and --format json). They read an evaluated service (om_res_svc_eval) and write
 * to a buffer; they never touch devices themselves, except that `print devs` asks the
 * drivers for their devices.
 */
#pragma once

#include "core/util.h"
#include "resources/res.h"

/* The rendering width: COLUMNS when set, else the terminal's, never under 78; no
 * wrapping (4096) when stdout is not a terminal. */
int om_res_term_width(void);

/* The status tree of an evaluated service, as seen from this node, at width columns. */
int om_res_render_status(struct om_res_svc *svc, int width, struct om_buf *out);
int om_res_render_status_json(struct om_res_svc *svc, const char *format, struct om_buf *out);

int om_res_render_devs(struct om_res_svc *svc, struct om_buf *out);

/* After om_res_svc_eval: true when the instance is not provisioned though some of its
 * resources are (a provision that failed halfway): print status says "partially
 * provisioned" then. */
bool om_res_svc_partly_provisioned(const struct om_res_svc *svc);
/* Another node preempted the reservation of a device of an enabled resource (still up,
 * or stopped since and not started again): the instance is fenced, print status says so
 * in place of its monitor state. */
bool om_res_svc_fenced(const struct om_res_svc *svc);
/* Appends the resources recorded as provisioned, "disk#0 (loop /opt/x.img), ...", to
 * out; returns how many. */
int om_res_left_provisioned(const struct om_res_svc *svc, struct om_buf *out);
int om_res_render_devs_json(struct om_res_svc *svc, const char *format, struct om_buf *out);
