/*
 * The sec object commands of the reference: keys, decode, add, change and remove. They
 * read and write the local config through secrets/sec.h (no daemon needed). Values come
 * from --value (the user's choice: it is visible in the process list, so the argument is
 * wiped once copied), --from FILE or --from - (stdin) into sodium_malloc memory, and leave
 * only through `decode` on stdout. The object log records which key changed, never a
 * value. Exit status: 0 done, 1 the action failed, 2 bad usage or input.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/sec.h"

struct secret_buf {
        uint8_t *data; /* sodium_malloc'd, OM_SEC_VALUE_MAX + 1 bytes */
        size_t len;
};

static void secret_buf_free(struct secret_buf *b) {
        if (b->data)
                om_sec_value_free(b->data, OM_SEC_VALUE_MAX + 1);
        b->data = NULL;
}

static void log_object(const struct om_cli_ctx *ctx, const char *what, const char *key) {
        _cleanup_free_ char *logfile = om_object_log_path(&ctx->path);
        if (logfile && om_log_object_open(ctx->pathstr, logfile) == 0) {
                log_info("%s key %s", what, key);
                om_log_object_close();
        }
}

/* Reads fd until EOF into b, at most OM_SEC_VALUE_MAX bytes: -EFBIG beyond. */
static int read_value_fd(int fd, struct secret_buf *b) {
        b->len = 0;
        for (;;) {
                size_t room = OM_SEC_VALUE_MAX + 1 - b->len;
                if (room == 0)
                        return -EFBIG;
                ssize_t n = read(fd, b->data + b->len, room);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                b->len += (size_t)n;
        }
}

/* The value of add/change: exactly one of --value and --from. Returns an exit status. */
static int read_value(struct om_cli_ctx *ctx, struct secret_buf *b) {
        const char *value = om_cli_opt(ctx, "value");
        const char *from = om_cli_opt(ctx, "from");
        if (value && from)
                return om_cli_usage_error("--value and --from are exclusive");
        if (!value && !from)
                return om_cli_usage_error("a value is needed: --value V, --from FILE or --from -");
        if (sodium_init() < 0)
                return om_cli_fail("cannot initialize libsodium");
        b->data = sodium_malloc(OM_SEC_VALUE_MAX + 1);
        if (!b->data)
                return om_cli_fail("out of memory");
        if (value) {
                size_t n = strlen(value);
                if (n > OM_SEC_VALUE_MAX)
                        return om_cli_usage_error("the value is larger than 1 MiB");
                memcpy(b->data, value, n);
                b->len = n;
                /* the argument points into argv: wipe it so /proc/<pid>/cmdline stops
                 * showing it (it was visible until now: prefer --from) */
                sodium_memzero((char *)value, n);
                return OM_EXIT_OK;
        }
        const char *label = strcmp(from, "-") ? from : "<stdin>";
        _cleanup_close_ int fd = strcmp(from, "-") ? open(from, O_RDONLY | O_CLOEXEC) : -1;
        if (strcmp(from, "-") && fd < 0)
                return om_cli_usage_error("cannot read %s: %s", from, strerror(errno));
        struct stat st;
        int in = fd >= 0 ? fd : STDIN_FILENO;
        if (fstat(in, &st) == 0 && S_ISDIR(st.st_mode))
                return om_cli_usage_error("cannot read %s: it is a directory", label);
        int r = read_value_fd(in, b);
        if (r == -EFBIG)
                return om_cli_usage_error("%s: the value is larger than 1 MiB", label);
        if (r < 0)
                return om_cli_usage_error("cannot read %s: %s", label, strerror(-r));
        return OM_EXIT_OK;
}

/* --key: present and well formed. */
static int get_key(struct om_cli_ctx *ctx, const char **ret) {
        const char *key = om_cli_opt(ctx, "key");
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        if (!key)
                return om_cli_usage_error("--key is required");
        if (!om_sec_key_valid(key))
                return om_cli_usage_error("bad key name '%.*s%s' (expected [A-Za-z0-9_.-]{1,255})",
                                          64, key, strlen(key) > 64 ? "..." : "");
        *ret = key;
        return OM_EXIT_OK;
}

static int no_object(const struct om_cli_ctx *ctx) {
        return om_cli_fail("object %s does not exist", ctx->pathstr);
}

/* -ENOENT from secrets/: the object or the key is missing. */
static int missing(const struct om_cli_ctx *ctx, const char *key) {
        if (!om_object_exists(&ctx->path))
                return no_object(ctx);
        return om_cli_fail("%s has no %s key", ctx->pathstr, key);
}

/* Straight to the descriptor: stdio would keep a copy of the value in its buffer. */
static int write_all(int fd, const uint8_t *p, size_t len) {
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int cmd_keys(struct om_cli_ctx *ctx) {
        const char *format;
        if (om_cli_format(ctx, &format) < 0)
                return OM_EXIT_USAGE;
        if (ctx->n_args)
                return om_cli_usage_error("unexpected argument '%s'", ctx->args[0]);
        _cleanup_strv_free_ char **keys = NULL;
        int r = om_sec_keys(&ctx->path, &keys);
        if (r == -ENOENT)
                return no_object(ctx);
        if (r < 0)
                return om_cli_fail("%s: cannot read the keys: %s", ctx->pathstr, strerror(-r));
        if (!strcmp(format, "text")) {
                for (char **k = keys; *k; k++)
                        printf("%s\n", *k);
                return OM_EXIT_OK;
        }
        struct om_json j;
        om_json_init(&j, format);
        om_json_array_begin(&j);
        for (char **k = keys; *k; k++)
                om_json_string(&j, *k);
        om_json_array_end(&j);
        r = om_json_print(&j, format, stdout);
        om_json_free(&j);
        return r < 0 ? om_cli_fail("cannot print the keys: %s", strerror(-r)) : OM_EXIT_OK;
}

static int cmd_decode(struct om_cli_ctx *ctx) {
        const char *key;
        int r = get_key(ctx, &key);
        if (r)
                return r;
        uint8_t *value = NULL;
        size_t len = 0;
        r = om_sec_get(&ctx->path, key, &value, &len);
        if (r == -ENOENT)
                return missing(ctx, key);
        if (r == -EBADMSG)
                return om_cli_fail("%s: the value of key %s does not decode: it was altered, "
                                   "moved from another key or object, or sealed with another "
                                   "cluster secret",
                                   ctx->pathstr, key);
        if (r < 0)
                return om_cli_fail("%s: cannot decode key %s: %s", ctx->pathstr, key, strerror(-r));
        fflush(stdout);
        r = write_all(STDOUT_FILENO, value, len);
        om_sec_value_free(value, len + 1);
        if (r < 0)
                return om_cli_fail("cannot write the value to stdout: %s", strerror(-r));
        return OM_EXIT_OK;
}

static int put(struct om_cli_ctx *ctx, const char *what, unsigned flags) {
        const char *key;
        int r = get_key(ctx, &key);
        if (r)
                return r;
        _cleanup_(secret_buf_free) struct secret_buf b = {0};
        if ((r = read_value(ctx, &b)))
                return r;
        r = om_sec_put(&ctx->path, key, b.data, b.len, flags);
        if (r == -ENOENT)
                return om_cli_fail("object %s does not exist (create it first: om %s create)",
                                   ctx->pathstr, ctx->pathstr);
        if (r == -EEXIST)
                return om_cli_fail("%s already has a %s key (use change to replace its value)",
                                   ctx->pathstr, key);
        if (r == -ENOKEY)
                return om_cli_fail("%s has no %s key (use add)", ctx->pathstr, key);
        if (r < 0)
                return om_cli_fail("%s: cannot %s key %s: %s", ctx->pathstr, what, key,
                                   strerror(-r));
        log_object(ctx, what, key);
        return OM_EXIT_OK;
}

static int cmd_add(struct om_cli_ctx *ctx) {
        return put(ctx, "add", OM_SEC_PUT_NO_REPLACE);
}

static int cmd_change(struct om_cli_ctx *ctx) {
        return put(ctx, "change", OM_SEC_PUT_MUST_EXIST);
}

static int cmd_remove(struct om_cli_ctx *ctx) {
        const char *key;
        int r = get_key(ctx, &key);
        if (r)
                return r;
        if (!om_object_exists(&ctx->path))
                return no_object(ctx);
        r = om_sec_remove(&ctx->path, key);
        if (r == 0)
                return missing(ctx, key);
        if (r < 0)
                return om_cli_fail("%s: cannot remove key %s: %s", ctx->pathstr, key, strerror(-r));
        log_object(ctx, "remove", key);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd sec_cmds[] = {
        {"keys", OM_KIND_BIT(OM_KIND_SEC), "format=", cmd_keys,
         "List the keys of the secret, sorted, one a line (--format json|yaml: a list)."},
        {"decode", OM_KIND_BIT(OM_KIND_SEC), "key=", cmd_decode,
         "Print the value of --key K: its exact bytes, no newline added."},
        {"add", OM_KIND_BIT(OM_KIND_SEC), "key= value= from=", cmd_add,
         "Add --key K with --value V, --from FILE or --from - (stdin); up to 1 MiB."},
        {"change", OM_KIND_BIT(OM_KIND_SEC), "key= value= from=", cmd_change,
         "Replace the value of an existing --key K (--value V, --from FILE or -)."},
        {"remove", OM_KIND_BIT(OM_KIND_SEC), "key=", cmd_remove, "Remove --key K."},
};
OM_CLI_REGISTER(sec_cmds)
