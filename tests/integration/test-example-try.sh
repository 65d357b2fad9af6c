#!/usr/bin/env bash
# deploy/examples/loopback-try.conf, the example the README tries om with: created and
# provisioned --local under an OM_ROOT, it writes nothing outside OM_ROOT (its image and
# mount point are under {var}); unprovision --local then removes the image. On a kernel
# without device-mapper the provision fails at the LUKS open and rolls back: the image
# is still made, under OM_ROOT, and the failure says how to remove it.
set -uo pipefail
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_SRC=${OM_SRC:-$(dirname "$0")/../..}
[ -x "$OM_BIN" ] || { echo "skip: no om binary at $OM_BIN"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root (loop devices)"; exit 77; }
command -v losetup >/dev/null || { echo "skip: losetup missing"; exit 77; }

T=$(mktemp -d /tmp/om-example-try.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=demo1
OM="$OM_BIN"
cleanup() {
        "$OM" demo/svc/loopcrypt unprovision --local >/dev/null 2>&1
        rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$OM" demo/svc/loopcrypt create --config="$OM_SRC/deploy/examples/loopback-try.conf" >/dev/null ||
        fail "create from loopback-try.conf"
img=$("$OM" demo/svc/loopcrypt get --kw disk#0.file --eval)
mnt=$("$OM" demo/svc/loopcrypt get --kw fs#0.mnt --eval)
[ "$img" = "$OM_ROOT/var/loopcrypt.demo.svc.default.img" ] || fail "the image is $img"
[ "$mnt" = "$OM_ROOT/var/srv/loopcrypt" ] || fail "the mount point is $mnt"

# every file the provision writes is under OM_ROOT: nothing newer than the marker
# elsewhere in the places an action writes to (besides /dev, /sys, /proc, /run's loop
# and udev state, which are the kernel's)
touch "$T/marker"
sleep 1
out=$("$OM" demo/svc/loopcrypt provision --local 2>"$T/err")
rc=$?
[ -f "$img" ] || fail "no image at $img after the provision (rc $rc): $out $(cat "$T/err")"
outside=$(find /opt /srv /var/lib/om /etc/om /var/log/om -newer "$T/marker" 2>/dev/null | head -5)
[ -z "$outside" ] || fail "the provision wrote outside OM_ROOT: $outside"
if [ "$rc" = 1 ]; then
        grep -qF "to remove them: om demo/svc/loopcrypt unprovision --local" "$T/err" ||
                fail "the failed provision does not say how to remove what it left: $(cat "$T/err")"
elif [ "$rc" != 0 ]; then
        fail "provision exited $rc: $(cat "$T/err")"
fi
"$OM" demo/svc/loopcrypt unprovision --local >/dev/null 2>&1 || fail "unprovision --local exited $?"
[ ! -e "$img" ] || fail "unprovision left $img"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok: loopback-try.conf keeps its image and mount point under OM_ROOT (provision exit $rc)"
