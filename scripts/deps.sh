#!/usr/bin/env bash
# Installs what netlab needs, and only what is missing.
#   scripts/deps.sh build   what building netlab and running the tour need (make build, make tour)
#   scripts/deps.sh         everything: also the peers of the tests and benchmarks (make test, make bench)
# System packages: apt-get when root on Debian; otherwise one line naming what to install.
# Python peers: a project-local virtual environment in .venv (git ignores it).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
case "$MODE" in
  build | all) ;;
  *) echo "error: scripts/deps.sh takes 'build' or nothing (everything), not '$MODE'" >&2; exit 2 ;;
esac

# command → Debian package that provides it.
# What the build and the tour need:
# g++: the zmq crate builds libzmq (C++) from source; no system libzmq needed.
# quiche (HTTP/3) builds BoringSSL: cmake, g++ and git; bindgen needs libclang (below).
# python3: the tour's first section runs the course's Python echo pair.
BUILD_PACKAGES=(
  "cc:gcc"
  "g++:g++"
  "make:make"
  "cmake:cmake"
  "git:git"
  "python3:python3"
)
# What the tests and benchmarks add: the real peers and the tools around them.
# gdb: make debug and tests/debug.rs step through one exchange (rust-gdb comes with rustup).
PEER_PACKAGES=(
  "socat:socat"
  "nc.openbsd:netcat-openbsd"
  "ss:iproute2"
  "curl:curl"
  # openssl s_server: a TLS 1.3 server netlab's client resumes against (tests/tls_resumption.rs).
  "openssl:openssl"
  "wrk:wrk"
  "nginx:nginx"
  "nghttp:nghttp2-client"
  "h2load:nghttp2-client"
  "nghttpd:nghttp2-server"
  "tshark:tshark"
  "gdb:gdb"
  # Lossy paths for the HTTP/3 reliability test and netlab compare: nftables in a namespace;
  # and the NATs of netlab nat and tests/nat.rs (ip netns, from iproute2 above, holds them).
  "nft:nftables"
  # ngtcp2's HTTP/3 client: a second client peer of netlab h3 serve.
  "gtlsclient:ngtcp2-client"
  # ngtcp2's HTTP/3 server: resumes netlab h3 get --session with 0-RTT (tests/h3_zero_rtt.rs),
  # the reference row of netlab compare --rebind, and netlab's client's peer in the interop
  # cases (make interop, tests/quic_interop.rs).
  "gtlsserver:ngtcp2-server"
  # The browser that loads netlab's pages over HTTP/3 and WebRTC, driven by playwright-core.
  "chromium:chromium"
  "node:nodejs"
  "npm:npm"
)
PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "$MODE" = all ]; then
  PACKAGES+=("${PEER_PACKAGES[@]}")
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found: install the Rust toolchain (https://rustup.rs), then run make again" >&2
  exit 1
fi

missing=()
for pair in "${PACKAGES[@]}"; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
# libclang has no command to look for: bindgen (boring-sys, under quiche) loads the library.
if ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/*/libclang*.so* >/dev/null 2>&1; then
  missing+=("libclang-dev")
fi
# python3 -m venv needs Debian's python3-venv unless python3 came from elsewhere (pyenv).
if [ "$MODE" = all ] && command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("python3-venv")
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "error: missing packages: ${missing[*]} (install them with your package manager, e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

if [ "$MODE" = build ]; then
  exit 0
fi

# Python peers live in .venv; requirements.txt lists them (pinned to what was tested).
if [ -s requirements.txt ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  stamp=.venv/.requirements.stamp
  if [ ! -f "$stamp" ] || ! cmp -s requirements.txt "$stamp"; then
    echo "deps: installing Python peers into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$stamp"
  fi
fi

# The browser driver: playwright-core from npm (package.json pins it) drives Debian's
# chromium through its executablePath; it never downloads a browser of its own.
# Pinned to a release that runs on Debian 12's Node 18 (playwright-core 1.57+ needs Node 20).
if [ -s package.json ] && ! cmp -s package.json node_modules/.netlab-package.json; then
  echo "deps: installing playwright-core into node_modules"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent
  cp package.json node_modules/.netlab-package.json
fi
