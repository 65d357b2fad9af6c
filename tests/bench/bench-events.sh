#!/bin/bash
# Latency of the agent's events (om node events) on three agents on 127.0.0.20x
# (interval 200ms, timeout 1s, ready_period 300ms), an HA app service on n1 n2 and a
# subscriber on n3: from the SIGKILL of the node running the service to
# - the node_down event of that node reaching the subscriber (the agent declares a peer
#   down one timeout after its last frame, which came up to one interval before the
#   kill: most of it is the 1 s timeout);
# - the avail event of the instance up on the other node reaching the subscriber (the
#   whole failover as a subscriber sees it);
# - and, for each event, from its timestamp (when the agent emitted it) to its arrival
#   at the subscriber (the stream's own delay).
# Repeated RUNS times (default 7), printed as median and range (ms). Nothing asserted.
#   OM_BIN=build/om bash tests/bench/bench-events.sh
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=200
. "$(dirname "$0")/../integration/test-agent.lib"
NNODES=3
. "$(dirname "$0")/../integration/test-orch.lib"
RUNS=${RUNS:-7}
P=root/svc/web

stats() { # prints "median min max" of the numbers on stdin
        sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                                          printf "%d %d %d\n", m, v[1], v[NR] }'
}

write_conf 3 200ms 1s
svc_conf web "n1 n2" "orchestrate = ha" "ready_period = 300ms"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 15 >/dev/null

# the subscriber: each line prefixed with the time it arrived (ms)
OM_ROOT="$T/n3" OM_NODENAME=n3 "$OM_BIN" node events --format json --filter kind=node_down,avail \
        > >(python3 -uc 'import sys, time
print("0 ready", flush=True)
for l in sys.stdin: print(int(time.time() * 1000), l, end="", flush=True)' >"$T/sub") 2>/dev/null &
SUB=$!
trap 'kill $SUB 2>/dev/null; cleanup' EXIT
ready() { grep -q "^0 ready" "$T/sub" 2>/dev/null &&
        [ "$(on 3 daemon status --format json | jq -r .daemon.local_api.event_subscribers)" = 1 ]; }
until_ok 30 "the subscriber of n3 is not ready" ready

down="" up="" ddown="" dup=""
for run in $(seq 1 "$RUNS"); do
        owner=$(running web)
        owner=${owner#n}
        other=$((3 - owner))
        lines=$(wc -l <"$T/sub")
        t0=$(date +%s%3N)
        crash "$owner"
        got() { tail -n +$((lines + 1)) "$T/sub" | grep -F "$1" | grep -F "$2" | head -1; }
        for _ in $(seq 1 750); do
                [ -n "$(got '"kind":"avail"' "\"peer\":\"n$other\",\"from\":\"down\",\"to\":\"up\"")" ] && break
                sleep 0.02
        done
        l_down=$(got '"kind":"node_down"' "\"peer\":\"n$owner\"")
        l_up=$(got '"kind":"avail"' "\"peer\":\"n$other\",\"from\":\"down\",\"to\":\"up\"")
        [ -n "$l_down" ] && [ -n "$l_up" ] || fail "run $run: no node_down or avail up at the subscriber"
        a_down=${l_down%% *} a_up=${l_up%% *}
        down="$down $((a_down - t0))"
        up="$up $((a_up - t0))"
        ddown="$ddown $((a_down - $(echo "${l_down#* }" | jq -r .ts)))"
        dup="$dup $((a_up - $(echo "${l_up#* }" | jq -r .ts)))"
        start_agent "$owner"
        wait_agents_up 1 2 3
        sleep 1
done
printf "%-58s %8s %8s %8s\n" "events at a subscriber of n3 (ms, $RUNS runs)" median min max
for row in "SIGKILL to node_down at the subscriber (timeout 1s)|$down" \
        "SIGKILL to avail up on the other node at the subscriber|$up" \
        "node_down, from its emission to the subscriber|$ddown" \
        "avail up, from its emission to the subscriber|$dup"; do
        read -r med min max < <(echo "${row#*|}" | tr ' ' '\n' | grep . | stats)
        printf "%-58s %8d %8d %8d\n" "${row%%|*}" "$med" "$min" "$max"
        echo "  runs:${row#*|}" >&2
done
