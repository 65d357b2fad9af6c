/*
 * Unit tests of cluster/arb_fence: the arbitrator's fence marks as scripted sequences of
 * FENCE and UNFENCE requests (a table per scenario: the operation, requester, node, the
 * id given, the expected result and the mark the answer names), the scenario of the cut
 * primary that dies later, a clear delayed past a new fence, bad names, a full table,
 * and the persistent line form (round trip and malformed lines). The fence request
 * and answer payloads of cluster/arb_wire are checked here too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/arb_fence.h"
#include "cluster/arb_wire.h"

struct step {
        enum om_arb_fence_op op;
        const char *res, *requester, *node;
        uint64_t id; /* UNFENCE: the id given; FENCE: unused */
        enum om_arb_fence_result want;
        const char *victim, *by; /* the mark the answer names ("" none) */
        uint64_t mark_id;
};

static void run(struct om_arb_marks *ms, const struct step *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                enum om_arb_fence_result r;
                struct om_arb_mark m;
                int e = s[i].op == OM_ARB_FENCE
                                ? om_arb_fence(ms, s[i].res, s[i].requester, s[i].node,
                                               1000 * (i + 1), &r, &m)
                                : om_arb_unfence(ms, s[i].res, s[i].node, s[i].id, &r, &m);
                if (e < 0)
                        fail_msg("step %zu: %s", i, strerror(-e));
                if (r != s[i].want || strcmp(m.victim, s[i].victim) || strcmp(m.by, s[i].by) ||
                    m.id != s[i].mark_id)
                        fail_msg("step %zu: got %s (%s by %s, id %llu), want %s (%s by %s, id "
                                 "%llu)",
                                 i, om_arb_fence_result_to_string(r), m.victim, m.by,
                                 (unsigned long long)m.id, om_arb_fence_result_to_string(s[i].want),
                                 s[i].victim, s[i].by, (unsigned long long)s[i].mark_id);
        }
}

#define F OM_ARB_FENCE
#define U OM_ARB_UNFENCE

/* n1 primary loses n2 (cut) and marks it; n1 dies; n2 is promoted: refused. n1 comes
 * back, n2 resyncs and clears its mark; a normal failover then marks n1. */
static void test_cut_then_primary_dies(void **state) {
        (void)state;
        static struct om_arb_marks ms;
        memset(&ms, 0, sizeof(ms));
        const struct step s[] = {
                {F, "r0", "n1", "n2", 0, OM_ARB_FENCE_SET, "n2", "n1", 1},
                /* n2's promotion after n1 died: its own replica is marked */
                {F, "r0", "n2", "n1", 0, OM_ARB_FENCE_REFUSED, "n2", "n1", 1},
                {F, "r0", "n2", "n1", 0, OM_ARB_FENCE_REFUSED, "n2", "n1", 1},
                /* another resource is not concerned */
                {F, "r1", "n2", "n1", 0, OM_ARB_FENCE_SET, "n1", "n2", 2},
                /* n2 resynchronized: reads the mark, clears it with its id */
                {U, "r0", "", "n2", 0, OM_ARB_FENCE_OTHER, "n2", "n1", 1},
                {U, "r0", "", "n2", 7, OM_ARB_FENCE_OTHER, "n2", "n1", 1},
                {U, "r0", "", "n2", 1, OM_ARB_FENCE_CLEARED, "n2", "n1", 1},
                {U, "r0", "", "n2", 1, OM_ARB_FENCE_NONE, "", "", 0},
                /* n1 dies with both in sync: n2 marks n1 and is promoted */
                {F, "r0", "n2", "n1", 0, OM_ARB_FENCE_SET, "n1", "n2", 3},
                /* and n1 back, cut again, n2 primary fences it again: kept, new id */
                {F, "r0", "n2", "n1", 0, OM_ARB_FENCE_KEPT, "n1", "n2", 4},
                {F, "r0", "n1", "n2", 0, OM_ARB_FENCE_REFUSED, "n1", "n2", 4},
        };
        run(&ms, s, sizeof(s) / sizeof(s[0]));
        assert_int_equal(ms.n, 2);
}

/* A clear read before a new fence, arriving after it, removes nothing: the fence gave
 * the mark a new id. */
static void test_late_clear(void **state) {
        (void)state;
        static struct om_arb_marks ms;
        memset(&ms, 0, sizeof(ms));
        const struct step s[] = {
                {F, "r0", "n1", "n2", 0, OM_ARB_FENCE_SET, "n2", "n1", 1},
                {U, "r0", "", "n2", 0, OM_ARB_FENCE_OTHER, "n2", "n1", 1},
                /* cut again before the clear (id 1) arrives */
                {F, "r0", "n1", "n2", 0, OM_ARB_FENCE_KEPT, "n2", "n1", 2},
                {U, "r0", "", "n2", 1, OM_ARB_FENCE_OTHER, "n2", "n1", 2},
                {F, "r0", "n2", "n1", 0, OM_ARB_FENCE_REFUSED, "n2", "n1", 2},
        };
        run(&ms, s, sizeof(s) / sizeof(s[0]));
}

static void test_bad_and_full(void **state) {
        (void)state;
        static struct om_arb_marks ms;
        memset(&ms, 0, sizeof(ms));
        enum om_arb_fence_result r;
        struct om_arb_mark m;
        assert_int_equal(om_arb_fence(&ms, "r0", "n1", "n1", 1, &r, &m), -EINVAL);
        assert_int_equal(om_arb_fence(&ms, "", "n1", "n2", 1, &r, &m), -EINVAL);
        assert_int_equal(om_arb_fence(&ms, "a b", "n1", "n2", 1, &r, &m), -EINVAL);
        assert_int_equal(om_arb_fence(&ms, ".r", "n1", "n2", 1, &r, &m), -EINVAL);
        assert_int_equal(om_arb_fence(&ms, "r0", "n 1", "n2", 1, &r, &m), -EINVAL);
        assert_int_equal(om_arb_fence(&ms, "r0", "n1", "", 1, &r, &m), -EINVAL);
        assert_int_equal(om_arb_unfence(&ms, "r0", "", 1, &r, &m), -EINVAL);
        char longres[80];
        memset(longres, 'r', sizeof(longres) - 1);
        longres[sizeof(longres) - 1] = 0;
        assert_int_equal(om_arb_fence(&ms, longres, "n1", "n2", 1, &r, &m), -EINVAL);
        assert_int_equal(ms.n, 0);
        assert_int_equal(ms.last_id, 0);
        for (int i = 0; i < OM_ARB_MARKS_MAX; i++) {
                char res[16];
                snprintf(res, sizeof(res), "r%d", i);
                assert_int_equal(om_arb_fence(&ms, res, "n1", "n2", 1, &r, &m), 0);
                assert_int_equal(r, OM_ARB_FENCE_SET);
        }
        assert_int_equal(om_arb_fence(&ms, "one-more", "n1", "n2", 1, &r, &m), 0);
        assert_int_equal(r, OM_ARB_FENCE_FULL);
        assert_false(om_arb_fence_acked(r));
        /* an existing mark is still kept, and a refusal still refuses */
        assert_int_equal(om_arb_fence(&ms, "r5", "n1", "n2", 1, &r, &m), 0);
        assert_int_equal(r, OM_ARB_FENCE_KEPT);
        assert_int_equal(om_arb_fence(&ms, "r5", "n2", "n1", 1, &r, &m), 0);
        assert_int_equal(r, OM_ARB_FENCE_REFUSED);
}

static void test_lines(void **state) {
        (void)state;
        struct om_arb_mark m = {.res = "r0", .victim = "n2", .by = "n1", .id = 42, .at = 1700}, got;
        char buf[512], cl[64];
        bool is_mark;
        assert_true(om_arb_mark_format("prod", &m, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "mark prod r0 n2 n1 42 1700");
        assert_int_equal(om_arb_mark_parse(buf, cl, &is_mark, &got), 0);
        assert_true(is_mark);
        assert_string_equal(cl, "prod");
        assert_memory_equal(&m, &got, sizeof(m));
        struct om_arb_mark last = {.id = 99};
        assert_true(om_arb_mark_format("prod", &last, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "last prod 99");
        assert_int_equal(om_arb_mark_parse(buf, cl, &is_mark, &got), 0);
        assert_false(is_mark);
        assert_int_equal(got.id, 99);
        assert_int_equal(om_arb_mark_format("prod", &m, buf, 10), -EMSGSIZE);
        static const char *const bad[] = {
                "",
                "mark",
                "mark prod r0 n2 n1 42",
                "mark prod r0 n2 n1 42 1700 extra",
                "mark prod r0 n2 n2 42 1700",
                "mark prod r0 n2 n1 0 1700",
                "mark prod r0 n2 n1 -1 1700",
                "mark prod r0 n2 n1 4x2 1700",
                "mark prod r/0 n2 n1 42 1700",
                "mark prod r0 n2 n1 42 99999999999999999999999",
                "last prod",
                "last prod x",
                "kram prod r0 n2 n1 42 1700",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (om_arb_mark_parse(bad[i], cl, &is_mark, &got) != -EBADMSG)
                        fail_msg("'%s' parsed", bad[i]);
}

static void test_wire(void **state) {
        (void)state;
        uint8_t buf[1024];
        struct om_arb_fence_req_msg q;
        int n = om_arb_fence_req_pack("prod", OM_ARB_UNFENCE, "r0", "n2", 7, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(om_arb_fence_req_unpack(buf, (size_t)n, &q), 0);
        assert_string_equal(q.cluster, "prod");
        assert_int_equal(q.op, OM_ARB_UNFENCE);
        assert_string_equal(q.res, "r0");
        assert_string_equal(q.node, "n2");
        assert_int_equal(q.id, 7);
        n = om_arb_fence_req_pack("prod", OM_ARB_FENCE, "r 0", "n2", 0, buf, sizeof(buf));
        assert_int_equal(om_arb_fence_req_unpack(buf, (size_t)n, &q), -EBADMSG);
        n = om_arb_fence_req_pack("prod", OM_ARB_FENCE, "r0", "", 0, buf, sizeof(buf));
        assert_int_equal(om_arb_fence_req_unpack(buf, (size_t)n, &q), -EBADMSG);
        assert_int_equal(om_arb_fence_req_unpack(buf, 3, &q), -EBADMSG);
        /* a vote request is not a fence request */
        const char *view[] = {"n1"};
        n = om_arb_req_pack("prod", view, 1, 0, buf, sizeof(buf));
        assert_int_equal(om_arb_fence_req_unpack(buf, (size_t)n, &q), -EBADMSG);

        struct om_arb_mark m = {.res = "r0", .victim = "n2", .by = "n1", .id = 3, .at = 5};
        struct om_arb_fence_ans_msg a;
        n = om_arb_fence_ans_pack("prod", 11, OM_ARB_FENCE_REFUSED, &m, buf, sizeof(buf));
        assert_int_equal(om_arb_fence_ans_unpack(buf, (size_t)n, &a), 0);
        assert_int_equal(a.seq, 11);
        assert_int_equal(a.result, OM_ARB_FENCE_REFUSED);
        assert_memory_equal(&a.mark, &m, sizeof(m));
        n = om_arb_fence_ans_pack("prod", 12, OM_ARB_FENCE_NONE, NULL, buf, sizeof(buf));
        assert_int_equal(om_arb_fence_ans_unpack(buf, (size_t)n, &a), 0);
        assert_int_equal(a.result, OM_ARB_FENCE_NONE);
        assert_string_equal(a.mark.victim, "");
        assert_int_equal(om_arb_fence_ans_unpack(buf, (size_t)n - 1, &a), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cut_then_primary_dies),
                cmocka_unit_test(test_late_clear),
                cmocka_unit_test(test_bad_and_full),
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_wire),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
