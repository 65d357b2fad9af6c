#!/bin/bash
# GET /api/events, server-sent events, on two agents running an HA service on n1:
# - a subscriber of n2 gets the takeover when n1 is killed (node_down n1, then n2's
#   instance up), each event with an id <boot>.<seq>, sequences increasing;
# - reconnecting with since=<an id it saw> gives exactly the events after it, in order;
#   an id of another boot gives every event held, with restarted = true in the hello;
# - filter=kind=node_down gives only those; a bad filter or since is a 400 in JSON;
# - a viewer token is enough, none is a 401;
# - a stop of the agent with an event stream and an idle connection open ends the
#   stream and exits 0 (the ASan pass: nothing leaks).
set -u
ADDR_BASE=190
. "$(dirname "$0")/test-agent.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
. "$(dirname "$0")/test-http.lib"

write_conf 2 200ms 1s
http_conf 2 off
svc_conf web "n1 n2" "orchestrate = ha"
for k in 1 2; do start_agent $k; done
wait_api 1
wait_api 2
wait_running web n1 15 >/dev/null
VIEW=$(on 2 token create --role viewer 2>/dev/null)
URL=http://$(addr 2):$HTTP_PORT/api/events
expect "events without a token" 401 "$(req 2 GET /api/events)"
expect "a bad filter" 400 "$(req 2 GET '/api/events?filter=color=red' "$VIEW")"
expect "a bad since" 400 "$(req 2 GET '/api/events?since=12' "$VIEW")"

curl -sN -m 60 -H "Authorization: Bearer $VIEW" "$URL" >"$T/all" 2>/dev/null &
CURL_ALL=$!
curl -sN -m 60 -H "Authorization: Bearer $VIEW" "$URL?filter=kind=node_down" >"$T/down" 2>/dev/null &
CURL_DOWN=$!
until_ok 10 "no hello on the stream" grep -q "^event: hello" "$T/all"
crash 1
wait_running web n2 15 >/dev/null
has_takeover() {
        grep '"kind":"node_down"' "$T/all" | grep -q '"peer":"n1"' &&
                grep '"kind":"avail"' "$T/all" | grep '"path":"root/svc/web"' | grep '"peer":"n2"' | grep -q '"to":"up"'
}
until_ok 15 "the stream of n2 shows no node_down n1 and web up on n2: $(grep -c '^id:' "$T/all") events" has_takeover
kill $CURL_ALL $CURL_DOWN 2>/dev/null
wait $CURL_ALL $CURL_DOWN 2>/dev/null
grep '^data:' "$T/down" | grep -v '"boot"' | grep -v '"kind":"node_down"' && fail "the node_down filter let other kinds through"
grep -q '"kind":"node_down"' "$T/down" || fail "the node_down filter stream has no node_down"
seqs=$(sed -n 's/^id: [0-9a-f]*\.\([0-9]*\)$/\1/p' "$T/all")
[ -n "$seqs" ] || fail "no event ids"
echo "$seqs" | sort -n -c 2>/dev/null || fail "sequences not increasing: $seqs"
echo "ok: n1 killed, n2's stream shows node_down and the takeover ($(echo "$seqs" | wc -l) events)"

# reconnect from the third event seen: exactly the ones after it
mid=$(grep '^id:' "$T/all" | sed -n 3p | cut -d' ' -f2)
[ -n "$mid" ] || fail "fewer than 3 events"
want=$(grep '^id:' "$T/all" | cut -d' ' -f2 | awk -v m="$mid" 'f { print } $0 == m { f = 1 }')
curl -sN -m 3 -H "Authorization: Bearer $VIEW" "$URL?since=$mid" >"$T/again" 2>/dev/null
got=$(grep '^id:' "$T/again" | cut -d' ' -f2 | head -n "$(echo "$want" | wc -l)")
[ "$got" = "$want" ] || fail "since=$mid replayed '$got', not '$want'"
curl -sN -m 3 -H "Authorization: Bearer $VIEW" -H "Last-Event-ID: $mid" "$URL" >"$T/again2" 2>/dev/null
got=$(grep '^id:' "$T/again2" | cut -d' ' -f2 | head -n "$(echo "$want" | wc -l)")
[ "$got" = "$want" ] || fail "Last-Event-ID $mid replayed '$got', not '$want'"
curl -sN -m 3 -H "Authorization: Bearer $VIEW" "$URL?since=0000.5" >"$T/other" 2>/dev/null
grep -q '"restarted":true' "$T/other" || fail "another boot's id is not said restarted: $(head -3 "$T/other")"
[ "$(grep -c '^id:' "$T/other")" -ge "$(grep -c '^id:' "$T/all")" ] || fail "another boot's id does not replay every event held"
echo "ok: since and Last-Event-ID replay what was missed, in order; another boot's id replays all"

# the agent stops cleanly with an event stream and an idle connection open: the stream
# ends, the connections close, the exit status is 0 (under ASan: no leak of libh2o's
# connections or context)
curl -sN -m 60 -H "Authorization: Bearer $VIEW" "$URL" >"$T/stopping" 2>/dev/null &
CURL_STOP=$!
exec 3<>"/dev/tcp/$(addr 2)/$HTTP_PORT"
until_ok 10 "the stream before the stop did not open" grep -q "event: hello" "$T/stopping"
kill -TERM "${PIDS[2]}"
wait "${PIDS[2]}"
rc=$?
unset 'PIDS[2]'
exec 3<&-
[ $rc = 0 ] || fail "n2 exited $rc at a stop with HTTP connections open: $(grep -m3 -E 'Sanitizer|ERROR' "$T/n2.out")"
grep -qE "LeakSanitizer|AddressSanitizer" "$T/n2.out" && fail "n2's stop: $(grep -m3 Sanitizer "$T/n2.out")"
grep -q "agent stopped" "$T/n2/log/daemon.log" || fail "n2 did not log its stop"
grep -q "still open at the stop" "$T/n2/log/daemon.log" && fail "n2 left HTTP connections open at the stop"
wait $CURL_STOP
crc=$?
[ $crc = 0 ] || fail "the event stream did not end cleanly at the stop (curl exit $crc)"
echo "ok: a stop with an event stream and an idle connection open exits 0, the stream ended"
