#!/usr/bin/env bash
# The reference scenario (shared/reference/opensvc-disk-encryption.txt) on a local
# cluster: installs what is missing, builds om, starts three agents on this host
# (127.0.0.31-33, each with its own OM_ROOT and OM_NODENAME), creates the reference
# loopcrypt service and provisions it. On a kernel without device-mapper the volume is
# formatted and its key stored, and the activation fails and rolls back, as om says.
# Then, on such a kernel, it runs the whole reference scenario in a QEMU guest (Debian's
# kernel, which has device-mapper; see tests/vm) when the lab can start there: create,
# provision, status, devices, the generated key, stop/start, and the loss protection.
# Everything it creates is removed at the end, also when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (sudo ./deploy/demo.sh): it attaches loop devices" >&2
        exit 1
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
        printf '\n# %s\n' "$*"
        "$@" || true
}

step "install dependencies and build"
./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
om_bin=$src/build/om

demo=$(mktemp -d /tmp/om-demo.XXXXXX)
nodes=(demo1 demo2 demo3)
addr() { echo "127.0.0.$((30 + $1))"; }
port=$((20000 + RANDOM % 20000))

# om as node N: `on 1 demo/svc/loopcrypt print status`
on() {
        local n=$1
        shift
        OM_ROOT=$demo/${nodes[$((n - 1))]} OM_NODENAME=${nodes[$((n - 1))]} "$om_bin" "$@"
}
# Makes `om` in the shown commands mean node 1, as in the reference's transcript.
om() { on 1 "$@"; }

cleanup() {
        set +e
        if [ -f "$demo/demo1/etc/namespaces/demo/svc/loopcrypt.conf" ]; then
                on 1 demo/svc/loopcrypt unprovision --local --force >/dev/null 2>&1
        fi
        for n in 1 2 3; do on "$n" daemon stop >/dev/null 2>&1; done
        rm -rf "$demo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "a three-node cluster on this host"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for n in 1 2 3; do
        mkdir -p "$demo/${nodes[$((n - 1))]}/etc"
        cat >"$demo/${nodes[$((n - 1))]}/etc/cluster.conf" <<CONF
[cluster]
name = default
secret = $secret
nodes = demo1 demo2 demo3
api_port = $((port + 1))

[hb#1]
type = unicast
port = $port
addr@demo1 = $(addr 1)
addr@demo2 = $(addr 2)
addr@demo3 = $(addr 3)
interval = 1s
timeout = 3s
CONF
        chmod 600 "$demo/${nodes[$((n - 1))]}/etc/cluster.conf"
done
for n in 1 2 3; do on "$n" daemon start; done
for _ in $(seq 1 50); do
        up=$(on 1 node ls 2>/dev/null | grep -c ' up' || true)
        [ "$up" -ge 3 ] && break
        sleep 0.2
done
show om mon

step "the reference service"
cp "$src/deploy/examples/loopback.conf" "$demo/loopback.conf"
show om demo/svc/loopcrypt create --config="$demo/loopback.conf"
show om demo/svc/loopcrypt print status -r
show om demo/svc/loopcrypt print config --eval

step "provision"
if grep -qw device-mapper /proc/misc; then
        show om demo/svc/loopcrypt provision --local
        show om demo/svc/loopcrypt print status -r
        show om demo/svc/loopcrypt print devs
        show om demo/svc/loopcrypt stop --local
        show om demo/svc/loopcrypt print status
else
        echo "This kernel has no device-mapper: the LUKS volume is formatted and its"
        echo "passphrase stored, then opening it fails and the provision rolls back."
        show om demo/svc/loopcrypt provision --local
        show om demo/svc/loopcrypt print status -r
fi
show om demo/sec/loopcrypt keys
printf '\n# om demo/sec/loopcrypt decode --key disk_1_crypt_passphrase | wc -c\n'
om demo/sec/loopcrypt decode --key disk_1_crypt_passphrase | wc -c
show om demo/svc/loopcrypt logs

step "the passphrase, replicated"
echo "sec objects replicate to every node: demo2 and demo3 hold the sealed key too."
for n in 2 3; do
        for _ in $(seq 1 50); do
                on "$n" demo/sec/loopcrypt keys 2>/dev/null | grep -q disk_1 && break
                sleep 0.1
        done
done
printf '
# (on demo2) om demo/sec/loopcrypt keys
'
on 2 demo/sec/loopcrypt keys || true
printf '
# (on demo3) om demo/sec/loopcrypt decode --key disk_1_crypt_passphrase | sha256sum
'
on 3 demo/sec/loopcrypt decode --key disk_1_crypt_passphrase | sha256sum || true
printf '# (on demo1) the same
'
on 1 demo/sec/loopcrypt decode --key disk_1_crypt_passphrase | sha256sum || true

# --- the reference scenario in a QEMU guest --------------------------------------
# This kernel has no device-mapper, so no LUKS volume can be opened here: the rest of
# the reference runs in one QEMU guest (tests/vm/lab.sh: TCG, Debian's kernel and
# modules, a busybox initramfs carrying this build of om) named demo1, as in the
# reference. /opt is a directory of the guest's private disk (a sparse ext4 image),
# so the 1G sparse backing file lives on a block device, not in the guest's RAM.
guest=demo1
# gshow CMD: show CMD as the reference does (`# CMD`), run it in the guest, show its
# output and, when it fails, its exit status.
gshow() {
        printf '\n# %s\n' "$*"
        local rc=0
        lab_run "$guest" "( $*
) 2>&1" || rc=$?
        [ "$rc" = 0 ] || printf '(exit status %s)\n' "$rc"
}
if ! grep -qw device-mapper /proc/misc; then
        step "the reference scenario in a QEMU guest"
        echo "This kernel has no device-mapper, so dm-crypt cannot open the LUKS volume here:"
        echo "the reference scenario runs in a QEMU guest (TCG, Debian's kernel) named $guest,"
        echo "with this build of om."
        # shellcheck source=tests/vm/lab.sh
        . "$src/tests/vm/lab.sh"
        lab_rc=0
        lab_init --om "$om_bin" || lab_rc=$?
        # lab_init installed its own traps: clean up both the guest and the cluster.
        trap 'lab_cleanup; cleanup' EXIT
        trap 'exit 130' INT TERM
        if [ "$lab_rc" = 77 ]; then
                echo "(the QEMU lab cannot start here: see the SKIP line above)"
        elif [ "$lab_rc" != 0 ]; then
                echo "(the QEMU lab failed to start)"
        elif ! lab_boot --private 1280M "$guest" 10.99.0.11/24; then
                echo "(the guest did not boot)"
        else
                lab_run "$guest" 'mkdir -p /persist/opt /opt && mount --bind /persist/opt /opt'
                gshow "cat >/tmp/loopback.conf <<'EOF'
$(cat "$demo/loopback.conf")
EOF"
                gshow om demo/svc/loopcrypt create --config=/tmp/loopback.conf
                gshow om demo/svc/loopcrypt print status -r
                gshow om demo/svc/loopcrypt provision --local
                gshow om demo/svc/loopcrypt print status -r
                gshow om demo/svc/loopcrypt print devs
                gshow losetup -a
                gshow df -h /srv/loopcrypt
                gshow om demo/sec/loopcrypt keys
                gshow om demo/sec/loopcrypt decode --key disk_1_crypt_passphrase "| wc -c"
                gshow "echo some data >/srv/loopcrypt/data"
                gshow om demo/svc/loopcrypt stop --local
                gshow om demo/svc/loopcrypt print status -r
                gshow om demo/svc/loopcrypt start --local
                gshow cat /srv/loopcrypt/data
                gshow tail -n 6 /var/log/om/namespaces/demo/svc/loopcrypt.log
                step "loss protection, in the guest"
                gshow om demo/sec/loopcrypt keys
                gshow om demo/sec/loopcrypt remove --key disk_1_crypt_passphrase
                gshow om demo/sec/loopcrypt keys
                gshow om demo/svc/loopcrypt print status -r
                gshow om demo/svc/loopcrypt stop --local
                echo "(refused: the volume stays open so its data can be saved)"
                gshow om demo/svc/loopcrypt stop --local --force
                gshow om demo/svc/loopcrypt unprovision --local
                gshow om demo/svc/loopcrypt print status -r
                lab_cleanup
                # The failover: two guests on one shared disk (the SAN) and an
                # arbitrator, the reference's SAN service with orchestrate = ha,
                # provisioned through the agents; the owner loses power and the other
                # guest reopens the volume with the passphrase it received by
                # replication. tests/vm/test-failover-crypt.sh is that scenario,
                # with its checks; the demo runs it and shows what it does.
                step "failover of the encrypted service between two QEMU guests"
                echo "Two guests n1 and n2 share a disk; n1 runs demo/svc/sancrypt (LUKS on the"
                echo "shared disk, ext4 on top), then loses power; n2 takes over with the"
                echo "replicated passphrase."
                OM_BIN=$om_bin bash "$src/tests/vm/test-failover-crypt.sh" ||
                        echo "(the failover run failed: see its output above)"
        fi
fi
step "done: cleaning up"
