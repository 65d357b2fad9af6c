/*
 * Unit tests of cluster/arb_wire: request and answer payloads packed and unpacked
 * back, the cluster prefix of request datagrams, and malformed input refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/arb_wire.h"

static void test_request(void **state) {
        (void)state;
        static struct om_arb_req_msg m;
        uint8_t buf[OM_ARB_UDP_MAX];
        const char *view[] = {"n1", "n2"};
        int n = om_arb_req_pack("prod", view, 2, 3, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(om_arb_req_unpack(buf, (size_t)n, &m), 0);
        assert_string_equal(m.cluster, "prod");
        assert_int_equal(m.n_view, 2);
        assert_string_equal(m.view[1], "n2");
        assert_int_equal(m.services, 3);
        for (int cut = 0; cut < n; cut++)
                assert_int_equal(om_arb_req_unpack(buf, (size_t)cut, &m), -EBADMSG);
        assert_int_equal(om_arb_req_pack("prod", view, 2, 3, buf, 4), -EMSGSIZE);
        const char *empty[] = {"n1", ""};
        n = om_arb_req_pack("prod", empty, 2, 0, buf, sizeof(buf));
        assert_int_equal(om_arb_req_unpack(buf, (size_t)n, &m), -EBADMSG);
        /* 129 names: more than a cluster may have */
        const char *many[OM_ARB_NODES_MAX + 1];
        for (size_t i = 0; i <= OM_ARB_NODES_MAX; i++)
                many[i] = "n";
        n = om_arb_req_pack("prod", many, OM_ARB_NODES_MAX + 1, 0, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(om_arb_req_unpack(buf, (size_t)n, &m), -EBADMSG);
}

static void test_answer(void **state) {
        (void)state;
        static struct om_arb_ans_msg m;
        uint8_t buf[OM_ARB_UDP_MAX];
        struct om_arb_answer a = {.kind = OM_ARB_HOLD,
                                  .reason = OM_ARB_R_CLEARING,
                                  .lease_ms = 3000,
                                  .holder_left_ms = 1200};
        const char *h[] = {"n1"};
        int n = om_arb_ans_pack("prod", 42, &a, h, 1, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(om_arb_ans_unpack(buf, (size_t)n, &m), 0);
        assert_int_equal(m.seq, 42);
        assert_int_equal(m.kind, OM_ARB_HOLD);
        assert_int_equal(m.reason, OM_ARB_R_CLEARING);
        assert_int_equal(m.lease_ms, 3000);
        assert_int_equal(m.n_holders, 1);
        assert_string_equal(m.holders[0], "n1");
        assert_int_equal(m.holder_left_ms, 1200);
        /* a lease longer than any arbitrator gives is refused */
        a.lease_ms = OM_ARB_LEASE_MAX_MS + 1;
        n = om_arb_ans_pack("prod", 42, &a, h, 1, buf, sizeof(buf));
        assert_int_equal(om_arb_ans_unpack(buf, (size_t)n, &m), -EBADMSG);
        for (int cut = 0; cut < n; cut++)
                assert_int_equal(om_arb_ans_unpack(buf, (size_t)cut, &m), -EBADMSG);
}

static void test_dgram(void **state) {
        (void)state;
        uint8_t frame[OM_HB_OVERHEAD + 10] = {0}, d[512];
        char cl[OM_ARB_CLUSTER_MAX];
        int n = om_arb_dgram_wrap("prod", frame, sizeof(frame), d, sizeof(d));
        assert_int_equal(n, 1 + 4 + (int)sizeof(frame));
        assert_int_equal(om_arb_dgram_split(d, (size_t)n, cl), 5);
        assert_string_equal(cl, "prod");
        /* too short for a frame, a name with a space, an empty name */
        assert_int_equal(om_arb_dgram_split(d, 5 + OM_HB_OVERHEAD - 1, cl), -EBADMSG);
        d[2] = ' ';
        assert_int_equal(om_arb_dgram_split(d, (size_t)n, cl), -EBADMSG);
        d[0] = 0;
        assert_int_equal(om_arb_dgram_split(d, (size_t)n, cl), -EBADMSG);
        assert_int_equal(om_arb_dgram_split(d, 0, cl), -EBADMSG);
        char longname[OM_ARB_CLUSTER_MAX + 1];
        memset(longname, 'a', OM_ARB_CLUSTER_MAX);
        longname[OM_ARB_CLUSTER_MAX] = 0;
        assert_int_equal(om_arb_dgram_wrap(longname, frame, sizeof(frame), d, sizeof(d)),
                         -EMSGSIZE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request),
                cmocka_unit_test(test_answer),
                cmocka_unit_test(test_dgram),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
