#!/bin/bash
# References are checked where a config is written or validated: `create`, `set` and
# `validate config` report every reference that names no keyword, no section or no
# resource (each with its file, line, section and keyword), nothing is written; a
# device reference to a resource that exists is left for action time.
set -u
OM=${OM_BIN:?}
T=$(mktemp -d /tmp/om-cli-refs.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OM_ROOT=$T/root OM_NODENAME=n1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat >"$T/bad.conf" <<'CONF'
[disk#0]
type = loop
file = /tmp/{name}.img
size = 10M

[fs#0]
type = ext4
dev = {disk#9.exposed_devs[0]}
mnt = {nosuchref}

[fs#1]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = /srv/{fs#0.mnt_opt}
CONF
out=$($OM demo/svc/r create --config="$T/bad.conf" 2>&1); rc=$?
[ $rc = 2 ] || fail "create with bad references: exit $rc"
want="$T/bad.conf:8: [fs#0] dev: reference {disk#9.exposed_devs[0]}: no resource disk#9
$T/bad.conf:9: [fs#0] mnt: unknown reference {nosuchref}
$T/bad.conf:14: [fs#1] mnt: reference {fs#0.mnt_opt}: fs#0.mnt_opt is not set
om: create demo/svc/r: the config has 3 problems, nothing written"
[ "$out" = "$want" ] || fail "create said: $out"
[ -e "$OM_ROOT/etc/namespaces/demo/svc/r.conf" ] && fail "create wrote the object"

# the same config without the bad references: a device reference to disk#0, which
# exists but is not up, is fine
sed -i 's/^dev = {disk#9/dev = {disk#0/; s/^mnt = {nosuchref}/mnt = \/srv\/{name}0/; s/{fs#0.mnt_opt}/{fs#0.mnt}1/' "$T/bad.conf"
out=$($OM demo/svc/r create --config="$T/bad.conf" 2>&1) || fail "create of a good config: $out"
out=$($OM demo/svc/r validate config 2>&1) || fail "validate of a good config: $out"

out=$($OM demo/svc/r set --kw 'fs#1.mnt=/srv/{nope}' 2>&1); rc=$?
[ $rc != 0 ] || fail "set accepted an unknown reference"
grep -qF "[fs#1] mnt: unknown reference {nope}" <<<"$out" || fail "set said: $out"
$OM demo/svc/r print config | grep -qx 'mnt = /srv/{fs#0.mnt}1' || fail "the refused set changed the file"

# a change by hand is caught by validate config
conf=$OM_ROOT/etc/namespaces/demo/svc/r.conf
sed -i 's|^mnt = /srv/{name}0$|mnt = {fs#1.mnt}|; s|^mnt = /srv/{fs#0.mnt}1$|mnt = {fs#0.mnt}|' "$conf"
out=$($OM demo/svc/r validate config 2>&1); rc=$?
[ $rc = 2 ] || fail "validate of a reference loop: exit $rc"
grep -q "\[fs#0\] mnt: .*loop" <<<"$out" || fail "validate said of the loop: $out"

[ $fails = 0 ] && echo "ok" || exit 1
