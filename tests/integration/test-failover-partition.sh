#!/bin/bash
# Split brain, in a network namespace of the test's own (nftables drops the traffic
# between the sides; the host's network is untouched):
# 1. three agents, an HA app service running on n1; partition n1 | n2 n3: n1 loses the
#    quorum (1/3) and applies split_action = stop; the majority (2/3) takes over on n2;
#    after healing, only n2 runs it. A second service, whose monitor refresh is nearly
#    always running when the quorum goes, is stopped on n1 as well.
# 2. two agents and an arbitrator (`om arbitrator run` in the namespace), quorum on by
#    default (two nodes with an arbitrator); partition n1 | n2 with the arbitrator
#    reached by n2 only: n2 (2/3 votes, once n1's lease ran out) takes over, n1 (1/3)
#    stops; without the arbitrator's vote neither side would start anything.
# No double start in either phase.
set -u
ADDR_BASE=170
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-netns.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
. "$(dirname "$0")/test-arb.lib"
trap 'arb_stop; cleanup; ns_cleanup' EXIT
P=root/svc/web

# since_cut K: agent K's log since the partition (its first look at start-up, before it
# hears any peer, logs "quorum not held yet")
CUT_LINE=()
mark_cut() { local k; for k in "$@"; do CUT_LINE[$k]=$(wc -l <"$T/n$k/log/daemon.log"); done; }
since_cut() { tail -n +$((CUT_LINE[$1] + 1)) "$T/n$1/log/daemon.log"; }

stop_all() {
        local k
        for k in "${!PIDS[@]}"; do kill -9 "${PIDS[$k]}" 2>/dev/null; done
        wait "${PIDS[@]}" 2>/dev/null
        PIDS=()
}

# ---- phase 1: three nodes
write_conf 3 200ms 1s
svc_conf web "n1 n2 n3" "orchestrate = ha"
# "slow" watches a resource whose check takes 0.5 s, every 100ms: a monitor status
# refresh is nearly always running when the quorum goes, and the stop split_action
# asks for must still happen once it ends
APP_EXTRA=("" "[app#1]" "start = /bin/true" "stop = /bin/true" "check = sh -c 'sleep 0.5; test -f \$OM_ROOT/running.slow'"
        "monitor = true")
svc_conf slow "n1 n2 n3" "orchestrate = ha" "monitor_interval = 100ms"
APP_EXTRA=()
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 8 >/dev/null
wait_running slow n1 8 >/dev/null
# partition while n1's monitor refreshes slow's status (each refresh takes 0.5 s)
refreshes() { grep -c "root/svc/slow print status .*spawned" "$T/n1/log/daemon.log"; }
r0=$(refreshes)
for i in $(seq 1 100); do [ "$(refreshes)" -ge $((r0 + 2)) ] && break; sleep 0.05; done
sleep 0.1
A1=$(addr 1) A2=$(addr 2) A3=$(addr 3)
mark_cut 1 2 3
ns_cut "$A1" "$A2" "$A3" || fail "nft rules refused"
echo "partition: n1 | n2 n3"
ms=$(wait_running web n2 10) || exit 1
echo "ok: n1 stopped, n2 took over ${ms}ms after the partition"
ms=$(wait_running slow n2 10) || exit 1
echo "ok: n1 stopped slow too (a status refresh was running), n2 took over"
since_cut 1 | grep -q "quorum lost" || fail "n1 did not log the quorum loss"
since_cut 1 | grep -q "split_action stop" || fail "n1 did not apply split_action"
since_cut 2 | grep -q "quorum lost" && fail "n2 (majority) logged a quorum loss"
ns_heal
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done
sleep 1.5
[ "$(running web)" = n2 ] || fail "after healing it runs on '$(running web)', not n2 alone"
[ "$(running slow)" = n2 ] || fail "after healing slow runs on '$(running slow)', not n2 alone"
echo "ok: healed, n2 alone runs them"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts in phase 1"
stop_all

# ---- phase 2: two nodes and an arbitrator
rm -rf "$T"/n1 "$T"/n2 "$T"/n3
: >"$EVENTS"
NNODES=2
arb_start
write_conf 2 200ms 1s
arb_uri 1 2
svc_conf web "n1 n2" "orchestrate = ha"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running web n1 8 >/dev/null
until_ok 10 "n1 holds the arbitrator's vote" is 'vote 1' vote
mark_cut 1 2
ns_cut "$A1" "$A2" "$ARB" || fail "nft rules refused"
echo "partition: n1 | n2 + arbitrator"
ms=$(wait_running web n2 10) || exit 1
echo "ok: n1 stopped, n2 took over with the arbitrator's vote ${ms}ms after the partition"
since_cut 1 | grep -q "quorum lost: 1/3" || fail "n1 did not lose the quorum (1/3)"
since_cut 1 | grep -q "arbitrator#1 .*: vote not held" || fail "n1 still holds the arbitrator's vote"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts in phase 2"
echo "ok: no double start"
