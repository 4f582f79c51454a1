//go:build polyraft_debug

package host

// The static library of the dev profile (cargo build -p polyraft-ffi).

// #cgo LDFLAGS: ${SRCDIR}/../../target/debug/libpolyraft.a -lm -ldl -lpthread
import "C"
