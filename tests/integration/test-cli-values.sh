#!/usr/bin/env bash
# Values that name nothing sensible are refused at create, set and validate, each
# refusal naming the section, the keyword, the line (create, validate) and the rule:
# node names, device-mapper names, absolute paths for file/dev/mnt, section indexes in
# range, sizes above 0, required keywords not empty. The reference scenario configs
# still validate. No daemon.
set -uo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }
SRC=${OM_SRC:-$(dirname "$0")/../..}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OM_ROOT=$tmp/root OM_NODENAME=n1
mkdir -p "$OM_ROOT"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# refused WANT-PATTERN om-args...: the command must fail with WANT-PATTERN in stderr
refused() {
        local want=$1 rc=0
        shift
        "$OM_BIN" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
        if [ "$rc" = 0 ]; then
                fail "om $* was accepted"
        elif ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$want"; then
                fail "om $*: '$want' not in: $(cat "$tmp/out" "$tmp/err")"
        else
                echo "ok: refused: om $* -> $(cat "$tmp/out" "$tmp/err" | head -n 3 | tr '\n' ' ')"
        fi
}
accepted() {
        "$OM_BIN" "$@" >"$tmp/out" 2>"$tmp/err" || fail "om $* refused: $(cat "$tmp/err")"
}

base() { # a valid svc config on stdout, then the extra lines given
        printf '[DEFAULT]\nnodes = n1\n[disk#0]\ntype = loop\nfile = /srv/x.img\nsize = 1G\n'
        printf '[disk#1]\ntype = crypt\ndev = {disk#0.exposed_devs[0]}\nname = x-crypt\n'
        printf '[fs#0]\ntype = ext4\ndev = {disk#1.exposed_devs[0]}\nmnt = /srv/x\n'
        printf '%s\n' "$@"
}
base >"$tmp/ok.conf"
accepted demo/svc/ok create --config "$tmp/ok.conf"
accepted demo/svc/ok validate config

# create: each bad value names file:line, section, keyword and rule
bad() { # bad NAME WANT SED: the base config edited by SED must be refused at create
        base | sed "$3" >"$tmp/$1.conf"
        refused "$2" demo/svc/$1 create --config "$tmp/$1.conf"
}
bad nodes ":2: [DEFAULT] nodes: node name 'bad/node' has a character other than a-z, 0-9 and '-' (the rule: node names" 's|^nodes = n1|nodes = bad/node ../x|'
bad dmname ":10: [disk#1] name: value '../../evil' starts with '.' (the rule: a device-mapper name" 's|^name = x-crypt|name = ../../evil|'
bad dmspace ":10: [disk#1] name: value 'has space' has the character ' ' (the rule: a device-mapper name" 's|^name = x-crypt|name = has space|'
bad file ":5: [disk#0] file: value '../../etc/x.img' is not an absolute path (the rule: an absolute path without '..')" 's|^file = .*|file = ../../etc/x.img|'
bad mnt ":14: [fs#0] mnt: value 'relative/path' is not an absolute path" 's|^mnt = .*|mnt = relative/path|'
bad size ":6: [disk#0] size: value '0' is 0 (the rule: a size above 0)" 's|^size = .*|size = 0|'
bad empty ":5: [disk#0] file: is required and may not be empty" 's|^file = .*|file =|'
bad idxneg ":3: [disk#-1] section index '-1' out of range (the rule: an integer from 0 to 9999" 's|^\[disk#0\]|[disk#-1]|'
bad idxbig ":3: [disk#99999999999999999999] section index '99999999999999999999' out of range" 's|^\[disk#0\]|[disk#99999999999999999999]|'

# set: the same rules, naming the section and keyword
refused "disk#0.file: is required and may not be empty" demo/svc/ok set --kw disk#0.file=
refused "disk#0.file: value 'rel/x.img' is not an absolute path" demo/svc/ok set --kw disk#0.file=rel/x.img
refused "disk#1.name: value 'a/b' has the character '/'" demo/svc/ok set --kw disk#1.name=a/b
refused "nodes: node name 'Bad' has upper case letters" demo/svc/ok set --kw "nodes=n1 Bad"
refused "disk#0.size: value '0' is 0" demo/svc/ok set --kw disk#0.size=0
refused "index '-1' out of range" demo/svc/ok set --kw disk#-1.file=/x
refused "index '99999999999999999999' out of range" demo/svc/ok set --kw disk#99999999999999999999.file=/x
accepted demo/svc/ok validate config

# validate: a file edited by hand
sed -i 's|^mnt = /srv/x|mnt = srv/x|' "$OM_ROOT/etc/namespaces/demo/svc/ok.conf"
refused "[fs#0] mnt: value 'srv/x' is not an absolute path" demo/svc/ok validate config
cat "$tmp/out" "$tmp/err" | grep -qE "ok.conf:[0-9]+: \[fs#0\] mnt:" || fail "validate does not name the line"

# the reference scenario configs still validate
accepted demo/svc/loopback create --config "$SRC/deploy/examples/loopback.conf"
accepted demo/svc/loopback validate config
echo "ok: deploy/examples/loopback.conf validates"
# and the demo's DRBD variant
accepted demo/svc/drbdcrypt create --config "$SRC/deploy/examples/loopback-drbd.conf"
accepted demo/svc/drbdcrypt validate config
echo "ok: deploy/examples/loopback-drbd.conf validates"

[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
echo "all value rules refused at create, set and validate"
