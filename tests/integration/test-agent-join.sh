#!/bin/bash
# `om cluster join`: a third node joins a running two-node cluster through n1's peer API
# with the secret; every node's cluster.conf then lists it, and the three agents see
# each other up. A wrong secret is refused and leaves the joiner's config as it was.
set -u
. "$(dirname "$0")/test-agent.lib"

write_conf 2 200ms 1s
start_agent 1
start_agent 2
wait_api 1
wait_api 2
wait_state 1 n2 up 10 >/dev/null
mkdir -p "$T/n3/etc"

bad=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
on 3 cluster join --node "$(addr 1):$API_PORT" --secret "$bad" --addr "$(addr 3)" 2>"$T/err" &&
        fail "a join with a wrong secret succeeded"
cat "$T/err"
[ -e "$T/n3/etc/cluster.conf" ] && fail "a failed join left a cluster.conf"
grep -q "n3" "$T/n1/etc/cluster.conf" && fail "a failed join changed n1's cluster.conf"

on 3 cluster join --node "$(addr 1):$API_PORT" --secret "$SECRET" --addr "$(addr 3)" ||
        fail "join failed"
for k in 1 2 3; do
        start=$(date +%s) # (n2's is pushed by n1: give it time on a loaded machine)
        until grep -Eq "^nodes = n1 n2 n3$" "$T/n$k/etc/cluster.conf"; do
                [ $(($(date +%s) - start)) -gt 10 ] && break
                sleep 0.05
        done
        grep -Eq "^nodes = n1 n2 n3$" "$T/n$k/etc/cluster.conf" || fail "n$k's nodes do not list n3"
        grep -q "^addr@n3 = $(addr 3)" "$T/n$k/etc/cluster.conf" || fail "n$k has no addr@n3"
done
[ "$(stat -c %a "$T/n3/etc/cluster.conf")" = 600 ] || fail "the joiner's cluster.conf is not 0600"
start_agent 3
wait_api 3
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done
echo "ok: n3 joined, and the three agents see each other up"
