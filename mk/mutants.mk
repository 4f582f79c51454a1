# Mutation testing of the core's Raft rules with cargo-mutants (issue 24).
#
#   make mutants-core                 the full campaign over the rule files
#   make mutants-core SHARD=0/8       one eighth of it (k/n, k from 0)
#   make mutants-core MUTANTS_FILES='core/src/log.rs core/src/quorum/*.rs'
#   make mutants-core-diff            the mutants of the lines changed since
#                                     the merge base with main (in `make test`)
#
# The rule files are MUTANTS_FILES below; the suite is set in
# .cargo/mutants.toml, its runner profile in .config/nextest.toml, its build
# profile in .cargo/config.toml. Mutants that no test can catch because they change no
# behaviour are listed, each with its reason, in core/mutants-equivalent.txt;
# any other missed mutant fails the target. Results: $(MUTANTS_OUT)/mutants.out.

.PHONY: mutants-tools mutants-core mutants-core-diff

# cargo-mutants is pinned to one release (its mutant names and output layout
# change between majors). cargo-nextest, when asked for, is built without
# its self-update feature (which would build a TLS stack, aws-lc, from C).
MUTANTS_VERSION ?= 27.1.0
NEXTEST_VERSION ?= 0.9.151
# cargo-mutants' test runner: cargo (plain `cargo test`), or nextest
# (installed on demand). cargo is the default: the suite runs in 2 s, so
# nextest gains nothing per mutant, while building it from source took over
# 40 min on the shared 2-core machine, beyond the CI budget.
MUTANTS_TEST_TOOL ?= cargo
# Parallel mutant builds; each copies the tree and has its own target/.
MUTANTS_JOBS ?= 1
# More cargo-mutants arguments, e.g. MUTANTS_EXTRA="-F 'log.rs:237:21: '" to
# re-run the mutants named (a regex on their names, line:col included).
# cargo-mutants 27 ignores -F and -E for "delete field" mutants: a
# filtered run still includes them all.
MUTANTS_EXTRA ?=
# k/n: run the k-th of n shards of the campaign (empty: all of it);
# slice: consecutive mutants per shard, round-robin: every n-th (a sample).
SHARD ?=
MUTANTS_SHARDING ?= slice
# The rule files cargo-mutants mutates (globs); narrow it to run a part.
MUTANTS_FILES ?= core/src/raft.rs core/src/raw_node.rs core/src/log.rs core/src/log_unstable.rs \
  core/src/storage.rs core/src/tracker/*.rs core/src/quorum/*.rs core/src/confchange/*.rs \
  core/src/read_only.rs
MUTANTS_OUT ?= $(CURDIR)/target/mutants-core
# The suite's short simulator run and hostile-peer property run: fewer
# seeds and cases than `make test`, the same assertions.
MUTANTS_SIM_SEEDS ?= 40
MUTANTS_HOSTILE_CASES ?= 32
# The in-diff step compares against the merge base with main. In a fresh
# clone of main that is HEAD itself: the diff is empty and the step ends at
# once. Without origin/main (a local clone), main; failing that, HEAD.
MUTANTS_BASE ?= $(shell git merge-base HEAD origin/main 2>/dev/null || git merge-base HEAD main 2>/dev/null || git rev-parse HEAD)
# The rule files, as git pathspecs (keep in step with MUTANTS_FILES).
MUTANTS_RULE_PATHS := core/src/raft.rs core/src/raw_node.rs core/src/log.rs \
  core/src/log_unstable.rs core/src/storage.rs core/src/tracker core/src/quorum \
  core/src/confchange core/src/read_only.rs
# Without a baseline run (the in-diff step), a mutant's tests are ended
# after this many seconds, its build after MUTANTS_BUILD_TIMEOUT.
MUTANTS_TIMEOUT ?= 300
MUTANTS_BUILD_TIMEOUT ?= 600
# At most this many mutants in the in-diff step (about a minute each).
MUTANTS_DIFF_MAX ?= 8

# A comma, for $(call) arguments.
, := ,

MUTANTS_ENV = POLYRAFT_SIM_SEEDS=$(MUTANTS_SIM_SEEDS) POLYRAFT_HOSTILE_CASES=$(MUTANTS_HOSTILE_CASES) \
  NEXTEST_PROFILE=mutants
MUTANTS_ARGS = --test-tool $(MUTANTS_TEST_TOOL) --jobs $(MUTANTS_JOBS) --no-shuffle $(MUTANTS_EXTRA) \
  $(if $(SHARD),--shard $(SHARD) --sharding $(MUTANTS_SHARDING)) $(foreach f,$(MUTANTS_FILES),--file '$(f)')

## mutants-tools: install cargo-mutants (pinned), and cargo-nextest if it is
## the test tool, from
## source when missing or of another version (cargo-mutants took 10 min on
## this shared 2-core machine; see the README for the figures).
mutants-tools:
	@$(CARGO) mutants --version 2>/dev/null | grep -qx 'cargo-mutants $(MUTANTS_VERSION)' || \
	  $(CARGO) install --locked cargo-mutants --version '=$(MUTANTS_VERSION)'
	@[ "$(MUTANTS_TEST_TOOL)" != nextest ] || \
	  $(CARGO) nextest --version 2>/dev/null | grep -q '^cargo-nextest $(NEXTEST_VERSION)' || \
	  $(CARGO) install --locked cargo-nextest --version '=$(NEXTEST_VERSION)' \
	    --no-default-features --features default-no-update

## mutants-core: cargo-mutants over the core's rule files. SHARD=k/n runs a
## part; MUTANTS_FILES restricts the files. Fails on a missed mutant that
## is not listed as equivalent.
mutants-core: mutants-tools
	@mkdir -p $(MUTANTS_OUT)
	$(MUTANTS_ENV) $(CARGO) mutants $(MUTANTS_ARGS) --output $(MUTANTS_OUT) ; \
	  rc=$$?; sh mk/mutants-check.sh $(MUTANTS_OUT)/mutants.out $$rc

## mutants-core-diff: the mutants of the rule-file lines changed since the
## merge base with main (MUTANTS_BASE). Nothing to do, and no tool
## installed, when no rule file changed. A change with more than
## MUTANTS_DIFF_MAX mutants runs an even sample of them (round-robin shard
## 0/k), to stay within the CI budget; `make mutants-core` runs them all.
mutants-core-diff:
	@mkdir -p $(MUTANTS_OUT)-diff
	@git diff $(MUTANTS_BASE) -- $(MUTANTS_RULE_PATHS) > $(MUTANTS_OUT)-diff/changes.diff
	@if [ ! -s $(MUTANTS_OUT)-diff/changes.diff ]; then \
	  echo "mutants-core-diff: no rule file changed since $(MUTANTS_BASE); nothing to mutate"; \
	else \
	  $(MAKE) --no-print-directory mutants-tools || exit 1; \
	  n=$$($(CARGO) mutants $(MUTANTS_ARGS) --in-diff $(MUTANTS_OUT)-diff/changes.diff --list | wc -l); \
	  k=$$(( (n + $(MUTANTS_DIFF_MAX) - 1) / $(MUTANTS_DIFF_MAX) )); \
	  echo "mutants-core-diff: $$n mutants in the change since $(MUTANTS_BASE)"; \
	  if [ "$$n" -eq 0 ]; then exit 0; fi; \
	  if [ "$$k" -gt 1 ]; then echo "mutants-core-diff: testing 1 in $$k (MUTANTS_DIFF_MAX=$(MUTANTS_DIFF_MAX))"; fi; \
	  $(MUTANTS_ENV) $(CARGO) mutants $(MUTANTS_ARGS) --in-diff $(MUTANTS_OUT)-diff/changes.diff \
	    $$([ "$$k" -gt 1 ] && echo --shard 0/$$k --sharding round-robin) \
	    --baseline skip --timeout $(MUTANTS_TIMEOUT) --build-timeout $(MUTANTS_BUILD_TIMEOUT) \
	    --output $(MUTANTS_OUT)-diff; \
	  rc=$$?; sh mk/mutants-check.sh $(MUTANTS_OUT)-diff/mutants.out $$rc; \
	fi

# ---------------------------------------------------------------------------
# The host's engine and its shared log (issue 24, host part).
#
#   make mutants-host-cargo                       the engine, then the log
#   make mutants-host-engine-cargo HOST_ENGINE_FILES=host/src/session.rs
#   make mutants-host-log-cargo SHARD=0/4
#
# Unlike `make mutants-host` (mk/hostsim.mk: three hand-made bugs, each
# caught by the simulator), this is cargo-mutants over the source. The
# suite of an engine mutant: the host's unit tests and in-process tests
# (cluster, faults, witnesses, priorities, the deterministic simulation,
# the tests of host/tests/mutants_*.rs) and the host simulator's tests (its regressions,
# the same-seed runs and the leader disk stall seeds, each checked for
# linearizability, durability and convergence). A mutant of the shared log
# also runs the log's own unit, model and crash tests (a minute more; they
# cannot see an engine mutant, as the log does not depend on the host). The
# TCP/TLS process tests (net_*) are left out: they spawn processes and take
# minutes, and no engine rule depends on the transport. The settings are
# given here (--no-config): .cargo/mutants.toml holds the core's.
HOST_ENGINE_FILES ?= host/src/commit.rs host/src/session.rs host/src/storage.rs \
  host/src/replica.rs host/src/shard.rs host/src/snapshots.rs host/src/snapdata.rs host/src/host.rs
HOST_LOG_FILES ?= logstore/src/*.rs logstore/src/file/*.rs
HOST_MUTANTS_OUT ?= $(CURDIR)/target/mutants-host-cargo
HOST_ENGINE_TESTS ?= cluster faults witness priority sim sim_regressions $(notdir $(basename $(wildcard host/tests/mutants_*.rs)))
HOST_LOG_TESTS ?= $(HOST_ENGINE_TESTS) mem_model file_model file_store crash
# cargo-mutants 27 runs its baseline (the unmutated tree) with the tests of
# the mutated packages only, where the simulator's test targets do not
# exist: the baseline is skipped and the suite's time limit is given (the
# unmutated engine suite passes in about 1 min on the shared machine, the
# log suite in 2 min).
HOST_MUTANTS_TIMEOUT ?= 240
# $(call host_mutants,OUT,FILES,TEST_PACKAGES,TESTS)
host_mutants = $(CARGO) mutants --no-config --test-tool cargo --jobs $(MUTANTS_JOBS) --no-shuffle $(MUTANTS_EXTRA) \
  --package polyraft-host --package polyraft-logstore --test-package $(3) \
  --profile mutants --cargo-arg=--lib $(foreach t,$(4),--cargo-arg=--test --cargo-arg=$(t)) \
  --exclude-re 'impl (fmt::)?(Display|Debug) for' \
  --baseline skip --timeout $(HOST_MUTANTS_TIMEOUT) --build-timeout $(MUTANTS_BUILD_TIMEOUT) \
  $(if $(SHARD),--shard $(SHARD) --sharding $(MUTANTS_SHARDING)) $(foreach f,$(2),--file '$(f)') \
  --output $(1) ; \
  rc=$$?; MUTANTS_EQUIVALENT=host/mutants-equivalent.txt sh mk/mutants-check.sh $(1)/mutants.out $$rc

.PHONY: mutants-host-cargo mutants-host-engine-cargo mutants-host-log-cargo
## mutants-host-cargo: cargo-mutants over the host's engine (HOST_ENGINE_FILES)
## and shared log (HOST_LOG_FILES); SHARD=k/n runs a part of each. Fails on a
## missed mutant not listed in host/mutants-equivalent.txt.
mutants-host-cargo: mutants-host-engine-cargo mutants-host-log-cargo
mutants-host-engine-cargo: mutants-tools
	@mkdir -p $(HOST_MUTANTS_OUT)/engine
	$(call host_mutants,$(HOST_MUTANTS_OUT)/engine,$(HOST_ENGINE_FILES),polyraft-host$(,)polyraft-hostsim,$(HOST_ENGINE_TESTS))
mutants-host-log-cargo: mutants-tools
	@mkdir -p $(HOST_MUTANTS_OUT)/log
	$(call host_mutants,$(HOST_MUTANTS_OUT)/log,$(HOST_LOG_FILES),polyraft-host$(,)polyraft-logstore$(,)polyraft-hostsim,$(HOST_LOG_TESTS))
