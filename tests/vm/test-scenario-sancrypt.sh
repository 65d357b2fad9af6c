#!/bin/bash
# test-scenario-sancrypt.sh: the reference's SAN scenario (the OpenSVC guide to
# disk encryption, "SAN device") in one QEMU guest named demo1 (this
# host's kernel has no device-mapper).  The SAN disk is a 1G raw image the guest
# sees as the virtio disk /dev/disk/by-id/virtio-san (the reference uses a
# multipath device; the guest has no multipathd).
#
#   create demo/svc/sancrypt from the reference's sancrypt.conf (dev = the virtio
#   disk); print status -r (not provisioned); provision --local; print status -r
#   (the reference's lines); print devs; om demo/sec/sancrypt keys / decode; df -h;
#   data survives stop --local and start --local; the object log's lines;
#   unprovision --local erases the LUKS header and removes the managed key.
#
# SANCRYPT_DISK=iscsi runs it on an iSCSI LUN of the lab's SAN instead (lab_init
# --iscsi: the reference's SAN is an iSCSI disk), dev being the LUN's by-path name:
# test-scenario-sancrypt-iscsi.sh.
#
# Every step checks the exit status and the output.  On failure: the guest's
# console and the object log, exit 1.  Exit 77 (with the reason) when the QEMU lab
# cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"

node=demo1
svc=demo/svc/sancrypt
sec=demo/sec/sancrypt
dev=/dev/disk/by-id/virtio-san
iscsi=
[ "${SANCRYPT_DISK:-virtio}" != iscsi ] || iscsi=--iscsi
crypt=/dev/mapper/sancrypt.demo.svc.default-crypt
mnt=/srv/sancrypt
objlog=/var/log/om/namespaces/demo/svc/sancrypt.log

. "$here/scenario.lib"

lab_init --om "$om_bin" $iscsi || exit $?

step "boot $node (TCG) with the SAN disk"
if [ -n "$iscsi" ]; then
    san=$(lab_iscsi_disk san 1G) || fail "lab_iscsi_disk"
    dev=$san
else
    san=$(lab_disk san 1G)
fi
lab_boot "$node" 10.99.0.11/24 "$san" || fail "$node did not boot"
echo "boot: $(lab_boot_time "$node")s"
run 0 "grep -q device-mapper /proc/misc && readlink -f $dev"
base=$out
run 0 "cat >/tmp/sancrypt.conf <<'EOF'
[DEFAULT]
id = 2d683ea4-5006-4e82-aae1-169d10d1f34a

[disk#1]
type = crypt
dev = $dev
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}
EOF"

step "create"
run 0 "om $svc create --config=/tmp/sancrypt.conf"
expect "create" "create $svc"
run 0 "om $svc print status -r"
expect "status before provision" "demo/svc/sancrypt                   down
\`- instances
   \`- demo1                         down       not provisioned, idle
      |- disk#1            .....P.. down       crypt /dev/mapper/sancrypt.demo.svc.default-crypt
      \`- fs#0              .....P.. down       ext4 /dev/mapper/sancrypt.demo.svc.default-crypt@/srv/sancrypt"

step "provision --local"
run 0 "om $svc provision --local"
for line in "cryptsetup luksOpen $dev sancrypt.demo.svc.default-crypt -" \
    "mount -t ext4 $crypt $mnt"; do
    grep -qxF "  $line" <<<"$out" || fail "provision did not say '$line'"
done
status_up="demo/svc/sancrypt                   up
\`- instances
   \`- demo1                         up         idle, started
      |- disk#1            ........ up         crypt /dev/mapper/sancrypt.demo.svc.default-crypt
      \`- fs#0              ........ up         ext4 /dev/mapper/sancrypt.demo.svc.default-crypt@/srv/sancrypt"
run 0 "om $svc print status -r"
expect "status after provision" "$status_up"
run 0 "blkid $dev"
grep -q 'TYPE="crypto_LUKS"' <<<"$out" || fail "$dev is not a LUKS volume"

step "print devs"
run 0 "om $svc print devs"
expect "print devs" "demo/svc/sancrypt
|- disk#1 (disk.crypt)
|  |- base
|  |  \`- $base
|  |- sub
|  |  \`- $dev
|  \`- exposed
|     \`- $crypt
\`- fs#0 (fs)
   |- base
   |  \`- $base
   \`- sub
      \`- $crypt"

step "the secret object"
run 0 "om $sec keys"
expect "keys" disk_1_crypt_passphrase
pass=$(lab_run "$node" "om $sec decode --key disk_1_crypt_passphrase") || fail "decode"
echo "# om $sec decode --key disk_1_crypt_passphrase | wc -c"
echo "${#pass}"
[ "${#pass}" = 256 ] || fail "the passphrase has ${#pass} characters, want 256"
rest=$(LC_ALL=C tr -d '\041-\046\050-\133\135-\176' <<<"$pass")
[ -z "$rest" ] || fail "the passphrase has symbols outside the 92-symbol alphabet"
unset pass

step "df -h, data in the filesystem"
run 0 "df -h $mnt"
run 0 "df -k $mnt | tail -n 1"
size=$(awk '{print $(NF-4)}' <<<"$out")
if [ "$size" -le 900000 ] || [ "$size" -ge 1032192 ]; then
    fail "$mnt is ${size}k, want about 1G minus LUKS"
fi
run 0 "head -c 1048576 /dev/urandom >$mnt/payload && sha256sum $mnt/payload >/root/payload.sum && sync"

step "stop --local, start --local: the data survives"
run 0 "om $svc stop --local"
expect "stop" "@ n:demo1 o:demo/svc/sancrypt r:fs#0 sc:n
  umount /srv/sancrypt
@ n:demo1 o:demo/svc/sancrypt r:disk#1 sc:n
  cryptsetup luksClose /dev/mapper/sancrypt.demo.svc.default-crypt"
run 0 "test ! -e $crypt && ! grep -q ' $mnt ' /proc/mounts"
run 0 "om $svc print status -r"
expect "status after stop" "demo/svc/sancrypt                   down
\`- instances
   \`- demo1                         down       idle
      |- disk#1            ........ down       crypt /dev/mapper/sancrypt.demo.svc.default-crypt
      \`- fs#0              ........ down       ext4 /dev/mapper/sancrypt.demo.svc.default-crypt@/srv/sancrypt"
run 0 "om $svc start --local"
run 0 "om $svc print status -r"
expect "status after start" "$status_up"
run 0 "sha256sum -c /root/payload.sum"

step "the object log"
lab_get "$node" "$objlog" "$LAB_DIR/objlog" || fail "cannot read $objlog"
log_has "" "do provision --local \(user origin\)"
log_has "" "do start --local \(user origin\)"
log_has "" "do stop --local \(user origin\)"
log_has disk#1 "cryptsetup luksOpen ${dev//./\\.} sancrypt\.demo\.svc\.default-crypt -"
log_has fs#0 "e2fsck -p /dev/mapper/sancrypt\.demo\.svc\.default-crypt"
log_has fs#0 "mount -t ext4 /dev/mapper/sancrypt\.demo\.svc\.default-crypt /srv/sancrypt"
log_has fs#0 "umount /srv/sancrypt"
log_has disk#1 "cryptsetup luksClose /dev/mapper/sancrypt\.demo\.svc\.default-crypt"

step "unprovision --local"
run 0 "om $svc unprovision --local"
run 0 "om $svc print status -r"
expect "status after unprovision" "demo/svc/sancrypt                   down
\`- instances
   \`- demo1                         down       not provisioned, idle
      |- disk#1            .....P.. down       crypt /dev/mapper/sancrypt.demo.svc.default-crypt
      \`- fs#0              .....P.. down       ext4 /dev/mapper/sancrypt.demo.svc.default-crypt@/srv/sancrypt"
run 0 "om $sec keys"
expect "keys after unprovision" ""
run 0 "test ! -e $crypt && test ! -e $mnt && ! blkid $dev | grep -q crypto_LUKS"

step "PASS ($(lab_elapsed "$t_start")s)"
