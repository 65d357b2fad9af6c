#!/bin/bash
# test-fence-pr.sh: disk.crypt with scsireserv = true on the lab's iSCSI LUN, two
# guests (n1, n2) of cluster "lab", no daemon (actions --local), the reservations read
# with sg_persist in the guests beside what om says:
#   - print devs shows each node's key, the key om derives from the cluster and node
#     names (checked against Python's BLAKE2b on the host);
#   - n1 provisions and starts: n1's key alone is registered and holds a Write
#     Exclusive - Registrants Only reservation; print status says so; n2's writes to
#     the LUN are refused, its reads served;
#   - a start on n2 that cannot read the passphrase takes nothing from n1;
#   - n2 starts the same service (as a node taking over does): it preempts and aborts
#     n1's key before it opens the volume; from then on n1's writes are refused, and
#     n1's print status reports the volume down, "reservation preempted by n2";
#   - n1's stop leaves n2's reservation alone; n2's stop releases and unregisters;
#   - unprovision clears every key;
#   - the same through dm-multipath: each node logs in through the target's two portals
#     (two sessions, two SCSI disks) and maps them with dmsetup (multipath target,
#     round-robin): n1's start registers its key on both I_T nexuses, n2's start
#     preempts and aborts them all, n1's writes are refused through the map and
#     through each path, n1's status reads the reservation through the map (SG_IO);
#   - on a virtio disk (no reservations) provision warns and start refuses, naming
#     the device and why, and leaves the volume closed.
# Exit status: 0 success, 1 failure (with the consoles and object logs), 77 when the
# QEMU lab, its iSCSI SAN or dmsetup cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"

svc=demo/svc/fenced
objlog=/var/log/om/namespaces/demo/svc/fenced.log
crypt=/dev/mapper/fenced.demo.svc.lab-crypt
t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
fail() {
    echo "FAIL: $*"
    for n in n1 n2; do
        lab_alive "$n" 2>/dev/null || continue
        lab_console "$n" | tail -n 30
        echo "----- object log of $n -----"
        lab_run -t 20 "$n" "cat $objlog" 2>&1 || true
    done
    exit 1
}
out=
# on NODE WANT CMD: run CMD in NODE (stderr merged), show it, fail unless it exits WANT
on() {
    local node=$1 want=$2 rc=0
    shift 2
    echo "# $node: $*"
    out=$(lab_run -t 90 "$node" "( $*
) 2>&1") || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    [ "$rc" = "$want" ] || fail "$node: '$*' exited $rc, want $want"
}
has() { grep -qF -- "$1" <<<"$out" || fail "no '$1' in the output"; }

command -v dmsetup >/dev/null || { echo "SKIP: dmsetup is needed (the multipath map)"; exit 77; }
lab_init --om "$om_bin" --iscsi --extra dmsetup || exit $?
command -v python3 >/dev/null || { echo "SKIP: python3 is missing"; exit 77; }

lun=$(lab_iscsi_disk fence 128M) || fail "lab_iscsi_disk"
vd=$(lab_disk plain 64M)
lun2=$(lab_iscsi_path2 fence) # the same LUN through the target's second portal
lab_start n1 10.99.0.11/24 "$lun" "$lun2" "$vd" || fail "start n1"
lab_start n2 10.99.0.12/24 "$lun" "$lun2" || fail "start n2"
lab_wait n1 || fail "n1 did not boot"
lab_wait n2 || fail "n2 did not boot"

key() {
    python3 -c 'import hashlib,sys
h = hashlib.blake2b(digest_size=8)
for p in (b"om scsireserv key", b"lab", sys.argv[1].encode()): h.update(p + b"\0")
print("0x" + h.hexdigest())' "$1"
}
k1=$(key n1)
k2=$(key n2)
echo "keys: n1 $k1, n2 $k2"
# (sg_persist prints keys without leading zeros)
short() { printf '0x%x' "$1"; }
pr_in() { lab_run "$1" "sg_persist -n -i $2 $lun 2>/dev/null || sg_persist -n -i $2 $lun"; }
keys() { pr_in "$1" -k | sed -n 's/^ *\(0x[0-9a-f]*\)$/\1/p' | tr '\n' ' '; }
holder() { pr_in "$1" -r | sed -n 's/.*Key=\(0x[0-9a-f]*\).*/\1/p'; }
wr() { lab_run "$1" "dd if=/dev/zero of=$lun bs=4096 seek=30000 count=1 oflag=direct 2>/dev/null"; }

conf="[DEFAULT]
id = 6f1d3b2a-0b8e-4c59-9a51-3f2f1d0c7e11
nodes = n1 n2

[disk#1]
type = crypt
dev = $lun
scsireserv = true

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}"

step "n1: cluster lab, the service, print devs"
on n1 0 "mkdir -p /etc/om && printf '[cluster]\nname = lab\nnodes = n1 n2\n' >/etc/om/cluster.conf"
on n1 0 "cat >/tmp/fenced.conf <<'EOF'
$conf
EOF
om $svc create --config=/tmp/fenced.conf"
on n1 0 "om $svc print devs"
has "prkey"
has "$k1"
on n1 0 "om $svc print devs --format json"
has "\"prkey\":\"$k1\""

step "n1: provision and start: n1's reservation"
on n1 0 "om $svc provision --local"
on n1 0 "om $svc print status -r"
has "info: pr key $k1 holds the reservation"
[ "$(keys n2)" = "$(short "$k1") " ] || fail "keys seen from n2: '$(keys n2)', want $k1"
[ "$(holder n2)" = "$(short "$k1")" ] || fail "holder seen from n2: '$(holder n2)'"
pr_in n2 -r | grep -q 'Write Exclusive, registrants only' || fail "not a WE-RO reservation"
on n1 0 "echo data-of-n1 >/srv/fenced/f && sync"
wr n1 || fail "n1 (holder) cannot write"
if wr n2; then fail "n2 could write under n1's reservation"; fi
lab_run n2 "dd if=$lun of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null" || fail "n2 read"

step "n2 takes over: preempt and abort n1 before opening the volume"
lab_get n1 /etc/om/cluster.conf "$LAB_DIR/cluster.conf" || fail "get cluster.conf"
lab_run n1 "tar -C /etc/om -cf /tmp/etc-om.tar ." && lab_get n1 /tmp/etc-om.tar "$LAB_DIR/etc-om.tar" ||
    fail "copy /etc/om"
lab_put n2 "$LAB_DIR/etc-om.tar" /tmp/etc-om.tar && on n2 0 "mkdir -p /etc/om && tar -C /etc/om -xf /tmp/etc-om.tar"
# a start that cannot open the volume (its passphrase unreadable) takes nothing
on n2 1 "mv /etc/om/namespaces/demo/sec/fenced.conf /tmp/sec.away && om $svc start --local"
[ "$(holder n1)" = "$(short "$k1")" ] || fail "a start without the passphrase took the reservation"
[ "$(keys n1)" = "$(short "$k1") " ] || fail "a start without the passphrase registered: '$(keys n1)'"
on n2 0 "mv /tmp/sec.away /etc/om/namespaces/demo/sec/fenced.conf"
on n2 0 "om $svc start --local"
has "scsireserv: register key $k2 on $lun"
has "scsireserv: preempted and aborted n1 ($k1) on $lun in"
grep -n "scsireserv: preempted\|luksOpen" <<<"$out" | head -n 2 | tail -n 1 | grep -q luksOpen ||
    fail "n2 opened the volume before preempting n1"
[ "$(keys n1)" = "$(short "$k2") " ] || fail "keys after the takeover: '$(keys n1)'"
[ "$(holder n1)" = "$(short "$k2")" ] || fail "holder after the takeover: '$(holder n1)'"
if wr n1; then fail "n1 could write after n2 preempted it"; fi
wr n2 || fail "n2 cannot write after the takeover"
on n2 0 "cat /srv/fenced/f"
has data-of-n1

step "n1: its instance reported down, preempted by n2"
on n1 0 "om $svc print status -r"
has "warn: reservation preempted by n2 (pr key $k1)"
grep -E '^ *\|- disk#1 .* down ' <<<"$out" >/dev/null || fail "disk#1 is not reported down on n1"
on n1 0 "om $svc print status --format json"
has '"log":["warn: reservation preempted by n2'
on n1 0 "om $svc stop --local"
has "scsireserv: the reservation of $lun is held by n2, who preempted it while the volume was open here: fenced"
[ "$(holder n2)" = "$(short "$k2")" ] || fail "n1's stop touched n2's reservation"

step "n2: stop releases, start again, unprovision clears"
on n2 0 "om $svc stop --local"
has "scsireserv: release $lun (key $k2)"
has "scsireserv: unregister key $k2 from $lun"
[ -z "$(keys n1)" ] || fail "keys left after the stop: $(keys n1)"
[ -z "$(holder n1)" ] || fail "reservation left after the stop: $(holder n1)"
on n2 0 "om $svc start --local"
has "scsireserv: reserve $lun (write exclusive, registrants only) with key $k2"
on n2 0 "om $svc unprovision --local"
has "scsireserv: clear the keys and the reservation of $lun (key $k2)"
[ -z "$(keys n1)" ] || fail "keys left after unprovision: $(keys n1)"
[ -z "$(holder n1)" ] || fail "reservation left after unprovision: $(holder n1)"

step "dm-multipath over the two iSCSI sessions of each node: the same fencing through the map"
# one map per node, its two paths the LUN through each portal (dmsetup: the table
# multipath-tools would load); the PR ioctls reach every path, SG_IO the current one
mpmake="set -e; a=\$(readlink -f $lun); b=\$(readlink -f $lun2); test \$a != \$b
dmsetup create --noudevsync mpfence --table \"0 \$(blockdev --getsz \$a) multipath 0 0 1 1 round-robin 0 2 1 \$(cat /sys/class/block/\${a##*/}/dev) 1000 \$(cat /sys/class/block/\${b##*/}/dev) 1000\"
dmsetup mknodes; dmsetup table mpfence"
on n1 0 "$mpmake"
on n2 0 "$mpmake"
mp=/dev/mapper/mpfence
on n1 0 "om $svc delete --local 2>/dev/null || om $svc delete; cat >/tmp/mp.conf <<'EOF'
${conf/$lun/$mp}
EOF
om $svc create --config=/tmp/mp.conf && om $svc provision --local && om $svc print status -r"
has "info: pr key $k1 holds the reservation"
# a key is registered per I_T nexus: the map registered n1's on both sessions
[ "$(keys n2)" = "$(short "$k1") $(short "$k1") " ] || fail "keys through the map, seen from n2: '$(keys n2)', want $k1 twice"
[ "$(holder n2)" = "$(short "$k1")" ] || fail "holder seen from n2: '$(holder n2)'"
lab_run n1 "tar -C /etc/om -cf /tmp/etc-om.tar ." && lab_get n1 /tmp/etc-om.tar "$LAB_DIR/etc-om.tar" ||
    fail "copy /etc/om"
lab_put n2 "$LAB_DIR/etc-om.tar" /tmp/etc-om.tar && on n2 0 "tar -C /etc/om -xf /tmp/etc-om.tar"
on n2 0 "om $svc start --local"
has "scsireserv: preempted and aborted n1 ($k1) on $mp in"
[ "$(keys n1)" = "$(short "$k2") $(short "$k2") " ] || fail "keys after the takeover through the map: '$(keys n1)'"
[ "$(holder n1)" = "$(short "$k2")" ] || fail "holder after the takeover through the map: '$(holder n1)'"
for d in $mp $lun $lun2; do
    if lab_run n1 "dd if=/dev/zero of=$d bs=4096 seek=30000 count=1 oflag=direct 2>/dev/null"; then
        fail "n1 could write through $d after n2 preempted it"
    fi
done
lab_run n2 "dd if=/dev/zero of=$mp bs=4096 seek=30000 count=1 oflag=direct 2>/dev/null" || fail "n2 cannot write through its map"
on n1 0 "om $svc print status -r"
has "warn: reservation preempted by n2 (pr key $k1)"
on n1 0 "om $svc stop --local"
has "scsireserv: the reservation of $mp is held by n2, who preempted it while the volume was open here: fenced"
# (a RELEASE through dm-multipath reaches one path, before Linux 6.5 maybe not the
# holder's, which the target refuses; the unregister that follows goes down every path,
# and the holder's ends the reservation all the same)
on n2 0 "om $svc stop --local"
has "scsireserv: unregister key $k2 from $mp"
[ -z "$(keys n1)" ] || fail "keys left after the stop through the map: $(keys n1)"
[ -z "$(holder n1)" ] || fail "reservation left after the stop through the map: $(holder n1)"
on n2 0 "om $svc unprovision --local"
has "scsireserv: clear the keys and the reservation of $mp (key $k2)"
on n1 0 "dmsetup remove mpfence"
on n2 0 "dmsetup remove mpfence"

step "a device without persistent reservations (virtio)"
on n1 0 "om $svc delete --local 2>/dev/null || om $svc delete; cat >/tmp/plain.conf <<'EOF'
${conf/$lun//dev/disk/by-id/virtio-plain}
EOF
om $svc create --config=/tmp/plain.conf"
# (provision formats, then starts: the start part fails)
on n1 1 "om $svc provision --local"
has "scsireserv: /dev/disk/by-id/virtio-plain is not a SCSI device: no persistent reservations"
has "start will refuse to run on it"
has "start refused rather than run unfenced"
on n1 0 "test ! -e $crypt"
on n1 1 "om $svc start --local"
has "scsireserv: /dev/disk/by-id/virtio-plain is not a SCSI device: no persistent reservations (SG_IO: Inappropriate ioctl for device): start refused rather than run unfenced"
on n1 0 "test ! -e $crypt"

step "ok ($(lab_elapsed "$t_start")s)"
