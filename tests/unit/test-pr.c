/*
 * Unit tests of resources/pr.h: the reservation keys (against BLAKE2b values computed
 * by another implementation, Python's hashlib), the node a key names, the PERSISTENT
 * RESERVE IN CDB, the READ KEYS and READ RESERVATION parameter data, sense data and the
 * PR ioctl results of old and new kernels. (The device functions run in the QEMU lab:
 * tests/vm/test-fence-pr.sh.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/fileio.h"
#include "om-test.h"
#include "resources/pr.h"

static void test_key(void **state) {
        (void)state;
        /* python3: hashlib.blake2b(b"om scsireserv key\0" + b"lab\0" + b"n1\0",
         * digest_size=8).hexdigest() */
        assert_true(om_pr_key("lab", "n1") == UINT64_C(0x3a5a73f05d2d1754));
        assert_true(om_pr_key("lab", "n2") == UINT64_C(0xf96a4c6b44aabc02));
        /* the boundary between cluster and node names is part of the input */
        assert_true(om_pr_key("lab", "n1") != om_pr_key("labn", "1"));
        assert_true(om_pr_key("lab2", "n1") != om_pr_key("lab", "n1"));
        char buf[19];
        om_pr_key_format(UINT64_C(0x3a5a73f05d2d1754), buf);
        assert_string_equal(buf, "0x3a5a73f05d2d1754");
        om_pr_key_format(1, buf);
        assert_string_equal(buf, "0x0000000000000001");
}

static void test_key_node(void **state) {
        (void)state;
        char root[256], path[512], node[64];
        om_test_root_make(root, sizeof(root), "pr", "n1");
        snprintf(path, sizeof(path), "%s/etc", root);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/cluster.conf", root);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("[cluster]\nname = lab\nnodes = n1 n2 n3\n", f);
        fclose(f);
        om_cluster_name_reset();
        assert_true(om_pr_key_local() == om_pr_key("lab", "n1"));
        assert_true(om_pr_key_node(om_pr_key("lab", "n2"), node, sizeof(node)));
        assert_string_equal(node, "n2");
        assert_true(om_pr_key_node(om_pr_key("lab", "n1"), node, sizeof(node)));
        assert_string_equal(node, "n1");
        /* a node of another cluster, a key of no node */
        assert_false(om_pr_key_node(om_pr_key("other", "n2"), node, sizeof(node)));
        assert_false(om_pr_key_node(0x1234, node, sizeof(node)));
        om_test_root_remove(root);
}

static void test_cdb(void **state) {
        (void)state;
        uint8_t cdb[10];
        memset(cdb, 0xff, sizeof(cdb));
        om_pr_in_cdb(OM_PR_IN_READ_RESERVATION, 0x1208, cdb);
        static const uint8_t want[10] = {0x5e, 0x01, 0, 0, 0, 0, 0, 0x12, 0x08, 0};
        assert_memory_equal(cdb, want, 10);
        om_pr_in_cdb(0xe0 | OM_PR_IN_READ_KEYS, 24, cdb); /* only 5 bits of action */
        assert_int_equal(cdb[1], 0);
        assert_int_equal(cdb[8], 24);
}

static void test_parse_keys(void **state) {
        (void)state;
        struct om_pr_state st;
        uint8_t buf[8 + 16] = {0,    0,    0,    7,    0, 0, 0, 16, 0x3a, 0x5a, 0x73, 0xf0,
                               0x5d, 0x2d, 0x17, 0x54, 0, 0, 0, 0,  0,    0,    0,    2};
        assert_int_equal(om_pr_parse_keys(buf, sizeof(buf), &st), 0);
        assert_int_equal(st.generation, 7);
        assert_int_equal(st.n_keys, 2);
        assert_true(st.keys[0] == UINT64_C(0x3a5a73f05d2d1754));
        assert_true(st.keys[1] == 2);
        assert_false(st.truncated);
        /* the device announces more than it sent (allocation length too short) */
        assert_int_equal(om_pr_parse_keys(buf, 16, &st), 0);
        assert_int_equal(st.n_keys, 1);
        assert_true(st.truncated);
        /* no key */
        uint8_t none[8] = {0, 0, 0, 3, 0, 0, 0, 0};
        assert_int_equal(om_pr_parse_keys(none, sizeof(none), &st), 0);
        assert_int_equal(st.n_keys, 0);
        /* malformed: short header, length not a multiple of 8 */
        assert_int_equal(om_pr_parse_keys(buf, 7, &st), -EBADMSG);
        buf[7] = 12;
        assert_int_equal(om_pr_parse_keys(buf, sizeof(buf), &st), -EBADMSG);
}

static void test_parse_reservation(void **state) {
        (void)state;
        struct om_pr_state st;
        uint8_t none[8] = {0, 0, 0, 9, 0, 0, 0, 0};
        assert_int_equal(om_pr_parse_reservation(none, sizeof(none), &st), 0);
        assert_false(st.held);
        assert_int_equal(st.generation, 9);
        uint8_t held[24] = {0,    0,    0,    4,    0, 0, 0, 16, 0xf9, 0x6a, 0x4c, 0x6b,
                            0x44, 0xaa, 0xbc, 0x02, 0, 0, 0, 0,  0,    0x05, 0,    0};
        assert_int_equal(om_pr_parse_reservation(held, sizeof(held), &st), 0);
        assert_true(st.held);
        assert_true(st.holder == UINT64_C(0xf96a4c6b44aabc02));
        assert_int_equal(st.type, OM_PR_SCSI_WE_RO);
        /* scope in the high nibble is not part of the type */
        held[21] = 0x03;
        assert_int_equal(om_pr_parse_reservation(held, sizeof(held), &st), 0);
        assert_int_equal(st.type, 3);
        /* announced but cut short, or a header alone */
        assert_int_equal(om_pr_parse_reservation(held, 20, &st), -EBADMSG);
        assert_int_equal(om_pr_parse_reservation(held, 4, &st), -EBADMSG);
}

static void test_sense(void **state) {
        (void)state;
        char buf[160];
        /* fixed format: ILLEGAL REQUEST, invalid command operation code */
        uint8_t fixed[18] = {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00};
        assert_int_equal(om_pr_sense_key(fixed, sizeof(fixed)), 5);
        om_pr_sense_format(fixed, sizeof(fixed), buf, sizeof(buf));
        assert_string_equal(buf,
                            "ILLEGAL REQUEST, asc/ascq 0x20/0x00 (invalid command operation code)");
        /* descriptor format: UNIT ATTENTION, registrations preempted */
        uint8_t desc[8] = {0x72, 0x06, 0x2a, 0x05, 0, 0, 0, 0};
        assert_int_equal(om_pr_sense_key(desc, sizeof(desc)), 6);
        om_pr_sense_format(desc, sizeof(desc), buf, sizeof(buf));
        assert_string_equal(buf, "UNIT ATTENTION, asc/ascq 0x2a/0x05 (registrations preempted)");
        /* an asc without a name */
        desc[2] = 0x77;
        om_pr_sense_format(desc, sizeof(desc), buf, sizeof(buf));
        assert_string_equal(buf, "UNIT ATTENTION, asc/ascq 0x77/0x05");
        /* none, unknown format */
        assert_int_equal(om_pr_sense_key(fixed, 0), -1);
        om_pr_sense_format(fixed, 0, buf, sizeof(buf));
        assert_string_equal(buf, "no sense data");
        uint8_t odd[4] = {0x7f, 0x05, 0, 0};
        assert_int_equal(om_pr_sense_key(odd, sizeof(odd)), -1);
}

static void test_ioctl_result(void **state) {
        (void)state;
        const char *what = NULL;
        assert_int_equal(om_pr_ioctl_result(0, 0, &what), 0);
        /* kernels before 6.5 return the SCSI result */
        assert_int_equal(om_pr_ioctl_result(0x18, 0, &what), -EBADE);
        assert_string_equal(what, "reservation conflict");
        assert_int_equal(om_pr_ioctl_result(0x118, 0, &what), -EBADE);
        assert_int_equal(om_pr_ioctl_result(0x402, 0, &what), -EIO);
        assert_non_null(strstr(what, "CHECK CONDITION"));
        /* newer kernels an errno */
        assert_int_equal(om_pr_ioctl_result(-1, EBADE, &what), -EBADE);
        assert_string_equal(what, "reservation conflict");
        assert_int_equal(om_pr_ioctl_result(-1, EOPNOTSUPP, &what), -EOPNOTSUPP);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key),
                cmocka_unit_test(test_key_node),
                cmocka_unit_test(test_cdb),
                cmocka_unit_test(test_parse_keys),
                cmocka_unit_test(test_parse_reservation),
                cmocka_unit_test(test_sense),
                cmocka_unit_test(test_ioctl_result),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
