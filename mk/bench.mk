# Benchmarks (shared BENCH.md W1, W2; W3 hooks). Included from the root
# Makefile. `make bench` builds in release (the workspace's LTO profile)
# and prints one table; bench/results.json keeps it for later comparison.
CARGO ?= cargo
GO ?= go
# Including this file never changes the including Makefile's default goal.
_bench_default_goal := $(.DEFAULT_GOAL)
BENCH_BIN := bench/target/release/polyraft-bench
BENCH_GO := bench/go/bench-go

.PHONY: bench bench-smoke bench-build bench-ir

## bench-build: the Rust harness (polyraft and raft-rs) and the Go one
## (etcd raft), both in release.
bench-build:
	cd bench && $(CARGO) build --release --locked -q
	cd bench/go && $(GO) build -o bench-go .

## bench: W1 and W2 for polyraft, raft-rs and etcd raft (a few minutes).
## W3 runs when POLYRAFT_W3_C / POLYRAFT_W3_PY / POLYRAFT_W3_GO name a
## driver command (see bench/README.md).
bench: bench-build
	$(BENCH_BIN) all --go $(BENCH_GO) --out bench/results.json

## bench-smoke: every workload once with tiny N; fails unless every loop
## completes with sane counters.
bench-smoke: bench-build
	$(BENCH_BIN) all --smoke --go $(BENCH_GO) --out bench/results-smoke.json

## bench-ir: instruction counts (valgrind's callgrind) per entry for the
## headline variants, polyraft vs raft-rs: unaffected by a busy machine.
bench-ir: bench-build
	bench/ir.sh $(BENCH_BIN)

.DEFAULT_GOAL := $(_bench_default_goal)
