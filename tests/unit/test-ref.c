/*
 * Unit tests of core/ref.h: every reference kind, keyword references
 * with scoping and table defaults, `[n]` word picking, deferred device references
 * through the resolver callback (a cmocka mock stands in for the resources module),
 * loops, unknown references and the bound on expansion work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "om-test.h"

#include "core/clusterconf.h"
#include "core/fileio.h"
#include "core/ini.h"
#include "core/paths.h"
#include "core/ref.h"
#include "core/util.h"

static const char loopback[] = "[DEFAULT]\n"
                               "id = e60306f6-e429-4a02-bd8f-a537a918a217\n"
                               "nodes = demo1 demo2\n"
                               "comment = runs on {nodes[1]} first {nodes[0]}\n"
                               "\n"
                               "[disk#0]\n"
                               "type = loop\n"
                               "file = /opt/{fqdn}.img\n"
                               "file@demo2 = /alt/{name}.img\n"
                               "size = 1G\n"
                               "\n"
                               "[disk#1]\n"
                               "type = crypt\n"
                               "dev = {disk#0.exposed_devs[0]}\n"
                               "name = {fqdn}-crypt\n"
                               "\n"
                               "[fs#0]\n"
                               "type = ext4\n"
                               "dev = {disk#1.exposed_devs[0]}\n"
                               "mnt = /srv/{svcname}\n"
                               "mnt_opt = {rid} {rindex}\n"
                               "\n"
                               "[app#1]\n"
                               "start = {app#1.stop}\n"
                               "stop = {app#1.check}\n"
                               "check = {app#1.start}\n"
                               "cwd = {app#1.cwd}\n";

struct fixture {
        struct om_ini *ini;
        struct om_path path;
        struct om_ref_ctx ctx;
        char root[64];
};

/* The fake resolver: each call is checked against expectations and returns what the
 * test queued with will_return (an errno, then a space separated device list). */
static int fake_devs(void *userdata, const char *rid, const char *which, char ***ret, char *err,
                     size_t errlen) {
        check_expected(rid);
        check_expected(which);
        int r = mock_type(int);
        if (r < 0) {
                snprintf(err, errlen, "%s", mock_ptr_type(const char *));
                return r;
        }
        return om_strv_split(mock_ptr_type(const char *), " ", ret);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        om_test_root_make(f->root, sizeof(f->root), "ref", "demo1");
        char err[256] = "";
        if (om_ini_parse(loopback, strlen(loopback), "loopback.conf", &f->ini, err, sizeof(err)))
                fail_msg("%s", err);
        assert_int_equal(om_path_parse("demo/svc/loopcrypt", &f->path, NULL, 0), 0);
        f->ctx = (struct om_ref_ctx){.path = &f->path, .ini = f->ini};
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        om_test_root_remove(f->root);
        om_ini_free(f->ini);
        free(f);
        return 0;
}

static char *expand_ok(const struct om_ref_ctx *ctx, const char *value) {
        char *out = NULL;
        char err[512] = "";
        int r = om_ref_expand(ctx, value, &out, err, sizeof(err));
        if (r < 0)
                fail_msg("expanding '%s': %d %s", value, r, err);
        return out;
}

static void expect_expansion(const struct om_ref_ctx *ctx, const char *value, const char *want) {
        _cleanup_free_ char *out = expand_ok(ctx, value);
        assert_string_equal(out, want);
}

static void expect_error(const struct om_ref_ctx *ctx, const char *value, int code,
                         const char *msg) {
        char *out = (char *)0x1;
        char err[512] = "";
        assert_int_equal(om_ref_expand(ctx, value, &out, err, sizeof(err)), code);
        assert_ptr_equal(out, (char *)0x1);
        assert_string_equal(err, msg);
}

static void test_builtins(void **state) {
        struct fixture *f = *state;
        struct om_ref_ctx c = f->ctx;
        _cleanup_free_ char *etc = om_asprintf("%s/etc", f->root);
        _cleanup_free_ char *var = om_asprintf("%s/var", f->root);
        expect_expansion(&c, "{name}", "loopcrypt");
        expect_expansion(&c, "{svcname}", "loopcrypt");
        expect_expansion(&c, "{namespace}", "demo");
        expect_expansion(&c, "{kind}", "svc");
        expect_expansion(&c, "{path}", "demo/svc/loopcrypt");
        expect_expansion(&c, "{nodename}", "demo1");
        expect_expansion(&c, "{clustername}", "default");
        expect_expansion(&c, "{fqdn}", "loopcrypt.demo.svc.default");
        expect_expansion(&c, "{etc}", etc);
        expect_expansion(&c, "{var}", var);
        expect_expansion(&c, "no reference at all", "no reference at all");
        expect_expansion(&c, "", "");
        expect_expansion(&c, "a}b", "a}b");
        c.section = "disk#1";
        expect_expansion(&c, "{rid}/{rindex}", "disk#1/1");
        c.nodename = "n9";
        c.clustername = "prod";
        expect_expansion(&c, "{nodename} {fqdn}", "n9 loopcrypt.demo.svc.prod");
}

static void test_clustername_from_conf(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *cc = om_cluster_conf_path();
        const char conf[] = "[cluster]\nname = prod\n";
        assert_int_equal(om_write_atomic(cc, conf, strlen(conf), 0600), 0);
        om_cluster_name_reset();
        expect_expansion(&f->ctx, "{clustername} {fqdn}", "prod loopcrypt.demo.svc.prod");
        om_cluster_name_reset();
}

static void test_keywords(void **state) {
        struct fixture *f = *state;
        struct om_ref_ctx c = f->ctx;
        char *v = NULL;
        char err[256] = "";
        /* the reference values of the encrypted service */
        assert_int_equal(om_ref_eval(&c, "disk#0", "file", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "/opt/loopcrypt.demo.svc.default.img");
        free(v);
        assert_int_equal(om_ref_eval(&c, "disk#1", "name", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "loopcrypt.demo.svc.default-crypt");
        free(v);
        assert_int_equal(om_ref_eval(&c, "fs#0", "mnt", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "/srv/loopcrypt");
        free(v);
        /* {rid} and {rindex} of the section the keyword lives in */
        assert_int_equal(om_ref_eval(&c, "fs#0", "mnt_opt", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "fs#0 0");
        free(v);
        /* a default of the keyword table, itself expanded */
        assert_int_equal(om_ref_eval(&c, "disk#1", "label", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "loopcrypt.demo.svc.default");
        free(v);
        assert_int_equal(om_ref_eval(&c, "DEFAULT", "topology", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "failover");
        free(v);
        v = NULL;
        assert_int_equal(om_ref_eval(&c, "DEFAULT", "comment2", &v, err, sizeof(err)), -ENOENT);
        assert_null(v);
        assert_string_equal(err, "DEFAULT.comment2 is not set");

        expect_expansion(&c, "{disk#0.size}", "1G");
        expect_expansion(&c, "{disk#1.name}", "loopcrypt.demo.svc.default-crypt");
        expect_expansion(&c, "{DEFAULT.id}", "e60306f6-e429-4a02-bd8f-a537a918a217");
        expect_expansion(&c, "{nodes}", "demo1 demo2");
        expect_expansion(&c, "{nodes[1]}", "demo2");
        expect_expansion(&c, "{DEFAULT.nodes[0]}", "demo1");
        expect_expansion(&c, "{comment}", "runs on demo2 first demo1");
        expect_expansion(&c, "{disk#1.secret}", "loopcrypt");
        /* key@node as seen from the context's node */
        c.nodename = "demo2";
        expect_expansion(&c, "{disk#0.file}", "/alt/loopcrypt.img");
        c.nodename = "demo3";
        expect_expansion(&c, "{disk#0.file}", "/opt/loopcrypt.demo.svc.default.img");
}

static void test_devices(void **state) {
        struct fixture *f = *state;
        struct om_ref_ctx c = f->ctx;
        c.devs = fake_devs;

        expect_string(fake_devs, rid, "disk#0");
        expect_string(fake_devs, which, "exposed_devs");
        will_return(fake_devs, 0);
        will_return(fake_devs, "/dev/loop3");
        expect_expansion(&c, "{disk#0.exposed_devs[0]}", "/dev/loop3");

        expect_string(fake_devs, rid, "disk#1");
        expect_string(fake_devs, which, "sub_devs");
        will_return(fake_devs, 0);
        will_return(fake_devs, "/dev/a /dev/b");
        expect_expansion(&c, "x {disk#1.sub_devs[1]} y", "x /dev/b y");

        expect_string(fake_devs, rid, "disk#1");
        expect_string(fake_devs, which, "base_devs");
        will_return(fake_devs, 0);
        will_return(fake_devs, "/dev/a /dev/b");
        expect_expansion(&c, "{disk#1.base_devs}", "/dev/a /dev/b");

        /* through a keyword: fs#0.dev names disk#1's devices */
        expect_string(fake_devs, rid, "disk#1");
        expect_string(fake_devs, which, "exposed_devs");
        will_return(fake_devs, 0);
        will_return(fake_devs, "/dev/mapper/loopcrypt.demo.svc.default-crypt");
        char *v = NULL;
        char err[256] = "";
        assert_int_equal(om_ref_eval(&c, "fs#0", "dev", &v, err, sizeof(err)), 0);
        assert_string_equal(v, "/dev/mapper/loopcrypt.demo.svc.default-crypt");
        free(v);

        /* the resource is down: its reason is in the error */
        expect_string(fake_devs, rid, "disk#0");
        expect_string(fake_devs, which, "exposed_devs");
        will_return(fake_devs, -ENXIO);
        will_return(fake_devs, "disk#0 is down");
        expect_error(&c, "{disk#0.exposed_devs[0]}", -ENXIO,
                     "reference {disk#0.exposed_devs[0]}: disk#0 is down");

        /* up but with fewer devices than the index */
        expect_string(fake_devs, rid, "disk#0");
        expect_string(fake_devs, which, "exposed_devs");
        will_return(fake_devs, 0);
        will_return(fake_devs, "/dev/loop3");
        expect_error(&c, "{disk#0.exposed_devs[1]}", -ENXIO,
                     "reference {disk#0.exposed_devs[1]}: disk#0 has 1 exposed_devs");

        /* no such resource: the resolver is not even asked */
        expect_error(&c, "{disk#7.exposed_devs[0]}", -EINVAL,
                     "reference {disk#7.exposed_devs[0]}: no resource disk#7");

        /* kept as written when asked to (print config --eval) */
        expect_string(fake_devs, rid, "disk#0");
        expect_string(fake_devs, which, "exposed_devs");
        will_return(fake_devs, -ENXIO);
        will_return(fake_devs, "disk#0 is down");
        c.keep_unresolved = true;
        expect_expansion(&c, "dev={disk#0.exposed_devs[0]} on {nodename}",
                         "dev={disk#0.exposed_devs[0]} on demo1");

        /* no resolver plugged in */
        c.devs = NULL;
        c.keep_unresolved = false;
        expect_error(&c, "{disk#0.exposed_devs[0]}", -ENXIO,
                     "reference {disk#0.exposed_devs[0]}: the resource is not up");
}

static void test_errors(void **state) {
        struct fixture *f = *state;
        struct om_ref_ctx c = f->ctx;
        expect_error(&c, "{nosuch}", -EINVAL, "unknown reference {nosuch}");
        expect_error(&c, "a {rid} b", -EINVAL, "unknown reference {rid}"); /* no section */
        expect_error(&c, "{}", -EINVAL, "unknown reference {}");
        expect_error(&c, "/srv/{name", -EINVAL, "unterminated reference in '/srv/{name'");
        expect_error(&c, "{na{me}}", -EINVAL, "unterminated reference in '{na{me}}'");
        expect_error(&c, "{name[}", -EINVAL, "malformed reference {name[}");
        expect_error(&c, "{nodes[x]}", -EINVAL, "malformed reference {nodes[x]}");
        expect_error(&c, "{.mnt}", -EINVAL, "malformed reference {.mnt}");
        expect_error(&c, "{nodes[2]}", -EINVAL,
                     "reference {nodes[2]}: index 2 out of range (2 items)");
        expect_error(&c, "{fs#9.mnt}", -EINVAL, "reference {fs#9.mnt}: no section [fs#9]");
        expect_error(&c, "{fs#0.mkfs_opt}", -EINVAL,
                     "reference {fs#0.mkfs_opt}: fs#0.mkfs_opt is not set");
}

static void test_loops(void **state) {
        struct fixture *f = *state;
        struct om_ref_ctx c = f->ctx;
        expect_error(&c, "{app#1.start}", -ELOOP,
                     "reference loop: app#1.start -> app#1.stop -> app#1.check -> app#1.start");
        expect_error(&c, "x{app#1.cwd}", -ELOOP, "reference loop: app#1.cwd -> app#1.cwd");
        char *v = NULL;
        char err[256] = "";
        assert_int_equal(om_ref_eval(&c, "app#1", "stop", &v, err, sizeof(err)), -ELOOP);
        assert_string_equal(
                err, "reference loop: app#1.stop -> app#1.check -> app#1.start -> app#1.stop");
}

/* Ten keywords each naming the next ten times: 10^10 references unbounded. */
static void test_expansion_bound(void **state) {
        struct fixture *f = *state;
        _cleanup_ini_ struct om_ini *ini = om_ini_new();
        for (int i = 0; i < 10; i++) {
                char key[16], value[256] = "";
                snprintf(key, sizeof(key), "k%d", i);
                for (int j = 0; j < 10 && i < 9; j++)
                        snprintf(value + strlen(value), sizeof(value) - strlen(value),
                                 "{app#1.k%d}", i + 1);
                assert_int_equal(om_ini_set(ini, "app#1", key, NULL, i < 9 ? value : "x"), 0);
        }
        struct om_ref_ctx c = {.path = &f->path, .ini = ini};
        char *v = NULL;
        char err[256] = "";
        uint64_t t0 = om_mono_ms();
        assert_int_equal(om_ref_expand(&c, "{app#1.k0}", &v, err, sizeof(err)), -ELOOP);
        assert_true(om_mono_ms() - t0 < 5000);
        assert_non_null(strstr(err, "more than 10000 references"));
        /* k6: 1110 references, 1000 bytes, within the bounds */
        assert_int_equal(om_ref_expand(&c, "{app#1.k6}", &v, err, sizeof(err)), 0);
        assert_int_equal(strlen(v), 1000);
        free(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_builtins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clustername_from_conf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keywords, setup, teardown),
                cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
                cmocka_unit_test_setup_teardown(test_expansion_bound, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
