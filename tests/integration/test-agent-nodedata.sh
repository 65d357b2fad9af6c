#!/bin/bash
# Node data: each node writes its own, bumps a generation on a change and beats it at
# once; peers behind pull it over the peer API (TCP, sealed). A frozen node and a new
# object on one node are seen on the others before the next interval would tell;
# a restarted node (new boot) is pulled again.
set -u
. "$(dirname "$0")/test-agent.lib"

# An interval far longer than the test: no agent ticks (periodic beat, periodic scan)
# before an interval after its start, so whatever a peer sees within the 10 s waits below
# came by the beat a change sends at once. (No peer is ever judged down either: the
# restart below is told by the new boot id of the restarted node's first beat.)
write_conf 3 60s 180s
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done

frozen_on() { on "$1" mon --format json | jq -r ".nodes.\"$2\".frozen"; }
wait_json() { # wait_json K JQ WANT SECS
        local k=$1 q=$2 want=$3 secs=$4 start
        start=$(date +%s%3N)
        until [ "$(on "$k" mon --format json | jq -r "$q")" = "$want" ]; do
                [ $(($(date +%s%3N) - start)) -gt $((secs * 1000)) ] && fail "$q is not $want on n$k"
                sleep 0.02
        done
        echo $(($(date +%s%3N) - start))
}

gen0=$(on 2 daemon status --format json | jq -r '.daemon.gen') # n2's own, before the change
on 2 node freeze || fail "node freeze"
t1=$(wait_json 1 '.nodes.n2.frozen' true 10) || fail "n1 never saw n2 frozen"
t3=$(wait_json 3 '.nodes.n2.frozen' true 10) || fail "n3 never saw n2 frozen"
echo "n2 frozen seen on n1 after ${t1}ms, on n3 after ${t3}ms (interval 60s)"
gen1=$(on 1 mon --format json | jq -r '.nodes.n2.gen')
[ "$gen1" -gt "$gen0" ] || fail "n2's generation did not move ($gen0 -> $gen1)"
on 2 node thaw
wait_json 3 '.nodes.n2.frozen' false 10 >/dev/null

# a new object on n1 shows on n2 (long before the scan of the next interval)
printf '[DEFAULT]\nid = 6f1c3e2a-1111-4222-8333-944455556666\n' >"$T/web.conf"
on 1 demo/svc/web create --config "$T/web.conf" || fail "create"
# (any avail: n1's orchestrator refreshes the new instance's status at once)
wait_json 2 '.objects."demo/svc/web".instances.n1 != null' true 10 >/dev/null
on 2 mon | grep -q "demo/svc/web" || fail "om mon on n2 has no demo/svc/web row"

# a restarted node is pulled again (new boot id, generation starts over)
kill -9 "${PIDS[1]}"
wait "${PIDS[1]}" 2>/dev/null
start_agent 1
wait_api 1
# (its first beat, sent at start, carries the new boot id)
start=$(date +%s)
until grep -q "node n1 restarted" "$T/n2/log/daemon.log"; do
        [ $(($(date +%s) - start)) -gt 10 ] && fail "n2 did not notice n1's new boot"
        sleep 0.05
done
# (n1's generation may still move: its orchestrator publishes each instance's monitor
# state after a status refresh at start-up, so compare with its current one each time)
ok=
start=$(date +%s)
while [ $(($(date +%s) - start)) -le 10 ]; do
        g1=$(on 1 mon --format json | jq -r '.nodes.n1.gen')
        [ "$(on 2 mon --format json | jq -r '.nodes.n1.gen')" = "$g1" ] && { ok=1; break; }
        sleep 0.05
done
[ -n "$ok" ] || fail "n2 does not hold n1's latest generation"
echo "ok: node data beaten at once, pulled, and pulled again after a restart"
