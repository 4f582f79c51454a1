# The demo (issue 10): a 3-node replicated key-value store in Python
# (examples/kv) on polyraft's DurableStorage, over loopback TCP. Included
# from the root Makefile after mk/py.mk (it includes mk/py.mk itself when
# used alone: make -f mk/demo.mk demo).
#
#   make demo   build and install the wheel into the venv, as test-py does,
#               then run examples/kv/demo.py: election, replication, reads
#               through ReadIndex, SIGKILL of the leader, failover, restart
#               and catch-up of the old leader. Exit status 0 on success.
#
# DEMO_ARGS passes options to demo.py (e.g. DEMO_ARGS=--keep to keep the
# data directories and node logs).

DEMO_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
ifeq ($(PY_BIN),)
include $(DEMO_MK_DIR)py.mk
endif

DEMO_ARGS ?=

.PHONY: demo

demo: install-py
	cd $(PY_ROOT) && $(PY_ENV) $(PY_BIN)/python examples/kv/demo.py $(DEMO_ARGS)
