/*
 * Bearer tokens of the HTTP API (`om token create|ls|revoke`). A token is the string
 * "om1_<id>_<secret>": id 16 hex digits, secret 64 hex digits (32 bytes from the CSPRNG).
 * Each token is one key <id> of the sec object OM_TOKEN_OBJECT, so it is sealed at rest
 * with the cluster secret and replicated to every node like any sec object; revoking is
 * removing the key. The sealed value is "role=<role> created=<ms> expires=<ms|0>
 * hash=<hex>": the BLAKE2b-256 hash of the secret, never the secret itself, so whoever
 * decodes the sec object learns no usable token.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OM_TOKEN_OBJECT "system/sec/api-tokens"
#define OM_TOKEN_ID_LEN 16
#define OM_TOKEN_SECRET_LEN 64
/* "om1_" id "_" secret */
#define OM_TOKEN_LEN (4 + OM_TOKEN_ID_LEN + 1 + OM_TOKEN_SECRET_LEN)

/* Roles, each allowing what the ones before it allow. */
enum om_role {
        OM_ROLE_NONE = 0,
        OM_ROLE_VIEWER,   /* read: the cluster view, objects, metrics, events */
        OM_ROLE_OPERATOR, /* actions: object targets, node freeze and thaw */
        OM_ROLE_ADMIN,    /* config text, sec keys (never sec values), daemon rescan/reload */
};

const char *om_role_to_string(enum om_role r);
/* OM_ROLE_NONE for anything but viewer, operator, admin. */
enum om_role om_role_from_string(const char *s);

struct om_token_info {
        char id[OM_TOKEN_ID_LEN + 1];
        enum om_role role;
        uint64_t created_ms, expires_ms; /* wall clock; expires 0: never */
        uint8_t hash[32];
};

/* Creates a token of role valid for ttl_ms (0: no expiry); writes its string (NUL
 * terminated) into ret[OM_TOKEN_LEN + 1]. */
int om_token_create(enum om_role role, uint64_t ttl_ms, char ret[OM_TOKEN_LEN + 1],
                    struct om_token_info *ret_info);
/* Every token (allocated array, free()). -ENOENT maps to 0 tokens. Entries that do not
 * open or parse are skipped and counted in *ret_bad (may be NULL). */
int om_token_list(struct om_token_info **ret, size_t *ret_n, size_t *ret_bad);
/* 1 revoked, 0 no such token, negative errno. */
int om_token_revoke(const char *id);

/* Splits a token string: the id and the 32-byte secret. -EINVAL when malformed. */
int om_token_parse(const char *token, size_t len, char id[OM_TOKEN_ID_LEN + 1], uint8_t secret[32]);
/* Whether secret matches info (constant time) and info has not expired at now_ms. */
bool om_token_matches(const struct om_token_info *info, const uint8_t secret[32], uint64_t now_ms);
