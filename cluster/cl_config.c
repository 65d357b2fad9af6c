/*
 * Implementation of cl_config.h: walks every section and entry of cluster.conf, checks
 * each keyword against the keyword tables (core/keywords.c), then builds the node and
 * heartbeat tables. It does not create the secret (secrets/cluster_key.c does).
 */
#include "cluster/cl_config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keywords.h"
#include "core/objpath.h"
#include "core/paths.h"
#include "core/util.h"
#include "cluster/cl_event.h"
#include "cluster/cl_quorum.h"
#include "resources/res.h"

_printf_(4, 5) static int fail(char *err, size_t errlen, unsigned line, const char *fmt, ...) {
        /* err already holds "<file>" as its prefix set by the caller through fname */
        (void)line;
        if (err && errlen) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* Resolves a host name or a numeric address to a numeric address. */
static int resolve(const char *host, char *out, size_t outlen) {
        struct in6_addr a6;
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
                snprintf(out, outlen, "%s", host);
                return 0;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
        struct addrinfo *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
                return -EADDRNOTAVAIL;
        int r = getnameinfo(res->ai_addr, res->ai_addrlen, out, outlen, NULL, 0, NI_NUMERICHOST);
        freeaddrinfo(res);
        return r == 0 ? 0 : -EADDRNOTAVAIL;
}

int om_cl_config_node_index(const struct om_cl_config *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_nodes; i++)
                if (strcmp(cfg->nodes[i], name) == 0)
                        return (int)i;
        return -ENOENT;
}

const char *om_cl_config_node_addr(const struct om_cl_config *cfg, size_t idx) {
        if (idx >= cfg->n_nodes)
                return NULL;
        for (size_t h = 0; h < cfg->n_hb; h++)
                if (!cfg->hb[h].disk)
                        return cfg->hb[h].addrs[idx];
        return NULL;
}

/* om://<host>:<port> or om://[<ipv6>]:<port>: 0, or -EINVAL. */
static int parse_arb_uri(const char *uri, char host[OM_CL_ADDR_MAX], uint16_t *ret_port) {
        if (!om_startswith(uri, "om://"))
                return -EINVAL;
        const char *u = uri + strlen("om://"), *colon = strrchr(u, ':');
        long long p;
        if (!colon || colon == u || om_parse_int(colon + 1, 1, 65535, &p) < 0)
                return -EINVAL;
        size_t n = (size_t)(colon - u);
        if (u[0] == '[') {
                if (n < 3 || u[n - 1] != ']')
                        return -EINVAL;
                u++;
                n -= 2;
        } else if (memchr(u, ':', n))
                return -EINVAL; /* an IPv6 address needs its brackets */
        if (n >= OM_CL_ADDR_MAX || memchr(u, '/', n))
                return -EINVAL;
        memcpy(host, u, n);
        host[n] = 0;
        *ret_port = (uint16_t)p;
        return 0;
}

#define FAIL(line, fmt, ...) fail(err, errlen, line, "%s:%u: " fmt, fn, line, ##__VA_ARGS__)

static bool is_loopback(const char *addr) {
        return om_startswith(addr, "127.") || strcmp(addr, "::1") == 0;
}

/* [api] as seen from self (each keyword may be scoped: http_addr@n1). */
static int http_conf(const struct om_ini *ini, const char *fn, const char *self,
                     struct om_cl_config *cfg, char *err, size_t errlen) {
        const struct om_ini_entry *e;
        cfg->http.port = 1216;
        cfg->http.tls = OM_HTTP_TLS_CLUSTER;
        if ((e = om_ini_lookup(ini, "api", "http_port", self))) {
                long long p;
                if (om_parse_int(e->value, 1, 65535, &p) < 0)
                        return FAIL(e->line, "[api] http_port: not a port number");
                cfg->http.port = (uint16_t)p;
        }
        const struct om_ini_entry *tls = om_ini_lookup(ini, "api", "http_tls", self);
        if (tls)
                cfg->http.tls = strcmp(tls->value, "off") == 0     ? OM_HTTP_TLS_OFF
                                : strcmp(tls->value, "files") == 0 ? OM_HTTP_TLS_FILES
                                                                   : OM_HTTP_TLS_CLUSTER;
        const struct om_ini_entry *cert = om_ini_lookup(ini, "api", "http_cert", self);
        const struct om_ini_entry *key = om_ini_lookup(ini, "api", "http_key", self);
        if (cfg->http.tls == OM_HTTP_TLS_FILES) {
                if (!cert || !key || cert->value[0] != '/' || key->value[0] != '/')
                        return FAIL(tls->line, "[api] http_tls = files needs http_cert and "
                                               "http_key, absolute paths to PEM files");
                snprintf(cfg->http.cert, sizeof(cfg->http.cert), "%s", cert->value);
                snprintf(cfg->http.key, sizeof(cfg->http.key), "%s", key->value);
        }
        if (!(e = om_ini_lookup(ini, "api", "http_addr", self)) || !e->value[0])
                return 0;
        if (resolve(e->value, cfg->http.addr, sizeof(cfg->http.addr)) < 0)
                return FAIL(e->line, "[api] http_addr: cannot resolve '%s'", e->value);
        if (cfg->http.tls == OM_HTTP_TLS_OFF && !is_loopback(cfg->http.addr))
                return FAIL(tls->line,
                            "[api] http_tls = off is refused on %s: bearer tokens "
                            "would cross the network in clear (loopback only)",
                            cfg->http.addr);
        return 0;
}

/* [hook#N]: events (kinds of cl_event.h, or all), command (split into words here, so a
 * quote left open is refused now, not at the first event), timeout; each may be scoped
 * to a node. */
static int hooks_conf(const struct om_ini *ini, const char *fn, const char *self,
                      struct om_cl_config *cfg, char *err, size_t errlen) {
        for (size_t i = 0; i < ini->n_sections; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                if (!om_startswith(s->name, "hook#"))
                        continue;
                if (cfg->n_hooks >= OM_CL_HOOK_MAX)
                        return FAIL(s->line, "more than %d hook sections", OM_CL_HOOK_MAX);
                const struct om_ini_entry *ev = om_ini_lookup(ini, s->name, "events", self);
                const struct om_ini_entry *cmd = om_ini_lookup(ini, s->name, "command", self);
                const struct om_ini_entry *to = om_ini_lookup(ini, s->name, "timeout", self);
                if (!ev || !ev->value[0])
                        return FAIL(s->line,
                                    "[%s] missing required keyword 'events' (event kinds, or all)",
                                    s->name);
                if (!cmd || !cmd->value[0])
                        return FAIL(s->line, "[%s] missing required keyword 'command'", s->name);
                uint32_t kinds = 0;
                _cleanup_strv_free_ char **v = NULL;
                if (om_strv_split(ev->value, " \t,", &v) < 0)
                        return -ENOMEM;
                for (size_t k = 0; v[k]; k++) {
                        int kind = om_ev_kind_from_string(v[k]);
                        if (om_streq(v[k], "all"))
                                kinds = (1u << _OM_EV_KIND_MAX) - 1;
                        else if (kind < 0)
                                return FAIL(ev->line,
                                            "[%s] events: no event kind '%s' (node_up, "
                                            "node_down, quorum_lost, monitor, avail, "
                                            "target_failed, takeover, failover, action_end, "
                                            "repl_refused, hb_drops, ...: see om node events; "
                                            "all for every kind)",
                                            s->name, v[k]);
                        else
                                kinds |= 1u << kind;
                }
                if (strlen(cmd->value) >= OM_CL_HOOK_CMD_MAX)
                        return FAIL(cmd->line, "[%s] command: longer than %d characters", s->name,
                                    OM_CL_HOOK_CMD_MAX - 1);
                _cleanup_strv_free_ char **argv = NULL;
                if (om_res_split_command(cmd->value, &argv) < 0 || !argv[0])
                        return FAIL(cmd->line, "[%s] command: %s", s->name,
                                    argv ? "no program to run" : "a quote is not closed");
                uint64_t ms = 10000;
                if (to &&
                    (om_parse_duration_ms(to->value, &ms) < 0 || ms < 1000 || ms > 3600 * 1000))
                        return FAIL(to->line, "[%s] timeout: a duration from 1s to 1h", s->name);
                snprintf(cfg->hooks[cfg->n_hooks].name, sizeof(cfg->hooks[0].name), "%s", s->name);
                cfg->hooks[cfg->n_hooks].kinds = kinds;
                snprintf(cfg->hooks[cfg->n_hooks].command, OM_CL_HOOK_CMD_MAX, "%s", cmd->value);
                cfg->hooks[cfg->n_hooks++].timeout_ms = ms;
        }
        return 0;
}

int om_cl_config_from_ini(const struct om_ini *ini, const char *fn, const char *self,
                          struct om_cl_config **ret, char *err, size_t errlen) {
        _cleanup_free_ struct om_cl_config *cfg = calloc(1, sizeof(*cfg));
        char why[256];
        int r;
        if (!cfg)
                return -ENOMEM;
        snprintf(cfg->name, sizeof(cfg->name), "default");
        cfg->api_port = 1215;
        cfg->tombstone_ttl_ms = 7ULL * 24 * 3600 * 1000;

        /* Pass 1: every section and keyword is known and well typed. */
        for (size_t i = 0; i < ini->n_sections; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                char group[32], index[32];
                if (strcmp(s->name, "cluster") == 0 || strcmp(s->name, "node") == 0 ||
                    strcmp(s->name, "api") == 0)
                        snprintf(group, sizeof(group), "%s", s->name);
                else if (om_section_split(s->name, group, sizeof(group), index, sizeof(index)) <
                                 0 ||
                         (strcmp(group, "hb") != 0 && strcmp(group, "arbitrator") != 0 &&
                          strcmp(group, "hook") != 0))
                        return FAIL(s->line, "unknown section [%s]", s->name);
                for (size_t j = 0; j < s->n_entries; j++) {
                        const struct om_ini_entry *e = &s->entries[j];
                        const struct om_keyword *kw = om_keyword_find(group, NULL, e->key);
                        if (!kw)
                                return FAIL(e->line, "[%s] unknown keyword '%s'", s->name, e->key);
                        if (e->scope && !(kw->flags & OM_KWF_SCOPABLE))
                                return FAIL(e->line, "[%s] keyword '%s' cannot be scoped to a node",
                                            s->name, e->key);
                        if (om_keyword_check_value(kw, e->value, why, sizeof(why)) < 0)
                                return FAIL(e->line, "[%s] %s: %s", s->name, e->key, why);
                }
        }

        /* [cluster] */
        const struct om_ini_entry *e;
        if ((e = om_ini_lookup(ini, "cluster", "name", NULL))) {
                char nerr[128];
                if (!om_name_valid(e->value, nerr, sizeof(nerr)))
                        return FAIL(e->line, "[cluster] name: %s", nerr);
                snprintf(cfg->name, sizeof(cfg->name), "%s", e->value);
        }
        if ((e = om_ini_lookup(ini, "cluster", "nodes", NULL))) {
                _cleanup_strv_free_ char **v = NULL;
                if (om_strv_split(e->value, " \t,", &v) < 0)
                        return -ENOMEM;
                for (size_t k = 0; v[k]; k++) {
                        char nerr[96];
                        if (strlen(v[k]) >= OM_CL_NAME_MAX ||
                            !om_name_valid(v[k], nerr, sizeof(nerr)))
                                return FAIL(e->line, "[cluster] nodes: bad node name '%s': %s",
                                            v[k],
                                            strlen(v[k]) >= OM_CL_NAME_MAX ? "too long" : nerr);
                        if (cfg->n_nodes >= OM_CL_NODES_MAX)
                                return FAIL(e->line, "[cluster] nodes: more than %d nodes",
                                            OM_CL_NODES_MAX);
                        if (om_cl_config_node_index(cfg, v[k]) >= 0)
                                return FAIL(e->line, "[cluster] nodes: '%s' listed twice", v[k]);
                        snprintf(cfg->nodes[cfg->n_nodes++], OM_CL_NAME_MAX, "%s", v[k]);
                }
                if (self && om_cl_config_node_index(cfg, self) < 0)
                        return FAIL(e->line, "[cluster] nodes: this node '%s' is not listed", self);
        }
        if (cfg->n_nodes == 0 && self)
                snprintf(cfg->nodes[cfg->n_nodes++], OM_CL_NAME_MAX, "%s", self);
        bool quorum_set = false;
        if ((e = om_ini_lookup(ini, "cluster", "quorum", NULL)))
                quorum_set = om_parse_bool(e->value, &cfg->quorum) == 0;
        if ((e = om_ini_lookup(ini, "cluster", "api_port", NULL))) {
                long long p;
                if (om_parse_int(e->value, 1, 65535, &p) < 0)
                        return FAIL(e->line, "[cluster] api_port: not a port number");
                cfg->api_port = (uint16_t)p;
        }
        if ((e = om_ini_lookup(ini, "cluster", "tombstone_ttl", NULL))) {
                if (om_parse_duration_ms(e->value, &cfg->tombstone_ttl_ms) < 0 ||
                    cfg->tombstone_ttl_ms < 1000)
                        return FAIL(e->line, "[cluster] tombstone_ttl: a duration of 1s or more");
        }

        /* [node]: max_parallel@<node> wins for that node (checked 1 to 1000 above) */
        if ((e = om_ini_lookup(ini, "node", "max_parallel", self))) {
                long long mp;
                if (om_parse_int(e->value, 1, 1000, &mp) < 0)
                        return FAIL(e->line, "[node] max_parallel: an integer from 1 to 1000");
                cfg->max_parallel = (int)mp;
        }
        if ((r = http_conf(ini, fn, self, cfg, err, errlen)) < 0)
                return r;
        if ((r = hooks_conf(ini, fn, self, cfg, err, errlen)) < 0)
                return r;

        /* [hb#N] and [arbitrator#N] */
        for (size_t i = 0; i < ini->n_sections; i++) {
                const struct om_ini_section *s = &ini->sections[i];
                if (om_startswith(s->name, "arbitrator#")) {
                        if (cfg->n_arb >= OM_CL_ARB_MAX)
                                return FAIL(s->line, "too many arbitrators");
                        const char *uri = om_ini_get(ini, s->name, "uri", NULL);
                        const char *w = om_ini_get(ini, s->name, "weight", NULL);
                        long long weight = 1;
                        if (!uri)
                                return FAIL(s->line, "[%s] missing required keyword 'uri'",
                                            s->name);
                        unsigned uline = om_ini_lookup(ini, s->name, "uri", NULL)->line;
                        if (om_startswith(uri, "tcp://"))
                                return FAIL(uline,
                                            "[%s] uri: tcp:// arbitrators are no longer accepted: "
                                            "any TCP listener answers both sides of a split, which "
                                            "then both hold the quorum. Run `om arbitrator run` "
                                            "on the arbitrator host and set uri = "
                                            "om://<addr>:<port> (see `man om.conf`)",
                                            s->name);
                        char host[OM_CL_ADDR_MAX];
                        uint16_t port;
                        if (parse_arb_uri(uri, host, &port) < 0)
                                return FAIL(uline,
                                            "[%s] uri: expected om://<addr>:<port> (an `om "
                                            "arbitrator run` daemon; IPv6 as om://[addr]:port)",
                                            s->name);
                        if (resolve(host, cfg->arb[cfg->n_arb].addr, OM_CL_ADDR_MAX) < 0)
                                return FAIL(uline, "[%s] uri: cannot resolve '%s'", s->name, host);
                        cfg->arb[cfg->n_arb].port = port;
                        if (w && om_parse_int(w, 0, 1000, &weight) < 0)
                                return FAIL(s->line, "[%s] weight: out of range", s->name);
                        snprintf(cfg->arb[cfg->n_arb].uri, sizeof(cfg->arb[0].uri), "%s", uri);
                        snprintf(cfg->arb_names[cfg->n_arb], sizeof(cfg->arb_names[0]), "%s",
                                 s->name);
                        cfg->arb[cfg->n_arb++].weight = (int)weight;
                        continue;
                }
                if (!om_startswith(s->name, "hb#"))
                        continue;
                if (cfg->n_hb >= OM_CL_HB_MAX)
                        return FAIL(s->line, "more than %d heartbeat sections", OM_CL_HB_MAX);
                struct om_cl_hb_conf *hb = &cfg->hb[cfg->n_hb];
                snprintf(hb->name, sizeof(hb->name), "%s", s->name);
                hb->port = 10000;
                hb->interval_ms = 1000;
                hb->timeout_ms = 3000;
                for (size_t j = 0; j < s->n_entries; j++) {
                        const struct om_ini_entry *x = &s->entries[j];
                        long long p;
                        if (strcmp(x->key, "port") == 0) {
                                if (om_parse_int(x->value, 1, 65535, &p) < 0)
                                        return FAIL(x->line, "[%s] port: not a port number",
                                                    s->name);
                                hb->port = (uint16_t)p;
                        } else if (strcmp(x->key, "type") == 0) {
                                hb->relay = strcmp(x->value, "relay") == 0;
                                hb->disk = strcmp(x->value, "disk") == 0;
                        } else if (strcmp(x->key, "dev") == 0) {
                                if (x->value[0] != '/' || strlen(x->value) >= sizeof(hb->dev))
                                        return FAIL(x->line,
                                                    "[%s] dev: an absolute path of at most %zu "
                                                    "bytes",
                                                    s->name, sizeof(hb->dev) - 1);
                                snprintf(hb->dev, sizeof(hb->dev), "%s", x->value);
                        } else if (strcmp(x->key, "interval") == 0) {
                                (void)om_parse_duration_ms(x->value, &hb->interval_ms);
                        } else if (strcmp(x->key, "timeout") == 0) {
                                (void)om_parse_duration_ms(x->value, &hb->timeout_ms);
                        } else if (strcmp(x->key, "addr") == 0) {
                                int idx = x->scope ? om_cl_config_node_index(cfg, x->scope) : -1;
                                if (!x->scope)
                                        return FAIL(x->line, "[%s] addr needs a node: addr@<node>",
                                                    s->name);
                                if (idx < 0)
                                        return FAIL(x->line, "[%s] addr@%s: '%s' is not in nodes",
                                                    s->name, x->scope, x->scope);
                                if (resolve(x->value, hb->addrs[idx], OM_CL_ADDR_MAX) < 0)
                                        return FAIL(x->line, "[%s] addr@%s: cannot resolve '%s'",
                                                    s->name, x->scope, x->value);
                        }
                }
                if (hb->interval_ms < 10 || hb->timeout_ms <= hb->interval_ms)
                        return FAIL(s->line, "[%s] timeout (%llums) must exceed interval (%llums)",
                                    s->name, (unsigned long long)hb->timeout_ms,
                                    (unsigned long long)hb->interval_ms);
                /* a disk stream: its device, and none of the network keywords */
                const struct om_ini_entry *dev = om_ini_lookup(ini, s->name, "dev", NULL);
                if (hb->disk && !dev)
                        return FAIL(s->line,
                                    "[%s] type = disk needs dev = <the shared device (or file) "
                                    "every node writes its slot of>",
                                    s->name);
                if (!hb->disk && dev)
                        return FAIL(dev->line, "[%s] dev: only for type = disk", s->name);
                for (size_t j = 0; j < s->n_entries && hb->disk; j++)
                        if (om_streq(s->entries[j].key, "port") ||
                            om_streq(s->entries[j].key, "addr") ||
                            om_streq(s->entries[j].key, "arbitrator"))
                                return FAIL(s->entries[j].line,
                                            "[%s] %s: not for type = disk (its beats go to dev)",
                                            s->name, s->entries[j].key);
                for (size_t k = 0; k < cfg->n_nodes && !hb->relay && !hb->disk; k++)
                        if (!hb->addrs[k][0] &&
                            resolve(cfg->nodes[k], hb->addrs[k], OM_CL_ADDR_MAX) < 0)
                                return FAIL(s->line, "[%s] no addr@%s and '%s' does not resolve",
                                            s->name, cfg->nodes[k], cfg->nodes[k]);
                cfg->n_hb++;
        }
        /* relay streams name their arbitrator: checked once every section was read */
        for (size_t h = 0; h < cfg->n_hb; h++) {
                struct om_cl_hb_conf *hb = &cfg->hb[h];
                const struct om_ini_entry *x = om_ini_lookup(ini, hb->name, "arbitrator", NULL);
                const struct om_ini_section *sec = om_ini_find_section(ini, hb->name);
                unsigned line = x ? x->line : sec ? sec->line : 0;
                hb->arb = -1;
                if (!hb->relay) {
                        if (x)
                                return FAIL(line, "[%s] arbitrator: only for type = relay",
                                            hb->name);
                        continue;
                }
                if (!x)
                        return FAIL(line,
                                    "[%s] type = relay needs arbitrator = <the [arbitrator#N] "
                                    "section whose `om arbitrator run` relays the beats>",
                                    hb->name);
                size_t k = 0;
                for (; k < cfg->n_arb; k++)
                        if (strcmp(cfg->arb_names[k], x->value) == 0)
                                break;
                if (k == cfg->n_arb)
                        return FAIL(line, "[%s] arbitrator: no section [%s] in this file", hb->name,
                                    x->value);
                hb->arb = (int)k;
                /* a relay stream sends from the node's address: its addr@<node>, else the
                 * node's address on a unicast stream, else its name resolved */
                for (size_t n = 0; n < cfg->n_nodes; n++) {
                        for (size_t u = 0; u < cfg->n_hb && !hb->addrs[n][0]; u++)
                                if (!cfg->hb[u].relay && !cfg->hb[u].disk)
                                        memcpy(hb->addrs[n], cfg->hb[u].addrs[n], OM_CL_ADDR_MAX);
                        if (!hb->addrs[n][0] &&
                            resolve(cfg->nodes[n], hb->addrs[n], OM_CL_ADDR_MAX) < 0 && self &&
                            strcmp(cfg->nodes[n], self) == 0)
                                return FAIL(line, "[%s] no addr@%s and '%s' does not resolve",
                                            hb->name, self, self);
                }
        }
        if (!quorum_set)
                cfg->quorum = om_quorum_default(cfg->n_nodes, cfg->n_arb);
        *ret = OM_TAKE_PTR(cfg);
        return 0;
}

int om_cl_config_load(const char *self, struct om_cl_config **ret, char *err, size_t errlen) {
        _cleanup_free_ char *file = om_cluster_conf_path();
        _cleanup_ini_ struct om_ini *ini = NULL;
        if (!file)
                return -ENOMEM;
        int r = om_ini_load(file, &ini, err, errlen);
        if (r == -ENOENT)
                ini = om_ini_new();
        else if (r < 0)
                return r;
        if (!ini)
                return -ENOMEM;
        return om_cl_config_from_ini(ini, file, self, ret, err, errlen);
}
