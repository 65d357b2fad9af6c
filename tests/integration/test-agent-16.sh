#!/bin/bash
# 16 agents on 127.0.0.x converge: every agent sees the 15 others up, and after one of
# them is killed the 15 others all see it down.
set -u
ADDR_BASE=120
. "$(dirname "$0")/test-agent.lib"

N=16
write_conf $N 500ms 2s
for k in $(seq 1 $N); do start_agent "$k"; done
for k in $(seq 1 $N); do wait_api "$k"; done

all_up() { # all_up K: K sees every node up
        [ "$(on "$1" node ls --format json | jq '[.[] | select(.liveness == "up")] | length')" = $N ]
}
start=$(date +%s)
for k in $(seq 1 $N); do
        until all_up "$k"; do
                [ $(($(date +%s) - start)) -gt 20 ] && fail "n$k does not see all $N nodes up"
                sleep 0.1
        done
done
echo "ok: $N agents converged in $(($(date +%s) - start))s"

kill -9 "${PIDS[$N]}"
wait "${PIDS[$N]}" 2>/dev/null
unset "PIDS[$N]"
for k in $(seq 1 $((N - 1))); do wait_state "$k" "n$N" down 10 >/dev/null; done
# n1 still up on the others (polled: on a loaded machine it may be suspect for a moment)
for k in $(seq 2 $((N - 1))); do wait_state "$k" n1 up 10 >/dev/null; done
echo "ok: n$N seen down by the $((N - 1)) others"
