//go:build polyraft_debug

package polyraft

// The static library of the dev profile (cargo build -p polyraft-ffi).

// #cgo LDFLAGS: ${SRCDIR}/../target/debug/libpolyraft.a -lm -ldl -lpthread
import "C"
