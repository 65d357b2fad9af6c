/*
 * File helpers: bounded reads, atomic replacement (temp file, fsync, rename, fsync of the
 * directory), directory creation and advisory locks. Everything that persists state
 * goes through om_write_atomic so a crash leaves the old file or the new one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file of at most max bytes. -EFBIG when larger. *ret is NUL-terminated. */
int om_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Replaces path atomically with data, mode applied before the rename: written to
 * "<path>.tmp.<pid>" first, which every failure removes. A temporary file of path left
 * by a writer that no longer runs (killed) is removed first, and logged. */
int om_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Removes, under dir (recursively), every "<name>.tmp.<pid>" whose process no longer
 * runs, logging each (the agent does it at start). */
int om_tmp_sweep(const char *dir);

int om_mkdir_p(const char *dir, mode_t mode);
/* Creates the directories leading to file. */
int om_mkdir_parents(const char *file, mode_t mode);

/* Takes an exclusive flock on path (created 0600). With wait false, -EWOULDBLOCK when
 * somebody holds it. The lock lives as long as the returned descriptor. */
int om_lock_file(const char *path, bool wait, int *ret_fd);

/* Removes a file and fsyncs its directory; 0 when it did not exist. */
int om_unlink_sync(const char *path);
