/*
 * Small language helpers shared by every module: cleanup attributes, container_of,
 * array sizes. Nothing here allocates or has state; it is the vocabulary the rest of
 * the tree is written in, not a utility grab-bag (see util.h for that).
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void om_freep(void *p) {
        free(*(void **)p);
}
static inline void om_closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void om_fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ _cleanup_(om_freep)
#define _cleanup_close_ _cleanup_(om_closep)
#define _cleanup_fclose_ _cleanup_(om_fclosep)

/* Declares `name##p(type **)` calling func on a non-NULL pointer, for _cleanup_. */
#define OM_DEFINE_CLEANUP(type, func)                                                              \
        static inline void func##p(type **p) {                                                     \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

/* Moves ownership out of a cleanup variable. */
#define OM_TAKE_PTR(p)                                                                             \
        ({                                                                                         \
                __typeof__(p) _tmp_ = (p);                                                         \
                (p) = NULL;                                                                        \
                _tmp_;                                                                             \
        })
#define OM_TAKE_FD(fd)                                                                             \
        ({                                                                                         \
                int _tmp_ = (fd);                                                                  \
                (fd) = -1;                                                                         \
                _tmp_;                                                                             \
        })

#define OM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define OM_MIN(a, b) ((a) < (b) ? (a) : (b))
