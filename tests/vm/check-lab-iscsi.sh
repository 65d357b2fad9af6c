#!/bin/bash
# check-lab-iscsi.sh: the lab's iSCSI SAN (lab_init --iscsi, lab_iscsi_disk).
#
# A LUN of the SAN guest's LIO target, shared by two guests that log in with
# the kernel initiator at boot, and checks what the fencing scenarios rely on:
#   - both guests see the LUN under the name lab_iscsi_disk printed, a SCSI
#     disk of the target (LIO-ORG), and a block one writes with O_DIRECT the
#     other reads;
#   - SCSI-3 persistent reservations, driven with sg_persist (sg3-utils):
#     n1 registers and takes a Write Exclusive - Registrants Only reservation;
#     n2, not registered, has its write refused (reservation conflict) and its
#     read served; n2 registers and preempts n1 with PREEMPT AND ABORT, after
#     which n1's writes are refused and n2's accepted; release and clear leave
#     no key and no reservation;
#   - a node thawed after a pause (lab_pause) still reaches the LUN.
# Exit status: 0 success, 1 failure (with the guests' console logs), 77 when
# QEMU, the kernel, root or open-iscsi are missing (with the reason).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lab.sh"

t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
fail() {
    echo "FAIL: $*"
    lab_dump
    exit 1
}

lab_init --iscsi "$@" || exit $?
if ! command -v sg_persist >/dev/null; then
    echo "SKIP: sg_persist is missing (package sg3-utils)"
    exit 77
fi

step "the SAN guest and a LUN"
lun=$(lab_iscsi_disk fence 64M) || fail "lab_iscsi_disk"
echo "LUN: $lun"
case $lun in
/dev/disk/by-path/ip-10.99.0.250:3260-iscsi-iqn.2026-12.lab.om:fence-lun-0) ;;
*) fail "unexpected LUN name $lun" ;;
esac

step "boot n1 and n2 on it"
lab_start n1 10.99.0.11/24 "$lun" || fail "start n1"
lab_start n2 10.99.0.12/24 "$lun" || fail "start n2"
lab_wait n1 || fail "n1 did not boot"
lab_wait n2 || fail "n2 did not boot"

for n in n1 n2; do
    out=$(lab_run "$n" "sg_inq $lun") || fail "$n: sg_inq $lun"
    grep -q 'LIO-ORG' <<<"$out" || fail "$n: $lun is not the LIO LUN: $out"
done

step "shared: n1 writes, n2 reads (O_DIRECT)"
lab_run n1 "echo lab-iscsi-block | dd of=$lun bs=4096 seek=10 conv=sync oflag=direct 2>/dev/null" ||
    fail "n1 write"
out=$(lab_run n2 "dd if=$lun bs=4096 skip=10 count=1 iflag=direct 2>/dev/null | head -c 15") ||
    fail "n2 read"
[ "$out" = lab-iscsi-block ] || fail "n2 read '$out'"

# (the first PERSISTENT RESERVE IN after another node's preempt reports the
# unit attention "registrations preempted": sg_persist does not retry, pr_in does)
pr_in() { lab_run "$1" "sg_persist -n -i $2 $lun 2>/dev/null || sg_persist -n -i $2 $lun"; }
# wr NODE: 0 when NODE's O_DIRECT write to the LUN is accepted
wr() { lab_run "$1" "dd if=/dev/zero of=$lun bs=4096 seek=20 count=1 oflag=direct 2>/dev/null"; }
keys() { pr_in "$1" -k | sed -n 's/^ *\(0x[0-9a-f]*\)$/\1/p' | tr '\n' ' '; }
holder() { pr_in "$1" -r | sed -n 's/.*Key=\(0x[0-9a-f]*\).*/\1/p'; }

step "persistent reservations (sg_persist)"
lab_run n1 "sg_persist -n -o -I -S 0xa1 $lun && sg_persist -n -o -R -K 0xa1 -T 5 $lun" ||
    fail "n1 register + reserve"
[ "$(keys n2)" = "0xa1 " ] || fail "keys seen from n2: '$(keys n2)'"
[ "$(holder n2)" = 0xa1 ] || fail "holder seen from n2: '$(holder n2)'"
wr n1 || fail "n1 (holder) cannot write"
if wr n2; then fail "n2 (not registered) could write under n1's reservation"; fi
lab_run n2 "dd if=$lun of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null" || fail "n2 read"
lab_run n2 "sg_persist -n -o -I -S 0xb2 $lun && sg_persist -n -o -A -K 0xb2 -S 0xa1 -T 5 $lun" ||
    fail "n2 register + preempt and abort"
[ "$(keys n1)" = "0xb2 " ] || fail "keys after the preempt: '$(keys n1)'"
[ "$(holder n1)" = 0xb2 ] || fail "holder after the preempt: '$(holder n1)'"
if wr n1; then fail "n1 could write after being preempted"; fi
wr n2 || fail "n2 cannot write after the preempt"

step "a paused node reaches the LUN when thawed"
lab_pause n1
sleep 8
lab_resume n1
lab_run -t 30 n1 "dd if=$lun of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null" ||
    fail "n1 lost the LUN after a pause"

step "release and clear"
lab_run n2 "sg_persist -n -o -L -K 0xb2 -T 5 $lun && sg_persist -n -o -C -K 0xb2 $lun" ||
    fail "release + clear"
[ -z "$(keys n1)" ] || fail "keys left: $(keys n1)"
[ -z "$(holder n1)" ] || fail "reservation left: $(holder n1)"
wr n1 || fail "n1 cannot write once cleared"

step "ok"
