# W3 of the benchmarks: the W1 loop (B=64, P=128, wire, per-entry propose)
# driven through each binding. Included from the root Makefile, after
# mk/bench.mk.
#
#   make bench-w3-build  the release libpolyraft.a, the C driver (-O2, linked
#                        statically), a release wheel in its own venv, and
#                        bench-go with the cgo implementation
#   make bench-w3-smoke  each driver once with N = 20,000 (applied must
#                        reach N), in seconds
#
# The drivers are named by POLYRAFT_W3_C / _PY / _GO (exported here unless
# already set), so `make bench` and `make bench-smoke` put W3 rows in the
# table (bench/README.md, "W3"). Set one to the empty string to leave that
# binding out.

CARGO ?= cargo
GO ?= go
CC ?= cc
PYTHON ?= python3

W3_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
W3_OUT := $(W3_ROOT)/target/w3
W3_LIB := $(W3_ROOT)/target/release/libpolyraft.a
W3_C := $(W3_OUT)/w1-c
W3_VENV := $(W3_OUT)/venv-py
W3_WHEELS := $(W3_OUT)/wheels
W3_GO := $(W3_ROOT)/bench/go/bench-go
# The static library's system dependencies (rustc --print native-static-libs).
W3_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
W3_SMOKE_N := 20000

export POLYRAFT_W3_C ?= $(W3_C)
export POLYRAFT_W3_PY ?= $(W3_VENV)/bin/python $(W3_ROOT)/bench/w3/w1.py
export POLYRAFT_W3_GO ?= $(W3_GO)

.PHONY: bench-w3-build bench-w3-lib bench-w3-c bench-w3-py bench-w3-go bench-w3-smoke

# bench-go links libpolyraft.a now (its polyraft implementation), and the
# W3 rows need every driver.
bench-build: bench-w3-lib
bench bench-smoke: bench-w3-build

## bench-w3-build: every W3 driver, over release builds.
bench-w3-build: bench-w3-c bench-w3-py bench-w3-go

bench-w3-lib:
	$(CARGO) build --release -p polyraft-ffi

bench-w3-c: bench-w3-lib
	@mkdir -p $(W3_OUT)
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I$(W3_ROOT)/include \
		$(W3_ROOT)/bench/w3/w1.c $(W3_LIB) $(W3_STATIC_LIBS) -o $(W3_C)

# The wheel of mk/py.mk is a dev build: this one is release, in a venv of
# its own so that the test venv keeps its wheel.
$(W3_VENV)/.maturin: $(W3_ROOT)/python/requirements-dev.txt
	@test -x $(W3_VENV)/bin/python || $(PYTHON) -m venv $(W3_VENV)
	$(W3_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		$$(grep '^maturin' $(W3_ROOT)/python/requirements-dev.txt)
	@touch $@

bench-w3-py: $(W3_VENV)/.maturin
	@rm -f $(W3_WHEELS)/polyraft-*.whl
	cd $(W3_ROOT)/python && $(W3_VENV)/bin/maturin build --release --quiet --out $(W3_WHEELS)
	$(W3_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
		$(W3_WHEELS)/polyraft-*.whl

# The go command does not notice a rebuilt libpolyraft.a (named in #cgo
# LDFLAGS): a link-time variable holding its digest makes it link again.
bench-w3-go: bench-w3-lib
	cd $(W3_ROOT)/bench/go && $(GO) build \
		-ldflags "-X main.libStamp=$$(md5sum $(W3_LIB) | cut -c1-32)" -o bench-go .

## bench-w3-smoke: each binding's driver once with tiny N.
bench-w3-smoke: bench-w3-build
	@fail=0; for d in "$(W3_C)" "$(W3_VENV)/bin/python $(W3_ROOT)/bench/w3/w1.py" "$(W3_GO)"; do \
	  out=$$($$d --impl polyraft --w W1 --voters 3 --n $(W3_SMOKE_N) --b 64 --p 128 --mode entry --wire 1) || { echo "FAILED: $$d"; fail=1; continue; }; \
	  if printf '%s' "$$out" | $(PYTHON) -c 'import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); n=$(W3_SMOKE_N); sys.exit(0 if n <= r["applied"] < n + 64 and r["elapsed_ns"] > 0 and r["msgs"] > 0 and r["rss_kb"] > 0 else 1)'; then \
	    echo "ok: $$d: $$out"; \
	  else echo "FAILED: $$d: $$out"; fail=1; fi; \
	done; exit $$fail
