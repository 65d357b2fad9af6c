/*
 * One keyword of an object's config at a time: `om <path> get --kw <section>.<keyword>
 * [--eval]`, `set --kw <section>.<keyword>=<value> [--kw ...]` and `unset --kw
 * <section>.<keyword> [--kw ...]`. A keyword is named `[<section>.]<keyword>[@<node>]`
 * (section DEFAULT when omitted). get reads the local config file; set and unset go
 * through om_object_edit (core/object.h): all changes or none, validated as create
 * validates, written atomically with a new version that the agent replicates. Neither
 * touches the reserved [om] section nor the sealed [data] of sec objects (om <sec> add,
 * change, remove and decode do).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/keywords.h"
#include "core/log.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/ref.h"
#include "core/util.h"

/* The values of every --kw, in command line order; returns their count. */
static size_t kw_opts(const struct om_cli_ctx *ctx, const char **ret, size_t max) {
        size_t n = 0;
        for (int i = 0; i < ctx->n_opts && n < max; i++)
                if (strcmp(ctx->opts[i].name, "kw") == 0)
                        ret[n++] = ctx->opts[i].value;
        return n;
}

static int cmd_get(struct om_cli_ctx *ctx) {
        const char *specs[2];
        size_t n = kw_opts(ctx, specs, ARRAY_SIZE(specs));
        struct om_kw_ref k;
        char err[512];
        int r;

        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (n == 0)
                return om_cli_usage_error("get needs --kw <section>.<keyword> (like om %s get "
                                          "--kw nodes)",
                                          ctx->pathstr);
        if (n > 1)
                return om_cli_usage_error("get takes one --kw");
        if (strchr(specs[0], '='))
                return om_cli_usage_error("get --kw '%s': expected <section>.<keyword>, "
                                          "without '=<value>' (om %s set changes a value)",
                                          specs[0], ctx->pathstr);
        if (om_kw_ref_parse(specs[0], &k, err, sizeof(err)) < 0)
                return om_cli_usage_error("get --kw %s", err);
        if (!strcmp(k.section, OM_META_SECTION))
                return om_cli_usage_error("get --kw %s: section [%s] is reserved for om", specs[0],
                                          OM_META_SECTION);
        if (ctx->path.kind == OM_KIND_SEC && !strcmp(k.section, "data"))
                return om_cli_usage_error("get --kw %s: [data] holds sealed values: read one "
                                          "with om %s decode --key %s",
                                          specs[0], ctx->pathstr, k.key);

        _cleanup_object_ struct om_object *o = NULL;
        r = om_object_load(&ctx->path, &o, err, sizeof(err));
        if (r == -ENOENT)
                return om_cli_fail("%s", err);
        if (r < 0)
                return om_cli_usage_error("%s", err);
        char group[64], index[64];
        if (strcmp(k.section, "DEFAULT") != 0 && !om_ini_find_section(o->ini, k.section) &&
            om_section_split(k.section, group, sizeof(group), index, sizeof(index)) == 0 &&
            om_keyword_group_known(ctx->path.kind, group))
                return om_cli_fail("%s has no section [%s]", ctx->pathstr, k.section);
        const struct om_keyword *kw =
                om_keyword_lookup(o->ini, ctx->path.kind, k.section, k.key, err, sizeof(err));
        if (!kw)
                return om_cli_usage_error("get --kw %s: %s", specs[0], err);
        const char *scope = k.scope[0] ? k.scope : NULL;

        if (!om_cli_flag(ctx, "eval")) {
                /* as written: key@node when the scope names one, else key, else the
                 * table's default */
                const char *v = om_ini_get(o->ini, k.section, k.key, scope);
                if (!v)
                        v = kw->default_value;
                if (!v)
                        return om_cli_fail("%s: keyword %s is not set and has no default",
                                           ctx->pathstr, specs[0]);
                printf("%s\n", v);
                return OM_EXIT_OK;
        }

        /* as print config --eval shows it: from this node, or from the scope's node */
        struct om_ref_ctx rc = om_object_ref_ctx(o);
        rc.keep_unresolved = true;
        rc.nodename = scope;
        rc.section = strcmp(k.section, "DEFAULT") ? k.section : NULL;
        _cleanup_free_ char *v = NULL;
        r = om_ref_eval(&rc, k.section, k.key, &v, err, sizeof(err));
        if (r == -ENOENT)
                return om_cli_fail("%s: keyword %s is not set and has no default", ctx->pathstr,
                                   specs[0]);
        if (r < 0)
                return om_cli_fail("%s: %s: %s", ctx->pathstr, specs[0], err);
        printf("%s\n", v);
        return OM_EXIT_OK;
}

/* set and unset: parses every --kw into changes, then one om_object_edit. */
static int edit(struct om_cli_ctx *ctx, bool set) {
        const char *what = set ? "set" : "unset";
        const char *specs[ARRAY_SIZE(ctx->opts)];
        struct om_kw_change changes[ARRAY_SIZE(ctx->opts)];
        size_t n = kw_opts(ctx, specs, ARRAY_SIZE(specs));
        char err[1024];

        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (n == 0)
                return om_cli_usage_error(set ? "set needs --kw <section>.<keyword>=<value> "
                                                "(several --kw change several keywords)"
                                              : "unset needs --kw <section>.<keyword> (several "
                                                "--kw remove several keywords)");
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(specs[i], '=');
                char ref[256];
                if (set && !eq)
                        return om_cli_usage_error("set --kw '%s': expected "
                                                  "<section>.<keyword>=<value>",
                                                  specs[i]);
                if (!set && eq)
                        return om_cli_usage_error("unset --kw '%s': expected "
                                                  "<section>.<keyword>, without '=<value>'",
                                                  specs[i]);
                size_t len = eq ? (size_t)(eq - specs[i]) : strlen(specs[i]);
                if (len == 0)
                        return om_cli_usage_error("%s --kw '%s': no keyword before '='", what,
                                                  specs[i]);
                snprintf(ref, sizeof(ref), "%.*s", (int)len, specs[i]);
                if (om_kw_ref_parse(ref, &changes[i].kw, err, sizeof(err)) < 0)
                        return om_cli_usage_error("%s --kw %s", what, err);
                changes[i].value = eq ? eq + 1 : NULL;
                /* the same keyword twice: which one was meant is not ours to guess */
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(changes[j].kw.section, changes[i].kw.section) &&
                            !strcmp(changes[j].kw.key, changes[i].kw.key) &&
                            !strcmp(changes[j].kw.scope, changes[i].kw.scope))
                                return om_cli_usage_error(
                                        "%s: --kw %s.%s%s%s is given twice ('%s' and '%s'), "
                                        "nothing written",
                                        what, changes[i].kw.section, changes[i].kw.key,
                                        changes[i].kw.scope[0] ? "@" : "", changes[i].kw.scope,
                                        specs[j], specs[i]);
        }

        struct om_buf report = {0};
        int r = om_object_edit(&ctx->path, changes, n, &report, err, sizeof(err));
        if (r == -EBADMSG)
                fputs(report.data ? report.data : "", stderr);
        om_buf_free(&report);
        switch (r) {
        case 0:
                return OM_EXIT_OK; /* nothing changed, nothing written */
        case 1:
                break;
        case -ENOENT:
                return om_cli_fail("%s %s: %s", what, ctx->pathstr, err);
        case -EPERM:
        case -EINVAL:
        case -EBADMSG:
        case -EFBIG:
                return om_cli_usage_error("%s %s: %s, nothing written", what, ctx->pathstr, err);
        default:
                return om_cli_fail("%s %s: %s, nothing written", what, ctx->pathstr,
                                   err[0] ? err : strerror(-r));
        }

        /* the object log records which keywords changed */
        struct om_buf names = {0};
        for (size_t i = 0; i < n; i++)
                om_buf_printf(&names, "%s%s.%s%s%s", i ? ", " : "", changes[i].kw.section,
                              changes[i].kw.key, changes[i].kw.scope[0] ? "@" : "",
                              changes[i].kw.scope);
        _cleanup_free_ char *logfile = om_object_log_path(&ctx->path);
        if (logfile && names.data && om_log_object_open(ctx->pathstr, logfile) == 0) {
                log_info("%s %s", what, names.data);
                om_log_object_close();
        }
        om_buf_free(&names);
        return OM_EXIT_OK;
}

static int cmd_set(struct om_cli_ctx *ctx) {
        return edit(ctx, true);
}

static int cmd_unset(struct om_cli_ctx *ctx) {
        return edit(ctx, false);
}

static const struct om_cli_cmd kw_cmds[] = {
        {"get", OM_KINDS_ALL, "kw= eval", cmd_get,
         "Print --kw [<section>.]<keyword>[@<node>] as written, or its default; --eval "
         "expands it."},
        {"set", OM_KINDS_ALL, "kw=", cmd_set,
         "Set --kw <section>.<keyword>=<value> (repeatable; all or none, validated; "
         "comments stay)."},
        {"unset", OM_KINDS_ALL, "kw=", cmd_unset,
         "Remove --kw <section>.<keyword> (repeatable; all or none, validated)."},
};
OM_CLI_REGISTER(kw_cmds)
