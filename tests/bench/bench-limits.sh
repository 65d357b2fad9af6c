#!/bin/bash
# Figures of the input limits, printed, never asserted:
#  - parsing: medians of `om <path> validate config` (read, parse, validate) of configs
#    just under the 1 MiB limit, of three shapes: one value of 15800 continuation lines,
#    10000 sections, 20000 keys of one section (with the result: valid or the error);
#  - heartbeats: the drop-free rate of a heartbeat socket with the receive buffer om sets,
#    in datagrams of 1400 bytes per second: the highest rate, sent for 2 s, at which the
#    kernel dropped none (hb[].rx.drops.kernel_overflow) and om counted every datagram.
#   usage: bench-limits.sh [runs]   (OM_BIN defaults to build/om)
set -u
RUNS=${1:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
OM_BIN=${OM_BIN:-$HERE/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=170
. "$HERE/../integration/test-agent.lib"

median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f", m}'; }

# ---- parsing ----
mkdir -p "$T/p/etc/namespaces/demo/svc" "$T/p/etc/namespaces/demo/sec"
python3 - "$T/p/etc/namespaces/demo" <<'PY'
import sys
d = sys.argv[1]
with open(d + "/svc/cont.conf", "w") as f:
    f.write("[DEFAULT]\ncomment = start\n")
    for i in range(15800):
        f.write("  line %06d of a long comment, continued on the next line..\n" % i)
with open(d + "/svc/sections.conf", "w") as f:
    f.write("[DEFAULT]\nnodes = n1\n")
    for i in range(10000):
        f.write("[app#%d]\nstart = /bin/true %052d\nstop = /bin/true\n" % (i, i))
with open(d + "/sec/keys.conf", "w") as f:
    f.write("[data]\n")
    for i in range(20000):
        f.write("key%06d = sealed:%030d\n" % (i, i))
PY
echo "config parse + validate (median of $RUNS, ms):"
for p in demo/svc/cont demo/svc/sections demo/sec/keys; do
        size=$(stat -c %s "$T/p/etc/namespaces/$p.conf")
        res=$(OM_ROOT=$T/p OM_NODENAME=n1 timeout 300 "$OM_BIN" "$p" validate config 2>&1 | head -n 1 | cut -c1-60)
        ms=$(for i in $(seq 1 "$RUNS"); do
                s=${EPOCHREALTIME/[.,]/}
                OM_ROOT=$T/p OM_NODENAME=n1 timeout 300 "$OM_BIN" "$p" validate config >/dev/null 2>&1
                e=${EPOCHREALTIME/[.,]/}
                echo "scale=1; ($e - $s) / 1000" | bc
        done | median)
        printf "  %-18s %8s bytes  %8s ms  (%s)\n" "$p" "$size" "$ms" "${res:-valid}"
done

# ---- heartbeats: the drop-free rate ----
write_conf 2 1s 3s
start_agent 1
wait_api 1
drops() { on 1 daemon status --format json | jq -r '.hb[0].rx.drops.kernel_overflow // "n/a"'; }
seen() { on 1 daemon status --format json | jq '[.hb[0].rx.drops[]] | add'; }
echo "heartbeat socket: rcvbuf $(on 1 daemon status --format json | jq -r '.hb[0].rcvbuf // "n/a (the system default)"') bytes"
flood() { # flood RATE: 2 s of 1400-byte datagrams at RATE per second
        python3 - "$(addr 1)" "$HB_PORT" "$1" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst, rate = (sys.argv[1], int(sys.argv[2])), int(sys.argv[3])
d = os.urandom(1400)
t0, sent = time.time(), 0
while time.time() - t0 < 2:
    want = int((time.time() - t0) * rate)
    while sent < want:
        s.sendto(d, dst)
        sent += 1
    time.sleep(0.0005)
print(sent)
PY
}
best=0
for rate in 2000 5000 10000 20000 40000 80000 160000; do
        k0=$(drops)
        s0=$(seen)
        sent=$(flood $rate)
        sleep 1
        k1=$(drops)
        s1=$(seen)
        got=$((s1 - s0))
        printf "  %7d/s: sent %7d, counted by om %7d, kernel drops %s\n" "$rate" "$sent" "$got" \
                "$([ "$k0" = n/a ] && echo n/a || echo $((k1 - k0)))"
        if [ "$k0" != n/a ] && [ $((k1 - k0)) = 0 ] && [ "$got" -ge "$sent" ]; then best=$rate;
        elif [ "$k0" = n/a ] && [ "$got" -ge "$sent" ]; then best=$rate;
        else break; fi
done
echo "heartbeat drop-free rate: $best datagrams/s (1400 bytes, refused by om at the header)"
