#!/bin/bash
# The disk heartbeat (`[hb#2] type = disk`), two agents in a network namespace of the
# test's own sharing one file as the heartbeat device, an HA app service on n1, quorum
# off (two nodes, no arbitrator: a node alone takes over what a node it sees down ran):
# 1. both streams carry beats: `om mon` shows net+disk; each node wrote its slot
#    (block 1 + its index) and nothing else of the device, block 0 untouched.
# 2. the network between the nodes is cut (nftables) while the disk beats go on: n2 still
#    sees n1 up, shown "disk (net down)" in `om mon` and node ls, and takes nothing over
#    for three timeouts (timeouts of 2 s: an O_DSYNC write on a loaded shared machine
#    may take a second).
# 3. n1's agent is frozen too (SIGSTOP: silent on every heartbeat): n2 takes over.
# 4. control, same cluster without the disk stream: the same network cut makes n2 take
#    over, so what kept the service in place in 2 is the disk heartbeat.
# Then a garbage device: an agent whose slot holds foreign data refuses to write it.
set -u
ADDR_BASE=190
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-netns.lib"
NNODES=2
. "$(dirname "$0")/test-orch.lib"
trap 'cleanup; ns_cleanup' EXIT

DEV="$T/hbdev"
A1=$(addr 1) A2=$(addr 2)

# conf_disk: write_conf's file plus the disk stream
conf_disk() {
        local k
        for k in 1 2; do
                printf '\n[hb#2]\ntype = disk\ndev = %s\ninterval = 250ms\ntimeout = 2s\n' "$DEV" \
                        >>"$T/n$k/etc/cluster.conf"
        done
}
mon_hb() { # mon_hb K NODE: the heartbeats NODE is heard on, as agent K shows them
        on "$1" mon --format json | jq -r ".nodes.\"$2\".heartbeats"
}
# wait_hb K NODE WANT: until agent K shows NODE heard on WANT (10 s at most)
wait_hb() {
        local i v
        for i in $(seq 1 500); do
                v=$(mon_hb "$1" "$2")
                [ "$v" = "$3" ] && return 0
                sleep 0.02
        done
        fail "n$1 shows $2 heard on '$v', not '$3': $(on "$1" daemon status)"
}
stop_all() {
        local k
        for k in "${!PIDS[@]}"; do
                kill -CONT "${PIDS[$k]}" 2>/dev/null
                kill -9 "${PIDS[$k]}" 2>/dev/null
        done
        wait "${PIDS[@]}" 2>/dev/null
        PIDS=()
}

# ---- 1. both streams
truncate -s 1M "$DEV"
write_conf 2 250ms 2s
conf_disk
svc_conf web "n1 n2" "orchestrate = ha"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running web n1 10 >/dev/null
wait_hb 2 n1 "net+disk"
wait_hb 1 n2 "net+disk"
on 2 mon | grep -E "^ heartbeats +\| net\+disk +-$" >/dev/null ||
        fail "om mon on n2 has no heartbeats row: $(on 2 mon)"
st=$(on 1 daemon status --format json)
[ "$(echo "$st" | jq -r '.hb[1].type')" = disk ] || fail "hb#2 is not a disk stream: $st"
[ "$(echo "$st" | jq -r '.hb[1].error')" = "" ] || fail "hb#2 error: $(echo "$st" | jq -r '.hb[1].error')"
[ "$(echo "$st" | jq '.hb[1].io.writes')" -gt 0 ] || fail "n1 wrote no beat"
[ "$(echo "$st" | jq '.hb[1].rx.frames')" -gt 0 ] || fail "n1 read no beat of n2"
# the layout: block 0 blank, n1 in block 1, n2 in block 2, the rest blank
[ "$(head -c 4096 "$DEV" | tr -d '\0' | wc -c)" = 0 ] || fail "block 0 was written"
for b in 1 2; do
        [ "$(dd if="$DEV" bs=4096 skip=$b count=1 status=none | head -c 8)" = OMDSKHB1 ] ||
                fail "block $b does not hold a slot"
done
[ "$(tail -c +$((3 * 4096 + 1)) "$DEV" | tr -d '\0' | wc -c)" = 0 ] || fail "written past the slots"
echo "ok: both streams up; slots in blocks 1 and 2, nothing else written"

# ---- 2. network cut, disk beats on: nothing moves
mark=$(wc -l <"$T/n2/log/daemon.log")
ns_cut "$A1" "$A2" || fail "nft rules refused"
echo "network cut n1 | n2"
wait_hb 2 n1 "disk (net down)"
wait_hb 1 n2 "disk (net down)"
on 2 mon | grep -E "^ heartbeats +\| disk \(net down\) +-$" >/dev/null ||
        fail "om mon on n2 does not show disk (net down): $(on 2 mon)"
sleep 6 # three timeouts
[ "$(node_state 2 n1)" = up ] || fail "n2 sees n1 $(node_state 2 n1) with its disk beats going on"
[ "$(running web)" = n1 ] || fail "web runs on '$(running web)' during the cut, not n1 alone"
tail -n +$((mark + 1)) "$T/n2/log/daemon.log" | grep -E "node n1 .*=> down" &&
        fail "n2 judged n1 down"
echo "ok: 6s into the cut n1 is up on n2 through the disk, web still on n1 alone" \
        "($(tail -n +$((mark + 1)) "$T/n2/log/daemon.log" | grep -c "node n1 up => suspect") times suspect)"

# ---- 3. n1 silent on every stream: takeover
kill -STOP "${PIDS[1]}"
ms=$(wait_running web "n1 n2" 10) || exit 1 # n1's marker stays: its agent is frozen
echo "ok: n1 frozen (no beat on any stream): n2 took over in ${ms}ms"
n=$(check_double_starts)
stop_all
ns_heal

# ---- 4. control: no disk stream, the same cut moves the service
rm -rf "$T"/n1 "$T"/n2
: >"$EVENTS"
write_conf 2 250ms 2s
svc_conf web "n1 n2" "orchestrate = ha"
for k in 1 2; do start_agent $k; done
wait_agents_up 1 2
wait_running web n1 10 >/dev/null
ns_cut "$A1" "$A2" || fail "nft rules refused"
ms=$(wait_running web "n1 n2" 10) || exit 1
echo "control: without the disk stream, the cut alone made n2 take over in ${ms}ms"
stop_all
ns_heal

# ---- a device holding other data: never written
rm -rf "$T"/n1 "$T"/n2
head -c $((4 * 4096)) /dev/urandom >"$DEV"
cp "$DEV" "$T/hbdev.orig"
write_conf 2 250ms 2s
conf_disk
start_agent 1
wait_api 1
until_ok 10 "n1 reports the foreign slot" \
        grep -q "block 1 (this node's slot) holds data that is not a disk heartbeat slot" \
        "$T/n1/log/daemon.log"
sleep 0.5
cmp -s "$DEV" "$T/hbdev.orig" || fail "n1 wrote to a device holding other data"
on 1 daemon status | grep -q "error   .*not a disk heartbeat slot" ||
        fail "daemon status does not show the error"
echo "ok: a slot holding other data is not written, the error is logged and shown"
