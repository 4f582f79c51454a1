//go:build polyraft_system && !polyraft_debug

package polyraft

// The installed library, found through pkg-config (polyraft.pc, written by
// `make install-c`): the build of a user who fetched this module with
// `go get` and has no polyraft checkout next to it. See the README, "Build".

// #cgo pkg-config: polyraft
import "C"
