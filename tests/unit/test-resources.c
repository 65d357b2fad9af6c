/*
 * Unit tests of resources/ that need no device: every driver's keywords are declared in
 * the keyword tables, resources sort in action order, the `print status` tree of the
 * reference's loopback service before provision matches the reference text to the
 * character (and wraps under the label column when narrow), flags, command splitting,
 * the child runner (output captured, exit status, timeout kills the process group),
 * `print devs` and its json for resources that are down, device references to a
 * resource that is not up, and the action engine driven by app resources (start order,
 * reverse stop, rollback of only what the action started, optional failures, --rid,
 * the object log lines, the lock naming its holder). Each case runs in its own
 * temporary OM_ROOT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/om-test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clusterconf.h"
#include "core/keywords.h"
#include "core/object.h"
#include "core/paths.h"
#include "core/util.h"
#include "core/fileio.h"
#include "resources/action.h"
#include "resources/render.h"
#include "resources/res.h"
#include "resources/status.h"

static char root[256];

static int setup(void **state) {
        om_test_root_make(root, sizeof(root), "resources", "demo1");
        return 0;
}

static int teardown(void **state) {
        om_test_root_remove(root);
        return 0;
}

static void create(const char *path, const char *conf) {
        struct om_path p;
        struct om_object *o = NULL;
        char err[256];
        assert_int_equal(om_path_parse(path, &p, err, sizeof(err)), 0);
        assert_int_equal(om_object_new(&p, &o), 0);
        om_ini_free(o->ini);
        o->ini = NULL;
        assert_int_equal(om_ini_parse(conf, strlen(conf), "t", &o->ini, err, sizeof(err)), 0);
        assert_int_equal(om_object_write(o), 0);
        om_object_free(o);
}

static struct om_res_svc *load(const char *path) {
        struct om_path p;
        struct om_res_svc *svc = NULL;
        char err[256];
        assert_int_equal(om_path_parse(path, &p, err, sizeof(err)), 0);
        assert_int_equal(om_res_svc_load(&p, &svc, err, sizeof(err)), 0);
        return svc;
}

static const char loopback_conf[] = "[DEFAULT]\n"
                                    "id = e60306f6-e429-4a02-bd8f-a537a918a217\n"
                                    "\n"
                                    "[fs#0]\n"
                                    "type = ext4\n"
                                    "dev = {disk#1.exposed_devs[0]}\n"
                                    "mnt = /srv/{svcname}\n"
                                    "\n"
                                    "[disk#1]\n"
                                    "type = crypt\n"
                                    "dev = {disk#0.exposed_devs[0]}\n"
                                    "name = {fqdn}-crypt\n"
                                    "\n"
                                    "[disk#0]\n"
                                    "type = loop\n"
                                    "file = /nonexistent-om-test/{fqdn}.img\n"
                                    "size = 1G\n";

static void test_driver_keywords_declared(void **state) {
        size_t n;
        const struct om_res_driver *const *d = om_res_drivers(&n);
        assert_true(n >= 6);
        assert_ptr_equal(om_res_driver_find("ip", NULL), &om_res_driver_ip);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(d[i]->keywords);
                for (const char *const *k = d[i]->keywords; *k; k++) {
                        const struct om_keyword *kw = om_keyword_find(d[i]->group, d[i]->type, *k);
                        if (!kw)
                                fail_msg("%s.%s reads undeclared keyword %s", d[i]->group,
                                         d[i]->type, *k);
                }
                assert_ptr_equal(om_res_driver_find(d[i]->group, d[i]->type), d[i]);
        }
        assert_ptr_equal(om_res_driver_find("fs", "ext3"), &om_res_driver_ext4);
        assert_ptr_equal(om_res_driver_find("app", NULL), &om_res_driver_app);
        assert_null(om_res_driver_find("disk", "zfs"));
}

/* The rids the agent keeps up where the service does not run: standby = true ones, a
 * disk.drbd and what its disk references; disabled ones (here or on this node) left out. */
static void test_standby_rids(void **state) {
        (void)state;
        static const char conf[] = "[DEFAULT]\nnodes = n1 n2\n"
                                   "[disk#0]\ntype = loop\nfile = /x.img\n"
                                   "[disk#1]\ntype = drbd\ndisk = {disk#0.exposed_devs[0]}\n"
                                   "[disk#2]\ntype = crypt\ndev = {disk#1.exposed_devs[0]}\n"
                                   "[app#0]\nstandby = true\n"
                                   "[app#1]\nstandby = true\ndisable@n1 = true\n"
                                   "[app#2]\nstandby = false\n";
        char err[256], buf[64];
        _cleanup_ini_ struct om_ini *ini = NULL;
        assert_int_equal(om_ini_parse(conf, strlen(conf), "t", &ini, err, sizeof(err)), 0);
        assert_int_equal(om_res_standby_rids(ini, "n1", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "disk#0,disk#1,app#0");
        assert_int_equal(om_res_standby_rids(ini, "n2", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "disk#0,disk#1,app#0,app#1");
        char small[10];
        assert_int_equal(om_res_standby_rids(ini, "n2", small, sizeof(small)), -ENOSPC);
}

/* The passive provision's classification: a loop and what sits on it hold this node's
 * data; a plain device path, a replica and what sits on them hold other nodes' too. */
static void test_data_of(void **state) {
        (void)state;
        static const char conf[] = "[DEFAULT]\nnodes = n1 n2\n"
                                   "[disk#0]\ntype = loop\nfile = /x.img\n"
                                   "[disk#1]\ntype = crypt\ndev = {disk#0.exposed_devs[0]}\n"
                                   "[fs#0]\ntype = ext4\ndev = {disk#1.exposed_devs[0]}\nmnt = /a\n"
                                   "[disk#2]\ntype = crypt\ndev = /dev/sdx\n"
                                   "[fs#1]\ntype = ext4\ndev = {disk#2.exposed_devs[0]}\nmnt = /b\n"
                                   "[disk#3]\ntype = loop\nfile = /y.img\n"
                                   "[disk#4]\ntype = drbd\ndisk = {disk#3.exposed_devs[0]}\n"
                                   "[disk#5]\ntype = crypt\ndev = {disk#4.exposed_devs[0]}\n"
                                   "[fs#2]\ntype = ext4\ndev = /dev/sdy\nmnt = /c\n"
                                   "[fs#3]\ntype = ext4\ndev = {fs#3.exposed_devs[0]}\nmnt = /d\n"
                                   "[app#0]\nstart = /bin/true\n";
        static const struct {
                const char *rid;
                enum om_res_data want;
        } rows[] = {
                {"disk#0", OM_RES_DATA_NODE},       {"disk#1", OM_RES_DATA_NODE},
                {"fs#0", OM_RES_DATA_NODE},         {"disk#2", OM_RES_DATA_REPLICATED},
                {"fs#1", OM_RES_DATA_REPLICATED},   {"disk#3", OM_RES_DATA_NODE},
                {"disk#4", OM_RES_DATA_REPLICATED}, {"disk#5", OM_RES_DATA_REPLICATED},
                {"fs#2", OM_RES_DATA_REPLICATED},   {"fs#3", OM_RES_DATA_REPLICATED},
                {"app#0", OM_RES_DATA_NONE},
        };
        create("demo/svc/dataof", conf);
        _cleanup_res_svc_ struct om_res_svc *svc = load("demo/svc/dataof");
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                struct om_res *r = om_res_find(svc, rows[i].rid);
                assert_non_null(r);
                if (om_res_data_of(r) != rows[i].want)
                        fail_msg("%s: data %d, want %d", rows[i].rid, om_res_data_of(r),
                                 rows[i].want);
        }
        assert_ptr_equal(om_res_under(om_res_find(svc, "fs#0")), om_res_find(svc, "disk#1"));
        assert_null(om_res_under(om_res_find(svc, "disk#2")));
}

static void test_action_order(void **state) {
        create("demo/svc/order",
               "[app#0]\nstart = true\n[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = "
               "/x\n[disk#10]\ntype = loop\nfile = /x.img\n[disk#2]\ntype = "
               "loop\nfile = /y.img\n[fs#0]\ntype = ext4\ndev = /dev/y\nmnt = /y\n"
               "[ip#0]\nipname = 10.0.0.1\nipdev = lo\n");
        struct om_res_svc *svc = load("demo/svc/order");
        const char *want[] = {"ip#0", "disk#2", "disk#10", "fs#0", "fs#1", "app#0"};
        assert_int_equal(svc->n_res, 6);
        for (size_t i = 0; i < 6; i++)
                assert_string_equal(svc->res[i]->rid, want[i]);
        om_res_svc_free(svc);
}

/* The reference's `print status -r` of the loopback service, before provision. */
static void test_status_reference_before_provision(void **state) {
        create("demo/svc/loopcrypt", loopback_conf);
        struct om_res_svc *svc = load("demo/svc/loopcrypt");
        assert_int_equal(om_res_svc_eval(svc), 0);
        struct om_buf out = {0};
        assert_int_equal(om_res_render_status(svc, 120, &out), 0);
        const char *want = "demo/svc/loopcrypt                   down\n"
                           "`- instances\n"
                           "   `- demo1                          down       not provisioned, idle\n"
                           "      |- disk#0             .....P.. down       loop "
                           "/nonexistent-om-test/loopcrypt.demo.svc.default.img\n"
                           "      |- disk#1             .....P.. down       crypt "
                           "/dev/mapper/loopcrypt.demo.svc.default-crypt\n"
                           "      `- fs#0               .....P.. down       ext4 "
                           "/dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt\n";
        assert_string_equal(out.data, want);
        assert_int_equal(svc->avail, OM_RES_DOWN);
        assert_int_equal(svc->provisioned, 0);

        /* frozen, and provisioned as recorded by actions */
        assert_int_equal(om_instance_set_frozen(&svc->obj->path, true), 0);
        for (size_t i = 0; i < svc->n_res; i++)
                assert_int_equal(om_res_state_set_provisioned(svc, svc->res[i]->rid, true), 0);
        assert_int_equal(om_res_svc_eval(svc), 0);
        om_buf_free(&out);
        assert_int_equal(om_res_render_status(svc, 120, &out), 0);
        assert_non_null(strstr(out.data, "   `- demo1                          down       frozen, "
                                         "idle\n      |- disk#0             ........ down       "
                                         "loop"));
        assert_int_equal(om_res_svc_save_status(svc), 0);
        struct om_instance_status st;
        assert_int_equal(om_instance_status_load(&svc->obj->path, &st), 0);
        assert_string_equal(st.avail, "down");
        assert_true(st.provisioned);
        assert_true(st.frozen);
        assert_int_equal(om_instance_set_frozen(&svc->obj->path, false), 0);
        for (size_t i = 0; i < svc->n_res; i++)
                assert_int_equal(om_res_state_set_provisioned(svc, svc->res[i]->rid, false), 0);
        assert_int_equal(om_res_svc_eval(svc), 0);

        /* narrow: the label column wraps under itself, the tree bars continue */
        om_buf_free(&out);
        assert_int_equal(om_res_render_status(svc, 78, &out), 0);
        char *line = out.data;
        int n = 0;
        for (char *nl; (nl = strchr(line, '\n')); line = nl + 1, n++)
                assert_true(nl - line <= 74);
        assert_true(n > 6);
        assert_non_null(strstr(out.data, "      |                 "));

        /* json */
        om_buf_free(&out);
        assert_int_equal(om_res_render_status_json(svc, "json", &out), 0);
        assert_non_null(strstr(out.data, "\"avail\":\"down\""));
        assert_non_null(strstr(out.data, "\"disk#1\":{\"type\":\"disk.crypt\""));
        om_buf_free(&out);
        om_res_svc_free(svc);
}

/* The om2 sample: an unresolvable fs dev shows as written, '/' and a note. */
static void test_status_unresolved_dev(void **state) {
        create("demo/svc/svc1", "[disk#0]\ntype = loop\nfile = "
                                "/nonexistent-om-test/{fqdn}.img\nsize = 100M\n[fs#0]\ntype = "
                                "ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = /srv/svc1\n");
        struct om_res_svc *svc = load("demo/svc/svc1");
        assert_int_equal(om_res_svc_eval(svc), 0);
        struct om_buf out = {0};
        assert_int_equal(om_res_render_status(svc, 120, &out), 0);
        assert_non_null(strstr(out.data, "      |- disk#0         .....P.. down       loop "
                                         "/nonexistent-om-test/svc1.demo.svc.default.img\n"
                                         "      `- fs#0           ...../.. down       ext4 "
                                         "{disk#0.exposed_devs[0]}@/srv/svc1\n"
                                         "                                            info: dev "
                                         "is not defined\n"));
        om_buf_free(&out);

        /* a device reference to a resource that is not up */
        char *v = NULL;
        char err[512];
        assert_int_equal(om_res_kw(om_res_find(svc, "fs#0"), "dev", &v, err, sizeof(err)), -ENXIO);
        assert_non_null(strstr(err, "disk#0 is not up"));
        om_res_svc_free(svc);
}

/* A resource found fenced stays fenced in the status cache while it is not up (its
 * volume closed by the stop that gave the instance up no longer says so itself), and
 * print status shows "fenced" in place of the monitor state; up again (started here),
 * it is not. */
static void test_fenced_sticky(void **state) {
        char conf[512], marker[300];
        snprintf(marker, sizeof(marker), "%s/app-up", root);
        snprintf(conf, sizeof(conf),
                 "[app#1]\nstart = /bin/true\nstop = /bin/true\ncheck = /bin/test -e %s\n", marker);
        create("demo/svc/fen", conf);
        struct om_res_svc *svc = load("demo/svc/fen");
        struct om_instance_status st = {0};
        snprintf(st.avail, sizeof(st.avail), "down");
        snprintf(st.overall, sizeof(st.overall), "down");
        snprintf(st.fenced, sizeof(st.fenced), "app#1");
        assert_int_equal(om_instance_status_save(&svc->obj->path, &st), 0);
        assert_int_equal(om_res_svc_eval(svc), 0);
        assert_true(om_res_find(svc, "app#1")->fenced);
        assert_true(om_res_svc_fenced(svc));
        struct om_buf out = {0};
        assert_int_equal(om_res_render_status(svc, 120, &out), 0);
        assert_non_null(strstr(out.data, "down       fenced\n"));
        assert_non_null(strstr(out.data, "warn: fenced: another node preempted the reservation"));
        om_buf_free(&out);
        assert_int_equal(om_res_render_status_json(svc, "json", &out), 0);
        assert_non_null(strstr(out.data, "\"monitor\":{\"status\":\"fenced\""));
        om_buf_free(&out);
        assert_int_equal(om_res_svc_save_status(svc), 0);
        assert_int_equal(om_instance_status_load(&svc->obj->path, &st), 0);
        assert_string_equal(st.fenced, "app#1");
        /* up again: no longer fenced, and the cache forgets it */
        FILE *f = fopen(marker, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(om_res_svc_eval(svc), 0);
        assert_false(om_res_find(svc, "app#1")->fenced);
        assert_int_equal(om_res_svc_save_status(svc), 0);
        assert_int_equal(om_instance_status_load(&svc->obj->path, &st), 0);
        assert_string_equal(st.fenced, "");
        assert_int_equal(om_res_render_status(svc, 120, &out), 0);
        assert_null(strstr(out.data, "fenced"));
        om_buf_free(&out);
        om_res_svc_free(svc);
}

/* A stop that finds the reservation taken adds the rid to the cached status's fenced
 * rids, keeping the rest (once); the agent's fenced flag is a file of its own. */
static void test_fenced_add_and_flag(void **state) {
        create("demo/svc/fen2", "[app#1]\nstart = /bin/true\nstop = /bin/true\n");
        struct om_res_svc *svc = load("demo/svc/fen2");
        const struct om_path *p = &svc->obj->path;
        struct om_instance_status st = {0};
        /* no cache yet: one is made */
        assert_int_equal(om_instance_status_add_fenced(p, "disk#1"), 0);
        assert_int_equal(om_instance_status_load(p, &st), 0);
        assert_string_equal(st.fenced, "disk#1");
        assert_string_equal(st.avail, "undef");
        snprintf(st.avail, sizeof(st.avail), "up");
        snprintf(st.down, sizeof(st.down), "fs#0");
        snprintf(st.last_action, sizeof(st.last_action), "start");
        snprintf(st.diverged, sizeof(st.diverged), "disk#2");
        st.last_action_ms = 42;
        assert_int_equal(om_instance_status_save(p, &st), 0);
        assert_int_equal(om_instance_status_add_fenced(p, "disk#10"), 0);
        assert_int_equal(om_instance_status_add_fenced(p, "disk#1"), 0);
        assert_int_equal(om_instance_status_add_fenced(p, "disk#10"), 0);
        assert_int_equal(om_instance_status_load(p, &st), 0);
        assert_string_equal(st.fenced, "disk#1 disk#10");
        assert_string_equal(st.avail, "up");
        assert_string_equal(st.down, "fs#0");
        assert_string_equal(st.last_action, "start");
        assert_string_equal(st.diverged, "disk#2");
        assert_int_equal(st.last_action_ms, 42);
        uint64_t ver = 1;
        char writer[64] = "x";
        assert_false(om_instance_fenced(p, &ver, writer, sizeof(writer)));
        assert_int_equal(ver, 0);
        assert_string_equal(writer, "");
        assert_int_equal(om_instance_set_fenced(p, true, 1733300000123ULL, "n2"), 0);
        assert_true(om_instance_fenced(p, &ver, writer, sizeof(writer)));
        assert_int_equal(ver, 1733300000123ULL);
        assert_string_equal(writer, "n2");
        assert_int_equal(om_instance_set_fenced(p, false, 0, NULL), 0);
        assert_false(om_instance_fenced(p, &ver, writer, sizeof(writer)));
        assert_int_equal(om_instance_set_fenced(p, false, 0, NULL), 0);
        /* a resource whose data diverged (a split brain) is named in the saved status,
         * and no longer once it did not */
        om_res_find(svc, "app#1")->diverged = true;
        assert_int_equal(om_res_svc_save_status(svc), 0);
        assert_int_equal(om_instance_status_load(p, &st), 0);
        assert_string_equal(st.diverged, "app#1");
        om_res_find(svc, "app#1")->diverged = false;
        assert_int_equal(om_res_svc_save_status(svc), 0);
        assert_int_equal(om_instance_status_load(p, &st), 0);
        assert_string_equal(st.diverged, "");
        om_res_svc_free(svc);
}

static void test_devs_down(void **state) {
        create("demo/svc/loopcrypt", loopback_conf);
        struct om_res_svc *svc = load("demo/svc/loopcrypt");
        struct om_buf out = {0};
        assert_int_equal(om_res_render_devs_json(svc, "json", &out), 0);
        assert_string_equal(out.data,
                            "{\"disk#1\":{\"exposed\":[\"/dev/mapper/"
                            "loopcrypt.demo.svc.default-crypt\"],\"type\":\"disk.crypt\"},"
                            "\"fs#0\":{\"sub\":[\"/dev/mapper/loopcrypt.demo.svc.default-crypt\"],"
                            "\"type\":\"fs\"}}\n");
        om_buf_free(&out);
        assert_int_equal(om_res_render_devs(svc, &out), 0);
        assert_string_equal(out.data, "demo/svc/loopcrypt\n"
                                      "|- disk#1 (disk.crypt)\n"
                                      "|  `- exposed\n"
                                      "|     `- /dev/mapper/loopcrypt.demo.svc.default-crypt\n"
                                      "`- fs#0 (fs)\n"
                                      "   `- sub\n"
                                      "      `- /dev/mapper/loopcrypt.demo.svc.default-crypt\n");
        om_buf_free(&out);
        om_res_svc_free(svc);
}

static void test_flags(void **state) {
        create("demo/svc/f", "[disk#0]\ntype = loop\nfile = /nonexistent-om-test/f.img\n"
                             "optional = true\nmonitor = true\nrestart = 3\nstandby = true\n"
                             "disable = true\n");
        struct om_res_svc *svc = load("demo/svc/f");
        om_res_svc_eval(svc);
        char f[9];
        om_res_flags(svc->res[0], f);
        assert_string_equal(f, ".MDO.PS3");
        assert_int_equal(svc->avail, OM_RES_NA); /* disabled resources do not count */
        om_res_svc_free(svc);
}

static void test_split_command(void **state) {
        char **v = NULL;
        assert_int_equal(om_res_split_command("sh -c 'echo a  b' \"x y\" z\\ w", &v), 0);
        assert_int_equal(om_strv_length(v), 5);
        assert_string_equal(v[2], "echo a  b");
        assert_string_equal(v[3], "x y");
        assert_string_equal(v[4], "z w");
        om_strv_free(v);
        assert_int_equal(om_res_split_command("echo 'open", &v), -EINVAL);
        assert_int_equal(om_res_split_command("   ", &v), 0);
        assert_null(v[0]);
        om_strv_free(v);
}

static void test_exec(void **state) {
        int st = -1;
        char *ok[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
        assert_int_equal(om_res_exec(ok, 5000, NULL, true, &st), 0);
        assert_int_equal(st, 3);
        char *missing[] = {"/nonexistent-om-test/prog", NULL};
        assert_int_equal(om_res_exec(missing, 5000, NULL, true, &st), 0);
        assert_int_equal(st, 127);
        /* the timeout kills the whole process group, grandchildren included */
        char *slow[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
        uint64_t t0 = om_mono_ms();
        assert_int_equal(om_res_exec(slow, 200, NULL, true, &st), -ETIME);
        assert_true(om_mono_ms() - t0 < 5000);
        char *cwd[] = {"sh", "-c", "test \"$(pwd)\" = /", NULL};
        assert_int_equal(om_res_exec(cwd, 5000, "/", true, &st), 0);
        assert_int_equal(st, 0);
}

static void test_bad_driver(void **state) {
        struct om_path p;
        struct om_res_svc *svc = NULL;
        char err[256];
        create("demo/svc/bad", "[disk#0]\ntype = zfs\n");
        assert_int_equal(om_path_parse("demo/svc/bad", &p, err, sizeof(err)), 0);
        assert_int_equal(om_res_svc_load(&p, &svc, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "no driver for disk type 'zfs'"));
        assert_int_equal(om_path_parse("demo/svc/absent", &p, err, sizeof(err)), 0);
        assert_int_equal(om_res_svc_load(&p, &svc, err, sizeof(err)), -ENOENT);
}

static void test_term_width(void **state) {
        setenv("COLUMNS", "40", 1);
        assert_int_equal(om_res_term_width(), 78);
        setenv("COLUMNS", "132", 1);
        assert_int_equal(om_res_term_width(), 132);
        unsetenv("COLUMNS");
        assert_true(om_res_term_width() >= 78);
}

static int run_action(const char *path, const char *act, const char *rid, char *err,
                      size_t errlen) {
        struct om_path p;
        assert_int_equal(om_path_parse(path, &p, err, errlen), 0);
        struct om_res_action_opts o = {.rid = rid, .waitlock_ms = 0, .origin = "user"};
        return om_res_action_run(&p, act, &o, err, errlen);
}

static char *slurp(const char *file) {
        char *text = NULL;
        if (om_read_file(file, 1 << 20, &text, NULL) < 0)
                return strdup("");
        return text;
}

/* Apps recording their starts and stops in a journal: order, reverse order, rollback of
 * what the action started (not what was up before), optional failures, --rid. */
static void test_engine_order_and_rollback(void **state) {
        char conf[4096], journal[512], err[512];
        snprintf(journal, sizeof(journal), "%s/journal", root);
        struct om_buf b = {0};
        for (int i = 0; i < 3; i++)
                om_buf_printf(
                        &b,
                        "[app#%d]\nstart = sh -c 'echo start %d >>%s; touch %s.%d'\n"
                        "stop = sh -c 'echo stop %d >>%s; rm -f %s.%d'\ncheck = test -f %s.%d\n",
                        i, i, journal, journal, i, i, journal, journal, i, journal, i);
        snprintf(conf, sizeof(conf), "%s", b.data);
        om_buf_free(&b);
        create("demo/svc/apps", conf);

        assert_int_equal(run_action("demo/svc/apps", "start", NULL, err, sizeof(err)), 0);
        assert_int_equal(run_action("demo/svc/apps", "stop", NULL, err, sizeof(err)), 0);
        char *j = slurp(journal);
        assert_string_equal(j, "start 0\nstart 1\nstart 2\nstop 2\nstop 1\nstop 0\n");
        free(j);
        unlink(journal);

        /* app#0 up before the action, app#2 fails: roll back app#1 only */
        assert_int_equal(run_action("demo/svc/apps", "start", "app#0", err, sizeof(err)), 0);
        char cfg[512];
        snprintf(cfg, sizeof(cfg), "%s/etc/namespaces/demo/svc/apps.conf", root);
        char *text = slurp(cfg);
        char *at = strstr(text, "[app#2]\nstart = ");
        assert_non_null(at);
        struct om_buf nb = {0};
        om_buf_append(&nb, text, (size_t)(at - text));
        om_buf_printf(&nb, "[app#2]\nstart = false\n%s", strchr(at + 8, '\n') + 1);
        assert_int_equal(om_write_atomic(cfg, nb.data, nb.len, 0644), 0);
        om_buf_free(&nb);
        free(text);
        unlink(journal);
        assert_true(run_action("demo/svc/apps", "start", NULL, err, sizeof(err)) < 0);
        assert_string_equal(err, ""); /* the reason is in the log, not in err */
        j = slurp(journal);
        assert_string_equal(j, "start 1\nstop 1\n");
        free(j);
        char f0[600];
        snprintf(f0, sizeof(f0), "%s.0", journal);
        assert_int_equal(access(f0, F_OK), 0); /* up before the action: left up */

        /* the same failure on an optional resource does not fail the action */
        text = slurp(cfg);
        nb = (struct om_buf){0};
        at = strstr(text, "[app#2]\n");
        om_buf_append(&nb, text, (size_t)(at - text) + 8);
        om_buf_printf(&nb, "optional = true\n%s", at + 8);
        assert_int_equal(om_write_atomic(cfg, nb.data, nb.len, 0644), 0);
        om_buf_free(&nb);
        free(text);
        assert_int_equal(run_action("demo/svc/apps", "start", NULL, err, sizeof(err)), 0);

        /* --rid: unknown ids are refused before anything runs */
        assert_int_equal(run_action("demo/svc/apps", "stop", "app#7", err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "has no resource matching --rid app#7"));

        /* the object log: the do line and every step */
        char logf[512];
        snprintf(logf, sizeof(logf), "%s/log/namespaces/demo/svc/apps.log", root);
        char *log = slurp(logf);
        assert_non_null(strstr(log, " INFO sid:"));
        assert_non_null(strstr(log, " n:demo1 o:demo/svc/apps sc:n | do start --local (user "
                                    "origin)\n"));
        assert_non_null(strstr(log, " n:demo1 o:demo/svc/apps sc:n | do start --local --rid "
                                    "app#0 (user origin)\n"));
        assert_non_null(strstr(log, " ERROR sid:"));
        assert_non_null(strstr(log, " o:demo/svc/apps r:app#2 sc:n | start command exited with "
                                    "status 1\n"));
        assert_non_null(strstr(log, " o:demo/svc/apps sc:n | rollback start: stop what this "
                                    "action started\n"));
        free(log);
}

/* --tag: the resources whose tags have any of the words given; with --rid, those both
 * select; an unknown tag is refused before anything runs; purge refuses --tag. */
static void test_engine_tags(void **state) {
        char journal[512], err[512];
        snprintf(journal, sizeof(journal), "%s/journal-tags", root);
        static const char *const tags[] = {"web front", "db", "front,db", ""};
        struct om_buf b = {0};
        for (int i = 0; i < 4; i++) {
                om_buf_printf(&b,
                              "[app#%d]\nstart = sh -c 'echo start %d >>%s'\n"
                              "stop = sh -c 'echo stop %d >>%s'\n",
                              i, i, journal, i, journal);
                if (tags[i][0])
                        om_buf_printf(&b, "tags = %s\n", tags[i]);
        }
        create("demo/svc/tagged", b.data);
        om_buf_free(&b);
        struct om_path p;
        assert_int_equal(om_path_parse("demo/svc/tagged", &p, err, sizeof(err)), 0);
        static const struct {
                const char *rid, *tag, *want;
        } rows[] = {
                {NULL, "front", "start 0\nstart 2\n"},
                {NULL, "db", "start 1\nstart 2\n"},
                {NULL, "web,db", "start 0\nstart 1\nstart 2\n"},
                {"app#1,app#2", "front", "start 2\n"},
                {NULL, NULL, "start 0\nstart 1\nstart 2\nstart 3\n"},
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                unlink(journal);
                struct om_res_action_opts o = {
                        .rid = rows[i].rid, .tag = rows[i].tag, .origin = "user"};
                assert_int_equal(om_res_action_run(&p, "start", &o, err, sizeof(err)), 0);
                char *j = slurp(journal);
                if (strcmp(j, rows[i].want) != 0)
                        fail_msg("--rid %s --tag %s: got \"%s\", want \"%s\"",
                                 rows[i].rid ? rows[i].rid : "-", rows[i].tag ? rows[i].tag : "-",
                                 j, rows[i].want);
                free(j);
        }
        unlink(journal);
        struct om_res_action_opts o = {.tag = "front", .origin = "user"};
        assert_int_equal(om_res_action_run(&p, "stop", &o, err, sizeof(err)), 0);
        char *j = slurp(journal);
        assert_string_equal(j, "stop 2\nstop 0\n");
        free(j);
        o.tag = "front,nosuch";
        assert_int_equal(om_res_action_run(&p, "stop", &o, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "demo/svc/tagged has no resource tagged nosuch (--tag)");
        o.tag = "db";
        assert_int_equal(om_res_action_run(&p, "purge", &o, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "purge applies to the whole object: --tag is refused");
        unlink(journal);
}

static void test_engine_lock(void **state) {
        char err[512];
        create("demo/svc/locked", "[app#0]\nstart = true\n");
        struct om_path p;
        assert_int_equal(om_path_parse("demo/svc/locked", &p, err, sizeof(err)), 0);
        char *dir = om_object_var_path(&p);
        char *lock = om_asprintf("%s/action.lock", dir);
        char *holder = om_asprintf("%s/action.holder", dir);
        int fd = -1;
        assert_int_equal(om_lock_file(lock, false, &fd), 0);
        assert_int_equal(om_write_atomic(holder, "stop pid 4242\n", 14, 0644), 0);
        assert_int_equal(run_action("demo/svc/locked", "start", NULL, err, sizeof(err)), -EBUSY);
        assert_string_equal(err, "demo/svc/locked: action stop pid 4242 holds the lock; start "
                                 "not run");
        close(fd);
        assert_int_equal(run_action("demo/svc/locked", "start", NULL, err, sizeof(err)), 0);
        assert_int_equal(access(holder, F_OK), -1); /* released */
        free(dir);
        free(lock);
        free(holder);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_driver_keywords_declared, setup, teardown),
                cmocka_unit_test_setup_teardown(test_action_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_rids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_data_of, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_reference_before_provision, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_status_unresolved_dev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_devs_down, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fenced_sticky, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fenced_add_and_flag, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
                cmocka_unit_test_setup_teardown(test_split_command, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_driver, setup, teardown),
                cmocka_unit_test_setup_teardown(test_term_width, setup, teardown),
                cmocka_unit_test_setup_teardown(test_engine_order_and_rollback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_engine_tags, setup, teardown),
                cmocka_unit_test_setup_teardown(test_engine_lock, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
