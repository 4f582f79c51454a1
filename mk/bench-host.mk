# W4/W5 of the benchmarks: the host end to end, against hashicorp/raft,
# canonical/raft and PySyncObj (bench/README.md, "W4/W5: the host end to
# end"). Included from the root Makefile, after mk/bench-w3.mk (whose
# release library and release wheel the runners share).
#
#   make bench-host        every runner at concurrency 1, 64 and 1,024 (TLS
#                          off and on), the machine's limits, W5 at 1 to
#                          10,000 groups; writes bench/results-host.json
#   make bench-host-smoke  each runner once, 1 s, concurrency 1 and 64, W5
#                          with 10 groups; fails unless every result is sane
#
# The references are installed by bench/host/install-refs.sh (run by the
# driver when bench/host/refs/bin is empty).

CARGO ?= cargo
GO ?= go
CC ?= cc
PYTHON ?= python3

BH_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BH_OUT := $(BH_ROOT)/target/bench-host
BH_LIB := $(BH_ROOT)/target/release/libpolyraft.a
BH_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: bench-host bench-host-smoke bench-host-build bench-host-rust bench-host-c bench-host-go

## bench-host-build: the four polyraft runners over release builds (the
## Rust example, the C and Go runners on the release libpolyraft.a, the
## Python one on mk/bench-w3.mk's release wheel).
bench-host-build: bench-host-rust bench-host-c bench-host-go bench-w3-py

bench-host-rust:
	$(CARGO) build --release -q -p polyraft-host --example bench_host

bench-host-c: bench-w3-lib
	@mkdir -p $(BH_OUT)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I$(BH_ROOT)/include \
		$(BH_ROOT)/bench/host/c/w4.c $(BH_LIB) $(BH_STATIC_LIBS) -o $(BH_OUT)/w4-c

# The go command does not notice a rebuilt libpolyraft.a: the digest in a
# link-time variable makes it link again (as mk/bench-w3.mk).
bench-host-go: bench-w3-lib
	@mkdir -p $(BH_OUT)
	cd $(BH_ROOT)/bench/host/go && $(GO) build \
		-ldflags "-X main.libStamp=$$(md5sum $(BH_LIB) | cut -c1-32)" -o $(BH_OUT)/w4-go .

## bench-host: W4 and W5 in full (about 25 minutes); bench/results-host.json.
bench-host: bench-host-build
	$(PYTHON) $(BH_ROOT)/bench/host/run.py

## bench-host-smoke: every runner once, tiny; fails on any insane result.
bench-host-smoke: bench-host-build
	$(PYTHON) $(BH_ROOT)/bench/host/run.py --smoke
