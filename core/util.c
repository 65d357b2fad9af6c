/*
 * Implementation of util.h. Everything here is small, pure and allocation-honest:
 * a failure to allocate is reported as -ENOMEM, never ignored.
 */
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

bool om_endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *om_vasprintf(const char *fmt, va_list ap) {
        char *s;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

char *om_asprintf(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = om_vasprintf(fmt, ap);
        va_end(ap);
        return s;
}

int om_buf_reserve(struct om_buf *b, size_t extra) {
        if (b->len + extra + 1 <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + extra + 1) {
                if (cap > SIZE_MAX / 2)
                        return -ENOMEM;
                cap *= 2;
        }
        char *n = realloc(b->data, cap);
        if (!n)
                return -ENOMEM;
        b->data = n;
        b->cap = cap;
        return 0;
}

int om_buf_append(struct om_buf *b, const void *data, size_t len) {
        int r = om_buf_reserve(b, len);
        if (r < 0)
                return r;
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = 0;
        return 0;
}

int om_buf_puts(struct om_buf *b, const char *s) {
        return om_buf_append(b, s, strlen(s));
}

int om_buf_printf(struct om_buf *b, const char *fmt, ...) {
        va_list ap, ap2;
        va_start(ap, fmt);
        va_copy(ap2, ap);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                va_end(ap2);
                return -EINVAL;
        }
        int r = om_buf_reserve(b, (size_t)n);
        if (r < 0) {
                va_end(ap2);
                return r;
        }
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        va_end(ap2);
        b->len += (size_t)n;
        return 0;
}

void om_buf_free(struct om_buf *b) {
        free(b->data);
        *b = (struct om_buf){0};
}

char *om_buf_steal(struct om_buf *b) {
        char *s = b->data ? b->data : strdup("");
        *b = (struct om_buf){0};
        return s;
}

void om_strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t om_strv_length(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

int om_strv_consume(char ***v, char *s) {
        if (!s)
                return -ENOMEM;
        size_t n = om_strv_length(*v);
        char **nv = realloc(*v, (n + 2) * sizeof(char *));
        if (!nv) {
                free(s);
                return -ENOMEM;
        }
        nv[n] = s;
        nv[n + 1] = NULL;
        *v = nv;
        return 0;
}

int om_strv_push(char ***v, const char *s) {
        return om_strv_consume(v, strdup(s));
}

bool om_strv_contains(char *const *v, const char *s) {
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

int om_strv_split(const char *s, const char *seps, char ***ret) {
        char **v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        const char *p = s;
        while (*p) {
                p += strspn(p, seps);
                size_t n = strcspn(p, seps);
                if (n == 0)
                        break;
                int r = om_strv_consume(&v, strndup(p, n));
                if (r < 0) {
                        om_strv_free(v);
                        return r;
                }
                p += n;
        }
        *ret = v;
        return 0;
}

char *om_strv_join(char *const *v, const char *sep) {
        struct om_buf b = {0};
        for (size_t i = 0; v && v[i]; i++)
                if ((i && om_buf_puts(&b, sep) < 0) || om_buf_puts(&b, v[i]) < 0) {
                        om_buf_free(&b);
                        return NULL;
                }
        return om_buf_steal(&b);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void om_strv_sort(char **v) {
        qsort(v, om_strv_length(v), sizeof(char *), cmp_str);
}

/* Parses the leading unsigned decimal of s; *end points after it. */
static int parse_u64_prefix(const char *s, uint64_t *ret, const char **end) {
        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        uint64_t v = 0;
        while (isdigit((unsigned char)*s)) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
                s++;
        }
        *ret = v;
        *end = s;
        return 0;
}

int om_parse_size(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {
                {"", 0},    {"b", 0},    {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20},
                {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},
                {"tb", 40}, {"tib", 40}, {"p", 50}, {"pb", 50}, {"pib", 50},
        };
        uint64_t v;
        const char *end;
        if (!s || parse_u64_prefix(s, &v, &end) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (strcasecmp(end, units[i].suffix) == 0) {
                        if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
                                return -ERANGE;
                        *ret = v << units[i].shift;
                        return 0;
                }
        return -EINVAL;
}

int om_parse_duration_ms(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t ms;
        } units[] = {
                {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
        };
        uint64_t v;
        const char *end;
        if (!s || parse_u64_prefix(s, &v, &end) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (strcmp(end, units[i].suffix) == 0) {
                        if (v > UINT64_MAX / units[i].ms)
                                return -ERANGE;
                        *ret = v * units[i].ms;
                        return 0;
                }
        return -EINVAL;
}

int om_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = {"true", "yes", "y", "on", "1"};
        static const char *const no[] = {"false", "no", "n", "off", "0"};
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ARRAY_SIZE(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int om_parse_int(const char *s, long long min, long long max, long long *ret) {
        if (!s || !*s)
                return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max || isspace((unsigned char)*s))
                return -EINVAL;
        *ret = v;
        return 0;
}

void om_format_size(uint64_t bytes, char *buf, size_t len) {
        static const char units[] = "BKMGTPE";
        double v = (double)bytes;
        unsigned u = 0;
        while (v >= 1024 && u < sizeof(units) - 2) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, len, "%llu", (unsigned long long)bytes);
        else if (v < 10)
                snprintf(buf, len, "%.1f%c", v, units[u]);
        else
                snprintf(buf, len, "%.0f%c", v, units[u]);
}

int om_hex_encode(const uint8_t *in, size_t len, char *out, size_t outlen) {
        static const char digits[] = "0123456789abcdef";
        if (outlen < len * 2 + 1)
                return -ENOBUFS;
        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[len * 2] = 0;
        return 0;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int om_hex_decode(const char *in, uint8_t *out, size_t outlen) {
        if (strlen(in) != outlen * 2)
                return -EINVAL;
        for (size_t i = 0; i < outlen; i++) {
                int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

int om_uuid4(char out[37]) {
        uint8_t b[16];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                return -errno;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
        return 0;
}

bool om_uuid_valid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (hexval(s[i]) < 0)
                        return false;
        }
        return true;
}

bool om_utf8_valid(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *)s, *e = p + len;
        while (p < e) {
                unsigned c = *p;
                size_t n;
                uint32_t cp;
                if (c < 0x80) {
                        if (c == 0)
                                return false;
                        p++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n = 1;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return false;
                if ((size_t)(e - p) <= n)
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                /* overlong forms, surrogates, beyond U+10FFFF */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                p += n + 1;
        }
        return true;
}

uint64_t om_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t om_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *om_strstrip(char *s) {
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
                s[--n] = 0;
        return s;
}
