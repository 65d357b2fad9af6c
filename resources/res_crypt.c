/*
 * disk.crypt: a LUKS2 volume opened as /dev/mapper/<name>, through libcryptsetup only
 * (no cryptsetup program). Provision formats `dev` (aes-xts-plain64, 512-bit key,
 * label `label`) with the passphrase of key `<rid with # as _>_crypt_passphrase` of the
 * sec object `<namespace>/sec/<secret>`: with manage_passphrase (the default) om
 * generates it, stores it first, and gives its keyslot a minimal PBKDF2 (the passphrase
 * carries ~1600 bits, stretching buys nothing and costs failover time); a user's
 * passphrase gets libcryptsetup's default PBKDF. Start activates, stop deactivates but
 * refuses while the key is missing from the sec object (the reference's loss
 * protection) unless --force; unprovision wipes the LUKS header area and removes a
 * managed key. A device that holds another signature is never formatted without
 * --force. Passphrases stay in sodium memory from the secrets module to libcryptsetup.
 * With scsireserv, dev is fenced with SCSI-3 persistent reservations (resources/pr.h):
 * start takes the reservation (preempting and aborting the other nodes' keys) before
 * the volume is opened and refuses on a device without reservations; stop releases
 * it; unprovision clears every key; status reports the instance down when another
 * node preempted it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "resources/cleanup.h"
#include "resources/pr.h"
#include "resources/res.h"
#include "secrets/sec.h"

/* Generated passphrases: PBKDF2-SHA256 at libcryptsetup's floor of 1000 iterations. */
#define MIN_PBKDF2_ITERATIONS 1000

static char last_error[512];

static void on_crypt_log(int level, const char *msg, void *usrptr) {
        (void)usrptr;
        if (level != CRYPT_LOG_ERROR)
                return;
        snprintf(last_error, sizeof(last_error), "%s", msg);
        size_t n = strlen(last_error);
        while (n && (last_error[n - 1] == '\n' || last_error[n - 1] == '.'))
                last_error[--n] = 0;
}

static void quiet_library(void) {
        static bool done;
        if (!done) {
                crypt_set_log_callback(NULL, on_crypt_log, NULL);
                done = true;
        }
        last_error[0] = 0;
}

static int get_name(struct om_res *r, char **ret, bool log) {
        char err[512];
        int e = om_res_kw(r, "name", ret, err, sizeof(err));
        if (e < 0)
                return log ? log_error_errno(e, "name: %s", err) : e;
        if (!(*ret)[0] || strchr(*ret, '/')) {
                if (log)
                        log_error("name '%s' is not a valid device-mapper name", *ret);
                free(*ret);
                *ret = NULL;
                return -EINVAL;
        }
        return 0;
}

static int get_dev(struct om_res *r, char **ret, bool log) {
        char err[512];
        int e = om_res_kw(r, "dev", ret, err, sizeof(err));
        if (e == -ENOENT)
                return log ? log_error_errno(-EINVAL, "dev is not set") : -EINVAL;
        if (e < 0)
                return log ? log_error_errno(e, "dev: %s", err) : e;
        return 0;
}

/* The sec object path and the key holding the passphrase. */
static int get_secret(struct om_res *r, struct om_path *ret_sec, char *ret_key, size_t keylen,
                      bool log) {
        _cleanup_free_ char *name = NULL;
        char err[512];
        int e = om_res_kw(r, "secret", &name, err, sizeof(err));
        if (e < 0)
                return log ? log_error_errno(e, "secret: %s", err) : e;
        if (!om_name_valid(name, err, sizeof(err)))
                return log ? log_error_errno(-EINVAL, "secret '%s': %s", name, err) : -EINVAL;
        struct om_path sec = {.kind = OM_KIND_SEC};
        snprintf(sec.ns, sizeof(sec.ns), "%s", r->svc->obj->path.ns);
        snprintf(sec.name, sizeof(sec.name), "%s", name);
        *ret_sec = sec;
        char rid[64];
        snprintf(rid, sizeof(rid), "%s", r->rid);
        for (char *p = rid; *p; p++)
                if (*p == '#')
                        *p = '_';
        snprintf(ret_key, keylen, "%s_crypt_passphrase", rid);
        return 0;
}

/* Whether the running kernel has device-mapper: its misc device is registered. (The
 * /dev/mapper/control node proves nothing: libdevmapper creates it on first use.) */
static bool dm_available(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/misc", "re");
        char line[128];
        if (!f)
                return access("/sys/module/dm_mod", F_OK) == 0;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "device-mapper"))
                        return true;
        return access("/sys/module/dm_mod", F_OK) == 0;
}

static bool dm_available(void);

static int crypt_status_of(const char *name) {
        /* without device-mapper nothing is active, and asking libdevmapper would create
         * /dev/mapper/control: a status must change nothing */
        if (!dm_available())
                return OM_RES_DOWN;
        quiet_library();
        crypt_status_info s = crypt_status(NULL, name);
        return s == CRYPT_ACTIVE || s == CRYPT_BUSY ? OM_RES_UP : OM_RES_DOWN;
}

static bool scsireserv(struct om_res *r) {
        return om_res_kw_bool(r, "scsireserv", false);
}

static void note(struct om_res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct om_res *r, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        om_strv_push(&r->notes, buf);
}

/* "n2" or "key 0x..." for a key read on a device. */
static void key_owner(uint64_t key, char *buf, size_t len) {
        char k[19];
        if (om_pr_key_node(key, buf, len))
                return;
        om_pr_key_format(key, k);
        snprintf(buf, len, "key %s", k);
}

/* The status of an open volume with scsireserv: down when this node's key lost the
 * reservation (another node preempted it: the storage refuses our writes). */
static int pr_status(struct om_res *r, int st) {
        uint64_t me = om_pr_key_local();
        char ks[19], err[512], who[128];
        om_pr_key_format(me, ks);
        if (st != OM_RES_UP) {
                note(r, "info: pr key %s", ks);
                return st;
        }
        _cleanup_free_ char *dev = NULL;
        if (get_dev(r, &dev, false) < 0) {
                note(r, "warn: pr key %s: dev is not defined", ks);
                return OM_RES_WARN;
        }
        struct om_pr_state pr;
        if (om_pr_read(dev, &pr, err, sizeof(err)) < 0) {
                note(r, "warn: pr key %s: %s", ks, err);
                return OM_RES_WARN;
        }
        if (pr.held && pr.holder == me) {
                note(r, "info: pr key %s holds the reservation", ks);
                return OM_RES_UP;
        }
        if (pr.held) {
                key_owner(pr.holder, who, sizeof(who));
                note(r, "warn: reservation preempted by %s (pr key %s)", who, ks);
                r->fenced = true;
                return OM_RES_DOWN;
        }
        note(r, "warn: reservation lost: %s has none (pr key %s)", dev, ks);
        r->fenced = true;
        return OM_RES_DOWN;
}

static int res_crypt_status(struct om_res *r) {
        _cleanup_free_ char *name = NULL;
        if (get_name(r, &name, false) < 0)
                return OM_RES_UNDEF;
        int st = crypt_status_of(name);
        return scsireserv(r) ? pr_status(r, st) : st;
}

/* Takes the reservation of dev for this node before the volume is opened: registers
 * this node's key, reserves (Write Exclusive - Registrants Only) when nobody holds the
 * reservation, and preempts and aborts every other key (the holder's first): from then
 * on the storage refuses the writes of the nodes that had them. A device without
 * reservations, or a reservation another node takes meanwhile, fails the start. */
static int pr_take(struct om_res *r, const char *dev) {
        uint64_t me = om_pr_key_local();
        char ks[19], vk[19], err[512], who[128];
        struct om_pr_state pr;
        om_pr_key_format(me, ks);
        int e = om_pr_read(dev, &pr, err, sizeof(err));
        if (e < 0)
                return log_error_errno(e,
                                       "scsireserv: %s: start refused rather than run "
                                       "unfenced",
                                       err);
        if (pr.truncated)
                return log_error_errno(-E2BIG,
                                       "scsireserv: %s has more than %d registered "
                                       "keys: start refused",
                                       dev, OM_PR_MAX_KEYS);
        log_info("scsireserv: register key %s on %s", ks, dev);
        if ((e = om_pr_register(dev, me, err, sizeof(err))) < 0)
                return log_error_errno(e, "scsireserv: %s: start refused", err);
        if (!pr.held) {
                log_info("scsireserv: reserve %s (write exclusive, registrants only) with key %s",
                         dev, ks);
                if ((e = om_pr_reserve(dev, me, err, sizeof(err))) < 0)
                        return log_error_errno(e, "scsireserv: %s: start refused", err);
        } else if (pr.holder == me) {
                log_info("scsireserv: key %s already holds the reservation of %s", ks, dev);
        }
        /* the holder first: its preempt moves the reservation to us */
        uint64_t victims[OM_PR_MAX_KEYS + 1];
        size_t nv = 0;
        if (pr.held && pr.holder != me)
                victims[nv++] = pr.holder;
        for (size_t i = 0; i < pr.n_keys; i++)
                if (pr.keys[i] != me && !(pr.held && pr.keys[i] == pr.holder))
                        victims[nv++] = pr.keys[i];
        for (size_t i = 0; i < nv; i++) {
                key_owner(victims[i], who, sizeof(who));
                om_pr_key_format(victims[i], vk);
                uint64_t t0 = om_mono_ms();
                e = om_pr_preempt_abort(dev, me, victims[i], err, sizeof(err));
                if (e < 0)
                        return log_error_errno(e, "scsireserv: preempt %s: %s: start refused", who,
                                               err);
                log_info("scsireserv: preempted and aborted %s (%s) on %s in %llu ms", who, vk, dev,
                         (unsigned long long)(om_mono_ms() - t0));
        }
        if ((e = om_pr_read(dev, &pr, err, sizeof(err))) < 0)
                return log_error_errno(e, "scsireserv: %s: start refused", err);
        if (!pr.held || pr.holder != me) {
                if (pr.held)
                        key_owner(pr.holder, who, sizeof(who));
                return log_error_errno(-EBADE,
                                       "scsireserv: the reservation of %s is %s%s: "
                                       "start refused",
                                       dev, pr.held ? "held by " : "not held", pr.held ? who : "");
        }
        return 0;
}

/* Gives the reservation of dev up after the volume is closed: release, then remove this
 * node's key. A reservation another node holds is left alone; when the volume was open
 * until this stop (was_open), another node preempted it while it ran here: the resource
 * is recorded fenced in the instance status (the orchestrator then keeps the instance
 * out of the candidates, cluster/cl_decide.h). Never fails the stop: what is left is
 * preempted by the next node that starts the resource. */
static void pr_drop(struct om_res *r, bool was_open) {
        _cleanup_free_ char *dev = NULL;
        uint64_t me = om_pr_key_local();
        char ks[19], err[512], who[128];
        struct om_pr_state pr;
        om_pr_key_format(me, ks);
        if (get_dev(r, &dev, false) < 0) {
                log_warning("scsireserv: dev is not defined: key %s left as it is", ks);
                return;
        }
        if (om_pr_read(dev, &pr, err, sizeof(err)) < 0) {
                log_warning("scsireserv: %s", err);
                return;
        }
        if (pr.held && pr.holder != me && was_open) {
                key_owner(pr.holder, who, sizeof(who));
                log_warning("scsireserv: the reservation of %s is held by %s, who preempted it "
                            "while the volume was open here: fenced",
                            dev, who);
                int e = om_instance_status_add_fenced(&r->svc->obj->path, r->rid);
                if (e < 0)
                        log_error_errno(e, "cannot record %s fenced in the instance status: %m",
                                        r->rid);
        } else if (pr.held && pr.holder != me) {
                key_owner(pr.holder, who, sizeof(who));
                log_info("scsireserv: the reservation of %s is held by %s: nothing to release", dev,
                         who);
        } else if (pr.held) {
                log_info("scsireserv: release %s (key %s)", dev, ks);
                if (om_pr_release(dev, me, err, sizeof(err)) < 0)
                        log_warning("scsireserv: %s", err);
        }
        for (size_t i = 0; i < pr.n_keys; i++)
                if (pr.keys[i] == me) {
                        log_info("scsireserv: unregister key %s from %s", ks, dev);
                        if (om_pr_unregister(dev, me, err, sizeof(err)) < 0)
                                log_warning("scsireserv: %s", err);
                        break;
                }
}

/* 1 when dev has a LUKS header, 0 when libcryptsetup finds none (-EINVAL), negative
 * when it cannot tell (the device cannot be opened or read, the metadata lock cannot be
 * taken, no memory): never "not LUKS" for a failure, which a provision would take for a
 * device to format and a status for a node that cannot take over. */
static int is_luks(const char *dev) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        quiet_library();
        int e = crypt_init(&cd, dev);
        if (e < 0)
                return e;
        e = crypt_load(cd, CRYPT_LUKS, NULL);
        return e == 0 ? 1 : e == -EINVAL ? 0 : e;
}

/* is_luks, logging why it cannot tell. */
static int is_luks_log(const char *dev) {
        int e = is_luks(dev);
        if (e < 0)
                return log_error_errno(e, "cannot read the LUKS header of %s: %s", dev,
                                       last_error[0] ? last_error : strerror(-e));
        return e;
}

static int res_crypt_provisioned(struct om_res *r) {
        _cleanup_free_ char *dev = NULL;
        int e = get_dev(r, &dev, false);
        if (e == -ENXIO)
                return 0; /* the device under it is not up: never provisioned here */
        if (e < 0)
                return e;
        if (access(dev, F_OK) < 0)
                return 0;
        return is_luks(dev);
}

/* Refuses a device that does not exist, or holds any signature: called once
 * libcryptsetup found no LUKS header there, so a crypto_LUKS signature is one it cannot
 * load (damaged, or another version) and is not formatted over either. */
static int check_dev(struct om_res *r, const char *dev) {
        struct stat st;
        _cleanup_free_ char *type = NULL;
        if (stat(dev, &st) < 0)
                return log_error_errno(-ENOENT, "dev %s does not exist", dev);
        if (!S_ISBLK(st.st_mode))
                return log_error_errno(-ENOTBLK, "dev %s is not a block device", dev);
        int e = om_res_probe_type(dev, &type);
        if (e < 0)
                return log_error_errno(e, "cannot read %s: %m", dev);
        if (type && !strcmp(type, "crypto_LUKS") && !r->svc->force)
                return log_error_errno(-EEXIST,
                                       "%s holds a LUKS signature whose header libcryptsetup "
                                       "cannot load (damaged?): refusing to format it (use "
                                       "--force to overwrite)",
                                       dev);
        if (type && !r->svc->force)
                return log_error_errno(-EEXIST,
                                       "%s already holds a %s signature: refusing to format it "
                                       "(use --force to overwrite)",
                                       dev, type);
        return 0;
}

static int res_crypt_check(struct om_res *r, enum om_res_action a) {
        _cleanup_free_ char *name = NULL, *dev = NULL;
        int e = get_name(r, &name, true);
        if (e < 0)
                return e;
        struct om_path sec;
        char key[128];
        if ((e = get_secret(r, &sec, key, sizeof(key), true)) < 0)
                return e;
        if (a != OM_ACT_PROVISION)
                return 0;
        const char *raw = om_res_kw_raw(r, "dev");
        if (raw && strstr(raw, "_devs"))
                return 0; /* a device another resource brings up: checked at provision */
        if ((e = get_dev(r, &dev, true)) < 0)
                return e;
        if (access(dev, F_OK) == 0 && (e = is_luks_log(dev)) != 0)
                return e < 0 ? e : 0;
        if ((e = check_dev(r, dev)) < 0)
                return e;
        if (!om_res_kw_bool(r, "manage_passphrase", true) && om_sec_has(&sec, key) != 1) {
                char sp[OM_PATH_STRMAX];
                om_path_to_string(&sec, sp, sizeof(sp));
                return log_error_errno(-ENOKEY,
                                       "%s has no %s key: store the passphrase there or set "
                                       "manage_passphrase = true",
                                       sp, key);
        }
        return 0;
}

static int res_crypt_provision(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *label = NULL;
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        struct om_path sec;
        char key[128], sp[OM_PATH_STRMAX];
        int e;
        if ((e = get_dev(r, &dev, true)) < 0 ||
            (e = get_secret(r, &sec, key, sizeof(key), true)) < 0)
                return e;
        om_path_to_string(&sec, sp, sizeof(sp));
        if (scsireserv(r)) {
                struct om_pr_state pr;
                char err[512];
                if (om_pr_read(dev, &pr, err, sizeof(err)) < 0)
                        log_warning("scsireserv: %s: start will refuse to run on it", err);
        }
        if (access(dev, F_OK) == 0 && (e = is_luks_log(dev)) != 0) {
                if (e < 0)
                        return e;
                log_info("%s is already LUKS formatted", dev);
                return 0;
        }
        if ((e = check_dev(r, dev)) < 0)
                return e;
        if (om_res_kw(r, "label", &label, NULL, 0) < 0)
                label = NULL;

        bool managed = om_res_kw_bool(r, "manage_passphrase", true);
        uint8_t *pass = NULL;
        size_t pass_len = 0;
        /* A managed key that already exists is reused, never replaced: in a cluster the
         * secret is shared, and another node's volume (formatted by that node, or the
         * same shared disk) may open with it. Unprovision removes a managed key, so a
         * provision after it still gets a fresh passphrase. */
        if (managed && om_sec_has(&sec, key) == 1) {
                e = om_sec_get(&sec, key, &pass, &pass_len);
                if (e < 0)
                        return log_error_errno(e, "cannot read %s key %s: %m", sp, key);
                log_info("passphrase of %s key %s reused", sp, key);
        } else if (managed) {
                char *gen = NULL;
                if ((e = om_passphrase_generate(&gen)) < 0)
                        return log_error_errno(e, "cannot generate a passphrase: %m");
                pass = (uint8_t *)gen;
                pass_len = strlen(gen);
                /* store before formatting: a header nobody can open is worse than a key
                 * nobody uses */
                e = om_sec_set(&sec, key, pass, pass_len);
                if (e < 0) {
                        om_sec_value_free(pass, pass_len);
                        return log_error_errno(e, "cannot store the passphrase in %s key %s: %m",
                                               sp, key);
                }
                log_info("generated passphrase stored in %s key %s", sp, key);
        } else {
                e = om_sec_get(&sec, key, &pass, &pass_len);
                if (e == -ENOENT)
                        return log_error_errno(e,
                                               "%s has no %s key: store the passphrase there or "
                                               "set manage_passphrase = true",
                                               sp, key);
                if (e < 0)
                        return log_error_errno(e, "cannot read %s key %s: %m", sp, key);
        }

        log_info("cryptsetup luksFormat %s (LUKS2, aes-xts-plain64, 512-bit key%s%s)", dev,
                 label ? ", label " : "", label ? label : "");
        quiet_library();
        struct crypt_pbkdf_type minimal = {
                .type = CRYPT_KDF_PBKDF2,
                .hash = "sha256",
                .iterations = MIN_PBKDF2_ITERATIONS,
                .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        struct crypt_params_luks2 params = {
                .pbkdf = managed ? &minimal : NULL,
                .sector_size = 512,
                .label = label,
        };
        e = crypt_init(&cd, dev);
        if (e == 0 && managed)
                e = crypt_set_pbkdf_type(cd, &minimal);
        if (e == 0)
                e = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, NULL, 64, &params);
        if (e == 0) {
                int slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, NULL, 0,
                                                           (const char *)pass, pass_len);
                e = slot < 0 ? slot : 0;
        }
        om_sec_value_free(pass, pass_len);
        if (e < 0)
                return log_error_errno(e, "cannot format %s: %s", dev,
                                       last_error[0] ? last_error : strerror(-e));
        return 0;
}

static int res_crypt_start(struct om_res *r) {
        _cleanup_free_ char *dev = NULL, *name = NULL;
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        struct om_path sec;
        char key[128], sp[OM_PATH_STRMAX];
        int e;
        if ((e = get_name(r, &name, true)) < 0)
                return e;
        if (crypt_status_of(name) == OM_RES_UP) {
                log_info("crypt /dev/mapper/%s is already up", name);
                return 0;
        }
        if ((e = get_dev(r, &dev, true)) < 0 ||
            (e = get_secret(r, &sec, key, sizeof(key), true)) < 0)
                return e;
        om_path_to_string(&sec, sp, sizeof(sp));
        if (access(dev, F_OK) < 0)
                return log_error_errno(-ENOENT, "dev %s does not exist", dev);
        quiet_library();
        if ((e = crypt_init(&cd, dev)) < 0)
                return log_error_errno(e, "cannot open %s: %m", dev);
        if ((e = crypt_load(cd, CRYPT_LUKS, NULL)) < 0)
                return log_error_errno(e, "%s is not a LUKS device (not provisioned?)", dev);
        uint8_t *pass = NULL;
        size_t pass_len = 0;
        e = om_sec_get(&sec, key, &pass, &pass_len);
        if (e == -ENOENT)
                return log_error_errno(e, "%s has no %s key: cannot activate %s", sp, key, dev);
        if (e < 0)
                return log_error_errno(e, "cannot read %s key %s: %m", sp, key);
        /* the reservation last, once the volume can be opened: a start that cannot open
         * it takes nothing from the node that runs it */
        if (scsireserv(r) && (e = pr_take(r, dev)) < 0) {
                om_sec_value_free(pass, pass_len);
                return e;
        }
        log_info("cryptsetup luksOpen %s %s -", dev, name);
        e = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, (const char *)pass, pass_len, 0);
        om_sec_value_free(pass, pass_len);
        if (e >= 0)
                return 0;
        if (e == -EPERM)
                return log_error_errno(e, "no keyslot of %s opens with the passphrase of %s key %s",
                                       dev, sp, key);
        if (!dm_available())
                return log_error_errno(
                        e,
                        "cannot activate %s: the kernel has no device-mapper (no "
                        "device-mapper in /proc/misc; dm_mod and dm_crypt are needed)",
                        name);
        return log_error_errno(e, "cannot activate %s: %s", name,
                               last_error[0] ? last_error : strerror(-e));
}

static int res_crypt_stop(struct om_res *r) {
        _cleanup_free_ char *name = NULL;
        struct om_path sec;
        char key[128], sp[OM_PATH_STRMAX];
        int e;
        if ((e = get_name(r, &name, true)) < 0)
                return e;
        if (crypt_status_of(name) != OM_RES_UP) {
                log_info("crypt /dev/mapper/%s is already down", name);
                if (scsireserv(r))
                        pr_drop(r, false);
                return 0;
        }
        if ((e = get_secret(r, &sec, key, sizeof(key), true)) < 0)
                return e;
        om_path_to_string(&sec, sp, sizeof(sp));
        if (om_sec_has(&sec, key) != 1 && !r->svc->force)
                return log_error_errno(-ENOKEY,
                                       "abort crypt deactivate, so you can backup the device "
                                       "that we won't be able to activate again: %s has no %s "
                                       "key. restore the key or use --force to skip this "
                                       "safeguard",
                                       sp, key);
        log_info("cryptsetup luksClose /dev/mapper/%s", name);
        quiet_library();
        e = crypt_deactivate(NULL, name);
        if (e < 0)
                return log_error_errno(e, "cannot deactivate %s: %s", name,
                                       last_error[0] ? last_error : strerror(-e));
        if (scsireserv(r))
                pr_drop(r, true);
        return 0;
}

int om_res_crypt_suspend(struct om_res *r) {
        _cleanup_free_ char *name = NULL;
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        int e;
        if ((e = get_name(r, &name, true)) < 0)
                return e;
        if (crypt_status_of(name) != OM_RES_UP) {
                log_info("crypt /dev/mapper/%s is not open: nothing to suspend", name);
                return 0;
        }
        quiet_library();
        if ((e = crypt_init_by_name(&cd, name)) < 0)
                return log_error_errno(e, "crypt_suspend %s: %s", name,
                                       last_error[0] ? last_error : strerror(-e));
        struct crypt_active_device ad;
        if (crypt_get_active_device(cd, name, &ad) == 0 && (ad.flags & CRYPT_ACTIVATE_SUSPENDED)) {
                log_warning("crypt /dev/mapper/%s is already suspended", name);
                return 0;
        }
        log_warning("crypt_suspend /dev/mapper/%s: its I/O is held and its volume key leaves "
                    "kernel memory",
                    name);
        if ((e = crypt_suspend(cd, name)) < 0)
                return log_error_errno(e, "crypt_suspend %s: %s", name,
                                       last_error[0] ? last_error : strerror(-e));
        return 0;
}

static int res_crypt_unprovision(struct om_res *r) {
        _cleanup_free_ char *dev = NULL;
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        struct om_path sec;
        char key[128], sp[OM_PATH_STRMAX], err[512];
        int e;
        if ((e = get_secret(r, &sec, key, sizeof(key), true)) < 0)
                return e;
        om_path_to_string(&sec, sp, sizeof(sp));
        e = om_res_kw(r, "dev", &dev, err, sizeof(err));
        if (e < 0 && !r->svc->force)
                return log_error_errno(e,
                                       "cannot erase the LUKS header: %s. start the service "
                                       "first, or use --force to skip the erase (the key "
                                       "stays in %s)",
                                       err, sp);
        if (e < 0) {
                log_warning("skip the LUKS header erase (%s): the key stays in %s", err, sp);
                return 0;
        }
        if (scsireserv(r) && access(dev, F_OK) == 0) {
                /* the erase below writes: clear the reservation first (CLEAR needs a
                 * registered key) */
                uint64_t me = om_pr_key_local();
                char ks[19];
                om_pr_key_format(me, ks);
                log_info("scsireserv: clear the keys and the reservation of %s (key %s)", dev, ks);
                if ((e = om_pr_register(dev, me, err, sizeof(err))) < 0 ||
                    (e = om_pr_clear(dev, me, err, sizeof(err))) < 0)
                        log_warning("scsireserv: %s", err);
        }
        quiet_library();
        if (access(dev, F_OK) == 0 && crypt_init(&cd, dev) == 0 &&
            crypt_load(cd, CRYPT_LUKS, NULL) == 0) {
                uint64_t bytes = crypt_get_data_offset(cd) * 512;
                if (bytes == 0 || bytes > (256u << 20))
                        bytes = 16u << 20;
                log_info("erase the LUKS header of %s (%llu bytes)", dev,
                         (unsigned long long)bytes);
                _cleanup_close_ int fd = open(dev, O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(-errno, "cannot open %s: %m", dev);
                static const char zero[1 << 16];
                for (uint64_t off = 0; off < bytes; off += sizeof(zero)) {
                        size_t n = (size_t)OM_MIN((uint64_t)sizeof(zero), bytes - off);
                        if (pwrite(fd, zero, n, (off_t)off) != (ssize_t)n)
                                return log_error_errno(-errno, "cannot erase %s: %m", dev);
                }
                if (fsync(fd) < 0)
                        return log_error_errno(-errno, "cannot erase %s: %m", dev);
        } else {
                log_info("%s holds no LUKS header", dev);
        }
        if (om_res_kw_bool(r, "manage_passphrase", true)) {
                e = om_sec_remove(&sec, key);
                if (e < 0)
                        return log_error_errno(e, "cannot remove key %s from %s: %m", key, sp);
                if (e > 0)
                        log_info("remove key %s from %s", key, sp);
        }
        return 0;
}

static int res_crypt_devs(struct om_res *r, enum om_res_devs which, char ***ret, char *err,
                          size_t errlen) {
        _cleanup_free_ char *v = NULL;
        int e;
        if (which == OM_RES_DEVS_EXPOSED) {
                e = om_res_kw(r, "name", &v, err, errlen);
                if (e < 0)
                        return e;
                char **out = NULL;
                _cleanup_free_ char *mapper = om_asprintf("/dev/mapper/%s", v);
                if (!mapper || (e = om_strv_push(&out, mapper)) < 0)
                        return -ENOMEM;
                *ret = out;
                return 0;
        }
        if ((e = om_res_kw(r, "dev", &v, err, errlen)) < 0)
                return e;
        if (which == OM_RES_DEVS_BASE)
                return om_res_base_devs_of(v, ret);
        char **out = NULL;
        if ((e = om_strv_push(&out, v)) < 0)
                return e;
        *ret = out;
        return 0;
}

static char *res_crypt_label(struct om_res *r) {
        _cleanup_free_ char *name = om_res_kw_label(r, "name");
        return om_asprintf("crypt /dev/mapper/%s", name ? name : "");
}

static const char *const crypt_keywords[] = {"dev",   "name",       "secret", "manage_passphrase",
                                             "label", "scsireserv", NULL};

const struct om_res_driver om_res_driver_crypt = {
        .group = "disk",
        .type = "crypt",
        .name = "disk.crypt",
        .keywords = crypt_keywords,
        .check = res_crypt_check,
        .status = res_crypt_status,
        .provisioned = res_crypt_provisioned,
        .start = res_crypt_start,
        .stop = res_crypt_stop,
        .provision = res_crypt_provision,
        .unprovision = res_crypt_unprovision,
        .devs = res_crypt_devs,
        .label = res_crypt_label,
        .unprovision_needs = "dev",
        .data = OM_RES_DATA_UNDER,
        .dev_kw = "dev",
};
