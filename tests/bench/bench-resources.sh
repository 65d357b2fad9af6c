#!/bin/bash
# Medians of the resources module's costs, printed as a table:
# `om <path> print status` of the reference loopback service (budget: under 10 ms), and
# provision, start and stop of a loop + ext4 service. Needs root and loop devices for
# the action rows (they are skipped otherwise). Reports, never asserts.
#   usage: bench-resources.sh [runs]    (OM_BIN defaults to build/om)
set -u
RUNS=${1:-21}
HERE=$(cd "$(dirname "$0")" && pwd)
OM=${OM_BIN:-$HERE/../../build/om}
[ -x "$OM" ] || { echo "no om binary at $OM (build first or set OM_BIN)"; exit 1; }

T=$(mktemp -d /tmp/om-bench-res.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=bench COLUMNS=120
cleanup() {
        grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount "$m"; done
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] || continue
                case "$(cat "$f")" in "$T"/*) d=${f#/sys/block/}; losetup -d "/dev/${d%%/*}" ;; esac
        done
        rm -rf "$T"
}
trap cleanup EXIT

# microseconds, read without forking (bash 5's EPOCHREALTIME)
now_us() { NOW_US=${EPOCHREALTIME/[.,]/}; }
ms_since() { echo "scale=3; ($NOW_US - $1) / 1000" | bc; }
# median of the numbers on stdin (milliseconds with 2 decimals)
median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
# time_cmd <runs> <command...>: prints one duration (ms) per run
time_cmd() {
        local n=$1
        shift
        for _ in $(seq "$n"); do
                local t0
                now_us
                t0=$NOW_US
                "$@" >/dev/null 2>&1
                now_us
                ms_since "$t0"
        done
}

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
"$OM" demo/svc/loopcrypt create --config="$T/loopback.conf" >/dev/null

printf '%-52s %10s %8s\n' "measure" "median ms" "runs"
st=$(time_cmd "$RUNS" "$OM" demo/svc/loopcrypt print status | median)
printf '%-52s %10s %8s\n' "print status, reference loopback (not provisioned)" "$st" "$RUNS"
st=$(time_cmd "$RUNS" "$OM" demo/svc/loopcrypt print config | median)
printf '%-52s %10s %8s\n' "(baseline: print config, same object)" "$st" "$RUNS"

if [ "$(id -u)" != 0 ] || [ ! -w /dev/loop-control ] || ! command -v mkfs.ext4 >/dev/null; then
        echo "(action rows skipped: they need root, loop devices and e2fsprogs)"
        exit 0
fi
# the loopback service up to its disks (crypt activation needs device-mapper)
"$OM" demo/svc/loopcrypt start --local --rid disk#0 >/dev/null 2>&1
st=$(time_cmd "$RUNS" "$OM" demo/svc/loopcrypt print status | median)
printf '%-52s %10s %8s\n' "print status, reference loopback (loop up)" "$st" "$RUNS"
"$OM" demo/svc/loopcrypt stop --local --rid disk#0 >/dev/null 2>&1

ARUNS=$(( RUNS < 7 ? RUNS : 7 ))
prov=() ; start=() ; stop=() ; status_up=()
for i in $(seq "$ARUNS"); do
        cat >"$T/le$i.conf" <<EOF
[disk#0]
type = loop
file = $T/le$i.img
size = 128M
[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = $T/le$i
EOF
        "$OM" demo/svc/le$i create --config="$T/le$i.conf" >/dev/null
        now_us; t0=$NOW_US; "$OM" demo/svc/le$i provision --local >/dev/null; now_us
        prov+=("$(ms_since "$t0")")
        status_up+=("$(time_cmd 1 "$OM" demo/svc/le$i print status)")
        now_us; t0=$NOW_US; "$OM" demo/svc/le$i stop --local >/dev/null; now_us
        stop+=("$(ms_since "$t0")")
        now_us; t0=$NOW_US; "$OM" demo/svc/le$i start --local >/dev/null; now_us
        start+=("$(ms_since "$t0")")
        "$OM" demo/svc/le$i unprovision --local >/dev/null
done
printf '%-52s %10s %8s\n' "print status, loop + ext4 (up)" \
        "$(printf '%s\n' "${status_up[@]}" | median)" "$ARUNS"
printf '%-52s %10s %8s\n' "provision --local, loop + ext4 128M (mkfs)" \
        "$(printf '%s\n' "${prov[@]}" | median)" "$ARUNS"
printf '%-52s %10s %8s\n' "start --local, loop + ext4 (e2fsck, mount)" \
        "$(printf '%s\n' "${start[@]}" | median)" "$ARUNS"
printf '%-52s %10s %8s\n' "stop --local, loop + ext4 (umount, detach)" \
        "$(printf '%s\n' "${stop[@]}" | median)" "$ARUNS"
