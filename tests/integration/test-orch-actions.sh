#!/bin/bash
# Orchestrated actions on three agents (127.0.0.15x, interval 200ms / timeout 1s) with
# an app service (orchestrate = no): provision, stop, start, switch --to, restart, freeze, thaw,
# unprovision and purge without --local print the reference's two lines and, with
# --wait, return when the target is reached; a stop orchestration leaves every instance
# frozen (a node down meanwhile freezes when it comes back); a stop that fails ends in "stop failed", `--wait` exits 1 saying why
# (the failing node's last error under the target line when it is this node), and
# `om mon` shows "warn!" and "!!* stop failed" as the reference does. The object logs
# carry "do start --local (daemon origin)".
set -u
ADDR_BASE=150
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"

P=root/svc/web
OM_ROOT="$T/nodaemon" OM_NODENAME=n1 "$OM_BIN" web start >"$T/out" 2>&1 && fail "start without a daemon succeeded"
grep -q "no daemon answers at .*; use --local" "$T/out" || fail "no hint without a daemon: $(cat "$T/out")"

write_conf 3 200ms 1s
svc_conf web "n1 n2 n3"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3

out=$(on 1 web provision --wait) || fail "provision --wait failed: $out"
[ "$out" = "@ n:n1 o:$P sc:n
  $P defer target state set to provisioned" ] || fail "provision printed: $out"
[ "$(running web)" = n1 ] || fail "provisioned: runs on '$(running web)', not n1"
echo "ok: provision --wait, runs on n1"

out=$(on 2 web stop --wait) || fail "stop --wait failed: $out"
echo "$out" | grep -q "^@ n:n2 o:$P sc:n$" || fail "stop printed: $out"
[ "$(running web)" = "" ] || fail "stopped: still runs on $(running web)"
for k in 1 2 3; do wait_inst 1 n$k $P frozen true 3; done
echo "ok: stop --wait, frozen on every node"

on 3 web start --wait >/dev/null || fail "start --wait failed"
[ "$(running web)" = n1 ] || fail "started: runs on '$(running web)', not n1"
for k in 1 2 3; do wait_inst 1 n$k $P frozen false 3; done
grep -q "do start --local (daemon origin)" "$T/n1/log/namespaces/root/svc/web.log" ||
        fail "no 'do start --local (daemon origin)' in n1's object log"
echo "ok: start --wait thaws and starts on n1 (daemon origin in the object log)"

on 1 web switch --to n3 --wait >/dev/null || fail "switch --wait failed"
[ "$(running web)" = n3 ] || fail "switched: runs on '$(running web)', not n3"
on 1 web switch --to n9 >/dev/null 2>&1 && fail "switch to a node outside nodes accepted"
echo "ok: switch --to n3"

# restart: stopped where it runs (n3, not the leader), then started there again
starts3=$(grep -c " start n3 web$" "$EVENTS")
out=$(on 2 web restart --wait) || fail "restart --wait failed: $out"
[ "$out" = "@ n:n2 o:$P sc:n
  $P defer target state set to stopped
@ n:n2 o:$P sc:n
  $P defer target state set to placed@n3" ] || fail "restart printed: $out"
[ "$(running web)" = n3 ] || fail "restarted: runs on '$(running web)', not n3"
[ "$(grep -c " stop n3 web$" "$EVENTS")" -ge 1 ] && [ "$(grep -c " start n3 web$" "$EVENTS")" = $((starts3 + 1)) ] ||
        fail "restart did not stop and start web on n3: $(tail -4 "$EVENTS")"
for k in 1 2 3; do wait_inst 1 n$k $P frozen false 10; done
# --local: a stop then a start here, in one session of the object log
on 3 $P restart --local >/dev/null || fail "restart --local on n3"
[ "$(running web)" = n3 ] || fail "restart --local: runs on '$(running web)'"
grep -q "do restart --local (user origin)" "$T/n3/log/namespaces/root/svc/web.log" ||
        fail "no 'do restart --local' in n3's object log"
echo "ok: restart (orchestrated, in place on n3) and restart --local"

on 2 web freeze --wait >/dev/null || fail "freeze --wait"
for k in 1 2 3; do wait_inst 2 n$k $P frozen true 3; done
on 2 web thaw --wait >/dev/null || fail "thaw --wait"
for k in 1 2 3; do wait_inst 2 n$k $P frozen false 3; done
echo "ok: freeze and thaw"

inst_error() { # inst_error K NODE: web's instance error on NODE, as node K's agent shows it
        on "$1" daemon status --format json | python3 -c '
import json, sys
print(json.load(sys.stdin)["objects"]["root/svc/web"]["instances"][sys.argv[1]]["error"])' "$2"
}
# the stop-loss protection: the stop fails, the orchestration ends in "stop failed"
touch "$T/n3/fail-stop"
out=$(on 1 web stop --wait 2>&1) && fail "stop --wait succeeded though the stop fails"
echo "$out" | grep -q "stop failed on n3" || fail "stop --wait does not say why: $out"
wait_inst 1 n3 $P monitor "stop failed" 3
# under the target line, the failing node's reason, the last error of its action, from
# any node (n3's status cache keeps it, its node data carries it)
echo "$out" | grep -qxF "  n3 stop failed: app#0: stop command exited with status 1" ||
        fail "stop --wait from n1 does not give n3's reason: $out"
out=$(on 3 web stop --wait 2>&1) && fail "stop --wait on n3 succeeded though the stop fails"
echo "$out" | grep -qxF "  n3 stop failed: app#0: stop command exited with status 1" ||
        fail "stop --wait on n3 does not give the reason: $out"
[ "$(inst_error 1 n3)" = "app#0: stop command exited with status 1" ] ||
        fail "daemon status on n1: n3's instance error is '$(inst_error 1 n3)'"
mon=$(on 1 mon)
echo "$mon" | grep -E "^ $P +warn! +0/1 +\| .*!!\* stop failed" >/dev/null ||
        fail "om mon does not show the failed stop as the reference does: $mon"
echo "$mon" | grep "$P"
rm -f "$T/n3/fail-stop"
on 1 web stop --wait >/dev/null || fail "stop --wait after the fix"
# a stop that succeeded clears the reason everywhere
n3_no_error() { [ -z "$(inst_error 1 n3)" ]; }
until_ok 10 "n3's instance error cleared after a stop that succeeded" n3_no_error
[ "$(running web)" = "" ] || fail "still runs on $(running web)"
echo "ok: stop failed, then stopped"

# a node down during a stop orchestration adopts the target when it comes back: frozen
on 1 web start --wait >/dev/null || fail "start --wait"
crash 3
wait_state 1 n3 down 5 >/dev/null
on 1 web stop --wait >/dev/null || fail "stop --wait with n3 down"
start_agent 3
wait_agents_up 1 2 3
wait_inst 1 n3 $P frozen true 5
echo "ok: n3, down during the stop, is frozen when it comes back"

on 1 web unprovision --wait >/dev/null || fail "unprovision --wait"
on 1 web purge --wait >/dev/null || fail "purge --wait"
for k in 1 2 3; do
        [ -e "$T/n$k/etc/namespaces/root/svc/web.conf" ] && fail "web.conf still on n$k after purge"
done
echo "ok: unprovision and purge on every node"
[ "$(check_double_starts)" = 0 ] || fail "double starts"
