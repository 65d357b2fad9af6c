#!/bin/bash
# The daemon's lifecycle and its local API: a bad cluster.conf stops the agent with the
# line named before it binds anything; start waits for the API; the socket is 0600;
# status answers; malformed requests get an error reply and never a crash; stop is
# clean and removes the pid file and the socket; a full daemon log is rotated.
set -u
. "$(dirname "$0")/test-agent.lib"

write_conf 1 200ms 1s
# 1. a bad cluster.conf: error naming the line, nothing bound
cp "$T/n1/etc/cluster.conf" "$T/good.conf"
sed -i 's/^interval = .*/interval = soon/' "$T/n1/etc/cluster.conf"
line=$(grep -n '^interval' "$T/n1/etc/cluster.conf" | cut -d: -f1)
out=$(on 1 daemon run 2>&1) && fail "the agent ran with a bad cluster.conf"
echo "$out" | grep -q "cluster.conf:$line: \[hb#1\] interval" || fail "error does not name line $line: $out"
[ -e "$T/n1/run/api.sock" ] && fail "the API socket exists after a refused start"
ss -uln 2>/dev/null | grep -q "$(addr 1):$HB_PORT" && fail "the heartbeat port is bound after a refused start"
echo "ok: bad cluster.conf refused: $out"
cp "$T/good.conf" "$T/n1/etc/cluster.conf"

# 2. start, socket mode, status; a daemon log about to pass 10 MiB is rotated by the
# agent's first lines
mkdir -p "$T/n1/log"
yes "2026-01-01 00:00:00,000 INFO n:n1 c:daemon | filler" | head -c $((10 * 1024 * 1024)) \
        >"$T/n1/log/daemon.log" || true
on 1 daemon start || fail "daemon start failed"
PIDS[1]=$(cat "$T/n1/run/daemon.pid")
[ "$(stat -c %a "$T/n1/run/api.sock")" = 600 ] || fail "api.sock is not 0600"
on 1 daemon status | grep -q "^daemon    running" || fail "daemon status"
on 1 daemon start | grep -q "already runs" || fail "a second start did not notice the running agent"
[ -s "$T/n1/log/daemon.log" ] || fail "no daemon log"
grep -q "c:daemon | agent started" "$T/n1/log/daemon.log" || fail "no start line in the daemon log"
grep -q "| filler" "$T/n1/log/daemon.log" && fail "the full daemon log was not rotated"
[ "$(grep -c "| filler" "$T/n1/log/daemon.log.1")" -ge 200000 ] || fail "daemon.log.1 lost the old lines"
grep -q "agent started: om [0-9.]*, pid" "$T/n1/log/daemon.log" || fail "no version in the start line"

# 3. malformed requests: error replies, the agent survives
if command -v python3 >/dev/null; then
        python3 - "$T/n1/run/api.sock" <<'PY' || fail "malformed requests were not answered with errors"
import socket, struct, sys
path = sys.argv[1]
def ask(raw):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(raw)
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    s.close()
    return body
def framed(b): return struct.pack(">I", len(b)) + b
cases = {
    "garbage": framed(b"\xc1\xc1\xc1"),
    "not a map": framed(b"\x93\x01\x02\x03"),
    "no version": framed(b"\x81\xa3cmd\xa6status"),
    "bad version": framed(b"\x82\xa1v\x07\xa3cmd\xa6status"),
    "unknown cmd": framed(b"\x82\xa1v\x01\xa3cmd\xa4nope"),
    "truncated map": framed(b"\x82\xa1v\x01"),
    "huge length": struct.pack(">I", 0x7fffffff),
    "zero length": struct.pack(">I", 0),
}
for name, raw in cases.items():
    r = ask(raw)
    if r is None or b"\xa2ok\xc2" not in r or b"error" not in r:
        print("no error reply for", name, r); sys.exit(1)
ok = ask(framed(b"\x82\xa1v\x01\xa3cmd\xa6status"))
if ok is None or b"\xa2ok\xc3" not in ok:
    print("status after malformed requests failed"); sys.exit(1)
PY
        echo "ok: malformed requests get error replies"
fi
on 1 daemon status >/dev/null || fail "the agent died after malformed requests"

# 4. stop
on 1 daemon stop | grep -q "agent stopped" || fail "daemon stop"
kill -0 "${PIDS[1]}" 2>/dev/null && fail "the agent still runs after stop"
[ -e "$T/n1/run/api.sock" ] && fail "api.sock left behind"
[ -e "$T/n1/run/daemon.pid" ] && fail "pid file left behind"
grep -q "agent stopped" "$T/n1/log/daemon.log" || fail "no stop line in the daemon log"

# 5. SIGTERM is a clean stop too
start_agent 1
wait_api 1
kill -TERM "${PIDS[1]}"
wait "${PIDS[1]}"
rc=$?
[ $rc = 0 ] || fail "SIGTERM stop exited $rc"
[ -e "$T/n1/run/api.sock" ] && fail "api.sock left behind after SIGTERM"
echo "ok: start, status, stop, SIGTERM"
