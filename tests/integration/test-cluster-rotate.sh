#!/bin/bash
# om cluster rotate-secret on three agents (127.0.0.25x, interval 500ms / timeout 2s: a
# timeout a loaded machine does not reach by accident, since no peer may go down here)
# holding sec objects: every node ends with the same new secret at generation 2 and no
# other; every value decodes as before on every node and none opens with the old secret
# any more; no node was ever declared down; replication goes on with the new secret; a
# node left with the old one is shut out (its frames fail to open); with a node down the
# rotation is refused before anything changes; a second rotation reaches generation 3; a
# node failing the switch leaves a working half-done rotation that a second run ends;
# --abort gives up a rotation installed and used nowhere; a node joins at the generation
# in use.
set -u
ADDR_BASE=250
. "$(dirname "$0")/test-repl.lib"

INTERVAL=500ms TIMEOUT=2s cluster_up 3
S=demo/sec/keys
head -c 2000 /dev/urandom >"$T/v1"
printf 'a passphrase' >"$T/v2"
on 1 $S create >/dev/null || fail "create"
on 1 $S add --key one --from "$T/v1" >/dev/null || fail "add one"
on 1 $S add --key two --from "$T/v2" >/dev/null || fail "add two"
on 2 demo/sec/other create >/dev/null || fail "create on n2"
on 2 demo/sec/other add --key k --value v >/dev/null || fail "add on n2"
for k in 1 2 3; do
        until_ok 10 "$S does not decode on n$k" decodes_as $k $S two "$T/v2"
        until_ok 10 "demo/sec/other did not reach n$k" present_on $k demo/sec/other
done
cp "$T/n1/etc/cluster.conf" "$T/old-cluster.conf"
lines=()
for k in 1 2 3; do lines[$k]=$(wc -l <"$T/n$k/log/daemon.log"); done

t0=$(date +%s%3N)
out=$(on 1 cluster rotate-secret 2>&1) || fail "rotate-secret failed: $out"
echo "$out"
echo "(the rotation took $(($(date +%s%3N) - t0)) ms)"
[ "$out" = "generation 2 installed on n1 n2 n3
generation 2 in use on n1 n2 n3
generation 2 alone in use on n1 n2 n3" ] || fail "rotate-secret printed: $out"
new=$(sed -n 's/^secret = //p' "$T/n1/etc/cluster.conf")
[ ${#new} = 64 ] && [ "$new" != "$SECRET" ] || fail "n1's secret did not change"
for k in 1 2 3; do
        c=$T/n$k/etc/cluster.conf
        [ "$(sed -n 's/^secret = //p' "$c")" = "$new" ] || fail "n$k has another secret"
        [ "$(sed -n 's/^secret_gen = //p' "$c")" = 2 ] || fail "n$k: secret_gen is not 2"
        grep -qE '^secret_(prev|next)' "$c" && fail "n$k still keeps a second secret: $(grep ^secret_ "$c")"
        [ "$(stat -c %a "$c")" = 600 ] || fail "n$k: cluster.conf is not 0600"
        decodes_as $k $S one "$T/v1" && decodes_as $k $S two "$T/v2" ||
                fail "n$k does not decode $S after the rotation"
        [ "$(on $k demo/sec/other decode --key k)" = v ] || fail "n$k does not decode demo/sec/other"
        tail -n +$((lines[k] + 1)) "$T/n$k/log/daemon.log" | grep "=> down" &&
                fail "n$k declared a peer down during the rotation"
done
for k in 1 2 3; do
        [ "$(on $k daemon status --format json | jq -r '.daemon.secret_gen, .daemon.secret_rotation' | tr '\n' ' ')" = "2 none " ] ||
                fail "n$k's agent does not use generation 2 alone: $(on $k daemon status | grep secret)"
done
on 1 daemon status | grep -q "^          secret generation 2$" || fail "daemon status: $(on 1 daemon status)"
echo "ok: generation 2 on every node, every value decodes, no peer went down"

# the files hold nothing the old secret opens: a root with the old cluster.conf and a
# copy of n3's sec file cannot decode it
mkdir -p "$T/old/etc/namespaces/demo/sec"
cp "$T/old-cluster.conf" "$T/old/etc/cluster.conf"
cp "$(conf_of 3 $S)" "$T/old/etc/namespaces/demo/sec/keys.conf"
OM_ROOT="$T/old" OM_NODENAME=n3 "$OM_BIN" $S decode --key two >/dev/null 2>&1 &&
        fail "the old secret still opens n3's sec file"
grep -q "secret rotation: .* sealed again with the new secret" "$T/n3/log/daemon.log" ||
        fail "n3 did not log the sealing again"
echo "ok: the sec files are sealed with the new secret only"

# replication goes on: a change on n2 decodes on n3
printf 'changed' >"$T/v3"
on 2 $S change --key two --from "$T/v3" >/dev/null || fail "change on n2"
until_ok 10 "the change on n2 does not decode on n3" decodes_as 3 $S two "$T/v3"
echo "ok: replication with the new secret"

# a node left with the old secret is shut out
kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
unset 'PIDS[3]'
cp "$T/n3/etc/cluster.conf" "$T/n3-new.conf"
cp "$T/old-cluster.conf" "$T/n3/etc/cluster.conf"
start_agent 3
wait_api 3
wait_state 1 n3 down 10 >/dev/null
opened() { # the old node's beats reach n1 and fail to open there
        [ "$(on 1 daemon status --format json | jq '[.hb[].rx.drops.open_failed] | add')" -ge 3 ]
}
until_ok 10 "n1 does not count frames of the old secret as failing to open" opened
sleep 1
[ "$(node_state 1 n3)" = down ] || fail "n3 with the old secret is $(node_state 1 n3) on n1"
kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
unset 'PIDS[3]'
echo "ok: a node with the old secret is shut out"

# with n3 down the rotation is refused before anything changes
cp "$T/n1/etc/cluster.conf" "$T/n1-before.conf"
out=$(on 1 cluster rotate-secret 2>&1) && fail "a rotation with n3 down succeeded"
grep -q "n3 does not take part .*nothing changed" <<<"$out" || fail "refusal: $out"
cmp -s "$T/n1/etc/cluster.conf" "$T/n1-before.conf" || fail "the refused rotation changed n1's cluster.conf"
echo "ok: refused with n3 down: $out"

# n3 back with the new secret; a second rotation reaches generation 3
cp "$T/n3-new.conf" "$T/n3/etc/cluster.conf"
start_agent 3
wait_api 3
for k in 1 2; do wait_state $k n3 up 10 >/dev/null; done
wait_state 3 n1 up 10 >/dev/null
out=$(on 2 cluster rotate-secret 2>&1) || fail "the second rotation failed: $out"
for k in 1 2 3; do
        [ "$(sed -n 's/^secret_gen = //p' "$T/n$k/etc/cluster.conf")" = 3 ] || fail "n$k: not at generation 3"
        decodes_as $k $S two "$T/v3" || fail "n$k does not decode $S after the second rotation"
done
echo "ok: a second rotation, from n2: generation 3"

# a node that fails the switch (test hook): the rotation stops with the others on the new
# secret and that node on the old one, every node still hearing every other; run again
# once it is fixed, the rotation is taken up and ends
kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
unset 'PIDS[3]'
OM_TEST_ROTCOMMIT_FAIL=1 start_agent 3
wait_api 3
for k in 1 2; do wait_state $k n3 up 10 >/dev/null; done
for k in 1 2 3; do lines[$k]=$(wc -l <"$T/n$k/log/daemon.log"); done
out=$(on 1 cluster rotate-secret 2>&1) && fail "a rotation with a failing switch on n3 succeeded"
grep -q "rotcommit on n3 failed: OM_TEST_ROTCOMMIT_FAIL=1" <<<"$out" || fail "the failed switch: $out"
for k in 1 2; do
        [ "$(on $k daemon status --format json | jq -r .daemon.secret_gen)" = 4 ] || fail "n$k is not on generation 4"
done
[ "$(on 3 daemon status --format json | jq -r '.daemon.secret_gen, .daemon.secret_rotation' | tr '\n' ' ')" = "3 next installed " ] ||
        fail "n3 is not on generation 3 with 4 installed: $(on 3 daemon status | grep secret)"
sleep 2.5 # more than the timeout: everyone still hears everyone
for k in 1 2 3; do
        tail -n +$((lines[k] + 1)) "$T/n$k/log/daemon.log" | grep "=> down" &&
                fail "n$k declared a peer down with the rotation half done"
        decodes_as $k $S two "$T/v3" || fail "n$k does not decode $S with the rotation half done"
done
printf 'mid-rotation' >"$T/v4"
on 3 $S change --key two --from "$T/v4" >/dev/null || fail "change on n3 (old secret in use)"
for k in 1 2; do until_ok 10 "n3's change does not decode on n$k" decodes_as $k $S two "$T/v4"; done
echo "ok: half done, the cluster works: $(grep failed <<<"$out")"
kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null
unset 'PIDS[3]'
start_agent 3
wait_api 3
for k in 1 2; do wait_state $k n3 up 10 >/dev/null; done
out=$(on 1 cluster rotate-secret 2>&1) || fail "taking the rotation up failed: $out"
grep -q "^taking up the rotation to generation 4$" <<<"$out" || fail "not taken up: $out"
for k in 1 2 3; do
        c=$T/n$k/etc/cluster.conf
        [ "$(sed -n 's/^secret_gen = //p' "$c")" = 4 ] || fail "n$k: not at generation 4"
        grep -qE '^secret_(prev|next)' "$c" && fail "n$k still keeps a second secret"
        decodes_as $k $S two "$T/v4" || fail "n$k does not decode the value written mid-rotation"
done
echo "ok: taken up and ended: generation 4 everywhere"

# --abort: with nothing under way it says so; a rotation installed everywhere whose switch
# fails on every node (test hook) is given up everywhere, generation 4 stays
out=$(on 1 cluster rotate-secret --abort 2>&1) && fail "--abort with no rotation succeeded"
grep -q "no rotation to give up here (none under way)" <<<"$out" || fail "--abort, nothing under way: $out"
for k in 1 2 3; do
        kill -9 "${PIDS[$k]}"
        wait "${PIDS[$k]}" 2>/dev/null
        unset "PIDS[$k]"
        OM_TEST_ROTCOMMIT_FAIL=1 start_agent $k
done
for k in 1 2 3; do wait_api $k; done
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done
on 2 cluster rotate-secret >/dev/null 2>&1 && fail "a rotation whose switch fails everywhere succeeded"
for k in 1 2 3; do
        grep -q '^secret_next = ' "$T/n$k/etc/cluster.conf" || fail "n$k has no secret_next installed"
done
out=$(on 3 cluster rotate-secret --abort 2>&1) || fail "--abort failed: $out"
[ "$out" = "generation 5 given up on n1 n2 n3" ] || fail "--abort printed: $out"
for k in 1 2 3; do
        c=$T/n$k/etc/cluster.conf
        grep -qE '^secret_(prev|next)' "$c" && fail "n$k keeps a second secret after --abort"
        [ "$(sed -n 's/^secret_gen = //p' "$c")" = 4 ] || fail "n$k: not at generation 4 after --abort"
        [ "$(on $k daemon status --format json | jq -r .daemon.secret_rotation)" = none ] ||
                fail "n$k's agent still accepts the given up secret"
        decodes_as $k $S two "$T/v4" || fail "n$k does not decode $S after --abort"
done
echo "ok: --abort gives up a rotation used nowhere"

# a node joins the rotated cluster with the secret in use (generation 4): it gets that
# generation and talks with the others; a join with the first secret is refused
for k in 1 2 3; do
        kill -9 "${PIDS[$k]}"
        wait "${PIDS[$k]}" 2>/dev/null
        unset "PIDS[$k]"
        start_agent $k
done
for k in 1 2 3; do wait_api $k; done
for k in 1 2 3; do for j in 1 2 3; do [ $k = $j ] || wait_state $k n$j up 10 >/dev/null; done; done
mkdir -p "$T/n4/etc"
cur=$(sed -n 's/^secret = //p' "$T/n1/etc/cluster.conf")
on 4 cluster join --node "$(addr 1):$API_PORT" --secret "$SECRET" --addr "$(addr 4)" >/dev/null 2>&1 &&
        fail "a join with the first secret succeeded"
on 4 cluster join --node "$(addr 1):$API_PORT" --secret "$cur" --addr "$(addr 4)" >/dev/null ||
        fail "a join with the secret in use failed"
[ "$(sed -n 's/^secret_gen = //p' "$T/n4/etc/cluster.conf")" = 4 ] || fail "n4 did not get generation 4"
start_agent 4
wait_api 4
for k in 1 2 3; do wait_state 4 n$k up 10 >/dev/null; wait_state $k n4 up 10 >/dev/null; done
until_ok 10 "$S does not reach n4" decodes_as 4 $S two "$T/v4"
echo "ok: n4 joined at generation 4"
