#!/usr/bin/env bash
# deploy/om.bash-completion, sourced in bash with om on PATH: first words (commands and
# object paths), actions of a path's kind, their options, and the <section>.<keyword>
# names after --kw of get, set (with '=' appended) and unset, by each section's type.
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

om demo/svc/x create --config=- >/dev/null <<'CONF'
[DEFAULT]
nodes = demo1

[disk#1]
type = loop
file = /opt/x.img
size = 1G

[disk#2]
type = crypt
dev = /dev/loop0

[fs#0]
type = ext4
dev = /dev/mapper/x
mnt = /srv/x
tags = data front

[disk#3]
type = loop
file = /opt/y.img
tags = data,backup
CONF
om demo/sec/s create >/dev/null

# shellcheck source=/dev/null
source "$OM_SRC/deploy/om.bash-completion"

# complete WORDS...: the last word is the one being completed; sets $got, one per line
complete_words() {
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMPREPLY=()
        _om || fail "_om returned $? for: $*"
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
}
has() { # has WHAT WORD...: every WORD is in $got
        local what=$1 w
        shift
        for w in "$@"; do
                grep -qxF -- "$w" <<<"$got" || fail "$what: '$w' not offered, got: $(xargs <<<"$got")"
        done
}
hasnt() {
        local what=$1 w
        shift
        for w in "$@"; do
                grep -qxF -- "$w" <<<"$got" && fail "$what: '$w' offered, got: $(xargs <<<"$got")"
        done
        return 0
}

complete_words om ""
has "first word" ls mon daemon demo/svc/x demo/sec/s
complete_words om demo/svc/x ""
has "svc actions" get set unset print create
complete_words om demo/svc/x se
[ "$got" = set ] || fail "'se' -> $(xargs <<<"$got")"
complete_words om demo/svc/x get --
has "get options" --kw --eval

# keywords of a loop disk, not those of a crypt disk
complete_words om demo/svc/x get --kw disk#1.
has "disk#1 (loop)" disk#1.size disk#1.file disk#1.type disk#1.optional disk#1.tags
hasnt "disk#1 (loop)" disk#1.dev disk#1.manage_passphrase disk#2.dev
complete_words om demo/svc/x get --kw disk#2.
has "disk#2 (crypt)" disk#2.dev disk#2.manage_passphrase disk#2.name disk#2.restart
hasnt "disk#2 (crypt)" disk#2.size disk#2.file
# every section of the config, DEFAULT with or without its name
complete_words om demo/svc/x unset --kw ""
has "all sections" DEFAULT.nodes nodes fs#0.mnt disk#1.size disk#2.label
hasnt "no [om] keywords" om.version version
complete_words om demo/svc/x get --kw fs#0.m
[ "$(xargs <<<"$got")" = "fs#0.mkfs_opt fs#0.mnt fs#0.mnt_opt fs#0.monitor" ] ||
        fail "fs#0.m -> $(xargs <<<"$got")"
# set appends '='
complete_words om demo/svc/x set --kw disk#1.si
[ "$got" = "disk#1.size=" ] || fail "set disk#1.si -> $(xargs <<<"$got")"
complete_words om demo/svc/x set --kw no
[ "$got" = "nodes=" ] || fail "set no -> $(xargs <<<"$got")"
# --kw=... (bash splits the word at '=')
complete_words om demo/svc/x get --kw = disk#1.f
[ "$got" = "disk#1.file" ] || fail "--kw=disk#1.f -> $(xargs <<<"$got")"
# a value: nothing to offer
complete_words om demo/svc/x set --kw disk#1.size = ""
[ -z "$got" ] || fail "value offered: $(xargs <<<"$got")"
# a section the config does not have yet: every keyword of its group
complete_words om demo/svc/x set --kw app#3.st
has "new app section" "app#3.start=" "app#3.stop=" "app#3.standby="
# sec objects: DEFAULT only
complete_words om demo/sec/s get --kw ""
has "sec DEFAULT" DEFAULT.nodes
grep -q '^data\.' <<<"$got" && fail "sec [data] offered"
# --tag: the words of the resources' tags, each once
complete_words om demo/svc/x start --tag ""
[ "$(xargs <<<"$got")" = "backup data front" ] || fail "--tag -> $(xargs <<<"$got")"
complete_words om demo/svc/x stop --tag = f
[ "$got" = front ] || fail "--tag=f -> $(xargs <<<"$got")"
complete_words om demo/svc/x start --
has "action options" --tag --rid --local
# other actions take no keywords
complete_words om demo/svc/x print config --
has "print config options" --eval --format

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
