#!/bin/bash
# test-drbd-reboot.sh: a node that reboots with its om state brings its DRBD replica
# back by itself (disk.drbd's standby start).
#
# Two TCG guests n1 and n2 (drbd.lib) whose om root (OM_ROOT=/persist/om: config,
# provisioned flags, status cache, logs) lives on their private disk, which survives a
# power loss like the loop file of the service (loop -> DRBD -> LUKS -> ext4, HA):
#
#   provision --wait (n1 the initial primary, n2 its replica, in sync); data on n1;
#   n1 powered off, n2 takes over and writes more (what n1's replica misses);
#   n1 boots again with its om root intact, and only its agent is started (what its
#   systemd unit does at boot): no provision, no start, no drbdadm by hand. Its agent
#   finds the instance provisioned, down and idle, its loop device and DRBD resource
#   down, and starts them in their standby state ("starting standby": start --standby):
#   attached and connected as Secondary, never promoted, so DRBD resynchronizes n1 from
#   n2 (UpToDate on both, no split brain in either kernel log);
#   print status on n1 says disk#1 "stdby up" and the instance down ("standby up"),
#   om mon on both nodes shows n1's cell as S (standby up), the service runs on n2 only;
#   n1's object log since the boot has the standby start and no provision, promotion,
#   create-md nor --discard-my-data;
#   switch --to n1: the service and both files on n1 (the resynchronized replica holds
#   what n2 wrote), n2 back to a connected Secondary shown as S.
#
# Prints the figures "drbd reboot: ..." (boot to agent, agent to Secondary connected,
# resync time, the out-of-sync KiB at the connection); never asserts a duration.
# Exit 0 on success, 1 with the logs on failure, 77 when the lab cannot run here.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
DRBD_ROOT=/persist/om
. "$here/lab.sh"
. "$here/drbd.lib"
drbd_need

drbd_setup
drbd_create
drbd_provision

step "data on n1, written with fsync"
run n1 "head -c 4194304 /dev/urandom >$mnt/payload && sync; sha256sum $mnt/payload"
sum1=${out%% *}

step "power loss of n1; n2 takes over and writes what n1's replica misses"
lab_kill n1
until_ 90 "$svc up on n2 after n1's power loss" runs n2
run n2 "head -c 16777216 /dev/urandom >$mnt/payload2 && sync; sha256sum $mnt/payload2"
sum2=${out%% *}
run n2 "cat /proc/drbd"
grep -q "ro:Primary/Unknown ds:UpToDate/" <<<"$out" || fail "n2 is not the UpToDate Primary with n1 unknown"

step "n1 boots again with its om root on /persist: only its agent is started"
t_boot=$EPOCHREALTIME
lab_boot --private 512M n1 "${ADDR[n1]}/24" || fail "n1 did not boot again"
boot_ms=$(ms_since "$t_boot")
drbd_env n1
# the state survived: the config, the provisioned flags, the object log
run n1 "test -s $om_etc/cluster.conf && om $svc print config >/dev/null && cat $DRBD_ROOT/var/namespaces/demo/svc/drbd/resources"
grep -q "provisioned = true" <<<"$out" || fail "n1's provisioned flags did not survive the reboot"
# nothing brought DRBD up yet (no module loaded, or minor 0 unconfigured)
run n1 "! grep -Eq '^ *0: cs:[A-TV-Z]' /proc/drbd 2>/dev/null"
run n1 "wc -l <$objlog"
log0=$out
t_agent=$EPOCHREALTIME
run n1 "om daemon start"
n1_secondary() {
    local l
    l=$(proc n1) || return 1
    [[ $l == *"ro:Secondary/Primary"* ]] && { [[ $l == *"cs:Connected "* ]] || [[ $l == *"cs:SyncTarget "* ]]; }
}
until_ 180 "n1's replica back as a connected Secondary (by its agent alone)" n1_secondary
conn_ms=$(ms_since "$t_agent")
t_conn=$EPOCHREALTIME
run n1 "cat /proc/drbd"
oos=$(sed -n 's/.* oos:\([0-9]*\).*/\1/p' <<<"$out" | head -1)
until_ 300 "n1's replica resynchronized (Connected, UpToDate on both)" ds_both n1 UpToDate
sync_ms=$(ms_since "$t_conn")
echo "drbd reboot: boot $boot_ms ms, agent start to Secondary connected $conn_ms ms, resync $sync_ms ms (oos ${oos:-?} KiB at the first look)"
run n1 "cat /proc/drbd"
grep -q "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate" <<<"$out" || fail "n1 is not n2's UpToDate Secondary"
for n in n1 n2; do
    run "$n" "dmesg | grep -ci 'split-brain' || true"
    [ "$out" = 0 ] || fail "$n's kernel log reports a split brain"
done
! runs n1 || fail "$svc runs on n1 too"
runs n2 || fail "$svc no longer runs on n2"

step "what n1's agent did: a standby start, nothing else"
run n1 "tail -n +$((log0 + 1)) $objlog"
since=$out
grep -q "do start --local --standby --rid disk#0,disk#1 (daemon origin)" <<<"$since" ||
    fail "n1's agent did not run the standby start of disk#0 and disk#1"
grep -q "drbdadm -c .* up drbd" <<<"$since" || fail "n1's standby start did not bring drbd up"
! grep -Eq "do provision|drbdadm -c [^ ]+ primary|discard-my-data|create-md|do start --local \(" <<<"$since" ||
    fail "n1 ran a provision, a full start, a promotion, create-md or --discard-my-data after its reboot"
run n1 "grep -E 'standby' $om_log/daemon.log | tail -n 5"
grep -q "standby resources down: disk#0,disk#1" <<<"$out" || fail "n1's daemon log does not say why it started the standby resources"

step "print status and om mon show n1's replica as a standby that is up"
until_ 30 "n1's status cache says standby up" eval '[ "$(inst_field n1 n1 standby)" = up ]'
run n1 "om $svc print status"
grep -Eq "disk#1 +[^ ]+ +stdby up +drbd drbd /dev/drbd0 Secondary/Primary UpToDate/UpToDate Connected" <<<"$out" ||
    fail "n1's print status does not show disk#1 stdby up, Secondary and in sync"
grep -Eq "n1 +down +idle, standby up" <<<"$out" || fail "n1's print status does not say the instance is down, standby up"
j=$(q n1 "om $svc print status --format json")
[ "$(jq -r .avail <<<"$j")" = down ] || fail "n1's instance is not down: $(jq -r .avail <<<"$j")"
[ "$(jq -r .standby <<<"$j")" = up ] || fail "n1's print status json: standby is not up"
[ "$(jq -r '.resources["disk#1"].status' <<<"$j")" = "stdby up" ] || fail "n1's disk#1 is not stdby up in json"
for v in n1 n2; do
    until_ 30 "$v's view of n1 has the standby state" eval '[ "$(inst_field n1 '"$v"' standby)" = up ]'
    # n2's status says its replica is back at its next refresh (monitor_interval)
    until_ 30 "$v's view of n2 up (its replica back)" eval '[ "$(inst_field n2 '"$v"' avail)" = up ]'
    run "$v" "om mon"
    row=$(grep -E "^ *$svc " <<<"$out") || fail "$v's om mon has no row for $svc"
    # the cells follow the "|": n1's then n2's (the node columns in name order)
    cells=${row#*|}
    read -r c1 c2 _ <<<"$cells"
    [[ $c1 == S* ]] || fail "$v's om mon: n1's cell is '$c1', not S (standby up)"
    [[ $c2 == O* ]] || fail "$v's om mon: n2's cell is '$c2', not O"
done
[ "$(inst_field n1 n2 avail)" = down ] || fail "n2 sees n1's instance $(inst_field n1 n2 avail), not down"

step "switch --to n1: the resynchronized replica holds what n2 wrote"
run n2 "om $svc switch --to n1 --wait"
until_ 60 "$svc up on n1" eval '[ "$(avail n1)" = up ]'
run n1 "sha256sum $mnt/payload $mnt/payload2; cat /proc/drbd"
grep -q "^$sum1 " <<<"$out" && grep -q "^$sum2 " <<<"$out" || fail "the data on n1 after the switch differs"
grep -q "ro:Primary/Secondary" <<<"$out" || fail "n1 is not Primary after the switch"
until_ 60 "n2 shown standby up" eval '[ "$(inst_field n2 n1 standby)" = up ]'
run n2 "cat /proc/drbd; om $svc print status"
grep -q "cs:Connected ro:Secondary/Primary" <<<"$out" || fail "n2 is not a connected Secondary after the switch"
echo "switch: both files intact on n1 (sha256 $sum1, $sum2), n2 is its standby"

step "PASS ($(lab_elapsed "$t_start")s)"
echo "drbd reboot: boot $boot_ms ms, agent start to Secondary connected $conn_ms ms, resync $sync_ms ms (oos ${oos:-?} KiB)"
