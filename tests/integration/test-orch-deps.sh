#!/bin/bash
# Dependencies between services across two agents on 127.0.0.3x (interval 200ms /
# timeout 1s): db runs on n1 (children = app), app on n2 (parents = db), both
# orchestrate = ha. db's start and app's stop take a second, so that an order not
# waited for shows in the events:
# - at the agents' start, app starts on n2 only once db is up on n1 (n2's log says it
#   waits for its parent);
# - both stopped at once (orchestrated stops, one on each node): db stops only once app
#   is down (n1's log says it waits for its child);
# - a loop (db's parents = app, app's children = db) is refused by set, naming the loop,
#   and validate config reports it.
set -u
ADDR_BASE=33
. "$(dirname "$0")/test-agent.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"

# conf NAME NODES START_DELAY STOP_DELAY EXTRA...
conf() {
        local name=$1 nodes=$2 up=$3 down=$4 id k
        shift 4
        id=$(cat /proc/sys/kernel/random/uuid)
        for k in 1 2; do
                mkdir -p "$T/n$k/etc/namespaces/root/svc"
                {
                        echo "[DEFAULT]"
                        echo "id = $id"
                        echo "nodes = $nodes"
                        echo "orchestrate = ha"
                        echo "ready_period = 300ms"
                        for l in "$@"; do echo "$l"; done
                        echo
                        echo "[app#0]"
                        echo "start = sh -c 'sleep $up; echo \$(date +%s%3N) start \$OM_NODENAME $name >>$EVENTS; touch \$OM_ROOT/running.$name'"
                        echo "stop = sh -c 'sleep $down; rm -f \$OM_ROOT/running.$name; echo \$(date +%s%3N) stop \$OM_NODENAME $name >>$EVENTS'"
                        echo "check = sh -c 'test -f \$OM_ROOT/running.$name'"
                } >"$T/n$k/etc/namespaces/root/svc/$name.conf"
        done
}
at() { awk -v e="$1" -v n="$2" '$2 == e && $4 == n { print $1; exit }' "$EVENTS"; }

write_conf 2 200ms 1s
conf db n1 1 0 "children = app"
conf app n2 0 1 "parents = root/svc/db"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running db n1 15 >/dev/null
wait_running app n2 15 >/dev/null
[ "$(at start app)" -ge "$(at start db)" ] ||
        fail "app started at $(at start app), before db was up at $(at start db)"
grep -q "root/svc/app waits for its parent to be up: root/svc/db" "$T/n2/log/daemon.log" ||
        fail "n2's log does not say app waits for db"
echo "ok: app started on n2 $(($(at start app) - $(at start db)))ms after db was up on n1"

on 1 root/svc/db stop >/dev/null || fail "om root/svc/db stop"
on 2 root/svc/app stop >/dev/null || fail "om root/svc/app stop"
wait_running app "" 15 >/dev/null
wait_running db "" 15 >/dev/null
[ "$(at stop db)" -ge "$(at stop app)" ] ||
        fail "db stopped at $(at stop db), before app was down at $(at stop app)"
grep -q "root/svc/db waits for its child to stop: root/svc/app" "$T/n1/log/daemon.log" ||
        fail "n1's log does not say db waits for app"
echo "ok: db stopped on n1 $(($(at stop db) - $(at stop app)))ms after app was down on n2"

out=$(on 1 root/svc/db set --kw parents=app 2>&1) && fail "a parents loop was accepted"
grep -q "parents loop: root/svc/db -> root/svc/app -> root/svc/db" <<<"$out" ||
        fail "set with a loop: $out"
out=$(on 2 root/svc/app set --kw children=db 2>&1) && fail "a children loop was accepted"
grep -q "children loop: root/svc/app -> root/svc/db -> root/svc/app" <<<"$out" ||
        fail "set with a loop: $out"
# written behind om's back: validate config names the loop
sed -i 's/^children = app$/children = app\nparents = app/' "$T/n1/etc/namespaces/root/svc/db.conf"
out=$(on 1 root/svc/db validate config 2>&1) && fail "validate config accepted a loop"
grep -q "db.conf:[0-9]*: \[DEFAULT\] parents loop: root/svc/db -> root/svc/app -> root/svc/db" <<<"$out" ||
        fail "validate config: $out"
out=$(on 1 root/svc/db set --kw parents=db 2>&1) && fail "a service its own parent was accepted"
grep -q "parents: 'db' is the service itself" <<<"$out" || fail "set parents=db: $out"
out=$(on 1 root/svc/db set --kw parents=root/sec/x 2>&1) && fail "a sec parent was accepted"
grep -q "'root/sec/x' is a sec object, not a svc" <<<"$out" || fail "set parents=root/sec/x: $out"
echo "ok: loops (and a service its own parent, a parent not a svc) are refused, named"
