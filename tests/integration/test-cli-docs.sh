#!/usr/bin/env bash
# The three places a user learns the commands from say the same: the bash completion
# (deploy/om.bash-completion), `om --help` with `om <command> --help`, and the man page
# om(1) (`om doc man om`). For global commands and the actions of each kind (svc, sec,
# cfg), each source gives the list of commands and, per command, its long options; the
# three lists must be equal, duplicates included (a word offered twice is a failure).
# Every option has its one-line help in --help and in om(1); the legends of om mon and
# of print status's flags column are printed by --legend and by om(1) from one table,
# and every flag character print status can show is in it.
set -euo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_SRC=${OM_SRC:-$(dirname "$0")/../..}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OM_ROOT=$tmp/root OM_NODENAME=demo1
mkdir -p "$tmp/bin"
ln -s "$(readlink -f "$OM_BIN")" "$tmp/bin/om"
export PATH=$tmp/bin:$PATH
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
g() { grep "$@" || true; } # grep where no line is an answer, not an error

printf '[DEFAULT]\nnodes = demo1\n' | om demo/svc/x create --config=- >/dev/null
om demo/sec/s create >/dev/null
om demo/cfg/c create >/dev/null
declare -A obj=([global]="" [svc]=demo/svc/x [sec]=demo/sec/s [cfg]=demo/cfg/c)

# --- the completion: "<kind>|<command words>|<options>" lines ---------------------------
# shellcheck source=/dev/null
source "$OM_SRC/deploy/om.bash-completion"
offer() { # offer WORDS...: what _om offers for the last (empty) word, one per line
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _om
        printf '%s\n' "${COMPREPLY[@]}" | grep -v '^$' || true
}
# walk KIND WORDS...: the commands below WORDS, their options
walk() {
        local kind=$1
        shift
        local got w
        got=$(offer om ${obj[$kind]} "$@" "")
        if [ $# -gt 0 ] && { [ -z "$got" ] || grep -q '^--' <<<"$got"; }; then
                echo "$kind|$*|$(g '^--' <<<"$got" | sort | xargs)"
                return
        fi
        for w in $got; do
                [ $# -eq 0 ] && [ "$kind" = global ] && [[ "$w" == */* ]] && continue # objects
                walk "$kind" "$@" "$w"
        done
}
for kind in global svc sec cfg; do walk "$kind"; done | sort >"$tmp/completion"
# offered twice: compgen keeps duplicates, so the walk sees them
for kind in global svc sec cfg; do
        dup=$(offer om ${obj[$kind]} "" | sort | uniq -d)
        [ -z "$dup" ] || fail "completion offers twice after 'om ${obj[$kind]}': $dup"
done
dup=$(offer om demo/svc/x pr | sort | uniq -d)
[ -z "$dup" ] || fail "completion offers twice after 'om demo/svc/x pr': $dup"

# --- the help ---------------------------------------------------------------------------
# help_cmds KIND: the command names `om [<path>] --help` lists for KIND
help_cmds() {
        if [ "$1" = global ]; then
                om --help | sed -n '/^Commands:$/,/^$/p' | sed -n 's/^  \(.\{24\}\) .*/\1/p'
        else
                om "${obj[$1]}" --help | sed -n "/^Actions on $1 objects:\$/,/^\$/p" |
                        sed -n 's/^  \(.\{24\}\) .*/\1/p'
        fi | sed 's/ *$//'
}
for kind in global svc sec cfg; do
        help_cmds "$kind" | while read -r cmd; do
                # shellcheck disable=SC2086
                out=$(om ${obj[$kind]} $cmd --help)
                opts=$(sed -n '/^Options:$/,$p' <<<"$out" | g -oE '^  (-[a-z], )?--[a-z-]+' |
                        g -oE -- '--[a-z-]+$' | sort | xargs)
                echo "$kind|$cmd|$opts"
                # each option with its help
                sed -n '/^Options:$/,$p' <<<"$out" | g -E '^  (-[a-z], )?--' |
                        g -vE '^  (-[a-z], )?--[a-zA-Z=-]+ +[^ ].{10,}' |
                        sed "s|^|FAIL: om ${obj[$kind]} $cmd --help: an option without its help: |" || true
        done
done | tee "$tmp/help-all" | g -v '^FAIL' | sort >"$tmp/help"
grep '^FAIL' "$tmp/help-all" && fails=$((fails + $(grep -c '^FAIL' "$tmp/help-all")))

# --- the man page -----------------------------------------------------------------------
om doc man om >"$tmp/om.1"
python3 - "$tmp/om.1" >"$tmp/man.raw" <<'PY'
import re, sys
kinds = {"COMMANDS": "global", "ACTIONS ON SVC OBJECTS": "svc",
         "ACTIONS ON SEC OBJECTS": "sec", "ACTIONS ON CFG OBJECTS": "cfg"}
lines = open(sys.argv[1]).read().split("\n")
def text(s):
    return re.sub(r"\\f[BIR]", "", s).replace("\\-", "-").replace("\\&", "")
kind, cmd, opts, depth, out = None, None, [], 0, []
def flush():
    if cmd is not None:
        out.append(f"{kind}|{cmd}|{' '.join(sorted(opts))}")
for i, l in enumerate(lines):
    if l.startswith(".SH "):
        flush(); cmd = None; opts = []
        kind = kinds.get(l[4:].strip())
    elif kind and l == ".RS":
        depth = 1
    elif kind and l == ".RE":
        depth = 0
    elif kind and l == ".TP":
        nxt = text(lines[i + 1])
        if depth == 0:
            flush(); opts = []
            m = re.match(r"om (PATH )?(.*?)( [\[<].*| om\|.*)?$", nxt)
            cmd = m.group(2)
        else:
            m = re.search(r"--([a-z-]+)", nxt)
            opts.append("--" + m.group(1))
            help_line = lines[i + 2] if i + 2 < len(lines) else ""
            if not help_line.strip() or help_line.startswith("."):
                print(f"FAIL: om(1): {kind} {cmd} --{m.group(1)} has no help")
flush()
print("\n".join(out))
PY
grep '^FAIL' "$tmp/man.raw" && fails=$((fails + $(grep -c '^FAIL' "$tmp/man.raw")))
g -v '^FAIL' "$tmp/man.raw" | sort >"$tmp/man"

# --- the three agree --------------------------------------------------------------------
[ -s "$tmp/help" ] && [ "$(wc -l <"$tmp/help")" -ge 30 ] || fail "help lists $(wc -l <"$tmp/help") commands"
diff -u "$tmp/help" "$tmp/completion" >"$tmp/d1" || { fail "help and completion differ:"; cat "$tmp/d1"; }
diff -u "$tmp/help" "$tmp/man" >"$tmp/d2" || { fail "help and man page differ:"; cat "$tmp/d2"; }
# and all three are the command tables (om doc words), each option once
om doc words | while IFS=$'\t' read -r cmd opts; do
        d=$(tr ' ' '\n' <<<"$opts" | g . | sort | uniq -d)
        [ -z "$d" ] || echo "FAIL: '$cmd' declares an option twice: $d"
done | tee "$tmp/dupopts"
[ -s "$tmp/dupopts" ] && fails=$((fails + 1))

# --- the legends ------------------------------------------------------------------------
om mon --legend >"$tmp/mon.legend" || fail "om mon --legend exited $?"
head -1 "$tmp/mon.legend" | grep -qx 'om mon symbols (an instance cell is <avail>\[!\]\[\*\]\[P\]\[^\] \[<monitor state>\]):' ||
        fail "om mon --legend title: $(head -1 "$tmp/mon.legend")"
for sym in O X '!' '!!' '*' P '^' / '?'; do
        grep -qE "^  $(sed 's/[]!*^?/[]/\\&/g' <<<"$sym") +[a-zA-Z]" "$tmp/mon.legend" ||
                fail "om mon --legend does not explain '$sym'"
done
grep -qxF '  ?      that node is down: its last word about the instance is not trusted' "$tmp/mon.legend" ||
        fail "om mon --legend: the '?' line is not word for word"
om demo/svc/x print status --legend >"$tmp/st.legend" || fail "print status --legend exited $?"
flags=$(sed -n '/^print status flags column/,$p' "$tmp/st.legend")
[ "$(head -1 <<<"$flags")" = "print status flags column (8 characters; . when the flag is off):" ] ||
        fail "print status --legend title: $(head -1 <<<"$flags")"
for pos in 1 2 3 4 5 6 7 8; do
        grep -qE "^  $pos [A-Z] +[a-z]" <<<"$flags" || fail "print status --legend: no position $pos"
done
grep -qxF '  6 P      not provisioned (/ when it cannot tell now)' <<<"$flags" ||
        fail "print status --legend: the P line is not word for word"
# om(1) holds the same lines
man_legend=$(python3 -c '
import re,sys
t=open(sys.argv[1]).read()
def text(s): return re.sub(r"\\f[BIR]","",s).replace("\\-","-").replace("\\&","")
for sec in ("OM MON SYMBOLS","PRINT STATUS FLAGS"):
    body=t.split(".SH "+sec+"\n")[1].split("\n.SH ")[0].split("\n")
    for i,l in enumerate(body):
        if l==".TP": print(text(body[i+1]).replace(": "," ",1) if sec.startswith("PRINT") else text(body[i+1]), text(body[i+2]))
' "$tmp/om.1" | tr -s ' ')
legend_lines=$( (sed 1d "$tmp/mon.legend"; sed 1d <<<"$flags") | sed 's/^  //' | tr -s ' ')
[ "$man_legend" = "$legend_lines" ] || { fail "om(1) and --legend differ:"; diff <(echo "$man_legend") <(echo "$legend_lines") || true; }
# --legend goes with text only
om demo/svc/x print status --legend --format json >/dev/null 2>&1 && fail "print status --legend --format json accepted"
om mon --legend --watch >/dev/null 2>&1 && fail "om mon --legend --watch accepted"
# -r is --refresh, documented
om demo/svc/x print status --help | grep -q -- '-r, --refresh .*before printing' || fail "print status --help: -r is not explained"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok: completion, --help and om(1) agree on $(wc -l <"$tmp/help") commands and their options"
