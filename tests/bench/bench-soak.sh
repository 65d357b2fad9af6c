#!/bin/bash
# The soak: N agents (default 64) on 127.0.0.x of one host for
# SOAK_SECS seconds (default 600), heartbeat interval 1s and timeout 3s. Meanwhile a
# writer changes a key of one of OBJS sec objects (default 8) on a random node every
# WRITE_EVERY seconds (default 2), one write at a time. Reported, not asserted:
#   - false stale: every liveness change away from "up" in any agent's log after all
#     agents saw all up (no agent is stopped, so every such change is false);
#   - lost updates: after the soak and a settling time, each object's value on each node
#     against the last value written to it (writes are sequential, so the last one must
#     win everywhere); a node that holds another value lost an update;
#   - per agent: CPU (% of a core, over the soak), RSS at the end, heartbeat bytes/s;
#   - replication: how long the last write took to reach all nodes (from the agents'
#     install lines).
#   OM_BIN=build/om bash tests/bench/bench-soak.sh           (N=16 SOAK_SECS=60 for a short one)
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
N=${N:-64}
SOAK_SECS=${SOAK_SECS:-600}
OBJS=${OBJS:-8}
WRITE_EVERY=${WRITE_EVERY:-2}
ADDR_BASE=${ADDR_BASE:-150}
[ $((ADDR_BASE + N)) -le 254 ] || { echo "N=$N does not fit on 127.0.0.$((ADDR_BASE + 1))-254"; exit 2; }
. "$(dirname "$0")/../integration/test-agent.lib"

echo "soak: $N agents, ${SOAK_SECS}s, a write every ${WRITE_EVERY}s over $OBJS sec objects"
write_conf "$N" 1s 3s
for k in $(seq 1 "$N"); do start_agent "$k"; done
for k in $(seq 1 "$N"); do wait_api "$k"; done
t_conv=$SECONDS
for k in $(seq 1 "$N"); do
        for i in $(seq 1 300); do
                [ "$(on "$k" node ls --format json | jq '[.[] | select(.liveness == "up")] | length')" = "$N" ] && break
                sleep 0.1
        done
done
echo "all $N agents see all $N up after $((SECONDS - t_conv)) s"
mark=$(date '+%Y-%m-%d %H:%M:%S')
# only what comes after now counts: one log line per agent as the boundary
for k in $(seq 1 "$N"); do wc -l <"$T/n$k/log/daemon.log" >"$T/n$k.mark"; done

for o in $(seq 1 "$OBJS"); do
        on 1 "demo/sec/soak$o" create >/dev/null && on 1 "demo/sec/soak$o" add --key k --value init >/dev/null ||
                fail "create demo/sec/soak$o"
done

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A t0
for k in $(seq 1 "$N"); do t0[$k]=$(cpu_ticks "${PIDS[$k]}"); done
tx0=$(on 1 daemon status --format json | jq '.hb[0].tx.bytes')

declare -A last
writes=0 write_fail=0
t_end=$((SECONDS + SOAK_SECS))
while [ "$SECONDS" -lt "$t_end" ]; do
        o=$((RANDOM % OBJS + 1))
        k=$((RANDOM % N + 1))
        v="w$writes-n$k-$RANDOM"
        if on "$k" "demo/sec/soak$o" change --key k --value "$v" >/dev/null 2>&1; then
                last[$o]=$v
                last_writer=$k
                last_obj=$o
                t_last=$(date +%s%3N)
        else
                write_fail=$((write_fail + 1))
        fi
        writes=$((writes + 1))
        for k in "${!PIDS[@]}"; do
                kill -0 "${PIDS[$k]}" 2>/dev/null || fail "agent n$k died during the soak"
        done
        sleep "$WRITE_EVERY"
done
tx1=$(on 1 daemon status --format json | jq '.hb[0].tx.bytes')
max_cpu=0 sum_cpu=0 max_rss=0
for k in $(seq 1 "$N"); do
        d=$(($(cpu_ticks "${PIDS[$k]}") - t0[$k]))
        c=$(awk -v d="$d" -v hz="$hz" -v s="$SOAK_SECS" 'BEGIN{printf "%.3f", 100 * d / hz / s}')
        sum_cpu=$(awk -v a="$sum_cpu" -v b="$c" 'BEGIN{print a + b}')
        max_cpu=$(awk -v a="$max_cpu" -v b="$c" 'BEGIN{print (b > a) ? b : a}')
        rss=$(awk '/VmRSS/{print $2}' "/proc/${PIDS[$k]}/status")
        [ "$rss" -gt "$max_rss" ] && max_rss=$rss
done

# settle, then compare every node's value of every object with the last write
lost=0
settle_t0=$SECONDS
for o in "${!last[@]}"; do
        for k in $(seq 1 "$N"); do
                for i in $(seq 1 300); do
                        [ "$(on "$k" "demo/sec/soak$o" decode --key k 2>/dev/null)" = "${last[$o]}" ] && break
                        sleep 0.1
                done
                got=$(on "$k" "demo/sec/soak$o" decode --key k 2>/dev/null)
                if [ "$got" != "${last[$o]}" ]; then
                        lost=$((lost + 1))
                        echo "lost update: n$k holds '$got' for demo/sec/soak$o, last written '${last[$o]}'"
                fi
        done
done
settle=$((SECONDS - settle_t0))

# the last write's spread, from the agents' install lines
to_ms() { local s=${1%,*} ms=${1#*,}; echo $(($(date -d "$s" +%s) * 1000 + 10#$ms)); }
worst=0
for k in $(seq 1 "$N"); do
        [ "$k" = "$last_writer" ] && continue
        line=$(grep "demo/sec/soak$last_obj" "$T/n$k/log/daemon.log" | grep -i install | tail -n 1)
        [ -n "$line" ] || continue
        t=$(to_ms "$(cut -c1-23 <<<"$line")")
        [ $((t - t_last)) -gt "$worst" ] && worst=$((t - t_last))
done

false_stale=0
for k in $(seq 1 "$N"); do
        n=$(tail -n +"$(($(cat "$T/n$k.mark") + 1))" "$T/n$k/log/daemon.log" | grep -cE 'c:hb \| node n[0-9]+ up => ')
        false_stale=$((false_stale + n))
        [ "$n" = 0 ] || tail -n +"$(($(cat "$T/n$k.mark") + 1))" "$T/n$k/log/daemon.log" | grep -E 'c:hb \| node n[0-9]+ up => ' | head -n 3
done

echo
echo "soak of $N agents for ${SOAK_SECS}s (from $mark), interval 1s, timeout 3s:"
echo "  false stale (liveness changes away from up): $false_stale   (budget 0)"
echo "  writes: $writes ($write_fail refused); lost updates: $lost   (budget 0); settled in ${settle}s"
echo "  last write on all nodes after: ${worst} ms"
echo "  agent CPU: mean $(awk -v a="$sum_cpu" -v n="$N" 'BEGIN{printf "%.2f", a / n}') %, max $max_cpu % of a core"
echo "  agent RSS: max $((max_rss / 1024)).$(((max_rss % 1024) * 10 / 1024)) MB"
echo "  heartbeat bytes sent by n1: $(((tx1 - tx0) / SOAK_SECS)) B/s"
