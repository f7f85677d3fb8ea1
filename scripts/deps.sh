#!/usr/bin/env bash
# Installs what netlab's tour, tests and benchmarks need, and only what is missing.
# System packages: apt-get when root on Debian; otherwise one line naming what to install.
# Python peers: a project-local virtual environment in .venv (git ignores it).
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package that provides it. Later layers add their peers here.
# g++: the zmq crate builds libzmq (C++) from source; no cmake, no system libzmq needed.
# gdb: make debug and tests/debug.rs step through one exchange (rust-gdb comes with rustup).
PACKAGES=(
  "cc:gcc"
  "g++:g++"
  "make:make"
  "socat:socat"
  "nc.openbsd:netcat-openbsd"
  "ss:iproute2"
  "python3:python3"
  "curl:curl"
  "wrk:wrk"
  "nginx:nginx"
  "nghttp:nghttp2-client"
  "h2load:nghttp2-client"
  "nghttpd:nghttp2-server"
  "tshark:tshark"
  "gdb:gdb"
  # quiche (HTTP/3) builds BoringSSL: cmake, g++ and git; bindgen needs libclang (below).
  "cmake:cmake"
  "git:git"
  # Lossy paths for the HTTP/3 reliability test and netlab compare: nftables in a namespace.
  "nft:nftables"
  # ngtcp2's HTTP/3 client: a second client peer of netlab h3 serve.
  "gtlsclient:ngtcp2-client"
  # The browser that loads netlab's pages over HTTP/3 and WebRTC, driven by playwright-core.
  "chromium:chromium"
  "node:nodejs"
  "npm:npm"
)

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
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
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
