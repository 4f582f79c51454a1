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

MUTANTS_ENV = POLYRAFT_SIM_SEEDS=$(MUTANTS_SIM_SEEDS) POLYRAFT_HOSTILE_CASES=$(MUTANTS_HOSTILE_CASES) \
  NEXTEST_PROFILE=mutants
MUTANTS_ARGS = --test-tool $(MUTANTS_TEST_TOOL) --jobs $(MUTANTS_JOBS) --no-shuffle \
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
