/*
 * disk.crypt through the action engine on a real loop device (root and loop devices
 * needed, else skipped with exit 77). On a kernel without device-mapper, provision of
 * the reference's loopback service must: create and attach the image, store a
 * generated 256-character passphrase in demo/sec/loopcrypt, format LUKS2
 * (aes-xts-plain64, 512-bit key, label {fqdn}, PBKDF2 at 1000 iterations), fail to
 * activate, and roll back (no loop device left). The keyslot must then open with the
 * stored passphrase (libcryptsetup check without activation) and refuse another one.
 * Unprovision erases the header and removes the managed key. A user's passphrase
 * (manage_passphrase = false) gets libcryptsetup's default PBKDF. Where device-mapper
 * exists (the QEMU lab), provision must succeed instead and the same checks hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/om-test.h"

#include <ftw.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clusterconf.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "resources/action.h"
#include "resources/res.h"
#include "secrets/sec.h"

static char root[256];
static char image[512];

static bool dm_present(void) {
        FILE *f = fopen("/proc/misc", "r");
        char line[128];
        bool found = false;
        while (f && fgets(line, sizeof(line), f))
                if (strstr(line, "device-mapper"))
                        found = true;
        if (f)
                fclose(f);
        return found;
}

static void create(const char *path, const char *conf) {
        struct om_path p;
        struct om_object *o = NULL;
        char err[256];
        assert_int_equal(om_path_parse(path, &p, err, sizeof(err)), 0);
        assert_int_equal(om_object_new(&p, &o), 0);
        om_ini_free(o->ini);
        o->ini = NULL;
        assert_int_equal(om_ini_parse(conf, strlen(conf), "t", &o->ini, err, sizeof(err)), 0);
        assert_int_equal(om_object_write(o), 0);
        om_object_free(o);
}

static int action(const char *path, const char *act, bool force) {
        struct om_path p;
        char err[512];
        assert_int_equal(om_path_parse(path, &p, err, sizeof(err)), 0);
        struct om_res_action_opts o = {.force = force, .waitlock_ms = 10000, .origin = "user"};
        return om_res_action_run(&p, act, &o, err, sizeof(err));
}

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "res-crypt", "demo1");
        snprintf(image, sizeof(image), "%s/loopcrypt.demo.svc.default.img", root);
        return 0;
}

static int teardown(void **state) {
        action("demo/svc/loopcrypt", "stop", true);
        om_test_root_remove(root);
        return 0;
}

static void write_conf(const char *extra) {
        char conf[2048];
        snprintf(conf, sizeof(conf),
                 "[DEFAULT]\nid = e60306f6-e429-4a02-bd8f-a537a918a217\n\n"
                 "[disk#0]\ntype = loop\nfile = %s/{fqdn}.img\nsize = 64M\n\n"
                 "[disk#1]\ntype = crypt\ndev = {disk#0.exposed_devs[0]}\nname = {fqdn}-crypt\n%s\n"
                 "[fs#0]\ntype = ext4\ndev = {disk#1.exposed_devs[0]}\nmnt = %s/srv/{svcname}\n",
                 root, extra, root);
        create("demo/svc/loopcrypt", conf);
}

static void test_provision_generated_passphrase(void **state) {
        struct om_path sec;
        char err[256], dev[64];
        write_conf("");
        int r = action("demo/svc/loopcrypt", "provision", false);
        if (dm_present())
                assert_int_equal(r, 0);
        else
                assert_true(r < 0);
        if (!dm_present())
                assert_int_equal(om_res_loop_find(image, dev, sizeof(dev)), -ENODEV);

        assert_int_equal(om_path_parse("demo/sec/loopcrypt", &sec, err, sizeof(err)), 0);
        uint8_t *pass = NULL;
        size_t len = 0;
        assert_int_equal(om_sec_get(&sec, "disk_1_crypt_passphrase", &pass, &len), 0);
        assert_int_equal(len, 256);

        struct crypt_device *cd = NULL;
        assert_int_equal(crypt_init(&cd, image), 0);
        assert_int_equal(crypt_load(cd, CRYPT_LUKS, NULL), 0);
        assert_string_equal(crypt_get_type(cd), CRYPT_LUKS2);
        assert_string_equal(crypt_get_cipher(cd), "aes");
        assert_string_equal(crypt_get_cipher_mode(cd), "xts-plain64");
        assert_int_equal(crypt_get_volume_key_size(cd), 64);
        const char *label = crypt_get_label(cd);
        assert_non_null(label);
        assert_string_equal(label, "loopcrypt.demo.svc.default");
        /* the keyslot opens with the stored passphrase, check only (no mapping) */
        int slot =
                crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, (const char *)pass, len, 0);
        assert_true(slot >= 0);
        struct crypt_pbkdf_type pbkdf;
        assert_int_equal(crypt_keyslot_get_pbkdf(cd, slot, &pbkdf), 0);
        assert_string_equal(pbkdf.type, CRYPT_KDF_PBKDF2);
        assert_int_equal(pbkdf.iterations, 1000);
        pass[0] ^= 1;
        assert_int_equal(
                crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, (const char *)pass, len, 0),
                -EPERM);
        om_sec_value_free(pass, len);
        crypt_free(cd);

        /* unprovision of the crypt resource alone, its loop device down: the engine
         * brings the loop device up to reach the header, erases it, removes the managed
         * key, and stops the loop device again */
        struct om_path p;
        assert_int_equal(om_path_parse("demo/svc/loopcrypt", &p, err, sizeof(err)), 0);
        struct om_res_action_opts o = {.rid = "disk#1", .waitlock_ms = 10000};
        assert_int_equal(om_res_action_run(&p, "unprovision", &o, err, sizeof(err)), 0);
        assert_int_equal(om_sec_has(&sec, "disk_1_crypt_passphrase"), 0);
        assert_int_equal(crypt_init(&cd, image), 0);
        assert_true(crypt_load(cd, CRYPT_LUKS, NULL) < 0);
        crypt_free(cd);
        assert_int_equal(access(image, F_OK), 0);
        assert_int_equal(om_res_loop_find(image, dev, sizeof(dev)), -ENODEV);
        /* then the whole service: the image goes */
        assert_int_equal(action("demo/svc/loopcrypt", "unprovision", false), 0);
        assert_int_equal(access(image, F_OK), -1);
        assert_int_equal(om_res_loop_find(image, dev, sizeof(dev)), -ENODEV);
}

static void test_unprovision_erases_header(void **state) {
        char dev[64], err[256];
        write_conf("");
        action("demo/svc/loopcrypt", "provision", false);
        /* bring the loop device up alone, then unprovision the crypt resource only */
        struct om_path p;
        assert_int_equal(om_path_parse("demo/svc/loopcrypt", &p, err, sizeof(err)), 0);
        struct om_res_action_opts o = {.rid = "disk#0", .waitlock_ms = 10000};
        assert_int_equal(om_res_action_run(&p, "start", &o, err, sizeof(err)), 0);
        assert_int_equal(om_res_loop_find(image, dev, sizeof(dev)), 0);
        o.rid = "disk#1";
        assert_int_equal(om_res_action_run(&p, "unprovision", &o, err, sizeof(err)), 0);
        struct crypt_device *cd = NULL;
        assert_int_equal(crypt_init(&cd, image), 0);
        assert_true(crypt_load(cd, CRYPT_LUKS, NULL) < 0);
        crypt_free(cd);
        /* the image itself stays: only disk#1 was unprovisioned */
        assert_int_equal(access(image, F_OK), 0);
        o.rid = "disk#0";
        assert_int_equal(om_res_action_run(&p, "stop", &o, err, sizeof(err)), 0);
        assert_int_equal(om_res_loop_find(image, dev, sizeof(dev)), -ENODEV);
}

static void test_user_passphrase_default_pbkdf(void **state) {
        struct om_path sec;
        char err[256];
        const char *user = "correct horse battery staple";
        assert_int_equal(om_path_parse("demo/sec/loopcrypt", &sec, err, sizeof(err)), 0);

        /* without the key, provision refuses before touching anything */
        write_conf("manage_passphrase = false\n");
        assert_true(action("demo/svc/loopcrypt", "provision", false) < 0);

        assert_int_equal(
                om_sec_set(&sec, "disk_1_crypt_passphrase", (const uint8_t *)user, strlen(user)),
                0);
        int r = action("demo/svc/loopcrypt", "provision", false);
        if (!dm_present())
                assert_true(r < 0);
        struct crypt_device *cd = NULL;
        assert_int_equal(crypt_init(&cd, image), 0);
        assert_int_equal(crypt_load(cd, CRYPT_LUKS, NULL), 0);
        struct crypt_pbkdf_type pbkdf;
        assert_int_equal(crypt_keyslot_get_pbkdf(cd, 0, &pbkdf), 0);
        const struct crypt_pbkdf_type *def = crypt_get_pbkdf_default(CRYPT_LUKS2);
        assert_string_equal(pbkdf.type, def->type);
        assert_string_not_equal(pbkdf.type, CRYPT_KDF_PBKDF2);
        crypt_free(cd);
        /* unprovision keeps a user's key */
        assert_int_equal(action("demo/svc/loopcrypt", "unprovision", true), 0);
        assert_int_equal(om_sec_has(&sec, "disk_1_crypt_passphrase"), 1);
}

int main(void) {
        if (geteuid() != 0 || access("/dev/loop-control", W_OK) < 0) {
                printf("skipped: needs root and /dev/loop-control\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_provision_generated_passphrase, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_unprovision_erases_header, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_passphrase_default_pbkdf, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
