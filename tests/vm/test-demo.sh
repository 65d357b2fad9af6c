#!/bin/bash
# test-demo.sh: `sudo ./deploy/demo.sh` as the README promises it, on this host.
#
# With OM_BIN set the demo skips the install and the build and runs the rest, its
# default: the data follows the service. Two QEMU guests and an arbitrator, the service
# loop -> DRBD -> LUKS -> ext4 provisioned with --wait (demo1 the primary, demo2 its
# replica), a file written with fsync on demo1, demo1 powered off, demo2 takes over.
# (tests/vm/test-demo-dm.sh runs `demo.sh --plain`, the reference service without
# DRBD, on a kernel with device-mapper.)
#
# Checks: exit 0; the output has the orchestrated provision, `om mon`, demo2 provisioned
# as the replica (nothing formatted there), the takeover line, demo2 Primary on
# /dev/drbd0, and the sha256 of the file that demo2 shows after the takeover equal to
# the one demo1 showed before the kill (read from the commands' outputs, and the
# demo's own "data intact" line). Then nothing is left: no omdemo network namespace, no
# agent, arbitrator or QEMU started by the demo, no work directory, no loop device over
# a demo file. A second run gets SIGINT (as from Ctrl-C) once its guests run, and must
# end within a minute and leave nothing either.
# Exit 0 on success, 1 on failure, 77 when QEMU, namespaces or drbd-utils are not
# available.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=$(realpath "${OM_BIN:-$src/build/om}")
. "$here/lab.sh"
lab_check || exit 77
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to send SIGINT as a terminal does"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq is needed by the demo"; exit 77; }
[ -x /lib/drbd/drbdadm-84 ] ||
        { echo "SKIP: drbd-utils 9 with the 8.4 tools (/lib/drbd/drbdadm-84) is not installed (the guests' DRBD tools)"; exit 77; }

T=$(mktemp -d /tmp/om-test-demo.XXXXXX)
demo_pid=
trap '[ -z "$demo_pid" ] || kill -TERM "$demo_pid" 2>/dev/null; sleep 1; rm -rf "$T"' EXIT
fail() {
        echo "FAIL: $*"
        exit 1
}

# leftovers: what a demo run must not leave behind, one line each (nothing: clean)
leftovers() {
        local p
        ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^omdemo' | sed 's/^/netns: /'
        for p in /proc/[0-9]*; do
                { tr '\0' '\n' <"$p/environ" | grep -q '^OM_ROOT=/tmp/om-demo\.' &&
                        echo "agent: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"; } 2>/dev/null
                { tr '\0' ' ' <"$p/cmdline" | grep -q "^qemu-system.*omlab.*demo[123]" &&
                        echo "qemu: ${p#/proc/}"; } 2>/dev/null
        done
        ls -d /tmp/om-demo.* 2>/dev/null | sed 's/^/dir: /'
        losetup -a 2>/dev/null | grep '/tmp/om-demo\.' | sed 's/^/loop: /'
        true
}
before=$(leftovers)
[ -z "$before" ] || echo "note: leftovers of another run before this one: $before"
labs_before=$(ls -d /tmp/omlab.* 2>/dev/null)
# left_labs: the lab directories made since this test began whose owner is gone (the
# demo has ended; other tests' labs running beside this one still have theirs)
orphan_lab() { # DIR: exists, and its owner is not alive
        [ -d "$1" ] || return 1
        [ -f "$1/owner" ] && [ "$(lab__proc_id "$(cut -d' ' -f1 "$1/owner")" 2>/dev/null)" = "$(cat "$1/owner" 2>/dev/null)" ] &&
                return 1
        return 0
}
left_labs() {
        local d
        for d in $(comm -13 <(printf '%s\n' "$labs_before" | sort) <(ls -d /tmp/omlab.* 2>/dev/null | sort)); do
                # (another test's lab being made or removed right now: look again)
                orphan_lab "$d" && sleep 1 && orphan_lab "$d" && echo "$d"
        done
        true
}

echo "== deploy/demo.sh (OM_BIN=$om_bin)"
rc=0
OM_BIN=$om_bin bash "$src/deploy/demo.sh" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ "$rc" = 0 ] || fail "the demo exited $rc"
grep -q 'defer target state set to provisioned' "$T/out" || fail "no orchestrated provision in the output"
grep -q '^demo1# om mon$' "$T/out" || fail "the demo did not show om mon"
grep -q 'this node is its replica, synchronized by DRBD' "$T/out" || fail "demo2 was not provisioned as the replica"
takeover=$(grep -E '^takeover: demo2 runs demo/svc/drbdcrypt, [0-9.]+ s after demo1 died$' "$T/out") ||
        fail "no takeover line"
grep -q 'cs:WFConnection ro:Primary/Unknown ds:UpToDate/' "$T/out" || fail "demo2 is not the DRBD primary after the takeover"
# the sha256 lines the demo's own commands printed, before the kill and after the takeover
file=/srv/drbdcrypt/before-the-kill
sum1=$(grep -A1 -x "demo1# sha256sum $file" "$T/out" | sed -n 2p)
sum2=$(grep -A1 -x "demo2# sha256sum $file" "$T/out" | sed -n 2p)
[[ $sum1 =~ ^[0-9a-f]{64}\ \ $file$ ]] || fail "no sha256 of $file on demo1 before the kill: '$sum1'"
[ "$sum2" = "$sum1" ] || fail "the file differs after the takeover: demo2 has '$sum2', demo1 wrote '$sum1'"
grep -qx "data intact: sha256 ${sum1%% *} on demo2, as demo1 wrote it before it died" "$T/out" ||
        fail "no 'data intact' line with the sha256"
left=$(leftovers)
[ -z "$left" ] || fail "the demo left: $left"
new_labs=$(left_labs)
[ -z "$new_labs" ] || fail "the demo left its lab directory: $new_labs"
echo "ok: $takeover; sha256 ${sum1%% *} before and after; nothing left behind"

echo "== deploy/demo.sh, interrupted with SIGINT once its guests run"
# SIGINT at its default: a background job of a script ignores it, and bash cannot trap
# a signal ignored at entry.
# A process group of its own, SIGINT sent to the group: what a terminal does on Ctrl-C.
OM_BIN=$om_bin python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setpgid(0, 0)
os.execvp("bash", ["bash"] + sys.argv[1:])' "$src/deploy/demo.sh" >"$T/out2" 2>&1 &
demo_pid=$!
t0=$SECONDS
marker='two QEMU guests'
until grep -q "$marker" "$T/out2" && grep -q 'booted in' "$T/out2"; do
        kill -0 "$demo_pid" 2>/dev/null || { cat "$T/out2"; fail "the demo ended before '$marker'"; }
        [ $((SECONDS - t0)) -lt 300 ] || fail "the demo did not reach '$marker' in 300 s"
        sleep 0.2
done
kill -INT -- -"$demo_pid"
t0=$SECONDS
while kill -0 "$demo_pid" 2>/dev/null; do
        [ $((SECONDS - t0)) -lt 60 ] || fail "the demo still runs 60 s after SIGINT"
        sleep 0.2
done
wait "$demo_pid"
rc=$?
demo_pid=
echo "the demo ended $((SECONDS - t0)) s after SIGINT, exit status $rc"
tail -n 5 "$T/out2"
[ "$rc" != 0 ] || fail "the interrupted demo exited 0"
grep -q '^takeover:' "$T/out2" && fail "the demo ran to its end: the signal came too late to test anything"
left=$(leftovers)
[ -z "$left" ] || fail "the interrupted demo left: $left"
new_labs=$(left_labs)
[ -z "$new_labs" ] || fail "the interrupted demo left its lab directory: $new_labs"
echo "PASS"
