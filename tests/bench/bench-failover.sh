#!/bin/bash
# Failover time of an HA app service among three agents on 127.0.0.19x: from the
# SIGKILL of the node running it (its app dies with it) to the app's start
# command running on another node (the timestamp the start command itself writes),
# repeated RUNS times (default 7) per setting, printed as median and range. Settings:
# defaults (interval 1s, timeout 3s, ready_period 1s), fast heartbeats (200ms / 1s,
# ready_period 1s), and fast heartbeats with ready_period 200ms. Budgets are printed
# beside, not asserted. For scale, the reference system takes a median of 19 s
# (heartbeat timeout 15 s, ready period 5 s) for an app service on the same machine.
#   OM_BIN=build/om bash tests/bench/bench-failover.sh
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=190
. "$(dirname "$0")/../integration/test-agent.lib"
NNODES=3
. "$(dirname "$0")/../integration/test-orch.lib"
RUNS=${RUNS:-7}

stats() { # prints "median min max" of the numbers on stdin
        sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                                          printf "%d %d %d\n", m, v[1], v[NR] }'
}

bench() { # bench LABEL INTERVAL TIMEOUT READY BUDGET_MS
        local label=$1 interval=$2 timeout=$3 ready=$4 budget=$5 k run owner t0 t1 times=""
        for k in "${!PIDS[@]}"; do kill -9 "${PIDS[$k]}" 2>/dev/null; done
        wait 2>/dev/null
        PIDS=()
        rm -rf "$T"/n1 "$T"/n2 "$T"/n3
        : >"$EVENTS"
        HB_PORT=$((HB_PORT + 3))
        API_PORT=$((HB_PORT + 1))
        write_conf 3 "$interval" "$timeout"
        svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = $ready"
        for k in 1 2 3; do start_agent $k; done
        wait_agents_up 1 2 3
        wait_running web n1 15 >/dev/null
        for run in $(seq 1 "$RUNS"); do
                owner=$(running web)
                owner=${owner#n}
                local before
                before=$(grep -c " start " "$EVENTS")
                t0=$(date +%s%3N)
                crash "$owner"
                for _ in $(seq 1 600); do
                        [ "$(grep -c " start " "$EVENTS")" -gt "$before" ] && break
                        sleep 0.02
                done
                t1=$(grep " start " "$EVENTS" | tail -1 | cut -d' ' -f1)
                [ "$(grep -c " start " "$EVENTS")" -gt "$before" ] || fail "$label: no takeover"
                times="$times $((t1 - t0))"
                start_agent "$owner"
                wait_agents_up 1 2 3
                sleep 0.5
        done
        read -r med min max < <(echo "$times" | tr ' ' '\n' | grep . | stats)
        [ "$(check_double_starts)" = 0 ] || fail "$label: double start"
        printf "%-44s %8d %8d %8d %10s\n" "$label" "$med" "$min" "$max" "< ${budget}"
        echo "  runs (ms):$times" >&2
}

printf "%-44s %8s %8s %8s %10s\n" "failover, kill to app up elsewhere (ms)" median min max budget
bench "defaults: 1s/3s, ready_period 1s" 1s 3s 1s 5000
bench "fast hb: 200ms/1s, ready_period 1s" 200ms 1s 1s 2000
bench "fast hb: 200ms/1s, ready_period 200ms" 200ms 1s 200ms 2000
echo "reference system: median 19000 ms (timeout 15s, ready period 5s)"
