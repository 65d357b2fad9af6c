/*
 * Unit tests of core/ini.h: the accepted syntax, every error with its file and line,
 * node scoping, the editing calls and the format/parse round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/fileio.h"
#include "core/ini.h"
#include "core/util.h"

static struct om_ini *parse_ok(const char *text) {
        struct om_ini *ini = NULL;
        char err[256] = "";
        int r = om_ini_parse(text, strlen(text), "t.conf", &ini, err, sizeof(err));
        if (r < 0)
                fail_msg("unexpected parse error %d: %s", r, err);
        assert_non_null(ini);
        return ini;
}

/* Parses text that must fail, checks the return code and the exact message. */
static void parse_fails(const char *text, size_t len, int code, const char *msg) {
        struct om_ini *ini = (struct om_ini *)0x1;
        char err[256] = "";
        int r = om_ini_parse(text, len, "bad.conf", &ini, err, sizeof(err));
        assert_int_equal(r, code);
        assert_ptr_equal(ini, (struct om_ini *)0x1); /* not written on failure */
        assert_string_equal(err, msg);
}

static void test_sections_comments(void **state) {
        _cleanup_ini_ struct om_ini *ini = parse_ok("# leading comment\n"
                                                    "; another\n"
                                                    "[DEFAULT]\n"
                                                    "id = 1234 # inline comment\n"
                                                    "nodes=n1 n2\n"
                                                    "\n"
                                                    "[ disk#0 ] ; comment after a header\n"
                                                    "  # indented comment\n"
                                                    "dev = {disk#1.exposed_devs[0]}\n"
                                                    "tag = a#b\n"
                                                    "empty =\n"
                                                    "crlf = yes\r\n");
        assert_int_equal(ini->n_sections, 2);
        assert_string_equal(ini->sections[0].name, "DEFAULT");
        assert_int_equal(ini->sections[0].line, 3);
        assert_string_equal(ini->sections[1].name, "disk#0");
        assert_int_equal(ini->sections[1].line, 7);
        assert_string_equal(om_ini_get(ini, "DEFAULT", "id", NULL), "1234");
        assert_string_equal(om_ini_get(ini, "DEFAULT", "nodes", NULL), "n1 n2");
        assert_string_equal(om_ini_get(ini, "disk#0", "dev", NULL), "{disk#1.exposed_devs[0]}");
        assert_string_equal(om_ini_get(ini, "disk#0", "tag", NULL), "a#b");
        assert_string_equal(om_ini_get(ini, "disk#0", "empty", NULL), "");
        assert_string_equal(om_ini_get(ini, "disk#0", "crlf", NULL), "yes");
        assert_null(om_ini_get(ini, "disk#0", "id", NULL));
        assert_null(om_ini_get(ini, "nosuch", "id", NULL));
        assert_int_equal(om_ini_lookup(ini, "disk#0", "dev", NULL)->line, 9);
}

static void test_scoping(void **state) {
        _cleanup_ini_ struct om_ini *ini = parse_ok("[hb#1]\n"
                                                    "addr@n1 = 10.0.0.1\n"
                                                    "addr = 10.0.0.9\n"
                                                    "addr@n2 = 10.0.0.2\n"
                                                    "port@n3 = 1\n");
        assert_string_equal(om_ini_get(ini, "hb#1", "addr", "n1"), "10.0.0.1");
        assert_string_equal(om_ini_get(ini, "hb#1", "addr", "n2"), "10.0.0.2");
        assert_string_equal(om_ini_get(ini, "hb#1", "addr", "n4"), "10.0.0.9");
        assert_string_equal(om_ini_get(ini, "hb#1", "addr", NULL), "10.0.0.9");
        assert_null(om_ini_get(ini, "hb#1", "port", "n1"));
        assert_string_equal(om_ini_get(ini, "hb#1", "port", "n3"), "1");
        const struct om_ini_entry *e = om_ini_lookup(ini, "hb#1", "addr", "n2");
        assert_string_equal(e->key, "addr");
        assert_string_equal(e->scope, "n2");
        assert_int_equal(e->line, 4);
}

static void test_multiline(void **state) {
        _cleanup_ini_ struct om_ini *ini = parse_ok("[app#1]\n"
                                                    "start = /bin/echo\n"
                                                    "    one\n"
                                                    "\ttwo\n"
                                                    "# a comment does not end the value\n"
                                                    "  three\n"
                                                    "stop =\n"
                                                    "  x\n"
                                                    "[app#2]\n"
                                                    "  check = first key may be indented\n");
        assert_string_equal(om_ini_get(ini, "app#1", "start", NULL), "/bin/echo\none\ntwo\nthree");
        assert_string_equal(om_ini_get(ini, "app#1", "stop", NULL), "\nx");
        assert_string_equal(om_ini_get(ini, "app#2", "check", NULL), "first key may be indented");
}

/* Many continuation lines, many keys, many sections: the values and the duplicate checks
 * as with a few (the parse is linear: tests/bench/bench-limits.sh times it). */
static void test_large(void **state) {
        struct om_buf b = {0}, want = {0};
        assert_int_equal(om_buf_puts(&b, "[a]\nv = first\n"), 0);
        assert_int_equal(om_buf_puts(&want, "first"), 0);
        for (int i = 0; i < 5000; i++) {
                assert_int_equal(om_buf_printf(&b, "  line %d\n", i), 0);
                assert_int_equal(om_buf_printf(&want, "\nline %d", i), 0);
        }
        for (int i = 0; i < 3000; i++)
                assert_int_equal(om_buf_printf(&b, "k%d = %d\nk%d@n1 = x\n", i, i, i), 0);
        for (int i = 0; i < 3000; i++)
                assert_int_equal(om_buf_printf(&b, "[s%d]\nk = %d\n", i, i), 0);
        _cleanup_ini_ struct om_ini *ini = parse_ok(b.data);
        assert_string_equal(om_ini_get(ini, "a", "v", NULL), want.data);
        assert_string_equal(om_ini_get(ini, "a", "k2999", NULL), "2999");
        assert_string_equal(om_ini_get(ini, "a", "k17", "n1"), "x");
        assert_string_equal(om_ini_get(ini, "s2999", "k", NULL), "2999");
        assert_int_equal(ini->n_sections, 3001);
        /* a duplicate far from the first is still found */
        _cleanup_ini_ struct om_ini *bad = NULL;
        char err[256];
        assert_int_equal(om_buf_puts(&b, "[s1500]\n"), 0);
        assert_int_equal(om_ini_parse(b.data, b.len, "big.conf", &bad, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "big.conf:17003: duplicate section [s1500] (first at line 14003)");
        om_buf_free(&b);
        om_buf_free(&want);
}

static void test_errors(void **state) {
        parse_fails("[a]\nx = 1\ny = 2\nx = 3\n", 22, -EINVAL,
                    "bad.conf:4: duplicate key 'x' in [a] (first at line 2)");
        parse_fails("[a]\nx@n1 = 1\nx@n1 = 3\n", 21, -EINVAL,
                    "bad.conf:3: duplicate key 'x@n1' in [a] (first at line 2)");
        parse_fails("[a]\n[b]\n[a]\n", 12, -EINVAL,
                    "bad.conf:3: duplicate section [a] (first at line 1)");
        parse_fails("# c\nx = 1\n[a]\n", 14, -EINVAL, "bad.conf:2: text outside a section");
        parse_fails("[a]\nx = 1\n[disk#0\n", 18, -EINVAL,
                    "bad.conf:3: unterminated section header");
        parse_fails("[a] b\n", 6, -EINVAL, "bad.conf:1: text after the section header");
        parse_fails("[ ]\n", 4, -EINVAL, "bad.conf:1: empty section name");
        parse_fails("[a]\njust words\n", 15, -EINVAL, "bad.conf:2: expected 'key = value'");
        parse_fails("[a]\n = v\n", 8, -EINVAL, "bad.conf:2: empty key");
        parse_fails("[a]\nk@ = v\n", 10, -EINVAL, "bad.conf:2: bad scoped key (expected key@node)");
        parse_fails("[a]\nk k = v\n", 11, -EINVAL, "bad.conf:2: white space in key 'k k'");
        parse_fails("[a]\nk = caf\xe9\n", 12, -EINVAL, "bad.conf:2: bytes that are not UTF-8 text");
        parse_fails("[a]\n\nk = a\0b\n", 13, -EINVAL, "bad.conf:3: bytes that are not UTF-8 text");
}

static void test_limits(void **state) {
        /* a line of exactly 64 KiB is fine, one byte more is not */
        size_t n = OM_INI_MAX_LINE;
        char *text = malloc(n + 16);
        assert_non_null(text);
        memcpy(text, "[a]\nk = ", 8);
        memset(text + 8, 'v', n - 4);
        memcpy(text + 4 + n, "\n", 2);
        struct om_ini *ini = NULL;
        char err[256] = "";
        assert_int_equal(om_ini_parse(text, strlen(text), "big.conf", &ini, err, sizeof(err)), 0);
        assert_int_equal(strlen(om_ini_get(ini, "a", "k", NULL)), n - 4);
        om_ini_free(ini);
        memcpy(text + 4 + n, "v\n", 3);
        parse_fails(text, strlen(text), -EINVAL, "bad.conf:2: line is longer than 64 KiB");
        free(text);

        /* 1 MiB of text is the limit, checked before anything else */
        size_t big = OM_INI_MAX_FILE + 1;
        text = malloc(big + 1);
        assert_non_null(text);
        memcpy(text, "[a]\n", 4);
        memset(text + 4, '#', big - 4);
        text[big] = 0;
        for (size_t i = 100; i < big; i += 100)
                text[i] = '\n';
        parse_fails(text, big, -EFBIG, "bad.conf: file is larger than 1 MiB (1048577 bytes)");
        assert_int_equal(om_ini_parse(text, big - 1, "ok.conf", &ini, err, sizeof(err)), 0);
        om_ini_free(ini);

        /* the same through om_ini_load */
        char dir[] = "/tmp/om-test-ini-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *file = om_asprintf("%s/big.conf", dir);
        assert_int_equal(om_write_atomic(file, text, big, 0644), 0);
        assert_int_equal(om_ini_load(file, &ini, err, sizeof(err)), -EFBIG);
        assert_non_null(strstr(err, "big.conf: file is larger than 1 MiB"));
        assert_int_equal(om_write_atomic(file, "[a]\nx = 1\nx = 2\n", 16, 0644), 0);
        assert_int_equal(om_ini_load(file, &ini, err, sizeof(err)), -EINVAL);
        _cleanup_free_ char *want =
                om_asprintf("%s:3: duplicate key 'x' in [a] (first at line 2)", file);
        assert_string_equal(err, want);
        unlink(file);
        assert_int_equal(om_ini_load(file, &ini, err, sizeof(err)), -ENOENT);
        rmdir(dir);
        free(text);
}

static void assert_same(const struct om_ini *a, const struct om_ini *b) {
        assert_int_equal(a->n_sections, b->n_sections);
        for (size_t i = 0; i < a->n_sections; i++) {
                const struct om_ini_section *x = &a->sections[i], *y = &b->sections[i];
                assert_string_equal(x->name, y->name);
                assert_int_equal(x->n_entries, y->n_entries);
                for (size_t j = 0; j < x->n_entries; j++) {
                        assert_string_equal(x->entries[j].key, y->entries[j].key);
                        assert_string_equal(x->entries[j].value, y->entries[j].value);
                        if (x->entries[j].scope || y->entries[j].scope)
                                assert_string_equal(x->entries[j].scope, y->entries[j].scope);
                }
        }
}

static void test_round_trip(void **state) {
        const char *src = "[DEFAULT]\n"
                          "id=e60306f6-e429-4a02-bd8f-a537a918a217\n"
                          "[disk#0]\n"
                          "file@n1 = /a # comment\n"
                          "file = /b\n"
                          "hash=#not a comment\n"
                          "[app#1]\n"
                          "start =\n"
                          "  one\n"
                          "  two\n"
                          "empty =\n"
                          "[data]\n"
                          "k.2 = caf\xc3\xa9\n";
        _cleanup_ini_ struct om_ini *a = parse_ok(src);
        assert_string_equal(om_ini_get(a, "disk#0", "hash", NULL), "#not a comment");
        _cleanup_free_ char *text = om_ini_format(a);
        /* spacing normalized, layout (no blank line between sections here) kept */
        assert_string_equal(text, "[DEFAULT]\n"
                                  "id = e60306f6-e429-4a02-bd8f-a537a918a217\n"
                                  "[disk#0]\n"
                                  "file@n1 = /a # comment\n"
                                  "file = /b\n"
                                  "hash =#not a comment\n"
                                  "[app#1]\n"
                                  "start =\n"
                                  "    one\n"
                                  "    two\n"
                                  "empty =\n"
                                  "[data]\n"
                                  "k.2 = caf\xc3\xa9\n");
        _cleanup_ini_ struct om_ini *b = parse_ok(text);
        assert_same(a, b);
        _cleanup_free_ char *again = om_ini_format(b);
        assert_string_equal(text, again);
}

static void test_edit(void **state) {
        _cleanup_ini_ struct om_ini *ini = om_ini_new();
        assert_non_null(ini);
        assert_int_equal(om_ini_set(ini, "DEFAULT", "nodes", NULL, "n1"), 0);
        assert_int_equal(om_ini_set(ini, "DEFAULT", "nodes", NULL, "n1 n2"), 0);
        assert_int_equal(om_ini_set(ini, "DEFAULT", "nodes", "n3", "n3"), 0);
        assert_int_equal(om_ini_add_section(ini, "fs#0"), 0);
        assert_int_equal(om_ini_add_section(ini, "fs#0"), 0);
        assert_int_equal(ini->n_sections, 2);
        assert_int_equal(ini->sections[0].n_entries, 2);
        assert_string_equal(om_ini_get(ini, "DEFAULT", "nodes", "n1"), "n1 n2");
        assert_string_equal(om_ini_get(ini, "DEFAULT", "nodes", "n3"), "n3");
        assert_int_equal(om_ini_unset(ini, "DEFAULT", "nodes", "n3"), 1);
        assert_int_equal(om_ini_unset(ini, "DEFAULT", "nodes", "n3"), 0);
        assert_string_equal(om_ini_get(ini, "DEFAULT", "nodes", "n3"), "n1 n2");
        assert_int_equal(om_ini_unset(ini, "nosuch", "nodes", NULL), 0);
        assert_int_equal(om_ini_remove_section(ini, "DEFAULT"), 1);
        assert_int_equal(om_ini_remove_section(ini, "DEFAULT"), 0);
        assert_int_equal(ini->n_sections, 1);
        assert_string_equal(ini->sections[0].name, "fs#0");
        assert_int_equal(om_ini_set(ini, "fs#0", "mnt", NULL, "/srv/x"), 0);
        _cleanup_free_ char *text = om_ini_format(ini);
        assert_string_equal(text, "[fs#0]\nmnt = /srv/x\n");
}

static void value_ok(const char *v) {
        char err[256] = "";
        if (om_ini_check_value(v, err, sizeof(err)) < 0)
                fail_msg("'%s' refused: %s", v, err);
}

static void value_refused(const char *v, const char *want) {
        char err[256] = "";
        assert_int_equal(om_ini_check_value(v, err, sizeof(err)), -EINVAL);
        if (!strstr(err, want))
                fail_msg("'%s': '%s' not in '%s'", v, want, err);
}

static void test_check_value(void **state) {
        value_ok("");
        value_ok("/srv/{name}");
        value_ok("a=b c#d");
        value_ok("#glued to the equal sign");
        value_ok("one\ntwo\nthree");
        value_ok("caf\xc3\xa9");
        value_refused(" lead", "would not read back");
        value_refused("trail ", "would not read back");
        value_refused("a #comment", "would not read back");
        value_refused("a\t#comment", "would not read back");
        value_refused("one\n\ntwo", "would not read back"); /* empty continuation */
        value_refused("one\n# two", "would not read back"); /* comment continuation */
        value_refused("one\n", "would not read back");      /* trailing newline */
        value_refused("caf\xe9", "not UTF-8");
        _cleanup_free_ char *big = malloc(OM_INI_MAX_LINE + 1);
        assert_non_null(big);
        memset(big, 'x', OM_INI_MAX_LINE);
        big[OM_INI_MAX_LINE] = 0;
        value_refused(big, "longer than");
}

/* Comments stay where they were: before a header, before an entry, inline, at the end;
 * a changed value keeps them; a removed entry takes its own with it. */
static void test_comments_kept(void **state) {
        (void)state;
        const char *text = "# the service\n"
                           "[DEFAULT] # defaults\n"
                           "; the id\n"
                           "id = 1\n"
                           "nodes = n1 n2 # both\n"
                           "\n"
                           "# the loop file\n"
                           "# (sparse)\n"
                           "[disk#0]\n"
                           "type = loop\n"
                           "# 1 GiB\n"
                           "size = 1G\n"
                           "\n"
                           "# the end\n";
        struct om_ini *ini = parse_ok(text);
        assert_string_equal(ini->sections[0].comment, "# the service\n");
        assert_string_equal(ini->sections[0].inline_comment, "# defaults");
        assert_string_equal(ini->sections[0].entries[0].comment, "; the id\n");
        assert_null(ini->sections[0].entries[1].comment);
        assert_string_equal(ini->sections[0].entries[1].value, "n1 n2");
        assert_string_equal(ini->sections[0].entries[1].inline_comment, "# both");
        assert_string_equal(ini->sections[1].comment, "\n# the loop file\n# (sparse)\n");
        assert_string_equal(ini->sections[1].entries[1].comment, "# 1 GiB\n");
        assert_string_equal(ini->tail, "\n# the end\n");
        /* the text written back is the input */
        char *out = om_ini_format(ini);
        assert_string_equal(out, text);
        free(out);

        assert_int_equal(om_ini_set(ini, "disk#0", "size", NULL, "2G"), 0);
        assert_int_equal(om_ini_set(ini, "DEFAULT", "nodes", NULL, "n1"), 0);
        assert_int_equal(om_ini_unset(ini, "DEFAULT", "id", NULL), 1);
        out = om_ini_format(ini);
        assert_string_equal(out, "# the service\n"
                                 "[DEFAULT] # defaults\n"
                                 "nodes = n1 # both\n"
                                 "\n"
                                 "# the loop file\n"
                                 "# (sparse)\n"
                                 "[disk#0]\n"
                                 "type = loop\n"
                                 "# 1 GiB\n"
                                 "size = 2G\n"
                                 "\n"
                                 "# the end\n");
        free(out);
        om_ini_free(ini);

        /* a comment between continuation lines moves after the value, and stays */
        ini = parse_ok("[s]\nk = a\n    b\n# x\n    c\nl = 1\n");
        assert_string_equal(ini->sections[0].entries[0].value, "a\nb\nc");
        assert_string_equal(ini->sections[0].entries[1].comment, "# x\n");
        om_ini_free(ini);
        /* an empty value with an inline comment */
        ini = parse_ok("[s]\nk = # none yet\n");
        assert_string_equal(ini->sections[0].entries[0].value, "");
        out = om_ini_format(ini);
        assert_string_equal(out, "[s]\nk = # none yet\n");
        free(out);
        om_ini_free(ini);
}

/* Blank lines stay too: between entries, sections written without one stay so, a file's
 * leading and trailing ones; a section added to the tree gets one, a removed entry takes
 * the lines before it with it. */
static void test_blank_lines_kept(void **state) {
        (void)state;
        const char *text = "\n"
                           "[DEFAULT]\n"
                           "id = 1\n"
                           "\n"
                           "\n"
                           "nodes = n1\n"
                           "[app#0]\n"
                           "start = /bin/true\n"
                           "\n"
                           "# stop it\n"
                           "\n"
                           "stop = /bin/true\n"
                           "\n";
        struct om_ini *ini = parse_ok(text);
        assert_string_equal(ini->sections[0].comment, "\n");
        assert_string_equal(ini->sections[0].entries[1].comment, "\n\n");
        assert_null(ini->sections[1].comment);
        assert_string_equal(ini->sections[1].entries[1].comment, "\n# stop it\n\n");
        assert_string_equal(ini->tail, "\n");
        char *out = om_ini_format(ini);
        assert_string_equal(out, text);
        free(out);

        /* white space only lines are blank lines */
        om_ini_free(ini);
        ini = parse_ok("[s]\na = 1\n  \t\nb = 2\n");
        out = om_ini_format(ini);
        assert_string_equal(out, "[s]\na = 1\n\nb = 2\n");
        free(out);

        assert_int_equal(om_ini_unset(ini, "s", "b", NULL), 1);
        assert_int_equal(om_ini_set(ini, "t", "c", NULL, "3"), 0);
        out = om_ini_format(ini);
        assert_string_equal(out, "[s]\na = 1\n\n[t]\nc = 3\n");
        free(out);
        om_ini_free(ini);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sections_comments),
                cmocka_unit_test(test_scoping),
                cmocka_unit_test(test_multiline),
                cmocka_unit_test(test_large),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_edit),
                cmocka_unit_test(test_check_value),
                cmocka_unit_test(test_comments_kept),
                cmocka_unit_test(test_blank_lines_kept),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
