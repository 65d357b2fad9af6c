/*
 * Every keyword of the tables (core/keywords.c) is read by some code: a keyword that is
 * accepted, validated and documented but that nothing reads would make a user believe
 * something that is not true. The test walks the table and, for each keyword, looks for
 * its name as a C string literal ("stop_timeout") in the source files of the code that
 * owns its section: the orchestrator, the action engine and the CLI for [DEFAULT], the
 * resource engine for keywords of every resource, the driver's own file for a driver's
 * keywords, the cluster and agent code for cluster.conf, the arbitrator daemon for
 * arbitrator.conf. A keyword found nowhere fails the test, unless it is one of the few
 * read only by generic code (the `generic` table, each with its reason).
 *
 * Needs the source tree: OM_SRC (set by ctest), else skipped.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fileio.h"
#include "core/keywords.h"
#include "core/util.h"

/* Keywords no code reads by name, on purpose. */
static const struct {
        const char *section, *name, *reason;
} generic[] = {
        {"DEFAULT", "comment", "free text for the people who read the config"},
        {"*", "comment", "free text for the people who read the config"},
        {"DEFAULT", "env",
         "a label (PRD, DEV) read through references ({env}) and by people; om decides "
         "nothing on it"},
};

/* Where the keywords of a section are read: directories (every .c file in them) or
 * files, relative to the source tree. */
static const struct {
        const char *section, *type; /* type NULL: every type of the section */
        const char *where[8];
} owners[] = {
        {"DEFAULT", NULL, {"agent", "cluster", "resources", "core", "cli"}},
        {"*", NULL, {"resources", "agent", "cli"}},
        {"disk", "loop", {"resources/res_loop.c"}},
        {"disk", "crypt", {"resources/res_crypt.c", "resources/pr.c"}},
        {"disk", "drbd", {"resources/res_drbd.c"}},
        {"fs", NULL, {"resources/res_fs.c"}},
        {"app", NULL, {"resources/res_app.c"}},
        {"ip", NULL, {"resources/res_ip.c"}},
        {"cluster", NULL, {"cluster", "secrets", "core/clusterconf.c", "agent", "cli"}},
        {"node", NULL, {"cluster", "agent"}},
        {"hb", NULL, {"cluster", "agent"}},
        {"arbitrator", NULL, {"cluster", "agent"}},
        {"api", NULL, {"cluster/cl_config.c"}},
        {"hook", NULL, {"cluster/cl_config.c"}},
        {"arbd", NULL, {"arbitrator"}},
        {"arbd-cluster", NULL, {"arbitrator"}},
};

static const char *src;

/* True when file (not the keyword table itself) holds the literal "name". */
static bool file_reads(const char *file, const char *name) {
        if (strstr(file, "core/keywords.c"))
                return false;
        _cleanup_free_ char *text = NULL;
        if (om_read_file(file, 4 << 20, &text, NULL) < 0)
                return false;
        char lit[96];
        snprintf(lit, sizeof(lit), "\"%s\"", name);
        return strstr(text, lit) != NULL;
}

static bool where_reads(const char *where, const char *name, bool *exists) {
        _cleanup_free_ char *path = om_asprintf("%s/%s", src, where);
        assert_non_null(path);
        size_t n = strlen(path);
        if (n > 2 && strcmp(path + n - 2, ".c") == 0) {
                _cleanup_free_ char *text = NULL;
                *exists = om_read_file(path, 4 << 20, &text, NULL) == 0;
                return file_reads(path, name);
        }
        DIR *d = opendir(path);
        if (!d)
                return false;
        *exists = true;
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l < 3 || strcmp(de->d_name + l - 2, ".c") != 0)
                        continue;
                _cleanup_free_ char *f = om_asprintf("%s/%s", path, de->d_name);
                found = f && file_reads(f, name);
        }
        closedir(d);
        return found;
}

static void test_every_keyword_read(void **state) {
        src = getenv("OM_SRC");
        if (!src) {
                print_message("skip: OM_SRC (the source tree) is not set\n");
                skip();
        }
        size_t n;
        const struct om_keyword *kws = om_keywords_all(&n);
        int unread = 0;
        for (size_t i = 0; i < n; i++) {
                const struct om_keyword *k = &kws[i];
                bool listed = false;
                for (size_t g = 0; g < ARRAY_SIZE(generic); g++)
                        listed |= om_streq(generic[g].section, k->section) &&
                                  om_streq(generic[g].name, k->name);
                bool owned = false, read = false;
                for (size_t o = 0; o < ARRAY_SIZE(owners); o++) {
                        if (!om_streq(owners[o].section, k->section) ||
                            (owners[o].type && (!k->type || !om_streq(owners[o].type, k->type))))
                                continue;
                        owned = true;
                        for (size_t w = 0; w < ARRAY_SIZE(owners[o].where) && owners[o].where[w];
                             w++) {
                                bool exists = false;
                                read |= where_reads(owners[o].where[w], k->name, &exists);
                                if (!exists)
                                        fail_msg("owners: %s does not exist in %s",
                                                 owners[o].where[w], src);
                        }
                }
                if (!owned) {
                        print_error("[%s] %s: no owner for its section in the test's table\n",
                                    k->section, k->name);
                        unread++;
                } else if (!read && !listed) {
                        print_error("[%s]%s%s %s: accepted and documented, read by no code\n",
                                    k->section, k->type ? " type " : "", k->type ? k->type : "",
                                    k->name);
                        unread++;
                }
        }
        assert_int_equal(unread, 0);
}

/* The generic list stays true: each entry is a keyword of the table, and none that code
 * reads by name (it would not need the entry). */
static void test_generic_list(void **state) {
        src = getenv("OM_SRC");
        if (!src)
                skip();
        size_t n;
        const struct om_keyword *kws = om_keywords_all(&n);
        for (size_t g = 0; g < ARRAY_SIZE(generic); g++) {
                bool found = false;
                for (size_t i = 0; i < n; i++)
                        found |= om_streq(generic[g].section, kws[i].section) &&
                                 om_streq(generic[g].name, kws[i].name);
                if (!found)
                        fail_msg("generic: [%s] %s is not in the keyword table", generic[g].section,
                                 generic[g].name);
                assert_true(strlen(generic[g].reason) > 10);
                for (size_t o = 0; o < ARRAY_SIZE(owners); o++) {
                        if (!om_streq(owners[o].section, generic[g].section) || owners[o].type)
                                continue;
                        for (size_t w = 0; w < ARRAY_SIZE(owners[o].where) && owners[o].where[w];
                             w++) {
                                bool exists = false;
                                if (where_reads(owners[o].where[w], generic[g].name, &exists))
                                        fail_msg("generic: [%s] %s is read in %s: remove its entry",
                                                 generic[g].section, generic[g].name,
                                                 owners[o].where[w]);
                        }
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_keyword_read),
                cmocka_unit_test(test_generic_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
