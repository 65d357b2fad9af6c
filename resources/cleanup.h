/*
 * Cleanup attributes for the library types the drivers hold: libcryptsetup's
 * crypt_device and libmount's context and table. Each destructor accepts NULL.
 * Include it only where those libraries are used.
 */
#pragma once

#include <libcryptsetup.h>
#include <libmount/libmount.h>

#include "core/om.h"

static inline void om_crypt_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}
static inline void om_mnt_context_freep(struct libmnt_context **c) {
        if (*c)
                mnt_free_context(*c);
}
static inline void om_mnt_table_freep(struct libmnt_table **t) {
        if (*t)
                mnt_unref_table(*t);
}

#define _cleanup_crypt_ _cleanup_(om_crypt_freep)
#define _cleanup_mnt_context_ _cleanup_(om_mnt_context_freep)
#define _cleanup_mnt_table_ _cleanup_(om_mnt_table_freep)
