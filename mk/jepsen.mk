# Jepsen-style tests of real processes (tests/jepsen, a Go module): 3- and
# 5-host clusters of the KV node (host/examples/kvnode.rs) behind a TCP
# proxy on every link, concurrent clients, a nemesis (SIGKILL + restart,
# SIGSTOP, partitions, one-way partitions, leader disk stalls), histories
# checked with porcupine. See tests/jepsen/README.md.

.PHONY: jepsen test-jepsen-short jepsen-stall jepsen-build

# kvnode in release without LTO, in the simulator's target directory:
# test-hostsim builds the same dependencies there with the same settings,
# so `make test` compiles little more than the example itself.
JEPSEN_CARGO_ENV = CARGO_TARGET_DIR=$(CURDIR)/target/hostsim CARGO_PROFILE_RELEASE_LTO=false
JEPSEN_KVNODE = $(CURDIR)/target/hostsim/release/examples/kvnode
JEPSEN_BIN = $(CURDIR)/target/jepsen/jepsen
JEPSEN_OUT ?= $(CURDIR)/target/jepsen/out
RUNS ?= 10
DURATION ?= 60s
JEPSEN_HOSTS ?= 3,5
JEPSEN_NEMESIS ?= kill,pause,partition,split,oneway,stall
JEPSEN_FLAGS ?=

## jepsen-build: kvnode (release) and the harness; the harness's own
## tests (the checker's model finds planted violations).
jepsen-build:
	$(JEPSEN_CARGO_ENV) $(CARGO) build --release -q -p polyraft-host --example kvnode
	cd tests/jepsen && go test -count=1 ./... && go build -o $(JEPSEN_BIN) .

## jepsen: the long campaign: RUNS runs of DURATION, 3 and 5 hosts
## alternating, every nemesis, then the leader disk stall test:
## make jepsen RUNS=10 DURATION=60s. Each run's data dirs, node logs and
## (on a violation) porcupine's visualization are under target/jepsen/out.
jepsen: jepsen-build
	rm -rf $(JEPSEN_OUT)/long
	$(JEPSEN_BIN) -bin $(JEPSEN_KVNODE) -runs $(RUNS) -duration $(DURATION) -hosts $(JEPSEN_HOSTS) \
	  -nemesis $(JEPSEN_NEMESIS) -out $(JEPSEN_OUT)/long $(JEPSEN_FLAGS)
	$(JEPSEN_BIN) -bin $(JEPSEN_KVNODE) -stall-test -out $(JEPSEN_OUT)/long

## test-jepsen-short: one 3-host run of 20 s with a kill, a pause and a
## partition (each at the leader), then the leader disk stall test (in
## `make test`).
test-jepsen-short: jepsen-build
	rm -rf $(JEPSEN_OUT)/short
	$(JEPSEN_BIN) -bin $(JEPSEN_KVNODE) -runs 1 -duration 20s -hosts 3 -nemesis kill,pause,partition \
	  -quiet 1500ms-2500ms -hold 2s-3s -out $(JEPSEN_OUT)/short
	$(JEPSEN_BIN) -bin $(JEPSEN_KVNODE) -stall-test -out $(JEPSEN_OUT)/short

## jepsen-stall: only the leader disk stall test (hashicorp/raft#503).
jepsen-stall: jepsen-build
	rm -rf $(JEPSEN_OUT)/stall
	$(JEPSEN_BIN) -bin $(JEPSEN_KVNODE) -stall-test -out $(JEPSEN_OUT)/stall
