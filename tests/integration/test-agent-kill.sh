#!/bin/bash
# Three agents on 127.0.0.x see each other up; one killed with SIGKILL is down on the
# others, not before the heartbeat timeout, and up again after a restart. (How soon
# after the timeout is a figure of tests/bench, not asserted here.)
set -u
. "$(dirname "$0")/test-agent.lib"

write_conf 3 200ms 1s
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 5 >/dev/null; done; done
echo "ok: 3 agents see each other up"

on 1 mon | grep -q "hb#1.rx" || fail "om mon shows no heartbeat stream"
on 1 daemon status | grep -q "peer    n2 .*rx up" || fail "daemon status shows no live peer n2"

kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
t0=$(date +%s%3N)
wait_state 1 n3 down 5 >/dev/null
wait_state 2 n3 down 5 >/dev/null
for k in 1 2; do
        line=$(grep "node n3 .*=> down" "$T/n$k/log/daemon.log" | tail -1)
        dt=$(($(log_ms "$line") - t0))
        echo "n3 down on n$k ${dt}ms after the kill"
        # its last beat left at most one interval (200ms) before the kill: stale no
        # sooner than timeout (1s) minus that interval
        [ "$dt" -ge 750 ] || fail "n3 seen down on n$k ${dt}ms after the kill, before the timeout"
done
wait_state 1 n2 up 5 >/dev/null # n2 stays (or is back) up on n1

start_agent 3
wait_api 3
wait_state 1 n3 up 5 >/dev/null
wait_state 2 n3 up 5 >/dev/null
wait_state 3 n1 up 5 >/dev/null
echo "ok: n3 up again after restart"
