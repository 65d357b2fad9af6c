/*
 * Unit tests of cluster/cl_event: an event's JSON object and text line, the ring's
 * sequence numbers, what a reader that comes back after the ring wrapped is told it
 * lost, and the subscribers' filters (their matching and every refusal).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/cl_event.h"

static const struct om_event *push(struct om_ev_ring *r, enum om_ev_kind k, const char *path,
                                   const char *peer) {
        struct om_ev_build b;
        om_ev_begin(&b, k, "n1", 1700000000123ull);
        if (path)
                om_ev_path(&b, path);
        if (peer)
                om_ev_peer(&b, peer);
        return om_ev_ring_push(r, &b);
}

static void test_render(void **state) {
        (void)state;
        struct om_ev_ring r;
        assert_int_equal(om_ev_ring_init(&r, 4), 0);
        struct om_ev_build b;
        om_ev_begin(&b, OM_EV_NODE_DOWN, "n1", 1700000000123ull);
        om_ev_peer(&b, "n2");
        om_ev_str(&b, "reason", "no valid frame for 1003ms");
        om_ev_str(&b, "quote", "a\"b\nc");
        om_ev_int(&b, "count", -3);
        const struct om_event *e = om_ev_ring_push(&r, &b);
        assert_non_null(e);
        assert_int_equal(e->seq, 1);
        assert_string_equal(e->json, "{\"seq\":1,\"ts\":1700000000123,\"kind\":\"node_down\","
                                     "\"node\":\"n1\",\"peer\":\"n2\",\"reason\":\"no valid "
                                     "frame for 1003ms\",\"quote\":\"a\\\"b\\nc\",\"count\":-3}");
        assert_string_equal(e->text, "node_down peer=n2 reason=\"no valid frame for 1003ms\" "
                                     "quote=\"a\\\"b c\" count=-3");
        assert_string_equal(e->peer, "n2");
        assert_null(e->path);
        om_ev_ring_free(&r);
}

static void test_ring(void **state) {
        (void)state;
        struct om_ev_ring r;
        assert_int_equal(om_ev_ring_init(&r, 0), -EINVAL);
        assert_int_equal(om_ev_ring_init(&r, 4), 0);
        assert_int_equal(om_ev_ring_first(&r), 1);
        assert_int_equal(r.last, 0);
        assert_null(om_ev_ring_get(&r, 0));
        assert_null(om_ev_ring_get(&r, 1));
        assert_int_equal(om_ev_ring_lost(&r, 0), 0);
        for (int i = 1; i <= 3; i++)
                assert_int_equal(push(&r, OM_EV_NODE_UP, NULL, "n2")->seq, (uint64_t)i);
        assert_int_equal(om_ev_ring_first(&r), 1);
        assert_int_equal(om_ev_ring_lost(&r, 0), 0);
        for (int i = 4; i <= 10; i++)
                push(&r, OM_EV_AVAIL, "root/svc/a", "n2");
        /* 10 pushed, 4 held: 7 to 10 */
        assert_int_equal(r.last, 10);
        assert_int_equal(om_ev_ring_first(&r), 7);
        assert_null(om_ev_ring_get(&r, 6));
        assert_null(om_ev_ring_get(&r, 11));
        for (uint64_t s = 7; s <= 10; s++) {
                const struct om_event *e = om_ev_ring_get(&r, s);
                assert_non_null(e);
                assert_int_equal(e->seq, s);
                char want[32];
                snprintf(want, sizeof(want), "{\"seq\":%u,", (unsigned)s);
                assert_memory_equal(e->json, want, strlen(want));
        }
        assert_int_equal(om_ev_ring_lost(&r, 0), 6);
        assert_int_equal(om_ev_ring_lost(&r, 5), 1);
        assert_int_equal(om_ev_ring_lost(&r, 6), 0);
        assert_int_equal(om_ev_ring_lost(&r, 10), 0);
        om_ev_ring_free(&r);
}

static void test_kinds(void **state) {
        (void)state;
        for (int k = 0; k < _OM_EV_KIND_MAX; k++) {
                const char *n = om_ev_kind_to_string(k);
                assert_string_not_equal(n, "unknown");
                assert_int_equal(om_ev_kind_from_string(n), k);
        }
        assert_int_equal(om_ev_kind_from_string("nodedown"), -EINVAL);
        assert_string_equal(om_ev_kind_to_string(_OM_EV_KIND_MAX), "unknown");
}

static void test_filter(void **state) {
        (void)state;
        struct om_ev_ring r;
        struct om_ev_filter f = {0};
        char err[320];
        assert_int_equal(om_ev_ring_init(&r, 8), 0);
        const struct om_event *down = push(&r, OM_EV_NODE_DOWN, NULL, "n2");
        const struct om_event *take = push(&r, OM_EV_TAKEOVER, "root/svc/web", NULL);
        const struct om_event *avail = push(&r, OM_EV_AVAIL, "root/svc/db", "n3");
        assert_true(om_ev_filter_match(&f, down)); /* empty: everything */
        assert_true(om_ev_filter_match(NULL, down));
        assert_int_equal(om_ev_filter_add(&f, "kind=node_*,takeover,avail", err, sizeof(err)), 0);
        assert_true(om_ev_filter_match(&f, down));
        assert_true(om_ev_filter_match(&f, take));
        assert_true(om_ev_filter_match(&f, avail));
        assert_int_equal(om_ev_filter_add(&f, "path=root/svc/*", err, sizeof(err)), 0);
        assert_false(om_ev_filter_match(&f, down)); /* no path: no match */
        assert_true(om_ev_filter_match(&f, take));
        assert_true(om_ev_filter_match(&f, avail));
        assert_int_equal(om_ev_filter_add(&f, "node=n3", err, sizeof(err)), 0);
        assert_false(om_ev_filter_match(&f, take));
        assert_true(om_ev_filter_match(&f, avail));
        om_ev_filter_free(&f);

        static const struct {
                const char *spec, *err;
        } bad[] = {
                {"", "empty"},
                {"kind", "not key=value"},
                {"color=red", "not key=value"},
                {"kind=", "no value after '='"},
                {"kind=,", "no value after '='"},
                {"kind=nodedown", "no event kind 'nodedown'"},
                {"kind=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "more than 16 values"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = 0;
                assert_int_equal(om_ev_filter_add(&f, bad[i].spec, err, sizeof(err)), -EINVAL);
                assert_non_null(strstr(err, bad[i].err));
                assert_int_equal(f.n, 0);
        }
        char longer[300];
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = 0;
        memcpy(longer, "path=", 5);
        assert_int_equal(om_ev_filter_add(&f, longer, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "longer than 256"));
        for (int i = 0; i < OM_EV_FILTER_TERMS; i++)
                assert_int_equal(om_ev_filter_add(&f, "node=n*", err, sizeof(err)), 0);
        assert_int_equal(om_ev_filter_add(&f, "node=n*", err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "more than 8 filters"));
        om_ev_filter_free(&f);
        om_ev_ring_free(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render),
                cmocka_unit_test(test_ring),
                cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_filter),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
