#!/bin/bash
# The cluster simulator's longer run and the decide step's cost: SCHEDULES random
# schedules (default 100000, from SEED, default 1) of tests/unit/test-sim.c with the
# schedules per second, then the median time of one decide pass over 1000 services x 16
# nodes (cluster/cl_decide.h). A violation prints its seed and the command that replays
# it, and the script exits 1.
#   bash tests/bench/bench-sim.sh [build dir]
set -u
BUILD=${1:-${OM_BUILD:-$(dirname "$0")/../../build}}
SIM=$BUILD/tests/test-sim
[ -x "$SIM" ] || { echo "no $SIM: build first (cmake --build build)" >&2; exit 1; }
rc=0
out=$(OM_SIM_SEED=${SEED:-1} OM_SIM_SCHEDULES=${SCHEDULES:-100000} "$SIM" 2>&1) || rc=1
echo "$out" | grep -E "schedules from|VIOLATION|replay:"
OM_SIM_BENCH=1 "$SIM" 2>&1 | grep -E "decide pass" || rc=1
exit $rc
