/*
 * Entry point of `om`: finds the command, parses its options, runs it. The daemon is
 * the same program (`om daemon run`), registered by cli/cmd_daemon.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/api_client.h"
#include "cli/cli.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

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

int om_cli_usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("om: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return OM_EXIT_USAGE;
}

int om_cli_fail(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("om: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return OM_EXIT_FAIL;
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

static void print_options(FILE *f, const char *spec) {
        _cleanup_strv_free_ char **items = NULL;
        if (!spec || om_strv_split(spec, " ", &items) < 0)
                return;
        for (char **it = items; *it; it++) {
                char item[64];
                snprintf(item, sizeof(item), "%s", *it);
                size_t len = strlen(item);
                bool arg = len && item[len - 1] == '=';
                if (arg)
                        item[--len] = 0;
                char *alias = strchr(item, '|');
                if (alias)
                        *alias++ = 0;
                fprintf(f, "      %s%s%s--%s%s\n", alias ? "-" : "", alias ? alias : "",
                        alias ? ", " : "", item, arg ? "=VALUE" : "");
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
        printf("Usage: om %s%s%s [options]\n\n%s\n", c->kinds ? "<path> " : "", c->name, "",
               c->summary);
        if (c->options && *c->options) {
                printf("\nOptions:\n");
                print_options(stdout, c->options);
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

/* When word starts global commands ("node" of "node ls"): true, and their other words,
 * comma-separated, in ret. */
static bool group_cmds(const char *word, char *ret, size_t len) {
        size_t wl = strlen(word), used = 0;
        ret[0] = 0;
        for (size_t i = 0; i < n_cmds; i++) {
                const char *name = cmds[i]->name;
                if (cmds[i]->kinds || strncmp(name, word, wl) != 0 || name[wl] != ' ')
                        continue;
                int n = snprintf(ret + used, len - used, "%s%s", used ? ", " : "", name + wl + 1);
                if (n < 0 || (size_t)n >= len - used)
                        break;
                used += (size_t)n;
        }
        return used > 0;
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
        else if (r == 0)
                r = ctx->cmd->run(ctx);
        ctx_clear(ctx);
        return r;
}

int om_cli_main(int argc, char **argv) {
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

        bool pattern = om_selector_is_pattern(sel);
        char err[256];
        if (!pattern && om_path_parse(sel, &ctx.path, err, sizeof(err)) < 0)
                return om_cli_usage_error("%s", err);
        unsigned kind_bit = pattern ? OM_KINDS_ALL : OM_KIND_BIT(ctx.path.kind);

        if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
                usage(argc < 3 ? stderr : stdout, kind_bit, false);
                return argc < 3 ? OM_EXIT_USAGE : OM_EXIT_OK;
        }
        ctx.cmd = find_cmd(kind_bit, argv + 2, argc - 2, &words);
        if (!ctx.cmd && group_cmds(argv[1], err, sizeof(err)))
                /* `om node foo`: a command group's word, not an object */
                return om_cli_usage_error("unknown command 'om %s %s' (om %s commands: %s)",
                                          argv[1], argv[2], argv[1], err);
        if (!ctx.cmd) {
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
        for (size_t i = 0; i < n; i++) {
                if (!(ctx.cmd->kinds & OM_KIND_BIT(paths[i].kind)))
                        continue;
                struct om_cli_ctx one = {.cmd = ctx.cmd, .selector = sel, .path = paths[i]};
                om_path_to_string(&one.path, one.pathstr, sizeof(one.pathstr));
                int r = run_cmd(&one, argc - skip, argv + skip);
                if (r > worst)
                        worst = r;
        }
        notify_agent(cmd);
        return worst;
}

int main(int argc, char **argv) {
        return om_cli_main(argc, argv);
}
