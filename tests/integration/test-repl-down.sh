#!/bin/bash
# A node down during changes converges when it returns: with n3
# killed, n1 deletes one sec and changes another; restarted, n3 learns the deletion from
# its peers' tombstones (its old copy is removed, not served back) and fetches the change.
set -u
ADDR_BASE=210
. "$(dirname "$0")/test-repl.lib"

cluster_up 3
for s in gone kept; do
        on 1 demo/sec/$s create >/dev/null || fail "create $s"
        on 1 demo/sec/$s add --key k --value old >/dev/null || fail "add $s"
done
printf old >"$T/old"
for s in gone kept; do until_ok 10 "demo/sec/$s did not reach n3" decodes_as 3 demo/sec/$s k "$T/old"; done

kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
unset 'PIDS[3]'
on 1 demo/sec/gone delete >/dev/null || fail "delete"
on 1 demo/sec/kept change --key k --value new >/dev/null || fail "change"
printf new >"$T/new"
until_ok 10 "the delete did not reach n2" absent_on 2 demo/sec/gone
until_ok 10 "the change did not reach n2" decodes_as 2 demo/sec/kept k "$T/new"
present_on 3 demo/sec/gone || fail "n3's copy vanished while it was down"

start_agent 3
wait_api 3
until_ok 15 "n3 kept the sec deleted while it was down" absent_on 3 demo/sec/gone
until_ok 15 "n3 did not get the change made while it was down" decodes_as 3 demo/sec/kept k "$T/new"
[ -e "$T/n3/var/tombstones/demo/sec/gone" ] || fail "n3 has no tombstone for demo/sec/gone"
# and the old copy did not come back anywhere
sleep 1
for k in 1 2 3; do absent_on $k demo/sec/gone || fail "demo/sec/gone came back on n$k"; done
echo "ok: test-repl-down: a node down during a delete and a change converges when restarted"
