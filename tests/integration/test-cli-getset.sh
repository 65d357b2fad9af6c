#!/usr/bin/env bash
# om <path> get|set|unset --kw, without a daemon: raw and --eval values, defaults, scoped
# keywords, unknown keywords and sections; set of one and several keywords, creating a
# section, all or nothing (a refused change leaves the file byte-identical), unset, the
# reserved [om] section and the sealed [data] of sec objects, the version bump, 20
# concurrent set calls that must all land, the file's comments and blank lines kept,
# and the usage
# errors.
set -euo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OM_ROOT=$tmp/root OM_NODENAME=demo1
mkdir -p "$OM_ROOT"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run STATUS CMD...: runs om, keeps stdout/stderr in $out/$err, checks the exit status
run() {
        local want=$1
        shift
        local rc=0
        "$OM_BIN" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
        out=$(cat "$tmp/out")
        err=$(cat "$tmp/err")
        if [ "$rc" != "$want" ]; then
                fail "om $* exited $rc, want $want"
                echo "  stdout: $out"
                echo "  stderr: $err"
                return 1
        fi
}
expect() { # expect WHAT PATTERN TEXT
        grep -qE -- "$2" <<<"$3" || { fail "$1: /$2/ not in:"; sed 's/^/  | /' <<<"$3"; }
}
is() { # is WHAT WANT GOT
        [ "$2" = "$3" ] || fail "$1: want '$2', got '$3'"
}
version() { sed -n 's/^version = //p' "$1"; }
newer() { # newer A B: HLC version B is greater than A ("<ms>.<counter>")
        [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" = "$2" ]
}

cat >"$tmp/x.conf" <<'CONF'
[DEFAULT]
nodes = demo1 demo2

[disk#1]
type = loop
file = /opt/{fqdn}.img
size = 1G

[disk#2]
type = crypt
dev = {disk#1.exposed_devs[0]}

[fs#0]
type = ext4
dev = {disk#2.exposed_devs[0]}
mnt = /srv/{name}
mnt@demo2 = /mnt/{name}
CONF
"$OM_BIN" demo/svc/x create --config="$tmp/x.conf" >/dev/null
conf=$OM_ROOT/etc/namespaces/demo/svc/x.conf

# --- get: as written, expanded, defaults, scopes
run 0 demo/svc/x get --kw disk#1.file && is "get raw" '/opt/{fqdn}.img' "$out"
run 0 demo/svc/x get --kw disk#1.file --eval && is "get --eval" /opt/x.demo.svc.default.img "$out"
run 0 demo/svc/x get --kw nodes && is "get DEFAULT keyword" "demo1 demo2" "$out"
run 0 demo/svc/x get --kw DEFAULT.nodes && is "get DEFAULT.keyword" "demo1 demo2" "$out"
run 0 demo/svc/x get --kw fs#0.mnt && is "get unscoped" '/srv/{name}' "$out"
run 0 demo/svc/x get --kw fs#0.mnt@demo2 && is "get scoped" '/mnt/{name}' "$out"
run 0 demo/svc/x get --kw fs#0.mnt@demo2 --eval && is "get scoped --eval" /mnt/x "$out"
run 0 demo/svc/x get --kw fs#0.mnt@demo3 && is "get scope falls back" '/srv/{name}' "$out"
OM_NODENAME=demo2 run 0 demo/svc/x get --kw fs#0.mnt --eval && is "--eval on demo2" /mnt/x "$out"
run 0 demo/svc/x get --kw fs#0.dev --eval && is "deferred ref kept" '{disk#2.exposed_devs[0]}' "$out"
# a keyword absent from the file: its default, expanded by --eval
run 0 demo/svc/x get --kw disk#2.name && is "default raw" '{fqdn}-crypt' "$out"
run 0 demo/svc/x get --kw disk#2.name --eval && is "default --eval" x.demo.svc.default-crypt "$out"
run 0 demo/svc/x get --kw topology && is "DEFAULT default" failover "$out"
run 0 demo/svc/x get --kw fs#0.optional && is "resource default" false "$out"
# absent without a default
run 1 demo/svc/x get --kw comment &&
        expect "no default" "demo/svc/x: keyword comment is not set and has no default" "$err"
run 1 demo/svc/x get --kw fs#0.mnt_opt --eval &&
        expect "no default --eval" "keyword fs#0.mnt_opt is not set and has no default" "$err"
# unknown keywords and sections
run 2 demo/svc/x get --kw colour && expect "unknown DEFAULT kw" "unknown keyword 'colour' in \[DEFAULT\]" "$err"
run 2 demo/svc/x get --kw disk#1.dev &&
        expect "kw of another type" "unknown keyword 'dev' in \[disk#1\] \(a disk of type loop\)" "$err"
run 2 demo/svc/x get --kw fs#0.size && expect "unknown fs kw" "unknown keyword 'size' in \[fs#0\]" "$err"
run 2 demo/svc/x get --kw vol#1.size && expect "unknown group" "\[vol#1\] is not a section of a svc object" "$err"
run 1 demo/svc/x get --kw disk#9.size && expect "absent section" "demo/svc/x has no section \[disk#9\]" "$err"
run 1 demo/svc/nosuch get --kw nodes && expect "absent object" "object demo/svc/nosuch does not exist" "$err"
run 2 demo/svc/x get --kw om.version && expect "get [om]" "section \[om\] is reserved" "$err"

# --- set: one keyword; order of sections and keywords kept; version bumped
grep -v '^\(version\|writer\) = ' "$conf" >"$tmp/before.txt"
v0=$(version "$conf")
run 0 demo/svc/x set --kw disk#1.size=2G
run 0 demo/svc/x get --kw disk#1.size && is "set one" 2G "$out"
v1=$(version "$conf")
newer "$v0" "$v1" || fail "version not bumped by set: $v0 -> $v1"
expect "writer" '^writer = demo1$' "$(cat "$conf")"
grep -v '^\(version\|writer\) = ' "$conf" >"$tmp/after.txt"
is "only the changed line differs" "$(sed 's/^size = 1G$/size = 2G/' "$tmp/before.txt")" "$(cat "$tmp/after.txt")"
[ "$(tail -3 "$conf" | head -1)" = "[om]" ] || fail "[om] is not the last section: $(cat "$conf")"
expect "object log" "o:demo/svc/x .*\| set disk#1\.size$" "$("$OM_BIN" demo/svc/x logs)"

# several at once, a new section, a scoped keyword
run 0 demo/svc/x set --kw comment=hello --kw fs#0.mnt_opt=noatime --kw app#1.start=/bin/true \
        --kw disk#1.file@demo2=/data/x.img
run 0 demo/svc/x get --kw comment && is "set several: comment" hello "$out"
run 0 demo/svc/x get --kw fs#0.mnt_opt && is "set several: mnt_opt" noatime "$out"
run 0 demo/svc/x get --kw app#1.start && is "set new section" /bin/true "$out"
run 0 demo/svc/x get --kw disk#1.file@demo2 && is "set scoped" /data/x.img "$out"
run 0 demo/svc/x get --kw disk#1.file && is "scoped set leaves unscoped" '/opt/{fqdn}.img' "$out"
is "section order" "DEFAULT disk#1 disk#2 fs#0 app#1 om" "$(sed -n 's/^\[\(.*\)\]$/\1/p' "$conf" | xargs)"
# a new resource section with its required keywords, all in one call
run 0 demo/svc/x set --kw fs#2.type=ext4 --kw fs#2.dev=/dev/vdb --kw fs#2.mnt=/srv/two
run 0 demo/svc/x get --kw fs#2.mnt && is "new fs section" /srv/two "$out"
# a value with '=' in it, and one naming a reference
run 0 demo/svc/x set --kw fs#2.mnt_opt=data=ordered --kw 'comment=in {namespace}'
run 0 demo/svc/x get --kw fs#2.mnt_opt && is "value with =" data=ordered "$out"
run 0 demo/svc/x get --kw comment --eval && is "set then --eval" "in demo" "$out"
run 0 demo/svc/x validate config
# setting what is already there writes nothing
v=$(version "$conf")
run 0 demo/svc/x set --kw disk#1.size=2G
is "no-op set keeps the version" "$v" "$(version "$conf")"

# --- refused changes: report, non-zero, file byte-identical
cp "$conf" "$tmp/saved.conf"
refused() { # refused STATUS PATTERN ARGS...: om demo/svc/x ARGS fails and changes nothing
        local want=$1 pat=$2
        shift 2
        run "$want" demo/svc/x "$@" && expect "om $*" "$pat" "$err"
        cmp -s "$conf" "$tmp/saved.conf" || { fail "om $* changed the file"; cp "$tmp/saved.conf" "$conf"; }
}
refused 2 "disk#1\.size: value 'banana' is not a size .*nothing written" set --kw disk#1.size=banana
refused 2 "unknown keyword 'colour' in \[fs#0\]" set --kw comment=changed --kw fs#0.colour=blue
refused 2 "DEFAULT.priority: value 'high' is not an integer" set --kw comment=ok --kw priority=high
refused 2 "unknown keyword 'topolgy'" set --kw topolgy=flex
refused 2 "value 'active' is not one of failover\|flex" set --kw topology=active
# a new section the validator finds incomplete: its report names the lines
refused 2 "\(changed\):[0-9]+: \[fs#3\] missing required keyword 'dev'" set --kw fs#3.type=ext4
expect "report summary" "the changed config has 2 problems, nothing written" "$err"
# a type change that leaves keywords of the old type
refused 2 "\[disk#1\] unknown keyword 'file'" set --kw disk#1.type=crypt
refused 2 "\[disk#7\] has no type" set --kw disk#7.size=1G
refused 2 "unknown disk type 'zfs'" set --kw disk#7.type=zfs --kw disk#7.size=1G
refused 2 "keyword 'nodes' cannot be scoped" set --kw nodes@demo2=demo2
refused 2 "would not read back as given" set --kw 'comment=a #b'
refused 2 "would not read back as given" set --kw 'comment=trailing '
refused 2 "section \[om\] is reserved for om" set --kw om.version=1.0
refused 2 "section \[om\] is reserved for om" unset --kw om.writer
refused 2 "is not a section of a svc object" set --kw data.k=v
refused 2 "unknown keyword 'nosuch' in \[fs#0\]" unset --kw fs#0.nosuch

# --- unset
run 0 demo/svc/x unset --kw comment --kw fs#0.mnt_opt --kw disk#1.file@demo2
run 1 demo/svc/x get --kw comment && expect "unset comment" "is not set" "$err"
run 1 demo/svc/x get --kw fs#0.mnt_opt
run 0 demo/svc/x get --kw disk#1.file@demo2 && is "unset scoped" '/opt/{fqdn}.img' "$out"
run 0 demo/svc/x get --kw fs#0.mnt@demo2 && is "unset keeps other scopes" '/mnt/{name}' "$out"
# a section left empty goes with its last keyword
run 0 demo/svc/x unset --kw app#1.start
grep -q '^\[app#1\]' "$conf" && fail "unset left an empty [app#1]"
# unsetting what is not set is no change
v=$(version "$conf")
run 0 demo/svc/x unset --kw comment
is "no-op unset keeps the version" "$v" "$(version "$conf")"
# a required keyword cannot go
cp "$conf" "$tmp/saved.conf"
refused 2 "missing required keyword 'mnt'" unset --kw fs#2.mnt
# a keyword the tables do not know, written by hand, can be removed
sed -i 's/^\[fs#2\]$/[fs#2]\ncolour = blue/' "$conf"
run 2 demo/svc/x set --kw comment=x && expect "stray keyword blocks set" "unknown keyword 'colour'" "$err"
run 0 demo/svc/x unset --kw fs#2.colour
run 0 demo/svc/x validate config

# --- sec objects: [data] is sealed
"$OM_BIN" demo/sec/s create >/dev/null
seconf=$OM_ROOT/etc/namespaces/demo/sec/s.conf
cp "$seconf" "$tmp/sec.saved"
run 2 demo/sec/s set --kw data.pass=hunter2 &&
        expect "sec set data" "\[data\] holds sealed values: store one with om demo/sec/s add --key pass" "$err"
run 2 demo/sec/s unset --kw data.pass && expect "sec unset data" "om demo/sec/s remove --key pass" "$err"
run 2 demo/sec/s get --kw data.pass && expect "sec get data" "om demo/sec/s decode --key pass" "$err"
cmp -s "$seconf" "$tmp/sec.saved" || fail "a refused change of [data] changed $seconf"
grep -q hunter2 "$seconf" && fail "the plaintext reached $seconf"
run 0 demo/sec/s set --kw comment=keys && run 0 demo/sec/s get --kw comment && is "sec DEFAULT" keys "$out"
[ "$(stat -c %a "$seconf")" = 600 ] || fail "sec config mode $(stat -c %a "$seconf") after set"

# --- usage errors
run 2 demo/svc/x get && expect "get without --kw" "get needs --kw <section>.<keyword>" "$err"
run 2 demo/svc/x set && expect "set without --kw" "set needs --kw <section>.<keyword>=<value>" "$err"
run 2 demo/svc/x unset && expect "unset without --kw" "unset needs --kw" "$err"
run 2 demo/svc/x set --kw && expect "--kw without value" "option --kw needs a value" "$err"
run 2 demo/svc/x set --kw disk#1.size && expect "set without =" "set --kw 'disk#1.size': expected <section>.<keyword>=<value>" "$err"
run 2 demo/svc/x set --kw =1G && expect "set without keyword" "no keyword before '='" "$err"
run 2 demo/svc/x set --kw .size=1G && expect "set empty section" "'.size': empty section name" "$err"
run 2 demo/svc/x get --kw .size && expect "get empty section" "'.size': empty section name" "$err"
run 2 demo/svc/x set --kw disk#1.=1G && expect "empty keyword" "'disk#1.': empty keyword name" "$err"
run 2 demo/svc/x set --kw 'disk 1.size=1G' && expect "bad section" "bad section name 'disk 1'" "$err"
run 2 demo/svc/x set --kw disk#1.size@=1G && expect "empty scope" "bad node name after '@'" "$err"
run 2 demo/svc/x unset --kw comment=x && expect "unset with =" "without '=<value>'" "$err"
run 2 demo/svc/x get --kw comment=x && expect "get with =" "without '=<value>'" "$err"
run 2 demo/svc/x get --kw nodes --kw comment && expect "get twice" "get takes one --kw" "$err"
run 2 demo/svc/x set --kw comment=x extra && expect "extra argument" "unexpected argument 'extra'" "$err"
run 2 demo/svc/x set --eval --kw comment=x && expect "set --eval" "unknown option '--eval'" "$err"
run 1 demo/svc/nosuch set --kw comment=x && expect "set absent object" "object demo/svc/nosuch does not exist" "$err"
[ ! -e "$OM_ROOT/var/namespaces/demo/svc/nosuch" ] || fail "set on an absent object made its var dir"
[ ! -e "$OM_ROOT/etc/namespaces/demo/svc/nosuch.conf" ] || fail "set created an object"

# --- 20 concurrent set calls of different keywords: every one lands
"$OM_BIN" demo/svc/c create --config="$tmp/x.conf" >/dev/null
cconf=$OM_ROOT/etc/namespaces/demo/svc/c.conf
vc=$(version "$cconf")
pids=()
for i in $(seq 1 20); do
        "$OM_BIN" demo/svc/c set --kw "app#$i.start=/bin/echo $i" 2>"$tmp/c$i.err" &
        pids+=($!)
done
for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || fail "concurrent set $((i + 1)) exited $?: $(cat "$tmp/c$((i + 1)).err")"
done
for i in $(seq 1 20); do
        got=$("$OM_BIN" demo/svc/c get --kw "app#$i.start" 2>&1) || true
        is "concurrent set $i landed" "/bin/echo $i" "$got"
done
newer "$vc" "$(version "$cconf")" || fail "version after the concurrent sets: $vc -> $(version "$cconf")"
run 0 demo/svc/c validate config

# --- comments and blank lines stay: before headers and entries, inline, at the end of
# the file; a section written without a blank line before it stays so; a new section
# gets one
cat >"$tmp/k.conf" <<'CONF'
# the web service
[DEFAULT] # defaults
nodes = demo1 # one node for now


# the app
[app#0]
; started by hand until the check works
start = /bin/true

check = /bin/true
[app#1]
start = /bin/true
CONF
"$OM_BIN" demo/svc/k create --config="$tmp/k.conf" >/dev/null
run 0 demo/svc/k set --kw nodes="demo1 demo2" --kw app#0.stop=/bin/false --kw app#2.start=/bin/true
run 0 demo/svc/k print config
is "comments and blank lines kept by set" "# the web service
[DEFAULT] # defaults
nodes = demo1 demo2 # one node for now


# the app
[app#0]
; started by hand until the check works
start = /bin/true

check = /bin/true
stop = /bin/false
[app#1]
start = /bin/true

[app#2]
start = /bin/true" "$(grep -v '^\(\[om\]\|version = \|writer = \|id = \)' <<<"$out" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')"

# --- the commands are documented
run 0 doc words demo/svc/x
expect "doc words get" $'^get\t --kw --eval$' "$out"
expect "doc words set" $'^set\t --kw$' "$out"
expect "doc words unset" $'^unset\t --kw$' "$out"
run 0 doc man om && expect "man page" 'fB(get|set|unset)' "$out"
run 0 demo/svc/x --help && expect "help" '^  set  ' "$out"
run 0 doc keywords demo/svc/x && expect "doc keywords" '^disk#2\.manage_passphrase$' "$out"
expect "doc keywords DEFAULT" '^DEFAULT\.nodes$' "$out"
grep -q '^disk#1\.dev$' <<<"$out" && fail "doc keywords lists crypt keywords for a loop disk"
run 0 doc keywords demo/svc/x disk#8 && expect "doc keywords of a new section" '^disk#8\.dev$' "$out"
run 2 doc keywords demo/svc/x vol#1

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
