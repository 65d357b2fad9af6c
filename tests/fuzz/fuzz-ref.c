/*
 * libFuzzer target for reference expansion (core/ref.h): arbitrary values expanded
 * against a small fixed config that has keyword references, a loop, device references
 * and scoped keys, with a fake device resolver. Property: no crash, no hang, and a
 * result that is either an expansion or an error with a reason.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ini.h"
#include "core/ref.h"
#include "core/util.h"

static const char config[] = "[DEFAULT]\n"
                             "nodes = n1 n2 n3\n"
                             "comment = {DEFAULT.env} on {nodename}\n"
                             "env = {DEFAULT.comment}\n"
                             "priority = {nodes[1]}\n"
                             "[disk#0]\n"
                             "type = loop\n"
                             "file = /opt/{fqdn}.img\n"
                             "file@n2 = /srv/{name}.img\n"
                             "size = 1G\n"
                             "[disk#1]\n"
                             "type = crypt\n"
                             "dev = {disk#0.exposed_devs[0]}\n"
                             "[fs#0]\n"
                             "type = ext4\n"
                             "dev = {disk#1.exposed_devs[0]}\n"
                             "mnt = /srv/{svcname}/{rid}/{rindex}\n";

static int devs(void *userdata, const char *rid, const char *which, char ***ret, char *err,
                size_t errlen) {
        if (strcmp(rid, "disk#0") != 0) {
                snprintf(err, errlen, "%s is down", rid);
                return -ENXIO;
        }
        char **v = NULL;
        if (om_strv_push(&v, "/dev/loop7") < 0 || om_strv_push(&v, which) < 0) {
                om_strv_free(v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct om_ini *ini;
        static const struct om_path path = {.ns = "demo", .kind = OM_KIND_SVC, .name = "x"};
        char err[512];

        if (!ini && om_ini_parse(config, strlen(config), "fuzz", &ini, NULL, 0) < 0)
                abort();
        if (size > 4096)
                return 0;
        char *value = strndup((const char *)data, size);
        if (!value)
                return 0;
        for (int keep = 0; keep < 2; keep++) {
                struct om_ref_ctx ctx = {
                        .path = &path,
                        .ini = ini,
                        .nodename = size % 2 ? "n1" : "n2",
                        .clustername = "c1",
                        .section = size % 3 ? "fs#0" : NULL,
                        .devs = devs,
                        .keep_unresolved = keep,
                };
                char *out = NULL;
                err[0] = 0;
                int r = om_ref_expand(&ctx, value, &out, err, sizeof(err));
                if (r == 0 && !out)
                        abort();
                if (r < 0 && (out || !err[0]))
                        abort();
                free(out);
        }
        free(value);
        return 0;
}
