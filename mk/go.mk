# mk/go.mk: the Go package (go/), cgo over libpolyraft.
# Included by the root Makefile; run from the repository root.
#
#   make test-go         build libpolyraft (dev profile), then in go/:
#                        go vet, go test -race (the differential test runs
#                        its 500 seeds there), and a run under
#                        GOEXPERIMENT=cgocheck2 (500 seeds again)
#   make go-etcdcompat   etcd raft's own public-API tests (rafttest, and
#                        node_test.go, rawnode_test.go, example_test.go),
#                        fetched from the module cache at test time, run
#                        against etcd (baseline) and against polyraft with
#                        the import swapped, under -race and cgocheck2
#   make go-lib-release  the release library that a plain `go build` links
#
# The tests link target/debug/libpolyraft.a (build tag polyraft_debug): the
# dev build is the one the C tests build anyway, and the Go suite runs in
# seconds on it, while a release (LTO) build would add about a minute.
# Without the tag, the package links target/release/libpolyraft.a.

CARGO ?= cargo
GO ?= go
GO_ROOT := $(CURDIR)
GO_DIR := $(GO_ROOT)/go
GO_TAGS ?= polyraft_debug
# Extra flags for go test, e.g. GO_TEST_FLAGS=-v
GO_TEST_FLAGS ?=

.PHONY: test-go go-lib go-lib-release go-vet go-test-race go-test-cgocheck2 go-etcdcompat

## test-go: the Go package: vet, race detector (interop, differential over
## 500 seeds, Node, storage), cgocheck2, and etcd's own public-API tests.
test-go: go-vet go-test-race go-test-cgocheck2 go-etcdcompat
	@echo "test-go: go vet, go test -race, GOEXPERIMENT=cgocheck2 and etcd's public-API tests passed"

go-lib:
	$(CARGO) build -p polyraft-ffi

go-lib-release:
	$(CARGO) build --release -p polyraft-ffi

go-vet: go-lib
	cd $(GO_DIR) && $(GO) vet -tags $(GO_TAGS) ./...

go-test-race: go-vet
	cd $(GO_DIR) && $(GO) test -tags $(GO_TAGS) -race -count=1 $(GO_TEST_FLAGS) ./...

go-test-cgocheck2: go-test-race
	cd $(GO_DIR) && GOEXPERIMENT=cgocheck2 $(GO) test -tags $(GO_TAGS) -count=1 $(GO_TEST_FLAGS) ./...

# Needs the network or a filled module cache (go mod download of etcd raft
# v3.7.0 and its test dependencies).
go-etcdcompat: go-lib
	cd $(GO_DIR) && $(GO) run -tags $(GO_TAGS) ./etcdcompat -tags $(GO_TAGS)
