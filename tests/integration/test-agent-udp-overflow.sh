#!/bin/bash
# The kernel's drops on a heartbeat socket are counted: n1 is paused (SIGSTOP) while
# 20000 datagrams of 1400 bytes (27 MB, more than any receive buffer om sets) are sent
# to its heartbeat port; once it runs again, `om daemon status` shows the datagrams the
# kernel dropped under the reason kernel_overflow, and the receive buffer sized for the
# cluster (core/limits.h: at least 1 MiB); n2 is seen up again.
set -u
. "$(dirname "$0")/test-agent.lib"
command -v python3 >/dev/null || { echo "skip: python3 is needed"; exit 77; }

write_conf 2 200ms 2s
start_agent 1
start_agent 2
wait_api 1
wait_api 2
wait_state 1 n2 up 10 >/dev/null

st() { on 1 daemon status --format json; }
rcvbuf=$(st | jq '.hb[0].rcvbuf')
echo "n1's heartbeat receive buffer: $rcvbuf bytes"
[ "$rcvbuf" -ge $((1 << 20)) ] || fail "the receive buffer is $rcvbuf bytes, below 1 MiB"
[ "$(st | jq '.hb[0].rx.drops.kernel_overflow')" = 0 ] || fail "kernel drops before the flood"

kill -STOP "${PIDS[1]}"
python3 - "$(addr 1)" "$HB_PORT" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = os.urandom(1400)
sent = 0
for i in range(20000):
    try:
        s.sendto(d, (sys.argv[1], int(sys.argv[2])))
        sent += 1
    except OSError:
        pass
print(f"sent {sent} datagrams of 1400 bytes to the paused agent")
PY
kill -CONT "${PIDS[1]}"
wait_api 1
st=$(st)
k=$(echo "$st" | jq '.hb[0].rx.drops.kernel_overflow')
m=$(echo "$st" | jq '.hb[0].rx.drops.malformed + .hb[0].rx.drops.truncated + .hb[0].rx.drops.oversized')
echo "kernel_overflow $k, read and dropped by om $m"
[ "$k" -gt 0 ] || fail "the kernel's drops are not counted"
# n2's beats during the pause are dropped too: a few
[ $((k + m)) -le 20100 ] || fail "more drops ($((k + m))) than datagrams sent"
on 1 daemon status | grep -q "kernel_overflow $k" || fail "daemon status does not show kernel_overflow"
wait_state 1 n2 up 10 >/dev/null
echo "ok: the kernel's drops are shown as kernel_overflow; n2 is up"
