#!/bin/bash
# test-drbd-failover.sh: data that follows the service without a SAN (disk.drbd).
#
# Two TCG guests n1 and n2 (drbd.lib: a private disk each, an arbitrator, agents),
# the service demo/svc/drbd: a loop file on each node's own disk -> DRBD (protocol C)
# -> LUKS -> ext4, orchestrate = ha.
#
#   provision --wait: n1 (first of nodes) forces the initial primary and formats LUKS
#   and ext4 on /dev/drbd0; n2 creates its metadata, connects and synchronizes, and
#   formats nothing (its object log says it is the replica);
#   data written on n1 with fsync (sha256); n1 powered off (lab_kill); n2's agent takes
#   over: promotes its UpToDate replica, opens LUKS with the replicated passphrase,
#   mounts; the sha256 matches; its status is warn, saying the replica on n1 is missing;
#   n1 boots again (its loop file on its private disk): its agent provisions it as the
#   replica, DRBD resynchronizes it from n2 (no split brain in either kernel log);
#   data written on n2, `switch --to n1 --wait`: the service and both files on n1;
#   then the stale replica: with the service stopped, n2 powered off, n1 down and up
#   again (its disk comes back Consistent, not UpToDate): start --local is refused
#   naming the cause, and nothing was opened.
#
# Prints "drbd failover: kill to service up on n2: X ms" (host clock, polls of ~0.2 s);
# never asserts a duration.  Exit 0 on success, 1 with the logs on failure, 77 when the
# lab cannot run here (or the guests have no DRBD tools: drbd-utils on the host).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"
. "$here/drbd.lib"
drbd_need

drbd_setup
drbd_create
drbd_provision

step "data on n1, written with fsync"
run n1 "head -c 4194304 /dev/urandom >$mnt/payload && fsync $mnt/payload 2>/dev/null || sync; sha256sum $mnt/payload"
sum1=${out%% *}
run n1 "cat /proc/drbd"
grep -q "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate" <<<"$out" || fail "n1 is not the connected Primary"

step "power loss of n1; n2 takes over"
! runs n2 || fail "$svc already runs on n2 before the kill"
t_kill=$EPOCHREALTIME
lab_kill n1
polls=0
while ! runs n2; do
    polls=$((polls + 1))
    [ "$(lab_elapsed "$t_kill" | cut -d. -f1)" -lt 90 ] || fail "$svc not up on n2 90 s after the kill"
    read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
done
fo_ms=$(ms_since "$t_kill")
echo "drbd failover: kill to service up on n2: $fo_ms ms ($polls polls)"

step "checks on n2: Primary, mounted from the LUKS volume on /dev/drbd0, same data"
run n2 "cat /proc/drbd; om $svc print status"
grep -q "ro:Primary/Unknown ds:UpToDate/" <<<"$out" || fail "n2 is not the UpToDate Primary with n1 unknown"
grep -Eq "warn: the replica on n1 is (DUnknown|Outdated)" <<<"$out" || fail "n2's status does not say the replica on n1 is missing"
[ "$(avail n2)" = warn ] || fail "n2's instance is not 'warn' while its replica is missing"
run n2 "grep ' $mnt ' /proc/mounts"
read -r mdev mmnt mtype _ <<<"$out"
[ "$mmnt" = "$mnt" ] && [ "$mtype" = ext4 ] || fail "$mnt is not an ext4 mount on n2: $out"
run n2 "readlink -f $crypt; readlink -f $mdev; cryptsetup status ${crypt##*/} | grep device:"
[ "$(sed -n 1p <<<"$out")" = "$(sed -n 2p <<<"$out")" ] || fail "$mnt is not mounted from $crypt"
grep -q "device:  */dev/drbd0" <<<"$out" || fail "the LUKS volume on n2 is not on /dev/drbd0"
run n2 "sha256sum $mnt/payload"
[ "${out%% *}" = "$sum1" ] || fail "the data differs on n2: ${out%% *}, want $sum1"
echo "data intact on n2 (sha256 $sum1)"
run n2 "grep -E 'do start --local \(daemon origin\)|promote|luksOpen' $objlog | tail -n 5"

step "n1 boots again: its agent provisions it as the replica, DRBD resynchronizes it"
drbd_boot n1
until_ 30 "n1 sees n2 up" peer_up n1 n2
n1_prov() { [ "$(inst_field n1 n1 provisioned)" = true ] && [ "$(inst_field n1 n2 provisioned)" = true ]; }
# a blank root (the guests' root is in RAM) knows nothing of its loop file: the
# instance is not provisioned until asked. The orchestrated provision makes n2, which
# runs the service, its leader (though n1 is first in nodes): n1 provisions after it,
# finds the metadata on its loop file and becomes n2's replica, then stops.
run n1 "om $svc provision --wait"
until_ 90 "n1 provisioned in both views after its reboot" n1_prov
run n1 "grep -E 'already holds DRBD metadata|replica' $objlog"
t0=$EPOCHREALTIME
until_ 120 "n1's replica resynchronized (Connected, UpToDate on both)" ds_both n2 UpToDate
echo "n1 resynchronized $(ms_since "$t0") ms after it was provisioned"
run n1 "cat /proc/drbd"
grep -q "ro:Secondary/Primary ds:UpToDate/UpToDate" <<<"$out" || fail "n1 is not n2's UpToDate Secondary"
for n in n1 n2; do
    run "$n" "dmesg | grep -ci 'split-brain' || true"
    [ "$out" = 0 ] || fail "$n's kernel log reports a split brain"
done
! runs n1 || fail "$svc runs on n1 too"

step "data on n2, then switch --to n1: the service and its data move back"
run n2 "head -c 1048576 /dev/urandom >$mnt/payload2 && sync; sha256sum $mnt/payload2"
sum2=${out%% *}
run n2 "om $svc switch --to n1 --wait"
until_ 60 "$svc up on n1" eval '[ "$(avail n1)" = up ]'
runs n1 || fail "$mnt is not mounted on n1"
run n1 "sha256sum $mnt/payload $mnt/payload2; cat /proc/drbd"
grep -q "^$sum1 " <<<"$out" && grep -q "^$sum2 " <<<"$out" || fail "the data on n1 after the switch differs"
grep -q "ro:Primary/Secondary" <<<"$out" || fail "n1 is not Primary after the switch"
run n2 "cat /proc/drbd; grep -c ' $mnt ' /proc/mounts || true"
grep -q "cs:Connected ro:Secondary/Primary" <<<"$out" || fail "n2 did not stay connected as Secondary after its stop"
echo "switch back: both files intact on n1, n2 replicates"

step "a stale replica is never promoted: n2 powered off, n1 restarted alone"
run n1 "om $svc freeze; om $svc stop --local"
run n2 "om $svc freeze"
lab_kill n2
lab_kill n1
lab_boot --private 512M n1 "${ADDR[n1]}/24" || fail "n1 did not boot again"
# no agent: the start below is the user's, n2 is gone; n1's root is blank after the
# reboot (RAM), its loop file is on its private disk: the service is created again
printf '%s\n' "$drbd_conf" | lab_run -i n1 'mkdir -p /etc/om && umask 077 && cat >/etc/om/cluster.conf' ||
    fail "n1: cannot write cluster.conf"
run n1 "cat >/tmp/drbd.conf <<'EOF'
[DEFAULT]
nodes = n1 n2
[disk#0]
type = loop
file = /persist/{svcname}.img
[disk#1]
type = drbd
disk = {disk#0.exposed_devs[0]}
EOF
om $svc create --config=/tmp/drbd.conf"
lab_run -t 120 n1 "om $svc start --local" >"$LAB_DIR/stale.out" 2>&1 && fail "start on the stale replica succeeded: $(cat "$LAB_DIR/stale.out")"
cat "$LAB_DIR/stale.out"
grep -q "node n1: the local replica of drbd is Consistent and n2 is unreachable (WFConnection): it may miss what n2 wrote" "$LAB_DIR/stale.out" ||
    fail "the refusal does not name the cause"
run n1 "cat /proc/drbd"
grep -q "ro:Secondary/Unknown ds:Consistent/DUnknown" <<<"$out" || fail "n1 is not a Consistent Secondary"

step "PASS ($(lab_elapsed "$t_start")s)"
echo "drbd failover: kill to service up on n2: $fo_ms ms"
