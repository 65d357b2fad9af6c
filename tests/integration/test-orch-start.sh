#!/bin/bash
# orchestrate = start among two agents on 127.0.0.2x (interval 200ms / timeout 1s,
# ready_period 300ms):
# - at the agents' start, the placement leader n1 starts the service, once, alone;
# - n1 dies with it: n2, which saw it up, does not take it over (waits 4 timeouts);
# - n1's agent starts again (a boot): no instance up anywhere, n1 leads, starts it once;
# - a service created while the agents run (its config appears on both nodes) is
#   started once by its leader (n2 first in its nodes);
# - orchestrate = no: nothing starts it.
set -u
ADDR_BASE=24
. "$(dirname "$0")/test-agent.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

starts() { grep -c " start n[0-9] $1\$" "$EVENTS"; }

write_conf 2 200ms 1s
svc_conf web "n1 n2" "orchestrate = start" "ready_period = 300ms"
svc_conf idle "n1 n2" "orchestrate = no"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running web n1 10 >/dev/null
wait_inst 2 n1 $P avail up 10
[ "$(on 2 mon --format json | jq -r ".objects[\"$P\"].orchestrate")" = start ] ||
        fail "om mon does not show orchestrate start"
on 2 mon | grep -qE "^ $P +up +start +1/1" || fail "om mon's row: $(on 2 mon | grep $P)"
sleep 1
[ "$(running web)" = n1 ] || fail "runs on '$(running web)', not n1 alone"
[ "$(starts web)" = 1 ] || fail "$(starts web) starts, not 1"
echo "ok: started once on the leader n1 at the agents' start"

crash 1
wait_state 2 n1 down 10 >/dev/null
sleep 4
[ -z "$(running web)" ] || fail "after n1 died it runs on '$(running web)'"
[ "$(starts web)" = 1 ] || fail "$(starts web) starts after n1 died, not 1"
grep -q "root/svc/web monitor status change: idle => ready" "$T/n2/log/daemon.log" &&
        fail "n2 got ready to start it"
echo "ok: n1 died, n2 did not take it over"

start_agent 1
wait_agents_up 1 2
wait_running web n1 15 >/dev/null
sleep 1
[ "$(running web)" = n1 ] || fail "after n1's restart it runs on '$(running web)'"
[ "$(starts web)" = 2 ] || fail "$(starts web) starts after n1's restart, not 2"
echo "ok: n1's agent started again (a boot): started once more, on n1"

svc_conf new "n2 n1" "orchestrate = start" "ready_period = 300ms"
wait_running new n2 15 >/dev/null
sleep 1
[ "$(running new)" = n2 ] || fail "the new service runs on '$(running new)', not n2 alone"
[ "$(starts new)" = 1 ] || fail "$(starts new) starts of the new service, not 1"
echo "ok: a service created while the agents run: started once on its leader n2"

[ -z "$(running idle)" ] && [ "$(starts idle)" = 0 ] || fail "orchestrate = no was started"
n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: orchestrate = no started by nothing, no double start"
