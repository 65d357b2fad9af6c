#!/usr/bin/env bash
# Installs every package om needs to build and to run all its test tiers, with apt-get.
# Idempotent: runs `apt-get update` and `apt-get install` only when something is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang clang-format dpkg-dev fakeroot
  libuv1-dev libmsgpack-dev libsodium-dev libcryptsetup-dev libmount-dev libyaml-dev
  libcmocka-dev libssl-dev libh2o-dev
  # programs om runs, and the tests' tools
  e2fsprogs xfsprogs util-linux kmod iproute2 nftables procps psmisc python3 python3-yaml jq curl openssl chromium tcpdump man-db systemd debootstrap
  prometheus  # promtool checks the agent's metrics (tests/integration/test-metrics.sh)
  drbd-utils  # disk.drbd runs drbdadm and drbdmeta (the lab's guests get them too)
  # the QEMU lab (tests/vm): a kernel with device-mapper, busybox, qemu
  qemu-system-x86 busybox-static linux-image-amd64 cpio cryptsetup-bin
)
if [ -f "$(dirname "$0")/../tests/vm/packages.txt" ]; then
  while read -r p; do
    [ -n "$p" ] && [ "${p#\#}" = "$p" ] && packages+=("$p")
  done <"$(dirname "$0")/../tests/vm/packages.txt"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
