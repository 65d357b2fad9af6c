#!/bin/bash
# bench-vm.sh: what the reference encrypted service costs inside a QEMU guest (TCG,
# one vCPU, Debian's kernel: this host's kernel has no device-mapper), printed as a
# table of medians.  Reports, never asserts a duration; fails only when a command
# fails.
#
#   - provision --local, start --local and stop --local of the reference loopcrypt
#     service (loop 1G sparse + LUKS2 + ext4), median of RUNS runs each;
#   - the LUKS unlock alone with the passphrase om generates (256 random symbols,
#     keyslot PBKDF2 at 1000 iterations) against the same unlock with a user
#     passphrase (manage_passphrase = false: libcryptsetup's default PBKDF, argon2id,
#     benchmarked by luksFormat to ~2 s of this machine's CPU), measured twice:
#     om start --local --rid disk#0,disk#1 (loop attach + unlock) and the cryptsetup
#     binary's open (the passphrase piped from om decode, never in a file).
#
# Times are taken in the guest from /proc/uptime (busybox date has no %N), in
# 10 ms steps.  TCG emulates the CPU: absolute figures are many times those of real
# hardware; the ratios are what matters.
#   usage: bench-vm.sh [runs]     (default 3; OM_BIN defaults to build/om)
# Exit 77 (with the reason) when the QEMU lab cannot run here.
set -euo pipefail

runs=${1:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
[ -x "$om_bin" ] || { echo "no om binary at $om_bin (build first or set OM_BIN)"; exit 1; }
. "$src/tests/vm/lab.sh"

node=bench1
fail() {
    echo "FAIL: $*"
    [ -z "$LAB_DIR" ] || lab_console "$node"
    exit 1
}

lab_init --om "$om_bin" || exit $?
# /opt on the private disk: two 1G sparse images do not fit the guest's RAM root.
lab_boot --private 2560M "$node" 10.99.0.11/24 || fail "$node did not boot"
echo "guest booted in $(lab_boot_time "$node")s (TCG, 1 vCPU, ${LAB_MEM} MiB)"

# The guest side: one script, results as "name seconds" lines on stdout, the
# commands' own output in /root/bench.log (shown on failure).
cat >"$LAB_DIR/bench-guest.sh" <<'GUEST'
set -eu
runs=$1
log=/root/bench.log
mkdir -p /persist/opt /opt
mount --bind /persist/opt /opt
up() { cut -d' ' -f1 /proc/uptime; }
# t NAME CMD...: run CMD (output to the log), print "NAME seconds".
t() {
    name=$1
    shift
    t0=$(up)
    if ! "$@" >>"$log" 2>&1; then
        echo "FAILED: $*" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    t1=$(up)
    echo "$name $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
}
conf() { # conf NAME MANAGE: the reference loopback service, named NAME
    cat <<EOF
[DEFAULT]
id = $(cat /proc/sys/kernel/random/uuid)

[disk#0]
type = loop
file = /opt/{fqdn}.img
size = 1G

[disk#1]
type = crypt
dev = {disk#0.exposed_devs[0]}
name = {fqdn}-crypt
manage_passphrase = $2

[fs#0]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/{svcname}
EOF
}
conf loopcrypt true >/tmp/loopcrypt.conf
conf usercrypt false >/tmp/usercrypt.conf
om demo/svc/loopcrypt create --config=/tmp/loopcrypt.conf >>$log 2>&1
om demo/svc/usercrypt create --config=/tmp/usercrypt.conf >>$log 2>&1
om demo/sec/usercrypt create >>$log 2>&1
printf %s 'correct horse battery staple, a user passphrase' |
    om demo/sec/usercrypt add --key disk_1_crypt_passphrase --from - >>$log 2>&1

i=0
while [ $i -lt "$runs" ]; do
    i=$((i + 1))
    t provision om demo/svc/loopcrypt provision --local
    t stop om demo/svc/loopcrypt stop --local
    t start om demo/svc/loopcrypt start --local
    t stop om demo/svc/loopcrypt stop --local
    t start om demo/svc/loopcrypt start --local
    [ $i = "$runs" ] || t unprovision om demo/svc/loopcrypt unprovision --local
done
om demo/svc/loopcrypt stop --local >>$log 2>&1
t provision_user om demo/svc/usercrypt provision --local
om demo/svc/usercrypt stop --local >>$log 2>&1

# The unlock alone: loop attach + unlock through om, then the cryptsetup binary.
for s in loopcrypt usercrypt; do
    dev=
    i=0
    while [ $i -lt "$runs" ]; do
        i=$((i + 1))
        t "om_unlock_$s" om demo/svc/$s start --local --rid 'disk#0,disk#1'
        om demo/svc/$s stop --local >>$log 2>&1
    done
    om demo/svc/$s start --local --rid 'disk#0' >>$log 2>&1
    for b in /sys/block/loop*/loop/backing_file; do
        grep -q "/opt/$s\." "$b" 2>/dev/null && dev=/dev/$(echo "$b" | cut -d/ -f4)
    done
    [ -n "$dev" ] || { echo "FAILED: no loop device for $s" >&2; exit 1; }
    cryptsetup luksDump "$dev" | sed -n '/^Keyslots:/,/^Tokens:/p' |
        grep -E '^[[:space:]]+(PBKDF|Iterations|Time cost|Memory|Threads):' |
        sed "s/^[[:space:]]*/pbkdf_$s /" | tr -s ' \t' ' '
    i=0
    while [ $i -lt "$runs" ]; do
        i=$((i + 1))
        t0=$(up)
        om demo/sec/$s decode --key disk_1_crypt_passphrase | cryptsetup open --key-file - "$dev" bench-$s
        t1=$(up)
        echo "cs_unlock_$s $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
        cryptsetup close bench-$s
    done
    om demo/svc/$s stop --local >>$log 2>&1
done
# The decode alone, to subtract from the cryptsetup figures.
i=0
while [ $i -lt "$runs" ]; do
    i=$((i + 1))
    t decode om demo/sec/loopcrypt decode --key disk_1_crypt_passphrase
done
om demo/svc/loopcrypt unprovision --local >>$log 2>&1
om demo/svc/usercrypt unprovision --local >>$log 2>&1
GUEST
lab_put "$node" "$LAB_DIR/bench-guest.sh" /root/bench-guest.sh 0755 || fail "lab_put"
rc=0
lab_run -t 600 "$node" "sh /root/bench-guest.sh $runs" >"$LAB_DIR/results" || rc=$?
if [ "$rc" != 0 ]; then
    cat "$LAB_DIR/results"
    lab_run -t 20 "$node" 'cat /root/bench.log' || true
    fail "the guest bench exited $rc"
fi

# median NAME: median of the figures named NAME (seconds -> ms).
median() {
    awk -v n="$1" '$1 == n { print $2 * 1000 }' "$LAB_DIR/results" | sort -n |
        awk '{ a[NR] = $1 } END { if (!NR) { print "-"; exit } m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.0f", m }'
}
count() { awk -v n="$1" '$1 == n' "$LAB_DIR/results" | wc -l; }
row() { printf '%-66s %10s %5s\n' "$1" "$(median "$2")" "$(count "$2")"; }
pbkdf() { awk -v n="pbkdf_$1" '$1 == n { $1 = ""; printf "%s", $0 }' "$LAB_DIR/results"; }

echo
echo "In the guest (TCG, 1 vCPU), /proc/uptime resolution 10 ms:"
printf '%-66s %10s %5s\n' "measure" "median ms" "runs"
row "provision --local, reference loopcrypt (loop 1G, LUKS2, ext4)" provision
row "start --local, reference loopcrypt" start
row "stop --local, reference loopcrypt" stop
row "unprovision --local, reference loopcrypt" unprovision
row "provision --local, user passphrase (manage_passphrase = false)" provision_user
row "om start --rid disk#0,disk#1, generated passphrase (PBKDF2)" om_unlock_loopcrypt
row "om start --rid disk#0,disk#1, user passphrase (argon2id)" om_unlock_usercrypt
row "cryptsetup open, generated passphrase (incl. om decode)" cs_unlock_loopcrypt
row "cryptsetup open, user passphrase (incl. om decode)" cs_unlock_usercrypt
row "om decode alone" decode
echo
echo "keyslot, generated passphrase:$(pbkdf loopcrypt)"
echo "keyslot, user passphrase:     $(pbkdf usercrypt)"
