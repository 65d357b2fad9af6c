/*
 * Unit tests of core/json.h: nesting and separators, escaping, every value type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/json.h"

static void test_document(void **state) {
        struct om_json j = {0};
        om_json_object_begin(&j);
        om_json_kv_string(&j, "name", "default");
        om_json_kv_bool(&j, "quorum", true);
        om_json_kv_int(&j, "n", -42);
        om_json_key(&j, "nodes");
        om_json_array_begin(&j);
        om_json_string(&j, "n1");
        om_json_null(&j);
        om_json_int(&j, INT64_MAX);
        om_json_object_begin(&j);
        om_json_object_end(&j);
        om_json_array_begin(&j);
        om_json_array_end(&j);
        om_json_bool(&j, false);
        om_json_array_end(&j);
        om_json_key(&j, "empty");
        om_json_object_begin(&j);
        om_json_object_end(&j);
        om_json_kv_string(&j, "nul", NULL);
        om_json_object_end(&j);
        assert_string_equal(j.buf.data, "{\"name\":\"default\",\"quorum\":true,\"n\":-42,"
                                        "\"nodes\":[\"n1\",null,9223372036854775807,{},[],false],"
                                        "\"empty\":{},\"nul\":null}");
        assert_int_equal(j.depth, 0);
        om_buf_free(&j.buf);
}

static void test_escape(void **state) {
        struct om_buf b = {0};
        om_json_escape(&b, "a\"b\\c\nd\te\rf\x01g\x1f caf\xc3\xa9 /");
        assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\\u001f caf\xc3\xa9 /\"");
        om_buf_free(&b);
        om_json_escape(&b, "");
        assert_string_equal(b.data, "\"\"");
        om_buf_free(&b);

        struct om_json j = {0};
        om_json_object_begin(&j);
        om_json_kv_string(&j, "disk#0\n", "{x}");
        om_json_object_end(&j);
        assert_string_equal(j.buf.data, "{\"disk#0\\n\":\"{x}\"}");
        om_buf_free(&j.buf);
}

static void test_deep(void **state) {
        /* nesting past the limit stays balanced text */
        struct om_json j = {0};
        for (int i = 0; i < OM_JSON_MAX_DEPTH + 5; i++)
                om_json_array_begin(&j);
        om_json_int(&j, 1);
        om_json_int(&j, 2);
        for (int i = 0; i < OM_JSON_MAX_DEPTH + 5; i++)
                om_json_array_end(&j);
        size_t open = 0, close = 0;
        for (const char *p = j.buf.data; *p; p++) {
                open += *p == '[';
                close += *p == ']';
        }
        assert_int_equal(open, close);
        assert_non_null(strstr(j.buf.data, "1,2"));
        om_buf_free(&j.buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_document),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_deep),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
