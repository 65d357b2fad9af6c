#!/bin/bash
# test-demo-dm.sh: `deploy/demo.sh --plain` on a kernel that has device-mapper.
#
# The demo's default (DRBD between two QEMU guests) is test-demo.sh's. `--plain` runs
# the reference service without DRBD; on this host, whose kernel has no device-mapper,
# it would go to the QEMU lab. A Debian machine normally has it, and there
# `demo.sh --plain` runs the cluster on the host: three
# network namespaces with an agent each, the reference service provisioned on all three,
# the owner killed, the takeover. This test runs that path for real inside one QEMU guest
# (Debian's kernel, dm-crypt loaded) that plays "a Debian host": bash, iproute2, nsenter,
# unshare and jq are copied into its initramfs next to om, the demo and its example
# config onto its disk, then `OM_BIN=/usr/bin/om bash demo.sh --plain` runs there.
#
# Checks: the demo exits 0 and says which node took over; it never went to the QEMU
# path; and after it, nothing is left in the guest: no network namespace, no agent, no
# device-mapper mapping, no loop device, no mount, no work directory. Then a second run
# is interrupted (SIGINT) while the agents provision, and must leave nothing either.
# Exit 0 on success, 1 on failure, 77 when the QEMU lab cannot run here.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"

node=dmhost
t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
fail() {
        echo "FAIL: $*"
        [ -z "$LAB_DIR" ] || lab_console "$node" | tail -n 40
        exit 1
}

# (by name: each lands where it is on this host, /usr/sbin/ip over busybox's applet)
for t in bash ip nsenter unshare jq; do
        PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t" >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
done
lab_init --om "$om_bin" --extra bash ip nsenter unshare jq || exit $?
step "boot $node: Debian's kernel with device-mapper, bash and iproute2"
lab_boot --private 512M --mem 1536 "$node" 10.99.0.21/24 || fail "$node did not boot"
lab_run "$node" 'grep -qw device-mapper /proc/misc' || fail "no device-mapper in the guest"
for f in deploy/demo.sh deploy/examples/loopback.conf; do
        lab_put "$node" "$src/$f" "/persist/src/$f" || fail "cannot copy $f"
done

# leftovers: what the demo must not leave behind (empty output: nothing)
leftovers() {
        lab_run -t 60 "$node" '
                /usr/sbin/ip netns list 2>/dev/null | sed "s/^/netns: /"
                pidof om | sed "s/^/om processes: /"
                ls /dev/mapper 2>/dev/null | grep -vx control | sed "s/^/dm: /"
                losetup -a 2>/dev/null | sed "s/^/loop: /"
                grep -E " /srv/loopcrypt " /proc/mounts | sed "s/^/mount: /"
                ls -d /tmp/om-demo.* 2>/dev/null | sed "s/^/left: /"
                true'
}

step "the demo on a host with device-mapper"
rc=0
out=$(lab_run -t 900 "$node" 'cd /persist/src && OM_BIN=/usr/bin/om bash deploy/demo.sh --plain 2>&1') || rc=$?
printf '%s\n' "$out"
[ "$rc" = 0 ] || fail "the demo exited $rc"
grep -q "three QEMU guests" <<<"$out" && fail "the demo took its QEMU path on a kernel with device-mapper"
grep -Eq '^takeover: demo[23] runs demo/svc/loopcrypt, [0-9.]+ s after demo1 died$' <<<"$out" ||
        fail "the demo did not report a takeover by demo2 or demo3"
grep -q 'defer target state set to provisioned' <<<"$out" || fail "no orchestrated provision in the output"
left=$(leftovers)
[ -z "$left" ] || fail "the demo left: $left"
echo "ok: $(grep '^takeover:' <<<"$out"); nothing left behind"

step "interrupted while the agents provision: nothing left either"
# in a session of its own, as a terminal runs it; SIGTERM to its process group (its
# SIGINT is ignored: a background job of a script cannot trap it)
lab_run "$node" 'cd /persist/src && rm -f /tmp/demo.rc &&
        (OM_BIN=/usr/bin/om setsid sh -c "echo \$\$ >/tmp/demo.pid; exec bash deploy/demo.sh --plain" >/tmp/demo.out 2>&1
        echo $? >/tmp/demo.rc) >/dev/null 2>&1 &' || fail "cannot start the demo in background"
t0=$EPOCHREALTIME
until lab_run "$node" 'grep -q "provision --wait" /tmp/demo.out'; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt 300 ] || fail "the demo did not reach the provision"
        sleep 0.5
done
lab_run "$node" 'bash -c "kill -TERM -- -$(cat /tmp/demo.pid)"' || fail "cannot interrupt the demo"
t0=$EPOCHREALTIME
until lab_run "$node" 'test -s /tmp/demo.rc'; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt 120 ] || fail "the demo still runs 120 s after SIGTERM"
        sleep 0.5
done
rc=$(lab_run "$node" 'cat /tmp/demo.rc')
echo "demo ended $(lab_elapsed "$t0") s after SIGTERM, exit status $rc"
[ "$rc" != 0 ] || fail "the interrupted demo exited 0"
lab_run "$node" 'grep -q "^takeover:" /tmp/demo.out' && fail "the demo ran to its end: the signal came too late to test anything"
left=$(leftovers)
if [ -n "$left" ]; then
        lab_run "$node" 'tail -n 30 /tmp/demo.out'
        fail "the interrupted demo left: $left"
fi
step "PASS ($(lab_elapsed "$t_start")s)"
