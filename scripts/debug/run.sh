#!/usr/bin/env bash
# make debug STEP=NAME: starts the server of one step (scripts/debug/steps.tsv) under rust-gdb
# with the step's breakpoint set, and sends one request from another process once the
# server listens. See docs/debugging.md.
#
#   scripts/debug/run.sh --list          the steps, one a line
#   scripts/debug/run.sh STEP            interactive: you get gdb's prompt at the breakpoint
#   scripts/debug/run.sh STEP --batch    runs the step's SHOW commands, prints, quits (tests)
#
# NETLAB (default target/debug/netlab) is the binary; GDB (default rust-gdb, else gdb) the
# debugger; LIMIT (default 90) bounds a --batch run in seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
TABLE=scripts/debug/steps.tsv
NETLAB=${NETLAB:-target/debug/netlab}
LIMIT=${LIMIT:-90}

rows() { grep -v '^#' "$TABLE" | tail -n +2; }

if [ "${1:-}" = "--list" ] || [ -z "${1:-}" ]; then
  rows | awk -F'\t' '{ printf "  %-14s break %s\n  %-14s   %s\n", $1, $4, "", $8 }'
  [ -n "${1:-}" ] && exit 0
  echo "error: name a step: make debug STEP=http1-parse (the list is above)" >&2
  exit 2
fi
step=$1
batch=${2:-}
row=$(rows | awk -F'\t' -v s="$step" '$1 == s' || true)
if [ -z "$row" ]; then
  echo "error: no step '$step': choose one of $(rows | cut -f1 | tr '\n' ' ')(scripts/debug/steps.tsv)" >&2
  exit 2
fi
IFS=$'\t' read -r _ server peer brk request show _ what <<<"$row"

GDB=${GDB:-$(command -v rust-gdb || command -v gdb || true)}
if [ -z "$GDB" ]; then
  echo "error: gdb not found: install it (Debian: apt-get install gdb) or run make deps" >&2
  exit 1
fi
if [ ! -x "$NETLAB" ]; then
  echo "error: $NETLAB not built: run make build (or cargo build) first" >&2
  exit 1
fi
NETLAB=$(realpath "$NETLAB")
export NETLAB

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    # The debugged server is gdb's child: end it before gdb, else it would run on detached.
    pkill -KILL -P "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits for the "listening on SCHEME://HOST:PORT" line in file $1; prints HOST:PORT.
listening() {
  for _ in $(seq 300); do
    a=$(sed -n 's|^listening on [a-z0-9]*://||p' "$1" 2>/dev/null | head -1)
    if [ -n "$a" ]; then echo "$a"; return 0; fi
    sleep 0.1
  done
  echo "error: no 'listening on' line in $1 after 30 s" >&2
  return 1
}

# 1. A peer the server needs (the ZMTP tap relays to a REP server), outside the debugger.
PEER=-
if [ "$peer" != "-" ]; then
  # shellcheck disable=SC2086
  "$NETLAB" $peer >"$work/peer.out" 2>"$work/peer.err" &
  pids+=($!)
  disown
  PEER=$(listening "$work/peer.out")
fi
server=${server//\$PEER/$PEER}

# 2. The request, from another process, once the debugged server listens.
(
  ADDR=$(listening "$work/server.out") || exit 1
  export ADDR
  bash -c "$request" >"$work/request.out" 2>&1 || true
) &
pids+=($!)
disown

# 3. The server under the debugger: stdout (its listening line) goes to a file, the trace
# and gdb to this terminal.
args=(-q -x scripts/debug/netlab.gdb -ex "break $brk" -ex "run $server > $work/server.out")
if [ "$batch" = "--batch" ]; then
  IFS=';' read -ra cmds <<<"$show"
  for c in "${cmds[@]}"; do args+=(-ex "$c"); done
  args+=(-ex "kill")
  "$GDB" -batch "${args[@]}" --args "$NETLAB" </dev/null &
  gdb_pid=$!
  pids=("$gdb_pid" "${pids[@]}")
  # The watchdog keeps no pipe of ours open, so a caller reading our output is not held.
  ( sleep "$LIMIT"; touch "$work/timeout"
    pkill -KILL -P "$gdb_pid"; kill -KILL "$gdb_pid" ) </dev/null >/dev/null 2>&1 &
  watchdog=$!
  status=0
  wait "$gdb_pid" || status=$?
  pkill -P "$watchdog" 2>/dev/null || true
  kill "$watchdog" 2>/dev/null || true
  if [ -f "$work/timeout" ]; then
    echo "error: step $step took more than $LIMIT s (is the request reaching the server?)" >&2
    exit 1
  fi
  exit "$status"
fi
echo "make debug STEP=$step: break $brk"
echo "  look at: $what"
echo "  try:     ${show//;/  ·  }"
echo "  the request's output goes to $work/request.out; quit gdb with q"
"$GDB" "${args[@]}" --args "$NETLAB"
