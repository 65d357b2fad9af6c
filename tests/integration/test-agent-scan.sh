#!/bin/bash
# The periodic scan: a change nobody tells the agent of (a file changed behind its back,
# no CLI ping) is read in the thread pool within an interval and beaten to the peers.
# Two agents, interval 300ms: n1's node frozen flag file is created and removed by hand;
# n2 must see n1 frozen, then thawed.
set -u
. "$(dirname "$0")/test-agent.lib"

write_conf 2 300ms 2s
for k in 1 2; do start_agent $k; done
for k in 1 2; do wait_api $k; done
wait_state 2 n1 up 10 >/dev/null
wait_state 1 n2 up 10 >/dev/null

frozen_seen() { # frozen_seen WANT SECS: n2's view of n1's frozen flag becomes WANT
        local start
        start=$(date +%s%3N)
        until [ "$(on 2 mon --format json | jq -r '.nodes.n1.frozen')" = "$1" ]; do
                [ $(($(date +%s%3N) - start)) -gt $(($2 * 1000)) ] && fail "n1 frozen is not $1 in n2's view after $2 s"
                sleep 0.05
        done
        echo $(($(date +%s%3N) - start))
}
[ "$(on 2 mon --format json | jq -r '.nodes.n1.frozen')" = false ] || fail "n1 frozen from the start"
mkdir -p "$T/n1/var/node"
touch "$T/n1/var/node/frozen"
ms=$(frozen_seen true 5) || fail "n2 never saw n1 frozen: the periodic scan did not read the flag"
echo "ok: a frozen flag written behind n1's back seen on n2 after $ms ms"
rm -f "$T/n1/var/node/frozen"
ms=$(frozen_seen false 5) || fail "n2 never saw n1 thawed"
echo "ok: removed, seen on n2 after $ms ms"
