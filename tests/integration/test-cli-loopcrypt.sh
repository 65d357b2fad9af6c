#!/usr/bin/env bash
# The reference service template (reference/opensvc-disk-encryption.txt, loopback.conf)
# created as demo/svc/loopcrypt on node demo1 without a cluster.conf: its references
# evaluate to the reference's file, crypt name and mount point, in text and JSON.
set -euo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is needed to check JSON"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OM_ROOT=$tmp/root OM_NODENAME=demo1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# the template exactly as the reference writes it
cp "$(dirname "$0")/../../deploy/examples/loopback.conf" "$tmp/loopback.conf"
# (deploy/examples/loopback.conf is that template: checked against the reference text
# when OM_REFERENCE names a copy of it, the guide whose heredoc `cat > /tmp/loopback.conf`
# the example reproduces)
ref=${OM_REFERENCE:-}
if [ -n "$ref" ] && [ -f "$ref" ]; then
        sed -n '/^# cat > \/tmp\/loopback.conf <<-EOF$/,/^EOF$/p' "$ref" | sed '1d;$d' >"$tmp/ref.conf"
        cmp -s "$tmp/ref.conf" "$tmp/loopback.conf" || fail "deploy/examples/loopback.conf differs from the reference"
fi

out=$("$OM_BIN" demo/svc/loopcrypt create --config="$tmp/loopback.conf")
[ "$out" = "create demo/svc/loopcrypt" ] || fail "create printed '$out'"
[ ! -e "$OM_ROOT/etc/cluster.conf" ] || fail "create wrote a cluster.conf"
"$OM_BIN" demo/svc/loopcrypt validate config >/dev/null || fail "the reference config is not valid"

out=$("$OM_BIN" demo/svc/loopcrypt print config --eval)
for line in 'file = /opt/loopcrypt.demo.svc.default.img' \
        'name = loopcrypt.demo.svc.default-crypt' \
        'mnt = /srv/loopcrypt' \
        'id = e60306f6-e429-4a02-bd8f-a537a918a217' \
        'size = 1G' \
        'dev = {disk#0.exposed_devs[0]}' \
        'dev = {disk#1.exposed_devs[0]}'; do
        grep -qxF -- "$line" <<<"$out" || fail "print config --eval lacks '$line'"
done
if grep -q '{fqdn}\|{svcname}\|^\[om\]' <<<"$out"; then fail "unexpanded or meta: $out"; fi

json=$("$OM_BIN" demo/svc/loopcrypt print config --eval --format json)
python3 -m json.tool <<<"$json" >/dev/null || fail "not JSON: $json"
python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["disk#0"]["file"] == "/opt/loopcrypt.demo.svc.default.img", d
assert d["disk#1"]["name"] == "loopcrypt.demo.svc.default-crypt", d
assert d["disk#1"]["dev"] == "{disk#0.exposed_devs[0]}", d
assert d["fs#0"]["mnt"] == "/srv/loopcrypt", d
assert list(d) == ["DEFAULT", "disk#0", "disk#1", "fs#0"], list(d)
' <<<"$json" || fail "JSON values"

# the cluster's name comes from cluster.conf when there is one
mkdir -p "$OM_ROOT/etc"
printf '[cluster]\nname = prod\n' >"$OM_ROOT/etc/cluster.conf"
out=$("$OM_BIN" demo/svc/loopcrypt print config --eval)
grep -qxF 'file = /opt/loopcrypt.demo.svc.prod.img' <<<"$out" || fail "clustername from cluster.conf: $out"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
