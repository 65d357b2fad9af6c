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
