/*
 * Bearer tokens of the HTTP API, kept as keys of the sec object OM_TOKEN_OBJECT (see
 * api_token.h for the format). Nothing here logs a token or its secret.
 */
#include "secrets/api_token.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objpath.h"
#include "core/util.h"
#include "secrets/sec.h"

static const char *const role_names[] = {
        [OM_ROLE_NONE] = "none",
        [OM_ROLE_VIEWER] = "viewer",
        [OM_ROLE_OPERATOR] = "operator",
        [OM_ROLE_ADMIN] = "admin",
};

const char *om_role_to_string(enum om_role r) {
        return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "none";
}

enum om_role om_role_from_string(const char *s) {
        for (int r = OM_ROLE_VIEWER; r <= OM_ROLE_ADMIN; r++)
                if (s && strcmp(s, role_names[r]) == 0)
                        return (enum om_role)r;
        return OM_ROLE_NONE;
}

static int token_object(struct om_path *p) {
        return om_path_parse(OM_TOKEN_OBJECT, p, NULL, 0);
}

static bool all_hex(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int om_token_parse(const char *t, size_t len, char id[OM_TOKEN_ID_LEN + 1], uint8_t secret[32]) {
        if (len != OM_TOKEN_LEN || memcmp(t, "om1_", 4) != 0 || t[4 + OM_TOKEN_ID_LEN] != '_' ||
            !all_hex(t + 4, OM_TOKEN_ID_LEN) ||
            !all_hex(t + 5 + OM_TOKEN_ID_LEN, OM_TOKEN_SECRET_LEN))
                return -EINVAL;
        memcpy(id, t + 4, OM_TOKEN_ID_LEN);
        id[OM_TOKEN_ID_LEN] = 0;
        size_t n = 0;
        if (sodium_hex2bin(secret, 32, t + 5 + OM_TOKEN_ID_LEN, OM_TOKEN_SECRET_LEN, NULL, &n,
                           NULL) < 0 ||
            n != 32)
                return -EINVAL;
        return 0;
}

static void secret_hash(const uint8_t secret[32], uint8_t out[32]) {
        crypto_generichash(out, 32, secret, 32, (const uint8_t *)"om-api-token", 12);
}

bool om_token_matches(const struct om_token_info *info, const uint8_t secret[32], uint64_t now_ms) {
        uint8_t h[32];
        secret_hash(secret, h);
        bool same = sodium_memcmp(h, info->hash, 32) == 0;
        sodium_memzero(h, sizeof(h));
        return same && info->role != OM_ROLE_NONE &&
               (info->expires_ms == 0 || now_ms < info->expires_ms);
}

/* "role=<r> created=<ms> expires=<ms> hash=<hex>" */
static int value_parse(const char *v, struct om_token_info *ret) {
        char role[16], hash[65];
        unsigned long long created, expires;
        if (sscanf(v, "role=%15s created=%llu expires=%llu hash=%64s", role, &created, &expires,
                   hash) != 4 ||
            strlen(hash) != 64 || !all_hex(hash, 64))
                return -EBADMSG;
        ret->role = om_role_from_string(role);
        if (ret->role == OM_ROLE_NONE)
                return -EBADMSG;
        ret->created_ms = created;
        ret->expires_ms = expires;
        size_t n = 0;
        if (sodium_hex2bin(ret->hash, 32, hash, 64, NULL, &n, NULL) < 0 || n != 32)
                return -EBADMSG;
        return 0;
}

int om_token_create(enum om_role role, uint64_t ttl_ms, char ret[OM_TOKEN_LEN + 1],
                    struct om_token_info *ret_info) {
        struct om_path p;
        struct om_token_info info = {.role = role};
        uint8_t idb[OM_TOKEN_ID_LEN / 2], secret[32];
        char hex[65], value[256];
        int r;
        if (sodium_init() < 0)
                return -EIO;
        if (role == OM_ROLE_NONE || (r = token_object(&p)) < 0)
                return -EINVAL;
        randombytes_buf(idb, sizeof(idb));
        randombytes_buf(secret, sizeof(secret));
        sodium_bin2hex(info.id, sizeof(info.id), idb, sizeof(idb));
        secret_hash(secret, info.hash);
        info.created_ms = om_now_ms();
        info.expires_ms = ttl_ms ? info.created_ms + ttl_ms : 0;
        sodium_bin2hex(hex, sizeof(hex), info.hash, sizeof(info.hash));
        snprintf(value, sizeof(value), "role=%s created=%" PRIu64 " expires=%" PRIu64 " hash=%s",
                 om_role_to_string(role), info.created_ms, info.expires_ms, hex);
        r = om_sec_put(&p, info.id, (const uint8_t *)value, strlen(value),
                       OM_SEC_PUT_CREATE | OM_SEC_PUT_NO_REPLACE);
        if (r < 0) {
                sodium_memzero(secret, sizeof(secret));
                return r;
        }
        memcpy(ret, "om1_", 4);
        memcpy(ret + 4, info.id, OM_TOKEN_ID_LEN);
        ret[4 + OM_TOKEN_ID_LEN] = '_';
        sodium_bin2hex(ret + 5 + OM_TOKEN_ID_LEN, OM_TOKEN_SECRET_LEN + 1, secret, sizeof(secret));
        sodium_memzero(secret, sizeof(secret));
        if (ret_info)
                *ret_info = info;
        return 0;
}

int om_token_list(struct om_token_info **ret, size_t *ret_n, size_t *ret_bad) {
        struct om_path p;
        _cleanup_strv_free_ char **keys = NULL;
        size_t n = 0, bad = 0;
        int r;
        *ret = NULL;
        *ret_n = 0;
        if (ret_bad)
                *ret_bad = 0;
        if ((r = token_object(&p)) < 0)
                return r;
        r = om_sec_keys(&p, &keys);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        size_t cap = 0;
        while (keys[cap])
                cap++;
        struct om_token_info *v = calloc(cap ? cap : 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; keys[i]; i++) {
                uint8_t *val = NULL;
                size_t len = 0;
                if (strlen(keys[i]) != OM_TOKEN_ID_LEN || om_sec_get(&p, keys[i], &val, &len) < 0) {
                        bad++;
                        continue;
                }
                if (value_parse((const char *)val, &v[n]) < 0)
                        bad++;
                else
                        snprintf(v[n++].id, sizeof(v[0].id), "%s", keys[i]);
                om_sec_value_free(val, len);
        }
        *ret = v;
        *ret_n = n;
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}

int om_token_revoke(const char *id) {
        struct om_path p;
        int r;
        if (strlen(id) != OM_TOKEN_ID_LEN || !all_hex(id, OM_TOKEN_ID_LEN))
                return -EINVAL;
        if ((r = token_object(&p)) < 0)
                return r;
        r = om_sec_remove(&p, id);
        return r == -ENOENT ? 0 : r;
}
