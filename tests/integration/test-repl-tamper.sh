#!/bin/bash
# A file that fails its check is not installed (security regression):
# n1 runs with the fault-injection hook OM_TEST_CORRUPT_SERVE=1 (agent/repl.c: it flips
# one byte of the first sealed value of every file it serves, inside a validly sealed
# reply, as a peer with a corrupt disk or a forged file would). n2 refuses the sec, counts
# it in `om daemon status`, and installs nothing; once n1 serves honestly again, n2 gets
# the same sec.
set -u
ADDR_BASE=220
. "$(dirname "$0")/test-repl.lib"

write_conf 2 1s 3s
OM_TEST_CORRUPT_SERVE=1 start_agent 1
start_agent 2
wait_api 1
wait_api 2
wait_state 1 n2 up 10 >/dev/null
wait_state 2 n1 up 10 >/dev/null

S=demo/sec/t
on 1 $S create >/dev/null || fail "create"
on 1 $S add --key k --value secret-bytes >/dev/null || fail "add"
until_ok 10 "n2 did not refuse the corrupt file" repl_stat_at_least 2 refused 1
absent_on 2 $S || fail "n2 installed a file that fails its check"
grep -q "demo/sec/t version .* refused" "$T/n2/log/daemon.log" || fail "no log line for the refusal"
on 2 daemon status | grep -q "refused [1-9]" || fail "om daemon status does not show the refusal"
echo "ok: a tampered sec is refused, counted, not installed"

# an honest server: the same version is fetched again (after the refusal back-off)
kill -9 "${PIDS[1]}"
wait "${PIDS[1]}" 2>/dev/null
start_agent 1
wait_api 1
printf secret-bytes >"$T/v"
until_ok 20 "n2 did not get the sec from an honest n1" decodes_as 2 $S k "$T/v"
echo "ok: test-repl-tamper"
