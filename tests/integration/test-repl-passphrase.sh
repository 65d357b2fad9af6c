#!/bin/bash
# The generated LUKS passphrase is on every node before the first start: `provision
# --local` of the reference's loop + crypt service on n1 stores a generated passphrase in
# demo/sec/loopcrypt first (then fails on this host for lack of device-mapper, rolling
# back its loop device); the service lists nodes = n1 n2, so its config and its secret
# reach n2, where the passphrase decodes to the same 256 bytes. Needs root and loop
# devices (skipped otherwise).
set -u
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -w /dev/loop-control ] || { echo "skipped: no /dev/loop-control"; exit 77; }
ADDR_BASE=230
. "$(dirname "$0")/test-repl.lib"
detach_ours() {
        for f in /sys/block/loop*/loop/backing_file; do
                [ -e "$f" ] || continue
                case "$(cat "$f")" in "$T"/*) d=${f#/sys/block/}; losetup -d "/dev/${d%%/*}" ;; esac
        done
}
trap 'detach_ours; cleanup' EXIT

cluster_up 2
cat >"$T/loopcrypt.conf" <<EOF2
[DEFAULT]
id = e60306f6-e429-4a02-bd8f-a537a918a217
nodes = n1 n2

[disk#0]
type = loop
file = $T/{fqdn}.img
size = 32M

[disk#1]
type = crypt
dev = {disk#0.exposed_devs[0]}
name = {fqdn}-crypt
EOF2
on 1 demo/svc/loopcrypt create --config "$T/loopcrypt.conf" >/dev/null || fail "create"
on 1 demo/svc/loopcrypt provision --local >"$T/provision.out" 2>&1
on 1 demo/sec/loopcrypt decode --key disk_1_crypt_passphrase >"$T/pass" ||
        fail "no passphrase stored on n1: $(tail -5 "$T/provision.out")"
[ "$(wc -c <"$T/pass")" = 256 ] || fail "the passphrase is not 256 bytes"
until_ok 10 "the passphrase does not decode on n2" decodes_as 2 demo/sec/loopcrypt disk_1_crypt_passphrase "$T/pass"
until_ok 10 "the service config did not reach n2" same_file 1 2 demo/svc/loopcrypt
echo "ok: test-repl-passphrase: the generated passphrase decodes on n2"
