/*
 * `om token create|ls|revoke`: the bearer tokens of the HTTP API (secrets/api_token.h),
 * `om http ca`: the cluster CA certificate its clients trust, and `om http cert create`:
 * a client certificate of a role signed by that CA (secrets/tls_ca.h).
 * Tokens live in a sec object, so a token made on one node is accepted by every node's
 * HTTP API once replicated, and a revoke reaches them the same way.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>

#include "cli/cli.h"
#include "cluster/cl_config.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/api_token.h"
#include "secrets/tls_ca.h"

static void when(uint64_t ms, char *buf, size_t len) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        if (!ms) {
                snprintf(buf, len, "never");
                return;
        }
        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmd_token_create(struct om_cli_ctx *ctx) {
        const char *fmt, *role_s = om_cli_opt(ctx, "role"), *ttl_s = om_cli_opt(ctx, "ttl");
        uint64_t ttl = 0;
        char token[OM_TOKEN_LEN + 1], exp[32];
        struct om_token_info info;
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        enum om_role role = om_role_from_string(role_s);
        if (!role_s)
                return om_cli_usage_error("token create: --role viewer|operator|admin is "
                                          "required");
        if (role == OM_ROLE_NONE)
                return om_cli_usage_error("token create: --role '%s': expected viewer, operator "
                                          "or admin",
                                          role_s);
        if (ttl_s && (om_parse_duration_ms(ttl_s, &ttl) < 0 || ttl == 0))
                return om_cli_usage_error("token create: --ttl '%s' is not a duration (like 1h "
                                          "or 30d)",
                                          ttl_s);
        int r = om_token_create(role, ttl, token, &info);
        if (r < 0)
                return om_cli_fail("token create: cannot store the token in %s: %s",
                                   OM_TOKEN_OBJECT, strerror(-r));
        when(info.expires_ms, exp, sizeof(exp));
        if (strcmp(fmt, "text") != 0) {
                struct om_json j;
                om_json_init(&j, fmt);
                om_json_object_begin(&j);
                om_json_kv_string(&j, "id", info.id);
                om_json_kv_string(&j, "role", om_role_to_string(role));
                om_json_kv_string(&j, "expires", exp);
                om_json_kv_string(&j, "token", token);
                om_json_object_end(&j);
                om_json_print(&j, fmt, stdout);
                om_json_free(&j);
        } else {
                printf("%s\n", token);
                fprintf(stderr,
                        "om: token %s (%s, expires %s): shown once, keep it; send it as "
                        "Authorization: Bearer <token>\n",
                        info.id, om_role_to_string(role), exp);
        }
        explicit_bzero(token, sizeof(token));
        return OM_EXIT_OK;
}

static int cmd_token_ls(struct om_cli_ctx *ctx) {
        const char *fmt;
        struct om_token_info *v = NULL;
        size_t n = 0, bad = 0;
        if (om_cli_format(ctx, &fmt) < 0)
                return OM_EXIT_USAGE;
        int r = om_token_list(&v, &n, &bad);
        if (r < 0)
                return om_cli_fail("token ls: cannot read %s: %s", OM_TOKEN_OBJECT, strerror(-r));
        uint64_t now = om_now_ms();
        struct om_json j;
        if (strcmp(fmt, "text") != 0) {
                om_json_init(&j, fmt);
                om_json_array_begin(&j);
        } else
                printf("%-16s %-8s %-20s %-20s %s\n", "ID", "ROLE", "CREATED", "EXPIRES", "STATE");
        for (size_t i = 0; i < n; i++) {
                char c[32], e[32];
                bool expired = v[i].expires_ms && now >= v[i].expires_ms;
                when(v[i].created_ms, c, sizeof(c));
                when(v[i].expires_ms, e, sizeof(e));
                if (strcmp(fmt, "text") != 0) {
                        om_json_object_begin(&j);
                        om_json_kv_string(&j, "id", v[i].id);
                        om_json_kv_string(&j, "role", om_role_to_string(v[i].role));
                        om_json_kv_string(&j, "created", c);
                        om_json_kv_string(&j, "expires", e);
                        om_json_kv_bool(&j, "expired", expired);
                        om_json_object_end(&j);
                } else
                        printf("%-16s %-8s %-20s %-20s %s\n", v[i].id, om_role_to_string(v[i].role),
                               c, e, expired ? "expired" : "valid");
        }
        if (strcmp(fmt, "text") != 0) {
                om_json_array_end(&j);
                om_json_print(&j, fmt, stdout);
                om_json_free(&j);
        }
        free(v);
        if (bad)
                fprintf(stderr, "om: %zu entr%s of %s do not open or parse\n", bad,
                        bad == 1 ? "y" : "ies", OM_TOKEN_OBJECT);
        return OM_EXIT_OK;
}

static int cmd_token_revoke(struct om_cli_ctx *ctx) {
        const char *id = ctx->args[0];
        int r = om_token_revoke(id);
        if (r == -EINVAL)
                return om_cli_usage_error("token revoke: '%s' is not a token id (16 hex digits, "
                                          "om token ls)",
                                          id);
        if (r < 0)
                return om_cli_fail("token revoke: %s", strerror(-r));
        if (r == 0)
                return om_cli_fail("token revoke: no token %s", id);
        printf("token %s revoked\n", id);
        return OM_EXIT_OK;
}

/* The cluster CA: 0, or the exit status after saying why not. */
static int load_ca(const char *what, EVP_PKEY **key, X509 **cert) {
        struct om_cl_config *cfg = NULL;
        char err[512];
        int r = om_cl_config_load(om_nodename(), &cfg, err, sizeof(err));
        if (r < 0)
                return om_cli_fail("%s", r == -EINVAL ? err : strerror(-r));
        r = om_tls_ca(cfg->name, key, cert);
        free(cfg);
        if (r < 0)
                return om_cli_fail("%s: cannot make the cluster CA (it needs the cluster secret, "
                                   "readable by root): %s",
                                   what, strerror(-r));
        return 0;
}

static int cmd_http_ca(struct om_cli_ctx *ctx) {
        (void)ctx;
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        int r = load_ca("http ca", &key, &cert);
        if (r)
                return r;
        char *pem = om_tls_cert_pem(cert);
        EVP_PKEY_free(key);
        X509_free(cert);
        if (!pem)
                return om_cli_fail("http ca: out of memory");
        fputs(pem, stdout);
        free(pem);
        return OM_EXIT_OK;
}

static int cmd_http_cert_create(struct om_cli_ctx *ctx) {
        const char *role_s = om_cli_opt(ctx, "role"), *ttl_s = om_cli_opt(ctx, "ttl"),
                   *out = om_cli_opt(ctx, "out"), *name = om_cli_opt(ctx, "name");
        uint64_t ttl = UINT64_C(365) * 24 * 3600 * 1000;
        enum om_role role = om_role_from_string(role_s);
        if (!role_s)
                return om_cli_usage_error("http cert create: --role viewer|operator|admin is "
                                          "required");
        if (role == OM_ROLE_NONE)
                return om_cli_usage_error("http cert create: --role '%s': expected viewer, "
                                          "operator or admin",
                                          role_s);
        if (!out || !*out)
                return om_cli_usage_error("http cert create: --out <directory> is required");
        if (ttl_s && (om_parse_duration_ms(ttl_s, &ttl) < 0 || ttl < 1000 ||
                      ttl > UINT64_C(100) * 365 * 24 * 3600 * 1000))
                return om_cli_usage_error("http cert create: --ttl '%s' is not a duration "
                                          "from 1s to 100 years (like 30d)",
                                          ttl_s);
        char cn[64];
        if (name) {
                size_t n = strlen(name);
                bool ok = n > 0 && n < sizeof(cn);
                for (size_t i = 0; ok && i < n; i++)
                        ok = (unsigned char)name[i] >= 0x20 && (unsigned char)name[i] < 0x7f;
                if (!ok)
                        return om_cli_usage_error("http cert create: --name '%s': 1 to 63 "
                                                  "printable ASCII characters",
                                                  name);
                snprintf(cn, sizeof(cn), "%s", name);
        } else
                snprintf(cn, sizeof(cn), "om %s", om_role_to_string(role));
        struct stat st;
        if (stat(out, &st) < 0 && errno != ENOENT)
                return om_cli_fail("http cert create: %s: %s", out, strerror(errno));
        if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
                return om_cli_fail("http cert create: %s is not a directory", out);
        static const char *const files[] = {"cert.pem", "key.pem", "ca.pem"};
        char paths[3][4096];
        for (size_t i = 0; i < 3; i++) {
                if ((size_t)snprintf(paths[i], sizeof(paths[i]), "%s/%s", out, files[i]) >=
                    sizeof(paths[i]))
                        return om_cli_usage_error("http cert create: --out '%s' is too long", out);
                if (access(paths[i], F_OK) == 0)
                        return om_cli_fail("http cert create: %s exists: give another --out, "
                                           "or remove it",
                                           paths[i]);
        }
        EVP_PKEY *ca_key = NULL, *key = NULL;
        X509 *ca = NULL, *cert = NULL;
        int r = load_ca("http cert create", &ca_key, &ca);
        if (r)
                return r;
        r = om_tls_issue(ca_key, ca, cn, NULL, role, ttl, &key, &cert);
        EVP_PKEY_free(ca_key);
        char *pem[3] = {r == 0 ? om_tls_cert_pem(cert) : NULL, r == 0 ? om_tls_key_pem(key) : NULL,
                        om_tls_cert_pem(ca)};
        EVP_PKEY_free(key);
        X509_free(cert);
        X509_free(ca);
        if (r == 0 && (!pem[0] || !pem[1] || !pem[2]))
                r = -ENOMEM;
        if (r == 0 && (r = om_mkdir_p(out, 0700)) < 0)
                fprintf(stderr, "om: http cert create: cannot make %s: %s\n", out, strerror(-r));
        size_t written = 0;
        for (; r == 0 && written < 3; written++)
                if ((r = om_write_atomic(paths[written], pem[written], strlen(pem[written]),
                                         written == 1 ? 0600 : 0644)) < 0)
                        fprintf(stderr, "om: http cert create: cannot write %s: %s\n",
                                paths[written], strerror(-r));
        if (r < 0) /* nothing half-written */
                while (written-- > 0)
                        (void)unlink(paths[written]);
        if (pem[1])
                explicit_bzero(pem[1], strlen(pem[1]));
        for (size_t i = 0; i < 3; i++)
                free(pem[i]);
        if (r < 0)
                return om_cli_fail("http cert create: no certificate made: %s", strerror(-r));
        char exp[32];
        when(om_now_ms() + ttl, exp, sizeof(exp));
        printf("%s\n%s\n%s\n", paths[0], paths[1], paths[2]);
        fprintf(stderr,
                "om: client certificate '%s' (%s, expires %s): curl --cert %s --key %s "
                "--cacert %s https://<node>:<http_port>/api/whoami\n",
                cn, om_role_to_string(role), exp, paths[0], paths[1], paths[2]);
        return OM_EXIT_OK;
}

static const struct om_cli_cmd token_cmds[] = {
        {"token create", 0, "role= ttl= format=", cmd_token_create,
         "Make a bearer token of the HTTP API for a role (viewer, operator or admin), sealed "
         "in " OM_TOKEN_OBJECT "; it is printed once."},
        {"token ls", 0, "format=", cmd_token_ls,
         "List the HTTP API's tokens (never their secret)."},
        {"token revoke", 0, NULL, cmd_token_revoke,
         "Revoke a token: every node refuses it once the change replicated.", .args = "<id>"},
        {"http ca", 0, NULL, cmd_http_ca,
         "Print the cluster CA certificate (PEM) that signs every node's HTTPS certificate "
         "(http_tls = cluster)."},
        {"http cert create", 0, "role= out= ttl= name=", cmd_http_cert_create,
         "Make a client certificate of a role signed by the cluster CA, for the HTTP API over "
         "TLS: writes cert.pem, key.pem (mode 0600) and ca.pem into a directory; needs the "
         "cluster secret (root)."},
};
OM_CLI_REGISTER(token_cmds)
