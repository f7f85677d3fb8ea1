# netlab — the two commands of the README do all the set-up:
#   make tour   build, then run every exchange on loopback, step by step
#   make test   every test, interop with real peers included
# Other targets: make check LAB=NN [SOLUTION=1 | WRONG=NAME], make bench, make deps, make fmt,
# make lint.

CARGO ?= cargo
LAB ?=

.PHONY: all deps build tour test check bench fmt lint clean

all: build

deps:
	@scripts/deps.sh

build: deps
	$(CARGO) build --bins --examples

tour: build
	./target/debug/netlab tour

test: deps
	$(CARGO) test --no-fail-fast

check:
	@if [ -z "$(LAB)" ]; then echo "error: name the lab: make check LAB=01 (see labs/README.md)" >&2; exit 2; fi
	$(CARGO) run -q --example lab$(LAB) -- $(if $(SOLUTION),--solution,) $(if $(WRONG),--wrong $(WRONG),)

bench: deps
	$(CARGO) bench --bench l4
	$(CARGO) build --release --example tiny_http_ref
	ulimit -n 8192 && $(CARGO) bench --bench http1
	RUSTFLAGS="--cfg httparse_disable_simd" CARGO_TARGET_DIR=target/nosimd NETLAB_BENCH_PARSER_ONLY=1 $(CARGO) bench --bench http1
	$(CARGO) bench --bench zmq
	$(CARGO) bench --bench h2
	python3 scripts/bench-readme.py
	python3 scripts/bench-chart.py

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
