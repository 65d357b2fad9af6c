#!/bin/bash
# Hooks ([hook#N] of cluster.conf) on three agents on 127.0.0.19x (interval 200ms,
# timeout 1s), an HA app service on n1 n2 n3:
# - bad hook sections are refused at start with the reason, the file and the line;
# - n1 killed: the hook of n2 gets the takeover and the failover events as JSON on its
#   stdin (OM_EVENT_KIND, OM_EVENT_SEQ in its environment); the delay from the
#   takeover to the hook's run is printed (not asserted);
# - a hook that fails, one that outlives its timeout and one whose program does not
#   exist are logged with the reason and counted in om_hook_runs_total by result.
set -u
ADDR_BASE=190
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

# ---- bad sections: om daemon run refuses them before it binds anything ----
badconf() { # badconf "WANT" LINES...: a one-node cluster.conf with LINES; the refusal says WANT
        local want=$1 out
        shift
        rm -rf "$T/bad"
        mkdir -p "$T/bad/etc"
        { printf '[cluster]\nname = bad\nnodes = b1\n\n'; printf '%s\n' "$@"; } >"$T/bad/etc/cluster.conf"
        out=$(OM_ROOT="$T/bad" OM_NODENAME=b1 timeout 10 "$OM_BIN" daemon run 2>&1) &&
                fail "a cluster.conf with $* was accepted"
        echo "$out" | grep -qF "$want" || fail "cluster.conf with $*: '$out' does not say '$want'"
}
badconf "cluster.conf:6: [hook#1] events: no event kind 'nodedown'" "[hook#1]" "events = nodedown" "command = /bin/true"
badconf "[hook#1] missing required keyword 'command'" "[hook#1]" "events = node_down"
badconf "[hook#1] missing required keyword 'events'" "[hook#1]" "command = /bin/true"
badconf "[hook#1] command: a quote is not closed" "[hook#1]" "events = all" "command = /bin/echo 'oops"
badconf "[hook#1] timeout: a duration from 1s to 1h" "[hook#1]" "events = all" "command = /bin/true" "timeout = 10ms"
badconf "[hook#1] unknown keyword 'comand'" "[hook#1]" "events = all" "comand = /bin/true"
echo "ok: bad hook sections refused with their reason and line"

cat >"$T/record.sh" <<EOS
#!/bin/sh
# one line per run: the time it ran (ms), OM_EVENT_KIND, OM_EVENT_SEQ, the JSON from stdin
json=\$(cat)
echo "\$(date +%s%3N) \$OM_EVENT_KIND \$OM_EVENT_SEQ \$json" >>"$T/hook.\$OM_NODENAME"
EOS
chmod +x "$T/record.sh"
write_conf 3 200ms 1s
for k in 1 2 3; do
        cat >>"$T/n$k/etc/cluster.conf" <<EOS

[hook#1]
events = takeover failover
command = $T/record.sh

[hook#2]
events = node_down
command = /bin/sh -c "echo it went wrong >&2; exit 3"

[hook#3]
events = node_down
command = /bin/sleep 30
timeout = 1s

[hook#4]
events = node_down
command = $T/no-such-program --flag
EOS
done
svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 10 >/dev/null
wait_inst 2 n1 $P avail up 10

crash 1
wait_running web n2 10 >/dev/null
two() { [ "$(wc -l <"$T/hook.n2" 2>/dev/null)" -ge 2 ]; }
until_ok 10 "the hook of n2 did not record the takeover and the failover: $(cat "$T/hook.n2" 2>&1)" two
read -r t_ran kind seq json < <(grep " takeover " "$T/hook.n2")
[ "$kind" = takeover ] || fail "no takeover line: $(cat "$T/hook.n2")"
[ "$(echo "$json" | jq -r .kind)" = takeover ] && [ "$(echo "$json" | jq -r .path)" = $P ] &&
        [ "$(echo "$json" | jq -r .from)" = n1 ] && [ "$(echo "$json" | jq -r .seq)" = "$seq" ] &&
        [ "$(echo "$json" | jq -r .node)" = n2 ] || fail "the takeover's JSON: $json (seq $seq)"
t_ev=$(echo "$json" | jq -r .ts)
grep -q " failover [0-9]* .*\"kind\":\"failover\".*\"result\":\"ok\"" "$T/hook.n2" ||
        fail "no failover line: $(cat "$T/hook.n2")"
[ -e "$T/hook.n3" ] && fail "n3 ran the hook: $(cat "$T/hook.n3")"
echo "ok: n2's hook got the takeover (seq $seq) and the failover on stdin; it ran $((t_ran - t_ev))ms after the takeover"

metric() { on 2 daemon metrics | awk -v want="$1" '$1 == want { print $2; exit }'; }
counted() { [ "$(metric "om_hook_runs_total{result=\"$1\"}")" = "$2" ]; }
until_ok 10 "timeout not counted: $(on 2 daemon metrics | grep om_hook_runs)" counted timeout 1
counted failed 1 || fail "failed: $(on 2 daemon metrics | grep om_hook_runs)"
counted spawn_error 1 || fail "spawn_error: $(on 2 daemon metrics | grep om_hook_runs)"
counted ok 2 || fail "ok: $(on 2 daemon metrics | grep om_hook_runs)"
L="$T/n2/log/daemon.log"
grep -q "hook#2 for event [0-9]* (node_down): failed, exit status 3 after [0-9]*ms; output: it went wrong" "$L" ||
        fail "no failure line for hook#2: $(grep hook "$L")"
grep -q "hook#3 for event [0-9]* (node_down): killed after its timeout of 1000ms" "$L" ||
        fail "no timeout line for hook#3: $(grep hook "$L")"
grep -q "hook#4 for event [0-9]* (node_down): cannot run '$T/no-such-program --flag': no such file or directory" "$L" ||
        fail "no spawn error line for hook#4: $(grep hook "$L")"
for p in $(pgrep -f "^/bin/sleep 30$"); do
        grep -qF "$T" /proc/"$p"/environ 2>/dev/null && fail "the timed out hook's sleep still runs"
done
echo "ok: failed, timed out and missing hook programs logged and counted (ok 2, failed 1, timeout 1, spawn_error 1)"
