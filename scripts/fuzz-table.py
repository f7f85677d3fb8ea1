#!/usr/bin/env python3
"""The table `make fuzz` prints: one row per target, read from libFuzzer's own output.

Usage: fuzz-table.py SECS LOG...   (LOG: fuzz/work/<target>.log, as scripts/fuzz.sh writes it)

libFuzzer (with -print_final_stats=1) ends with `stat::number_of_executed_units: N`; its
last status line (`#N DONE cov: C ft: F corp: U/S …`) gives the coverage: `cov` counts the
code edges reached, `ft` the features (edges with hit counts), `corp` the inputs kept. A
crash, a failed assertion, a leak or a timeout writes `Test unit written to …` and makes the
run exit non-zero: each is counted, and the first line of its report is shown. The table is
Markdown, for the README. Exit status 1 when any target crashed.
"""

import os
import re
import sys

STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
WRITTEN = re.compile(r"Test unit written to (\S+)")
WHY = re.compile(r"(panicked at .*|ERROR: libFuzzer: .*|ERROR: AddressSanitizer: .*)$")


def read(path):
    row = {"target": os.path.basename(path).removesuffix(".log"), "cov": "-", "ft": "-",
           "corp": "-", "units": "-", "exec_s": "-", "crashes": 0, "why": "", "exit": "?"}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = STATUS.match(line)
            if m:
                row["cov"], row["ft"], row["corp"] = m.group(2), m.group(3), m.group(4)
                row["units"] = m.group(1)
            m = STAT.match(line)
            if m and m.group(1) == "number_of_executed_units":
                row["units"] = m.group(2)
            if m and m.group(1) == "average_exec_per_sec":
                row["exec_s"] = m.group(2)
            if WRITTEN.search(line):
                row["crashes"] += 1
            m = WHY.search(line)
            if m and not row["why"]:
                row["why"] = m.group(1)[:90]
            if line.startswith("exit: "):
                row["exit"] = line[6:]
    # A run that died without writing a unit (build failure, libFuzzer refusing a flag) is
    # a failure too, not a clean row.
    if row["exit"] not in ("0", "?") and row["crashes"] == 0:
        row["crashes"] = 1
        row["why"] = row["why"] or f"exit status {row['exit']}, no unit written (see {path})"
    return row


def grouped(n):
    return f"{int(n):,}".replace(",", " ") if str(n).isdigit() else n


def main():
    secs, logs = sys.argv[1], sys.argv[2:]
    rows = [read(p) for p in logs]
    print(f"| target | seconds | inputs executed | inputs/s | cov (edges) | ft (features) | corpus | crashes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['target']} | {secs} | {grouped(r['units'])} | {grouped(r['exec_s'])} | {r['cov']} "
              f"| {r['ft']} | {r['corp']} | {r['crashes']} |")
    bad = [r for r in rows if r["crashes"]]
    for r in bad:
        print(f"\n{r['target']}: {r['why']}")
    total = sum(int(r["units"]) for r in rows if str(r["units"]).isdigit())
    print(f"\n{len(rows)} targets, {grouped(total)} inputs, {sum(r['crashes'] for r in rows)} crash(es)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
