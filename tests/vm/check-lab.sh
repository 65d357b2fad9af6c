#!/bin/bash
# check-lab.sh: does the QEMU lab of tests/vm work on this machine?
#
# Boots two guests sharing one raw disk image and checks what the om VM
# scenarios rely on:
#   - the command channel: stdout, stderr, exit status, stdin, timeouts,
#     file copy in and out, concurrent commands;
#   - the private network: ping and a TCP exchange (busybox nc) between the
#     guests, by name, from the host side of the lab network, and a cable
#     pulled and plugged back (lab_link), a node paused and resumed;
#   - the shared disk: a block one guest writes with O_DIRECT, the other
#     reads with O_DIRECT;
#   - dm-crypt, with the cryptsetup binary (om itself uses libcryptsetup):
#     LUKS2 aes-xts-plain64 with PBKDF2 at 1000 iterations on a loop device
#     and on the shared disk, ext4 on top; the second guest opens the LUKS
#     volume the first one formatted and reads its file;
#   - power loss and reboot: the first guest is killed, the second carries
#     on, the first boots again and reopens the volume.
# Exit status: 0 success, 1 failure (with the guests' console logs), 77 when
# QEMU, the kernel or root are missing (with the reason).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lab.sh"

t_start=$EPOCHREALTIME
step() { echo "== [$(lab_elapsed "$t_start" | cut -d. -f1)s] $*"; }
fail() {
    echo "FAIL: $*"
    lab_dump
    exit 1
}

lab_init "$@" || exit $?

san=$(lab_disk san 64M)
pass='lab-selfcheck passphrase'
luks_opts='--type luks2 --cipher aes-xts-plain64 --key-size 512 --pbkdf pbkdf2 --pbkdf-force-iterations 1000'

step "boot n1 and n2 (TCG, sharing $san)"
lab_start n1 10.99.0.11/24 "$san" || fail "cannot start n1"
lab_start n2 10.99.0.12/24 "$san" || fail "cannot start n2"
lab_wait n1 || fail "n1 did not boot"
lab_wait n2 || fail "n2 did not boot"
echo "boot: n1 $(lab_boot_time n1)s, n2 $(lab_boot_time n2)s (both at once)"

step "command channel"
out=$(lab_run n1 'hostname') || fail "hostname"
[ "$out" = n1 ] || fail "n1 says its hostname is '$out'"
rc=0
out=$(lab_run n1 'echo to-stdout; echo to-stderr >&2; exit 3' 2>"$LAB_DIR/err") || rc=$?
[ "$rc" = 3 ] || fail "exit status: got $rc, want 3"
[ "$out" = to-stdout ] || fail "stdout: got '$out'"
[ "$(cat "$LAB_DIR/err")" = to-stderr ] || fail "stderr: got '$(cat "$LAB_DIR/err")'"
out=$(printf 'a\nb\nc\n' | lab_run -i n1 'wc -l') || fail "stdin"
[ "$out" -eq 3 ] || fail "stdin: wc -l says '$out'"
out=$(lab_run n1 "cat <<'EOF'
[DEFAULT]
id = \$not-expanded
EOF") || fail "heredoc"
[ "$out" = "$(printf '[DEFAULT]\nid = $not-expanded')" ] || fail "heredoc: got '$out'"
out=$(lab_run n1 "printf '<%s>' $(lab_quote "a b" "it's" '$HOME' '')") || fail "lab_quote"
[ "$out" = "<a b><it's><\$HOME><>" ] || fail "lab_quote: got '$out'"
rc=0
lab_run -t 2 n1 'sleep 30' 2>/dev/null || rc=$?
[ "$rc" = 124 ] || fail "timeout: got $rc, want 124"
head -c 300000 /dev/urandom >"$LAB_DIR/blob"
lab_put n1 "$LAB_DIR/blob" /root/sub/blob 0600 || fail "lab_put"
lab_get n1 /root/sub/blob "$LAB_DIR/blob.back" || fail "lab_get"
cmp -s "$LAB_DIR/blob" "$LAB_DIR/blob.back" || fail "lab_put/lab_get changed the file"
[ "$(lab_run n1 'stat -c %a /root/sub/blob')" = 600 ] || fail "lab_put mode"
# Two commands in flight at once on one guest: the quick one is not held up.
lab_run n1 'touch /tmp/slow-started; sleep 3; echo slow' >"$LAB_DIR/slow" &
slow_pid=$!
lab_run n1 'for i in $(seq 100); do test -e /tmp/slow-started && exit 0; sleep 0.1; done; exit 1' ||
    fail "the slow command did not start"
t0=$EPOCHREALTIME
out=$(lab_run n1 'echo quick') || fail "concurrent command"
[ "$out" = quick ] || fail "concurrent command: got '$out'"
quick=$(lab_elapsed "$t0")
wait "$slow_pid" || fail "slow concurrent command"
[ "$(cat "$LAB_DIR/slow")" = slow ] || fail "slow concurrent command output"
echo "quick command answered in ${quick}s while another ran"

step "network between the guests"
lab_run n2 'ping -c 2 -W 5 n1' || fail "n2 cannot ping n1"
lab_run n1 'nc -l -p 7000 >/tmp/got 2>/dev/null &' || fail "nc listen"
lab_run n1 'for i in $(seq 50); do netstat -ltn | grep -q ":7000 " && exit 0; sleep 0.1; done; exit 1' ||
    fail "nc is not listening on n1"
lab_run n2 'echo hello-from-n2 | nc -w 5 n1 7000' || fail "n2 cannot send to n1:7000"
lab_run n1 'for i in $(seq 50); do grep -q hello-from-n2 /tmp/got && exit 0; sleep 0.1; done; exit 1' ||
    fail "n1 did not receive n2's message"
lab_host busybox ping -c 1 -W 5 "$(lab_addr n2)" >/dev/null || fail "the host side cannot ping n2"
lab_link n1 down || fail "lab_link n1 down"
lab_run n2 'ping -c 1 -W 2 n1 >/dev/null 2>&1' && fail "n2 still reaches n1 with n1's link down"
lab_link n1 up || fail "lab_link n1 up"
lab_run n2 'ping -c 1 -W 5 n1 >/dev/null' || fail "n2 does not reach n1 once its link is back"

lab_pause n1 || fail "lab_pause"
lab_run n2 'ping -c 1 -W 2 n1 >/dev/null 2>&1' && fail "n2 still reaches n1 while n1 is paused"
lab_resume n1 || fail "lab_resume"
lab_run n1 true || fail "n1 does not answer after lab_resume"

step "shared disk: n1 writes with O_DIRECT, n2 reads with O_DIRECT"
lab_run n1 'set -e
    head -c 65536 /dev/urandom >/tmp/marker
    dd if=/tmp/marker of=/dev/disk/by-id/virtio-san bs=65536 count=1 seek=7 oflag=direct 2>/dev/null
    sha256sum </tmp/marker' >"$LAB_DIR/sum1" || fail "n1 cannot write the shared disk"
lab_run n2 'dd if=/dev/disk/by-id/virtio-san bs=65536 count=1 skip=7 iflag=direct 2>/dev/null | sha256sum' \
    >"$LAB_DIR/sum2" || fail "n2 cannot read the shared disk"
cmp -s "$LAB_DIR/sum1" "$LAB_DIR/sum2" || fail "n2 does not read what n1 wrote"

step "dm-crypt on a loop device (n2)"
lab_run n2 "set -e
    printf %s '$pass' >/tmp/key
    truncate -s 48M /tmp/loop.img
    dev=\$(losetup -f)
    losetup \$dev /tmp/loop.img
    cryptsetup luksFormat -q $luks_opts --key-file /tmp/key \$dev
    cryptsetup open --key-file /tmp/key \$dev looptest
    mkfs.ext4 -q /dev/mapper/looptest
    mkdir -p /mnt/loop
    mount -t ext4 /dev/mapper/looptest /mnt/loop
    echo on-loop >/mnt/loop/file
    umount /mnt/loop
    cryptsetup close looptest
    losetup -d \$dev
    cryptsetup luksDump /tmp/loop.img | grep -E 'Cipher:|PBKDF:|Iterations:'" || fail "dm-crypt on a loop device"

step "dm-crypt on the shared disk: n1 formats and writes"
lab_run n1 "set -e
    printf %s '$pass' >/tmp/key
    t0=\$(cut -d' ' -f1 /proc/uptime)
    cryptsetup luksFormat -q $luks_opts --label san --key-file /tmp/key /dev/disk/by-id/virtio-san
    t1=\$(cut -d' ' -f1 /proc/uptime)
    cryptsetup open --key-file /tmp/key /dev/disk/by-id/virtio-san sancrypt
    t2=\$(cut -d' ' -f1 /proc/uptime)
    echo \"luksFormat \$t0 -> \$t1, open \$t1 -> \$t2 (guest uptime)\"
    test -b /dev/mapper/sancrypt
    mkfs.ext4 -q /dev/mapper/sancrypt
    mkdir -p /srv/san
    mount -t ext4 /dev/mapper/sancrypt /srv/san
    echo written-by-n1 >/srv/san/file
    umount /srv/san
    cryptsetup close sancrypt" || fail "dm-crypt on the shared disk (n1)"

step "dm-crypt on the shared disk: n2 opens what n1 formatted"
out=$(lab_run n2 "set -e
    blkid /dev/disk/by-id/virtio-san | grep -q 'TYPE=\"crypto_LUKS\"'
    cryptsetup open --key-file /tmp/key /dev/disk/by-id/virtio-san sancrypt
    e2fsck -p /dev/mapper/sancrypt >/dev/null
    mkdir -p /srv/san
    mount -t ext4 /dev/mapper/sancrypt /srv/san
    cat /srv/san/file
    echo written-by-n2 >/srv/san/file2
    umount /srv/san
    cryptsetup close sancrypt") || fail "n2 cannot open the LUKS volume n1 formatted"
[ "$out" = written-by-n1 ] || fail "n2 reads '$out' instead of n1's file"

step "power loss of n1, n2 carries on"
lab_run n1 "cryptsetup open --key-file /tmp/key /dev/disk/by-id/virtio-san sancrypt" || fail "n1 reopen"
lab_kill n1
if lab_alive n1; then fail "n1 still runs after lab_kill"; fi
rc=0
lab_run n1 true 2>/dev/null || rc=$?
[ "$rc" = 255 ] || fail "lab_run on a dead node: got $rc, want 255"
lab_run n2 'ping -c 1 -W 1 n1 >/dev/null 2>&1' && fail "n1 still answers ping after lab_kill"
lab_run n2 'echo still-here' >/dev/null || fail "n2 broke when n1 died"

step "reboot n1, reopen the volume"
lab_boot n1 10.99.0.11/24 "$san" || fail "n1 did not boot again"
echo "boot: n1 $(lab_boot_time n1)s (alone)"
out=$(lab_run n1 "set -e
    test ! -e /tmp/key   # RAM root: the previous boot is gone
    printf %s '$pass' >/tmp/key
    cryptsetup open --key-file /tmp/key /dev/disk/by-id/virtio-san sancrypt
    e2fsck -p /dev/mapper/sancrypt >/dev/null
    mkdir -p /srv/san
    mount -t ext4 -o ro /dev/mapper/sancrypt /srv/san
    cat /srv/san/file /srv/san/file2
    umount /srv/san
    cryptsetup close sancrypt") || fail "n1 cannot reopen the volume after reboot"
[ "$out" = "$(printf 'written-by-n1\nwritten-by-n2')" ] || fail "n1 reads '$out' after reboot"

step "clean stop"
lab_stop n1
lab_stop n2
if lab_alive n1 || lab_alive n2; then fail "guests still run after lab_stop"; fi

step "PASS"
exit 0
