/*
 * Implementation of cl_mp.h on top of msgpack-c's object model. Everything here checks
 * the type and the size of what it reads, since the input comes from the network.
 */
#include "cluster/cl_mp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

bool om_cl_mp_streq(const msgpack_object *o, const char *s) {
        size_t n = strlen(s);
        return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
               memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *om_cl_mp_get(const msgpack_object *map, const char *key) {
        if (!map || map->type != MSGPACK_OBJECT_MAP)
                return NULL;
        for (uint32_t i = 0; i < map->via.map.size; i++)
                if (om_cl_mp_streq(&map->via.map.ptr[i].key, key))
                        return &map->via.map.ptr[i].val;
        return NULL;
}

int om_cl_mp_str(const msgpack_object *o, char *buf, size_t len) {
        if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= len ||
            memchr(o->via.str.ptr, 0, o->via.str.size))
                return -EINVAL;
        memcpy(buf, o->via.str.ptr, o->via.str.size);
        buf[o->via.str.size] = 0;
        return 0;
}

int om_cl_mp_get_str(const msgpack_object *map, const char *key, char *buf, size_t len) {
        return om_cl_mp_str(om_cl_mp_get(map, key), buf, len);
}

int om_cl_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *ret) {
        const msgpack_object *o = om_cl_mp_get(map, key);
        if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return -EINVAL;
        *ret = o->via.u64;
        return 0;
}

int om_cl_mp_get_i64(const msgpack_object *map, const char *key, int64_t *ret) {
        const msgpack_object *o = om_cl_mp_get(map, key);
        if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                *ret = o->via.i64;
        else if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
                *ret = (int64_t)o->via.u64;
        else
                return -EINVAL;
        return 0;
}

int om_cl_mp_get_bool(const msgpack_object *map, const char *key, bool *ret) {
        const msgpack_object *o = om_cl_mp_get(map, key);
        if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
                return -EINVAL;
        *ret = o->via.boolean;
        return 0;
}

void om_cl_mp_str_pack(msgpack_packer *pk, const char *s) {
        size_t n = strlen(s);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
}

void om_cl_mp_kv_str(msgpack_packer *pk, const char *key, const char *s) {
        om_cl_mp_str_pack(pk, key);
        om_cl_mp_str_pack(pk, s ? s : "");
}

void om_cl_mp_kv_u64(msgpack_packer *pk, const char *key, uint64_t v) {
        om_cl_mp_str_pack(pk, key);
        msgpack_pack_uint64(pk, v);
}

void om_cl_mp_kv_i64(msgpack_packer *pk, const char *key, int64_t v) {
        om_cl_mp_str_pack(pk, key);
        msgpack_pack_int64(pk, v);
}

void om_cl_mp_kv_bool(msgpack_packer *pk, const char *key, bool v) {
        om_cl_mp_str_pack(pk, key);
        if (v)
                msgpack_pack_true(pk);
        else
                msgpack_pack_false(pk);
}

/*
 * Walks the encoding of one msgpack object without allocating: msgpack-c allocates a
 * container's element array from its declared count before reading the elements, so a
 * 5-byte "array of 4 billion" would ask for tens of GiB. Every element takes at least one
 * byte, so a message is refused when the elements it announces outnumber the bytes left.
 * Returns the encoded length of the object, or -EBADMSG.
 */
static int64_t mp_walk(const uint8_t *p, size_t len) {
        size_t pos = 0, pending = 1;
        while (pending > 0) {
                if (pos >= len)
                        return -EBADMSG;
                uint8_t b = p[pos++];
                uint64_t skip = 0, items = 0;
                size_t nlen = 0;
                if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1))
                        ;
                else if (b >= 0x80 && b <= 0x8f)
                        items = 2u * (b & 0x0f);
                else if (b >= 0x90 && b <= 0x9f)
                        items = b & 0x0f;
                else if (b >= 0xa0 && b <= 0xbf)
                        skip = b & 0x1f;
                else
                        switch (b) {
                        case 0xc4:
                        case 0xd9:
                                nlen = 1;
                                break; /* bin8 str8 */
                        case 0xc5:
                        case 0xda:
                                nlen = 2;
                                break; /* bin16 str16 */
                        case 0xc6:
                        case 0xdb:
                                nlen = 4;
                                break; /* bin32 str32 */
                        case 0xc7:
                                nlen = 1;
                                skip = 1;
                                break; /* ext8 */
                        case 0xc8:
                                nlen = 2;
                                skip = 1;
                                break; /* ext16 */
                        case 0xc9:
                                nlen = 4;
                                skip = 1;
                                break; /* ext32 */
                        case 0xca:
                                skip = 4;
                                break;
                        case 0xcb:
                                skip = 8;
                                break;
                        case 0xcc:
                        case 0xd0:
                                skip = 1;
                                break;
                        case 0xcd:
                        case 0xd1:
                                skip = 2;
                                break;
                        case 0xce:
                        case 0xd2:
                                skip = 4;
                                break;
                        case 0xcf:
                        case 0xd3:
                                skip = 8;
                                break;
                        case 0xd4:
                                skip = 2;
                                break;
                        case 0xd5:
                                skip = 3;
                                break;
                        case 0xd6:
                                skip = 5;
                                break;
                        case 0xd7:
                                skip = 9;
                                break;
                        case 0xd8:
                                skip = 17;
                                break;
                        case 0xdc:
                        case 0xde:
                                nlen = 2;
                                break;
                        case 0xdd:
                        case 0xdf:
                                nlen = 4;
                                break;
                        default:
                                return -EBADMSG; /* 0xc1 is never used */
                        }
                if (nlen) {
                        uint64_t n = 0;
                        if (len - pos < nlen)
                                return -EBADMSG;
                        for (size_t i = 0; i < nlen; i++)
                                n = n << 8 | p[pos++];
                        if (b == 0xdc || b == 0xdd)
                                items = n;
                        else if (b == 0xde || b == 0xdf)
                                items = 2 * n;
                        else
                                skip += n;
                }
                if (skip > len - pos)
                        return -EBADMSG;
                pos += (size_t)skip;
                pending--;
                if (items > len - pos || pending + items > len - pos)
                        return -EBADMSG;
                pending += (size_t)items;
        }
        return (int64_t)pos;
}

int om_cl_mp_unpack(const void *data, size_t len, msgpack_unpacked *ret) {
        size_t off = 0;
        msgpack_unpacked_init(ret);
        if (!data || len == 0 || mp_walk(data, len) != (int64_t)len)
                return -EBADMSG;
        if (msgpack_unpack_next(ret, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
                msgpack_unpacked_destroy(ret);
                msgpack_unpacked_init(ret);
                return -EBADMSG;
        }
        return 0;
}

void om_cl_mp_to_json(const msgpack_object *o, struct om_json *j) {
        char key[512];
        switch (o->type) {
        case MSGPACK_OBJECT_NIL:
                om_json_null(j);
                break;
        case MSGPACK_OBJECT_BOOLEAN:
                om_json_bool(j, o->via.boolean);
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                om_json_int(j, o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64);
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                om_json_int(j, o->via.i64);
                break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                om_json_int(j, (int64_t)o->via.f64);
                break;
        case MSGPACK_OBJECT_STR: {
                _cleanup_free_ char *s = strndup(o->via.str.ptr, o->via.str.size);
                om_json_string(j, s ? s : "");
                break;
        }
        case MSGPACK_OBJECT_BIN: {
                size_t n = o->via.bin.size;
                _cleanup_free_ char *hex = malloc(2 * n + 1);
                if (hex && om_hex_encode((const uint8_t *)o->via.bin.ptr, n, hex, 2 * n + 1) >= 0)
                        om_json_string(j, hex);
                else
                        om_json_null(j);
                break;
        }
        case MSGPACK_OBJECT_ARRAY:
                om_json_array_begin(j);
                for (uint32_t i = 0; i < o->via.array.size; i++)
                        om_cl_mp_to_json(&o->via.array.ptr[i], j);
                om_json_array_end(j);
                break;
        case MSGPACK_OBJECT_MAP:
                om_json_object_begin(j);
                for (uint32_t i = 0; i < o->via.map.size; i++) {
                        if (om_cl_mp_str(&o->via.map.ptr[i].key, key, sizeof(key)) < 0)
                                continue;
                        om_json_key(j, key);
                        om_cl_mp_to_json(&o->via.map.ptr[i].val, j);
                }
                om_json_object_end(j);
                break;
        default:
                om_json_null(j);
        }
}
