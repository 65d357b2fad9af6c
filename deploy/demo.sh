#!/usr/bin/env bash
# demo.sh: the reference encrypted service on a three-node om cluster, failed over.
#
#   ./deploy/demo.sh          (as root; sudo ./deploy/demo.sh works as well)
#
# About a minute after the build; it prints how long the build and the demo took.
# Installs what is missing (deploy/install-deps.sh) and builds om, then starts three
# nodes on this host, demo1 to demo3: each is a network namespace of its own (omdemo1-3,
# 10.231.0.1-3 on a bridge in the namespace omdemo-hub) and a mount namespace of its own,
# with one agent (its own OM_ROOT and OM_NODENAME). It creates the reference service
# demo/svc/loopcrypt (deploy/examples/loopback.conf: a loop file, LUKS on it, ext4 on
# that) on demo1, sets `nodes` and `orchestrate = ha` so that it lives on all three,
# provisions it with --wait (each node formats and opens a LUKS volume of its own with
# the one generated passphrase, which reaches the other nodes as a sealed secret), shows
# `om mon`, kills the node running it (every process in its namespaces: its mounts go
# with it, as in a power cut), and shows the takeover and the time it took.
#
# Where the kernel has no device-mapper, the provision fails on this host (om says why
# and rolls back); the demo then says so and runs the same cluster in the QEMU lab
# (tests/vm/lab.sh: three TCG guests booting Debian's kernel, which has dm-crypt).
#
# Everything it creates is removed at the end, also when interrupted (Ctrl-C, SIGTERM).
# Exit status: 0 when the service failed over, 1 otherwise.
# OM_BIN=PATH uses that om and skips the install and the build (the tests do that).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (as root: ./deploy/demo.sh, or sudo ./deploy/demo.sh): it makes" \
                "network namespaces and loop devices" >&2
        exit 1
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
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

svc=demo/svc/loopcrypt
sec=demo/sec/loopcrypt
key=disk_1_crypt_passphrase
nodes=(demo1 demo2 demo3)
mode=          # host or qemu: where the nodes run
work=$(mktemp -d /tmp/om-demo.XXXXXX)
mkdir -p "$work/bin"
ln -s "$om_bin" "$work/bin/om"
cp "$src/deploy/examples/loopback.conf" "$work/loopback.conf"
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
                [ -f "$work/$n/etc/namespaces/demo/svc/loopcrypt.conf" ] || continue
                # the last mount of a dead namespace is released asynchronously: retry
                for _ in 1 2 3 4 5; do
                        host_sh "$n" "om $svc unprovision --local --force" >/dev/null && break
                        sleep 0.5
                done
        done
        ip netns del "$hub" 2>/dev/null || true
        for n in "${nodes[@]}"; do ip netns del "$(host_ns "$n")" 2>/dev/null || true; done
}

# --- the nodes in QEMU guests ---------------------------------------------------------
qemu_addr() { echo "10.99.0.1${1#demo}"; }
qemu_sh() { lab_run -t 180 "$1" "( $2
) 2>&1"; }

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

# cluster_conf ADDRFN: the cluster.conf every node shares
cluster_conf() {
        local n
        printf '[cluster]\nname = default\nsecret = %s\nnodes = %s\n\n[hb#1]\ntype = unicast\n' \
                "$secret" "${nodes[*]}"
        for n in "${nodes[@]}"; do printf 'addr@%s = %s\n' "$n" "$("$1" "$n")"; done
        printf 'interval = 1s\ntimeout = 3s\n'
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
                echo "$work/$1/log/namespaces/demo/svc/loopcrypt.log"
        else
                echo /var/log/om/namespaces/demo/svc/loopcrypt.log
        fi
}

cleanup() {
        set +e
        trap '' INT TERM # a second Ctrl-C must not leave half of it behind
        if [ "$mode" = qemu ]; then
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

# --- on this host ---------------------------------------------------------------------
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

# --- in the QEMU lab ------------------------------------------------------------------
step "the same cluster in three QEMU guests (TCG, Debian's kernel, this build of om)"
# shellcheck source=tests/vm/lab.sh
. "$src/tests/vm/lab.sh"
lab_rc=0
lab_init --om "$om_bin" || lab_rc=$?
# lab_init set traps of its own: ours clean up the lab and the rest
trap cleanup EXIT
trap 'exit 130' INT TERM
mode=qemu
[ "$lab_rc" = 0 ] || die "the QEMU lab cannot start here (see above)"
# /opt (where the loop files are) on a private disk of each guest, not in its RAM
for n in "${nodes[@]}"; do
        lab_start --private 1300M --mem 640 "$n" "$(qemu_addr "$n")/24" || die "cannot start $n"
done
for n in "${nodes[@]}"; do
        lab_wait "$n" || die "$n did not boot"
        echo "$n booted in $(lab_boot_time "$n") s"
done
qemu_start() {
        cluster_conf qemu_addr | lab_run -i "$1" 'mkdir -p /etc/om && umask 077 && cat >/etc/om/cluster.conf' &&
                lab_run "$1" 'mkdir -p /persist/opt /opt && mount --bind /persist/opt /opt && om daemon start'
}
qemu_kill() { lab_kill "$1"; }
cluster_up qemu_start
lab_run -i demo1 'cat >/tmp/loopback.conf' <"$work/loopback.conf"
provision /tmp/loopback.conf || die "the provision failed in the QEMU lab"
failover
step "done in $(took): cleaning up"
