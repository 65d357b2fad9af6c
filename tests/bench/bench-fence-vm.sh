#!/bin/bash
# bench-fence-vm.sh: what storage fencing (scsireserv) costs at takeover, in the QEMU
# lab (TCG guests, the lab's iSCSI SAN: a LIO target in a guest of its own).
#
# Two guests share a LUN; a service with disk.crypt (scsireserv = true) + ext4. The
# nodes take it from each other RUNS times with `start --local` while the other still
# has it open (the takeover of a node that is gone or paused): each start registers,
# preempts and aborts the other node's key, then opens the volume. Printed, as medians
# (min-max): the PREEMPT AND ABORT itself (om's object log: "preempted and aborted ... in
# N ms"), and the start action with scsireserv against the same start without it (a
# second service on a second LUN, started and stopped the same way). Reports, never
# asserts a duration.
#   usage: bench-fence-vm.sh [runs]     (default 5; OM_BIN defaults to build/om)
# Exit 77 (with the reason) when the QEMU lab or its iSCSI SAN cannot run here.
set -euo pipefail

runs=${1:-5}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
[ -x "$om_bin" ] || { echo "no om binary at $om_bin (build first or set OM_BIN)"; exit 1; }
. "$src/tests/vm/lab.sh"

fail() {
    echo "FAIL: $*"
    [ -z "$LAB_DIR" ] || lab_dump
    exit 1
}
stats() { # "median (min-max)" of the numbers on stdin
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%d ms (%d-%d)", m, v[1], v[NR] }'
}

lab_init --om "$om_bin" --iscsi || exit $?
fenced=$(lab_iscsi_disk fenced 128M) || fail "lab_iscsi_disk"
plain=$(lab_iscsi_disk plain 128M) || fail "lab_iscsi_disk"
lab_start n1 10.99.0.11/24 "$fenced" "$plain"
lab_start n2 10.99.0.12/24 "$fenced" "$plain"
lab_wait n1 || fail "n1 did not boot"
lab_wait n2 || fail "n2 did not boot"

lab_run n1 "mkdir -p /etc/om && printf '[cluster]\nname = lab\nnodes = n1 n2\n' >/etc/om/cluster.conf" ||
    fail "cluster.conf"
for s in fenced plain; do
    lun=$fenced
    extra="scsireserv = true"
    [ $s = fenced ] || { lun=$plain; extra=; }
    lab_run n1 "cat >/tmp/$s.conf <<'EOF'
[disk#1]
type = crypt
dev = $lun
$extra

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}
EOF
om demo/svc/$s create --config=/tmp/$s.conf && om demo/svc/$s provision --local && om demo/svc/$s stop --local" \
        >/dev/null || fail "provision $s"
done
lab_run n1 "tar -C /etc/om -cf /tmp/etc-om.tar ." && lab_get n1 /tmp/etc-om.tar "$LAB_DIR/etc-om.tar" &&
    lab_put n2 "$LAB_DIR/etc-om.tar" /tmp/etc-om.tar &&
    lab_run n2 "mkdir -p /etc/om && tar -C /etc/om -xf /tmp/etc-om.tar" || fail "copy /etc/om to n2"

# start_ms NODE SVC: the start --local action's duration in ms (the guest's uptime)
start_ms() {
    lab_run "$1" "a=\$(cut -d' ' -f1 /proc/uptime); om demo/svc/$2 start --local >/dev/null 2>&1 || exit 1
b=\$(cut -d' ' -f1 /proc/uptime); echo \$a \$b" | awk '{ printf "%d\n", ($2 - $1) * 1000 }'
}
: >"$LAB_DIR/preempt" >"$LAB_DIR/start.fenced" >"$LAB_DIR/start.plain"
owner=n1
lab_run n1 "om demo/svc/fenced start --local" >"$LAB_DIR/first" 2>&1 || { cat "$LAB_DIR/first"; fail "first start"; }
for i in $(seq 1 "$runs"); do
    other=$([ $owner = n1 ] && echo n2 || echo n1)
    # the other node takes over while the owner still has the volume open
    start_ms "$other" fenced >>"$LAB_DIR/start.fenced" || fail "start on $other"
    lab_run "$other" "grep 'scsireserv: preempted and aborted' /var/log/om/namespaces/demo/svc/fenced.log | tail -n 1" |
        sed -n 's/.* in \([0-9]*\) ms$/\1/p' >>"$LAB_DIR/preempt"
    lab_run "$owner" "om demo/svc/fenced stop --local" >/dev/null 2>&1 || true
    # the same start on the unfenced LUN (opened on one node at a time)
    start_ms "$other" plain >>"$LAB_DIR/start.plain" || fail "start plain on $other"
    lab_run "$other" "om demo/svc/plain stop --local" >/dev/null || fail "stop plain"
    owner=$other
done
echo "scsireserv at takeover ($runs takeovers, TCG guests, iSCSI LUN on a LIO guest):"
echo "  PREEMPT AND ABORT:           $(stats <"$LAB_DIR/preempt")"
echo "  start --local, scsireserv:   $(stats <"$LAB_DIR/start.fenced")"
echo "  start --local, without:      $(stats <"$LAB_DIR/start.plain")"
