# lab.sh: the om QEMU lab, a bash library sourced by the tests of tests/vm.
#
# The host kernel has no device-mapper, so everything that needs dm-crypt runs
# in QEMU guests (TCG, never KVM) booted from Debian's kernel and an initramfs
# built by mkinitramfs.sh.  This file starts and stops those guests, wires
# them to a private network and to shared disk images, and runs commands in
# them.  It is not a test: the tests source it and call its functions.
#
#   . tests/vm/lab.sh
#   lab_init [--om PATH] [--initramfs PATH] [--extra BIN...] || exit $?
#   san=$(lab_disk san 256M)                  # a raw image: the shared "SAN"
#   san=$(lab_iscsi_disk san 256M)            # or an iSCSI LUN (lab_init --iscsi)
#   lab_start n1 10.99.0.11/24 "$san"         # boot without waiting ...
#   lab_start n2 10.99.0.12/24 "$san"
#   lab_wait n1 && lab_wait n2                # ... then wait (parallel boots)
#   lab_run n1 'om node ls'                   # output + the guest's exit status
#   lab_kill n1                               # power loss
#   lab_boot --root deb.img n3 10.99.0.13/24  # a guest running systemd from a root disk
#   (lab_cleanup runs at exit: lab_init registers it on EXIT, INT and TERM)
#
# Network.  The test's network is a network namespace the lab creates and
# owns: a bridge (br0, $LAB_BRIDGE_ADDR, the host side) and one tap device per
# guest.  The namespace is held by a process of ours (no name in /run/netns),
# so it disappears with the test even when the test is killed with SIGKILL;
# QEMU processes get SIGKILL from the kernel when the shell that started them
# dies (setpriv --pdeathsig).  Nothing reaches the host's network: guest
# addresses only exist inside that namespace.  lab_host runs a host command
# inside it (an arbitrator, a packet capture, ...).
#
# Command channel.  Each guest mounts a per-node host directory with 9p
# (virtio) on /lab.  lab_run writes the command as a script there, then writes
# "RUN <id> <timeout>" to a virtio-serial port (QEMU chardev pipe: a FIFO on
# the host); the guest's runner (guest/runner) runs it, writes stdout, stderr
# and the exit status back to the share.  So outputs are byte exact and of any
# size, stdout and stderr stay apart, and several lab_run may be in flight on
# one guest at once.  Every wait is bounded: a guest that stops answering
# makes lab_run return 255, never hang.
#
# Every function works under `set -euo pipefail` and reports failure by its
# return status only (the library never exits the test).
#
# Rules for callers:
#   - Call lab_init, lab_start/lab_boot, lab_kill and lab_cleanup from the
#     test's main shell, not from $(...) or a pipeline: QEMU dies with the
#     shell that started it, and the lab's state lives in shell variables.
#     lab_run, lab_put, lab_get may be used anywhere (also in background).
#   - The guest root filesystem is RAM: everything but the disk images (and
#     the optional private disk, mounted on /persist) is lost by lab_kill.
#     Unless the guest boots from a root disk (lab_start --root IMAGE): an
#     ext4 image of a distribution (a debootstrapped Debian) whose /sbin/init,
#     systemd, the initramfs switches to after loading the lab's kernel
#     modules; the lab installs its runner there as lab-runner.service, so
#     lab_run works the same (commands then run with the image's /bin/sh).
#
# Tunables (environment): LAB_MEM (MiB, 512), LAB_BOOT_TIMEOUT (s, 240),
# LAB_RUN_TIMEOUT (s, 120), LAB_KEEP=1 (keep the lab directory at exit),
# LAB_APPEND (extra kernel command line), LAB_BRIDGE_ADDR (10.99.0.1/24),
# LAB_SAN_ADDR (10.99.0.250/24: the iSCSI target guest of lab_init --iscsi),
# LAB_OM (default for lab_init --om), LAB_VERBOSE=1 (trace lab steps),
# LAB_PVH=0 (boot the compressed bzImage instead of the extracted kernel),
# LAB_CACHE (the directory of built boot files; default $OM_BUILD/lab-cache, empty
# for none: see lab__cached).

LAB_VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

: "${LAB_MEM:=512}"
: "${LAB_BOOT_TIMEOUT:=240}"
: "${LAB_RUN_TIMEOUT:=120}"
: "${LAB_BRIDGE_ADDR:=10.99.0.1/24}"
: "${LAB_SAN_ADDR:=10.99.0.250/24}"
LAB_SAN_IP=${LAB_SAN_ADDR%/*}
LAB_SAN_IP2=10.99.0.251 # the SAN guest's second address: a second portal to every LUN
: "${LAB_KEEP:=}"
: "${LAB_APPEND:=}"
: "${LAB_VERBOSE:=}"
: "${LAB_CACHE=${OM_BUILD:+$OM_BUILD/lab-cache}}"

LAB_DIR=             # the lab's temporary directory
LAB_KERNEL=          # the kernel guests boot (extracted from /boot/vmlinuz-*)
LAB_INITRAMFS=       # the initramfs guests boot
LAB_NETNS_PID=       # the process holding the lab's network namespace
LAB_SAN=             # "san" when lab_init --iscsi started the iSCSI target guest
LAB_ISCSI_PORT=3260  # the target's port
LAB_SLEEP_FD=        # a FIFO nobody writes: read -t on it sleeps without a fork
LAB_NODES=()         # node names, in the order they were first started
declare -A LAB_PID=()      # node -> QEMU pid (while running)
declare -A LAB_IDX=()      # node -> index (tap device, MAC address)
declare -A LAB_ADDR=()     # node -> address/len
declare -A LAB_BOOT_T0=()  # node -> host time QEMU was started
declare -A LAB_BOOT_SECS=() # node -> seconds from QEMU start to runner ready
declare -A LAB_BOOT_GUEST=() # node -> guest uptime when its runner was ready

# --- small helpers -----------------------------------------------------------

lab_log() { echo "lab: $*" >&2; }
lab__trace() { [ -z "$LAB_VERBOSE" ] || echo "lab: $*" >&2; }

# lab__sleep SECS: sleep without forking a process.
lab__sleep() { read -r -t "$1" -u "$LAB_SLEEP_FD" _ || true; }

# lab__now: host time in seconds, with microseconds.
lab__now() { echo "$EPOCHREALTIME"; }

# lab_elapsed T0: seconds since T0 (a copy of $EPOCHREALTIME), two decimals.
lab_elapsed() {
    local us=$((${EPOCHREALTIME/./} - ${1/./}))
    printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# lab__older T0 SECS: true when more than SECS whole seconds passed since T0.
lab__older() { [ $((${EPOCHREALTIME/./} - ${1/./})) -gt $(($2 * 1000000)) ]; }

# lab__nsexec CMD...: run CMD inside the lab's network namespace.
lab__nsexec() { nsenter --target "$LAB_NETNS_PID" --net -- "$@"; }

lab__alive() {
    local pid=${LAB_PID[$1]:-} st
    [ -n "$pid" ] || return 1
    # A zombie still answers kill -0: look at its state instead.  The
    # command name (QEMU's) has no space, so the state is the third field.
    read -r _ _ st _ 2>/dev/null <"/proc/$pid/stat" || return 1
    [ "$st" != Z ] && [ "$st" != X ]
}

lab__nodedir() { echo "$LAB_DIR/nodes/$1"; }

lab__need_node() {
    if [ -z "${LAB_IDX[$1]:-}" ]; then
        lab_log "unknown node '$1'"
        return 1
    fi
}

# --- setup and teardown --------------------------------------------------------

# lab_check: can the lab run here?  Prints the reason and returns 77 if not.
lab_check() {
    local why=
    PATH=$PATH:/usr/sbin:/sbin
    if ! command -v qemu-system-x86_64 >/dev/null; then
        why="qemu-system-x86_64 is not installed (package qemu-system-x86)"
    elif ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
        why="no kernel in /boot (package linux-image-amd64)"
    elif [ "$(id -u)" != 0 ]; then
        why="the lab network namespace needs root"
    elif [ ! -c /dev/net/tun ]; then
        why="/dev/net/tun is missing"
    else
        local t
        for t in nsenter unshare setpriv ip busybox cpio gzip modprobe depmod mkfs.ext4; do
            command -v "$t" >/dev/null || { why="$t is missing"; break; }
        done
    fi
    if [ -z "$why" ] && ! unshare --net -- sh -c \
        'ip link add br0 type bridge && ip tuntap add dev tap0 mode tap' >/dev/null 2>&1; then
        why="cannot create a bridge and a tap device in a network namespace"
    fi
    if [ -z "$why" ]; then
        local k
        k=$(ls -1v /boot/vmlinuz-* | tail -n 1)
        if [ ! -r "$k" ]; then
            why="$k is not readable"
        elif [ ! -d "/lib/modules/${k#/boot/vmlinuz-}" ]; then
            why="no modules for ${k#/boot/vmlinuz-}"
        fi
    fi
    if [ -n "$why" ]; then
        echo "SKIP: QEMU lab unavailable: $why"
        return 77
    fi
}

# lab_init [--om PATH] [--initramfs PATH] [--iscsi] [--extra BIN...]
# Creates the lab: a temporary directory, the network namespace with its
# bridge, and the initramfs (built unless --initramfs is given; --om and
# --extra are passed to mkinitramfs.sh; --om defaults to $LAB_OM).  --iscsi
# also starts the lab's iSCSI target, a guest named san (see lab_iscsi_disk).
# Registers lab_cleanup on EXIT, INT and TERM.  Returns 77 when the lab cannot
# run here, 1 on other errors.
lab_init() {
    local om=${LAB_OM:-} initramfs='' extra=() iscsi=''
    while [ $# -gt 0 ]; do
        case $1 in
        --om) om=$2; shift 2 ;;
        --iscsi) iscsi=1; shift ;;
        --initramfs) initramfs=$2; shift 2 ;;
        --extra)
            shift
            while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do extra+=("$1"); shift; done
            ;;
        *) lab_log "lab_init: unknown argument $1"; return 1 ;;
        esac
    done
    lab_check || return $?
    if [ -n "$iscsi" ] && ! command -v iscsistart >/dev/null; then
        echo "SKIP: QEMU lab: no iSCSI initiator for the guests: iscsistart is missing (package open-iscsi)"
        return 77
    fi
    export PATH
    LAB_NODES=() LAB_SAN=
    LAB_PID=() LAB_IDX=() LAB_ADDR=() LAB_BOOT_T0=() LAB_BOOT_SECS=() LAB_BOOT_GUEST=()

    lab__sweep
    LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/omlab.XXXXXX") || return 1
    lab__proc_id $$ >"$LAB_DIR/owner"
    trap 'lab_cleanup' EXIT
    trap 'lab_cleanup; trap - INT; kill -INT $$' INT
    trap 'lab_cleanup; trap - TERM; kill -TERM $$' TERM
    mkdir -p "$LAB_DIR/nodes" "$LAB_DIR/disks"
    mkfifo "$LAB_DIR/sleep.fifo"
    exec {LAB_SLEEP_FD}<>"$LAB_DIR/sleep.fifo"

    LAB_KERNEL=$(ls -1v /boot/vmlinuz-* | tail -n 1)
    local kver=${LAB_KERNEL#/boot/vmlinuz-} key
    # Booting the uncompressed kernel through its PVH entry point saves the
    # few seconds TCG spends decompressing the bzImage (and real mode).
    if [ "${LAB_PVH:-1}" = 1 ]; then
        key=$(stat -c '%n %s %Y' "$LAB_KERNEL" | sha256sum | cut -c 1-32)
        if lab__cached "vmlinux-$key" "$LAB_DIR/vmlinux-$kver" ||
            { lab__extract_vmlinux "$LAB_KERNEL" "$LAB_DIR/vmlinux-$kver" &&
                lab__cache_put "vmlinux-$key" "$LAB_DIR/vmlinux-$kver"; }; then
            LAB_KERNEL=$LAB_DIR/vmlinux-$kver
        else
            lab__trace "no PVH kernel from $LAB_KERNEL: booting the bzImage"
        fi
    fi
    if [ -n "$initramfs" ]; then
        LAB_INITRAMFS=$initramfs
    else
        LAB_INITRAMFS=$LAB_DIR/initramfs.cpio.gz
        local args=("$LAB_INITRAMFS" --kver "$kver")
        [ -z "$om" ] || args+=(--om "$om")
        [ ${#extra[@]} -eq 0 ] || args+=(--extra "${extra[@]}")
        key=$(lab__initramfs_key "$kver" "$om" "${extra[@]}") || key=
        if [ -n "$key" ] && lab__cached "initramfs-$key.cpio.gz" "$LAB_INITRAMFS"; then
            lab__trace "initramfs from the cache ($LAB_CACHE)"
        else
            "$LAB_VM_DIR/mkinitramfs.sh" "${args[@]}" >"$LAB_DIR/mkinitramfs.log" 2>&1 || {
                cat "$LAB_DIR/mkinitramfs.log" >&2
                lab_log "cannot build the initramfs"
                return 1
            }
            lab__trace "$(tail -n 1 "$LAB_DIR/mkinitramfs.log")"
            [ -z "$key" ] || lab__cache_put "initramfs-$key.cpio.gz" "$LAB_INITRAMFS"
        fi
    fi

    # The namespace: held by a sleep that dies with this shell.
    setpriv --pdeathsig KILL unshare --net -- sleep infinity </dev/null &
    LAB_NETNS_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(readlink "/proc/$LAB_NETNS_PID/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && break
        lab__sleep 0.05
    done
    if ! { lab__nsexec ip link set lo up &&
        lab__nsexec ip link add br0 type bridge forward_delay 0 stp_state 0 &&
        lab__nsexec ip addr add "$LAB_BRIDGE_ADDR" dev br0 &&
        lab__nsexec ip link set br0 up; }; then
        lab_log "cannot set up the lab network namespace"
        return 1
    fi

    printf '127.0.0.1\tlocalhost\n' >"$LAB_DIR/hosts"
    if [ -n "$iscsi" ]; then
        lab__san_start || return 1
    fi
    lab__trace "lab in $LAB_DIR, kernel $LAB_KERNEL"
}

# The lab's iSCSI SAN.  The target is a guest of its own, node "san" at
# $LAB_SAN_ADDR, running the kernel's LIO target (target_core_file and
# iscsi_target_mod): LIO implements SCSI-3 persistent reservations as the
# kernel initiator drives them (REGISTER with APTPL, PREEMPT AND ABORT), which
# a virtio disk has not, nor Debian's user space target tgt (it refuses APTPL
# and PREEMPT AND ABORT).  Each LUN is a sparse file on that guest's private
# disk.  lab_init --iscsi starts it (no wait: it boots beside the others);
# lab_iscsi_disk waits for it and makes a LUN.
lab__san_start() {
    lab_start --private 8G --mem 384 san "$LAB_SAN_ADDR" || return 1
    LAB_SAN=san
}

# lab_iscsi_disk NAME SIZE: a LUN of the lab's iSCSI target (lab_init
# --iscsi), a sparse file of SIZE (as truncate takes it) on the SAN guest,
# and print the name guests see it by:
# /dev/disk/by-path/ip-ADDR:3260-iscsi-iqn.2026-12.lab.om:NAME-lun-0 (ADDR:
# $LAB_SAN_ADDR).  Give that name to lab_start in place of an image: the
# guest logs in to the target at boot (kernel initiator iscsi_tcp, initiator
# name iqn.2026-12.lab.om:NODE) and links the LUN under that name
# (guest/init).  Every initiator may log in (LIO's demo mode ACLs).  Can be
# called in $(...); not several at once.
lab_iscsi_disk() {
    local name=$1 size=$2 iqn
    case $name in '' | *[!a-z0-9-]*) lab_log "lab_iscsi_disk: bad name '$name' (a-z, 0-9, -)"; return 1 ;; esac
    if [ -z "$LAB_SAN" ]; then
        lab_log "lab_iscsi_disk: no iSCSI target: call lab_init --iscsi"
        return 1
    fi
    lab_wait san || return 1
    iqn=iqn.2026-12.lab.om:$name
    lab_run san "set -e
C=/sys/kernel/config/target
mkdir -p /etc/target/pr
for m in target_core_mod target_core_file iscsi_target_mod; do modprobe \$m; done
grep -q ' /sys/kernel/config ' /proc/mounts || mount -t configfs configfs /sys/kernel/config
test ! -e /persist/$name.img
truncate -s $size /persist/$name.img
b=\$C/core/fileio_0/$name
mkdir -p \$b
echo fd_dev_name=/persist/$name.img,fd_dev_size=\$(stat -c %s /persist/$name.img) >\$b/control
echo $name >\$b/wwn/vpd_unit_serial
echo 1 >\$b/enable
t=\$C/iscsi/$iqn/tpgt_1
dev=\$(ls /sys/class/net | grep -vx lo | head -n 1)
ip addr show dev \$dev | grep -q ' $LAB_SAN_IP2/' || ip addr add $LAB_SAN_IP2/24 dev \$dev
mkdir -p \$t/lun/lun_0 \$t/np/$LAB_SAN_IP:$LAB_ISCSI_PORT \$t/np/$LAB_SAN_IP2:$LAB_ISCSI_PORT
ln -s \$b \$t/lun/lun_0/$name
echo 0 >\$t/attrib/authentication
echo 1 >\$t/attrib/generate_node_acls
echo 1 >\$t/attrib/cache_dynamic_acls
echo 0 >\$t/attrib/demo_mode_write_protect
echo 1 >\$t/enable" >&2 || {
        lab_log "lab_iscsi_disk: cannot make the target $iqn"
        return 1
    }
    echo "/dev/disk/by-path/ip-$LAB_SAN_IP:$LAB_ISCSI_PORT-iscsi-$iqn-lun-0"
}

# lab_iscsi_path2 NAME: the name guests see the LUN NAME (made by lab_iscsi_disk) by
# through the target's second portal ($LAB_SAN_IP2): give it to lab_start beside the
# first, and the guest logs in twice, one SCSI disk per session, two paths to the
# LUN (for dm-multipath).
lab_iscsi_path2() {
    echo "/dev/disk/by-path/ip-$LAB_SAN_IP2:$LAB_ISCSI_PORT-iscsi-iqn.2026-12.lab.om:$1-lun-0"
}

# lab__proc_id PID: "PID STARTTIME" of a live process (not a zombie), which
# names it even across pid reuse (field 22 of /proc/PID/stat; the command
# names of interest, bash and the like, have no space).
lab__proc_id() {
    local f
    read -r -a f 2>/dev/null <"/proc/$1/stat" || return 1
    case ${f[2]} in Z | X) return 1 ;; esac
    echo "$1 ${f[21]}"
}

# lab__sweep: remove the directories of labs whose test died without cleaning
# up (killed with SIGKILL): their owner process is gone.  Their QEMU and
# namespace died with them; only files can be left behind.
lab__sweep() {
    local d owner pid
    for d in "${TMPDIR:-/tmp}"/omlab.*; do
        [ -f "$d/owner" ] || continue
        owner=$(<"$d/owner")
        pid=${owner%% *}
        [ "$(lab__proc_id "$pid" 2>/dev/null)" = "$owner" ] && continue
        rm -rf "$d"
    done
}

# lab__le FILE OFFSET SIZE: the little-endian unsigned integer of SIZE bytes
# at OFFSET in FILE (x86 host: od's native order is little-endian).
lab__le() { od -A n -t u"$3" -j "$2" -N "$3" "$1" | tr -d ' '; }

# lab__extract_vmlinux BZIMAGE OUT: write the uncompressed kernel of BZIMAGE
# to OUT; fail unless it is an ELF file with a PVH entry point (ELF note Xen
# type 18), which QEMU's -kernel boots directly.  The compressed payload's
# place is in the x86 boot header: setup_sects at 0x1f1, payload_offset and
# payload_length at 0x248 and 0x24c, from the end of the setup sectors; the
# kernel build appends the uncompressed size (4 bytes) to the payload.
lab__extract_vmlinux() {
    local bz=$1 out=$2 sects off len magic dec
    sects=$(lab__le "$bz" $((0x1f1)) 1) && off=$(lab__le "$bz" $((0x248)) 4) &&
        len=$(lab__le "$bz" $((0x24c)) 4) || return 1
    [ "$sects" != 0 ] || sects=4
    [ -n "$off" ] && [ -n "$len" ] && [ "$len" -gt 4 ] || return 1
    off=$(((sects + 1) * 512 + off))
    magic=$(od -A n -t x1 -j "$off" -N 4 "$bz" | tr -d ' ')
    case $magic in
    fd377a58) dec="xz -dc" ;;
    1f8b*) dec="gzip -dc" ;;
    28b52ffd) dec="zstd -qdc" ;;
    02214c18) dec="lz4 -dc" ;;
    5d00*) dec="xz -dc --format=lzma" ;;
    425a68*) dec="bzip2 -dc" ;;
    *) return 1 ;;
    esac
    # (No reader quits early in these pipelines: they are fine under pipefail.)
    dd if="$bz" iflag=skip_bytes,count_bytes skip="$off" count=$((len - 4)) bs=1M status=none |
        $dec >"$out" 2>/dev/null || return 1
    [ "$(od -A n -t x1 -N 4 "$out" | tr -d ' ')" = 7f454c46 ] || return 1
    command -v readelf >/dev/null || return 1
    readelf -n "$out" 2>/dev/null | grep -c 'Xen.*(0x00000012)' >/dev/null || return 1
}

# The cache of built boot files (LAB_CACHE, default $OM_BUILD/lab-cache when the
# tests give OM_BUILD; empty: no cache).  Every vm test boots the same kernel and,
# for one build of om, the same initramfs: building it takes about 10 s, so each
# is kept under a name that is a hash of everything it is made from, and a test
# copies it into its own lab directory (the cache may be pruned while a guest
# boots).  The initramfs's inputs: mkinitramfs.sh and the guest side (its own
# files), the om binary and every --extra program (their contents), the kernel
# version, the host's package database and module index (their size and
# modification time: what mkinitramfs copies comes from installed packages).
# lab__cached NAME DEST: copy the cache entry NAME to DEST; 1 when there is none.
lab__cached() {
    [ -n "$LAB_CACHE" ] && [ -f "$LAB_CACHE/$1" ] || return 1
    cp "$LAB_CACHE/$1" "$2.tmp" && mv "$2.tmp" "$2" && touch "$LAB_CACHE/$1"
}
# lab__cache_put NAME FILE: keep a copy of FILE as NAME (written whole, then
# renamed); only the 8 most recently used entries stay.  Never fails the lab.
lab__cache_put() {
    [ -n "$LAB_CACHE" ] || return 0
    mkdir -p "$LAB_CACHE" 2>/dev/null || return 0
    cp "$2" "$LAB_CACHE/.$1.$$" 2>/dev/null && mv -f "$LAB_CACHE/.$1.$$" "$LAB_CACHE/$1" ||
        { rm -f "$LAB_CACHE/.$1.$$"; return 0; }
    # shellcheck disable=SC2012 # names are ours: hex and fixed words
    ls -1t "$LAB_CACHE" | tail -n +9 | while read -r f; do rm -f "$LAB_CACHE/$f"; done
}
# lab__initramfs_key KVER OM EXTRA...: the cache key of an initramfs
lab__initramfs_key() {
    local kver=$1 om=$2 x p sums
    shift 2
    [ -n "$LAB_CACHE" ] || return 1
    sums=$(sha256sum "$LAB_VM_DIR/mkinitramfs.sh" "$LAB_VM_DIR"/guest/* ${om:+"$om"}) || return 1
    for x in "$@"; do
        p=$x
        [ "${x#/}" != "$x" ] || p=$(command -v "$x") || return 1
        sums+=$'\n'"extra $x $(sha256sum <"$p")" || return 1
    done
    sums+=$'\n'"kernel $kver $(stat -c '%n %s %Y' /var/lib/dpkg/status "/lib/modules/$kver/modules.dep")" ||
        return 1
    sha256sum <<<"$sums" | cut -c 1-32
}

# lab_cleanup: kill every guest, drop the namespace, remove the lab directory
# (kept when LAB_KEEP=1).  Safe to call more than once.
lab_cleanup() {
    local node pid
    for node in "${LAB_NODES[@]}"; do
        pid=${LAB_PID[$node]:-}
        [ -n "$pid" ] || continue
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        LAB_PID[$node]=
    done
    if [ -n "$LAB_NETNS_PID" ]; then
        kill -9 "$LAB_NETNS_PID" 2>/dev/null || true
        wait "$LAB_NETNS_PID" 2>/dev/null || true
        LAB_NETNS_PID=
    fi
    if [ -n "$LAB_SLEEP_FD" ]; then
        exec {LAB_SLEEP_FD}<&-
        LAB_SLEEP_FD=
    fi
    if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
        if [ -n "$LAB_KEEP" ]; then
            lab_log "kept $LAB_DIR"
        else
            rm -rf "$LAB_DIR"
        fi
    fi
    LAB_DIR=
    return 0
}

# lab_disk NAME SIZE: create a sparse raw disk image (SIZE as truncate takes
# it: 256M, 1G) and print its path.  Attach it to several guests to share it;
# a guest sees it as /dev/disk/by-id/virtio-NAME (NAME: up to 20 characters).
lab_disk() {
    local name=$1 size=$2 img
    case $name in '' | *[!A-Za-z0-9_-]*) lab_log "lab_disk: bad name '$name'"; return 1 ;; esac
    img=$LAB_DIR/disks/$name.img
    truncate -s "$size" "$img" || return 1
    echo "$img"
}

# --- guests ------------------------------------------------------------------

# lab_start [--private SIZE] [--mem MiB] [--append ARGS] [--root IMAGE] NODE ADDR/LEN [IMAGE...]
# Power on guest NODE with ADDR/LEN on its network interface (inside the lab
# network) and the given raw images as virtio disks (shared with the other
# guests that attach them; serial = image basename).  An IMAGE printed by
# lab_iscsi_disk (/dev/disk/by-path/ip-...-iscsi-IQN-lun-1) is no virtio
# disk: the guest logs in to that iSCSI target at boot (om.iscsi=).  --private gives the
# node a disk of its own, formatted ext4 once and mounted on /persist at
# every boot of that node.  --root boots the guest from IMAGE, a raw ext4
# image of a whole system (serial lab-root, om.root=lab-root on the kernel
# command line): the initramfs loads its modules, sets up the network and the
# lab share as always, then switches to IMAGE's /sbin/init (systemd), where
# lab-runner.service is the command runner (guest/init says what it installs
# in IMAGE).  IMAGE is written to: give each node its own.  Returns once QEMU
# runs: see lab_wait.  A node may be started again after lab_kill (a reboot):
# same tap, same MAC, same disks.
lab_start() {
    local private='' mem=$LAB_MEM append=$LAB_APPEND root=''
    while [ $# -gt 0 ]; do
        case $1 in
        --private) private=$2; shift 2 ;;
        --root) root=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --append) append="$append $2"; shift 2 ;;
        *) break ;;
        esac
    done
    if [ $# -lt 2 ]; then
        lab_log "usage: lab_start [--private SIZE] [--mem MiB] [--append ARGS] [--root IMAGE] NODE ADDR/LEN [IMAGE...]"
        return 1
    fi
    local node=$1 addr=$2
    shift 2
    case $node in '' | *[!a-z0-9-]*) lab_log "lab_start: bad node name '$node'"; return 1 ;; esac
    case $addr in */*) ;; *) lab_log "lab_start: address needs a prefix length: $addr"; return 1 ;; esac
    [ -n "$LAB_DIR" ] || { lab_log "lab_start: call lab_init first"; return 1; }
    if lab__alive "$node"; then
        lab_log "lab_start: $node is already running"
        return 1
    fi

    local nd idx tap mac
    nd=$(lab__nodedir "$node")
    if [ -z "${LAB_IDX[$node]:-}" ]; then
        idx=$((${#LAB_NODES[@]} + 1))
        LAB_IDX[$node]=$idx
        LAB_NODES+=("$node")
        mkdir -p "$nd/share/run"
        mkfifo "$nd/cmd.in" "$nd/cmd.out"
        tap=tap$idx
        lab__nsexec ip tuntap add dev "$tap" mode tap &&
            lab__nsexec ip link set "$tap" master br0 &&
            lab__nsexec ip link set "$tap" up || {
            lab_log "cannot create $tap"
            return 1
        }
    fi
    idx=${LAB_IDX[$node]}
    tap=tap$idx
    mac=$(printf '52:54:00:4f:4d:%02x' "$idx")
    LAB_ADDR[$node]=$addr

    # Fresh channel state: a previous boot's requests and results are void.
    rm -rf "$nd/share/run" "$nd/share/ready"
    mkdir -p "$nd/share/run"
    lab__hosts_update

    local cmdline="console=ttyS0 panic=-1 loglevel=4 om.node=$node om.ip=$addr"
    if [ -n "$private" ]; then
        if [ ! -e "$nd/private.img" ]; then
            truncate -s "$private" "$nd/private.img" &&
                mkfs.ext4 -q -F -L "$node-private" "$nd/private.img" || return 1
        fi
        cmdline+=" om.persist=private"
    fi
    if [ -n "$root" ]; then
        [ -f "$root" ] || { lab_log "lab_start: no root image $root"; return 1; }
        cmdline+=" om.root=lab-root"
    fi
    local img iqn portal
    for img in "$@"; do
        case $img in
        /dev/disk/by-path/ip-*-iscsi-*-lun-*)
            iqn=${img#*-iscsi-}
            iqn=${iqn%-lun-*}
            portal=${img#/dev/disk/by-path/ip-}
            portal=${portal%%-iscsi-*}
            if [ -z "$LAB_SAN" ]; then
                lab_log "lab_start: $img: no iSCSI target (lab_init --iscsi)"
                return 1
            fi
            cmdline+=" om.iscsi=$iqn@$portal"
            ;;
        esac
    done
    cmdline+=" $append"
    # shellcheck disable=SC2054 # commas belong to QEMU's option syntax
    local qemu=(
        qemu-system-x86_64 -name "$node" -accel tcg -machine q35 -cpu max
        -smp 1 -m "$mem" -nodefaults -no-user-config -display none -no-reboot
        -kernel "$LAB_KERNEL" -initrd "$LAB_INITRAMFS" -append "$cmdline"
        -chardev "file,id=con,path=$nd/console.log,append=on" -serial chardev:con
        -netdev "tap,id=net0,ifname=$tap,script=no,downscript=no"
        -device "virtio-net-pci,netdev=net0,mac=$mac"
        -fsdev "local,id=lab,path=$nd/share,security_model=none"
        -device virtio-9p-pci,fsdev=lab,mount_tag=lab
        -device virtio-serial-pci
        -chardev "pipe,id=cmd,path=$nd/cmd"
        -device virtserialport,chardev=cmd,name=om.cmd
        -device virtio-rng-pci
    )
    local serial n=0
    for img in "$@"; do
        case $img in /dev/disk/by-path/ip-*-iscsi-*-lun-*) continue ;; esac
        [ -f "$img" ] || { lab_log "lab_start: no image $img"; return 1; }
        serial=$(basename "$img" .img | tr -c 'A-Za-z0-9_\n-' _ | cut -c1-20)
        qemu+=(-drive "file=$img,format=raw,if=none,id=disk$n,file.locking=off,cache=none"
            -device "virtio-blk-pci,drive=disk$n,serial=$serial")
        n=$((n + 1))
    done
    if [ -n "$private" ]; then
        qemu+=(-drive "file=$nd/private.img,format=raw,if=none,id=private,cache=none"
            -device "virtio-blk-pci,drive=private,serial=private")
    fi
    if [ -n "$root" ]; then
        # (the host's page cache: a system boots faster from it than with O_DIRECT)
        qemu+=(-drive "file=$root,format=raw,if=none,id=root,cache=writeback"
            -device "virtio-blk-pci,drive=root,serial=lab-root")
    fi

    printf '=== %s: boot at %(%F %T)T ===\n' "$node" -1 >>"$nd/console.log"
    printf '%q ' "${qemu[@]}" >"$nd/qemu.cmd"
    lab__trace "start $node ($addr)"
    LAB_BOOT_T0[$node]=$(lab__now)
    # A simple command, not a function, in background: bash execs it in the
    # child it forks, nsenter and setpriv exec in turn, so $! is QEMU itself
    # and its parent is this shell, whose death kills it (pdeathsig).
    nsenter --target "$LAB_NETNS_PID" --net -- \
        setpriv --pdeathsig KILL "${qemu[@]}" </dev/null >>"$nd/qemu.log" 2>&1 &
    LAB_PID[$node]=$!
    LAB_BOOT_SECS[$node]=
}

# lab_wait NODE [TIMEOUT]: wait until NODE's command runner answers (default
# timeout $LAB_BOOT_TIMEOUT).  On failure prints why and the console log,
# kills the guest if it still runs, and returns 1.  Records the boot time (see
# lab_boot_time).
lab_wait() {
    local node=$1 timeout=${2:-$LAB_BOOT_TIMEOUT} nd t0
    lab__need_node "$node" || return 1
    nd=$(lab__nodedir "$node")
    t0=${LAB_BOOT_T0[$node]}
    local delay=0.05
    while [ ! -e "$nd/share/ready" ]; do
        if ! lab__alive "$node"; then
            lab_log "$node: QEMU exited during boot"
            cat "$nd/qemu.log" >&2
            lab_console "$node" >&2
            return 1
        fi
        if lab__older "$t0" "$timeout"; then
            lab_log "$node: not up after ${timeout}s, killing it"
            lab_kill "$node"
            lab_console "$node" >&2
            return 1
        fi
        lab__sleep "$delay"
        delay=0.1
    done
    LAB_BOOT_SECS[$node]=$(lab_elapsed "$t0")
    LAB_BOOT_GUEST[$node]=$(<"$nd/share/ready")
    lab__trace "$node up in ${LAB_BOOT_SECS[$node]}s (guest uptime ${LAB_BOOT_GUEST[$node]}s)"
}

# lab_boot [lab_start options] NODE ADDR/LEN [IMAGE...]: lab_start + lab_wait.
lab_boot() {
    lab_start "$@" || return 1
    while [ $# -gt 0 ]; do
        case $1 in --*) shift 2 ;; *) break ;; esac
    done
    lab_wait "$1"
}

# lab_boot_time NODE: seconds from QEMU start to a ready runner, last boot.
lab_boot_time() { echo "${LAB_BOOT_SECS[$1]:-}"; }

# lab_boot_guest_time NODE: the guest's own uptime when its runner was ready
# (the rest of lab_boot_time is firmware and kernel decompression).
lab_boot_guest_time() { echo "${LAB_BOOT_GUEST[$1]:-}"; }

# lab_addr NODE: NODE's address, without the prefix length.
lab_addr() { echo "${LAB_ADDR[$1]%/*}"; }

# lab_pid NODE: the QEMU pid of a running NODE.
lab_pid() { echo "${LAB_PID[$1]:-}"; }

# lab_alive NODE: true while NODE's QEMU runs.
lab_alive() { lab__alive "$1"; }

# lab_kill NODE: power loss.  SIGKILL to QEMU: no flush, no shutdown; what
# the guest wrote to its disks with cache=none (O_DIRECT) is on the images.
lab_kill() {
    local node=$1 pid
    lab__need_node "$node" || return 1
    pid=${LAB_PID[$node]:-}
    [ -n "$pid" ] || return 0
    local what=killed
    lab__alive "$node" || what="gone (powered off)"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    LAB_PID[$node]=
    printf '=== %s: %s at %(%F %T)T ===\n' "$node" "$what" -1 >>"$(lab__nodedir "$node")/console.log"
    lab__trace "$node $what"
}

# lab_pause NODE / lab_resume NODE: freeze NODE (SIGSTOP to QEMU: its CPU,
# disks and network stop, as in a stalled host) and thaw it; its clock jumps
# ahead on resume.  lab_run on a paused node waits, within its bounds.
lab_pause() {
    lab__need_node "$1" || return 1
    lab__alive "$1" || { lab_log "lab_pause: $1 is not running"; return 1; }
    kill -STOP "${LAB_PID[$1]}"
}
lab_resume() {
    lab__need_node "$1" || return 1
    lab__alive "$1" || { lab_log "lab_resume: $1 is not running"; return 1; }
    kill -CONT "${LAB_PID[$1]}"
}

# lab_stop NODE [TIMEOUT]: clean power off (sync, poweroff); kills the guest if
# it is not gone after TIMEOUT seconds (30).
lab_stop() {
    local node=$1 timeout=${2:-30} pid t0
    lab__need_node "$node" || return 1
    pid=${LAB_PID[$node]:-}
    [ -n "$pid" ] || return 0
    lab_run -t 10 "$node" 'sync; (sleep 0.2; poweroff -f) >/dev/null 2>&1 &' >/dev/null 2>&1 || true
    t0=$(lab__now)
    while lab__alive "$node"; do
        if lab__older "$t0" "$timeout"; then
            lab_log "$node: still up ${timeout}s after poweroff, killing it"
            break
        fi
        lab__sleep 0.1
    done
    lab_kill "$node"
}

# lab_console NODE: print NODE's console log (every boot of the lab).
lab_console() {
    local node=$1 f
    f=$(lab__nodedir "$node")/console.log
    echo "----- console of $node ($f) -----"
    if [ -e "$f" ]; then tr -d '\r' <"$f" | cat -v; fi
    echo "----- end of console of $node -----"
}

# lab_dump: print the console log of every node (for a failing test).
lab_dump() {
    local node
    for node in "${LAB_NODES[@]}"; do lab_console "$node"; done
}

# lab__hosts_update: the lab's hosts file (localhost and every node started
# so far), installed in every node's share, which the guests link to
# /etc/hosts.  Written through a rename: guests never see half of it.
lab__hosts_update() {
    local node nd
    {
        printf '127.0.0.1\tlocalhost\n'
        for node in "${LAB_NODES[@]}"; do
            if [ -n "${LAB_ADDR[$node]:-}" ]; then
                printf '%s\t%s\n' "${LAB_ADDR[$node]%/*}" "$node"
            fi
        done
    } >"$LAB_DIR/hosts"
    for node in "${LAB_NODES[@]}"; do
        nd=$(lab__nodedir "$node")
        cp "$LAB_DIR/hosts" "$nd/share/.hosts.tmp" && mv -f "$nd/share/.hosts.tmp" "$nd/share/hosts"
    done
}

# --- running commands --------------------------------------------------------

# lab_run [-i] [-t SECS] NODE CMD...
# Run CMD (its words joined by spaces, as ssh does) with busybox sh in NODE,
# as root in /root, after sourcing /etc/lab/env.  Prints the command's stdout
# on stdout and its stderr on stderr; returns its exit status.  -i feeds
# lab_run's own stdin to the command (its stdin is /dev/null otherwise).  The
# guest kills the command after SECS seconds ($LAB_RUN_TIMEOUT) and lab_run
# then returns 124.  lab_run returns 255 when the guest is down or dies, or
# gives no answer within SECS + 30 seconds (hung, paused).  Several lab_run
# may run at once (in background) on one node.
# Multi-line commands and heredocs work:
#   lab_run n1 "cat >/etc/om/x.conf <<'EOF'
#   [DEFAULT]
#   EOF"
# A command left running in background keeps running after lab_run returns
# (start daemons with: lab_run n1 'om daemon run >/var/log/om.log 2>&1 &').
lab_run() {
    local stdin='' timeout=$LAB_RUN_TIMEOUT
    while [ $# -gt 0 ]; do
        case $1 in
        -i) stdin=1; shift ;;
        -t) timeout=$2; shift 2 ;;
        *) break ;;
        esac
    done
    local node=$1
    shift
    lab__need_node "$node" || return 255
    if ! lab__alive "$node"; then
        lab_log "$node is down: cannot run: $*"
        return 255
    fi
    local nd req id
    nd=$(lab__nodedir "$node")
    req=$(mktemp -p "$nd/share/run" r.XXXXXXXX) || return 255
    id=${req##*/}
    printf '%s\n' "$*" >"$req.sh"
    [ -z "$stdin" ] || cat >"$req.in"
    # O_RDWR: opening never blocks, even if QEMU is gone; a line this short is
    # written atomically, so concurrent lab_run do not mix their lines.
    printf 'RUN %s %s\n' "$id" "$timeout" 1<>"$nd/cmd.in"

    local deadline=$((timeout + 30)) t0 delay=0.01
    t0=$(lab__now)
    while [ ! -e "$req.rc" ]; do
        if ! lab__alive "$node"; then
            lab_log "$node died while running: $*"
            rm -f "$req" "$req".*
            return 255
        fi
        if lab__older "$t0" "$deadline"; then
            lab_log "$node: no answer after ${deadline}s to: $*"
            rm -f "$req" "$req".*
            return 255
        fi
        lab__sleep "$delay"
        case $delay in 0.01) delay=0.02 ;; 0.02) delay=0.05 ;; 0.05) delay=0.1 ;; esac
    done
    local rc
    rc=$(<"$req.rc")
    cat "$req.out"
    cat "$req.err" >&2
    rm -f "$req" "$req".*
    case $rc in '' | *[!0-9]*) rc=255 ;; esac
    return "$rc"
}

# lab_quote ARG...: print ARGs as one command line for the guest's sh, each
# argument single-quoted, so that lab_run runs exactly that argv:
#   lab_run -i n1 "$(lab_quote om "$path" create --config=-)" <conf
lab_quote() {
    local a words=() q="'"
    for a in "$@"; do words+=("'${a//$q/$q\\$q$q}'"); done
    echo "${words[*]}"
}

# lab_put NODE SRC DEST [MODE]: copy host file SRC to DEST in NODE (parent
# directories created; MODE defaults to SRC's).
lab_put() {
    local node=$1 src=$2 dest=$3 mode=${4:-} nd tmp
    lab__need_node "$node" || return 1
    nd=$(lab__nodedir "$node")
    [ -n "$mode" ] || mode=$(stat -c %a "$src") || return 1
    tmp=$(mktemp -p "$nd/share/run" put.XXXXXXXX) || return 1
    cp "$src" "$tmp" || { rm -f "$tmp"; return 1; }
    local q
    q=$(printf '%q' "$dest")
    lab_run "$node" "mkdir -p \"\$(dirname $q)\" && cp /lab/run/${tmp##*/} $q && chmod $mode $q"
    local rc=$?
    rm -f "$tmp"
    return $rc
}

# lab_get NODE SRC DEST: copy file SRC of NODE to DEST on the host.
lab_get() {
    local node=$1 src=$2 dest=$3 nd tmp
    lab__need_node "$node" || return 1
    nd=$(lab__nodedir "$node")
    tmp=$(mktemp -p "$nd/share/run" get.XXXXXXXX) || return 1
    lab_run "$node" "cat $(printf '%q' "$src") >/lab/run/${tmp##*/}" &&
        mv -f "$tmp" "$dest"
    local rc=$?
    rm -f "$tmp"
    return $rc
}

# lab_link NODE up|down: plug or unplug NODE's network cable (its tap device
# on the lab bridge), both directions; the guest's own link stays up, as when
# a switch port dies.  Disks are untouched: a partition, not a node loss.
lab_link() {
    local node=$1 state=$2
    lab__need_node "$node" || return 1
    case $state in up | down) ;; *) lab_log "lab_link: up or down, not '$state'"; return 1 ;; esac
    lab__nsexec ip link set "tap${LAB_IDX[$node]}" "$state"
}

# lab_host CMD...: run CMD on the host inside the lab network (it sees the
# guests; the host side address is $LAB_BRIDGE_ADDR).
lab_host() { lab__nsexec "$@"; }
