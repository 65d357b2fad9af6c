/*
 * `om doc man om` and `om doc man om.conf`: the man pages om(1) and om.conf(5), written
 * from the command tables and the keyword tables, so the documentation cannot drift
 * from the program. The build runs them to produce the installed pages.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/keywords.h"
#include "core/object.h"
#include "core/util.h"

/* roff escapes: a leading dot or quote, and backslashes */
static void roff(const char *s) {
        if (*s == '.' || *s == '\'')
                fputs("\\&", stdout);
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\e", stdout);
                else if (*s == '-')
                        fputs("\\-", stdout);
                else
                        putchar(*s);
        }
}

/* The options of a command, one paragraph each with its help, indented under it. */
static void options_roff(const char *cmd, const char *spec) {
        _cleanup_strv_free_ char **items = NULL;
        if (!spec || om_strv_split(spec, " ", &items) < 0 || !items[0])
                return;
        fputs(".RS\n", stdout);
        for (char **it = items; *it; it++) {
                char item[64];
                snprintf(item, sizeof(item), "%s", *it);
                size_t n = strlen(item);
                bool arg = n && item[n - 1] == '=';
                if (arg)
                        item[n - 1] = 0;
                char *alias = strchr(item, '|');
                if (alias)
                        *alias++ = 0;
                printf(".TP\n");
                if (alias) {
                        printf("\\fB\\-");
                        roff(alias);
                        printf("\\fR, ");
                }
                printf("\\fB\\-\\-");
                roff(item);
                printf("\\fR%s\n", arg ? " \\fIVALUE\\fR" : "");
                const char *help = om_cli_option_help(cmd, item);
                roff(help ? help : "");
                printf("\n");
        }
        fputs(".RE\n", stdout);
}

/* A command's entry: its words, its arguments, its summary, its options. */
static void command_roff(const struct om_cli_cmd *c) {
        printf(".TP\n\\fBom\\fR %s\\fB", c->kinds ? "\\fIPATH\\fR " : "");
        roff(c->name);
        printf("\\fR");
        if (c->args) {
                printf(" \\fI");
                roff(c->args);
                printf("\\fR");
        }
        printf("\n");
        roff(c->summary);
        printf("\n");
        options_roff(c->name, c->options);
}

static void legend_roff(enum om_legend_kind kind) {
        const struct om_cli_legend *l;
        size_t n = om_cli_legend(&l);
        for (size_t i = 0; i < n; i++) {
                if (l[i].kind != kind)
                        continue;
                printf(".TP\n");
                if (kind == OM_LEGEND_FLAGS)
                        printf("%d: ", l[i].position);
                printf("\\fB");
                roff(l[i].symbol);
                printf("\\fR\n");
                roff(l[i].meaning);
                printf("\n");
        }
}

static int man_om(void) {
        const struct om_cli_cmd *const *cmds;
        size_t n = om_cli_commands(&cmds);
        printf(".TH OM 1 \"\" \"om " OM_VERSION "\" \"User Commands\"\n"
               ".SH NAME\nom \\- drive the om cluster agent and its objects\n"
               ".SH SYNOPSIS\n\\fBom\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.br\n"
               "\\fBom\\fR \\fIPATH\\fR \\fIACTION\\fR [\\fIOPTIONS\\fR]\n"
               ".br\n\\fBom \\-\\-version\\fR\n"
               ".SH DESCRIPTION\nom runs services on encrypted volumes across a cluster. "
               "Every node runs one agent (\\fBom daemon run\\fR); the \\fBom\\fR command "
               "creates and changes objects and asks the agent for actions.\n"
               ".PP\nA \\fIPATH\\fR is [\\fInamespace\\fR/][\\fIkind\\fR/]\\fIname\\fR: "
               "demo/svc/loopcrypt. Kinds are \\fBsvc\\fR (services), \\fBsec\\fR "
               "(secrets) and \\fBcfg\\fR (configuration objects, replicated to every node). Names "
               "are lower case letters, digits and '\\-', 63 at most.\n"
               ".SH COMMANDS\n");
        for (size_t i = 0; i < n; i++) {
                if (cmds[i]->kinds)
                        continue;
                command_roff(cmds[i]);
        }
        for (int k = 0; k < _OM_KIND_MAX; k++) {
                bool any = false;
                for (size_t i = 0; i < n; i++) {
                        if (!(cmds[i]->kinds & OM_KIND_BIT(k)))
                                continue;
                        if (!any)
                                printf(".SH ACTIONS ON %s OBJECTS\n", k == OM_KIND_SVC   ? "SVC"
                                                                      : k == OM_KIND_SEC ? "SEC"
                                                                                         : "CFG");
                        any = true;
                        command_roff(cmds[i]);
                }
        }
        printf(".SH OM MON SYMBOLS\nAn instance's cell in \\fBom mon\\fR is its avail "
               "symbol, then ! when its overall state is warn, * when frozen, P when not "
               "provisioned, ^ on the HA leader, and its monitor state when not idle. "
               "\\fBom mon \\-\\-legend\\fR prints this list.\n");
        legend_roff(OM_LEGEND_MON);
        printf(".SH PRINT STATUS FLAGS\nThe 8\\-character column after a resource's name in "
               "\\fBom\\fR \\fIPATH\\fR \\fBprint status\\fR, one position per flag, . "
               "when off. \\fBprint status \\-\\-legend\\fR prints this list.\n");
        legend_roff(OM_LEGEND_FLAGS);
        printf(".SH ENVIRONMENT\n.TP\n\\fBOM_ROOT\\fR\nRelocates etc, var, log and run "
               "(/etc/om, /var/lib/om, /var/log/om, /run/om) under one directory: an absolute "
               "path, of a directory or of one om may create (not a file); anything else is "
               "refused with exit status 2.\n"
               ".TP\n\\fBOM_NODENAME\\fR\nThe node's name; the short host name in lower case "
               "when unset. Lower case letters, digits and '\\-', 63 at most, not starting or "
               "ending with '\\-' (the rule of object names); anything else is refused with "
               "exit status 2.\n"
               ".SH EXIT STATUS\n0 success, 1 the action failed, 2 usage or input error.\n"
               ".SH SEE ALSO\n\\fBom.conf\\fR(5)\n");
        return OM_EXIT_OK;
}

static int man_conf(void) {
        size_t n;
        const struct om_keyword *kws = om_keywords_all(&n);
        printf(".TH OM.CONF 5 \"\" \"om " OM_VERSION "\" \"File Formats\"\n"
               ".SH NAME\nom.conf \\- object and cluster configuration of om\n"
               ".SH DESCRIPTION\nObject configs live in "
               "/etc/om/namespaces/\\fIns\\fR/\\fIkind\\fR/\\fIname\\fR.conf, the cluster's "
               "in /etc/om/cluster.conf, an arbitrator's (om arbitrator run) in "
               "/etc/om/arbitrator.conf. All are ini files: [\\fIsection\\fR] headers, "
               "\\fIkey\\fR = \\fIvalue\\fR lines, # and ; comments, and "
               "\\fIkey\\fR@\\fInode\\fR to override a keyword on one node. Resources are "
               "sections named \\fIgroup\\fR#\\fIindex\\fR (disk#0, fs#0, app#1) whose "
               "\\fBtype\\fR keyword picks the driver.\n"
               ".PP\nValues may hold references expanded when read: {name}, {namespace}, "
               "{kind}, {path}, {nodename}, {clustername}, {fqdn}, {rid}, {rindex}, {etc}, "
               "{var}, {\\fIsection\\fR.\\fIkeyword\\fR} and device references such as "
               "{disk#0.exposed_devs[0]}.\n");
        const char *last = "";
        for (size_t i = 0; i < n; i++) {
                const struct om_keyword *k = &kws[i];
                char title[96];
                if (!strcmp(k->section, "*"))
                        snprintf(title, sizeof(title), "EVERY RESOURCE");
                else if (k->type)
                        snprintf(title, sizeof(title), "[%s#N] TYPE = %s", k->section, k->type);
                else if (!strcmp(k->section, "DEFAULT"))
                        snprintf(title, sizeof(title), "[DEFAULT]");
                else if (!strcmp(k->section, "cluster") || !strcmp(k->section, "node"))
                        snprintf(title, sizeof(title), "CLUSTER.CONF [%s]", k->section);
                else if (!strcmp(k->section, "hb") || !strcmp(k->section, "arbitrator"))
                        snprintf(title, sizeof(title), "CLUSTER.CONF [%s#N]", k->section);
                else if (!strcmp(k->section, "arbd"))
                        snprintf(title, sizeof(title), "ARBITRATOR.CONF [arbitrator]");
                else if (!strcmp(k->section, "arbd-cluster"))
                        snprintf(title, sizeof(title), "ARBITRATOR.CONF [cluster#N]");
                else
                        snprintf(title, sizeof(title), "[%s#N]", k->section);
                if (strcmp(title, last) != 0) {
                        printf(".SH ");
                        roff(title);
                        printf("\n");
                        static char keep[96];
                        memcpy(keep, title, sizeof(keep));
                        last = keep;
                }
                printf(".TP\n\\fB");
                roff(k->name);
                printf("\\fR (%s", om_kw_type_to_string(k->kwtype));
                if (k->default_value) {
                        printf(", default ");
                        roff(k->default_value);
                }
                if (k->flags & OM_KWF_REQUIRED)
                        printf(", required");
                if (k->flags & OM_KWF_PROVISION)
                        printf(", provisioning");
                if (k->flags & OM_KWF_SCOPABLE)
                        printf(", scopable");
                printf(")\n");
                roff(k->doc);
                if (k->choices) {
                        printf(" One of: ");
                        roff(k->choices);
                        printf(".");
                }
                printf("\n");
        }
        printf(".SH SEE ALSO\n\\fBom\\fR(1)\n");
        return OM_EXIT_OK;
}

static int cmd_doc_man(struct om_cli_ctx *ctx) {
        if (ctx->n_args != 1)
                return om_cli_usage_error("om doc man needs a page: om or om.conf");
        if (!strcmp(ctx->args[0], "om"))
                return man_om();
        if (!strcmp(ctx->args[0], "om.conf"))
                return man_conf();
        return om_cli_usage_error("unknown page '%s' (om or om.conf)", ctx->args[0]);
}

/* The words that may follow `om` (no argument) or `om <path>`, for shell completion:
 * command names, then the options of the command whose words are given. */
static int cmd_doc_words(struct om_cli_ctx *ctx) {
        const struct om_cli_cmd *const *cmds;
        size_t n = om_cli_commands(&cmds);
        unsigned kinds = 0;
        if (ctx->n_args >= 1) {
                struct om_path p;
                if (om_selector_is_pattern(ctx->args[0]))
                        kinds = OM_KINDS_ALL;
                else if (om_path_parse(ctx->args[0], &p, NULL, 0) == 0)
                        kinds = OM_KIND_BIT(p.kind);
                else
                        return OM_EXIT_OK;
        }
        _cleanup_strv_free_ char **seen = NULL;
        for (size_t i = 0; i < n; i++) {
                if (kinds ? !(cmds[i]->kinds & kinds) : cmds[i]->kinds != 0)
                        continue;
                if (om_strv_contains(seen, cmds[i]->name))
                        continue;
                om_strv_push(&seen, cmds[i]->name);
                printf("%s\t", cmds[i]->name);
                _cleanup_strv_free_ char **items = NULL;
                if (om_strv_split(cmds[i]->options ? cmds[i]->options : "", " ", &items) == 0)
                        for (char **it = items; *it; it++) {
                                char item[64];
                                snprintf(item, sizeof(item), "%s", *it);
                                item[strcspn(item, "|=")] = 0;
                                printf(" --%s", item);
                        }
                printf("\n");
        }
        return OM_EXIT_OK;
}

static int section_keywords(const char *section, const char *group, const char *type) {
        _cleanup_strv_free_ char **names = NULL;
        if (om_keyword_names(group, type, &names) < 0)
                return om_cli_fail("out of memory");
        for (char **k = names; *k; k++)
                printf("%s.%s\n", section, *k);
        return OM_EXIT_OK;
}

/* The keywords `om <path> get|set|unset --kw` accept, as <section>.<keyword>, for shell
 * completion: DEFAULT's, then those of every resource section of the config, by its
 * type. With a section, only that one: by its type when the config has it, else every
 * keyword of its group. */
static int cmd_doc_keywords(struct om_cli_ctx *ctx) {
        struct om_path p;
        char err[512], group[64], index[64];
        if (ctx->n_args < 1 || ctx->n_args > 2)
                return om_cli_usage_error("om doc keywords needs a path: om doc keywords <path> "
                                          "[<section>]");
        if (om_path_parse(ctx->args[0], &p, err, sizeof(err)) < 0)
                return om_cli_usage_error("%s", err);
        _cleanup_object_ struct om_object *o = NULL;
        if (om_object_load(&p, &o, NULL, 0) < 0 && om_object_new(&p, &o) < 0)
                return om_cli_fail("out of memory"); /* no readable config: DEFAULT only */

        if (ctx->n_args == 2) {
                const char *section = ctx->args[1];
                bool ok = om_section_split(section, group, sizeof(group), index, sizeof(index)) ==
                                  0 &&
                          (!strcmp(group, "DEFAULT") ||
                           (index[0] && om_keyword_group_known(p.kind, group)));
                if (!ok)
                        return om_cli_usage_error("[%s] is not a section of a %s object", section,
                                                  om_kind_to_string(p.kind));
                bool present = om_ini_find_section(o->ini, section) != NULL;
                return section_keywords(section, group,
                                        present ? om_section_type(o->ini, section) : NULL);
        }
        int r = section_keywords("DEFAULT", "DEFAULT", NULL);
        for (size_t i = 0; r == OM_EXIT_OK && i < o->ini->n_sections; i++) {
                const char *section = o->ini->sections[i].name;
                if (om_section_split(section, group, sizeof(group), index, sizeof(index)) < 0 ||
                    !index[0] || !om_keyword_group_known(p.kind, group))
                        continue;
                r = section_keywords(section, group, om_section_type(o->ini, section));
        }
        return r;
}

/* The words of the `tags` keywords of a path's resources, each once, for the shell
 * completion of --tag. */
static int cmd_doc_tags(struct om_cli_ctx *ctx) {
        struct om_path p;
        char err[512], group[64], index[64];
        if (ctx->n_args != 1)
                return om_cli_usage_error("om doc tags needs a path: om doc tags <path>");
        if (om_path_parse(ctx->args[0], &p, err, sizeof(err)) < 0)
                return om_cli_usage_error("%s", err);
        _cleanup_object_ struct om_object *o = NULL;
        if (om_object_load(&p, &o, NULL, 0) < 0)
                return OM_EXIT_OK; /* no config: no tags */
        _cleanup_strv_free_ char **seen = NULL;
        for (size_t i = 0; i < o->ini->n_sections; i++) {
                const struct om_ini_section *s = &o->ini->sections[i];
                if (om_section_split(s->name, group, sizeof(group), index, sizeof(index)) < 0 ||
                    !index[0])
                        continue;
                for (size_t j = 0; j < s->n_entries; j++) {
                        _cleanup_strv_free_ char **w = NULL;
                        if (strcmp(s->entries[j].key, "tags") != 0 ||
                            om_strv_split(s->entries[j].value, " \t,", &w) < 0)
                                continue;
                        for (char **x = w; *x; x++)
                                if (!om_strv_contains(seen, *x) && om_strv_push(&seen, *x) == 0)
                                        printf("%s\n", *x);
                }
        }
        return OM_EXIT_OK;
}

static const struct om_cli_cmd doc_cmds[] = {
        {"doc tags", 0, "", cmd_doc_tags,
         "List the words of the tags keywords of a path's resources (for shell completion "
         "of --tag).",
         .args = "<path>"},
        {"doc keywords", 0, "", cmd_doc_keywords,
         "List the <section>.<keyword> names get, set and unset accept for a path [and "
         "section] (for shell completion).",
         .args = "<path> [<section>]"},
        {"doc words", 0, "", cmd_doc_words,
         "List command words and their options (for shell completion).", .args = "[<path>]"},
        {"doc man", 0, "", cmd_doc_man, "Print the man page om(1) or om.conf(5) as roff.",
         .args = "om|om.conf"},
};
OM_CLI_REGISTER(doc_cmds)
