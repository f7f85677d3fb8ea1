#!/usr/bin/env bash
# The HTTP/3 peers against each other, before netlab is involved: aioquic client, ngtcp2's
# gtlsclient and headless Chromium, each against the aioquic server (plain and with --retry).
# Usage: tests/h3/selftest.sh     (from the repository root, after make deps)
# Prints one "ok ..." line per check and exits 0, or stops at the first failure with exit 1.
set -euo pipefail
PY=.venv/bin/python
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

$PY tests/h3/makecert.py "$dir"
mkdir "$dir/root" "$dir/dl"
printf 'body { color: teal }\n' >"$dir/root/style.css"
spki=$($PY tests/h3/spki.py "$dir/cert.pem")
ca=$dir/ca.pem

# Starts server.py with extra flags; sets $port from its "listening on" line (at most 10 s).
# Each server gets its own output file: reading a reused one could find the last server's line.
start_server() {
  local out="$dir/server-$mode.out"
  $PY tests/h3/server.py --cert "$dir/cert.pem" --key "$dir/key.pem" --root "$dir/root" "$@" \
    >"$out" 2>"$dir/server-$mode.err" &
  pids+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
    [ -n "$port" ] && return
    sleep 0.1
  done
  fail "server.py $* printed no listening line"
}

for mode in plain retry; do
  start_server $([ $mode = retry ] && echo --retry)
  base=https://localhost:$port

  # aioquic client: three concurrent streams on one connection, then a POST.
  out=$($PY tests/h3/client.py $base/ $base/bytes/1000 $base/file/style.css \
    --cacert "$ca" 2>"$dir/client.err") || fail "client.py: $(cat "$dir/client.err")"
  grep -qx "retry: $([ $mode = retry ] && echo yes || echo no)" "$dir/client.err" || fail "retry"
  want=$($PY -c 'import hashlib; print(hashlib.sha256((bytes(range(251)) * 4)[:1000]).hexdigest())')
  grep -qx "200 1000 $want" <<<"$out" || fail "client.py /bytes/1000: $out"
  grep -qx "text/css" <<<"$out" || fail "client.py /file/style.css: $out"
  out=$($PY tests/h3/client.py $base/echo --method POST --data hi --cacert "$ca" 2>/dev/null)
  hi=$(printf hi | sha256sum | cut -d' ' -f1)
  [ "$out" = "$(printf '200 2 %s\ntext/plain' "$hi")" ] || fail "client.py POST /echo: $out"
  echo "ok aioquic client ($mode)"

  # ngtcp2's client (it does not verify the certificate).
  timeout 20 gtlsclient -q --exit-on-all-streams-close --sni=localhost --download="$dir/dl" \
    127.0.0.1 "$port" $base/bytes/1000 >/dev/null 2>&1 || fail "gtlsclient ($mode)"
  [ "$(sha256sum <"$dir/dl/1000" | cut -d' ' -f1)" = "$want" ] || fail "gtlsclient body"
  echo "ok gtlsclient ($mode)"

  # Chromium: the page and its <img> both over h3.
  json=$(node tests/browser/h3.mjs $base/ --spki "$spki")
  grep -q '"protocol":"h3"' <<<"$json" || fail "chromium: $json"
  grep -q '"name":"'$base'/bytes/1000","nextHopProtocol":"h3"' <<<"$json" || fail "img: $json"
  echo "ok chromium ($mode)"

  kill -TERM "${pids[-1]}"
  wait "${pids[-1]}" || fail "server.py did not exit 0 on SIGTERM"
  unset 'pids[-1]'
done
echo "ok all"
