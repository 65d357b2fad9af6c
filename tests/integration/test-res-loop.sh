#!/bin/bash
# A loop + ext4 service end to end on real loop devices (root needed, else skipped):
# print status before provision, provision (the reference's terminal block), status up,
# print devs (text and json), data survives stop/start, the object log's first line,
# the cached status for the agent, a failed start in the middle (bad mnt_opt) rolls back,
# unprovision removes the image; one action per object at a time (an app service holds
# the lock: a second action fails naming the holder, or waits for it); without --local
# the command says no daemon answers.
set -u
OM=${OM_BIN:?}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -w /dev/loop-control ] || { echo "skipped: no /dev/loop-control"; exit 77; }
command -v mkfs.ext4 >/dev/null && command -v e2fsck >/dev/null ||
        { echo "skipped: no e2fsprogs"; exit 77; }

T=$(mktemp -d /tmp/om-res-loop.XXXXXX)
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
expect_eq() { # what got want
        if [ "$2" != "$3" ]; then
                fail "$1"
                diff <(echo "$3") <(echo "$2") | head -20
        fi
}
attached() { # file -> prints /dev/loopN when attached
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] && [ "$(cat "$f")" = "$1" ] && { d=${f#/sys/block/}; echo "/dev/${d%%/*}"; }
        done
}

IMG=$T/img/svc1.demo.svc.default.img
MNT=$T/srv/svc1
cat >"$T/svc1.conf" <<EOF
[disk#0]
type = loop
file = $T/img/{fqdn}.img
size = 64M

[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = $T/srv/{svcname}
EOF
$OM demo/svc/svc1 create --config="$T/svc1.conf" >/dev/null || fail create

out=$($OM demo/svc/svc1 print status -r)
expect_eq "status before provision" "$out" "demo/svc/svc1                    down
\`- instances
   \`- n1                         down       not provisioned, idle
      |- disk#0         .....P.. down       loop $IMG
      \`- fs#0           ...../.. down       ext4 {disk#0.exposed_devs[0]}@$MNT
                                            info: dev is not defined"

# without --local: no daemon
out=$($OM demo/svc/svc1 start 2>&1); rc=$?
[ $rc = 1 ] || fail "start without --local: exit $rc"
expect_eq "no daemon message" "$out" \
        "om: no daemon answers at $T/root/run/api.sock; use --local to run the action on this node"
[ -e "$IMG" ] && fail "start without --local touched the image"

out=$($OM demo/svc/svc1 provision --local); rc=$?
[ $rc = 0 ] || fail "provision exit $rc"
DEV=$(attached "$IMG")
[ -n "$DEV" ] || fail "no loop device over $IMG after provision"
blocks=$(echo "$out" | grep '^  | ')
expect_eq "provision block" "$out" "@ n:n1 o:demo/svc/svc1 r:disk#0 sc:n
  create directory $T/img
  create file $IMG, size 67108864
  $DEV now loops to $IMG
@ n:n1 o:demo/svc/svc1 r:fs#0 sc:n
  $MNT mount point created
  $DEV is not formatted
  mkfs.ext4 -F -q $DEV
  e2fsck -p $DEV
$blocks
  mount -t ext4 $DEV $MNT"
echo "$blocks" | grep -q "^  | $DEV: clean, " || fail "e2fsck output not captured: $blocks"
[ "$(stat -c %b "$IMG")" -lt 131072 ] || fail "the image is not sparse"

out=$($OM demo/svc/svc1 print status)
expect_eq "status up" "$out" "demo/svc/svc1                    up
\`- instances
   \`- n1                         up         idle, started
      |- disk#0         ........ up         loop $IMG
      \`- fs#0           ........ up         ext4 $DEV@$MNT"
grep -q '^avail = up$' "$T/root/var/namespaces/demo/svc/svc1/status" || fail "cached status not up"

out=$($OM demo/svc/svc1 print devs)
BASE=$($OM demo/svc/svc1 print devs --format json | sed -n 's/.*"base":\["\([^"]*\)".*/\1/p' | head -1)
if [ -n "$BASE" ]; then
        expect_eq "print devs" "$out" "demo/svc/svc1
|- disk#0 (disk.loop)
|  |- base
|  |  \`- $BASE
|  \`- exposed
|     \`- $DEV
\`- fs#0 (fs)
   |- base
   |  \`- $BASE
   \`- sub
      \`- $DEV"
        expect_eq "print devs json" "$($OM demo/svc/svc1 print devs --format json)" \
                "{\"disk#0\":{\"base\":[\"$BASE\"],\"exposed\":[\"$DEV\"],\"type\":\"disk.loop\"},\"fs#0\":{\"base\":[\"$BASE\"],\"sub\":[\"$DEV\"],\"type\":\"fs\"}}"
else
        echo "note: $T is on no block device (tmpfs?): base devices not checked"
fi
$OM demo/svc/svc1 print status --format json | grep -q '"avail":"up"' || fail "json status"

echo "payload $$" >"$MNT/data"
out=$($OM demo/svc/svc1 stop --local); rc=$?
[ $rc = 0 ] || fail "stop exit $rc"
expect_eq "stop block" "$out" "@ n:n1 o:demo/svc/svc1 r:fs#0 sc:n
  umount $MNT
@ n:n1 o:demo/svc/svc1 r:disk#0 sc:n
  /sbin/losetup -d $DEV"
[ -z "$(attached "$IMG")" ] || fail "loop still attached after stop"
$OM demo/svc/svc1 print status | grep -q "^demo/svc/svc1                    down$" || fail "status not down"
grep -q '^avail = down$' "$T/root/var/namespaces/demo/svc/svc1/status" || fail "cached status not down"

$OM demo/svc/svc1 start --local >/dev/null || fail "start"
[ "$(cat "$MNT/data" 2>/dev/null)" = "payload $$" ] || fail "the file did not come back"
out=$($OM demo/svc/svc1 start --local); rc=$?
[ $rc = 0 ] || fail "start of a started service: exit $rc"
echo "$out" | grep -q "is already mounted" || fail "second start: $out"

# the object log: the reference line format, first line of an action
LOG=$T/root/log/namespaces/demo/svc/svc1.log
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8},[0-9]{3} INFO sid:[0-9a-f-]{36} n:n1 o:demo/svc/svc1 sc:n \| do provision --local \(user origin\)$' "$LOG" ||
        fail "no 'do provision' line in the object log"
grep -Eq " r:fs#0 sc:n \| \| $DEV: clean, " "$LOG" || fail "e2fsck output not in the object log"

# a failed start in the middle rolls back what it started
$OM demo/svc/svc1 stop --local >/dev/null || fail "stop before bad mnt_opt"
sed -i "s|^mnt = .*|&\nmnt_opt = no_such_option_om|" "$T/root/etc/namespaces/demo/svc/svc1.conf"
out=$($OM demo/svc/svc1 start --local); rc=$?
[ $rc = 1 ] || fail "start with a bad mnt_opt: exit $rc"
echo "$out" | grep -q "^E mount .* failed" || fail "no mount error shown: $out"
echo "$out" | grep -q "rollback start" || fail "no rollback shown: $out"
[ -z "$(attached "$IMG")" ] || fail "rollback left the loop device attached"
grep -q " $MNT " /proc/self/mounts && fail "rollback left $MNT mounted"
sed -i "/^mnt_opt = /d" "$T/root/etc/namespaces/demo/svc/svc1.conf"
$OM demo/svc/svc1 start --local >/dev/null || fail "start after fixing mnt_opt"
[ "$(cat "$MNT/data" 2>/dev/null)" = "payload $$" ] || fail "the file is gone after the failed start"

# unprovision removes the image
out=$($OM demo/svc/svc1 unprovision --local); rc=$?
[ $rc = 0 ] || fail "unprovision exit $rc: $out"
[ -e "$IMG" ] && fail "unprovision left the image"
[ -z "$(attached "$IMG")" ] || fail "unprovision left the loop device attached"
$OM demo/svc/svc1 print status | grep -q "down       not provisioned, idle" || fail "status after unprovision"

# the same with xfs (no fsck before mount)
if command -v mkfs.xfs >/dev/null; then
        cat >"$T/xfs1.conf" <<EOF
[disk#0]
type = loop
file = $T/img/xfs1.img
size = 512M

[fs#0]
type = xfs
dev = {disk#0.exposed_devs[0]}
mnt = $T/srv/xfs1
EOF
        $OM demo/svc/xfs1 create --config="$T/xfs1.conf" >/dev/null || fail "create xfs1"
        out=$($OM demo/svc/xfs1 provision --local); rc=$?
        [ $rc = 0 ] || fail "xfs provision exit $rc: $out"
        XDEV=$(attached "$T/img/xfs1.img")
        echo "$out" | grep -qx "  mkfs.xfs -f -q $XDEV" || fail "no mkfs.xfs line: $out"
        echo "$out" | grep -qx "  mount -t xfs $XDEV $T/srv/xfs1" || fail "no xfs mount line: $out"
        echo "$out" | grep -q e2fsck && fail "e2fsck ran on xfs"
        echo xfsdata >"$T/srv/xfs1/f"
        $OM demo/svc/xfs1 stop --local >/dev/null || fail "xfs stop"
        $OM demo/svc/xfs1 print status | grep -q '^demo/svc/xfs1                    down$' ||
                fail "xfs status after stop"
        $OM demo/svc/xfs1 start --local >/dev/null || fail "xfs start"
        [ "$(cat "$T/srv/xfs1/f" 2>/dev/null)" = xfsdata ] || fail "xfs data lost"
        $OM demo/svc/xfs1 unprovision --local >/dev/null || fail "xfs unprovision"
        [ -e "$T/img/xfs1.img" ] && fail "xfs unprovision left the image"
else
        echo "note: no mkfs.xfs, xfs not checked"
fi

# one action per object at a time
cat >"$T/app.conf" <<EOF
[app#0]
start = sh -c "touch $T/app.starting; sleep 3; touch $T/app.up"
stop = rm -f $T/app.up
check = test -f $T/app.up
EOF
$OM demo/svc/app1 create --config="$T/app.conf" >/dev/null || fail "create app1"
$OM demo/svc/app1 start --local >/dev/null &
bg=$!
# the start command runs, so the start holds the object's lock (for 3s more)
for _ in $(seq 1 200); do [ -e "$T/app.starting" ] && break; sleep 0.05; done
[ -e "$T/app.starting" ] || fail "the background start did not run its command"
out=$($OM demo/svc/app1 stop --local --waitlock=0 2>&1); rc=$?
[ $rc = 1 ] || fail "a second action did not fail: exit $rc"
echo "$out" | grep -q "action start pid $bg holds the lock" || fail "lock holder not named: $out"
out=$($OM demo/svc/app1 stop --local 2>&1); rc=$?
[ $rc = 0 ] || fail "waiting stop: exit $rc: $out"
echo "$out" | grep -q "waiting for action start pid $bg to finish" || fail "no wait message: $out"
wait $bg || fail "the background start failed"
[ -e "$T/app.up" ] && fail "the stop that waited did not run after the start"
$OM demo/svc/app1 print status | grep -qF '`- app#0          ........ down       app sh -c' || fail "app status"

# purge deletes the object
$OM demo/svc/app1 purge --local >/dev/null || fail purge
$OM demo/svc/app1 print status >/dev/null 2>&1 && fail "app1 still exists after purge"

[ $fails = 0 ] && echo "ok" || exit 1
