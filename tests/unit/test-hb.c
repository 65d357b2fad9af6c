/*
 * Unit tests of cluster/hb_frame.c: sealing and opening, and one test for each reason a
 * receiver drops a heartbeat (truncated, oversized, malformed, unknown sender, fails to
 * open, another cluster's, replay), each asserting the matching counter moves and no
 * other, plus the replay window's edges (reordering, 64 behind, a new boot).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cluster/hb_frame.h"

static uint8_t key[OM_HB_KEY_LEN], other_key[OM_HB_KEY_LEN];
static const char nodes[3][64] = {"n1", "n2", "n3"};
static struct om_hb_window windows[3];
static uint8_t boot[OM_HB_BOOT_ID_LEN];

static struct om_hb_rx_ctx ctx(void) {
        return (struct om_hb_rx_ctx){.key = key,
                                     .keygen = 1,
                                     .cluster = "default",
                                     .self = "n1",
                                     .n_nodes = 3,
                                     .nodes = nodes,
                                     .windows = windows};
}

static int frame_gen(const uint8_t *k, uint32_t keygen, const char *sender, const char *cluster,
                     uint64_t seq, const uint8_t *boot_id, uint8_t *out) {
        uint8_t payload[256];
        int n = om_hb_beat_pack(cluster, 7, 1234, NULL, NULL, payload, sizeof(payload));
        assert_true(n > 0);
        struct om_hb_info info = {.type = OM_HB_BEAT, .keygen = keygen, .seq = seq};
        snprintf(info.sender, sizeof(info.sender), "%s", sender);
        memcpy(info.boot_id, boot_id, OM_HB_BOOT_ID_LEN);
        int len = om_hb_seal(k, &info, payload, (size_t)n, out, OM_HB_UDP_MAX);
        assert_true(len > 0);
        return len;
}

static int frame(const uint8_t *k, const char *sender, const char *cluster, uint64_t seq,
                 const uint8_t *boot_id, uint8_t *out) {
        return frame_gen(k, 1, sender, cluster, seq, boot_id, out);
}

static int setup(void **state) {
        memset(windows, 0, sizeof(windows));
        randombytes_buf(key, sizeof(key));
        randombytes_buf(other_key, sizeof(other_key));
        om_hb_boot_id_new(boot);
        return 0;
}

static uint64_t total_drops(const struct om_hb_stats *st) {
        uint64_t t = 0;
        for (int i = 0; i < _OM_HB_DROP_MAX; i++)
                t += st->drops[i];
        return t;
}

static void expect_drop(const uint8_t *f, size_t len, enum om_hb_drop why) {
        struct om_hb_rx_ctx c = ctx();
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        assert_int_equal(om_hb_receive(&c, &st, f, len, &b), -EBADMSG);
        assert_int_equal(st.drops[why], 1);
        assert_int_equal(total_drops(&st), 1);
        assert_int_equal(st.rx_frames, 0);
}

static void test_accept(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(key, "n2", "default", 1, boot, f);
        struct om_hb_rx_ctx c = ctx();
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), 0);
        assert_int_equal(b.node, 1);
        assert_int_equal(b.gen, 7);
        assert_true(b.new_boot);
        assert_int_equal(st.rx_frames, 1);
        assert_int_equal(total_drops(&st), 0);
}

/* The sets of nodes the sender hears and lends its vote to travel with the beat; a beat
 * of an older agent has none (not known), and a set that is not an array of at most two
 * unsigned words is a malformed payload. */
static int frame_payload(const uint8_t *payload, size_t n, uint64_t seq, uint8_t *out) {
        struct om_hb_info info = {.type = OM_HB_BEAT, .keygen = 1, .seq = seq};
        snprintf(info.sender, sizeof(info.sender), "n2");
        memcpy(info.boot_id, boot, OM_HB_BOOT_ID_LEN);
        int len = om_hb_seal(key, &info, payload, n, out, OM_HB_UDP_MAX);
        assert_true(len > 0);
        return len;
}

static void test_hears(void **state) {
        uint8_t payload[256], f[OM_HB_UDP_MAX];
        uint64_t hears[OM_HB_HEARS_WORDS] = {0x5, 1ull << 63};
        struct om_hb_rx_ctx c = ctx();
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        int n = om_hb_beat_pack("default", 3, 1, hears, NULL, payload, sizeof(payload));
        assert_true(n > 0);
        int len = frame_payload(payload, (size_t)n, 1, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)len, &b), 0);
        assert_true(b.hears_known);
        assert_int_equal(b.hears[0], 0x5);
        assert_int_equal(b.hears[1], 1ull << 63);
        assert_false(b.lends_known);
        n = om_hb_beat_pack("default", 3, 1, NULL, NULL, payload, sizeof(payload));
        len = frame_payload(payload, (size_t)n, 2, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)len, &b), 0);
        assert_false(b.hears_known);
        assert_false(b.lends_known);
        uint64_t lends[OM_HB_HEARS_WORDS] = {0x4, 0};
        n = om_hb_beat_pack("default", 3, 1, hears, lends, payload, sizeof(payload));
        len = frame_payload(payload, (size_t)n, 5, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)len, &b), 0);
        assert_true(b.hears_known && b.lends_known);
        assert_int_equal(b.hears[0], 0x5);
        assert_int_equal(b.lends[0], 0x4);
        assert_int_equal(b.lends[1], 0);
        /* {"v":1,"c":"default","g":3,"t":1,"l":[-1]}: a negative word */
        static const uint8_t bad_lends[] = {0x85, 0xa1, 'v', 1,   0xa1, 'c', 0xa7, 'd',
                                            'e',  'f',  'a', 'u', 'l',  't', 0xa1, 'g',
                                            3,    0xa1, 't', 1,   0xa1, 'l', 0x91, 0xff};
        len = frame_payload(bad_lends, sizeof(bad_lends), 6, f);
        expect_drop(f, (size_t)len, OM_HB_DROP_MALFORMED);
        /* {"v":1,"c":"default","g":3,"t":1,"h":"x"} and "h" with three words */
        static const uint8_t bad_type[] = {0x85, 0xa1, 'v', 1,   0xa1, 'c', 0xa7, 'd',
                                           'e',  'f',  'a', 'u', 'l',  't', 0xa1, 'g',
                                           3,    0xa1, 't', 1,   0xa1, 'h', 0xa1, 'x'};
        static const uint8_t too_long[] = {0x85, 0xa1, 'v',  1,   0xa1, 'c',  0xa7, 'd', 'e',
                                           'f',  'a',  'u',  'l', 't',  0xa1, 'g',  3,   0xa1,
                                           't',  1,    0xa1, 'h', 0x93, 1,    2,    3};
        len = frame_payload(bad_type, sizeof(bad_type), 7, f);
        expect_drop(f, (size_t)len, OM_HB_DROP_MALFORMED);
        len = frame_payload(too_long, sizeof(too_long), 8, f);
        expect_drop(f, (size_t)len, OM_HB_DROP_MALFORMED);
}

/* During a secret rotation a receiver opens frames of both generations, each with its
 * key; a frame of a generation it does not hold, or sealed with the other key than its
 * generation names, is dropped as failing to open. */
static void test_rotation_generations(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        struct om_hb_rx_ctx c = ctx();
        c.key_alt = other_key;
        c.keygen_alt = 2;
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        int n = frame_gen(other_key, 2, "n2", "default", 1, boot, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), 0);
        n = frame_gen(key, 1, "n2", "default", 2, boot, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), 0);
        n = frame_gen(key, 2, "n2", "default", 3, boot, f); /* generation 2, key of 1 */
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), -EBADMSG);
        n = frame_gen(other_key, 3, "n2", "default", 4, boot, f); /* unknown generation */
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), -EBADMSG);
        assert_int_equal(st.drops[OM_HB_DROP_OPEN], 2);
        /* the rotation over: generation 2 alone */
        c = ctx();
        c.key = other_key;
        c.keygen = 2;
        n = frame_gen(key, 1, "n2", "default", 5, boot, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), -EBADMSG);
        n = frame_gen(other_key, 2, "n2", "default", 6, boot, f);
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), 0);
}

static void test_drop_truncated(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(key, "n2", "default", 1, boot, f);
        expect_drop(f, OM_HB_OVERHEAD - 1, OM_HB_DROP_SHORT);
        expect_drop(f, 0, OM_HB_DROP_SHORT);
        /* cut inside the sealed payload: the tag no longer matches */
        expect_drop(f, (size_t)n - 1, OM_HB_DROP_OPEN);
}

static void test_drop_oversized(void **state) {
        static uint8_t big[OM_HB_UDP_MAX + 1];
        int n = frame(key, "n2", "default", 1, boot, big);
        (void)n;
        expect_drop(big, sizeof(big), OM_HB_DROP_SIZE);
}

static void test_drop_malformed(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(key, "n2", "default", 1, boot, f);
        f[0] = 'X';
        expect_drop(f, (size_t)n, OM_HB_DROP_MALFORMED);
        n = frame(key, "n2", "default", 1, boot, f);
        f[4] = 99; /* version */
        expect_drop(f, (size_t)n, OM_HB_DROP_MALFORMED);
}

static void test_drop_unknown_sender(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(key, "intruder", "default", 1, boot, f);
        expect_drop(f, (size_t)n, OM_HB_DROP_SENDER);
        n = frame(key, "n1", "default", 1, boot, f); /* ourselves */
        expect_drop(f, (size_t)n, OM_HB_DROP_SENDER);
}

static void test_drop_open_failed(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(other_key, "n2", "default", 1, boot, f);
        expect_drop(f, (size_t)n, OM_HB_DROP_OPEN);
        /* a header byte changed: the associated data no longer matches */
        n = frame(key, "n2", "default", 1, boot, f);
        f[offsetof(struct om_hb_header, seq) + 7] ^= 1;
        expect_drop(f, (size_t)n, OM_HB_DROP_OPEN);
        /* and the forged frames did not move the window */
        assert_false(windows[1].init);
}

static void test_drop_other_cluster(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(key, "n2", "prod", 1, boot, f);
        expect_drop(f, (size_t)n, OM_HB_DROP_CLUSTER);
}

static void test_drop_replay(void **state) {
        uint8_t f[OM_HB_UDP_MAX];
        int n = frame(key, "n2", "default", 5, boot, f);
        struct om_hb_rx_ctx c = ctx();
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        assert_int_equal(om_hb_receive(&c, &st, f, (size_t)n, &b), 0);
        expect_drop(f, (size_t)n, OM_HB_DROP_REPLAY);
}

static void test_window(void **state) {
        struct om_hb_window w = {0};
        uint8_t b1[OM_HB_BOOT_ID_LEN] = {0, 0, 0, 1}, b2[OM_HB_BOOT_ID_LEN] = {0, 0, 0, 2};
        assert_int_equal(om_hb_window_check(&w, b1, 100), 0);
        assert_int_equal(om_hb_window_commit(&w, b1, 100), 1);
        assert_int_equal(om_hb_window_check(&w, b1, 100), -ESTALE);
        /* reordered within the window: accepted once */
        assert_int_equal(om_hb_window_check(&w, b1, 90), 0);
        om_hb_window_commit(&w, b1, 90);
        assert_int_equal(om_hb_window_check(&w, b1, 90), -ESTALE);
        assert_int_equal(om_hb_window_check(&w, b1, 101), 0);
        om_hb_window_commit(&w, b1, 101);
        assert_int_equal(om_hb_window_check(&w, b1, 100), -ESTALE);
        /* 64 behind the top is out of the window */
        assert_int_equal(om_hb_window_check(&w, b1, 101 - 64), -ESTALE);
        assert_int_equal(om_hb_window_check(&w, b1, 101 - 63), 0);
        /* a big jump forgets the old bits */
        om_hb_window_commit(&w, b1, 1000);
        assert_int_equal(om_hb_window_check(&w, b1, 999), 0);
        /* a later boot restarts the window, an older one is a replay */
        assert_int_equal(om_hb_window_check(&w, b2, 1), 0);
        assert_int_equal(om_hb_window_commit(&w, b2, 1), 1);
        assert_int_equal(om_hb_window_check(&w, b1, 5000), -ESTALE);
        assert_int_equal(om_hb_window_check(&w, b2, 1), -ESTALE);
}

static void test_seal_too_small(void **state) {
        uint8_t out[OM_HB_OVERHEAD + 3];
        struct om_hb_info info = {.type = OM_HB_BEAT, .keygen = 1, .seq = 1};
        snprintf(info.sender, sizeof(info.sender), "n2");
        assert_int_equal(om_hb_seal(key, &info, "abcd", 4, out, sizeof(out)), -EMSGSIZE);
        assert_int_equal(om_hb_seal(key, &info, "abc", 3, out, sizeof(out)),
                         (int)(OM_HB_OVERHEAD + 3));
}

int main(void) {
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_accept, setup),
                cmocka_unit_test_setup(test_rotation_generations, setup),
                cmocka_unit_test_setup(test_hears, setup),
                cmocka_unit_test_setup(test_drop_truncated, setup),
                cmocka_unit_test_setup(test_drop_oversized, setup),
                cmocka_unit_test_setup(test_drop_malformed, setup),
                cmocka_unit_test_setup(test_drop_unknown_sender, setup),
                cmocka_unit_test_setup(test_drop_open_failed, setup),
                cmocka_unit_test_setup(test_drop_other_cluster, setup),
                cmocka_unit_test_setup(test_drop_replay, setup),
                cmocka_unit_test_setup(test_window, setup),
                cmocka_unit_test_setup(test_seal_too_small, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
