#!/bin/bash
# om node drain on three agents (127.0.0.13x, interval 200ms / timeout 1s): n1 runs an
# HA service (nodes n1 n2 n3) and a service without orchestration. `node drain --wait`
# freezes n1, stops both there, and returns once the HA one runs on n2; the other stays
# stopped; n1 stays frozen and is no HA candidate; thawing n1 does not move the service
# back. Without an agent, drain refuses and says why. No double start.
set -u
ADDR_BASE=135
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

out=$(OM_ROOT="$T/nodaemon" OM_NODENAME=n1 "$OM_BIN" node drain 2>&1) && fail "drain without an agent succeeded"
grep -q "no agent answers on this node: drain needs it" <<<"$out" || fail "drain without an agent: $out"
out=$(OM_ROOT="$T/nodaemon" OM_NODENAME=n1 "$OM_BIN" node drain --time 5s 2>&1) && fail "--time without --wait accepted"
grep -q -- "--time goes with --wait" <<<"$out" || fail "drain --time: $out"

write_conf 3 200ms 1s
svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms"
svc_conf solo "n1"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 10 >/dev/null
on 1 root/svc/solo start --local >/dev/null || fail "start solo on n1"
wait_inst 1 n1 root/svc/solo avail up 10
wait_inst 2 n1 $P avail up 10
echo "ok: n1 runs web (ha) and solo"

out=$(on 1 node drain --wait --time 30s 2>&1) || fail "node drain --wait failed: $out"
echo "$out"
grep -q "^n1 frozen$" <<<"$out" || fail "drain does not say n1 is frozen"
grep -q "^$P up on n2$" <<<"$out" || fail "drain --wait does not say web runs on n2"
[ "$(running web)" = n2 ] || fail "after the drain web runs on '$(running web)', not n2"
[ -z "$(running solo)" ] || fail "solo still runs on $(running solo)"
[ "$(on 2 node ls --format json | jq -r .n1.frozen)" = true ] || fail "n1 is not frozen in n2's view"
grep -q "do stop --local (user origin)" "$T/n1/log/namespaces/root/svc/web.log" ||
        fail "no stop in web's object log on n1"
echo "ok: drained: n1 frozen, web on n2, solo stopped"

sleep 1.5 # nothing moves on its own meanwhile
[ "$(running web)" = n2 ] || fail "web moved to '$(running web)' after the drain"
[ -z "$(running solo)" ] || fail "solo started again on $(running solo)"
on 1 node thaw || fail "node thaw"
thawed() { [ "$(on 2 node ls --format json | jq -r .n1.frozen)" = false ]; }
until_ok 10 "n1 is still frozen in n2's view after the thaw" thawed
sleep 1.5
[ "$(running web)" = n2 ] || fail "after the thaw web runs on '$(running web)', not n2 alone"
echo "ok: thawed n1 takes nothing back"

n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: no double start"
