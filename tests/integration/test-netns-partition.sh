#!/bin/bash
# A partition made with nftables inside a network namespace of the test's own: three
# agents in the namespace on 127.0.0.x; a rule set drops everything between n1 and
# {n2, n3}. Each side sees the other down (n2 and n3 still see each other up), and after
# the rules are removed all three converge up again. The host's network is untouched.
set -u
. "$(dirname "$0")/test-agent.lib"
. "$(dirname "$0")/test-netns.lib"
trap 'cleanup; ns_cleanup' EXIT

write_conf 3 200ms 1s
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done

A1=$(addr 1) A2=$(addr 2) A3=$(addr 3)
ns_cut "$A1" "$A2" "$A3" || fail "nft rules refused"
echo "partition: n1 | n2 n3"
wait_state 1 n2 down 10 >/dev/null
wait_state 1 n3 down 10 >/dev/null
wait_state 2 n1 down 10 >/dev/null
wait_state 3 n1 down 10 >/dev/null
# n2 and n3 still see each other up (polled: one may be suspect for a moment)
wait_state 2 n3 up 10 >/dev/null
wait_state 3 n2 up 10 >/dev/null
echo "ok: each side sees the other down"

ns_heal
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done
echo "ok: converged after healing"
