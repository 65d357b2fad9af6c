/*
 * Unit tests of core/util.h: buffers, string vectors, size/duration/bool/int parsing,
 * hex, UUIDs and the UTF-8 check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/util.h"

static void test_buf(void **state) {
        struct om_buf b = {0};
        assert_int_equal(om_buf_puts(&b, "ab"), 0);
        assert_int_equal(om_buf_printf(&b, "%d-%s", 42, "x"), 0);
        assert_int_equal(om_buf_append(&b, "\0z", 2), 0);
        assert_int_equal(b.len, 8);
        assert_memory_equal(b.data, "ab42-x\0z", 9);
        for (int i = 0; i < 1000; i++)
                assert_int_equal(om_buf_puts(&b, "0123456789"), 0);
        assert_int_equal(b.len, 10008);
        assert_int_equal(b.data[b.len], 0);
        char *s = om_buf_steal(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        free(s);
        s = om_buf_steal(&b);
        assert_string_equal(s, "");
        free(s);
}

static void test_strv(void **state) {
        _cleanup_strv_free_ char **v = NULL;
        assert_int_equal(om_strv_split("  b a\t\tc ", " \t", &v), 0);
        assert_int_equal(om_strv_length(v), 3);
        assert_string_equal(v[0], "b");
        assert_true(om_strv_contains(v, "c"));
        assert_false(om_strv_contains(v, "d"));
        om_strv_sort(v);
        _cleanup_free_ char *j = om_strv_join(v, ",");
        assert_string_equal(j, "a,b,c");
        assert_int_equal(om_strv_push(&v, "d"), 0);
        assert_int_equal(om_strv_length(v), 4);
        assert_null(v[4]);

        _cleanup_strv_free_ char **e = NULL;
        assert_int_equal(om_strv_split("   ", " ", &e), 0);
        assert_int_equal(om_strv_length(e), 0);
        _cleanup_free_ char *je = om_strv_join(e, ",");
        assert_string_equal(je, "");
}

static void test_parse_size(void **state) {
        uint64_t v = 7;
        assert_int_equal(om_parse_size("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(om_parse_size("1G", &v), 0);
        assert_int_equal(v, 1ULL << 30);
        assert_int_equal(om_parse_size("512M", &v), 0);
        assert_int_equal(v, 512ULL << 20);
        assert_int_equal(om_parse_size("100MiB", &v), 0);
        assert_int_equal(v, 100ULL << 20);
        assert_int_equal(om_parse_size("2kb", &v), 0);
        assert_int_equal(v, 2048);
        v = 7;
        assert_int_equal(om_parse_size("", &v), -EINVAL);
        assert_int_equal(om_parse_size("G", &v), -EINVAL);
        assert_int_equal(om_parse_size("-1G", &v), -EINVAL);
        assert_int_equal(om_parse_size("1X", &v), -EINVAL);
        assert_int_equal(om_parse_size("1 G", &v), -EINVAL);
        assert_int_equal(om_parse_size("1.5G", &v), -EINVAL);
        assert_true(om_parse_size("99999999999999999999", &v) < 0);
        assert_true(om_parse_size("17000000000P", &v) < 0);
        assert_int_equal(v, 7); /* untouched on failure */
}

static void test_parse_duration(void **state) {
        uint64_t v = 7;
        assert_int_equal(om_parse_duration_ms("500ms", &v), 0);
        assert_int_equal(v, 500);
        assert_int_equal(om_parse_duration_ms("1s", &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(om_parse_duration_ms("2m", &v), 0);
        assert_int_equal(v, 120000);
        assert_int_equal(om_parse_duration_ms("1h", &v), 0);
        assert_int_equal(v, 3600000);
        assert_int_equal(om_parse_duration_ms("3", &v), 0);
        assert_int_equal(v, 3000);
        v = 7;
        assert_int_equal(om_parse_duration_ms("1x", &v), -EINVAL);
        assert_int_equal(om_parse_duration_ms("ms", &v), -EINVAL);
        assert_int_equal(om_parse_duration_ms("", &v), -EINVAL);
        assert_int_equal(om_parse_duration_ms("1S", &v), -EINVAL);
        assert_true(om_parse_duration_ms("99999999999999999d", &v) < 0);
        assert_int_equal(v, 7);
}

static void test_parse_bool_int(void **state) {
        bool b = false;
        assert_int_equal(om_parse_bool("true", &b), 0);
        assert_true(b);
        assert_int_equal(om_parse_bool("No", &b), 0);
        assert_false(b);
        assert_int_equal(om_parse_bool("1", &b), 0);
        assert_true(b);
        assert_int_equal(om_parse_bool("maybe", &b), -EINVAL);
        assert_int_equal(om_parse_bool("", &b), -EINVAL);
        assert_true(b);

        long long v = 5;
        assert_int_equal(om_parse_int("-12", -100, 100, &v), 0);
        assert_int_equal(v, -12);
        assert_int_equal(om_parse_int("101", -100, 100, &v), -EINVAL);
        assert_int_equal(om_parse_int(" 1", -100, 100, &v), -EINVAL);
        assert_int_equal(om_parse_int("1 ", -100, 100, &v), -EINVAL);
        assert_int_equal(om_parse_int("0x10", -100, 100, &v), -EINVAL);
        assert_int_equal(om_parse_int("", -100, 100, &v), -EINVAL);
        assert_int_equal(om_parse_int("99999999999999999999", 0, 1LL << 62, &v), -EINVAL);
        assert_int_equal(v, -12);
}

static void test_format_size(void **state) {
        char buf[32];
        om_format_size(512, buf, sizeof(buf));
        assert_string_equal(buf, "512");
        om_format_size(1ULL << 30, buf, sizeof(buf));
        assert_string_equal(buf, "1.0G");
        om_format_size(977ULL << 20, buf, sizeof(buf));
        assert_string_equal(buf, "977M");
}

static void test_hex(void **state) {
        const uint8_t in[] = {0x00, 0xab, 0xff, 0x10};
        char out[9];
        uint8_t back[4];
        assert_int_equal(om_hex_encode(in, 4, out, sizeof(out)), 0);
        assert_string_equal(out, "00abff10");
        assert_int_equal(om_hex_encode(in, 4, out, 8), -ENOBUFS);
        assert_int_equal(om_hex_decode("00ABff10", back, 4), 0);
        assert_memory_equal(back, in, 4);
        assert_int_equal(om_hex_decode("00abff1", back, 4), -EINVAL);
        assert_int_equal(om_hex_decode("00abff1g", back, 4), -EINVAL);
}

static void test_uuid(void **state) {
        char a[37], b[37];
        assert_int_equal(om_uuid4(a), 0);
        assert_int_equal(om_uuid4(b), 0);
        assert_int_equal(strlen(a), 36);
        assert_true(om_uuid_valid(a));
        assert_string_not_equal(a, b);
        assert_int_equal(a[14], '4');
        assert_true(strchr("89ab", a[19]) != NULL);
        assert_true(om_uuid_valid("e60306f6-e429-4a02-bd8f-a537a918a217"));
        assert_false(om_uuid_valid("e60306f6-e429-4a02-bd8f-a537a918a21"));
        assert_false(om_uuid_valid("e60306f6e429-4a02-bd8f-a537a918a2170"));
        assert_false(om_uuid_valid("g60306f6-e429-4a02-bd8f-a537a918a217"));
}

static void test_utf8(void **state) {
        assert_true(om_utf8_valid("plain", 5));
        assert_true(om_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", 14));
        assert_false(om_utf8_valid("\xc3", 1));             /* truncated */
        assert_false(om_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
        assert_false(om_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
        assert_false(om_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
        assert_false(om_utf8_valid("\xff", 1));
        assert_false(om_utf8_valid("a\0b", 3));
        assert_false(om_utf8_valid("\xe2\x82", 2));
}

static void test_strings(void **state) {
        char s[] = " \t x y \n";
        assert_string_equal(om_strstrip(s), "x y");
        assert_true(om_endswith("a.conf", ".conf"));
        assert_false(om_endswith("conf", ".conf"));
        assert_true(om_startswith("disk#0", "disk"));
        assert_true(om_streq("a", "a"));
        assert_false(om_streq("a", NULL));
        _cleanup_free_ char *p = om_asprintf("%s-%03d", "x", 7);
        assert_string_equal(p, "x-007");
        assert_true(om_now_ms() > 1600000000000ULL);
        uint64_t m = om_mono_ms();
        assert_true(om_mono_ms() >= m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buf),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_parse_bool_int),
                cmocka_unit_test(test_format_size),
                cmocka_unit_test(test_hex),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
