#!/bin/bash
# Bounded inputs of the APIs (core/limits.h, the table "Limits of the inputs" in
# docs/ARCHITECTURE.md), against a real agent n1 with a peer n2:
#  - 32 unauthenticated connections to the peer port, each sending a 16 MiB length
#    prefix then 16 MiB of random bytes: n1's RSS growth stays small, the refusals are
#    counted, n1 and n2 keep seeing each other;
#  - 500 local clients each holding half of a 1 MiB request, then 500 holding half of a
#    request under the maximum: the RSS growth stays small, every one is closed by the
#    agent within the documented deadline, its descriptors released, `om daemon status`
#    answers meanwhile;
#  - a sec value of 1000 KiB (about 1.4 MB sealed: the peer API's announce then a long
#    frame) still replicates from n1 to n2;
#  - every command of the local API answers (the command table).
# Prints the RSS growth of each part. OM_TEST_PARTS="large peer local cmds" (the default)
# chooses the parts to run.
set -u
. "$(dirname "$0")/test-agent.lib"
command -v python3 >/dev/null || { echo "skip: python3 is needed"; exit 77; }

# under AddressSanitizer, freed memory waits in a quarantine of 256 MiB that any churn
# fills: a small one keeps the RSS figures about the agent's own holding
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4

# from core/limits.h
LOCAL_REQUEST_MAX=$((64 * 1024))
LOCAL_FRAME_DEADLINE_S=5
LOCAL_IDLE_S=30

write_conf 2 200ms 2s
start_agent 1
start_agent 2
wait_api 1
wait_api 2
wait_state 1 n2 up 10 >/dev/null
wait_state 2 n1 up 10 >/dev/null
P1=${PIDS[1]}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$P1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$P1/status"; }
fds() { ls "/proc/$P1/fd" | wc -l; }
stat1() { on 1 daemon status --format json; }

# the peers must stay up on both sides all along: a watcher records any other state
watch_peers() {
        while [ -d "$T" ]; do
                a=$(node_state 1 n2)
                b=$(node_state 2 n1)
                [ "$a" = up ] && [ "$b" = up ] || echo "$(date +%T.%N) n1 sees n2 $a, n2 sees n1 $b" >>"$T/stale"
                sleep 0.1
        done
}
watch_peers &
WATCH=$!
trap 'kill $WATCH 2>/dev/null; cleanup' EXIT

PARTS=" ${OM_TEST_PARTS:-large peer local cmds} "

# ---- a long reply still goes through: a sec of 1000 KiB replicates ----
if [[ $PARTS == *" large "* ]]; then
head -c $((1000 * 1024)) /dev/urandom >"$T/big"
on 1 demo/sec/big create >/dev/null || fail "sec create"
on 1 demo/sec/big add --key k --from "$T/big" >/dev/null || fail "sec add of 1000 KiB"
big_on_n2() { on 2 demo/sec/big decode --key k 2>/dev/null | cmp -s - "$T/big"; }
until_ok 20 "the 1000 KiB sec did not reach n2" big_on_n2
echo "ok: a sec of 1000 KiB ($(stat -c %s "$T/n1/etc/namespaces/demo/sec/big.conf") bytes sealed) replicated"
fi

# ---- the peer port: 32 x (16 MiB prefix + 16 MiB of random bytes) ----
if [[ $PARTS == *" peer "* ]]; then
echo 5 >"/proc/$P1/clear_refs" 2>/dev/null || true # the peak so far (the large part) forgotten
rss0=$(rss_kb)
fd0=$(fds)
python3 - "$(addr 1)" "$API_PORT" <<'PY'
import os, socket, sys, time, selectors
host, port = sys.argv[1], int(sys.argv[2])
N, SIZE = 32, 16 << 20
chunk = os.urandom(1 << 20)
sel = selectors.DefaultSelector()
socks = []
for i in range(N):
    s = socket.socket()
    s.connect((host, port))
    s.setblocking(False)
    socks.append(s)
    sel.register(s, selectors.EVENT_WRITE, [0, (SIZE).to_bytes(4, "big") + chunk[: (1 << 20) - 4]])
closed = 0
deadline = time.time() + 60
while sel.get_map() and time.time() < deadline:
    for key, _ in sel.select(timeout=1):
        st = key.data
        try:
            n = key.fileobj.send(st[1])
            st[0] += n
            st[1] = st[1][n:] or (chunk if st[0] < SIZE + 4 else b"")
            if not st[1]:
                sel.unregister(key.fileobj)
        except OSError:
            closed += 1
            sel.unregister(key.fileobj)
print(f"peer flood: {closed} of {N} connections closed by the agent while sending")
for s in socks:
    s.close()
PY
sleep 1
hwm=$(hwm_kb)
echo "peer flood: RSS ${rss0} kB before, peak ${hwm} kB: growth $(((hwm - rss0) / 1024)) MiB"
[ $((hwm - rss0)) -lt $((24 * 1024)) ] || fail "the peer flood grew n1's RSS by $(((hwm - rss0) / 1024)) MiB"
st=$(stat1)
echo "peer API drops: $(echo "$st" | jq -c .daemon.peer_api.drops)"
[ "$(echo "$st" | jq '.daemon.peer_api.drops.too_large')" -ge 1 ] || fail "no too_large refusal counted"
until_ok 10 "n1's peer connections released" test "$(fds)" -le $((fd0 + 2))
fi

# ---- the local socket: 500 clients each holding half of a request ----
# stuck N FRAME_LEN: N clients each send the prefix of FRAME_LEN and half of it, then
# wait; prints how many the agent closed and the longest time from a client's first
# byte (or its connection, when refused before) to its closing
stuck() {
        python3 - "$T/n1/run/api.sock" "$1" "$2" "$T/stuck.ready" <<'PY'
import os, socket, sys, time, selectors
path, N, L, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sel = selectors.DefaultSelector()
t0 = time.time()
connected, closed, last = 0, 0, 0.0
# each client: [bytes left to send, time its first byte went (or it connected)]
while (connected < N or sel.get_map()) and time.time() - t0 < 120:
    if connected < N:  # connect the next ones without blocking on a full backlog
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(path)
        except BlockingIOError:
            s.close()
            time.sleep(0.001)
        else:
            connected += 1
            msg = L.to_bytes(4, "big") + b"\x81" * (L // 2)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, [msg, time.time(), False])
            if connected == N:
                open(ready, "w").close()
    for key, ev in sel.select(timeout=0 if connected < N else 1):
        s, st = key.fileobj, key.data
        try:
            if ev & selectors.EVENT_WRITE and st[0]:
                n = s.send(st[0])
                if not st[2]:
                    st[1], st[2] = time.time(), True
                st[0] = st[0][n:]
                if not st[0]:
                    sel.modify(s, selectors.EVENT_READ, st)
                continue
            if s.recv(65536):
                continue  # an error reply; the close follows
        except BlockingIOError:
            continue
        except OSError:
            pass
        closed += 1
        last = max(last, time.time() - st[1])
        sel.unregister(s)
        s.close()
print(closed, round(last, 1))
PY
}

local_part() { # local_part FRAME_LEN WHAT
        local len=$1 what=$2 out closed secs hwm
        rm -f "$T/stuck.ready"
        rss0=$(rss_kb)
        fd0=$(fds)
        echo 5 >"/proc/$P1/clear_refs" 2>/dev/null || true # resets VmHWM when allowed
        local closed0
        closed0=$(stat1 | jq '[.daemon.local_api.drops[]] | add')
        stuck 500 "$len" >"$T/stuck.out" &
        local sp=$!
        until_ok 90 "stuck clients connected" test -e "$T/stuck.ready"
        # another client is served at once meanwhile
        on 1 daemon status >/dev/null || fail "daemon status refused while $what"
        wait $sp
        read -r closed secs <"$T/stuck.out"
        hwm=$(hwm_kb)
        echo "$what: RSS ${rss0} kB before, peak ${hwm} kB: growth $(((hwm - rss0) / 1024)) MiB;" \
                "$closed of 500 closed by the agent, the last after ${secs}s"
        [ "$closed" = 500 ] || fail "$what: only $closed of 500 stuck clients were closed"
        [ $((hwm - rss0)) -lt $((24 * 1024)) ] || fail "$what: RSS grew by $(((hwm - rss0) / 1024)) MiB"
        # the deadline of a request begun (plus the time to start 500 clients)
        python3 -c "import sys; sys.exit(0 if $secs <= $LOCAL_FRAME_DEADLINE_S + 5 else 1)" ||
                fail "$what: a stuck client was closed after ${secs}s"
        until_ok 10 "n1's local connections released" test "$(fds)" -le $((fd0 + 2))
        [ $(($(stat1 | jq '[.daemon.local_api.drops[]] | add') - closed0)) -ge 500 ] ||
                fail "$what: the closings were not counted: $(stat1 | jq -c .daemon.local_api.drops)"
}
if [[ $PARTS == *" local "* ]]; then
local_part $((1 << 20)) "500 clients holding half of a 1 MiB request"
local_part $((LOCAL_REQUEST_MAX - 8)) "500 clients holding half of a $((LOCAL_REQUEST_MAX - 8))-byte request"
st=$(stat1)
echo "local API drops: $(echo "$st" | jq -c .daemon.local_api.drops)"
[ "$(echo "$st" | jq '.daemon.local_api.drops.too_large')" -ge 1 ] || fail "too_large not counted"
[ "$(echo "$st" | jq '.daemon.local_api.drops.incomplete')" -ge 1 ] || fail "incomplete not counted"

# ---- an idle client is closed at the idle deadline ----
python3 - "$T/n1/run/api.sock" $((LOCAL_IDLE_S + 20)) <<'PY' || fail "an idle local client was not closed"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(int(sys.argv[2]))
t0 = time.time()
try:
    d = s.recv(1)
except socket.timeout:
    sys.exit(1)
print(f"idle client closed after {time.time() - t0:.1f}s")
PY
fi

[ ! -e "$T/stale" ] || { cat "$T/stale"; fail "a peer went stale during the floods"; }
echo "ok: peers stayed up; drops: $(stat1 | jq -c '{peer: .daemon.peer_api.drops, local: .daemon.local_api.drops}')"
kill $WATCH
[[ $PARTS == *" cmds "* ]] || exit 0

# ---- every command of the local API's table answers, an unknown one is refused ----
# call CMD: sends {"v":1,"cmd":CMD} (msgpack written by hand) and prints the reply's
# "ok" and "error"
call() {
        python3 - "$T/n1/run/api.sock" "$1" <<'PY'
import socket, sys
def s(x):
    b = x.encode()
    return bytes([0xa0 | len(b)]) + b
req = b"\x82" + s("v") + b"\x01" + s("cmd") + s(sys.argv[2])
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
c.sendall(len(req).to_bytes(4, "big") + req)
n = int.from_bytes(c.recv(4, socket.MSG_WAITALL), "big")
rep = c.recv(n, socket.MSG_WAITALL)
ok = "true" if s("ok") + b"\xc3" in rep else "false"
err = ""
if s("error") in rep:
    e = rep.split(s("error"), 1)[1]
    n, at = (e[0] & 0x1f, 1) if e[0] < 0xc0 else (e[1], 2)
    err = e[at:at + n].decode(errors="replace")
print(ok, err)
PY
}
expect_call() { # expect_call CMD "OK ERROR"
        local got
        got=$(call "$1")
        [ "$got" = "$2" ] || fail "local API $1: got '$got', want '$2'"
        echo "ok: local API $1: $got"
}
expect_call status "true "
expect_call rescan "true "
expect_call reload "true "
expect_call events "true "
expect_call metrics "true "
expect_call node_freeze "true "
[ "$(stat1 | jq -r .nodes.n1.frozen)" = true ] || fail "node_freeze did not freeze n1"
expect_call node_thaw "true "
[ "$(stat1 | jq -r .nodes.n1.frozen)" = false ] || fail "node_thaw did not thaw n1"
expect_call object_set "false malformed request: no valid path"
expect_call object_target "false malformed request: no valid path"
expect_call drbd_fence "false malformed request: op is not fence or unfence"
expect_call nosuchcmd "false unknown cmd"
expect_call stop "true "
until_ok 10 "n1 stopped by the stop command" sh -c "! kill -0 $P1"
