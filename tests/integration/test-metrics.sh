#!/bin/bash
# The agent's metrics (om daemon metrics) on three agents on 127.0.0.18x (interval
# 200ms, timeout 1s), an HA app service on n1 n2 n3:
# - promtool (Debian's prometheus package) finds the exposition valid, before and after
#   a failover;
# - the values follow the cluster: peers up, the quorum held, the instance up on n1,
#   frames received growing; garbage datagrams sent to n2's heartbeat port are counted
#   as drops by reason (and make an hb_drops event); n1 killed: on n2 the peer is down,
#   the failover counter and the start actions' counter went up by one, the failover's
#   duration is counted.
set -u
ADDR_BASE=180
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
command -v promtool >/dev/null || { echo "skip: promtool is needed (apt-get install prometheus)"; exit 77; }
P=root/svc/web

write_conf 3 200ms 1s
svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms"
for k in 1 2 3; do start_agent $k; done
wait_agents_up 1 2 3
wait_running web n1 10 >/dev/null
wait_inst 2 n1 $P avail up 10

# metric K NAME LABELS: the value of the sample NAME{LABELS} on agent K ("" when absent);
# LABELS as the agent writes them, in its order
metric() {
        on "$1" daemon metrics | awk -v want="$2{$3}" -v bare="$2" '
                ($1 == want) || ($3 == "" && $1 == bare && want == bare "{}") { print $2; exit }'
}
check() { # check K: promtool accepts agent K's metrics
        local out
        on "$1" daemon metrics >"$T/metrics.$1" || fail "om daemon metrics on n$1"
        out=$(promtool check metrics <"$T/metrics.$1" 2>&1) ||
                fail "promtool check metrics on n$1's: $out"
}
check 2
echo "ok: promtool accepts the metrics ($(grep -vc '^#' "$T/metrics.2") samples)"

[ "$(metric 2 om_peer_up 'peer="n1"')" = 1 ] || fail "om_peer_up n1 on n2: $(metric 2 om_peer_up 'peer="n1"')"
[ "$(metric 2 om_peer_liveness 'peer="n1",state="up"')" = 1 ] || fail "n1 not up in om_peer_liveness"
[ "$(metric 2 om_quorum_held '')" = 1 ] || fail "om_quorum_held on n2: $(metric 2 om_quorum_held '')"
[ "$(metric 2 om_quorum_votes '')" = 3 ] || fail "om_quorum_votes on n2"
[ "$(metric 2 om_instance_avail "path=\"$P\",node=\"n1\",avail=\"up\"")" = 1 ] ||
        fail "the instance on n1 is not up in n2's metrics: $(grep om_instance_avail "$T/metrics.2")"
[ "$(metric 2 om_instance_monitor "path=\"$P\",node=\"n2\",state=\"idle\"")" = 1 ] ||
        fail "n2's instance not idle: $(grep om_instance_monitor "$T/metrics.2")"
rss=$(metric 2 om_process_resident_memory_bytes '')
[ "${rss:-0}" -gt 1000000 ] || fail "om_process_resident_memory_bytes: $rss"
rx1=$(metric 2 om_hb_frames_received_total 'stream="hb#1",peer="n1"')
tx1=$(metric 2 om_hb_frames_sent_total 'stream="hb#1",peer="n3"')
sleep 1
rx2=$(metric 2 om_hb_frames_received_total 'stream="hb#1",peer="n1"')
tx2=$(metric 2 om_hb_frames_sent_total 'stream="hb#1",peer="n3"')
[ "$rx2" -gt "$rx1" ] && [ "$tx2" -gt "$tx1" ] || fail "frames from n1 $rx1 -> $rx2, to n3 $tx1 -> $tx2"
echo "ok: peers up, quorum 3 votes, n1 runs it, frames counted ($rx1 -> $rx2 from n1), rss $rss"

# 50 datagrams of garbage to n2's heartbeat port: drops by reason, and an event
on_exec() { local k=$1; shift; OM_ROOT="$T/n$k" OM_NODENAME="n$k" exec "$OM_BIN" "$@"; }
on_exec 2 node events --format json --filter kind=hb_drops >"$T/drops.json" &
SUB=$!
subscribed() { [ "$(on 2 daemon status --format json | jq -r .daemon.local_api.event_subscribers)" = 1 ]; }
until_ok 5 "no subscriber on n2" subscribed
d1=$(metric 2 om_hb_frames_dropped_total 'stream="hb#1",reason="malformed"')
python3 - "$(addr 2)" "$HB_PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    s.sendto(b"\x00garbage" * 20, (sys.argv[1], int(sys.argv[2])))
PY
dropped() { [ "$(metric 2 om_hb_frames_dropped_total 'stream="hb#1",reason="malformed"')" -ge $((d1 + 50)) ]; }
until_ok 5 "50 malformed datagrams not counted (was $d1, is $(metric 2 om_hb_frames_dropped_total 'stream="hb#1",reason="malformed"'))" dropped
has_drops() { [ -n "$(jq -c 'select(.kind == "hb_drops" and .malformed >= 10)' "$T/drops.json" | head -1)" ]; }
until_ok 5 "no hb_drops event: $(cat "$T/drops.json")" has_drops
kill $SUB
echo "ok: garbage counted as malformed drops, an hb_drops event: $(head -1 "$T/drops.json")"

fo1=$(metric 2 om_failovers_total "path=\"$P\",result=\"ok\"")
st1=$(metric 2 om_actions_total 'action="start",result="ok"')
crash 1
wait_running web n2 10 >/dev/null
counted() { [ "$(metric 2 om_failovers_total "path=\"$P\",result=\"ok\"")" = $((${fo1:-0} + 1)) ]; }
until_ok 10 "om_failovers_total on n2 did not go from '${fo1}' to $((${fo1:-0} + 1))" counted
st2=$(metric 2 om_actions_total 'action="start",result="ok"')
[ "$st2" = $((${st1:-0} + 1)) ] || fail "om_actions_total start ok: $st1 -> $st2"
[ "$(metric 2 om_failover_duration_seconds_count "path=\"$P\",result=\"ok\"")" = 1 ] || fail "no failover duration counted"
dur=$(metric 2 om_failover_duration_seconds_sum "path=\"$P\",result=\"ok\"")
[ "$(metric 2 om_peer_up 'peer="n1"')" = 0 ] || fail "n1 still up in n2's metrics"
[ "$(metric 2 om_peer_liveness 'peer="n1",state="down"')" = 1 ] || fail "n1 not down in om_peer_liveness"
[ "$(metric 2 om_instance_avail "path=\"$P\",node=\"n2\",avail=\"up\"")" = 1 ] || fail "n2's instance not up"
check 2
check 3
echo "ok: after n1's kill: failovers ${fo1:-0} -> 1 (${dur}s), start actions ${st1:-0} -> $st2, n1 down; promtool accepts n2's and n3's"
