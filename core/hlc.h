/*
 * Hybrid logical clock and object versions. An HLC value is the wall clock in
 * milliseconds shifted left 16 bits plus a logical counter: it never goes backwards on
 * a node (the last value is persisted under <var>/hlc, shared by every om process of
 * the node through a lock) and it moves past every value observed from peers, so a
 * write always carries a version greater than every version it could have seen.
 * Versions compare by HLC, then by writer node name: a deterministic winner.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct om_version {
        uint64_t hlc;
        char writer[64];
};

/* A new HLC value for a local event. */
int om_hlc_next(uint64_t *ret);
/* Moves the clock past a value received from a peer. */
int om_hlc_observe(uint64_t remote);

/* "<ms>.<counter>" */
void om_hlc_format(uint64_t hlc, char *buf, size_t len);
int om_hlc_parse(const char *s, uint64_t *ret);

/* <0, 0, >0 as a is older, equal or newer than b. */
int om_version_compare(const struct om_version *a, const struct om_version *b);
