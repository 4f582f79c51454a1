//go:build !polyraft_debug && !polyraft_system

package polyraft

// The static library of the release profile (cargo build --release -p
// polyraft-ffi). Build with -tags polyraft_debug to link the debug one.

// #cgo LDFLAGS: ${SRCDIR}/../target/release/libpolyraft.a -lm -ldl -lpthread
import "C"
