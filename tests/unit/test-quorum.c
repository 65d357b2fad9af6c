/*
 * Unit tests of cluster/cl_quorum: the default of `[cluster] quorum`, majorities of 3
 * and 5 nodes under scripted splits, two nodes with an arbitrator, and no two disjoint
 * sides of any split ever both holding the quorum.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster/cl_quorum.h"

static bool have(bool enabled, size_t n, size_t live, int arbw, int arbr) {
        struct om_quorum_input in = {enabled, n, live, arbw, arbr};
        struct om_quorum q;
        assert_int_equal(om_quorum_compute(&in, &q), 0);
        return q.have;
}

static void test_default(void **state) {
        (void)state;
        assert_false(om_quorum_default(1, 0));
        assert_false(om_quorum_default(2, 0));
        assert_true(om_quorum_default(2, 1));
        assert_true(om_quorum_default(3, 0));
        assert_true(om_quorum_default(16, 0));
}

static void test_three(void **state) {
        (void)state;
        assert_true(have(true, 3, 3, 0, 0));
        assert_true(have(true, 3, 2, 0, 0));
        assert_false(have(true, 3, 1, 0, 0));
        assert_true(have(false, 3, 1, 0, 0)); /* disabled: always */
}

static void test_two_with_arbitrator(void **state) {
        (void)state;
        /* 2 nodes + weight 1 = 3 votes, 2 needed */
        assert_true(have(true, 2, 1, 1, 1));
        assert_false(have(true, 2, 1, 1, 0));
        assert_true(have(true, 2, 2, 1, 0));
        /* 4 nodes split 2|2: the side the arbitrator answers wins */
        assert_true(have(true, 4, 2, 1, 1));
        assert_false(have(true, 4, 2, 1, 0));
}

/* A kept arbitrator lease: not held, but nothing to split either. */
static void test_keep(void **state) {
        (void)state;
        struct om_quorum q;
        struct om_quorum_input in = {true, 2, 1, 1, 0, 1};
        assert_int_equal(om_quorum_compute(&in, &q), 0);
        assert_false(q.have);
        assert_true(q.keep);
        in = (struct om_quorum_input){true, 2, 1, 1, 1, 0};
        assert_int_equal(om_quorum_compute(&in, &q), 0);
        assert_true(q.have);
        assert_false(q.keep);
        in = (struct om_quorum_input){true, 3, 1, 1, 0, 1}; /* 2 of 4: still short */
        assert_int_equal(om_quorum_compute(&in, &q), 0);
        assert_false(q.have);
        assert_false(q.keep);
        in = (struct om_quorum_input){true, 2, 1, 1, 1, 1}; /* counted and kept: 2 of 1 */
        assert_int_equal(om_quorum_compute(&in, &q), -EINVAL);
}

static void test_bad_input(void **state) {
        (void)state;
        struct om_quorum q;
        struct om_quorum_input in = {true, 2, 3, 0, 0};
        assert_int_equal(om_quorum_compute(&in, &q), -EINVAL);
        in = (struct om_quorum_input){true, 2, 1, 1, 2};
        assert_int_equal(om_quorum_compute(&in, &q), -EINVAL);
}

/* Every split of n nodes (and an arbitrator answering one side or none): never both. */
static void test_never_two_sides(void **state) {
        (void)state;
        for (size_t n = 1; n <= 9; n++)
                for (int arbw = 0; arbw <= 2; arbw++)
                        for (size_t a = 0; a <= n; a++)
                                for (int side = 0; side < 3; side++) {
                                        size_t b = n - a;
                                        int ra = arbw && side == 1 ? arbw : 0;
                                        int rb = arbw && side == 2 ? arbw : 0;
                                        bool qa = a && have(true, n, a, arbw, ra);
                                        bool qb = b && have(true, n, b, arbw, rb);
                                        assert_false(qa && qb);
                                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default),
                cmocka_unit_test(test_three),
                cmocka_unit_test(test_two_with_arbitrator),
                cmocka_unit_test(test_keep),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_never_two_sides),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
