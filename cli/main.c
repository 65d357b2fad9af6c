/*
 * Entry point of `om`: finds the command, parses its options, runs it. The daemon is
 * the same program (`om daemon run`), registered by cli/cmd_daemon.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/res.h"

#define MAX_CMDS 128
static const struct om_cli_cmd *cmds[MAX_CMDS];
static size_t n_cmds;

void om_cli_register(const struct om_cli_cmd *table, size_t n) {
        for (size_t i = 0; i < n && n_cmds < MAX_CMDS; i++)
                cmds[n_cmds++] = &table[i];
}

size_t om_cli_commands(const struct om_cli_cmd *const **ret) {
        *ret = cmds;
        return n_cmds;
}

const char *om_cli_opt(const struct om_cli_ctx *ctx, const char *name) {
        const char *v = NULL;
        for (int i = 0; i < ctx->n_opts; i++)
                if (strcmp(ctx->opts[i].name, name) == 0)
                        v = ctx->opts[i].value; /* the last one wins */
        return v;
}

bool om_cli_flag(const struct om_cli_ctx *ctx, const char *name) {
        return om_cli_opt(ctx, name) != NULL;
}

/* --format of the command line, seen before the command is found, so that every error,
 * a usage error included, is a JSON (or YAML) object on stdout when one was asked for. */
static const char *err_format = "text";

static void scan_format(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                const char *f = NULL;
                if (!strcmp(argv[i], "--"))
                        break;
                if (!strncmp(argv[i], "--format=", 9))
                        f = argv[i] + 9;
                else if (!strcmp(argv[i], "--format") && i + 1 < argc)
                        f = argv[i + 1];
                if (f && (!strcmp(f, "json") || !strcmp(f, "yaml")))
                        err_format = f;
                else if (f)
                        err_format = "text";
        }
}

/* "om: <message>" on stderr; with --format json or yaml also {"error": <message>,
 * "exit_status": <status>} on stdout. */
static int error_out(int status, const char *fmt, va_list ap) {
        char msg[4096];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        fprintf(stderr, "om: %s\n", msg);
        if (strcmp(err_format, "text") != 0) {
                struct om_json j;
                om_json_init(&j, err_format);
                om_json_object_begin(&j);
                om_json_kv_string(&j, "error", msg);
                om_json_kv_int(&j, "exit_status", status);
                om_json_object_end(&j);
                om_json_print(&j, err_format, stdout);
                om_json_free(&j);
                fflush(stdout);
        }
        return status;
}

int om_cli_usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_out(OM_EXIT_USAGE, fmt, ap);
        va_end(ap);
        return r;
}

int om_cli_fail(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_out(OM_EXIT_FAIL, fmt, ap);
        va_end(ap);
        return r;
}

bool om_cli_text_output(void) {
        return strcmp(err_format, "text") == 0;
}

int om_cli_format(const struct om_cli_ctx *ctx, const char **ret) {
        const char *f = om_cli_opt(ctx, "format");
        if (!f || !strcmp(f, "text") || !strcmp(f, "default"))
                *ret = "text";
        else if (!strcmp(f, "json") || !strcmp(f, "yaml"))
                *ret = f;
        else {
                om_cli_usage_error("unknown --format '%s' (text, json or yaml)", f);
                return -EINVAL;
        }
        return 0;
}

/* Number of words of name, and whether argv starts with them. */
static int match_words(const char *name, char **argv, int argc) {
        _cleanup_strv_free_ char **words = NULL;
        if (om_strv_split(name, " ", &words) < 0)
                return -1;
        int n = (int)om_strv_length(words);
        if (n > argc)
                return -1;
        for (int i = 0; i < n; i++)
                if (strcmp(words[i], argv[i]) != 0)
                        return -1;
        return n;
}

/* Finds the option spec for a long or short name; writes whether it takes a value. */
static const char *find_opt(const char *spec, const char *name, bool is_short, bool *takes_arg,
                            char *canon, size_t clen) {
        _cleanup_strv_free_ char **items = NULL;
        if (om_strv_split(spec ? spec : "", " ", &items) < 0)
                return NULL;
        for (char **it = items; it && *it; it++) {
                char item[64];
                snprintf(item, sizeof(item), "%s", *it);
                bool arg = false;
                size_t len = strlen(item);
                if (len && item[len - 1] == '=') {
                        arg = true;
                        item[--len] = 0;
                }
                char *alias = strchr(item, '|');
                if (alias)
                        *alias++ = 0;
                if ((!is_short && strcmp(item, name) == 0) ||
                    (is_short && alias && strcmp(alias, name) == 0)) {
                        *takes_arg = arg;
                        snprintf(canon, clen, "%s", item);
                        return spec;
                }
        }
        return NULL;
}

static void print_options(FILE *f, const char *cmd, const char *spec) {
        _cleanup_strv_free_ char **items = NULL;
        if (!spec || om_strv_split(spec, " ", &items) < 0)
                return;
        for (char **it = items; *it; it++) {
                char item[64], left[96];
                snprintf(item, sizeof(item), "%s", *it);
                size_t len = strlen(item);
                bool arg = len && item[len - 1] == '=';
                if (arg)
                        item[--len] = 0;
                char *alias = strchr(item, '|');
                if (alias)
                        *alias++ = 0;
                snprintf(left, sizeof(left), "%s%s%s--%s%s", alias ? "-" : "", alias ? alias : "",
                         alias ? ", " : "", item, arg ? "=VALUE" : "");
                const char *help = om_cli_option_help(cmd, item);
                fprintf(f, "  %-22s %s\n", left, help ? help : "");
        }
}

static void usage(FILE *f, unsigned kind_filter, bool globals) {
        fprintf(f, "Usage: om <command> [options]\n"
                   "       om <path> <action> [options]\n\n"
                   "om is a cluster agent for services on encrypted volumes.\n"
                   "A path is [<namespace>/][<kind>/]<name>, like demo/svc/loopcrypt.\n\n");
        if (globals) {
                fprintf(f, "Commands:\n");
                for (size_t i = 0; i < n_cmds; i++)
                        if (!cmds[i]->kinds)
                                fprintf(f, "  %-24s %s\n", cmds[i]->name, cmds[i]->summary);
                fprintf(f, "\n");
        }
        for (int k = 0; k < _OM_KIND_MAX; k++) {
                if (!(kind_filter & OM_KIND_BIT(k)))
                        continue;
                bool any = false;
                for (size_t i = 0; i < n_cmds; i++) {
                        if (!(cmds[i]->kinds & OM_KIND_BIT(k)))
                                continue;
                        if (!any)
                                fprintf(f, "Actions on %s objects:\n", om_kind_to_string(k));
                        any = true;
                        fprintf(f, "  %-24s %s\n", cmds[i]->name, cmds[i]->summary);
                }
                if (any)
                        fprintf(f, "\n");
        }
        if (globals)
                fprintf(f, "om --version prints the version; om <command> --help a command's "
                           "options.\n");
        fprintf(f, "Exit status: 0 success, 1 action failed, 2 usage or input error.\n"
                   "Environment: OM_ROOT relocates etc, var, log and run; OM_NODENAME names "
                   "the node.\n");
}

static void command_help(const struct om_cli_cmd *c) {
        printf("Usage: om %s%s%s%s [options]\n\n%s\n", c->kinds ? "<path> " : "", c->name,
               c->args ? " " : "", c->args ? c->args : "", c->summary);
        if (c->options && *c->options) {
                printf("\nOptions:\n");
                print_options(stdout, c->name, c->options);
        }
}

/* Parses the options and positional arguments following the command words. */
static int parse_args(struct om_cli_ctx *ctx, int argc, char **argv, bool *ret_help) {
        const struct om_cli_cmd *c = ctx->cmd;
        ctx->args = calloc((size_t)argc + 1, sizeof(char *));
        if (!ctx->args)
                return OM_EXIT_FAIL;
        bool only_args = false;
        for (int i = 0; i < argc; i++) {
                char *a = argv[i];
                if (only_args || a[0] != '-' || !strcmp(a, "-")) {
                        ctx->args[ctx->n_args++] = a;
                        continue;
                }
                if (!strcmp(a, "--")) {
                        only_args = true;
                        continue;
                }
                if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        *ret_help = true;
                        continue;
                }
                bool is_short = a[1] != '-';
                char name[64], canon[64];
                const char *value = NULL;
                snprintf(name, sizeof(name), "%s", a + (is_short ? 1 : 2));
                char *eq = strchr(name, '=');
                if (eq && !is_short) {
                        *eq = 0;
                        value = a + 2 + (eq - name) + 1;
                }
                bool takes_arg;
                if (!find_opt(c->options, name, is_short, &takes_arg, canon, sizeof(canon)))
                        return om_cli_usage_error(
                                "unknown option '%s' for 'om %s%s' (see om %s%s --help)", a,
                                c->kinds ? "<path> " : "", c->name, c->kinds ? "<path> " : "",
                                c->name);
                if (takes_arg && !value) {
                        if (i + 1 >= argc)
                                return om_cli_usage_error("option --%s needs a value", canon);
                        value = argv[++i];
                } else if (!takes_arg && value)
                        return om_cli_usage_error("option --%s takes no value", canon);
                if (ctx->n_opts >= (int)ARRAY_SIZE(ctx->opts))
                        return om_cli_usage_error("too many options");
                ctx->opts[ctx->n_opts].name = strdup(canon);
                ctx->opts[ctx->n_opts].value = value ? value : "";
                ctx->n_opts++;
        }
        return 0;
}

static const struct om_cli_cmd *find_cmd(unsigned kind_bit, char **argv, int argc, int *ret_words) {
        const struct om_cli_cmd *best = NULL;
        int best_n = 0;
        for (size_t i = 0; i < n_cmds; i++) {
                const struct om_cli_cmd *c = cmds[i];
                if (kind_bit ? !(c->kinds & kind_bit) : c->kinds != 0)
                        continue;
                int n = match_words(c->name, argv, argc);
                if (n > best_n) {
                        best = c;
                        best_n = n;
                }
        }
        *ret_words = best_n;
        return best;
}

/* The commands whose first word is word and that have more: global ones (kind_bit 0) or
 * the actions of a kind. Their other words, comma-separated, in ret ("node" of "node ls":
 * "ls, freeze, thaw, drain"; "print": "config, status, devs"); false when there is none. */
static bool group_cmds(unsigned kind_bit, const char *word, char *ret, size_t len) {
        size_t wl = strlen(word), used = 0;
        ret[0] = 0;
        for (size_t i = 0; i < n_cmds; i++) {
                const char *name = cmds[i]->name;
                if (kind_bit ? !(cmds[i]->kinds & kind_bit) : cmds[i]->kinds != 0)
                        continue;
                if (strncmp(name, word, wl) != 0 || name[wl] != ' ')
                        continue;
                /* one entry per name (mon of svc and of sec is one word) */
                char item[64];
                snprintf(item, sizeof(item), "%s", name + wl + 1);
                bool dup = false;
                for (const char *q = ret; !dup && (q = strstr(q, item)); q += strlen(item))
                        dup = (q == ret || q[-1] == ' ') &&
                              (q[strlen(item)] == ',' || !q[strlen(item)]);
                if (dup)
                        continue;
                int n = snprintf(ret + used, len - used, "%s%s", used ? ", " : "", item);
                if (n < 0 || (size_t)n >= len - used)
                        break;
                used += (size_t)n;
        }
        return used > 0;
}

/* Lists the commands of a group ("om node", "om <path> print") with their summaries. */
static void group_help(FILE *f, unsigned kind_bit, const char *word) {
        size_t wl = strlen(word);
        fprintf(f, "Usage: om %s%s <command> [options]\n\n", kind_bit ? "<path> " : "", word);
        for (size_t i = 0; i < n_cmds; i++) {
                const char *name = cmds[i]->name;
                if (kind_bit ? !(cmds[i]->kinds & kind_bit) : cmds[i]->kinds != 0)
                        continue;
                if (strncmp(name, word, wl) == 0 && name[wl] == ' ')
                        fprintf(f, "  %-24s %s\n", name, cmds[i]->summary);
        }
}

/* Levenshtein distance of two short words (capped at 63 characters). */
static size_t distance(const char *a, const char *b) {
        size_t la = strnlen(a, 63), lb = strnlen(b, 63), row[64];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t best = diag + (tolower((unsigned char)a[i - 1]) !=
                                              tolower((unsigned char)b[j - 1]));
                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

/* The first word of a command (global, or an action of kind_bit) closest to word: at
 * most 2 edits away and fewer than word's length; NULL when none is. */
static const char *closest_cmd(unsigned kind_bit, const char *word, char *buf, size_t len) {
        size_t best = SIZE_MAX;
        buf[0] = 0;
        for (size_t i = 0; i < n_cmds; i++) {
                if (kind_bit ? !(cmds[i]->kinds & kind_bit) : cmds[i]->kinds != 0)
                        continue;
                char first[64];
                snprintf(first, sizeof(first), "%s", cmds[i]->name);
                first[strcspn(first, " ")] = 0;
                size_t d = distance(word, first);
                if (d < best && d <= 2 && d < strlen(word)) {
                        best = d;
                        snprintf(buf, len, "%s", first);
                }
        }
        return buf[0] ? buf : NULL;
}

/* om WORD with WORD neither a command nor an object: "unknown command", with the
 * closest command when one is near. */
static int unknown_command(const char *word, const char *also) {
        char near[64];
        if (closest_cmd(0, word, near, sizeof(near)))
                return om_cli_usage_error("unknown command '%s' (did you mean 'om %s'?)%s", word,
                                          near, also);
        return om_cli_usage_error("unknown command '%s' (om --help lists the commands)%s", word,
                                  also);
}

static void ctx_clear(struct om_cli_ctx *ctx) {
        for (int i = 0; i < ctx->n_opts; i++)
                free((char *)ctx->opts[i].name);
        ctx->n_opts = 0;
        free(ctx->args);
        ctx->args = NULL;
        ctx->n_args = 0;
}

/* After a command that may have written an object config (or its tombstone), ask the
 * local agent to rescan now, so the change replicates without waiting for its periodic
 * scan. Best effort: no agent, no harm. */
static void notify_agent(const struct om_cli_cmd *cmd) {
        static const char *const writers[] = {"create", "delete",     "add",   "change",
                                              "remove", "provision",  "purge", "set",
                                              "unset",  "unprovision"};
        struct om_api_reply rep;
        bool write = false;
        for (size_t i = 0; i < ARRAY_SIZE(writers); i++)
                write = write || strcmp(cmd->name, writers[i]) == 0;
        if (!write || !cmd->kinds)
                return;
        (void)om_api_call("rescan", 500, &rep);
        om_api_reply_done(&rep);
}

static int run_cmd(struct om_cli_ctx *ctx, int argc, char **argv) {
        bool help = false;
        int r = parse_args(ctx, argc, argv, &help);
        if (r == 0 && help)
                command_help(ctx->cmd);
        else if (r == 0 && ctx->n_args && !ctx->cmd->args)
                r = om_cli_usage_error("unexpected argument '%s': om %s%s takes none (options "
                                       "start with --; om %s%s --help lists them)",
                                       ctx->args[0], ctx->cmd->kinds ? "<path> " : "",
                                       ctx->cmd->name, ctx->cmd->kinds ? "<path> " : "",
                                       ctx->cmd->name);
        else if (r == 0)
                r = ctx->cmd->run(ctx);
        ctx_clear(ctx);
        return r;
}

int om_cli_main(int argc, char **argv) {
        scan_format(argc, argv);
        if (argc < 2)
                return usage(stderr, OM_KINDS_ALL, true), OM_EXIT_USAGE;
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                usage(stdout, OM_KINDS_ALL, true);
                return OM_EXIT_OK;
        }
        if (!strcmp(argv[1], "--version")) {
                if (argc > 2)
                        return om_cli_usage_error("--version takes no argument");
                printf("om %s\n", OM_VERSION);
                return OM_EXIT_OK;
        }

        /* a bad OM_ROOT or node name is refused before anything reads or writes a file
         * (om doc man and om doc words, which the build runs, read none) */
        char err[512];
        bool doc_only = !strcmp(argv[1], "doc") && argc > 2 &&
                        (!strcmp(argv[2], "man") || !strcmp(argv[2], "words"));
        if (!doc_only && om_paths_check(err, sizeof(err)) < 0)
                return om_cli_usage_error("%s", err);

        struct om_cli_ctx ctx = {0};
        int words;

        /* global commands first: om ls, om mon, om daemon run ... */
        ctx.cmd = find_cmd(0, argv + 1, argc - 1, &words);
        if (ctx.cmd)
                return run_cmd(&ctx, argc - 1 - words, argv + 1 + words);

        const char *sel = argv[1];
        if (sel[0] == '-')
                return om_cli_usage_error("unknown option '%s' (om --help lists the commands)",
                                          sel);
        ctx.selector = sel;

        /* `om node`, `om node foo`: a command group's word, not an object's path */
        bool help = argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
        /* (an object named like a group stays an object: om node print config) */
        if (group_cmds(0, argv[1], err, sizeof(err)) &&
            (argc < 3 || help || !find_cmd(OM_KINDS_ALL, argv + 2, argc - 2, &words))) {
                if (help)
                        return group_help(stdout, 0, argv[1]), OM_EXIT_OK;
                if (argc < 3 || argv[2][0] == '-')
                        return om_cli_usage_error("%s what? %s", argv[1], err);
                return om_cli_usage_error("unknown command 'om %s %s' (om %s commands: %s)",
                                          argv[1], argv[2], argv[1], err);
        }

        bool pattern = om_selector_is_pattern(sel);
        char why[512];
        if (!pattern && om_path_parse(sel, &ctx.path, why, sizeof(why)) < 0) {
                char near[64];
                /* `om LS`, `om ls.`: a command mistyped rather than a bad path */
                if (!strchr(sel, '/') && closest_cmd(0, sel, near, sizeof(near)))
                        return unknown_command(sel, "");
                return om_cli_usage_error("%s", why);
        }
        unsigned kind_bit = pattern ? OM_KINDS_ALL : OM_KIND_BIT(ctx.path.kind);
        char pathstr[OM_PATH_STRMAX] = "";
        if (!pattern)
                om_path_to_string(&ctx.path, pathstr, sizeof(pathstr));

        /* `om lss`, `om lss --format json`: a word that is not an object either */
        bool no_action = argc < 3 || (argv[2][0] == '-' && !help);
        if (no_action && !pattern && !strchr(sel, '/') && !om_object_exists(&ctx.path)) {
                char also[OM_PATH_STRMAX + 64];
                snprintf(also, sizeof(also), "; no object %s either", pathstr);
                return unknown_command(sel, also);
        }
        if (argc < 3 || help) {
                usage(argc < 3 ? stderr : stdout, kind_bit, false);
                return argc < 3 ? OM_EXIT_USAGE : OM_EXIT_OK;
        }
        if (no_action)
                return om_cli_usage_error("%s what? an action comes first, then its options "
                                          "(om %s --help lists the actions)",
                                          sel, sel);
        ctx.cmd = find_cmd(kind_bit, argv + 2, argc - 2, &words);
        if (!ctx.cmd && group_cmds(kind_bit, argv[2], err, sizeof(err))) {
                /* `om <path> print`: the first word of actions of more words */
                if (argc >= 4 && (!strcmp(argv[3], "--help") || !strcmp(argv[3], "-h")))
                        return group_help(stdout, kind_bit, argv[2]), OM_EXIT_OK;
                if (argc < 4 || argv[3][0] == '-')
                        return om_cli_usage_error("%s what? %s", argv[2], err);
                return om_cli_usage_error("unknown action '%s %s' for %s: %s what? %s", argv[2],
                                          argv[3], pattern ? sel : om_kind_to_string(ctx.path.kind),
                                          argv[2], err);
        }
        if (!ctx.cmd) {
                char near[64];
                if (closest_cmd(kind_bit, argv[2], near, sizeof(near)))
                        return om_cli_usage_error("unknown action '%s' for %s (did you mean "
                                                  "'%s'? om %s --help lists them)",
                                                  argv[2],
                                                  pattern ? sel : om_kind_to_string(ctx.path.kind),
                                                  near, sel);
                return om_cli_usage_error("unknown action '%s' for %s (om %s --help lists them)",
                                          argv[2], pattern ? sel : om_kind_to_string(ctx.path.kind),
                                          sel);
        }
        int skip = 2 + words;

        const struct om_cli_cmd *cmd = ctx.cmd;
        if (!pattern || ctx.cmd->multi) {
                if (!pattern)
                        om_path_to_string(&ctx.path, ctx.pathstr, sizeof(ctx.pathstr));
                int r = run_cmd(&ctx, argc - skip, argv + skip);
                notify_agent(cmd);
                return r;
        }

        /* a selector: run the action on every matching object */
        _cleanup_free_ struct om_path *paths = NULL;
        size_t n;
        if (om_object_list(sel, &paths, &n) < 0)
                return om_cli_fail("cannot list objects");
        if (n == 0)
                return om_cli_fail("no object matches '%s'", sel);
        int worst = 0;
        size_t ran = 0;
        for (size_t i = 0; i < n; i++) {
                if (!(ctx.cmd->kinds & OM_KIND_BIT(paths[i].kind)))
                        continue;
                ran++;
                struct om_cli_ctx one = {.cmd = ctx.cmd, .selector = sel, .path = paths[i]};
                om_path_to_string(&one.path, one.pathstr, sizeof(one.pathstr));
                int r = run_cmd(&one, argc - skip, argv + skip);
                if (r > worst)
                        worst = r;
        }
        if (ran == 0)
                return om_cli_fail("no object matching '%s' is of a kind '%s' applies to", sel,
                                   ctx.cmd->name);
        notify_agent(cmd);
        return worst;
}

int main(int argc, char **argv) {
        /* DRBD's kernel module calling om for its handlers (resources/res_drbd.c) */
        om_res_drbd_set_fencer(om_api_drbd_fence);
        const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
        if (base && om_streq(base + 1, OM_DRBD_HELPER_NAME))
                return om_res_drbd_helper(argc, argv);
        return om_cli_main(argc, argv);
}
