#!/bin/sh
# make fuzz: builds every fuzz target, then runs each for $1 seconds (default 60), one at a
# time (the machine is shared; libFuzzer uses one core per target), and prints the table.
# Usage: scripts/fuzz.sh [SECS] [TARGET...]   (no TARGET: all of `cargo fuzz list`)
# Each run's new inputs go to fuzz/work/<target>/ (not committed); the committed seeds in
# fuzz/corpus/<target>/ are read, never written. Crashing inputs land in fuzz/artifacts/.
set -u
secs=${1:-60}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/../fuzz" || exit 1
export RUSTC_BOOTSTRAP=1
# The fuzz crate is its own workspace: start its lock from the main one, so the netlab it
# fuzzes is built with the dependency versions the tests use.
[ -e Cargo.lock ] || cp ../Cargo.lock Cargo.lock
# -s none: no AddressSanitizer. netlab has no `unsafe`, and the C libraries (BoringSSL,
# libzmq) are not instrumented anyway; without it the targets build and run about twice as fast.
targets=${*:-$(cargo fuzz list)}
mkdir -p work
for t in $targets; do
    echo "fuzz: building $t" >&2
    cargo fuzz build -s none "$t" >"work/$t.build.log" 2>&1 || { tail -30 "work/$t.build.log" >&2; exit 1; }
done
logs=
for t in $targets; do
    mkdir -p "work/$t" "corpus/$t"
    echo "fuzz: running $t for ${secs}s" >&2
    # -print_final_stats: the executed-units line the table reads; -timeout: an input
    # taking 10 s is a hang worth a crash report.
    cargo fuzz run -s none "$t" "work/$t" "corpus/$t" -- -max_total_time="$secs" \
        -print_final_stats=1 -timeout=10 >"work/$t.log" 2>&1
    echo "exit: $?" >>"work/$t.log"
    logs="$logs work/$t.log"
done
# shellcheck disable=SC2086
exec python3 ../scripts/fuzz-table.py "$secs" $logs
