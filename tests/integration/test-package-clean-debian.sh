#!/usr/bin/env bash
# The Debian package on a clean Debian 12: debootstrap a minimal bookworm (from the
# Debian archive, the one network this test reaches), install the .deb cpack built with
# apt, which must find every dependency the package declares, then run om in the
# chroot: help, a sec object sealed and decoded, the man pages and unit in place.
# Skips (77) without root, debootstrap or the archive, and for sanitizer builds (their
# runtime is not what users install).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot)"; exit 77; }
command -v debootstrap >/dev/null || { echo "skip: debootstrap missing"; exit 77; }
command -v dpkg-shlibdeps >/dev/null || { echo "skip: dpkg-shlibdeps (dpkg-dev) missing"; exit 77; }
if grep -q '^OM_ASAN:BOOL=ON\|^OM_UBSAN:BOOL=ON' "$OM_BUILD/CMakeCache.txt" 2>/dev/null; then
        echo "skip: a sanitizer build is not packaged"
        exit 77
fi
T=$(mktemp -d /tmp/om-deb.XXXXXX)
cleanup() {
        umount "$T/root/proc" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

(cd "$OM_BUILD" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/om_*.deb)
mirror=${OM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
. "$(dirname "$0")/debootstrap.lib"
if ! debootstrap_tree "$T/root" "$mirror" "$T/debootstrap.log"; then
        tail -n 5 "$T/debootstrap.log"
        echo "skip: debootstrap could not build a Debian 12 from $mirror"
        exit 77
fi
mount -t proc proc "$T/root/proc"
cp "$deb" "$T/root/tmp/om.deb"
. "$(dirname "$0")/apt-install.lib"
in_root() { chroot "$T/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
apt_install_deb "$T/root" /tmp/om.deb "$T/apt.log" "$mirror"
in_root dpkg-query -W -f='${Status}' om | grep -q "install ok installed" || fail "om is not installed"
in_root om --help >"$T/help" || fail "the installed om does not run"
grep -q "Usage: om" "$T/help" || fail "the installed om prints no usage"
out=$(in_root sh -c 'export OM_ROOT=/tmp/omr OM_NODENAME=n1
        om demo/sec/s create >/dev/null && om demo/sec/s add --key k --value clean-debian >/dev/null &&
        om demo/sec/s decode --key k') || fail "sec commands fail in the clean system"
[ "$out" = clean-debian ] || fail "decode gave '$out'"
for f in /usr/share/man/man1/om.1 /usr/share/man/man5/om.conf.5 /usr/lib/systemd/system/om.service \
        /usr/lib/systemd/system/om-arbitrator.service \
        /usr/share/bash-completion/completions/om /usr/share/doc/om/examples/loopback.conf; do
        [ -f "$T/root$f" ] || fail "$f is not installed"
done
echo "ok: $(basename "$deb") installs with apt on a clean Debian 12 and runs"
