#!/bin/bash
# The reference's loopback service (loop + LUKS2 + ext4) on a kernel without
# device-mapper, through the om command (root and loop devices needed, skipped on a
# kernel that has device-mapper: the vm tier covers activation there). Provision creates
# and attaches the image, stores a generated passphrase in demo/sec/loopcrypt, formats
# LUKS2, fails to activate saying device-mapper is missing, rolls back (no loop device
# left) and exits 1. The status and the secret are then as expected; a second provision
# reuses the header and the key; unprovision of the stopped stack brings the loop device
# up to erase the header, removes the key and the image. (The keyslot check with
# the decoded passphrase is in tests/unit/test-resources-crypt.c.)
set -u
OM=${OM_BIN:?}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -w /dev/loop-control ] || { echo "skipped: no /dev/loop-control"; exit 77; }
if grep -q device-mapper /proc/misc 2>/dev/null; then
        echo "skipped: this kernel has device-mapper (activation is covered by the vm tier)"
        exit 77
fi

T=$(mktemp -d /tmp/om-res-crypt.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=demo1 COLUMNS=200
cleanup() {
        grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount "$m"; done
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] || continue
                case "$(cat "$f")" in "$T"/*) d=${f#/sys/block/}; losetup -d "/dev/${d%%/*}" ;; esac
        done
        rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_eq() {
        if [ "$2" != "$3" ]; then
                fail "$1"
                diff <(echo "$3") <(echo "$2") | head -20
        fi
}
attached() {
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] && [ "$(cat "$f")" = "$1" ] && { d=${f#/sys/block/}; echo "/dev/${d%%/*}"; }
        done
}

IMG=$T/loopcrypt.demo.svc.default.img
MNT=$T/srv/loopcrypt
MAP=/dev/mapper/loopcrypt.demo.svc.default-crypt
cat >"$T/loopback.conf" <<EOF
[DEFAULT]
id = e60306f6-e429-4a02-bd8f-a537a918a217

[disk#0]
type = loop
file = $T/{fqdn}.img
size = 1G

[disk#1]
type = crypt
dev = {disk#0.exposed_devs[0]}
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = $T/srv/{svcname}
EOF
expect_eq create "$($OM demo/svc/loopcrypt create --config="$T/loopback.conf")" \
        "create demo/svc/loopcrypt"

expect_eq "status before provision" "$($OM demo/svc/loopcrypt print status -r)" \
        "demo/svc/loopcrypt                   down
\`- instances
   \`- demo1                          down       not provisioned, idle
      |- disk#0             .....P.. down       loop $IMG
      |- disk#1             .....P.. down       crypt $MAP
      \`- fs#0               .....P.. down       ext4 $MAP@$MNT"

out=$($OM demo/svc/loopcrypt provision --local 2>"$T/provision.err"); rc=$?
[ $rc = 1 ] || fail "provision exit $rc (expected 1: no device-mapper)"
# what the failed provision left, and how to remove it (stderr: the block above is the
# reference's)
expect_eq "failed provision: what it left" "$(cat "$T/provision.err")" \
        "om: the provision failed; these resources stay provisioned (a second provision picks up from there): disk#0 (loop $IMG), disk#1 (crypt $MAP); to remove them: om demo/svc/loopcrypt unprovision --local"
DEV=$(echo "$out" | sed -n 's|^  \(/dev/loop[0-9]*\) now loops to .*|\1|p')
[ -n "$DEV" ] || fail "no loop device in the provision output"
secret_line=$(echo "$out" | grep '^  generated the cluster secret' || true)
expect_eq "provision block" "$out" "@ n:demo1 o:demo/svc/loopcrypt r:disk#0 sc:n
  create file $IMG, size 1073741824
  $DEV now loops to $IMG
@ n:demo1 o:demo/svc/loopcrypt r:disk#1 sc:n${secret_line:+
$secret_line}
  generated passphrase stored in demo/sec/loopcrypt key disk_1_crypt_passphrase
  cryptsetup luksFormat $DEV (LUKS2, aes-xts-plain64, 512-bit key, label loopcrypt.demo.svc.default)
  cryptsetup luksOpen $DEV loopcrypt.demo.svc.default-crypt -
E cannot activate loopcrypt.demo.svc.default-crypt: the kernel has no device-mapper (no device-mapper in /proc/misc; dm_mod and dm_crypt are needed)
@ n:demo1 o:demo/svc/loopcrypt sc:n
  rollback provision: stop what this action started
@ n:demo1 o:demo/svc/loopcrypt r:disk#0 sc:n
  /sbin/losetup -d $DEV"
[ -z "$(attached "$IMG")" ] || fail "the rollback left $IMG attached"

# the image is LUKS2
[ "$(head -c 8 "$IMG" | od -An -tx1 | tr -d ' ')" = "4c554b53babe0002" ] || fail "no LUKS2 header"
# the generated passphrase
expect_eq keys "$($OM demo/sec/loopcrypt keys)" "disk_1_crypt_passphrase"
pass=$($OM demo/sec/loopcrypt decode --key disk_1_crypt_passphrase)
[ ${#pass} = 256 ] || fail "passphrase length ${#pass}"
echo -n "$pass" | grep -q "['\\\\]" && fail "passphrase holds ' or \\"
grep -rqF -- "$pass" "$T/root" && fail "the passphrase is in clear text under OM_ROOT"

expect_eq "status after the failed provision" "$($OM demo/svc/loopcrypt print status -r 2>"$T/status.err")" \
        "demo/svc/loopcrypt                   down
\`- instances
   \`- demo1                          down       partially provisioned, idle
      |- disk#0             ........ down       loop $IMG
      |- disk#1             ........ down       crypt $MAP
      \`- fs#0               .....P.. down       ext4 $MAP@$MNT"
expect_eq "status after the failed provision: the hint" "$(cat "$T/status.err")" \
        "om: partially provisioned: disk#0 (loop $IMG), disk#1 (crypt $MAP) stay provisioned from a provision that failed; om demo/svc/loopcrypt provision --local goes on from there, om demo/svc/loopcrypt unprovision --local removes them"
grep -q "do provision --local (user origin)" "$T/root/log/namespaces/demo/svc/loopcrypt.log" ||
        fail "no do line in the object log"

# stop of a stopped service: nothing to do
out=$($OM demo/svc/loopcrypt stop --local); rc=$?
[ $rc = 0 ] || fail "stop exit $rc: $out"
echo "$out" | grep -q "crypt $MAP is already down" || fail "stop: $out"

# a second provision keeps the header and the key
out=$($OM demo/svc/loopcrypt provision --local); rc=$?
[ $rc = 1 ] || fail "second provision exit $rc"
echo "$out" | grep -q "is already LUKS formatted" || fail "second provision reformatted: $out"
[ "$($OM demo/sec/loopcrypt decode --key disk_1_crypt_passphrase)" = "$pass" ] ||
        fail "second provision changed the passphrase"
[ -z "$(attached "$IMG")" ] || fail "the second rollback left $IMG attached"

# a LUKS header libcryptsetup cannot load (both copies of its metadata damaged): the
# device still carries the LUKS signature, so it is refused, never formatted over
printf 'XXXXXXXXXXXXXXXX' | dd of="$IMG" bs=1 seek=4100 conv=notrunc status=none
printf 'XXXXXXXXXXXXXXXX' | dd of="$IMG" bs=1 seek=$((16384 + 4100)) conv=notrunc status=none
before=$(head -c 1M "$IMG" | sha256sum)
out=$($OM demo/svc/loopcrypt provision --local 2>&1); rc=$?
[ $rc = 1 ] || fail "provision over a damaged header exit $rc"
echo "$out" | grep -q "holds a LUKS signature whose header libcryptsetup cannot load (damaged?): refusing to format it (use --force to overwrite)" ||
        fail "provision over a damaged header: $out"
echo "$out" | grep -q "luksFormat" && fail "provision formatted over a damaged header: $out"
[ "$(head -c 1M "$IMG" | sha256sum)" = "$before" ] || fail "the damaged header was overwritten"
[ -z "$(attached "$IMG")" ] || fail "the refused provision left $IMG attached"

# a device without a header while the managed key exists (another node's volume, a
# replaced disk): the key is reused, never replaced, so no volume loses its key
dd if=/dev/zero of="$IMG" bs=1M count=17 conv=notrunc status=none
out=$($OM demo/svc/loopcrypt provision --local); rc=$?
[ $rc = 1 ] || fail "provision over a wiped header exit $rc"
echo "$out" | grep -qx "  passphrase of demo/sec/loopcrypt key disk_1_crypt_passphrase reused" ||
        fail "the existing key was not reused: $out"
[ "$($OM demo/sec/loopcrypt decode --key disk_1_crypt_passphrase)" = "$pass" ] ||
        fail "provision over a wiped header replaced the passphrase"
[ "$(head -c 8 "$IMG" | od -An -tx1 | tr -d ' ')" = "4c554b53babe0002" ] || fail "no LUKS2 header after the reformat"

# unprovision of the stopped stack: the loop device comes up for the header erase
out=$($OM demo/svc/loopcrypt unprovision --local); rc=$?
[ $rc = 0 ] || fail "unprovision exit $rc: $out"
echo "$out" | grep -qx "  start disk#0 so that disk#1 can reach its dev" || fail "no start for the erase: $out"
echo "$out" | grep -q "^  erase the LUKS header of /dev/loop[0-9]* (16777216 bytes)$" ||
        fail "no header erase: $out"
echo "$out" | grep -qx "  remove key disk_1_crypt_passphrase from demo/sec/loopcrypt" ||
        fail "no key removal: $out"
[ -z "$($OM demo/sec/loopcrypt keys)" ] || fail "the managed key survived unprovision"
[ -e "$IMG" ] && fail "unprovision left the image"
[ -z "$(attached "$IMG")" ] || fail "unprovision left $IMG attached"

[ $fails = 0 ] && echo "ok" || exit 1
