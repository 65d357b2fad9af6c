/*
 * The help texts that are not in the command tables: one line per option (the same
 * option name may mean a different thing for one command), and the legends of om mon's
 * symbols and of print status's flags column. `om <command> --help`, `om mon --legend`,
 * `om <path> print status --legend` and om(1) all print from these tables.
 */
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"

static const struct {
        const char *cmd; /* NULL: every command with this option, unless one is named */
        const char *opt; /* the option's long name */
        const char *help;
} option_help[] = {
        {NULL, "format",
         "Output format: text (the default), json or yaml; errors then come as "
         "an {\"error\", \"exit_status\"} object on stdout too."},
        {NULL, "local",
         "Run the action on this node now, as a child of this command, instead "
         "of setting a target the agents reach."},
        {NULL, "force",
         "With --local: go on where a safety check would stop (close a volume "
         "whose key is gone, overwrite a device that holds other data, start or provision "
         "a failover service that this node's agent sees up on another node)."},
        {"stop", "force",
         "With --local: go on where a safety check would stop (close a volume whose key is "
         "gone), and stop the standby resources too."},
        {"provision", "passive",
         "With --local: provision this node as one that does not run the failover service "
         "while another node does (what the agent runs after the leader's provision): make "
         "what holds this node's data only (a loop and what sits on it), provision a DRBD "
         "replica as a secondary, find on a plain device (a disk other nodes may reach) what "
         "the running node made there without formatting or opening it, and leave nothing "
         "started but standby resources."},
        {"start", "standby",
         "With --local: only the standby resources, each in its standby state: a disk.drbd "
         "attached and connected as Secondary (never promoted) with the device under it, "
         "the standby = true ones (what the agent runs where the service does not run)."},
        {NULL, "rid", "With --local: only these resources, comma-separated (disk#0,fs#0)."},
        {NULL, "tag",
         "With --local: only the resources whose tags keyword has one of these words, "
         "comma-separated (with --rid too: the resources both select)."},
        {NULL, "waitlock",
         "With --local: how long to wait for the object's action lock held by "
         "another action (a duration like 30s; -1 waits for ever; default 1m)."},
        {NULL, "wait",
         "Without --local: return once the agents reached the target (exit 1 "
         "and the failing node's reason when it failed)."},
        {NULL, "time",
         "With --wait: give up after this duration (like 30s); unlimited when "
         "not given."},
        {"print status", "waitlock",
         "Wait at most this long (a duration like 10s) for an action running on the object, so "
         "that the status is never one taken halfway through it (the agent uses it)."},
        {"print status", "refresh",
         "Evaluate every resource's status again before printing, as the reference's -r does "
         "(om always does: the status printed is never an older cached one)."},
        {"print status", "legend",
         "Print the status tree, then what each character of the "
         "flags column means."},
        {"node drain", "wait", "Return once every HA service this node ran runs on another node."},
        {"node drain", "time", "With --wait: give up after this duration (default 1m)."},
        {"cluster rotate-secret", "time",
         "How long to wait for the nodes to finish the rotation (a duration; default 1m)."},
        {"cluster rotate-secret", "abort",
         "Give up a rotation installed on the nodes but used by none yet."},
        {"switch", "to", "The node to start the service on."},
        {"token create", "role",
         "viewer (read), operator (actions too) or admin (config and sec keys too)."},
        {"token create", "ttl",
         "How long the token is accepted (a duration like 12h or 30d); "
         "no expiry when not given."},
        {"http cert create", "role",
         "The role the certificate gives: viewer (read), operator (actions too) or admin "
         "(config and sec keys too)."},
        {"http cert create", "out",
         "The directory to write cert.pem, key.pem and ca.pem into (made when missing; an "
         "existing file there is never replaced)."},
        {"http cert create", "ttl",
         "How long the certificate is valid (a duration from 1s to 100 years; default 365d)."},
        {"http cert create", "name",
         "The certificate's commonName, as the daemon log names it (default \"om <role>\")."},
        {"drbd resolve", "discard",
         "The node whose changes since the split brain are dropped: run on it, its replica "
         "reconnects with --discard-my-data and is resynchronized; run on the other node, "
         "that node keeps its data and reconnects."},
        {"drbd resolve", "rid", "Only this disk.drbd resource (default: every one)."},
        {"switch", "wait", "Return once the service runs on the --to node."},
        {NULL, "watch",
         "Redraw every --interval until interrupted (one document per round for "
         "json and yaml)."},
        {NULL, "interval", "With --watch: the time between two rounds (100ms to 1h; default 1s)."},
        {"mon", "watch",
         "Redraw when the agent's events say something changed, and at least every --interval "
         "(one document per round for json and yaml)."},
        {"mon", "interval",
         "With --watch: the longest time between two rounds (100ms to 1h; default 5s)."},
        {"node events", "filter",
         "Only the events this term matches: kind=, path= or node= (the node the event is "
         "about) with shell patterns, comma-separated alternatives (kind=node_down,takeover); "
         "repeatable, every term must match."},
        {"node events", "since",
         "First the events the agent still holds after this sequence number (0: all it "
         "holds), then the new ones; a gap is said on stderr."},
        {"node events", "count", "Stop after this many events."},
        {"mon", "legend", "Print what every symbol of the om mon tables means, and exit."},
        {NULL, "eval",
         "Expand the references ({name}, {disk#1.exposed_devs[0]}...) as seen "
         "from this node."},
        {"create", "config",
         "The config file to create the object from (- reads stdin); "
         "without it, an empty object."},
        {NULL, "follow", "After the log, print the lines appended until interrupted."},
        {"get", "kw",
         "The keyword to print: [<section>.]<keyword>[@<node>] (DEFAULT when no "
         "section)."},
        {"set", "kw", "A change, <section>.<keyword>=<value>; repeatable, each keyword once."},
        {"unset", "kw", "A keyword to remove, <section>.<keyword>; repeatable, each keyword once."},
        {NULL, "key", "The name of the secret's key."},
        {NULL, "value", "The value, given on the command line."},
        {NULL, "from", "The file to read the value from (- reads stdin)."},
        {"cluster join", "node", "A member of the cluster to join: <node>[:<api_port>]."},
        {"cluster join", "secret", "The cluster's secret (hex), as in the member's cluster.conf."},
        {"cluster join", "addr",
         "This node's address, where its peers reach it (default: the "
         "address its node name resolves to)."},
};

const char *om_cli_option_help(const char *cmd, const char *opt) {
        const char *any = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(option_help); i++) {
                if (strcmp(option_help[i].opt, opt) != 0)
                        continue;
                if (option_help[i].cmd && !strcmp(option_help[i].cmd, cmd))
                        return option_help[i].help;
                if (!option_help[i].cmd && !any)
                        any = option_help[i].help;
        }
        return any;
}

/* The symbols of om mon, then the flags column of print status (its position in the
 * column, 1 to 8, as om_res_flags writes them in resources/res.c). */
static const struct om_cli_legend legend[] = {
        {OM_LEGEND_MON, 0, "O",
         "up: an instance that runs; in Threads a stream that hears (rx) "
         "or sends to (tx) that node, in daemon and quorum this node"},
        {OM_LEGEND_MON, 0, "X",
         "down: an instance that does not run; a stream that does not hear "
         "or send to that node"},
        {OM_LEGEND_MON, 0, "S",
         "standby up: an instance that does not run, whose standby resources are all up "
         "(a DRBD replica attached and connected as Secondary)"},
        {OM_LEGEND_MON, 0, "!",
         "warn: an instance partly up; after O or X, its overall state is "
         "warn (an optional resource down makes it so); after an "
         "object's avail, the same for the object"},
        {OM_LEGEND_MON, 0, "!!", "an instance partly up whose overall state is warn too"},
        {OM_LEGEND_MON, 0, "*",
         "frozen: the agent starts and stops nothing of it on its own (in "
         "Nodes: the node is frozen; - when not)"},
        {OM_LEGEND_MON, 0, "P", "not provisioned on that node"},
        {OM_LEGEND_MON, 0, "^", "the HA leader: the node a failover service runs on, or would"},
        {OM_LEGEND_MON, 0, "/",
         "n/a: no status (a resource kind without one); in Threads, no "
         "stream to that node"},
        {OM_LEGEND_MON, 0, "?",
         "that node is down: its last word about the instance is not "
         "trusted"},
        {OM_LEGEND_MON, 0, "<word>",
         "after the symbols, the instance's monitor state when it is "
         "not idle (starting, stop failed, ...); when idle, \"split brain\" on each node "
         "whose copy of a replicated device's data diverged from the other's"},
        {OM_LEGEND_MON, 0, "ha",
         "object row: the agents start the service and fail it over (orchestrate = ha); "
         "start: they start it once and never move it (orchestrate = start); blank: only "
         "users' actions"},
        {OM_LEGEND_MON, 0, "1/1",
         "object row: instances up / instances wanted (1 for a "
         "failover service, every node for a flex one)"},
        {OM_LEGEND_MON, 0, "-> T",
         "object row: the target T the agents are reaching (provisioned, "
         "stopped, placed@n2, ...)"},
        {OM_LEGEND_FLAGS, 1, "R", "running: a task runs (om has no task resources: always .)"},
        {OM_LEGEND_FLAGS, 2, "M",
         "monitored (monitor = true): its failure makes an HA service "
         "leave the node"},
        {OM_LEGEND_FLAGS, 3, "D",
         "disabled (disable = true): actions skip it, the status ignores "
         "it"},
        {OM_LEGEND_FLAGS, 4, "O", "optional (optional = true): down, it makes overall warn only"},
        {OM_LEGEND_FLAGS, 5, "E", "encapsulated (om has no containers: always .)"},
        {OM_LEGEND_FLAGS, 6, "P", "not provisioned (/ when it cannot tell now)"},
        {OM_LEGEND_FLAGS, 7, "S",
         "standby (standby = true): started on every node, also where "
         "the service does not run"},
        {OM_LEGEND_FLAGS, 8, "N",
         "restart = N: the agent starts it again up to N times (+ for 10 "
         "or more)"},
};

size_t om_cli_legend(const struct om_cli_legend **ret) {
        *ret = legend;
        return ARRAY_SIZE(legend);
}

void om_cli_legend_print(FILE *f, enum om_legend_kind kind) {
        if (kind == OM_LEGEND_MON)
                fprintf(f, "om mon symbols (an instance cell is <avail>[!][*][P][^] [<monitor "
                           "state>]):\n");
        else
                fprintf(f, "print status flags column (8 characters; . when the flag is off):\n");
        for (size_t i = 0; i < ARRAY_SIZE(legend); i++) {
                if (legend[i].kind != kind)
                        continue;
                if (kind == OM_LEGEND_FLAGS)
                        fprintf(f, "  %d %-6s %s\n", legend[i].position, legend[i].symbol,
                                legend[i].meaning);
                else
                        fprintf(f, "  %-6s %s\n", legend[i].symbol, legend[i].meaning);
        }
}
