#!/bin/bash
# test-fs-check-read.sh: `check_read = true` on an fs resource, in one QEMU guest (the
# host's kernel has no device-mapper). An ext4 filesystem on a device-mapper linear
# device is mounted by two services' worth of resources: fs#0 with check_read, fs#1
# (a second mount of the same device, without it). Both report up; then the table of
# the device is replaced by dm's error target (every I/O fails, as on a lost SAN path):
# the fs with check_read reports down with a note naming the device and the error, the
# one without it still reports up (the mount is there), which is why the keyword exists.
# Exit 77 (with the reason) when the QEMU lab cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"

node=demo1
svc=demo/svc/cr
objlog=/var/log/om/namespaces/demo/svc/cr.log
. "$here/scenario.lib"

command -v dmsetup >/dev/null || { echo "SKIP: dmsetup is needed"; exit 77; }
lab_init --om "$om_bin" --extra dmsetup || exit $?

step "boot $node with a disk"
disk=$(lab_disk crdisk 64M)
lab_boot "$node" 10.99.0.11/24 "$disk" || fail "$node did not boot"
run 0 "dev=\$(readlink -f /dev/disk/by-id/virtio-crdisk) && half=\$((\$(blockdev --getsz \$dev) / 2)) &&
  dmsetup create --noudevsync cr0 --table \"0 \$half linear \$dev 0\" &&
  dmsetup create --noudevsync cr1 --table \"0 \$half linear \$dev \$half\" &&
  dmsetup mknodes && mkfs.ext4 -q /dev/mapper/cr0 && mkfs.ext4 -q /dev/mapper/cr1 && echo \$half"
sectors=$out

run 0 "cat >/tmp/cr.conf <<'CONF'
[fs#0]
type = ext4
dev = /dev/mapper/cr0
mnt = /srv/cr0
check_read = true

[fs#1]
type = ext4
dev = /dev/mapper/cr1
mnt = /srv/cr1
CONF
om $svc create --config=/tmp/cr.conf"
run 0 "om $svc start --local"
run 0 "om $svc print status"
echo "$out" | grep -q '^demo/svc/cr  *up$' || fail "not up after start"

step "the device fails every I/O"
for d in cr0 cr1; do
    run 0 "dmsetup suspend --noudevsync --noflush $d && dmsetup load --noudevsync $d --table '0 $sectors error' &&
  dmsetup resume --noudevsync $d"
done
run 0 "om $svc print status"
echo "$out" | grep -Eq '[|`]- fs#0 +\.+ down ' || fail "fs#0 (check_read) is not down"
echo "$out" | grep -q 'warn: read of /dev/mapper/cr0 failed: Input/output error' ||
    fail "no note naming the device and the error"
echo "$out" | grep -Eq '[|`]- fs#1 +\.+ up ' || fail "fs#1 (no check_read) is not up"
grep -q /srv/cr0 <<<"$(lab_run "$node" 'cat /proc/mounts')" || fail "fs#0 is no longer mounted"
echo "ok"
