/*
 * Implementation of drbd.h: the resource file, /proc/drbd and the metadata magic.
 */
#include "resources/drbd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

bool om_drbd_res_name_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 63 || name[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)name[i]) && !strchr("_.+-", name[i]))
                        return false;
        return true;
}

/* A word DRBD's config parser reads as one token: printable, no white space, no quote,
 * brace or semicolon. */
static bool plain_word(const char *s) {
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
                    strchr("\"'{};#\\", *p))
                        return false;
        return true;
}

/* "ipv4 10.0.0.1:7789" or "ipv6 [fd00::1]:7789"; false when addr is not numeric. */
static bool format_address(const char *addr, unsigned port, char *buf, size_t len) {
        unsigned char tmp[16];
        if (inet_pton(AF_INET, addr, tmp) == 1) {
                snprintf(buf, len, "ipv4 %s:%u", addr, port);
                return true;
        }
        if (inet_pton(AF_INET6, addr, tmp) == 1) {
                snprintf(buf, len, "ipv6 [%s]:%u", addr, port);
                return true;
        }
        return false;
}

int om_drbd_conf_render(const struct om_drbd_conf *c, char **ret, char *err, size_t errlen) {
        *ret = NULL;
        if (!om_drbd_res_name_valid(c->res)) {
                snprintf(err, errlen,
                         "res '%s' is not a DRBD resource name (1 to 63 of A-Z a-z 0-9 _ . + -, "
                         "not '.' first)",
                         c->res ? c->res : "");
                return -EINVAL;
        }
        if (c->minor > OM_DRBD_MINOR_MAX) {
                snprintf(err, errlen, "minor %u is above %u", c->minor, OM_DRBD_MINOR_MAX);
                return -EINVAL;
        }
        if (!plain_word(c->disk) || c->disk[0] != '/') {
                snprintf(err, errlen,
                         "disk '%s' is not an absolute device path without white space or "
                         "quotes",
                         c->disk ? c->disk : "");
                return -EINVAL;
        }
        if (!c->protocol || strlen(c->protocol) != 1 || !strchr("ABC", c->protocol[0])) {
                snprintf(err, errlen, "protocol '%s' is not A, B or C",
                         c->protocol ? c->protocol : "");
                return -EINVAL;
        }
        if (c->port < 1 || c->port > 65535) {
                snprintf(err, errlen, "port %u is not a TCP port (1 to 65535)", c->port);
                return -EINVAL;
        }
        if (c->n_nodes != 2) {
                snprintf(err, errlen,
                         "a DRBD 8.4 resource replicates between exactly two nodes, the "
                         "service's nodes are %zu",
                         c->n_nodes);
                return -EINVAL;
        }
        char addr[2][80];
        for (size_t i = 0; i < 2; i++) {
                const struct om_drbd_node *n = &c->nodes[i];
                if (!plain_word(n->name)) {
                        snprintf(err, errlen, "node name '%s' cannot be written in a DRBD file",
                                 n->name ? n->name : "");
                        return -EINVAL;
                }
                if (!n->addr || !format_address(n->addr, c->port, addr[i], sizeof(addr[i]))) {
                        snprintf(err, errlen,
                                 "the replication address of node %s, '%s', is not a numeric "
                                 "IPv4 or IPv6 address",
                                 n->name, n->addr ? n->addr : "");
                        return -EINVAL;
                }
        }
        if (!strcmp(c->nodes[0].name, c->nodes[1].name)) {
                snprintf(err, errlen, "the two nodes are both %s", c->nodes[0].name);
                return -EINVAL;
        }
        if (!strcmp(addr[0], addr[1])) {
                snprintf(err, errlen, "nodes %s and %s have one replication address, %s",
                         c->nodes[0].name, c->nodes[1].name, c->nodes[0].addr);
                return -EINVAL;
        }
        if (!plain_word(c->helper) || c->helper[0] != '/') {
                snprintf(err, errlen,
                         "the handler path '%s' is not an absolute path without "
                         "white space or quotes",
                         c->helper ? c->helper : "");
                return -EINVAL;
        }
        /* The timers: a dead peer is seen within ping-int + ping-timeout (about 4 s)
         * rather than DRBD's 10.5 s, so that a takeover does not wait on it; timeout (2 s)
         * stays below ping-int and connect-int as DRBD requires. fencing
         * resource-and-stonith: a Primary that loses its peer suspends its I/O and runs
         * the fence-peer handler, which resumes it only once the arbitrator recorded the
         * peer's replica outdated (cluster/arb_fence.h); a Secondary promoted without
         * its peer runs it too, and is refused when a mark names its own replica. A
         * node that comes back without its peer stays Consistent (never UpToDate by
         * itself), so om refuses to promote it unless forced. after-resync-target:
         * a replica resynchronized clears the mark naming it. The kernel calls om (its
         * usermode helper) for these; drbdadm run on this file calls the same. */
        char *text = om_asprintf("# written by om for %s: om rewrites it at every provision "
                                 "and start\n"
                                 "resource %s {\n"
                                 "    device /dev/drbd%u;\n"
                                 "    disk %s;\n"
                                 "    meta-disk internal;\n"
                                 "    net {\n"
                                 "        protocol %s;\n"
                                 "        ping-int 3;\n"
                                 "        ping-timeout 10;\n"
                                 "        timeout 20;\n"
                                 "        connect-int 3;\n"
                                 "    }\n"
                                 "    disk {\n"
                                 "        fencing resource-and-stonith;\n"
                                 "    }\n"
                                 "    handlers {\n"
                                 "        fence-peer \"%s fence-peer %s\";\n"
                                 "        after-resync-target \"%s after-resync-target %s\";\n"
                                 "    }\n"
                                 "    on %s {\n"
                                 "        address %s;\n"
                                 "    }\n"
                                 "    on %s {\n"
                                 "        address %s;\n"
                                 "    }\n"
                                 "}\n",
                                 c->origin ? c->origin : c->res, c->res, c->minor, c->disk,
                                 c->protocol, c->helper, c->res, c->helper, c->res,
                                 c->nodes[0].name, addr[0], c->nodes[1].name, addr[1]);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

/* Copies the value after "key:" in line (up to white space or '/') into buf. */
static void field(const char *line, const char *key, char *buf, size_t len, char *peer,
                  size_t peerlen) {
        buf[0] = 0;
        if (peer)
                peer[0] = 0;
        const char *p = strstr(line, key);
        if (!p)
                return;
        p += strlen(key);
        size_t n = strcspn(p, " \t\n/");
        snprintf(buf, len, "%.*s", (int)OM_MIN(n, len - 1), p);
        if (peer && p[n] == '/') {
                const char *q = p + n + 1;
                size_t m = strcspn(q, " \t\n");
                snprintf(peer, peerlen, "%.*s", (int)OM_MIN(m, peerlen - 1), q);
        }
}

/* The minor number a device line starts with (" 0: cs:..."), -1 when it is no such
 * line. */
static long device_line(const char *line) {
        const char *p = line;
        while (*p == ' ')
                p++;
        if (!isdigit((unsigned char)*p))
                return -1;
        char *end;
        long m = strtol(p, &end, 10);
        return *end == ':' ? m : -1;
}

int om_drbd_proc_parse(const char *text, unsigned minor, struct om_drbd_state *ret) {
        *ret = (struct om_drbd_state){.sync_permille = -1};
        if (!text || strncmp(text, "version: 8.", 11) != 0)
                return -EINVAL;
        bool in = false;
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t n = nl ? (size_t)(nl - line) : strlen(line);
                char l[512];
                snprintf(l, sizeof(l), "%.*s", (int)OM_MIN(n, sizeof(l) - 1), line);
                line = nl ? nl + 1 : NULL;
                long m = device_line(l);
                if (m >= 0) {
                        if (in)
                                break;
                        if ((unsigned long)m != minor)
                                continue;
                        in = true;
                        field(l, "cs:", ret->cs, sizeof(ret->cs), NULL, 0);
                        field(l, "ro:", ret->role, sizeof(ret->role), ret->peer_role,
                              sizeof(ret->peer_role));
                        field(l, "ds:", ret->disk, sizeof(ret->disk), ret->peer_disk,
                              sizeof(ret->peer_disk));
                        ret->present = ret->cs[0] && strcmp(ret->cs, "Unconfigured") != 0;
                        continue;
                }
                if (!in)
                        continue;
                const char *oos = strstr(l, "oos:");
                if (oos)
                        ret->out_of_sync_kib = strtoull(oos + 4, NULL, 10);
                const char *s = strstr(l, "sync'ed:");
                if (!s)
                        s = strstr(l, "verified:");
                if (s) {
                        s = strchr(s, ':') + 1;
                        char *end;
                        double pct = strtod(s, &end);
                        if (end != s && pct >= 0 && pct <= 100)
                                ret->sync_permille = (int)(pct * 10 + 0.5);
                }
        }
        if (!ret->present)
                *ret = (struct om_drbd_state){.sync_permille = -1};
        return 0;
}

bool om_drbd_cs_connected(const char *cs) {
        static const char *const connected[] = {
                "Connected",   "StartingSyncS", "StartingSyncT", "WFBitMapS", "WFBitMapT",
                "WFSyncUUID",  "SyncSource",    "SyncTarget",    "VerifyS",   "VerifyT",
                "PausedSyncS", "PausedSyncT",   "Ahead",         "Behind",
        };
        for (size_t i = 0; cs && i < ARRAY_SIZE(connected); i++)
                if (!strcmp(cs, connected[i]))
                        return true;
        return false;
}

void om_drbd_state_summary(const struct om_drbd_state *s, char *buf, size_t len) {
        if (!s->present) {
                snprintf(buf, len, "unconfigured");
                return;
        }
        int n = snprintf(buf, len, "%s/%s %s/%s %s", s->role, s->peer_role, s->disk, s->peer_disk,
                         s->cs);
        if (s->sync_permille >= 0 && n > 0 && (size_t)n < len)
                snprintf(buf + n, len - (size_t)n, " sync %d.%d%%", s->sync_permille / 10,
                         s->sync_permille % 10);
}

bool om_drbd_md_magic(const unsigned char block[4096]) {
        uint32_t magic = (uint32_t)block[60] << 24 | (uint32_t)block[61] << 16 |
                         (uint32_t)block[62] << 8 | (uint32_t)block[63];
        /* v08 clean, and 8.4's "unclean" (activity log not applied yet) */
        return magic == 0x8374026bu || magic == 0x8374026cu;
}
