#!/bin/bash
# ip.host in a private network namespace (unshare -n; root needed, else skipped): an
# address added to and removed from an interface through rtnetlink, with a dotted
# netmask; the status follows; an address held by another interface is refused; a
# failed app start after the ip rolls the ip back (ip first in the start order).
set -u
OM=${OM_BIN:?}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
if [ "${OM_IN_NETNS:-}" != 1 ]; then
        unshare -n true 2>/dev/null || { echo "skipped: cannot create a network namespace"; exit 77; }
        OM_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi

T=$(mktemp -d /tmp/om-res-ip.XXXXXX)
export OM_ROOT=$T/root OM_NODENAME=n1 COLUMNS=120
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has_addr() { ip -o addr show dev "$1" | grep -q " $2 "; }

ip link set lo up
ip link add omdummy0 type dummy 2>/dev/null || ip link add omdummy0 type bridge 2>/dev/null
ip link set omdummy0 up 2>/dev/null
cat >"$T/ip1.conf" <<CONF
[ip#0]
ipname = 10.77.0.5
ipdev = lo
netmask = 255.255.255.0

[app#0]
start = true
CONF
$OM demo/svc/ip1 create --config="$T/ip1.conf" >/dev/null || fail create
$OM demo/svc/ip1 print status | grep -qF '|- ip#0           ........ down       10.77.0.5/24@lo' ||
        fail "status before start: $($OM demo/svc/ip1 print status)"
out=$($OM demo/svc/ip1 start --local); rc=$?
[ $rc = 0 ] || fail "start exit $rc: $out"
echo "$out" | grep -qx "  ip addr add 10.77.0.5/24 dev lo" || fail "start output: $out"
has_addr lo 10.77.0.5/24 || fail "the address is not on lo"
$OM demo/svc/ip1 print status | grep -q '^demo/svc/ip1                     up$' || fail "status not up"
out=$($OM demo/svc/ip1 stop --local); rc=$?
[ $rc = 0 ] || fail "stop exit $rc: $out"
has_addr lo 10.77.0.5/24 && fail "the address is still on lo"

# held by another interface: refused, nothing added
if ip link show omdummy0 >/dev/null 2>&1; then
        ip addr add 10.77.0.5/32 dev omdummy0
        out=$($OM demo/svc/ip1 start --local); rc=$?
        [ $rc = 1 ] || fail "start with the address elsewhere: exit $rc"
        echo "$out" | grep -q "^E 10.77.0.5 is already on omdummy0" || fail "refusal: $out"
        has_addr lo 10.77.0.5/24 && fail "the refused start added the address"
        $OM demo/svc/ip1 print status | grep -q "warn: 10.77.0.5 is on omdummy0" || fail "no note"
        ip addr del 10.77.0.5/32 dev omdummy0
else
        echo "note: no dummy interface support, the address conflict is not checked"
fi

# a failed app start rolls the ip back
sed -i 's/^start = true$/start = false/' "$T/root/etc/namespaces/demo/svc/ip1.conf"
out=$($OM demo/svc/ip1 start --local); rc=$?
[ $rc = 1 ] || fail "start with a failing app: exit $rc"
echo "$out" | grep -qx "  ip addr del 10.77.0.5/24 dev lo" || fail "no ip rollback: $out"
has_addr lo 10.77.0.5/24 && fail "the rollback left the address"

[ $fails = 0 ] && echo "ok" || exit 1
