#!/bin/bash
# standby resources among two agents on 127.0.0.2x (interval 200ms / timeout 1s): an
# HA service (nodes n1 n2) whose app#1 has standby = true, app#0 not:
# - n1 (the leader) runs both; the passive n2 runs app#1 only, started by its agent;
#   print status shows the S flag, and n2's instance stays down (avail ignores app#1);
# - stop --local (no --force) on n1 leaves app#1 up there;
# - killed behind the agent's back on n2, app#1 is started again within monitor_interval;
# - on n2 frozen, stop --local --force stops it, and it stays down;
# - thawed, it comes back; unprovision --local on n2 stops it for good.
set -u
ADDR_BASE=27
. "$(dirname "$0")/test-agent.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

id=$(cat /proc/sys/kernel/random/uuid)
for k in 1 2; do
        mkdir -p "$T/n$k/etc/namespaces/root/svc"
        cat >"$T/n$k/etc/namespaces/root/svc/web.conf" <<CONF
[DEFAULT]
id = $id
nodes = n1 n2
orchestrate = ha
ready_period = 300ms
monitor_interval = 500ms

[app#0]
start = sh -c 'touch \$OM_ROOT/main'
stop = sh -c 'rm -f \$OM_ROOT/main'
check = sh -c 'test -f \$OM_ROOT/main'

[app#1]
standby = true
start = sh -c 'echo \$(date +%s%3N) start \$OM_NODENAME standby >>$EVENTS; touch \$OM_ROOT/standby'
stop = sh -c 'rm -f \$OM_ROOT/standby'
check = sh -c 'test -f \$OM_ROOT/standby'
CONF
done
has() { [ -e "$T/n$1/$2" ]; }
hasnt() { ! [ -e "$T/n$1/$2" ]; }

write_conf 2 200ms 1s
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
until_ok 10 "n1 does not run app#0" has 1 main
until_ok 10 "n1 does not run the standby app#1" has 1 standby
until_ok 10 "the passive n2 does not run the standby app#1" has 2 standby
hasnt 2 main || fail "n2 runs app#0"
wait_inst 1 n2 $P avail down 10
grep -q "monitor: standby resources down: app#1" "$T/n2/log/daemon.log" ||
        fail "n2's log does not say why it started app#1"
flags=$(on 2 $P print status | awk '$2 == "app#1" { print $3 }')
[ "${flags:6:1}" = S ] || fail "print status flags of app#1 on n2: '$flags', no S"
echo "ok: the standby app#1 runs on the passive n2 (flags $flags), n2's instance is down"

on 1 $P stop --local >/dev/null || fail "stop --local on n1"
has 1 standby || fail "stop --local (no --force) stopped the standby resource on n1"
echo "ok: stop --local leaves the standby resource up"

rm -f "$T/n2/standby"
until_ok 10 "app#1 not started again on n2" has 2 standby
echo "ok: the standby resource found down on n2 is started again"

on 2 $P freeze --local >/dev/null || fail "freeze --local on n2"
on 2 $P stop --local --force >/dev/null || fail "stop --local --force on n2"
hasnt 2 standby || fail "stop --force left the standby resource up"
sleep 2
hasnt 2 standby || fail "the standby resource came back on a frozen instance"
echo "ok: stop --force stops it; frozen, it stays down"

on 2 $P thaw --local >/dev/null || fail "thaw --local on n2"
until_ok 10 "app#1 not started again on the thawed n2" has 2 standby
on 2 $P freeze --local >/dev/null
on 2 $P unprovision --local >/dev/null || fail "unprovision --local on n2"
on 2 $P thaw --local >/dev/null
hasnt 2 standby || fail "unprovision left the standby resource up"
sleep 2
hasnt 2 standby || fail "the standby resource came back after unprovision"
echo "ok: thawed it comes back; unprovision stops it for good"
