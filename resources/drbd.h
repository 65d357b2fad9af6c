/*
 * DRBD 8.4 as disk.drbd drives it, without the driver: the resource file om writes
 * (one text from the service's config), the kernel's /proc/drbd line of a minor read
 * back into a state, and the metadata signature found on a backing device. Pure
 * functions (no file, no process), for the driver and its unit test.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One node of the resource: its name (as om_nodename() says it on that node, which
 * drbdadm is told through __DRBD_NODE__) and its numeric replication address. */
struct om_drbd_node {
        const char *name;
        const char *addr;
};

struct om_drbd_conf {
        const char *origin; /* "ns/svc/name rid", written in the file's header comment */
        const char *res;
        unsigned minor;
        const char *disk; /* the backing device on this node */
        const char *protocol;
        unsigned port;
        const struct om_drbd_node *nodes;
        size_t n_nodes;
        const char *helper; /* the om link DRBD's handlers run (fence-peer, after-resync-target) */
};

#define OM_DRBD_MINOR_MAX 1048575u

/* Whether name is a DRBD resource name om accepts: 1 to 63 of [A-Za-z0-9_.+-], not '.'
 * first. */
bool om_drbd_res_name_valid(const char *name);

/* The resource file of c. -EINVAL with the reason in err for a value DRBD would refuse
 * or misread (a resource name, a path with white space or quotes, a protocol other than
 * A, B or C, a port out of range, not exactly two nodes, two nodes with one name or one
 * address, an address that is not a numeric IPv4 or IPv6 address, a helper path that
 * is not absolute or not a plain word). */
int om_drbd_conf_render(const struct om_drbd_conf *c, char **ret, char *err, size_t errlen);

struct om_drbd_state {
        bool present;       /* the minor has a line in /proc/drbd */
        char cs[32];        /* connection: StandAlone, WFConnection, Connected, SyncSource... */
        char role[16];      /* Primary, Secondary, Unknown */
        char peer_role[16]; /* the peer's, Unknown when not connected */
        char disk[16];      /* UpToDate, Consistent, Outdated, Inconsistent, Diskless... */
        char peer_disk[16]; /* DUnknown when not connected */
        int sync_permille;  /* resync or verify progress (0-1000), -1 when none runs */
        uint64_t out_of_sync_kib; /* oos: what the peer lacks, in KiB */
};

/* The state of minor in text, the content of /proc/drbd (DRBD 8.4). present is false
 * when the minor has no line, or its line says cs:Unconfigured. -EINVAL when text is
 * not a DRBD 8 /proc/drbd (no "version: 8." first line). */
int om_drbd_proc_parse(const char *text, unsigned minor, struct om_drbd_state *ret);

/* "Primary/Secondary UpToDate/UpToDate Connected", with " sync 45.2%" during a
 * resync; "unconfigured" when not present. */
void om_drbd_state_summary(const struct om_drbd_state *s, char *buf, size_t len);

/* Whether a connection state is connected to the peer (Connected, a sync or verify
 * state, a pause). */
bool om_drbd_cs_connected(const char *cs);

/* Whether block holds DRBD 8 internal metadata: block is the last 4096-byte aligned
 * block of the backing device (at (size & ~4095) - 4096), where drbdmeta writes the
 * superblock whose magic is at byte 60. */
bool om_drbd_md_magic(const unsigned char block[4096]);
