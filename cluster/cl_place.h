/*
 * Placement: the order in which a service's nodes are candidates for its HA leader
 * (`placement` in the service's config). A pure function of the service's path, its
 * `nodes` list and the cluster view (the node data each node publishes: its 15-minute
 * load average, its available memory), so that every node holding the same view computes
 * the same order. The leader itself (the first candidate that may run the service) is
 * chosen in cl_decide.h; see docs/ARCHITECTURE.md.
 *
 * The policies:
 * - nodes order: the `nodes` list as written;
 * - none: no order at all: the daemon never chooses a node on its own (no HA start, no
 *   takeover); users start the service where they want it;
 * - load avg: the lowest 15-minute load average first (nodes that publish none last);
 * - spread: a stable hash of the service's path and the node's name (highest first):
 *   services spread over the nodes, and a node's loss moves only its own services;
 * - shift: the `nodes` list rotated by the service's index, the number its name ends with
 *   (web0, web1, web2 on three nodes start on the first, second and third node);
 * - score: the highest score first, from the node's available memory and its load per CPU
 *   (om_place_score; nodes that publish none last).
 * Ties keep the `nodes` order.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cluster/cl_view.h"

#define OM_PLACE_NODES_MAX 64 /* a service's nodes: the first 64 are ordered */

enum om_placement {
        OM_PLACE_NODES_ORDER, /* the default: zero */
        OM_PLACE_NONE,
        OM_PLACE_LOAD_AVG,
        OM_PLACE_SPREAD,
        OM_PLACE_SHIFT,
        OM_PLACE_SCORE,
};

/* "nodes order", "none", "load avg", "spread", "shift", "score" (the keyword's values). */
const char *om_placement_to_string(enum om_placement p);
/* The policy named s; -1 when s names none. */
int om_placement_from_string(const char *s);

/* The stable hash spread orders by (FNV-1a over path, a 0 byte and node, then mixed):
 * the same on every node and every architecture. */
uint64_t om_place_hash(const char *path, const char *node);

/* The index shift rotates by: the decimal number the service's name (the last part of
 * its path) ends with, 0 when it ends with none. */
uint64_t om_place_index(const char *path);

/* A node's score for `score` placement, 0 to 1000: its available memory in per mille of
 * its total, divided by 1 plus its 15-minute load per CPU (a node with half its memory
 * free and one runnable task per CPU scores 250). 0 for a node that publishes no
 * metrics. */
uint64_t om_place_score(const struct om_cl_nodedata *nd);

/* Fills order[] with the indices (into nodes[]) of the service's nodes in candidate
 * order under policy p, reading each node's data from the view (a node the view does
 * not know, or without data, ranks as one that publishes no metrics). Returns n_nodes;
 * 0 for `none`. order must hold n_nodes entries (at most OM_PLACE_NODES_MAX are
 * ordered). */
size_t om_place_order(const struct om_view *v, enum om_placement p, const char *path,
                      const char (*nodes)[OM_CL_NAME_MAX], size_t n_nodes, size_t *order);
