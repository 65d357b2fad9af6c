/*
 * Implementation of cl_place.h: integer arithmetic only (no float, no locale), so that
 * every node orders the same nodes the same way.
 */
#include "cluster/cl_place.h"

#include <string.h>

#include "core/util.h"

static const char *const names[] = {
        [OM_PLACE_NODES_ORDER] = "nodes order",
        [OM_PLACE_NONE] = "none",
        [OM_PLACE_LOAD_AVG] = "load avg",
        [OM_PLACE_SPREAD] = "spread",
        [OM_PLACE_SHIFT] = "shift",
        [OM_PLACE_SCORE] = "score",
};

const char *om_placement_to_string(enum om_placement p) {
        return (unsigned)p < ARRAY_SIZE(names) ? names[p] : "?";
}

int om_placement_from_string(const char *s) {
        for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
                if (om_streq(s, names[i]))
                        return (int)i;
        return -1;
}

uint64_t om_place_hash(const char *path, const char *node) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const unsigned char *p = (const unsigned char *)path; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        h *= 0x100000001b3ULL; /* the 0 byte between the two */
        for (const unsigned char *p = (const unsigned char *)node; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        /* FNV alone leaves names that differ in their last byte close: mix every bit */
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        return h;
}

uint64_t om_place_index(const char *path) {
        const char *name = strrchr(path, '/');
        name = name ? name + 1 : path;
        size_t len = strlen(name), k = len;
        while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
                k--;
        uint64_t ix = 0;
        /* 18 digits at most: the rest of a longer number does not change the rotation's
         * meaning, and the sum stays within 64 bits */
        for (size_t j = k; j < len && j < k + 18; j++)
                ix = ix * 10 + (uint64_t)(name[j] - '0');
        return ix;
}

uint64_t om_place_score(const struct om_cl_nodedata *nd) {
        if (!nd || !nd->metrics)
                return 0;
        uint64_t cpus = nd->ncpu ? nd->ncpu : 1;
        uint64_t load_pm = (uint64_t)nd->load15 * 10 / cpus; /* per mille per CPU */
        uint64_t mem = nd->mem_avail > 1000 ? 1000 : nd->mem_avail;
        return mem * 1000 / (1000 + load_pm);
}

static const struct om_cl_nodedata *data_of(const struct om_view *v, const char *node) {
        for (size_t i = 0; v && i < v->n; i++)
                if (om_streq(v->peers[i].name, node))
                        return om_view_data(v, i);
        return NULL;
}

/* The sort key of a node: lower first. Nodes without metrics get the highest key. */
static uint64_t key_of(const struct om_view *v, enum om_placement p, const char *path,
                       const char *node) {
        const struct om_cl_nodedata *nd;
        switch (p) {
        case OM_PLACE_LOAD_AVG:
                nd = data_of(v, node);
                return nd && nd->metrics ? nd->load15 : UINT64_MAX;
        case OM_PLACE_SCORE:
                nd = data_of(v, node);
                return nd && nd->metrics ? 1000 - om_place_score(nd) : UINT64_MAX;
        case OM_PLACE_SPREAD:
                return ~om_place_hash(path, node); /* the highest hash first */
        default:
                return 0;
        }
}

size_t om_place_order(const struct om_view *v, enum om_placement p, const char *path,
                      const char (*nodes)[OM_CL_NAME_MAX], size_t n_nodes, size_t *order) {
        if (p == OM_PLACE_NONE || n_nodes == 0)
                return 0;
        if (n_nodes > OM_PLACE_NODES_MAX)
                n_nodes = OM_PLACE_NODES_MAX;
        uint64_t shift = p == OM_PLACE_SHIFT ? om_place_index(path) % n_nodes : 0;
        for (size_t j = 0; j < n_nodes; j++)
                order[j] = (j + shift) % n_nodes;
        if (p == OM_PLACE_NODES_ORDER || p == OM_PLACE_SHIFT)
                return n_nodes;
        /* a stable insertion sort on the key (a few nodes: no allocation, no qsort
         * whose order of equal keys is unspecified) */
        uint64_t keys[OM_PLACE_NODES_MAX];
        for (size_t j = 0; j < n_nodes; j++)
                keys[j] = key_of(v, p, path, nodes[j]);
        for (size_t j = 1; j < n_nodes; j++) {
                size_t x = order[j];
                size_t k = j;
                for (; k > 0 && keys[order[k - 1]] > keys[x]; k--)
                        order[k] = order[k - 1];
                order[k] = x;
        }
        return n_nodes;
}
