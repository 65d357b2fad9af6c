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
        const char *hex = om_ini_get(ini, "cluster", "secret", NULL);
        int result = -ENOENT;
        uint8_t bin[OM_CLUSTER_SECRET_LEN];
        if (hex) {
                if (strlen(hex) != SECRET_HEX_LEN ||
                    om_hex_decode(hex, bin, OM_CLUSTER_SECRET_LEN) < 0)
                        result = log_error_errno(-EINVAL,
                                                 "%s: [cluster] secret is not %d hex digits", file,
                                                 SECRET_HEX_LEN);
                else {
                        memcpy(ret, bin, sizeof(bin));
                        result = 0;
                }
                sodium_memzero(bin, sizeof(bin));
        }
        /* the parsed copy holds the secret too */
        for (size_t i = 0; s && i < s->n_entries; i++)
                if (om_streq(s->entries[i].key, "secret"))
                        sodium_memzero(s->entries[i].value, strlen(s->entries[i].value));
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

int om_cluster_key_derive(uint64_t subkey_id, const char ctx[8], uint8_t ret[OM_KEY_LEN]) {
        uint8_t secret[OM_CLUSTER_SECRET_LEN];
        int r = om_cluster_secret(secret);
        if (r < 0)
                return r;
        _Static_assert(OM_CLUSTER_SECRET_LEN == crypto_kdf_KEYBYTES, "kdf master key size");
        _Static_assert(OM_KEY_LEN >= crypto_kdf_BYTES_MIN && OM_KEY_LEN <= crypto_kdf_BYTES_MAX,
                       "kdf subkey size");
        r = crypto_kdf_derive_from_key(ret, OM_KEY_LEN, subkey_id, ctx, secret);
        sodium_memzero(secret, sizeof(secret));
        return r < 0 ? -EBADMSG : 0;
}
