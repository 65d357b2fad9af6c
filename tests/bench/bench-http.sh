#!/bin/bash
# HTTP API figures on a three-node cluster (interval 200ms, timeout 1s) running an HA
# service on n1, plain HTTP on loopback:
# - requests per second of GET /api/cluster and GET /metrics with the agent n2 pinned to
#   one core (taskset) and the client (tests/integration/http_load.py, 8 keep-alive
#   connections, 5 s) on another: median of ROUNDS rounds, and the requests per second of
#   CPU the agent used (what one core would serve, the python client being the slower
#   side);
# - the RSS of n2 with the HTTP API on, idle and after the rounds, and of n3 without it;
# - the time from the SIGKILL of n1 to the node_down n1 event reaching a subscriber of
#   n2's GET /api/events (the agents notice a peer down after its timeout: 1 s here).
# Nothing is asserted: figures only.
#   OM_BIN=build/om bash tests/bench/bench-http.sh
set -u
OM_BIN=${OM_BIN:-$(dirname "$0")/../../build/om}
OM_BIN=$(readlink -f "$OM_BIN")
OM_SRC=$(readlink -f "$(dirname "$0")/../..")
export OM_BIN OM_SRC
ADDR_BASE=220
. "$OM_SRC/tests/integration/test-agent.lib"
NNODES=3
. "$OM_SRC/tests/integration/test-orch.lib"
. "$OM_SRC/tests/integration/test-http.lib"
ROUNDS=${ROUNDS:-3}
LOAD="python3 $OM_SRC/tests/integration/http_load.py"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

write_conf 3 200ms 1s
http_conf 2 off
sed -i '/^http_addr@n3/d' "$T"/n*/etc/cluster.conf
svc_conf web "n1 n2 n3" "orchestrate = ha"
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done
wait_running web n1 20 >/dev/null
sleep 2
taskset -pc 0 "${PIDS[2]}" >/dev/null
VIEW=$(on 2 token create --role viewer 2>/dev/null)
H=$(addr 2)
echo "RSS idle: n2 (HTTP on) $(rss_kb "${PIDS[2]}") KiB, n3 (HTTP off) $(rss_kb "${PIDS[3]}") KiB"
for path in /api/cluster /metrics; do
        rates="" percpu=""
        for r in $(seq 1 "$ROUNDS"); do
                c0=$(awk '{ print $14 + $15 }' "/proc/${PIDS[2]}/stat")
                out=$(taskset -c 1 $LOAD flood "$H" "$HTTP_PORT" "$path" "$VIEW" 5 8)
                c1=$(awk '{ print $14 + $15 }' "/proc/${PIDS[2]}/stat")
                rates="$rates $(echo "$out" | awk '{ print $3 }')"
                percpu="$percpu $(echo "$out" | awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", d ? $1 / (d / hz) : 0 }')"
                [ "$(echo "$out" | awk '{ print $2 }')" = 0 ] || echo "  round $r: $out (requests, non-200, per s)"
        done
        echo "GET $path on one core: median $(echo $rates | tr ' ' '\n' | median) requests/s (rounds:$rates)," \
                "$(echo $percpu | tr ' ' '\n' | median) per CPU second of the agent"
done
echo "RSS after the rounds: n2 (HTTP on) $(rss_kb "${PIDS[2]}") KiB"

curl -sN -m 30 -H "Authorization: Bearer $VIEW" "http://$H:$HTTP_PORT/api/events?filter=kind=node_down" |
        while IFS= read -r l; do case $l in data:*node_down*) echo "$(date +%s%3N)"; break ;; esac; done >"$T/got" &
SUB=$!
sleep 1
t0=$(date +%s%3N)
crash 1
wait $SUB
[ -s "$T/got" ] && echo "SIGKILL of n1 to node_down n1 at a subscriber of n2: $(($(cat "$T/got") - t0)) ms (timeout 1 s)" ||
        echo "no node_down event reached the subscriber"
