#!/bin/bash
# Placement policies among three agents on 127.0.0.2x (interval 200ms / timeout 1s,
# ready_period 300ms), app services with orchestrate = ha and nodes = n1 n2 n3:
# - spread: s1, s2, s3 start on three different nodes (n1, n2, n3: where the stable hash
#   of their paths puts them; with nodes order all three would start on n1); om mon's
#   leader column and print status say the same; when n1 dies (below), s1 moves to the
#   node second in its own order (n3) and s2 and s3 stay where they are;
# - load avg: service la follows the 15-minute load each node publishes. The agents of
#   this test share one kernel, hence one real load average: each agent reads its load
#   from a file of /proc/loadavg's format named by OM_TEST_LOADAVG (a test hook, read
#   instead of /proc/loadavg). la starts on the least loaded n1; when n1's load rises
#   above n3's (n2 stays the most loaded), the leader moves to n3 (print status on n1 says
#   n1 is lower in placement) while la keeps running on n1 (no rebalancing of a running
#   service); n1 killed, la starts on n3, not on n2 which the nodes order would pick.
# - no double start in the events.
set -u
ADDR_BASE=20
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"

loadavg() { # loadavg K LOAD: node K's 15-minute load average from now on
        echo "0.00 0.00 $2 1/100 4242" >"$T/n$1/loadavg.tmp"
        mv "$T/n$1/loadavg.tmp" "$T/n$1/loadavg"
}
write_conf 3 200ms 1s
for k in 1 2 3; do
        svc_conf "s$k" "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms" "placement = spread"
done
svc_conf la "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms" "placement = load avg"
loadavg 1 0.10
loadavg 2 0.90
loadavg 3 0.50
for k in 1 2 3; do
        OM_TEST_LOADAVG="$T/n$k/loadavg" OM_ROOT="$T/n$k" OM_NODENAME="n$k" "$OM_BIN" daemon run \
                >>"$T/n$k.out" 2>&1 &
        PIDS[$k]=$!
done
wait_agents_up 1 2 3

# ---- spread ----
for k in 1 2 3; do wait_running "s$k" "n$k" 15 >/dev/null; done
sleep 0.5
for k in 1 2 3; do [ "$(running "s$k")" = "n$k" ] || fail "s$k runs on '$(running "s$k")', not n$k"; done
for k in 1 2 3; do wait_inst 1 "n$k" "root/svc/s$k" ha_leader true 10; done
on 1 mon | grep -E "^ root/svc/s2 +up +ha +1/1 +\| X +O\^ +X *$" >/dev/null ||
        fail "om mon does not show n2 leading s2: $(on 1 mon | grep s2)"
out=$(on 1 root/svc/s2 print status)
grep -E "^placement spread, the leader as n1 sees it:" <<<"$out" >/dev/null || fail "print status: $out"
grep -E "^  n2 +leader \(spread\)$" <<<"$out" >/dev/null || fail "print status, n2: $out"
grep -E "^  n1 +lower in placement \(spread: n2 first, this node #3\)$" <<<"$out" >/dev/null ||
        fail "print status, n1: $out"
echo "ok: spread puts s1, s2, s3 on n1, n2, n3; print status says why"

# ---- load avg ----
wait_running la n1 10 >/dev/null
wait_inst 3 n1 root/svc/la ha_leader true 10
loadavg 1 2.00
wait_inst 3 n3 root/svc/la ha_leader true 10
wait_inst 1 n3 root/svc/la ha_leader true 10
out=$(on 1 root/svc/la print status)
grep -E "^  n1 +lower in placement \(load avg: n3 first, this node #3\)$" <<<"$out" >/dev/null ||
        fail "print status after n1's load rose: $out"
sleep 0.5
[ "$(running la)" = n1 ] || fail "la moved to '$(running la)' while it ran on n1"
echo "ok: n1's load rose above n3's: n3 leads la, which stays on n1"
crash 1
wait_running la n3 10 >/dev/null
echo "ok: n1 killed: la started on n3, the least loaded (not n2, next in nodes)"
wait_running s1 n3 10 >/dev/null
sleep 0.5
[ "$(running s2)" = n2 ] && [ "$(running s3)" = n3 ] || fail "s2 on '$(running s2)', s3 on '$(running s3)'"
out=$(on 2 root/svc/s1 print status)
grep -E "^  n1 +down$" <<<"$out" >/dev/null || fail "print status after n1's loss: $out"
echo "ok: s1 moved to n3, second in its spread order; s2 and s3 did not move"

n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: no double start"
