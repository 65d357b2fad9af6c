#!/bin/bash
# test-drbd-partition.sh: the link between the two DRBD nodes breaks while the primary
# writes.
#
# The setup of drbd.lib (n1, n2, an arbitrator on the host side, the service
# loop -> drbd -> crypt -> ext4 provisioned, n2 in sync). n1 runs the service and
# writes a record every 0.2 s (fsync each). Then the lab's bridge drops every packet
# between n1 and n2 (nft, bridge family, in the lab's namespace); both still reach
# the arbitrator. Checked during the cut (20 s after DRBD saw it): n1 keeps the
# service (the arbitrator's vote stays with the side that runs it), its writes go on
# (DRBD: Primary, the peer unknown), n2 starts nothing (no quorum: the vote is
# refused) and its replica stays Secondary. Then n1 loses its power while cut: n2 (with
# the arbitrator's vote once n1's lease ran out) must not promote its replica, which
# misses what n1 wrote after the cut: DRBD's fence-peer handler asks the arbitrator,
# which holds the mark n1 set when it lost n2 ("n2 outdated by n1"), and the start is
# refused, n2's replica Outdated. n1 boots again, the link heals: n1 runs the service
# with every record it fsynced, DRBD resynchronizes n2 (no split brain in either kernel
# log), and after `switch --to n2 --wait` the file on n2 is n1's (same sha256).
#
# Exit 0 on success, 1 with the logs on failure, 77 when the lab cannot run here.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"
. "$here/drbd.lib"
drbd_need nft

drbd_setup
drbd_create
drbd_provision

step "n1 writes a record every 0.2 s, each fsynced"
run n1 "cat >/root/writer.sh <<'EOF'
i=0
while [ ! -e /tmp/writer.stop ]; do
    i=\$((i + 1))
    printf 'record %06d %s\n' \$i \"\$(date +%s.%N)\" >>$mnt/records
    fsync $mnt/records 2>/dev/null || sync
    echo \$i >/tmp/writer.count
    usleep 200000
done
EOF
setsid sh /root/writer.sh </dev/null >/tmp/writer.log 2>&1 &"
count() { q n1 "cat /tmp/writer.count" || echo 0; }
until_ 30 "the writer on n1" eval '[ "$(count)" -ge 5 ]'

step "cut the link between n1 and n2 (both still reach the arbitrator)"
lab_host nft -f - <<'EOF' || fail "nft"
table bridge omcut {
  chain cut {
    type filter hook forward priority 0;
    ip saddr 10.99.0.11 ip daddr 10.99.0.12 drop
    ip saddr 10.99.0.12 ip daddr 10.99.0.11 drop
  }
}
EOF
c_cut=$(count)
cut_seen() { ! [[ $(proc n1) == *"cs:Connected"* ]]; }
until_ 60 "DRBD on n1 sees the cut" cut_seen
run n1 "cat /proc/drbd"
echo "records before the cut: about $c_cut"

step "during the cut (20 s): n1 runs and writes, n2 starts nothing"
t0=$EPOCHREALTIME
while [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt 20 ]; do
    runs n1 || fail "n1 stopped running $svc during the cut"
    l=$(proc n2) || fail "n2's /proc/drbd"
    [[ $l == *"ro:Secondary/"* ]] || fail "n2's replica is not Secondary during the cut: $l"
    ! runs n2 || fail "n2 started $svc during the cut"
    read -r -t 1 -u "$LAB_SLEEP_FD" || true
done
c_during=$(count)
[ "$c_during" -gt "$c_cut" ] || fail "n1's writes did not go on during the cut ($c_cut then $c_during)"
echo "records written during the cut: $((c_during - c_cut))"
run n1 "om mon; cat /proc/drbd"
grep -q "ro:Primary/Unknown" <<<"$out" || fail "n1 is not Primary with the peer unknown"
run n2 "om mon; cat /proc/drbd"
run n2 "grep -E 'quorum|arbitrator' /var/log/om/daemon.log | tail -n 5"

step "n1 powered off during the cut: n2 must not promote its replica, which lacks n1's writes"
lab_kill n1
# n2 gets the vote once n1's lease ran out and tries the takeover; DRBD calls its
# fence-peer handler, which asks the arbitrator to mark n1 outdated: refused, since n1
# marked n2 outdated when it lost n2 (the mark the arbitrator keeps). The promotion
# fails, n2's replica is Outdated, the start is refused with the reason.
n2_refused() {
    ! runs n2 || fail "n2 promoted its stale replica and started $svc: the records n1 wrote after the cut are lost"
    q n2 "grep -q 'replica was outdated by n1' $objlog"
}
t0=$EPOCHREALTIME
until_ 120 "n2's start refused on its outdated replica" n2_refused
echo "n2 refused $(ms_since "$t0") ms after n1's power loss"
run n2 "cat /proc/drbd; om $svc print status; grep -E 'fence|outdated' $objlog | tail -n 8"
grep -q "ro:Secondary/Unknown ds:Outdated/DUnknown" <<<"$out" || fail "n2's replica is not an Outdated Secondary"
grep -q "outdated by n1" <<<"$out" || fail "n2's status does not say its replica was outdated by n1"
! runs n2 || fail "n2 runs $svc"
[ "$(inst_field n2 n2 avail)" != up ] || fail "n2's instance is up"

step "n1 back, the link healed: n1 runs the service with every record, n2 resynchronizes"
lab_host nft delete table bridge omcut || fail "nft delete"
drbd_boot n1
until_ 30 "n1 sees n2 up" peer_up n1 n2
n1_prov() { [ "$(inst_field n1 n1 provisioned)" = true ] && [ "$(inst_field n1 n2 provisioned)" = true ]; }
# a blank root (the guests' root is in RAM) knows nothing of its loop file: see
# test-drbd-failover
run n1 "om $svc provision --wait"
until_ 120 "$svc on n1" runs n1
t0=$EPOCHREALTIME
until_ 120 "n2 resynchronized from n1" ds_both n2 UpToDate
echo "resynchronized $(ms_since "$t0") ms after n1 started"
for n in n1 n2; do
    run "$n" "dmesg | grep -ci 'split-brain' || true"
    [ "$out" = 0 ] || fail "$n's kernel log reports a split brain"
done
run n1 "wc -l <$mnt/records; sha256sum $mnt/records; tail -n 1 $mnt/records"
n_rec=$(sed -n 1p <<<"$out")
sum1=$(sed -n 2p <<<"$out" | cut -d' ' -f1)
[ "$n_rec" -ge "$c_during" ] || fail "n1 has $n_rec records after its reboot, it had fsynced $c_during"

step "switch --to n2: every record n1 fsynced is there"
run n2 "om $svc switch --to n2 --wait"
until_ 60 "$svc on n2" runs n2
run n2 "sha256sum $mnt/records; wc -l <$mnt/records; tail -n 1 $mnt/records"
[ "$(sed -n 1p <<<"$out" | cut -d' ' -f1)" = "$sum1" ] || fail "the records on n2 differ from n1's"
echo "all $n_rec records on n2 (sha256 $sum1), $((c_during - c_cut)) or more of them written during the cut"
# the mark n1 set on n2 at the cut is cleared once n2 resynchronized
arb_marks() { OM_ROOT="$LAB_DIR/arb" "$om_bin" arbitrator status --format json | jq -r '.clusters[0].marks | length'; }
until_ 30 "the fence mark cleared at the arbitrator" eval '[ "$(arb_marks)" = 0 ]'
OM_ROOT="$LAB_DIR/arb" "$om_bin" arbitrator status

step "PASS ($(lab_elapsed "$t_start")s)"
