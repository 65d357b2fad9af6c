/*
 * The cluster CA of the HTTP API's TLS: a P-256 key, and a self-signed certificate,
 * subject "om cluster <name> CA", valid 2020-2120, that `om http ca` prints for clients
 * to trust. The key comes from a 32-byte seed (taken modulo the group order): the value
 * of key "key" of the sec object OM_TLS_CA_OBJECT when it exists (sealed, replicated,
 * sealed again by a rotation like any sec), else crypto_kdf subkey 1 of context
 * "httpca__" of the cluster secret. So until the first `om cluster rotate-secret` every
 * node, and the CLI on any node, computes the same CA with nothing stored, replicated or
 * raced over; the rotation first stores that seed in the object (om_tls_ca_pin, before
 * the secret changes), so the CA outlives the secret it was derived from.
 * A node's server certificate is made at each start of the agent (a new key in memory
 * only), and client certificates by `om http cert create`; both are signed by the CA. A
 * client certificate carries its role as organizationalUnitName.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "secrets/api_token.h"

#define OM_TLS_CA_OBJECT "system/sec/http-ca"
#define OM_TLS_CA_KEY "key"

/* The CA key and certificate of cluster: from the sec object, or the cluster secret. */
int om_tls_ca(const char *cluster, EVP_PKEY **ret_key, X509 **ret_cert);

/* Stores the seed the CA comes from now in the sec object when it holds none: 1 stored,
 * 0 there already. Two nodes doing it at once store the same seed (derived from the same
 * secret), so whichever version replication keeps, the CA is the same. */
int om_tls_ca_pin(void);

/* Issues a certificate signed by the CA: a server certificate for cn with the subject
 * alternative names sans (IP addresses or DNS names, NULL-terminated) when role is
 * OM_ROLE_NONE, else a client certificate of that role. valid_ms from now. */
int om_tls_issue(EVP_PKEY *ca_key, X509 *ca_cert, const char *cn, const char *const *sans,
                 enum om_role role, uint64_t valid_ms, EVP_PKEY **ret_key, X509 **ret_cert);

/* The role a client certificate verified against the CA carries (its OU), OM_ROLE_NONE
 * when it has none. */
enum om_role om_tls_cert_role(X509 *cert);

/* PEM text of a certificate or a private key (malloc'd, NUL-terminated). */
char *om_tls_cert_pem(X509 *cert);
char *om_tls_key_pem(EVP_PKEY *key);
