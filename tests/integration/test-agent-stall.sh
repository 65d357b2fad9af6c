#!/bin/bash
# SIGSTOP of 2 x timeout on one agent: the others see it down meanwhile; on waking, the
# paused agent does not declare the others stale for its own pause (its stall guard
# counts the stall instead) and it is seen up again.
set -u
. "$(dirname "$0")/test-agent.lib"

write_conf 3 200ms 1s
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done

n3_lines=$(wc -l <"$T/n3/log/daemon.log") # (a peer slow to start may be down at start-up)
kill -STOP "${PIDS[3]}"
wait_state 1 n3 down 10 >/dev/null
wait_state 2 n3 down 10 >/dev/null
sleep 1.2 # 2 x timeout in all since the stop
kill -CONT "${PIDS[3]}"
wait_state 1 n3 up 10 >/dev/null
wait_state 2 n3 up 10 >/dev/null
sleep 1.5 # more than timeout after waking: a false stale would have happened by now
on 3 daemon status | grep -Eq "loop stalls [1-9]" || fail "n3 counted no loop stall"
tail -n +$((n3_lines + 1)) "$T/n3/log/daemon.log" | grep -E "node n[12] .*=> down" &&
        fail "n3 declared a peer down for its own pause"
# (polled: suspect for a moment on a loaded machine; that no peer went down is the
# log check above)
wait_state 3 n1 up 10 >/dev/null
wait_state 3 n2 up 10 >/dev/null
grep "loop stalled" "$T/n3/log/daemon.log"
echo "ok: the paused agent was stale on the others, and kept its peers up on waking"
