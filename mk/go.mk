# mk/go.mk: the Go package (go/), cgo over libpolyraft.
# Included by the root Makefile; run from the repository root.
#
#   make test-go         build libpolyraft (dev profile), then in go/:
#                        go vet, go test -race (the differential test runs
#                        its 500 seeds there), and a run under
#                        GOEXPERIMENT=cgocheck2 (500 seeds again)
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

.PHONY: test-go go-lib go-lib-release go-vet go-test-race go-test-cgocheck2

## test-go: the Go package: vet, race detector (interop, differential over
## 500 seeds, Node, storage), and cgocheck2.
test-go: go-vet go-test-race go-test-cgocheck2
	@echo "test-go: go vet, go test -race and GOEXPERIMENT=cgocheck2 passed"

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
