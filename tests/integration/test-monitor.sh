#!/bin/bash
# Resource monitoring among three agents on 127.0.0.17x (interval 200ms / timeout 1s):
# an HA app service (nodes n1 n2 n3, ready_period 300ms, monitor_interval 300ms) whose
# app#0 has `monitor = true` and `restart = 1`.
# - the app dies on its own on n1 (its marker goes, nothing else): the agent finds it down
#   and starts it again there (restart 1/1);
# - it dies again: the restart is spent, so n1 gives the instance up (stops it, monitor
#   "monitor failed") and n2 takes over; n1 is no longer a candidate;
# - on n2, frozen, the app dying is left alone: no restart while frozen;
# - a service that watches nothing gets no periodic status refresh;
# - without orchestration (solo, on n3): restart = 2 restarts the app; a stop --local is
#   respected; `print status --waitlock 0` (the monitor's refresh) refuses to run while
#   an action holds the object's lock;
# - no double start in the events.
set -u
ADDR_BASE=170
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

# dies K: the app of web dies on node K without om knowing (recorded as a crash)
dies() {
        rm -f "$T/n$1/running.web"
        echo "$(date +%s%3N) crash n$1 web" >>"$EVENTS"
}
starts_on() { grep -c " start n$1 web\$" "$EVENTS"; }

write_conf 3 200ms 1s
APP_EXTRA=("monitor = true" "restart = 1")
svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms" "monitor_interval = 300ms"
APP_EXTRA=()
svc_conf quiet "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms" "monitor_interval = 300ms"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 10 >/dev/null
wait_running quiet n1 10 >/dev/null
sleep 0.5
[ "$(starts_on 1)" = 1 ] || fail "web started $(starts_on 1) times on n1, want 1"
echo "ok: n1 runs web"

dies 1
ms=$(wait_running web n1 5) || fail "web was not restarted on n1"
echo "ok: the app died on n1, restarted there in ${ms}ms"
grep -q "c:monitor | $P resource app#0 is down: restart 1/1$" "$T/n1/log/daemon.log" ||
        fail "no 'restart 1/1' line in n1's log"
[ "$(starts_on 1)" = 2 ] || fail "web started $(starts_on 1) times on n1, want 2"

dies 1
ms=$(wait_running web n2 10) || fail "web did not move to n2 once n1's restarts were spent"
echo "ok: the app died again, restarts spent: n2 took over in ${ms}ms"
grep -q "c:monitor | $P monitored resource app#0 is down after 1 restart: giving the instance up$" \
        "$T/n1/log/daemon.log" || fail "no 'giving the instance up' line in n1's log"
wait_inst 2 n1 $P monitor "monitor failed" 10
[ "$(starts_on 1)" = 2 ] || fail "n1 started web again: $(starts_on 1) starts"
on 2 mon | grep -E "^ $P .* monitor failed" >/dev/null || fail "om mon: $(on 2 mon | grep $P)"

on 2 "$P" freeze --local >/dev/null || fail "freeze on n2"
wait_inst 2 n2 $P frozen true 10 # the agent has seen the flag
dies 2
sleep 2
[ -z "$(running web)" ] || fail "web restarted on '$(running web)' while n2 is frozen"
[ "$(starts_on 2)" = 1 ] || fail "web started $(starts_on 2) times on n2, want 1"
echo "ok: frozen on n2, the dead app is left alone"

n=$(grep -c "root/svc/quiet print status .*spawned" "$T/n1/log/daemon.log")
[ "$n" -le 1 ] || fail "quiet (nothing watched) had its status refreshed $n times on n1"
n=$(grep -c "$P print status .*spawned" "$T/n1/log/daemon.log")
echo "status refreshes of web on n1: $n, of quiet: $(grep -c "root/svc/quiet print status .*spawned" "$T/n1/log/daemon.log")"

# a service without orchestration, on n3 only: restart = 2 restarts its app; a stop
# --local is a stop, not a failure; a status refresh never runs beside an action
APP_EXTRA=("restart = 2")
svc_conf solo "n3" "monitor_interval = 200ms"
APP_EXTRA=()
S=root/svc/solo
wait_inst 3 n3 $S monitor idle 10
on 3 $S start --local >/dev/null 2>&1 || fail "start solo on n3"
wait_running solo n3 5 >/dev/null
rm -f "$T/n3/running.solo"
echo "$(date +%s%3N) crash n3 solo" >>"$EVENTS"
wait_running solo n3 5 >/dev/null || fail "solo was not restarted on n3"
grep -q "c:monitor | $S resource app#0 is down: restart 1/2$" "$T/n3/log/daemon.log" ||
        fail "no 'restart 1/2' for solo in n3's log"
echo "ok: solo (no orchestration) restarted on n3"
on 3 $S stop --local >/dev/null 2>&1 || fail "stop solo on n3"
sleep 1.5
[ -z "$(running solo)" ] || fail "solo, stopped by hand, was started again on '$(running solo)'"
echo "ok: a stop --local is respected"
lock=$T/n3/var/namespaces/root/svc/solo/action.lock
flock "$lock" sh -c "touch $T/locked; sleep 3" &
fl=$!
until_ok 10 "flock did not take $lock" test -e "$T/locked"
out=$(on 3 $S print status --waitlock 0 2>&1) && fail "print status --waitlock 0 ran beside a held lock"
grep -q "holds the lock" <<<"$out" || fail "print status --waitlock 0: '$out'"
wait $fl
echo "ok: print status --waitlock 0 refuses while an action holds the lock"

n=$(check_double_starts)
[ "$n" = 0 ] || fail "$n double starts"
echo "ok: no double start"
