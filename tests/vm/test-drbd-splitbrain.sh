#!/bin/bash
# test-drbd-splitbrain.sh: a DRBD split brain is detected, freezes the service, and
# `om <path> drbd resolve --discard <node>` chooses whose data survives.
#
# The setup of drbd.lib (n1, n2, the arbitrator, loop -> drbd -> crypt -> ext4
# provisioned and in sync, running on n1). The service is frozen (the agents act on
# nothing), the link between n1 and n2 is cut (nft on the lab bridge), and a user
# forces the service up on n2 as well (`start --local --force`): both nodes are
# Primary and each writes a file of its own. The link heals: DRBD finds the split brain
# and calls its handler, which is om (the usermode helper): on both nodes the object
# log says so, the instance is frozen, print status says the data of n1 and n2
# diverged, om mon says "split brain" in both nodes' cells; resolve refuses a node that is not one of the two, and
# to discard the changes of the node where the service runs (Primary). A start by hand on
# n2 is refused while n1 runs it, and for the split brain once n1 stopped. Then n2's
# changes are discarded: stop on n2, `drbd resolve --discard n2` on n2 and on n1; DRBD resynchronizes n2 from n1, and after
# a switch to n2 the filesystem has n1's file and not n2's.
#
# Exit 0 on success, 1 with the logs on failure, 77 when the lab cannot run here.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"
. "$here/drbd.lib"
drbd_need nft

drbd_setup
drbd_create
drbd_provision

step "freeze, cut the link, force the service up on n2 too; each node writes"
# n2 loses its quorum in the cut (n1 holds the arbitrator's vote) and would stop its
# forced copy (split_action stop) before the writes: freeze keeps it up, as a user who
# forces a split brain through must
run n1 "om $svc set --kw split_action=freeze"
split_freeze() { q n2 "om $svc print config" | grep -q "^split_action = freeze"; }
until_ 30 "split_action = freeze on n2" split_freeze
run n1 "om $svc freeze --wait"
lab_host nft -f - <<'EOF' || fail "nft"
table bridge omcut {
  chain cut {
    type filter hook forward priority 0;
    ip saddr 10.99.0.11 ip daddr 10.99.0.12 drop
    ip saddr 10.99.0.12 ip daddr 10.99.0.11 drop
  }
}
EOF
cut_seen() { ! [[ $(proc n2) == *"cs:Connected"* ]]; }
until_ 60 "DRBD on n2 sees the cut" cut_seen
run n2 "om $svc start --local --force"
run n1 "echo written-on-n1 >$mnt/n1.txt && sync"
run n2 "echo written-on-n2 >$mnt/n2.txt && sync"
run n1 "cat /proc/drbd"
run n2 "cat /proc/drbd"
grep -q "ro:Primary/" <<<"$out" || fail "n2 is not Primary"

step "heal: DRBD finds the split brain, om records it and freezes the service"
lab_host nft delete table bridge omcut || fail "nft delete"
sb_seen() { q "$1" "test -e /var/lib/om/drbd/drbd.split-brain"; }
until_ 90 "n1's split brain marker" sb_seen n1
until_ 30 "n2's split brain marker" sb_seen n2
# DRBD writes the marker (through om's handler) before it finishes dropping the
# connection: /proc/drbd says Disconnecting for a moment, then StandAlone
standalone() { q "$1" "grep -q cs:StandAlone /proc/drbd"; }
for n in n1 n2; do
    until_ 30 "$n StandAlone after the split brain" standalone "$n"
    run "$n" "cat /proc/drbd; dmesg | grep -i 'split-brain' | tail -n 3"
    grep -q "cs:StandAlone" <<<"$out" || fail "$n is not StandAlone after the split brain"
    run "$n" "om $svc print status"
    grep -q "warn: split brain (.*): the data of n1 and n2 diverged; om $svc drbd resolve --discard <node>" <<<"$out" ||
        fail "$n's status does not say the split brain"
    run "$n" "grep 'DRBD split brain on drbd' $objlog"
    run "$n" "om $svc print status --format json"
    [ "$(jq -r .frozen <<<"$out")" = true ] || fail "$n's instance is not frozen"
done
# om mon names the nodes whose data diverged: "split brain" in both nodes' cells of the
# service's row, on either node (each node's status reaches the other in its node data)
sb_cells() { [ "$(q "$1" "om mon" | grep -F "$svc" | grep -o 'split brain' | wc -l)" = 2 ]; }
until_ 30 "om mon on n1 says split brain for n1 and n2" sb_cells n1
until_ 30 "om mon on n2 says split brain for n1 and n2" sb_cells n2
run n1 "om mon"

step "resolve: n2's changes are discarded"
lab_run -t 60 n1 "om $svc drbd resolve --discard n3" >"$LAB_DIR/bad.out" 2>&1 && fail "--discard n3 accepted"
grep -q "discard n3: not one of the two nodes (n1, n2)" "$LAB_DIR/bad.out" || fail "--discard n3: $(cat "$LAB_DIR/bad.out")"
# n1 runs the service: its own changes cannot be discarded while it is Primary there
lab_run -t 60 n1 "om $svc drbd resolve --discard n1" >"$LAB_DIR/busy.out" 2>&1 && fail "resolve on a Primary accepted"
grep -q "is Primary here: stop the service here first" "$LAB_DIR/busy.out" || fail "resolve --discard n1 on the Primary n1: $(cat "$LAB_DIR/busy.out")"
run n2 "om $svc stop --local"
# while n1 runs it (warn: a Primary without its peer), a start by hand on n2 is refused
# first for that (one node at a time)
run n2 "om $svc start --local; echo rc=\$?"
grep -q "$svc is up on n1 as this node's agent last heard" <<<"$out" && grep -q "rc=1" <<<"$out" ||
    fail "start on n2 while n1 runs the service was not refused"
# with n1 stopped too (and seen so by n2's agent), the split brain refuses it
run n1 "om $svc stop --local"
n1_down_on_n2() { case $(inst_field n1 n2 avail) in up | warn) return 1 ;; esac; }
until_ 30 "n1's instance down in n2's view" n1_down_on_n2
run n2 "om $svc start --local; echo rc=\$?"
grep -q "DRBD reported a split brain of drbd .*: start refused" <<<"$out" && grep -q "rc=1" <<<"$out" ||
    fail "start after the split brain was not refused"
run n2 "om $svc stop --local"
run n2 "om $svc drbd resolve --discard n2"
run n1 "om $svc drbd resolve --discard n2"
t0=$EPOCHREALTIME
until_ 120 "n2 resynchronized from n1" ds_both n2 UpToDate
echo "resynchronized $(ms_since "$t0") ms after the resolve"
for n in n1 n2; do
    sb_seen "$n" && fail "$n still has its split brain marker"
done
run n1 "om $svc start --local; ls $mnt"
grep -q "n1.txt" <<<"$out" || fail "n1's file is gone"
run n1 "om $svc thaw --wait"
run n1 "om $svc switch --to n2 --wait"
until_ 60 "$svc on n2" runs n2
run n2 "ls $mnt; cat $mnt/n1.txt"
grep -q "written-on-n1" <<<"$out" || fail "n1's file is not on n2 after the resync"
grep -q "n2.txt" <<<"$out" && fail "n2's discarded file is still there"
echo "n2's changes discarded, n1's data on both"
no_sb() { ! q n1 "om mon" | grep -q 'split brain'; }
until_ 30 "om mon no longer says split brain" no_sb

step "PASS ($(lab_elapsed "$t_start")s)"
