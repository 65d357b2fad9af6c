#!/bin/bash
# lab-boottime.sh [N]: boot a lab guest N times (5) in a row and print each
# boot time and the median: from QEMU start to a ready command runner (host
# clock), and the guest's own uptime at that point.  A measurement tool, not a
# test: it asserts nothing.  Exits 77 when the lab cannot run here.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lab.sh"

n=${1:-5}
lab_init || exit $?
host=() guest=()
for ((i = 1; i <= n; i++)); do
    lab_boot n1 10.99.0.11/24 || { lab_dump; exit 1; }
    host+=("$(lab_boot_time n1)")
    guest+=("$(lab_boot_guest_time n1)")
    echo "boot $i: ${host[-1]}s (guest uptime ${guest[-1]}s)"
    lab_kill n1
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median of $n boots: $(median "${host[@]}")s (guest uptime $(median "${guest[@]}")s)"
