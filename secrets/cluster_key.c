/*
 * The cluster secret: reads `[cluster] secret` from <etc>/cluster.conf, generates it from
 * libsodium's CSPRNG when absent (creating the file, or inserting one line into an
 * existing file so its keys and comments stay as they were), and derives subkeys from it
 * with crypto_kdf. It does not cache the secret (every call reads the file, so a secret
 * installed by `cluster join` is seen at once) and it never logs it. Nothing else in
 * cluster.conf is this file's business.
 */
#include "secrets/cluster_key.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clusterconf.h"
#include "core/fileio.h"
#include "core/ini.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"

#define SECRET_HEX_LEN (2 * OM_CLUSTER_SECRET_LEN)

static void wipe_text(char **p) {
        if (*p) {
                sodium_memzero(*p, strlen(*p));
                free(*p);
        }
}
#define _cleanup_wipe_text_ _cleanup_(wipe_text)

int om_cluster_conf_lock(int *ret_fd) {
        _cleanup_free_ char *lock = om_asprintf("%s/cluster.conf.lock", om_dir_var());
        if (!lock)
                return -ENOMEM;
        return om_lock_file(lock, true, ret_fd);
}

/* The hex value of keyword kw in [cluster], into out: 0, -ENOENT when absent, -EINVAL
 * (logged) when malformed. */
static int ring_secret(const struct om_ini *ini, const char *file, const char *kw,
                       uint8_t out[OM_CLUSTER_SECRET_LEN]) {
        const struct om_ini_entry *e = om_ini_lookup(ini, "cluster", kw, NULL);
        if (!e)
                return -ENOENT;
        if (strlen(e->value) != SECRET_HEX_LEN ||
            om_hex_decode(e->value, out, OM_CLUSTER_SECRET_LEN) < 0)
                return log_error_errno(-EINVAL, "%s:%u: [cluster] %s is not %d hex digits", file,
                                       e->line, kw, SECRET_HEX_LEN);
        return 0;
}

/* The parsed cluster.conf holds the secrets too: wiped before it is freed. */
static void ini_wipe_secrets(struct om_ini *ini) {
        struct om_ini_section *s = ini ? om_ini_find_section(ini, "cluster") : NULL;
        for (size_t i = 0; s && i < s->n_entries; i++)
                if (om_startswith(s->entries[i].key, "secret") && s->entries[i].value)
                        sodium_memzero(s->entries[i].value, strlen(s->entries[i].value));
}

/* Reads cluster.conf: 0 and the secret, -ENOENT when the file or the keyword is absent,
 * -EINVAL when the file does not parse or the secret is malformed. *ret_text gets the
 * file's text (for the insertion) when it exists. */
static int read_secret(const char *file, uint8_t ret[OM_CLUSTER_SECRET_LEN], char **ret_text,
                       unsigned *ret_cluster_line) {
        _cleanup_wipe_text_ char *text = NULL;
        size_t len;
        char err[512];
        int r = om_read_file(file, OM_INI_MAX_FILE, &text, &len);
        if (r < 0)
                return r;
        _cleanup_ini_ struct om_ini *ini = NULL;
        if ((r = om_ini_parse(text, len, file, &ini, err, sizeof(err))) < 0)
                return log_error_errno(r, "%s", err);
        struct om_ini_section *s = om_ini_find_section(ini, "cluster");
        int result = ring_secret(ini, file, "secret", ret);
        ini_wipe_secrets(ini);
        if (ret_cluster_line)
                *ret_cluster_line = s ? s->line : 0;
        if (ret_text)
                *ret_text = OM_TAKE_PTR(text);
        return result;
}

/* The new file: the old text with "secret = <hex>" after the [cluster] header line, or a
 * [cluster] section in front when there is none. */
static int insert_secret(const char *old, unsigned cluster_line, const char *hex, char **ret) {
        struct om_buf b = {0};
        int r = 0;
        if (!old || cluster_line == 0) {
                r = om_buf_printf(&b, "[cluster]\nsecret = %s\n", hex);
                if (r == 0 && old && *old)
                        r = om_buf_printf(&b, "\n%s", old);
        } else {
                const char *p = old;
                for (unsigned line = 1; line <= cluster_line && p; line++) {
                        const char *nl = strchr(p, '\n');
                        p = nl ? nl + 1 : NULL;
                }
                size_t head = p ? (size_t)(p - old) : strlen(old);
                r = om_buf_append(&b, old, head);
                if (r == 0 && (head == 0 || old[head - 1] != '\n'))
                        r = om_buf_puts(&b, "\n");
                if (r == 0)
                        r = om_buf_printf(&b, "secret = %s\n", hex);
                if (r == 0 && p)
                        r = om_buf_puts(&b, p);
        }
        if (r < 0) {
                if (b.data)
                        sodium_memzero(b.data, b.len);
                om_buf_free(&b);
                return r;
        }
        *ret = om_buf_steal(&b);
        return 0;
}

int om_cluster_secret(uint8_t ret[OM_CLUSTER_SECRET_LEN]) {
        if (sodium_init() < 0)
                return -EIO;
        _cleanup_free_ char *file = om_cluster_conf_path();
        if (!file)
                return -ENOMEM;
        int r = read_secret(file, ret, NULL, NULL);
        if (r != -ENOENT)
                return r;

        /* absent: generate under the lock, after looking again (another process may have
         * been first) */
        _cleanup_close_ int lock = -1;
        if ((r = om_cluster_conf_lock(&lock)) < 0)
                return log_error_errno(r, "Failed to lock cluster.conf: %m");
        _cleanup_wipe_text_ char *old = NULL;
        unsigned cluster_line = 0;
        r = read_secret(file, ret, &old, &cluster_line);
        if (r == 0 || (r != -ENOENT))
                return r;

        uint8_t secret[OM_CLUSTER_SECRET_LEN];
        char hex[SECRET_HEX_LEN + 1];
        randombytes_buf(secret, sizeof(secret));
        sodium_bin2hex(hex, sizeof(hex), secret, sizeof(secret));
        _cleanup_wipe_text_ char *text = NULL;
        r = insert_secret(old, cluster_line, hex, &text);
        sodium_memzero(hex, sizeof(hex));
        if (r == 0)
                r = om_write_atomic(file, text, strlen(text), 0600);
        if (r < 0) {
                sodium_memzero(secret, sizeof(secret));
                return log_error_errno(r, "Failed to write the cluster secret to %s: %m", file);
        }
        memcpy(ret, secret, sizeof(secret));
        sodium_memzero(secret, sizeof(secret));
        log_info("generated the cluster secret in %s", file);
        om_cluster_name_reset();
        return 0;
}

int om_cluster_key_derive_from(const uint8_t secret[OM_CLUSTER_SECRET_LEN], uint64_t subkey_id,
                               const char ctx[8], uint8_t ret[OM_KEY_LEN]) {
        _Static_assert(OM_CLUSTER_SECRET_LEN == crypto_kdf_KEYBYTES, "kdf master key size");
        _Static_assert(OM_KEY_LEN >= crypto_kdf_BYTES_MIN && OM_KEY_LEN <= crypto_kdf_BYTES_MAX,
                       "kdf subkey size");
        if (sodium_init() < 0)
                return -EIO;
        return crypto_kdf_derive_from_key(ret, OM_KEY_LEN, subkey_id, ctx, secret) < 0 ? -EBADMSG
                                                                                       : 0;
}

int om_cluster_key_derive(uint64_t subkey_id, const char ctx[8], uint8_t ret[OM_KEY_LEN]) {
        uint8_t secret[OM_CLUSTER_SECRET_LEN];
        int r = om_cluster_secret(secret);
        if (r < 0)
                return r;
        r = om_cluster_key_derive_from(secret, subkey_id, ctx, ret);
        sodium_memzero(secret, sizeof(secret));
        return r;
}

void om_cluster_keyring_wipe(struct om_cluster_keyring *k) {
        sodium_memzero(k, sizeof(*k));
}

/* The keyring as cluster.conf says: -ENOENT when the file or its secret is absent. */
static int ring_read(const char *file, struct om_cluster_keyring *ret) {
        struct om_cluster_keyring k = {.n = 1, .gens = {1}};
        _cleanup_wipe_text_ char *text = NULL;
        _cleanup_ini_ struct om_ini *ini = NULL;
        size_t len;
        char err[512];
        int r = om_read_file(file, OM_INI_MAX_FILE, &text, &len);
        if (r < 0)
                return r;
        if ((r = om_ini_parse(text, len, file, &ini, err, sizeof(err))) < 0)
                return log_error_errno(r, "%s", err);
        r = ring_secret(ini, file, "secret", k.secrets[0]);
        const struct om_ini_entry *g = om_ini_lookup(ini, "cluster", "secret_gen", NULL);
        long long gen = 1;
        if (r == 0 && g && om_parse_int(g->value, 1, UINT32_MAX - 1, &gen) < 0)
                r = log_error_errno(-EINVAL,
                                    "%s:%u: [cluster] secret_gen is not a generation (1 or more)",
                                    file, g->line);
        k.gens[0] = (uint32_t)gen;
        int next = r == 0 ? ring_secret(ini, file, "secret_next", k.secrets[1]) : -ENOENT;
        bool both = next == 0 && om_ini_lookup(ini, "cluster", "secret_prev", NULL);
        int prev = r == 0 && next == -ENOENT ? ring_secret(ini, file, "secret_prev", k.secrets[1])
                                             : -ENOENT;
        if (r == 0 && (next == -EINVAL || prev == -EINVAL))
                r = -EINVAL;
        else if (r == 0 && both)
                r = log_error_errno(-EINVAL,
                                    "%s: [cluster] secret_next and secret_prev are both set: one "
                                    "rotation at a time",
                                    file);
        else if (r == 0 && prev == 0 && k.gens[0] < 2)
                r = log_error_errno(
                        -EINVAL, "%s: [cluster] secret_prev needs a secret_gen of 2 or more", file);
        else if (r == 0 && (next == 0 || prev == 0)) {
                k.n = 2;
                k.state = next == 0 ? OM_ROT_NEXT : OM_ROT_PREV;
                k.gens[1] = next == 0 ? k.gens[0] + 1 : k.gens[0] - 1;
        }
        ini_wipe_secrets(ini);
        if (r == 0)
                *ret = k;
        om_cluster_keyring_wipe(&k);
        return r;
}

int om_cluster_keyring_load(struct om_cluster_keyring *ret) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        if (!file)
                return -ENOMEM;
        int r = ring_read(file, ret);
        if (r != -ENOENT)
                return r;
        /* no secret yet: made (under the lock, once for all first users), then read */
        uint8_t s[OM_CLUSTER_SECRET_LEN];
        r = om_cluster_secret(s);
        sodium_memzero(s, sizeof(s));
        return r < 0 ? r : ring_read(file, ret);
}

int om_cluster_keyring_store(const struct om_cluster_keyring *k) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        if (!file)
                return -ENOMEM;
        _cleanup_close_ int lock = -1;
        int r = om_cluster_conf_lock(&lock);
        if (r < 0)
                return r;
        _cleanup_wipe_text_ char *old = NULL, *text = NULL;
        _cleanup_ini_ struct om_ini *ini = NULL;
        size_t len;
        char err[512], hex[SECRET_HEX_LEN + 1], gen[16];
        if ((r = om_read_file(file, OM_INI_MAX_FILE, &old, &len)) < 0)
                return r;
        if ((r = om_ini_parse(old, len, file, &ini, err, sizeof(err))) < 0)
                return log_error_errno(r, "%s", err);
        sodium_bin2hex(hex, sizeof(hex), k->secrets[0], OM_CLUSTER_SECRET_LEN);
        snprintf(gen, sizeof(gen), "%u", k->gens[0]);
        ini_wipe_secrets(ini); /* the values replaced below are wiped first */
        r = om_ini_set(ini, "cluster", "secret", NULL, hex);
        if (r >= 0)
                r = k->gens[0] == 1 && !om_ini_lookup(ini, "cluster", "secret_gen", NULL)
                            ? 0
                            : om_ini_set(ini, "cluster", "secret_gen", NULL, gen);
        if (r >= 0)
                r = om_ini_unset(ini, "cluster", "secret_next", NULL);
        if (r >= 0)
                r = om_ini_unset(ini, "cluster", "secret_prev", NULL);
        if (r >= 0 && k->state != OM_ROT_NONE) {
                sodium_bin2hex(hex, sizeof(hex), k->secrets[1], OM_CLUSTER_SECRET_LEN);
                r = om_ini_set(ini, "cluster",
                               k->state == OM_ROT_NEXT ? "secret_next" : "secret_prev", NULL, hex);
        }
        sodium_memzero(hex, sizeof(hex));
        if (r >= 0 && !(text = om_ini_format(ini)))
                r = -ENOMEM;
        ini_wipe_secrets(ini);
        if (r >= 0)
                r = om_write_atomic(file, text, strlen(text), 0600);
        return r < 0 ? log_error_errno(r, "Failed to write the cluster secrets to %s: %m", file)
                     : 0;
}
