/*
 * Unit tests of cluster/hb_disk.c: the slot layout (block 0 left alone, node i in block
 * i + 1, a node appended gets the next block), the slot encoding and its garbage cases,
 * and the judgement of slots read: the first read primes, a new beat is taken, an
 * unchanged slot counts nothing, a slot written back with an older beat is a replay, a
 * slot of another cluster (another key, or the same key and another cluster name), a
 * network beat copied into a slot, a beat in another node's slot, an unknown sender, and
 * this node's own slot before its first write.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cluster/hb_disk.h"

static uint8_t key[OM_HB_KEY_LEN], other_key[OM_HB_KEY_LEN];
static const char nodes[3][64] = {"n1", "n2", "n3"};
static struct om_hb_window windows[3];
static struct om_hbd_slot_state slots[3];
static uint8_t boot[OM_HB_BOOT_ID_LEN];

static struct om_hb_rx_ctx ctx(void) {
        return (struct om_hb_rx_ctx){.key = key,
                                     .keygen = 1,
                                     .cluster = "default",
                                     .self = "n1",
                                     .n_nodes = 3,
                                     .nodes = nodes,
                                     .windows = windows,
                                     .type = OM_HB_DISK_BEAT};
}

static int setup(void **state) {
        memset(windows, 0, sizeof(windows));
        memset(slots, 0, sizeof(slots));
        randombytes_buf(key, sizeof(key));
        randombytes_buf(other_key, sizeof(other_key));
        om_hb_boot_id_new(boot);
        return 0;
}

/* A slot holding a beat of sender, sealed with k, of cluster, sequence seq, frame type. */
static void slot_make(const uint8_t *k, enum om_hb_type type, const char *sender,
                      const char *cluster, uint64_t seq, uint64_t gen, uint8_t *slot) {
        uint8_t payload[256], frame[OM_HB_UDP_MAX];
        int n = om_hb_beat_pack(cluster, gen, 1234, NULL, NULL, payload, sizeof(payload));
        assert_true(n > 0);
        struct om_hb_info info = {.type = type, .keygen = 1, .seq = seq};
        snprintf(info.sender, sizeof(info.sender), "%s", sender);
        memcpy(info.boot_id, boot, OM_HB_BOOT_ID_LEN);
        int len = om_hb_seal(k, &info, payload, (size_t)n, frame, sizeof(frame));
        assert_true(len > 0);
        assert_int_equal(om_hbd_slot_pack(frame, (size_t)len, slot), 0);
}

static void slot_beat(const char *sender, uint64_t seq, uint8_t *slot) {
        slot_make(key, OM_HB_DISK_BEAT, sender, "default", seq, seq, slot);
}

static uint64_t total_drops(const struct om_hb_stats *st) {
        uint64_t t = 0;
        for (int i = 0; i < _OM_HB_DROP_MAX; i++)
                t += st->drops[i];
        return t;
}

static int recv_slot(size_t idx, const uint8_t *slot, struct om_hb_stats *st,
                     struct om_hb_beat *b) {
        struct om_hb_rx_ctx c = ctx();
        return om_hbd_slot_receive(&c, st, &slots[idx], idx, slot, b);
}

static void test_layout(void **state) {
        assert_int_equal(om_hbd_slot_offset(0), 4096);
        assert_int_equal(om_hbd_slot_offset(2), 3 * 4096);
        /* appending node 3 leaves 0..2 where they were */
        assert_int_equal(om_hbd_slot_offset(3), 4 * 4096);
        assert_int_equal(om_hbd_slots_fit(0), 0);
        assert_int_equal(om_hbd_slots_fit(4096), 0);
        assert_int_equal(om_hbd_slots_fit(2 * 4096 - 1), 0);
        assert_int_equal(om_hbd_slots_fit(2 * 4096), 1);
        assert_int_equal(om_hbd_slots_fit(1 << 20), 255);
}

static void test_slot_encoding(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE], big[OM_HB_UDP_MAX + 1] = {0};
        const uint8_t *f;
        size_t len;
        memset(slot, 0, sizeof(slot));
        assert_int_equal(om_hbd_slot_parse(slot, &f, &len), OM_HBD_BLANK);
        slot_beat("n2", 1, slot);
        assert_memory_equal(slot, OM_HBD_MAGIC, 8);
        assert_int_equal(om_hbd_slot_parse(slot, &f, &len), OM_HBD_FRAME);
        assert_ptr_equal(f, slot + OM_HBD_HEADER);
        assert_true(len >= OM_HB_OVERHEAD && len <= OM_HB_UDP_MAX);
        assert_int_equal(om_hbd_slot_pack(big, sizeof(big), slot), -EMSGSIZE);

        /* garbage: one stray byte anywhere, a bad magic, lengths out of bounds */
        uint8_t g[OM_HBD_SLOT_SIZE];
        memset(g, 0, sizeof(g));
        g[4095] = 1;
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
        memcpy(g, slot, sizeof(g));
        g[0] ^= 1;
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
        memcpy(g, slot, sizeof(g));
        g[4095] = 1; /* after the frame */
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
        memcpy(g, slot, sizeof(g));
        g[13] = 1; /* reserved */
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
        memcpy(g, slot, sizeof(g));
        g[8] = 0xff; /* a length of 4 GB: never followed */
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
        memcpy(g, slot, sizeof(g));
        memset(g + 8, 0, 4);
        g[11] = (uint8_t)(OM_HB_OVERHEAD - 1); /* shorter than any frame */
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
        memset(g + 8, 0, 4);
        g[10] = (uint8_t)((OM_HB_UDP_MAX + 1) >> 8);
        g[11] = (uint8_t)(OM_HB_UDP_MAX + 1);
        assert_int_equal(om_hbd_slot_parse(g, &f, &len), OM_HBD_GARBAGE);
}

/* The first read primes (a dead node's last beat proves nothing); a new beat is taken;
 * the same content read again counts nothing, neither beat nor drop. */
static void test_prime_then_beats(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        slot_beat("n2", 10, slot);
        assert_int_equal(recv_slot(1, slot, &st, &b), 0);
        assert_int_equal(recv_slot(1, slot, &st, &b), 0);
        assert_int_equal(total_drops(&st), 0);
        slot_beat("n2", 11, slot);
        assert_int_equal(recv_slot(1, slot, &st, &b), 1);
        assert_int_equal(b.node, 1);
        assert_int_equal(b.gen, 11);
        assert_int_equal(recv_slot(1, slot, &st, &b), 0);
        assert_int_equal(total_drops(&st), 0);
        /* a blank slot (a node that never wrote) is nothing, once primed or not */
        uint8_t blank[OM_HBD_SLOT_SIZE] = {0};
        assert_int_equal(recv_slot(2, blank, &st, &b), 0);
        slot_beat("n3", 1, slot);
        assert_int_equal(recv_slot(2, slot, &st, &b), 1); /* primed by the blank read */
        assert_int_equal(total_drops(&st), 0);
}

static void expect_drop(size_t idx, const uint8_t *slot, enum om_hb_drop why) {
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        assert_int_equal(recv_slot(idx, slot, &st, &b), -EBADMSG);
        assert_int_equal(st.drops[why], 1);
        assert_int_equal(total_drops(&st), 1);
        assert_int_equal(st.rx_frames, 0);
        /* the same bytes again: judged once */
        assert_int_equal(recv_slot(idx, slot, &st, &b), 0);
        assert_int_equal(total_drops(&st), 1);
}

static void prime(size_t idx, const char *sender) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        slot_beat(sender, 100, slot);
        assert_int_equal(recv_slot(idx, slot, &st, &b), 0);
}

static void test_garbage_slot(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        prime(1, "n2");
        randombytes_buf(slot, sizeof(slot));
        expect_drop(1, slot, OM_HB_DROP_MALFORMED);
        /* a slot header around a frame whose header is not one */
        slot_beat("n2", 101, slot);
        slot[OM_HBD_HEADER] ^= 0xff;
        expect_drop(1, slot, OM_HB_DROP_MALFORMED);
        /* a tampered frame fails to open */
        slot_beat("n2", 102, slot);
        slot[OM_HBD_HEADER + sizeof(struct om_hb_header) + 2] ^= 1;
        expect_drop(1, slot, OM_HB_DROP_OPEN);
}

/* An older beat of n2 written back into its slot (or a copy of a beat seen before) */
static void test_replayed_slot(void **state) {
        uint8_t old[OM_HBD_SLOT_SIZE], cur[OM_HBD_SLOT_SIZE];
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        prime(1, "n2");
        slot_beat("n2", 101, old);
        assert_int_equal(recv_slot(1, old, &st, &b), 1);
        slot_beat("n2", 102, cur);
        assert_int_equal(recv_slot(1, cur, &st, &b), 1);
        expect_drop(1, old, OM_HB_DROP_REPLAY);
}

static void test_other_cluster(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        prime(1, "n2");
        /* another cluster's key: does not open */
        slot_make(other_key, OM_HB_DISK_BEAT, "n2", "default", 101, 1, slot);
        expect_drop(1, slot, OM_HB_DROP_OPEN);
        /* the same secret, another cluster name */
        slot_make(key, OM_HB_DISK_BEAT, "n2", "other", 102, 1, slot);
        expect_drop(1, slot, OM_HB_DROP_CLUSTER);
}

/* A network beat copied into a slot is not a disk beat (the type is sealed) */
static void test_network_beat_in_slot(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        prime(1, "n2");
        slot_make(key, OM_HB_BEAT, "n2", "default", 101, 1, slot);
        expect_drop(1, slot, OM_HB_DROP_MALFORMED);
}

static void test_wrong_slot_unknown_sender(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        prime(2, "n3");
        slot_beat("n2", 101, slot); /* n2's beat in n3's slot */
        expect_drop(2, slot, OM_HB_DROP_SLOT);
        slot_beat("n9", 102, slot);
        expect_drop(2, slot, OM_HB_DROP_SENDER);
}

/* this node's own slot is never judged as a peer's */
static void test_own_slot_skipped(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        struct om_hb_stats st = {0};
        struct om_hb_beat b;
        slot_beat("n1", 1, slot);
        assert_int_equal(recv_slot(0, slot, &st, &b), 0);
        slot_beat("n1", 2, slot);
        assert_int_equal(recv_slot(0, slot, &st, &b), 0);
        assert_int_equal(total_drops(&st), 0);
}

static void test_own_slot_check(void **state) {
        uint8_t slot[OM_HBD_SLOT_SIZE];
        char owner[OM_HB_SENDER_MAX + 1];
        memset(slot, 0, sizeof(slot));
        assert_int_equal(om_hbd_own_slot_check(slot, "n1", 3, nodes, owner), 0);
        slot_beat("n1", 1, slot);
        assert_int_equal(om_hbd_own_slot_check(slot, "n1", 3, nodes, owner), 0);
        /* a node no longer in the cluster: its old slot is free */
        slot_beat("n9", 1, slot);
        assert_int_equal(om_hbd_own_slot_check(slot, "n1", 3, nodes, owner), 0);
        slot_beat("n2", 1, slot);
        assert_int_equal(om_hbd_own_slot_check(slot, "n1", 3, nodes, owner), -EEXIST);
        assert_string_equal(owner, "n2");
        /* other data (a partition table, a file system): never overwritten */
        memset(slot, 0, sizeof(slot));
        memcpy(slot + 510, "\x55\xaa", 2);
        assert_int_equal(om_hbd_own_slot_check(slot, "n1", 3, nodes, owner), -ENOTBLK);
}

int main(void) {
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_layout, setup),
                cmocka_unit_test_setup(test_slot_encoding, setup),
                cmocka_unit_test_setup(test_prime_then_beats, setup),
                cmocka_unit_test_setup(test_garbage_slot, setup),
                cmocka_unit_test_setup(test_replayed_slot, setup),
                cmocka_unit_test_setup(test_other_cluster, setup),
                cmocka_unit_test_setup(test_network_beat_in_slot, setup),
                cmocka_unit_test_setup(test_wrong_slot_unknown_sender, setup),
                cmocka_unit_test_setup(test_own_slot_skipped, setup),
                cmocka_unit_test_setup(test_own_slot_check, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
