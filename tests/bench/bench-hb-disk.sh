#!/bin/bash
# The disk heartbeat's I/O per node per second, printed, never asserted: N agents on
# 127.0.0.x (4 by default) share one file on the host's disk as `[hb#2] type = disk`
# (interval 1s, the default) beside a unicast stream; after a settling time the agents
# run for SECS seconds and each node's counters (`om daemon status`: hb[].io) give its
# reads, writes and bytes per second; the medians over the nodes are printed, with the
# beats of the other nodes taken in per second.
#   usage: bench-hb-disk.sh [nodes] [secs]   (OM_BIN defaults to build/om)
set -u
N=${1:-4}
SECS=${2:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
OM_BIN=${OM_BIN:-$HERE/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
export OM_BIN
ADDR_BASE=200
. "$HERE/../integration/test-agent.lib"

median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f", m}'; }

truncate -s 1M "$T/hbdev"
write_conf "$N" 1s 3s
for k in $(seq 1 "$N"); do
        printf '\n[hb#2]\ntype = disk\ndev = %s\n' "$T/hbdev" >>"$T/n$k/etc/cluster.conf"
done
for k in $(seq 1 "$N"); do start_agent "$k"; done
for k in $(seq 1 "$N"); do wait_api "$k"; done
sleep 3
io() { on "$1" daemon status --format json | jq -r '.hb[1] | "\(.io.reads) \(.io.read_bytes) \(.io.writes) \(.io.write_bytes) \(.rx.frames)"'; }
declare -A A B
for k in $(seq 1 "$N"); do A[$k]=$(io "$k"); done
t0=$(date +%s%3N)
sleep "$SECS"
for k in $(seq 1 "$N"); do B[$k]=$(io "$k"); done
t1=$(date +%s%3N)
rate() { # rate FIELD: per second, one line per node
        local k
        for k in $(seq 1 "$N"); do
                echo "${A[$k]} ${B[$k]}" | awk -v f="$1" -v ms=$((t1 - t0)) '{printf "%.2f\n", ($(f+5) - $f) * 1000 / ms}'
        done
}
echo "disk heartbeat, $N nodes, interval 1s, ${SECS}s (median over the nodes, per node per second):"
echo "  reads        $(rate 1 | median)/s   $(rate 2 | median) bytes/s"
echo "  writes       $(rate 3 | median)/s   $(rate 4 | median) bytes/s"
echo "  beats taken  $(rate 5 | median)/s   (of the $((N - 1)) other nodes)"
