/*
 * Unit tests of the HA leader election (cluster/cl_decide.c, through agent/orchestrator.c) against
 * a scripted cluster view, in the corosync vqsim manner: a fake agent whose node table and node
 * data the test writes (no sockets, no heartbeats, no child process), then asks who the
 * leader is. Every condition of the election is taken away in turn: liveness, fresh
 * data, frozen node and instance, provisioned, "start failed", "init"; and the answer
 * must follow the service's `nodes` order, not the cluster's. Also the quorum default
 * of cluster.conf parsing (two nodes need an arbitrator).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "om-test.h"

#include "agent/agent.h"
#include "agent/orchestrator.h"
#include "cluster/cl_config.h"
#include "core/fileio.h"
#include "core/ini.h"
#include "core/paths.h"

#define P "root/svc/web"

static char root[256];
static const char *svc_nodes = "n1 n2 n3";
static struct om_agent A;
static struct om_cl_config CFG;
static struct om_peer PEERS[3];
static struct om_cl_instance INST[3];

static void write_svc(const char *nodes) {
        char dir[512], file[600], text[256];
        snprintf(dir, sizeof(dir), "%s/etc/namespaces/root/svc", root);
        assert_int_equal(om_mkdir_p(dir, 0755), 0);
        snprintf(file, sizeof(file), "%s/web.conf", dir);
        snprintf(text, sizeof(text),
                 "[DEFAULT]\nid = 6f1c3e2a-1111-4222-8333-944455556666\nnodes = %s\n"
                 "orchestrate = ha\n",
                 nodes);
        assert_int_equal(om_write_atomic(file, text, strlen(text), 0644), 0);
}

/* A cluster n1 n2 n3 seen from n1: everyone up, fresh, provisioned, idle. */
static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "orch", "n1");
        write_svc(svc_nodes);
        memset(&A, 0, sizeof(A));
        memset(&CFG, 0, sizeof(CFG));
        memset(PEERS, 0, sizeof(PEERS));
        assert_int_equal(uv_loop_init(&A.loop), 0);
        CFG.n_nodes = 3;
        CFG.quorum = true;
        for (int i = 0; i < 3; i++) {
                snprintf(CFG.nodes[i], OM_CL_NAME_MAX, "n%d", i + 1);
                snprintf(PEERS[i].name, sizeof(PEERS[i].name), "n%d", i + 1);
                PEERS[i].self = i == 0;
                PEERS[i].state = OM_PEER_UP;
                PEERS[i].have_data = i != 0;
                PEERS[i].gen_announced = 1;
                struct om_cl_instance *in = &INST[i];
                memset(in, 0, sizeof(*in));
                snprintf(in->path, sizeof(in->path), P);
                snprintf(in->avail, sizeof(in->avail), "down");
                snprintf(in->overall, sizeof(in->overall), "down");
                in->monitor = OM_MON_IDLE;
                in->provisioned = true;
                struct om_cl_nodedata *nd = i == 0 ? &A.local : &PEERS[i].data;
                nd->gen = 1;
                nd->inst = in;
                nd->n_inst = 1;
        }
        A.cfg = &CFG;
        snprintf(A.self, sizeof(A.self), "n1");
        A.self_idx = 0;
        A.peers = PEERS;
        A.n_peers = 3;
        A.interval = 200;
        A.timeout = 1000;
        assert_int_equal(om_orch_start(&A), 0);
        *state = &A;
        return 0;
}

static int setup_reordered(void **state) {
        svc_nodes = "n2 n3 n1";
        int r = setup(state);
        svc_nodes = "n1 n2 n3";
        return r;
}

static void walk_close(uv_handle_t *h, void *arg) {
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

static int teardown(void **state) {
        uv_walk(&A.loop, walk_close, NULL);
        uv_run(&A.loop, UV_RUN_DEFAULT);
        uv_loop_close(&A.loop);
        om_orch_free(&A);
        om_test_root_remove(root);
        return 0;
}

static void test_first_in_nodes(void **state) {
        assert_int_equal(om_orch_leader(&A, P), 0);
        assert_string_equal(om_orch_orchestrate(&A, P), "ha");
}

static void test_not_alive(void **state) {
        assert_int_equal(om_orch_leader(&A, P), 1); /* nodes order, not cluster order */
        PEERS[1].state = OM_PEER_SUSPECT;           /* suspect is still alive */
        assert_int_equal(om_orch_leader(&A, P), 1);
        PEERS[1].state = OM_PEER_DOWN;
        assert_int_equal(om_orch_leader(&A, P), 2);
        PEERS[2].state = OM_PEER_UNKNOWN;
        assert_int_equal(om_orch_leader(&A, P), 0);
}

static void test_stale_data(void **state) {
        PEERS[1].gen_announced = 2; /* n2 announced a generation we have not pulled */
        PEERS[2].have_data = false;
        assert_int_equal(om_orch_leader(&A, P), 0);
        INST[0].frozen = true;
        assert_int_equal(om_orch_leader(&A, P), -1); /* never a node we cannot see */
        PEERS[1].data.gen = 2;
        assert_int_equal(om_orch_leader(&A, P), 1);
}

static void test_frozen_unprovisioned_failed(void **state) {
        INST[0].frozen = true;
        assert_int_equal(om_orch_leader(&A, P), 1);
        PEERS[1].data.frozen = true; /* node frozen */
        assert_int_equal(om_orch_leader(&A, P), 2);
        INST[2].provisioned = false;
        assert_int_equal(om_orch_leader(&A, P), -1);
        INST[0].frozen = false;
        INST[0].monitor = OM_MON_START_FAILED;
        assert_int_equal(om_orch_leader(&A, P), -1);
        INST[0].monitor = OM_MON_INIT;
        assert_int_equal(om_orch_leader(&A, P), -1);
        INST[0].monitor = OM_MON_IDLE;
        assert_int_equal(om_orch_leader(&A, P), 0);
}

static void test_quorum_default(void **state) {
        const char *two = "[cluster]\nnodes = n1 n2\n";
        const char *two_arb = "[cluster]\nnodes = n1 n2\n[arbitrator#1]\nuri = om://127.0.0.1:1\n";
        const char *three = "[cluster]\nnodes = n1 n2 n3\n";
        const char *texts[] = {two, two_arb, three};
        bool want[] = {false, true, true};
        for (int i = 0; i < 3; i++) {
                struct om_ini *ini = NULL;
                struct om_cl_config *cfg = NULL;
                char err[256];
                assert_int_equal(
                        om_ini_parse(texts[i], strlen(texts[i]), "c", &ini, err, sizeof(err)), 0);
                assert_int_equal(om_cl_config_from_ini(ini, "c", "n1", &cfg, err, sizeof(err)), 0);
                assert_int_equal(cfg->quorum, want[i]);
                free(cfg);
                om_ini_free(ini);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_first_in_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_alive, setup_reordered, teardown),
                cmocka_unit_test_setup_teardown(test_stale_data, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frozen_unprovisioned_failed, setup, teardown),
                cmocka_unit_test(test_quorum_default),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
