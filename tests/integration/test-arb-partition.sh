#!/bin/bash
# Two agents and an `om arbitrator run` daemon in a network namespace of the test's own
# (nftables cuts; the host's network is untouched), quorum on (two nodes with an
# arbitrator), one HA service:
# a. the link n1 <-> n2 cut, both reaching the arbitrator: over 50 looks the service
#    stays on n1 alone (no double start, no stop), the two nodes never both count the
#    vote, and n1 ends up holding it (the side that runs the service wins);
# b. n1 cut from n2 and from the arbitrator: n2 takes the vote once n1's lease ran out
#    and takes the service over; n1 applies its split action;
# c. the arbitrator down while the nodes see each other: nothing moves;
# d. the holder's agent paused (SIGSTOP) while the service runs on it: the other node
#    gets the vote only after the paused node's lease ran out on the arbitrator;
# e. the arbitrator restarted and the nodes cut at once: no vote for one lease after its
#    start, then one side only.
set -u
ADDR_BASE=190
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-netns.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
. "$(dirname "$0")/test-arb.lib"
trap 'arb_stop; cleanup; ns_cleanup' EXIT
P=root/svc/web
A1=$(addr 1) A2=$(addr 2)

CUT_LINE=()
mark_cut() { local k; for k in "$@"; do CUT_LINE[$k]=$(wc -l <"$T/n$k/log/daemon.log"); done; }
since_cut() { tail -n +$((CUT_LINE[$1] + 1)) "$T/n$1/log/daemon.log"; }
events_since() { awk -v t="$1" '$1 >= t' "$EVENTS"; }

arb_start
write_conf 2 200ms 1s
arb_uri 1 2
# the side that loses the vote stops the service (split_action) while the winner waits
# ready_period before it starts it: under ASan the stop action alone took 1.9 s
svc_conf web "n1 n2" "orchestrate = ha" "ready_period = 3s"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running web n1 10 >/dev/null
until_ok 10 "n1 holds the arbitrator's vote" is 'vote 1' vote
until_ok 10 "n2 holds the arbitrator's vote" is 'vote 2' vote
[ "$(holders)" = "n1 n2" ] || fail "the arbitrator gives its vote to '$(holders)', not n1 n2"
echo "ok: both nodes hold the vote of the arbitrator (holders n1 n2)"

# ---- a. n1 <-> n2 cut, both reach the arbitrator
mark_cut 1 2
t0=$(date +%s%3N)
ns_cut "$A1" "$A2" || fail "nft rules refused"
echo "a. cut n1 | n2, both reach the arbitrator"
looks=0 double=0 none=0 both_vote=0
while [ $looks -lt 50 ]; do
        r=$(running web)
        [ "$r" = "n1 n2" ] && double=$((double + 1))
        [ -z "$r" ] && none=$((none + 1))
        # each node's vote and its view of the other from one snapshot of its status
        c1=$(on 1 daemon status --format json | jq -r '.arbitrators[0].vote + " " + .nodes.n2.liveness')
        c2=$(on 2 daemon status --format json | jq -r '.arbitrators[0].vote + " " + .nodes.n1.liveness')
        [ "$c1" = "vote down" ] && [ "$c2" = "vote down" ] && both_vote=$((both_vote + 1))
        looks=$((looks + 1))
        sleep 0.1
done
echo "a. $looks looks: service on both $double, on none $none, both counting the vote $both_vote"
[ "$(node_state 1 n2)" = down ] && [ "$(node_state 2 n1)" = down ] || fail "the cut was not seen"
until_ok 10 "n1 holds the vote alone" is 'holders' n1
[ "$(vote 1)" = vote ] || fail "n1 does not count the vote (it says $(vote 1))"
[ "$(vote 2)" = none ] || fail "n2 still holds a lease: $(vote 2)"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
[ $double = 0 ] && [ $none = 0 ] && [ $both_vote = 0 ] || fail "a. double $double, none $none, both_vote $both_vote"
[ -z "$(events_since "$t0")" ] || fail "the service moved: $(events_since "$t0")"
since_cut 1 | grep -q "split_action" && fail "n1 applied its split action"
since_cut 2 | grep -q "quorum lost" || fail "n2 did not lose the quorum"
echo "ok: a. 0 double starts, the service stayed on n1 (no stop), n1 holds the vote"
ns_heal
wait_agents_up 1 2
until_ok 10 "n2 holds the vote again after healing" is 'vote 2' vote
until_ok 10 "the holders are n1 n2 again" is 'holders' "n1 n2"
echo "ok: healed, both nodes hold the vote again"

# ---- b. n1 cut from n2 and from the arbitrator
mark_cut 1 2
ns_cut "$A1" "$A2" "$ARB" || fail "nft rules refused"
echo "b. cut n1 | n2 + arbitrator"
ms=$(wait_running web n2 15) || exit 1
echo "ok: b. n2 took the service over ${ms}ms after the cut"
since_cut 1 | grep -q "split_action stop" || fail "n1 did not apply its split action"
[ "$(holders)" = n2 ] || fail "the vote is with '$(holders)', not n2"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
ns_heal
wait_agents_up 1 2
until_ok 10 "both hold the vote after healing" is 'vote 1' vote
echo "ok: b. no double start; healed"

# ---- c. the arbitrator down while the nodes see each other
t0=$(date +%s%3N)
arb_stop
sleep 5 # more than two leases
[ "$(vote 1)" = none ] && [ "$(vote 2)" = none ] || fail "a vote is counted without an arbitrator: $(vote 1) $(vote 2)"
[ "$(running web)" = n2 ] || fail "c. the service runs on '$(running web)', not n2"
[ -z "$(events_since "$t0")" ] || fail "c. the service moved: $(events_since "$t0")"
echo "ok: c. the arbitrator down, nothing moved (quorum by the two nodes)"

# ---- e. the arbitrator restarted and the nodes cut at once
mark_cut 1 2
arb_start
ns_cut "$A1" "$A2" || fail "nft rules refused"
echo "e. arbitrator restarted, cut n1 | n2"
until_ok 15 "one node holds the vote after the restart" is 'holders | wc -w' 1
# the arbitrator lists a holder once it sent the grant; the node logs that it counts
# the vote when it read that answer, a moment later
holder_counts() { since_cut "${1#n}" | grep -q "arbitrator#1 .*: vote held"; }
until_ok 5 "$(holders) logs that it counts the arbitrator's vote" holder_counts "$(holders)"
# the arbitrator's start: its log line comes a few ms after it read its clock
ta=$(log_ms "$(grep "arbitrator started" "$T/arb/log/arbitrator.log" | tail -n 1)")
first=
for k in 1 2; do
        l=$(since_cut $k | grep -m1 "arbitrator#1 .*: vote held") || continue
        t=$(log_ms "$l")
        [ $((t - ta)) -ge 1950 ] || fail "n$k counted the vote $((t - ta))ms after the restart (lease 2s)"
        first="$first n$k"
done
[ "$first" = " $(holders)" ] || fail "the vote went to$first, the arbitrator says $(holders)"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: e. no vote in the first lease after the restart, then to$first only"
ns_heal
wait_agents_up 1 2
until_ok 10 "both hold the vote after healing" is 'echo $(vote 1) $(vote 2)' "vote vote"

until_ok 15 "the service runs on one node" is 'running web | wc -w' 1

# ---- d. the holder paused past its lease
owner=$(running web)
case "$owner" in n1) k=1 o=2 ;; n2) k=2 o=1 ;; *) fail "the service runs on '$owner'" ;; esac
mark_cut 1 2
kill -STOP "${PIDS[$k]}"
tp=$(date +%s%3N)
left=$(arb status --format json | jq -r ".clusters[0].nodes[] | select(.name == \"n$k\") | .lease_left_ms")
echo "d. n$k paused, its lease has ${left}ms left on the arbitrator"
until_ok 15 "n$o holds the vote" is 'holders' "n$o"
l=$(since_cut $o | grep -m1 "arbitrator#1 .*: vote held") || fail "n$o never logged the vote held"
t=$(log_ms "$l")
[ $((t - tp)) -ge "$left" ] || fail "n$o counted the vote $((t - tp))ms after the pause, before n$k's lease (${left}ms) ran out"
kill -CONT "${PIDS[$k]}"
echo "ok: d. n$o got the vote $((t - tp))ms after n$k paused, after its ${left}ms of lease"
arb status >/dev/null
drops=$(arb status --format json | jq -c '.clusters[0].drops')
echo "arbitrator drops: $drops"
