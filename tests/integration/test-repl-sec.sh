#!/bin/bash
# Replication of sec and svc objects between three real agents on loopback: a sec
# created and a key added on n1 decodes to the same bytes on n2 and n3,
# and so does a change; a svc with nodes = n1 n2 reaches n2 and not n3, and a keyword
# set on n2 (om set) reaches n1; concurrent changes of one sec on n1 and n2 (their agents
# killed so neither sees the other's) converge to the same file everywhere, the greater
# version; a delete on n2 removes the sec everywhere and a later create wins over its
# tombstone.
set -u
ADDR_BASE=200
. "$(dirname "$0")/test-repl.lib"

cluster_up 3
S=demo/sec/s1
head -c 3000 /dev/urandom >"$T/v1"
on 1 $S create >/dev/null || fail "create"
on 1 $S add --key k --from "$T/v1" >/dev/null || fail "add"
for k in 2 3; do until_ok 10 "$S key k does not decode on n$k" decodes_as $k $S k "$T/v1"; done
echo "ok: a sec created and a key added on n1 decodes the same on n2 and n3"

head -c 100 /dev/urandom >"$T/v2"
on 1 $S change --key k --from "$T/v2" >/dev/null || fail "change"
for k in 2 3; do until_ok 10 "the change does not decode on n$k" decodes_as $k $S k "$T/v2"; done
[ "$(stat -c %a "$(conf_of 2 $S)")" = 600 ] || fail "the replicated sec is not mode 0600"
echo "ok: a change replicates; the copy is 0600"

# a svc in the scope of n1 and n2 only
printf '[DEFAULT]\nid = 0d7a1c7e-2b43-4c55-8d66-9e7f80a1b2c3\nnodes = n1 n2\n' >"$T/web.conf"
on 1 demo/svc/web create --config "$T/web.conf" >/dev/null || fail "svc create"
until_ok 10 "demo/svc/web did not reach n2" same_file 1 2 demo/svc/web
until_ok 10 "n3 did not judge demo/svc/web" repl_stat_at_least 3 out_of_scope 1
absent_on 3 demo/svc/web || fail "demo/svc/web reached n3, which is not in its nodes"
[ "$(stat -c %a "$(conf_of 2 demo/svc/web)")" = 644 ] || fail "the replicated svc is not 0644"
echo "ok: a svc with nodes = n1 n2 reaches n2, not n3"

# a keyword set on n2 reaches n1 (a new version, like every writer's)
on 2 demo/svc/web set --kw comment=from-n2 --kw priority=7 >/dev/null || fail "set on n2"
kw_on_n1() { [ "$(on 1 demo/svc/web get --kw priority 2>/dev/null)" = 7 ]; }
until_ok 10 "the set on n2 did not reach n1" kw_on_n1
until_ok 10 "demo/svc/web differs on n1 and n2 after set" same_file 1 2 demo/svc/web
absent_on 3 demo/svc/web || fail "demo/svc/web reached n3 after set"
echo "ok: om set on n2 replicates to n1"

# concurrent changes: neither agent can pass the other's version on before both wrote.
# The two agents are stopped for good, not paused: one paused in the middle of an
# install would keep the node's version clock locked and the change below waiting.
for k in 1 2; do
        kill -9 "${PIDS[$k]}"
        wait "${PIDS[$k]}" 2>/dev/null
        unset "PIDS[$k]"
done
on 1 $S change --key k --value from-n1 >/dev/null 2>&1 || fail "change on n1"
on 2 $S change --key k --value from-n2 >/dev/null 2>&1 || fail "change on n2"
cp "$(conf_of 1 $S)" "$T/c1"
cp "$(conf_of 2 $S)" "$T/c2"
for k in 1 2; do start_agent $k; done
for k in 1 2; do wait_api $k; done
converged() { same_file 1 2 $S && same_file 1 3 $S; }
until_ok 15 "the concurrent changes did not converge" converged
ver() { awk -F' = ' '/^version/ {split($2, a, "."); printf "%020d.%05d", a[1], a[2]} /^writer/ {print " " $2}' "$1"; }
if [[ "$(ver "$T/c1")" > "$(ver "$T/c2")" ]]; then want=$T/c1; else want=$T/c2; fi
cmp -s "$(conf_of 3 $S)" "$want" || fail "the winner is not the greater version ($(ver "$T/c1") vs $(ver "$T/c2"))"
echo "ok: concurrent changes converge to the greater version everywhere ($(basename "$want") won)"

# delete on n2: gone everywhere; a later create on n3 wins over the tombstone
on 2 $S delete >/dev/null || fail "delete"
for k in 1 3; do until_ok 10 "$S is still on n$k after the delete" absent_on $k $S; done
[ -e "$T/n1/var/tombstones/demo/sec/s1" ] || fail "n1 keeps no tombstone"
on 3 $S create >/dev/null || fail "re-create"
on 3 $S add --key k --value again >/dev/null || fail "add after re-create"
printf again >"$T/v3"
for k in 1 2; do until_ok 10 "the re-created $S does not decode on n$k" decodes_as $k $S k "$T/v3"; done
echo "ok: a delete removes it everywhere; a later create beats the tombstone"
for k in 1 2 3; do
        [ "$(repl_stat $k refused)" = 0 ] || fail "n$k refused a file: $(repl_stat $k refused)"
done
echo "ok: test-repl-sec"
