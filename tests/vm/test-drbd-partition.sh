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
# refused) and its replica stays Secondary. Then the link heals: DRBD reconnects and
# resynchronizes n2 from n1 (no split brain in either kernel log); the writer stops;
# `switch --to n2 --wait` and the file on n2 has every record n1 fsynced, before,
# during and after the cut (same sha256 as on n1).
#
# Exit 0 on success, 1 with the logs on failure, 77 when the lab cannot run here.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"
. "$here/drbd.lib"
command -v jq >/dev/null || { echo "SKIP: jq is needed"; exit 77; }
command -v nft >/dev/null || { echo "SKIP: nft is needed (the cut between the guests)"; exit 77; }
[ -x /lib/drbd/drbdadm-84 ] || { echo "SKIP: drbd-utils 9 with the 8.4 tools (/lib/drbd/drbdadm-84) is not installed"; exit 77; }

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

step "heal: DRBD reconnects and resynchronizes n2 from n1"
lab_host nft delete table bridge omcut || fail "nft delete"
t0=$EPOCHREALTIME
until_ 120 "n2 resynchronized" ds_both n2 UpToDate
echo "resynchronized $(ms_since "$t0") ms after the heal"
for n in n1 n2; do
    run "$n" "dmesg | grep -ci 'split-brain' || true"
    [ "$out" = 0 ] || fail "$n's kernel log reports a split brain"
done
until_ 30 "n1 sees n2 again" peer_up n1 n2
runs n1 || fail "n1 does not run $svc after the heal"

step "stop the writer; switch --to n2: every record n1 fsynced is there"
run n1 "touch /tmp/writer.stop; sleep 1; cat /tmp/writer.count; sha256sum $mnt/records; wc -l <$mnt/records"
n_rec=$(sed -n 1p <<<"$out")
sum1=$(sed -n 2p <<<"$out" | cut -d' ' -f1)
run n2 "om $svc switch --to n2 --wait"
until_ 60 "$svc on n2" runs n2
run n2 "sha256sum $mnt/records; wc -l <$mnt/records; tail -n 1 $mnt/records"
[ "$(sed -n 1p <<<"$out" | cut -d' ' -f1)" = "$sum1" ] || fail "the records on n2 differ from n1's"
echo "all $n_rec records on n2 (sha256 $sum1), $((c_during - c_cut)) or more of them written during the cut"

step "PASS ($(lab_elapsed "$t_start")s)"
