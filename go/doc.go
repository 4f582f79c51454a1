// Package polyraft is etcd raft's API (go.etcd.io/raft/v3, v3.7) over the
// polyraft library, a Rust rewrite of etcd raft, through cgo. It is a
// drop-in: a program written against etcd raft changes its import line
// and nothing else. The types that cross the API are etcd's own (type
// aliases), so a polyraft Node is an etcd raft.Node and its Readys,
// Statuses and errors are etcd's values.
//
// RawNode is driven by the application: Tick, Step, Propose, then take a
// Ready, persist its entries and hard state, send its messages, apply its
// committed entries, and Advance. Node wraps a RawNode in a goroutine with
// etcd's Node interface and etcd's loop. Messages, entries and snapshots
// are etcd's raftpb types (go.etcd.io/raft/v3/raftpb): a polyraft node and
// an etcd raft node exchange the same bytes, so they can run in one
// cluster.
//
// Storage is either one of the library's storages, used natively when
// given as exactly a *MemoryStorage or a *DurableStorage (a checksummed,
// segmented write-ahead log and snapshot files in a directory, recovered
// by OpenDurableStorage and written with PersistReady), or any other
// implementation of Storage (etcd's interface), called back from the
// library. The library's failures never crash the process: a node that
// cannot go on stops and reports why (RawNode.Err, NodeErr), and etcd's
// panicking constructors have error-returning forms (TryStartNode...).
//
// The package links ../target/release/libpolyraft.a (cargo build --release
// -p polyraft-ffi), or ../target/debug/libpolyraft.a with the build tag
// polyraft_debug.
package polyraft
