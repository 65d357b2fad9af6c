#!/bin/bash
# test-scenario-orchestrated.sh: the reference's orchestrated steps, word for word where
# the reference shows output (the OpenSVC guide to disk encryption), with an
# agent running in one QEMU guest named demo1 (cluster nodes demo1 demo2, as the
# reference's `om mon` columns; demo2 is never up).
#
#   create; `provision --wait` prints the reference's two lines and returns when the
#   service is provisioned and up (real dm-crypt, a daemon-origin action); print status
#   -r is the reference's; `stop` (orchestrated) prints its two lines, the service goes
#   down and stays frozen ("frozen, idle"); the object log has the reference's stop
#   lines; started again by hand, the passphrase is removed; `om <path> mon` shows the
#   service; the orchestrated stop fails ("stop failed" in om mon, the device stays
#   open); stop --local refuses with the reference's message; stop --local --force
#   closes it.
#
# Exit 0 on success; 1 with the guest's console, the daemon and object logs on
# failure; 77 (with the reason) when the QEMU lab cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
om_bin=${OM_BIN:-$src/build/om}
. "$here/lab.sh"

node=demo1
svc=demo/svc/loopcrypt
sec=demo/sec/loopcrypt
crypt=/dev/mapper/loopcrypt.demo.svc.default-crypt
objlog=/var/log/om/namespaces/demo/svc/loopcrypt.log

daemon_log=1
. "$here/scenario.lib"

# until_ SECS DESC CMD: polls CMD in the guest every 0.2 s until it exits 0
until_() {
    local secs=$1 desc=$2 cmd=$3 t0=$EPOCHREALTIME
    until lab_run -t 20 "$node" "$cmd" >/dev/null 2>&1; do
        [ "$(lab_elapsed "$t0" | cut -d. -f1)" -lt "$secs" ] || fail "$desc: not after ${secs}s"
        read -r -t 0.2 -u "$LAB_SLEEP_FD" || true
    done
}

lab_init --om "$om_bin" || exit $?

step "boot $node (TCG), /opt on its private disk, the agent"
lab_boot --private 1280M "$node" 10.99.0.11/24 || fail "$node did not boot"
run 0 'mkdir -p /persist/opt /opt && mount --bind /persist/opt /opt'
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
run 0 "mkdir -p /etc/om && umask 077 && cat >/etc/om/cluster.conf <<'EOF'
[cluster]
name = default
secret = $secret
nodes = demo1 demo2

[hb#1]
type = unicast
addr@demo1 = 10.99.0.11
addr@demo2 = 10.99.0.12
EOF"
run 0 "om daemon start"
run 0 "cat >/tmp/loopback.conf <<'EOF'
$(cat "$src/deploy/examples/loopback.conf")
EOF"
run 0 "om $svc create --config=/tmp/loopback.conf"
expect "create" "create $svc"

step "provision --wait (orchestrated)"
run 0 "om $svc provision --wait"
expect "provision --wait" "@ n:demo1 o:demo/svc/loopcrypt sc:n
  demo/svc/loopcrypt defer target state set to provisioned"
run 0 "om $svc print status -r"
expect "status after provision" "demo/svc/loopcrypt                   up
\`- instances
   \`- demo1                          up         idle, started
      |- disk#0             ........ up         loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             ........ up         crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               ........ up         ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"
run 0 "om $sec keys"
expect "keys" disk_1_crypt_passphrase
run 0 "echo data >/srv/loopcrypt/data && sync"

step "stop (orchestrated): down, and frozen"
run 0 "om $svc stop"
expect "stop" "@ n:demo1 o:demo/svc/loopcrypt sc:n
  demo/svc/loopcrypt defer target state set to stopped"
until_ 60 "the service is down" "! grep -q ' /srv/loopcrypt ' /proc/mounts && test ! -e $crypt && om $svc print status | grep -q 'frozen, idle'"
run 0 "om $svc print status"
expect "status after the orchestrated stop" "demo/svc/loopcrypt                   down
\`- instances
   \`- demo1                          down       frozen, idle
      |- disk#0             ........ down       loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             ........ down       crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               ........ down       ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"
lab_get "$node" "$objlog" "$LAB_DIR/objlog" || fail "cannot read $objlog"
log_has "" "do provision --local \(daemon origin\)"
log_has "" "do stop --local \(daemon origin\)"
log_has "fs#0" "umount /srv/loopcrypt"
log_has "disk#1" "cryptsetup luksClose $crypt"
log_has "disk#0" "/sbin/losetup -d /dev/loop[0-9]+"

step "loss protection, orchestrated"
run 0 "om $svc start --local >/dev/null && cat /srv/loopcrypt/data"
expect "data after a restart" data
run 0 "om $sec remove --key disk_1_crypt_passphrase"
run 0 "om $sec keys"
expect "keys after remove" ""
run 0 "om $svc print status -r"
expect "status without the key" "demo/svc/loopcrypt                   up
\`- instances
   \`- demo1                          up         frozen, idle, started
      |- disk#0             ........ up         loop /opt/loopcrypt.demo.svc.default.img
      |- disk#1             ........ up         crypt /dev/mapper/loopcrypt.demo.svc.default-crypt
      \`- fs#0               ........ up         ext4 /dev/mapper/loopcrypt.demo.svc.default-crypt@/srv/loopcrypt"
until_ 30 "om mon shows the service up" "om $svc mon | grep -q '^ demo/svc/loopcrypt up .*1/1'"
run 0 "om $svc mon"
head -n 1 <<<"$out" | grep -q '^demo/svc/loo\.\.\. .*demo1 .*demo2' || fail "om $svc mon header"
run 0 "om $svc stop"
expect "stop" "@ n:demo1 o:demo/svc/loopcrypt sc:n
  demo/svc/loopcrypt defer target state set to stopped"
until_ 60 "om mon shows stop failed" "om $svc mon | grep -q '^ demo/svc/loopcrypt warn!.* 0/1 .*stop failed'"
run 0 "om $svc mon"
run 0 "test -e $crypt"
run 1 "om $svc stop --local"
grep -qxF "E abort crypt deactivate, so you can backup the device that we won't be able to activate again: demo/sec/loopcrypt has no disk_1_crypt_passphrase key. restore the key or use --force to skip this safeguard" <<<"$out" ||
    fail "stop --local does not refuse with the reference's message"
grep -qxF "  ext4 $crypt@/srv/loopcrypt is already umounted" <<<"$out" ||
    fail "stop --local does not say the filesystem is already umounted"
run 0 "om $svc stop --local --force"
grep -qxF "  cryptsetup luksClose $crypt" <<<"$out" || fail "stop --force did not close the volume"
run 0 "test ! -e $crypt"
run 0 "om daemon stop"
step "PASS ($(lab_elapsed "$t_start" | cut -d. -f1)s)"
