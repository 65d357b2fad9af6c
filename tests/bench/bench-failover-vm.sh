#!/bin/bash
# bench-failover-vm.sh: failover time of the reference encrypted service (crypt on a
# shared disk + ext4, orchestrate = ha, topology = failover) between two QEMU guests
# (TCG) with an arbitrator, as in tests/vm/test-failover-crypt.sh, repeated, against
# the project's targets: node loss to service up elsewhere under 5 s with default
# settings (timeout 3s), under 2 s with interval 200ms / timeout 1s.  Printed, never asserted.
#
# Per setting (interval / timeout / ready_period: the defaults 1s / 3s / 1s, then
# 200ms / 1s / 1s, then 200ms / 1s / 200ms unless FO_SKIP_FAST_READY=1):
# boot n1 and n2 on a blank shared disk, cluster.conf, daemons, create and
# provision --wait demo/svc/sancrypt once; then ROUNDS times: write data on the
# owner, power loss of the owner (lab_kill), poll the other node until the service
# is up there (the data's sha256 checked), reboot the killed node (its RAM root is
# lost, but om's root (OM_ROOT) is on the node's private disk, as a real node's
# /etc and /var: config, objects and resource states survive), wait until it is
# provisioned in both views, and the next round kills the new owner.
#
# Two figures per round: "up" = host monotonic clock from the SIGKILL to the first
# `om demo/svc/sancrypt print status --format json` on the survivor that says avail
# up (late by up to one poll, each poll ~0.2-0.4 s on TCG); "mnt" = the survivor's
# own clock (/proc/uptime, 50 ms steps) from the kill to the mount appearing in its
# /proc/mounts (the start action's last step).  Also n2's log breakdown (down
# detection, ready period, start action).
#   usage: bench-failover-vm.sh [rounds]   (default 3; OM_BIN defaults to build/om)
# Exit 77 (with the reason) when the QEMU lab cannot run here.
set -euo pipefail

rounds=${1:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
[ -x "$om_bin" ] || { echo "no om binary at $om_bin (build first or set OM_BIN)"; exit 1; }
command -v jq >/dev/null || { echo "SKIP: jq is needed"; exit 77; }
. "$src/tests/vm/lab.sh"

svc=demo/svc/sancrypt
sec=demo/sec/sancrypt
key=disk_1_crypt_passphrase
dev=/dev/disk/by-id/virtio-san
crypt=/dev/mapper/sancrypt.demo.svc.default-crypt
mnt=/srv/sancrypt
arb_port=1300
declare -A ADDR=([n1]=10.99.0.11 [n2]=10.99.0.12)
ARB_PID=
t_start=$EPOCHREALTIME

fail() {
    echo "FAIL: $*"
    if [ -n "$LAB_DIR" ]; then
        local n
        for n in n1 n2; do
            lab_console "$n" 2>&1 | tail -n 30 || true
            lab_alive "$n" && lab_run -t 20 "$n" "tail -n 40 \$OM_ROOT/log/daemon.log; om mon" 2>&1 || true
        done
    fi
    exit 1
}
q() { lab_run -t 20 "$@" 2>/dev/null; }
run() { # run NODE CMD: quiet unless it fails
    local node=$1 out rc=0
    shift
    out=$(lab_run -t 60 "$node" "( $*
) 2>&1") || rc=$?
    [ "$rc" = 0 ] || { printf '%s\n' "$out"; fail "$node: '$*' exited $rc"; }
}
until_() { # until_ SECS DESC CMD...
    local secs=$1 desc=$2 t0=$EPOCHREALTIME
    shift 2
    while ! "$@"; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt "$secs" ] || fail "$desc: not after ${secs}s"
        read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
    done
}
ms_since() { local now=$EPOCHREALTIME; echo $(((${now/./} - ${1/./}) / 1000)); }
log_ms() { echo $(($(date -d "${1:0:19}" +%s) * 1000 + 10#${1:20:3})); }
stats() { # "median min max" of the numbers on stdin
    sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "- - -"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d %d %d\n", m, v[1], v[NR] }'
}

peer_up() { # peer_up NODE PEER
    local j
    j=$(q "$1" "om node ls --format json") || return 1
    [ "$(jq -r ".\"$2\".liveness // empty" <<<"$j" 2>/dev/null)" = up ]
}
inst_field() { # inst_field NODE VIEWER FIELD
    local j
    j=$(q "$2" "om mon --format json") || return 1
    jq -r ".objects[\"$svc\"].instances[\"$1\"].$3 | if . == null then \"none\" else tostring end" <<<"$j" 2>/dev/null
}
provisioned_everywhere() { # provisioned_everywhere NODE: NODE's instance provisioned in both views
    [ "$(inst_field "$1" n1 provisioned)" = true ] && [ "$(inst_field "$1" n2 provisioned)" = true ]
}
svc_up_on() {
    local j
    j=$(q "$1" "om $svc print status --format json") || return 1
    [ "$(jq -r .avail <<<"$j" 2>/dev/null)" = up ]
}
has_conf() { q "$1" "om $svc print config" >/dev/null; }
same_key() { [ "$(q "$1" "om $sec decode --key $key | sha256sum")" = "$2" ]; }

# setup_node NODE [fresh]: om's root on the node's private disk (a rebooted node keeps
# its config, objects and resource states, as a real node would), cluster.conf, the
# daemon
setup_node() {
    run "$1" "${2:+rm -rf /persist/om; }mkdir -p /persist/om && echo 'export OM_ROOT=/persist/om' >>/etc/lab/env"
    printf '%s\n' "$conf" | lab_run -i "$1" 'mkdir -p $OM_ROOT/etc && umask 077 && cat >$OM_ROOT/etc/cluster.conf' ||
        fail "$1: cannot write cluster.conf"
    run "$1" "om daemon start"
}

lab_init --om "$om_bin" || exit $?
# the arbitrator runs under a subshell (lab_host is a function): its children go too
arb_stop() { [ -z "$ARB_PID" ] || { pkill -P "$ARB_PID"; kill "$ARB_PID"; } 2>/dev/null || true; ARB_PID=; }
trap 'arb_stop; lab_cleanup' EXIT
trap 'trap - EXIT; arb_stop; lab_cleanup; trap - INT; kill -INT $$' INT
trap 'trap - EXIT; arb_stop; lab_cleanup; trap - TERM; kill -TERM $$' TERM
# arb_start SECRET: `om arbitrator run` on the lab's host side serving the cluster
arb_start() {
    arb_stop
    mkdir -p "$LAB_DIR/arb/etc"
    printf '[arbitrator]\naddr = 10.99.0.1\nport = %s\nname = arb\n[cluster#1]\nname = default\nsecret = %s\n' \
        "$arb_port" "$1" >"$LAB_DIR/arb/etc/arbitrator.conf"
    chmod 600 "$LAB_DIR/arb/etc/arbitrator.conf"
    lab_host env OM_ROOT="$LAB_DIR/arb" OM_NODENAME=arb "$om_bin" arbitrator run \
        </dev/null >>"$LAB_DIR/arb.out" 2>&1 &
    ARB_PID=$!
}
san=$(lab_disk san 1G)

declare -a RESULTS=()

bench() { # bench INTERVAL TIMEOUT READY_PERIOD BUDGET_MS
    local interval=$1 timeout=$2 ready=$3 budget=$4 r owner other t_kill t_a t_b u_a u_m up_ms mnt_ms out
    local ups="" mnts="" downs="" readys="" starts=""
    echo "== setting: interval $interval, timeout $timeout, ready_period $ready ($(lab_elapsed "$t_start" | cut -d. -f1)s)"
    lab_kill n1 2>/dev/null || true
    lab_kill n2 2>/dev/null || true
    truncate -s 0 "$san" && truncate -s 1G "$san"
    secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    arb_start "$secret"
    conf="[cluster]
name = default
secret = $secret
nodes = n1 n2

[hb#1]
type = unicast
addr@n1 = ${ADDR[n1]}
addr@n2 = ${ADDR[n2]}
interval = $interval
timeout = $timeout

[arbitrator#1]
uri = om://10.99.0.1:$arb_port
weight = 1"
    lab_start --private 256M n1 "${ADDR[n1]}/24" "$san"
    lab_start --private 256M n2 "${ADDR[n2]}/24" "$san"
    lab_wait n1 || fail "n1 did not boot"
    lab_wait n2 || fail "n2 did not boot"
    setup_node n1 fresh
    setup_node n2 fresh
    until_ 30 "n1 sees n2 up" peer_up n1 n2
    until_ 30 "n2 sees n1 up" peer_up n2 n1
    run n1 "cat >/tmp/sancrypt.conf <<'EOF'
[DEFAULT]
nodes = n1 n2
orchestrate = ha
topology = failover
ready_period = $ready

[disk#1]
type = crypt
dev = $dev
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}
EOF
om $svc create --config=/tmp/sancrypt.conf"
    until_ 30 "the config on n2" has_conf n2
    run n1 "om $svc provision --wait"
    local psum
    psum=$(q n1 "om $sec decode --key $key | sha256sum") || fail "decode on n1"
    until_ 30 "the passphrase on n2" same_key n2 "$psum"
    until_ 30 "n2 provisioned in both views" provisioned_everywhere n2
    run n1 sync
    run n2 sync
    owner=n1 other=n2
    for r in $(seq 1 "$rounds"); do
        svc_up_on "$owner" || fail "round $r: $svc is not up on $owner"
        run "$owner" "head -c 1048576 /dev/urandom >$mnt/payload.$r && sha256sum $mnt/payload.$r >/tmp/sum && sync"
        local sum
        sum=$(q "$owner" "cut -d' ' -f1 /tmp/sum")
        run "$other" "rm -f /tmp/mounted_at; setsid sh -c 'while ! grep -q \" $mnt \" /proc/mounts; do usleep 50000; done; cut -d\" \" -f1 /proc/uptime >/tmp/mounted_at' </dev/null >/dev/null 2>&1 &"
        t_a=$EPOCHREALTIME
        u_a=$(q "$other" "cut -d' ' -f1 /proc/uptime") || fail "uptime of $other"
        t_b=$EPOCHREALTIME
        t_kill=$EPOCHREALTIME
        lab_kill "$owner"
        while ! svc_up_on "$other"; do
            [ "$(lab_elapsed "$t_kill" | cut -d. -f1)" -lt 60 ] || fail "round $r: not up on $other 60 s after the kill of $owner"
            read -r -t 0.1 -u "$LAB_SLEEP_FD" || true
        done
        up_ms=$(ms_since "$t_kill")
        u_m=$(q "$other" "cat /tmp/mounted_at") || u_m=
        mnt_ms=-
        [ -z "$u_m" ] || mnt_ms=$(awk -v ua="$u_a" -v um="$u_m" -v ta="${t_a/./}" -v tb="${t_b/./}" -v tk="${t_kill/./}" \
            'BEGIN { printf "%d", (um - ua - (tk - (ta + tb) / 2) / 1e6) * 1000 }')
        [ "$(q "$other" "sha256sum $mnt/payload.$r | cut -d' ' -f1")" = "$sum" ] || fail "round $r: data differs on $other"
        out=$(q "$other" "grep -E 'node $owner .*=> down|$svc monitor status change: ready => starting|$svc start \(sid .*\) exited 0' \$OM_ROOT/log/daemon.log | tail -n 3") || out=
        local l_down l_start l_exit d_ready=- d_start=- d_nofr=-
        l_down=$(grep -E "node $owner .*=> down" <<<"$out" | tail -n 1) || true
        l_start=$(grep -E "ready => starting" <<<"$out" | tail -n 1) || true
        l_exit=$(grep -E "exited 0" <<<"$out" | tail -n 1) || true
        if [ -n "$l_down" ] && [ -n "$l_start" ] && [ -n "$l_exit" ]; then
            d_ready=$(($(log_ms "$l_start") - $(log_ms "$l_down")))
            d_start=$(($(log_ms "$l_exit") - $(log_ms "$l_start")))
            d_nofr=$(sed -n 's/.*no valid frame for \([0-9]*\)ms.*/\1/p' <<<"$l_down")
            readys="$readys $d_ready"
            starts="$starts $d_start"
            [ "$mnt_ms" = - ] || downs="$downs $((mnt_ms - d_ready - d_start))"
        fi
        printf '  round %d: %s -> %s: up %5d ms  mnt %5s ms  (down after %s ms without a frame, ready %s ms, start action %s ms)\n' \
            "$r" "$owner" "$other" "$up_ms" "$mnt_ms" "$d_nofr" "$d_ready" "$d_start"
        ups="$ups $up_ms"
        [ "$mnt_ms" = - ] || mnts="$mnts $mnt_ms"
        [ "$r" -lt "$rounds" ] || break
        run "$other" sync
        # the killed node comes back (blank RAM root) and must be able to take over
        lab_boot --private 256M "$owner" "${ADDR[$owner]}/24" "$san" || fail "$owner did not boot again"
        setup_node "$owner"
        until_ 30 "$owner sees $other up" peer_up "$owner" "$other"
        until_ 30 "the config back on $owner" has_conf "$owner"
        psum=$(q "$other" "om $sec decode --key $key | sha256sum") || fail "decode on $other"
        until_ 30 "the passphrase back on $owner" same_key "$owner" "$psum"
        until_ 60 "$owner provisioned in both views" provisioned_everywhere "$owner"
        svc_up_on "$owner" && fail "round $r: $svc is up on the rebooted $owner too"
        local t=$owner
        owner=$other other=$t
    done
    local s_up s_mnt s_down s_ready s_start
    s_up=$(tr ' ' '\n' <<<"$ups" | grep . | stats)
    s_mnt=$(tr ' ' '\n' <<<"$mnts" | grep . | stats)
    s_down=$(tr ' ' '\n' <<<"$downs" | grep . | stats)
    s_ready=$(tr ' ' '\n' <<<"$readys" | grep . | stats)
    s_start=$(tr ' ' '\n' <<<"$starts" | grep . | stats)
    RESULTS+=("$(printf '%-22s %6s %13s %6s %13s %13s %11s %13s %7s' "$interval/$timeout/$ready" \
        "${s_up%% *}" "$(cut -d' ' -f2- <<<"$s_up" | tr ' ' '-')" \
        "${s_mnt%% *}" "$(cut -d' ' -f2- <<<"$s_mnt" | tr ' ' '-')" \
        "$(cut -d' ' -f1 <<<"$s_down")" "$(cut -d' ' -f1 <<<"$s_ready")" "$(cut -d' ' -f1 <<<"$s_start")" "$budget")")
}

bench 1s 3s 1s 5000
bench 200ms 1s 1s 2000
[ -n "${FO_SKIP_FAST_READY:-}" ] || bench 200ms 1s 200ms 2000

echo
echo "failover of $svc between two TCG guests (kill of the owner to the service up on the other), $rounds rounds, ms"
printf '%-22s %6s %13s %6s %13s %13s %11s %13s %7s\n' "interval/timeout/ready" "up" "up range" "mnt" "mnt range" "kill->down" "ready" "start action" "budget"
for l in "${RESULTS[@]}"; do echo "$l"; done
echo "(up: host clock to the first status poll saying up; mnt: the survivor's clock to the mount; medians; total $(lab_elapsed "$t_start" | cut -d. -f1)s)"
