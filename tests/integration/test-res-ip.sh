#!/bin/bash
# ip.host in a private network namespace (unshare -n; root needed, else skipped): an
# address added to and removed from an interface through rtnetlink, with a dotted
# netmask; the status follows; an address held by another interface is refused; a
# failed app start after the ip rolls the ip back (ip first in the start order); on an
# Ethernet link, start announces the address: a neighbour in another namespace whose
# cache still names another MAC address for it learns this node's (IPv4 gratuitous ARP
# and IPv6 unsolicited neighbour advertisement), tcpdump there counts arp_announce of
# them; arp_announce = 0 sends none, and a value out of range is refused.
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

# announcements: omv0 here, its veth peer omv1 in a neighbour namespace
unshare -n sleep 600 &
peer=$!
trap 'kill $peer 2>/dev/null; rm -rf "$T"' EXIT
until [ "$(readlink /proc/$peer/ns/net)" != "$(readlink /proc/self/ns/net)" ]; do sleep 0.01; done
in_peer() { nsenter "--net=/proc/$peer/ns/net" "$@"; }
ip link add omv0 type veth peer name omv1 netns "$peer" || fail "cannot make a veth pair"
ip link set omv0 up
in_peer ip link set lo up
in_peer ip link set omv1 up
in_peer ip addr add 10.78.0.2/24 dev omv1
in_peer ip -6 addr add fd00:78::2/64 dev omv1 nodad
mac=$(ip -o link show omv0 | sed -n "s/.*link\/ether \([0-9a-f:]*\) .*/\1/p")
stale=02:00:00:00:00:99
# neighbour NAME ADDR: the MAC address omv1's cache holds for ADDR
neighbour() { in_peer ip neigh show "$1" dev omv1 | awk '{print $3}'; }
# announced ADDR FAMILY COUNT: start a service holding ADDR on omv0 with arp_announce
# COUNT while the neighbour's cache holds the stale MAC; prints the packets tcpdump saw
announced() {
        local addr=$1 fam=$2 count=$3 filter=arp
        [ "$fam" = 6 ] && filter="icmp6 and ip6[40] == 136"
        in_peer ip -"$fam" neigh replace "$addr" lladdr $stale dev omv1 nud stale
        cat >"$T/ann.conf" <<CONF
[ip#0]
ipname = $addr
ipdev = omv0
netmask = $([ "$fam" = 6 ] && echo 64 || echo 24)
arp_announce = $count
CONF
        $OM demo/svc/ann delete >/dev/null 2>&1
        $OM demo/svc/ann create --config="$T/ann.conf" >/dev/null || fail "create ann ($addr)"
        in_peer timeout 5 tcpdump -i omv1 -n -l -p "$filter" >"$T/cap" 2>/dev/null &
        local cap=$!
        sleep 1 # tcpdump listens
        out=$($OM demo/svc/ann start --local) || fail "start ann ($addr): $out"
        sleep 0.5
        $OM demo/svc/ann stop --local >/dev/null || fail "stop ann ($addr)"
        kill $cap 2>/dev/null
        wait $cap 2>/dev/null
        grep -c . "$T/cap"
}
n=$(announced 10.78.0.5 4 3)
[ "$n" = 3 ] || fail "IPv4: $n gratuitous ARP seen, 3 sent"
[ "$(neighbour 10.78.0.5)" = "$mac" ] || fail "IPv4: the neighbour holds $(neighbour 10.78.0.5), not $mac"
n=$(announced fd00:78::5 6 2)
[ "$n" = 2 ] || fail "IPv6: $n neighbour advertisements seen, 2 sent"
[ "$(neighbour fd00:78::5)" = "$mac" ] || fail "IPv6: the neighbour holds $(neighbour fd00:78::5), not $mac"
n=$(announced 10.78.0.6 4 0)
[ "$n" = 0 ] || fail "arp_announce = 0: $n packets seen"
[ "$(neighbour 10.78.0.6)" = $stale ] || fail "arp_announce = 0 changed the neighbour's cache"
sed -i 's/^arp_announce = 0$/arp_announce = 11/' "$T/root/etc/namespaces/demo/svc/ann.conf"
out=$($OM demo/svc/ann start --local 2>&1) && fail "arp_announce = 11 accepted"
echo "$out" | grep -q "arp_announce '11' is not a count from 0 to 10" || fail "refusal of 11: $out"
ip -o addr show dev omv0 | grep -q 10.78.0.6 && fail "the refused start added the address"

[ $fails = 0 ] && echo "ok" || exit 1
