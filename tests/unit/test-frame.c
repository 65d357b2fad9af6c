/*
 * Unit tests of cluster/frame.c: the length prefix, the receiving state machine (a
 * stream of frames fed whole, byte by byte and split at every byte gives the same
 * frames; lengths out of bounds refused; the buffer never larger than the bytes
 * received), sealed peer messages (one frame when small, an announce then the frame when
 * larger than OM_LIM_PEER_FIRST_FRAME), and the command tables of both APIs (unique
 * names, who may call each).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "agent/api_cmds.h"
#include "cluster/cl_mp.h"
#include "cluster/frame.h"

static void test_prefix(void **state) {
        uint8_t p[4];
        om_frame_prefix_put(p, 0x01020304);
        assert_memory_equal(p, "\x01\x02\x03\x04", 4);
        assert_int_equal(om_frame_prefix_get(p), 0x01020304);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        om_frame_sbuf_begin(&sb);
        msgpack_sbuffer_write(&sb, "abc", 3);
        om_frame_sbuf_end(&sb);
        assert_int_equal(sb.size, 7);
        assert_int_equal(om_frame_prefix_get((uint8_t *)sb.data), 3);
        msgpack_sbuffer_destroy(&sb);
}

/* A stream of n frames of lengths 1..n*37, each byte its index. */
static size_t make_stream(uint8_t **ret, int n) {
        struct om_buf b = {0};
        for (int i = 1; i <= n; i++) {
                uint8_t p[4];
                size_t len = (size_t)i * 37;
                om_frame_prefix_put(p, (uint32_t)len);
                assert_int_equal(om_buf_append(&b, p, 4), 0);
                for (size_t k = 0; k < len; k++) {
                        uint8_t c = (uint8_t)(i + k);
                        assert_int_equal(om_buf_append(&b, &c, 1), 0);
                }
        }
        *ret = (uint8_t *)b.data;
        return b.len;
}

/* Feeds data in pieces of at most step bytes (0: all at once, then split at cut);
 * checks each frame and returns how many came out. */
static int feed_all(const uint8_t *data, size_t len, size_t step, size_t cut) {
        struct om_frame_rx rx;
        int frames = 0;
        om_frame_rx_init(&rx, 1, 1 << 20);
        size_t at = 0;
        while (at < len) {
                size_t n = step ? step : (at < cut ? cut - at : len - at);
                if (n > len - at)
                        n = len - at;
                const uint8_t *p = data + at;
                size_t left = n;
                while (left) {
                        ssize_t used = om_frame_rx_feed(&rx, p, left);
                        assert_true(used >= 0);
                        p += used;
                        left -= (size_t)used;
                        assert_true(rx.body.cap <= rx.want + 1);
                        if (rx.ready) {
                                frames++;
                                assert_int_equal(rx.want, (size_t)frames * 37);
                                for (size_t k = 0; k < rx.want; k++)
                                        assert_int_equal(om_frame_rx_data(&rx)[k],
                                                         (uint8_t)(frames + k));
                                om_frame_rx_next(&rx);
                        }
                }
                at += n;
        }
        assert_false(om_frame_rx_partial(&rx));
        om_frame_rx_free(&rx);
        return frames;
}

static void test_rx_splits(void **state) {
        uint8_t *s;
        size_t len = make_stream(&s, 5);
        assert_int_equal(feed_all(s, len, 0, len), 5);
        assert_int_equal(feed_all(s, len, 1, 0), 5);
        assert_int_equal(feed_all(s, len, 7, 0), 5);
        for (size_t cut = 0; cut <= len; cut++)
                assert_int_equal(feed_all(s, len, 0, cut), 5);
        free(s);
}

static void test_rx_bounds(void **state) {
        struct om_frame_rx rx;
        uint8_t big[4], zero[4] = {0}, small[4];
        om_frame_prefix_put(big, 1001);
        om_frame_prefix_put(small, 9);
        om_frame_rx_init(&rx, 10, 1000);
        assert_int_equal(om_frame_rx_feed(&rx, big, 3), 3);
        assert_true(om_frame_rx_partial(&rx));
        assert_int_equal(om_frame_rx_feed(&rx, big + 3, 1), -1);
        assert_int_equal(rx.err, OM_FRAME_TOO_LARGE);
        assert_string_equal(om_frame_err_to_string(rx.err), "too_large");
        assert_int_equal(om_frame_rx_feed(&rx, big, 4), -1); /* stays refused */
        om_frame_rx_free(&rx);
        om_frame_rx_init(&rx, 10, 1000);
        assert_int_equal(om_frame_rx_feed(&rx, small, 4), -1);
        assert_int_equal(rx.err, OM_FRAME_TOO_SMALL);
        om_frame_rx_free(&rx);
        om_frame_rx_init(&rx, 0, 1000);
        assert_int_equal(om_frame_rx_feed(&rx, zero, 4), -1);
        assert_int_equal(rx.err, OM_FRAME_TOO_SMALL);
        om_frame_rx_free(&rx);
        /* an announced length costs only the bytes that arrived */
        uint8_t p[4 + 100] = {0};
        om_frame_prefix_put(p, 1000000);
        om_frame_rx_init(&rx, 1, 1 << 20);
        assert_int_equal(om_frame_rx_feed(&rx, p, sizeof(p)), sizeof(p));
        assert_true(rx.body.cap <= 1024);
        /* the bound raised between frames takes effect on the next prefix */
        om_frame_rx_free(&rx);
}

static void test_peer_seal(void **state) {
        uint8_t key[OM_HB_KEY_LEN];
        randombytes_buf(key, sizeof(key));
        for (int big = 0; big <= 1; big++) {
                size_t plen = big ? 300000 : 1000;
                msgpack_sbuffer sb;
                msgpack_packer pk;
                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                msgpack_pack_map(&pk, 1);
                om_cl_mp_str_pack(&pk, "x");
                char *filler = calloc(1, plen);
                msgpack_pack_bin(&pk, plen);
                msgpack_pack_bin_body(&pk, filler, plen);
                free(filler);
                struct om_hb_info info = {.type = OM_HB_PEER_RESP, .keygen = 1, .seq = 41};
                snprintf(info.sender, sizeof(info.sender), "n1");
                uint8_t *out;
                size_t len;
                assert_int_equal(
                        om_frame_peer_seal(key, &info, 7, 1234, sb.data, sb.size, &out, &len), 0);
                assert_int_equal(info.seq, big ? 43 : 42);
                /* read it as a receiver does: first bound, announce, raised bound */
                struct om_frame_rx rx;
                om_frame_rx_init(&rx, OM_HB_OVERHEAD, OM_LIM_PEER_FIRST_FRAME);
                ssize_t used = om_frame_rx_feed(&rx, out, len);
                assert_true(used > 0 && rx.ready);
                uint8_t *plain = malloc(rx.want);
                int n = om_hb_open(key, om_frame_rx_data(&rx), rx.want, plain);
                assert_true(n > 0);
                msgpack_unpacked u;
                assert_int_equal(om_cl_mp_unpack(plain, (size_t)n, &u), 0);
                uint64_t more = 0, echo = 0;
                assert_int_equal(om_frame_peer_announce(&u.data, &more), big);
                if (big) {
                        assert_int_equal(om_cl_mp_get_u64(&u.data, "echo", &echo), 0);
                        assert_int_equal(echo, 7);
                }
                msgpack_unpacked_destroy(&u);
                free(plain);
                if (big) {
                        om_frame_rx_next(&rx);
                        rx.max = more;
                        assert_int_equal(om_frame_rx_feed(&rx, out + used, len - (size_t)used),
                                         (ssize_t)(len - (size_t)used));
                        assert_true(rx.ready);
                        assert_int_equal(rx.want, more);
                        /* the same bytes with the first bound are refused */
                        struct om_frame_rx rx2;
                        om_frame_rx_init(&rx2, OM_HB_OVERHEAD, OM_LIM_PEER_FIRST_FRAME);
                        assert_int_equal(om_frame_rx_feed(&rx2, out + used, len - (size_t)used),
                                         -1);
                        assert_int_equal(rx2.err, OM_FRAME_TOO_LARGE);
                        om_frame_rx_free(&rx2);
                } else
                        assert_int_equal((size_t)used, len);
                om_frame_rx_free(&rx);
                free(out);
                msgpack_sbuffer_destroy(&sb);
        }
}

static void test_announce_checks(void **state) {
        const uint64_t bad[] = {0, OM_HB_OVERHEAD, (uint64_t)OM_LIM_PEER_FRAME_MAX + 1};
        for (size_t i = 0; i < 3; i++) {
                msgpack_sbuffer sb;
                msgpack_packer pk;
                msgpack_unpacked u;
                uint64_t more;
                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                msgpack_pack_map(&pk, 1);
                om_cl_mp_kv_u64(&pk, "more", bad[i]);
                assert_int_equal(om_cl_mp_unpack(sb.data, sb.size, &u), 0);
                assert_int_equal(om_frame_peer_announce(&u.data, &more), -EBADMSG);
                msgpack_unpacked_destroy(&u);
                msgpack_sbuffer_destroy(&sb);
        }
}

static void check_table(const struct om_api_cmd *(*at)(size_t), size_t want) {
        size_t n = 0;
        for (; at(n); n++) {
                assert_true(strlen(at(n)->name) < OM_API_CMD_MAX);
                for (size_t k = 0; k < n; k++)
                        assert_string_not_equal(at(k)->name, at(n)->name);
        }
        assert_int_equal(n, want);
}

static void test_cmd_tables(void **state) {
        check_table(om_api_local_cmd, 11);
        check_table(om_api_peer_cmd, 9);
        for (size_t i = 0; om_api_local_cmd(i); i++) {
                const struct om_api_cmd *c = om_api_local_cmd(i);
                assert_true(om_api_local_may(c, 0, 1000, false));
                assert_true(om_api_local_may(c, 1000, 1000, false));
                assert_false(om_api_local_may(c, 1001, 1000, false));
                /* the om group reads: status, object_target, events, metrics; nothing that changes
                 */
                bool read = !strcmp(c->name, "status") || !strcmp(c->name, "object_target") ||
                            !strcmp(c->name, "events") || !strcmp(c->name, "metrics");
                assert_int_equal(om_api_local_may(c, 1001, 1000, true), read);
                /* a peer command is never a local one and the reverse */
                assert_non_null(om_api_peer_may(c, true, true));
        }
        for (size_t i = 0; om_api_peer_cmd(i); i++) {
                const struct om_api_cmd *c = om_api_peer_cmd(i);
                bool join = strcmp(c->name, "join") == 0;
                assert_int_equal(c->who, join ? OM_API_WHO_SECRET : OM_API_WHO_MEMBER);
                assert_null(om_api_peer_may(c, true, true));
                assert_string_equal(om_api_peer_may(c, true, false), "stale request");
                if (join)
                        assert_null(om_api_peer_may(c, false, true));
                else
                        assert_string_equal(om_api_peer_may(c, false, true), "unknown sender");
                assert_false(om_api_local_may(c, 0, 0, true));
        }
}

int main(void) {
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_prefix),          cmocka_unit_test(test_rx_splits),
                cmocka_unit_test(test_rx_bounds),       cmocka_unit_test(test_peer_seal),
                cmocka_unit_test(test_announce_checks), cmocka_unit_test(test_cmd_tables),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
