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
