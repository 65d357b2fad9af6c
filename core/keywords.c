/*
 * The keyword tables and the config validator. Adding a keyword is adding a line here;
 * drivers read their values through the reference expander (core/ref.h), which falls
 * back to the defaults declared below.
 */
#include "core/keywords.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/objpath.h"

#define S OM_KW_STRING
#define I OM_KW_INT
#define B OM_KW_BOOL
#define SZ OM_KW_SIZE
#define D OM_KW_DURATION
#define L OM_KW_LIST
#define U OM_KW_UUID
#define C OM_KW_CHOICE
#define REQ OM_KWF_REQUIRED
#define PRV OM_KWF_PROVISION
#define SCO OM_KWF_SCOPABLE

static const struct om_keyword keywords[] = {
        /* object keywords, [DEFAULT] */
        {"DEFAULT", NULL, "id", U, NULL, NULL, 0, "Unique id of the object, generated at create."},
        {"DEFAULT", NULL, "nodes", L, "{nodename}", NULL, 0,
         "Nodes the service may run on, in order of preference.", OM_KWR_NODES},
        {"DEFAULT", NULL, "topology", C, "failover", "failover|flex", 0,
         "failover: one instance up at a time; flex: several."},
        {"DEFAULT", NULL, "orchestrate", C, "no", "no|ha|start", 0,
         "ha: the daemon starts the service on the best live node and takes it over when "
         "its node dies; start: the daemon starts it once, on the placement leader (on "
         "every node for flex), when no instance runs (after the agents start, or a "
         "create), and never moves it when its node dies; no: only actions started by "
         "users."},
        {"DEFAULT", NULL, "parents", L, NULL, NULL, 0,
         "Services (<namespace>/svc/<name>, or a name of the same namespace) that must be "
         "up on some node before the daemon starts this one (HA start, orchestrate = start, "
         "an orchestrated start). A loop of parents is a validation error."},
        {"DEFAULT", NULL, "children", L, NULL, NULL, 0,
         "Services that must be stopped on every node before an orchestrated stop (or "
         "unprovision, purge) stops this one. A loop of children is a validation error."},
        {"DEFAULT", NULL, "placement", C, "nodes order",
         "nodes order|none|load avg|spread|shift|score", 0,
         "The order in which the service's nodes are candidates for the HA leader (the node "
         "that starts it, and takes it over): nodes order, the nodes list as written; none, "
         "the daemon starts it nowhere on its own (no takeover: switch --to places it); load "
         "avg, the lowest 15-minute load average first; spread, a stable hash of the "
         "service's path and each node's name, so that services spread over the nodes; "
         "shift, the nodes list rotated by the number the service's name ends with (web0, "
         "web1, web2 start on the first, second, third node); score, the most available "
         "memory per unit of load per CPU first. Computed by every node from the node data "
         "they share; ties keep the nodes order. A service that runs is not moved when the "
         "order changes."},
        {"DEFAULT", NULL, "ready_period", D, "1s", NULL, 0,
         "Time the HA leader waits, once the running node is lost, before taking over."},
        {"DEFAULT", NULL, "monitor_interval", D, "5s", NULL, 0,
         "How often the daemon checks the resources a running instance watches (monitor, "
         "restart)."},
        {"DEFAULT", NULL, "split_action", C, "stop", "stop|freeze|crash|reboot", 0,
         "What a node that loses the quorum does to the failover services it runs."},
        {"DEFAULT", NULL, "priority", I, "50", NULL, 0,
         "When more services must start on a node than [node] max_parallel lets run at once "
         "(a node lost, a boot), the lower priority starts first (0 to 100; equal "
         "priorities by path).",
         OM_KWR_PRIORITY},
        {"DEFAULT", NULL, "comment", S, NULL, NULL, 0, "Free text describing the object."},
        {"DEFAULT", NULL, "env", S, NULL, NULL, 0,
         "Environment label (PRD, DEV, ...), for people and references ({env}); om decides "
         "nothing on it."},
        {"DEFAULT", NULL, "stop_timeout", D, "60s", NULL, 0,
         "Time a stop may take: past it the action is killed with every process it runs, "
         "logged as timed out, and fails (the instance stays up: stop failed). A restart "
         "may take stop_timeout + start_timeout."},
        {"DEFAULT", NULL, "monitor_action", C, NULL, "none|freezestop|crash|reboot", 0,
         "What a node does when a stop of the service fails (a resource that will not stop, "
         "or a stop killed at stop_timeout): none leaves everything as the stop left it; "
         "freezestop, crash and reboot first suspend every disk.crypt volume still open "
         "(luksSuspend: I/O on the mapping is held and the volume key leaves kernel "
         "memory; a suspend that has not ended after 5s, on a device that does not "
         "answer, is left behind), then freeze the instance, crash the node (sysrq c) or reboot it "
         "(sysrq b). crash and reboot are carried out only with OM_ALLOW_REBOOT=1 in the "
         "environment (otherwise logged, the volumes staying suspended). Default: crash "
         "when a disk.crypt of the service has scsireserv = true, none otherwise."},
        {"DEFAULT", NULL, "start_timeout", D, "60s", NULL, 0,
         "Time a start may take: past it the action is killed with every process it runs, "
         "logged as timed out, and fails."},

        /* keywords of every resource */
        {"*", NULL, "type", S, NULL, NULL, 0, "The driver of the resource within its group."},
        {"*", NULL, "optional", B, "false", NULL, SCO,
         "A failure of an optional resource does not fail the action."},
        {"*", NULL, "disable", B, "false", NULL, SCO, "Actions skip a disabled resource."},
        {"*", NULL, "monitor", B, "false", NULL, SCO,
         "A monitored resource found down, its restarts spent, makes the daemon give the "
         "instance up: an HA failover service is stopped and taken over by another node."},
        {"*", NULL, "standby", B, "false", NULL, SCO,
         "A standby resource is kept up on every node where the instance is provisioned, "
         "also where the service is not running: the daemon starts it there (checked every "
         "monitor_interval, unless the instance or node is frozen), stop leaves it up (only "
         "stop --force or unprovision stops it), and the instance's avail ignores it. "
         "Status flags show S."},
        {"*", NULL, "restart", I, "0", NULL, SCO,
         "How many times the daemon restarts the resource before giving up."},
        {"*", NULL, "tags", L, NULL, NULL, 0,
         "Words attached to the resource (white space or ',' between): an action run with "
         "--local --tag T acts on the resources tagged T (several tags: any of them), as "
         "--rid does by id."},
        {"*", NULL, "comment", S, NULL, NULL, 0, "Free text describing the resource."},

        /* disk.loop */
        {"disk", "loop", "file", S, NULL, NULL, REQ | SCO, "The backing file of the loop device.",
         OM_KWR_ABSPATH},
        {"disk", "loop", "size", SZ, NULL, NULL, PRV | SCO,
         "Size of the backing file created by provision (1G, 512M...).", OM_KWR_POSITIVE},

        /* disk.crypt */
        {"disk", "crypt", "dev", S, NULL, NULL, REQ | SCO, "The block device to encrypt.",
         OM_KWR_ABSPATH},
        {"disk", "crypt", "name", S, "{fqdn}-crypt", NULL, SCO,
         "Name of the device-mapper device: /dev/mapper/<name>.", OM_KWR_DMNAME},
        {"disk", "crypt", "secret", S, "{name}", NULL, 0,
         "Name of the sec object of the service's namespace holding the passphrase."},
        {"disk", "crypt", "manage_passphrase", B, "true", NULL, PRV,
         "Generate the passphrase at provision and store it in the secret; when false, "
         "the user stores it."},
        {"disk", "crypt", "label", S, "{fqdn}", NULL, PRV, "LUKS label written at provision."},
        {"disk", "crypt", "scsireserv", B, "false", NULL, 0,
         "Fence dev with SCSI-3 persistent reservations: the node that starts the resource "
         "registers its key (derived from the cluster and node names, shown by print "
         "status and print devs) and holds a Write Exclusive - Registrants Only "
         "reservation; a node taking over preempts and aborts the other nodes' keys "
         "before it opens the volume, so the storage refuses their writes from then on; "
         "stop releases the reservation and the key, unprovision clears every key. dev "
         "must support persistent reservations (a SCSI, iSCSI, FC or multipath disk): "
         "start refuses to run without them, provision warns."},

        /* disk.drbd */
        {"disk", "drbd", "res", S, "{name}", NULL, 0,
         "Name of the DRBD resource (1 to 63 of A-Z a-z 0-9 _ . + -). om writes its file, "
         "<var>/drbd/<res>.res, from the service's config at every provision and start."},
        {"disk", "drbd", "disk", S, NULL, NULL, REQ | SCO,
         "The backing block device on this node, often a reference to the resource under "
         "it ({disk#0.exposed_devs[0]}); that resource is kept up when the service stops "
         "(standby), so that replication goes on.",
         OM_KWR_ABSPATH},
        {"disk", "drbd", "minor", I, "0", NULL, 0,
         "Minor of the DRBD device: /dev/drbd<minor>. One per DRBD resource of a node."},
        {"disk", "drbd", "port", I, "7789", NULL, 0,
         "TCP port of the replication, on both nodes. One per DRBD resource of a node."},
        {"disk", "drbd", "addr", S, NULL, NULL, SCO,
         "A node's replication address (addr@<node>); default: the node's addr in the "
         "first [hb#N] section of cluster.conf that has one. The service's nodes must be "
         "exactly two."},
        {"disk", "drbd", "protocol", C, "C", "A|B|C", 0,
         "DRBD's replication protocol: C acknowledges a write once both disks hold it (a "
         "takeover loses nothing acknowledged); A and B acknowledge earlier."},

        /* fs */
        {"fs", NULL, "dev", S, NULL, NULL, REQ | SCO, "The block device holding the filesystem.",
         OM_KWR_ABSPATH},
        {"fs", NULL, "mnt", S, NULL, NULL, REQ | SCO, "The mount point.", OM_KWR_ABSPATH},
        {"fs", NULL, "mnt_opt", S, NULL, NULL, SCO, "Mount options (-o)."},
        {"fs", NULL, "mkfs_opt", S, NULL, NULL, PRV | SCO, "Options given to mkfs at provision."},
        {"fs", NULL, "check_read", B, "false", NULL, 0,
         "Status also reads one block of the mounted device (O_DIRECT): a filesystem "
         "still mounted on a device that fails its I/O reports down."},

        /* app */
        {"app", NULL, "start", S, NULL, NULL, SCO, "Command starting the application."},
        {"app", NULL, "stop", S, NULL, NULL, SCO, "Command stopping the application."},
        {"app", NULL, "check", S, NULL, NULL, SCO,
         "Command whose exit status tells whether the application is up (0 up, else down)."},
        {"app", NULL, "timeout", D, "60s", NULL, 0, "Time any of the commands may take."},
        {"app", NULL, "cwd", S, NULL, NULL, 0, "Working directory of the commands.",
         OM_KWR_ABSPATH},

        /* ip */
        {"ip", NULL, "ipname", S, NULL, NULL, REQ | SCO, "The address to bring up."},
        {"ip", NULL, "ipdev", S, NULL, NULL, REQ | SCO, "The interface carrying the address."},
        {"ip", NULL, "netmask", S, NULL, NULL, SCO, "Prefix length or dotted mask."},
        {"ip", NULL, "arp_announce", I, "3", NULL, 0,
         "How many gratuitous ARP requests (IPv4) or unsolicited neighbour advertisements "
         "(IPv6) start sends, 100 ms apart, so that neighbours learn the address moved "
         "(0 to 10; 0 sends none)."},

        /* cluster.conf */
        {"cluster", NULL, "name", S, "default", NULL, 0, "The cluster's name ({clustername})."},
        {"cluster", NULL, "secret", S, NULL, NULL, 0,
         "64 hex digits every key of the cluster is derived from."},
        {"cluster", NULL, "secret_gen", I, "1", NULL, 0,
         "Generation of the secret, raised by each om cluster rotate-secret."},
        {"cluster", NULL, "secret_next", S, NULL, NULL, 0,
         "During a rotation: the new secret, accepted but not used yet (set by om cluster "
         "rotate-secret)."},
        {"cluster", NULL, "secret_prev", S, NULL, NULL, 0,
         "During a rotation: the secret replaced, still accepted until every sec object is "
         "sealed with the new one (set by om cluster rotate-secret)."},
        {"cluster", NULL, "nodes", L, NULL, NULL, 0, "The cluster's nodes.", OM_KWR_NODES},
        {"cluster", NULL, "quorum", B, NULL, NULL, 0,
         "Whether a node needs a majority to run failover services."},
        {"cluster", NULL, "api_port", I, "1215", NULL, 0, "TCP port of the peer API."},
        {"cluster", NULL, "tombstone_ttl", D, "7d", NULL, 0,
         "How long the record of a deleted object is kept. A node down longer than that may "
         "bring back an object deleted meanwhile."},
        {"node", NULL, "max_parallel", I, NULL, NULL, SCO,
         "How many actions the daemon runs at once on the node (starts, status refreshes; "
         "a stop is never held back): the others wait, in priority order (default: twice the "
         "CPUs; 1 to 1000; max_parallel@<node> for one node).",
         OM_KWR_MAXPAR},
        {"api", NULL, "http_addr", S, NULL, NULL, SCO,
         "Address the HTTP API listens on (http_addr@<node> for one node); unset: no HTTP "
         "API. See README, the HTTP API."},
        {"api", NULL, "http_port", I, "1216", NULL, SCO, "TCP port of the HTTP API."},
        {"api", NULL, "http_tls", C, "cluster", "cluster|files|off", SCO,
         "cluster: a certificate this node makes at start, signed by the cluster CA (om http "
         "ca prints it); files: http_cert and http_key; off: plain HTTP, accepted on a "
         "loopback http_addr only."},
        {"api", NULL, "http_cert", S, NULL, NULL, SCO,
         "http_tls = files: the PEM certificate chain of this node (absolute path)."},
        {"api", NULL, "http_key", S, NULL, NULL, SCO,
         "http_tls = files: the PEM private key of http_cert (absolute path)."},
        {"hook", NULL, "events", L, NULL, NULL, REQ | SCO,
         "The event kinds that run the hook (names as om node events shows them: node_down, "
         "takeover, failover, ...; all for every kind); events@<node> for one node."},
        {"hook", NULL, "command", S, NULL, NULL, REQ | SCO,
         "The program and its arguments, split as a shell would but run without one, with "
         "the event as one JSON object on its standard input and OM_EVENT_KIND, OM_EVENT_SEQ "
         "in its environment; command@<node> for one node. Its output goes to the daemon "
         "log when it fails."},
        {"hook", NULL, "timeout", D, "10s", NULL, SCO,
         "Time the command may run; past it, it is killed with its process group and the run "
         "counted as timed out (1s to 1h)."},
        {"hb", NULL, "type", C, "unicast", "unicast|relay|disk", 0,
         "Heartbeat transport: unicast sends each beat to every node's addr; relay sends it to "
         "an arbitrator (`arbitrator`), which checks it opens with the cluster's key and "
         "forwards it to the other nodes of the cluster it heard recently, so two nodes that "
         "both reach it keep seeing each other when the link between them fails; disk writes "
         "each beat, sealed as the network beats, to this node's slot of a shared device "
         "(`dev`) with O_DIRECT and reads the other nodes' slots, so a node whose network "
         "beats stop while its disk beats go on stays alive (`om mon`: disk (net down)) and "
         "nothing it runs is taken over."},
        {"hb", NULL, "dev", S, NULL, NULL, 0,
         "type = disk: the shared block device (or file) of the disk heartbeat, an absolute "
         "path, the same storage on every node; a small dedicated LUN or partition. Block i+1 "
         "(4 KiB blocks) is the slot of the i-th node of `[cluster] nodes`, block 0 is never "
         "written: the device needs (nodes + 1) x 4 KiB. A node refuses to write its slot when "
         "it holds data that is not a disk heartbeat slot, or another node's beats."},
        {"hb", NULL, "arbitrator", S, NULL, NULL, 0,
         "type = relay: the [arbitrator#N] section of the arbitrator that relays the beats "
         "(the addr@<node> of this section, or the node's name, is the address they leave "
         "from)."},
        {"hb", NULL, "port", I, "10000", NULL, 0, "UDP port of the heartbeat."},
        {"hb", NULL, "addr", S, NULL, NULL, SCO, "A node's address (addr@<node>)."},
        {"hb", NULL, "interval", D, "1s", NULL, 0, "Time between two beats."},
        {"hb", NULL, "timeout", D, "3s", NULL, 0,
         "Time without a valid beat after which a peer is stale."},
        {"arbitrator", NULL, "uri", S, NULL, NULL, REQ,
         "om://<addr>:<port> of an `om arbitrator run` daemon serving this cluster (IPv6 as "
         "om://[addr]:port). Every interval the node asks it for its vote with the nodes it "
         "sees alive; the arbitrator gives the vote to one partition at a time, as a lease, "
         "and the node counts it only under that lease. tcp:// is refused: a TCP listener "
         "answers both sides of a split."},
        {"arbitrator", NULL, "weight", I, "1", NULL, 0, "Votes the arbitrator brings."},

        /* arbitrator.conf (om arbitrator run) */
        {"arbd", NULL, "addr", S, "0.0.0.0", NULL, 0,
         "Numeric address the arbitrator listens on (UDP)."},
        {"arbd", NULL, "port", I, "1216", NULL, 0, "UDP port of the arbitrator."},
        {"arbd", NULL, "name", S, NULL, NULL, 0,
         "The name the arbitrator signs its answers with (default: the host's node name)."},
        {"arbd-cluster", NULL, "name", S, NULL, NULL, REQ,
         "The [cluster] name of a cluster the arbitrator serves."},
        {"arbd-cluster", NULL, "secret", S, NULL, NULL, REQ,
         "That cluster's [cluster] secret (64 hex digits): requests that do not open with its "
         "key are dropped. After om cluster rotate-secret, set the new one and restart the "
         "arbitrator."},
        {"arbd-cluster", NULL, "lease", D, "3s", NULL, 0,
         "How long the vote given to a partition lasts without renewal (1s to 60s; about the "
         "cluster's heartbeat timeout, at least two intervals). A side cut from the "
         "arbitrator loses the vote after it; the other side gets it only then. After a "
         "(re)start the arbitrator gives no vote for one lease."},
};

static const struct {
        const char *group;
        const char *types; /* space separated, NULL: no type keyword */
        const char *default_type;
} groups[] = {
        {"disk", "loop crypt drbd", NULL},
        {"fs", "ext4 ext3 ext2 xfs", NULL},
        {"app", "simple forking", "simple"},
        {"ip", "host", "host"},
};

const char *om_kw_type_to_string(enum om_kw_type t) {
        static const char *const names[] = {"string",   "integer", "boolean", "size",
                                            "duration", "list",    "uuid",    "choice"};
        return (unsigned)t < ARRAY_SIZE(names) ? names[t] : "?";
}

const struct om_keyword *om_keywords_all(size_t *ret_n) {
        *ret_n = ARRAY_SIZE(keywords);
        return keywords;
}

static bool word_in(const char *list, const char *word, char sep) {
        size_t n = strlen(word);
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, sep);
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len == n && strncmp(p, word, n) == 0)
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

const struct om_keyword *om_keyword_find(const char *group, const char *type, const char *name) {
        bool is_resource = false;
        for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
                if (strcmp(groups[i].group, group) == 0)
                        is_resource = true;
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
                const struct om_keyword *k = &keywords[i];
                if (strcmp(k->name, name) != 0)
                        continue;
                if (strcmp(k->section, group) == 0 &&
                    (!k->type || (type && strcmp(k->type, type) == 0)))
                        return k;
                if (is_resource && strcmp(k->section, "*") == 0)
                        return k;
        }
        return NULL;
}

bool om_keyword_group_known(enum om_kind kind, const char *group) {
        if (kind != OM_KIND_SVC)
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
                if (strcmp(groups[i].group, group) == 0)
                        return true;
        return false;
}

bool om_keyword_type_known(const char *group, const char *type) {
        for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
                if (strcmp(groups[i].group, group) == 0)
                        return word_in(groups[i].types, type, ' ');
        return false;
}

static const char *group_default_type(const char *group) {
        for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
                if (strcmp(groups[i].group, group) == 0)
                        return groups[i].default_type;
        return NULL;
}

int om_section_split(const char *section, char *group, size_t glen, char *index, size_t ilen) {
        const char *hash = strchr(section, '#');
        if (!hash) {
                if (strcmp(section, "DEFAULT") != 0 && strcmp(section, "data") != 0 &&
                    strcmp(section, "cluster") != 0 && strcmp(section, OM_META_SECTION) != 0)
                        return -EINVAL;
                snprintf(group, glen, "%s", section);
                snprintf(index, ilen, "%s", "");
                return 0;
        }
        size_t gl = (size_t)(hash - section);
        if (gl == 0 || gl >= glen || !hash[1] || strlen(hash + 1) >= ilen)
                return -EINVAL;
        for (const char *p = section; p < hash; p++)
                if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                        return -EINVAL;
        for (const char *p = hash + 1; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
                      *p == '-'))
                        return -EINVAL;
        memcpy(group, section, gl);
        group[gl] = 0;
        snprintf(index, ilen, "%s", hash + 1);
        /* the index: an integer from 0 to OM_LIM_SECTION_INDEX_MAX, written once */
        const char *ix = hash + 1;
        size_t il = strlen(ix);
        if (strspn(ix, "0123456789") != il || (il > 1 && ix[0] == '0') || il > 9 ||
            strtoul(ix, NULL, 10) > OM_LIM_SECTION_INDEX_MAX)
                return -ERANGE;
        return 0;
}

const char *om_section_type(const struct om_ini *ini, const char *section) {
        char group[64], index[64];
        if (om_section_split(section, group, sizeof(group), index, sizeof(index)) < 0 || !index[0])
                return NULL;
        const char *t = om_ini_get(ini, section, "type", NULL);
        return t ? t : group_default_type(group);
}

/* "loop, crypt" from a group's space separated types. */
static void join_words(const char *words, char *buf, size_t len) {
        size_t n = 0;
        buf[0] = 0;
        for (const char *p = words; p && *p && n < len;) {
                size_t w = strcspn(p, " ");
                n += (size_t)snprintf(buf + n, len - n, "%s%.*s", n ? ", " : "", (int)w, p);
                p += w;
                p += strspn(p, " ");
        }
}

static const char *group_types(const char *group) {
        for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
                if (strcmp(groups[i].group, group) == 0)
                        return groups[i].types;
        return NULL;
}

const struct om_keyword *om_keyword_lookup(const struct om_ini *ini, enum om_kind kind,
                                           const char *section, const char *key, char *err,
                                           size_t errlen) {
        char group[64], index[64], list[128];
        snprintf(err, errlen, "%s", "");
        int sr = om_section_split(section, group, sizeof(group), index, sizeof(index));
        if (sr == -ERANGE) {
                snprintf(err, errlen,
                         "section [%s]: index '%s' out of range (the rule: an integer from 0 to "
                         "%d, without leading zeros)",
                         section, index, OM_LIM_SECTION_INDEX_MAX);
                return NULL;
        }
        bool ok = sr == 0;
        bool is_default = ok && strcmp(group, "DEFAULT") == 0;
        bool is_data = ok && kind == OM_KIND_SEC && strcmp(group, "data") == 0;
        if (!ok ||
            (!is_default && !is_data && (!index[0] || !om_keyword_group_known(kind, group)))) {
                size_t n = 0;
                list[0] = 0;
                for (size_t i = 0;
                     kind == OM_KIND_SVC && i < ARRAY_SIZE(groups) && n < sizeof(list); i++)
                        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                                              i == 0                       ? ""
                                              : i + 1 < ARRAY_SIZE(groups) ? ", "
                                                                           : " or ",
                                              groups[i].group);
                if (kind == OM_KIND_SVC)
                        snprintf(err, errlen,
                                 "[%.64s] is not a section of a svc object (DEFAULT, or "
                                 "<group>#<index> with group %s)",
                                 section, list);
                else
                        snprintf(err, errlen, "[%.64s] is not a section of a %s object (%s)",
                                 section, om_kind_to_string(kind),
                                 kind == OM_KIND_SEC ? "DEFAULT or data" : "DEFAULT");
                return NULL;
        }
        if (is_data)
                return NULL; /* free-form keys, err "" */
        const struct om_keyword *kw = om_keyword_find(group, NULL, key);
        if (kw || is_default) {
                if (!kw)
                        snprintf(err, errlen, "unknown keyword '%.64s' in [DEFAULT]", key);
                return kw;
        }
        /* the keywords of a driver: they depend on the section's type */
        const char *type = om_section_type(ini, section);
        join_words(group_types(group), list, sizeof(list));
        if (!type) {
                snprintf(err, errlen,
                         "[%s] has no type, and '%.64s' is not a keyword of every %s (set "
                         "%s.type too: %s)",
                         section, key, group, section, list);
                return NULL;
        }
        if (!om_keyword_type_known(group, type)) {
                snprintf(err, errlen, "[%s]: unknown %s type '%.64s' (%s)", section, group, type,
                         list);
                return NULL;
        }
        if (!(kw = om_keyword_find(group, type, key)))
                snprintf(err, errlen, "unknown keyword '%.64s' in [%s] (a %s of type %s)", key,
                         section, group, type);
        return kw;
}

int om_keyword_names(const char *group, const char *type, char ***ret) {
        bool resource = group_types(group) != NULL;
        bool typed = type && om_keyword_type_known(group, type);
        _cleanup_strv_free_ char **v = NULL;
        int r;
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
                const struct om_keyword *k = &keywords[i];
                bool match = (resource && strcmp(k->section, "*") == 0) ||
                             (strcmp(k->section, group) == 0 &&
                              (!k->type || !typed || strcmp(k->type, type) == 0));
                if (match && !om_strv_contains(v, k->name) && (r = om_strv_push(&v, k->name)) < 0)
                        return r;
        }
        if (!v && !(v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = OM_TAKE_PTR(v);
        return 0;
}

static bool ref_chars_ok(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
                        return false;
        return true;
}

int om_kw_ref_parse(const char *s, struct om_kw_ref *ret, char *err, size_t errlen) {
        struct om_kw_ref k = {{0}};
        const char *dot = strchr(s, '.'), *key = s;
        char group[64], index[64];
        if (dot) {
                size_t n = (size_t)(dot - s);
                if (n == 0) {
                        snprintf(err, errlen,
                                 "'%.80s': empty section name (expected <section>.<keyword>)", s);
                        return -EINVAL;
                }
                int sr = -EINVAL;
                if (n < sizeof(k.section)) {
                        memcpy(k.section, s, n);
                        sr = om_section_split(k.section, group, sizeof(group), index,
                                              sizeof(index));
                }
                if (sr == -ERANGE) {
                        snprintf(err, errlen,
                                 "'%.80s': section [%s]: index '%s' out of range (the rule: an "
                                 "integer from 0 to %d, without leading zeros)",
                                 s, k.section, index, OM_LIM_SECTION_INDEX_MAX);
                        return -EINVAL;
                }
                if (sr < 0) {
                        snprintf(err, errlen,
                                 "'%.80s': bad section name '%.*s' (expected DEFAULT or "
                                 "<group>#<index>, like disk#1)",
                                 s, (int)(n > 64 ? 64 : n), s);
                        return -EINVAL;
                }
                key = dot + 1;
        } else
                snprintf(k.section, sizeof(k.section), "DEFAULT");
        const char *at = strchr(key, '@');
        size_t klen = at ? (size_t)(at - key) : strlen(key);
        if (klen == 0) {
                snprintf(err, errlen, "'%.80s': empty keyword name", s);
                return -EINVAL;
        }
        if (klen >= sizeof(k.key) || !ref_chars_ok(key, klen)) {
                snprintf(err, errlen,
                         "'%.80s': bad keyword name (expected [A-Za-z0-9_.-], 63 "
                         "characters at most)",
                         s);
                return -EINVAL;
        }
        memcpy(k.key, key, klen);
        if (at) {
                size_t slen = strlen(at + 1);
                if (slen == 0 || slen >= sizeof(k.scope) || !ref_chars_ok(at + 1, slen)) {
                        snprintf(err, errlen,
                                 "'%.80s': bad node name after '@' (expected keyword@node)", s);
                        return -EINVAL;
                }
                memcpy(k.scope, at + 1, slen);
        }
        *ret = k;
        return 0;
}

const char *om_kw_rule_to_string(enum om_kw_rule r) {
        static const char *const names[] = {
                [OM_KWR_NONE] = "none",
                [OM_KWR_ABSPATH] = "an absolute path without '..'",
                [OM_KWR_NODES] = "node names: a-z, 0-9 and '-', at most 63 characters",
                [OM_KWR_DMNAME] = ("a device-mapper name: A-Z, a-z, 0-9, '.', '_', '+' and '-', "
                                   "not '.' first, at most 127 characters"),
                [OM_KWR_POSITIVE] = "a size above 0",
                [OM_KWR_PRIORITY] = "an integer from 0 to 100",
                [OM_KWR_MAXPAR] = "an integer from 1 to 1000",
        };
        return (unsigned)r < ARRAY_SIZE(names) ? names[r] : "?";
}

/* Whether value follows kw's rule; the reason in err when not. A value with a
 * reference is checked as far as it can be: a path must still start with '/'. */
static int check_rule(const struct om_keyword *kw, const char *value, char *err, size_t errlen) {
        bool ref = strchr(value, '{') != NULL;
        const char *why = NULL;
        char word[128] = "";
        switch (kw->rule) {
        case OM_KWR_NONE:
                return 0;
        case OM_KWR_ABSPATH:
                if (value[0] != '/' && value[0] != '{')
                        why = "is not an absolute path";
                else if (!ref) {
                        for (const char *p = value; (p = strstr(p, "..")); p += 2)
                                if ((p == value || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
                                        why = "has a '..' component";
                }
                break;
        case OM_KWR_NODES: {
                _cleanup_strv_free_ char **v = NULL;
                if (om_strv_split(value, " \t,", &v) < 0)
                        return -ENOMEM;
                for (size_t i = 0; v[i] && !why; i++) {
                        char nerr[96];
                        if (!strchr(v[i], '{') && !om_name_valid(v[i], nerr, sizeof(nerr))) {
                                snprintf(err, errlen, "node name '%s' %s (the rule: %s)", v[i],
                                         nerr, om_kw_rule_to_string(kw->rule));
                                return -EINVAL;
                        }
                }
                return 0;
        }
        case OM_KWR_DMNAME:
                if (ref)
                        return 0;
                if (strlen(value) > OM_LIM_DM_NAME)
                        why = "is longer than 127 characters";
                else if (value[0] == '.')
                        why = "starts with '.'";
                else
                        for (const char *p = value; *p && !why; p++)
                                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                      (*p >= '0' && *p <= '9') || strchr("._+-", *p))) {
                                        snprintf(word, sizeof(word), "has the character '%c'", *p);
                                        why = word;
                                }
                break;
        case OM_KWR_PRIORITY:
        case OM_KWR_MAXPAR: {
                long long ll;
                bool pr = kw->rule == OM_KWR_PRIORITY;
                if (!ref && om_parse_int(value, pr ? 0 : 1, pr ? 100 : 1000, &ll) < 0)
                        why = pr ? "is not an integer from 0 to 100"
                                 : "is not an integer from 1 to 1000";
                break;
        }
        case OM_KWR_POSITIVE: {
                uint64_t u;
                if (!ref && om_parse_size(value, &u) == 0 && u == 0)
                        why = "is 0";
                break;
        }
        }
        if (why) {
                snprintf(err, errlen, "value '%s' %s (the rule: %s)", value, why,
                         om_kw_rule_to_string(kw->rule));
                return -EINVAL;
        }
        return 0;
}

int om_keyword_check_value(const struct om_keyword *kw, const char *value, char *err,
                           size_t errlen) {
        uint64_t u;
        bool b;
        long long ll;
        const char *why = NULL;

        if ((kw->flags & OM_KWF_REQUIRED) && !value[0]) {
                snprintf(err, errlen, "is required and may not be empty");
                return -EINVAL;
        }
        int r = check_rule(kw, value, err, errlen);
        if (r < 0)
                return r;
        if (strchr(value, '{'))
                return 0; /* checked once expanded, at action time */
        switch (kw->kwtype) {
        case OM_KW_STRING:
        case OM_KW_LIST:
                return 0;
        case OM_KW_INT:
                if (om_parse_int(value, -(1LL << 53), 1LL << 53, &ll) < 0)
                        why = "is not an integer";
                break;
        case OM_KW_BOOL:
                if (om_parse_bool(value, &b) < 0)
                        why = "is not a boolean (true or false)";
                break;
        case OM_KW_SIZE:
                if (om_parse_size(value, &u) < 0)
                        why = "is not a size (like 512M, 1G)";
                break;
        case OM_KW_DURATION:
                if (om_parse_duration_ms(value, &u) < 0)
                        why = "is not a duration (like 500ms, 1s, 2m)";
                break;
        case OM_KW_UUID:
                if (!om_uuid_valid(value))
                        why = "is not a UUID";
                break;
        case OM_KW_CHOICE:
                if (!word_in(kw->choices, value, '|')) {
                        snprintf(err, errlen, "value '%s' is not one of %s", value, kw->choices);
                        return -EINVAL;
                }
                return 0;
        }
        if (why) {
                snprintf(err, errlen, "value '%s' %s", value, why);
                return -EINVAL;
        }
        return 0;
}

static int problem(struct om_buf *report, const char *file, unsigned line, const char *section,
                   const char *fmt, const char *a, const char *b) {
        om_buf_printf(report, "%s:%u: [%s] ", file, line, section);
        om_buf_printf(report, fmt, a, b);
        om_buf_puts(report, "\n");
        return 1;
}

static bool key_name_valid(const char *k) {
        size_t n = strlen(k);
        if (n == 0 || n > 255)
                return false;
        for (const char *p = k; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

int om_config_validate(const struct om_ini *ini, enum om_kind kind, const char *filename,
                       struct om_buf *report) {
        int problems = 0;
        const char *fn = filename ? filename : "<config>";

        for (size_t i = 0; i < ini->n_sections; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                char group[64], index[64], err[200];

                int sr = om_section_split(s->name, group, sizeof(group), index, sizeof(index));
                if (sr == -ERANGE) {
                        char max[16];
                        snprintf(max, sizeof(max), "%d", OM_LIM_SECTION_INDEX_MAX);
                        problems += problem(report, fn, s->line, s->name,
                                            "section index '%s' out of range (the rule: an "
                                            "integer from 0 to %s, without leading zeros)",
                                            index, max);
                        continue;
                }
                if (sr < 0) {
                        problems += problem(report, fn, s->line, s->name,
                                            "bad section name '%s' (expected DEFAULT or "
                                            "<group>#<index>)%s",
                                            s->name, "");
                        continue;
                }
                bool is_default = strcmp(group, "DEFAULT") == 0;
                if (strcmp(group, OM_META_SECTION) == 0)
                        continue; /* written by om itself, see core/object.h */
                if (strcmp(group, "data") == 0 && kind == OM_KIND_SEC) {
                        for (size_t j = 0; j < s->n_entries; j++)
                                if (!key_name_valid(s->entries[j].key) || s->entries[j].scope)
                                        problems += problem(report, fn, s->entries[j].line, s->name,
                                                            "bad key name '%s' (expected "
                                                            "[A-Za-z0-9_.-]{1,255})%s",
                                                            s->entries[j].key, "");
                        continue;
                }
                if (!is_default && !om_keyword_group_known(kind, group)) {
                        problems += problem(report, fn, s->line, s->name,
                                            "unknown section group '%s' for a %s object", group,
                                            om_kind_to_string(kind));
                        continue;
                }

                const char *type = NULL;
                if (!is_default) {
                        const char *t = om_ini_get(ini, s->name, "type", NULL);
                        type = t ? t : group_default_type(group);
                        if (!type) {
                                problems += problem(report, fn, s->line, s->name,
                                                    "missing required keyword 'type'%s%s", "", "");
                                continue;
                        }
                        if (!om_keyword_type_known(group, type)) {
                                const struct om_ini_entry *te =
                                        om_ini_lookup(ini, s->name, "type", NULL);
                                problems += problem(report, fn, te ? te->line : s->line, s->name,
                                                    "unknown %s type '%s'", group, type);
                                continue;
                        }
                }

                for (size_t j = 0; j < s->n_entries; j++) {
                        const struct om_ini_entry *e = &s->entries[j];
                        const struct om_keyword *kw = om_keyword_find(group, type, e->key);
                        if (!kw) {
                                problems += problem(report, fn, e->line, s->name,
                                                    "unknown keyword '%s'%s", e->key, "");
                                continue;
                        }
                        if (om_keyword_check_value(kw, e->value, err, sizeof(err)) < 0)
                                problems += problem(report, fn, e->line, s->name, "%s: %s", e->key,
                                                    err);
                }
                for (size_t k = 0; k < ARRAY_SIZE(keywords); k++) {
                        const struct om_keyword *kw = &keywords[k];
                        if (!(kw->flags & OM_KWF_REQUIRED) || strcmp(kw->section, group) != 0 ||
                            (kw->type && (!type || strcmp(kw->type, type) != 0)))
                                continue;
                        bool found = false;
                        for (size_t j = 0; j < s->n_entries; j++)
                                if (strcmp(s->entries[j].key, kw->name) == 0)
                                        found = true;
                        if (!found)
                                problems +=
                                        problem(report, fn, s->line, s->name,
                                                "missing required keyword '%s'%s", kw->name, "");
                }
        }
        return problems;
}
