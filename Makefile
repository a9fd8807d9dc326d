# sallyport — every workflow is a make target; nothing needs installing by hand.
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 60
FUZZ_LONG_SECONDS ?= 1800

.PHONY: testbed-up testbed-down testbed-test testbed-if-possible testbed-bin bench bench-testbed bench-testbed-preflight bench-tools bench-quick all build test test-deps demo-once lint fmt fmt-check clippy purity unit demo bench-codec fuzz-smoke fuzz fuzz-tools toolchain clean

all: build

build:
	$(CARGO) build --release

## test: what CI runs — formatting, lints, the sans-IO purity check, every cargo test, then
## the network-namespace testbed when this host allows it (root, netns), else a "skipped" line.
test: toolchain test-deps fmt-check clippy purity unit testbed-if-possible

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

## test-deps: tools the integration tests drive (real curl through the proxy).
test-deps:
	@command -v curl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; \
	  else echo "curl is missing and cannot be installed here (not root): the curl test will skip" >&2; fi; }

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

purity:
	scripts/check-proto-purity.sh

unit:
	$(CARGO) test --all-targets

lint: fmt-check clippy purity

## testbed-up: namespaces sp-cloud, sp-fw, sp-dmz, sp-corp with the firewall (root; see testbed/README.md).
testbed-up:
	@testbed/up.sh

## testbed-down: removes the testbed and everything running in it (root).
testbed-down:
	@testbed/down.sh

## testbed-test: relay, connector and backends across the namespaces, five scenarios (root).
testbed-test: testbed-bin
	@testbed/test.sh

## testbed-if-possible: testbed-test, or one "skipped: ..." line when not root or no netns.
testbed-if-possible: testbed-bin
	@testbed/test.sh --skip-if-unavailable

# The debug binary the testbed drives, unless SALLYPORT_BIN names another one.
testbed-bin:
	@[ -n "$$SALLYPORT_BIN" ] || $(CARGO) build --quiet --bin sallyport

## demo: runs the product on its embedded default (relay + connector + backends on loopback).
demo:
	$(CARGO) run --release --quiet -- demo

## demo-once: the demo script only; exits non-zero if a step fails.
demo-once:
	$(CARGO) run --release --quiet -- demo --once

RATHOLE_ROOT := bench/.cache/rathole
RATHOLE := $(RATHOLE_ROOT)/bin/rathole

## bench: end-to-end comparison in one run — direct, sallyport, rathole 0.5.0 with TLS and an
## h2 + tokio-rustls baseline; writes bench/results/<timestamp>/{results.json,report.md,*.svg}.
## BENCH_QUICK=1 for a ~2 minute smoke run. Method: bench/README.md.
bench: bench-tools
	$(CARGO) build --release
	cd bench/harness && $(CARGO) build --release
	bench/harness/target/release/bench-run --sallyport target/release/sallyport \
	  --rathole $(RATHOLE) --rathole-log bench/.cache/rathole-install.log \
	  --rathole-status bench/.cache/rathole-install.status --out bench/results

## bench-testbed: the same contenders and workloads as bench, across the testbed's network
## namespaces and firewall (root): load generator + relays in sp-cloud, connectors in sp-dmz,
## backend in sp-corp; writes bench/results/testbed-<timestamp>/. BENCH_QUICK=1 for ~2 minutes.
bench-testbed: bench-testbed-preflight bench-tools
	$(CARGO) build --release
	cd bench/harness && $(CARGO) build --release
	@bench/testbed.sh

# Root and network namespaces, checked before minutes of building.
bench-testbed-preflight:
	@bench/testbed.sh --preflight

## bench-tools: installs rathole 0.5.0 into bench/.cache once (minutes); a failed install is
## logged and make bench runs without that contender.
bench-tools:
	@mkdir -p bench/.cache
	@test -x $(RATHOLE) || { echo "installing rathole 0.5.0 into $(RATHOLE_ROOT) (takes minutes, once)"; \
	  start=$$(date +%s); \
	  if $(CARGO) install rathole --version 0.5.0 --root $(RATHOLE_ROOT) \
	       --target-dir bench/.cache/rathole-target > bench/.cache/rathole-install.log 2>&1; \
	  then echo "installed in $$(( $$(date +%s) - start )) s on $$(date -u +%FT%TZ)" | tee bench/.cache/rathole-install.status; \
	  else echo "install FAILED after $$(( $$(date +%s) - start )) s (bench/.cache/rathole-install.log)" | tee bench/.cache/rathole-install.status >&2; fi; }

## bench-codec: criterion, our codec vs the h2 crate on the same in-memory work.
bench-codec:
	$(CARGO) bench --bench codec

## bench-quick: bulk and small-request figures through the tunnel and direct, with ratios.
bench-quick:
	$(CARGO) bench --bench quick

## fuzz-smoke: every fuzz target for $(FUZZ_SECONDS) s; fails on any crash.
fuzz-smoke: fuzz-tools
	scripts/fuzz.sh $(FUZZ_SECONDS)

## fuzz: long runs ($(FUZZ_LONG_SECONDS) s per target).
fuzz: fuzz-tools
	scripts/fuzz.sh $(FUZZ_LONG_SECONDS)

fuzz-tools:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

clean:
	$(CARGO) clean
	rm -rf fuzz/target
