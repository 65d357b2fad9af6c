/*
 * libFuzzer target of the arbitrator's decoders: the first byte picks the request
 * datagram prefix (om_arb_dgram_split), the request payload (om_arb_req_unpack, then the
 * vote rule with what decoded) or the answer payload (om_arb_ans_unpack).
 */
#include <stdint.h>
#include <string.h>

#include "cluster/arb_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct om_arb_req_msg req;
        static struct om_arb_ans_msg ans;
        static struct om_arb_vote v;
        static int init;
        if (!init) {
                om_arb_vote_init(&v, 3000, 0);
                init = 1;
        }
        if (size == 0)
                return 0;
        char cluster[OM_ARB_CLUSTER_MAX];
        switch (data[0] % 3) {
        case 0:
                (void)om_arb_dgram_split(data + 1, size - 1, cluster);
                break;
        case 1:
                if (om_arb_req_unpack(data + 1, size - 1, &req) == 0) {
                        const char *view[OM_ARB_NODES_MAX];
                        for (size_t i = 0; i < req.n_view; i++)
                                view[i] = req.view[i];
                        struct om_arb_request r = {req.n_view ? req.view[0] : "", view, req.n_view,
                                                   req.services};
                        struct om_arb_answer a;
                        (void)om_arb_vote_request(&v, &r, 5000 + size, &a);
                }
                break;
        default:
                (void)om_arb_ans_unpack(data + 1, size - 1, &ans);
                break;
        }
        return 0;
}
