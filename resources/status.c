/*
 * Implementation of status.h.
 */
#include "resources/status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/ini.h"
#include "core/paths.h"
#include "core/util.h"

static char *var_file(const struct om_path *p, const char *name) {
        _cleanup_free_ char *dir = om_object_var_path(p);
        return dir ? om_asprintf("%s/%s", dir, name) : NULL;
}

int om_instance_status_load(const struct om_path *p, struct om_instance_status *ret) {
        _cleanup_free_ char *file = var_file(p, "status");
        _cleanup_ini_ struct om_ini *ini = NULL;
        if (!file)
                return -ENOMEM;
        int r = om_ini_load(file, &ini, NULL, 0);
        if (r < 0)
                return r;
        struct om_instance_status st = {0};
        const char *v;
        snprintf(st.avail, sizeof(st.avail), "%s",
                 (v = om_ini_get(ini, "instance", "avail", NULL)) ? v : "undef");
        snprintf(st.overall, sizeof(st.overall), "%s",
                 (v = om_ini_get(ini, "instance", "overall", NULL)) ? v : st.avail);
        if ((v = om_ini_get(ini, "instance", "provisioned", NULL)))
                om_parse_bool(v, &st.provisioned);
        if ((v = om_ini_get(ini, "instance", "updated", NULL)))
                st.updated_ms = strtoull(v, NULL, 10);
        if ((v = om_ini_get(ini, "instance", "down", NULL)))
                snprintf(st.down, sizeof(st.down), "%s", v);
        if ((v = om_ini_get(ini, "instance", "fenced", NULL)))
                snprintf(st.fenced, sizeof(st.fenced), "%s", v);
        if ((v = om_ini_get(ini, "instance", "diverged", NULL)))
                snprintf(st.diverged, sizeof(st.diverged), "%s", v);
        if ((v = om_ini_get(ini, "instance", "standby", NULL)) &&
            (om_streq(v, "up") || om_streq(v, "down")))
                snprintf(st.standby, sizeof(st.standby), "%s", v);
        if ((v = om_ini_get(ini, "instance", "last_action", NULL))) {
                char act[sizeof(st.last_action)];
                unsigned long long ms = 0;
                if (sscanf(v, "%15s %llu", act, &ms) == 2) {
                        snprintf(st.last_action, sizeof(st.last_action), "%s", act);
                        st.last_action_ms = ms;
                }
        }
        if ((v = om_ini_get(ini, "instance", "last_error", NULL)))
                snprintf(st.last_error, sizeof(st.last_error), "%s", v);
        st.frozen = om_instance_frozen(p);
        *ret = st;
        return 0;
}

int om_instance_status_save(const struct om_path *p, const struct om_instance_status *st) {
        _cleanup_free_ char *file = var_file(p, "status");
        _cleanup_free_ char *text = om_asprintf(
                "[instance]\navail = %s\noverall = %s\nprovisioned = %s\n"
                "updated = %" PRIu64 "\n%s%s%s",
                st->avail, st->overall, st->provisioned ? "true" : "false", st->updated_ms,
                st->down[0] ? "down = " : "", st->down, st->down[0] ? "\n" : "");
        if (text && st->fenced[0]) {
                char *t = om_asprintf("%sfenced = %s\n", text, st->fenced);
                free(text);
                text = t;
        }
        if (text && st->diverged[0]) {
                char *t = om_asprintf("%sdiverged = %s\n", text, st->diverged);
                free(text);
                text = t;
        }
        if (text && st->standby[0]) {
                char *t = om_asprintf("%sstandby = %s\n", text, st->standby);
                free(text);
                text = t;
        }
        if (text && st->last_action[0]) {
                char *t = om_asprintf("%slast_action = %s %" PRIu64 "\n", text, st->last_action,
                                      st->last_action_ms);
                free(text);
                text = t;
        }
        if (text && st->last_error[0]) {
                /* one line of printable text: the ini holds one value per line */
                char e[sizeof(st->last_error)];
                size_t i = 0;
                for (; st->last_error[i] && i < sizeof(e) - 1; i++)
                        e[i] = (unsigned char)st->last_error[i] < 0x20 ? ' ' : st->last_error[i];
                e[i] = 0;
                char *t = om_asprintf("%slast_error = %s\n", text, e);
                free(text);
                text = t;
        }
        if (!file || !text)
                return -ENOMEM;
        return om_write_atomic(file, text, strlen(text), 0644);
}

bool om_instance_frozen(const struct om_path *p) {
        _cleanup_free_ char *file = var_file(p, "frozen");
        return file && access(file, F_OK) == 0;
}

int om_instance_set_frozen(const struct om_path *p, bool frozen) {
        _cleanup_free_ char *file = var_file(p, "frozen");
        if (!file)
                return -ENOMEM;
        if (!frozen)
                return om_unlink_sync(file);
        return om_write_atomic(file, "", 0, 0644);
}

bool om_instance_fenced(const struct om_path *p, uint64_t *ver, char *writer, size_t len) {
        _cleanup_free_ char *file = var_file(p, "fenced"), *text = NULL;
        *ver = 0;
        if (len)
                writer[0] = 0;
        if (!file || om_read_file(file, 256, &text, NULL) < 0)
                return file && access(file, F_OK) == 0;
        unsigned long long v = 0;
        char w[64] = "";
        if (sscanf(text, "%llu %63s", &v, w) == 2) {
                *ver = v;
                if (len)
                        snprintf(writer, len, "%s", w);
        }
        return true;
}

int om_instance_set_fenced(const struct om_path *p, bool fenced, uint64_t ver, const char *writer) {
        _cleanup_free_ char *file = var_file(p, "fenced");
        if (!file)
                return -ENOMEM;
        if (!fenced)
                return om_unlink_sync(file);
        _cleanup_free_ char *text =
                om_asprintf("%" PRIu64 " %s\n", ver, writer && *writer ? writer : "-");
        if (!text)
                return -ENOMEM;
        return om_write_atomic(file, text, strlen(text), 0644);
}

int om_instance_status_add_fenced(const struct om_path *p, const char *rid) {
        struct om_instance_status st;
        int r = om_instance_status_load(p, &st);
        if (r == -ENOENT) {
                memset(&st, 0, sizeof(st));
                snprintf(st.avail, sizeof(st.avail), "undef");
                snprintf(st.overall, sizeof(st.overall), "undef");
        } else if (r < 0)
                return r;
        size_t len = strlen(st.fenced), n = strlen(rid);
        for (const char *q = st.fenced; (q = strstr(q, rid)); q += n)
                if ((q == st.fenced || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\0'))
                        return 0;
        if (len + n + 2 > sizeof(st.fenced))
                return -ENOSPC;
        snprintf(st.fenced + len, sizeof(st.fenced) - len, "%s%s", len ? " " : "", rid);
        return om_instance_status_save(p, &st);
}
