package polyraft

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"runtime"
	"unsafe"

	pb "go.etcd.io/raft/v3/raftpb"
)

// Helpers that move values across the C boundary. Inputs handed to C are
// Go memory; any Go pointer stored inside them is pinned first (the cgo
// rule), and the library copies everything it keeps. Outputs are views into
// library memory, copied into Go values before the next library call.

// codeErrors maps every result code of the library to its sentinel; a
// test checks that it lists exactly the codes polyraft_result_name knows.
var codeErrors = map[cResult]error{
	C.POLYRAFT_NULL_PARAMETER:                           ErrInvalidArgument,
	C.POLYRAFT_INVALID_ARGUMENT:                         ErrInvalidArgument,
	C.POLYRAFT_ABI_MISMATCH:                             ErrInvalidArgument,
	C.POLYRAFT_PANIC:                                    ErrPanic,
	C.POLYRAFT_POISONED:                                 ErrPoisoned,
	C.POLYRAFT_INVALID_CONFIG:                           ErrInvalidConfig,
	C.POLYRAFT_INVALID_STATE:                            ErrInvalidState,
	C.POLYRAFT_DECODE:                                   ErrDecode,
	C.POLYRAFT_PROPOSAL_DROPPED:                         ErrProposalDropped,
	C.POLYRAFT_STEP_LOCAL_MSG:                           ErrStepLocalMsg,
	C.POLYRAFT_STEP_PEER_NOT_FOUND:                      ErrStepPeerNotFound,
	C.POLYRAFT_CONF_CHANGE:                              ErrConfChange,
	C.POLYRAFT_FATAL:                                    ErrFatal,
	C.POLYRAFT_STORAGE_COMPACTED:                        ErrCompacted,
	C.POLYRAFT_STORAGE_SNAP_OUT_OF_DATE:                 ErrSnapOutOfDate,
	C.POLYRAFT_STORAGE_UNAVAILABLE:                      ErrUnavailable,
	C.POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE: ErrSnapshotTemporarilyUnavailable,
	C.POLYRAFT_STORAGE_FAILURE:                          ErrStorage,
	C.POLYRAFT_IO_ERROR:                                 ErrIO,
	C.POLYRAFT_CORRUPT:                                  ErrCorrupt,
	C.POLYRAFT_REJECTED:                                 ErrRejected,
	C.POLYRAFT_TIMED_OUT:                                ErrTimedOut,
	C.POLYRAFT_CLOSED:                                   ErrClosed,
}

// codeError maps a result code to its sentinel (ErrStorage for a code this
// package does not know).
func codeError(code cResult) error {
	if e, ok := codeErrors[code]; ok {
		return e
	}
	return ErrStorage
}

// resultName is the library's name of a code ("" when unknown).
func resultName(code uint32) string {
	p := C.polyraft_result_name(C.uint32_t(code))
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// resultText is the library's static text of a code.
func resultText(code cResult) string {
	return C.GoString(C.polyraft_result_str(C.uint32_t(code)))
}

// Version is the library's version text, e.g. "polyraft 0.1.0".
func Version() string { return C.GoString(C.polyraft_version()) }

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 || p == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// view is a read-only Go slice over library memory (no copy): use it only
// before the library frees it.
func view(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 || p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func u64s(p *C.uint64_t, n C.size_t) []uint64 {
	if n == 0 || p == nil {
		return nil
	}
	s := unsafe.Slice((*uint64)(unsafe.Pointer(p)), int(n))
	return append([]uint64(nil), s...)
}

// bytesArg returns a C pointer to b (nil when empty) without pinning it:
// use it only as a direct argument of a C call that does not keep it (cgo
// lets a call borrow Go memory free of Go pointers for its duration).
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// pinBytes pins b and returns a C pointer to it (nil when empty).
func pinBytes(p *runtime.Pinner, b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	p.Pin(&b[0])
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

func pinU64s(p *runtime.Pinner, s []uint64) (*C.uint64_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	p.Pin(&s[0])
	return (*C.uint64_t)(unsafe.Pointer(&s[0])), C.size_t(len(s))
}

func cEntry(p *runtime.Pinner, e *pb.Entry) C.polyraft_entry {
	var ce C.polyraft_entry
	ce.index = C.uint64_t(e.GetIndex())
	ce.term = C.uint64_t(e.GetTerm())
	ce.entry_type = C.uint32_t(e.GetType())
	// An explicitly set EntryNormal counts in proto.Size: keep it.
	ce.type_set = C.bool(e.Type != nil)
	ce.data, ce.data_len = pinBytes(p, e.GetData())
	return ce
}

func cConfState(p *runtime.Pinner, cs *pb.ConfState) C.polyraft_conf_state {
	var c C.polyraft_conf_state
	c.voters, c.voters_len = pinU64s(p, cs.GetVoters())
	c.learners, c.learners_len = pinU64s(p, cs.GetLearners())
	c.voters_outgoing, c.voters_outgoing_len = pinU64s(p, cs.GetVotersOutgoing())
	c.learners_next, c.learners_next_len = pinU64s(p, cs.GetLearnersNext())
	c.auto_leave = C.bool(cs.GetAutoLeave())
	c.witnesses, c.witnesses_len = pinU64s(p, Witnesses(cs))
	return c
}

func cSnapshot(p *runtime.Pinner, s *pb.Snapshot) C.polyraft_snapshot {
	var c C.polyraft_snapshot
	md := s.GetMetadata()
	c.index = C.uint64_t(md.GetIndex())
	c.term = C.uint64_t(md.GetTerm())
	c.conf_state = cConfState(p, md.GetConfState())
	c.data, c.data_len = pinBytes(p, s.GetData())
	return c
}

func cHardState(hs *pb.HardState) C.polyraft_hard_state {
	return C.polyraft_hard_state{term: C.uint64_t(hs.GetTerm()), vote: C.uint64_t(hs.GetVote()), commit: C.uint64_t(hs.GetCommit())}
}

func goHardState(hs *C.polyraft_hard_state) *pb.HardState {
	return &pb.HardState{Term: new(uint64(hs.term)), Vote: new(uint64(hs.vote)), Commit: new(uint64(hs.commit))}
}

func goConfState(c *C.polyraft_conf_state) *pb.ConfState {
	cs := &pb.ConfState{
		Voters:         u64s(c.voters, c.voters_len),
		Learners:       u64s(c.learners, c.learners_len),
		VotersOutgoing: u64s(c.voters_outgoing, c.voters_outgoing_len),
		LearnersNext:   u64s(c.learners_next, c.learners_next_len),
	}
	if c.auto_leave {
		cs.AutoLeave = new(true)
	}
	if ids := u64s(c.witnesses, c.witnesses_len); len(ids) > 0 {
		SetWitnesses(cs, ids)
	}
	return cs
}

// goEntry copies an entry view. Fields are set the way etcd sets them: Term
// and Index always, Type when not EntryNormal or when set explicitly (the
// entry replacing a refused conf change), Data when not empty.
func goEntry(c *C.polyraft_entry) *pb.Entry {
	e := &pb.Entry{Term: new(uint64(c.term)), Index: new(uint64(c.index)), Data: goBytes(c.data, c.data_len)}
	if c.entry_type != 0 || bool(c.type_set) {
		e.Type = pb.EntryType(c.entry_type).Enum()
	}
	return e
}

// goEntries copies a list of entry views, set as goEntry sets them. The
// entries, their Term and Index fields and their payloads come from one
// allocation each for the whole list (a Ready's entries are read together
// and dropped together) instead of four per entry.
func goEntries(p *C.polyraft_entry, n C.size_t) []*pb.Entry {
	if n == 0 || p == nil {
		return nil
	}
	cs := unsafe.Slice(p, int(n))
	size := 0
	for i := range cs {
		size += int(cs[i].data_len)
	}
	ents := make([]pb.Entry, len(cs))
	nums := make([]uint64, 2*len(cs))
	data := make([]byte, size)
	out := make([]*pb.Entry, len(cs))
	off := 0
	for i := range cs {
		c := &cs[i]
		e := &ents[i]
		nums[2*i], nums[2*i+1] = uint64(c.term), uint64(c.index)
		e.Term, e.Index = &nums[2*i], &nums[2*i+1]
		if k := int(c.data_len); k > 0 && c.data != nil {
			copy(data[off:off+k], view(c.data, c.data_len))
			e.Data = data[off : off+k : off+k]
			off += k
		}
		if c.entry_type != 0 || bool(c.type_set) {
			e.Type = pb.EntryType(c.entry_type).Enum()
		}
		out[i] = e
	}
	return out
}

// cResult is the type cgo gives the library's polyraft_result returns (a C
// enum, which cgo passes as its underlying uint32).
type cResult = uint32

// libIsLocalMsg is the core's list of local message types (IsLocalMsg is
// etcd's; a test checks that they agree).
func libIsLocalMsg(t pb.MessageType) bool { return bool(C.polyraft_is_local_msg(C.uint32_t(t))) }
