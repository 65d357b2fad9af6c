/*
 * The `om` command's framework: command tables registered by each cli/cmd_*.c file,
 * option parsing, and the context a command handler runs with. A handler returns the
 * process exit status: 0 success, 1 the action failed, 2 usage or input error.
 *
 * Command lines: `om <global words...> [options]` for commands bound to no object
 * (`om ls`, `om mon`, `om daemon run`) and `om <path|selector> <action words...>
 * [options]` for object commands, which declare the kinds they apply to.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "core/objpath.h"

enum { OM_EXIT_OK = 0, OM_EXIT_FAIL = 1, OM_EXIT_USAGE = 2 };

#define OM_KINDS_ALL ((1u << OM_KIND_SVC) | (1u << OM_KIND_SEC) | (1u << OM_KIND_CFG))
#define OM_KIND_BIT(k) (1u << (k))

struct om_cli_opt_value {
        const char *name;
        const char *value; /* "" for flags */
};

struct om_cli_ctx {
        const struct om_cli_cmd *cmd;
        const char *selector; /* the object argument as typed, NULL for global commands */
        struct om_path path;  /* the object, for object commands */
        char pathstr[OM_PATH_STRMAX];
        char **args; /* positional arguments after the command words */
        int n_args;
        struct om_cli_opt_value opts[32];
        int n_opts;
};

struct om_cli_cmd {
        const char *name; /* command words, "print status" */
        unsigned kinds;   /* object kinds (bit mask), 0 for a global command */
        /* accepted options, space separated: "config=" takes a value, "recursive|r" has a
         * short alias, "eval" is a flag */
        const char *options;
        int (*run)(struct om_cli_ctx *ctx);
        const char *summary;
        bool multi; /* accepts a selector matching several objects (runs once) */
        /* positional arguments after the command words, as help shows them ("<page>",
         * "[<selector>]"); NULL: the command takes none, and om refuses any */
        const char *args;
};

void om_cli_register(const struct om_cli_cmd *cmds, size_t n);
#define OM_CLI_REGISTER(table)                                                                     \
        __attribute__((constructor)) static void register_##table(void) {                          \
                om_cli_register(table, sizeof(table) / sizeof(table[0]));                          \
        }

/* Every registered command, for documentation. */
size_t om_cli_commands(const struct om_cli_cmd *const **ret);

/* Option lookups: the value, NULL when absent; flags return "" when set. */
const char *om_cli_opt(const struct om_cli_ctx *ctx, const char *name);
bool om_cli_flag(const struct om_cli_ctx *ctx, const char *name);

/* --format: "text" (default), "json" or "yaml"; prints an error and returns -EINVAL for
 * anything else. */
int om_cli_format(const struct om_cli_ctx *ctx, const char **ret);

/* Prints "om: <message>" on stderr and returns OM_EXIT_USAGE. With --format json or yaml
 * on the command line, also prints {"error": <message>, "exit_status": 2} on stdout. */
int om_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "om: <message>" on stderr and returns OM_EXIT_FAIL (and the JSON or YAML error
 * object, as om_cli_usage_error). */
int om_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* false when the command line asks for --format json or yaml: a command prints its
 * errors through om_cli_fail then, never as text on stdout. */
bool om_cli_text_output(void);

int om_cli_main(int argc, char **argv);

/* The one-line help of option opt (its long name) of command cmd: the command's own
 * when it has one, else the option's; NULL when there is none (a test fails then). */
const char *om_cli_option_help(const char *cmd, const char *opt);

/* The legends: om mon's symbols, print status's flags column. */
enum om_legend_kind { OM_LEGEND_MON, OM_LEGEND_FLAGS };
struct om_cli_legend {
        enum om_legend_kind kind;
        int position; /* flags: the character's position in the column, 1 to 8 */
        const char *symbol, *meaning;
};
size_t om_cli_legend(const struct om_cli_legend **ret);
/* Prints one legend, a title line then one line per symbol. */
void om_cli_legend_print(FILE *f, enum om_legend_kind kind);
