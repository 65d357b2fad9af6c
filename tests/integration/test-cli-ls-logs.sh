#!/usr/bin/env bash
# om ls and selectors, the object log (reference line format, one session id per
# command, read back by `om <path> logs`), help output, and HLC versions written by
# concurrent om processes.
set -euo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OM_ROOT=$tmp/root OM_NODENAME=demo1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
om() { "$OM_BIN" "$@"; }

for p in demo/svc/web demo/svc/db demo/sec/web prod/svc/web prod/sec/keys svc/top sec/s1; do
        om "$p" create >/dev/null || fail "create $p"
done

# --- ls
[ "$(om ls)" = "$(printf '%s\n' demo/sec/web demo/svc/db demo/svc/web prod/sec/keys prod/svc/web \
        root/sec/s1 root/svc/top)" ] || fail "om ls: $(om ls)"
[ "$(om 'demo/svc/*' ls)" = "$(printf 'demo/svc/db\ndemo/svc/web')" ] || fail "demo/svc/*: $(om 'demo/svc/*' ls)"
[ "$(om '*/sec/*' ls)" = "$(printf 'demo/sec/web\nprod/sec/keys\nroot/sec/s1')" ] || fail "*/sec/*: $(om '*/sec/*' ls)"
[ "$(om 'web' ls)" = "$(printf 'demo/sec/web\ndemo/svc/web\nprod/svc/web')" ] || fail "bare name: $(om web ls)"
[ "$(om ls 'prod/*/*')" = "$(printf 'prod/sec/keys\nprod/svc/web')" ] || fail "om ls SELECTOR: $(om ls 'prod/*/*')"
[ "$(om 'svc/*' ls)" = "root/svc/top" ] || fail "svc/*: $(om 'svc/*' ls)"
[ -z "$(om 'nomatch/*/*' ls)" ] || fail "nomatch listed something"
om 'nomatch/*/*' ls >/dev/null || fail "an empty listing is not a failure"
json=$(om ls --format json)
if command -v python3 >/dev/null; then
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d) == 7 and d[0] == "demo/sec/web", d' \
                <<<"$json" || fail "om ls --format json: $json"
fi
rc=0; om ls a b 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "om ls a b exited $rc"
rc=0; om 'demo/svc/*' ls --format xml 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--format xml exited $rc"
# an action on a selector runs on every match; no match is a failure
rc=0; om 'nomatch/svc/*' print config 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no object matches 'nomatch/svc/\*'" "$tmp/err" || fail "no match: rc $rc $(cat "$tmp/err")"
[ "$(om 'prod/*/*' validate config)" = "$(printf 'prod/sec/keys: config is valid\nprod/svc/web: config is valid')" ] ||
        fail "selector action: $(om 'prod/*/*' validate config)"

# --- logs
log=$OM_ROOT/log/namespaces/demo/svc/web.log
[ -f "$log" ] || fail "no object log $log"
ts='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}'
uuid='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
grep -qE "^$ts INFO sid:$uuid n:demo1 o:demo/svc/web sc:n \| create$" "$log" || fail "log line: $(cat "$log")"
out=$(om demo/svc/web logs)
[ "$out" = "$(cat "$log")" ] || fail "om logs: '$out'"
# one session id per command: two commands, two ids
om demo/svc/web delete >/dev/null
om demo/svc/web create >/dev/null
out=$(om demo/svc/web logs)
[ "$(grep -cE "^$ts INFO sid:$uuid n:demo1 o:demo/svc/web sc:n \| create$" <<<"$out")" = 2 ] ||
        fail "two create lines expected: $out"
[ "$(grep -oE "sid:$uuid" <<<"$out" | sort -u | wc -l)" = 2 ] || fail "session ids not distinct: $out"
# the session id an agent hands down with OM_SID
om demo/svc/one create >/dev/null
OM_SID=e60306f6-e429-4a02-bd8f-a537a918a217 om demo/svc/two create >/dev/null
grep -q "sid:e60306f6-e429-4a02-bd8f-a537a918a217 n:demo1 o:demo/svc/two" \
        "$OM_ROOT/log/namespaces/demo/svc/two.log" || fail "OM_SID not used"
grep -q "sid:e60306f6" "$OM_ROOT/log/namespaces/demo/svc/one.log" && fail "OM_SID leaked"
# a node name in the line
OM_NODENAME=demo2 om demo/svc/three create >/dev/null
grep -q " n:demo2 o:demo/svc/three sc:n | create" "$OM_ROOT/log/namespaces/demo/svc/three.log" || fail "n:demo2"
rc=0; om demo/svc/nosuch logs 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "logs of a missing object exited $rc"
: >"$OM_ROOT/log/namespaces/demo/svc/one.log"
[ -z "$(om demo/svc/one logs)" ] || fail "an empty log printed something"

# --- rotation: a line that would take a log past 10 MiB first moves it to <log>.1;
# om logs prints both, the rotated part first
rlog=$OM_ROOT/log/namespaces/demo/svc/db.log
yes "2026-01-01 00:00:00,000 INFO sid:00000000-0000-4000-8000-000000000000 n:demo1 o:demo/svc/db sc:n | filler" |
        head -c $((10 * 1024 * 1024 - 50)) >"$rlog.fill" || true
sed -i '$d' "$rlog.fill" # whole lines only
cat "$rlog" "$rlog.fill" >"$rlog.new" && mv "$rlog.new" "$rlog" && rm -f "$rlog.fill"
before=$(wc -l <"$rlog")
om demo/svc/db set --kw comment=rotated >/dev/null || fail "set on db"
[ -f "$rlog.1" ] || fail "no $rlog.1 after the log passed 10 MiB"
[ "$(wc -l <"$rlog.1")" = "$before" ] || fail "the rotated log does not hold the $before lines"
[ "$(wc -l <"$rlog")" = 1 ] && grep -q '| set DEFAULT.comment$' "$rlog" ||
        fail "the new log: $(head -c 300 "$rlog")"
[ "$(om demo/svc/db logs | wc -l)" = $((before + 1)) ] || fail "om logs does not print both parts"
[ "$(om demo/svc/db logs | tail -1)" = "$(cat "$rlog")" ] || fail "om logs: not the rotated part first"
rm -f "$rlog.1"

# --- logs --follow: what the log holds, then each line appended, through a truncation
# and a replacement of the file; it ends when its reader goes away
flog=$OM_ROOT/log/namespaces/demo/svc/web.log
has() { # has N PATTERN: the follow output holds N lines matching PATTERN (10 s)
        local i
        for i in $(seq 1 200); do
                [ "$(grep -cE -- "$2" "$tmp/follow")" -ge "$1" ] && return 0
                sleep 0.05
        done
        fail "logs --follow: $1 lines /$2/ expected in: $(cat "$tmp/follow")"
        return 1
}
"$OM_BIN" demo/svc/web logs --follow >"$tmp/follow" 2>&1 &
fp=$!
trap 'kill $fp 2>/dev/null || true; rm -rf "$tmp"' EXIT
has 2 '\| create$'
om demo/svc/web set --kw comment=one >/dev/null
has 1 '\| set DEFAULT.comment$'
: >"$flog" # truncated: read again from the start
om demo/svc/web unset --kw comment >/dev/null
has 1 '\| unset DEFAULT.comment$'
mv "$flog" "$flog.1" # replaced: the new file is followed
om demo/svc/web set --kw comment=two >/dev/null
has 2 '\| set DEFAULT.comment$'
kill $fp
wait $fp 2>/dev/null || true
[ "$(grep -c . "$tmp/follow")" = 5 ] || fail "logs --follow printed other lines: $(cat "$tmp/follow")"
mv "$flog.1" "$flog.old"
# a reader that goes away ends it, even when nothing is appended
timeout 10 bash -c "'$OM_BIN' demo/svc/web logs -f | head -c 1 >/dev/null"
rc=$?
[ "$rc" = 0 ] || fail "logs -f | head -c 1 did not end on its own (timeout: $rc)"

# --- help
out=$(om --help) || fail "om --help exit status"
grep -q '^Usage: om' <<<"$out" && grep -q 'ls ' <<<"$out" && grep -q 'create ' <<<"$out" || fail "om --help: $out"
out=$(om help) || fail "om help"
out=$(om demo/svc/x create --help) || fail "create --help exit status"
grep -q '^Usage: om <path> create' <<<"$out" && grep -q -- '--config' <<<"$out" || fail "create --help: $out"
[ ! -e "$OM_ROOT/etc/namespaces/demo/svc/x.conf" ] || fail "create --help created the object"
out=$(om demo/svc/x print config --help) || fail "print config --help"
grep -q -- '--eval' <<<"$out" && grep -q -- '--format' <<<"$out" || fail "print config --help: $out"
out=$(om demo/svc/x --help) || fail "om <path> --help"
grep -q 'validate config' <<<"$out" || fail "om <path> --help: $out"
rc=0; om demo/svc/x >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "om <path> without action exited $rc"

# --- HLC versions of concurrent writers: all distinct, each process increasing
for w in a b; do
        (for i in $(seq 1 25); do om "hlc/svc/$w$i" create >/dev/null || exit 1; done) &
done
wait
versions=$(cat "$OM_ROOT"/etc/namespaces/hlc/svc/*.conf | sed -n 's/^version = //p')
[ "$(wc -l <<<"$versions")" = 50 ] || fail "50 versions expected: $versions"
[ "$(sort -u <<<"$versions" | wc -l)" = 50 ] || fail "duplicate versions: $(sort <<<"$versions" | uniq -d)"
for w in a b; do
        prev=0
        for i in $(seq 1 25); do
                v=$(sed -n 's/^version = //p' "$OM_ROOT/etc/namespaces/hlc/svc/$w$i.conf")
                ms=${v%.*} c=${v#*.}
                cur=$((ms * 65536 + c))
                [ "$cur" -gt "$prev" ] || fail "version of $w$i ($v) not after the previous one"
                prev=$cur
        done
done

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
