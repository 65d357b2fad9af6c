#!/bin/bash
# Bad input to and about the arbitrator, on loopback:
# - config: arbitrator.conf with a bad secret, an unknown keyword, no cluster, a
#   missing name is refused by `om arbitrator validate` and `om arbitrator run` with the
#   line; cluster.conf naming a tcp:// arbitrator is refused by the agent before it
#   starts, with a message naming `om arbitrator`;
# - frames: an agent asks the arbitrator through a recording UDP relay; the test then
#   replays a recorded request, sends one with its sequence changed (its seal no longer
#   opens), one for an unknown cluster, garbage, a short and an oversized datagram, and
#   a flood from one source: each is dropped and counted by its reason, and the
#   arbitrator keeps answering the agent.
set -u
command -v python3 >/dev/null || { echo "skip: needs python3 for the recording relay"; exit 77; }
ADDR_BASE=210
. "$(dirname "$0")/test-agent.lib"
NS=
in_ns() { "$@"; } # loopback only: the arbitrator runs on the host's 127.0.0.x
. "$(dirname "$0")/test-arb.lib"
arb_start_host() {
        [ -f "$T/arb/etc/arbitrator.conf" ] || arb_conf
        OM_ROOT="$T/arb" OM_NODENAME=arb "$OM_BIN" arbitrator run >>"$T/arb.out" 2>&1 &
        ARB_PID=$!
        until_ok 10 "the arbitrator answers its status" arb status
}
gt() { [ "$(eval "$1")" -gt "$2" ]; } # for until_ok, which runs it again each time
RELAY_PID=
trap '[ -n "$RELAY_PID" ] && kill $RELAY_PID 2>/dev/null; arb_stop; cleanup' EXIT

# ---- config errors
arb_conf
expect_refused() { # expect_refused WHAT NEEDLE: validate and run both refuse with NEEDLE
        local out
        out=$(arb validate 2>&1) && fail "validate accepted $1"
        grep -qF "$2" <<<"$out" || fail "validate of $1 says '$out', not '$2'"
        out=$(timeout 10 "$OM_BIN" arbitrator run 2>&1 </dev/null) && fail "run accepted $1"
        grep -qF "$2" <<<"$out" || fail "run with $1 says '$out', not '$2'"
}
cp "$T/arb/etc/arbitrator.conf" "$T/good.conf"
sed -i 's/^secret = .*/secret = 1234/' "$T/arb/etc/arbitrator.conf"
export OM_ROOT="$T/arb"
expect_refused "a short secret" "arbitrator.conf:7: [cluster#1] secret: not 64 hex digits"
cp "$T/good.conf" "$T/arb/etc/arbitrator.conf"
echo "bogus = 1" >>"$T/arb/etc/arbitrator.conf"
expect_refused "an unknown keyword" "arbitrator.conf:9: [cluster#1] unknown keyword 'bogus'"
printf '[arbitrator]\nport = 1\n' >"$T/arb/etc/arbitrator.conf"
expect_refused "no cluster" "no [cluster#N] section"
printf '[cluster#1]\nsecret = %s\n' "$SECRET" >"$T/arb/etc/arbitrator.conf"
expect_refused "a cluster without a name" "arbitrator.conf:1: [cluster#1] missing required keyword 'name'"
printf '[arbitrator]\nport = 99999\n' >"$T/arb/etc/arbitrator.conf"
expect_refused "a bad port" "arbitrator.conf:2: [arbitrator] port: not a port number"
unset OM_ROOT
cp "$T/good.conf" "$T/arb/etc/arbitrator.conf"
arb validate >/dev/null || fail "the good config is refused"
echo "ok: bad arbitrator.conf refused with its line"

write_conf 1 200ms 1s
printf '\n[arbitrator#1]\nuri = tcp://%s:%s\n' "$ARB" "$ARB_PORT" >>"$T/n1/etc/cluster.conf"
out=$(timeout 10 env OM_ROOT="$T/n1" OM_NODENAME=n1 "$OM_BIN" daemon run 2>&1) && fail "the agent started with a tcp:// arbitrator"
grep -q "tcp:// arbitrators are no longer accepted.*om arbitrator run" <<<"$out" ||
        fail "the agent's refusal does not name om arbitrator: $out"
[ -e "$T/n1/run/daemon.pid" ] && fail "the agent wrote a pid file before refusing its config"
out=$(on 1 node ls 2>&1) && fail "om node ls accepted the tcp:// arbitrator"
grep -q "om arbitrator run" <<<"$out" || fail "om node ls: $out"
echo "ok: a tcp:// arbitrator is refused before the agent starts, naming om arbitrator run"

# ---- frames
arb_start_host
RELAY=$(addr 8)
RELAY_PORT=$((ARB_PORT + 1))
python3 -u -c "
import socket, select
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('$RELAY', $RELAY_PORT))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(('$RELAY', 0))
client = None
rec = open('$T/recorded', 'w')
while True:
    r, _, _ = select.select([a, b], [], [])
    if a in r:
        d, client = a.recvfrom(65536)
        rec.write(d.hex() + '\n'); rec.flush()
        b.sendto(d, ('$ARB', $ARB_PORT))
    if b in r:
        d, _ = b.recvfrom(65536)
        if client: a.sendto(d, client)
" </dev/null >/dev/null 2>&1 &
RELAY_PID=$!
# a heartbeat interval (2s) longer than a third of the lease (2s): the agent asks
# every 666ms instead, and keeps the vote
write_conf 1 2s 6s
printf '\n[arbitrator#1]\nuri = om://%s:%s\n' "$RELAY" "$RELAY_PORT" >>"$T/n1/etc/cluster.conf"
start_agent 1
wait_api 1
until_ok 15 "the agent holds the arbitrator's vote" is 'vote 1' vote
grep -q "arbitrator#1: lease 2000ms shorter than three heartbeat intervals: asking every 666ms" \
        "$T/n1/log/daemon.log" || fail "the agent did not shorten its request period"
for i in $(seq 1 20); do
        [ "$(vote 1)" = vote ] || fail "the vote lapsed between two requests"
        sleep 0.2
done
until_ok 5 "three requests recorded" gt 'wc -l <"$T/recorded"' 2

drops() { arb status --format json | jq -r "$1"; }
send() { # send HEX: one datagram to the arbitrator from the relay's address
        python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$RELAY', 0))
s.sendto(bytes.fromhex(sys.argv[1]), ('$ARB', $ARB_PORT))" "$1"
}
first=$(head -n 1 "$T/recorded")
nlen=$((16#${first:0:2})) # the cluster name's length
hdr=$((1 + nlen))         # the frame's offset
r0=$(drops '.clusters[0].drops.replay')
send "$first"
until_ok 5 "the replay is counted" is "drops '.clusters[0].drops.replay'" $((r0 + 1))
# the sequence (8 bytes at offset 92 of the header) set to all ones: not a replay, but
# the header is sealed as associated data, so it no longer opens
off=$(((hdr + 92) * 2))
t0=$(drops '.clusters[0].drops.bad_tag')
send "${first:0:$off}ffffffffffffffff${first:$((off + 16))}"
until_ok 5 "the bad tag is counted" is "drops '.clusters[0].drops.bad_tag'" $((t0 + 1))
# another cluster's name, same length
other=$(printf 'x%.0s' $(seq 1 "$nlen") | od -An -tx1 | tr -d ' \n')
u0=$(drops '.drops.unknown_cluster')
send "${first:0:2}$other${first:$((hdr * 2))}"
until_ok 5 "the unknown cluster is counted" is "drops '.drops.unknown_cluster'" $((u0 + 1))
g0=$(drops '.drops.garbage')
send "$(head -c 300 /dev/urandom | od -v -An -tx1 | tr -d ' \n' | sed 's/^../00/')"
send "0102"
until_ok 5 "garbage and a short datagram are counted" is "drops '.drops.garbage'" $((g0 + 2))
o0=$(drops '.drops.oversized')
send "$(printf "%020000d" 0)"
until_ok 5 "the oversized datagram is counted" is "drops '.drops.oversized'" $((o0 + 1))
# from another address, so that the relay's own requests are not rate-limited
python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$(addr 7)', 0))
for i in range(3000): s.sendto(b'\x03abc' + bytes(200), ('$ARB', $ARB_PORT))"
until_ok 5 "the flood is counted" gt "drops '.drops.flood'" 0
sleep 0.5
kill -0 "$ARB_PID" || fail "the arbitrator died"
a0=$(drops '.clusters[0].answers.grant')
until_ok 10 "the arbitrator still answers the agent" gt "drops '.clusters[0].answers.grant'" "$a0"
[ "$(vote 1)" = vote ] || fail "the agent lost the vote: $(vote 1)"
arb status
echo "ok: replay, bad tag, unknown cluster, garbage, short, oversized and flood counted; the arbitrator still answers"
