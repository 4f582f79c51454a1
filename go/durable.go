package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"syscall"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// DurableOptions are the options of OpenDurableStorage. The zero value (or
// a nil *DurableOptions) means the defaults.
type DurableOptions struct {
	// SegmentBytes: a segment file is closed (fsynced) and the next one
	// started once it holds at least this many bytes. Smaller segments
	// let compaction free disk space sooner. 0: 64 MiB (etcd's).
	SegmentBytes uint64
}

// RecoveryReport is what OpenDurableStorage found in the directory and did
// to it.
type RecoveryReport struct {
	// Created: the directory held no log yet; a new, empty storage was
	// created (bootstrap the node).
	Created bool
	// Segments is the number of segment files read.
	Segments uint64
	// Records is the number of WAL records replayed.
	Records uint64
	// Truncated: a torn or corrupt tail was cut off the last segment (what
	// remained of a write interrupted by a crash; it had not been
	// acknowledged, so nothing acknowledged was lost).
	Truncated bool
	// TruncatedOffset is where the cut tail started (the segment's new
	// length); 0 unless Truncated.
	TruncatedOffset uint64
	// DroppedBytes is the number of bytes cut off; 0 unless Truncated.
	DroppedBytes uint64
	// TruncationReason says why the tail was cut ("checksum mismatch", an
	// incomplete record...); empty unless Truncated.
	TruncationReason string
	// TruncatedSegment is the path of the segment file that was cut;
	// empty unless Truncated.
	TruncatedSegment string
	// RemovedFiles counts leftover files removed (temporary files of
	// interrupted writes, snapshot files no WAL record names).
	RemovedFiles uint64
	// SnapshotIndex is the index of the recovered snapshot (0 if none). A
	// restarting application restores its state machine from Snapshot()
	// and sets Config.Applied to this index (or higher, if its state
	// machine is itself durable).
	SnapshotIndex uint64
	// FirstIndex is the first index of the recovered log (SnapshotIndex+1).
	FirstIndex uint64
	// LastIndex is the last index of the recovered log.
	LastIndex uint64
}

// DurableStats are the disk work counters of a DurableStorage since it was
// opened.
type DurableStats struct {
	// Fsyncs counts every fsync/fdatasync issued, on files and directories.
	Fsyncs uint64
	// DirFsyncs counts the directory fsyncs among them (file creation and
	// deletion).
	DirFsyncs uint64
	// BytesWritten counts the bytes written to segment and snapshot files.
	BytesWritten uint64
	// Readies counts the Readies and MsgStorageAppend messages persisted
	// (Fsyncs / Readies is the fsyncs per Ready).
	Readies uint64
	// SegmentsCreated counts the segment files created.
	SegmentsCreated uint64
	// SegmentsDeleted counts the segment files deleted by compaction.
	SegmentsDeleted uint64
	// Segments is the number of segment files now in the directory.
	Segments uint64
}

// DurableStorage is the library's durable raft log in one directory: a
// segmented write-ahead log of checksummed records (fsynced before a write
// is acknowledged) plus snapshot files written atomically, also kept in
// memory so that reads never touch the disk.
//
// Give it as Config.Storage: the node reads it natively (no callbacks),
// through its own reference, while the application writes to it, most
// simply with PersistReady for each Ready before sending its messages.
// Every write method is durable when it returns.
//
// Safe for concurrent use. One DurableStorage per directory at a time:
// close it and every node created over it before opening the directory
// again (this is not enforced). Close releases this handle; the files stay
// open until the nodes over the storage are closed too. A cleanup releases
// a handle that becomes unreachable without Close, but only as a safety
// net: close it.
//
// Errors: an operating system failure (a full disk, a failed fsync...)
// matches ErrIO, and the storage then refuses every write (what reached
// the disk is unknown): close the node and the storage and reopen the
// directory. Damage found when opening matches ErrCorrupt. The other
// errors are the memory storage's (ErrCompacted, ErrSnapOutOfDate...).
type DurableStorage struct {
	// mu guards h (Close takes it exclusively); the library locks the
	// storage itself, so calls only share it.
	mu      sync.RWMutex
	h       *C.polyraft_durable_storage
	dir     string
	report  RecoveryReport
	cleanup runtime.Cleanup
}

// durableCall converts the result of a polyraft_durable_storage_* call on
// handle h (nil for open, whose detail comes in openErr): the detail, and
// the errno of an operating-system failure (errors.As to syscall.Errno).
func durableCall(op string, h *C.polyraft_durable_storage, openErr *C.polyraft_buffer, code cResult) error {
	if code == C.POLYRAFT_OK {
		return nil
	}
	detail, errno := takeErrorText(openErr), 0
	if h != nil {
		var buf [1024]C.char
		var n C.size_t
		if C.polyraft_durable_storage_last_error(h, &buf[0], C.size_t(len(buf)), &n) == C.POLYRAFT_OK {
			detail = C.GoStringN(&buf[0], C.int(n))
		}
		errno = int(C.polyraft_durable_storage_last_errno(h))
	}
	if detail == "" {
		detail = resultText(code)
	}
	err := storageResult(op, code, func(cResult) string { return detail })
	if e, ok := err.(*Error); ok && errno != 0 {
		e.Errno = syscall.Errno(errno)
	}
	return err
}

// OpenDurableStorage opens the durable storage in directory dir (created,
// with its missing parents, if needed) and recovers its state: it replays
// every segment, cuts a torn tail off the last one, loads the current
// snapshot and removes leftover files. opts may be nil. RecoveryReport
// tells what it found.
//
// A new storage (RecoveryReport().Created) is empty: create a node over it
// and Bootstrap it (or give it a configuration with BootstrapConfState
// first). A recovered one is restarted from: restore the state machine from
// Snapshot(), create the node with Config.Applied set to the report's
// SnapshotIndex; the committed entries after it come out again in the
// node's Readies.
//
// Errors match ErrInvalidArgument (an empty path, or one holding a NUL),
// ErrIO (the directory cannot be created or read, a file cannot be
// opened...) or ErrCorrupt (damage recovery must not repair, such as a bad
// record in a closed segment or a missing snapshot: the files are left as
// they are, for inspection); the detail names the file and the cause.
func OpenDurableStorage(dir string, opts *DurableOptions) (*DurableStorage, error) {
	var co C.polyraft_durable_options
	C.polyraft_durable_options_init(&co)
	if opts != nil {
		co.segment_bytes = C.uint64_t(opts.SegmentBytes)
	}
	ds := &DurableStorage{dir: dir}
	var rep C.polyraft_recovery_report
	b := []byte(dir)
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, b)
	if p == nil {
		// A non-NULL pointer, so that the library reports the empty
		// path rather than a NULL parameter.
		var z C.uint8_t
		p = &z
	}
	var eb *C.polyraft_buffer
	code := C.polyraft_durable_storage_open_len(p, n, &co, &ds.h, &rep, &eb)
	err := durableCall("open durable storage", nil, eb, code)
	if err != nil {
		return nil, err
	}
	ds.report = RecoveryReport{
		Created:         bool(rep.created),
		Segments:        uint64(rep.segments),
		Records:         uint64(rep.records),
		Truncated:       bool(rep.truncated),
		TruncatedOffset: uint64(rep.truncated_offset),
		DroppedBytes:    uint64(rep.dropped_bytes),
		RemovedFiles:    uint64(rep.removed_files),
		SnapshotIndex:   uint64(rep.snapshot_index),
		FirstIndex:      uint64(rep.first_index),
		LastIndex:       uint64(rep.last_index),
	}
	if ds.report.Truncated {
		ds.report.TruncationReason = ds.text(func(buf *C.char, n C.size_t, w *C.size_t) cResult {
			return C.polyraft_durable_storage_truncation_reason(ds.h, buf, n, w)
		})
		ds.report.TruncatedSegment = ds.text(func(buf *C.char, n C.size_t, w *C.size_t) cResult {
			return C.polyraft_durable_storage_truncated_segment(ds.h, buf, n, w)
		})
	}
	ds.cleanup = runtime.AddCleanup(ds, func(h *C.polyraft_durable_storage) { C.polyraft_durable_storage_free(h) }, ds.h)
	return ds, nil
}

// text reads one of the storage's texts (truncated to 4 KiB).
func (ds *DurableStorage) text(f func(buf *C.char, n C.size_t, w *C.size_t) cResult) string {
	var buf [4096]C.char
	var w C.size_t
	if f(&buf[0], C.size_t(len(buf)), &w) != C.POLYRAFT_OK {
		return ""
	}
	return C.GoStringN(&buf[0], C.int(w))
}

// Dir returns the directory given to OpenDurableStorage.
func (ds *DurableStorage) Dir() string { return ds.dir }

// RecoveryReport returns what OpenDurableStorage found and did. It stays
// available after Close.
func (ds *DurableStorage) RecoveryReport() RecoveryReport { return ds.report }

// Close releases this handle. Every write the storage acknowledged is
// already on disk; the files are closed once the nodes created over the
// storage are closed too. Later calls return an error matching ErrClosed.
// Closing twice is harmless.
func (ds *DurableStorage) Close() error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.h != nil {
		ds.cleanup.Stop()
		C.polyraft_durable_storage_free(ds.h)
		ds.h = nil
	}
	return nil
}

func (ds *DurableStorage) do(op string, f func(h *C.polyraft_durable_storage) cResult) error {
	ds.mu.RLock()
	defer ds.mu.RUnlock()
	if ds.h == nil {
		return newError(op, ErrClosed, "durable storage is closed")
	}
	return durableCall(op, ds.h, nil, f(ds.h))
}

// newNode creates a node reading this storage natively (NewRawNode).
func (ds *DurableStorage) newNode(cc *C.polyraft_config, out **C.polyraft_node) *Error {
	ds.mu.RLock()
	defer ds.mu.RUnlock()
	if ds.h == nil {
		return newError("new raw node", ErrClosed, "durable storage is closed")
	}
	return newNodeCall(func(eb **C.polyraft_buffer) cResult { return C.polyraft_node_new_durable(cc, ds.h, out, eb) })
}

// PersistReady persists a Ready of a RawNode or Node created over this
// storage: its snapshot, entries and hard state, in that order, in one
// write, then one fsync when rd.MustSync is set or it carries a snapshot
// (a Ready that only moves the commit index is written without syncing,
// etcd's rule). Call it first when handling a Ready, before sending
// rd.Messages; then restore the state machine from rd.Snapshot if there is
// one, apply rd.CommittedEntries and Advance. With AsyncStorageWrites the
// Ready carries nothing to persist: use PersistStorageAppend on its
// MsgStorageAppend instead.
//
// An error matching ErrIO means the state is not durable: do not send the
// messages; close the node and the storage and restart from the directory.
func (ds *DurableStorage) PersistReady(rd Ready) error {
	// The Ready's state is exactly a MsgStorageAppend's: one write path.
	m := &pb.Message{Type: pb.MsgStorageAppend.Enum(), Entries: rd.Entries}
	if hs := rd.HardState; !IsEmptyHardState(hs) {
		m.Term, m.Vote, m.Commit = new(hs.GetTerm()), new(hs.GetVote()), new(hs.GetCommit())
	}
	if !IsEmptySnap(rd.Snapshot) {
		m.Snapshot = rd.Snapshot
	}
	if len(m.Entries) == 0 && m.Term == nil && m.Snapshot == nil {
		return nil
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return &Error{Op: "persist ready", Kind: ErrInvalidArgument, Cause: err}
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, b)
	return ds.do("persist ready", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_persist_storage_append(h, p, n)
	})
}

// PersistStorageAppend persists a MsgStorageAppend (async storage writes:
// a message of a Ready addressed to the local append thread): its snapshot,
// entries and the hard state its term, vote and commit carry, then one
// fsync when etcd's MustSync rule asks for it (new entries, a changed term
// or vote) or a snapshot is present. Deliver m.Responses only after it
// returns nil.
func (ds *DurableStorage) PersistStorageAppend(m *pb.Message) error {
	const op = "persist storage append"
	if m == nil {
		return errorf(op, ErrInvalidArgument, "nil message")
	}
	if m.GetType() != pb.MsgStorageAppend {
		return errorf(op, ErrInvalidArgument, "message type %v is not MsgStorageAppend", m.GetType())
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return &Error{Op: op, Kind: ErrInvalidArgument, Cause: err}
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, b)
	return ds.do(op, func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_persist_storage_append(h, p, n)
	})
}

// BootstrapConfState gives a new, empty storage its initial configuration
// durably, as an empty snapshot at index 0: a node created over it starts
// with that configuration without Bootstrap (etcd's restart from a known
// membership). ErrInvalidState if the storage is not empty.
func (ds *DurableStorage) BootstrapConfState(cs *pb.ConfState) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	ccs := cConfState(&pin, cs)
	return ds.do("bootstrap conf state", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_bootstrap_conf_state(h, &ccs)
	})
}

// Append appends entries (copied) durably, overwriting from the first
// conflicting index; entries already compacted are ignored. A gap after
// the last index is refused (ErrStorage) and nothing is written.
func (ds *DurableStorage) Append(entries []*pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	ce := make([]C.polyraft_entry, len(entries))
	for i, e := range entries {
		ce[i] = cEntry(&pin, e)
	}
	return ds.do("append", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_append(h, &ce[0], C.size_t(len(ce)))
	})
}

// SetHardState saves the hard state durably.
func (ds *DurableStorage) SetHardState(st *pb.HardState) error {
	hs := cHardState(st)
	return ds.do("set hard state", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_set_hard_state(h, &hs)
	})
}

// HardState returns the saved hard state.
func (ds *DurableStorage) HardState() (*pb.HardState, error) {
	var hs C.polyraft_hard_state
	err := ds.do("hard state", func(h *C.polyraft_durable_storage) cResult {
		hs = C.polyraft_durable_storage_hard_state(h)
		return C.POLYRAFT_OK
	})
	if err != nil {
		return nil, err
	}
	return goHardState(&hs), nil
}

// ApplySnapshot replaces the storage's contents with a snapshot received
// from the leader, durably (PersistReady already does this for a Ready's
// snapshot). ErrSnapOutOfDate if it is not newer than the one held.
func (ds *DurableStorage) ApplySnapshot(snap *pb.Snapshot) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	cs := cSnapshot(&pin, snap)
	return ds.do("apply snapshot", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_apply_snapshot(h, &cs)
	})
}

// CreateSnapshot makes and keeps, durably, a snapshot of the applied state
// up to i, with the configuration cs (nil keeps the previous one) and the
// application's data, and returns it. The log is not compacted: follow
// with Compact(i), which also deletes the segment files it frees.
func (ds *DurableStorage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	var ccs C.polyraft_conf_state
	pcs := (*C.polyraft_conf_state)(nil)
	if cs != nil {
		ccs = cConfState(&pin, cs)
		pcs = &ccs
	}
	p, n := pinBytes(&pin, data)
	err := ds.do("create snapshot", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_create_snapshot(h, C.uint64_t(i), pcs, p, n)
	})
	if err != nil {
		return nil, err
	}
	return ds.Snapshot()
}

// Compact discards the entries before compactIndex and deletes the oldest
// segment files once every entry they hold is at or below both
// compactIndex and the current snapshot (so snapshot first). Never compact
// beyond the applied index.
func (ds *DurableStorage) Compact(compactIndex uint64) error {
	return ds.do("compact", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_compact(h, C.uint64_t(compactIndex))
	})
}

// FirstIndex returns the index of the first readable entry.
func (ds *DurableStorage) FirstIndex() (uint64, error) {
	var v C.uint64_t
	err := ds.do("first index", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_first_index(h, &v)
	})
	return uint64(v), err
}

// LastIndex returns the index of the last entry.
func (ds *DurableStorage) LastIndex() (uint64, error) {
	var v C.uint64_t
	err := ds.do("last index", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_last_index(h, &v)
	})
	return uint64(v), err
}

// Term returns the term of entry i.
func (ds *DurableStorage) Term(i uint64) (uint64, error) {
	var v C.uint64_t
	err := ds.do("term", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_term(h, C.uint64_t(i), &v)
	})
	return uint64(v), err
}

// Snapshot returns the current snapshot (index 0 and no data when there is
// none). After a restart the application restores its state machine from
// its data.
func (ds *DurableStorage) Snapshot() (*pb.Snapshot, error) {
	var owned *C.polyraft_owned_snapshot
	err := ds.do("snapshot", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_snapshot(h, &owned)
	})
	if err != nil {
		return nil, err
	}
	return ownedSnapshot(owned)
}

// ownedSnapshot decodes and frees a snapshot copy of either storage.
func ownedSnapshot(owned *C.polyraft_owned_snapshot) (*pb.Snapshot, error) {
	defer C.polyraft_owned_snapshot_free(owned)
	v := C.polyraft_owned_snapshot_view(owned)
	if v == nil {
		return nil, newError("snapshot", ErrInvalidArgument, "no snapshot")
	}
	return decodeSnapshot(view(v.encoded, v.encoded_len))
}

// Stats returns the storage's disk work counters.
func (ds *DurableStorage) Stats() (DurableStats, error) {
	var st C.polyraft_durable_stats
	err := ds.do("stats", func(h *C.polyraft_durable_storage) cResult {
		st = C.polyraft_durable_storage_stats(h)
		return C.POLYRAFT_OK
	})
	if err != nil {
		return DurableStats{}, err
	}
	return DurableStats{
		Fsyncs:          uint64(st.fsyncs),
		DirFsyncs:       uint64(st.dir_fsyncs),
		BytesWritten:    uint64(st.bytes_written),
		Readies:         uint64(st.readies),
		SegmentsCreated: uint64(st.segments_created),
		SegmentsDeleted: uint64(st.segments_deleted),
		Segments:        uint64(st.segments),
	}, nil
}

// Entries returns the entries in [lo, hi), limited to maxSize bytes in
// total but at least one (etcd's Storage.Entries; read from memory, no
// disk access): ErrCompacted when lo is compacted; an error when hi is
// past the last index + 1 (where etcd's MemoryStorage panics).
func (ds *DurableStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	var owned *C.polyraft_owned_entries
	err := ds.do("entries", func(h *C.polyraft_durable_storage) cResult {
		return C.polyraft_durable_storage_entries(h, C.uint64_t(lo), C.uint64_t(hi), C.uint64_t(maxSize), &owned)
	})
	if err != nil {
		return nil, err
	}
	return ownedEntries(owned), nil
}

// InitialState returns the saved hard state and the configuration of the
// current snapshot.
func (ds *DurableStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	hs, err := ds.HardState()
	if err != nil {
		return nil, nil, err
	}
	s, err := ds.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	cs := s.GetMetadata().GetConfState()
	if cs == nil {
		cs = &pb.ConfState{}
	}
	return hs, cs, nil
}
