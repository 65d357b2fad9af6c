/*
 * libFuzzer target of the heartbeat receive path: any datagram goes through
 * om_hb_receive (header checks, sender, replay window, opening with a fixed key,
 * payload decoding). The first byte picks whether the input is used raw or resealed
 * with the key, so the fuzzer also reaches the msgpack payload decoder.
 */
#include <stdint.h>
#include <string.h>

#include "cluster/hb_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t key[OM_HB_KEY_LEN] = {1, 2, 3};
        static const char nodes[2][64] = {"n1", "n2"};
        static struct om_hb_window windows[2];
        struct om_hb_rx_ctx ctx = {.key = key,
                                   .keygen = 1,
                                   .cluster = "default",
                                   .self = "n1",
                                   .n_nodes = 2,
                                   .nodes = nodes,
                                   .windows = windows};
        struct om_hb_stats st = {0};
        struct om_hb_beat beat;
        static uint8_t frame[OM_HB_UDP_MAX + 64];
        if (size == 0)
                return 0;
        if (data[0] & 1) {
                /* the rest is a payload: seal it as n2 would */
                struct om_hb_info info = {.type = OM_HB_BEAT, .keygen = 1, .seq = size};
                memcpy(info.sender, "n2", 3);
                memset(info.boot_id, 0xff, sizeof(info.boot_id));
                int n = om_hb_seal(key, &info, data + 1, size - 1, frame, sizeof(frame));
                if (n > 0)
                        (void)om_hb_receive(&ctx, &st, frame, (size_t)n, &beat);
                memset(windows, 0, sizeof(windows));
                return 0;
        }
        (void)om_hb_receive(&ctx, &st, data + 1, size - 1, &beat);
        return 0;
}
