# The demo (issue 20): a replicated key-value store in Python on
# polyraft.Host (examples/kv-host), one host per process, mutual TLS
# between hosts, keys sharded over 16 raft groups. Included from the root
# Makefile after mk/py.mk (it includes mk/py.mk itself when used alone:
# make -f mk/demo.mk demo).
#
#   make demo        build and install the wheel into the venv, as test-py
#                    does, then run examples/kv-host/kvdemo.py: 3 processes,
#                    writes and reads through every host, a retried PUT
#                    applied once, SIGKILL of the busiest leader and
#                    failover, restart and catch-up by snapshot, a fourth
#                    host joining a group and another leaving it. One line
#                    per step; exit status 0 on success.
#   make test-mixed  one cluster of a Python, a Go and a C KV node (three
#                    processes, mutual TLS): examples/kv-host/mixed.py.
#
# DEMO_ARGS passes options to kvdemo.py (e.g. DEMO_ARGS=--keep to keep the
# data directories and the hosts' logs).

DEMO_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
ifeq ($(PY_BIN),)
include $(DEMO_MK_DIR)py.mk
endif

DEMO_ARGS ?=
DEMO_OUT := $(PY_ROOT)/target/demo
DEMO_CC ?= cc
DEMO_GO ?= go

.PHONY: demo test-mixed demo-nodes

demo: install-py
	cd $(PY_ROOT) && $(PY_ENV) $(PY_BIN)/python examples/kv-host/kvdemo.py $(DEMO_ARGS)

# The Go and C KV nodes, linked against the dev-profile libpolyraft.
demo-nodes:
	cd $(PY_ROOT) && cargo build -p polyraft-ffi
	mkdir -p $(DEMO_OUT)
	$(DEMO_CC) -std=c99 -Wall -Wextra -Werror -pedantic -I$(PY_ROOT)/include $(PY_ROOT)/examples/kv-c/kv.c \
		-o $(DEMO_OUT)/kv-c -L$(PY_ROOT)/target/debug -Wl,-rpath,$(PY_ROOT)/target/debug -lpolyraft -lpthread
	cd $(PY_ROOT)/examples/kv-go && $(DEMO_GO) build -tags polyraft_debug -o $(DEMO_OUT)/kv-go .

test-mixed: install-py demo-nodes
	cd $(PY_ROOT) && $(PY_ENV) $(PY_BIN)/python examples/kv-host/mixed.py \
		--go-node $(DEMO_OUT)/kv-go --c-node $(DEMO_OUT)/kv-c
