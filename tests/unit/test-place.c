/*
 * Placement (cluster/cl_place.h), the leader's reasons (om_decide_leader_why), the action
 * slots of a pass (om_decide_slotted) and the node metrics placement reads (collected
 * from /proc files, settled, on the wire as optional fields).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include <cmocka.h>

#include "cluster/cl_config.h"
#include "cluster/cl_decide.h"
#include "cluster/cl_mp.h"
#include "cluster/cl_nodedata.h"
#include "cluster/cl_place.h"
#include "core/ini.h"

static const char nodes3[3][OM_CL_NAME_MAX] = {"n1", "n2", "n3"};

/* The hash is part of the protocol: nodes of two versions must order alike. These values
 * must never change. */
static void test_hash_stable(void **state) {
        assert_int_equal(om_place_hash("root/svc/web", "n1"), 0x16b05879380c2344ULL);
        assert_int_equal(om_place_hash("", ""), 0x25fc6dd36ce04b20ULL);
        /* the separator counts: "ab"+"c" is not "a"+"bc" */
        assert_true(om_place_hash("ab", "c") != om_place_hash("a", "bc"));
}

/* spread: 3000 services over 3 nodes lead about a third each; when a node goes, only its
 * services move, each to the node that was second for it. */
static void test_spread(void **state) {
        int lead[3] = {0};
        for (int s = 0; s < 3000; s++) {
                char path[64];
                size_t o[3], o2[2];
                snprintf(path, sizeof(path), "root/svc/app%d", s);
                assert_int_equal(om_place_order(NULL, OM_PLACE_SPREAD, path, nodes3, 3, o), 3);
                lead[o[0]]++;
                /* without n3 (index 2): the order of the two others is unchanged */
                assert_int_equal(om_place_order(NULL, OM_PLACE_SPREAD, path, nodes3, 2, o2), 2);
                size_t a = o[0] == 2 ? o[1] : o[0], b = o[0] == 2 ? o[2] : o[1];
                if (o[1] == 2)
                        b = o[2];
                assert_int_equal(o2[0], a);
                assert_int_equal(o2[1], b);
        }
        for (int i = 0; i < 3; i++) {
                print_message("spread: n%d leads %d of 3000\n", i + 1, lead[i]);
                assert_in_range(lead[i], 900, 1100);
        }
}

static void test_shift_index(void **state) {
        assert_int_equal(om_place_index("root/svc/web12"), 12);
        assert_int_equal(om_place_index("root/svc/web"), 0);
        assert_int_equal(om_place_index("ns1/svc/a2b"), 0);
        assert_int_equal(om_place_index("web7"), 7);
        size_t o[3];
        om_place_order(NULL, OM_PLACE_SHIFT, "root/svc/web4", nodes3, 3, o);
        assert_int_equal(o[0], 1);
        assert_int_equal(o[1], 2);
        assert_int_equal(o[2], 0);
        /* a pool web0..web5 over three nodes: each node leads two */
        int lead[3] = {0};
        for (int s = 0; s < 6; s++) {
                char path[32];
                snprintf(path, sizeof(path), "root/svc/web%d", s);
                om_place_order(NULL, OM_PLACE_SHIFT, path, nodes3, 3, o);
                lead[o[0]]++;
        }
        assert_int_equal(lead[0], 2);
        assert_int_equal(lead[1], 2);
        assert_int_equal(lead[2], 2);
}

static void test_score(void **state) {
        struct om_cl_nodedata nd = {.metrics = true, .load15 = 0, .mem_avail = 1000, .ncpu = 4};
        assert_int_equal(om_place_score(&nd), 1000);
        nd.mem_avail = 500;
        nd.load15 = 400; /* 4.00 on 4 CPUs: one task per CPU */
        assert_int_equal(om_place_score(&nd), 250);
        nd.metrics = false;
        assert_int_equal(om_place_score(&nd), 0);
        assert_int_equal(om_place_score(NULL), 0);
}

static void test_names(void **state) {
        for (int p = OM_PLACE_NODES_ORDER; p <= OM_PLACE_SCORE; p++)
                assert_int_equal(om_placement_from_string(om_placement_to_string(p)), p);
        assert_int_equal(om_placement_from_string("random"), -1);
        assert_int_equal(om_placement_from_string(NULL), -1);
        size_t o[3];
        assert_int_equal(om_place_order(NULL, OM_PLACE_NONE, "a/svc/b", nodes3, 3, o), 0);
}

/* ---- a three-node view, n1 self ---- */

static struct om_peer peers[3];
static struct om_cl_instance inst[3];
static struct om_cl_nodedata local;

static void view3(struct om_view *v, struct om_dec_cfg *cfg, const char *path) {
        memset(peers, 0, sizeof(peers));
        memset(inst, 0, sizeof(inst));
        memset(cfg, 0, sizeof(*cfg));
        for (int i = 0; i < 3; i++) {
                struct om_peer *p = &peers[i];
                struct om_cl_nodedata *nd = i == 0 ? &local : &p->data;
                snprintf(p->name, sizeof(p->name), "n%d", i + 1);
                p->self = i == 0;
                p->state = OM_PEER_UP;
                p->have_data = i != 0;
                p->gen_announced = 1;
                memset(nd, 0, sizeof(*nd));
                nd->gen = 1;
                nd->metrics = true;
                nd->ncpu = 2;
                snprintf(inst[i].path, sizeof(inst[i].path), "%s", path);
                snprintf(inst[i].avail, sizeof(inst[i].avail), "down");
                inst[i].monitor = OM_MON_IDLE;
                inst[i].provisioned = true;
                nd->inst = &inst[i];
                nd->n_inst = 1;
        }
        *v = (struct om_view){.peers = peers, .n = 3, .self = 0, .local = &local};
        snprintf(cfg->path, sizeof(cfg->path), "%s", path);
        memcpy(cfg->nodes, nodes3, sizeof(nodes3));
        cfg->n_nodes = 3;
        cfg->ha = cfg->failover = true;
        cfg->ready_ms = 500;
        cfg->mon_ms = 5000;
}

static void why_is(const struct om_view *v, const struct om_dec_cfg *cfg, bool quorum, size_t i,
                   const char *want) {
        char buf[200];
        om_decide_leader_why(v, cfg, quorum, i, buf, sizeof(buf));
        if (strcmp(buf, want) != 0)
                fail_msg("n%zu: got \"%s\", want \"%s\"", i + 1, buf, want);
}

static void test_leader_why(void **state) {
        struct om_view v;
        struct om_dec_cfg cfg;
        view3(&v, &cfg, "root/svc/web");
        cfg.placement = OM_PLACE_LOAD_AVG;
        local.load15 = 300;
        peers[1].data.load15 = 100;
        peers[2].data.load15 = 200;
        why_is(&v, &cfg, true, 1, "leader (load avg)");
        why_is(&v, &cfg, true, 2, "lower in placement (load avg: n2 first, this node #2)");
        why_is(&v, &cfg, true, 0, "lower in placement (load avg: n2 first, this node #3)");
        why_is(&v, &cfg, false, 1, "leader (load avg), but no quorum here: nothing starts");
        inst[1].frozen = true;
        why_is(&v, &cfg, true, 1, "frozen");
        why_is(&v, &cfg, true, 2, "leader (load avg)");
        peers[2].data.frozen = true;
        why_is(&v, &cfg, true, 2, "node frozen");
        inst[0].provisioned = false;
        why_is(&v, &cfg, true, 0, "not provisioned");
        inst[0].provisioned = true;
        inst[0].monitor = OM_MON_START_FAILED;
        why_is(&v, &cfg, true, 0, "start failed");
        peers[1].state = OM_PEER_DOWN;
        why_is(&v, &cfg, true, 1, "down");
        cfg.placement = OM_PLACE_NONE;
        why_is(&v, &cfg, true, 2, "no leader: placement none (the daemon starts it nowhere)");
        cfg.placement = OM_PLACE_NODES_ORDER;
        cfg.ha = false;
        why_is(&v, &cfg, true, 0, "no leader: orchestrate is not ha or the topology is flex");
}

/* Every node computes the same leader from the same view: the view seen from n2 and n3
 * (their own data local) gives the leader n1 computes, for every policy. */
static void test_same_everywhere(void **state) {
        for (int p = OM_PLACE_NODES_ORDER; p <= OM_PLACE_SCORE; p++) {
                for (int s = 0; s < 20; s++) {
                        char path[32];
                        snprintf(path, sizeof(path), "root/svc/x%d", s);
                        struct om_view v;
                        struct om_dec_cfg cfg;
                        view3(&v, &cfg, path);
                        cfg.placement = (enum om_placement)p;
                        uint32_t loads[3] = {(uint32_t)(s * 37 % 300), (uint32_t)(s * 53 % 300),
                                             (uint32_t)(s * 71 % 300)};
                        for (int i = 0; i < 3; i++) {
                                struct om_cl_nodedata *nd = i == 0 ? &local : &peers[i].data;
                                nd->load15 = loads[i];
                                nd->mem_avail = (uint32_t)(1000 - loads[(i + 1) % 3] * 3);
                        }
                        int l1 = om_decide_leader(&v, &cfg, false, false);
                        /* the same view from n2: n2's data is local, n1's a peer's */
                        static struct om_peer p2[3];
                        static struct om_cl_nodedata local2;
                        memcpy(p2, peers, sizeof(p2));
                        local2 = peers[1].data;
                        p2[0].data = local;
                        p2[0].have_data = true;
                        p2[0].self = false;
                        p2[1].self = true;
                        p2[1].have_data = false;
                        struct om_view v2 = {.peers = p2, .n = 3, .self = 1, .local = &local2};
                        int l2 = om_decide_leader(&v2, &cfg, false, false);
                        assert_int_equal(l1, l2);
                        if (p == OM_PLACE_NONE)
                                assert_int_equal(l1, -1);
                        else
                                assert_in_range(l1, 0, 2);
                }
        }
}

/* The slots of a pass: ten HA services ready on n1, their ready period over, priorities
 * scattered, two slots. Each pass starts what the free slots allow, lowest priority
 * number first; a job ending frees a slot for the next. */
static void test_slots(void **state) {
        enum { N = 10 };
        static const int prio[N] = {50, 10, 90, 10, 0, 50, 100, 30, 30, 70};
        struct om_view v;
        struct om_dec_cfg cfg[N];
        struct om_dec_obj st[N];
        static struct om_cl_instance insts[3][N];
        view3(&v, &cfg[0], "root/svc/a");
        for (int k = 0; k < N; k++) {
                char path[32];
                snprintf(path, sizeof(path), "root/svc/s%02d", k);
                if (k)
                        cfg[k] = cfg[0];
                snprintf(cfg[k].path, sizeof(cfg[k].path), "%s", path);
                cfg[k].priority = prio[k];
                for (int i = 0; i < 3; i++) {
                        insts[i][k] = inst[i];
                        snprintf(insts[i][k].path, sizeof(insts[i][k].path), "%s", path);
                }
                memset(&st[k], 0, sizeof(st[k]));
                st[k].state = OM_MON_READY;
                st[k].present = true;
                st[k].booted = true;
                st[k].dup_check_stalls = 1;
                st[k].ready_until = 500;
        }
        for (int i = 0; i < 3; i++) {
                struct om_cl_nodedata *nd = i == 0 ? &local : &peers[i].data;
                nd->inst = insts[i];
                nd->n_inst = N;
                nd->inst_sorted = true;
        }
        /* the caller's order: priority, then path */
        const struct om_dec_cfg *order[N];
        for (int k = 0; k < N; k++)
                order[k] = &cfg[k];
        for (int a = 1; a < N; a++)
                for (int b = a; b > 0 && om_decide_sched_cmp(order[b - 1], order[b]) > 0; b--) {
                        const struct om_dec_cfg *t = order[b];
                        order[b] = order[b - 1];
                        order[b - 1] = t;
                }
        struct om_dec_ctx c = {.view = &v,
                               .self = "n1",
                               .now = 1000,
                               .timeout = 1000,
                               .stalls = 1,
                               .quorum_enabled = true,
                               .quorum_have = true,
                               .boot_ready = true};
        int started[N], n_started = 0, max_running = 0;
        for (int pass = 0; pass < 20 && n_started < N; pass++) {
                struct om_dec_slots sl = {.max = 2};
                for (int k = 0; k < N; k++)
                        sl.running += st[k].job;
                for (int j = 0; j < N; j++) {
                        int k = (int)(order[j] - cfg);
                        struct om_decision d = {0};
                        bool was = st[k].job;
                        om_decide_slotted(&c, &sl, &cfg[k], &st[k], NULL, &d);
                        if (st[k].job && !was) {
                                assert_int_equal(st[k].state, OM_MON_STARTING);
                                started[n_started++] = k;
                        }
                }
                int running = 0;
                for (int k = 0; k < N; k++)
                        running += st[k].job;
                assert_int_equal(running, sl.running);
                if (running > max_running)
                        max_running = running;
                assert_int_equal(sl.held, N - n_started);
                /* the job started first ends */
                for (int j = 0; j < n_started; j++) {
                        int k = started[j];
                        if (st[k].job) {
                                struct om_decision d = {0};
                                om_decide_job_done(&cfg[k], &st[k], 0, NULL, &d);
                                break;
                        }
                }
        }
        assert_int_equal(n_started, N);
        assert_int_equal(max_running, 2);
        for (int j = 1; j < N; j++)
                assert_true(prio[started[j - 1]] <= prio[started[j]]);
        /* equal priorities by path */
        assert_int_equal(started[0], 4);
        assert_int_equal(started[1], 1);
        assert_int_equal(started[2], 3);
}

/* ---- the metrics ---- */

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_metrics(void **state) {
        char dir[] = "/tmp/om-test-place-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char lf[64], mf[64];
        snprintf(lf, sizeof(lf), "%s/loadavg", dir);
        snprintf(mf, sizeof(mf), "%s/meminfo", dir);
        write_file(lf, "0.50 1.20 2.37 3/512 4242\n");
        write_file(mf, "MemTotal:       8000000 kB\nMemFree:  10 kB\n"
                       "MemAvailable:   2000000 kB\n");
        setenv("OM_TEST_LOADAVG", lf, 1);
        setenv("OM_TEST_MEMINFO", mf, 1);
        struct om_cl_nodedata nd = {0};
        om_cl_nodedata_metrics(&nd);
        assert_true(nd.metrics);
        assert_int_equal(nd.load15, 237);
        assert_int_equal(nd.mem_avail, 250);
        assert_true(nd.ncpu >= 1);
        write_file(lf, "0.5 1 12.5 3/512 4242\n");
        om_cl_nodedata_metrics(&nd);
        assert_int_equal(nd.load15, 1250);
        /* unreadable or malformed: no metrics, never a guess */
        write_file(lf, "garbage\n");
        om_cl_nodedata_metrics(&nd);
        assert_false(nd.metrics);
        write_file(lf, "0.50 1.20 2.37 3/512 4242\n");
        write_file(mf, "MemTotal: 100 kB\n");
        om_cl_nodedata_metrics(&nd);
        assert_false(nd.metrics);
        unsetenv("OM_TEST_LOADAVG");
        unsetenv("OM_TEST_MEMINFO");
        /* the real /proc of this host */
        om_cl_nodedata_metrics(&nd);
        assert_true(nd.metrics);
        assert_in_range(nd.mem_avail, 1, 1000);
        unlink(lf);
        unlink(mf);
        rmdir(dir);

        /* settle: small moves keep the published value, a step publishes */
        struct om_cl_nodedata prev = {.metrics = true, .load15 = 100, .mem_avail = 500, .ncpu = 2};
        struct om_cl_nodedata now = {.metrics = true, .load15 = 115, .mem_avail = 460, .ncpu = 2};
        om_cl_nodedata_metrics_settle(&prev, &now);
        assert_int_equal(now.load15, 100);
        assert_int_equal(now.mem_avail, 500);
        now.load15 = 125;
        now.mem_avail = 440;
        om_cl_nodedata_metrics_settle(&prev, &now);
        assert_int_equal(now.load15, 125);
        assert_int_equal(now.mem_avail, 440);
}

static int roundtrip(const struct om_cl_nodedata *nd, struct om_cl_nodedata *back) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_unpacked u;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        om_cl_nodedata_pack(nd, &pk);
        assert_int_equal(om_cl_mp_unpack(sb.data, sb.size, &u), 0);
        int r = om_cl_nodedata_unpack(&u.data, back);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
        return r;
}

/* On the wire: the metrics travel; data without them (an older agent's) is accepted as a
 * node without metrics; a metric out of range is refused. */
static void test_metrics_wire(void **state) {
        struct om_cl_nodedata nd = {.gen = 3,
                                    .state = "idle",
                                    .metrics = true,
                                    .load15 = 321,
                                    .mem_avail = 654,
                                    .ncpu = 8};
        struct om_cl_nodedata back = {0};
        assert_int_equal(roundtrip(&nd, &back), 0);
        assert_true(back.metrics);
        assert_int_equal(back.load15, 321);
        assert_int_equal(back.mem_avail, 654);
        assert_int_equal(back.ncpu, 8);
        assert_true(om_cl_nodedata_same(&nd, &back));
        nd.metrics = false;
        assert_false(om_cl_nodedata_same(&nd, &back));
        assert_int_equal(roundtrip(&nd, &back), 0);
        assert_false(back.metrics);
        nd.metrics = true;
        nd.mem_avail = 1001;
        assert_int_equal(roundtrip(&nd, &back), -EBADMSG);
        nd.mem_avail = 10;
        nd.ncpu = 0;
        assert_int_equal(roundtrip(&nd, &back), -EBADMSG);
        om_cl_nodedata_done(&back);
}

/* [node] max_parallel in cluster.conf: scoped to a node, bounded, absent is 0 (the
 * agent's default, twice the CPUs). */
static int conf(const char *extra, const char *self, struct om_cl_config **cfg, char *err,
                size_t len) {
        char text[512];
        snprintf(text, sizeof(text), "[cluster]\nnodes = n1 n2\n\n%s", extra);
        struct om_ini *ini = NULL;
        int r = om_ini_parse(text, strlen(text), "cluster.conf", &ini, err, len);
        if (r < 0)
                return r;
        r = om_cl_config_from_ini(ini, "cluster.conf", self, cfg, err, len);
        om_ini_free(ini);
        return r;
}

static void test_max_parallel_conf(void **state) {
        struct om_cl_config *cfg = NULL;
        char err[256] = "";
        assert_int_equal(conf("", "n1", &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg->max_parallel, 0);
        free(cfg);
        const char *both = "[node]\nmax_parallel = 2\nmax_parallel@n1 = 7\n";
        assert_int_equal(conf(both, "n1", &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg->max_parallel, 7);
        free(cfg);
        assert_int_equal(conf(both, "n2", &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg->max_parallel, 2);
        free(cfg);
        cfg = NULL;
        assert_int_equal(conf("[node]\nmax_parallel = 0\n", "n1", &cfg, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "cluster.conf:5: [node] max_parallel: value '0' is not an "
                                    "integer from 1 to 1000"));
        assert_int_equal(conf("[node]\nmax_paralel = 3\n", "n1", &cfg, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "unknown keyword 'max_paralel'"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hash_stable),
                cmocka_unit_test(test_spread),
                cmocka_unit_test(test_shift_index),
                cmocka_unit_test(test_score),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_leader_why),
                cmocka_unit_test(test_same_everywhere),
                cmocka_unit_test(test_slots),
                cmocka_unit_test(test_metrics),
                cmocka_unit_test(test_metrics_wire),
                cmocka_unit_test(test_max_parallel_conf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
