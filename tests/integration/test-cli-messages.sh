#!/usr/bin/env bash
# What om says to a newcomer, word for word: a bad OM_ROOT or OM_NODENAME (exit 2 with
# the rule), an incomplete command ("print what?"), an unknown command with the closest
# one, an empty selection (stderr; exit 0 for ls, 1 for an action), a --kw given twice,
# an argument a command does not take, and errors as a JSON object on stdout with
# --format json. Without an agent: every message here comes from the CLI alone.
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
# same WHAT GOT WANT: exact text
same() {
        if [ "$2" != "$3" ]; then
                echo "FAIL: $1:"
                echo "  got:  $2"
                echo "  want: $3"
                fails=$((fails + 1))
        fi
}

"$OM_BIN" demo/svc/web create --config=- >/dev/null <<'EOF'
[DEFAULT]
nodes = demo1
EOF
"$OM_BIN" demo/sec/s create >/dev/null

# --- OM_ROOT and OM_NODENAME -----------------------------------------------------------
root_rule="(OM_ROOT is the absolute path of a directory, existing or to be created)"
node_rule="(a node name is lower case letters, digits and '-', 63 at most, not starting or ending with '-')"
touch "$tmp/file"
OM_ROOT=rel/dir run 2 ls && same "relative OM_ROOT" "$err" "om: OM_ROOT 'rel/dir' is not an absolute path $root_rule"
OM_ROOT=/etc/passwd run 2 ls && same "OM_ROOT a file" "$err" "om: OM_ROOT '/etc/passwd' is not a directory $root_rule"
OM_ROOT=$tmp/file/x run 2 ls &&
        same "OM_ROOT under a file" "$err" "om: OM_ROOT '$tmp/file/x' cannot be created: '$tmp/file' is not a directory $root_rule"
OM_ROOT=$tmp/new/root run 0 ls && same "OM_ROOT to be created" "$err" ""
OM_NODENAME='Bad Node' run 2 ls &&
        same "OM_NODENAME upper case" "$err" "om: OM_NODENAME 'Bad Node' is not a valid node name: it has upper case letters (names are lower case) $node_rule"
OM_NODENAME='n1.example' run 2 demo/svc/web print config &&
        same "OM_NODENAME with a dot" "$err" "om: OM_NODENAME 'n1.example' is not a valid node name: it has a character other than a-z, 0-9 and '-' $node_rule"
OM_NODENAME='-n1' run 2 daemon run &&
        same "the agent refuses it too" "$err" "om: OM_NODENAME '-n1' is not a valid node name: it starts or ends with '-' $node_rule"
# nothing was written under a refused OM_ROOT or with a refused name
[ ! -e rel ] || { echo "FAIL: a relative OM_ROOT was created"; fails=$((fails + 1)); }
grep -rq 'Bad Node' "$OM_ROOT" && { echo "FAIL: 'Bad Node' written under OM_ROOT"; fails=$((fails + 1)); }

# --- incomplete and unknown commands ---------------------------------------------------
run 2 demo/svc/web print && same "print what" "$err" "om: print what? config, status, devs"
run 2 demo/svc/web print stats &&
        same "print stats" "$err" "om: unknown action 'print stats' for svc: print what? config, status, devs"
run 0 demo/svc/web print --help && same "print --help" "$(head -1 <<<"$out")" "Usage: om <path> print <command> [options]"
run 2 demo/svc/web validate && same "validate what" "$err" "om: validate what? config"
run 2 daemon && same "daemon what" "$err" "om: daemon what? run, start, stop, metrics, status"
run 2 node && same "node what" "$err" "om: node what? events, ls, freeze, thaw, drain"
run 2 cluster && same "cluster what" "$err" "om: cluster what? join, rotate-secret"
run 0 daemon --help && same "daemon --help" "$(head -1 <<<"$out")" "Usage: om daemon <command> [options]"
run 2 lss && same "lss" "$err" "om: unknown command 'lss' (did you mean 'om ls'?); no object root/svc/lss either"
run 2 LS && same "LS" "$err" "om: unknown command 'LS' (did you mean 'om ls'?)"
run 2 moon && same "moon" "$err" "om: unknown command 'moon' (did you mean 'om mon'?); no object root/svc/moon either"
run 2 frobnicate && same "no close command" "$err" "om: unknown command 'frobnicate' (om --help lists the commands); no object root/svc/frobnicate either"
run 2 demo/svc/web strat &&
        same "strat" "$err" "om: unknown action 'strat' for svc (did you mean 'start'? om demo/svc/web --help lists them)"
run 2 demo/svc/web --format json &&
        same "options before an action" "$err" "om: demo/svc/web what? an action comes first, then its options (om demo/svc/web --help lists the actions)"
run 2 mon foo && same "mon foo" "$err" "om: unexpected argument 'foo': om mon takes none (options start with --; om mon --help lists them)"
run 2 demo/svc/web start now &&
        same "start now" "$err" "om: unexpected argument 'now': om <path> start takes none (options start with --; om <path> start --help lists them)"
# an option of the other mode would do nothing: refused
run 2 demo/svc/web start --rid fs#0 &&
        same "--rid orchestrated" "$err" "om: --rid goes with --local (the agents run an orchestrated action on every resource, unforced)"
run 2 demo/svc/web stop --force &&
        same "--force orchestrated" "$err" "om: --force goes with --local (the agents run an orchestrated action on every resource, unforced)"
run 2 demo/svc/web stop --local --wait &&
        same "--wait local" "$err" "om: --wait goes without --local (a local action returns when it is done)"
run 2 demo/svc/web freeze --time 10s && same "--time without --wait" "$err" "om: --time goes with --wait"
# an existing object still lists its actions
run 2 demo/svc/web && same "om <path>" "$(grep -c '^  ' <<<"$err")" "$("$OM_BIN" demo/svc/web --help | grep -c '^  ')"

# --- empty selections ------------------------------------------------------------------
run 0 'nosuch/svc/*' ls && same "ls nothing: stdout" "$out" "" && same "ls nothing" "$err" "om: no object matches 'nosuch/svc/*'"
run 0 demo ls &&
        same "ls a bare word" "$err" "om: no object matches 'demo' (that is the path root/svc/demo; the objects of a namespace: om 'demo/*/*' ls)"
run 0 'demo/*/*' ls && same "the namespace" "$out" "$(printf 'demo/sec/s\ndemo/svc/web')"
run 1 'nosuch/svc/*' stop --local && same "an action on nothing" "$err" "om: no object matches 'nosuch/svc/*'"
run 1 'demo/sec/*' start --local &&
        same "an action on no object of its kind" "$err" "om: no object matching 'demo/sec/*' is of a kind 'start' applies to"

# --- a keyword given twice --------------------------------------------------------------
before=$(cat "$OM_ROOT/etc/namespaces/demo/svc/web.conf")
run 2 demo/svc/web set --kw nodes=a --kw nodes=b &&
        same "set twice" "$err" "om: set: --kw DEFAULT.nodes is given twice ('nodes=a' and 'nodes=b'), nothing written"
run 2 demo/svc/web set --kw nodes=a --kw DEFAULT.nodes=a &&
        same "set twice, two spellings" "$err" "om: set: --kw DEFAULT.nodes is given twice ('nodes=a' and 'DEFAULT.nodes=a'), nothing written"
run 2 demo/svc/web unset --kw nodes --kw nodes &&
        same "unset twice" "$err" "om: unset: --kw DEFAULT.nodes is given twice ('nodes' and 'nodes'), nothing written"
same "nothing written" "$(cat "$OM_ROOT/etc/namespaces/demo/svc/web.conf")" "$before"

# --- --format json: errors as a JSON object on stdout -----------------------------------
run 2 lss --format json && same "json usage error" "$out" '{"error":"unknown command '"'"'lss'"'"' (did you mean '"'"'om ls'"'"'?); no object root/svc/lss either","exit_status":2}'
run 1 daemon status --format json &&
        same "daemon status json, no agent" "$out" '{"error":"daemon not running (om daemon start starts it)","exit_status":1}'
run 1 mon --format=json && same "mon json, no agent" "$out" '{"error":"no agent answers on this node (om daemon start)","exit_status":1}'
run 1 demo/svc/nosuch print config --format json &&
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["exit_status"] == 1 and d["error"], d' "$out" ||
        { echo "FAIL: print config of a missing object, json: $out"; fails=$((fails + 1)); }
run 1 daemon status && same "daemon status text, no agent" "$out" "daemon    not running"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
