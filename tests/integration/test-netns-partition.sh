#!/bin/bash
# A partition made with nftables inside a network namespace of the test's own: three
# agents in the namespace on 127.0.0.x; a rule set drops everything between n1 and
# {n2, n3}. Each side sees the other down (n2 and n3 still see each other up), and after
# the rules are removed all three converge up again. The host's network is untouched.
set -u
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
command -v nft >/dev/null || { echo "skip: needs nft"; exit 77; }
NS="omt-part-$$"
ip netns add "$NS" 2>/dev/null || { echo "skip: cannot create a network namespace"; exit 77; }
ip netns exec "$NS" ip link set lo up
. "$(dirname "$0")/test-agent.lib"
trap 'cleanup; ip netns del "$NS" 2>/dev/null' EXIT

in_ns() { ip netns exec "$NS" "$@"; }
on() {
        local k=$1
        shift
        OM_ROOT="$T/n$k" OM_NODENAME="n$k" ip netns exec "$NS" "$OM_BIN" "$@"
}
start_agent() {
        local k=$1
        OM_ROOT="$T/n$k" OM_NODENAME="n$k" ip netns exec "$NS" "$OM_BIN" daemon run >>"$T/n$k.out" 2>&1 &
        PIDS[$k]=$!
}

write_conf 3 200ms 1s
for k in 1 2 3; do start_agent $k; done
for k in 1 2 3; do wait_api $k; done
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 5 >/dev/null; done; done

A1=$(addr 1) A2=$(addr 2) A3=$(addr 3)
in_ns nft -f - <<NFT || fail "nft rules refused"
table inet part {
        chain input {
                type filter hook input priority 0; policy accept;
                ip saddr $A1 ip daddr { $A2, $A3 } drop
                ip saddr { $A2, $A3 } ip daddr $A1 drop
        }
}
NFT
echo "partition: n1 | n2 n3"
wait_state 1 n2 down 4 >/dev/null
wait_state 1 n3 down 4 >/dev/null
wait_state 2 n1 down 4 >/dev/null
wait_state 3 n1 down 4 >/dev/null
[ "$(node_state 2 n3)" = up ] || fail "n3 not up on n2 inside the same side"
[ "$(node_state 3 n2)" = up ] || fail "n2 not up on n3 inside the same side"
echo "ok: each side sees the other down"

in_ns nft delete table inet part
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 5 >/dev/null; done; done
echo "ok: converged after healing"
