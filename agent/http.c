/*
 * The HTTP API: libh2o (its libuv binding) serves HTTP/1.1, and HTTP/2 over TLS, on the
 * agent's own loop; no thread, no request blocks the loop (a request that waits for a
 * target is a timer). One handler routes every path (table `routes`); each route names
 * the least role it needs. A request is checked against the limits of core/limits.h
 * first, then authenticated (a bearer token of secrets/api_token.h, or the connection's
 * client certificate of the cluster CA), then served. The read and
 * action routes call the local API's handlers (om_api_local_exec) and turn their msgpack
 * replies into JSON, so the CLI and HTTP answer the same. Every error is a JSON object
 * {"error": <what is wrong>, "status": <code>}, those libh2o makes itself included (a
 * filter rewrites them); an HTTP/1 request head is checked by om (the gate) before
 * libh2o's reader sees it, which would answer a bad one in text.
 * Routes, roles and limits: docs/ARCHITECTURE.md; bodies: docs/openapi.json.
 */
#include "agent/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <h2o.h>
#include <h2o/http1.h>
#include <h2o/http2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "agent/agent.h"
#include "agent/events.h"
#include "agent/metrics.h"
#include "cluster/cl_mp.h"
#include "core/fileio.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/objpath.h"
#include "core/paths.h"
#include "core/util.h"
#include "secrets/api_token.h"
#include "secrets/sec.h"
#include "secrets/tls_ca.h"

/* the files of the page and the API's description, built in (agent/ui, docs) */
struct om_http_asset {
        const char *path, *type;
        const unsigned char *data;
        size_t len;
};
extern const struct om_http_asset om_http_assets[];
extern const size_t om_http_n_assets;

enum http_drop {
        HTTP_DROP_REFUSED,   /* a connection past OM_LIM_HTTP_CONNS */
        HTTP_DROP_MALFORMED, /* 400: a request head (or body framing) that does not parse */
        HTTP_DROP_HEAD,      /* 431 */
        HTTP_DROP_PATH,      /* 414 */
        HTTP_DROP_BODY,      /* 413 (libh2o) */
        HTTP_DROP_NO_AUTH,   /* 401: no credentials */
        HTTP_DROP_BAD_AUTH,  /* 401: a token unknown, malformed, expired or revoked */
        HTTP_DROP_ROLE,      /* 403 */
        HTTP_DROP_NOT_FOUND,
        HTTP_DROP_METHOD,
        HTTP_DROP_BUSY, /* 503: waits or streams at their cap */
        _HTTP_DROP_MAX,
};

static const char *const http_drop_names[_HTTP_DROP_MAX] = {
        [HTTP_DROP_REFUSED] = "refused",
        [HTTP_DROP_MALFORMED] = "malformed",
        [HTTP_DROP_HEAD] = "head_too_large",
        [HTTP_DROP_PATH] = "path_too_long",
        [HTTP_DROP_BODY] = "body_too_large",
        [HTTP_DROP_NO_AUTH] = "no_credentials",
        [HTTP_DROP_BAD_AUTH] = "bad_credentials",
        [HTTP_DROP_ROLE] = "forbidden",
        [HTTP_DROP_NOT_FOUND] = "not_found",
        [HTTP_DROP_METHOD] = "bad_method",
        [HTTP_DROP_BUSY] = "busy",
};

/* A token of the cache, with its use counted for the log. */
struct tok {
        struct om_token_info info;
        uint64_t uses, logged_uses, logged_at;
};

struct http_wait;
struct http_stream;

struct om_http {
        struct om_agent *a;
        h2o_globalconf_t config;
        h2o_context_t ctx;
        h2o_accept_ctx_t accept;
        bool ctx_ready;
        SSL_CTX *ssl;
        uv_tcp_t listener;
        bool listening;
        char bind[96];
        size_t conns, conns_max;
        uint64_t accepted, served;
        uint64_t drops[_HTTP_DROP_MAX];
        /* the tokens, read again when the sec object's file changes */
        char *tok_file;
        struct stat tok_st;
        bool tok_loaded;
        struct tok *toks;
        size_t n_toks;
        struct http_wait *waits;
        size_t n_waits;
        struct http_stream *streams;
        size_t n_streams;
        uint64_t events_sent, streams_closed_slow;
        /* every open connection; how many of them presented a client certificate */
        struct http_conn *conn_list;
        size_t n_cert_conns;
        uint64_t cert_handshakes, cert_logged, cert_logged_at;
        bool cert_unmapped_logged;
        /* the CA's sec object as last looked at, and the CA's public key in use */
        char *ca_file;
        struct stat ca_st;
        bool ca_looked, ca_exists;
        unsigned char ca_pub[128];
        size_t ca_pub_len;
        /* libh2o's HTTP/1 request reader, as the first connection showed it (the gate) */
        h2o_socket_cb h1_reader;
        bool gate_broken_logged;
};

/* What the TLS handshake of a connection said of the client's certificate. */
enum cert_state {
        CERT_NONE,    /* none presented (or plain HTTP) */
        CERT_OK,      /* verified against the cluster CA, with a role */
        CERT_REFUSED, /* presented, and refused: cert_error says why */
};

/* A request head the gate refuses: its status and why. */
struct head_error {
        int status;
        char msg[128];
};

/* A connection. Its client certificate's outcome lives here, found again from a request
 * by the connection's h2o socket (see tls_handshake_done). */
struct http_conn {
        uv_tcp_t tcp;
        struct om_http *h;
        h2o_socket_t *sock;
        struct http_conn *prev, *next;
        enum cert_state cert;
        enum om_role cert_role;
        uint64_t cert_expires_ms; /* the certificate's notAfter, wall clock */
        char cert_name[64];       /* its commonName */
        char cert_error[128];
        /* the gate of request heads (see "the gate" below) */
        struct timeval connected_at;
        h2o_timeout_entry_t handshake_timeout; /* om's TLS handshake; a refusal's linger */
        bool h1;                               /* libh2o's HTTP/1 connection exists */
        bool closed;                           /* the socket is closed (its on_close ran) */
        h2o_socket_cb h1_read;                 /* libh2o's reader, while the gate reads */
        size_t gate_seen;                      /* input bytes the gate looked at already */
        /* the response being written last: libh2o's completion of it (wrapped), its
         * request, and what follows the request in the input */
        h2o_socket_cb h1_write;
        h2o_req_t *last_req;
        unsigned resp_seq;
        int next_head; /* enum head_verdict */
        struct head_error next_error;
        int refuse_mode;
        char refusal[512];
        size_t refusal_len;
};

/* ---- responses ---- */

static void json_str(struct om_buf *b, const char *s, size_t n) {
        om_buf_puts(b, "\"");
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        char e[2] = {'\\', (char)c};
                        om_buf_append(b, e, 2);
                } else if (c == '\n')
                        om_buf_puts(b, "\\n");
                else if (c == '\t')
                        om_buf_puts(b, "\\t");
                else if (c == '\r')
                        om_buf_puts(b, "\\r");
                else if (c < 0x20 || c == 0x7f)
                        om_buf_printf(b, "\\u%04x", c);
                else
                        om_buf_append(b, &s[i], 1);
        }
        om_buf_puts(b, "\"");
}

static void json_cstr(struct om_buf *b, const char *s) {
        json_str(b, s, strlen(s));
}

/* A msgpack object as JSON (the local API's replies: maps with string keys, strings,
 * integers, booleans, arrays). */
static void mp_json(struct om_buf *b, const msgpack_object *o) {
        switch (o->type) {
        case MSGPACK_OBJECT_NIL:
                om_buf_puts(b, "null");
                break;
        case MSGPACK_OBJECT_BOOLEAN:
                om_buf_puts(b, o->via.boolean ? "true" : "false");
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                om_buf_printf(b, "%" PRIu64, o->via.u64);
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                om_buf_printf(b, "%" PRId64, o->via.i64);
                break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                om_buf_printf(b, "%.17g", o->via.f64);
                break;
        case MSGPACK_OBJECT_STR:
                json_str(b, o->via.str.ptr, o->via.str.size);
                break;
        case MSGPACK_OBJECT_BIN:
                json_str(b, o->via.bin.ptr, o->via.bin.size);
                break;
        case MSGPACK_OBJECT_ARRAY:
                om_buf_puts(b, "[");
                for (uint32_t i = 0; i < o->via.array.size; i++) {
                        if (i)
                                om_buf_puts(b, ",");
                        mp_json(b, &o->via.array.ptr[i]);
                }
                om_buf_puts(b, "]");
                break;
        case MSGPACK_OBJECT_MAP:
                om_buf_puts(b, "{");
                for (uint32_t i = 0; i < o->via.map.size; i++) {
                        const msgpack_object_kv *kv = &o->via.map.ptr[i];
                        if (i)
                                om_buf_puts(b, ",");
                        if (kv->key.type == MSGPACK_OBJECT_STR)
                                json_str(b, kv->key.via.str.ptr, kv->key.via.str.size);
                        else
                                json_cstr(b, "?");
                        om_buf_puts(b, ":");
                        mp_json(b, &kv->val);
                }
                om_buf_puts(b, "}");
                break;
        default:
                om_buf_puts(b, "null");
        }
}

static const char *reason_of(int status) {
        switch (status) {
        case 200:
                return "OK";
        case 202:
                return "Accepted";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 409:
                return "Conflict";
        case 413:
                return "Payload Too Large";
        case 414:
                return "URI Too Long";
        case 431:
                return "Request Header Fields Too Large";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        default:
                return status < 500 ? "Client Error" : "Server Error";
        }
}

static void send_body(h2o_req_t *req, int status, const char *type, const char *body, size_t len) {
        req->res.status = status;
        req->res.reason = reason_of(status);
        req->res.content_length = len;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type,
                       strlen(type));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-store"));
        h2o_send_inline(req, body, len);
}

/* Sends b (JSON) and frees it. */
static void send_json(h2o_req_t *req, int status, struct om_buf *b) {
        om_buf_puts(b, "\n");
        send_body(req, status, "application/json", b->data ? b->data : "{}\n", b->len);
        om_buf_free(b);
}

static void send_error(h2o_req_t *req, int status, const char *fmt, ...) _printf_(3, 4);
static void send_error(h2o_req_t *req, int status, const char *fmt, ...) {
        struct om_buf b = {0};
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = om_vasprintf(fmt, ap);
        va_end(ap);
        om_buf_puts(&b, "{\"error\":");
        json_cstr(&b, msg ? msg : "out of memory");
        om_buf_printf(&b, ",\"status\":%d}", status);
        if (status == 401)
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                               H2O_STRLIT("Bearer realm=\"om\""));
        send_json(req, status, &b);
}

/* ---- the errors libh2o answers by itself (413, a bad request it parsed) as JSON ---- */

struct json_error_ostream {
        h2o_ostream_t super;
        h2o_iovec_t body;
        bool sent;
};

static void json_error_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                               h2o_send_state_t state) {
        struct json_error_ostream *o = (struct json_error_ostream *)self;
        h2o_iovec_t out = o->body;
        size_t cnt = o->sent ? 0 : 1;
        o->sent = true;
        h2o_ostream_send_next(&o->super, req, cnt ? &out : NULL, cnt, state);
}

struct json_filter {
        h2o_filter_t super;
        struct om_http *h;
};

static void gate_ostream_add(h2o_req_t *req, h2o_ostream_t ***slot);

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
        struct om_http *h = ((struct json_filter *)self)->h;
        ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
        bool plain = i >= 0 && h2o_memis(req->res.headers.entries[i].value.base,
                                         req->res.headers.entries[i].value.len,
                                         H2O_STRLIT("text/plain; charset=utf-8"));
        if (req->res.status < 400 || !plain) {
                gate_ostream_add(req, &slot);
                h2o_setup_next_ostream(req, slot);
                return;
        }
        /* a body over the limit; a body's framing that does not parse (a Content-Length,
         * chunks, a Transfer-Encoding), an Expect other than 100-continue */
        h->drops[req->res.status == 413 ? HTTP_DROP_BODY : HTTP_DROP_MALFORMED]++;
        char tmp[256];
        int n = snprintf(tmp, sizeof(tmp), "{\"error\":\"%s\",\"status\":%d}\n",
                         req->res.status == 413 ? "request body too large (at most 65536 bytes)"
                                                : "request refused by the HTTP parser",
                         req->res.status);
        struct json_error_ostream *o =
                (struct json_error_ostream *)h2o_add_ostream(req, sizeof(*o), slot);
        o->body = h2o_strdup(&req->pool, tmp, (size_t)n);
        o->sent = false;
        o->super.do_send = json_error_do_send;
        req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json"));
        req->res.content_length = (size_t)n;
        slot = &o->super.next;
        gate_ostream_add(req, &slot);
        h2o_setup_next_ostream(req, slot);
}

/* ---- the gate of HTTP/1 request heads ----
 *
 * libh2o's HTTP/1 reader answers a request head it cannot parse, or one past its
 * compile-time H2O_MAX_REQLEN or H2O_MAX_HEADERS, with a fixed text 400 of its own, before
 * any handler or filter of om sees a request. So om checks every HTTP/1 request head
 * before libh2o's reader gets it, with the parser libh2o itself uses (picohttpparser's
 * phr_parse_request, which libh2o ships and exports): a head that does not parse gets
 * 400, one over OM_LIM_HTTP_HEAD bytes or OM_LIM_HTTP_HEADERS headers 431, in om's JSON,
 * counted; then the connection ends (gate_refused: the server's side shut, what the
 * client still sends dropped until it closes). A head that passes is one libh2o parses
 * the same way (same parser, same bytes, smaller limits than libh2o's).
 * Where a head can reach libh2o's reader, in libh2o 2.2:
 * - the first request: libh2o's HTTP/1 connection is made by om (h2o_http1_accept, after
 *   om's own TLS handshake, which h2o_accept would otherwise do and follow with
 *   h2o_http1_accept at once); a head already read (decrypted with the handshake's last
 *   bytes) is checked before; an incomplete one is left to libh2o (it waits), and the
 *   gate takes the socket's read callback (h2o_socket_t's _cb.read, which libh2o's
 *   h2o_socket_read_start sets) in its place: the bytes that come go to the gate, which
 *   hands the reader back and calls it once the head is complete and good;
 * - a later request of a keep-alive connection: libh2o stops reading while it serves a
 *   request, so the input holds the request (its head, then its body, which libh2o keeps
 *   in the input: req->entity) and whatever the client sent after it. When a response
 *   is final (gate_do_send, an output stream of every HTTP/1 response), what follows the
 *   request is checked: a good complete head is left to libh2o, which parses it as soon
 *   as the response is written; a bad one makes the response the last (not persistent)
 *   and, once it is written, om writes its error before libh2o closes; an incomplete one
 *   (or nothing) means libh2o will read: the completion of the response's last write
 *   (_cb.write, set by h2o_socket_write) is wrapped, and right after libh2o's own
 *   completion returned (it starts reading again, with the same reader as at the first
 *   request) the gate takes the read callback again.
 * Fail-safe: the build requires libh2o 2.2 (below); the start checks that
 * phr_parse_request answers as om expects (phr_as_expected); the reader must be the one
 * libh2o used at the first connection, the input must hold the request where om looks
 * for it, and a response's last write must be pending when it is wrapped, else the
 * connection is closed (after its response; logged once), never left to libh2o's reader
 * unchecked. HTTP/2 (TLS, ALPN h2) is libh2o's: om checks a
 * request's head size once libh2o decoded it (on_req). */

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "the gate of HTTP/1 request heads (agent/http.c) relies on libh2o 2.2's HTTP/1 reader: check it against this libh2o first"
#endif
_Static_assert(OM_LIM_HTTP_HEADERS <= H2O_MAX_HEADERS, "om's header limit above libh2o's");
_Static_assert(OM_LIM_HTTP_HEAD < H2O_MAX_REQLEN, "om's head limit above libh2o's");

/* picohttpparser's request parser, as libh2o 2.2 exports it (its header is not
 * installed): what phr_as_expected checks at the start */
struct phr_header {
        const char *name;
        size_t name_len;
        const char *value;
        size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

enum head_verdict {
        HEAD_NONE,    /* no next request (the connection closes after the response) */
        HEAD_PARTIAL, /* incomplete (or nothing yet), good so far */
        HEAD_OK,
        HEAD_BAD,
        HEAD_UNKNOWN, /* the request is not where the gate expects it: libh2o changed */
};

/* The request head at the start of buf (len bytes, of which last_len were found
 * incomplete before: only the bytes after are looked at for its end, as libh2o does).
 * At most OM_LIM_HTTP_HEAD bytes are looked at. */
static enum head_verdict head_check(const char *buf, size_t len, size_t last_len, size_t *head_len,
                                    struct head_error *e) {
        struct phr_header hd[OM_LIM_HTTP_HEADERS];
        size_t n = ARRAY_SIZE(hd), ml, pl, l = OM_MIN(len, (size_t)OM_LIM_HTTP_HEAD);
        const char *m, *p;
        int minor;
        int r = phr_parse_request(buf, l, &m, &ml, &p, &pl, &minor, hd, &n, OM_MIN(last_len, l));
        if (r > 0) {
                *head_len = (size_t)r;
                return HEAD_OK;
        }
        if (r == -2 && len < OM_LIM_HTTP_HEAD)
                return HEAD_PARTIAL;
        e->status = 431;
        if (r == -2)
                snprintf(e->msg, sizeof(e->msg),
                         "request line and headers over %d bytes: the limit is %d",
                         OM_LIM_HTTP_HEAD, OM_LIM_HTTP_HEAD);
        else if (n == ARRAY_SIZE(hd))
                snprintf(e->msg, sizeof(e->msg), "more than %d header lines: the limit is %d",
                         OM_LIM_HTTP_HEADERS, OM_LIM_HTTP_HEADERS);
        else {
                e->status = 400;
                if (n == 0)
                        snprintf(e->msg, sizeof(e->msg),
                                 "malformed request: the request line (METHOD path HTTP/1.x) "
                                 "or the first header line does not parse");
                else
                        snprintf(e->msg, sizeof(e->msg),
                                 "malformed request: header line %zu is not 'name: value'", n + 1);
        }
        return HEAD_BAD;
}

/* Whether phr_parse_request answers as head_check expects: the parts of a request, -2
 * for an incomplete one, -1 with the headers array full for too many headers, -1 with
 * the count of good headers for a bad one. */
static bool phr_as_expected(void) {
        static const char rq[] = "GET /a HTTP/1.1\r\nA: b\r\nCd: e\r\n\r\n";
        static const char bad[] = "GET /a HTTP/1.1\r\nA: b\r\nno colon\r\n\r\n";
        struct phr_header hd[2];
        size_t n = 2, ml, pl;
        const char *m, *p;
        int minor;
        int r = phr_parse_request(rq, sizeof(rq) - 1, &m, &ml, &p, &pl, &minor, hd, &n, 0);
        if (r != (int)sizeof(rq) - 1 || n != 2 || minor != 1 ||
            !h2o_memis(m, ml, H2O_STRLIT("GET")) || !h2o_memis(p, pl, H2O_STRLIT("/a")) ||
            !h2o_memis(hd[1].name, hd[1].name_len, H2O_STRLIT("Cd")) ||
            !h2o_memis(hd[1].value, hd[1].value_len, H2O_STRLIT("e")))
                return false;
        n = 2;
        if (phr_parse_request(rq, sizeof(rq) - 3, &m, &ml, &p, &pl, &minor, hd, &n, 0) != -2)
                return false;
        n = 1;
        if (phr_parse_request(rq, sizeof(rq) - 1, &m, &ml, &p, &pl, &minor, hd, &n, 0) != -1 ||
            n != 1)
                return false;
        n = 2;
        return phr_parse_request(bad, sizeof(bad) - 1, &m, &ml, &p, &pl, &minor, hd, &n, 0) == -1 &&
               n == 1;
}

/* how the connection ends once the gate's error is written */
enum refuse_mode {
        REFUSE_SOCKET,   /* no libh2o connection yet: om closes the socket */
        REFUSE_READER,   /* libh2o waits for a head: its reader gets an error, and closes */
        REFUSE_RESPONSE, /* after a response: libh2o's completion of it closes */
};

static void gate_read(h2o_socket_t *sock, const char *err);
static void gate_written(h2o_socket_t *sock, const char *err);

/* The refusal is out (or failed): the connection ends as its mode says. */
static void gate_close(struct http_conn *c) {
        h2o_socket_t *sock = c->sock;
        if (h2o_timeout_is_linked(&c->handshake_timeout))
                h2o_timeout_unlink(&c->handshake_timeout);
        h2o_socket_read_stop(sock);
        switch (c->refuse_mode) {
        case REFUSE_SOCKET:
                h2o_socket_close(sock);
                break;
        case REFUSE_READER:
                c->h1_read(sock, "request head refused");
                break;
        default: {
                h2o_socket_cb done = c->h1_write;
                c->h1_write = NULL;
                c->last_req->http1_is_persistent = 0;
                c->last_req = NULL;
                done(sock, NULL);
        }
        }
}

/* Lingering: what the client still sends is read and dropped until it closes (or the
 * linger time passed), so that the refusal is not lost to the reset a close with unread
 * input makes. */
static void gate_linger_read(h2o_socket_t *sock, const char *err) {
        struct http_conn *c = sock->on_close.data;
        h2o_buffer_consume(&sock->input, sock->input->size);
        if (err)
                gate_close(c);
}

static void gate_linger_end(h2o_timeout_entry_t *e) {
        gate_close(container_of(e, struct http_conn, handshake_timeout));
}

/* The refusal is written: the server's side is shut (the client reads the refusal, then
 * the end), and the connection lingers. */
static void gate_refused(h2o_socket_t *sock, const char *err) {
        struct http_conn *c = sock->on_close.data;
        int fd;
        if (c->closed)
                return;
        if (err || uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0 || shutdown(fd, SHUT_WR) < 0) {
                gate_close(c);
                return;
        }
        c->handshake_timeout.cb = gate_linger_end;
        h2o_timeout_link(&c->h->a->loop, &c->h->ctx.handshake_timeout, &c->handshake_timeout);
        h2o_buffer_consume(&sock->input, sock->input->size);
        h2o_socket_read_start(sock, gate_linger_read);
}

/* Answers e in JSON (counted), then the connection closes as mode says. */
static void gate_refuse(struct http_conn *c, enum refuse_mode mode, const struct head_error *e) {
        c->h->drops[e->status == 431 ? HTTP_DROP_HEAD : HTTP_DROP_MALFORMED]++;
        char body[192];
        int bl = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d}\n", e->msg,
                          e->status);
        int n = snprintf(c->refusal, sizeof(c->refusal),
                         "HTTP/1.1 %d %s\r\nServer: om\r\nConnection: close\r\n"
                         "Content-Type: application/json\r\nCache-Control: no-store\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         e->status, reason_of(e->status), bl, body);
        c->refusal_len = OM_MIN((size_t)n, sizeof(c->refusal) - 1);
        c->refuse_mode = mode;
        h2o_socket_read_stop(c->sock);
        h2o_iovec_t b = h2o_iovec_init(c->refusal, c->refusal_len);
        h2o_socket_write(c->sock, &b, 1, gate_refused);
}

/* libh2o does not do what the gate expects of it (see above): logged once. */
static void gate_broken(struct http_conn *c, const char *why) {
        struct om_http *h = c->h;
        if (h->gate_broken_logged)
                return;
        om_log_set_component("http");
        log_error("the check of HTTP/1 request heads cannot follow libh2o (%s): such "
                  "connections are closed",
                  why);
        h->gate_broken_logged = true;
}

/* ... and the connection is closed by an error given to libh2o's reader, when it reads
 * (between two requests). */
static void gate_broken_close(struct http_conn *c, const char *why) {
        gate_broken(c, why);
        if (c->sock->_cb.read)
                c->sock->_cb.read(c->sock, "request head unchecked");
}

/* libh2o waits for a request head with its reader: the gate reads in its place. */
static void gate_arm(struct http_conn *c) {
        struct om_http *h = c->h;
        h2o_socket_t *sock = c->sock;
        h2o_socket_cb cur = sock->_cb.read;
        if (cur == gate_read)
                return;
        if (cur && !h->h1_reader)
                h->h1_reader = cur;
        if (!cur || cur != h->h1_reader) {
                gate_broken_close(c, cur ? "its HTTP/1 reader changed" : "it does not read");
                return;
        }
        c->h1_read = cur;
        c->gate_seen = 0;
        sock->_cb.read = gate_read;
}

static void gate_read(h2o_socket_t *sock, const char *err) {
        struct http_conn *c = sock->on_close.data;
        h2o_socket_cb reader = c->h1_read;
        if (err) {
                sock->_cb.read = reader;
                reader(sock, err);
                return;
        }
        struct head_error e;
        size_t hl;
        enum head_verdict v =
                head_check(sock->input->bytes, sock->input->size, c->gate_seen, &hl, &e);
        c->gate_seen = sock->input->size;
        if (v == HEAD_PARTIAL)
                return;
        if (v == HEAD_BAD) {
                gate_refuse(c, REFUSE_READER, &e);
                return;
        }
        sock->_cb.read = reader;
        reader(sock, NULL);
}

/* A new connection's HTTP/1: a head already read is checked before libh2o gets it. */
static void h1_start(struct http_conn *c) {
        h2o_socket_t *sock = c->sock;
        enum head_verdict v = HEAD_PARTIAL;
        struct head_error e;
        size_t hl;
        if (sock->input->size &&
            (v = head_check(sock->input->bytes, sock->input->size, 0, &hl, &e)) == HEAD_BAD) {
                gate_refuse(c, REFUSE_SOCKET, &e);
                return;
        }
        c->h1 = true;
        h2o_http1_accept(&c->h->accept, sock, c->connected_at);
        if (v == HEAD_PARTIAL && !c->closed)
                gate_arm(c);
}

/* What follows req in the input, which libh2o reads as the next request's head once
 * req's response is written (see above). */
static enum head_verdict next_head(struct http_conn *c, h2o_req_t *req, struct head_error *e) {
        const h2o_buffer_t *in = c->sock->input;
        const char *b = in->bytes, *end;
        size_t hl;
        if (head_check(b, in->size, 0, &hl, e) != HEAD_OK)
                return HEAD_UNKNOWN;
        end = b + hl;
        if (req->entity.base) {
                if (req->entity.base != end || req->entity.len > in->size - hl)
                        return HEAD_UNKNOWN;
                end += req->entity.len;
        }
        size_t left = in->size - (size_t)(end - b);
        return left ? head_check(end, left, 0, &hl, e) : HEAD_PARTIAL;
}

struct gate_ostream {
        h2o_ostream_t super;
        struct http_conn *c;
};

static void gate_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                         h2o_send_state_t state) {
        struct http_conn *c = ((struct gate_ostream *)self)->c;
        if (h2o_send_state_is_in_progress(state) || c->closed || !req->http1_is_persistent) {
                h2o_ostream_send_next(self, req, bufs, n, state);
                return;
        }
        /* the last of a response that lets the connection go on */
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
                bytes += bufs[i].len;
        c->next_head = next_head(c, req, &c->next_error);
        if (c->next_head == HEAD_UNKNOWN)
                gate_broken(c, "the request is not where it is expected in its input");
        /* nothing left to write: libh2o would read the next head at once, unchecked */
        if (!bytes || c->next_head == HEAD_BAD || c->next_head == HEAD_UNKNOWN)
                req->http1_is_persistent = 0;
        bool wrap = bytes && c->next_head != HEAD_UNKNOWN;
        unsigned seq = ++c->resp_seq;
        h2o_socket_t *sock = c->sock;
        c->last_req = req;
        /* self may be freed once this returns (libh2o ends the request) */
        h2o_ostream_send_next(self, req, bufs, n, state);
        if (!wrap || c->closed || seq != c->resp_seq)
                return;
        if (!sock->_cb.write || sock->_cb.write == gate_written) {
                gate_broken_close(c, "the last write of a response is not pending");
                return;
        }
        c->h1_write = sock->_cb.write;
        sock->_cb.write = gate_written;
}

/* The last write of a response is done: libh2o's completion goes on with the next
 * request (or closes); the gate then checks, or reads, the next head. */
static void gate_written(h2o_socket_t *sock, const char *err) {
        struct http_conn *c = sock->on_close.data;
        h2o_socket_cb done = c->h1_write;
        h2o_req_t *req = c->last_req;
        enum head_verdict next = c->next_head;
        if (!err && next == HEAD_BAD) {
                gate_refuse(c, REFUSE_RESPONSE, &c->next_error);
                return;
        }
        c->h1_write = NULL;
        c->last_req = NULL;
        bool keep = req->http1_is_persistent;
        unsigned seq = c->resp_seq;
        done(sock, err);
        if (!err && keep && next == HEAD_PARTIAL && !c->closed && seq == c->resp_seq)
                gate_arm(c);
}

/* Every HTTP/1 response of a connection the gate follows passes gate_do_send. */
static void gate_ostream_add(h2o_req_t *req, h2o_ostream_t ***slot) {
        if (req->version >= 0x200 || !req->conn->callbacks->get_socket)
                return;
        h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
        struct http_conn *c = sock ? sock->on_close.data : NULL;
        if (!c || !c->h1)
                return;
        struct gate_ostream *g = (struct gate_ostream *)h2o_add_ostream(req, sizeof(*g), *slot);
        g->c = c;
        g->super.do_send = gate_do_send;
        *slot = &g->super.next;
}

/* ---- authentication ---- */

static void tokens_free(struct om_http *h) {
        sodium_memzero(h->toks, h->n_toks * sizeof(*h->toks));
        free(h->toks);
        h->toks = NULL;
        h->n_toks = 0;
}

/* The token table as the sec object holds it now: read again when its file changed
 * (a create or a revoke here, or a replicated one). */
static void tokens_refresh(struct om_http *h) {
        struct stat st;
        bool exists = stat(h->tok_file, &st) == 0;
        if (h->tok_loaded && exists && st.st_ino == h->tok_st.st_ino &&
            st.st_size == h->tok_st.st_size && st.st_mtim.tv_sec == h->tok_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == h->tok_st.st_mtim.tv_nsec)
                return;
        if (h->tok_loaded && !exists && !h->n_toks)
                return;
        struct om_token_info *v = NULL;
        size_t n = 0, bad = 0;
        if (exists && om_token_list(&v, &n, &bad) < 0) {
                om_log_set_component("http");
                log_warning("cannot read the tokens of %s: every token refused", OM_TOKEN_OBJECT);
                n = 0;
        }
        /* keep the use counts of the tokens that remain */
        struct tok *t = calloc(n ? n : 1, sizeof(*t));
        if (!t) {
                free(v);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                t[i].info = v[i];
                for (size_t k = 0; k < h->n_toks; k++)
                        if (!strcmp(h->toks[k].info.id, v[i].id)) {
                                t[i].uses = h->toks[k].uses;
                                t[i].logged_uses = h->toks[k].logged_uses;
                                t[i].logged_at = h->toks[k].logged_at;
                        }
        }
        if (bad) {
                om_log_set_component("http");
                log_warning("%zu token entr%s of %s do not open or parse: refused", bad,
                            bad == 1 ? "y" : "ies", OM_TOKEN_OBJECT);
        }
        sodium_memzero(v, n * sizeof(*v));
        free(v);
        tokens_free(h);
        h->toks = t;
        h->n_toks = n;
        h->tok_st = st;
        h->tok_loaded = true;
}

struct who {
        enum om_role role;
        char name[80]; /* "token <id>", "certificate <CN>" */
};

/* ---- client certificates ----
 *
 * om makes the SSL_CTX, so it asks for an optional client certificate (SSL_VERIFY_PEER
 * without FAIL_IF_NO_PEER_CERT) verified against the cluster CA alone. libh2o 2.2 gives
 * a request no access to its connection's SSL object, so the outcome is recorded when
 * the handshake is done, in the connection's own struct http_conn, and a request finds
 * it by its connection's h2o socket (h2o_conn_t's get_socket):
 * - SSL to socket: libh2o's OpenSSL handshake reads and writes through a BIO of its own
 *   method "h2o_socket" whose data is the h2o_socket_t; a BIO of any other method (a
 *   libh2o that changed) records nothing, so a certificate then counts as none;
 * - the socket pointer is compared with those of the open connections, never followed;
 *   a socket is freed by libh2o right before the close callback of its libuv handle
 *   (conn_closed) frees the struct http_conn, in the same call: no other connection can
 *   get that address while the record exists;
 * - no session resumption (no cache, no tickets) and no renegotiation: every connection
 *   verifies its certificate in its own full handshake, once;
 * - a certificate is judged again at each request for its notAfter (a connection may
 *   outlive it). */
static int ssl_ex_http = -1, ssl_ex_verify = -1;

/* Keeps the first verification error of the chain (the last one is what OpenSSL keeps),
 * and lets the handshake go on: a refused certificate is answered as a JSON 401, which
 * says why, rather than as a TLS alert. */
static int tls_verify(int preverify_ok, X509_STORE_CTX *xs) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
        if (!preverify_ok && ssl && !SSL_get_ex_data(ssl, ssl_ex_verify)) {
                intptr_t err = X509_STORE_CTX_get_error(xs);
                SSL_set_ex_data(ssl, ssl_ex_verify, (void *)(err ? err : X509_V_ERR_UNSPECIFIED));
        }
        return 1;
}

static struct http_conn *conn_of_socket(struct om_http *h, const void *sock) {
        for (struct http_conn *c = h->conn_list; c; c = c->next)
                if (c->sock == sock)
                        return c;
        return NULL;
}

static void cert_record(struct om_http *h, struct http_conn *c, const SSL *ssl) {
        X509 *cert = SSL_get0_peer_certificate(ssl);
        if (!cert || c->cert != CERT_NONE)
                return;
        h->n_cert_conns++;
        h->cert_handshakes++;
        c->cert = CERT_REFUSED;
        X509_NAME *sn = X509_get_subject_name(cert);
        if (!sn ||
            X509_NAME_get_text_by_NID(sn, NID_commonName, c->cert_name, sizeof(c->cert_name)) <= 0)
                snprintf(c->cert_name, sizeof(c->cert_name), "(no commonName)");
        for (char *p = c->cert_name; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        intptr_t err = (intptr_t)SSL_get_ex_data(ssl, ssl_ex_verify);
        if (!err)
                err = SSL_get_verify_result(ssl);
        if (err != X509_V_OK) {
                snprintf(c->cert_error, sizeof(c->cert_error), "%s",
                         X509_verify_cert_error_string((long)err));
                return;
        }
        struct tm tm;
        if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) {
                snprintf(c->cert_error, sizeof(c->cert_error), "its notAfter does not parse");
                return;
        }
        c->cert_role = om_tls_cert_role(cert);
        if (c->cert_role == OM_ROLE_NONE) {
                snprintf(c->cert_error, sizeof(c->cert_error),
                         "it names no role (organizationalUnitName viewer, operator or admin)");
                return;
        }
        c->cert_expires_ms = (uint64_t)timegm(&tm) * 1000;
        c->cert = CERT_OK;
}

static void tls_handshake_done(const SSL *ssl, int where, int ret) {
        (void)ret;
        if (!(where & SSL_CB_HANDSHAKE_DONE))
                return;
        struct om_http *h = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ssl_ex_http);
        BIO *bio = SSL_get_rbio(ssl);
        const char *method = bio ? BIO_method_name(bio) : NULL;
        if (!h || !SSL_get0_peer_certificate(ssl))
                return;
        struct http_conn *c = method && !strcmp(method, "h2o_socket")
                                      ? conn_of_socket(h, BIO_get_data(bio))
                                      : NULL;
        if (!c) {
                if (!h->cert_unmapped_logged) {
                        om_log_set_component("http");
                        log_warning("a client certificate cannot be tied to its connection "
                                    "(libh2o's TLS BIO is '%s'): certificates count as none",
                                    method ? method : "none");
                        h->cert_unmapped_logged = true;
                }
                return;
        }
        cert_record(h, c, ssl);
}

/* The connection of a request, when it presented a certificate. */
static struct http_conn *conn_with_cert(struct om_http *h, h2o_req_t *req) {
        if (!h->n_cert_conns || !req->conn->callbacks->get_socket)
                return NULL;
        h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
        struct http_conn *c = sock ? conn_of_socket(h, sock) : NULL;
        return c && c->cert != CERT_NONE ? c : NULL;
}

/* Logs the certificates' use: at most one line a minute, with the count. */
static void cert_used(struct om_http *h, struct http_conn *c) {
        uint64_t now = uv_now(&h->a->loop);
        if (h->cert_logged_at && now - h->cert_logged_at < 60000)
                return;
        om_log_set_component("http");
        log_info("client certificate '%s' (%s) used; %" PRIu64
                 " handshake%s with a certificate since the last line",
                 c->cert_name, om_role_to_string(c->cert_role), h->cert_handshakes - h->cert_logged,
                 h->cert_handshakes - h->cert_logged == 1 ? "" : "s");
        h->cert_logged = h->cert_handshakes;
        h->cert_logged_at = now;
}

/* A request without a bearer token: its connection's client certificate, or 401. */
static int authenticate_cert(struct om_http *h, h2o_req_t *req, struct who *w) {
        struct http_conn *c = conn_with_cert(h, req);
        if (!c) {
                h->drops[HTTP_DROP_NO_AUTH]++;
                send_error(req, 401,
                           "authentication required: Authorization: Bearer <token> (om token "
                           "create)%s",
                           h->ssl ? " or a client certificate of the cluster CA (om http cert "
                                    "create)"
                                  : "");
                return -1;
        }
        if (c->cert == CERT_REFUSED) {
                h->drops[HTTP_DROP_BAD_AUTH]++;
                send_error(req, 401, "client certificate '%s' refused: %s", c->cert_name,
                           c->cert_error);
                return -1;
        }
        if (om_now_ms() >= c->cert_expires_ms) {
                h->drops[HTTP_DROP_BAD_AUTH]++;
                send_error(req, 401, "client certificate '%s' refused: certificate has expired",
                           c->cert_name);
                return -1;
        }
        w->role = c->cert_role;
        snprintf(w->name, sizeof(w->name), "certificate %s", c->cert_name);
        cert_used(h, c);
        return 0;
}

/* Logs a token's first use, then at most once a minute with the count since. */
static void token_used(struct om_http *h, struct tok *t, h2o_req_t *req) {
        uint64_t now = uv_now(&h->a->loop);
        t->uses++;
        if (t->logged_at && now - t->logged_at < 60000)
                return;
        om_log_set_component("http");
        log_info("token %s (%s) used: %" PRIu64 " request%s since the last line, last %.*s %.*s",
                 t->info.id, om_role_to_string(t->info.role), t->uses - t->logged_uses,
                 t->uses - t->logged_uses == 1 ? "" : "s", (int)req->method.len, req->method.base,
                 (int)OM_MIN(req->path.len, 200), req->path.base);
        t->logged_uses = t->uses;
        t->logged_at = now;
}

static int authenticate(struct om_http *h, h2o_req_t *req, struct who *w) {
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
        w->role = OM_ROLE_NONE;
        if (i < 0)
                return authenticate_cert(h, req, w);
        h2o_iovec_t v = req->headers.entries[i].value;
        char id[OM_TOKEN_ID_LEN + 1];
        uint8_t secret[32];
        if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0 ||
            om_token_parse(v.base + 7, v.len - 7, id, secret) < 0) {
                h->drops[HTTP_DROP_BAD_AUTH]++;
                send_error(req, 401,
                           "malformed credentials: expected Authorization: Bearer "
                           "om1_<id>_<secret>");
                return -1;
        }
        tokens_refresh(h);
        for (size_t k = 0; k < h->n_toks; k++) {
                struct tok *t = &h->toks[k];
                if (strcmp(t->info.id, id) != 0)
                        continue;
                uint64_t now = om_now_ms();
                if (!om_token_matches(&t->info, secret, UINT64_C(0))) {
                        sodium_memzero(secret, sizeof(secret));
                        h->drops[HTTP_DROP_BAD_AUTH]++;
                        send_error(req, 401, "token %s: wrong secret", id);
                        return -1;
                }
                sodium_memzero(secret, sizeof(secret));
                if (t->info.expires_ms && now >= t->info.expires_ms) {
                        h->drops[HTTP_DROP_BAD_AUTH]++;
                        send_error(req, 401, "token %s expired", id);
                        return -1;
                }
                w->role = t->info.role;
                snprintf(w->name, sizeof(w->name), "token %s", id);
                token_used(h, t, req);
                return 0;
        }
        sodium_memzero(secret, sizeof(secret));
        h->drops[HTTP_DROP_BAD_AUTH]++;
        send_error(req, 401, "token %s unknown or revoked", id);
        return -1;
}

/* ---- calls into the local API's handlers ---- */

/* A local API reply: the map in u, whose strings point into sb. */
struct local_reply {
        msgpack_sbuffer sb;
        msgpack_unpacked u;
};

static void local_reply_done(struct local_reply *r) {
        msgpack_unpacked_destroy(&r->u);
        msgpack_sbuffer_destroy(&r->sb);
}

/* Runs the local API command cmd with {path, target} (each may be NULL); ret->u.data is
 * the whole reply map; local_reply_done(ret) in every case. */
static int local_call(struct om_http *h, const char *cmd, const char *path, const char *target,
                      struct local_reply *ret) {
        msgpack_sbuffer in;
        msgpack_packer pk;
        msgpack_unpacked req;
        int r;
        msgpack_sbuffer_init(&in);
        msgpack_sbuffer_init(&ret->sb);
        msgpack_unpacked_init(&ret->u);
        msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2 + (path != NULL) + (target != NULL));
        om_cl_mp_kv_u64(&pk, "v", 1);
        om_cl_mp_kv_str(&pk, "cmd", cmd);
        if (path)
                om_cl_mp_kv_str(&pk, "path", path);
        if (target)
                om_cl_mp_kv_str(&pk, "target", target);
        if ((r = om_cl_mp_unpack(in.data, in.size, &req)) == 0) {
                msgpack_packer_init(&pk, &ret->sb, msgpack_sbuffer_write);
                r = om_api_local_exec(h->a, cmd, &req.data, &pk);
                msgpack_unpacked_destroy(&req);
                if (r >= 0) {
                        msgpack_unpacked_destroy(&ret->u);
                        r = om_cl_mp_unpack(ret->sb.data, ret->sb.size, &ret->u);
                }
        }
        msgpack_sbuffer_destroy(&in);
        return r < 0 ? r : 0;
}

/* The status code of a refusal from the local API's handlers. */
static int error_status(const char *msg) {
        if (strstr(msg, "does not exist") || strstr(msg, "no target known") ||
            strstr(msg, "not a service"))
                return 404;
        if (strstr(msg, "malformed"))
                return 400;
        return 409;
}

/* Answers a local API reply: its data as JSON (200 or status), or its error. sub: the
 * member of data to answer with (NULL: data whole); a missing one is 404 "what". */
static void send_reply(h2o_req_t *req, int status, const msgpack_object *reply,
                       const char *const *sub, const char *what) {
        bool ok = false;
        char err[512];
        if (om_cl_mp_get_bool(reply, "ok", &ok) < 0 || !ok) {
                if (om_cl_mp_get_str(reply, "error", err, sizeof(err)) < 0)
                        snprintf(err, sizeof(err), "the agent gave no reason");
                send_error(req, error_status(err), "%s", err);
                return;
        }
        const msgpack_object *d = om_cl_mp_get(reply, "data");
        for (size_t i = 0; d && sub && sub[i]; i++)
                d = om_cl_mp_get(d, sub[i]);
        if (!d && sub) {
                send_error(req, 404, "%s", what);
                return;
        }
        struct om_buf b = {0};
        if (d)
                mp_json(&b, d);
        else
                om_buf_puts(&b, "{}");
        send_json(req, status, &b);
}

/* ---- routes ---- */

struct route_ctx {
        struct om_http *h;
        h2o_req_t *req;
        const struct who *who;
        char *seg[8]; /* the path's segments */
        size_t n_seg;
        char obj[OM_PATH_STRMAX]; /* {ns}/{kind}/{name} of an object route, canonical */
};

static int r_asset(struct route_ctx *x);
static int r_whoami(struct route_ctx *x);
static int r_cluster(struct route_ctx *x);
static int r_nodes(struct route_ctx *x);
static int r_node(struct route_ctx *x);
static int r_node_action(struct route_ctx *x);
static int r_objects(struct route_ctx *x);
static int r_object(struct route_ctx *x);
static int r_object_action(struct route_ctx *x);
static int r_object_config(struct route_ctx *x);
static int r_sec_keys(struct route_ctx *x);
static int r_daemon(struct route_ctx *x);
static int r_events(struct route_ctx *x);
static int r_metrics(struct route_ctx *x);

/* Every route: method, pattern ("*" one segment; an object route names {ns}/{kind}/{name}
 * with "%"), the least role (NONE: public), its handler. docs/openapi.json describes
 * each; tests/integration/test-http-openapi.sh checks they agree. */
static const struct route {
        const char *method, *pattern;
        enum om_role role;
        int (*fn)(struct route_ctx *x);
} routes[] = {
        {"GET", "/", OM_ROLE_NONE, r_asset},
        {"GET", "/ui.js", OM_ROLE_NONE, r_asset},
        {"GET", "/ui.css", OM_ROLE_NONE, r_asset},
        {"GET", "/openapi.json", OM_ROLE_NONE, r_asset},
        {"GET", "/api/whoami", OM_ROLE_VIEWER, r_whoami},
        {"GET", "/api/events", OM_ROLE_VIEWER, r_events},
        {"GET", "/metrics", OM_ROLE_VIEWER, r_metrics},
        {"GET", "/api/cluster", OM_ROLE_VIEWER, r_cluster},
        {"GET", "/api/nodes", OM_ROLE_VIEWER, r_nodes},
        {"GET", "/api/nodes/*", OM_ROLE_VIEWER, r_node},
        {"POST", "/api/nodes/*/freeze", OM_ROLE_OPERATOR, r_node_action},
        {"POST", "/api/nodes/*/thaw", OM_ROLE_OPERATOR, r_node_action},
        {"GET", "/api/objects", OM_ROLE_VIEWER, r_objects},
        {"GET", "/api/objects/%", OM_ROLE_VIEWER, r_object},
        {"POST", "/api/objects/%/*", OM_ROLE_OPERATOR, r_object_action},
        {"GET", "/api/objects/%/config", OM_ROLE_ADMIN, r_object_config},
        {"GET", "/api/objects/%/keys", OM_ROLE_ADMIN, r_sec_keys},
        {"POST", "/api/daemon/rescan", OM_ROLE_ADMIN, r_daemon},
        {"POST", "/api/daemon/reload", OM_ROLE_ADMIN, r_daemon},
};

/* Whether the segments match pattern; an object route's path goes to x->obj. */
static bool route_match(const char *pattern, struct route_ctx *x) {
        char pat[128];
        char *save = NULL, *p;
        size_t i = 0;
        snprintf(pat, sizeof(pat), "%s", pattern);
        x->obj[0] = 0;
        for (p = strtok_r(pat, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (!strcmp(p, "%")) {
                        if (i + 3 > x->n_seg)
                                return false;
                        char s[OM_PATH_STRMAX];
                        struct om_path op;
                        snprintf(s, sizeof(s), "%s/%s/%s", x->seg[i], x->seg[i + 1], x->seg[i + 2]);
                        if (om_path_parse(s, &op, NULL, 0) < 0)
                                return false;
                        om_path_to_string(&op, x->obj, sizeof(x->obj));
                        if (strcmp(s, x->obj) != 0) /* not the canonical three parts */
                                return false;
                        i += 3;
                        continue;
                }
                if (i >= x->n_seg || (strcmp(p, "*") != 0 && strcmp(p, x->seg[i]) != 0))
                        return false;
                i++;
        }
        return i == x->n_seg;
}

static int r_asset(struct route_ctx *x) {
        const char *want = x->n_seg ? x->seg[0] : "index.html";
        for (size_t i = 0; i < om_http_n_assets; i++)
                if (!strcmp(om_http_assets[i].path, want)) {
                        char type[64];
                        snprintf(type, sizeof(type), "%s%s", om_http_assets[i].type,
                                 om_startswith(om_http_assets[i].type, "text/") ? "; charset=utf-8"
                                                                                : "");
                        send_body(x->req, 200, type, (const char *)om_http_assets[i].data,
                                  om_http_assets[i].len);
                        return 0;
                }
        send_error(x->req, 404, "%s is not built in", want);
        return 0;
}

static int r_whoami(struct route_ctx *x) {
        struct om_buf b = {0};
        om_buf_puts(&b, "{\"role\":");
        json_cstr(&b, om_role_to_string(x->who->role));
        om_buf_puts(&b, ",\"credentials\":");
        json_cstr(&b, x->who->name);
        om_buf_puts(&b, ",\"node\":");
        json_cstr(&b, x->h->a->self);
        om_buf_puts(&b, "}");
        send_json(x->req, 200, &b);
        return 0;
}

/* the Prometheus exposition, as om daemon metrics prints it (agent/metrics.c) */
static int r_metrics(struct route_ctx *x) {
        struct om_buf b = {0};
        if (om_metrics_render(x->h->a, &b) < 0) {
                om_buf_free(&b);
                return send_error(x->req, 500, "out of memory"), 0;
        }
        send_body(x->req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                  b.len);
        om_buf_free(&b);
        return 0;
}

static int status_part(struct route_ctx *x, const char *const *sub, const char *what) {
        struct local_reply u;
        if (local_call(x->h, "status", NULL, NULL, &u) < 0) {
                local_reply_done(&u);
                send_error(x->req, 500, "the cluster view could not be packed");
                return 0;
        }
        send_reply(x->req, 200, &u.u.data, sub, what);
        local_reply_done(&u);
        return 0;
}

static int r_cluster(struct route_ctx *x) {
        return status_part(x, NULL, NULL);
}

static int r_nodes(struct route_ctx *x) {
        return status_part(x, (const char *const[]){"nodes", NULL}, NULL);
}

static int r_node(struct route_ctx *x) {
        char what[128];
        snprintf(what, sizeof(what), "no node %s in the cluster", x->seg[2]);
        return status_part(x, (const char *const[]){"nodes", x->seg[2], NULL}, what);
}

static int r_objects(struct route_ctx *x) {
        return status_part(x, (const char *const[]){"objects", NULL}, NULL);
}

static int r_object(struct route_ctx *x) {
        char what[OM_PATH_STRMAX + 64];
        snprintf(what, sizeof(what), "no instance of %s on any node", x->obj);
        return status_part(x, (const char *const[]){"objects", x->obj, NULL}, what);
}

static int r_node_action(struct route_ctx *x) {
        const char *act = x->seg[3];
        if (strcmp(x->seg[2], x->h->a->self) != 0) {
                send_error(x->req, 409, "this is node %s: %s node %s through its own HTTP API",
                           x->h->a->self, act, x->seg[2]);
                return 0;
        }
        struct local_reply u;
        if (local_call(x->h, !strcmp(act, "freeze") ? "node_freeze" : "node_thaw", NULL, NULL, &u) <
            0) {
                local_reply_done(&u);
                send_error(x->req, 500, "node %s failed", act);
                return 0;
        }
        bool ok = false;
        if (om_cl_mp_get_bool(&u.u.data, "ok", &ok) == 0 && ok) {
                struct om_buf b = {0};
                om_buf_printf(&b, "{\"node\":");
                json_cstr(&b, x->h->a->self);
                om_buf_printf(&b, ",\"frozen\":%s}", !strcmp(act, "freeze") ? "true" : "false");
                send_json(x->req, 200, &b);
        } else
                send_reply(x->req, 200, &u.u.data, NULL, NULL);
        local_reply_done(&u);
        return 0;
}

static int r_daemon(struct route_ctx *x) {
        struct local_reply u;
        const char *cmd = x->seg[2];
        if (local_call(x->h, cmd, NULL, NULL, &u) < 0) {
                local_reply_done(&u);
                send_error(x->req, 500, "%s failed", cmd);
                return 0;
        }
        bool ok = false;
        if (om_cl_mp_get_bool(&u.u.data, "ok", &ok) == 0 && ok) {
                struct om_buf b = {0};
                om_buf_puts(&b, "{\"done\":");
                json_cstr(&b, cmd);
                om_buf_puts(&b, "}");
                send_json(x->req, 200, &b);
        } else
                send_reply(x->req, 200, &u.u.data, NULL, NULL);
        local_reply_done(&u);
        return 0;
}

/* An object that could not be read: 404 when it is not on this node, else 500. */
static int send_read_error(struct route_ctx *x, int r) {
        if (r == -ENOENT)
                send_error(x->req, 404, "object %s does not exist on %s", x->obj, x->h->a->self);
        else
                send_error(x->req, 500, "cannot read %s: %s", x->obj, strerror(-r));
        return 0;
}

static int r_object_config(struct route_ctx *x) {
        struct om_path p;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (om_path_parse(x->obj, &p, NULL, 0) < 0)
                return send_error(x->req, 400, "bad object path %s", x->obj), 0;
        _cleanup_free_ char *file = om_object_conf_path(&p);
        /* a sec object's [data] values are sealed in the file: never a value in clear */
        int r = file ? om_read_file(file, OM_LIM_INI_SEC_FILE, &text, &len) : -ENOMEM;
        if (r < 0)
                return send_read_error(x, r);
        struct om_buf b = {0};
        om_buf_puts(&b, "{\"path\":");
        json_cstr(&b, x->obj);
        om_buf_puts(&b, ",\"node\":");
        json_cstr(&b, x->h->a->self);
        om_buf_puts(&b, ",\"text\":");
        json_str(&b, text, len);
        om_buf_puts(&b, "}");
        send_json(x->req, 200, &b);
        return 0;
}

static int r_sec_keys(struct route_ctx *x) {
        struct om_path p;
        _cleanup_strv_free_ char **keys = NULL;
        if (om_path_parse(x->obj, &p, NULL, 0) < 0 || p.kind != OM_KIND_SEC)
                return send_error(x->req, 404, "%s is not a sec object: keys are a sec's", x->obj),
                       0;
        int r = om_sec_keys(&p, &keys);
        if (r < 0)
                return send_read_error(x, r);
        struct om_buf b = {0};
        om_buf_puts(&b, "{\"path\":");
        json_cstr(&b, x->obj);
        om_buf_puts(&b, ",\"keys\":[");
        for (size_t i = 0; keys[i]; i++) {
                if (i)
                        om_buf_puts(&b, ",");
                json_cstr(&b, keys[i]);
        }
        om_buf_puts(&b, "]}");
        send_json(x->req, 200, &b);
        return 0;
}

/* ---- actions, and waiting for their target ---- */

/* A request waiting for its target: polls the orchestrator's answer every 50 ms on a
 * timer of the loop (as `om <path> <action> --wait` polls the local API). Freed when the
 * request is (the client may leave first) or when the server stops. */
struct http_wait {
        struct om_http *h;
        h2o_req_t *req; /* NULL once the request is gone */
        struct http_wait **holder;
        uv_timer_t timer;
        uint64_t ver, deadline; /* loop time, 0: none */
        char path[OM_PATH_STRMAX], target[80];
        bool answered;
        struct http_wait *prev, *next;
};

static void wait_freed(uv_handle_t *hd) {
        free(hd->data);
}

static void wait_end(struct http_wait *w) {
        struct om_http *h = w->h;
        if (w->prev)
                w->prev->next = w->next;
        else if (h->waits == w)
                h->waits = w->next;
        if (w->next)
                w->next->prev = w->prev;
        h->n_waits--;
        if (w->holder)
                *w->holder = NULL;
        uv_timer_stop(&w->timer);
        if (!uv_is_closing((uv_handle_t *)&w->timer))
                uv_close((uv_handle_t *)&w->timer, wait_freed);
}

/* the request's memory pool is going: its client left or it was answered */
static void wait_req_gone(void *p) {
        struct http_wait *w = *(struct http_wait **)p;
        if (w) {
                w->req = NULL;
                w->holder = NULL;
                wait_end(w);
        }
}

static void wait_poll(uv_timer_t *t) {
        struct http_wait *w = t->data;
        struct om_http *h = w->h;
        struct local_reply u;
        if (!w->req || w->answered)
                return;
        if (local_call(h, "object_target", w->path, NULL, &u) < 0) {
                local_reply_done(&u);
                w->answered = true;
                send_error(w->req, 500, "%s: lost the target while waiting", w->path);
                return;
        }
        bool ok = false, done = false, failed = false;
        uint64_t ver = 0;
        char reason[256] = "", now_target[80] = "";
        const msgpack_object *d = om_cl_mp_get(&u.u.data, "data");
        if (om_cl_mp_get_bool(&u.u.data, "ok", &ok) < 0 || !ok || !d) {
                w->answered = true;
                send_reply(w->req, 200, &u.u.data, NULL, NULL);
                local_reply_done(&u);
                return;
        }
        (void)om_cl_mp_get_u64(d, "ver", &ver);
        (void)om_cl_mp_get_bool(d, "done", &done);
        (void)om_cl_mp_get_bool(d, "failed", &failed);
        (void)om_cl_mp_get_str(d, "reason", reason, sizeof(reason));
        (void)om_cl_mp_get_str(d, "target", now_target, sizeof(now_target));
        if (ver != w->ver) {
                w->answered = true;
                send_error(w->req, 409, "%s: target %s superseded by %s before it was reached",
                           w->path, w->target, now_target);
        } else if (done && failed) {
                w->answered = true;
                send_error(w->req, 409, "%s: target %s failed: %s", w->path, w->target, reason);
        } else if (done) {
                w->answered = true;
                send_reply(w->req, 200, &u.u.data, NULL, NULL);
        } else if (w->deadline && uv_now(&h->a->loop) >= w->deadline) {
                w->answered = true;
                send_error(w->req, 504, "%s: target %s not reached within the timeout", w->path,
                           w->target);
        }
        local_reply_done(&u);
}

static const struct {
        const char *action, *target;
} action_targets[] = {
        {"start", "started"},         {"stop", "stopped"},
        {"provision", "provisioned"}, {"unprovision", "unprovisioned"},
        {"purge", "purged"},          {"freeze", "frozen"},
        {"thaw", "thawed"},           {"switch", NULL /* placed@<to> */},
};

/* The value of name in the query string, copied into buf: 1 found, 0 absent. Unknown
 * names are refused by query_check. */
static int query_get(h2o_req_t *req, const char *name, char *buf, size_t len) {
        if (req->query_at == SIZE_MAX)
                return 0;
        const char *q = req->path.base + req->query_at + 1;
        size_t qn = req->path.len - req->query_at - 1, nl = strlen(name);
        while (qn) {
                const char *amp = memchr(q, '&', qn);
                size_t pl = amp ? (size_t)(amp - q) : qn;
                if (pl > nl && !memcmp(q, name, nl) && q[nl] == '=') {
                        snprintf(buf, len, "%.*s", (int)(pl - nl - 1), q + nl + 1);
                        return 1;
                }
                if (pl == nl && !memcmp(q, name, nl)) {
                        snprintf(buf, len, "true");
                        return 1;
                }
                q += pl + (amp ? 1 : 0);
                qn -= pl + (amp ? 1 : 0);
        }
        return 0;
}

/* Every query parameter is one of allowed (space separated): else the refusal. */
static bool query_check(h2o_req_t *req, const char *allowed, char *bad, size_t len) {
        if (req->query_at == SIZE_MAX)
                return true;
        const char *q = req->path.base + req->query_at + 1;
        size_t qn = req->path.len - req->query_at - 1;
        while (qn) {
                const char *amp = memchr(q, '&', qn);
                size_t pl = amp ? (size_t)(amp - q) : qn;
                const char *eq = memchr(q, '=', pl);
                size_t kl = eq ? (size_t)(eq - q) : pl;
                char key[64];
                snprintf(key, sizeof(key), "%.*s", (int)OM_MIN(kl, sizeof(key) - 1), q);
                char pat[80];
                snprintf(pat, sizeof(pat), " %s ", key);
                char all[256];
                snprintf(all, sizeof(all), " %s ", allowed);
                if (kl && (kl >= sizeof(key) || !strstr(all, pat))) {
                        snprintf(bad, len, "%.*s", (int)OM_MIN(kl, 60), q);
                        return false;
                }
                q += pl + (amp ? 1 : 0);
                qn -= pl + (amp ? 1 : 0);
        }
        return true;
}

static int r_object_action(struct route_ctx *x) {
        struct om_http *h = x->h;
        h2o_req_t *req = x->req;
        const char *action = x->seg[x->n_seg - 1], *target = NULL;
        char buf[80], tbuf[96], bad[64];
        bool wait = false;
        uint64_t timeout = 0;
        for (size_t i = 0; i < ARRAY_SIZE(action_targets); i++)
                if (!strcmp(action_targets[i].action, action)) {
                        target = action_targets[i].target ? action_targets[i].target : "";
                        break;
                }
        if (!target)
                return send_error(req, 404,
                                  "unknown action '%s': start, stop, provision, unprovision, "
                                  "purge, freeze, thaw, switch",
                                  action),
                       0;
        if (!query_check(req, !strcmp(action, "switch") ? "wait timeout to" : "wait timeout", bad,
                         sizeof(bad)))
                return send_error(req, 400, "unknown query parameter '%s'", bad), 0;
        if (query_get(req, "wait", buf, sizeof(buf)) && om_parse_bool(buf, &wait) < 0)
                return send_error(req, 400, "wait: '%s' is not a boolean", buf), 0;
        if (query_get(req, "timeout", buf, sizeof(buf)) &&
            (om_parse_duration_ms(buf, &timeout) < 0 || timeout > OM_LIM_HTTP_WAIT_MAX_MS))
                return send_error(req, 400, "timeout: '%s' is not a duration of at most 10m", buf),
                       0;
        if (!strcmp(action, "switch")) {
                if (!query_get(req, "to", buf, sizeof(buf)) || !buf[0])
                        return send_error(req, 400, "switch needs ?to=<node>"), 0;
                snprintf(tbuf, sizeof(tbuf), "placed@%s", buf);
                target = tbuf;
        }
        if (wait && h->n_waits >= OM_LIM_HTTP_WAITS) {
                h->drops[HTTP_DROP_BUSY]++;
                return send_error(req, 503,
                                  "%d requests wait already: try again, or without "
                                  "wait",
                                  OM_LIM_HTTP_WAITS),
                       0;
        }
        struct local_reply u;
        if (local_call(h, "object_set", x->obj, target, &u) < 0) {
                local_reply_done(&u);
                return send_error(req, 500, "%s: the target could not be set", x->obj), 0;
        }
        bool ok = false;
        uint64_t ver = 0;
        const msgpack_object *d = om_cl_mp_get(&u.u.data, "data");
        if (om_cl_mp_get_bool(&u.u.data, "ok", &ok) < 0 || !ok || !d || !wait) {
                send_reply(req, 202, &u.u.data, NULL, NULL);
                local_reply_done(&u);
                return 0;
        }
        (void)om_cl_mp_get_u64(d, "ver", &ver);
        local_reply_done(&u);
        om_log_set_component("http");
        log_info("%s target %s set through the HTTP API by %s", x->obj, target, x->who->name);
        struct http_wait *w = calloc(1, sizeof(*w));
        struct http_wait **holder =
                h2o_mem_alloc_shared(&req->pool, sizeof(*holder), wait_req_gone);
        if (!w)
                return send_error(req, 500, "out of memory"), 0;
        *holder = w;
        w->h = h;
        w->req = req;
        w->holder = holder;
        w->ver = ver;
        w->deadline = timeout ? uv_now(&h->a->loop) + timeout : 0;
        snprintf(w->path, sizeof(w->path), "%s", x->obj);
        snprintf(w->target, sizeof(w->target), "%s", target);
        uv_timer_init(&h->a->loop, &w->timer);
        w->timer.data = w;
        w->next = h->waits;
        if (h->waits)
                h->waits->prev = w;
        h->waits = w;
        h->n_waits++;
        uv_timer_start(&w->timer, wait_poll, 50, 50);
        return 0;
}

/* ---- the event stream: GET /api/events, server-sent events ---- */

/* One subscriber: the events it was not sent yet in `pending`, those libh2o is writing in
 * `inflight` (kept until its proceed callback); closed when pending passes
 * OM_LIM_HTTP_STREAM_BACKLOG (a client that does not read). A comment line every 15 s
 * keeps the connection's idle timers of proxies quiet. */
struct http_stream {
        h2o_generator_t gen;
        struct om_http *h;
        h2o_req_t *req; /* NULL once the request is gone */
        struct http_stream **holder;
        struct om_ev_sub *sub;
        uv_timer_t keepalive;
        struct om_buf pending, inflight;
        bool sending, ending;
        char boot[2 * OM_HB_BOOT_ID_LEN + 1];
        struct http_stream *prev, *next;
};

static void stream_freed(uv_handle_t *hd) {
        struct http_stream *st = hd->data;
        om_buf_free(&st->pending);
        om_buf_free(&st->inflight);
        free(st);
}

/* Unsubscribes and unlinks; the memory goes with the timer's close. */
static void stream_end(struct http_stream *st) {
        struct om_http *h = st->h;
        if (st->sub)
                om_events_unsubscribe(h->a, st->sub);
        st->sub = NULL;
        if (st->prev)
                st->prev->next = st->next;
        else if (h->streams == st)
                h->streams = st->next;
        if (st->next)
                st->next->prev = st->prev;
        h->n_streams--;
        if (st->holder)
                *st->holder = NULL;
        st->req = NULL;
        uv_timer_stop(&st->keepalive);
        if (!uv_is_closing((uv_handle_t *)&st->keepalive))
                uv_close((uv_handle_t *)&st->keepalive, stream_freed);
}

static void stream_req_gone(void *p) {
        struct http_stream *st = *(struct http_stream **)p;
        if (st) {
                st->holder = NULL;
                stream_end(st);
        }
}

static void stream_flush(struct http_stream *st) {
        if (!st->req || st->sending)
                return;
        if (st->ending) {
                st->sending = true;
                h2o_send(st->req, NULL, 0, H2O_SEND_STATE_FINAL);
                return;
        }
        if (!st->pending.len)
                return;
        struct om_buf t = st->inflight;
        st->inflight = st->pending;
        st->pending = t;
        st->pending.len = 0;
        h2o_iovec_t b = h2o_iovec_init(st->inflight.data, st->inflight.len);
        st->sending = true;
        st->h->events_sent++;
        h2o_send(st->req, &b, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req) {
        struct http_stream *st = (struct http_stream *)g;
        st->sending = false;
        st->inflight.len = 0;
        stream_flush(st);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req) {
        struct http_stream *st = (struct http_stream *)g;
        st->req = NULL; /* the client left: the pool's dispose ends the stream */
}

static void stream_event(void *arg, const struct om_event *e) {
        struct http_stream *st = arg;
        if (!st->req || st->ending)
                return;
        if (st->pending.len > OM_LIM_HTTP_STREAM_BACKLOG) {
                om_log_set_component("http");
                log_warning("event stream closed: %zu bytes unsent (the client does not read)",
                            st->pending.len);
                st->h->streams_closed_slow++;
                st->pending.len = 0;
                st->ending = true;
                if (st->sub)
                        om_events_unsubscribe(st->h->a, st->sub);
                st->sub = NULL;
                stream_flush(st);
                return;
        }
        /* data: the event's JSON (seq, ts, kind, node, fields), its text line first */
        om_buf_printf(&st->pending, "id: %s.%" PRIu64 "\ndata: {\"text\":", st->boot, e->seq);
        json_cstr(&st->pending, e->text ? e->text : "");
        if (e->json && e->json[0] == '{' && e->json[1] != '}')
                om_buf_printf(&st->pending, ",%s\n\n", e->json + 1);
        else
                om_buf_puts(&st->pending, "}\n\n");
        stream_flush(st);
}

static void stream_keepalive(uv_timer_t *t) {
        struct http_stream *st = t->data;
        if (!st->req || st->ending)
                return;
        om_buf_puts(&st->pending, ": keepalive\n\n");
        stream_flush(st);
}

static int hexval(char c) {
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

/* "%-decoding" of a query value, in place; false for a malformed escape */
static bool url_decode(char *s) {
        char *o = s;
        for (; *s; s++) {
                if (*s == '+')
                        *o++ = ' ';
                else if (*s == '%') {
                        int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
                        if (hi < 0 || lo < 0)
                                return false;
                        *o++ = (char)(hi * 16 + lo);
                        s += 2;
                } else
                        *o++ = *s;
        }
        *o = 0;
        return true;
}

/* "<boot>.<seq>" of an event id: its sequence when of this boot; else *other set */
static bool parse_event_id(const char *v, const char *boot, uint64_t *seq, bool *other) {
        const char *dot = strrchr(v, '.');
        char *end;
        if (!dot)
                return false;
        unsigned long long n = strtoull(dot + 1, &end, 10);
        if (!dot[1] || *end)
                return false;
        *other = (size_t)(dot - v) != strlen(boot) || memcmp(v, boot, strlen(boot)) != 0;
        *seq = n;
        return true;
}

static int r_events(struct route_ctx *x) {
        struct om_http *h = x->h;
        h2o_req_t *req = x->req;
        struct om_ev_filter f = {0};
        char bad[64], boot[2 * OM_HB_BOOT_ID_LEN + 1], err[320];
        char since_s[128] = "";
        if (!query_check(req, "since filter", bad, sizeof(bad)))
                return send_error(req, 400, "unknown query parameter '%s': since, filter", bad), 0;
        if (h->n_streams >= OM_LIM_HTTP_STREAMS) {
                h->drops[HTTP_DROP_BUSY]++;
                return send_error(req, 503, "%d event streams are open already",
                                  OM_LIM_HTTP_STREAMS),
                       0;
        }
        om_hex_encode(h->a->boot_id, OM_HB_BOOT_ID_LEN, boot, sizeof(boot));
        /* every filter=<term> of the query, as om node events --filter takes them */
        if (req->query_at != SIZE_MAX) {
                const char *q = req->path.base + req->query_at + 1;
                size_t qn = req->path.len - req->query_at - 1;
                while (qn) {
                        const char *amp = memchr(q, '&', qn);
                        size_t pl = amp ? (size_t)(amp - q) : qn;
                        if (pl > 7 && !memcmp(q, "filter=", 7)) {
                                char term[OM_EV_FILTER_LEN * 3 + 1];
                                if (pl - 7 >= sizeof(term)) {
                                        om_ev_filter_free(&f);
                                        return send_error(req, 400, "a filter is longer than %d",
                                                          OM_EV_FILTER_LEN),
                                               0;
                                }
                                memcpy(term, q + 7, pl - 7);
                                term[pl - 7] = 0;
                                if (!url_decode(term)) {
                                        om_ev_filter_free(&f);
                                        return send_error(req, 400,
                                                          "filter: a malformed %%-escape"),
                                               0;
                                }
                                if (om_ev_filter_add(&f, term, err, sizeof(err)) < 0) {
                                        om_ev_filter_free(&f);
                                        return send_error(req, 400, "filter: %s", err), 0;
                                }
                        }
                        q += pl + (amp ? 1 : 0);
                        qn -= pl + (amp ? 1 : 0);
                }
        }
        /* where to start: ?since=<id> or Last-Event-ID (an EventSource reconnecting) */
        ssize_t li = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
        if (!query_get(req, "since", since_s, sizeof(since_s)) && li >= 0)
                snprintf(since_s, sizeof(since_s), "%.*s",
                         (int)OM_MIN(req->headers.entries[li].value.len, sizeof(since_s) - 1),
                         req->headers.entries[li].value.base);
        const struct om_ev_ring *ring = om_events_ring(h->a);
        uint64_t since = ring->last;
        bool restarted = false;
        if (since_s[0] && !parse_event_id(since_s, boot, &since, &restarted)) {
                om_ev_filter_free(&f);
                return send_error(req, 400, "since: '%s' is not an event id <boot>.<seq>", since_s),
                       0;
        }
        if (restarted)
                since = 0; /* another boot's numbers mean nothing here: all that is held */
        if (since > ring->last)
                since = ring->last;

        struct http_stream *st = calloc(1, sizeof(*st));
        struct http_stream **holder =
                h2o_mem_alloc_shared(&req->pool, sizeof(*holder), stream_req_gone);
        if (!st) {
                om_ev_filter_free(&f);
                return send_error(req, 500, "out of memory"), 0;
        }
        *holder = st;
        st->holder = holder;
        st->h = h;
        st->req = req;
        st->gen.proceed = stream_proceed;
        st->gen.stop = stream_stop;
        snprintf(st->boot, sizeof(st->boot), "%s", boot);
        uv_timer_init(&h->a->loop, &st->keepalive);
        st->keepalive.data = st;
        st->next = h->streams;
        if (h->streams)
                h->streams->prev = st;
        h->streams = st;
        h->n_streams++;

        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/event-stream"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-store"));
        h2o_start_response(req, &st->gen);
        /* first: where the stream starts, then what was missed, then each new event */
        om_buf_printf(&st->pending,
                      "retry: 1000\nevent: hello\ndata: {\"boot\":\"%s\",\"first\":%" PRIu64
                      ",\"last\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"restarted\":%s}\n\n",
                      boot, om_ev_ring_first(ring), ring->last, om_ev_ring_lost(ring, since),
                      restarted ? "true" : "false");
        (void)om_events_replay(h->a, since, &f, stream_event, st);
        st->sub = om_events_subscribe(h->a, &f, stream_event, st);
        if (!st->sub)
                st->ending = true;
        uv_timer_start(&st->keepalive, stream_keepalive, 15000, 15000);
        stream_flush(st);
        return 0;
}

/* ---- the handler ---- */

struct om_handler {
        h2o_handler_t super;
        struct om_http *h;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
        struct om_http *h = ((struct om_handler *)self)->h;
        struct route_ctx x = {.h = h, .req = req};
        char pathbuf[OM_LIM_HTTP_PATH + 1], *save = NULL;
        h->served++;
        size_t head = req->input.method.len + req->input.path.len + 16;
        for (size_t i = 0; i < req->headers.size; i++)
                head += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
        if (head > OM_LIM_HTTP_HEAD) {
                h->drops[HTTP_DROP_HEAD]++;
                send_error(req, 431, "request line and headers of %zu bytes: the limit is %d", head,
                           OM_LIM_HTTP_HEAD);
                return 0;
        }
        if (req->entity.len > OM_LIM_HTTP_BODY) {
                h->drops[HTTP_DROP_BODY]++;
                send_error(req, 413, "request body of %zu bytes: the limit is %u", req->entity.len,
                           OM_LIM_HTTP_BODY);
                return 0;
        }
        if (req->path.len > OM_LIM_HTTP_PATH) {
                h->drops[HTTP_DROP_PATH]++;
                send_error(req, 414, "path of %zu bytes: the limit is %d", req->path.len,
                           OM_LIM_HTTP_PATH);
                return 0;
        }
        /* the normalized path (no query, no dot segments), split */
        size_t pl = req->path_normalized.len;
        memcpy(pathbuf, req->path_normalized.base, pl);
        pathbuf[pl] = 0;
        for (char *p = strtok_r(pathbuf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (x.n_seg >= ARRAY_SIZE(x.seg)) {
                        x.n_seg = SIZE_MAX;
                        break;
                }
                x.seg[x.n_seg++] = p;
        }
        const struct route *found = NULL;
        bool path_known = false;
        for (size_t i = 0; x.n_seg != SIZE_MAX && i < ARRAY_SIZE(routes); i++) {
                if (!route_match(routes[i].pattern, &x))
                        continue;
                path_known = true;
                if (h2o_memis(req->method.base, req->method.len, routes[i].method,
                              strlen(routes[i].method)) ||
                    (!strcmp(routes[i].method, "GET") &&
                     h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))) {
                        found = &routes[i];
                        break;
                }
        }
        if (!found) {
                h->drops[path_known ? HTTP_DROP_METHOD : HTTP_DROP_NOT_FOUND]++;
                if (path_known)
                        send_error(req, 405, "method %.*s not allowed on %.*s",
                                   (int)OM_MIN(req->method.len, 16), req->method.base,
                                   (int)OM_MIN(req->path_normalized.len, 200),
                                   req->path_normalized.base);
                else
                        send_error(req, 404, "no such path: %.*s (see /openapi.json)",
                                   (int)OM_MIN(req->path_normalized.len, 200),
                                   req->path_normalized.base);
                return 0;
        }
        struct who who = {.role = OM_ROLE_NONE, .name = "anonymous"};
        x.who = &who;
        if (found->role != OM_ROLE_NONE) {
                if (authenticate(h, req, &who) < 0)
                        return 0;
                if (who.role < found->role) {
                        h->drops[HTTP_DROP_ROLE]++;
                        send_error(req, 403, "%s %s needs the %s role; %s is %s", found->method,
                                   found->pattern, om_role_to_string(found->role), who.name,
                                   om_role_to_string(who.role));
                        return 0;
                }
        }
        return found->fn(&x);
}

/* ---- the server ---- */

/* libh2o frees the connection's socket right before it calls this: the record of its
 * certificate goes with it */
static void conn_closed(uv_handle_t *hd) {
        struct http_conn *c = container_of((uv_tcp_t *)hd, struct http_conn, tcp);
        struct om_http *h = c->h;
        h->conns--;
        if (c->cert != CERT_NONE)
                h->n_cert_conns--;
        if (c->prev)
                c->prev->next = c->next;
        else
                h->conn_list = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c);
}

static void conn_refused(uv_handle_t *hd) {
        free(container_of((uv_tcp_t *)hd, struct http_conn, tcp));
}

/* the socket is being closed (h2o_socket_t's on_close, called by libh2o as it frees the
 * socket's TLS state and input; conn_closed comes once libuv closed the handle) */
static void conn_closing(void *data) {
        struct http_conn *c = data;
        c->closed = true;
        if (h2o_timeout_is_linked(&c->handshake_timeout))
                h2o_timeout_unlink(&c->handshake_timeout);
}

static void handshake_timed_out(h2o_timeout_entry_t *e) {
        h2o_socket_close(container_of(e, struct http_conn, handshake_timeout)->sock);
}

/* The TLS handshake is done: HTTP/2 if the client chose it (ALPN), else HTTP/1. */
static void handshake_done(h2o_socket_t *sock, const char *err) {
        struct http_conn *c = sock->on_close.data;
        if (h2o_timeout_is_linked(&c->handshake_timeout))
                h2o_timeout_unlink(&c->handshake_timeout);
        if (err) {
                h2o_socket_close(sock);
                return;
        }
        h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
        for (const h2o_iovec_t *p = h2o_http2_alpn_protocols; p->len; p++)
                if (h2o_memis(proto.base, proto.len, p->base, p->len)) {
                        h2o_http2_accept(&c->h->accept, sock, c->connected_at);
                        return;
                }
        h1_start(c);
}

static void ca_follow(struct om_http *h);

static void on_accept(uv_stream_t *listener, int status) {
        struct om_http *h = container_of((uv_tcp_t *)listener, struct om_http, listener);
        if (status < 0)
                return;
        struct http_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->h = h;
        uv_tcp_init(listener->loop, &c->tcp);
        if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
                uv_close((uv_handle_t *)&c->tcp, conn_refused);
                return;
        }
        if (h->conns >= h->conns_max) {
                h->drops[HTTP_DROP_REFUSED]++;
                uv_close((uv_handle_t *)&c->tcp, conn_refused);
                return;
        }
        h->conns++;
        h->accepted++;
        ca_follow(h);
        c->sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, conn_closed);
        c->sock->on_close.cb = conn_closing;
        c->sock->on_close.data = c;
        c->connected_at = *h2o_get_timestamp(&h->ctx, NULL, NULL);
        c->next = h->conn_list;
        if (h->conn_list)
                h->conn_list->prev = c;
        h->conn_list = c;
        if (!h->ssl) {
                h1_start(c);
                return;
        }
        /* what h2o_accept does, with the gate before HTTP/1 */
        c->handshake_timeout.cb = handshake_timed_out;
        h2o_timeout_link(&h->a->loop, &h->ctx.handshake_timeout, &c->handshake_timeout);
        h2o_socket_ssl_handshake(c->sock, h->ssl, NULL, handshake_done);
}

static int tls_setup(struct om_http *h, SSL_CTX **ret, char *err, size_t errlen);

/* The DER of the CA's public key, to tell whether the CA changed. */
static size_t ca_pub(X509 *ca, unsigned char *out, size_t len) {
        EVP_PKEY *k = X509_get0_pubkey(ca);
        int n = k ? i2d_PUBKEY(k, NULL) : -1;
        unsigned char *p = out;
        if (n <= 0 || (size_t)n > len || i2d_PUBKEY(k, &p) != n)
                return 0;
        return (size_t)n;
}

/* A TLS context: the server certificate, the verification of client certificates. */
static int tls_make(struct om_http *h, SSL_CTX **ret, char *err, size_t errlen) {
        int r = tls_setup(h, ret, err, errlen);
        if (r < 0 && *ret) {
                SSL_CTX_free(*ret);
                *ret = NULL;
        }
        return r;
}

static int tls_setup(struct om_http *h, SSL_CTX **ret, char *err, size_t errlen) {
        const struct om_cl_config *cfg = h->a->cfg;
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        *ret = ctx;
        if (!ctx)
                return snprintf(err, errlen, "cannot make a TLS context"), -ENOMEM;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        /* no renegotiation, no resumption: a connection's client certificate is the one
         * its own full handshake verified (see tls_handshake_done) */
        SSL_CTX_set_options(ctx,
                            SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
        EVP_PKEY *ca_key = NULL;
        X509 *ca = NULL;
        int r = om_tls_ca(cfg->name, &ca_key, &ca);
        if (r < 0)
                return snprintf(err, errlen, "cannot make the cluster CA: %s", strerror(-r)), r;
        if (cfg->http.tls == OM_HTTP_TLS_FILES) {
                if (SSL_CTX_use_certificate_chain_file(ctx, cfg->http.cert) != 1)
                        r = -EINVAL,
                        snprintf(err, errlen, "[api] http_cert %s: not a PEM certificate",
                                 cfg->http.cert);
                else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->http.key, SSL_FILETYPE_PEM) != 1 ||
                         SSL_CTX_check_private_key(ctx) != 1)
                        r = -EINVAL, snprintf(err, errlen,
                                              "[api] http_key %s: not the PEM private key of "
                                              "http_cert",
                                              cfg->http.key);
        } else {
                EVP_PKEY *key = NULL;
                X509 *cert = NULL;
                const char *sans[] = {cfg->http.addr, h->a->self, "localhost", NULL};
                r = om_tls_issue(ca_key, ca, h->a->self, sans, OM_ROLE_NONE,
                                 UINT64_C(397) * 24 * 3600 * 1000, &key, &cert);
                if (r < 0 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
                    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_add1_chain_cert(ctx, ca) != 1)
                        r = -EIO, snprintf(err, errlen,
                                           "cannot make this node's certificate from the cluster "
                                           "CA");
                EVP_PKEY_free(key);
                X509_free(cert);
        }
        /* client certificates: optional, verified against the cluster CA alone (the
         * purpose checked is sslclient, so a node's server certificate is refused) */
        if (ssl_ex_http < 0)
                ssl_ex_http = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (ssl_ex_verify < 0)
                ssl_ex_verify = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (r == 0 &&
            (ssl_ex_http < 0 || ssl_ex_verify < 0 ||
             X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1 ||
             SSL_CTX_add_client_CA(ctx, ca) != 1 || SSL_CTX_set_ex_data(ctx, ssl_ex_http, h) != 1 ||
             SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"om", 2) != 1))
                r = -EIO, snprintf(err, errlen,
                                   "cannot set up the verification of client "
                                   "certificates");
        if (r == 0 && !(h->ca_pub_len = ca_pub(ca, h->ca_pub, sizeof(h->ca_pub))))
                r = -EIO, snprintf(err, errlen, "cannot read the cluster CA's public key");
        EVP_PKEY_free(ca_key);
        X509_free(ca);
        if (r < 0)
                return r;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify);
        SSL_CTX_set_verify_depth(ctx, 2);
        SSL_CTX_set_info_callback(ctx, tls_handshake_done);
        h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
        return 0;
}

/* Whether the file of the CA's sec object changed since the last look (stat only). */
static bool ca_changed(struct om_http *h) {
        struct stat st;
        bool exists = stat(h->ca_file, &st) == 0;
        if (h->ca_looked && exists == h->ca_exists &&
            (!exists || (st.st_ino == h->ca_st.st_ino && st.st_size == h->ca_st.st_size &&
                         st.st_mtim.tv_sec == h->ca_st.st_mtim.tv_sec &&
                         st.st_mtim.tv_nsec == h->ca_st.st_mtim.tv_nsec)))
                return false;
        h->ca_looked = true;
        h->ca_exists = exists;
        if (exists)
                h->ca_st = st;
        return true;
}

/* Before a connection: when the CA's sec object changed (a rotation stored it, or a
 * replication brought another one), and the CA with it, new connections get a context
 * of the new CA; those open keep theirs (OpenSSL counts the references). */
static void ca_follow(struct om_http *h) {
        if (!h->ssl || !ca_changed(h))
                return;
        EVP_PKEY *ca_key = NULL;
        X509 *ca = NULL;
        unsigned char pub[sizeof(h->ca_pub)];
        size_t n = 0;
        char err[256];
        int r = om_tls_ca(h->a->cfg->name, &ca_key, &ca);
        if (r == 0)
                n = ca_pub(ca, pub, sizeof(pub));
        EVP_PKEY_free(ca_key);
        X509_free(ca);
        om_log_set_component("http");
        if (r < 0 || !n) {
                log_warning("cannot read the cluster CA of %s: %s; the TLS context stays the "
                            "one of the CA read before",
                            OM_TLS_CA_OBJECT, r < 0 ? strerror(-r) : "no public key");
                return;
        }
        if (n == h->ca_pub_len && !memcmp(pub, h->ca_pub, n))
                return;
        SSL_CTX *ctx = NULL;
        if (tls_make(h, &ctx, err, sizeof(err)) < 0) {
                log_warning("the cluster CA changed (%s), and a TLS context of it cannot be "
                            "made: %s; the one of the CA before stays",
                            OM_TLS_CA_OBJECT, err);
                return;
        }
        SSL_CTX_free(h->ssl);
        h->ssl = ctx;
        h->accept.ssl_ctx = ctx;
        log_info("the cluster CA changed (%s): new connections get a certificate of the new "
                 "CA and client certificates of it",
                 OM_TLS_CA_OBJECT);
}

int om_http_start(struct om_agent *a) {
        const struct om_cl_config *cfg = a->cfg;
        char err[256];
        int r;
        if (!cfg->http.addr[0])
                return 0;
        if (!phr_as_expected()) {
                fprintf(stderr, "om: HTTP API: libh2o's request parser (phr_parse_request) does "
                                "not answer as om's check of request heads expects: this libh2o "
                                "is not the one om was made for\n");
                return -EPROTO;
        }
        struct om_http *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        a->http = h;
        h->a = a;
        struct om_path tp;
        if (om_path_parse(OM_TOKEN_OBJECT, &tp, NULL, 0) < 0 ||
            !(h->tok_file = om_object_conf_path(&tp)))
                return -ENOMEM;
        if (om_path_parse(OM_TLS_CA_OBJECT, &tp, NULL, 0) < 0 ||
            !(h->ca_file = om_object_conf_path(&tp)))
                return -ENOMEM;
        /* each connection is a descriptor: as many as the process may open, less a margin */
        struct rlimit rl;
        h->conns_max = OM_LIM_HTTP_CONNS;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < OM_LIM_HTTP_CONNS + 512) {
                        rl.rlim_cur = OM_MIN(rl.rlim_max, (rlim_t)OM_LIM_HTTP_CONNS + 512);
                        (void)setrlimit(RLIMIT_NOFILE, &rl);
                        (void)getrlimit(RLIMIT_NOFILE, &rl);
                }
                if (rl.rlim_cur < OM_LIM_HTTP_CONNS + 256)
                        h->conns_max = rl.rlim_cur > 512 ? rl.rlim_cur - 256 : 256;
        }

        h2o_config_init(&h->config);
        h->config.server_name = h2o_iovec_init(H2O_STRLIT("om"));
        /* libh2o refuses a larger body itself, before reading it (from its
         * Content-Length, or as its chunks come): its 413 goes through the JSON filter of
         * the host's fallback path (below), to which libh2o binds a request it answers
         * before routing it */
        h->config.max_request_entity_size = OM_LIM_HTTP_BODY;
        h->config.http1.req_timeout = OM_LIM_HTTP_REQ_TIMEOUT_MS;
        /* plain HTTP is HTTP/1.1 only (HTTP/2: over TLS, by ALPN), every head through
         * the gate */
        h->config.http1.upgrade_to_http2 = 0;
        h->config.http2.idle_timeout = OM_LIM_HTTP_REQ_TIMEOUT_MS;
        h->config.handshake_timeout = OM_LIM_HTTP_REQ_TIMEOUT_MS;
        h2o_hostconf_t *host =
                h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
        h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
        struct om_handler *hd = (struct om_handler *)h2o_create_handler(path, sizeof(*hd));
        hd->super.on_req = on_req;
        hd->h = h;
        h2o_pathconf_t *filtered[] = {path, &host->fallback_path};
        for (size_t i = 0; i < ARRAY_SIZE(filtered); i++) {
                struct json_filter *jf =
                        (struct json_filter *)h2o_create_filter(filtered[i], sizeof(*jf));
                jf->super.on_setup_ostream = json_error_setup;
                jf->h = h;
        }
        h2o_context_init(&h->ctx, &a->loop, &h->config);
        h->ctx_ready = true;
        h->accept.ctx = &h->ctx;
        h->accept.hosts = h->config.hosts;
        if (cfg->http.tls != OM_HTTP_TLS_OFF) {
                (void)ca_changed(h); /* the state of the CA's object, before the CA */
                if ((r = tls_make(h, &h->ssl, err, sizeof(err))) < 0) {
                        fprintf(stderr, "om: HTTP API: %s\n", err);
                        return r;
                }
                h->accept.ssl_ctx = h->ssl;
        }

        struct sockaddr_storage ss;
        if (uv_ip4_addr(cfg->http.addr, cfg->http.port, (struct sockaddr_in *)&ss) &&
            uv_ip6_addr(cfg->http.addr, cfg->http.port, (struct sockaddr_in6 *)&ss))
                return -EINVAL;
        snprintf(h->bind, sizeof(h->bind), strchr(cfg->http.addr, ':') ? "[%s]:%u" : "%s:%u",
                 cfg->http.addr, cfg->http.port);
        uv_tcp_init(&a->loop, &h->listener);
        h->listening = true;
        r = uv_tcp_bind(&h->listener, (struct sockaddr *)&ss, 0);
        if (r == 0)
                r = uv_listen((uv_stream_t *)&h->listener, 511, on_accept);
        if (r < 0) {
                fprintf(stderr, "om: HTTP API: cannot listen on tcp %s: %s\n", h->bind,
                        uv_strerror(r));
                return r;
        }
        om_log_set_component("http");
        log_info("HTTP API on %s://%s (%zu connections at most)",
                 cfg->http.tls == OM_HTTP_TLS_OFF ? "http" : "https", h->bind, h->conns_max);
        return 0;
}

/* Runs the loop without blocking until every connection closed, at most rounds times. */
static void conns_drain(struct om_http *h, int rounds) {
        for (int i = 0; h->conns && i < rounds; i++)
                uv_run(&h->a->loop, UV_RUN_NOWAIT);
}

/* Before the agent closes the loop's handles: every connection is closed by libh2o
 * itself, so its memory, its timers and then libh2o's context are freed (an ASan build
 * exits without a leak). Waits are answered 503 and event streams ended; libh2o closes
 * the idle connections and the others once their response is out
 * (h2o_context_request_shutdown); those left after a few rounds of the loop (a client
 * that does not read, a TLS handshake halfway) get their socket shut down, which libh2o
 * sees as the client leaving. A connection that outlives even that keeps libh2o's
 * context: its memory goes with the process. */
void om_http_stop(struct om_agent *a) {
        struct om_http *h = a->http;
        if (!h)
                return;
        if (h->listening && !uv_is_closing((uv_handle_t *)&h->listener))
                uv_close((uv_handle_t *)&h->listener, NULL);
        for (struct http_wait *w = h->waits; w; w = w->next)
                if (w->req && !w->answered) {
                        w->answered = true;
                        send_error(w->req, 503, "the agent is stopping: %s's target is %s", w->path,
                                   w->target);
                }
        for (struct http_stream *st = h->streams; st; st = st->next) {
                if (st->sub)
                        om_events_unsubscribe(a, st->sub);
                st->sub = NULL;
                st->ending = true;
                stream_flush(st);
        }
        if (h->ctx_ready) {
                h2o_context_request_shutdown(&h->ctx);
                conns_drain(h, 20);
                for (struct http_conn *c = h->conn_list; c; c = c->next) {
                        uv_os_fd_t fd;
                        if (!uv_is_closing((uv_handle_t *)&c->tcp) &&
                            uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
                                (void)shutdown(fd, SHUT_RDWR);
                }
                conns_drain(h, 100);
        }
        /* what the connections did not end (they were cut short) */
        while (h->waits)
                wait_end(h->waits);
        while (h->streams)
                stream_end(h->streams);
        /* libh2o's context can be disposed only once no connection holds one of its
         * timers (it asserts so) */
        if (h->ctx_ready && h->conns == 0) {
                /* h2o_context_request_shutdown's GOAWAY of HTTP/2, sent again after
                 * a second (one_sec_timeout): no connection is left to send it to */
                if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
                        h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
                h2o_context_dispose(&h->ctx);
                h->ctx_ready = false;
        } else if (h->conns) {
                om_log_set_component("http");
                log_warning("%zu HTTP connection%s still open at the stop", h->conns,
                            h->conns == 1 ? "" : "s");
        }
}

void om_http_free(struct om_agent *a) {
        struct om_http *h = a->http;
        if (!h)
                return;
        if (h->ctx_ready) /* not disposed: connections were open (om_http_stop) */
                return;
        h2o_config_dispose(&h->config);
        if (h->ssl)
                SSL_CTX_free(h->ssl);
        tokens_free(h);
        free(h->tok_file);
        free(h->ca_file);
        free(h);
        a->http = NULL;
}

const char *om_http_drop_name(int d) {
        return d >= 0 && d < _HTTP_DROP_MAX ? http_drop_names[d] : NULL;
}

uint64_t om_http_dropped(struct om_agent *a, int d) {
        return a->http && d >= 0 && d < _HTTP_DROP_MAX ? a->http->drops[d] : 0;
}

void om_http_pack_stats(struct om_agent *a, msgpack_packer *pk) {
        struct om_http *h = a->http;
        if (!h) {
                msgpack_pack_nil(pk);
                return;
        }
        msgpack_pack_map(pk, 9);
        om_cl_mp_kv_str(pk, "addr", h->bind);
        om_cl_mp_kv_u64(pk, "event_streams", h->n_streams);
        om_cl_mp_kv_u64(pk, "event_writes", h->events_sent);
        om_cl_mp_kv_u64(pk, "event_streams_slow", h->streams_closed_slow);
        om_cl_mp_kv_u64(pk, "connections", h->conns);
        om_cl_mp_kv_u64(pk, "accepted", h->accepted);
        om_cl_mp_kv_u64(pk, "requests", h->served);
        om_cl_mp_kv_u64(pk, "waiting", h->n_waits);
        om_cl_mp_str_pack(pk, "drops");
        msgpack_pack_map(pk, _HTTP_DROP_MAX);
        for (int d = 0; d < _HTTP_DROP_MAX; d++)
                om_cl_mp_kv_u64(pk, http_drop_names[d], h->drops[d]);
}
