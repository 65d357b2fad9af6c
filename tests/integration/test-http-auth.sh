#!/bin/bash
# The HTTP API's authentication and roles, on a two-node cluster:
# - no credentials, a malformed one, a wrong secret, an expired and a revoked token: 401
#   with a JSON error naming which; a viewer reads and is refused an action (403), an
#   operator acts and is refused the admin routes, an admin reads a sec's keys;
# - a token made on n1 is accepted by n2 once the sec object replicated, and its revoke
#   reaches n2 the same way; the use of a token is in the daemon log, never its secret;
# - TLS (http_tls = cluster): each node's certificate verifies against `om http ca`
#   computed on the other node, for its address; http_tls = off on an address that is
#   not loopback is refused before the agent binds anything;
# - client certificates (om http cert create, made on either node): each gives its role
#   (viewer reads and cannot act, operator acts), over HTTP/1.1 and HTTP/2; a bearer token
#   takes precedence; a certificate of another CA, a self-signed one and an expired one
#   get a 401 that says why; no certificate and no token, 401;
# - om cluster rotate-secret keeps the CA (stored in system/sec/http-ca first): the
#   clients' ca.pem and certificates work with the running agents and after a restart;
#   a new CA key set in that object reaches the running agents (no restart), and the
#   certificates of the CA before are refused;
# - the local socket: a user of the om group (in a mount namespace where /etc/group has
#   one) reads `om daemon status` but is refused `om node freeze`; without the group
#   it is refused the connection.
set -u
ADDR_BASE=170
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-http.lib"

write_conf 2 200ms 1s
http_conf 2 off
start_agent 1
start_agent 2
wait_api 1
wait_api 2
wait_state 1 n2 up 10 >/dev/null

expect "no credentials" 401 "$(req 1 GET /api/cluster)"
req 1 GET /api/cluster | grep -q "authentication required" || fail "401 without credentials does not say what is missing"
expect "malformed token" 401 "$(req 1 GET /api/cluster 'om1_nothex')"
VIEW=$(on 1 token create --role viewer 2>/dev/null)
OPER=$(on 1 token create --role operator 2>/dev/null)
ADMIN=$(on 1 token create --role admin 2>/dev/null)
SHORT=$(on 1 token create --role admin --ttl 1s 2>/dev/null)
[[ $VIEW =~ ^om1_[0-9a-f]{16}_[0-9a-f]{64}$ ]] || fail "token create printed '$VIEW'"
expect "viewer reads" 200 "$(req 1 GET /api/cluster "$VIEW")"
[ "$(req 1 GET /api/whoami "$VIEW" | cut -d' ' -f2- | jq -r .role)" = viewer ] || fail "whoami is not viewer"
wrong="${VIEW:0:21}$(printf '0%.0s' $(seq 1 64))"
out=$(req 1 GET /api/cluster "$wrong")
expect "wrong secret" 401 "$out"
echo "$out" | grep -q "wrong secret" || fail "a wrong secret is not named: $out"
out=$(req 1 POST /api/objects/root/svc/web/start "$VIEW")
expect "viewer acts" 403 "$out"
echo "$out" | grep -q "needs the operator role" || fail "403 does not name the role: $out"
expect "operator on a missing object" 404 "$(req 1 POST /api/objects/root/svc/web/start "$OPER")"
expect "operator reads a config" 403 "$(req 1 GET /api/objects/system/sec/api-tokens/config "$OPER")"
out=$(req 1 GET /api/objects/system/sec/api-tokens/keys "$ADMIN")
expect "admin reads sec keys" 200 "$out"
[ "$(echo "${out#* }" | jq '.keys | length')" = 4 ] || fail "not the 4 tokens: $out"
sleep 1.2
out=$(req 1 GET /api/cluster "$SHORT")
expect "expired" 401 "$out"
echo "$out" | grep -q expired || fail "an expired token is not said expired: $out"
on 1 token ls | grep -q "expired" || fail "token ls does not show the expired token"
echo "ok: roles and bad credentials on n1"

# replication: the tokens reach n2
until_ok 15 "n2 does not accept n1's viewer token" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $VIEW' http://$(addr 2):$HTTP_PORT/api/nodes)\" = 200 ]"
on 1 token revoke "${VIEW:4:16}" >/dev/null || fail "revoke failed"
out=$(req 1 GET /api/cluster "$VIEW")
expect "revoked on n1" 401 "$out"
echo "$out" | grep -q "unknown or revoked" || fail "a revoked token is not said so: $out"
until_ok 15 "n2 still accepts the revoked token" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $VIEW' http://$(addr 2):$HTTP_PORT/api/nodes)\" = 401 ]"
on 1 token revoke "${VIEW:4:16}" >/dev/null 2>&1 && fail "revoking twice succeeded"
grep -q "token ${OPER:4:16} (operator) used" "$T/n1/log/daemon.log" || fail "the operator token's use is not logged"
grep -rq "${VIEW:21}" "$T"/n*/log "$T"/n*/etc "$T"/n*/var 2>/dev/null && fail "a token's secret is on disk"
echo "ok: tokens replicate to n2, revokes too; use logged, secret nowhere on disk"

# TLS with the cluster CA
for k in 1 2; do kill "${PIDS[$k]}"; wait "${PIDS[$k]}" 2>/dev/null; done
sed -i 's/^http_tls = off/http_tls = cluster/' "$T"/n*/etc/cluster.conf
start_agent 1
start_agent 2
wait_api 1
wait_api 2
on 2 http ca >"$T/ca.pem" || fail "om http ca failed"
openssl x509 -in "$T/ca.pem" -noout -subject | grep -q "om cluster default CA" || fail "not the CA: $(cat "$T/ca.pem")"
CURL_CA=$T/ca.pem
expect "https n1 with n2's CA" 200 "$(req 1 GET /api/nodes "$ADMIN")"
expect "https n2 with n2's CA" 200 "$(req 2 GET /api/nodes "$ADMIN")"
on 1 http ca | cmp -s - "$T/ca.pem" || {
        # the signature differs (ECDSA), the key and subject do not
        [ "$(on 1 http ca | openssl x509 -noout -pubkey)" = "$(openssl x509 -in "$T/ca.pem" -noout -pubkey)" ] || fail "n1 and n2 derive different CAs"
}
curl -s -o /dev/null "https://$(addr 1):$HTTP_PORT/api/nodes" 2>/dev/null && fail "https verified without the CA"
echo "ok: https on both nodes, certificates of the one cluster CA"

# client certificates of the cluster CA
cert() { echo --cert "$T/$1/cert.pem" --key "$T/$1/key.pem"; }
on 1 http cert create --role viewer --out "$T/cv" >"$T/cv.out" 2>&1 || fail "http cert create: $(cat "$T/cv.out")"
[ "$(stat -c %a "$T/cv/key.pem")" = 600 ] || fail "key.pem is mode $(stat -c %a "$T/cv/key.pem")"
openssl x509 -in "$T/cv/cert.pem" -noout -subject | grep -q "OU *= *viewer" || fail "the certificate has no role: $(openssl x509 -in "$T/cv/cert.pem" -noout -subject)"
cmp -s "$T/cv/ca.pem" "$T/ca.pem" || [ "$(openssl x509 -in "$T/cv/ca.pem" -noout -pubkey)" = "$(openssl x509 -in "$T/ca.pem" -noout -pubkey)" ] || fail "ca.pem is not the cluster CA"
on 2 http cert create --role operator --name "ops robot" --out "$T/co" >/dev/null 2>&1 || fail "http cert create on n2"
out=$(on 1 http cert create --role viewer --out "$T/cv" 2>&1) && fail "http cert create replaced existing files"
echo "$out" | grep -q "cert.pem exists" || fail "refusing to overwrite does not say why: $out"
on 1 http cert create --role boss --out "$T/cb" >/dev/null 2>&1; [ $? = 2 ] || fail "--role boss is not a usage error"
on 1 http cert create --role viewer >/dev/null 2>&1; [ $? = 2 ] || fail "no --out is not a usage error"
[ -e "$T/cb" ] && fail "a refused http cert create made its directory"
out=$(req 1 GET /api/whoami '' $(cert cv))
expect "viewer certificate" 200 "$out"
[ "$(echo "${out#* }" | jq -r '.role + "/" + .credentials')" = "viewer/certificate om viewer" ] || fail "whoami with the viewer certificate: $out"
out=$(req 1 POST /api/objects/root/svc/web/start '' $(cert cv))
expect "viewer certificate acts" 403 "$out"
echo "$out" | grep -q "certificate om viewer is viewer" || fail "403 does not name the certificate: $out"
expect "operator certificate made on n2, acting on n1" 404 "$(req 1 POST /api/objects/root/svc/web/start '' $(cert co))"
expect "operator certificate reads a config" 403 "$(req 2 GET /api/objects/system/sec/api-tokens/config '' $(cert co))"
if curl -V | grep -qw HTTP2; then
        out=$(req 2 GET /api/whoami '' --http2 $(cert co))
        [ "$(echo "${out#* }" | jq -r .credentials)" = "certificate ops robot" ] || fail "whoami over HTTP/2 with the operator certificate: $out"
fi
[ "$(req 1 GET /api/whoami "$OPER" $(cert cv) | cut -d' ' -f2- | jq -r .role)" = operator ] || fail "a bearer token does not take precedence over the connection's certificate"
# while a connection with the viewer certificate is open (an event stream), another
# without one is still refused: a certificate belongs to its own connection only
curl -s -N -m 30 --cacert "$T/ca.pem" $(cert cv) "https://$(addr 1):$HTTP_PORT/api/events" >"$T/stream.out" 2>&1 &
SPID=$!
until_ok 10 "the event stream with the viewer certificate did not open" grep -q "event: hello" "$T/stream.out"
out=$(req 1 GET /api/cluster)
expect "https without credentials" 401 "$out"
echo "$out" | grep -q "om http cert create" || fail "the 401 does not name client certificates: $out"
kill $SPID 2>/dev/null
wait $SPID 2>/dev/null
# a certificate of another CA, with an admin role
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca2.key" -out "$T/ca2.pem" -subj "/CN=other CA" -days 2 2>/dev/null || fail "openssl: another CA"
mkdir -p "$T/cz"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/cz/key.pem" -out "$T/cz.csr" -subj "/CN=intruder/OU=admin" 2>/dev/null || fail "openssl: csr"
printf 'extendedKeyUsage = clientAuth\n' >"$T/cz.ext"
openssl x509 -req -in "$T/cz.csr" -CA "$T/ca2.pem" -CAkey "$T/ca2.key" -CAcreateserial -days 1 -extfile "$T/cz.ext" -out "$T/cz/cert.pem" 2>/dev/null || fail "openssl: sign"
out=$(req 1 GET /api/whoami '' $(cert cz))
expect "certificate of another CA" 401 "$out"
echo "$out" | grep -q "client certificate 'intruder' refused: unable to get local issuer certificate" || fail "the other CA's certificate refusal: $out"
# the same, self-signed
mkdir -p "$T/cs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/cs/key.pem" -out "$T/cs/cert.pem" -subj "/CN=selfish/OU=admin" -days 2 2>/dev/null || fail "openssl: self-signed"
expect "self-signed certificate" 401 "$(req 1 GET /api/whoami '' $(cert cs))"
# expired
on 1 http cert create --role admin --ttl 1s --out "$T/cx" >/dev/null 2>&1 || fail "http cert create --ttl 1s"
sleep 1.2
out=$(req 1 GET /api/whoami '' $(cert cx))
expect "expired certificate" 401 "$out"
echo "$out" | grep -q "certificate has expired" || fail "an expired certificate is not said expired: $out"
grep -q "client certificate 'om viewer' (viewer) used" "$T/n1/log/daemon.log" || fail "the use of a certificate is not logged"
echo "ok: client certificates of the cluster CA give their role; another CA's, a self-signed and an expired one are refused"

# a rotation of the cluster secret keeps the CA: ca.pem and the certificates it signed
# go on working, on the running agents and after a restart
out=$(on 1 cluster rotate-secret 2>&1) || fail "rotate-secret: $out"
echo "$out" | grep -q "generation 2 alone in use on n1 n2" || fail "rotate-secret: $out"
expect "viewer certificate after the rotation" 200 "$(req 2 GET /api/whoami '' $(cert cv))"
# (the stops with a TLS event stream open on n1: each agent exits 0, no leak under ASan)
curl -s -N -m 30 --cacert "$T/ca.pem" $(cert cv) "https://$(addr 1):$HTTP_PORT/api/events" >"$T/stream2.out" 2>&1 &
SPID=$!
until_ok 10 "the event stream before the restart did not open" grep -q "event: hello" "$T/stream2.out"
for k in 1 2; do
        kill "${PIDS[$k]}"
        wait "${PIDS[$k]}" || fail "n$k exited $? at its stop: $(grep -m3 -E 'Sanitizer|ERROR|Assert' "$T/n$k.out")"
done
wait $SPID || fail "the TLS event stream did not end cleanly at the stop (curl exit $?)"
start_agent 1
start_agent 2
wait_api 1
wait_api 2
for k in 1 2; do
        expect "n$k's certificate and the viewer certificate after the rotation and a restart" 200 "$(req $k GET /api/whoami '' $(cert cv))"
        [ "$(on $k http ca | openssl x509 -noout -pubkey)" = "$(openssl x509 -in "$T/ca.pem" -noout -pubkey)" ] || fail "om http ca on n$k changed with the rotation"
done
OM_ROOT=$T/n2 OM_NODENAME=n2 $OM_BIN system/sec/http-ca keys 2>/dev/null | grep -qx key || fail "n2 has no system/sec/http-ca"
echo "ok: the CA outlives a rotation of the cluster secret"

# a new CA key (after a leak), set by hand: the running agents follow it without a restart
openssl rand -hex 32 >"$T/newca.key"
on 1 system/sec/http-ca change --key key --from "$T/newca.key" >/dev/null || fail "changing the CA key"
on 1 http ca >"$T/newca.pem" || fail "om http ca"
[ "$(openssl x509 -in "$T/newca.pem" -noout -pubkey)" = "$(openssl x509 -in "$T/ca.pem" -noout -pubkey)" ] && fail "om http ca did not follow the new key"
until_ok 15 "n2 does not serve a certificate of the new CA" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert $T/newca.pem -H 'Authorization: Bearer $ADMIN' https://$(addr 2):$HTTP_PORT/api/nodes)\" = 200 ]"
expect "n1 with the new CA" 200 "$(CURL_CA=$T/newca.pem req 1 GET /api/nodes "$ADMIN")"
out=$(CURL_CA=$T/newca.pem req 1 GET /api/whoami '' $(cert cv))
expect "a certificate of the CA before" 401 "$out"
curl -s -o /dev/null --cacert "$T/ca.pem" "https://$(addr 1):$HTTP_PORT/api/nodes" && fail "n1 still verifies with the CA before"
grep -q "the cluster CA changed" "$T/n2/log/daemon.log" || fail "n2 did not log the change of CA"
cp "$T/newca.pem" "$T/ca.pem"
echo "ok: a new CA key reaches the running agents; certificates of the CA before are refused"

# http_tls = off away from loopback is refused
mkdir -p "$T/bad/etc"
printf '[cluster]\nsecret = %s\n[api]\nhttp_addr = 192.0.2.1\nhttp_tls = off\n' "$SECRET" >"$T/bad/etc/cluster.conf"
out=$(OM_ROOT=$T/bad OM_NODENAME=bad timeout 10 "$OM_BIN" daemon run 2>&1) && fail "the agent started with http_tls = off on 192.0.2.1"
echo "$out" | grep -q "http_tls = off is refused on 192.0.2.1" || fail "the refusal does not say why: $out"
echo "ok: plain HTTP refused away from loopback"

# the om group on the local socket (a private /etc/group in a mount namespace)
command -v unshare >/dev/null && command -v setpriv >/dev/null || { echo "skip: unshare and setpriv are needed for the om group check"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "ok (om group check skipped: not root)"; exit 0; }
for k in 1 2; do kill "${PIDS[$k]}"; wait "${PIDS[$k]}" 2>/dev/null; done
cp /etc/group "$T/group"
echo "om:x:64999:" >>"$T/group"
chmod 755 "$T" "$T/n1"
cat >"$T/group.sh" <<EOS
set -u
mount --bind "$T/group" /etc/group
OM_ROOT=$T/n1 OM_NODENAME=n1 "$OM_BIN" daemon run >>"$T/n1.group.out" 2>&1 &
pid=\$!
for i in \$(seq 1 100); do OM_ROOT=$T/n1 OM_NODENAME=n1 "$OM_BIN" daemon status >/dev/null 2>&1 && break; sleep 0.05; done
as() { setpriv --reuid=65534 --regid=65534 "\$@" env OM_ROOT=$T/n1 OM_NODENAME=n1 "$OM_BIN"; }
r=0
[ "\$(stat -c %G:%a "$T/n1/run/api.sock")" = om:660 ] || { echo "FAIL: the socket is \$(stat -c %G:%a "$T/n1/run/api.sock")"; r=1; }
setpriv --reuid=65534 --regid=65534 --groups=64999 env OM_ROOT=$T/n1 OM_NODENAME=n1 "$OM_BIN" daemon status >/dev/null 2>"$T/g1" || { echo "FAIL: the om group cannot read: \$(cat "$T/g1")"; r=1; }
setpriv --reuid=65534 --regid=65534 --groups=64999 env OM_ROOT=$T/n1 OM_NODENAME=n1 "$OM_BIN" node freeze >/dev/null 2>"$T/g2" && { echo "FAIL: the om group froze the node"; r=1; }
grep -q "may only read" "$T/g2" || { echo "FAIL: the refusal: \$(cat "$T/g2")"; r=1; }
setpriv --reuid=65534 --regid=65534 --clear-groups env OM_ROOT=$T/n1 OM_NODENAME=n1 "$OM_BIN" daemon status >/dev/null 2>&1 && { echo "FAIL: a user outside the om group read"; r=1; }
kill \$pid; wait \$pid
exit \$r
EOS
unshare --mount --propagation private bash "$T/group.sh" || fail "om group access (above)"
echo "ok: the om group reads through the local socket, and only reads"
