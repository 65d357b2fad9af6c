#!/bin/bash
# test-failover-crypt.sh: the mission's headline in the QEMU lab (issue 7 item 5).
#
# Two TCG guests n1 (10.99.0.11) and n2 (10.99.0.12) share a 1G LUN of the lab's iSCSI
# SAN (the reference's SAN is an iSCSI disk) and a 4M one for a disk heartbeat; an
# arbitrator (`om arbitrator run` on the host side of the lab network, 10.99.0.1:1300)
# gives the two-node cluster its tie-breaking vote (scenario.lib's lab_ha_pair: the same
# cluster.conf on both, interval/timeout defaults unless FO_INTERVAL / FO_TIMEOUT are
# set, `om daemon start` on both).
#
#   create demo/svc/sancrypt on n1 (the reference's SAN service: crypt on the shared
#   disk + ext4, nodes = n1 n2, orchestrate = ha, topology = failover); the config
#   reaches n2 by replication; `provision --wait` (orchestrated, on the HA leader
#   n1); the generated passphrase (demo/sec/sancrypt) reaches n2 by replication and
#   decodes there to the same bytes as on n1; data written on n1 (random file,
#   sha256, sync); n1 is cut from n2 and the arbitrator for 10 s (nft in the lab's
#   namespace; both still reach the SAN): each sees the other "disk (net down)",
#   nothing moves, n1 keeps its quorum; healed; n1 loses power (lab_kill); n2 takes
#   over: its daemon reopens the LUKS volume with the replicated passphrase and
#   mounts the ext4.
#
# Prints "failover: kill to service up on n2: X ms" (host monotonic clock, from the
# SIGKILL of n1's QEMU to the first `om demo/svc/sancrypt print status --format
# json` on n2 that says avail up; each poll is a lab_run round trip, ~0.1-0.2 s,
# so the figure is late by up to one poll).  Durations are printed, never
# asserted.
#
# Checks on n2 after the takeover: /srv/sancrypt mounted, ext4, over
# /dev/mapper/sancrypt.demo.svc.default-crypt; the data's sha256; the object log
# has "do start --local (daemon origin)" and the luksOpen line.
#
# Exit 0 on success; 1 with the consoles, daemon and object logs on failure; 77
# when the QEMU lab, its iSCSI SAN, jq or nft are missing.  Environment: OM_BIN (default build/om),
# FO_INTERVAL / FO_TIMEOUT (heartbeat, default 1s / 3s), FO_REBOOT=0 (skip the last
# step: reboot n1 with a blank root and wait until it is provisioned again).
#
# n2 is made to provision after n1 in every run (its record of disk#1 says not
# provisioned before the provision).
#
# Regressions this test guards (both were real): the passive node n2 must never format,
# open, check or mount the shared volume during the orchestrated provision (it once ran
# "provision then stop" there while n1 had it mounted: luksOpen, e2fsck -p replaying the
# journal, mount; its provision is now `provision --local --passive`), nor must n1 when
# it comes back blank and provisions after n2; n1 back
# with a blank root must see the shared volume as provisioned and become a candidate
# again (it once stayed unprovisioned and the provision target never ended).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
OM_BIN=$om_bin
. "$here/lab.sh"
command -v jq >/dev/null || { echo "SKIP: jq is needed (om mon --format json is read on the host)"; exit 77; }

svc=demo/svc/sancrypt
sec=demo/sec/sancrypt
key=disk_1_crypt_passphrase
crypt=/dev/mapper/sancrypt.demo.svc.default-crypt
mnt=/srv/sancrypt
objlog=/var/log/om/namespaces/demo/svc/sancrypt.log
interval=${FO_INTERVAL:-1s}
timeout=${FO_TIMEOUT:-3s}

. "$here/scenario.lib"
dumped=
dump() {
    [ -z "$dumped" ] || return 0
    dumped=1
    [ -n "$LAB_DIR" ] || return 0
    local n
    for n in n1 n2; do
        lab_console "$n" 2>&1 | tail -n 60 || true
        if lab_alive "$n"; then
            echo "----- $n: om daemon log -----"
            lab_run -t 20 "$n" "tail -n 80 /var/log/om/daemon.log" 2>&1 || true
            echo "----- $n: object log $objlog -----"
            lab_run -t 20 "$n" "cat $objlog" 2>&1 || true
            echo "----- $n: om mon -----"
            lab_run -t 20 "$n" "om mon" 2>&1 || true
        fi
    done
}
fail() {
    echo "FAIL: $*"
    dump
    exit 1
}

# run NODE CMD: run CMD in the guest (stderr merged), show it and its output, fail
# unless it exits 0.  The output is left in $out.
out=
run() {
    local node=$1 rc=0
    shift
    echo "# $node: $*"
    out=$(lab_run -t 60 "$node" "( $*
) 2>&1") || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    [ "$rc" = 0 ] || fail "$node: '$*' exited $rc"
}
# q NODE CMD: run CMD quietly, output on stdout, status returned (for polls)
q() { lab_run -t 20 "$@" 2>/dev/null; }

# until_ SECS DESC CMD...: poll CMD (a shell function or command) every 0.2 s
until_() {
    local secs=$1 desc=$2 t0=$EPOCHREALTIME
    shift 2
    while ! "$@"; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt "$secs" ] || fail "$desc: not after ${secs}s"
        read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
    done
}

# ms_since T0: whole milliseconds since T0=$EPOCHREALTIME
ms_since() {
    local now=$EPOCHREALTIME
    echo $(((${now/./} - ${1/./}) / 1000))
}

lab_init --om "$om_bin" --iscsi || exit $?
command -v nft >/dev/null || { echo "SKIP: nft is needed (the network cut)"; exit 77; }

step "arbitrator, two iSCSI LUNs (san, hb), n1 and n2 (TCG), agents (hb interval $interval, timeout $timeout, and a disk heartbeat)"
HA_INTERVAL=$interval HA_TIMEOUT=$timeout
lab_ha_pair --disk-hb hb default san:1G hb:4M || fail "lab_ha_pair"
dev=${HA_LUN[san]}
echo "boot: n1 $(lab_boot_time n1)s, n2 $(lab_boot_time n2)s"
run n1 "om node ls"

step "create $svc on n1; the config reaches n2 by replication"
run n1 "cat >/tmp/sancrypt.conf <<'EOF'
[DEFAULT]
nodes = n1 n2
orchestrate = ha
topology = failover

[disk#1]
type = crypt
dev = $dev
name = {fqdn}-crypt

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}
EOF"
run n1 "om $svc create --config=/tmp/sancrypt.conf"
t0=$EPOCHREALTIME
has_conf() { q n2 "om $svc print config" >/dev/null; }
until_ 30 "the config of $svc on n2" has_conf
echo "config on n2 after $(ms_since "$t0") ms"
run n2 "om $svc print config"
run n2 "om $svc print status"
# n2's own record says disk#1 is not provisioned (what a provision that failed there
# leaves): its status says "not provisioned" whatever the LUN holds, as a status refresh
# of n2 once did while n1 ran the service, so n2 provisions after n1 in every run; that
# provision must be passive and open nothing of the shared volume (no_touch below)
run n2 "mkdir -p /var/lib/om/namespaces/demo/svc/sancrypt && printf '[disk#1]\nprovisioned = false\n' >/var/lib/om/namespaces/demo/svc/sancrypt/resources"

# inst_field NODE VIEWER FIELD: a field of NODE's instance in VIEWER's om mon
inst_field() {
    local j
    j=$(q "$2" "om mon --format json") || return 1
    jq -r ".objects[\"$svc\"].instances[\"$1\"].$3 | if . == null then \"none\" else tostring end" <<<"$j" 2>/dev/null
}
# both_see_n2_provisioned: the orchestrator's view agrees that n2 can take over
n2_provisioned() { [ "$(inst_field n2 n2 provisioned)" = true ] && [ "$(inst_field n2 n1 provisioned)" = true ]; }

# no_touch NODE OBJLOG: NODE, which did not run the service, provisioned it passively
# (if at all) and formatted, opened, checked and mounted nothing of the shared volume
no_touch() {
    local node=$1 log=$2 bad
    bad=$(grep -E "sc:n \| (cryptsetup luks(Open|Format)|e2fsck|mkfs|mount -t)" <<<"$log") &&
        fail "$node touched the shared volume while the other node ran $svc: $bad"
    if grep -q "do provision" <<<"$log"; then
        grep "do provision" <<<"$log" | grep -qv -- "--passive" &&
            fail "$node ran a provision that is not passive: $(grep 'do provision' <<<"$log")"
        echo "$node provisioned passively: $(grep -cE 'recorded' <<<"$log") resources recorded, none opened"
    fi
    return 0
}

step "provision --wait (orchestrated, on the HA leader n1)"
run n1 "om $svc provision --wait"
run n1 "om $svc print status"
grep -q "^ *\`- n1 .* up " <<<"$out" || grep -qE 'n1 +up' <<<"$out" || fail "$svc is not up on n1 after provision"
run n1 "grep -q ' $mnt ext4 ' /proc/mounts && test -b $crypt"
run n2 "! grep -q ' $mnt ' /proc/mounts && test ! -e $crypt"

step "the passphrase reaches n2 by replication (same bytes as on n1)"
p1=$(q n1 "om $sec decode --key $key | sha256sum") || fail "decode on n1"
t0=$EPOCHREALTIME
same_key() { [ "$(q n2 "om $sec decode --key $key | sha256sum")" = "$p1" ]; }
until_ 30 "the key $key of $sec on n2" same_key
echo "passphrase decodes on n2 (sha256 ${p1%% *}) after $(ms_since "$t0") ms"
until_ 30 "n2's instance provisioned in n1's and n2's views" n2_provisioned
run n2 "om mon"
# n2 is not the leader: provisioning must not have opened the volume there while n1
# runs the service (two mounts of one ext4 corrupt it)
run n2 "cat $objlog 2>/dev/null || true"
grep -q "do provision" <<<"$out" || fail "n2 did not provision after n1 (its record said not provisioned)"
no_touch n2 "$out"

step "data on n1"
run n1 "head -c 4194304 /dev/urandom >$mnt/payload && sha256sum $mnt/payload | tee /root/payload.sum && sync"
sum1=${out%% *}

step "network cut of n1 (from n2 and the arbitrator; the SAN still reached): its disk beats keep it up"
# Without the disk heartbeat this cut moves the service: n2 sees n1 silent, the
# arbitrator's vote goes to n2 once n1's lease ran out, n2 starts it (and n1, without
# quorum, stops it). With it, each node still sees the other alive: nothing moves.
lab_host nft -f - <<'EOF' || fail "nft"
table bridge omcut {
  chain cut {
    type filter hook forward priority 0;
    ip saddr 10.99.0.11 ip daddr 10.99.0.12 drop
    ip saddr 10.99.0.12 ip daddr 10.99.0.11 drop
  }
}
table inet omcut {
  chain toarb {
    type filter hook input priority 0;
    ip saddr 10.99.0.11 drop
  }
}
EOF
hbs() { q "$1" "om mon --format json" | jq -r ".nodes.\"$2\".heartbeats" 2>/dev/null; }
net_down() { [ "$(hbs n2 n1)" = "disk (net down)" ] && [ "$(hbs n1 n2)" = "disk (net down)" ]; }
until_ 60 "each node sees the other 'disk (net down)'" net_down
run n2 "om mon"
# longer than a takeover would take to begin without the disk beats: the timeout (3 s),
# n1's lease (3 s), the ready period (1 s)
t0=$EPOCHREALTIME
while [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt 10 ]; do
    [ "$(inst_field n2 n2 avail)" != up ] || fail "n2 started $svc during the network cut"
    case $(inst_field n2 n2 monitor) in ready | starting) fail "n2 began a takeover of $svc during the network cut" ;; esac
    [ "$(inst_field n1 n1 avail)" = up ] || fail "n1 stopped $svc during the network cut"
    [ "$(inst_field n1 n2 avail)" = up ] || fail "n2 does not see $svc up on n1 during the cut"
    read -r -t 1 -u "$LAB_SLEEP_FD" || true
done
run n1 "grep -E 'quorum|=> down' /var/log/om/daemon.log | tail -n 5"
! grep -q "quorum lost" <<<"$out" || fail "n1 lost its quorum during the cut"
lab_host nft delete table bridge omcut && lab_host nft delete table inet omcut || fail "nft delete"
net_up() { [ "$(hbs n2 n1)" != "disk (net down)" ] && [ "$(hbs n1 n2)" != "disk (net down)" ]; }
until_ 60 "the network beats back after the heal" net_up
echo "heartbeats after the heal: n2 sees n1 '$(hbs n2 n1)'"

step "power loss of n1; poll n2 until $svc is up there"
n2_up() {
    local j
    j=$(q n2 "om $svc print status --format json") || return 1
    [ "$(jq -r .avail <<<"$j" 2>/dev/null)" = up ]
}
n2_up && fail "$svc is already up on n2 before the kill"
# A watcher in n2 notes its uptime when the mount appears (50 ms steps: a finer
# figure than the host's polls); n2's uptime at the kill is read just before it.
run n2 "rm -f /tmp/mounted_at; setsid sh -c 'while ! grep -q \" $mnt \" /proc/mounts; do usleep 50000; done; cut -d\" \" -f1 /proc/uptime >/tmp/mounted_at' </dev/null >/dev/null 2>&1 &"
t_a=$EPOCHREALTIME
u_a=$(q n2 "cut -d' ' -f1 /proc/uptime") || fail "uptime of n2"
t_b=$EPOCHREALTIME
t_kill=$EPOCHREALTIME
lab_kill n1
polls=0
while ! n2_up; do
    polls=$((polls + 1))
    [ "$(lab_elapsed "$t_kill" | cut -d. -f1)" -lt 60 ] || fail "$svc not up on n2 60 s after the kill"
    read -r -t 0.1 -u "$LAB_SLEEP_FD" || true
done
fo_ms=$(ms_since "$t_kill")
echo "failover: kill to service up on n2: $fo_ms ms ($polls polls; hb interval $interval, timeout $timeout)"
# n2's uptime at the kill: u_a was read at about the middle of [t_a, t_b]
u_mount=$(q n2 "cat /tmp/mounted_at") || u_mount=
if [ -n "$u_mount" ]; then
    mount_ms=$(awk -v ua="$u_a" -v um="$u_mount" -v ta="${t_a/./}" -v tb="${t_b/./}" -v tk="${t_kill/./}" \
        'BEGIN { uk = ua + ((tk - (ta + tb) / 2) / 1e6); printf "%d", (um - uk) * 1000 }')
    echo "failover: kill to $mnt mounted on n2 (n2's clock, +-$(( (${t_b/./} - ${t_a/./}) / 2000 )) ms): $mount_ms ms"
fi

step "checks on n2"
run n2 "om $svc print status"
run n2 "grep ' $mnt ' /proc/mounts"
read -r mdev mmnt mtype _ <<<"$out"
[ "$mmnt" = "$mnt" ] && [ "$mtype" = ext4 ] || fail "$mnt is not an ext4 mount on n2: $out"
run n2 "readlink -f $crypt; readlink -f $mdev"
[ "$(sed -n 1p <<<"$out")" = "$(sed -n 2p <<<"$out")" ] || fail "$mnt is mounted from $mdev, not $crypt"
run n2 "sha256sum $mnt/payload"
[ "${out%% *}" = "$sum1" ] || fail "the data differs on n2: ${out%% *}, want $sum1"
echo "data intact (sha256 $sum1)"
lab_get n2 "$objlog" "$LAB_DIR/objlog.n2" || fail "cannot read $objlog on n2"
echo "----- n2: $objlog -----"
cat "$LAB_DIR/objlog.n2"
echo "-----"
grep -E "n:n2 o:$svc sc:n \| do start --local \(daemon origin\)$" "$LAB_DIR/objlog.n2" ||
    fail "n2's object log has no 'do start --local (daemon origin)'"
grep -E "n:n2 o:$svc r:disk#1 sc:n \| cryptsetup luksOpen $dev sancrypt\.demo\.svc\.default-crypt -$" "$LAB_DIR/objlog.n2" ||
    fail "n2's object log has no luksOpen line"
sid=$(grep -E "n:n2 o:$svc sc:n \| do start --local \(daemon origin\)$" "$LAB_DIR/objlog.n2" | tail -n 1 | sed 's/.* sid:\([^ ]*\) .*/\1/')
if [ -n "$sid" ]; then
    t_do=
    steps=
    while IFS= read -r l; do
        t=$(($(date -d "${l:0:19}" +%s) * 1000 + 10#${l:20:3}))
        [ -n "$t_do" ] || t_do=$t
        m=${l#*sc:n | }
        case $m in
        "cryptsetup luksOpen"*) steps="$steps, luksOpen at +$((t - t_do))" ;;
        "e2fsck -p"*) steps="$steps, e2fsck at +$((t - t_do))" ;;
        "mount -t"*) steps="$steps, mount at +$((t - t_do))" ;;
        esac
    done < <(grep "sid:$sid " "$LAB_DIR/objlog.n2")
    echo "start action on n2 (object log, ms from 'do start')${steps}"
fi
run n2 "om mon"
run n2 "grep -E 'n1 .*=> down|quorum|ready|start' /var/log/om/daemon.log | tail -n 12"
# the takeover's steps in n2's daemon log (n2's wall clock): n1 declared down, the
# ready period, the start action
log_ms() { # "YYYY-MM-DD HH:MM:SS,mmm ..." -> epoch ms
    echo $(($(date -d "${1:0:19}" +%s) * 1000 + 10#${1:20:3}))
}
l_down=$(grep -E 'c:hb \| node n1 .*=> down' <<<"$out" | tail -n 1)
l_start=$(grep -E "$svc monitor status change: ready => starting" <<<"$out" | tail -n 1)
l_exit=$(grep -E "$svc start \(sid .*\) exited 0 after" <<<"$out" | tail -n 1)
if [ -n "$l_down" ] && [ -n "$l_start" ] && [ -n "$l_exit" ]; then
    d_ready=$(($(log_ms "$l_start") - $(log_ms "$l_down")))
    d_start=$(($(log_ms "$l_exit") - $(log_ms "$l_start")))
    d_nofr=$(sed -n 's/.*no valid frame for \([0-9]*\)ms.*/\1/p' <<<"$l_down")
    echo "takeover on n2: n1 down after ${d_nofr:-?} ms without a frame, then ${d_ready} ms to the start (ready period), start action ${d_start} ms"
    [ -z "${mount_ms:-}" ] || echo "kill to n1 declared down on n2: about $((mount_ms - d_ready - d_start)) ms"
fi

step "the filesystem is consistent (freeze, umount on n2, e2fsck -fn)"
run n2 "om $svc freeze"
run n2 "om $svc stop --local --rid fs#0"
run n2 "e2fsck -fn $crypt"

if [ "${FO_REBOOT:-1}" = 1 ]; then
    # opt-in: n1 comes back with a blank root (the lab's RAM root), gets cluster.conf
    # and the objects by replication, and should become provisioned (able to take
    # over again) without starting anything
    step "n1 reboots with a blank root: does it become provisioned?"
    run n2 "om $svc thaw"
    run n2 "om $svc start --local --rid fs#0"
    lab_ha_boot n1 || fail "n1 back with its agent"
    until_ 30 "the config back on n1" eval 'q n1 "om $svc print config" >/dev/null'
    t0=$EPOCHREALTIME
    n1_prov() { [ "$(inst_field n1 n1 provisioned)" = true ] && [ "$(inst_field n1 n2 provisioned)" = true ]; }
    for i in $(seq 1 25); do n1_prov && break; read -r -t 0.2 -u "$LAB_SLEEP_FD" || true; done
    if ! n1_prov; then
        echo "n1 not provisioned after $(ms_since "$t0") ms: asking for it (provision from n2)"
        run n2 "om $svc provision"
    fi
    until_ 30 "n1 provisioned in both views after its reboot" n1_prov
    echo "n1 provisioned $(ms_since "$t0") ms after its daemon saw n2"
    run n1 "cat $objlog 2>/dev/null || true"
    no_touch n1 "$out"
    run n2 "om mon"
    svc_up_n1=$(inst_field n1 n2 avail)
    [ "$svc_up_n1" != up ] || fail "$svc up on n1 too after its reboot"
fi

step "PASS ($(lab_elapsed "$t_start")s)"
echo "failover: kill to service up on n2: $fo_ms ms"
