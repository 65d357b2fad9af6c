/*
 * Unit tests of cluster/arb_vote: the arbitrator's lease rule driven by scripted request
 * sequences (a table per scenario: time, requester, its view, its services, the expected
 * answer and holder set), the node's counting rule, the drift arithmetic, bad requests,
 * and random schedules checking that two nodes that do not see each other never both
 * count the vote.
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

#include "cluster/arb_vote.h"

#define L 3000 /* lease of the scenarios; window = 1000 */

struct step {
        uint64_t t;
        const char *node;
        const char *view; /* space-separated */
        uint32_t services;
        enum om_arb_kind kind;
        enum om_arb_reason reason;
        const char *holders; /* space-separated, sorted by first sight; NULL: not checked */
};

static size_t split(const char *s, char buf[][OM_ARB_NAME_MAX], const char **ptrs, size_t max) {
        size_t n = 0;
        const char *p = s;
        while (*p && n < max) {
                while (*p == ' ')
                        p++;
                size_t len = strcspn(p, " ");
                if (!len)
                        break;
                snprintf(buf[n], OM_ARB_NAME_MAX, "%.*s", (int)len, p);
                ptrs[n] = buf[n];
                n++;
                p += len;
        }
        return n;
}

static void holders_str(const struct om_arb_vote *v, const struct om_arb_answer *a, char *out,
                        size_t len) {
        out[0] = 0;
        for (size_t i = 0; a->has_holder && i < v->n_nodes; i++)
                if (om_arb_set_has(&a->holders, i)) {
                        size_t l = strlen(out);
                        snprintf(out + l, len - l, "%s%s", l ? " " : "", om_arb_vote_name(v, i));
                }
}

static struct om_arb_answer ask(struct om_arb_vote *v, uint64_t t, const char *node,
                                const char *view, uint32_t services) {
        char buf[16][OM_ARB_NAME_MAX];
        const char *ptrs[16];
        size_t n = split(view, buf, ptrs, 16);
        struct om_arb_request req = {node, ptrs, n, services};
        struct om_arb_answer a;
        assert_int_equal(om_arb_vote_request(v, &req, t, &a), 0);
        return a;
}

static void run(const struct step *steps, size_t n) {
        static struct om_arb_vote v;
        om_arb_vote_init(&v, L, 0);
        for (size_t i = 0; i < n; i++) {
                const struct step *s = &steps[i];
                struct om_arb_answer a = ask(&v, s->t, s->node, s->view, s->services);
                char h[256];
                holders_str(&v, &a, h, sizeof(h));
                if (a.kind != s->kind || a.reason != s->reason ||
                    (s->holders && strcmp(h, s->holders) != 0))
                        fail_msg("step %zu (t=%llu %s {%s}): got %s/%s holders {%s}, want %s/%s "
                                 "{%s}",
                                 i, (unsigned long long)s->t, s->node, s->view,
                                 om_arb_kind_to_string(a.kind), om_arb_reason_to_string(a.reason),
                                 h, om_arb_kind_to_string(s->kind),
                                 om_arb_reason_to_string(s->reason), s->holders ? s->holders : "*");
                if (a.kind == OM_ARB_GRANT || a.kind == OM_ARB_HOLD)
                        assert_int_equal(a.lease_ms, L);
        }
}

#define G OM_ARB_GRANT
#define H OM_ARB_HOLD
#define P OM_ARB_PENDING
#define R OM_ARB_REFUSE
#define RUN(t) run(t, sizeof(t) / sizeof(t[0]))

/* Two nodes come up with the arbitrator: nothing for one lease, then the one side. */
static void test_start(void **state) {
        (void)state;
        static const struct step t[] = {
                {0, "n1", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {1000, "n2", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {2999, "n1", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"},
                {3010, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {4000, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"},
                {4000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
        };
        RUN(t);
}

/* The cut between n1 (runs the service) and n2, both reaching the arbitrator, n2 first
 * to notice: n2 is not eligible while n1 still renews {n1 n2}; once n1 asks for {n1},
 * everybody spoke: n1 wins, holds until n2's lease ran out, then gets the vote; n2 is
 * refused all along. */
static void test_cut_both_reach(void **state) {
        (void)state;
        static const struct step t[] = {
                {500, "n1", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"},
                {3000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {4000, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"},
                {4100, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"}, /* n2 licensed to 7100 */
                {4500, "n2", "n2", 0, H, OM_ARB_R_SEEN, "n1 n2"},    /* n2 kept to 7500 */
                {5000, "n1", "n1", 1, H, OM_ARB_R_CLEARING, "n1"},   /* decided: n1 */
                {5100, "n2", "n2", 0, R, OM_ARB_R_HELD, "n1"},
                {6000, "n1", "n1", 1, H, OM_ARB_R_CLEARING, "n1"},
                {7200, "n2", "n2", 0, R, OM_ARB_R_HELD, "n1"},
                {7499, "n1", "n1", 1, H, OM_ARB_R_CLEARING, "n1"},
                {7500, "n1", "n1", 1, G, OM_ARB_R_NONE, "n1"},
                {8000, "n1", "n1", 1, G, OM_ARB_R_NONE, "n1"},
        };
        RUN(t);
}

/* The same cut, n1 first: the contest waits for n2 (a licensed member of H). */
static void test_cut_holder_first(void **state) {
        (void)state;
        static const struct step t[] = {
                {500, "n1", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, NULL},
                {3000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {3500, "n1", "n1", 1, H, OM_ARB_R_SEEN, "n1 n2"},
                {3600, "n2", "n2", 0, R, OM_ARB_R_HELD, "n1"},
                {3700, "n1", "n1", 1, H, OM_ARB_R_CLEARING, "n1"},
                {6000, "n1", "n1", 1, G, OM_ARB_R_NONE, "n1"},
        };
        RUN(t);
}

/* Both sides run services: the one running more wins; equal: the larger view; equal:
 * the lowest name. Three nodes, n3 cut from n1 and n2. */
static void test_winner_order(void **state) {
        (void)state;
        static const struct step more_services[] = {
                {500, "n1", "n1 n2 n3", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2 n3", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n3", "n1 n2 n3", 2, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2 n3", 1, G, OM_ARB_R_NONE, "n1 n2 n3"},
                {3000, "n2", "n1 n2 n3", 1, G, OM_ARB_R_NONE, NULL},
                {3000, "n3", "n1 n2 n3", 2, G, OM_ARB_R_NONE, NULL},
                {3500, "n3", "n3", 2, H, OM_ARB_R_SEEN, NULL},
                {3500, "n1", "n1 n2", 1, H, OM_ARB_R_CONTEST, NULL},
                {3500, "n2", "n1 n2", 1, R, OM_ARB_R_HELD, "n3"},
                {3600, "n3", "n3", 2, H, OM_ARB_R_CLEARING, "n3"},
                {6499, "n3", "n3", 2, H, OM_ARB_R_CLEARING, "n3"},
                {6500, "n3", "n3", 2, G, OM_ARB_R_NONE, "n3"},
        };
        RUN(more_services);
        static const struct step larger[] = {
                {500, "n1", "n1 n2 n3", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2 n3", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n3", "n1 n2 n3", 1, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2 n3", 1, G, OM_ARB_R_NONE, "n1 n2 n3"},
                {3000, "n2", "n1 n2 n3", 1, G, OM_ARB_R_NONE, NULL},
                {3000, "n3", "n1 n2 n3", 1, G, OM_ARB_R_NONE, NULL},
                {3500, "n3", "n3", 1, H, OM_ARB_R_SEEN, NULL},
                {3500, "n1", "n1 n2", 1, H, OM_ARB_R_CONTEST, NULL},
                {3500, "n2", "n1 n2", 1, H, OM_ARB_R_CLEARING, "n1 n2"},
                {3600, "n3", "n3", 1, R, OM_ARB_R_HELD, "n1 n2"},
                {6499, "n1", "n1 n2", 1, H, OM_ARB_R_CLEARING, "n1 n2"},
                {6500, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"},
        };
        RUN(larger);
        /* 4 nodes 2|2, no services: the side with n1 */
        static const struct step lowest[] = {
                {500, "n1", "n1 n2 n3 n4", 0, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2 n3 n4", 0, P, OM_ARB_R_RESTARTING, ""},
                {500, "n3", "n1 n2 n3 n4", 0, P, OM_ARB_R_RESTARTING, ""},
                {500, "n4", "n1 n2 n3 n4", 0, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n4", "n1 n2 n3 n4", 0, G, OM_ARB_R_NONE, "n1 n2 n3 n4"},
                {3000, "n1", "n1 n2 n3 n4", 0, G, OM_ARB_R_NONE, NULL},
                {3000, "n2", "n1 n2 n3 n4", 0, G, OM_ARB_R_NONE, NULL},
                {3000, "n3", "n1 n2 n3 n4", 0, G, OM_ARB_R_NONE, NULL},
                {3500, "n3", "n3 n4", 0, H, OM_ARB_R_SEEN, NULL},
                {3500, "n4", "n3 n4", 0, H, OM_ARB_R_SEEN, NULL},
                {3500, "n2", "n1 n2", 0, H, OM_ARB_R_CONTEST, NULL},
                {3500, "n1", "n1 n2", 0, H, OM_ARB_R_CLEARING, "n1 n2"},
                {3600, "n4", "n3 n4", 0, R, OM_ARB_R_HELD, "n1 n2"},
        };
        RUN(lowest);
}

/* One-way loss: n1 hears n2, n2 does not hear n1. n1 keeps renewing {n1 n2}: n2's
 * {n2} is never eligible, past any window; the vote stays with n1's partition, n2 only
 * keeps what it runs (HOLD: n1 sees it, so n1 starts none of it). */
static void test_one_way(void **state) {
        (void)state;
        static const struct step t[] = {
                {500, "n1", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {3000, "n2", "n1 n2", 1, G, OM_ARB_R_NONE, NULL},
                {3500, "n2", "n2", 1, H, OM_ARB_R_SEEN, NULL},
                {4000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {4500, "n2", "n2", 1, H, OM_ARB_R_SEEN, NULL},
                {5000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {5500, "n2", "n2", 1, H, OM_ARB_R_SEEN, NULL},
                {6000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {6500, "n2", "n2", 1, H, OM_ARB_R_SEEN, NULL},
                {7000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {7500, "n2", "n2", 1, H, OM_ARB_R_SEEN, NULL},
                {8000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {9000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {9500, "n2", "n2", 1, H, OM_ARB_R_SEEN, "n1 n2"},
        };
        RUN(t);
        /* and when n1 finally judges n2 down too: a plain cut, decided then */
        static const struct step t2[] = {
                {500, "n1", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {3000, "n2", "n1 n2", 1, G, OM_ARB_R_NONE, NULL},
                {3500, "n2", "n2", 1, H, OM_ARB_R_SEEN, NULL},
                {4000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {4200, "n1", "n1", 0, R, OM_ARB_R_HELD, "n2"},
                {4500, "n2", "n2", 1, H, OM_ARB_R_CLEARING, "n2"},
                {4600, "n1", "n1", 0, R, OM_ARB_R_HELD, "n2"},
                {7000, "n2", "n2", 1, G, OM_ARB_R_NONE, "n2"},
        };
        RUN(t2);
}

/* The holder stops (paused, dead, or cut from the arbitrator): the other side gets the
 * vote only once the holder's lease ran out on the arbitrator's clock. */
static void test_holder_paused(void **state) {
        (void)state;
        static const struct step t[] = {
                {500, "n1", "n1 n2", 1, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {4000, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"}, /* n1 to 7000 */
                {4000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {6000, "n2", "n2", 0, H, OM_ARB_R_SEEN, NULL},
                {6999, "n2", "n2", 0, H, OM_ARB_R_SEEN, "n1 n2"},
                {7000, "n2", "n2", 0, G, OM_ARB_R_NONE, "n2"},
                /* n1 resumes, still believing in {n1 n2}: it sees the holder, but the
                 * holder does not see it */
                {7500, "n1", "n1 n2", 1, R, OM_ARB_R_HELD, "n2"},
                {8000, "n2", "n2", 0, G, OM_ARB_R_NONE, "n2"},
                /* n2 sees n1 again: n1 joins */
                {9000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, "n2"},
                {9100, "n1", "n1 n2", 1, G, OM_ARB_R_NONE, "n1 n2"},
        };
        RUN(t);
}

/* The arbitrator down while the nodes see each other: the leases run out; back up,
 * the same partition renews without a contest. */
static void test_arbitrator_away(void **state) {
        (void)state;
        static const struct step t[] = {
                {500, "n1", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {500, "n2", "n1 n2", 0, P, OM_ARB_R_RESTARTING, ""},
                {3000, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {3000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, NULL},
                {20000, "n2", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
                {20001, "n1", "n1 n2", 0, G, OM_ARB_R_NONE, "n1 n2"},
        };
        RUN(t);
}

/* A restart forgets everything: no vote for one lease, whoever asks. */
static void test_restart(void **state) {
        (void)state;
        static struct om_arb_vote v;
        om_arb_vote_init(&v, L, 100000);
        struct om_arb_answer a = ask(&v, 100000, "n2", "n2", 0);
        assert_int_equal(a.kind, OM_ARB_PENDING);
        assert_int_equal(a.reason, OM_ARB_R_RESTARTING);
        a = ask(&v, 102999, "n2", "n2", 0);
        assert_int_equal(a.kind, OM_ARB_PENDING);
        a = ask(&v, 102999, "n1", "n1", 1);
        assert_int_equal(a.kind, OM_ARB_PENDING);
        /* both asked during the guard: the contest is decided at the first request after
         * it, by the rule (n1 runs the service), whoever asks first */
        a = ask(&v, 103000, "n2", "n2", 0);
        assert_int_equal(a.kind, OM_ARB_REFUSE);
        a = ask(&v, 103100, "n1", "n1", 1);
        assert_int_equal(a.kind, OM_ARB_GRANT);
}

/* Lease clamping and the node's lease. */
static void test_lease_arith(void **state) {
        (void)state;
        static struct om_arb_vote v;
        om_arb_vote_init(&v, 10, 0);
        assert_int_equal(v.lease_ms, OM_ARB_LEASE_MIN_MS);
        om_arb_vote_init(&v, 1u << 30, 0);
        assert_int_equal(v.lease_ms, OM_ARB_LEASE_MAX_MS);
        for (uint64_t l = OM_ARB_LEASE_MIN_MS; l <= OM_ARB_LEASE_MAX_MS; l += 7) {
                uint64_t n = om_arb_node_lease(l);
                /* node lease at most 1/1.01 of real time, arbitrator at least 1/1.01:
                 * n / (1 - rho) < l / (1 + rho), with 50 ms to spare */
                double rho = OM_ARB_DRIFT_PERMILLE / 1000.0;
                assert_true((double)n / (1 - rho) + OM_ARB_MARGIN_MS <= (double)l / (1 + rho) + 1);
                assert_true(n > 0 && n < l);
        }
        assert_int_equal(om_arb_node_lease(40), 0);
}

/* The node's counting rule. */
static void test_license(void **state) {
        (void)state;
        struct om_arb_license l = {0};
        struct om_arb_set both = {0}, one = {0}, h = {0};
        om_arb_set_add(&both, 0);
        om_arb_set_add(&both, 1);
        om_arb_set_add(&one, 0);
        h = both;
        uint64_t nl = om_arb_node_lease(3000);
        assert_int_equal(om_arb_license_count(&l, &both, 0), OM_ARB_COUNT_NONE);
        assert_int_equal(om_arb_license_apply(&l, 1000, OM_ARB_GRANT, 3000, &h, true), 1);
        assert_int_equal(om_arb_license_count(&l, &both, 1000), OM_ARB_COUNT_VOTE);
        assert_int_equal(om_arb_license_count(&l, &both, 1000 + nl - 1), OM_ARB_COUNT_VOTE);
        assert_int_equal(om_arb_license_count(&l, &both, 1000 + nl), OM_ARB_COUNT_NONE);
        /* a view that lost a holder keeps, it does not count */
        assert_int_equal(om_arb_license_count(&l, &one, 1500), OM_ARB_COUNT_KEEP);
        /* PENDING keeps the license, unchanged */
        assert_int_equal(om_arb_license_apply(&l, 2000, OM_ARB_PENDING, 0, NULL, false), 1);
        assert_int_equal(om_arb_license_count(&l, &both, 2000), OM_ARB_COUNT_VOTE);
        assert_int_equal(om_arb_license_count(&l, &both, 1000 + nl), OM_ARB_COUNT_NONE);
        /* an answer to an older request changes nothing */
        assert_int_equal(om_arb_license_apply(&l, 1500, OM_ARB_REFUSE, 0, NULL, false), 0);
        assert_int_equal(om_arb_license_count(&l, &both, 2000), OM_ARB_COUNT_VOTE);
        /* HOLD: keep only */
        assert_int_equal(om_arb_license_apply(&l, 2500, OM_ARB_HOLD, 3000, &one, true), 1);
        assert_int_equal(om_arb_license_count(&l, &both, 2600), OM_ARB_COUNT_KEEP);
        /* a holder unknown to this node: never counts */
        assert_int_equal(om_arb_license_apply(&l, 2600, OM_ARB_GRANT, 3000, &one, false), 1);
        assert_int_equal(om_arb_license_count(&l, &both, 2700), OM_ARB_COUNT_KEEP);
        /* REFUSE drops it */
        assert_int_equal(om_arb_license_apply(&l, 2700, OM_ARB_GRANT, 3000, &one, true), 1);
        assert_int_equal(om_arb_license_count(&l, &one, 2800), OM_ARB_COUNT_VOTE);
        assert_int_equal(om_arb_license_apply(&l, 2800, OM_ARB_REFUSE, 0, NULL, false), 1);
        assert_int_equal(om_arb_license_count(&l, &one, 2900), OM_ARB_COUNT_NONE);
}

static void test_bad_requests(void **state) {
        (void)state;
        static struct om_arb_vote v;
        om_arb_vote_init(&v, L, 0);
        struct om_arb_answer a;
        const char *no_self[] = {"n2"};
        const char *dup[] = {"n1", "n1"};
        const char *empty[] = {"n1", ""};
        char longname[OM_ARB_NAME_MAX + 1];
        memset(longname, 'x', OM_ARB_NAME_MAX);
        longname[OM_ARB_NAME_MAX] = 0;
        const char *lng[] = {"n1", longname};
        struct om_arb_request reqs[] = {
                {"n1", no_self, 1, 0}, {"n1", dup, 2, 0}, {"n1", empty, 2, 0},
                {"n1", lng, 2, 0},     {"", empty, 1, 0}, {"n1", no_self, 0, 0},
                {longname, lng, 2, 0},
        };
        for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
                assert_int_equal(om_arb_vote_request(&v, &reqs[i], 5000, &a), -EINVAL);
        assert_int_equal(v.n_nodes, 0);
        /* a full node table refuses new names, all or none */
        char names[OM_ARB_NODES_MAX][16];
        for (size_t i = 0; i < OM_ARB_NODES_MAX; i++) {
                snprintf(names[i], sizeof(names[i]), "m%zu", i);
                const char *view[] = {names[i]};
                struct om_arb_request r = {names[i], view, 1, 0};
                assert_int_equal(om_arb_vote_request(&v, &r, 5000, &a), 0);
        }
        assert_int_equal(v.n_nodes, OM_ARB_NODES_MAX);
        const char *view[] = {"m0", "new"};
        struct om_arb_request r = {"m0", view, 2, 0};
        assert_int_equal(om_arb_vote_request(&v, &r, 5000, &a), 0);
        assert_int_equal(a.kind, OM_ARB_REFUSE);
        assert_int_equal(a.reason, OM_ARB_R_FULL);
        assert_int_equal(v.n_nodes, OM_ARB_NODES_MAX);
        assert_int_equal(om_arb_kind_from_string("hold"), OM_ARB_HOLD);
        assert_int_equal(om_arb_kind_from_string("x"), -EINVAL);
        assert_int_equal(om_arb_reason_from_string("seen"), OM_ARB_R_SEEN);
}

/*
 * Random schedules: n nodes (2..4) with views drawn from random partitions and one-way
 * losses that change over time, each node asking every 1000 ms with jitter (some
 * requests lost, some nodes paused), the node clock equal to the arbitrator's (the
 * drift margin is checked apart). After every step: two nodes that both count the vote
 * see each other in at least one direction, and two sides that do not see each other
 * never both count it.
 */
static uint64_t rng;
static uint32_t rnd(uint32_t n) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng % n);
}

static void test_random(void **state) {
        (void)state;
        static struct om_arb_vote v;
        char names[4][4] = {"n1", "n2", "n3", "n4"};
        uint64_t checks = 0, votes = 0;
        for (uint64_t seed = 1; seed <= 300; seed++) {
                rng = seed * 0x9E3779B97F4A7C15ull;
                size_t n = 2 + rnd(3);
                om_arb_vote_init(&v, L, 0);
                bool sees[4][4];
                struct om_arb_license lic[4] = {0};
                uint64_t next[4], paused_until[4] = {0};
                for (size_t i = 0; i < n; i++) {
                        next[i] = rnd(1000);
                        for (size_t j = 0; j < n; j++)
                                sees[i][j] = true;
                }
                for (uint64_t t = 0; t < 120000; t += 50) {
                        if (rnd(100) == 0) { /* the network changes */
                                uint32_t kind = rnd(4);
                                for (size_t i = 0; i < n; i++)
                                        for (size_t j = 0; j < n; j++)
                                                sees[i][j] = true;
                                if (kind == 1 || kind == 2) { /* a partition */
                                        uint32_t side = rnd(1u << n);
                                        for (size_t i = 0; i < n; i++)
                                                for (size_t j = 0; j < n; j++)
                                                        if ((side >> i & 1) != (side >> j & 1))
                                                                sees[i][j] = false;
                                } else if (kind == 3) { /* one-way loss */
                                        size_t a = rnd((uint32_t)n), b = rnd((uint32_t)n);
                                        if (a != b)
                                                sees[a][b] = false;
                                }
                        }
                        if (rnd(400) == 0)
                                paused_until[rnd((uint32_t)n)] = t + rnd(8000);
                        for (size_t i = 0; i < n; i++) {
                                if (t < next[i] || t < paused_until[i])
                                        continue;
                                next[i] = t + 800 + rnd(400);
                                if (rnd(10) == 0)
                                        continue; /* lost */
                                const char *view[4];
                                size_t nv = 0;
                                struct om_arb_set vs = {0};
                                for (size_t j = 0; j < n; j++)
                                        if (j == i || sees[i][j]) {
                                                view[nv++] = names[j];
                                                om_arb_set_add(&vs, j);
                                        }
                                struct om_arb_request r = {names[i], view, nv, rnd(3)};
                                struct om_arb_answer a;
                                assert_int_equal(om_arb_vote_request(&v, &r, t, &a), 0);
                                if (rnd(10) == 0)
                                        continue; /* answer lost */
                                /* map holders (arbitrator indexes) to node indexes */
                                struct om_arb_set hs = {0};
                                for (size_t k = 0; k < v.n_nodes; k++)
                                        if (om_arb_set_has(&a.holders, k))
                                                om_arb_set_add(
                                                        &hs,
                                                        (size_t)(om_arb_vote_name(&v, k)[1] - '1'));
                                om_arb_license_apply(&lic[i], t, a.kind, a.lease_ms, &hs, true);
                        }
                        for (size_t i = 0; i < n; i++)
                                for (size_t j = i + 1; j < n; j++) {
                                        struct om_arb_set vi = {0}, vj = {0};
                                        for (size_t k = 0; k < n; k++) {
                                                if (k == i || sees[i][k])
                                                        om_arb_set_add(&vi, k);
                                                if (k == j || sees[j][k])
                                                        om_arb_set_add(&vj, k);
                                        }
                                        bool ci = om_arb_license_count(&lic[i], &vi, t) ==
                                                  OM_ARB_COUNT_VOTE;
                                        bool cj = om_arb_license_count(&lic[j], &vj, t) ==
                                                  OM_ARB_COUNT_VOTE;
                                        checks++;
                                        votes += ci || cj;
                                        if (ci && cj && !sees[i][j] && !sees[j][i])
                                                fail_msg("seed %llu t=%llu: %s and %s both count "
                                                         "the vote and do not see each other",
                                                         (unsigned long long)seed,
                                                         (unsigned long long)t, names[i], names[j]);
                                }
                }
        }
        print_message("random: %llu checks, the vote counted somewhere in %llu\n",
                      (unsigned long long)checks, (unsigned long long)votes);
        assert_true(votes > checks / 4); /* the vote is given, not only withheld */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start),
                cmocka_unit_test(test_cut_both_reach),
                cmocka_unit_test(test_cut_holder_first),
                cmocka_unit_test(test_winner_order),
                cmocka_unit_test(test_one_way),
                cmocka_unit_test(test_holder_paused),
                cmocka_unit_test(test_arbitrator_away),
                cmocka_unit_test(test_restart),
                cmocka_unit_test(test_lease_arith),
                cmocka_unit_test(test_license),
                cmocka_unit_test(test_bad_requests),
                cmocka_unit_test(test_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
