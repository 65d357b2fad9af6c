#!/bin/bash
# Agent figures with 16 agents on 127.0.0.x (default interval 1s,
# timeout 3s): RSS and idle CPU of an agent, time for a status change (a node freeze) to
# be seen on every other node, heartbeat bytes per second sent by a node, and the median
# time of `om mon`. Budgets are printed beside, not asserted.
#   OM_BIN=build/om bash tests/bench/bench-agent.sh
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=140
. "$(dirname "$0")/../integration/test-agent.lib"
N=16
IDLE_SECS=${IDLE_SECS:-10}

write_conf $N 1s 3s
for k in $(seq 1 $N); do start_agent "$k"; done
for k in $(seq 1 $N); do wait_api "$k"; done
for k in $(seq 1 $N); do
        for i in $(seq 1 100); do
                [ "$(on "$k" node ls --format json | jq '[.[] | select(.liveness == "up")] | length')" = $N ] && break
                sleep 0.1
        done
done
sleep 2

# RSS and idle CPU
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A t0
for k in $(seq 1 $N); do t0[$k]=$(cpu_ticks "${PIDS[$k]}"); done
tx0=$(on 1 daemon status --format json | jq '.hb[0].tx.bytes')
rx0=$(on 1 daemon status --format json | jq '.hb[0].rx.bytes')
sleep "$IDLE_SECS"
tx1=$(on 1 daemon status --format json | jq '.hb[0].tx.bytes')
rx1=$(on 1 daemon status --format json | jq '.hb[0].rx.bytes')
max_cpu=0 sum_cpu=0 max_rss=0
for k in $(seq 1 $N); do
        d=$(($(cpu_ticks "${PIDS[$k]}") - t0[$k]))
        c=$(awk -v d="$d" -v hz="$hz" -v s="$IDLE_SECS" 'BEGIN{printf "%.3f", 100 * d / hz / s}')
        sum_cpu=$(awk -v a="$sum_cpu" -v b="$c" 'BEGIN{print a + b}')
        max_cpu=$(awk -v a="$max_cpu" -v b="$c" 'BEGIN{print (b > a) ? b : a}')
        rss=$(awk '/VmRSS/{print $2}' "/proc/${PIDS[$k]}/status")
        [ "$rss" -gt "$max_rss" ] && max_rss=$rss
done
avg_cpu=$(awk -v a="$sum_cpu" -v n=$N 'BEGIN{printf "%.3f", a / n}')

# status change seen on every node
to_ms() { # "YYYY-MM-DD HH:MM:SS,mmm" -> epoch ms
        local s=${1%,*} ms=${1#*,}
        echo $(($(date -d "$s" +%s) * 1000 + 10#$ms))
}
lat=()
for round in 1 2 3 4 5 6; do
        if [ $((round % 2)) = 1 ]; then what=freeze; else what=thaw; fi
        gen_before=$(on 1 daemon status --format json | jq '.daemon.gen')
        want=$((gen_before + 1))
        start=$(date +%s%3N)
        on 1 node "$what" >/dev/null
        worst=0
        for k in $(seq 2 $N); do
                line=""
                for i in $(seq 1 100); do
                        line=$(grep -m1 "node n1 data generation $want received" "$T/n$k/log/daemon.log") && break
                        sleep 0.02
                done
                [ -n "$line" ] || { echo "n$k never saw generation $want of n1"; exit 1; }
                t=$(to_ms "$(echo "$line" | cut -c1-23)")
                [ $((t - start)) -gt "$worst" ] && worst=$((t - start))
        done
        lat+=("$worst")
        sleep 0.5
done
lat_sorted=$(printf '%s\n' "${lat[@]}" | sort -n | tr '\n' ' ')
lat_median=$(printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
lat_max=$(printf '%s\n' "${lat[@]}" | sort -n | tail -1)

# om mon median
mon=()
for i in $(seq 1 31); do
        s=$(date +%s%N)
        on 1 mon >/dev/null
        mon+=($((($(date +%s%N) - s) / 1000)))
done
mon_median=$(printf '%s\n' "${mon[@]}" | sort -n | awk '{a[NR]=$1} END{printf "%.2f", a[int((NR+1)/2)] / 1000}')

tx_rate=$(((tx1 - tx0) / IDLE_SECS))
rx_rate=$(((rx1 - rx0) / IDLE_SECS))
printf '\nom agent bench: %d agents on 127.0.0.x, interval 1s, timeout 3s\n\n' $N
printf '%-44s %-22s %s\n' "figure" "measured" "budget"
printf '%-44s %-22s %s\n' "agent RSS (max of $N)" "$((max_rss / 1024)).$(((max_rss % 1024) * 10 / 1024)) MB" "< 10 MB"
printf '%-44s %-22s %s\n' "agent CPU idle (mean / max, % of a core)" "$avg_cpu / $max_cpu %" "< 1 %"
printf '%-44s %-22s %s\n' "status change seen on all $N (median / max)" "$lat_median / $lat_max ms" "< 100 ms"
printf '%-44s %-22s %s\n' "  rounds (ms)" "$lat_sorted" ""
printf '%-44s %-22s %s\n' "heartbeat traffic sent per node" "$tx_rate B/s" "-"
printf '%-44s %-22s %s\n' "heartbeat traffic received per node" "$rx_rate B/s" "-"
printf '%-44s %-22s %s\n' "om mon median (31 runs)" "$mon_median ms" "< 10 ms"
