# mk/logstore.mk: the host's shared multi-group log (logstore/).
# Included by the root Makefile; run from the repository root.
#
#   make test-logstore        unit and property tests (MemLogStore against
#                             the core's MemoryStorage, FileLogStore against
#                             MemLogStore across purges and reopens), the
#                             damage test and a short SIGKILL crash test
#                             (25 kills, seconds)
#   make logstore-crash-long  the crash test with LOGSTORE_KILLS SIGKILLs
#                             (default 250), release build
#   make logstore-bench       group commit: fsyncs/s and entries per fsync
#                             with 1, 10, 100 and 1,000 writer groups, and
#                             the index's memory per idle group

CARGO ?= cargo
LOGSTORE_KILLS ?= 250

.PHONY: test-logstore logstore-crash-long logstore-bench

## test-logstore: the shared log's tests, with a 25-kill crash test.
test-logstore:
	$(CARGO) test -p polyraft-logstore -- --show-output

## logstore-crash-long: the shared log's crash test, LOGSTORE_KILLS kills.
logstore-crash-long:
	POLYRAFT_LOG_CRASH_KILLS=$(LOGSTORE_KILLS) $(CARGO) test --release -p polyraft-logstore \
	  --test crash -- --exact sigkill_crashes --show-output

## logstore-bench: group commit figures and memory per idle group.
logstore-bench:
	$(CARGO) run --release -q -p polyraft-logstore --example group_commit
