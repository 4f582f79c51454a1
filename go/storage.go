package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"sync"
	"unsafe"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Storage (etcd raft's interface, an alias) is how a node reads its
// persisted log and state. Any implementation can be given as
// Config.Storage; the node calls it from inside its own calls, on the
// goroutine driving the node.
//
// Errors: return ErrCompacted, ErrUnavailable or
// ErrSnapshotTemporarilyUnavailable (etcd's values) where etcd allows
// them; any other error makes the node fail (ErrFatal), with the error
// wrapped in what the node call returns. A panic is recovered inside the
// callback and raised again by the node call, on the caller's goroutine,
// once the library returned.

// goStorage is the ctx of the vtable: the user's Storage plus what its
// callbacks left behind during one library call.
type goStorage struct {
	s Storage
	// Set by callbacks, read after the library call returns (same
	// goroutine: callbacks run inside the call).
	panicVal any
	panicked bool
	cause    error
}

func (g *goStorage) begin() { g.panicVal, g.panicked, g.cause = nil, false, nil }

// end returns the panic value of a callback (nil when none panicked) and
// the error that made a callback fail, and resets both.
func (g *goStorage) end() (panicVal any, cause error) {
	if g.panicked {
		pv := g.panicVal
		if pv == nil {
			pv = errors.New("polyraft: storage panicked with nil")
		}
		g.begin()
		return pv, nil
	}
	c := g.cause
	g.begin()
	return nil, c
}

// storageStatus maps a Storage error to a callback status, keeping errors
// that are not storage sentinels as the cause of the node's failure.
func (g *goStorage) status(err error) C.polyraft_storage_status {
	if err == nil {
		return C.POLYRAFT_OK
	}
	switch {
	case errors.Is(err, ErrCompacted) || err.Error() == ErrCompacted.Error():
		return C.POLYRAFT_STORAGE_COMPACTED
	case errors.Is(err, ErrUnavailable) || err.Error() == ErrUnavailable.Error():
		return C.POLYRAFT_STORAGE_UNAVAILABLE
	case errors.Is(err, ErrSnapshotTemporarilyUnavailable) || err.Error() == ErrSnapshotTemporarilyUnavailable.Error():
		return C.POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE
	}
	if g.cause == nil {
		g.cause = err
	}
	return C.POLYRAFT_STORAGE_FAILURE
}

// recoverInto records a panic of a callback; the callback then answers
// POLYRAFT_STORAGE_FAILURE.
func (g *goStorage) recoverInto(st *C.polyraft_storage_status) {
	if r := recover(); r != nil {
		if !g.panicked {
			g.panicked, g.panicVal = true, r
		}
		*st = C.POLYRAFT_STORAGE_FAILURE
	}
}

// ---------------------------------------------------------------------
// MemoryStorage

// MemoryStorage is the library's in-memory storage (etcd's MemoryStorage).
// It is used natively by a RawNode created over it (no callbacks); the
// application appends to it from each Ready. Safe for concurrent use.
// Close frees the handle (nodes created over it keep their own reference).
type MemoryStorage struct {
	mu      sync.Mutex
	h       *C.polyraft_memory_storage
	cleanup runtime.Cleanup
}

// NewMemoryStorage creates an empty memory storage (etcd's). It panics
// only if the library cannot create one (it cannot fail short of running
// out of memory); TryNewMemoryStorage returns that error instead.
func NewMemoryStorage() *MemoryStorage {
	ms, err := TryNewMemoryStorage()
	if err != nil {
		panic(err)
	}
	return ms
}

// TryNewMemoryStorage is NewMemoryStorage returning an error instead of
// panicking.
func TryNewMemoryStorage() (*MemoryStorage, error) {
	ms := &MemoryStorage{}
	if code := C.polyraft_memory_storage_new(&ms.h); code != C.POLYRAFT_OK {
		return nil, newError("new memory storage", codeError(code), resultText(code))
	}
	ms.cleanup = runtime.AddCleanup(ms, func(h *C.polyraft_memory_storage) { C.polyraft_memory_storage_free(h) }, ms.h)
	return ms, nil
}

// Close frees this handle. Closing twice is harmless.
func (ms *MemoryStorage) Close() error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.h != nil {
		ms.cleanup.Stop()
		C.polyraft_memory_storage_free(ms.h)
		ms.h = nil
	}
	return nil
}

// newNode creates a node reading this storage natively (NewRawNode).
func (ms *MemoryStorage) newNode(cc *C.polyraft_config, out **C.polyraft_node) *Error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.h == nil {
		return newError("new raw node", ErrClosed, "memory storage is closed")
	}
	return newNodeCall(func(eb **C.polyraft_buffer) cResult { return C.polyraft_node_new_memory(cc, ms.h, out, eb) })
}

func (ms *MemoryStorage) do(op string, f func(h *C.polyraft_memory_storage) cResult) error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.h == nil {
		return newError(op, ErrClosed, "")
	}
	code := f(ms.h)
	return storageResult(op, code, func(cResult) string { return memoryLastError(ms.h) })
}

// memoryLastError is the handle's detail of its last call.
func memoryLastError(h *C.polyraft_memory_storage) string {
	var buf [1024]C.char
	var n C.size_t
	if C.polyraft_memory_storage_last_error(h, &buf[0], C.size_t(len(buf)), &n) != C.POLYRAFT_OK {
		return ""
	}
	return C.GoStringN(&buf[0], C.int(n))
}

// storageResult converts the code of a storage call: etcd's storage
// sentinels come bare, as etcd's MemoryStorage returns them (callers
// compare them with ==); other failures as an *Error with detail(code).
func storageResult(op string, code cResult, detail func(cResult) string) error {
	switch code {
	case C.POLYRAFT_OK:
		return nil
	case C.POLYRAFT_STORAGE_COMPACTED, C.POLYRAFT_STORAGE_SNAP_OUT_OF_DATE,
		C.POLYRAFT_STORAGE_UNAVAILABLE, C.POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE:
		return codeError(code)
	}
	return newError(op, codeError(code), detail(code))
}

// Append appends entries (copied), overwriting from the first conflicting
// index; entries already compacted are ignored.
func (ms *MemoryStorage) Append(entries []*pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	// The payloads go into one buffer, pinned once (the C array refers to
	// it, and must, since C memory may hold Go pointers only to pinned
	// memory), instead of pinning every entry's data.
	size := 0
	for _, e := range entries {
		size += len(e.GetData())
	}
	buf := make([]byte, 0, size)
	for _, e := range entries {
		buf = append(buf, e.GetData()...)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	var base unsafe.Pointer
	if size > 0 {
		base = unsafe.Pointer(&buf[0])
		pin.Pin(base)
	}
	// The array lives in C memory: cgo's pointer check (on by default)
	// would otherwise inspect every element's data pointer on each call.
	// (cgo's C.malloc never returns nil.)
	cp := (*C.polyraft_entry)(C.malloc(C.size_t(len(entries)) * C.size_t(unsafe.Sizeof(C.polyraft_entry{}))))
	defer C.free(unsafe.Pointer(cp))
	ce := unsafe.Slice(cp, len(entries))
	clear(ce)
	off := 0
	for i, e := range entries {
		ce[i].index = C.uint64_t(e.GetIndex())
		ce[i].term = C.uint64_t(e.GetTerm())
		ce[i].entry_type = C.uint32_t(e.GetType())
		ce[i].type_set = C.bool(e.Type != nil)
		if n := len(e.GetData()); n > 0 {
			ce[i].data = (*C.uint8_t)(unsafe.Add(base, off))
			ce[i].data_len = C.size_t(n)
			off += n
		}
	}
	return ms.do("append", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_append(h, cp, C.size_t(len(ce)))
	})
}

// SetHardState saves the hard state.
func (ms *MemoryStorage) SetHardState(st *pb.HardState) error {
	hs := cHardState(st)
	return ms.do("set hard state", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_set_hard_state(h, &hs)
	})
}

// HardState returns the saved hard state.
func (ms *MemoryStorage) HardState() (*pb.HardState, error) {
	var hs C.polyraft_hard_state
	err := ms.do("hard state", func(h *C.polyraft_memory_storage) cResult {
		hs = C.polyraft_memory_storage_hard_state(h)
		return C.POLYRAFT_OK
	})
	if err != nil {
		return nil, err
	}
	return goHardState(&hs), nil
}

// ApplySnapshot replaces the storage's contents with a snapshot (received
// from the leader, in Ready.Snapshot). ErrSnapOutOfDate if not newer.
func (ms *MemoryStorage) ApplySnapshot(snap *pb.Snapshot) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	cs := cSnapshot(&pin, snap)
	return ms.do("apply snapshot", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_apply_snapshot(h, &cs)
	})
}

// CreateSnapshot makes and keeps a snapshot of the applied state up to i,
// with the configuration cs (nil keeps the previous one) and the
// application's data, and returns it. Compact usually follows.
func (ms *MemoryStorage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	var ccs C.polyraft_conf_state
	pcs := (*C.polyraft_conf_state)(nil)
	if cs != nil {
		ccs = cConfState(&pin, cs)
		pcs = &ccs
	}
	p, n := pinBytes(&pin, data)
	err := ms.do("create snapshot", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_create_snapshot(h, C.uint64_t(i), pcs, p, n)
	})
	if err != nil {
		return nil, err
	}
	return ms.Snapshot()
}

// Compact discards the entries before compactIndex (covered by the
// snapshot). Never compact beyond the applied index.
func (ms *MemoryStorage) Compact(compactIndex uint64) error {
	return ms.do("compact", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_compact(h, C.uint64_t(compactIndex))
	})
}

// FirstIndex returns the index of the first readable entry.
func (ms *MemoryStorage) FirstIndex() (uint64, error) {
	var v C.uint64_t
	err := ms.do("first index", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_first_index(h, &v)
	})
	return uint64(v), err
}

// LastIndex returns the index of the last entry.
func (ms *MemoryStorage) LastIndex() (uint64, error) {
	var v C.uint64_t
	err := ms.do("last index", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_last_index(h, &v)
	})
	return uint64(v), err
}

// Term returns the term of entry i.
func (ms *MemoryStorage) Term(i uint64) (uint64, error) {
	var v C.uint64_t
	err := ms.do("term", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_term(h, C.uint64_t(i), &v)
	})
	return uint64(v), err
}

// Snapshot returns the latest snapshot.
func (ms *MemoryStorage) Snapshot() (*pb.Snapshot, error) {
	var owned *C.polyraft_owned_snapshot
	err := ms.do("snapshot", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_snapshot(h, &owned)
	})
	if err != nil {
		return nil, err
	}
	return ownedSnapshot(owned)
}

// decodeSnapshot decodes a snapshot's raftpb bytes the way etcd's storages
// hand snapshots out: Metadata and its ConfState are always set, even for
// the empty snapshot (whose encoding is empty).
func decodeSnapshot(b []byte) (*pb.Snapshot, error) {
	s := &pb.Snapshot{}
	if err := proto.Unmarshal(b, s); err != nil {
		return nil, &Error{Op: "snapshot", Kind: ErrDecode, Cause: err}
	}
	// raftpb's own rule (etcd's storages apply it to what they return).
	return pb.EnsureSnapshot(s), nil
}

// Entries returns the entries in [lo, hi), limited to maxSize bytes in
// total but at least one (etcd's): ErrCompacted when lo is compacted; an
// error when hi is past the last index + 1 (where etcd's panics).
func (ms *MemoryStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	var owned *C.polyraft_owned_entries
	err := ms.do("entries", func(h *C.polyraft_memory_storage) cResult {
		return C.polyraft_memory_storage_entries(h, C.uint64_t(lo), C.uint64_t(hi), C.uint64_t(maxSize), &owned)
	})
	if err != nil {
		return nil, err
	}
	return ownedEntries(owned), nil
}

// ownedEntries copies and frees a library copy of entries.
func ownedEntries(owned *C.polyraft_owned_entries) []*pb.Entry {
	defer C.polyraft_owned_entries_free(owned)
	var p *C.polyraft_entry
	var n C.size_t
	if C.polyraft_owned_entries_view(owned, &p, &n) != C.POLYRAFT_OK {
		return nil
	}
	return goEntries(p, n)
}

// InitialState returns the saved hard state and the configuration of the
// latest snapshot.
func (ms *MemoryStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	hs, err := ms.HardState()
	if err != nil {
		return nil, nil, err
	}
	s, err := ms.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	cs := s.GetMetadata().GetConfState()
	if cs == nil {
		cs = &pb.ConfState{}
	}
	return hs, cs, nil
}
