#!/usr/bin/env bash
# The README's two commands, `./tests/run.sh` and `./deploy/demo.sh`, as a new user on a
# root Debian runs them: as root, without sudo (a stock root Debian has none: when this
# host has sudo, a PATH without it is made), from a fresh `git clone` of this source (its
# committed HEAD, so nothing of a previous build is reused).
#
# Bounded, not the whole thing: the full suite takes about 15 minutes and the full demo
# runs in tests/vm/test-demo.sh, so this test runs
#   - tests/run.sh with OM_TEST_LABEL=unit OM_SKIP_ASAN=1 OM_SKIP_FUZZ=1: the same
#     install-deps, the same build and the same ctest and summary code as a full run,
#     on one tier; it checks the summary lines the run ends with;
#   - deploy/demo.sh from its root check through install-deps and its own build (a
#     no-op on the tree run.sh built) to its first step (the QEMU lab for DRBD), then
#     SIGTERM: it must clean up (exit 130, no omdemo network namespace, no work
#     directory left).
# Skips without root or git, when the source is not a git checkout, and in a sanitizer
# pass (it builds its own clone: a second pass would run the same thing again).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root (the README's commands run as root)"; exit 77; }
command -v git >/dev/null || { echo "skip: git is missing"; exit 77; }
src=${OM_SRC:-$(dirname "$0")/../..}
git -C "$src" rev-parse --git-dir >/dev/null 2>&1 || { echo "skip: $src is not a git checkout"; exit 77; }
if grep -q '^OM_ASAN:BOOL=ON\|^OM_UBSAN:BOOL=ON' "${OM_BUILD:-}/CMakeCache.txt" 2>/dev/null; then
        echo "skip: a sanitizer pass (this test builds and tests a clone of its own)"
        exit 77
fi

T=$(mktemp -d /tmp/om-readme.XXXXXX)
demo_pid=
cleanup() {
        [ -z "$demo_pid" ] || kill -TERM "$demo_pid" 2>/dev/null || true
        [ -z "$demo_pid" ] || wait "$demo_pid" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

git clone -q "$src" "$T/om" || fail "git clone $src"

# a PATH without sudo: every command of this PATH but sudo, linked into one directory
path=$PATH
if command -v sudo >/dev/null; then
        mkdir "$T/path"
        IFS=: read -ra dirs <<<"$PATH"
        for d in "${dirs[@]}"; do
                for f in "$d"/*; do
                        b=${f##*/}
                        [ -x "$f" ] && [ "$b" != sudo ] && [ ! -e "$T/path/$b" ] && ln -s "$f" "$T/path/$b"
                done
        done
        path=$T/path
fi
run_as_newcomer() { env -u OM_BIN -u OM_ROOT -u OM_NODENAME PATH="$path" "$@"; }
run_as_newcomer sh -c 'command -v sudo' >/dev/null && fail "sudo is still on the PATH"

# --- ./tests/run.sh, one tier ---------------------------------------------------------
rc=0
(cd "$T/om" && run_as_newcomer env OM_TEST_LABEL=unit OM_SKIP_ASAN=1 OM_SKIP_FUZZ=1 \
        ./tests/run.sh) >"$T/run.out" 2>&1 || rc=$?
summary=$(sed -n '/^== summary of tests\/run.sh$/,$p' "$T/run.out")
echo "$summary"
[ "$rc" = 0 ] || { tail -n 40 "$T/run.out"; fail "./tests/run.sh exited $rc"; }
[ -n "$summary" ] || fail "./tests/run.sh printed no summary"
grep -Eq '^libFuzzer +skipped: OM_SKIP_FUZZ=1$' <<<"$summary" || fail "no libFuzzer line"
unit=$(grep -E '^unit +[0-9]+ passed, 0 failed, 0 skipped$' <<<"$summary") ||
        fail "no 'unit N passed, 0 failed, 0 skipped' line"
n=$(awk '{print $2}' <<<"$unit")
want=$(ls "$T/om"/tests/unit/test-*.c | wc -l)
[ "$n" = "$want" ] || fail "$n unit tests passed, the clone has $want"
grep -Eq '^ASan\+UBSan pass +skipped: OM_SKIP_ASAN=1$' <<<"$summary" || fail "no ASan line"
grep -Eq '^result: all passed \([0-9]+ min [0-9]+ s\)$' <<<"$summary" || fail "no result line"
grep -Eq '^(integration|vm|fuzz) ' <<<"$summary" && fail "a tier other than unit ran"

# --- ./deploy/demo.sh, up to its first step ---------------------------------------------
demos_before=$(ls -d /tmp/om-demo.* 2>/dev/null || true)
(cd "$T/om" && exec setsid env -u OM_BIN -u OM_ROOT -u OM_NODENAME PATH="$path" \
        ./deploy/demo.sh) >"$T/demo.out" 2>&1 &
demo_pid=$!
for _ in $(seq 600); do
        grep -q '== data that follows the service' "$T/demo.out" && break
        kill -0 "$demo_pid" 2>/dev/null || break
        sleep 0.5
done
grep -q '== data that follows the service' "$T/demo.out" || { cat "$T/demo.out"; fail "the demo did not reach its first step"; }
kill -TERM "$demo_pid"
rc=0
wait "$demo_pid" || rc=$?
demo_pid=
grep -q '== install dependencies and build' "$T/demo.out" || fail "the demo did not build"
grep -Eq '^dependencies and build: [0-9]+ s$' "$T/demo.out" || fail "the demo did not say how long the build took"
grep -q 'sudo' "$T/demo.out" && fail "the demo spoke of sudo: $(grep sudo "$T/demo.out")"
[ "$rc" = 130 ] || { cat "$T/demo.out"; fail "the demo exited $rc on SIGTERM, not 130"; }
left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^omdemo' || true)
[ -z "$left" ] || fail "the demo left network namespaces: $left"
left=$(comm -13 <(printf '%s\n' "$demos_before" | sort) <(ls -d /tmp/om-demo.* 2>/dev/null | sort))
[ -z "$left" ] || fail "the demo left its work directory: $left"
echo "ok: as root without sudo, on a fresh clone: ./tests/run.sh (unit tier) passed with its" \
        "summary, ./deploy/demo.sh built and reached its first step"
