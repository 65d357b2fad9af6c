#!/usr/bin/env bash
# demo.sh: om fails an encrypted service over, and its data follows it.
#
#   ./deploy/demo.sh            (as root; sudo ./deploy/demo.sh works as well)
#   ./deploy/demo.sh --plain    the reference service without DRBD (see below)
#
# Installs what is missing (deploy/install-deps.sh), builds om, then runs the demo and
# prints how long each step took (the time since the demo began in each banner).
#
# By default (about 2 to 3 minutes after the build on 2 cores): the data follows the
# service. Two nodes, demo1 and demo2, are QEMU guests (tests/vm/lab.sh: TCG, Debian's
# kernel, which has dm-crypt and DRBD 8.4, and this build of om); an arbitrator runs on
# the host side of the lab network (10.99.0.1), so that two nodes cut from each other
# cannot both run the service. The service demo/svc/drbdcrypt is the reference
# loopcrypt stack with DRBD in the middle (deploy/examples/loopback-drbd.conf): a loop
# file on each node's own disk -> DRBD, protocol C (a write returns once both nodes
# have it) -> LUKS -> ext4. provision --wait makes demo1 the initial primary (LUKS and
# ext4 formatted there, once) and demo2 its replica (formatted never: it receives
# everything through DRBD); once demo2 is in sync, demo1 writes a file with fsync and
# prints its sha256, then loses power. demo2 takes over: DRBD promotes its replica, LUKS
# opens with the replicated passphrase, ext4 mounts; the demo prints the takeover time
# and the file's sha256 on demo2, which must be the same.
#
# Why QEMU guests and not network namespaces of this host: DRBD's kernel module opens
# its replication connections in the host's initial network namespace whatever
# namespace drbdadm runs in, and one kernel has one set of DRBD devices, so nodes that
# share a kernel cannot be two DRBD peers; each DRBD node needs a kernel of its own.
# (Many kernels, as this project's build machines', have neither DRBD nor
# device-mapper.) Why two nodes and an arbitrator: DRBD 8.4 replicates between two
# nodes, and with two nodes only a third party can tell a dead peer from a cut link.
#
# --plain: the original demo, the reference service with no replication
# (deploy/examples/loopback.conf: a loop file, LUKS on it, ext4 on that; about a
# minute). It starts three nodes on this host, demo1 to demo3: each is a network
# namespace of its own (omdemo1-3, 10.231.0.1-3 on a bridge in the namespace
# omdemo-hub) and a mount namespace of its own, with one agent (its own OM_ROOT and
# OM_NODENAME). It creates demo/svc/loopcrypt on demo1, sets `nodes` and
# `orchestrate = ha` so that it lives on all three, provisions it with --wait (each
# node formats and opens a LUKS volume of its own with the one generated passphrase,
# which reaches the other nodes as a sealed secret), shows `om mon`, kills the node
# running it (every process in its namespaces: its mounts go with it, as in a power
# cut), and shows the takeover and the time it took. The service fails over, its data
# does not: each node has its own loop file. Where the kernel has no device-mapper,
# the provision fails on this host (om says why and rolls back); the demo then says so
# and runs the same cluster in the QEMU lab (three guests).
#
# Everything it creates is removed at the end, also when interrupted (Ctrl-C, SIGTERM).
# Exit status: 0 when the service failed over (by default: with its data intact), 1
# otherwise, 2 on a bad argument.
# OM_BIN=PATH uses that om and skips the install and the build (the tests do that).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

plain=
case "${1:-}" in
'') ;;
--plain) plain=1 ;;
-h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
*)
        echo "demo: unknown argument '$1' (usage: ./deploy/demo.sh [--plain])" >&2
        exit 2
        ;;
esac
[ $# -le 1 ] || {
        echo "demo: one argument at most (usage: ./deploy/demo.sh [--plain])" >&2
        exit 2
}

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (as root: ./deploy/demo.sh, or sudo ./deploy/demo.sh): it makes" \
                "network namespaces and loop devices" >&2
        exit 1
fi

demo_started=$SECONDS
# step TEXT: a banner, with the seconds since the demo began (the build not counted)
step() { printf '\n\033[1m== %s\033[0m  (at %d s)\n' "$*" "$((SECONDS - demo_started))"; }
die() {
        printf '\ndemo: %s\n' "$*" >&2
        exit 1
}

if [ -n "${OM_BIN:-}" ]; then
        om_bin=$(realpath "$OM_BIN")
else
        step "install dependencies and build"
        "$src/deploy/install-deps.sh"
        cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build "$src/build" -j"$(nproc)" >/dev/null
        om_bin=$src/build/om
        echo "dependencies and build: $SECONDS s"
fi
demo_started=$SECONDS
# took: how long the demo has run, the build not counted
took() { echo "$((SECONDS - demo_started)) s"; }
[ -x "$om_bin" ] || die "$om_bin is not an executable"
command -v jq >/dev/null || die "jq is missing (deploy/install-deps.sh installs it)"

if [ -n "$plain" ]; then
        svc=demo/svc/loopcrypt
        sec=demo/sec/loopcrypt
        key=disk_1_crypt_passphrase
        nodes=(demo1 demo2 demo3)
else
        svc=demo/svc/drbdcrypt
        sec=demo/sec/drbdcrypt
        key=disk_2_crypt_passphrase
        nodes=(demo1 demo2)
fi
mode=          # host or qemu: where the nodes run
work=$(mktemp -d /tmp/om-demo.XXXXXX)
mkdir -p "$work/bin"
ln -s "$om_bin" "$work/bin/om"
if [ -n "$plain" ]; then
        cp "$src/deploy/examples/loopback.conf" "$work/loopback.conf"
else
        cp "$src/deploy/examples/loopback-drbd.conf" "$work/loopback-drbd.conf"
fi
secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

# --- the nodes on this host ----------------------------------------------------------
# Node demoN: network namespace omdemoN, address 10.231.0.N; its agent runs in a mount
# namespace of its own (slave of the host's), so its mounts are its own and go with it.
hub=omdemo-hub
host_ns() { echo "omdemo${1#demo}"; }
host_addr() { echo "10.231.0.${1#demo}"; }
host_pid() { cat "$work/$1/run/daemon.pid" 2>/dev/null; }

# host_sh NODE CMD: CMD (a shell command line) on NODE, stdout and stderr merged, in
# its network namespace and, while its agent lives, its mount namespace.
host_sh() {
        local n=$1 pid enter
        shift
        pid=$(host_pid "$n") || pid=
        if [ -n "$pid" ] && [ -e "/proc/$pid/ns/mnt" ]; then
                enter=(nsenter "--net=/run/netns/$(host_ns "$n")" "--mount=/proc/$pid/ns/mnt")
        else
                enter=(nsenter "--net=/run/netns/$(host_ns "$n")" unshare --mount --propagation slave)
        fi
        OM_ROOT=$work/$n OM_NODENAME=$n PATH=$work/bin:$PATH "${enter[@]}" bash -c "$* 2>&1"
}

# The namespaces of a previous run that was killed before it could clean up.
host_sweep() {
        local ns pid
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^omdemo([0-9]+|-hub)$'); do
                for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
                ip netns del "$ns" 2>/dev/null || true
        done
}

host_net_up() {
        local n i
        host_sweep
        ip netns add "$hub" &&
                ip -n "$hub" link set lo up &&
                ip -n "$hub" link add br0 type bridge &&
                ip -n "$hub" link set br0 up || return 1
        for n in "${nodes[@]}"; do
                i=${n#demo}
                ip netns add "omdemo$i" &&
                        ip -n "omdemo$i" link set lo up &&
                        ip -n "omdemo$i" link add eth0 type veth peer name "port$i" netns "$hub" &&
                        ip -n "$hub" link set "port$i" master br0 up &&
                        ip -n "omdemo$i" addr add "$(host_addr "$n")/24" dev eth0 &&
                        ip -n "omdemo$i" link set eth0 up || return 1
        done
}

host_start() {
        local n=$1
        mkdir -p "$work/$n/etc"
        (umask 077 && cluster_conf host_addr >"$work/$n/etc/cluster.conf")
        OM_ROOT=$work/$n OM_NODENAME=$n nsenter "--net=/run/netns/$(host_ns "$n")" \
                unshare --mount --propagation slave "$om_bin" daemon start
}

# host_kill NODE: NODE dies: SIGKILL to every process in its network namespace (its
# agent, and any action it runs); its mount namespace goes with them.
host_kill() {
        local pid
        for pid in $(ip netns pids "$(host_ns "$1")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        for _ in $(seq 1 50); do
                [ -z "$(ip netns pids "$(host_ns "$1")" 2>/dev/null)" ] && return 0
                sleep 0.1
        done
}

# Stops the agents, releases what the service holds on each node (in a mount namespace
# of its own: the node's went with its agent), removes the namespaces.
host_cleanup() {
        local n pid
        for n in "${nodes[@]}"; do
                [ -d "$work/$n" ] || continue
                OM_ROOT=$work/$n OM_NODENAME=$n "$om_bin" daemon stop >/dev/null 2>&1 || true
                host_kill "$n"
        done
        for n in "${nodes[@]}"; do
                [ -f "$work/$n/etc/namespaces/$svc.conf" ] || continue
                # the last mount of a dead namespace is released asynchronously: retry
                for _ in 1 2 3 4 5; do
                        host_sh "$n" "om $svc unprovision --local --force" >/dev/null && break
                        sleep 0.5
                done
        done
        ip netns del "$hub" 2>/dev/null || true
        for n in "${nodes[@]}"; do ip netns del "$(host_ns "$n")" 2>/dev/null || true; done
}

# --- the nodes in QEMU guests (lab.sh is sourced before they start) --------------------
qemu_addr() { echo "10.99.0.1${1#demo}"; }
qemu_sh() { lab_run -t 180 "$1" "( $2
) 2>&1"; }
qemu_kill() { lab_kill "$1"; }
# qemu_start NODE: cluster.conf, /opt (where the loop files are) on the guest's private
# disk, not in its RAM, and the agent
qemu_start() {
        cluster_conf qemu_addr | lab_run -i "$1" 'mkdir -p /etc/om && umask 077 && cat >/etc/om/cluster.conf' &&
                lab_run "$1" 'mkdir -p /persist/opt /opt && mount --bind /persist/opt /opt && om daemon start'
}

# qemu_boot PRIVATE_SIZE MEM_MIB: the lab, and the nodes booted as its guests
qemu_boot() {
        local lab_rc=0 n
        # lab_init sets traps of its own, which would not remove the rest: ours stay
        # (cleanup calls lab_cleanup in this mode), also while lab_init runs
        mode=qemu
        trap() { :; }
        lab_init --om "$om_bin" || lab_rc=$?
        unset -f trap
        [ "$lab_rc" = 0 ] || die "the QEMU lab cannot start here (see above)${plain:- (./deploy/demo.sh --plain runs a demo without DRBD on this host)}"
        for n in "${nodes[@]}"; do
                lab_start --private "$1" --mem "$2" "$n" "$(qemu_addr "$n")/24" || die "cannot start $n"
        done
        for n in "${nodes[@]}"; do
                lab_wait "$n" || die "$n did not boot"
                echo "$n booted in $(lab_boot_time "$n") s"
        done
}

# The arbitrator of the two-node cluster: `om arbitrator run` on the host side of the
# lab network, in the lab's network namespace (it dies with this shell).
arb_pid=
arb_addr=10.99.0.1
arb_port=1300
arb_start() {
        mkdir -p "$work/arb/etc"
        (umask 077 && printf '[arbitrator]\naddr = %s\nport = %s\nname = arb\n[cluster#1]\nname = default\nsecret = %s\n' \
                "$arb_addr" "$arb_port" "$secret" >"$work/arb/etc/arbitrator.conf")
        OM_ROOT=$work/arb OM_NODENAME=arb nsenter --target "$LAB_NETNS_PID" --net -- \
                setpriv --pdeathsig KILL "$om_bin" arbitrator run </dev/null >"$work/arb.out" 2>&1 &
        arb_pid=$!
}
arb_stop() {
        [ -n "$arb_pid" ] || return 0
        kill "$arb_pid" 2>/dev/null || true
        wait "$arb_pid" 2>/dev/null || true
        arb_pid=
}

# --- the scenario, on whichever nodes -------------------------------------------------
node_sh() { "${mode}_sh" "$@"; }
# on NODE CMD: show CMD as typed on NODE, run it, show its output; returns its status
on() {
        local rc=0
        printf '\n%s# %s\n' "$1" "$2"
        node_sh "$1" "$2" || rc=$?
        [ "$rc" = 0 ] || printf '(exit status %s)\n' "$rc"
        return "$rc"
}
# must NODE CMD: on, and the demo stops when CMD fails
must() { on "$@" || die "'$2' failed on $1"; }
# quiet NODE CMD: CMD's output only (polls)
quiet() { node_sh "$1" "$2" 2>/dev/null; }

# until_ SECS WHAT CMD...: poll CMD every 0.2 s for SECS seconds
until_() {
        local secs=$1 what=$2 t0=$SECONDS
        shift 2
        until "$@"; do
                [ $((SECONDS - t0)) -lt "$secs" ] || die "$what: not after ${secs}s"
                sleep 0.2
        done
}

# cluster_conf ADDRFN: the cluster.conf every node shares (with the arbitrator, when
# one runs)
cluster_conf() {
        local n
        printf '[cluster]\nname = default\nsecret = %s\nnodes = %s\n\n[hb#1]\ntype = unicast\n' \
                "$secret" "${nodes[*]}"
        for n in "${nodes[@]}"; do printf 'addr@%s = %s\n' "$n" "$("$1" "$n")"; done
        printf 'interval = 1s\ntimeout = 3s\n'
        [ -z "$arb_pid" ] || printf '\n[arbitrator#1]\nuri = om://%s:%s\n' "$arb_addr" "$arb_port"
}

# mon_field VIEWER NODE FIELD: a field of NODE's instance of the service in VIEWER's om mon
mon_field() {
        quiet "$1" "om mon --format json" |
                jq -r ".objects[\"$svc\"].instances[\"$2\"].$3 // \"none\" | tostring" 2>/dev/null
}
all_up() { # every node sees every node up
        local n
        for n in "${nodes[@]}"; do
                [ "$(quiet "$n" "om node ls --format json" |
                        jq '[.[] | select(.liveness == "up")] | length' 2>/dev/null)" = "${#nodes[@]}" ] ||
                        return 1
        done
}
has_ha_conf() { quiet "$1" "om $svc get --kw orchestrate" | grep -qx ha; }
avail_up() { [ "$(quiet "$1" "om $svc print status --format json" | jq -r .avail 2>/dev/null)" = up ]; }

# cluster_up START_FN: write cluster.conf, start the agents, wait until all see all up
cluster_up() {
        local n
        for n in "${nodes[@]}"; do "$1" "$n" || die "cannot start the agent of $n"; done
        until_ 30 "the three nodes up in every node's view" all_up
        must demo1 "om mon"
}

# provision CONF: the reference service on demo1, made HA on the three nodes, provisioned
provision() {
        step "the reference service, highly available on the three nodes"
        must demo1 "om $svc create --config=$1"
        must demo1 "om $svc print status -r"
        must demo1 "om $svc set --kw nodes='${nodes[*]}' --kw orchestrate=ha"
        if [ "$mode" = host ]; then
                echo
                echo "(the three nodes share this host's kernel, where loop files and device-mapper"
                echo "names are global: each node gets a loop file under its own {var} and a"
                echo "mapping name of its own; separate machines use the reference values)"
                must demo1 "om $svc set --kw disk#0.file={var}/{fqdn}.img --kw disk#1.name={nodename}.{fqdn}-crypt"
        fi
        must demo1 "om $svc print config"
        echo
        echo "(the config replicates to the nodes of its 'nodes' keyword)"
        until_ 30 "the config on demo2 and demo3" eval 'has_ha_conf demo2 && has_ha_conf demo3'
        step "provision --wait: each node formats its LUKS volume with the one generated passphrase"
        on demo1 "om $svc provision --wait"
}

# failover: the provisioned service: who runs it, its key on every node, the kill, the
# takeover, its time
failover() {
        local n owner='' new='' t0 ms
        must demo1 "om mon"
        for n in "${nodes[@]}"; do
                [ "$(mon_field demo1 "$n" avail)" = up ] && owner=$n
        done
        [ -n "$owner" ] || die "no node runs $svc after the provision"
        must "$owner" "om $svc print status -r"
        must "$owner" "om $svc print devs"
        must "$owner" "df -h /srv/loopcrypt"
        must "$owner" "om $sec keys"
        step "the passphrase, replicated: the same on every node"
        local sum first=''
        for n in "${nodes[@]}"; do
                printf '\n%s# om %s decode --key %s | sha256sum\n' "$n" "$sec" "$key"
                sum=$(quiet "$n" "om $sec decode --key $key | sha256sum") || die "decode failed on $n"
                echo "$sum"
                [ -n "$first" ] || first=$sum
                [ "$sum" = "$first" ] || die "the passphrase differs on $n"
        done

        step "$owner dies"
        echo "Every process of $owner is killed at once (in the QEMU lab: the guest loses power)."
        echo "The others see its heartbeats stop (timeout 3s), wait ready_period (1s) and until"
        echo "the votes they lent it ran out, and the HA leader among them opens its own LUKS"
        echo "volume with the replicated passphrase."
        t0=$EPOCHREALTIME
        "${mode}_kill" "$owner"
        local deadline=$((SECONDS + 90))
        while [ -z "$new" ]; do
                for n in "${nodes[@]}"; do
                        [ "$n" = "$owner" ] && continue
                        avail_up "$n" && new=$n && break
                done
                [ -n "$new" ] && break
                [ "$SECONDS" -lt "$deadline" ] || die "no node took $svc over within 90 s"
                sleep 0.1
        done
        ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
        step "takeover: $new runs $svc, $((ms / 1000)).$((ms % 1000 / 100)) s after $owner died"
        must "$new" "om mon"
        must "$new" "om $svc print status -r"
        must "$new" "grep -E 'daemon origin|luksOpen|mount -t' $(log_of "$new") | tail -n 5"
        echo
        echo "takeover: $new runs $svc, $((ms / 1000)).$((ms % 1000 / 100)) s after $owner died"
}

log_of() {
        if [ "$mode" = host ]; then
                echo "$work/$1/log/namespaces/$svc.log"
        else
                echo "/var/log/om/namespaces/$svc.log"
        fi
}

cleanup() {
        set +e
        trap '' INT TERM # a second Ctrl-C must not leave half of it behind
        if [ "$mode" = qemu ]; then
                arb_stop
                lab_cleanup
        elif [ "$mode" = host ]; then
                host_cleanup
        fi
        mode=
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_dm() {
        modprobe -q dm_mod 2>/dev/null || true
        modprobe -q dm_crypt 2>/dev/null || true
        grep -qw device-mapper /proc/misc
}

# --- by default: the data follows the service (DRBD, two QEMU guests) ----------------
if [ -z "$plain" ]; then
        mnt=/srv/drbdcrypt
        file=$mnt/before-the-kill
        step "data that follows the service: two QEMU guests, DRBD between them, an arbitrator"
        echo "Each DRBD node needs a kernel of its own (DRBD opens its connections in the host's"
        echo "initial network namespace, and one kernel has one set of DRBD devices): demo1 and"
        echo "demo2 are QEMU guests (TCG, Debian's kernel with dm-crypt and DRBD 8.4, this build"
        echo "of om). An arbitrator on the host side of their network ($arb_addr:$arb_port) gives"
        echo "its vote to one side only, so that the two nodes cut from each other cannot both run"
        echo "the service. (./deploy/demo.sh --plain: the reference service, without DRBD.)"
        PATH=$PATH:/usr/sbin:/sbin
        { [ -x /lib/drbd/drbdadm-84 ] && command -v drbdadm >/dev/null && command -v drbdmeta >/dev/null; } ||
                die "drbd-utils with its DRBD 8.4 tools (/lib/drbd/drbdadm-84) is missing on this host, where the guests take their DRBD tools from (deploy/install-deps.sh installs it)"
        # shellcheck source=tests/vm/lab.sh
        . "$src/tests/vm/lab.sh"
        qemu_boot 512M 512
        step "the agents, with the arbitrator in their cluster.conf"
        arb_start
        arb_listens() { lab_host ss -Hlun "sport = :$arb_port" 2>/dev/null | grep -q .; }
        until_ 20 "the arbitrator listening on $arb_addr:$arb_port ($(cat "$work/arb.out" 2>/dev/null))" arb_listens
        for n in "${nodes[@]}"; do
                lab_run "$n" 'modprobe drbd && grep -q "^version: 8\.4" /proc/drbd' ||
                        die "the guests' kernel has no DRBD 8.4 module (modprobe drbd failed on $n)"
        done
        cluster_up qemu_start

        step "the reference loopcrypt stack with DRBD in the middle: loop -> drbd -> crypt -> ext4"
        lab_run -i demo1 'cat >/tmp/loopback-drbd.conf' <"$work/loopback-drbd.conf"
        must demo1 "om $svc create --config=/tmp/loopback-drbd.conf"
        echo
        echo "(the first sync copies the whole device over the guests' emulated network:"
        echo "128 MiB here rather than the reference's 1 GiB)"
        must demo1 "om $svc set --kw disk#0.size=128M"
        must demo1 "om $svc print config"
        echo
        echo "(the config replicates to the nodes of its 'nodes' keyword)"
        until_ 30 "the config on demo2" has_ha_conf demo2

        step "provision --wait: demo1, the first node, is the initial primary; demo2 its replica"
        echo "demo1 creates the DRBD metadata, forces itself primary, formats LUKS (generating the"
        echo "passphrase, which reaches demo2 as a sealed secret) and ext4 on /dev/drbd0, and starts"
        echo "the service; demo2 creates its metadata, connects and formats nothing: LUKS and ext4"
        echo "reach it through DRBD."
        must demo1 "om $svc provision --wait"
        until_ 120 "demo2's replica provisioned in demo1's view" eval '[ "$(mon_field demo1 demo2 provisioned)" = true ]'
        must demo2 "grep -E 'replica|luksFormat|mkfs' $(log_of demo2)"

        step "the first sync: demo2's replica receives all of demo1's device"
        t0=$SECONDS shown=-1
        while :; do
                l=$(quiet demo2 "grep '^ *0:' /proc/drbd") || l=
                [[ $l == *"ds:UpToDate/UpToDate"* ]] && break
                if [ $((SECONDS - t0)) -ge $((shown + 10)) ]; then
                        shown=$((SECONDS - t0))
                        quiet demo2 "grep -E \"sync'ed|^ *0:\" /proc/drbd" | sed 's/^ */  /' || true
                fi
                [ $((SECONDS - t0)) -lt 600 ] || die "demo2's replica not in sync after 600 s"
                sleep 1
        done
        echo "in sync after $((SECONDS - t0)) s"
        must demo2 "cat /proc/drbd"
        must demo1 "om $svc print status -r"
        for n in "${nodes[@]}"; do
                printf '\n%s# om %s decode --key %s | sha256sum\n' "$n" "$sec" "$key"
                quiet "$n" "om $sec decode --key $key | sha256sum" || die "decode failed on $n"
        done

        step "demo1 writes a file (fsync: DRBD protocol C returns once demo2 has it too)"
        must demo1 "dd if=/dev/urandom of=$file bs=1M count=16 conv=fsync 2>&1 | tail -n 1"
        printf '\ndemo1# sha256sum %s\n' "$file"
        sum1=$(quiet demo1 "sha256sum $file") || die "sha256sum failed on demo1"
        echo "$sum1"

        step "demo1 dies"
        echo "demo1 loses power (its QEMU is killed). demo2 sees its heartbeats stop (timeout 3s),"
        echo "holds the quorum with the arbitrator's vote, waits ready_period (1s), and its agent"
        echo "starts the service: DRBD promotes demo2's UpToDate replica, LUKS opens with the"
        echo "replicated passphrase, ext4 mounts."
        runs_on() { quiet "$1" "grep -q ' $mnt ' /proc/mounts" && [[ $(quiet "$1" "om $svc print status --format json" | jq -r .avail 2>/dev/null) == @(up|warn) ]]; }
        t0=$EPOCHREALTIME
        qemu_kill demo1
        until_ 120 "$svc up on demo2 after the loss of demo1" runs_on demo2
        ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
        step "takeover: demo2 runs $svc, $((ms / 1000)).$((ms % 1000 / 100)) s after demo1 died"
        must demo2 "cat /proc/drbd"
        must demo2 "om mon"
        echo
        echo "(warn: the service runs, its replica on demo1 is gone; demo1 resynchronizes when it returns)"
        must demo2 "om $svc print status -r"
        must demo2 "grep -E 'daemon origin|promot|luksOpen|mount -t' $(log_of demo2) | tail -n 5"

        step "the file demo1 wrote before it died, on demo2"
        printf '\ndemo2# sha256sum %s\n' "$file"
        sum2=$(quiet demo2 "sha256sum $file") || die "the file is not on demo2"
        echo "$sum2"
        [ "${sum2%% *}" = "${sum1%% *}" ] || die "the data differs on demo2: ${sum2%% *}, demo1 wrote ${sum1%% *}"
        echo
        echo "takeover: demo2 runs $svc, $((ms / 1000)).$((ms % 1000 / 100)) s after demo1 died"
        echo "data intact: sha256 ${sum2%% *} on demo2, as demo1 wrote it before it died"
        step "done in $(took): cleaning up"
        exit 0
fi

# --- --plain: on this host -------------------------------------------------------------
step "three nodes on this host: network namespaces omdemo1-3, one agent each"
mode=host
if ! host_net_up; then
        host_cleanup
        mode=
        echo "(cannot make network namespaces here: skipping to the QEMU lab)"
else
        cluster_up host_start
        if provision "$work/loopback.conf"; then
                failover
                step "done in $(took): cleaning up"
                exit 0
        fi
        has_dm && die "the provision failed on a kernel with device-mapper: see the output above"
        on demo1 "om mon"
        on demo1 "tail -n 4 $(log_of demo1)"
        step "this kernel has no device-mapper"
        echo "dm-crypt cannot open a LUKS volume on this host: the provision formatted it, stored"
        echo "the passphrase, failed to open it and rolled back, on each node in turn (om mon above)."
        echo "The same cluster runs next in the QEMU lab: three guests booting Debian's kernel."
        host_cleanup
        mode=
fi

# --- --plain: in the QEMU lab --------------------------------------------------------------
step "the same cluster in three QEMU guests (TCG, Debian's kernel, this build of om)"
# shellcheck source=tests/vm/lab.sh
. "$src/tests/vm/lab.sh"
qemu_boot 1300M 640
cluster_up qemu_start
lab_run -i demo1 'cat >/tmp/loopback.conf' <"$work/loopback.conf"
provision /tmp/loopback.conf || die "the provision failed in the QEMU lab"
failover
step "done in $(took): cleaning up"
