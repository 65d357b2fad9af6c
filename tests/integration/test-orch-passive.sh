#!/bin/bash
# The passive provision: a node that does not run a failover service while another node
# does provisions it without writing what the running node uses and starts nothing.
#
# Two agents (127.0.0.47-48), a failover service on n1 and n2 with:
#   disk#0 a loop over a file of each node, fs#0 ext4 on it (this node's data only),
#   fs#1 ext4 on a plain device path, a loop device the test binds over one file, so
#   both agents reach the same disk, as two hosts reach a SAN LUN,
#   app#0 whose start appends "start <node>" to an events file.
# `provision --wait` (orchestrated): n1 leads, formats and mounts both filesystems and
# starts the app; n2 is not provisioned (no file for disk#0), so it provisions after n1.
# Checks on n2: the object log says "do provision --local --passive (daemon origin)";
# its own loop file is made and its fs#0 formatted; the shared fs#1 is found, never
# formatted nor mounted there (no mount line in n2's object log); the app never started
# on n2; nothing left up on n2 (its loop detached); n2 provisioned in om mon. Then
# `switch --to n2 --wait` runs the service on n2 from what the passive provision made
# (the file n1 wrote on the shared disk is there).
# By hand on n1 while n2 runs it: start, provision and restart --local are refused
# (naming n2), provision --local --passive goes through and leaves nothing up; once n2's
# agent is dead and judged down, a start by hand on n1 goes through.
# Bad input: `provision --local --passive` on a plain device that holds no filesystem
# fails naming the device and leaves it blank; --passive with start, or without --local,
# is a usage error.
set -u
ADDR_BASE=46
. "$(dirname "$0")/test-agent.lib"
command -v mkfs.ext4 >/dev/null || { echo "skip: mkfs.ext4 is needed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: root is needed (loop devices, mounts)"; exit 77; }
modprobe loop 2>/dev/null || true
[ -e /dev/loop-control ] || { echo "skip: no loop devices"; exit 77; }

# Everything under $T is unmounted and unbound before test-agent.lib removes it.
passive_cleanup() {
        local m f
        for k in "${!PIDS[@]}"; do kill -9 "${PIDS[$k]}" 2>/dev/null; done
        wait 2>/dev/null
        for m in $(awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r); do
                umount -l "$m" 2>/dev/null
        done
        for f in "$T"/shared*.img "$T"/n*/scratch.img; do
                [ -e "$f" ] || continue
                losetup -j "$f" -O NAME -n 2>/dev/null | while read -r l; do losetup -d "$l"; done
        done
        cleanup
}
trap passive_cleanup EXIT

EVENTS="$T/events"
: >"$EVENTS"
truncate -s 64M "$T/shared.img"
SHDEV=$(losetup -f --show "$T/shared.img") || fail "cannot bind the shared disk"
truncate -s 64M "$T/shared-blank.img"
BLANKDEV=$(losetup -f --show "$T/shared-blank.img") || fail "cannot bind the blank disk"

P=root/svc/pas
write_conf 2 200ms 1s
id=$(cat /proc/sys/kernel/random/uuid)
for k in 1 2; do
        mkdir -p "$T/n$k/etc/namespaces/root/svc"
        cat >"$T/n$k/etc/namespaces/root/svc/pas.conf" <<EOF
[DEFAULT]
id = $id
nodes = n1 n2

[disk#0]
type = loop
file = $T/{nodename}/scratch.img
size = 32m

[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = $T/{nodename}/scratch

[fs#1]
type = ext4
dev = $SHDEV
mnt = $T/{nodename}/shared

[app#0]
start = sh -c 'echo \$(date +%s%3N) start \$OM_NODENAME >>$EVENTS; touch \$OM_ROOT/running'
stop = sh -c 'rm -f \$OM_ROOT/running; echo \$(date +%s%3N) stop \$OM_NODENAME >>$EVENTS'
check = sh -c 'test -f \$OM_ROOT/running'
EOF
done
for k in 1 2; do start_agent $k; done
for k in 1 2; do wait_api $k; done
wait_state 1 n2 up 10 >/dev/null
wait_state 2 n1 up 10 >/dev/null

inst() { # inst K NODE FIELD
        on "$1" mon --format json 2>/dev/null |
                jq -r ".objects[\"$P\"].instances[\"$2\"].$3 | if . == null then \"none\" else tostring end"
}

out=$(on 1 pas provision --wait --time 60s 2>&1) || fail "provision --wait: $out"
[ "$(inst 1 n1 avail)" = up ] || fail "n1's instance is $(inst 1 n1 avail) after the provision, not up"
until_ok 10 "n2 provisioned in n1's view" test "$(inst 1 n2 provisioned)" = true
log2="$T/n2/log/namespaces/root/svc/pas.log"
grep -q "do provision --local --passive (daemon origin)" "$log2" ||
        fail "no passive provision in n2's object log: $(grep 'do ' "$log2")"
echo "ok: n2 provisioned after n1, passively"

# what the passive provision made: n2's own data
[ -f "$T/n2/scratch.img" ] || fail "n2's loop file was not made"
grep -q "mkfs.ext4" "$log2" || fail "n2's fs#0 (on its own loop) was not formatted"
# and what it did not touch: the shared disk and the app
grep -q "r:fs#1.*holds the ext4 filesystem that the node running the service made" "$log2" ||
        fail "n2 did not find n1's filesystem on $SHDEV: $(grep 'fs#1' "$log2")"
grep "r:fs#1" "$log2" | grep -q "mkfs\|mount -t" &&
        fail "n2 formatted or mounted the shared disk: $(grep 'r:fs#1' "$log2")"
grep -q "mount -t" "$log2" && fail "n2 mounted a filesystem during its provision: $(grep 'mount -t' "$log2")"
grep -q " start n2$" "$EVENTS" && fail "the app started on n2 while n1 ran it: $(cat "$EVENTS")"
[ -z "$(losetup -j "$T/n2/scratch.img" -O NAME -n)" ] || fail "n2's loop device was left bound"
awk -v t="$T/n2/" 'index($2, t) == 1 { exit 1 }' /proc/self/mounts || fail "a filesystem of n2 is mounted"
[ "$(grep -c "^" <(grep ' start ' "$EVENTS"))" = 1 ] || fail "the app started more than once: $(cat "$EVENTS")"
echo "ok: n2 made its own loop file and filesystem, found n1's filesystem on the shared disk without mounting it, started nothing"

# the service runs on n2 from what the passive provision made
echo "written on n1" >"$T/n1/shared/proof" && sync
out=$(on 1 pas switch --to n2 --wait --time 60s 2>&1) || fail "switch --to n2: $out"
[ "$(inst 1 n2 avail)" = up ] || fail "n2's instance is $(inst 1 n2 avail) after the switch"
[ "$(cat "$T/n2/shared/proof" 2>/dev/null)" = "written on n1" ] || fail "n1's file is not on n2's mount of the shared disk"
mountpoint -q "$T/n2/scratch" || fail "n2's own filesystem is not mounted after the switch"
echo "ok: switch --to n2 runs the service there, n1's file on the shared disk"

# a start or a full provision by hand on n1 while n2 runs it: refused, naming n2; a
# passive provision beside the running node is allowed (it starts nothing)
starts=$(grep -c " start " "$EVENTS")
for a in start provision restart; do
        on 1 pas $a --local >"$T/o" 2>&1 && fail "$a --local on n1 while n2 runs it succeeded"
        grep -q "$P is up on n2 as this node's agent last heard: a failover service runs on one node at a time" "$T/o" ||
                fail "$a --local on n1: $(cat "$T/o")"
done
[ "$(grep -c " start " "$EVENTS")" = "$starts" ] || fail "the app started on n1: $(tail -2 "$EVENTS")"
awk -v t="$T/n1/" 'index($2, t) == 1 { exit 1 }' /proc/self/mounts || fail "a refused action mounted on n1"
out=$(on 1 pas provision --local --passive 2>&1) || fail "provision --local --passive on n1 beside n2: $out"
# a standby start is not checked either (this service has no standby resource: said so)
out=$(on 1 pas start --local --standby 2>&1)
grep -q "has no standby resource" <<<"$out" || fail "start --local --standby on n1 beside n2: $out"
[ "$(inst 1 n2 avail)" = up ] || fail "n2's instance is $(inst 1 n2 avail) after n1's passive provision"
awk -v t="$T/n1/" 'index($2, t) == 1 { exit 1 }' /proc/self/mounts || fail "n1's passive provision left a mount"
echo "ok: start, provision and restart --local on n1 while n2 runs it are refused; a passive provision and a standby start there go through"

# bad input
on 2 pas start --local --passive >"$T/o" 2>&1 && fail "start --passive accepted"
grep -q "passive" "$T/o" || fail "start --passive: no reason: $(cat "$T/o")"
on 2 pas provision --passive >"$T/o" 2>&1 && fail "provision --passive without --local accepted"
grep -q -- "--passive goes with --local" "$T/o" || fail "provision --passive without --local: $(cat "$T/o")"
id2=$(cat /proc/sys/kernel/random/uuid)
cat >"$T/blank.conf" <<EOF
[DEFAULT]
id = $id2
nodes = n1 n2

[fs#0]
type = ext4
dev = $BLANKDEV
mnt = $T/{nodename}/blank
EOF
on 2 root/svc/blank create --config "$T/blank.conf" >/dev/null 2>&1 || fail "cannot create root/svc/blank"
on 2 root/svc/blank provision --local --passive >"$T/o" 2>&1 && fail "a passive provision on a blank shared disk succeeded"
grep -q "$BLANKDEV holds no ext4 filesystem: a passive provision never formats" "$T/o" ||
        fail "the refusal does not name the device and the reason: $(cat "$T/o")"
[ -z "$(blkid -p -o value -s TYPE "$BLANKDEV" 2>/dev/null)" ] || fail "the blank disk was formatted"
echo "ok: a passive provision refuses a blank shared disk and leaves it blank; --passive goes with provision --local only"

# n2's agent dies (its last word: the service up there): once n1's agent judges n2
# down, n2 runs nothing it knows of, and a start by hand on n1 goes through
kill -9 "${PIDS[2]}"
wait "${PIDS[2]}" 2>/dev/null
unset "PIDS[2]"
umount "$T/n2/shared" "$T/n2/scratch" # its mounts die with the node (one host here)
wait_state 1 n2 down 10 >/dev/null
out=$(on 1 pas start --local 2>&1) || fail "start --local on n1 once n2 is down: $out"
mountpoint -q "$T/n1/shared" || fail "n1 did not mount the shared disk"
echo "ok: with n2 down in n1's view, start --local on n1 goes through"
echo PASS
