#!/bin/bash
# Mass failover among three agents on 127.0.0.22x, heartbeat defaults (interval 1s,
# timeout 3s, ready_period 1s), [node] max_parallel at its default (twice the CPUs):
# N app services (orchestrate = ha, nodes = n1 n2 n3, priorities 10/50/90 mixed) all
# run on one node; it is SIGKILLed with its apps; timed from the kill to the last of the
# N app start commands on the node that took them over (the timestamps the start
# commands write), RUNS times per N (default 3), printed as median and range, for
# N = 1 (the failover of one, beside) and N = 200 (MASS to change it). The killed agent
# is started again between runs. Nothing asserted but a takeover of all N, no double
# start, and the starts in priority order on the node that took over.
#   OM_BIN=build/om bash tests/bench/bench-mass-failover.sh
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=220
. "$(dirname "$0")/../integration/test-agent.lib"
NNODES=3
. "$(dirname "$0")/../integration/test-orch.lib"
RUNS=${RUNS:-3}
MASS=${MASS:-200}

stats() { # prints "median min max" of the numbers on stdin
        sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                                          printf "%d %d %d\n", m, v[1], v[NR] }'
}

prio_of() { local p=(10 50 90); echo "${p[$(($1 * 7 % 3))]}"; }

all_on() { # all_on NODE N: services m0..m(N-1) run there alone
        local i
        for i in $(seq 0 $(($2 - 1))); do [ "$(running "m$i")" = "$1" ] || return 1; done
}

bench() { # bench N
        local n=$1 k i run owner t0 t1 times="" to
        for k in "${!PIDS[@]}"; do kill -9 "${PIDS[$k]}" 2>/dev/null; done
        wait 2>/dev/null
        PIDS=()
        rm -rf "$T"/n1 "$T"/n2 "$T"/n3
        : >"$EVENTS"
        HB_PORT=$((HB_PORT + 3))
        API_PORT=$((HB_PORT + 1))
        write_conf 3 1s 3s
        for i in $(seq 0 $((n - 1))); do
                svc_conf "m$i" "n1 n2 n3" "orchestrate = ha" "ready_period = 1s" \
                        "priority = $(prio_of "$i")"
        done
        for k in 1 2 3; do start_agent $k; done
        wait_agents_up 1 2 3
        until_ok 600 "the $n services on n1" all_on n1 "$n"
        for run in $(seq 1 "$RUNS"); do
                owner=$(running m0)
                owner=${owner#n}
                local before lines
                before=$(wc -l <"$EVENTS")
                lines=()
                for k in 1 2 3; do lines[$k]=$(wc -l <"$T/n$k/log/daemon.log"); done
                t0=$(date +%s%3N)
                crash "$owner"
                to=""
                for _ in $(seq 1 30000); do
                        for k in 1 2 3; do
                                [ "$k" != "$owner" ] && all_on "n$k" "$n" && to=$k && break
                        done
                        [ -n "$to" ] && break
                        sleep 0.05
                done
                [ -n "$to" ] || fail "N=$n: no takeover of all"
                t1=$(tail -n +$((before + 1)) "$EVENTS" | awk '$2 == "start" { t = $1 } END { print t }')
                times="$times $((t1 - t0))"
                # the starts on the node that took over, in priority order
                local prev=-1 p
                while read -r i; do
                        p=$(prio_of "$i")
                        [ "$p" -ge "$prev" ] || fail "N=$n: m$i (priority $p) started after a priority $prev"
                        prev=$p
                done < <(tail -n +$((lines[$to] + 1)) "$T/n$to/log/daemon.log" |
                        grep -oE "root/svc/m[0-9]+ monitor status change: ready => starting$" |
                        sed -E 's|root/svc/m([0-9]+) .*|\1|')
                start_agent "$owner"
                wait_agents_up 1 2 3
                sleep 2
        done
        read -r med min max < <(echo "$times" | tr ' ' '\n' | grep . | stats)
        [ "$(check_double_starts)" = 0 ] || fail "N=$n: double start"
        local mp
        mp=$(grep -o "max_parallel [0-9]*" "$T/n1/log/daemon.log" | head -1)
        printf "%-44s %8d %8d %8d\n" "$n service(s), $mp" "$med" "$min" "$max"
        echo "  runs (ms):$times" >&2
}

printf "%-44s %8s %8s %8s\n" "failover, kill to all up elsewhere (ms)" median min max
bench 1
bench "$MASS"
