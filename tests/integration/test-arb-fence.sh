#!/bin/bash
# The arbitrator's fence marks (cluster/arb_fence.h) through the path DRBD takes, on
# loopback: two agents n1 and n2 with an arbitrator (reached through a recording UDP
# relay), and in each node's <var>/drbd the link om-drbd-helper and an om resource
# file, as disk.drbd leaves them; the test calls the link as the kernel does
# (`om-drbd-helper fence-peer r0`, `om-drbd-helper after-resync-target minor-0`). The
# host has no DRBD: a node reads as not Primary.
# - n1 fences n2: exit 4 (DRBD resumes), the arbitrator holds "r0: n2 outdated by n1",
#   n1 keeps the peer's name in r0.fenced-peer, the object log says so;
# - n2 then asks to fence n1 (its promotion): exit 6 (DRBD outdates n2's replica), the
#   reason in r0.outdated, the object log and n2's daemon log name n1 and the time;
# - a recorded fence request replayed, and one whose sealed header was changed, are
#   dropped and counted (replay, bad_tag);
# - the arbitrator restarted: the mark is still there, n2 is still refused;
# - a marks file that does not parse stops the arbitrator from starting, naming the
#   file and line; a torn last line too;
# - n2 resynchronized (after-resync-target): the mark is cleared, r0.outdated removed;
#   n2 may now fence n1 (exit 4).
set -u
command -v python3 >/dev/null || { echo "skip: needs python3 for the recording relay"; exit 77; }
command -v jq >/dev/null || { echo "skip: needs jq"; exit 77; }
ADDR_BASE=100
. "$(dirname "$0")/test-agent.lib"
NS=
. "$(dirname "$0")/test-arb.lib"
arb_start_host() {
        [ -f "$T/arb/etc/arbitrator.conf" ] || arb_conf
        OM_ROOT="$T/arb" OM_NODENAME=arb "$OM_BIN" arbitrator run >>"$T/arb.out" 2>&1 &
        ARB_PID=$!
        until_ok 10 "the arbitrator answers its status" arb status
}
RELAY_PID=
trap '[ -n "$RELAY_PID" ] && kill $RELAY_PID 2>/dev/null; arb_stop; cleanup' EXIT

arb_conf
arb_start_host
RELAY=$(addr 8)
RELAY_PORT=$((ARB_PORT + 1))
python3 -u -c "
import socket, select
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('$RELAY', $RELAY_PORT))
b = {}
rec = open('$T/recorded', 'w')
while True:
    r, _, _ = select.select([a] + list(b.values()), [], [])
    for s in r:
        if s is a:
            d, client = a.recvfrom(65536)
            if client not in b:
                b[client] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                b[client].bind(('$RELAY', 0))
            rec.write(d.hex() + '\n'); rec.flush()
            b[client].sendto(d, ('$ARB', $ARB_PORT))
        else:
            d, _ = s.recvfrom(65536)
            for c, x in b.items():
                if x is s: a.sendto(d, c)
" </dev/null >/dev/null 2>&1 &
RELAY_PID=$!
write_conf 2 200ms 2s
for k in 1 2; do
        printf '\n[arbitrator#1]\nuri = om://%s:%s\n' "$RELAY" "$RELAY_PORT" >>"$T/n$k/etc/cluster.conf"
        start_agent "$k"
done
wait_api 1
wait_api 2

# what disk.drbd leaves in <var>/drbd: the helper link, the node name and root, the file
for k in 1 2; do
        d="$T/n$k/var/drbd"
        mkdir -p "$d"
        ln -sf "$OM_BIN" "$d/om-drbd-helper"
        printf 'n%s' "$k" >"$d/node"
        printf '%s' "$T/n$k" >"$d/root"
        cat >"$d/r0.res" <<EOF
# written by om for demo/svc/x disk#1: om rewrites it at every provision and start
resource r0 {
    device /dev/drbd0;
    disk /dev/loop9;
    meta-disk internal;
    on n1 {
        address ipv4 $(addr 1):7790;
    }
    on n2 {
        address ipv4 $(addr 2):7790;
    }
}
EOF
done
# helper K ARGS...: the link called as the kernel calls it (no environment of om)
helper() {
        local k=$1
        shift
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$T/n$k/var/drbd/om-drbd-helper" "$@"
}
marks() { arb status --format json | jq -r '[.clusters[0].marks[] | "\(.res) \(.outdated) \(.by)"] | join(",")'; }
objlog() { cat "$T/n$1/log/namespaces/demo/svc/x.log" 2>/dev/null; }

# ---- n1 loses n2 while Primary: the mark is set
helper 1 fence-peer r0
rc=$?
[ "$rc" = 4 ] || fail "n1's fence-peer exited $rc, want 4: $(objlog 1)"
[ "$(marks)" = "r0 n2 n1" ] || fail "the arbitrator's marks: '$(marks)'"
[ "$(cat "$T/n1/var/drbd/r0.fenced-peer")" = n2 ] || fail "n1 did not record the peer it fenced"
objlog 1 | grep -q "fence-peer r0: n2's replica marked outdated by n1 at .* (arbitrator arb): this node writes without it" ||
        fail "n1's object log: $(objlog 1)"
echo "ok: n1 fenced n2 (exit 4), the arbitrator holds the mark"

# again (a second loss of the same peer): kept, still exit 4
helper 1 fence-peer r0 || [ $? = 4 ] || fail "n1's second fence-peer"
[ "$(marks)" = "r0 n2 n1" ] || fail "the marks after a second fence: '$(marks)'"

# ---- n2 is promoted without n1: refused
helper 2 fence-peer r0
rc=$?
[ "$rc" = 6 ] || fail "n2's fence-peer exited $rc, want 6 (outdate myself)"
read -r by at <"$T/n2/var/drbd/r0.outdated" || fail "no r0.outdated on n2"
[ "$by" = n1 ] && [ "$at" -gt 0 ] || fail "r0.outdated on n2: $by $at"
objlog 2 | grep -q "fence-peer r0: n2's replica was outdated by n1 at .* UTC (arbitrator arb): start refused" ||
        fail "n2's object log: $(objlog 2)"
grep -q "drbd r0: n2's replica was outdated by n1 at .*: n2 may not write without n1" "$T/n2/log/daemon.log" ||
        fail "n2's daemon log does not say why"
[ ! -e "$T/n2/var/drbd/r0.fenced-peer" ] || fail "n2 recorded a fence it did not get"
[ "$(marks)" = "r0 n2 n1" ] || fail "the refused fence changed the marks: '$(marks)'"
echo "ok: n2's fence refused (exit 6), the reason names n1 and the time"

# ---- a recorded fence request replayed, one with its sealed header changed
drops() { arb status --format json | jq -r "$1"; }
send() {
        python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$RELAY', 0))
s.sendto(bytes.fromhex(sys.argv[1]), ('$ARB', $ARB_PORT))" "$1"
}
# the frame's type (byte 5 of the header) is 7 for a fence request
fence_req=
while read -r d; do
        nlen=$((16#${d:0:2}))
        [ "${d:$(((1 + nlen + 5) * 2)):2}" = 07 ] && fence_req=$d
done <"$T/recorded"
[ -n "$fence_req" ] || fail "no fence request recorded"
hdr=$((1 + 16#${fence_req:0:2}))
r0=$(drops '.clusters[0].drops.replay')
send "$fence_req"
until_ok 5 "the replayed fence request is counted" is "drops '.clusters[0].drops.replay'" $((r0 + 1))
off=$(((hdr + 92) * 2))
t0=$(drops '.clusters[0].drops.bad_tag')
send "${fence_req:0:$off}ffffffffffffffff${fence_req:$((off + 16))}"
until_ok 5 "the changed fence request is counted" is "drops '.clusters[0].drops.bad_tag'" $((t0 + 1))
[ "$(marks)" = "r0 n2 n1" ] || fail "a dropped request changed the marks: '$(marks)'"
echo "ok: a replayed and a changed fence request are dropped and counted"

# ---- the arbitrator restarts: the mark is on its disk
arb_stop
grep -q "^mark default r0 n2 n1 [0-9]* [0-9]*$" "$T/arb/var/arbitrator.marks" ||
        fail "the marks file: $(cat "$T/arb/var/arbitrator.marks")"
arb_start_host
[ "$(marks)" = "r0 n2 n1" ] || fail "the marks after a restart: '$(marks)'"
helper 2 fence-peer r0
rc=$?
[ "$rc" = 6 ] || fail "n2's fence-peer after the arbitrator's restart exited $rc, want 6"
echo "ok: the mark survives a restart of the arbitrator"

# ---- a marks file that does not parse: the arbitrator does not start
arb_stop
cp "$T/arb/var/arbitrator.marks" "$T/marks.good"
echo "mark default r0 n2" >>"$T/arb/var/arbitrator.marks"
out=$(timeout 10 env OM_ROOT="$T/arb" OM_NODENAME=arb "$OM_BIN" arbitrator run 2>&1 </dev/null) &&
        fail "the arbitrator started with a bad marks file"
grep -q "arbitrator.marks:4: not a fence mark line" <<<"$out" || fail "the refusal: $out"
printf 'mark default r0 n2 n1 1 1' >"$T/arb/var/arbitrator.marks"
out=$(timeout 10 env OM_ROOT="$T/arb" OM_NODENAME=arb "$OM_BIN" arbitrator run 2>&1 </dev/null) &&
        fail "the arbitrator started with a torn marks file"
grep -q "arbitrator.marks:1: the last line has no end" <<<"$out" || fail "the refusal: $out"
cp "$T/marks.good" "$T/arb/var/arbitrator.marks"
arb_start_host
echo "ok: a marks file that does not parse is refused, naming its line"

# ---- n2 resynchronized: its mark is cleared; it may fence n1 now
helper 2 after-resync-target minor-0 || fail "after-resync-target exited $?"
[ "$(marks)" = "" ] || fail "the mark is still there after the resync: '$(marks)'"
[ ! -e "$T/n2/var/drbd/r0.outdated" ] || fail "r0.outdated is still on n2"
objlog 2 | grep -q "after-resync-target r0: n2's replica is UpToDate again: its mark cleared" ||
        fail "n2's object log: $(objlog 2)"
helper 2 fence-peer r0
rc=$?
[ "$rc" = 4 ] || fail "n2's fence-peer after its resync exited $rc, want 4"
[ "$(marks)" = "r0 n1 n2" ] || fail "the marks: '$(marks)'"
helper 1 fence-peer r0
rc=$?
[ "$rc" = 6 ] || fail "n1's fence-peer exited $rc once n2 marked it, want 6"
arb status
echo "ok: the resynchronized replica's mark is cleared; the roles can swap"
