#!/bin/bash
# test-fence-orchestrated.sh: the agent treats an instance whose reservation another node
# preempted as fenced.
#
# Two guests n1 and n2 with agents (two nodes, no quorum) share a LUN of the lab's
# iSCSI SAN; an HA failover service (disk.crypt with scsireserv = true + ext4) runs on
# n1. A start by hand on n2 is refused (n2's agent sees it up on n1); n2's instance is
# frozen (so that n2's agent leaves it alone) and started there by hand with --force:
# n2 preempts n1's reservation. Then n1's monitor finds its disk#1 fenced at its
# next status refresh and gives the instance up: stopped (the volume closed, the
# reservation left to n2), monitor "fenced" (out of the HA candidates until the
# service is placed back), the reason in the daemon log; n1 does not start it again,
# nor after a restart of its agent (the state "fenced" is kept on disk); placed back on
# n1 (switch --to n1), n1 preempts n2 in turn and is no longer fenced.
# (n2's agent may then stop its frozen instance too, as a duplicate after a stall of
# its loop: the test does not depend on what n2 does after its start.)
# Exit 0 on success; 1 with the consoles and logs on failure; 77 when the QEMU lab or
# its iSCSI SAN or jq are missing.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"
command -v jq >/dev/null || { echo "SKIP: jq is needed"; exit 77; }

svc=demo/svc/fenced
crypt=/dev/mapper/fenced.demo.svc.lab-crypt
declare -A ADDR=([n1]=10.99.0.11 [n2]=10.99.0.12)
t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
fail() {
    echo "FAIL: $*"
    local n
    for n in n1 n2; do
        lab_alive "$n" || continue
        lab_console "$n" | tail -n 30
        echo "----- $n: daemon log -----"
        lab_run -t 20 "$n" "tail -n 60 /var/log/om/daemon.log" 2>&1 || true
        echo "----- $n: object log -----"
        lab_run -t 20 "$n" "tail -n 40 /var/log/om/namespaces/$svc.log" 2>&1 || true
    done
    exit 1
}
out=
run() {
    local node=$1 rc=0
    shift
    echo "# $node: $*"
    out=$(lab_run -t 90 "$node" "( $*
) 2>&1") || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    [ "$rc" = 0 ] || fail "$node: '$*' exited $rc"
}
q() { lab_run -t 20 "$@" 2>/dev/null; }
until_() {
    local secs=$1 desc=$2 t0=$EPOCHREALTIME
    shift 2
    while ! "$@"; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt "$secs" ] || fail "$desc: not after ${secs}s"
        read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
    done
}

lab_init --om "$om_bin" --iscsi || exit $?
lun=$(lab_iscsi_disk fenced 128M) || fail "lab_iscsi_disk"
lab_start n1 "${ADDR[n1]}/24" "$lun"
lab_start n2 "${ADDR[n2]}/24" "$lun"
lab_wait n1 || fail "n1 did not boot"
lab_wait n2 || fail "n2 did not boot"

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
conf="[cluster]
name = lab
secret = $secret
nodes = n1 n2

[hb#1]
type = unicast
addr@n1 = ${ADDR[n1]}
addr@n2 = ${ADDR[n2]}
interval = 1s
timeout = 3s"
peer_up() {
    local j
    j=$(q "$1" "om node ls --format json") || return 1
    [ "$(jq -r ".\"$2\".liveness // empty" <<<"$j" 2>/dev/null)" = up ]
}
step "agents on n1 and n2"
for n in n1 n2; do
    printf '%s\n' "$conf" | lab_run -i "$n" 'mkdir -p /etc/om && umask 077 && cat >/etc/om/cluster.conf' ||
        fail "$n: cluster.conf"
    run "$n" "om daemon start"
done
until_ 60 "n1 sees n2 up" peer_up n1 n2
until_ 60 "n2 sees n1 up" peer_up n2 n1

inst_field() { # NODE VIEWER FIELD
    local j
    j=$(q "$2" "om mon --format json") || return 1
    jq -r ".objects[\"$svc\"].instances[\"$1\"].$3 | if . == null then \"none\" else tostring end" <<<"$j" 2>/dev/null
}
step "the HA service runs on n1"
run n1 "cat >/tmp/fenced.conf <<'EOF'
[DEFAULT]
nodes = n1 n2
orchestrate = ha
topology = failover
monitor_interval = 2s

[disk#1]
type = crypt
dev = $lun
scsireserv = true

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}
EOF
om $svc create --config=/tmp/fenced.conf && om $svc provision --wait"
n2_ready() { [ "$(inst_field n2 n2 provisioned)" = true ] && q n2 "om demo/sec/fenced keys" | grep -q disk_1_crypt_passphrase; }
until_ 60 "n2 provisioned, with the passphrase" n2_ready
n1_up() { [ "$(inst_field n1 n1 avail)" = up ]; }
until_ 60 "the service up on n1" n1_up
run n1 "om $svc print status"
grep -q "pr key .* holds the reservation" <<<"$out" || fail "n1 does not hold the reservation"

step "n2 (its instance frozen) starts the service by hand, forced: it preempts n1"
# without --force the start is refused: n2's agent sees the service up on n1
lab_run -t 60 n2 "om $svc start --local" >"$LAB_DIR/refused.out" 2>&1 && fail "start on n2 while n1 runs it succeeded"
grep -q "$svc is up on n1 as this node's agent last heard" "$LAB_DIR/refused.out" || fail "start on n2: $(cat "$LAB_DIR/refused.out")"
run n2 "om $svc freeze --local && om $svc start --local --force"
grep -q "scsireserv: preempted and aborted n1" <<<"$out" || fail "n2 did not preempt n1"
t0=$EPOCHREALTIME
run n2 "om $svc print status"
grep -q "pr key .* holds the reservation" <<<"$out" || fail "n2 does not hold the reservation"
n1_failed() { q n1 "om mon" | grep "^ $svc " | grep -qE "[OX!/][!*P^]* fenced( |\$)"; }
until_ 60 "n1's instance fenced and given up" n1_failed
echo "n1 gave its instance up $(lab_elapsed "$t0") s after n2's preempt"
run n1 "om mon"
run n1 "grep -F 'the reservation of disk#1 was preempted by another node: the instance is fenced, giving it up' /var/log/om/daemon.log"
run n1 "test ! -e $crypt && ! grep -q ' /srv/fenced ' /proc/mounts"

step "n1 does not start it again"
sleep 6
[ "$(inst_field n1 n1 avail)" != up ] || fail "n1 started the fenced service again"
n1_failed || fail "n1 left 'fenced'"
run n1 "om $svc print status"
grep -qE "down +fenced$" <<<"$out" || fail "n1's print status does not say fenced"

step "n1's agent restarted: the instance is still fenced (not a candidate again)"
run n1 "om daemon stop && om daemon start"
until_ 60 "n1 sees n2 up after its agent restarted" peer_up n1 n2
n1_known() { local m; m=$(inst_field n1 n1 monitor) && [ -n "$m" ] && [ "$m" != init ] && [ "$m" != none ]; }
until_ 60 "n1's instance out of init after the restart" n1_known
[ "$(inst_field n1 n1 monitor)" = fenced ] || fail "n1's instance is '$(inst_field n1 n1 monitor)' after its agent restarted, not fenced"
n2_sees_fenced() { [ "$(inst_field n1 n2 monitor)" = fenced ]; }
until_ 30 "n2 sees n1's instance fenced" n2_sees_fenced
run n1 "grep -F 'fenced before the agent started' /var/log/om/daemon.log"
run n1 "om mon"

step "placed back on n1 (switch --to n1): n1 preempts n2, no longer fenced"
run n1 "om $svc switch --to n1 --wait"
n1_back() { [ "$(inst_field n1 n1 avail)" = up ] && [ "$(inst_field n1 n1 monitor)" = idle ]; }
until_ 90 "the service up on n1, idle" n1_back
run n1 "om $svc print status"
grep -q "pr key .* holds the reservation" <<<"$out" || fail "n1 does not hold the reservation again"
! grep -qE " fenced$|warn: fenced" <<<"$out" || fail "n1's print status still says fenced"
[ "$(inst_field n1 n2 monitor)" != fenced ] || fail "n2 still sees n1's instance fenced"
run n1 "om mon"

step "PASS ($(lab_elapsed "$t_start")s)"
