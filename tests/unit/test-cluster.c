/*
 * Unit tests of the cluster module's parsers: cluster.conf checking (every error names
 * its line), and node data encoding round trips and refusals.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cl_config.h"
#include "cluster/cl_mp.h"
#include "cluster/cl_nodedata.h"
#include "cluster/cl_view.h"
#include "core/ini.h"

static int parse(const char *text, struct om_cl_config **cfg, char *err, size_t errlen) {
        struct om_ini *ini = NULL;
        int r = om_ini_parse(text, strlen(text), "cluster.conf", &ini, err, errlen);
        if (r < 0)
                return r;
        r = om_cl_config_from_ini(ini, "cluster.conf", "n1", cfg, err, errlen);
        om_ini_free(ini);
        return r;
}

#define GOOD                                                                                       \
        "[cluster]\nname = prod\nnodes = n1 n2 n3\nquorum = true\napi_port = 1300\n\n"             \
        "[hb#1]\ntype = unicast\nport = 10001\naddr@n1 = 127.0.0.21\naddr@n2 = 127.0.0.22\n"       \
        "addr@n3 = 127.0.0.23\ninterval = 500ms\ntimeout = 2s\n\n"                                 \
        "[arbitrator#1]\nuri = om://127.0.0.30:1300\nweight = 2\n"

static void test_good(void **state) {
        struct om_cl_config *cfg = NULL;
        char err[256] = "";
        assert_int_equal(parse(GOOD, &cfg, err, sizeof(err)), 0);
        assert_string_equal(cfg->name, "prod");
        assert_int_equal(cfg->n_nodes, 3);
        assert_string_equal(cfg->nodes[2], "n3");
        assert_true(cfg->quorum);
        assert_int_equal(cfg->api_port, 1300);
        assert_int_equal(cfg->n_hb, 1);
        assert_int_equal(cfg->hb[0].port, 10001);
        assert_int_equal(cfg->hb[0].interval_ms, 500);
        assert_int_equal(cfg->hb[0].timeout_ms, 2000);
        assert_string_equal(cfg->hb[0].addrs[1], "127.0.0.22");
        assert_string_equal(om_cl_config_node_addr(cfg, 2), "127.0.0.23");
        assert_int_equal(cfg->n_arb, 1);
        assert_int_equal(cfg->arb[0].weight, 2);
        free(cfg);
}

static void expect_error(const char *text, const char *needle) {
        struct om_cl_config *cfg = NULL;
        char err[256] = "";
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), -EINVAL);
        if (!strstr(err, needle))
                fail_msg("error '%s' does not contain '%s'", err, needle);
        assert_null(cfg);
}

static void test_errors_name_the_line(void **state) {
        expect_error("[cluster]\nnodes = n1\nbogus = 1\n",
                     "cluster.conf:3: [cluster] unknown keyword 'bogus'");
        expect_error("[cluster]\nnodes = n1 n2\n[hb#1]\naddr@n1 = 127.0.0.1\naddr@n2 = 127.0.0.2\n"
                     "interval = fast\n",
                     "cluster.conf:6: [hb#1] interval");
        expect_error("[cluster]\nnodes = n1\n[hb#1]\naddr@n9 = 127.0.0.1\n",
                     "cluster.conf:4: [hb#1] addr@n9");
        expect_error("[cluster]\nnodes = n2 n3\n",
                     "cluster.conf:2: [cluster] nodes: this node 'n1'");
        expect_error("[cluster]\nnodes = n1\n[hb#1]\naddr@n1 = 127.0.0.1\ninterval = 3s\n"
                     "timeout = 1s\n",
                     "cluster.conf:3: [hb#1] timeout");
        expect_error("[cluster]\nnodes = n1\n[heartbeat]\n", "cluster.conf:3: unknown section");
        expect_error("[cluster]\nnodes = n1 n1\n",
                     "cluster.conf:2: [cluster] nodes: 'n1' listed twice");
        expect_error("[cluster]\nnodes = n1\n[hb#1]\naddr@n1 = 127.0.0.1\nport = 70000\n",
                     "cluster.conf:5: [hb#1] port");
        expect_error("[cluster]\nnodes = n1\n[arbitrator#1]\nweight = 1\n",
                     "cluster.conf:3: [arbitrator#1] missing required keyword 'uri'");
        /* a TCP listener answers both sides of a split: refused, naming om arbitrator */
        expect_error("[cluster]\nnodes = n1\n[arbitrator#1]\nuri = tcp://127.0.0.1:1300\n",
                     "cluster.conf:4: [arbitrator#1] uri: tcp:// arbitrators are no longer "
                     "accepted");
        char err[512] = "";
        struct om_cl_config *cfg = NULL;
        assert_int_equal(parse("[cluster]\nnodes = n1\n[arbitrator#1]\nuri = tcp://h:1\n", &cfg,
                               err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "om arbitrator run"));
        const char *bad[] = {"om://",
                             "om://:1",
                             "om://127.0.0.1",
                             "om://127.0.0.1:0",
                             "om://127.0.0.1:70000",
                             "om://::1:5",
                             "om://[]:5",
                             "om://a/b:5",
                             "udp://127.0.0.1:5",
                             "127.0.0.1:5"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[256];
                snprintf(text, sizeof(text), "[cluster]\nnodes = n1\n[arbitrator#1]\nuri = %s\n",
                         bad[i]);
                expect_error(text, "cluster.conf:4: [arbitrator#1] uri: expected om://");
        }
        assert_int_equal(parse("[cluster]\nnodes = n1\n[arbitrator#1]\nuri = om://[::1]:1216\n",
                               &cfg, err, sizeof(err)),
                         0);
        assert_string_equal(cfg->arb[0].addr, "::1");
        assert_int_equal(cfg->arb[0].port, 1216);
        free(cfg);
        /* relay heartbeats name an arbitrator of the file */
        const char *two = "[cluster]\nnodes = n1\n[hb#1]\naddr@n1 = 127.0.0.1\n"
                          "[arbitrator#1]\nuri = om://127.0.0.9:1216\n"
                          "[arbitrator#2]\nuri = om://127.0.0.10:1216\n";
        char text[512];
        snprintf(text, sizeof(text), "%s[hb#2]\ntype = relay\n", two);
        expect_error(text, "cluster.conf:9: [hb#2] type = relay needs arbitrator");
        snprintf(text, sizeof(text), "%s[hb#2]\ntype = relay\narbitrator = arbitrator#3\n", two);
        expect_error(text, "cluster.conf:11: [hb#2] arbitrator: no section [arbitrator#3]");
        snprintf(text, sizeof(text), "%s[hb#2]\naddr@n1 = 127.0.0.1\narbitrator = arbitrator#1\n",
                 two);
        expect_error(text, "cluster.conf:11: [hb#2] arbitrator: only for type = relay");
        snprintf(text, sizeof(text), "%s[hb#2]\ntype = relay\narbitrator = arbitrator#2\n", two);
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
        assert_true(cfg->hb[1].relay);
        assert_int_equal(cfg->hb[1].arb, 1);
        assert_string_equal(cfg->hb[1].addrs[0], "127.0.0.1"); /* from hb#1 */
        assert_false(cfg->hb[0].relay);
        free(cfg);
        /* a disk stream: its dev, none of the network keywords, and no addresses (the
         * peer API's address of a node comes from the first network stream) */
        const char *one = "[cluster]\nnodes = n1\n";
        snprintf(text, sizeof(text), "%s[hb#1]\ntype = disk\n", one);
        expect_error(text, "cluster.conf:3: [hb#1] type = disk needs dev");
        snprintf(text, sizeof(text), "%s[hb#1]\ntype = disk\ndev = dev/sdb\n", one);
        expect_error(text, "cluster.conf:5: [hb#1] dev: an absolute path");
        snprintf(text, sizeof(text), "%s[hb#1]\ntype = disk\ndev = /dev/sdb\nport = 1\n", one);
        expect_error(text, "cluster.conf:6: [hb#1] port: not for type = disk");
        snprintf(text, sizeof(text), "%s[hb#1]\ntype = disk\ndev = /dev/sdb\naddr@n1 = ::1\n", one);
        expect_error(text, "cluster.conf:6: [hb#1] addr: not for type = disk");
        snprintf(text, sizeof(text), "%s[hb#1]\naddr@n1 = 127.0.0.1\ndev = /dev/sdb\n", one);
        expect_error(text, "cluster.conf:5: [hb#1] dev: only for type = disk");
        snprintf(text, sizeof(text),
                 "%s[hb#1]\ntype = disk\ndev = /dev/sdb\ninterval = 2s\n[hb#2]\n"
                 "addr@n1 = 127.0.0.7\n",
                 one);
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
        assert_true(cfg->hb[0].disk);
        assert_string_equal(cfg->hb[0].dev, "/dev/sdb");
        assert_int_equal(cfg->hb[0].interval_ms, 2000);
        assert_false(cfg->hb[1].disk);
        assert_string_equal(om_cl_config_node_addr(cfg, 0), "127.0.0.7");
        free(cfg);
}

static void test_defaults(void **state) {
        struct om_cl_config *cfg = NULL;
        char err[256] = "";
        assert_int_equal(parse("", &cfg, err, sizeof(err)), 0);
        assert_string_equal(cfg->name, "default");
        assert_int_equal(cfg->n_nodes, 1);
        assert_string_equal(cfg->nodes[0], "n1");
        assert_int_equal(cfg->api_port, 1215);
        assert_int_equal(cfg->n_hb, 0);
        free(cfg);
}

static void test_nodedata_roundtrip(void **state) {
        struct om_cl_instance inst[2] = {{"demo/svc/db", "warn", "warn", true, true},
                                         {"demo/svc/web", "up", "warn", true, false}};
        snprintf(inst[0].diverged, sizeof(inst[0].diverged), "disk#1");
        snprintf(inst[0].error, sizeof(inst[0].error), "start failed");
        struct om_cl_objver objs[1] = {{"demo/svc/web", 42, "n1"}};
        struct om_cl_nodedata nd = {.gen = 9,
                                    .state = "idle",
                                    .frozen = true,
                                    .inst = inst,
                                    .n_inst = 2,
                                    .objs = objs,
                                    .n_objs = 1};
        struct om_cl_nodedata back = {0};
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_unpacked u;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        om_cl_nodedata_pack(&nd, &pk);
        assert_int_equal(om_cl_mp_unpack(sb.data, sb.size, &u), 0);
        assert_int_equal(om_cl_nodedata_unpack(&u.data, &back), 0);
        assert_int_equal(back.gen, 9);
        assert_true(back.frozen);
        assert_true(om_cl_nodedata_same(&nd, &back));
        assert_string_equal(back.inst[1].overall, "warn");
        /* the optional fields: there when set, absent (empty) otherwise */
        assert_string_equal(back.inst[0].diverged, "disk#1");
        assert_string_equal(back.inst[0].error, "start failed");
        assert_string_equal(back.inst[1].diverged, "");
        assert_string_equal(back.inst[1].error, "");
        assert_int_equal(back.objs[0].hlc, 42);
        msgpack_unpacked_destroy(&u);
        /* a trailing byte makes it not one object */
        msgpack_sbuffer_write(&sb, "\xc0", 1);
        assert_int_equal(om_cl_mp_unpack(sb.data, sb.size, &u), -EBADMSG);
        msgpack_sbuffer_destroy(&sb);
        om_cl_nodedata_done(&back);
}

/* Instances arrive in any order (an older agent's, a map): unpack sorts them by path, and
 * the view finds each one by binary search, an absent one not at all. The monitor state
 * travels by name. */
static void test_nodedata_sorted(void **state) {
        struct om_cl_instance inst[3] = {{.path = "demo/svc/web", .avail = "up"},
                                         {.path = "demo/svc/app", .avail = "down"},
                                         {.path = "demo/svc/db", .avail = "up"}};
        inst[1].monitor = OM_MON_STOP_FAILED;
        struct om_cl_nodedata nd = {.gen = 1, .state = "idle", .inst = inst, .n_inst = 3};
        struct om_cl_nodedata back = {0};
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_unpacked u;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        om_cl_nodedata_pack(&nd, &pk);
        assert_int_equal(om_cl_mp_unpack(sb.data, sb.size, &u), 0);
        assert_int_equal(om_cl_nodedata_unpack(&u.data, &back), 0);
        assert_true(back.inst_sorted);
        assert_string_equal(back.inst[0].path, "demo/svc/app");
        assert_string_equal(back.inst[2].path, "demo/svc/web");
        assert_int_equal(back.inst[0].monitor, OM_MON_STOP_FAILED);
        struct om_peer peers[2] = {{.name = "n1", .self = true}, {.name = "n2"}};
        peers[1].have_data = true;
        peers[1].data = back;
        struct om_view v = {.peers = peers, .n = 2, .self = 0, .local = &nd};
        for (int k = 0; k < 3; k++) {
                const struct om_cl_instance *in = om_view_inst(&v, 1, inst[k].path);
                assert_non_null(in);
                assert_string_equal(in->avail, inst[k].avail);
                /* the local data is not sorted: found by a scan */
                assert_ptr_equal(om_view_inst(&v, 0, inst[k].path), &inst[k]);
        }
        assert_null(om_view_inst(&v, 1, "demo/svc/cache"));
        assert_null(om_view_inst(&v, 1, "a/svc/first"));
        assert_null(om_view_inst(&v, 1, "zz/svc/last"));
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
        om_cl_nodedata_done(&back);
}

static void test_nodedata_refusals(void **state) {
        struct om_cl_nodedata back = {0};
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_unpacked u;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        /* an instance path that is no object path */
        msgpack_pack_map(&pk, 5);
        om_cl_mp_kv_u64(&pk, "gen", 1);
        om_cl_mp_kv_str(&pk, "state", "idle");
        om_cl_mp_kv_bool(&pk, "frozen", false);
        om_cl_mp_str_pack(&pk, "instances");
        msgpack_pack_map(&pk, 1);
        om_cl_mp_str_pack(&pk, "../../etc/passwd");
        msgpack_pack_map(&pk, 0);
        om_cl_mp_str_pack(&pk, "objects");
        msgpack_pack_map(&pk, 0);
        assert_int_equal(om_cl_mp_unpack(sb.data, sb.size, &u), 0);
        assert_int_equal(om_cl_nodedata_unpack(&u.data, &back), -EBADMSG);
        assert_int_equal(back.n_inst, 0);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
}

static void objver(struct om_cl_objver *v, const char *path, uint64_t hlc, const char *writer,
                   bool deleted) {
        memset(v, 0, sizeof(*v));
        snprintf(v->path, sizeof(v->path), "%s", path);
        snprintf(v->writer, sizeof(v->writer), "%s", writer);
        v->hlc = hlc;
        v->deleted = deleted;
}

/* A node provisioning after the leader must see the leader's secrets of the namespace */
static void test_secs_synced(void **state) {
        (void)state;
        struct om_cl_objver pv[4], lv[3];
        struct om_cl_nodedata peer = {.objs = pv, .n_objs = 4};
        struct om_cl_nodedata local = {.objs = lv, .n_objs = 0};
        objver(&pv[0], "demo/sec/loopcrypt", 200, "n1", false);
        objver(&pv[1], "demo/svc/loopcrypt", 300, "n1", false);
        objver(&pv[2], "other/sec/x", 500, "n1", false);
        objver(&pv[3], "demo/sec/gone", 100, "n1", true);
        /* nothing here: the secret of demo is missing, the other namespace does not count */
        assert_false(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        assert_true(om_cl_nodedata_secs_synced(&local, &peer, "nothere"));
        /* an older copy is not enough, an equal or newer one is */
        objver(&lv[0], "demo/sec/loopcrypt", 199, "n1", false);
        local.n_objs = 1;
        assert_false(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        lv[0].hlc = 200;
        assert_true(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        /* same clock, the writer breaks the tie as everywhere else */
        objver(&lv[0], "demo/sec/loopcrypt", 200, "n0", false);
        assert_int_equal(om_cl_nodedata_secs_synced(&local, &peer, "demo"), strcmp("n0", "n1") > 0);
        objver(&lv[0], "demo/sec/loopcrypt", 201, "n0", false);
        assert_true(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        /* a tombstone older than the peer's is behind; a newer object passes */
        objver(&lv[1], "demo/sec/gone", 50, "n1", true);
        local.n_objs = 2;
        assert_false(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        objver(&lv[1], "demo/sec/gone", 150, "n2", false);
        assert_true(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        /* "dem" is not a prefix of the namespace "demo" */
        objver(&pv[2], "dem/sec/x", 500, "n1", false);
        assert_true(om_cl_nodedata_secs_synced(&local, &peer, "demo"));
        assert_false(om_cl_nodedata_secs_synced(&local, &peer, "dem"));
}

static void test_mp_unpack_bounds(void **state) {
        msgpack_unpacked u;
        /* containers announcing more elements than bytes are refused before allocating */
        assert_int_equal(om_cl_mp_unpack("\xdd\xff\xff\xff\xff", 5, &u), -EBADMSG);
        assert_int_equal(om_cl_mp_unpack("\xdf\x00\x01\x00\x00\x01", 6, &u), -EBADMSG);
        assert_int_equal(om_cl_mp_unpack("\xdb\xff\xff\xff\xff"
                                         "ab",
                                         7, &u),
                         -EBADMSG);
        assert_int_equal(om_cl_mp_unpack("\xc1", 1, &u), -EBADMSG);
        assert_int_equal(om_cl_mp_unpack("\x92\x01", 2, &u), -EBADMSG);
        /* well formed nesting and every scalar width pass */
        const char ok[] = "\x82\xa1v\x01\xa1x\x94\xcd\x01\x00\xcb\x00\x00\x00\x00\x00\x00"
                          "\x00\x00\x80\xc4\x02"
                          "ab";
        assert_int_equal(om_cl_mp_unpack(ok, sizeof(ok) - 1, &u), 0);
        assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
        msgpack_unpacked_destroy(&u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_errors_name_the_line),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_nodedata_roundtrip),
                cmocka_unit_test(test_nodedata_sorted),
                cmocka_unit_test(test_nodedata_refusals),
                cmocka_unit_test(test_secs_synced),
                cmocka_unit_test(test_mp_unpack_bounds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
