#!/bin/bash
# The agent's events (om node events) on three agents on 127.0.0.17x (interval 200ms,
# timeout 1s), an HA app service on n1 n2 n3:
# - a subscriber on n2 sees, in this order: the target set through the CLI and reached,
#   then after n1 is killed: n1 down, the takeover of the service from n1, its start
#   action begun and ended, the failover done, the instance up on n2;
# - a filtered subscriber sees only the kinds it asked for;
# - om mon --watch with an hour between rounds is redrawn by the events, the last picture
#   showing the service on n2;
# - a client that gives the last sequence it saw gets exactly what followed;
# - an agent whose ring wrapped says how many events were lost;
# - a subscriber whose agent restarts connects again and is told it restarted;
# - bad filters and options are refused with the reason.
set -u
ADDR_BASE=170
. "$(dirname "$0")/test-agent.lib"
NNODES=3
. "$(dirname "$0")/test-orch.lib"
P=root/svc/web

write_conf 3 200ms 1s
svc_conf web "n1 n2 n3" "orchestrate = ha" "ready_period = 300ms"
for k in 1 2; do start_agent $k; done
OM_TEST_EVENTS_RING=16 start_agent 3
wait_agents_up 1 2 3
wait_running web n1 10 >/dev/null
wait_inst 2 n1 $P avail up 10

# bad input: each refused with its reason, exit 2
bad() { # bad "REASON" ARGS...
        local want=$1 out
        shift
        out=$(on 2 node events "$@" 2>&1) && fail "om node events $* succeeded"
        echo "$out" | grep -qF "$want" || fail "om node events $*: '$out' does not say '$want'"
}
bad "no event kind 'nodedown'" --filter kind=nodedown
bad "not key=value with key kind, path or node" --filter color=red
bad "no value after '='" --filter kind=
bad "is not a sequence number" --since -1
bad "is not a number above 0" --count 0
bad "does not stream" --format yaml
echo "ok: bad filters and options refused"

# on_exec K ARGS...: om as the background job itself (so that kill stops it)
on_exec() {
        local k=$1
        shift
        OM_ROOT="$T/n$k" OM_NODENAME="n$k" exec "$OM_BIN" "$@"
}
# subscribers K N: agent K has N event subscribers
subscribers() { [ "$(on "$1" daemon status --format json | jq -r .daemon.local_api.event_subscribers)" = "$2" ]; }

on_exec 2 node events --format json >"$T/all.json" 2>"$T/all.err" &
SUB=$!
on_exec 2 node events --format json --filter kind=takeover,failover --filter path=$P >"$T/filtered.json" &
SUB2=$!
until_ok 5 "the subscribers did not connect" subscribers 2 2
# om mon --watch with an hour between rounds: only events redraw it
on_exec 2 mon --watch --interval 1h >"$T/watch.txt" 2>&1 &
WATCH=$!
until_ok 5 "om mon --watch did not subscribe" subscribers 2 3
pictures() { grep -c '^Threads' "$T/watch.txt"; }
p0=$(pictures)

on 2 $P start --wait --time 20s >/dev/null || fail "om $P start --wait"
crash 1
wait_running web n2 10 >/dev/null
# the failover event comes once the start ended
# has FILE FILTER: a line of FILE that jq FILTER is true of
has() { [ -n "$(jq -c "select($2)" "$1" | head -1)" ]; }
until_ok 10 "no failover event on n2's subscriber" has "$T/all.json" '.kind == "failover"'
until_ok 10 "no avail up of n2 on the subscriber" \
        has "$T/all.json" '.kind == "avail" and .peer == "n2" and .to == "up"'
kill $SUB $SUB2
wait $SUB $SUB2 2>/dev/null
redrawn() { [ "$(pictures)" -gt "$p0" ] && tail -n 30 "$T/watch.txt" | grep -qE "^ $P .*\| +\? +O\^"; }
until_ok 10 "om mon --watch did not redraw with web up on n2: $(tail -n 12 "$T/watch.txt")" redrawn
kill $WATCH
echo "ok: om mon --watch --interval 1h redrawn on events: $p0 -> $(pictures) pictures, the last with n2 running web"

# seq FILTER: the sequence of the first event jq FILTER selects (fails when none)
seq_of() {
        local s
        s=$(jq -r "select($1) | .seq" "$T/all.json" | head -1)
        [ -n "$s" ] || fail "no event $1 in: $(cat "$T/all.json")"
        echo "$s"
}
s_tset=$(seq_of ".kind == \"target_set\" and .path == \"$P\" and .target == \"started\"")
s_treach=$(seq_of ".kind == \"target_reached\" and .path == \"$P\"")
s_down=$(seq_of ".kind == \"node_down\" and .peer == \"n1\"")
s_take=$(seq_of ".kind == \"takeover\" and .path == \"$P\" and .from == \"n1\"")
s_astart=$(seq_of ".kind == \"action_start\" and .path == \"$P\" and .action == \"start\"")
s_aend=$(seq_of ".kind == \"action_end\" and .path == \"$P\" and .action == \"start\" and .result == \"ok\"")
s_fo=$(seq_of ".kind == \"failover\" and .path == \"$P\" and .from == \"n1\" and .result == \"ok\"")
s_up=$(seq_of ".kind == \"avail\" and .path == \"$P\" and .peer == \"n2\" and .to == \"up\"")
order="$s_tset $s_treach $s_down $s_take $s_astart $s_aend $s_fo $s_up"
[ "$order" = "$(echo $order | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')" ] ||
        fail "events out of order (target_set target_reached node_down takeover action_start action_end failover avail): $order"
echo "ok: target set and reached, node_down, takeover, action start and end, failover, avail up in order ($order)"
# sequence numbers: increasing by one, every event of the agent
jq -r .seq "$T/all.json" | awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }' ||
        fail "sequence numbers with a gap: $(jq -r .seq "$T/all.json" | tr '\n' ' ')"
has "$T/all.json" '.node != "n2"' && fail "an event not of n2"
echo "ok: sequence numbers without a gap, node n2"

kinds=$(jq -r .kind "$T/filtered.json" | sort -u | tr '\n' ' ')
[ "$kinds" = "failover takeover " ] || fail "the filtered subscriber got kinds: $kinds"
echo "ok: the filtered subscriber got only takeover and failover"

# reconnecting with the node_down's sequence gives exactly what followed
n=$(jq -r "select(.seq > $s_down) | .seq" "$T/all.json" | wc -l)
on 2 node events --format json --since "$s_down" --count "$n" >"$T/again.json" 2>"$T/again.err" ||
        fail "om node events --since $s_down: $(cat "$T/again.err")"
diff <(jq -c "select(.seq > $s_down)" "$T/all.json") <(jq -c . "$T/again.json") ||
        fail "the replay after $s_down differs from what the subscriber saw"
[ -s "$T/again.err" ] && fail "the replay said: $(cat "$T/again.err")"
echo "ok: --since $s_down replays the $n events that followed"

# n3's ring holds 16 events: asking from the first says how many are gone
on 3 node events --format json --since 0 --count 1 >"$T/lost.json" 2>"$T/lost.err" ||
        fail "om node events on n3: $(cat "$T/lost.err")"
lost=$(head -1 "$T/lost.json" | jq -r '.lost // empty')
[ -n "$lost" ] && [ "$lost" -gt 0 ] || fail "n3 did not say events were lost: $(cat "$T/lost.json")"
grep -q "events after 0 are lost (the agent's ring wrapped)" "$T/lost.err" || fail "stderr: $(cat "$T/lost.err")"
first=$(sed -n 2p "$T/lost.json" | jq -r .seq)
[ "$first" = $((lost + 1)) ] || fail "n3 lost $lost events but replayed from $first"
echo "ok: n3's wrapped ring: $lost events lost, replay from $first"

# an agent restart: the subscriber connects again and is told
on_exec 3 node events --format json >"$T/restart.json" 2>"$T/restart.err" &
SUB=$!
until_ok 5 "the subscriber of n3 did not connect" subscribers 3 1
kill "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
OM_TEST_EVENTS_RING=16 start_agent 3
told() { grep -q "the agent restarted" "$T/restart.err"; }
until_ok 10 "the subscriber of n3 was not told of the restart: $(cat "$T/restart.err")" told
until_ok 10 "no event from the restarted n3" has "$T/restart.json" '.kind == "node_up"'
kill $SUB
wait $SUB 2>/dev/null
has "$T/restart.json" '.restarted == true' || fail "no restarted line in JSON"
echo "ok: a subscriber follows an agent restart and is told of it"
