/*
 * The cluster CA and the certificates it signs (see tls_ca.h).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* EC_KEY: the one way to set a given private scalar */
#include "secrets/tls_ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/objpath.h"
#include "secrets/cluster_key.h"
#include "secrets/sec.h"

static EVP_PKEY *key_from_seed(const uint8_t seed[32]) {
        EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
        BIGNUM *d = BN_bin2bn(seed, 32, NULL), *order = BN_new(), *one = BN_new();
        BN_CTX *bctx = BN_CTX_new();
        EC_POINT *pub = NULL;
        EVP_PKEY *pkey = NULL;
        if (!ec || !d || !order || !one || !bctx)
                goto out;
        const EC_GROUP *g = EC_KEY_get0_group(ec);
        /* d = seed mod (order - 1) + 1: never zero */
        if (!EC_GROUP_get_order(g, order, bctx) || !BN_one(one) || !BN_sub(order, order, one) ||
            !BN_mod(d, d, order, bctx) || !BN_add(d, d, one))
                goto out;
        pub = EC_POINT_new(g);
        if (!pub || !EC_POINT_mul(g, pub, d, NULL, NULL, bctx) || !EC_KEY_set_private_key(ec, d) ||
            !EC_KEY_set_public_key(ec, pub))
                goto out;
        pkey = EVP_PKEY_new();
        if (pkey && !EVP_PKEY_assign_EC_KEY(pkey, ec)) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
        } else if (pkey)
                ec = NULL;
out:
        EC_POINT_free(pub);
        BN_CTX_free(bctx);
        BN_clear_free(d);
        BN_free(order);
        BN_free(one);
        EC_KEY_free(ec);
        return pkey;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return -EINVAL;
        int ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -EINVAL;
}

static int ca_object(struct om_path *p) {
        return om_path_parse(OM_TLS_CA_OBJECT, p, NULL, 0);
}

/* The CA key's seed: the sec object's when it holds one, else derived from the cluster
 * secret. 1 from the object, 0 derived. */
static int ca_seed(uint8_t seed[OM_KEY_LEN]) {
        struct om_path p;
        uint8_t *v = NULL;
        size_t len = 0, n = 0;
        int r = ca_object(&p);
        if (r < 0)
                return r;
        r = om_sec_get(&p, OM_TLS_CA_KEY, &v, &len);
        if (r == -ENOENT)
                return om_cluster_key_derive(1, "httpca__", seed);
        if (r < 0)
                return r;
        while (len && (v[len - 1] == '\n' || v[len - 1] == ' ')) /* set from a file */
                len--;
        bool hex = len == 2 * OM_KEY_LEN &&
                   sodium_hex2bin(seed, OM_KEY_LEN, (const char *)v, len, NULL, &n, NULL) == 0;
        r = hex && n == OM_KEY_LEN ? 1 : -EBADMSG;
        om_sec_value_free(v, len);
        return r;
}

int om_tls_ca_pin(void) {
        struct om_path p;
        uint8_t seed[OM_KEY_LEN];
        char hex[2 * OM_KEY_LEN + 1];
        int r = ca_object(&p);
        if (r < 0)
                return r;
        if ((r = ca_seed(seed)) != 0) /* stored already, or an error */
                return r < 0 ? r : 0;
        sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
        sodium_memzero(seed, sizeof(seed));
        r = om_sec_put(&p, OM_TLS_CA_KEY, (const uint8_t *)hex, strlen(hex),
                       OM_SEC_PUT_CREATE | OM_SEC_PUT_NO_REPLACE);
        sodium_memzero(hex, sizeof(hex));
        if (r == -EEXIST) /* stored meanwhile: the same seed */
                return 0;
        return r < 0 ? r : 1;
}

int om_tls_ca(const char *cluster, EVP_PKEY **ret_key, X509 **ret_cert) {
        uint8_t seed[OM_KEY_LEN];
        int r = ca_seed(seed);
        if (r < 0)
                return r;
        EVP_PKEY *key = key_from_seed(seed);
        sodium_memzero(seed, sizeof(seed));
        X509 *cert = X509_new();
        if (!key || !cert)
                goto fail;
        /* serial: the first bytes of the public key's hash, the same on every node */
        unsigned char der[128], *pd = der, md[32];
        int dl = i2d_PUBKEY(key, NULL);
        if (dl <= 0 || dl > (int)sizeof(der) || i2d_PUBKEY(key, &pd) != dl)
                goto fail;
        crypto_generichash(md, sizeof(md), der, (size_t)dl, NULL, 0);
        md[0] &= 0x7f;
        BIGNUM *sn = BN_bin2bn(md, 16, NULL);
        bool ok = sn && BN_to_ASN1_INTEGER(sn, X509_get_serialNumber(cert));
        BN_free(sn);
        char cn[128];
        snprintf(cn, sizeof(cn), "om cluster %s CA", cluster);
        X509_NAME *name = X509_get_subject_name(cert);
        ok = ok && X509_set_version(cert, 2) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                        -1, 0) &&
             X509_set_issuer_name(cert, name) &&
             ASN1_TIME_set_string(X509_getm_notBefore(cert), "20200101000000Z") &&
             ASN1_TIME_set_string(X509_getm_notAfter(cert), "21200101000000Z") &&
             X509_set_pubkey(cert, key);
        if (!ok || add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
            add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
            add_ext(cert, cert, NID_subject_key_identifier, "hash") < 0 ||
            !X509_sign(cert, key, EVP_sha256()))
                goto fail;
        *ret_key = key;
        *ret_cert = cert;
        return 0;
fail:
        EVP_PKEY_free(key);
        X509_free(cert);
        return -EIO;
}

int om_tls_issue(EVP_PKEY *ca_key, X509 *ca_cert, const char *cn, const char *const *sans,
                 enum om_role role, uint64_t valid_ms, EVP_PKEY **ret_key, X509 **ret_cert) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *cert = X509_new();
        unsigned char serial[16];
        if (!key || !cert)
                goto fail;
        randombytes_buf(serial, sizeof(serial));
        serial[0] &= 0x7f;
        BIGNUM *sn = BN_bin2bn(serial, sizeof(serial), NULL);
        bool ok = sn && BN_to_ASN1_INTEGER(sn, X509_get_serialNumber(cert));
        BN_free(sn);
        X509_NAME *name = X509_get_subject_name(cert);
        ok = ok && X509_set_version(cert, 2) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                        -1, 0);
        if (ok && role != OM_ROLE_NONE)
                ok = X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
                                                (const unsigned char *)om_role_to_string(role), -1,
                                                -1, 0);
        ok = ok && X509_set_issuer_name(cert, X509_get_subject_name(ca_cert)) &&
             X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(cert), (long)(valid_ms / 1000)) &&
             X509_set_pubkey(cert, key);
        if (!ok || add_ext(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(cert, ca_cert, NID_key_usage, "critical,digitalSignature") < 0 ||
            add_ext(cert, ca_cert, NID_ext_key_usage,
                    role == OM_ROLE_NONE ? "serverAuth" : "clientAuth") < 0 ||
            add_ext(cert, ca_cert, NID_authority_key_identifier, "keyid") < 0)
                goto fail;
        if (role == OM_ROLE_NONE && sans && sans[0]) {
                char alt[1024] = "";
                size_t off = 0;
                for (size_t i = 0; sans[i]; i++) {
                        unsigned char buf[16];
                        bool ip = inet_pton(AF_INET, sans[i], buf) == 1 ||
                                  inet_pton(AF_INET6, sans[i], buf) == 1;
                        off += (size_t)snprintf(
                                alt + off, off < sizeof(alt) ? sizeof(alt) - off : 0, "%s%s:%s",
                                i ? "," : "", ip ? "IP" : "DNS", sans[i]);
                }
                if (off >= sizeof(alt) || add_ext(cert, ca_cert, NID_subject_alt_name, alt) < 0)
                        goto fail;
        }
        if (!X509_sign(cert, ca_key, EVP_sha256()))
                goto fail;
        *ret_key = key;
        *ret_cert = cert;
        return 0;
fail:
        EVP_PKEY_free(key);
        X509_free(cert);
        return -EIO;
}

enum om_role om_tls_cert_role(X509 *cert) {
        X509_NAME *name = X509_get_subject_name(cert);
        int i = name ? X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, -1) : -1;
        if (i < 0)
                return OM_ROLE_NONE;
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        char buf[16];
        int n = s ? ASN1_STRING_length(s) : 0;
        if (n <= 0 || n >= (int)sizeof(buf))
                return OM_ROLE_NONE;
        memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
        buf[n] = 0;
        return om_role_from_string(buf);
}

static char *bio_text(BIO *b) {
        char *data, *out = NULL;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && (out = malloc((size_t)n + 1))) {
                memcpy(out, data, (size_t)n);
                out[n] = 0;
        }
        BIO_free(b);
        return out;
}

char *om_tls_cert_pem(X509 *cert) {
        BIO *b = BIO_new(BIO_s_mem());
        if (!b || !PEM_write_bio_X509(b, cert)) {
                BIO_free(b);
                return NULL;
        }
        return bio_text(b);
}

char *om_tls_key_pem(EVP_PKEY *key) {
        BIO *b = BIO_new(BIO_s_mem());
        if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
                BIO_free(b);
                return NULL;
        }
        char *s = bio_text(b);
        return s;
}
