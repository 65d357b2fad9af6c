/*
 * libFuzzer target of the API connections' receiving state machine (cluster/frame.c):
 * the input after its first two bytes is a byte stream as a socket would deliver it. It
 * is fed whole, then in pieces split at the position and with the stride the first two
 * bytes choose; both must give the same frames and the same verdict. Each frame is also
 * tried as a peer API announce once unpacked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cl_mp.h"
#include "cluster/frame.h"

struct result {
        uint64_t hash; /* of every frame's length and bytes, in order */
        int frames;
        enum om_frame_err err;
};

static void run(const uint8_t *data, size_t len, size_t cut, size_t stride, struct result *ret) {
        struct om_frame_rx rx;
        om_frame_rx_init(&rx, 1, 4096);
        *ret = (struct result){.hash = 1469598103934665603ull};
        size_t at = 0;
        while (at < len) {
                size_t n = at < cut ? cut - at : stride ? stride : len - at;
                if (n > len - at)
                        n = len - at;
                const uint8_t *p = data + at;
                size_t left = n;
                at += n;
                while (left) {
                        ssize_t used = om_frame_rx_feed(&rx, p, left);
                        if (used < 0) {
                                ret->err = rx.err;
                                om_frame_rx_free(&rx);
                                return;
                        }
                        if (rx.body.cap > rx.want + 1)
                                abort(); /* holds more than the frame announced */
                        p += used;
                        left -= (size_t)used;
                        if (!rx.ready)
                                continue;
                        ret->frames++;
                        ret->hash = (ret->hash ^ rx.want) * 1099511628211ull;
                        for (size_t k = 0; k < rx.want; k++)
                                ret->hash =
                                        (ret->hash ^ om_frame_rx_data(&rx)[k]) * 1099511628211ull;
                        msgpack_unpacked u;
                        uint64_t more;
                        if (om_cl_mp_unpack(om_frame_rx_data(&rx), rx.want, &u) == 0) {
                                (void)om_frame_peer_announce(&u.data, &more);
                                msgpack_unpacked_destroy(&u);
                        }
                        om_frame_rx_next(&rx);
                }
        }
        om_frame_rx_free(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2)
                return 0;
        size_t cut = data[0], stride = data[1] % 8;
        struct result whole, split;
        run(data + 2, size - 2, 0, 0, &whole);
        run(data + 2, size - 2, cut, stride, &split);
        if (whole.frames != split.frames || whole.hash != split.hash || whole.err != split.err)
                abort();
        return 0;
}
