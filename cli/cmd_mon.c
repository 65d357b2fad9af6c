/*
 * `om mon`: the cluster at a glance, in the reference's layout: the agent's threads
 * (heartbeat streams with one glyph per node), the nodes, then one row per object with
 * each node's instance glyphs (O up, X down, ! warn, a second ! overall warn, * frozen,
 * P not provisioned, ^ HA leader, / n/a, ? its node is down) followed by the instance's monitor
 * state when it is not idle ("!!* stop failed", as the reference shows a failed orchestrated stop),
 * and the object's orchestrate mode and target. `--format json` prints the agent's
 * whole view. `--watch` redraws it on the agent's events (cli/events.h), and at least every
 * `--interval`. `--legend` prints what the
 * symbols mean (cli/doc_tables.c, the table om(1) prints too).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cluster/cl_mp.h"
#include "core/json.h"
#include "core/util.h"

#define COL 16

struct row {
        char left[160];
        char cells[128][48];
};

static void print_rows(const char *title, struct row *rows, size_t n, char names[][64],
                       size_t n_nodes, size_t width) {
        printf("%-*s  ", (int)width, title);
        for (size_t i = 0; i < n_nodes; i++)
                printf("%-*s", i + 1 < n_nodes ? COL : 0, names[i]);
        printf("\n");
        for (size_t r = 0; r < n; r++) {
                printf("%-*s", (int)width, rows[r].left);
                printf("| ");
                /* trailing blanks trimmed: the last cell may be wider than a column */
                int last = (int)n_nodes - 1;
                while (last >= 0 && !rows[r].cells[last][strspn(rows[r].cells[last], " ")])
                        last--;
                for (int i = 0; i <= last; i++) {
                        if (i == last)
                                printf("%s", rows[r].cells[i]);
                        else if (strlen(rows[r].cells[i]) >= COL)
                                printf("%s ", rows[r].cells[i]); /* keep cells apart */
                        else
                                printf("%-*s", COL, rows[r].cells[i]);
                }
                printf("\n");
        }
}

static const char *sget(const msgpack_object *m, const char *k, char *buf, size_t len) {
        if (om_cl_mp_get_str(m, k, buf, len) < 0)
                buf[0] = 0;
        return buf;
}

static bool bget(const msgpack_object *m, const char *k) {
        bool b = false;
        (void)om_cl_mp_get_bool(m, k, &b);
        return b;
}

/* Under the tables, on a terminal wide enough for it (never in a pipe: the reference's
 * layout stays as it is there), the symbols in one line. */
static void legend_line(void) {
        static const char line[] = "O up  X down  ! warn  * frozen  P not provisioned  ^ leader  "
                                   "/ n/a  ? node down   (om mon --legend)";
        struct winsize ws;
        if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 ||
            ws.ws_col < sizeof(line) - 1)
                return;
        printf("\n%s\n", line);
}

/* One picture of the agent's view, in fmt. */
static int mon_once(struct om_cli_ctx *ctx, const char *fmt) {
        struct om_api_reply rep;
        static struct row rows[512];
        static char names[128][64];
        size_t n_nodes = 0, n_rows = 0;
        char b1[128], b2[128];
        int r = om_api_call("status", 5000, &rep);
        if (r < 0 || !rep.data) {
                om_api_reply_done(&rep);
                if (r == -ENOENT || r == -ECONNREFUSED)
                        return om_cli_fail("no agent answers on this node (om daemon start)");
                return om_api_fail(r, &rep);
        }
        if (strcmp(fmt, "text") != 0) {
                struct om_json j;
                om_json_init(&j, fmt);
                if (!ctx->selector)
                        om_cl_mp_to_json(rep.data, &j);
                else {
                        /* `om <selector> mon`: the cluster header and the matching objects */
                        const msgpack_object *objs = om_cl_mp_get(rep.data, "objects");
                        om_json_object_begin(&j);
                        om_json_key(&j, "cluster");
                        om_cl_mp_to_json(om_cl_mp_get(rep.data, "cluster"), &j);
                        om_json_key(&j, "objects");
                        om_json_object_begin(&j);
                        for (uint32_t k = 0;
                             objs && objs->type == MSGPACK_OBJECT_MAP && k < objs->via.map.size;
                             k++) {
                                char path[256];
                                struct om_path op;
                                const msgpack_object_kv *kv = &objs->via.map.ptr[k];
                                if (om_cl_mp_str(&kv->key, path, sizeof(path)) < 0 ||
                                    om_path_parse(path, &op, NULL, 0) < 0)
                                        continue;
                                if (om_selector_is_pattern(ctx->selector)
                                            ? !om_selector_match(ctx->selector, &op)
                                            : strcmp(path, ctx->pathstr) != 0)
                                        continue;
                                om_json_key(&j, path);
                                om_cl_mp_to_json(&kv->val, &j);
                        }
                        om_json_object_end(&j);
                        om_json_object_end(&j);
                }
                om_json_print(&j, fmt, stdout);
                om_json_free(&j);
                om_api_reply_done(&rep);
                return OM_EXIT_OK;
        }
        const msgpack_object *cl = om_cl_mp_get(rep.data, "cluster");
        const msgpack_object *nodes = om_cl_mp_get(rep.data, "nodes");
        const msgpack_object *hb = om_cl_mp_get(rep.data, "hb");
        const msgpack_object *objs = om_cl_mp_get(rep.data, "objects");
        char self[64];
        sget(cl, "node", self, sizeof(self));
        for (uint32_t i = 0;
             nodes && nodes->type == MSGPACK_OBJECT_MAP && i < nodes->via.map.size && n_nodes < 128;
             i++)
                if (om_cl_mp_str(&nodes->via.map.ptr[i].key, names[n_nodes], 64) == 0)
                        n_nodes++;
        const msgpack_object *nv[128] = {0};
        for (size_t i = 0; i < n_nodes; i++)
                nv[i] = om_cl_mp_get(nodes, names[i]);

        /* Threads */
        memset(rows, 0, sizeof(rows));
        snprintf(rows[n_rows].left, sizeof(rows[0].left), " %-12s %-7s", "daemon", "running");
        for (size_t i = 0; i < n_nodes; i++)
                snprintf(rows[n_rows].cells[i], COL, "%s", strcmp(names[i], self) ? "" : "O");
        n_rows++;
        for (uint32_t h = 0; hb && hb->type == MSGPACK_OBJECT_ARRAY && h < hb->via.array.size;
             h++) {
                const msgpack_object *s = &hb->via.array.ptr[h];
                const msgpack_object *peers = om_cl_mp_get(s, "peers");
                char name[32], addr[96], state[16], lbl[48];
                sget(s, "name", name, sizeof(name));
                sget(s, "addr", addr, sizeof(addr));
                sget(s, "state", state, sizeof(state));
                for (int dir = 0; dir < 2; dir++) {
                        snprintf(lbl, sizeof(lbl), "%s.%s", name, dir ? "tx" : "rx");
                        snprintf(rows[n_rows].left, sizeof(rows[0].left), " %-12s %-7s %s ", lbl,
                                 state, dir ? "" : addr);
                        for (size_t i = 0; i < n_nodes; i++) {
                                const msgpack_object *p = om_cl_mp_get(peers, names[i]);
                                const char *g = "/";
                                if (p && dir == 0)
                                        g = om_cl_mp_streq(om_cl_mp_get(p, "rx"), "up") ? "O" : "X";
                                else if (p)
                                        g = om_streq(state, "running") ? "O" : "X";
                                snprintf(rows[n_rows].cells[i], COL, "%s", g);
                        }
                        n_rows++;
                }
        }
        /* `om <selector> mon`: the objects the selector matches, nothing else */
        bool only_objects = ctx->selector != NULL;
        size_t width = 34;
        for (size_t k = 0; k < n_rows; k++)
                width = OM_MAX(width, strlen(rows[k].left) + 1);
        if (!only_objects)
                print_rows("Threads", rows, n_rows, names, n_nodes, width);

        /* Nodes */
        n_rows = 0;
        memset(rows, 0, sizeof(rows));
        snprintf(rows[n_rows].left, sizeof(rows[0].left), " state");
        for (size_t i = 0; i < n_nodes; i++)
                snprintf(rows[n_rows].cells[i], COL, "%s", sget(nv[i], "state", b1, sizeof(b1)));
        n_rows++;
        /* with a disk heartbeat: which kinds of beats each node is heard on, so a node
         * cut from the network but beating on the disk shows "disk (net down)" */
        bool has_disk = false;
        for (uint32_t h = 0; hb && hb->type == MSGPACK_OBJECT_ARRAY && h < hb->via.array.size; h++)
                has_disk |= om_cl_mp_streq(om_cl_mp_get(&hb->via.array.ptr[h], "type"), "disk");
        if (has_disk) {
                snprintf(rows[n_rows].left, sizeof(rows[0].left), " heartbeats");
                for (size_t i = 0; i < n_nodes; i++)
                        snprintf(rows[n_rows].cells[i], COL, "%s",
                                 sget(nv[i], "heartbeats", b1, sizeof(b1)));
                n_rows++;
        }
        snprintf(rows[n_rows].left, sizeof(rows[0].left), " frozen");
        for (size_t i = 0; i < n_nodes; i++)
                snprintf(rows[n_rows].cells[i], COL, "%s", bget(nv[i], "frozen") ? "*" : "-");
        n_rows++;
        snprintf(rows[n_rows].left, sizeof(rows[0].left), " monitor");
        for (size_t i = 0; i < n_nodes; i++)
                snprintf(rows[n_rows].cells[i], COL, "%s", sget(nv[i], "monitor", b1, sizeof(b1)));
        n_rows++;
        if (cl && om_cl_mp_get(cl, "quorum_held")) {
                int64_t votes = 0, total = 0;
                (void)om_cl_mp_get_i64(cl, "votes", &votes);
                (void)om_cl_mp_get_i64(cl, "votes_total", &total);
                snprintf(rows[n_rows].left, sizeof(rows[0].left), " quorum %s %lld/%lld%s",
                         bget(cl, "quorum_held") ? "held" : "lost", (long long)votes,
                         (long long)total, bget(cl, "quorum") ? "" : " (not enforced)");
                for (size_t i = 0; i < n_nodes; i++)
                        snprintf(rows[n_rows].cells[i], COL, "%s",
                                 strcmp(names[i], self) ? "" : "O");
                n_rows++;
        }
        /* each arbitrator: whether this node holds its vote (O), keeps a lease without
         * counting it (~) or holds nothing (X), and who holds it by its last answer */
        const msgpack_object *arbs = om_cl_mp_get(rep.data, "arbitrators");
        for (uint32_t k = 0;
             arbs && arbs->type == MSGPACK_OBJECT_ARRAY && k < arbs->via.array.size && n_rows < 512;
             k++) {
                const msgpack_object *ar = &arbs->via.array.ptr[k];
                char an[32], vote[8], holders[96];
                sget(ar, "name", an, sizeof(an));
                sget(ar, "vote", vote, sizeof(vote));
                sget(ar, "holders", holders, sizeof(holders));
                snprintf(rows[n_rows].left, sizeof(rows[0].left), " %s {%s}", an, holders);
                for (size_t i = 0; i < n_nodes; i++)
                        snprintf(rows[n_rows].cells[i], COL, "%s",
                                 strcmp(names[i], self)   ? ""
                                 : om_streq(vote, "vote") ? "O"
                                 : om_streq(vote, "keep") ? "~"
                                                          : "X");
                n_rows++;
        }
        if (!only_objects) {
                printf("\n");
                print_rows("Nodes", rows, n_rows, names, n_nodes, width);
        }

        /* Objects */
        n_rows = 0;
        memset(rows, 0, sizeof(rows));
        for (uint32_t k = 0;
             objs && objs->type == MSGPACK_OBJECT_MAP && k < objs->via.map.size && n_rows < 512;
             k++) {
                const msgpack_object_kv *kv = &objs->via.map.ptr[k];
                const msgpack_object *inst = om_cl_mp_get(&kv->val, "instances");
                char path[256], avail[16], overall[16];
                if (om_cl_mp_str(&kv->key, path, sizeof(path)) < 0)
                        continue;
                if (only_objects) {
                        struct om_path op;
                        if (om_path_parse(path, &op, NULL, 0) < 0)
                                continue;
                        if (om_selector_is_pattern(ctx->selector)
                                    ? !om_selector_match(ctx->selector, &op)
                                    : strcmp(path, ctx->pathstr) != 0)
                                continue;
                }
                sget(&kv->val, "avail", avail, sizeof(avail));
                sget(&kv->val, "overall", overall, sizeof(overall));
                int n_up = 0, n_inst = 0;
                for (size_t i = 0; i < n_nodes; i++) {
                        const msgpack_object *in = om_cl_mp_get(inst, names[i]);
                        char *c = rows[n_rows].cells[i];
                        if (!in) {
                                snprintf(c, COL, " ");
                                continue;
                        }
                        n_inst++;
                        /* a node that is down runs nothing we know of: not its last word */
                        if (om_streq(sget(nv[i], "state", b1, sizeof(b1)), "down")) {
                                snprintf(c, COL, "?");
                                continue;
                        }
                        sget(in, "avail", b1, sizeof(b1));
                        sget(in, "overall", b2, sizeof(b2));
                        char sb[8];
                        sget(in, "standby", sb, sizeof(sb));
                        /* down, its standby resources up: a replica ready (S) */
                        const char *base = om_streq(b1, "up")     ? "O"
                                           : om_streq(b1, "down") ? (om_streq(sb, "up") ? "S" : "X")
                                           : om_streq(b1, "warn") ? "!"
                                                                  : "/";
                        n_up += om_streq(b1, "up");
                        char mon[32], div[64];
                        sget(in, "monitor", mon, sizeof(mon));
                        bool show_mon = mon[0] && !om_streq(mon, "idle");
                        /* a split brain: this node's data diverged from another's (a
                         * replicated device), said where the monitor state would be */
                        if (!show_mon && sget(in, "diverged", div, sizeof(div))[0]) {
                                snprintf(mon, sizeof(mon), "split brain");
                                show_mon = true;
                        }
                        snprintf(c, sizeof(rows[0].cells[0]), "%s%s%s%s%s%s%s", base,
                                 om_streq(b2, "warn") ? "!" : "", bget(in, "frozen") ? "*" : "",
                                 bget(in, "provisioned") ? "" : "P",
                                 bget(in, "ha_leader") ? "^" : "", show_mon ? " " : "",
                                 show_mon ? mon : "");
                }
                char av[24], cnt[16], orch[16], target[80];
                snprintf(av, sizeof(av), "%s%s", avail, om_streq(overall, "warn") ? "!" : "");
                sget(&kv->val, "orchestrate", orch, sizeof(orch));
                sget(&kv->val, "target", target, sizeof(target));
                /* the reference counts up instances against the one a failover wants */
                char topo[16];
                sget(&kv->val, "topology", topo, sizeof(topo));
                snprintf(cnt, sizeof(cnt), "%d/%d", n_up,
                         om_streq(topo, "flex") ? n_inst
                         : n_inst               ? 1
                                                : 0);
                snprintf(rows[n_rows].left, sizeof(rows[0].left), " %-12s %-8s%-6s%-6s%s%s", path,
                         av, om_streq(orch, "ha") || om_streq(orch, "start") ? orch : "", cnt,
                         target[0] ? " -> " : "", target);
                n_rows++;
        }
        for (size_t k = 0; k < n_rows; k++)
                width = OM_MAX(width, strlen(rows[k].left));
        if (only_objects) {
                /* the reference titles the table with the selector, cut to the column */
                char title[64];
                const char *sel =
                        om_selector_is_pattern(ctx->selector) ? ctx->selector : ctx->pathstr;
                if (strlen(sel) > 15)
                        snprintf(title, sizeof(title), "%.12s...", sel);
                else
                        snprintf(title, sizeof(title), "%s", sel);
                print_rows(title, rows, n_rows, names, n_nodes, width);
        } else {
                printf("\n");
                print_rows("*/svc/*", rows, n_rows, names, n_nodes, width);
        }
        legend_line();
        om_api_reply_done(&rep);
        return OM_EXIT_OK;
}

/* `om mon [--watch [--interval D]]`: once, or until interrupted, redrawn in place on a
 * terminal on every burst of events (one document per round for json and yaml). An agent that stops
 * answering meanwhile is said so, and the watch goes on until it answers again. */
static int cmd_mon(struct om_cli_ctx *ctx) {
        const char *fmt, *iv = om_cli_opt(ctx, "interval");
        uint64_t interval = 5000;
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        bool watch = om_cli_flag(ctx, "watch");
        if (om_cli_flag(ctx, "legend")) {
                if (watch || iv || strcmp(fmt, "text") != 0)
                        return om_cli_usage_error("--legend goes alone: it prints the symbols' "
                                                  "meanings and exits");
                om_cli_legend_print(stdout, OM_LEGEND_MON);
                return OM_EXIT_OK;
        }
        if (iv && !watch)
                return om_cli_usage_error("--interval goes with --watch");
        if (iv &&
            (om_parse_duration_ms(iv, &interval) < 0 || interval < 100 || interval > 3600 * 1000))
                return om_cli_usage_error("--interval '%s' is not a duration from 100ms to 1h "
                                          "(like 2s)",
                                          iv);
        if (!watch)
                return mon_once(ctx, fmt);
        bool tty = isatty(STDOUT_FILENO) && !strcmp(fmt, "text");
        /* redrawn when the agent's events say something changed (a burst of them makes
         * one redraw), and at least every interval (the ages shown move) */
        struct om_events_stream es = {.fd = -1};
        for (;;) {
                if (tty)
                        fputs("\033[H\033[2J", stdout); /* home, clear */
                fflush(stdout);
                (void)mon_once(ctx, fmt);
                if (fflush(stdout) == EOF || ferror(stdout)) {
                        om_events_stream_close(&es);
                        return OM_EXIT_FAIL; /* the reader went away */
                }
                struct om_event_msg m;
                uint64_t until = om_mono_ms() + interval;
                int r = om_events_stream_next(&es, (int)interval, &m);
                while (r == 0 && om_mono_ms() < until)
                        r = om_events_stream_next(&es, 50, &m); /* the rest of the burst */
                if (r != 0 && r != -ETIMEDOUT) {
                        /* no stream (no agent): the next round says so, after a pause */
                        uint64_t now = om_mono_ms();
                        uint64_t left = until > now ? until - now : 0;
                        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                }
        }
}

static const struct om_cli_cmd mon_cmds[] = {
        {"mon", 0, "format= watch|w interval= legend", cmd_mon,
         "Show the cluster at a glance (the agent's view); --watch redraws it when the agent's "
         "events say something changed, and at least every --interval (5s)."},
        {"mon", OM_KINDS_ALL, "format= watch|w interval= legend", cmd_mon,
         "Show the objects the path or selector matches, on every node (--watch redraws).", true},
};
OM_CLI_REGISTER(mon_cmds)
