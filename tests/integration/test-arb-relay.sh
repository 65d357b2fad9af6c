#!/bin/bash
# Relay heartbeats through the arbitrator, in a network namespace of the test's own:
# two agents with a unicast stream (hb#1) and a relay stream (hb#2, type = relay,
# through the `om arbitrator run` that also gives its vote), one HA service on n1.
# 1. both streams carry beats: the arbitrator relays n1's beats to n2 and back;
# 2. the link n1 <-> n2 cut, both reaching the arbitrator: the nodes keep seeing each
#    other through it: nobody goes down, no quorum is lost, the service stays on n1
#    with no stop and no start anywhere (no takeover at all);
# 3. n1 cut from the arbitrator too: n2 sees n1 down, takes the vote once n1's lease
#    ran out, and takes the service over; no double start.
# A relay stream naming no arbitrator, or one that does not exist, is refused.
set -u
ADDR_BASE=230
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-netns.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
. "$(dirname "$0")/test-arb.lib"
trap 'arb_stop; cleanup; ns_cleanup' EXIT
A1=$(addr 1) A2=$(addr 2)
events_since() { awk -v t="$1" '$1 >= t' "$EVENTS"; }
# rx K STREAM: frames agent K received on STREAM
rx() { on "$1" daemon status --format json | jq -r ".hb[] | select(.name == \"$2\") | .rx.frames"; }
gt() { [ "$(eval "$1")" -gt "$2" ]; }

write_conf 2 200ms 1s
arb_uri 1 2
# a relay stream must name an existing arbitrator
printf '\n[hb#2]\ntype = relay\ninterval = 200ms\ntimeout = 1s\n' >>"$T/n1/etc/cluster.conf"
out=$(on 1 node ls 2>&1) && fail "a relay stream without an arbitrator was accepted"
grep -q "type = relay needs arbitrator" <<<"$out" || fail "no clear error: $out"
echo "arbitrator = arbitrator#7" >>"$T/n1/etc/cluster.conf"
out=$(on 1 node ls 2>&1) && fail "a relay stream through an unknown arbitrator was accepted"
grep -q "no section \[arbitrator#7\]" <<<"$out" || fail "no clear error: $out"
write_conf 2 200ms 1s
arb_uri 1 2
for k in 1 2; do
        printf '\n[hb#2]\ntype = relay\narbitrator = arbitrator#1\ninterval = 200ms\ntimeout = 1s\n' \
                >>"$T/n$k/etc/cluster.conf"
done
echo "ok: relay streams without a valid arbitrator refused"

arb_start
# the side that loses the vote stops the service (split_action) while the winner waits
# ready_period before it starts it: under ASan the stop action alone took 1.9 s
svc_conf web "n1 n2" "orchestrate = ha" "ready_period = 3s"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running web n1 10 >/dev/null
until_ok 10 "n1 holds the vote" is 'vote 1' vote
until_ok 10 "n2 receives beats through the relay" gt 'rx 2 hb#2' 5
until_ok 10 "n1 receives beats through the relay" gt 'rx 1 hb#2' 5
echo "ok: 1. beats relayed both ways ($(arb status --format json | jq -c .clusters[0].relay))"

t0=$(date +%s%3N)
l1=$(wc -l <"$T/n1/log/daemon.log") l2=$(wc -l <"$T/n2/log/daemon.log")
ns_cut "$A1" "$A2" || fail "nft rules refused"
echo "2. cut n1 | n2, both reach the arbitrator"
r1=$(rx 1 hb#1) r2=$(rx 2 hb#2)
sleep 5 # five timeouts
[ "$(rx 1 hb#1)" = "$r1" ] || fail "beats still pass on hb#1: the cut does not hold"
[ "$(rx 2 hb#2)" -gt "$r2" ] || fail "no beat came through the relay during the cut"
for k in 1 2; do
        log=$(tail -n +$((k == 1 ? l1 + 1 : l2 + 1)) "$T/n$k/log/daemon.log")
        grep -q " => down" <<<"$log" && fail "n$k saw a peer down: $(grep " => down" <<<"$log")"
        grep -q "quorum lost" <<<"$log" && fail "n$k lost the quorum"
done
[ "$(node_state 1 n2)" = up ] && [ "$(node_state 2 n1)" = up ] || fail "a node is not seen up"
[ "$(running web)" = n1 ] || fail "the service runs on '$(running web)', not n1"
[ -z "$(events_since "$t0")" ] || fail "something moved: $(events_since "$t0")"
echo "ok: 2. during the cut both nodes saw each other up through the relay: no takeover, no stop"

ns_heal
ns_cut "$A1" "$A2" "$ARB" || fail "nft rules refused"
echo "3. cut n1 | n2 + arbitrator"
ms=$(wait_running web n2 15) || exit 1
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: 3. n2 took the service over ${ms}ms after the cut, no double start"
arb status
