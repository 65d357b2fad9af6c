#!/bin/bash
# --format json and --format yaml on every command that has them: each output parses
# (JSON with python's json, YAML with PyYAML) and both give the same data, so YAML is
# no second-class rendering. Runs one agent for the commands that ask it.
set -u
ADDR_BASE=60
. "$(dirname "$0")/test-agent.lib"
PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || { echo "skip: PyYAML (python3-yaml) is needed"; exit 77; }

write_conf 1 1s 3s
start_agent 1
wait_api 1

on 1 demo/sec/s create >/dev/null || fail "sec create"
on 1 demo/sec/s add --key b --value 2 >/dev/null || fail "sec add"
on 1 demo/sec/s add --key "true" --value x >/dev/null || fail "sec add"
cat >"$T/app.conf" <<'CONF'
[DEFAULT]
nodes = n1
comment = 1.5

[app#0]
start = /bin/true
stop = /bin/true
check = /bin/false
CONF
on 1 demo/svc/web create --config "$T/app.conf" >/dev/null || fail "svc create"

# the agent has looked at the new service once (its monitor leaves "init")
for _ in $(seq 1 100); do
        [ "$(on 1 mon --format json | jq -r '.objects."demo/svc/web".instances.n1.monitor')" = idle ] && break
        sleep 0.1
done

same() { # same LABEL om-args... : json and yaml outputs are the same data
        # The state may move between two calls (a monitor leaves "init", a
        # counter ticks): json is taken before and after the yaml, and only a
        # round where both json outputs agree is judged. A real difference
        # between the formats fails every round.
        local label=$1 round rc
        shift
        for round in 1 2 3 4 5; do
                on 1 "$@" --format json >"$T/out1.json" 2>"$T/err" || fail "$label --format json: $(cat "$T/err")"
                on 1 "$@" --format yaml >"$T/out.yaml" 2>"$T/err" || fail "$label --format yaml: $(cat "$T/err")"
                on 1 "$@" --format json >"$T/out2.json" 2>"$T/err" || fail "$label --format json: $(cat "$T/err")"
                rc=0
                $PY - "$T/out1.json" "$T/out.yaml" "$T/out2.json" <<'PY' || rc=$?
import json, sys, yaml
# values that move all the time: ages, generations, traffic counters
VOLATILE = {"uptime_ms", "last_seen_ms", "updated", "updated_ms", "age_ms", "gen",
            "gen_announced", "frames", "bytes", "stalls", "served", "fetched"}
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in VOLATILE}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
j1 = strip(json.load(open(sys.argv[1])))
y = strip(yaml.safe_load(open(sys.argv[2])))
j2 = strip(json.load(open(sys.argv[3])))
if j1 != j2:
    sys.exit(3)  # the state moved during the round: take another
if j1 != y:
    print("json:", j1, "\nyaml:", y, file=sys.stderr)
    sys.exit(1)
PY
                [ $rc = 0 ] && return 0
                [ $rc = 3 ] || fail "$label: json and yaml differ"
                sleep 0.2
        done
        fail "$label: the output changed in each of $round rounds"
}

same "ls" ls
same "selector ls" 'demo/*/*' ls
same "print config" demo/svc/web print config
same "print config --eval" demo/svc/web print config --eval
same "keys" demo/sec/s keys
same "print status" demo/svc/web print status
same "print devs" demo/svc/web print devs
same "mon" mon
same "object mon" demo/svc/web mon
on 1 demo/svc/db create --config "$T/app.conf" >/dev/null || fail "svc create"
for _ in $(seq 1 100); do # until the agent's scan lists the new service
        keys=$(on 1 'demo/svc/*' mon --format json | jq -c '.objects|keys')
        [ "$keys" = '["demo/svc/db","demo/svc/web"]' ] && break
        sleep 0.1
done
[ "$keys" = '["demo/svc/db","demo/svc/web"]' ] || fail "om 'demo/svc/*' mon --format json lists $keys"
for _ in $(seq 1 100); do # and has looked at it once
        [ "$(on 1 mon --format json | jq -r '.objects."demo/svc/db".instances.n1.monitor')" = idle ] && break
        sleep 0.1
done
keys=$(on 1 demo/svc/web mon --format json | jq -c '.objects|keys')
[ "$keys" = '["demo/svc/web"]' ] || fail "om demo/svc/web mon --format json lists $keys"
same "node ls" node ls
same "daemon status" daemon status
on 1 ls --format xml 2>/dev/null && fail "--format xml was accepted"

# om mon --watch: a new picture every --interval until stopped (no screen codes when the
# output is not a terminal; one document per round for json)
watch_until() { # watch_until FILE PATTERN N: FILE holds N lines matching PATTERN (10s)
        local i
        for i in $(seq 1 200); do
                [ "$(grep -c -- "$2" "$1")" -ge "$3" ] && return 0
                sleep 0.05
        done
        return 1
}
# (the binary itself in the background, not the function on: $! must be om)
OM_ROOT="$T/n1" OM_NODENAME=n1 "$OM_BIN" mon --watch --interval 200ms >"$T/watch.txt" 2>&1 &
wp=$!
watch_until "$T/watch.txt" '^Threads' 3 || fail "om mon --watch: $(cat "$T/watch.txt")"
kill $wp
wait $wp 2>/dev/null
grep -q $'\033' "$T/watch.txt" && fail "om mon --watch wrote screen codes to a file"
grep -q "demo/svc/web" "$T/watch.txt" || fail "om mon --watch shows no object: $(cat "$T/watch.txt")"
OM_ROOT="$T/n1" OM_NODENAME=n1 "$OM_BIN" 'demo/svc/*' mon -w --interval 200ms --format json \
        >"$T/watch.json" 2>&1 &
wp=$!
watch_until "$T/watch.json" '"objects"' 2 || fail "om mon -w --format json: $(cat "$T/watch.json")"
kill $wp
wait $wp 2>/dev/null
$PY - "$T/watch.json" <<'PY' || fail "om mon -w --format json: not a stream of documents"
import json, sys
text = open(sys.argv[1]).read()
dec, i, n = json.JSONDecoder(), 0, 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    try:
        doc, i = dec.raw_decode(text, i)
    except ValueError:
        break  # the round cut short by the kill
    assert sorted(doc["objects"]) == ["demo/svc/db", "demo/svc/web"], doc["objects"]
    n += 1
sys.exit(0 if n >= 2 else 1)
PY
out=$(on 1 mon --interval 1s 2>&1) && fail "--interval without --watch accepted"
grep -q -- "--interval goes with --watch" <<<"$out" || fail "mon --interval alone: $out"
out=$(on 1 mon -w --interval 5ms 2>&1) && fail "--interval 5ms accepted"
grep -q -- "--interval '5ms' is not a duration from 100ms to 1h" <<<"$out" || fail "mon --interval 5ms: $out"
echo "ok: om mon --watch"
echo "ok: json and yaml agree on every command"
