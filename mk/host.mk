# The host runtime (host/, crate polyraft-host): many raft groups per
# process over the shared log.

.PHONY: test-host host-idle host-group-commit

## test-host: the host's tests (3 hosts x 100 groups in process, the
## deterministic simulation, unit tests).
test-host:
	$(CARGO) test -p polyraft-host

## host-idle: CPU cost of 10,000 quiesced groups on one host (release).
host-idle:
	$(CARGO) run --release -q -p polyraft-host --example idle

## host-group-commit: fsyncs per second and entries per fsync with 1, 10,
## 100 and 1,000 active groups (3 hosts in process, logs on disk; release).
host-group-commit:
	$(CARGO) run --release -q -p polyraft-host --example group_commit -- 5 1 10 100 1000

.PHONY: test-host-net host-net-big

## test-host-net: the host on the TCP/mutual-TLS transport: 3 kvnode
## processes + a 4th joining by a 32 MiB streamed snapshot, the fault proxy
## between real hosts, forged identities (also part of test-host).
test-host-net:
	$(CARGO) test -p polyraft-host --test net_processes --test net_faults --test net_security -- --nocapture

## host-net-big: the process test with a 300 MiB snapshot streamed to the
## 4th host (release); prints the receiver's peak RSS.
host-net-big:
	SNAPSHOT_MIB=300 $(CARGO) test --release -p polyraft-host --test net_processes -- --nocapture
