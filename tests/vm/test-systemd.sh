#!/bin/bash
# test-systemd.sh: deploy/om.service under systemd as PID 1, in a QEMU guest.
#
# The unit's contract (its comments) is checked for real, not by reading it: the
# Debian package cpack builds is installed with apt, with systemd and systemd-sysv,
# in a debootstrapped Debian 12 (minbase: the tree test-package-clean-debian made, when
# it is in the build's test cache; tests/integration/debootstrap.lib), the tree becomes an ext4 image, and a lab guest
# boots it (lab_start --root: Debian's kernel, the lab's initramfs loads the
# modules, then switches to the image's systemd; the lab's command runner is a unit
# of its own, outside om.service).  One-node cluster (node = the guest's hostname),
# `systemctl enable --now om`, then:
#
#   1. mounts: the reference service (/usr/share/doc/om/examples/loopback.conf: a
#      1G loop file in /opt, LUKS on it, ext4 on /srv/loopcrypt) made HA with
#      `om set` and provisioned with `provision --wait`, so the agent's children do
#      the mounting; from outside the unit, /srv/loopcrypt is mounted (the runner's
#      /proc/self/mounts and PID 1's) and `print status` says up; the agent shares
#      PID 1's mount namespace.
#   2. KillMode=process: a service whose app starts a long-running process (a
#      `sleep` in a session of its own), started through the agent; the process is
#      in om.service's cgroup and still alive, same pid, after `systemctl restart
#      om` and after `systemctl stop om` (then `systemctl start om`); the agent,
#      back, finds the app up.
#   3. Restart=on-failure: the agent's main pid killed with SIGKILL, systemd starts
#      a new one (new MainPID, active, answering); the app still runs.
#   4. undumpable: with a core pattern of absolute files and RLIMIT_CORE raised
#      with prlimit, SIGABRT to the app (the agent's child, in the unit: the
#      control) leaves a core file; SIGABRT to the agent leaves none, and systemd
#      restarts the agent.
#
# Every contract is checked even when an earlier one failed (a FAIL line each); the
# test exits 1 if any did.  Durations (debootstrap, boot, provision, restarts) are
# printed, never asserted.
#
# Exit 0 on success; 1 on failure (with the console, the unit's journal and the
# agent's logs); 77 without root, debootstrap, dpkg-shlibdeps, the Debian archive
# or the QEMU lab, and for sanitizer builds (not packaged).  Environment: OM_BUILD
# (the build directory, default build/), OM_DEBIAN_MIRROR (default
# http://deb.debian.org/debian).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${OM_BUILD:-$src/build}
. "$here/lab.sh"

node=sysd1
addr=10.99.0.31
svc=demo/svc/loopcrypt
app=demo/svc/app
mnt=/srv/loopcrypt
pidfile=/run/om-test-app.pid
cores=/var/tmp/om-test-cores
mirror=${OM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (debootstrap, chroot)"; exit 77; }
command -v debootstrap >/dev/null || { echo "SKIP: debootstrap missing"; exit 77; }
command -v dpkg-shlibdeps >/dev/null || { echo "SKIP: dpkg-shlibdeps (dpkg-dev) missing"; exit 77; }
command -v cpack >/dev/null || { echo "SKIP: cpack missing"; exit 77; }
if grep -q '^OM_ASAN:BOOL=ON\|^OM_UBSAN:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP: a sanitizer build is not packaged"
    exit 77
fi
lab_init || exit $? # (first: its traps are replaced by ours below)

# The work directory: the package, the debootstrap tree (proc mounted in it while
# apt runs), the root image.  Whatever is mounted under it is unmounted first.
T=$(mktemp -d /tmp/om-sysd.XXXXXX)
cleanup() {
    local m
    if [ -n "$T" ] && [ -d "$T" ]; then
        while read -r _ m _; do
            case $m in "$T"/*) echo "$m" ;; esac
        done </proc/self/mounts | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
        rm -rf --one-file-system "$T"
    fi
    T=
    lab_cleanup
}
trap cleanup EXIT
trap 'cleanup; trap - INT; kill -INT $$' INT
trap 'cleanup; trap - TERM; kill -TERM $$' TERM

problems=0
# bad TEXT: a contract does not hold (the test goes on with the next check)
bad() {
    echo "FAIL: $*"
    problems=$((problems + 1))
}
dumped=
dump() {
    [ -z "$dumped" ] || return 0
    dumped=1
    [ -n "$LAB_DIR" ] && [ -n "${LAB_IDX[$node]:-}" ] || return 0
    lab_console "$node" | tail -n 50
    lab_alive "$node" || return 0
    lab_run -t 30 "$node" "systemctl status om --no-pager -n 0; echo '----- journal of om.service -----'
        journalctl -u om --no-pager -n 40; echo '----- /var/log/om/daemon.log -----'
        tail -n 40 /var/log/om/daemon.log
        for f in /var/log/om/namespaces/demo/svc/*.log; do echo \"----- \$f -----\"; tail -n 25 \"\$f\"; done" 2>&1 || true
}
fail() {
    echo "FAIL: $*"
    dump
    exit 1
}

# run CMD: run CMD in the guest (stderr merged), show it and its output, fail unless
# it exits 0; the output is left in $out.  q CMD: quietly, output on stdout, status
# returned (for polls).
out=
run() {
    local rc=0
    echo "# $*"
    out=$(lab_run -t 180 "$node" "( $*
) 2>&1") || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    [ "$rc" = 0 ] || fail "'$*' exited $rc"
}
q() { lab_run -t 30 "$node" "$@" 2>/dev/null; }

# until_ SECS CMD...: poll CMD (a shell function or command) every 0.2 s; 1 when it
# is still false after SECS seconds.
until_() {
    local secs=$1 t0=$EPOCHREALTIME
    shift
    until "$@"; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt "$secs" ] || return 1
        read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
    done
}

main_pid() { q 'systemctl show -p MainPID --value om'; }
# agent_up [NOT_PID]: om.service active, its MainPID (other than NOT_PID) is the
# agent that answers `om daemon status`
agent_up() {
    local pid st
    [ "$(q 'systemctl is-active om')" = active ] || return 1
    pid=$(main_pid) || return 1
    [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "${1:-}" ] || return 1
    st=$(q "om daemon status") || return 1
    grep -q "^daemon  *running  *pid $pid " <<<"$st"
}
alive() { q "kill -0 $1"; }
# avail PATH: the first line of `om PATH print status`: "PATH  AVAIL ..."
avail() { q "om $1 print status" | awk 'NR == 1 { print $2 }'; }
app_up() { [ "$(avail "$app")" = up ]; }
mounted() { q "grep -q ' $mnt ext4 ' /proc/self/mounts && grep -q ' $mnt ext4 ' /proc/1/mounts"; }

# --- the package on a debootstrapped Debian 12 -----------------------------------
step "the package (cpack -G DEB in $build)"
(cd "$build" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/om_*.deb)
echo "$(basename "$deb")"

step "debootstrap Debian 12 (minbase) from $mirror"
t0=$EPOCHREALTIME
. "$here/../integration/debootstrap.lib"
if ! debootstrap_tree "$T/root" "$mirror" "$T/debootstrap.log"; then
    tail -n 5 "$T/debootstrap.log"
    echo "SKIP: debootstrap could not build a Debian 12 from $mirror"
    exit 77
fi
t_debootstrap=$(lab_elapsed "$t0")
echo "debootstrap: ${t_debootstrap}s$(grep -o ' from .*test-cache.*' "$T/debootstrap.log" || true)"

step "apt-get install ./om.deb systemd systemd-sysv in the chroot"
t0=$EPOCHREALTIME
in_root() { chroot "$T/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
mount -t proc proc "$T/root/proc"
cp "$deb" "$T/root/tmp/om.deb"
. "$(dirname "$0")/../integration/apt-install.lib"
apt_install_deb "$T/root" /tmp/om.deb "$T/apt.log" "$mirror" systemd systemd-sysv
echo "packages set up by apt: $(grep -c '^Setting up' "$T/apt.log")"
in_root apt-get clean
umount "$T/root/proc"
rm -f "$T/root/tmp/om.deb"
# No udev here, so no device unit ever appears: gettys would wait for theirs.
in_root systemctl mask getty.target >/dev/null 2>&1 || fail "cannot mask getty.target"
[ -f "$T/root/usr/lib/systemd/system/om.service" ] || fail "the package installs no om.service"
echo "apt: $(lab_elapsed "$t0")s, tree $(du -sh "$T/root" | cut -f1)"

step "the root image (mkfs.ext4 -d; room for the reference's 1G loop file in /opt)"
img=$T/root.img
mkfs.ext4 -q -F -L om-sysd -d "$T/root" "$img" 2560M >/dev/null || fail "mkfs.ext4 -d"
rm -rf --one-file-system "$T/root"

# --- the guest -----------------------------------------------------------------------
step "boot $node from the image (systemd as PID 1)"
lab_boot --root "$img" --mem 1024 "$node" "$addr/24" || fail "$node did not boot"
echo "boot: $(lab_boot_time "$node")s (guest uptime $(lab_boot_guest_time "$node")s at the runner)"
run 'cat /proc/1/comm; systemctl --version | head -n 1; systemctl is-system-running || true'
[ "$(sed -n 1p <<<"$out")" = systemd ] || fail "PID 1 of the guest is not systemd"
run "hostname; uname -r; cat /proc/self/cgroup"

step "one-node cluster, systemctl enable --now om"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
run "umask 077 && mkdir -p /etc/om && cat >/etc/om/cluster.conf <<'EOF'
[cluster]
name = default
secret = $secret
nodes = $node

[hb#1]
type = unicast
addr@$node = $addr
EOF"
run "systemctl enable --now om"
until_ 30 agent_up || fail "om.service is not active with an answering agent 30 s after enable --now"
run "systemctl is-active om; systemctl status om --no-pager -n 0 | sed -n '1,6p'; om daemon status | head -n 1"

# --- 1. the agent's mounts are the host's ---------------------------------------------
step "contract 1: $svc (loop, LUKS, ext4) provisioned by the agent, mounted for the host"
run "om $svc create --config=/usr/share/doc/om/examples/loopback.conf"
run "om $svc set --kw orchestrate=ha"
t0=$EPOCHREALTIME
rc=0
echo "# om $svc provision --wait"
lab_run -t 240 "$node" "om $svc provision --wait 2>&1" || rc=$?
t_provision=$(lab_elapsed "$t0")
echo "provision --wait: exit $rc, ${t_provision}s"
[ "$rc" = 0 ] || bad "contract 1: provision --wait exited $rc"
run "om $svc print status"
[ "$(avail "$svc")" = up ] || bad "contract 1: $svc is not up"
run "grep ' $mnt ' /proc/self/mounts /proc/1/mounts || true"
c1_mounted=
if mounted; then c1_mounted=1; else bad "contract 1: $mnt is not an ext4 mount in the host's mount namespace"; fi
pid=$(main_pid)
run "readlink /proc/1/ns/mnt /proc/$pid/ns/mnt"
[ "$(sed -n 1p <<<"$out")" = "$(sed -n 2p <<<"$out")" ] ||
    bad "contract 1: the agent (pid $pid) has a mount namespace of its own"

# --- 2. KillMode=process ----------------------------------------------------------------
step "contract 2: an app started by the agent outlives systemctl restart / stop om"
run "cat >/tmp/app.conf <<'EOF'
[DEFAULT]
orchestrate = ha

[app#0]
start = sh -c 'setsid sleep 100000 >/dev/null 2>&1 & echo \$! >$pidfile'
stop = sh -c 'kill \$(cat $pidfile)'
check = sh -c 'kill -0 \$(cat $pidfile) 2>/dev/null'
EOF
om $app create --config=/tmp/app.conf"
run "om $app start --wait"
until_ 30 app_up || bad "contract 2: $app is not up after start --wait"
app_pid=$(q "cat $pidfile") || fail "no $pidfile: the app did not start"
run "cat /proc/$app_pid/cgroup; cat /proc/$app_pid/comm"
grep -q '/system.slice/om.service$' <<<"$out" ||
    bad "contract 2: the app (pid $app_pid) is not in om.service's cgroup: the check would prove nothing"

pid=$(main_pid)
t0=$EPOCHREALTIME
run "systemctl restart om"
until_ 30 agent_up "$pid" || fail "om.service is not back 30 s after systemctl restart"
echo "restart: agent $pid -> $(main_pid), answering after $(lab_elapsed "$t0")s"
alive "$app_pid" || bad "contract 2: the app (pid $app_pid) died with systemctl restart om"
until_ 30 app_up || bad "contract 2: the agent, restarted, does not see $app up"
[ "$(q "cat $pidfile")" = "$app_pid" ] || bad "contract 2: the app was started again after the restart"

run "systemctl stop om; systemctl is-active om || true"
[ "$(sed -n '$p' <<<"$out")" = inactive ] || bad "contract 2: om.service is not inactive after systemctl stop"
alive "$app_pid" || bad "contract 2: the app (pid $app_pid) died with systemctl stop om"
[ -z "$c1_mounted" ] || mounted || bad "contract 2: $mnt was unmounted by systemctl stop om"
t0=$EPOCHREALTIME
run "systemctl start om"
until_ 30 agent_up || fail "om.service is not active 30 s after systemctl start"
echo "start: agent $(main_pid) answering after $(lab_elapsed "$t0")s"
alive "$app_pid" || bad "contract 2: the app (pid $app_pid) died with systemctl start om"
until_ 30 app_up || bad "contract 2: the agent, started again, does not see $app up"

# --- 3. Restart=on-failure ----------------------------------------------------------------
step "contract 3: the agent killed with SIGKILL is restarted by systemd"
# (the app's process now: the agent started another one if contract 2 failed)
app_pid=$(q "cat $pidfile") || fail "no $pidfile"
alive "$app_pid" || fail "the app (pid $app_pid) is not running"
pid=$(main_pid)
t0=$EPOCHREALTIME
run "kill -9 $pid"
if until_ 30 agent_up "$pid"; then
    echo "SIGKILL: agent $pid -> $(main_pid), answering after $(lab_elapsed "$t0")s"
else
    bad "contract 3: no new agent 30 s after SIGKILL to $pid"
fi
run "systemctl show -p NRestarts -p ActiveState om"
alive "$app_pid" || bad "contract 3: the app (pid $app_pid) died with the agent"
[ -z "$c1_mounted" ] || mounted || bad "contract 3: $mnt is gone after the agent's SIGKILL"

# --- 4. undumpable --------------------------------------------------------------------------
step "contract 4: no core file of the agent (its child, the control, leaves one)"
run "mkdir -p -m 0700 $cores && echo '$cores/core.%p' >/proc/sys/kernel/core_pattern
    cat /proc/sys/kernel/core_pattern /proc/sys/fs/suid_dumpable"
has_core() { q "test -s $cores/core.$1"; }
# the control: the app's process now (the one of contract 2, unless it died there)
ctl=$(q "cat $pidfile") || ctl=
if [ -n "$ctl" ] && alive "$ctl"; then
    run "prlimit --pid $ctl --core=unlimited && grep 'core file' /proc/$ctl/limits && kill -ABRT $ctl"
    until_ 20 has_core "$ctl" || bad "contract 4: SIGABRT to the app left no core file: the check would prove nothing"
    run "ls -l $cores"
else
    bad "contract 4: no app process left for the control"
fi
pid=$(main_pid)
t0=$EPOCHREALTIME
run "prlimit --pid $pid --core=unlimited && grep 'core file' /proc/$pid/limits && kill -ABRT $pid"
until_ 30 agent_up "$pid" || bad "contract 4: no new agent 30 s after SIGABRT to $pid"
echo "SIGABRT: agent $pid -> $(main_pid) after $(lab_elapsed "$t0")s"
run "ls -l $cores; journalctl -u om --no-pager -o cat | grep -E 'Main process exited' || true"
! has_core "$pid" || bad "contract 4: the agent (pid $pid) left a core file: it is dumpable"

run "systemctl is-system-running || true; systemctl list-jobs --no-pager | tail -n +1; systemctl --failed --no-pager --no-legend"
step "done in $(lab_elapsed "$t_start")s (debootstrap ${t_debootstrap}s, boot $(lab_boot_time "$node")s, provision ${t_provision}s)"
if [ "$problems" != 0 ]; then
    dump
    echo "FAIL: $problems check(s) of om.service's contract failed"
    exit 1
fi
echo "PASS"
