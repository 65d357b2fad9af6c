/*
 * Unit tests of resources/drbd.h: the DRBD 8.4 resource file om writes (and every value
 * it refuses), /proc/drbd lines of the states a replica goes through (taken from DRBD
 * 8.4.11 in the QEMU lab: connected, resync with progress, disconnected, unconfigured),
 * and the metadata magic drbdmeta writes. (The driver itself runs in the QEMU lab:
 * tests/vm/test-drbd-failover.sh.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "om-test.h"
#include "resources/drbd.h"

static const struct om_drbd_node two[] = {{"n1", "10.99.0.11"}, {"n2", "10.99.0.12"}};

static struct om_drbd_conf base(void) {
        return (struct om_drbd_conf){.origin = "demo/svc/x disk#1",
                                     .res = "x",
                                     .minor = 3,
                                     .disk = "/dev/loop0",
                                     .protocol = "C",
                                     .port = 7790,
                                     .nodes = two,
                                     .n_nodes = 2,
                                     .helper = "/var/lib/om/drbd/om-drbd-helper"};
}

static void test_render(void **state) {
        (void)state;
        struct om_drbd_conf c = base();
        char *text = NULL, err[256];
        assert_int_equal(om_drbd_conf_render(&c, &text, err, sizeof(err)), 0);
        const char *want = "# written by om for demo/svc/x disk#1: om rewrites it at every "
                           "provision and start\n"
                           "resource x {\n"
                           "    device /dev/drbd3;\n"
                           "    disk /dev/loop0;\n"
                           "    meta-disk internal;\n"
                           "    net {\n"
                           "        protocol C;\n"
                           "        ping-int 3;\n"
                           "        ping-timeout 10;\n"
                           "        timeout 20;\n"
                           "        connect-int 3;\n"
                           "    }\n"
                           "    disk {\n"
                           "        fencing resource-and-stonith;\n"
                           "    }\n"
                           "    handlers {\n"
                           "        fence-peer \"/var/lib/om/drbd/om-drbd-helper fence-peer x\";\n"
                           "        after-resync-target \"/var/lib/om/drbd/om-drbd-helper "
                           "after-resync-target x\";\n"
                           "    }\n"
                           "    on n1 {\n"
                           "        address ipv4 10.99.0.11:7790;\n"
                           "    }\n"
                           "    on n2 {\n"
                           "        address ipv4 10.99.0.12:7790;\n"
                           "    }\n"
                           "}\n";
        assert_string_equal(text, want);
        free(text);

        /* IPv6 in brackets, protocol A */
        const struct om_drbd_node v6[] = {{"a", "fd00::1"}, {"b", "fd00::2"}};
        c.nodes = v6;
        c.protocol = "A";
        assert_int_equal(om_drbd_conf_render(&c, &text, err, sizeof(err)), 0);
        assert_non_null(strstr(text, "    on a {\n        address ipv6 [fd00::1]:7790;\n"));
        assert_non_null(strstr(text, "protocol A;\n"));
        free(text);
}

static void refused(struct om_drbd_conf c, const char *why) {
        char *text = (char *)"untouched", err[256] = "";
        assert_int_equal(om_drbd_conf_render(&c, &text, err, sizeof(err)), -EINVAL);
        assert_null(text);
        if (!strstr(err, why))
                fail_msg("error '%s' does not say '%s'", err, why);
}

static void test_render_refused(void **state) {
        (void)state;
        struct om_drbd_conf c = base();
        c.res = "bad name";
        refused(c, "res 'bad name' is not a DRBD resource name");
        c = base();
        c.res = "";
        refused(c, "is not a DRBD resource name");
        c.res = ".hidden";
        refused(c, "is not a DRBD resource name");
        c = base();
        c.res = "r0123456789012345678901234567890123456789012345678901234567890123";
        refused(c, "is not a DRBD resource name");
        c = base();
        c.disk = "/dev/my disk";
        refused(c, "disk '/dev/my disk' is not an absolute device path");
        c.disk = "/dev/x;y";
        refused(c, "is not an absolute device path");
        c.disk = "dev/loop0";
        refused(c, "is not an absolute device path");
        c.disk = NULL;
        refused(c, "disk '' is not");
        c = base();
        c.protocol = "D";
        refused(c, "protocol 'D' is not A, B or C");
        c.protocol = "CC";
        refused(c, "protocol 'CC'");
        c = base();
        c.helper = "om-drbd-helper";
        refused(c, "the handler path 'om-drbd-helper' is not an absolute path");
        c.helper = "/var/lib/my om/om-drbd-helper";
        refused(c, "is not an absolute path without white space");
        c.helper = NULL;
        refused(c, "the handler path ''");
        c = base();
        c.port = 0;
        refused(c, "port 0 is not a TCP port");
        c.port = 65536;
        refused(c, "port 65536");
        c = base();
        c.minor = OM_DRBD_MINOR_MAX + 1;
        refused(c, "minor 1048576 is above 1048575");
        c = base();
        c.n_nodes = 1;
        refused(c, "exactly two nodes, the service's nodes are 1");
        const struct om_drbd_node three[] = {
                {"n1", "10.0.0.1"}, {"n2", "10.0.0.2"}, {"n3", "10.0.0.3"}};
        c.nodes = three;
        c.n_nodes = 3;
        refused(c, "the service's nodes are 3");
        c = base();
        const struct om_drbd_node host[] = {{"n1", "n1.example"}, {"n2", "10.0.0.2"}};
        c.nodes = host;
        refused(c, "the replication address of node n1, 'n1.example', is not a numeric");
        const struct om_drbd_node same[] = {{"n1", "10.0.0.1"}, {"n2", "10.0.0.1"}};
        c.nodes = same;
        refused(c, "nodes n1 and n2 have one replication address, 10.0.0.1");
        const struct om_drbd_node twice[] = {{"n1", "10.0.0.1"}, {"n1", "10.0.0.2"}};
        c.nodes = twice;
        refused(c, "the two nodes are both n1");
        const struct om_drbd_node brace[] = {{"n{1}", "10.0.0.1"}, {"n2", "10.0.0.2"}};
        c.nodes = brace;
        refused(c, "node name 'n{1}' cannot be written");
}

static const char proc_sync[] =
        "version: 8.4.11 (api:1/proto:86-101)\n"
        "srcversion: F73C670A7EC572DB9CF3E5B \n"
        " 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n"
        "    ns:1466240 nr:0 dw:0 dr:1468368 al:8 bm:0 lo:0 pe:2 ua:0 ap:0 ep:1 wo:f "
        "oos:2728412\n"
        "\t[=====>..............] sync'ed: 35.0% (2664/4096)M\n"
        "\tfinish: 0:00:52 speed: 51,200 (51,200) K/sec\n"
        " 1: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----\n"
        "    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
        " 2: cs:Unconfigured\n"
        "12: cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----\n"
        "    ns:0 nr:65536 dw:65536 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n";

static void test_proc(void **state) {
        (void)state;
        struct om_drbd_state s;
        char sum[160];
        assert_int_equal(om_drbd_proc_parse(proc_sync, 0, &s), 0);
        assert_true(s.present);
        assert_string_equal(s.cs, "SyncSource");
        assert_string_equal(s.role, "Primary");
        assert_string_equal(s.peer_role, "Secondary");
        assert_string_equal(s.disk, "UpToDate");
        assert_string_equal(s.peer_disk, "Inconsistent");
        assert_int_equal(s.sync_permille, 350);
        assert_true(s.out_of_sync_kib == 2728412);
        assert_true(om_drbd_cs_connected(s.cs));
        om_drbd_state_summary(&s, sum, sizeof(sum));
        assert_string_equal(sum, "Primary/Secondary UpToDate/Inconsistent SyncSource sync 35.0%");

        /* the peer lost: the next minor's progress lines are not this one's */
        assert_int_equal(om_drbd_proc_parse(proc_sync, 1, &s), 0);
        assert_true(s.present);
        assert_string_equal(s.cs, "WFConnection");
        assert_string_equal(s.peer_role, "Unknown");
        assert_string_equal(s.peer_disk, "DUnknown");
        assert_int_equal(s.sync_permille, -1);
        assert_false(om_drbd_cs_connected(s.cs));
        om_drbd_state_summary(&s, sum, sizeof(sum));
        assert_string_equal(sum, "Secondary/Unknown UpToDate/DUnknown WFConnection");

        /* unconfigured and absent minors are not present */
        assert_int_equal(om_drbd_proc_parse(proc_sync, 2, &s), 0);
        assert_false(s.present);
        assert_string_equal(s.cs, "");
        om_drbd_state_summary(&s, sum, sizeof(sum));
        assert_string_equal(sum, "unconfigured");
        assert_int_equal(om_drbd_proc_parse(proc_sync, 7, &s), 0);
        assert_false(s.present);
        /* 1 is not 12's prefix, 12 is found */
        assert_int_equal(om_drbd_proc_parse(proc_sync, 12, &s), 0);
        assert_true(s.present);
        assert_string_equal(s.role, "Secondary");
        assert_string_equal(s.peer_role, "Primary");

        /* a module without devices, a DRBD 9 /proc/drbd, garbage */
        assert_int_equal(om_drbd_proc_parse("version: 8.4.11 (api:1/proto:86-101)\n", 0, &s), 0);
        assert_false(s.present);
        assert_int_equal(om_drbd_proc_parse("version: 9.2.8 (api:2/proto:86-122)\n", 0, &s),
                         -EINVAL);
        assert_int_equal(om_drbd_proc_parse("", 0, &s), -EINVAL);
        assert_int_equal(om_drbd_proc_parse(NULL, 0, &s), -EINVAL);
        /* a truncated line keeps what it has */
        assert_int_equal(om_drbd_proc_parse("version: 8.4.11\n 0: cs:StandAlone ro:Prim", 0, &s),
                         0);
        assert_true(s.present);
        assert_string_equal(s.cs, "StandAlone");
        assert_string_equal(s.role, "Prim");
        assert_string_equal(s.peer_role, "");
        /* verify progress counts as progress; a value out of range does not */
        assert_int_equal(om_drbd_proc_parse("version: 8.4.11\n"
                                            " 0: cs:VerifyS ro:Primary/Secondary "
                                            "ds:UpToDate/UpToDate C r-----\n"
                                            "\t[>....] verified:  2.5% (100/102)M\n",
                                            0, &s),
                         0);
        assert_int_equal(s.sync_permille, 25);
        assert_int_equal(om_drbd_proc_parse("version: 8.4.11\n"
                                            " 0: cs:SyncTarget ro:Secondary/Primary "
                                            "ds:Inconsistent/UpToDate C r-----\n"
                                            "\tsync'ed: 250.0%\n",
                                            0, &s),
                         0);
        assert_int_equal(s.sync_permille, -1);
        assert_true(om_drbd_cs_connected("SyncTarget"));
        assert_false(om_drbd_cs_connected("StandAlone"));
        assert_false(om_drbd_cs_connected(NULL));
}

static void test_md_magic(void **state) {
        (void)state;
        unsigned char b[4096] = {0};
        assert_false(om_drbd_md_magic(b));
        /* as drbdmeta 9.22 create-md writes it (v08): bytes 60-63 */
        b[60] = 0x83, b[61] = 0x74, b[62] = 0x02, b[63] = 0x6b;
        assert_true(om_drbd_md_magic(b));
        b[63] = 0x6c; /* 8.4 unclean */
        assert_true(om_drbd_md_magic(b));
        b[63] = 0x6a; /* 0.7 */
        assert_false(om_drbd_md_magic(b));
}

static void test_res_name(void **state) {
        (void)state;
        assert_true(om_drbd_res_name_valid("r0"));
        assert_true(om_drbd_res_name_valid("demo.svc-x_1+2"));
        assert_false(om_drbd_res_name_valid(NULL));
        assert_false(om_drbd_res_name_valid("a/b"));
        assert_false(om_drbd_res_name_valid("a b"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render),   cmocka_unit_test(test_render_refused),
                cmocka_unit_test(test_proc),     cmocka_unit_test(test_md_magic),
                cmocka_unit_test(test_res_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
