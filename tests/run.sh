#!/usr/bin/env bash
# Installs what is missing, builds om, and runs every test tier under ctest:
# unit, fuzz corpus replay, integration (real loop devices, ext4, agents on loopback,
# network namespaces) and vm (dm-crypt in QEMU guests), then once more under ASan and
# UBSan. Exit status non-zero on any failure. A test that cannot run here skips (exit 77)
# and says why. Runs as root, with or without sudo (the integration and vm tiers need
# root; as another user they skip). About 35 minutes on 2 cores.
#
# Ends with a summary on the console: per pass and tier, how many tests passed, failed
# and were skipped, each skipped test with its reason, each failed test by name.
#
#   OM_BUILD_DIR   build directory (default: build)
#   OM_TEST_LABEL  run only the tests of this ctest label (unit, fuzz, integration, vm)
#   OM_SKIP_FUZZ=1 / OM_SKIP_ASAN=1  skip the libFuzzer runs / the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
started=$SECONDS

summary=$(mktemp)
# the summary is printed however the run ends (a failed pass stops it)
print_summary() {
  local rc=$?
  echo
  echo "== summary of tests/run.sh"
  cat "$summary"
  if [ "$rc" = 0 ]; then
    echo "result: all passed ($(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s)"
  else
    echo "result: FAILED, exit status $rc ($(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s)"
  fi
  rm -f "$summary"
}
trap print_summary EXIT
note() { printf '%s\n' "$*" >>"$summary"; }

./deploy/install-deps.sh

build=${OM_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

# libFuzzer: when clang is here, build the fuzzers and run each one briefly on top of
# the corpus replay that ctest does with the regular build.
if [ "${OM_SKIP_FUZZ:-}" = 1 ]; then
  note "$(printf '%-22s %s' libFuzzer 'skipped: OM_SKIP_FUZZ=1')"
elif ! command -v clang >/dev/null; then
  note "$(printf '%-22s %s' libFuzzer 'skipped: clang is missing')"
else
  fbuild="$build-fuzz"
  CC=clang cmake -S . -B "$fbuild" -DOM_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$fbuild" -j"$(nproc)" >/dev/null
  nfuzz=0
  for f in "$fbuild"/tests/fuzz-*; do
    [ -x "$f" ] && [[ "$f" != *-replay ]] || continue
    name=$(basename "$f")
    work=$(mktemp -d)
    cp -r "$src/tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    echo "fuzz: $name for ${OM_FUZZ_SECONDS:-10}s"
    if ! "$f" -max_total_time="${OM_FUZZ_SECONDS:-10}" -max_len=65536 "$work" >"$work.log" 2>&1; then
      cat "$work.log"
      echo "fuzz: $name found a crash"
      note "$(printf '%-22s %s' libFuzzer "FAILED: $name found a crash")"
      exit 1
    fi
    rm -rf "$work" "$work.log"
    nfuzz=$((nfuzz + 1))
  done
  note "$(printf '%-22s %s' libFuzzer "$nfuzz fuzzers ran ${OM_FUZZ_SECONDS:-10} s each, no crash")"
fi

# ctest_pass NAME BUILD_DIR ARGS...: one ctest run, its summary lines added
ctest_pass() {
  local name=$1 dir=$2 rc=0
  shift 2
  rm -f "$dir/junit.xml"
  ctest --test-dir "$dir" --output-on-failure -j2 --output-junit junit.xml "$@" || rc=$?
  python3 "$src/tests/summary.py" "$name" "$dir/junit.xml" >>"$summary"
  return "$rc"
}

args=()
[ -n "${OM_TEST_LABEL:-}" ] && args+=(-L "$OM_TEST_LABEL")
ctest_pass "" "$build" "${args[@]}" ||
  { note "$(printf '%-22s %s' 'ASan+UBSan pass' 'not run: the first pass failed')"; exit 1; }

# Once more under AddressSanitizer and UndefinedBehaviorSanitizer (leaks included),
# every tier but the QEMU guests, which run the same binary inside a guest.
if [ "${OM_SKIP_ASAN:-}" != 1 ]; then
  abuild="$build-asan"
  cmake -S . -B "$abuild" -DOM_ASAN=ON -DOM_UBSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$abuild" -j"$(nproc)" >/dev/null
  echo "ctest under ASan+UBSan:"
  ctest_pass ASan "$abuild" -LE vm "${args[@]}"
else
  note "$(printf '%-22s %s' 'ASan+UBSan pass' 'skipped: OM_SKIP_ASAN=1')"
fi
