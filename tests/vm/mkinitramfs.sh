#!/bin/bash
# mkinitramfs.sh: build the initramfs of the om QEMU lab (tests/vm).
#
# Usage: mkinitramfs.sh OUT.cpio.gz [--om PATH/TO/om] [--extra BIN...] [--kver VER]
#
# The image is a small, self-contained root filesystem that the guest kernel
# unpacks into RAM and runs from; there is no root disk.  It holds:
#   - busybox-static and a link for each of its applets,
#   - the `om` binary (optional) as /usr/bin/om (= /bin/om) and, for every
#     dynamically linked program, the shared libraries it needs (found with
#     ldd, repeated on each library until nothing new appears) and the loader,
#   - mkfs.ext4, e2fsck, blkid, mkfs.xfs (when installed) and cryptsetup (the
#     latter only for the lab's own self-check: om itself uses libcryptsetup),
#   - iscsistart (open-iscsi) and sg_persist (sg3-utils) when installed, for
#     the lab's iSCSI disks,
#   - drbdadm, drbdsetup, drbdmeta and the DRBD 8.4 tools of /lib/drbd
#     (drbd-utils) when installed, for disk.drbd,
#   - the kernel modules the lab needs and every module they depend on, as
#     resolved by `modprobe -S KVER --show-depends` (modules.dep, softdeps,
#     aliases), with a depmod index so the guest can also modprobe them,
#   - the guest side of the lab from tests/vm/guest/ (the /init script and the
#     command runner).
# It is not a general purpose initramfs: there is no udev, and it switches to a
# root disk only when the lab asks for one (om.root=, lab_start --root).
#
# Everything comes from the host's installed Debian packages; nothing is
# downloaded.  Run as any user that can read /lib/modules and /boot.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=${0##*/}

die() { echo "$prog: $*" >&2; exit 1; }
warn() { echo "$prog: warning: $*" >&2; }
usage() {
    sed -n 's/^# Usage: /usage: /p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

out=
om=
kver=
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --om) [ $# -ge 2 ] || usage; om=$2; shift 2 ;;
    --kver) [ $# -ge 2 ] || usage; kver=$2; shift 2 ;;
    --extra)
        shift
        # --extra takes every following argument up to the next --option.
        while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do extra+=("$1"); shift; done
        ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
    esac
done
[ -n "$out" ] || usage

# The kernel version: the one of the newest /boot/vmlinuz-* unless given.
if [ -z "$kver" ]; then
    k=$(ls -1v /boot/vmlinuz-* 2>/dev/null | tail -n 1) || true
    [ -n "$k" ] || die "no kernel in /boot (install linux-image-amd64)"
    kver=${k#/boot/vmlinuz-}
fi
moddir=/lib/modules/$kver
[ -d "$moddir" ] || die "no modules for kernel $kver in $moddir"

export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
for tool in busybox cpio gzip ldd modprobe depmod; do
    command -v "$tool" >/dev/null || die "missing host tool: $tool"
done
busybox=$(command -v busybox)
# busybox must be static: it is the guest's shell and we do not want it to
# depend on the libraries we happen to copy.
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked (install busybox-static)"
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/om-initramfs.XXXXXX")
tmp_out=
trap 'rm -rf "$stage" ${tmp_out:+"$tmp_out"}' EXIT

# A merged-/usr layout, as on the Debian host, so that every path ldd prints
# (/lib/x86_64-linux-gnu/..., /lib64/ld-linux-x86-64.so.2) resolves the same
# way inside the guest.
mkdir -p "$stage"/usr/{bin,sbin,lib,lib64} \
    "$stage"/{dev,proc,sys,run,tmp,root,mnt,etc/lab,var/lib,var/log,lab}
ln -s usr/bin "$stage/bin"
ln -s usr/sbin "$stage/sbin"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
chmod 1777 "$stage/tmp"

# --- busybox -------------------------------------------------------------
install -m 0755 "$busybox" "$stage/usr/bin/busybox"
while read -r applet; do
    [ -n "$applet" ] || continue
    [ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] || ln -s /usr/bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)

# --- programs and their shared libraries -------------------------------------
declare -A copied=()     # host paths already in the image

# copy_file SRC [DEST]: copy SRC (dereferenced) to the same path in the image,
# or to DEST.  A busybox link in the way is removed first: writing through it
# would overwrite busybox itself.
copy_file() {
    local src=$1 dest=${2:-$1}
    mkdir -p "$stage$(dirname "$dest")"
    rm -f "$stage$dest"
    cp -L "$src" "$stage$dest"
}

# copy_libs FILE: copy the shared libraries FILE needs, and theirs.
copy_libs() {
    local todo=("$1") f lib
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}
        todo=("${todo[@]:1}")
        # ldd lines: "libx.so.1 => /path/libx.so.1 (0x...)" or "/lib64/ld-linux... (0x...)";
        # statically linked files make ldd fail: nothing to copy then.
        while read -r lib; do
            [ -n "$lib" ] || continue
            [ -z "${copied[$lib]:-}" ] || continue
            [ -e "$lib" ] || die "$f needs $lib, which does not exist"
            copied[$lib]=1
            copy_file "$lib"
            todo+=("$lib")
        done < <(ldd "$f" 2>/dev/null | awk '
            $2 == "=>" && $3 ~ /^\// { print $3; next }
            $1 ~ /^\// { print $1 }')
    done
}

# add_prog PROG [DEST]: add a program found on PATH (or given by path) and the
# libraries it needs.
add_prog() {
    local name=$1 dest=${2:-} path
    path=$(command -v "$name" 2>/dev/null) || return 1
    [ -n "$dest" ] || dest=$path
    copy_file "$path" "$dest"
    chmod 0755 "$stage$dest"
    copy_libs "$path"
}

# Filesystem and block tools.  mke2fs picks the filesystem type from argv[0],
# so mkfs.ext4 is kept under that name; fsck.ext4 is e2fsck under another name.
for p in mkfs.ext4 mke2fs e2fsck fsck.ext4 blkid cryptsetup; do
    add_prog "$p" || die "$p not found on the host (install e2fsprogs, util-linux, cryptsetup-bin)"
done
add_prog mkfs.xfs || warn "mkfs.xfs not found: xfs will not be available in the guest"
add_prog xfs_repair || true
# The lab's iSCSI SAN (lab_iscsi_disk): the kernel initiator is driven by
# open-iscsi's iscsistart; sg_persist (sg3-utils) reads and sets persistent
# reservations in tests, beside om's own ioctls.
add_prog iscsistart || warn "iscsistart not found: no iSCSI disks in the guest (install open-iscsi)"
for p in sg_persist sg_inq sg_turs; do
    add_prog "$p" || warn "$p not found (install sg3-utils)"
done
# DRBD (disk.drbd): drbdadm of drbd-utils 9 runs the 8.4 tools of /lib/drbd when
# the kernel module is DRBD 8.4 (Debian's kernel); drbdmeta writes the metadata.
if add_prog drbdadm; then
    # drbdmeta locks /var/lock/drbd-<major>-<minor>; drbdadm keeps state in /var/lib/drbd
    mkdir -p "$stage/var/lock" "$stage/var/lib/drbd" "$stage/var/run/drbd" "$stage/run/drbd"
    for p in drbdsetup drbdmeta; do add_prog "$p" || warn "$p not found (install drbd-utils)"; done
    for p in /lib/drbd/drbdadm-84 /lib/drbd/drbdsetup-84; do
        if [ -x "$p" ]; then
            copy_file "$p"
            chmod 0755 "$stage$p"
            copy_libs "$p"
        else
            warn "$p not found: DRBD 8.4 will not be driven in the guest"
        fi
    done
else
    warn "drbdadm not found: no DRBD in the guest (install drbd-utils)"
fi
[ -e /etc/mke2fs.conf ] && copy_file /etc/mke2fs.conf
# glibc dlopen()s libgcc_s for thread cancellation (pthread_cancel, pthread_exit).
for f in /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1; do
    if [ -e "$f" ]; then
        copy_file "$f"
        copy_libs "$f"
        break
    fi
done

if [ -n "$om" ]; then
    [ -f "$om" ] && [ -x "$om" ] || die "--om $om: not an executable file"
    copy_file "$om" /usr/bin/om
    chmod 0755 "$stage/usr/bin/om"
    copy_libs "$om"
fi
for x in "${extra[@]}"; do
    if [ "${x#*/}" != "$x" ]; then
        # A path: installed as /usr/bin/<basename>.
        [ -f "$x" ] && [ -x "$x" ] || die "--extra $x: not an executable file"
        copy_file "$x" "/usr/bin/${x##*/}"
        copy_libs "$x"
    else
        add_prog "$x" || die "--extra $x: not found on PATH"
    fi
done

# --- kernel modules --------------------------------------------------------
# Wanted by name; each is resolved with its dependencies by modprobe.  Required
# ones must exist (or be built in); optional ones are skipped with a warning.
required_mods=(
    virtio_pci virtio_blk virtio_net virtio_console 9p 9pnet_virtio
    loop dm-mod dm-crypt ext4
    # dm-crypt's cipher aes-xts-plain64: the xts template and an aes
    # implementation (aes_generic is usually built in).
    xts
)
optional_mods=(
    aesni_intel aes_generic ecb cbc sha256_generic sha512_generic
    # libcryptsetup checks ciphers and encrypts LUKS2 keyslots through AF_ALG.
    af_alg algif_skcipher algif_hash
    virtio_rng af_packet
    # veth and bridge: deploy/demo.sh wires network namespaces (test-demo-dm.sh)
    veth bridge
)
# Copied and indexed but not loaded at boot (xfs alone costs ~0.8 s of TCG
# boot time): the kernel asks busybox modprobe for them when first needed
# (mount -t xfs requests fs-xfs).
ondemand_mods=(xfs
    # the iSCSI initiator and SCSI disks: loaded by guest/init only when the
    # guest has an iSCSI disk (om.iscsi=)
    iscsi_tcp sd_mod sg
    # the iSCSI target of the lab's SAN guest (lab_iscsi_disk)
    target_core_mod target_core_file iscsi_target_mod
    # DRBD 8.4 (disk.drbd modprobes it)
    drbd
    # dm-multipath over two iSCSI sessions (dm asks for the target and the path
    # selector by module name when a table names them)
    dm-multipath dm-round-robin)
modlist=$stage/etc/lab/modules     # load order, one .ko path a line
: >"$modlist"
declare -A have_mod=()

# add_module NAME [LIST]: add NAME and its dependencies, appending their paths
# to LIST (default: the boot list); return 1 when NAME is unknown.
add_module() {
    local name=$1 list=${2:-$modlist} deps line path rel
    deps=$(modprobe -S "$kver" --show-depends "$name" 2>/dev/null) || return 1
    while read -r line; do
        case $line in
        insmod\ *)
            # "insmod /lib/modules/KVER/kernel/x/y.ko [params]"
            path=${line#insmod }
            path=${path%% *}
            [ -z "${have_mod[$path]:-}" ] || continue
            have_mod[$path]=1
            rel=${path#"/lib/modules/$kver/"}
            mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
            case $path in
            *.ko.xz)  xz -dc "$path" >"$stage/lib/modules/$kver/${rel%.xz}"; rel=${rel%.xz} ;;
            *.ko.zst) zstd -qdc "$path" >"$stage/lib/modules/$kver/${rel%.zst}"; rel=${rel%.zst} ;;
            *.ko.gz)  gzip -dc "$path" >"$stage/lib/modules/$kver/${rel%.gz}"; rel=${rel%.gz} ;;
            *)        cp "$path" "$stage/lib/modules/$kver/$rel" ;;
            esac
            echo "/lib/modules/$kver/$rel" >>"$list"
            ;;
        builtin\ *) ;;
        esac
    done <<<"$deps"
}
for m in "${required_mods[@]}"; do
    add_module "$m" || die "kernel module $m not found for $kver"
done
for m in "${optional_mods[@]}"; do
    add_module "$m" || warn "kernel module $m not found for $kver (skipped)"
done
for m in "${ondemand_mods[@]}"; do
    add_module "$m" /dev/null || warn "kernel module $m not found for $kver (skipped)"
done
# An index of what we copied, so that `modprobe X` also works in the guest.
for f in modules.builtin modules.builtin.modinfo modules.order; do
    [ -e "$moddir/$f" ] && cp "$moddir/$f" "$stage/lib/modules/$kver/"
done
depmod -b "$stage" "$kver"

# --- guest side of the lab ---------------------------------------------------
install -m 0755 "$here/guest/init" "$stage/init"
install -m 0755 "$here/guest/runner" "$stage/etc/lab/runner"
cat >"$stage/etc/inittab" <<'INITTAB'
# busybox init: /init did the setup; init reaps orphans and keeps the runner up.
::respawn:/etc/lab/runner
::ctrlaltdel:/bin/poweroff -f
::shutdown:/bin/sync
INITTAB
cat >"$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$stage/etc/group" <<'GROUP'
root:x:0:
disk:x:6:
nogroup:x:65534:
GROUP
echo "$kver" >"$stage/etc/lab/kver"
# Commands run by the lab source this file first; tests may append to it.
cat >"$stage/etc/lab/env" <<'ENV'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export TERM=dumb
ENV
ln -sf /proc/mounts "$stage/etc/mtab"

# --- archive ---------------------------------------------------------------
mkdir -p "$(dirname "$out")"
tmp_out=$(mktemp "$(dirname "$out")/.initramfs.XXXXXX")
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet) |
    gzip -1 -n >"$tmp_out"
mv -f "$tmp_out" "$out"
tmp_out=
echo "$prog: wrote $out ($(du -h "$out" | cut -f1), kernel $kver, $(wc -l <"$modlist") modules)"
