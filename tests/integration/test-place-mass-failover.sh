#!/bin/bash
# A mass failover in priority order with bounded parallelism: three agents on
# 127.0.0.4x (interval 500ms / timeout 5s: 60 services' actions on a shared machine
# stall the agents' loops now and then, and a quorum lost meanwhile would stop and
# start the services again; ready_period 300ms), cluster.conf
# `[node] max_parallel = 3`, 60 app services (orchestrate = ha, nodes = n1 n2 n3) with
# priorities 10, 50 and 90 mixed over their names (so that the path order is not the
# priority order). All run on n1; n1 is killed; n2 takes the 60 over:
# - its "ready => starting" transitions come in priority order (then by path);
# - never more than 3 jobs (actions, status refreshes) of n2's runner at once, and 3
#   starts at once at some point (parallel, not serial);
# - every service ends up running on n2 alone; no double start;
# - the time from the kill to the 60 up on n2 is printed (not asserted).
set -u
ADDR_BASE=40
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
N=60
MAXP=3

write_conf 3 500ms 5s
for k in 1 2 3; do printf '\n[node]\nmax_parallel = %s\n' "$MAXP" >>"$T/n$k/etc/cluster.conf"; done
prio_of() { # the priority of service number I: 10, 50, 90 in turn, shuffled by 7
        local p=(10 50 90)
        echo "${p[$(($1 * 7 % 3))]}"
}
for i in $(seq -w 0 $((N - 1))); do
        svc_conf "m$i" "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms" \
                "priority = $(prio_of $((10#$i)))"
done
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
grep -q "max_parallel 3" "$T/n2/log/daemon.log" || fail "n2 does not say max_parallel 3"

all_on() { # all_on NODE: every service runs there alone
        local i
        for i in $(seq -w 0 $((N - 1))); do [ "$(running "m$i")" = "$1" ] || return 1; done
}
until_ok 120 "the $N services running on n1" all_on n1
sleep 1
all_on n1 || fail "not all on n1 alone after the first start"
echo "ok: $N services up on n1"

lines0=$(wc -l <"$T/n2/log/daemon.log")
t0=$(date +%s%3N)
crash 1
until_ok 180 "the $N services running on n2" all_on n2
ms=$(($(date +%s%3N) - t0))
echo "mass failover of $N services (max_parallel $MAXP): ${ms} ms from the kill to all up on n2"
sleep 1
all_on n2 || fail "not all on n2 alone after the failover"

log=$(tail -n +$((lines0 + 1)) "$T/n2/log/daemon.log")
# the order of the starts: priority, then path
order=$(grep -oE "root/svc/m[0-9]+ monitor status change: ready => starting$" <<<"$log" |
        sed -E 's|root/svc/m([0-9]+) .*|\1|')
[ "$(wc -l <<<"$order")" = "$N" ] || fail "n2 logged $(wc -l <<<"$order") starts, not $N"
prev=-1
prev_path=""
while read -r i; do
        p=$(prio_of $((10#$i)))
        [ "$p" -ge "$prev" ] || fail "m$i (priority $p) started after a priority $prev"
        [ "$p" -gt "$prev" ] || [[ "m$i" > "$prev_path" ]] || fail "m$i started after $prev_path, same priority"
        prev=$p
        prev_path="m$i"
done <<<"$order"
echo "ok: n2 started them in priority order (10, 50, 90), by path within a priority"

# the runner's jobs: never more than max_parallel at once
read -r max_jobs max_starts < <(grep -E "c:runner \| root/svc/m[0-9]+ .*(spawned|exited)" <<<"$log" |
        awk '/ spawned/ { j++; if ($0 ~ / start \(/) s++ }
             / exited/ { j--; if ($0 ~ / start \(/) s-- }
             { if (j > mj) mj = j; if (s > ms) ms = s }
             END { print mj + 0, ms + 0 }')
[ "$max_jobs" -le $MAXP ] || fail "$max_jobs jobs at once on n2, max_parallel is $MAXP"
[ "$max_starts" = $MAXP ] || fail "at most $max_starts starts at once on n2, not $MAXP"
grep -q "starts wait for an action slot (max_parallel 3" <<<"$log" || fail "no 'wait for an action slot' line"
echo "ok: at most $MAXP jobs at once on n2 ($max_starts starts at once)"

n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: no double start"
