/*
 * Object commands every kind shares: create, print config, validate config, delete,
 * ls and logs [--follow]. They work on the local files only (no daemon needed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/keywords.h"
#include "core/log.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"

/* Reads --config (a file or "-" for stdin). */
static int read_config_arg(const char *arg, char **ret, size_t *ret_len) {
        if (strcmp(arg, "-") == 0) {
                struct om_buf b = {0};
                char chunk[65536];
                size_t n;
                while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
                        if (b.len + n > OM_INI_MAX_FILE) {
                                om_buf_free(&b);
                                return -EFBIG;
                        }
                        if (om_buf_append(&b, chunk, n) < 0) {
                                om_buf_free(&b);
                                return -ENOMEM;
                        }
                }
                *ret_len = b.len;
                *ret = om_buf_steal(&b);
                return 0;
        }
        return om_read_file(arg, OM_INI_MAX_FILE, ret, ret_len);
}

static int cmd_create(struct om_cli_ctx *ctx) {
        const char *cfg = om_cli_opt(ctx, "config");
        char err[512];
        _cleanup_object_ struct om_object *o = NULL;
        int r;

        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if ((r = om_object_new(&ctx->path, &o)) < 0)
                return om_cli_fail("create %s: %s", ctx->pathstr, strerror(-r));
        if (cfg) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                const char *label = strcmp(cfg, "-") ? cfg : "<stdin>";
                r = read_config_arg(cfg, &text, &len);
                if (r == -EFBIG)
                        return om_cli_usage_error("%s: file is larger than 1 MiB", label);
                if (r < 0)
                        return om_cli_usage_error("cannot read config %s: %s", label, strerror(-r));
                om_ini_free(o->ini);
                o->ini = NULL;
                if (om_ini_parse(text, len, label, &o->ini, err, sizeof(err)) < 0)
                        return om_cli_usage_error("%s", err);
                if (om_ini_find_section(o->ini, OM_META_SECTION))
                        return om_cli_usage_error("%s: section [%s] is reserved for om", label,
                                                  OM_META_SECTION);
                struct om_buf report = {0};
                int problems = om_object_config_check(o->ini, &ctx->path, label, &report);
                if (problems) {
                        fprintf(stderr, "%s", report.data ? report.data : "");
                        om_buf_free(&report);
                        return om_cli_usage_error("create %s: the config has %d problem%s, nothing "
                                                  "written",
                                                  ctx->pathstr, problems, problems > 1 ? "s" : "");
                }
                om_buf_free(&report);
                struct om_ini_section *data = om_ini_find_section(o->ini, "data");
                for (size_t i = 0; ctx->path.kind == OM_KIND_SEC && data && i < data->n_entries;
                     i++)
                        if (!om_startswith(data->entries[i].value, "sealed:"))
                                return om_cli_usage_error(
                                        "%s:%u: [data] %s: a sec object holds sealed values "
                                        "only; store it with om %s add --key %s --from FILE",
                                        label, data->entries[i].line, data->entries[i].key,
                                        ctx->pathstr, data->entries[i].key);
        }
        if (ctx->path.kind != OM_KIND_SEC && !om_ini_get(o->ini, "DEFAULT", "id", NULL)) {
                char id[37];
                if ((r = om_uuid4(id)) < 0 ||
                    (r = om_ini_set(o->ini, "DEFAULT", "id", NULL, id)) < 0)
                        return om_cli_fail("create %s: %s", ctx->pathstr, strerror(-r));
        }

        _cleanup_close_ int lock = -1;
        if ((r = om_object_lock(&ctx->path, &lock)) < 0)
                return om_cli_fail("create %s: cannot lock: %s", ctx->pathstr, strerror(-r));
        if (om_object_exists(&ctx->path))
                return om_cli_fail("create %s: the object already exists", ctx->pathstr);
        if ((r = om_object_write(o)) == -EFBIG)
                return om_cli_usage_error("create %s: once formatted, the config has a line over "
                                          "64 KiB or is over 1 MiB, nothing written",
                                          ctx->pathstr);
        if (r < 0)
                return om_cli_fail("create %s: %s", ctx->pathstr, strerror(-r));

        _cleanup_free_ char *logfile = om_object_log_path(&ctx->path);
        if (logfile && om_log_object_open(ctx->pathstr, logfile) == 0) {
                log_info("create");
                om_log_object_close();
        }
        printf("create %s\n", ctx->pathstr);
        return OM_EXIT_OK;
}

static int load(struct om_cli_ctx *ctx, struct om_object **ret) {
        char err[512];
        int r = om_object_load(&ctx->path, ret, err, sizeof(err));
        if (r == -ENOENT)
                return om_cli_fail("%s", err);
        if (r < 0)
                return om_cli_usage_error("%s", err);
        return 0;
}

static void json_entry_value(struct om_json *j, const char *key, const char *value) {
        om_json_kv_string(j, key, value);
}

static int cmd_print_config(struct om_cli_ctx *ctx) {
        _cleanup_object_ struct om_object *o = NULL;
        const char *format;
        bool eval = om_cli_flag(ctx, "eval");
        int r;

        if (om_cli_format(ctx, &format) < 0)
                return OM_EXIT_USAGE;
        if ((r = load(ctx, &o)))
                return r;
        om_ini_remove_section(o->ini, OM_META_SECTION);

        if (eval) {
                /* replace every value by its expansion as seen from this node */
                struct om_ref_ctx rc = om_object_ref_ctx(o);
                rc.keep_unresolved = true;
                _cleanup_ini_ struct om_ini *out = om_ini_new();
                if (!out)
                        return om_cli_fail("out of memory");
                for (size_t i = 0; i < o->ini->n_sections; i++) {
                        const struct om_ini_section *s = &o->ini->sections[i];
                        om_ini_add_section(out, s->name);
                        for (size_t j = 0; j < s->n_entries; j++) {
                                const struct om_ini_entry *e = &s->entries[j];
                                if (e->scope && strcmp(e->scope, om_nodename()) != 0)
                                        continue;
                                if (!e->scope &&
                                    om_ini_lookup(o->ini, s->name, e->key, om_nodename()) != e)
                                        continue;
                                _cleanup_free_ char *v = NULL;
                                char err[512];
                                rc.section = strcmp(s->name, "DEFAULT") ? s->name : NULL;
                                if (ctx->path.kind == OM_KIND_SEC && !strcmp(s->name, "data"))
                                        v = strdup(e->value); /* sealed values stay sealed */
                                else if (om_ref_expand(&rc, e->value, &v, err, sizeof(err)) < 0)
                                        return om_cli_fail("%s: [%s] %s: %s", ctx->pathstr, s->name,
                                                           e->key, err);
                                if (!v || om_ini_set(out, s->name, e->key, NULL, v) < 0)
                                        return om_cli_fail("out of memory");
                        }
                }
                om_ini_free(o->ini);
                o->ini = OM_TAKE_PTR(out);
        }

        if (!strcmp(format, "text")) {
                _cleanup_free_ char *text = om_ini_format(o->ini);
                if (!text)
                        return om_cli_fail("out of memory");
                fputs(text, stdout);
                return OM_EXIT_OK;
        }
        struct om_json j;
        om_json_init(&j, format);
        om_json_object_begin(&j);
        for (size_t i = 0; i < o->ini->n_sections; i++) {
                const struct om_ini_section *s = &o->ini->sections[i];
                om_json_key(&j, s->name);
                om_json_object_begin(&j);
                for (size_t k = 0; k < s->n_entries; k++) {
                        const struct om_ini_entry *e = &s->entries[k];
                        _cleanup_free_ char *key = om_asprintf(
                                "%s%s%s", e->key, e->scope ? "@" : "", e->scope ? e->scope : "");
                        json_entry_value(&j, key ? key : e->key, e->value);
                }
                om_json_object_end(&j);
        }
        om_json_object_end(&j);
        om_json_print(&j, format, stdout);
        om_json_free(&j);
        return OM_EXIT_OK;
}

static int cmd_validate_config(struct om_cli_ctx *ctx) {
        _cleanup_object_ struct om_object *o = NULL;
        int r;
        if ((r = load(ctx, &o)))
                return r;
        struct om_buf report = {0};
        int problems = om_object_config_check(o->ini, &ctx->path, o->file, &report);
        if (problems < 0)
                return om_cli_fail("validate %s: %s", ctx->pathstr, strerror(-problems));
        if (problems) {
                fputs(report.data, stdout);
                om_buf_free(&report);
                printf("%d problem%s\n", problems, problems > 1 ? "s" : "");
                return OM_EXIT_USAGE;
        }
        printf("%s: config is valid\n", ctx->pathstr);
        return OM_EXIT_OK;
}

static int cmd_delete(struct om_cli_ctx *ctx) {
        if (!om_object_exists(&ctx->path))
                return om_cli_fail("object %s does not exist", ctx->pathstr);
        _cleanup_close_ int lock = -1;
        int r = om_object_lock(&ctx->path, &lock);
        if (r < 0)
                return om_cli_fail("delete %s: cannot lock: %s", ctx->pathstr, strerror(-r));
        /* the lock file lives in the var dir that delete removes: close it first */
        close(OM_TAKE_FD(lock));
        if ((r = om_object_delete(&ctx->path)) < 0)
                return om_cli_fail("delete %s: %s", ctx->pathstr, strerror(-r));
        printf("delete %s\n", ctx->pathstr);
        return OM_EXIT_OK;
}

static int list(struct om_cli_ctx *ctx, const char *selector) {
        const char *format;
        if (om_cli_format(ctx, &format) < 0)
                return OM_EXIT_USAGE;
        _cleanup_free_ struct om_path *paths = NULL;
        size_t n;
        int r = om_object_list(selector, &paths, &n);
        if (r < 0)
                return om_cli_fail("cannot list objects: %s", strerror(-r));
        /* a query: nothing found is an answer (exit 0), said on stderr */
        if (n == 0 && selector && !strchr(selector, '/') && !om_selector_is_pattern(selector))
                fprintf(stderr,
                        "om: no object matches '%s' (that is the path root/svc/%s; the objects "
                        "of a namespace: om '%s/*/*' ls)\n",
                        selector, selector, selector);
        else if (n == 0 && selector)
                fprintf(stderr, "om: no object matches '%s'\n", selector);
        struct om_json j;
        om_json_init(&j, format);
        if (strcmp(format, "text"))
                om_json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
                char s[OM_PATH_STRMAX];
                om_path_to_string(&paths[i], s, sizeof(s));
                if (!strcmp(format, "text"))
                        printf("%s\n", s);
                else
                        om_json_string(&j, s);
        }
        if (strcmp(format, "text")) {
                om_json_array_end(&j);
                om_json_print(&j, format, stdout);
        }
        om_json_free(&j);
        return OM_EXIT_OK;
}

static int cmd_ls_global(struct om_cli_ctx *ctx) {
        if (ctx->n_args > 1)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[1]);
        return list(ctx, ctx->n_args ? ctx->args[0] : NULL);
}

static int cmd_ls(struct om_cli_ctx *ctx) {
        return list(ctx, ctx->selector);
}

/* Copies what fd holds from its offset on to stdout: 0, or -errno of a read, or -EPIPE
 * when stdout is gone. */
static int copy_out(int fd) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return fflush(stdout) == EOF ? -EPIPE : 0;
                if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                        return -EPIPE;
        }
}

/* `logs --follow`: after what the log holds, every line appended, like tail -F: a log
 * truncated is read again from its start, a log replaced (renamed away, removed and
 * created again) is read from the new file's start once the old one is drained. Runs
 * until interrupted or the reader of stdout goes away (seen without writing, as POLLERR
 * on a pipe). */
static int follow(const char *file, int fd) {
        for (;;) {
                /* 200 ms, or less when the reader of a pipe went away (POLLERR) */
                struct pollfd out = {.fd = STDOUT_FILENO, .events = 0};
                if (poll(&out, 1, 200) > 0 && (out.revents & (POLLERR | POLLHUP | POLLNVAL))) {
                        if (fd >= 0)
                                close(fd);
                        return OM_EXIT_FAIL;
                }
                struct stat now, cur = {0};
                if (fd >= 0 && fstat(fd, &cur) == 0 && lseek(fd, 0, SEEK_CUR) > cur.st_size)
                        (void)lseek(fd, 0, SEEK_SET); /* truncated */
                int r = fd >= 0 ? copy_out(fd) : 0;
                if (r == -EPIPE) {
                        close(fd);
                        return OM_EXIT_FAIL;
                }
                if (stat(file, &now) < 0)
                        continue; /* gone for now: keep what is open, look again */
                if (fd >= 0 && now.st_ino == cur.st_ino && now.st_dev == cur.st_dev)
                        continue;
                int nfd = open(file, O_RDONLY | O_CLOEXEC);
                if (nfd < 0)
                        continue;
                if (fd >= 0) {
                        (void)copy_out(fd); /* the old file's last lines */
                        close(fd);
                }
                fd = nfd;
                if (copy_out(fd) == -EPIPE) {
                        close(fd);
                        return OM_EXIT_FAIL;
                }
        }
}

/* Prints the file at path (nothing when absent): 0, OM_EXIT_FAIL when stdout is gone, or
 * the exit status of an error said. With ret_fd, the file stays open there (-1: absent). */
static int dump(const char *path, int *ret_fd) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
                return om_cli_fail("cannot read %s: %m", path);
        int r = fd >= 0 ? copy_out(fd) : 0;
        if (r == 0 && ret_fd)
                *ret_fd = fd;
        else if (fd >= 0)
                close(fd);
        if (r == -EPIPE)
                return OM_EXIT_FAIL;
        return r < 0 ? om_cli_fail("cannot read %s: %s", path, strerror(-r)) : 0;
}

static int cmd_logs(struct om_cli_ctx *ctx) {
        _cleanup_free_ char *file = om_object_log_path(&ctx->path);
        if (!file)
                return om_cli_fail("out of memory");
        if (!om_object_exists(&ctx->path))
                return om_cli_fail("object %s does not exist", ctx->pathstr);
        /* the part rotated away first (core/log.h) */
        _cleanup_free_ char *rotated = om_asprintf("%s.1", file);
        int fd = -1, r;
        if (!rotated)
                return om_cli_fail("out of memory");
        if ((r = dump(rotated, NULL)) != 0 || (r = dump(file, &fd)) != 0)
                return r;
        if (om_cli_flag(ctx, "follow"))
                return follow(file, fd); /* takes fd */
        if (fd >= 0)
                close(fd);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd object_cmds[] = {
        {"create", OM_KINDS_ALL, "config=", cmd_create,
         "Create the object from a config file (--config FILE, - for stdin)."},
        {"print config", OM_KINDS_ALL, "eval format=", cmd_print_config,
         "Print the config; --eval expands references as seen from this node."},
        {"validate config", OM_KINDS_ALL, "", cmd_validate_config,
         "Report unknown keywords, bad values and missing required keywords."},
        {"delete", OM_KINDS_ALL, "", cmd_delete, "Delete the object's config."},
        {"ls", OM_KINDS_ALL, "format=", cmd_ls, "List the objects the selector matches.", true},
        {"logs", OM_KINDS_ALL, "follow|f", cmd_logs,
         "Print the object's log (the part rotated away first); --follow then prints the lines "
         "appended until interrupted."},
        {"ls", 0, "format=", cmd_ls_global, "List objects, all or those a selector matches.",
         .args = "[<selector>]"},
};
OM_CLI_REGISTER(object_cmds)
