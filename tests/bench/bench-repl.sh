#!/bin/bash
# Replication figure with 16 agents on 127.0.0.235-250 (default
# interval 1s, timeout 3s): time from the start of `om <sec> change` on n1 until the new
# version is installed (hence decodable) on every other node, taken from the install line
# each agent logs (millisecond timestamps), as the median over ROUNDS rounds. Each round
# also checks that the value decodes on every node. Budget 500 ms, printed, not asserted.
#   OM_BIN=build/om bash tests/bench/bench-repl.sh
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=234
. "$(dirname "$0")/../integration/test-repl.lib"
N=16
ROUNDS=${ROUNDS:-7}

cluster_up_quiet() {
        write_conf $N 1s 3s
        for k in $(seq 1 $N); do start_agent "$k"; done
        for k in $(seq 1 $N); do wait_api "$k"; done
        for k in $(seq 1 $N); do
                for i in $(seq 1 100); do
                        [ "$(on "$k" node ls --format json | jq '[.[] | select(.liveness == "up")] | length')" = $N ] && break
                        sleep 0.1
                done
        done
}
cluster_up_quiet
S=demo/sec/bench
on 1 $S create >/dev/null || fail "create"
on 1 $S add --key k --value v0 >/dev/null || fail "add"
for k in $(seq 2 $N); do until_ok 20 "$S did not reach n$k" present_on $k $S; done
sleep 1

to_ms() { # "YYYY-MM-DD HH:MM:SS,mmm" -> epoch ms
        local s=${1%,*} ms=${1#*,}
        echo $(($(date -d "$s" +%s) * 1000 + 10#$ms))
}
lat=()
for round in $(seq 1 "$ROUNDS"); do
        head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/val"
        start=$(date +%s%3N)
        on 1 $S change --key k --from "$T/val" >/dev/null || fail "change"
        ver=$(awk -F' = ' '/^version/ {print $2}' "$(conf_of 1 $S)")
        worst=0
        for k in $(seq 2 $N); do
                line=""
                for i in $(seq 1 500); do
                        line=$(grep -m1 "$S installed: version $ver by n1" "$T/n$k/log/daemon.log") && break
                        sleep 0.02
                done
                [ -n "$line" ] || fail "n$k never installed version $ver"
                t=$(to_ms "$(echo "$line" | cut -c1-23)")
                [ $((t - start)) -gt "$worst" ] && worst=$((t - start))
                decodes_as $k $S k "$T/val" || fail "n$k does not decode round $round's value"
        done
        lat+=("$worst")
        sleep 0.5
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
max=$(printf '%s\n' "${lat[@]}" | sort -n | tail -1)
refused=0
for k in $(seq 1 $N); do refused=$((refused + $(repl_stat $k refused))); done

printf '\n%-52s %12s %10s\n' "figure ($N agents, loopback)" "measured" "budget"
printf '%-52s %9s ms %7s ms\n' "secret change decodable on every node (median)" "$median" 500
printf '%-52s %9s ms\n' "  worst of $ROUNDS rounds" "$max"
printf '%-52s %12s\n' "  rounds (ms)" "$sorted"
printf '%-52s %12s\n' "  files refused (all nodes)" "$refused"
