# The host transport (transport/, crate polyraft-transport, issue 19):
# mutual-TLS connections between hosts, frames of many groups' messages,
# streamed snapshots, and a fault-injecting proxy.
#
#   make test-transport         all its tests, including a short stable fuzz
#                               loop (2000 cases per property) and a 64 MiB
#                               snapshot with bounded memory (what CI runs).
#   make fuzz-transport         libFuzzer on the wire decoders and the TLS
#                               server handshake for FUZZ_SECONDS (default
#                               3600); needs a nightly toolchain, installs
#                               cargo-fuzz if missing.
#   make fuzz-transport-stable  the proptest fuzz loop for long, on stable:
#                               FUZZ_CASES cases per property (default 2000000).
#   make transport-snapshot-big a SNAPSHOT_MIB (default 1024) MiB snapshot over
#                               TLS, release build; prints time and peak RSS.
#   make transport-processes-big three hosts as three processes over mutual
#                               TLS, then a 300 MiB snapshot between two of
#                               them; prints each process's peak RSS.

.PHONY: test-transport fuzz-transport fuzz-transport-stable transport-snapshot-big transport-processes-big

FUZZ_SECONDS ?= 3600
FUZZ_CASES ?= 2000000
SNAPSHOT_MIB ?= 1024

test-transport:
	$(CARGO) test -p polyraft-transport -- --show-output

fuzz-transport:
	@rustup toolchain list | grep -q '^nightly' || { echo "fuzz-transport needs a nightly toolchain (libFuzzer); make fuzz-transport-stable runs on stable"; exit 1; }
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz run transport_wire -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536

fuzz-transport-stable:
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --release -p polyraft-transport --test fuzz_wire -- --show-output

transport-snapshot-big:
	SNAPSHOT_MIB=$(SNAPSHOT_MIB) $(CARGO) test --release -p polyraft-transport --test snapshot_memory -- --show-output

transport-processes-big:
	SNAPSHOT_MIB=300 $(CARGO) test --release -p polyraft-transport --test processes -- --show-output
