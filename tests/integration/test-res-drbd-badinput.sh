#!/bin/bash
# disk.drbd's bad input on this host (root, loop devices and drbd-utils needed, else
# skipped): every refusal names the node and the cause, and leaves nothing made (no
# resource file under <var>/drbd, no DRBD metadata on the backing device, a
# filesystem found there untouched): three nodes, no replication address, this node
# not among the nodes, a cluster without an arbitrator or with a third node (the fence
# marks' store), a backing disk that does not exist, one that holds ext4, the
# replication port in use, an address that is not this node's, and (on a kernel
# without the drbd module, as the build machines have) the module missing. Then
# unprovision of a service never provisioned succeeds and changes nothing, and `drbd
# resolve` refuses a node that is not one of the two, no --discard, a service without
# disk.drbd. The DRBD
# stack itself runs in the QEMU lab (tests/vm/test-drbd-failover.sh).
set -u
OM=${OM_BIN:?}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -w /dev/loop-control ] || { echo "skipped: no /dev/loop-control"; exit 77; }
command -v mkfs.ext4 >/dev/null || { echo "skipped: no e2fsprogs"; exit 77; }
PATH=$PATH:/usr/sbin:/sbin
command -v drbdmeta >/dev/null || { echo "skipped: no drbd-utils (drbdmeta)"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }

T=$(mktemp -d /tmp/om-drbd-bad.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=n1 COLUMNS=200
LISTENER=
cleanup() {
        [ -z "$LISTENER" ] || kill "$LISTENER" 2>/dev/null
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] || continue
                case "$(cat "$f")" in "$T"/*) d=${f#/sys/block/}; losetup -d "/dev/${d%%/*}" ;; esac
        done
        rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
create() { # name config-text
        printf '%s\n' "$2" >"$T/$1.conf"
        $OM "demo/svc/$1" create --config="$T/$1.conf" >/dev/null || fail "create $1"
}
expect_refusal() { # what message-regex om-args...
        local what=$1 re=$2
        shift 2
        out=$($OM "$@" 2>&1)
        rc=$?
        [ "$rc" != 0 ] || fail "$what: exit 0: $out"
        echo "$out" | grep -Eq -- "$re" || fail "$what: message does not match /$re/: $out"
        echo "ok: $what: $(echo "$out" | grep -E -- "$re" | head -n 1)"
}
nothing_made() { # what
        [ -z "$(ls -A "$OM_ROOT/var/drbd" 2>/dev/null)" ] ||
                fail "$1: a resource file was written: $(ls "$OM_ROOT/var/drbd")"
}
# a free TCP port on 127.0.0.1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# the stack of the lab's test, on this host's loopback
stack() { # name extra-drbd-lines [nodes]
        create "$1" "[DEFAULT]
nodes = ${3:-n1 n2}
[disk#0]
type = loop
file = $T/$1.img
size = 64M
[disk#1]
type = drbd
disk = {disk#0.exposed_devs[0]}
port = $port
$2
[disk#2]
type = crypt
dev = {disk#1.exposed_devs[0]}
[fs#0]
type = ext4
dev = {disk#2.exposed_devs[0]}
mnt = $T/$1.mnt"
}

stack three "addr@n1 = 127.0.0.1
addr@n2 = 127.0.0.2
addr@n3 = 127.0.0.3" "n1 n2 n3"
expect_refusal "three nodes" "node n1: DRBD 8.4 replicates between two nodes: the service's nodes are 'n1 n2 n3'" \
        demo/svc/three provision --local
[ -e "$T/three.img" ] && fail "three nodes: the loop file was created"
nothing_made "three nodes"

stack noaddr ""
expect_refusal "no address" "node n1: no replication address for node n1: set addr@n1 on disk#1, or addr@n1 in a \[hb#N\] section of cluster.conf" \
        demo/svc/noaddr provision --local
nothing_made "no address"

stack notme "addr@n2 = 127.0.0.2
addr@n3 = 127.0.0.3" "n2 n3"
expect_refusal "this node not among the nodes" "node n1: this node, n1, is not one of the service's nodes \(n2 n3\)" \
        demo/svc/notme provision --local
nothing_made "not me"

# the addresses from cluster.conf's heartbeat section are enough; but the fence marks
# need the arbitrator: a cluster of the two nodes without one, or with a third node, is
# refused before anything is made
mkdir -p "$OM_ROOT/etc"
printf '[cluster]\nnodes = n1 n2\n[hb#1]\naddr@n1 = 127.0.0.1\naddr@n2 = 127.0.0.2\n' >"$OM_ROOT/etc/cluster.conf"
create nodisk "[DEFAULT]
nodes = n1 n2
[disk#1]
type = drbd
disk = /dev/om-no-such-device
port = $port"
expect_refusal "no arbitrator" "node n1: disk.drbd needs a cluster of its two nodes \(n1, n2\) and one arbitrator, which keeps DRBD's fence marks .*cluster.conf has 2 nodes \(n1 n2\) and 0 arbitrators: refused" \
        demo/svc/nodisk provision --local
nothing_made "no arbitrator"
printf '[cluster]\nnodes = n1 n2 n3\n[hb#1]\naddr@n1 = 127.0.0.1\naddr@n2 = 127.0.0.2\naddr@n3 = 127.0.0.3\n[arbitrator#1]\nuri = om://127.0.0.1:9\n' >"$OM_ROOT/etc/cluster.conf"
expect_refusal "a third node" "node n1: disk.drbd needs a cluster of its two nodes \(n1, n2\) and one arbitrator, .*cluster.conf has 3 nodes \(n1 n2 n3\) and 1 arbitrator: refused" \
        demo/svc/nodisk provision --local
nothing_made "a third node"
printf '[cluster]\nnodes = n1 n2\n[hb#1]\naddr@n1 = 127.0.0.1\naddr@n2 = 127.0.0.2\n[arbitrator#1]\nuri = om://127.0.0.1:9\n' >"$OM_ROOT/etc/cluster.conf"
expect_refusal "missing disk" "node n1: disk /dev/om-no-such-device does not exist" \
        demo/svc/nodisk provision --local
nothing_made "missing disk"

# a backing device that holds a filesystem: refused, the filesystem stays
stack hasfs ""
$OM demo/svc/hasfs provision --local --rid disk#0 >/dev/null 2>&1 || fail "provision the loop of hasfs"
loopdev=$(losetup -j "$T/hasfs.img" | cut -d: -f1)
[ -b "$loopdev" ] || fail "no loop device for hasfs"
mkfs.ext4 -q "$loopdev" || fail "mkfs.ext4 $loopdev"
expect_refusal "a disk with ext4" "node n1: $loopdev already holds a ext4 signature: refusing to put DRBD metadata on it \(use --force to overwrite\)" \
        demo/svc/hasfs provision --local
[ "$(blkid -p -o value -s TYPE "$loopdev")" = ext4 ] || fail "a disk with ext4: the filesystem is gone"
nothing_made "a disk with ext4"

# the replication port in use
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(1); time.sleep(60)" &
LISTENER=$!
for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
stack port ""
expect_refusal "port in use" "node n1: port $port on 127.0.0.1 is in use \(another DRBD resource or program\): set port" \
        demo/svc/port provision --local
nothing_made "port in use"
[ -z "$(blkid -p -o value -s TYPE "$T/port.img" 2>/dev/null)" ] || fail "port in use: the backing file holds a signature"
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
LISTENER=

# an address of another host (TEST-NET-1: bind() fails, nothing is sent)
stack foreign "addr@n1 = 192.0.2.1
addr@n2 = 127.0.0.2"
expect_refusal "not this node's address" "node n1: the replication address 192.0.2.1 is not an address of this node" \
        demo/svc/foreign provision --local
nothing_made "not this node's address"

# the module: this kernel may have none (the build machines' has no drbd)
if [ ! -e /proc/drbd ] && ! modprobe -n drbd 2>/dev/null; then
        stack nomod ""
        expect_refusal "no drbd module" "node n1: the kernel has no drbd module \(modprobe drbd failed\)" \
                demo/svc/nomod provision --local
        nothing_made "no drbd module"
        [ -z "$(blkid -p -o value -s TYPE "$T/nomod.img" 2>/dev/null)" ] ||
                fail "no drbd module: DRBD metadata was written"
        [ -z "$(losetup -j "$T/nomod.img")" ] || fail "no drbd module: the loop device stays attached"
        # unprovision removes what provision made: the loop file; and succeeds
        out=$($OM demo/svc/nomod unprovision --local 2>&1) || fail "unprovision nomod: $out"
        [ -e "$T/nomod.img" ] && fail "unprovision nomod: the loop file stays"
else
        echo "this kernel has the drbd module: the missing module case runs in the lab only"
fi

# unprovision of a service never provisioned
stack never ""
out=$($OM demo/svc/never unprovision --local 2>&1) || fail "unprovision of a never provisioned service: $out"
nothing_made "unprovision never"

# drbd resolve: a node that is not one of the two, no --discard, no disk.drbd
expect_refusal "resolve --discard n3" "--discard n3: not one of the two nodes \(n1, n2\)" \
        demo/svc/never drbd resolve --discard n3
expect_refusal "resolve without --discard" "drbd resolve needs --discard <node>" \
        demo/svc/never drbd resolve
create nodrbd "[disk#0]
type = loop
file = $T/nodrbd.img"
expect_refusal "resolve without a disk.drbd" "demo/svc/nodrbd has no disk.drbd resource" \
        demo/svc/nodrbd drbd resolve --discard n2

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "PASS"
