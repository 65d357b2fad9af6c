/*
 * Unit tests of secrets/: the cluster secret (generation, preservation of an existing
 * cluster.conf, one secret under concurrent first use), subkey derivation, sealing and
 * opening (round trips up to 1 MiB, and every tampering: flipped nonce, ciphertext or tag
 * byte, a value moved to another key or object, another cluster secret), the locked
 * read-modify-write of sec objects (versions, 0600, no clear text in the file, concurrent
 * writers, a writer killed mid-write) and the passphrase generator's uniformity (a
 * chi-square test shown to reject a modulo-biased generator and one missing a symbol).
 * Each case runs in its own temporary OM_ROOT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/om-test.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/clusterconf.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/cluster_key.h"
#include "secrets/sec.h"

static char root[256];

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "secrets", "n1");
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static struct om_path P(const char *s) {
        struct om_path p;
        assert_int_equal(om_path_parse(s, &p, NULL, 0), 0);
        return p;
}

static char *
read_text(const char *file) {
        char *t = NULL;
        assert_int_equal(om_read_file(file, 64u << 20, &t, NULL), 0);
        return t;
}

static void write_text(const char *file, const char *text) {
        assert_int_equal(om_write_atomic(file, text, strlen(text), 0600), 0);
}

/* ---- cluster secret ---- */

static void test_secret_generated(void **state) {
        uint8_t a[OM_CLUSTER_SECRET_LEN], b[OM_CLUSTER_SECRET_LEN],
                zero[OM_CLUSTER_SECRET_LEN] = {0};
        assert_int_equal(om_cluster_secret(a), 0);
        assert_memory_not_equal(a, zero, sizeof(a));
        assert_int_equal(om_cluster_secret(b), 0);
        assert_memory_equal(a, b, sizeof(a)); /* stable */

        _cleanup_free_ char *file = om_cluster_conf_path();
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        _cleanup_free_ char *text = read_text(file);
        char hex[65];
        sodium_bin2hex(hex, sizeof(hex), a, sizeof(a));
        char line[128];
        snprintf(line, sizeof(line), "[cluster]\nsecret = %s\n", hex);
        assert_string_equal(text, line);
}

static void test_secret_inserted_preserving(void **state) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        const char *before = "# the lab cluster\n[cluster]\nname = lab # ours\nnodes = n1 n2\n\n"
                             "[hb#1]\ntype = unicast\nport = 10000\n";
        assert_int_equal(om_mkdir_parents(file, 0755), 0);
        assert_int_equal(om_write_atomic(file, before, strlen(before), 0644), 0);
        uint8_t s[OM_CLUSTER_SECRET_LEN];
        assert_int_equal(om_cluster_secret(s), 0);
        _cleanup_free_ char *text = read_text(file);
        /* every line of the old file is still there, in order, and the secret was added */
        const char *p = text;
        _cleanup_strv_free_ char **lines = NULL;
        assert_int_equal(om_strv_split(before, "\n", &lines), 0);
        for (char **l = lines; *l; l++) {
                const char *at = strstr(p, *l);
                assert_non_null(at);
                p = at + strlen(*l);
        }
        assert_non_null(strstr(text, "[cluster]\nsecret = "));
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_string_equal(om_cluster_name(), "lab");

        /* no [cluster] section at all: one is added, the rest kept */
        const char *other = "[hb#1]\ntype = unicast\n";
        write_text(file, other);
        assert_int_equal(om_cluster_secret(s), 0);
        free(text);
        text = read_text(file);
        assert_non_null(strstr(text, "[hb#1]\ntype = unicast\n"));
        _cleanup_ini_ struct om_ini *ini = NULL;
        assert_int_equal(om_clusterconf_load(&ini, NULL, 0), 0);
        assert_non_null(om_ini_get(ini, "cluster", "secret", NULL));
}

static void test_secret_malformed_kept(void **state) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        const char *bad = "[cluster]\nsecret = abcd\n";
        write_text(file, bad);
        uint8_t s[OM_CLUSTER_SECRET_LEN];
        assert_int_equal(om_cluster_secret(s), -EINVAL);
        _cleanup_free_ char *text = read_text(file);
        assert_string_equal(text, bad); /* never replaced */
        write_text(file,
                   "[cluster]\nsecret = zz3456789012345678901234567890123456789012345678901234"
                   "5678901234\n");
        assert_int_equal(om_cluster_secret(s), -EINVAL);
}

/* Many processes need the secret at once: they all get the same one. */
static void test_secret_concurrent_first_use(void **state) {
        enum { N = 8 };
        int fds[N][2];
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
                assert_int_equal(pipe(fds[i]), 0);
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        uint8_t s[OM_CLUSTER_SECRET_LEN];
                        if (om_cluster_secret(s) < 0)
                                _exit(1);
                        _exit(write(fds[i][1], s, sizeof(s)) == sizeof(s) ? 0 : 1);
                }
                close(fds[i][1]);
        }
        uint8_t first[OM_CLUSTER_SECRET_LEN];
        for (int i = 0; i < N; i++) {
                int st;
                uint8_t s[OM_CLUSTER_SECRET_LEN];
                assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
                assert_int_equal(read(fds[i][0], s, sizeof(s)), sizeof(s));
                close(fds[i][0]);
                if (i == 0)
                        memcpy(first, s, sizeof(s));
                else
                        assert_memory_equal(first, s, sizeof(s));
        }
        uint8_t now[OM_CLUSTER_SECRET_LEN];
        assert_int_equal(om_cluster_secret(now), 0);
        assert_memory_equal(first, now, sizeof(now));
}

static void test_kdf(void **state) {
        uint8_t secret[OM_CLUSTER_SECRET_LEN], a[OM_KEY_LEN], b[OM_KEY_LEN], c[OM_KEY_LEN],
                d[OM_KEY_LEN];
        assert_int_equal(om_cluster_secret(secret), 0);
        assert_int_equal(om_cluster_key_derive(1, "sealsec_", a), 0);
        assert_int_equal(om_cluster_key_derive(1, "sealsec_", b), 0);
        assert_int_equal(om_cluster_key_derive(1, "hbframe_", c), 0);
        assert_int_equal(om_cluster_key_derive(2, "sealsec_", d), 0);
        assert_memory_equal(a, b, sizeof(a));
        assert_memory_not_equal(a, c, sizeof(a));
        assert_memory_not_equal(a, d, sizeof(a));
        assert_memory_not_equal(a, secret, sizeof(a)); /* never the raw secret */
        /* it is libsodium's crypto_kdf, so other implementations can interoperate */
        uint8_t ref[OM_KEY_LEN];
        crypto_kdf_derive_from_key(ref, sizeof(ref), 1, "sealsec_", secret);
        assert_memory_equal(a, ref, sizeof(a));
}

/* ---- sealing ---- */

static void test_key_names(void **state) {
        char long_ok[256], too_long[257];
        memset(long_ok, 'k', 255);
        long_ok[255] = 0;
        memset(too_long, 'k', 256);
        too_long[256] = 0;
        assert_true(om_sec_key_valid("disk_1_crypt_passphrase"));
        assert_true(om_sec_key_valid("A.b-c_9"));
        assert_true(om_sec_key_valid(long_ok));
        const char *bad[] = {"", "a b", "a/b", "a@n1", "a=b", "é", "a#b", "[x]", "a\n", NULL};
        for (const char **b = bad; *b; b++)
                assert_false(om_sec_key_valid(*b));
        assert_false(om_sec_key_valid(too_long));
        assert_false(om_sec_key_valid(NULL));
}

static void test_seal_roundtrip(void **state) {
        uint8_t key[32];
        randombytes_buf(key, sizeof(key));
        size_t sizes[] = {0, 1, 255, 4096, OM_SEC_VALUE_MAX};
        for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
                uint8_t *v = malloc(sizes[i] + 1);
                randombytes_buf(v, sizes[i]);
                if (sizes[i] > 3)
                        v[2] = 0; /* binary safe */
                _cleanup_free_ char *sealed = NULL;
                assert_int_equal(om_sec_seal(key, "demo/sec/x", "k", v, sizes[i], &sealed), 0);
                assert_true(om_startswith(sealed, "sealed:"));
                uint8_t *out = NULL;
                size_t len = 99;
                assert_int_equal(om_sec_open(key, "demo/sec/x", "k", sealed, &out, &len), 0);
                assert_int_equal(len, sizes[i]);
                if (len)
                        assert_memory_equal(out, v, len);
                assert_int_equal(out[len], 0);
                om_sec_value_free(out, len + 1);
                free(v);
        }
        uint8_t big[1];
        _cleanup_free_ char *s = NULL;
        assert_int_equal(om_sec_seal(key, "demo/sec/x", "k", big, OM_SEC_VALUE_MAX + 1, &s),
                         -EFBIG);
}

/* Re-encodes a sealed value with byte i of nonce||ciphertext||tag flipped. */
static char *flip(const char *sealed, size_t i) {
        const char *b64 = sealed + strlen("sealed:");
        size_t max = strlen(b64), len;
        uint8_t *bin = malloc(max);
        assert_int_equal(sodium_base642bin(bin, max, b64, strlen(b64), NULL, &len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_true(i < len);
        bin[i] ^= 0x01;
        size_t outlen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        char *out = malloc(7 + outlen);
        memcpy(out, "sealed:", 7);
        sodium_bin2base64(out + 7, outlen, bin, len, sodium_base64_VARIANT_ORIGINAL);
        free(bin);
        return out;
}

static void expect_no_open(const uint8_t key[32], const char *path, const char *k,
                           const char *sealed) {
        uint8_t *out = (uint8_t *)"untouched";
        size_t len = 12345;
        assert_int_equal(om_sec_open(key, path, k, sealed, &out, &len), -EBADMSG);
        assert_string_equal((char *)out, "untouched"); /* outputs written only on success */
        assert_int_equal(len, 12345);
}

static void test_seal_tampering(void **state) {
        uint8_t key[32], other[32];
        randombytes_buf(key, sizeof(key));
        randombytes_buf(other, sizeof(other));
        const char *v = "correct horse battery staple";
        _cleanup_free_ char *sealed = NULL;
        assert_int_equal(
                om_sec_seal(key, "demo/sec/x", "k", (const uint8_t *)v, strlen(v), &sealed), 0);
        /* a flipped byte in the nonce (0), the ciphertext (24, 30) and the tag (last) */
        size_t total = 24 + strlen(v) + 16;
        size_t at[] = {0, 23, 24, 30, 24 + strlen(v), total - 1};
        for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
                _cleanup_free_ char *bad = flip(sealed, at[i]);
                expect_no_open(key, "demo/sec/x", "k", bad);
        }
        expect_no_open(key, "demo/sec/x", "k2", sealed);     /* moved to another key */
        expect_no_open(key, "demo/sec/y", "k", sealed);      /* moved to another object */
        expect_no_open(key, "other/sec/x", "k", sealed);     /* another namespace */
        expect_no_open(key, "demo/sec/x\0k", "", sealed);    /* AD boundary is explicit */
        expect_no_open(other, "demo/sec/x", "k", sealed);    /* another cluster key */
        expect_no_open(key, "demo/sec/x", "k", sealed + 7);  /* no prefix */
        expect_no_open(key, "demo/sec/x", "k", "sealed:");   /* empty */
        expect_no_open(key, "demo/sec/x", "k", "sealed:!!"); /* not base64 */
        char truncated[64];
        snprintf(truncated, sizeof(truncated), "%.*s", 40, sealed);
        expect_no_open(key, "demo/sec/x", "k", truncated);
        expect_no_open(key, "demo/sec/x", "k", "hunter2"); /* a value in clear */
        /* and the genuine one still opens */
        uint8_t *out;
        size_t len;
        assert_int_equal(om_sec_open(key, "demo/sec/x", "k", sealed, &out, &len), 0);
        om_sec_value_free(out, len + 1);
}

/* ---- sec objects on disk ---- */

static void test_object_set_get(void **state) {
        struct om_path p = P("demo/sec/x");
        const char *v = "s3cr3t-value-in-clear";
        assert_int_equal(om_sec_has(&p, "k"), 0);
        uint8_t *out = NULL;
        size_t len;
        assert_int_equal(om_sec_get(&p, "k", &out, &len), -ENOENT);
        assert_int_equal(om_sec_set(&p, "k", (const uint8_t *)v, strlen(v)), 0);
        assert_int_equal(om_sec_has(&p, "k"), 1);
        assert_int_equal(om_sec_get(&p, "k", &out, &len), 0);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(out, v, len);
        om_sec_value_free(out, len + 1);
        assert_int_equal(om_sec_get(&p, "nokey", &out, &len), -ENOENT);
        assert_int_equal(om_sec_get(&p, "bad key", &out, &len), -EINVAL);

        /* the file: 0600, and neither the value nor its base64 in it */
        _cleanup_free_ char *file = om_object_conf_path(&p);
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        _cleanup_free_ char *text = read_text(file);
        assert_null(strstr(text, v));
        assert_null(strstr(text, "s3cr3t"));
        char b64[64];
        sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)v, strlen(v),
                          sodium_base64_VARIANT_ORIGINAL);
        assert_null(strstr(text, b64));
        assert_non_null(strstr(text, "k = sealed:"));

        /* add/change semantics */
        assert_int_equal(om_sec_put(&p, "k", (const uint8_t *)"x", 1, OM_SEC_PUT_NO_REPLACE),
                         -EEXIST);
        assert_int_equal(om_sec_put(&p, "k2", (const uint8_t *)"x", 1, OM_SEC_PUT_MUST_EXIST),
                         -ENOKEY);
        assert_int_equal(om_sec_put(&p, "k", (const uint8_t *)"new", 3, OM_SEC_PUT_MUST_EXIST), 1);
        assert_int_equal(om_sec_put(&p, "k2", (const uint8_t *)"x", 1, OM_SEC_PUT_NO_REPLACE), 0);
        struct om_path q = P("demo/sec/absent");
        assert_int_equal(om_sec_put(&q, "k", (const uint8_t *)"x", 1, 0), -ENOENT);
        assert_false(om_object_exists(&q));
        struct om_path svc = P("demo/svc/x");
        assert_int_equal(om_sec_set(&svc, "k", (const uint8_t *)"x", 1), -EINVAL);

        _cleanup_strv_free_ char **keys = NULL;
        assert_int_equal(om_sec_set(&p, "A", (const uint8_t *)"a", 1), 0);
        assert_int_equal(om_sec_keys(&p, &keys), 0);
        assert_int_equal(om_strv_length(keys), 3);
        assert_string_equal(keys[0], "A");
        assert_string_equal(keys[1], "k");
        assert_string_equal(keys[2], "k2");

        assert_int_equal(om_sec_remove(&p, "k"), 1);
        assert_int_equal(om_sec_remove(&p, "k"), 0);
        assert_int_equal(om_sec_has(&p, "k"), 0);
        assert_int_equal(om_sec_remove(&q, "k"), 0);
}

static void test_object_versions(void **state) {
        struct om_path p = P("demo/sec/v");
        struct om_version prev = {0};
        for (int i = 0; i < 5; i++) {
                char k[8];
                snprintf(k, sizeof(k), "k%d", i);
                if (i == 4)
                        assert_int_equal(om_sec_remove(&p, "k0"), 1);
                else
                        assert_int_equal(om_sec_set(&p, k, (const uint8_t *)"v", 1), 0);
                _cleanup_object_ struct om_object *o = NULL;
                assert_int_equal(om_object_load(&p, &o, NULL, 0), 0);
                struct om_version v;
                om_object_version(o, &v);
                assert_string_equal(v.writer, "n1");
                assert_true(om_version_compare(&v, &prev) > 0);
                prev = v;
        }
}

static void test_object_moved_value(void **state) {
        struct om_path p = P("demo/sec/x"), q = P("demo/sec/y");
        assert_int_equal(om_sec_set(&p, "a", (const uint8_t *)"va", 2), 0);
        assert_int_equal(om_sec_set(&p, "b", (const uint8_t *)"vb", 2), 0);
        _cleanup_free_ char *file = om_object_conf_path(&p);
        _cleanup_free_ char *qfile = om_object_conf_path(&q);
        _cleanup_ini_ struct om_ini *ini = NULL;
        assert_int_equal(
                om_ini_load_max(file, OM_INI_SEC_MAX_FILE, OM_INI_SEC_MAX_LINE, &ini, NULL, 0), 0);
        /* the whole file copied into another object: nothing decodes there */
        _cleanup_free_ char *text = read_text(file);
        assert_int_equal(om_mkdir_parents(qfile, 0755), 0);
        write_text(qfile, text);
        uint8_t *out;
        size_t len;
        assert_int_equal(om_sec_get(&q, "a", &out, &len), -EBADMSG);
        assert_int_equal(om_sec_get(&q, "b", &out, &len), -EBADMSG);
        /* a's sealed value copied under b */
        char *a = strdup(om_ini_get(ini, "data", "a", NULL));
        assert_int_equal(om_ini_set(ini, "data", "b", NULL, a), 0);
        free(a);
        _cleanup_free_ char *t2 = om_ini_format(ini);
        write_text(file, t2);
        assert_int_equal(om_sec_get(&p, "b", &out, &len), -EBADMSG);
        assert_int_equal(om_sec_get(&p, "a", &out, &len), 0);
        assert_memory_equal(out, "va", 2);
        om_sec_value_free(out, len + 1);
}

static void test_object_other_cluster_secret(void **state) {
        struct om_path p = P("demo/sec/x");
        assert_int_equal(om_sec_set(&p, "a", (const uint8_t *)"va", 2), 0);
        _cleanup_free_ char *cc = om_cluster_conf_path();
        uint8_t s[32];
        char hex[65], text[128];
        randombytes_buf(s, sizeof(s));
        sodium_bin2hex(hex, sizeof(hex), s, sizeof(s));
        snprintf(text, sizeof(text), "[cluster]\nsecret = %s\n", hex);
        write_text(cc, text);
        uint8_t *out;
        size_t len;
        assert_int_equal(om_sec_get(&p, "a", &out, &len), -EBADMSG);
}

/* ---- the keyring of a rotation ---- */

static void hex_of(const uint8_t s[32], char hex[65]) {
        sodium_bin2hex(hex, 65, s, 32);
}

static void test_keyring(void **state) {
        struct om_cluster_keyring k;
        uint8_t s1[32];
        assert_int_equal(om_cluster_secret(s1), 0);
        assert_int_equal(om_cluster_keyring_load(&k), 0);
        assert_int_equal(k.n, 1);
        assert_int_equal(k.gens[0], 1);
        assert_int_equal(k.state, OM_ROT_NONE);
        assert_memory_equal(k.secrets[0], s1, 32);

        /* a comment and another keyword stay through every store */
        _cleanup_free_ char *file = om_cluster_conf_path();
        _cleanup_free_ char *text = read_text(file);
        _cleanup_free_ char *with = om_asprintf("# ours\n%s\nnodes = n1 # only\n", text);
        write_text(file, with);

        /* installed: the next secret accepted, generation 2 */
        randombytes_buf(k.secrets[1], 32);
        uint8_t s2[32];
        memcpy(s2, k.secrets[1], 32);
        k.n = 2;
        k.gens[1] = 2;
        k.state = OM_ROT_NEXT;
        assert_int_equal(om_cluster_keyring_store(&k), 0);
        struct om_cluster_keyring l;
        assert_int_equal(om_cluster_keyring_load(&l), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.state, OM_ROT_NEXT);
        assert_int_equal(l.gens[0], 1);
        assert_int_equal(l.gens[1], 2);
        assert_memory_equal(l.secrets[1], s2, 32);
        char hex[65];
        hex_of(s2, hex);
        free(text);
        text = read_text(file);
        assert_non_null(strstr(text, "# ours\n"));
        assert_non_null(strstr(text, "nodes = n1 # only\n"));
        _cleanup_free_ char *line = om_asprintf("secret_next = %s\n", hex);
        assert_non_null(strstr(text, line));
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* committed: generation 2 in use, the first one kept as secret_prev */
        memcpy(k.secrets[0], s2, 32);
        memcpy(k.secrets[1], s1, 32);
        k.gens[0] = 2;
        k.gens[1] = 1;
        k.state = OM_ROT_PREV;
        assert_int_equal(om_cluster_keyring_store(&k), 0);
        assert_int_equal(om_cluster_keyring_load(&l), 0);
        assert_int_equal(l.state, OM_ROT_PREV);
        assert_int_equal(l.gens[0], 2);
        assert_memory_equal(l.secrets[0], s2, 32);
        assert_memory_equal(l.secrets[1], s1, 32);
        uint8_t cur[32];
        assert_int_equal(om_cluster_secret(cur), 0);
        assert_memory_equal(cur, s2, 32);
        free(text);
        text = read_text(file);
        assert_null(strstr(text, "secret_next"));
        assert_non_null(strstr(text, "secret_gen = 2\n"));

        /* finished */
        k.n = 1;
        k.state = OM_ROT_NONE;
        assert_int_equal(om_cluster_keyring_store(&k), 0);
        assert_int_equal(om_cluster_keyring_load(&l), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.gens[0], 2);
        free(text);
        text = read_text(file);
        assert_null(strstr(text, "secret_prev"));
        om_cluster_keyring_wipe(&k);
        om_cluster_keyring_wipe(&l);
}

static void test_keyring_malformed(void **state) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        uint8_t s[32];
        char hex[65], hex2[65];
        assert_int_equal(om_cluster_secret(s), 0);
        hex_of(s, hex);
        randombytes_buf(s, sizeof(s));
        hex_of(s, hex2);
        struct om_cluster_keyring k;
        const char *bad[] = {"secret_gen = 0\n", "secret_gen = two\n", "secret_next = 12ab\n",
                             "secret_gen = 1\nsecret_prev = %s\n",
                             "secret_gen = 3\nsecret_next = %s\nsecret_prev = %s\n"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *extra = om_asprintf(bad[i], hex2, hex2);
                _cleanup_free_ char *text = om_asprintf("[cluster]\nsecret = %s\n%s", hex, extra);
                write_text(file, text);
                assert_int_equal(om_cluster_keyring_load(&k), -EINVAL);
        }
}

/* A value sealed with the old secret opens during the rotation (secret_prev), is sealed
 * again in place by om_sec_reseal (same version), and then opens without it; a value
 * sealed with neither secret is counted, not touched. */
static void test_reseal(void **state) {
        struct om_path p = P("demo/sec/x");
        assert_int_equal(om_sec_set(&p, "a", (const uint8_t *)"va", 2), 0);
        assert_int_equal(om_sec_set(&p, "b", (const uint8_t *)"vb", 2), 0);
        _cleanup_free_ char *conf = om_object_conf_path(&p);
        _cleanup_free_ char *before = read_text(conf);

        struct om_cluster_keyring k;
        assert_int_equal(om_cluster_keyring_load(&k), 0);
        memcpy(k.secrets[1], k.secrets[0], 32);
        randombytes_buf(k.secrets[0], 32);
        k.n = 2;
        k.gens[0] = 2;
        k.gens[1] = 1;
        k.state = OM_ROT_PREV;
        assert_int_equal(om_cluster_keyring_store(&k), 0);
        uint8_t *out;
        size_t len, resealed, unopened;
        assert_int_equal(om_sec_get(&p, "a", &out, &len), 0); /* with the previous secret */
        om_sec_value_free(out, len + 1);
        /* a new value is sealed with the current one */
        assert_int_equal(om_sec_set(&p, "c", (const uint8_t *)"vc", 2), 0);
        char *mid = read_text(conf), v[64], ver[80];
        assert_int_equal(sscanf(strstr(mid, "\nversion = ") ?: "", "\nversion = %63s", v), 1);
        snprintf(ver, sizeof(ver), "version = %s\n", v);

        assert_int_equal(om_sec_reseal(&p, &resealed, &unopened), 0);
        assert_int_equal(resealed, 2);
        assert_int_equal(unopened, 0);
        _cleanup_free_ char *after = read_text(conf);
        assert_string_not_equal(after, mid);
        free(mid);
        assert_non_null(strstr(after, ver)); /* the same version line */
        assert_int_equal(om_sec_reseal(&p, &resealed, &unopened), 0);
        assert_int_equal(resealed, 0); /* nothing left */

        /* the previous secret dropped: every value still opens */
        k.n = 1;
        k.state = OM_ROT_NONE;
        assert_int_equal(om_cluster_keyring_store(&k), 0);
        const char *keys[] = {"a", "b", "c"}, *vals[] = {"va", "vb", "vc"};
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(om_sec_get(&p, keys[i], &out, &len), 0);
                assert_memory_equal(out, vals[i], 2);
                om_sec_value_free(out, len + 1);
        }
        /* a value of another cluster: counted, left as it is */
        write_text(conf, before);
        assert_int_equal(om_sec_reseal(&p, &resealed, &unopened), 0);
        assert_int_equal(resealed, 0);
        assert_int_equal(unopened, 2);
        _cleanup_free_ char *untouched = read_text(conf);
        assert_string_equal(untouched, before);
        om_cluster_keyring_wipe(&k);
}

static void test_object_one_mib(void **state) {
        struct om_path p = P("demo/sec/big");
        uint8_t *v = malloc(OM_SEC_VALUE_MAX);
        randombytes_buf(v, OM_SEC_VALUE_MAX);
        assert_int_equal(om_sec_set(&p, "a", v, OM_SEC_VALUE_MAX), 0);
        assert_int_equal(om_sec_set(&p, "b", v, OM_SEC_VALUE_MAX), 0);
        assert_int_equal(om_sec_set(&p, "c", v, OM_SEC_VALUE_MAX + 1), -EFBIG);
        uint8_t *out;
        size_t len;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(om_sec_get(&p, "b", &out, &len), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("decode of a 1 MiB value (file of 2 such): %.1f ms\n",
                      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
        assert_int_equal(len, OM_SEC_VALUE_MAX);
        assert_memory_equal(out, v, len);
        om_sec_value_free(out, len + 1);
        free(v);
}

/* Writers in several processes adding different keys at once: all keys are there. */
static void test_object_concurrent_writers(void **state) {
        enum { N = 12 };
        struct om_path p = P("demo/sec/conc");
        uint8_t secret[32];
        assert_int_equal(om_cluster_secret(secret), 0);
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        char k[16], v[16];
                        snprintf(k, sizeof(k), "key%02d", i);
                        snprintf(v, sizeof(v), "value%02d", i);
                        _exit(om_sec_set(&p, k, (const uint8_t *)v, strlen(v)) == 0 ? 0 : 1);
                }
        }
        for (int i = 0; i < N; i++) {
                int st;
                assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        _cleanup_strv_free_ char **keys = NULL;
        assert_int_equal(om_sec_keys(&p, &keys), 0);
        assert_int_equal(om_strv_length(keys), N);
        for (int i = 0; i < N; i++) {
                char k[16], v[16];
                snprintf(k, sizeof(k), "key%02d", i);
                snprintf(v, sizeof(v), "value%02d", i);
                uint8_t *out;
                size_t len;
                assert_int_equal(om_sec_get(&p, k, &out, &len), 0);
                assert_memory_equal(out, v, strlen(v));
                om_sec_value_free(out, len + 1);
        }
}

/* A writer SIGKILLed at random moments of large writes: the file is always the old one or
 * the new one, complete and decodable. */
static void test_object_killed_writer(void **state) {
        struct om_path p = P("demo/sec/kill");
        uint8_t *v = malloc(OM_SEC_VALUE_MAX);
        memset(v, 'A', OM_SEC_VALUE_MAX);
        assert_int_equal(om_sec_set(&p, "a", v, OM_SEC_VALUE_MAX), 0);
        for (int round = 0; round < 25; round++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        for (int i = 0;; i++) {
                                memset(v, 'A' + (i % 26), OM_SEC_VALUE_MAX);
                                om_sec_set(&p, "a", v, OM_SEC_VALUE_MAX);
                        }
                }
                usleep(1000 + (useconds_t)randombytes_uniform(40000));
                kill(pid, SIGKILL);
                int st;
                assert_int_equal(waitpid(pid, &st, 0), pid);
                uint8_t *out;
                size_t len;
                assert_int_equal(om_sec_get(&p, "a", &out, &len), 0);
                assert_int_equal(len, OM_SEC_VALUE_MAX);
                for (size_t i = 1; i < len; i++)
                        if (out[i] != out[0])
                                fail_msg("value torn at byte %zu", i);
                om_sec_value_free(out, len + 1);
        }
        free(v);
}

/* ---- passphrases ---- */

static void test_alphabet(void **state) {
        char expect[128];
        size_t n = 0;
        for (int c = 'A'; c <= 'Z'; c++)
                expect[n++] = (char)c;
        for (int c = 'a'; c <= 'z'; c++)
                expect[n++] = (char)c;
        for (int c = '0'; c <= '9'; c++)
                expect[n++] = (char)c;
        for (int c = 0x21; c < 0x7f; c++)
                if (ispunct(c) && c != '\'' && c != '\\')
                        expect[n++] = (char)c;
        expect[n] = 0;
        assert_int_equal(n, 92);
        assert_string_equal(OM_PASSPHRASE_ALPHABET, expect);
}

static void test_passphrase_shape(void **state) {
        char *a = NULL, *b = NULL;
        assert_int_equal(om_passphrase_generate(&a), 0);
        assert_int_equal(om_passphrase_generate(&b), 0);
        assert_int_equal(strlen(a), OM_PASSPHRASE_LEN);
        for (size_t i = 0; i < OM_PASSPHRASE_LEN; i++)
                assert_non_null(strchr(OM_PASSPHRASE_ALPHABET, a[i]));
        assert_string_not_equal(a, b);
        om_sec_value_free((uint8_t *)a, OM_PASSPHRASE_LEN);
        om_sec_value_free((uint8_t *)b, OM_PASSPHRASE_LEN);
}

typedef int (*gen_fn)(char *out);

static int gen_real(char *out) {
        char *p = NULL;
        int r = om_passphrase_generate(&p);
        if (r < 0)
                return r;
        memcpy(out, p, OM_PASSPHRASE_LEN);
        om_sec_value_free((uint8_t *)p, OM_PASSPHRASE_LEN);
        return 0;
}

/* The classic mistake: a random byte modulo 92 (symbols 0..71 get 3/256, the rest 2/256). */
static int gen_modulo_biased(char *out) {
        uint8_t b[OM_PASSPHRASE_LEN];
        randombytes_buf(b, sizeof(b));
        for (size_t i = 0; i < sizeof(b); i++)
                out[i] = OM_PASSPHRASE_ALPHABET[b[i] % 92];
        return 0;
}

/* Uniform, but over 91 symbols: '~' never comes out. */
static int gen_missing_symbol(char *out) {
        return om_passphrase_fill(out, OM_PASSPHRASE_LEN,
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789"
                                  "!\"#$%&()*+,-./:;<=>?@[]^_`{|}");
}

/*
 * Chi-square goodness of fit of the symbols of n passphrases against the uniform law over
 * the 92 symbols (91 degrees of freedom); a symbol outside the alphabet scores infinity.
 * With 4000 passphrases (1,024,000 symbols, ~11130 expected per symbol), a correct
 * generator exceeds 220 with probability 1.1e-12 (upper tail of chi2(91)), while the
 * byte-modulo bias adds about 0.022 * N = 22,000 to the statistic and a missing symbol at
 * least N/92 = 11,130: both fail by two orders of magnitude.
 */
#define CHI2_THRESHOLD 220.0
#define CHI2_PASSPHRASES 4000

static double chi_square(gen_fn gen, int n) {
        unsigned long counts[92] = {0};
        char buf[OM_PASSPHRASE_LEN];
        for (int i = 0; i < n; i++) {
                assert_int_equal(gen(buf), 0);
                for (size_t j = 0; j < sizeof(buf); j++) {
                        const char *at = strchr(OM_PASSPHRASE_ALPHABET, buf[j]);
                        if (!at || !buf[j])
                                return INFINITY;
                        counts[at - OM_PASSPHRASE_ALPHABET]++;
                }
        }
        double total = (double)n * OM_PASSPHRASE_LEN, expected = total / 92, x = 0;
        for (int i = 0; i < 92; i++)
                x += (counts[i] - expected) * (counts[i] - expected) / expected;
        return x;
}

static bool uniform_enough(gen_fn gen, double *ret) {
        *ret = chi_square(gen, CHI2_PASSPHRASES);
        return *ret < CHI2_THRESHOLD;
}

static void test_passphrase_uniform(void **state) {
        double x;
        bool ok = uniform_enough(gen_real, &x);
        print_message("chi2(91) of om_passphrase_generate over %d symbols: %.1f (threshold %.0f)\n",
                      CHI2_PASSPHRASES * OM_PASSPHRASE_LEN, x, CHI2_THRESHOLD);
        assert_true(ok);
}

static void test_passphrase_uniformity_test_rejects_bias(void **state) {
        double x;
        assert_false(uniform_enough(gen_modulo_biased, &x));
        print_message("chi2 of a byte %% 92 generator: %.0f\n", x);
        assert_false(uniform_enough(gen_missing_symbol, &x));
        print_message("chi2 of a generator missing '~': %.0f\n", x);
}

int main(void) {
        if (sodium_init() < 0) {
                fprintf(stderr, "libsodium does not initialize\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_secret_generated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_secret_inserted_preserving, setup, teardown),
                cmocka_unit_test_setup_teardown(test_secret_malformed_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_secret_concurrent_first_use, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kdf, setup, teardown),
                cmocka_unit_test(test_key_names),
                cmocka_unit_test(test_seal_roundtrip),
                cmocka_unit_test(test_seal_tampering),
                cmocka_unit_test_setup_teardown(test_object_set_get, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_versions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_moved_value, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_other_cluster_secret, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring_malformed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reseal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_one_mib, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_concurrent_writers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_object_killed_writer, setup, teardown),
                cmocka_unit_test(test_alphabet),
                cmocka_unit_test(test_passphrase_shape),
                cmocka_unit_test(test_passphrase_uniform),
                cmocka_unit_test(test_passphrase_uniformity_test_rejects_bias),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
