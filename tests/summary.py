#!/usr/bin/env python3
"""Summary of one ctest pass, for tests/run.sh: per tier (the part of a test's name
before '/': unit, fuzz, integration, vm) how many passed, failed and were skipped, then
each skipped test with its reason (the last line it printed) and each failed test.

    summary.py PASS_NAME JUNIT_XML   (the file of ctest --output-junit)

Prints the lines, and exits 0 whatever the results (run.sh decides the exit status)."""
import sys
import xml.etree.ElementTree as ET

TIERS = ["unit", "fuzz", "integration", "vm"]


def reason(case):
    out = case.findtext("system-out") or ""
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    return lines[-1] if lines else "no reason printed"


def main():
    name, path = sys.argv[1], sys.argv[2]
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"{name:<22} no results ({e})")
        return
    counts, skipped, failed = {}, [], []
    for case in root.iter("testcase"):
        test = case.get("name", "?")
        tier = test.split("/", 1)[0] if "/" in test else "other"
        c = counts.setdefault(tier, [0, 0, 0])
        status = case.get("status")
        if status == "run":
            c[0] += 1
        elif status == "fail":
            c[1] += 1
            failed.append(test)
        else:  # notrun, disabled: skipped (exit 77) or not started
            c[2] += 1
            skipped.append((test, reason(case)))
    order = [t for t in TIERS if t in counts] + sorted(t for t in counts if t not in TIERS)
    for tier in order:
        p, f, s = counts[tier]
        label = f"{name} {tier}" if name else tier
        print(f"{label:<22} {p} passed, {f} failed, {s} skipped")
    for test, why in skipped:
        print(f"  skipped {test}: {why}")
    for test in failed:
        print(f"  FAILED  {test}")


if __name__ == "__main__":
    main()
