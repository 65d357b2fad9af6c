/*
 * Logging. Three sinks, chosen by the process: the console (the `om` command), the
 * daemon log (`<log>/daemon.log`, lines tagged with a component) and the object log
 * (`<log>/namespaces/<ns>/<kind>/<name>.log`), whose line format is the reference's:
 *
 *   2022-01-14 14:15:27,061 INFO sid:<uuid> n:<node> o:<path> r:<rid> sc:n | <message>
 *
 * While an object context is open, every message goes to the object log and, when the
 * console is on, to the terminal as the reference's blocks ("@ n:.. o:.. r:.. sc:n"
 * then the indented message; "E " marks errors, "W " warnings). Without an object
 * context the console gets "om: <message>" on stderr for warnings and errors.
 * Secret material must never be passed to these functions.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/om.h"

enum om_log_level { OM_LOG_DEBUG, OM_LOG_INFO, OM_LOG_WARNING, OM_LOG_ERROR };

const char *om_log_level_to_string(enum om_log_level l);

/* The session id: one per process, generated on first use; an agent passes its own to
 * the action processes it spawns through OM_SID. */
const char *om_log_sid(void);
void om_log_set_sid(const char *sid);

/* Console output of object messages (the CLI turns it on for actions). */
void om_log_set_console(bool on);
bool om_log_console(void);
/* Debug messages are dropped unless OM_DEBUG is set or this is called. */
void om_log_set_debug(bool on);

/* Log files are rotated by size: a line that would take a file past OM_LOG_MAX_SIZE
 * (or the size set here) first renames it to "<file>.1", replacing the previous one, so
 * a log takes about twice that (writers that check at once may each add their line).
 * Processes writing one log rotate it once between them and follow each other's
 * rotations; a log removed by hand is created again. */
#define OM_LOG_MAX_SIZE ((size_t)10 << 20)
void om_log_set_max_size(size_t bytes);

/* Daemon log: opens (appending) the file; component tags the lines (c:<component>). */
int om_log_open_daemon(const char *file);
void om_log_set_component(const char *component);

/* Object context: messages go to `file` tagged with `objpath` until closed. */
int om_log_object_open(const char *objpath, const char *file);
void om_log_object_close(void);
/* The resource id tagging the next messages (r:<rid>), NULL for the object itself. */
void om_log_set_rid(const char *rid);

/* The reason an action of session sid failed, from the object log `file`: its last
 * ERROR line, as "<rid>: <message>" when a resource logged it, skipping the closing
 * "<action> failed" line. Reads at most the last OM_LOG_ERROR_SCAN bytes (an action's
 * lines are the newest). 0 with out filled, -ENOENT when no such line, or -errno. */
#define OM_LOG_ERROR_SCAN ((size_t)64 << 10)
int om_log_last_error(const char *file, const char *sid, char *out, size_t len);

/* Writes a message; returns -|err| (or 0 when err is 0) so callers can log and return
 * in one step. errno is set from err while formatting, so %m works. */
int om_log_full(enum om_log_level level, int err, const char *fmt, ...) _printf_(3, 4);
int om_log_fullv(enum om_log_level level, int err, const char *fmt, va_list ap);

#define log_debug(...) om_log_full(OM_LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) om_log_full(OM_LOG_INFO, 0, __VA_ARGS__)
#define log_warning(...) om_log_full(OM_LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) om_log_full(OM_LOG_ERROR, 0, __VA_ARGS__)
#define log_error_errno(r, ...) om_log_full(OM_LOG_ERROR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) om_log_full(OM_LOG_WARNING, (r), __VA_ARGS__)

/* Formats the reference timestamp "YYYY-MM-DD HH:MM:SS,mmm" (local time). */
void om_log_timestamp(char *buf, size_t len);
