#!/bin/bash
# The OpenAPI description (docs/openapi.json) against the live server, on two agents
# running an HA service: every route the server has is documented and every documented
# path and method is served; each documented path is called (as viewer, operator and
# admin, without credentials and with too low a role) and every answer's status is
# documented for it and its body validates against the schema
# (tests/integration/openapi_check.py); the event stream for 2 s. The actions run with ?wait=true: the service
# stopped and started again through the API, as om <path> stop/start --wait would.
set -u
ADDR_BASE=180
. "$(dirname "$0")/test-agent.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
. "$(dirname "$0")/test-http.lib"
CHECK="python3 $OM_SRC/tests/integration/openapi_check.py"
SPEC=$OM_SRC/docs/openapi.json

out=$($CHECK routes "$SPEC" "$OM_SRC/agent/http.c") || fail "the routes and the description disagree: $out"
echo "ok: every route documented, every documented path served"

write_conf 2 200ms 1s
http_conf 2 off
svc_conf web "n1 n2" "orchestrate = ha"
for k in 1 2; do start_agent $k; done
wait_api 1
wait_api 2
wait_running web n1 15 >/dev/null
VIEW=$(on 1 token create --role viewer 2>/dev/null)
OPER=$(on 1 token create --role operator 2>/dev/null)
ADMIN=$(on 1 token create --role admin 2>/dev/null)
on 1 sec create root/sec/keys-test >/dev/null 2>&1 || true
on 1 root/sec/keys-test add --key k1 --value v1 >/dev/null 2>&1 || true

n=0
# call METHOD TEMPLATE PATH TOKEN [WANT]: calls node 1, validates the answer
call() {
        local m=$1 tpl=$2 path=$3 tok=$4 want=${5:-} st
        st=$(curl -s -m "${MAXTIME:-60}" -X "$m" ${tok:+-H "Authorization: Bearer $tok"} -o "$T/body" -w '%{http_code}' \
                "http://$(addr 1):$HTTP_PORT$path")
        [ -z "$want" ] || [ "$st" = "$want" ] || fail "$m $path: status $st, not $want: $(head -c 300 "$T/body")"
        out=$($CHECK validate "$SPEC" "$m" "$tpl" "$st" "$T/body") || fail "$m $path ($st): $out"
        n=$((n + 1))
}
O=/api/objects/root/svc/web
call GET / / "" 200
call GET /ui.js /ui.js "" 200
call GET /ui.css /ui.css "" 200
call GET /openapi.json /openapi.json "" 200
call GET /api/whoami /api/whoami "$VIEW" 200
call GET /metrics /metrics "$VIEW" 200
grep -q '^om_' "$T/body" || fail "/metrics has no om_ metric: $(head -c 300 "$T/body")"
call GET /metrics /metrics "" 401
MAXTIME=2 call GET /api/events /api/events "$VIEW" 200
grep -q '^event: hello' "$T/body" || fail "/api/events has no hello: $(head -c 300 "$T/body")"
call GET /api/events '/api/events?filter=nope' "$VIEW" 400
call GET /api/cluster /api/cluster "$VIEW" 200
call GET /api/cluster /api/cluster "" 401
# the viewer's token with its last character changed (to a different one: a token that
# already ends in 0 is still valid with a 0 there)
[ "${VIEW: -1}" = 0 ] && WRONG=${VIEW%?}1 || WRONG=${VIEW%?}0
call GET /api/cluster /api/cluster "$WRONG" 401
call GET /api/nodes /api/nodes "$VIEW" 200
call GET /api/nodes/{node} /api/nodes/n2 "$VIEW" 200
call GET /api/nodes/{node} /api/nodes/n9 "$VIEW" 404
call GET /api/objects /api/objects "$VIEW" 200
call GET "/api/objects/{namespace}/{kind}/{name}" $O "$VIEW" 200
call GET "/api/objects/{namespace}/{kind}/{name}" /api/objects/root/svc/nothing "$VIEW" 404
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" $O/stop "$VIEW" 403
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/stop?wait=true&timeout=30s" "$OPER" 200
wait_running web "" 5 >/dev/null
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/start?wait=true&timeout=30s" "$OPER" 200
wait_running web n1 5 >/dev/null
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/start" "$OPER" 202
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/start?bogus=1" "$OPER" 400
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/jump" "$OPER" 404
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/switch" "$OPER" 400
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" "$O/switch?to=n9" "$OPER" 409
call POST "/api/objects/{namespace}/{kind}/{name}/{action}" /api/objects/root/svc/nothing/start "$OPER" 404
call GET "/api/objects/{namespace}/{kind}/{name}/config" $O/config "$OPER" 403
call GET "/api/objects/{namespace}/{kind}/{name}/config" $O/config "$ADMIN" 200
call GET "/api/objects/{namespace}/{kind}/{name}/keys" /api/objects/system/sec/api-tokens/keys "$ADMIN" 200
call GET "/api/objects/{namespace}/{kind}/{name}/keys" $O/keys "$ADMIN" 404
call POST /api/nodes/{node}/freeze /api/nodes/n1/freeze "$OPER" 200
call POST /api/nodes/{node}/thaw /api/nodes/n1/thaw "$OPER" 200
call POST /api/nodes/{node}/freeze /api/nodes/n2/freeze "$OPER" 409
call POST /api/daemon/rescan /api/daemon/rescan "$OPER" 403
call POST /api/daemon/rescan /api/daemon/rescan "$ADMIN" 200
call POST /api/daemon/reload /api/daemon/reload "$ADMIN" 200
[ "$(running web)" = n1 ] || fail "the service runs on '$(running web)' after the calls, not n1"
echo "ok: $n answers, each status documented, each body valid against its schema"
