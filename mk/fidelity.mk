# mk/fidelity.mk: fidelity with etcd and robustness against hostile peers.
# Included by the root Makefile; run from the repository root.
#
#   make test-fidelity   the divergence scripts (etcd v3.7.0's output on
#                        scenarios where polyraft once differed), read from
#                        POLYRAFT_DIVERGENCES_DIR, and a short hostile-peer
#                        property run (seconds)
#   make fuzz-hostile    the long hostile-peer run (release, stable toolchain):
#                        HOSTILE_SECS=3600 (default), HOSTILE_SEED=1; a
#                        finding prints its input, replayed with
#                        target/release/examples/hostile --replay HEX
#                        (POLYRAFT_HOSTILE_TRACE=1 traces it). With cargo-fuzz
#                        and nightly, the same harness is the fuzz target
#                        hostile_peer: cd fuzz && cargo +nightly fuzz run hostile_peer

CARGO ?= cargo
# The divergence scripts live beside the checkout, never in it.
POLYRAFT_DIVERGENCES_DIR ?= $(abspath $(CURDIR)/../shared/conformance/divergences)
export POLYRAFT_DIVERGENCES_DIR
HOSTILE_SECS ?= 3600
HOSTILE_SEED ?= 1

.PHONY: test-fidelity fuzz-hostile

## test-fidelity: divergence scripts and a short hostile-peer run.
test-fidelity:
	@test -d "$(POLYRAFT_DIVERGENCES_DIR)" || { echo "divergence scripts not found at $(POLYRAFT_DIVERGENCES_DIR) (set POLYRAFT_DIVERGENCES_DIR)"; exit 1; }
	$(CARGO) test -p polyraft --features rafttest --test interaction --test hostile_input --test hostile_peer -- --show-output

## fuzz-hostile: forged peer messages against a running cluster, long.
fuzz-hostile:
	$(CARGO) run --release -q -p polyraft --features rafttest --example hostile -- --secs $(HOSTILE_SECS) --seed $(HOSTILE_SEED)
