#!/bin/bash
# test-scenario-loopcrypt.sh: the reference's loopback scenario, word for word where
# the reference shows output (the OpenSVC guide to disk encryption), in one
# QEMU guest named demo1 (this host's kernel has no device-mapper).
#
#   create demo/svc/loopcrypt from the reference's loopback.conf; print status -r
#   (not provisioned); provision --local; print status -r (the reference's lines);
#   print devs; om demo/sec/loopcrypt keys / decode (256 symbols of the 92-symbol
#   alphabet); df -h (an ext4 of about 1G minus the LUKS header); data survives
#   stop --local and start --local; the object log has the reference's lines;
#   the passphrase is removed: stop --local refuses with the reference's message,
#   exits 1 and leaves the device open; stop --local --force closes it; start
#   without the key, then with a wrong one, fails and rolls back; the passphrase
#   restored, the service starts with its data; unprovision --local removes
#   everything (a second one has nothing to do); provision again and unprovision,
#   which also removes the managed key.
#
# The backing file /opt/loopcrypt.demo.svc.default.img is 1G sparse: /opt is a
# directory of the guest's private disk (an ext4 image on the host), so that the
# file lives on a real block device (print devs shows it as base, as the reference
# shows /dev/sda) and the guest's RAM root holds nothing of it.  Only the LUKS
# header and ext4's metadata are written (~50 MB).
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
svc=demo/svc/loopcrypt
sec=demo/sec/loopcrypt
img=/opt/loopcrypt.demo.svc.default.img
crypt=/dev/mapper/loopcrypt.demo.svc.default-crypt
mnt=/srv/loopcrypt
objlog=/var/log/om/namespaces/demo/svc/loopcrypt.log

. "$here/scenario.lib"

lab_init --om "$om_bin" || exit $?

step "boot $node (TCG), /opt on its private disk"
lab_boot --private 1280M "$node" 10.99.0.11/24 || fail "$node did not boot"
echo "boot: $(lab_boot_time "$node")s"
run 0 'mkdir -p /persist/opt /opt && mount --bind /persist/opt /opt && grep -q device-mapper /proc/misc'
run 0 "cat >/tmp/loopback.conf <<'EOF'
$(cat "$src/deploy/examples/loopback.conf")
EOF"

step "create"
run 0 "om $svc create --config=/tmp/loopback.conf"
expect "create" "create $svc"
run 0 "om $svc print status -r"
expect "status before provision" "demo/svc/loopcrypt                   down
\`- instances
   \`- demo1                          down       not provisioned, idle
      |- disk#0             .....P.. down       loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             .....P.. down       crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               .....P.. down       ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"

step "provision --local"
run 0 "om $svc provision --local"
loop=$(sed -n 's|^  \(/dev/loop[0-9]*\) now loops to /opt/loopcrypt.demo.svc.default.img$|\1|p' <<<"$out")
[ -n "$loop" ] || fail "provision did not say which loop device it attached"
for line in "cryptsetup luksOpen $loop loopcrypt.demo.svc.default-crypt -" \
    "mount -t ext4 $crypt $mnt"; do
    grep -qxF "  $line" <<<"$out" || fail "provision did not say '$line'"
done
status_up="demo/svc/loopcrypt                   up
\`- instances
   \`- demo1                          up         idle, started
      |- disk#0             ........ up         loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             ........ up         crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               ........ up         ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"
run 0 "om $svc print status -r"
expect "status after provision" "$status_up"
run 0 "om $svc print status"
expect "print status (without -r)" "$status_up"

step "print devs"
# shellcheck disable=SC2016 # expanded by the guest's shell
run 0 'd=$(stat -c %d /opt/.); cat /sys/dev/block/$((d >> 8)):$((d & 255))/uevent'
base=/dev/$(sed -n 's/^DEVNAME=//p' <<<"$out")
[ "$base" != /dev/ ] || fail "cannot tell the disk under /opt"
run 0 "om $svc print devs"
expect "print devs" "demo/svc/loopcrypt
|- disk#0 (disk.loop)
|  |- base
|  |  \`- $base
|  \`- exposed
|     \`- $loop
|- disk#1 (disk.crypt)
|  |- base
|  |  \`- $base
|  |- sub
|  |  \`- $loop
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
# Not through run: the passphrase is shown only by its length and alphabet.
pass=$(lab_run "$node" "om $sec decode --key disk_1_crypt_passphrase") || fail "decode"
echo "# om $sec decode --key disk_1_crypt_passphrase | wc -c"
echo "${#pass}"
[ "${#pass}" = 256 ] || fail "the passphrase has ${#pass} characters, want 256"
# The 92 symbols: printable ASCII but space, ' and \.
rest=$(LC_ALL=C tr -d '\041-\046\050-\133\135-\176' <<<"$pass")
[ -z "$rest" ] || fail "the passphrase has symbols outside the 92-symbol alphabet"
distinct=$(fold -w1 <<<"$pass" | sort -u | wc -l)
[ "$distinct" -ge 60 ] || fail "the passphrase has only $distinct distinct symbols of 92"
saved_pass=$pass   # restored after the loss-protection steps
unset pass

step "df -h, data in the filesystem"
run 0 "df -h $mnt"
run 0 "grep ' $mnt ' /proc/mounts"
[ "$(awk '{print $1, $3}' <<<"$out")" = "$crypt ext4" ] || fail "$mnt is not the ext4 of $crypt"
run 0 "df -k $mnt | tail -n 1"
size=$(awk '{print $(NF-4)}' <<<"$out")
# 1 GiB minus the LUKS2 header (16 MiB) minus ext4's own overhead.
if [ "$size" -le 900000 ] || [ "$size" -ge 1032192 ]; then
    fail "$mnt is ${size}k, want about 1G minus LUKS"
fi
run 0 "head -c 1048576 /dev/urandom >$mnt/payload && sha256sum $mnt/payload >/root/payload.sum && sync"

step "stop --local, start --local: the data survives"
run 0 "om $svc stop --local"
expect "stop" "@ n:demo1 o:demo/svc/loopcrypt r:fs#0 sc:n
  umount /srv/loopcrypt
@ n:demo1 o:demo/svc/loopcrypt r:disk#1 sc:n
  cryptsetup luksClose /dev/mapper/loopcrypt.demo.svc.default-crypt
@ n:demo1 o:demo/svc/loopcrypt r:disk#0 sc:n
  /sbin/losetup -d $loop"
run 0 "test ! -e $crypt && ! grep -q ' $mnt ' /proc/mounts && ! grep -qs . /sys/block/loop*/loop/backing_file"
run 0 "om $svc print status -r"
expect "status after stop" "demo/svc/loopcrypt                   down
\`- instances
   \`- demo1                          down       idle
      |- disk#0             ........ down       loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             ........ down       crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               ........ down       ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"
run 0 "om $svc start --local"
loop=$(sed -n 's|^  \(/dev/loop[0-9]*\) now loops to /opt/loopcrypt.demo.svc.default.img$|\1|p' <<<"$out")
[ -n "$loop" ] || fail "start did not say which loop device it attached"
run 0 "om $svc print status -r"
expect "status after start" "$status_up"
run 0 "sha256sum -c /root/payload.sum"

step "the object log"
lab_get "$node" "$objlog" "$LAB_DIR/objlog" || fail "cannot read $objlog"
echo "# tail -n 6 $objlog"
tail -n 6 "$LAB_DIR/objlog"
log_has "" "do provision --local \(user origin\)"
log_has "" "do start --local \(user origin\)"
log_has "" "do stop --local \(user origin\)"
log_has disk#0 "/dev/loop[0-9]+ now loops to /opt/loopcrypt\.demo\.svc\.default\.img"
log_has disk#1 "cryptsetup luksOpen /dev/loop[0-9]+ loopcrypt\.demo\.svc\.default-crypt -"
log_has fs#0 "e2fsck -p /dev/mapper/loopcrypt\.demo\.svc\.default-crypt"
log_has fs#0 "\| /dev/mapper/loopcrypt\.demo\.svc\.default-crypt: clean, [0-9]+/[0-9]+ files, [0-9]+/[0-9]+ blocks"
log_has fs#0 "mount -t ext4 /dev/mapper/loopcrypt\.demo\.svc\.default-crypt /srv/loopcrypt"
log_has fs#0 "umount /srv/loopcrypt"
log_has disk#1 "cryptsetup luksClose /dev/mapper/loopcrypt\.demo\.svc\.default-crypt"
log_has disk#0 "/sbin/losetup -d /dev/loop[0-9]+"
# The passphrase never reaches the log.
pass=$(lab_run "$node" "om $sec decode --key disk_1_crypt_passphrase") || fail "decode"
[ "${#pass}" = 256 ] || fail "decode gives ${#pass} characters"
if grep -qF -- "$pass" "$LAB_DIR/objlog"; then fail "the passphrase is in the object log"; fi
unset pass

step "loss protection: the passphrase is removed"
run 0 "om $sec remove --key disk_1_crypt_passphrase"
expect "remove" ""
run 0 "om $sec keys"
expect "keys after remove" ""
run 0 "om $svc print status -r"
expect "status without the key" "$status_up"
run 1 "om $svc stop --local"
expect "refused stop" "@ n:demo1 o:demo/svc/loopcrypt r:fs#0 sc:n
  umount /srv/loopcrypt
@ n:demo1 o:demo/svc/loopcrypt r:disk#1 sc:n
E abort crypt deactivate, so you can backup the device that we won't be able to activate again: demo/sec/loopcrypt has no disk_1_crypt_passphrase key. restore the key or use --force to skip this safeguard"
run 0 "test -b $crypt && grep -qx $img /sys/block/${loop#/dev/}/loop/backing_file"
# The device is still open: the data can still be saved.
run 0 "mkdir -p /mnt && mount -o ro -t ext4 $crypt /mnt && sha256sum </mnt/payload | cut -d' ' -f1 >/tmp/sum && umount /mnt && cut -d' ' -f1 /root/payload.sum | cmp - /tmp/sum"
run 0 "om $svc stop --local --force"
expect "forced stop" "@ n:demo1 o:demo/svc/loopcrypt r:fs#0 sc:n
  ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt is already umounted
@ n:demo1 o:demo/svc/loopcrypt r:disk#1 sc:n
  cryptsetup luksClose /dev/mapper/loopcrypt.demo.svc.default-crypt
@ n:demo1 o:demo/svc/loopcrypt r:disk#0 sc:n
  /sbin/losetup -d $loop"
run 0 "test ! -e $crypt && ! grep -qs . /sys/block/loop*/loop/backing_file"

step "restore the passphrase: the service starts again"
# Without the key, start fails and rolls back what it started.
run 1 "om $svc start --local"
grep -qE "^E demo/sec/loopcrypt has no disk_1_crypt_passphrase key: cannot activate /dev/loop[0-9]+\$" <<<"$out" ||
    fail "start without the key does not say why"
grep -qxF "  rollback start: stop what this action started" <<<"$out" || fail "start without the key did not roll back"
run 0 "test ! -e $crypt && ! grep -qs . /sys/block/loop*/loop/backing_file"
# A wrong passphrase: refused by LUKS, rolled back too.
run 0 "om $sec add --key disk_1_crypt_passphrase --value not-the-passphrase"
run 1 "om $sec keys && om $svc start --local"
grep -qE "^E no keyslot of /dev/loop[0-9]+ opens with the passphrase of demo/sec/loopcrypt key disk_1_crypt_passphrase\$" <<<"$out" ||
    fail "start with a wrong passphrase does not say why"
run 0 "test ! -e $crypt && ! grep -qs . /sys/block/loop*/loop/backing_file"
# The right one, on stdin (never in argv).
echo "# om $sec change --key disk_1_crypt_passphrase --from - <saved passphrase>"
printf %s "$saved_pass" | lab_run -i "$node" "om $sec change --key disk_1_crypt_passphrase --from -" ||
    fail "cannot restore the passphrase"
unset saved_pass
run 0 "om $svc start --local"
run 0 "om $svc print status -r"
expect "status after the key is restored" "$status_up"
run 0 "sha256sum -c /root/payload.sum"
run 0 "om $svc stop --local"
loop=$(sed -n 's|^  /sbin/losetup -d \(/dev/loop[0-9]*\)$|\1|p' <<<"$out")
expect "stop with the key restored" "@ n:demo1 o:demo/svc/loopcrypt r:fs#0 sc:n
  umount /srv/loopcrypt
@ n:demo1 o:demo/svc/loopcrypt r:disk#1 sc:n
  cryptsetup luksClose /dev/mapper/loopcrypt.demo.svc.default-crypt
@ n:demo1 o:demo/svc/loopcrypt r:disk#0 sc:n
  /sbin/losetup -d $loop"

step "unprovision --local"
run 0 "om $svc unprovision --local"
grep -qxF "  remove key disk_1_crypt_passphrase from demo/sec/loopcrypt" <<<"$out" ||
    fail "unprovision did not remove the managed key"
run 0 "om $svc print status -r"
expect "status after unprovision" "demo/svc/loopcrypt                   down
\`- instances
   \`- demo1                          down       not provisioned, idle
      |- disk#0             .....P.. down       loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             .....P.. down       crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               .....P.. down       ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"
run 0 "test ! -e $img && test ! -e $crypt && test ! -e $mnt && ! grep -qs . /sys/block/loop*/loop/backing_file && ls /dev/mapper"
expect "/dev/mapper after unprovision" control

# Unprovision again: nothing left to do, and it says so.
run 0 "om $svc unprovision --local"
grep -qxF "  crypt $crypt is already unprovisioned: the devices under it are gone" <<<"$out" ||
    fail "a second unprovision does not say the crypt is already unprovisioned"
if grep -q '^E ' <<<"$out"; then fail "a second unprovision logs errors"; fi

step "provision again (a new passphrase), unprovision removes the managed key"
run 0 "om $svc provision --local"
run 0 "om $sec keys"
expect "keys after the second provision" disk_1_crypt_passphrase
run 0 "om $svc unprovision --local"
run 0 "om $sec keys"
expect "keys after unprovision" ""
run 0 "test ! -e $img && test ! -e $crypt && ! grep -qs . /sys/block/loop*/loop/backing_file"

step "PASS ($(lab_elapsed "$t_start")s)"
