#!/bin/bash
# test-demo.sh: `sudo ./deploy/demo.sh` as the README promises it, on this host.
#
# With OM_BIN set the demo skips the install and the build and runs the rest: the
# three-node cluster in network namespaces of this host, the reference service made HA
# and provisioned with --wait and, where the kernel has no device-mapper (here), the
# same cluster in three QEMU guests, where the owner loses power and another node takes
# over. (tests/vm/test-demo-dm.sh runs the host path on a kernel with device-mapper.)
#
# Checks: exit 0; the output has the orchestrated provision, `om mon`, the takeover
# line; when the host has no device-mapper, the demo said so before going to QEMU. Then
# nothing is left: no omdemo network namespace, no agent or QEMU started by the demo, no
# work directory, no loop device over a demo file. A second run gets SIGINT (as from
# Ctrl-C) once its guests run, and must end within a minute and leave nothing either.
# Exit 0 on success, 1 on failure, 77 when QEMU or namespaces are not available.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=$(realpath "${OM_BIN:-$src/build/om}")
. "$here/lab.sh"
lab_check || exit 77
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to send SIGINT as a terminal does"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq is needed by the demo"; exit 77; }

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

echo "== deploy/demo.sh (OM_BIN=$om_bin)"
rc=0
OM_BIN=$om_bin bash "$src/deploy/demo.sh" >"$T/out" 2>&1 || rc=$?
cat "$T/out"
[ "$rc" = 0 ] || fail "the demo exited $rc"
grep -q 'defer target state set to provisioned' "$T/out" || fail "no orchestrated provision in the output"
grep -q '^demo1# om mon$' "$T/out" || fail "the demo did not show om mon"
takeover=$(grep -E '^takeover: demo[123] runs demo/svc/loopcrypt, [0-9.]+ s after demo[123] died$' "$T/out") ||
        fail "no takeover line"
if ! grep -qw device-mapper /proc/misc; then
        grep -q 'this kernel has no device-mapper' "$T/out" || fail "the demo did not say why it went to QEMU"
        grep -q 'three QEMU guests' "$T/out" || fail "the demo did not run the QEMU cluster"
fi
left=$(leftovers)
[ -z "$left" ] || fail "the demo left: $left"
new_labs=$(comm -13 <(printf '%s\n' "$labs_before" | sort) <(ls -d /tmp/omlab.* 2>/dev/null | sort))
[ -z "$new_labs" ] || fail "the demo left its lab directory: $new_labs"
echo "ok: $takeover; nothing left behind"

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
marker='three QEMU guests'
grep -qw device-mapper /proc/misc && marker='provision --wait'
until grep -q "$marker" "$T/out2" && { [ "$marker" != 'three QEMU guests' ] || grep -q 'booted in' "$T/out2"; }; do
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
new_labs=$(comm -13 <(printf '%s\n' "$labs_before" | sort) <(ls -d /tmp/omlab.* 2>/dev/null | sort))
[ -z "$new_labs" ] || fail "the interrupted demo left its lab directory: $new_labs"
echo "PASS"
