# The host simulator (hostsim/, crate polyraft-hostsim): whole clusters of
# hosts in one thread, seeded faults, a KV workload with sessions, and a
# linearizability checker.

.PHONY: test-hostsim sim-host mutants-host

# Release without LTO in its own target directory: a quick build that does
# not invalidate the main release build.
HOSTSIM_ENV = CARGO_TARGET_DIR=$(CURDIR)/target/hostsim CARGO_PROFILE_RELEASE_LTO=false
HOSTSIM_RUN = $(CARGO) run --release -q -p polyraft-hostsim --bin sim_host --
HOSTSIM_SEEDS ?= 500

## test-hostsim: the simulator's own tests (checker, state machine,
## regressions, leader stall) and 500 simulator seeds (release). The
## hosts' log lines (stderr) are dropped; results and violations, with
## the seed and the command that replays it, are on stdout.
test-hostsim:
	$(HOSTSIM_ENV) $(CARGO) test --release -q -p polyraft-hostsim
	$(HOSTSIM_ENV) $(HOSTSIM_RUN) --seeds $(HOSTSIM_SEEDS) 2>/dev/null

## sim-host: many simulator seeds: make sim-host SEEDS=20000 START=0
sim-host:
	$(HOSTSIM_ENV) $(HOSTSIM_RUN) --seeds $(SEEDS) --start $(START) 2>/dev/null

## mutants-host: builds the host three times, each with one host-level bug
## (no fsync before acknowledging; the last two committed entries applied
## out of order; the session table not restored from snapshots), and
## prints the first seed at which the simulator catches each. A surviving
## mutant fails the target.
HOST_MUTANTS ?= ack_before_fsync apply_out_of_order no_session_restore
HOST_MUTANT_SEEDS ?= 1000
mutants-host:
	@survived=0; for m in $(HOST_MUTANTS); do \
	  out=$$(RUSTFLAGS="--cfg polyraft_host_mutant=\"$$m\"" CARGO_TARGET_DIR=$(CURDIR)/target/mutants-host \
	    CARGO_PROFILE_RELEASE_LTO=false $(HOSTSIM_RUN) --seeds $(HOST_MUTANT_SEEDS) 2>/dev/null); \
	  seed=$$(printf '%s\n' "$$out" | sed -n 's/^seed \([0-9]*\) (.*/\1/p' | head -n1); \
	  if [ -n "$$seed" ]; then \
	    echo "host mutant $$m: caught at seed $$seed ($$((seed + 1)) seeds)"; \
	    printf '%s\n' "$$out" | grep -A1 -m1 '^seed '; \
	  else echo "host mutant $$m: SURVIVED $(HOST_MUTANT_SEEDS) seeds"; survived=1; fi; \
	done; exit $$survived
