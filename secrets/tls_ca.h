/*
 * The cluster CA of the HTTP API's TLS. Its P-256 key is derived from the cluster secret
 * (crypto_kdf subkey 1 of context "httpca__", taken modulo the group order): every node,
 * and the CLI on any node, computes the same key, so nothing is stored, replicated or
 * raced over, and the key is exactly as protected as the secret that seals sec objects.
 * The CA certificate is self-signed, subject "om cluster <name> CA", valid 2020-2120;
 * `om http ca` prints it for clients to trust. A node's server certificate is made at
 * each start of the agent (a new key in memory only), and client certificates by
 * `om token cert`; both are signed by the CA. A client certificate carries its role as
 * organizationalUnitName. After `om cluster rotate-secret` the CA changes: restart the
 * agents and hand clients the new `om http ca`.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "secrets/api_token.h"

/* The CA key and certificate of cluster (from the current cluster secret). */
int om_tls_ca(const char *cluster, EVP_PKEY **ret_key, X509 **ret_cert);

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
