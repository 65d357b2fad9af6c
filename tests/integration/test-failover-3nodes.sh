#!/bin/bash
# Failover of an app service (orchestrate = ha, nodes = n1 n2 n3) among three agents
# on 127.0.0.15x (interval 200ms / timeout 1s, ready_period 300ms):
# - the HA leader n1 starts it alone; om mon marks the leader with ^;
# - n1 dies (agent SIGKILLed, its app with it): n2 takes over, no other node starts it;
# - n1 restarts one second after the takeover finished: it must not start the service
#   again (the reference system does, in 2 of 2 tries);
# - n1 (back, first in nodes, the leader) cannot start it: when n2 dies, n1 ends in
#   "start failed", is no longer a candidate, and n3 takes over;
# - no double start in the events of any node.
set -u
ADDR_BASE=160
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

write_conf 3 200ms 1s
svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 10 >/dev/null
sleep 0.5
[ "$(running web)" = n1 ] || fail "runs on '$(running web)' after start, not n1 alone"
# n2 learns n1's instance is up from n1's node data, after n1's start action ended
wait_inst 2 n1 $P avail up 10
wait_inst 2 n1 $P ha_leader true 10
mon_row() { on 2 mon | grep -E "^ $P +up +ha +1/1 +\| O\^" >/dev/null; }
until_ok 10 "om mon on n2 does not show n1 running it as the leader" mon_row
echo "ok: the leader n1 runs it"

t0=$(date +%s%3N)
crash 1
ms=$(wait_running web n2 10) || exit 1
echo "ok: n1 killed, n2 took over in ${ms}ms"
grep -q "c:monitor | root/svc/web monitor status change: ready => starting$" "$T/n2/log/daemon.log" ||
        fail "no 'ready => starting' transition in n2's log"
sleep 1
start_agent 1
wait_api 1
# the restarted n1 has its peers' data and has looked at the service once
guard_lifted() { grep -q "restart guard lifted" "$T/n1/log/daemon.log"; }
until_ok 15 "no restart guard line on n1" guard_lifted
sleep 2
[ "$(running web)" = n2 ] || fail "after n1's restart it runs on '$(running web)', not n2 alone"
awk '/agent started/ { boot++ } boot == 2 && /root\/svc\/web start .*spawned/ { bad = 1 }
     END { exit !bad }' "$T/n1/log/daemon.log" && fail "restarted n1 spawned a start"
echo "ok: n1 restarted 1s after the takeover does not start it again"

touch "$T/n1/fail-start"
crash 2
wait_inst 3 n1 $P monitor "start failed" 10
wait_running web n3 10 >/dev/null
echo "ok: n1 start failed, excluded; n3 took over"
wait_inst 3 n1 $P ha_leader false 10
wait_inst 3 n3 $P ha_leader true 10
on 3 mon | grep -E "^ $P .*X\^? start failed" >/dev/null || fail "om mon: $(on 3 mon | grep $P)"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: no double start"
