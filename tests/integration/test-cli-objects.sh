#!/usr/bin/env bash
# The object commands without a daemon: create (--config=FILE, --config FILE, stdin),
# print config [--format json], validate config, delete, and their exit statuses
# (0 success, 1 action failed, 2 usage or input error). Refused paths and configs
# must leave the OM_ROOT tree exactly as it was.
set -euo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is needed to check JSON"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OM_ROOT=$tmp/root OM_NODENAME=demo1
mkdir -p "$OM_ROOT"
fails=0

# run STATUS CMD...: runs om, keeps stdout/stderr in $out/$err, checks the exit status
run() {
        local want=$1
        shift
        local rc=0
        "$OM_BIN" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
        out=$(cat "$tmp/out")
        err=$(cat "$tmp/err")
        if [ "$rc" != "$want" ]; then
                echo "FAIL: om $* exited $rc, want $want"
                echo "  stdout: $out"
                echo "  stderr: $err"
                fails=$((fails + 1))
                return 1
        fi
}
expect() { # expect WHAT PATTERN TEXT
        if ! grep -qE -- "$2" <<<"$3"; then
                echo "FAIL: $1: /$2/ not in:"
                sed 's/^/  | /' <<<"$3"
                fails=$((fails + 1))
        fi
}
snapshot() { (cd "$OM_ROOT" && find . -printf '%p %s %m\n' | sort | md5sum); }

cat >"$tmp/good.conf" <<'CONF'
[DEFAULT]
nodes = demo1 demo2

[disk#0]
type = loop
file = /opt/{fqdn}.img
size = 1G

[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = /srv/{name}
mnt@demo2 = /mnt/{name}
CONF

# --- refused object paths: exit 2, a message naming the problem, nothing written
before=$(snapshot)
check_path() { # PATH PATTERN
        run 2 "$1" create --config="$tmp/good.conf" || true
        expect "om $1 create" "$2" "$err"
        run 2 "$1" print config || true
        expect "om $1 print config" "$2" "$err"
}
check_path 'demo/svc/../x' "invalid object path 'demo/svc/\.\./x': '\.\.' is not allowed"
check_path '../x' "'\.\.' is not allowed"
check_path 'a/b/c/d' "more than three parts"
check_path 'Demo/svc/x' "namespace 'Demo' has upper case letters"
check_path 'demo/svc/Web' "name 'Web' has upper case letters"
check_path 'demo//x' "it has an empty part"
check_path '/x' "it has an empty part"
check_path 'demo/svc/' "it has an empty part"
check_path 'demo/vol/x' "unknown kind 'vol'"
check_path "demo/svc/$(printf 'a%.0s' {1..64})" "is longer than 63 characters"
check_path 'demo/svc/a.b' "has a character other than a-z, 0-9 and '-'"
[ "$(snapshot)" = "$before" ] || { echo "FAIL: a refused path changed $OM_ROOT"; fails=$((fails + 1)); }
[ -z "$(ls -A "$OM_ROOT")" ] || { echo "FAIL: files under OM_ROOT: $(find "$OM_ROOT")"; fails=$((fails + 1)); }

# --- create, the three ways of passing the config
run 0 demo/svc/web create --config="$tmp/good.conf" && expect "create output" '^create demo/svc/web$' "$out"
run 0 demo/svc/web2 create --config "$tmp/good.conf"
run 0 demo/svc/web3 create --config - <"$tmp/good.conf"
run 0 demo/svc/empty create
conf=$OM_ROOT/etc/namespaces/demo/svc/web.conf
[ -f "$conf" ] || { echo "FAIL: $conf not written"; fails=$((fails + 1)); }
expect "generated id" '^id = [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "$(cat "$conf")"
expect "version" '^version = [0-9]+\.[0-9]+$' "$(cat "$conf")"
expect "writer" '^writer = demo1$' "$(cat "$conf")"
[ "$(stat -c %a "$conf")" = 644 ] || { echo "FAIL: $conf mode $(stat -c %a "$conf")"; fails=$((fails + 1)); }
run 0 demo/sec/web create
[ "$(stat -c %a "$OM_ROOT/etc/namespaces/demo/sec/web.conf")" = 600 ] ||
        { echo "FAIL: sec config is not 0600"; fails=$((fails + 1)); }
run 0 root/svc/plain create
[ -f "$OM_ROOT/etc/namespaces/root/svc/plain.conf" ] || { echo "FAIL: root namespace"; fails=$((fails + 1)); }

# an existing object: action failed, file unchanged
sum=$(md5sum <"$conf")
run 1 demo/svc/web create --config="$tmp/good.conf" && expect "exists" "already exists" "$err"
[ "$(md5sum <"$conf")" = "$sum" ] || { echo "FAIL: create over an existing object changed it"; fails=$((fails + 1)); }

# --- usage errors of create
run 2 demo/svc/u1 create --config && expect "missing value" "option --config needs a value" "$err"
run 2 demo/svc/u2 create --config="$tmp/nosuch.conf" && expect "unreadable" "cannot read config" "$err"
run 2 demo/svc/u3 create --bogus && expect "unknown option" "unknown option '--bogus'" "$err"
run 2 demo/svc/u4 create extra && expect "extra argument" "unexpected argument 'extra'" "$err"
printf '[DEFAULT]\nid = 1\nid = 2\n' >"$tmp/dup.conf"
run 2 demo/svc/u5 create --config="$tmp/dup.conf" &&
        expect "parse error" "dup.conf:3: duplicate key 'id' in \[DEFAULT\] \(first at line 2\)" "$err"
printf '[om]\nversion = 1.0\n' >"$tmp/meta.conf"
run 2 demo/svc/u6 create --config="$tmp/meta.conf" && expect "reserved" "section \[om\] is reserved" "$err"
head -c 1048577 /dev/zero | tr '\0' '#' >"$tmp/big.conf"
run 2 demo/svc/u7 create --config="$tmp/big.conf" && expect "big" "larger than 1 MiB" "$err"
run 2 demo/svc/u8 create --config=- <"$tmp/big.conf" && expect "big stdin" "larger than 1 MiB" "$err"
printf '[DEFAULT]\ncomment = caf\xe9\n' >"$tmp/latin1.conf"
run 2 demo/svc/u9 create --config="$tmp/latin1.conf" && expect "utf8" "latin1.conf:2: bytes that are not UTF-8 text" "$err"
# accepted by the parser, but over 64 KiB once written as "key = value"
python3 -c 'print("[DEFAULT]\ncomment=" + "x" * (65536 - 8))' >"$tmp/long.conf"
run 2 demo/svc/u10 create --config="$tmp/long.conf" &&
        expect "long line" "once formatted, the config has a line over 64 KiB" "$err"
for n in 1 2 3 4 5 6 7 8 9 10; do
        [ ! -e "$OM_ROOT/etc/namespaces/demo/svc/u$n.conf" ] || { echo "FAIL: u$n written"; fails=$((fails + 1)); }
done

# --- an invalid config: the validator's report, exit 2, nothing written
cat >"$tmp/bad.conf" <<'CONF'
[DEFAULT]
topolgy = failover
priority = high

[disk#0]
type = loop
size = big

[disk#1]
type = zfs

[fs#0]
type = ext4
mnt = /srv/x
colour = blue
CONF
before=$(snapshot)
run 2 demo/svc/bad create --config="$tmp/bad.conf" || true
expect "bad: unknown keyword" "bad.conf:2: \[DEFAULT\] unknown keyword 'topolgy'" "$err"
expect "bad: bad int" "bad.conf:3: \[DEFAULT\] priority: value 'high' is not an integer" "$err"
expect "bad: bad size" "bad.conf:7: \[disk#0\] size: value 'big' is not a size" "$err"
expect "bad: missing file" "bad.conf:5: \[disk#0\] missing required keyword 'file'" "$err"
expect "bad: unknown type" "bad.conf:10: \[disk#1\] unknown disk type 'zfs'" "$err"
expect "bad: missing dev" "bad.conf:12: \[fs#0\] missing required keyword 'dev'" "$err"
expect "bad: colour" "bad.conf:15: \[fs#0\] unknown keyword 'colour'" "$err"
expect "bad: summary" "create demo/svc/bad: the config has 7 problems, nothing written" "$err"
[ "$(snapshot)" = "$before" ] || { echo "FAIL: a refused config changed $OM_ROOT"; fails=$((fails + 1)); }

# --- validate config: same report for a config that went bad on disk
run 0 demo/svc/web validate config && expect "valid" '^demo/svc/web: config is valid$' "$out"
badconf=$OM_ROOT/etc/namespaces/demo/svc/web2.conf
cp "$tmp/bad.conf" "$badconf"
run 2 demo/svc/web2 validate config || true
expect "validate report" "web2.conf:2: \[DEFAULT\] unknown keyword 'topolgy'" "$out"
expect "validate report" "web2.conf:15: \[fs#0\] unknown keyword 'colour'" "$out"
expect "validate count" '^7 problems$' "$out"
[ "$(grep -c '^/.*web2.conf:[0-9]*: \[' <<<"$out")" = 7 ] || { echo "FAIL: 7 report lines expected"; fails=$((fails + 1)); }
run 1 demo/svc/nosuch validate config && expect "validate absent" "object demo/svc/nosuch does not exist" "$err"
printf '[DEFAULT\n' >"$OM_ROOT/etc/namespaces/demo/svc/web3.conf"
run 2 demo/svc/web3 validate config && expect "unparsable" "web3.conf:1: unterminated section header" "$err"
run 2 demo/svc/web3 print config

# --- print config
run 0 demo/svc/web print config
expect "print raw" '^file = /opt/\{fqdn\}\.img$' "$out"
expect "print scoped" '^mnt@demo2 = /mnt/\{name\}$' "$out"
if grep -q '^\[om\]' <<<"$out"; then echo "FAIL: print config shows [om]"; fails=$((fails + 1)); fi
run 0 demo/svc/web print config --eval
expect "eval file" '^file = /opt/web\.demo\.svc\.default\.img$' "$out"
expect "eval mnt" '^mnt = /srv/web$' "$out"
expect "eval deferred" '^dev = \{disk#0\.exposed_devs\[0\]\}$' "$out"
expect "eval nodes" '^nodes = demo1 demo2$' "$out"
OM_NODENAME=demo2 run 0 demo/svc/web print config --eval
expect "eval on demo2" '^mnt = /mnt/web$' "$out"
if grep -q '@' <<<"$out"; then echo "FAIL: --eval kept a scoped key"; fails=$((fails + 1)); fi
for args in "" "--eval"; do
        run 0 demo/svc/web print config $args --format json
        python3 -m json.tool <<<"$out" >/dev/null || { echo "FAIL: print config $args --format json is not JSON: $out"; fails=$((fails + 1)); }
        python3 -c '
import json, sys
d = json.load(sys.stdin)
ev = sys.argv[1] == "--eval"
want = "/opt/web.demo.svc.default.img" if ev else "/opt/{fqdn}.img"
if d["disk#0"]["file"] != want or "om" in d:
    print("FAIL: json", d); sys.exit(1)
if not ev and d["fs#0"]["mnt@demo2"] != "/mnt/{name}":
    print("FAIL: json scoped key", d); sys.exit(1)
' "$args" <<<"$out" || fails=$((fails + 1))
done
run 2 demo/svc/web print config --format xml && expect "bad format" "unknown --format 'xml'" "$err"
run 1 demo/svc/nosuch print config && expect "print absent" "object demo/svc/nosuch does not exist" "$err"
# an unknown reference is refused at create
printf '[DEFAULT]\ncomment = {nosuch}\n' >"$tmp/refbad.conf"
run 2 demo/svc/refbad create --config="$tmp/refbad.conf" &&
        expect "unknown ref at create" "refbad.conf:2: \[DEFAULT\] comment: unknown reference \{nosuch\}" "$err"
# one written by hand: an expansion error fails the action
printf '[DEFAULT]\ncomment = x\n' | "$OM_BIN" demo/svc/refbad create --config=- >/dev/null
sed -i 's/^comment = x$/comment = {nosuch}/' "$OM_ROOT/etc/namespaces/demo/svc/refbad.conf"
run 1 demo/svc/refbad print config --eval && expect "unknown ref" "unknown reference \{nosuch\}" "$err"
run 0 demo/svc/refbad print config

# --- delete
run 0 demo/svc/web delete && expect "delete output" '^delete demo/svc/web$' "$out"
[ ! -e "$conf" ] || { echo "FAIL: delete left $conf"; fails=$((fails + 1)); }
[ ! -e "$OM_ROOT/var/namespaces/demo/svc/web" ] || { echo "FAIL: delete left the var dir"; fails=$((fails + 1)); }
run 1 demo/svc/web delete && expect "delete twice" "object demo/svc/web does not exist" "$err"
run 1 demo/svc/web print config
run 0 demo/svc/web create --config="$tmp/good.conf" # the name can be reused

# --- unknown actions and bare usage
run 2 demo/svc/web frobnicate && expect "unknown action" "unknown action 'frobnicate'" "$err"
run 2 && expect "no args" "Usage: om" "$err"
run 2 --bogus && expect "unknown global option" "unknown option '--bogus'" "$err"
# a command group's word with an unknown command: the group's commands are named
run 2 node frob && expect "unknown node command" "unknown command 'om node frob' \(om node commands: events, ls, freeze, thaw, drain\)" "$err"
run 2 cluster leave && expect "unknown cluster command" "unknown command 'om cluster leave' \(om cluster commands: join, rotate-secret\)" "$err"
# an object named like a group is still an object
run 1 node print config && expect "object named node" "object root/svc/node does not exist" "$err"

# --- the version, as the build declares it
run 0 --version && expect "--version" '^om [0-9]+\.[0-9]+\.[0-9]+$' "$out"
version=$(sed -n 's/^project(om VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../../CMakeLists.txt")
[ "$out" = "om $version" ] || { echo "FAIL: om --version says '$out', CMakeLists.txt $version"; fails=$((fails + 1)); }
run 2 --version x && expect "--version x" "--version takes no argument" "$err"
run 0 doc man om && expect "man page version" "^\.TH OM 1 \"\" \"om $version\"" "$out"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
