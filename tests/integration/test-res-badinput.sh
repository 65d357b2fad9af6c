#!/bin/bash
# Bad input gets a clear error and changes nothing (root and loop devices needed, else
# skipped): a size that does not parse (written directly or through a reference), a
# crypt or fs dev that does not exist, a crypt device that already holds a filesystem
# (refused without --force: the filesystem and its data stay, no key is generated), a
# mount point in use, a device reference to a resource that is not up, an unknown
# --rid; and --force formats over a filesystem. Every refusal is checked for its
# message and for what it must not have done.
set -u
OM=${OM_BIN:?}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -w /dev/loop-control ] || { echo "skipped: no /dev/loop-control"; exit 77; }
command -v mkfs.ext4 >/dev/null || { echo "skipped: no e2fsprogs"; exit 77; }

T=$(mktemp -d /tmp/om-res-bad.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=n1 COLUMNS=200
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
loops_over_T() {
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] && case "$(cat "$f")" in "$T"/*) echo "$f" ;; esac
        done
}
create() { # name config-text
        printf '%s\n' "$2" >"$T/$1.conf"
        $OM "demo/svc/$1" create --config="$T/$1.conf" >/dev/null || fail "create $1"
}
# expect_refusal <what> <expected exit> <message regex> <om args...>
expect_refusal() {
        local what=$1 want=$2 re=$3
        shift 3
        out=$($OM "$@" 2>&1)
        rc=$?
        [ "$rc" = "$want" ] || fail "$what: exit $rc, expected $want: $out"
        echo "$out" | grep -Eq -- "$re" || fail "$what: message does not match /$re/: $out"
}

# 1. a size that does not parse
create size1 "[disk#0]
type = loop
file = $T/size1.img
size = 64M"
sed -i 's/^size = 64M$/size = 12XB/' "$T/root/etc/namespaces/demo/svc/size1.conf"
expect_refusal "bad size" 1 "size: value '12XB' is not a size" demo/svc/size1 provision --local
[ -e "$T/size1.img" ] && fail "bad size: the image was created"
create size2 "[DEFAULT]
env = huge
[disk#0]
type = loop
file = $T/size2.img
size = {env}"
expect_refusal "bad size through a reference" 1 "size 'huge' is not a size" \
        demo/svc/size2 provision --local
[ -e "$T/size2.img" ] && fail "bad referenced size: the image was created"

# 2. devices that do not exist
create nodev1 "[disk#0]
type = crypt
dev = /dev/om-no-such-device"
expect_refusal "missing crypt dev" 1 "dev /dev/om-no-such-device does not exist" \
        demo/svc/nodev1 provision --local
[ -n "$($OM demo/sec/nodev1 keys 2>/dev/null)" ] && fail "missing crypt dev: a key was stored"
create nodev2 "[fs#0]
type = ext4
dev = /dev/om-no-such-device
mnt = $T/nodev2"
expect_refusal "missing fs dev" 1 "dev /dev/om-no-such-device does not exist" \
        demo/svc/nodev2 provision --local
[ -e "$T/nodev2" ] && fail "missing fs dev: the mount point was created"

# 3. a crypt device that already holds a filesystem
create data1 "[disk#0]
type = loop
file = $T/data1.img
size = 64M
[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = $T/data1"
$OM demo/svc/data1 provision --local >/dev/null || fail "provision data1"
echo keep >"$T/data1/file"
DEV=$(sed -n 's/.*"sub":\["\([^"]*\)".*/\1/p' <<<"$($OM demo/svc/data1 print devs --format json)")
[ -n "$DEV" ] || fail "no device for data1"
create over "[disk#0]
type = crypt
dev = $DEV"
expect_refusal "crypt over ext4" 1 \
        "$DEV already holds a ext4 signature: refusing to format it \(use --force to overwrite\)" \
        demo/svc/over provision --local
[ -n "$($OM demo/sec/over keys 2>/dev/null)" ] && fail "crypt over ext4: a key was stored"
[ "$(cat "$T/data1/file")" = keep ] || fail "crypt over ext4: the data is gone"
$OM demo/svc/data1 stop --local >/dev/null || fail "stop data1"
$OM demo/svc/data1 start --local >/dev/null || fail "data1 does not start again"
[ "$(cat "$T/data1/file" 2>/dev/null)" = keep ] || fail "crypt over ext4: the filesystem is damaged"

# 4. a mount point in use
mkdir -p "$T/busy"
mount -t tmpfs omtest "$T/busy" || fail "mount tmpfs"
create busy "[disk#0]
type = loop
file = $T/busy.img
size = 64M
[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = $T/busy"
expect_refusal "mount point in use" 1 "mount point $T/busy is in use by omtest" \
        demo/svc/busy provision --local
[ -e "$T/busy.img" ] && fail "mount point in use: the image was created"
loops_over_T | grep -q busy && fail "mount point in use: a loop device was attached"
umount "$T/busy"

# 5. a reference to a resource that is not up
$OM demo/svc/data1 stop --local >/dev/null || fail "stop data1"
expect_refusal "reference to a resource not up" 1 \
        "reference \{disk#0.exposed_devs\[0\]\}: disk#0 is not up" \
        demo/svc/data1 start --local --rid fs#0
loops_over_T | grep -q data1 && fail "reference not up: a loop device was attached"
grep -q " $T/data1 " /proc/self/mounts && fail "reference not up: something was mounted"

# 6. unknown resource ids and actions
expect_refusal "unknown rid" 2 "demo/svc/data1 has no resource matching --rid disk#9" \
        demo/svc/data1 start --local --rid disk#9
expect_refusal "purge --rid" 2 "unknown option '--rid'" demo/svc/data1 purge --local --rid disk#0
expect_refusal "bad --waitlock" 2 "is not a duration" demo/svc/data1 start --local --waitlock=soon

# 7. ... and --force formats it anyway (then activation fails here without device-mapper)
if ! grep -q device-mapper /proc/misc 2>/dev/null; then
        $OM demo/svc/data1 start --local --rid disk#0 >/dev/null || fail "start data1 disk#0"
        DEV=$(sed -n 's/.*"exposed":\["\([^"]*\)".*/\1/p' <<<"$($OM demo/svc/data1 print devs --format json)")
        sed -i "s|^dev = .*|dev = $DEV|" "$T/root/etc/namespaces/demo/svc/over.conf"
        out=$($OM demo/svc/over provision --local --force); rc=$?
        [ "$rc" = 1 ] || fail "forced crypt over ext4: exit $rc"
        echo "$out" | grep -q "cryptsetup luksFormat $DEV" || fail "forced crypt over ext4 did not format: $out"
        [ "$(head -c 6 "$T/data1.img" | od -An -tx1 | tr -d ' ')" = "4c554b53babe" ] ||
                fail "forced crypt over ext4: no LUKS header"
        [ "$($OM demo/sec/over keys)" = disk_0_crypt_passphrase ] || fail "forced: no key stored"
        $OM demo/svc/data1 stop --local --rid disk#0 >/dev/null || fail "stop data1 disk#0"
fi

[ "$(loops_over_T)" = "" ] || fail "loop devices left: $(loops_over_T)"
[ $fails = 0 ] && echo "ok" || exit 1
