#!/bin/bash
# The order of an orchestrated provision: the leader first, then each other node once it
# holds the leader's sec objects of the namespace (a node that provisioned without them
# would generate passphrases of its own). Two agents on 127.0.0.9x; n2 cannot install
# any demo/sec/* object (its namespaces/demo/sec is a file, not a directory). A flex
# service demo/svc/web (nodes n1 n2; a 16M loop file under each node's {var}, which only
# a provision creates) is provisioned: n1 does it, n2 waits as long as it lacks
# demo/sec/web; once the obstacle goes, the secret arrives and n2 provisions. The failed
# installs on n2 are tried again with a growing delay, not in a loop.
set -u
ADDR_BASE=90
. "$(dirname "$0")/test-agent.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
P=demo/svc/web

write_conf 2 200ms 1s
mkdir -p "$T/n2/etc/namespaces/demo"
touch "$T/n2/etc/namespaces/demo/sec"
# the loop devices go with the test, whatever happens
trap 'for k in 1 2; do on $k $P unprovision --local --force >/dev/null 2>&1; done; cleanup' EXIT
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2

on 1 demo/sec/web create >/dev/null || fail "create demo/sec/web"
on 1 demo/sec/web add --key k --value secret-of-n1 >/dev/null || fail "add the key"
cat >"$T/web.conf" <<CONF
[DEFAULT]
nodes = n1 n2
topology = flex

[disk#0]
type = loop
file = {var}/web.img
size = 16M
CONF
on 1 $P create --config "$T/web.conf" >/dev/null || fail "create $P"
for i in $(seq 1 100); do on 2 $P print config >/dev/null 2>&1 && break; sleep 0.05; done
on 2 $P print config >/dev/null 2>&1 || fail "$P did not reach n2"

on 1 $P provision >/dev/null || fail "provision"
wait_inst 1 n1 $P provisioned true 10
wait_inst 1 n2 $P provisioned false 10 # n2's instance in n1's view (not "none")
# n2's failed installs of demo/sec/web so far: the retries are 1, 2, 4, ... 30 s apart
tries_count() { grep -c "demo/sec/web version .*cannot install" "$T/n2/log/daemon.log"; }
tries0=$(tries_count)
sleep 2
tries=$(tries_count)
got=$(inst 1 n2 $P provisioned)
[ "$got" = false ] || fail "n2's instance provisioned '$got' in n1's view, without the leader's secret"
grep -q "$P provision .*spawned" "$T/n2/log/daemon.log" && fail "n2 spawned a provision without the leader's secret"
on 2 demo/sec/web keys >/dev/null 2>&1 && fail "n2 holds demo/sec/web: the obstacle did not work"
[ "$tries" -ge 1 ] || fail "n2 never tried to install demo/sec/web"
# (two at most in those 2 s, as 1 s then 2 s apart; a retry in a loop makes many more)
[ $((tries - tries0)) -le 2 ] || fail "n2 tried to install demo/sec/web $((tries - tries0)) times in about 2 s"
echo "ok: n1 provisioned; n2 waits for demo/sec/web (tried $tries times)"

rm -f "$T/n2/etc/namespaces/demo/sec"
# (n2's next try may be up to 30 s away: its delay grew while the obstacle was there)
wait_inst 1 n2 $P provisioned true 45
[ "$(on 2 demo/sec/web decode --key k)" = secret-of-n1 ] || fail "n2 decodes another value"
echo "ok: the secret reached n2, which provisioned then"
