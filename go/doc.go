// Package polyraft is etcd raft's API (go.etcd.io/raft/v3, v3.7 semantics)
// over the polyraft library, a Rust rewrite of etcd raft, through cgo.
//
// RawNode is driven by the application: Tick, Step, Propose, then take a
// Ready, persist its entries and hard state, send its messages, apply its
// committed entries, and Advance. Node wraps a RawNode in a goroutine with
// etcd's Node interface. Messages, entries and snapshots are etcd's raftpb
// types (go.etcd.io/raft/v3/raftpb): a polyraft node and an etcd raft node
// exchange the same bytes, so they can run in one cluster.
//
// Storage is either the library's MemoryStorage, used natively, or any Go
// implementation of Storage (etcd's interface), called back from the
// library. The library's failures never crash the process: a node that
// cannot go on reports ErrFatal and refuses further work.
//
// The package links ../target/release/libpolyraft.a (cargo build --release
// -p polyraft-ffi), or ../target/debug/libpolyraft.a with the build tag
// polyraft_debug.
package polyraft
