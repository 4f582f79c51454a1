# polyraft entry points. `make test` is what CI runs (through .ci/run).
CARGO ?= cargo
# etcd raft's conformance scripts live beside the checkout, never in it.
POLYRAFT_CONFORMANCE_DIR ?= $(abspath $(CURDIR)/../shared/conformance/etcd-raft)
export POLYRAFT_CONFORMANCE_DIR

.PHONY: test test-core demo sim

SEEDS ?= 100000
START ?= 0

## test: every test of every language binding that exists so far.
test: test-core

## test-core: the Rust core: unit tests, property tests, and the etcd
## conformance scripts (interaction, confchange, quorum).
test-core:
	$(CARGO) test -p polyraft --features rafttest -- --show-output

## demo: a three-node cluster in one process electing, replicating,
## losing its leader and recovering.
demo:
	$(CARGO) run -q -p polyraft --features rafttest --example demo

## sim: the chaos simulation over many seeds (release build):
## make sim SEEDS=100000 START=0
sim:
	$(CARGO) run --release -q -p polyraft --features rafttest --example sim -- --seeds $(SEEDS) --start $(START)
