#!/bin/bash
# Bad input and load on the HTTP API of n1, in a two-node cluster (interval 200ms,
# timeout 1s), each answer checked for its status and, where om answers, a JSON error:
# - malformed HTTP (libh2o's parser: 400), headers over 16 KiB (431), a body over 64 KiB
#   (413 JSON, libh2o's own at 2 MB too), a path over 2048 bytes (414), an unknown path
#   (404), a wrong method (405), a wrong token (401), a viewer's action (403);
# - 2000 clients that send half a request line and stop: a normal request is still served
#   meanwhile, and libh2o's request timeout (10 s) closes them all;
# - a flood of requests from 16 connections for 10 s: n1 and n2 never see each other
#   suspect or down (their daemon logs), and the counters of om daemon status name what
#   was refused.
set -u
ADDR_BASE=210
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-http.lib"
LOAD="python3 $OM_SRC/tests/integration/http_load.py"
H=$(addr 1)

write_conf 2 200ms 1s
http_conf 2 off
start_agent 1
start_agent 2
wait_api 1
wait_api 2
wait_state 1 n2 up 10 >/dev/null
wait_state 2 n1 up 10 >/dev/null
VIEW=$(on 1 token create --role viewer 2>/dev/null)

line=$($LOAD raw "$H" "$HTTP_PORT" "$(printf 'GARBAGE \x01\x02\r\n\r\n' | od -An -tx1 | tr -d ' \n')")
[[ $line == "HTTP/1.1 400"* ]] || fail "malformed request line answered '$line'"
out=$(req 1 GET /api/cluster "$VIEW" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)")
expect "20 KB of headers" 431 "$out"
# (Expect: 100-continue: curl waits for the answer to the head before sending the body,
# which libh2o refuses from its Content-Length and does not read: a body sent anyway
# could meet the connection's close halfway)
out=$(req 1 POST /api/daemon/rescan "$VIEW" -H 'Expect: 100-continue' --data-binary @<(head -c 100000 /dev/zero))
expect "a 100 KB body" 413 "$out"
expect "a 2 MB body" 413 "$(req 1 POST /api/daemon/rescan "$VIEW" --data-binary @<(head -c 2000000 /dev/zero))"
expect "a 3000-byte path" 414 "$(req 1 GET "/api/$(head -c 3000 /dev/zero | tr '\0' a)" "$VIEW")"
expect "an unknown path" 404 "$(req 1 GET /api/nothing "$VIEW")"
expect "a wrong method" 405 "$(req 1 DELETE /api/cluster "$VIEW")"
expect "a wrong token" 401 "$(req 1 GET /api/cluster "${VIEW%?????}00000")"
expect "a viewer's action" 403 "$(req 1 POST /api/daemon/reload "$VIEW")"
echo "ok: malformed, oversized, unknown, unauthenticated and forbidden requests get their status"

mark1=$(wc -l <"$T/n1/log/daemon.log")
mark2=$(wc -l <"$T/n2/log/daemon.log")
$LOAD slow "$H" "$HTTP_PORT" 2000 14 >"$T/slow" 2>&1 &
SLOW=$!
until_ok 30 "the 2000 slow clients did not connect: $(cat "$T/slow")" grep -q "opened 2000" "$T/slow"
conns=$(on 1 daemon status --format json | jq '.daemon.http.connections')
[ "$conns" -ge 2000 ] || fail "om daemon status counts $conns HTTP connections, not 2000 or more"
expect "a request among 2000 slow clients" 200 "$(req 1 GET /api/cluster "$VIEW")"
wait $SLOW
grep -q "closed by the server 2000" "$T/slow" || fail "the slow clients were not all closed: $(cat "$T/slow")"
echo "ok: 2000 slow clients held, a request served meanwhile, all closed by the request timeout"

out=$($LOAD flood "$H" "$HTTP_PORT" /api/cluster "$VIEW" 10 16)
read -r n bad rate <<<"$out"
[ "$n" -gt 0 ] && [ "$bad" = 0 ] || fail "flood: $out (requests, non-200, per second)"
tail -n +"$mark1" "$T/n1/log/daemon.log" | grep -E "node n2 .*=> (suspect|down)" && fail "n1 saw n2 go stale under the load"
tail -n +"$mark2" "$T/n2/log/daemon.log" | grep -E "node n1 .*=> (suspect|down)" && fail "n2 saw n1 go stale under the load"
[ "$(node_state 1 n2)" = up ] || fail "n2 is $(node_state 1 n2) on n1 after the flood"
drops=$(on 1 daemon status --format json | jq -c '.daemon.http.drops')
for k in head_too_large body_too_large path_too_long not_found bad_method bad_credentials forbidden; do
        [ "$(echo "$drops" | jq ".$k")" -ge 1 ] || fail "http.drops.$k not counted: $drops"
done
on 1 daemon status | grep -q "^http .*refused" || fail "om daemon status has no http line"
echo "ok: $n requests in 10 s ($rate/s) from 16 connections, no peer stale on either side, refusals counted"
