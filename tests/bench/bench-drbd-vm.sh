#!/bin/bash
# bench-drbd-vm.sh: what DRBD costs against a SAN, in the QEMU lab (TCG guests, one vCPU).
#
# Two guests n1 and n2, each with a private disk (/persist, om's root OM_ROOT=/persist/om
# there too: a rebooted node keeps its config, objects and states, as a real node's
# /etc and /var) and both logged in to one LUN of the lab's iSCSI SAN (a LIO target in a
# guest of its own); an arbitrator on the host side of the lab network; agents on both.
#
# (a) Takeover: from the power loss of the owner (lab_kill) to the service up on the
#     other node (avail up or warn, its filesystem mounted, the payload's sha256 the
#     same), RUNS times per stack, each round killing the previous round's new owner
#     after the killed node booted again and is back in service:
#       drbd: loop file on /persist -> DRBD (protocol C) -> LUKS -> ext4 (the demo's
#             stack); the killed node comes back as the replica and resynchronizes
#             before the next round;
#       san:  LUKS on the shared iSCSI LUN -> ext4 (the reference's sancrypt).
#     Medians (min-max) of the host clock from the SIGKILL to the first status poll
#     that sees it up (late by up to one poll, ~0.2-0.4 s on TCG).
# (b) Write throughput in n1, RUNS times each: `dd bs=1M conv=fsync` of SIZE MiB (zeros)
#       bare: onto a loop device over a file on /persist (no filesystem);
#       crypt+ext4: into a file of a loop -> LUKS -> ext4 service without DRBD;
#       drbd+crypt+ext4: into a file of the DRBD service, n2 connected (protocol C: each
#             write returns once both nodes have it);
#     timed with the guest's /proc/uptime; medians in MiB/s and their ratio to bare.
#     (Measured after the DRBD service's first sync, before its takeovers.)
#
#   usage: bench-drbd-vm.sh [runs] [size_mib]   (defaults 3 and 48; OM_BIN: build/om)
# Prints a table; reports, never asserts a duration. Exit 77 (with the reason) when the
# QEMU lab, its iSCSI SAN or drbd-utils are not available here.
set -euo pipefail

runs=${1:-3}
size=${2:-48}
case $runs$size in *[!0-9]*) echo "usage: bench-drbd-vm.sh [runs] [size_mib]" >&2; exit 2 ;; esac
[ "$runs" -ge 1 ] && [ "$size" -ge 1 ] || { echo "usage: bench-drbd-vm.sh [runs >= 1] [size_mib >= 1]" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
[ -x "$om_bin" ] || { echo "no om binary at $om_bin (build first or set OM_BIN)"; exit 1; }
command -v jq >/dev/null || { echo "SKIP: jq is needed"; exit 77; }
[ -x /lib/drbd/drbdadm-84 ] || { echo "SKIP: drbd-utils 9 with the 8.4 tools (/lib/drbd/drbdadm-84) is not installed"; exit 77; }
. "$src/tests/vm/lab.sh"

declare -A ADDR=([n1]=10.99.0.11 [n2]=10.99.0.12)
arb_port=1300
ARB_PID=
t_start=$EPOCHREALTIME
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

say() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
fail() {
    echo "FAIL: $*"
    if [ -n "$LAB_DIR" ]; then
        local n
        for n in n1 n2; do
            lab_console "$n" 2>&1 | tail -n 30 || true
            lab_alive "$n" && lab_run -t 20 "$n" "tail -n 40 \$OM_ROOT/log/daemon.log; om mon; cat /proc/drbd" 2>&1 || true
        done
    fi
    exit 1
}
q() { lab_run -t 20 "$@" 2>/dev/null; }
run() { # run NODE CMD: quiet unless it fails; output in $out
    local node=$1 rc=0
    shift
    out=$(lab_run -t 300 "$node" "( $*
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
stats() { # "median min max" of the numbers on stdin (integers or decimals)
    sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "- - -"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

peer_up() { # peer_up NODE PEER
    local j
    j=$(q "$1" "om node ls --format json") || return 1
    [ "$(jq -r ".\"$2\".liveness // empty" <<<"$j" 2>/dev/null)" = up ]
}
inst_field() { # inst_field SVC NODE VIEWER FIELD
    local j
    j=$(q "$3" "om mon --format json") || return 1
    jq -r ".objects[\"$1\"].instances[\"$2\"].$4 | if . == null then \"none\" else tostring end" <<<"$j" 2>/dev/null
}
provisioned_everywhere() { # SVC NODE: NODE's instance provisioned in both views
    [ "$(inst_field "$1" "$2" n1 provisioned)" = true ] && [ "$(inst_field "$1" "$2" n2 provisioned)" = true ]
}
has_conf() { q "$2" "om $1 print config" >/dev/null; }
# runs_on SVC MNT NODE: the service is up (or warn: a DRBD primary without its replica)
# on NODE, its filesystem mounted
runs_on() {
    local j
    q "$3" "grep -q ' $2 ' /proc/mounts" || return 1
    j=$(q "$3" "om $1 print status --format json") || return 1
    [[ $(jq -r .avail <<<"$j" 2>/dev/null) == @(up|warn) ]]
}
drbd_line() { q "$1" "grep '^ *0:' /proc/drbd"; }
in_sync() { # NODE: NODE's DRBD minor 0 connected, both disks UpToDate
    local l
    l=$(drbd_line "$1") || return 1
    [[ $l == *"cs:Connected "* && $l == *"ds:UpToDate/UpToDate "* ]]
}

# --- the lab ---------------------------------------------------------------------------
lab_init --om "$om_bin" --iscsi || exit $?
arb_stop() { [ -z "$ARB_PID" ] || { kill "$ARB_PID"; wait "$ARB_PID"; } 2>/dev/null || true; ARB_PID=; }
trap 'arb_stop; lab_cleanup' EXIT
trap 'trap - EXIT; arb_stop; lab_cleanup; trap - INT; kill -INT $$' INT
trap 'trap - EXIT; arb_stop; lab_cleanup; trap - TERM; kill -TERM $$' TERM
say "the SAN guest, a LUN, the arbitrator, n1 and n2 (TCG); host load $load_start"
lun=$(lab_iscsi_disk san 256M) || fail "lab_iscsi_disk"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$LAB_DIR/arb/etc"
printf '[arbitrator]\naddr = 10.99.0.1\nport = %s\nname = arb\n[cluster#1]\nname = default\nsecret = %s\n' \
    "$arb_port" "$secret" >"$LAB_DIR/arb/etc/arbitrator.conf"
chmod 600 "$LAB_DIR/arb/etc/arbitrator.conf"
OM_ROOT=$LAB_DIR/arb OM_NODENAME=arb nsenter --target "$LAB_NETNS_PID" --net -- \
    setpriv --pdeathsig KILL "$om_bin" arbitrator run </dev/null >"$LAB_DIR/arb.out" 2>&1 &
ARB_PID=$!
conf="[cluster]
name = default
secret = $secret
nodes = n1 n2

[hb#1]
type = unicast
addr@n1 = ${ADDR[n1]}
addr@n2 = ${ADDR[n2]}
interval = 1s
timeout = 3s

[arbitrator#1]
uri = om://10.99.0.1:$arb_port"

boot() { # boot NODE [fresh]: power on, om's root on /persist, the agent
    lab_boot --private 768M "$1" "${ADDR[$1]}/24" "$lun" || fail "$1 did not boot"
    run "$1" "${2:+rm -rf /persist/om; }mkdir -p /persist/om && echo 'export OM_ROOT=/persist/om' >>/etc/lab/env"
    printf '%s\n' "$conf" | lab_run -i "$1" 'mkdir -p $OM_ROOT/etc && umask 077 && cat >$OM_ROOT/etc/cluster.conf' ||
        fail "$1: cannot write cluster.conf"
    run "$1" "om daemon start"
}
boot n1 fresh
boot n2 fresh
kill -0 "$ARB_PID" 2>/dev/null || fail "the arbitrator did not start: $(cat "$LAB_DIR/arb.out")"
until_ 60 "n1 sees n2 up" peer_up n1 n2
until_ 60 "n2 sees n1 up" peer_up n2 n1
echo "boot: n1 $(lab_boot_time n1) s, n2 $(lab_boot_time n2) s"

# create SVC CONF [local]: the service on n1, and its config on n2 (unless local)
create() {
    run n1 "cat >/tmp/svc.conf <<'EOF'
$2
EOF
om $1 create --config=/tmp/svc.conf"
    [ -n "${3:-}" ] || until_ 60 "the config of $1 on n2" has_conf "$1" n2
}

# takeover SVC MNT KIND: RUNS rounds, the ms of each appended to $LAB_DIR/takeover.KIND
declare -A REPROV=()
takeover() {
    local svc=$1 mnt=$2 kind=$3 r owner=n1 other=n2 t sum ms
    : >"$LAB_DIR/takeover.$kind"
    REPROV[$kind]=0
    for r in $(seq 1 "$runs"); do
        runs_on "$svc" "$mnt" "$owner" || fail "$kind round $r: $svc does not run on $owner"
        run "$owner" "dd if=/dev/urandom of=$mnt/payload.$r bs=1M count=1 conv=fsync 2>/dev/null && sha256sum $mnt/payload.$r"
        sum=${out%% *}
        [ "$kind" != drbd ] || until_ 120 "$kind round $r: $other in sync before the kill" in_sync "$owner"
        run "$other" sync
        t=$EPOCHREALTIME
        lab_kill "$owner"
        until_ 120 "$kind round $r: $svc up on $other after the kill of $owner" runs_on "$svc" "$mnt" "$other"
        ms=$(ms_since "$t")
        run "$other" "sha256sum $mnt/payload.$r"
        [ "${out%% *}" = "$sum" ] || fail "$kind round $r: the data differs on $other"
        echo "  $kind round $r: $owner -> $other: $ms ms (load $(cut -d' ' -f1 /proc/loadavg))"
        echo "$ms" >>"$LAB_DIR/takeover.$kind"
        # the killed node comes back, and must be able to take the service over again
        # (after the last round too: the next measures need both nodes)
        boot "$owner"
        until_ 60 "$owner sees $other up" peer_up "$owner" "$other"
        if [ "$kind" = drbd ]; then
            # a replica that booted again: its agent or, failing that, provision --local
            # (which finds the metadata and makes it the replica) brings DRBD up; it
            # reconnects and resynchronizes from the new owner
            local t0=$EPOCHREALTIME
            while ! { provisioned_everywhere "$svc" "$owner" &&
                [[ $(drbd_line "$other") == *@("cs:Connected "|"cs:Sync")* ]]; }; do
                if [ "$(lab_elapsed "$t0" | cut -d. -f1)" -ge 30 ]; then
                    REPROV[$kind]=$((REPROV[$kind] + 1))
                    echo "  ($owner's replica not connected 30 s after its agent started: provision --local)"
                    run "$owner" "om $svc provision --local"
                    break
                fi
                read -r -t 0.5 -u "$LAB_SLEEP_FD" || true
            done
            until_ 300 "$owner's replica resynchronized" in_sync "$other"
            echo "  $owner back as the replica, in sync $(lab_elapsed "$t0") s after its agent started"
        fi
        until_ 90 "$owner's instance of $svc provisioned in both views" provisioned_everywhere "$svc" "$owner"
        runs_on "$svc" "$mnt" "$owner" && fail "$kind round $r: $svc runs on the rebooted $owner too"
        t=$owner owner=$other other=$t
    done
}

# --- the DRBD service ------------------------------------------------------------------
say "drbd: create and provision loop -> drbd -> crypt -> ext4 (256M), the first sync"
create demo/svc/drbd "[DEFAULT]
nodes = n1 n2
orchestrate = ha

[disk#0]
type = loop
file = /persist/{svcname}.img
size = 256M

[disk#1]
type = drbd
disk = {disk#0.exposed_devs[0]}

[disk#2]
type = crypt
dev = {disk#1.exposed_devs[0]}
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#2.exposed_devs[0]}
mnt = /srv/{svcname}"
run n1 "om demo/svc/drbd provision --wait"
until_ 120 "n2's instance of demo/svc/drbd provisioned in both views" provisioned_everywhere demo/svc/drbd n2
t0=$EPOCHREALTIME
until_ 600 "the first sync" in_sync n2
echo "first sync of 256 MiB: $(lab_elapsed "$t0") s"

# --- (b) throughput, on n1 ------------------------------------------------------------
say "throughput on n1: $size MiB with dd conv=fsync, $runs runs each"
if ! runs_on demo/svc/drbd /srv/drbd n1; then
    run n1 "om demo/svc/drbd switch --to n1 --wait"
    until_ 120 "demo/svc/drbd up on n1" runs_on demo/svc/drbd /srv/drbd n1
fi
until_ 300 "n2 in sync before the throughput runs" in_sync n1
create demo/svc/plain "[DEFAULT]
nodes = n1

[disk#0]
type = loop
file = /persist/{svcname}.img
size = 256M

[disk#1]
type = crypt
dev = {disk#0.exposed_devs[0]}
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}" local
run n1 "om demo/svc/plain provision --local"
run n1 "truncate -s 256M /persist/bare.img && d=\$(losetup -f) && losetup \$d /persist/bare.img && echo \$d"
bare=$out
# write_ms NODE TARGET: ms to write $size MiB of zeros to TARGET with a final fsync
write_ms() {
    run "$1" "a=\$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=$2 bs=1M count=$size conv=fsync 2>/dev/null || exit 1
b=\$(cut -d' ' -f1 /proc/uptime); echo \$a \$b"
    awk '{ printf "%d\n", ($2 - $1) * 1000 }' <<<"$out"
}
: >"$LAB_DIR/tp.bare" >"$LAB_DIR/tp.crypt" >"$LAB_DIR/tp.drbd"
for i in $(seq 1 "$runs"); do
    write_ms n1 "$bare" >>"$LAB_DIR/tp.bare"
    write_ms n1 /srv/plain/tp >>"$LAB_DIR/tp.crypt"
    run n1 "rm -f /srv/plain/tp && sync"
    in_sync n1 || fail "n2 is not in sync before the DRBD write"
    write_ms n1 /srv/drbd/tp >>"$LAB_DIR/tp.drbd"
    run n1 "rm -f /srv/drbd/tp && sync"
    echo "  run $i: bare $(tail -n 1 "$LAB_DIR/tp.bare") ms, crypt+ext4 $(tail -n 1 "$LAB_DIR/tp.crypt") ms," \
        "drbd+crypt+ext4 $(tail -n 1 "$LAB_DIR/tp.drbd") ms"
done
run n1 "losetup -d $bare; rm -f /persist/bare.img; om demo/svc/plain unprovision --local"

# --- (a) DRBD: takeover ----------------------------------------------------------------
say "drbd: takeover, $runs rounds"
takeover demo/svc/drbd /srv/drbd drbd

# --- (a) SAN: takeover ------------------------------------------------------------------
say "san: the DRBD service stopped (frozen); create and provision crypt on the iSCSI LUN -> ext4"
run n1 "om demo/svc/drbd stop --wait"
create demo/svc/san "[DEFAULT]
nodes = n1 n2
orchestrate = ha

[disk#1]
type = crypt
dev = $lun
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}"
run n1 "om demo/svc/san provision --wait"
until_ 120 "n2's instance of demo/svc/san provisioned in both views" provisioned_everywhere demo/svc/san n2
if ! runs_on demo/svc/san /srv/san n1; then
    run n1 "om demo/svc/san switch --to n1 --wait"
    until_ 120 "demo/svc/san up on n1" runs_on demo/svc/san /srv/san n1
fi
say "san: takeover, $runs rounds"
takeover demo/svc/san /srv/san san

# --- the table --------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
ms_s() { awk '{ printf "%.1f s (%.1f-%.1f)", $1 / 1000, $2 / 1000, $3 / 1000 }'; }
mibs() { # ms of $size MiB on stdin, one a line: "median min max" in MiB/s
    awk -v s="$size" '$1 > 0 { printf "%.2f\n", s * 1000 / $1 }' | stats
}
read -r b_m b_lo b_hi <<<"$(mibs <"$LAB_DIR/tp.bare")"
echo
echo "takeover: power loss of the owner to the service up on the other node (host clock), $runs rounds, median (min-max)"
printf '  %-40s %s\n' "drbd (loop -> drbd C -> crypt -> ext4)" "$(stats <"$LAB_DIR/takeover.drbd" | ms_s)"
printf '  %-40s %s\n' "san (iSCSI LUN -> crypt -> ext4)" "$(stats <"$LAB_DIR/takeover.san" | ms_s)"
[ "${REPROV[drbd]}" = 0 ] || echo "  (the rebooted DRBD node was brought back by 'provision --local' ${REPROV[drbd]} time(s): its agent did not bring DRBD up)"
echo
echo "write throughput in n1, $size MiB, dd bs=1M conv=fsync, $runs runs, median (min-max) MiB/s, ratio to bare"
for k in bare crypt drbd; do
    case $k in bare) l="bare loop device" ;; crypt) l="crypt+ext4 on loop" ;; drbd) l="drbd+crypt+ext4 on loop, protocol C" ;; esac
    read -r m lo hi <<<"$(mibs <"$LAB_DIR/tp.$k")"
    printf '  %-40s %7s (%s-%s)  %s\n' "$l" "$m" "$lo" "$hi" "$(awk -v a="$m" -v b="$b_m" 'BEGIN { printf "%.2f", a / b }')"
done
echo
echo "(TCG guests, one vCPU each; host load at the start $load_start, at the end $load_end; total $(lab_elapsed "$t_start" | cut -d. -f1) s)"
