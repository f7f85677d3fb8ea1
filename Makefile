# netlab — the two commands of the README do all the set-up:
#   make tour   build, then run every exchange on loopback, step by step
#   make test   every test, interop with real peers included
# Other targets: make check LAB=NN [SOLUTION=1 | WRONG=NAME | WRONG=list] [JUNIT=FILE] [JSON=FILE],
# make grade [OUT=DIR], make serve LAB=NN [ADDR=HOST:PORT], make debug STEP=NAME,
# make install, make bench, make soak [SOAK_SECS=N], make interop, make fuzz [FUZZ_SECS=60]
# [FUZZ_TARGETS="uri hpack"], make deps, make fmt, make lint.

CARGO ?= cargo
LAB ?=

.PHONY: all deps deps-build build tour test check grade serve debug install bench soak interop fuzz fmt lint clean

all: build

# Everything the tests and benchmarks use (peers included); deps-build only what building needs.
deps:
	@scripts/deps.sh

deps-build:
	@scripts/deps.sh build

build: deps-build
	$(CARGO) build --bins --examples

# SECTION=http1 runs one section; STEP=N one step of it. Builds only the netlab binary (the
# labs' checks and the peers of the tests come with make test), so the first tour starts soon.
tour: deps-build
	$(CARGO) build --bin netlab
	./target/debug/netlab tour $(SECTION) $(STEP)
	@command -v netlab >/dev/null 2>&1 || echo "next: make install puts netlab on your PATH (or run ./target/debug/netlab …)"

# Puts netlab on the PATH (~/.cargo/bin, which rustup put on it), so the README's commands
# work as written. A debug build (the one rust-gdb steps through), from target/debug.
install: deps-build
	$(CARGO) install --path . --debug --locked --offline --bins

test: deps
	$(CARGO) test --no-fail-fast

check:
	@if [ -z "$(LAB)" ]; then echo "error: name the lab: make check LAB=01 (see labs/README.md)" >&2; exit 2; fi
	$(CARGO) run -q --example lab$(LAB) -- $(if $(SOLUTION),--solution,) $(if $(filter list,$(WRONG)),--list-wrong,$(if $(WRONG),--wrong $(WRONG),)) $(if $(JUNIT),--junit $(JUNIT),) $(if $(JSON),--json $(JSON),)

# Every lab's check, and a table of steps passed per lab (OUT=DIR keeps JUnit XML and JSON).
grade:
	@CARGO=$(CARGO) OUT=$(OUT) scripts/grade.sh

# Serves the student's handler of lab NN for curl and the debugger (labs 01, 02, 04, 05, 06, 08,
# 10, 11, 12; 03, 07, 09 and 13 have none and say what to run instead: labs/README.md has the table).
serve:
	@if [ -z "$(LAB)" ]; then echo "error: name the lab: make serve LAB=04 (see labs/README.md)" >&2; exit 2; fi
	$(CARGO) run -q --example lab$(LAB) -- --serve $(ADDR) $(if $(SOLUTION),--solution,)

# Starts one step's server under rust-gdb at its breakpoint and sends it one request
# (the steps: scripts/debug/steps.tsv, or make debug with no STEP).
debug:
	@$(CARGO) build -q --bin netlab
	@scripts/debug/run.sh $(STEP)

# The QUIC interop runner's cases against aioquic and ngtcp2, both roles, through netlab's
# UDP relay (no Docker, no simulator): prints the matrix and keeps it in interop-results/.
interop: deps
	$(CARGO) build --bin netlab --example quic_interop
	@ex=$$($(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/quic_interop; \
	$$ex --out interop-results/matrix.md

bench: deps
	$(CARGO) bench --bench l4
	$(CARGO) build --release --example tiny_http_ref
	ulimit -n 8192 && $(CARGO) bench --bench http1
	RUSTFLAGS='--cfg httparse_disable_simd="1"' CARGO_TARGET_DIR=target/nosimd NETLAB_BENCH_PARSER_ONLY=1 $(CARGO) bench --bench http1
	$(CARGO) bench --bench zmq
	$(CARGO) build --release --example h2_ref
	$(CARGO) bench --bench h2
	$(CARGO) bench --bench h3
	$(CARGO) bench --bench webrtc
	$(CARGO) bench --bench revisit
	python3 scripts/bench-readme.py
	python3 scripts/bench-chart.py

# Every server at once under real and hostile load for SOAK_SECS (default 600); fails when a
# server's memory, threads or descriptors grow, a real client sees an error, or a server stops
# answering. Results in soak-results/ (soak.md, soak.json, rss.svg).
soak: deps
	$(CARGO) build --release --bin netlab
	.venv/bin/python scripts/soak.py --secs $(or $(SOAK_SECS),600) --netlab target/release/netlab

# Every fuzz target (fuzz/fuzz_targets/) for FUZZ_SECS seconds each, one after the other, then
# a table of inputs, coverage and crashes (scripts/fuzz-table.py). cargo-fuzz wants a nightly
# compiler: RUSTC_BOOTSTRAP=1 lets the stable one build it. Fails if any target crashed.
FUZZ_SECS ?= 60
FUZZ_TARGETS ?=
fuzz: deps-build
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@scripts/fuzz.sh $(FUZZ_SECS) $(FUZZ_TARGETS)

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
