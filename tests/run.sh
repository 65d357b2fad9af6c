#!/usr/bin/env bash
# Installs what is missing, builds om, and runs every test tier under ctest:
# unit, fuzz corpus replay, integration (real loop devices, ext4, agents on loopback,
# network namespaces) and vm (dm-crypt in QEMU guests). Exit status non-zero on any
# failure. A tier that cannot run here skips (exit 77) and says why.
#
#   OM_BUILD_DIR   build directory (default: build)
#   OM_TEST_LABEL  run only the tests of this ctest label (unit, fuzz, integration, vm)
#   OM_SKIP_FUZZ=1 / OM_SKIP_ASAN=1  skip the libFuzzer runs / the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

./deploy/install-deps.sh

build=${OM_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

# libFuzzer: when clang is here, build the fuzzers and run each one briefly on top of
# the corpus replay that ctest does with the regular build.
if command -v clang >/dev/null && [ "${OM_SKIP_FUZZ:-}" != 1 ]; then
  fbuild="$build-fuzz"
  CC=clang cmake -S . -B "$fbuild" -DOM_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$fbuild" -j"$(nproc)" >/dev/null
  for f in "$fbuild"/tests/fuzz-*; do
    [ -x "$f" ] && [[ "$f" != *-replay ]] || continue
    name=$(basename "$f")
    work=$(mktemp -d)
    cp -r "$src/tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    echo "fuzz: $name for ${OM_FUZZ_SECONDS:-10}s"
    "$f" -max_total_time="${OM_FUZZ_SECONDS:-10}" -max_len=65536 "$work" >"$work.log" 2>&1 ||
      { cat "$work.log"; echo "fuzz: $name found a crash"; exit 1; }
    rm -rf "$work" "$work.log"
  done
fi

args=(--test-dir "$build" --output-on-failure -j2)
[ -n "${OM_TEST_LABEL:-}" ] && args+=(-L "$OM_TEST_LABEL")
ctest "${args[@]}"

# Once more under AddressSanitizer and UndefinedBehaviorSanitizer (leaks included),
# every tier but the QEMU guests, which run the same binary inside a guest.
if [ "${OM_SKIP_ASAN:-}" != 1 ]; then
  abuild="$build-asan"
  cmake -S . -B "$abuild" -DOM_ASAN=ON -DOM_UBSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$abuild" -j"$(nproc)" >/dev/null
  echo "ctest under ASan+UBSan:"
  aargs=(--test-dir "$abuild" --output-on-failure -j2 -LE vm)
  [ -n "${OM_TEST_LABEL:-}" ] && aargs+=(-L "$OM_TEST_LABEL")
  ctest "${aargs[@]}"
fi
