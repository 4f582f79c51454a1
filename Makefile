# polyraft entry points. `make test` is what CI runs (through .ci/run).
CARGO ?= cargo
# etcd raft's conformance scripts live beside the checkout, never in it.
POLYRAFT_CONFORMANCE_DIR ?= $(abspath $(CURDIR)/../shared/conformance/etcd-raft)
export POLYRAFT_CONFORMANCE_DIR

.DEFAULT_GOAL := test
.PHONY: test test-core test-wal sim mutants

# The C ABI (libpolyraft, include/polyraft.h, tests/c): test-c, header,
# polyraft.pc, install-c.
include mk/c.mk
# The Python wheel (python/): test-py, wheel-py, venv-py, install-py.
include mk/py.mk
# The Go package (go/): test-go, go-lib-release.
include mk/go.mk
# Benchmarks (bench/, shared BENCH.md): bench, bench-smoke, bench-ir.
include mk/bench.mk
# W3: the same workload through the C, Python and Go bindings.
include mk/bench-w3.mk
# W4/W5: the host end to end against hashicorp/raft, canonical/raft and
# PySyncObj, and many groups: bench-host, bench-host-smoke.
include mk/bench-host.mk
# The demo: a replicated key-value store in Python on the host (examples/kv-host),
# and test-mixed: one cluster of Python, Go and C KV nodes.
include mk/demo.mk
# The host runtime (host/): test-host, host-idle, host-group-commit.
include mk/host.mk
# Fidelity with etcd (divergence scripts) and hostile peers: test-fidelity,
# fuzz-hostile.
include mk/fidelity.mk
# The host's shared multi-group log (logstore/): test-logstore,
# logstore-crash-long, logstore-bench.
include mk/logstore.mk
# The host transport (transport/): test-transport, fuzz-transport.
include mk/transport.mk
# Mutation testing of the core's rules (cargo-mutants): mutants-core,
# mutants-core-diff (the mutants of a change, in `make test`).
include mk/mutants.mk
# The host simulator (hostsim/): test-hostsim, sim-host, mutants-host.
include mk/hostsim.mk
include mk/jepsen.mk

SEEDS ?= 100000
START ?= 0

## test: everything CI runs: the core (conformance, properties, simulation),
## etcd fidelity and hostile peers, the durable storage (WAL crash tests), the
## host runtime, the C, Python and Go bindings, a cluster of Python, Go and C
## KV nodes, and a benchmark smoke run.
test: test-core test-fidelity test-wal test-logstore test-host test-hostsim test-transport test-c test-py test-go bench-smoke test-mixed test-jepsen-short bench-host-smoke mutants-core-diff

## test-core: the Rust core: unit tests, property tests, and the etcd
## conformance scripts (interaction, confchange, quorum).
test-core:
	$(CARGO) test -p polyraft --features rafttest -- --show-output

## test-wal: the durable storage (polyraft-wal): unit tests, the SIGKILL
## crash and file-damage tests, and clusters restarted from disk.
test-wal:
	$(CARGO) test -p polyraft-wal -- --show-output

## sim: the chaos simulation over many seeds (release build):
## make sim SEEDS=100000 START=0
sim:
	$(CARGO) run --release -q -p polyraft --features rafttest --example sim -- --seeds $(SEEDS) --start $(START)

## mutants: the simulator's mutation check. Builds the core three times,
## each with one Raft rule broken (commit a previous-term entry by
## counting; grant a vote without the up-to-date check; skip the term guard
## on async append acknowledgements), and prints the first seed at which
## the simulator catches each. A surviving mutant fails the target.
## mutants-host (mk/hostsim.mk) runs first: the host-level mutants.
MUTANTS ?= prev_term_commit vote_no_uptodate no_append_term_guard
MUTANT_SEEDS ?= 20000
mutants: mutants-host
	@survived=0; for m in $(MUTANTS); do \
	  out=$$(RUSTFLAGS="--cfg polyraft_mutant=\"$$m\"" CARGO_TARGET_DIR=$(CURDIR)/target/mutants \
	    CARGO_PROFILE_RELEASE_LTO=false $(CARGO) run --release -q -p polyraft --features rafttest \
	    --example sim -- --seeds $(MUTANT_SEEDS) 2>&1); \
	  seed=$$(printf '%s\n' "$$out" | sed -n 's/^seed \([0-9]*\) tick.*/\1/p' | head -n1); \
	  if [ -n "$$seed" ]; then \
	    echo "mutant $$m: caught at seed $$seed ($$((seed + 1)) seeds)"; \
	    printf '%s\n' "$$out" | grep -m1 '^seed '; \
	  else echo "mutant $$m: SURVIVED $(MUTANT_SEEDS) seeds"; survived=1; fi; \
	done; exit $$survived
