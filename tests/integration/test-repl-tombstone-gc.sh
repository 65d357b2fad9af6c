#!/bin/bash
# Tombstones are collected once older than [cluster] tombstone_ttl, and not taken back.
# Three agents (interval 200ms, timeout 1s, tombstone_ttl 6s): n1 deletes a sec object
# all three hold; every node keeps a tombstone, then each collects its own after the
# ttl; none fetches one back from a peer that still advertises it; the object stays
# deleted everywhere. A bad tombstone_ttl is refused with the line named.
set -u
ADDR_BASE=240
. "$(dirname "$0")/test-repl.lib"

INTERVAL=200ms TIMEOUT=1s
write_conf 3 "$INTERVAL" "$TIMEOUT"
for k in 1 2 3; do sed -i 's/^\[cluster\]$/[cluster]\ntombstone_ttl = 6s/' "$T/n$k/etc/cluster.conf"; done
for k in 1 2 3; do start_agent "$k"; done
for k in 1 2 3; do wait_api "$k"; done
for k in 1 2 3; do for j in 1 2 3; do [ "$k" = "$j" ] || wait_state "$k" "n$j" up 10 >/dev/null; done; done

on 1 demo/sec/t create >/dev/null || fail "create"
on 1 demo/sec/t add --key k --value v >/dev/null || fail "add"
for k in 2 3; do until_ok 10 "demo/sec/t did not reach n$k" present_on $k demo/sec/t; done
on 1 demo/sec/t delete >/dev/null || fail "delete"
tomb() { [ -e "$T/n$1/var/tombstones/demo/sec/t" ]; }
no_tomb() { ! tomb "$1"; }
tomb 1 || fail "n1 keeps no tombstone right after the delete"
# each node's tombstone is checked as soon as it applied the deletion (the ttl runs from
# the delete on n1)
for k in 2 3; do
        until_ok 5 "n$k did not apply the deletion" absent_on $k demo/sec/t
        tomb $k || fail "n$k keeps no tombstone right after applying the delete"
done
echo "ok: deleted everywhere, a tombstone on each node"

for k in 1 2 3; do until_ok 15 "n$k still keeps the tombstone well after tombstone_ttl" no_tomb $k; done
echo "ok: every node collected its tombstone"
sleep 2
for k in 1 2 3; do
        tomb $k && fail "n$k took a tombstone back after collecting it"
        present_on $k demo/sec/t && fail "demo/sec/t came back on n$k"
        grep -q "c:repl | 1 tombstone older than tombstone_ttl collected" "$T/n$k/log/daemon.log" ||
                fail "n$k did not log the collection"
        n=$(grep -c "demo/sec/t deleted: tombstone" "$T/n$k/log/daemon.log")
        [ "$k" = 1 ] || [ "$n" = 1 ] || fail "n$k applied the deletion $n times"
done
echo "ok: none came back"

sed -i 's/^tombstone_ttl = 6s$/tombstone_ttl = 10ms/' "$T/n1/etc/cluster.conf"
out=$(on 1 daemon run 2>&1) && fail "an agent started with tombstone_ttl = 10ms"
grep -q "cluster.conf:2: \[cluster\] tombstone_ttl: a duration of 1s or more" <<<"$out" ||
        fail "unexpected error for a bad tombstone_ttl: $out"
echo "ok: a bad tombstone_ttl is refused: $out"
