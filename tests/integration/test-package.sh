#!/usr/bin/env bash
# The Debian package and the installed files: cpack builds a .deb whose Depends names
# the libraries om links and the programs it runs; it holds the program, the systemd
# unit, both man pages and the bash completion; the extracted program runs, the man
# pages render, and the unit passes systemd-analyze verify.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null ||
        { echo "skip: cpack or dpkg-deb missing"; exit 77; }
command -v dpkg-shlibdeps >/dev/null || { echo "skip: dpkg-shlibdeps (dpkg-dev) missing"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

(cd "$OM_BUILD" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/om_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libcryptsetup12 libmount1 libsodium23 libuv1 libmsgpackc2 libyaml-0-2 e2fsprogs; do
        grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb -c "$deb" >"$T/list"
for f in ./usr/bin/om ./usr/lib/systemd/system/om.service \
        ./usr/lib/systemd/system/om-arbitrator.service ./usr/share/man/man1/om.1 \
        ./usr/share/man/man5/om.conf.5 ./usr/share/bash-completion/completions/om \
        ./usr/share/doc/om/examples/loopback.conf ./usr/share/doc/om/examples/loopback-try.conf \
        ./usr/share/doc/om/examples/loopback-drbd.conf; do
        grep -q " $f\$" "$T/list" || fail "the package lacks $f"
done

dpkg-deb -x "$deb" "$T/root"
# outputs are captured whole: with pipefail, grep -q closing the pipe early would fail it
help=$("$T/root/usr/bin/om" --help) || fail "the packaged om does not run"
grep -q "Usage: om" <<<"$help" || fail "the packaged om prints no usage"
page=$(man -l "$T/root/usr/share/man/man5/om.conf.5" 2>/dev/null)
grep -q "manage_passphrase" <<<"$page" || fail "om.conf(5) does not document manage_passphrase"
page=$(man -l "$T/root/usr/share/man/man1/om.1" 2>/dev/null)
grep -q "print config" <<<"$page" || fail "om(1) does not list print config"
# The unit's contract (deploy/om.service): the agent's mounts are the host's, and the
# services' applications, its children, neither die with it nor inherit restrictions.
unit=$T/root/usr/lib/systemd/system/om.service
grep -qx "KillMode=process" "$unit" || fail "om.service: stopping the agent would kill the services' applications"
grep -qx "Restart=on-failure" "$unit" || fail "om.service: no restart on failure"
for opt in ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateMounts ProtectControlGroups \
        ProtectKernelModules ProtectKernelLogs ProtectProc ReadOnlyPaths InaccessiblePaths \
        TemporaryFileSystem BindPaths BindReadOnlyPaths RootDirectory MountFlags; do
        ! grep -q "^$opt=" "$unit" || fail "om.service sets $opt: a mount namespace of its own hides the agent's mounts from the host"
done
for opt in NoNewPrivileges MemoryDenyWriteExecute RestrictAddressFamilies SystemCallFilter \
        CapabilityBoundingSet UMask RestrictNamespaces RestrictSUIDSGID LimitCORE; do
        ! grep -q "^$opt=" "$unit" || fail "om.service sets $opt, which the services' applications would inherit"
done
if command -v systemd-analyze >/dev/null; then
        sed "s|/usr/bin/om|$T/root/usr/bin/om|g" "$T/root/usr/lib/systemd/system/om.service" \
                >"$T/om.service"
        systemd-analyze verify "$T/om.service" 2>&1 | grep -v "man om" | grep . &&
                fail "systemd-analyze verify complains"
        sed "s|/usr/bin/om|$T/root/usr/bin/om|g" \
                "$T/root/usr/lib/systemd/system/om-arbitrator.service" >"$T/om-arbitrator.service"
        systemd-analyze verify "$T/om-arbitrator.service" 2>&1 | grep -v "man om" | grep . &&
                fail "systemd-analyze verify complains of om-arbitrator.service"
fi
grep -qx "ExecStart=/usr/bin/om arbitrator run" \
        "$T/root/usr/lib/systemd/system/om-arbitrator.service" ||
        fail "om-arbitrator.service does not run om arbitrator run"
grep -qx "StateDirectory=om" "$T/root/usr/lib/systemd/system/om-arbitrator.service" ||
        fail "om-arbitrator.service leaves /var/lib/om read-only (the arbitrator's fence marks)"
echo "ok: $(basename "$deb"), Depends: $depends"
