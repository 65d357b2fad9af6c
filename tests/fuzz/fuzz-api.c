/*
 * libFuzzer target of the API decoders: the input is one msgpack message as the local
 * API or the peer API would receive it. It goes through the one-object unpacker, the
 * typed lookups of a request, the node data decoder (peer API "nodedata" replies) and
 * the msgpack-to-JSON renderer of the CLI.
 */
#include <stdint.h>
#include <string.h>

#include "cluster/cl_mp.h"
#include "cluster/cl_nodedata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        msgpack_unpacked u;
        char cmd[64];
        uint64_t v;
        if (om_cl_mp_unpack(data, size, &u) < 0)
                return 0;
        (void)om_cl_mp_get_u64(&u.data, "v", &v);
        (void)om_cl_mp_get_str(&u.data, "cmd", cmd, sizeof(cmd));
        struct om_cl_nodedata nd = {0};
        if (om_cl_nodedata_unpack(om_cl_mp_get(&u.data, "data"), &nd) == 0)
                om_cl_nodedata_done(&nd);
        if (om_cl_nodedata_unpack(&u.data, &nd) == 0)
                om_cl_nodedata_done(&nd);
        struct om_json j = {0};
        om_cl_mp_to_json(&u.data, &j);
        om_buf_free(&j.buf);
        msgpack_unpacked_destroy(&u);
        return 0;
}
