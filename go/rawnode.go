package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// RawNode is etcd's RawNode over the polyraft library: a Raft state machine
// driven by the application (Tick, Step, Propose, Ready, Advance).
//
// Methods lock a mutex, so a RawNode may be shared between goroutines, but
// like etcd's RawNode it is meant to be driven by one. Close frees the
// library's node; a cleanup frees it too if the RawNode becomes unreachable
// without Close, but only as a safety net against leaks.
//
// The methods have etcd's signatures. A RawNode that hits a fatal failure
// (a Storage error, a peer violating an invariant, a library panic)
// refuses further work: Err reports it, every method that returns an
// error returns it, and the others (Ready, Advance...) do nothing; the
// Try forms (TryReady, TryAdvance, TryApplyConfChange, TryReadIndex)
// return their own errors.
type RawNode struct {
	mu    sync.Mutex
	h     *C.polyraft_node
	id    uint64
	async bool
	// gs is the Go storage reached through the vtable (nil for a native
	// storage); its cgo.Handle is freed by the vtable's destroy.
	gs      *goStorage
	logH    cgo.Handle
	err     error // sticky: fatal, poisoned
	cleanup runtime.Cleanup
	// durable is the storage the node was created over, when durable.
	durable *DurableStorage
	// StepBytesBatch's buffers, reused from call to call.
	batchBuf  []byte
	batchLens []C.size_t
}

// newNodeCall runs a node constructor, which hands its failure's detail
// out through its error buffer.
func newNodeCall(f func(errBuf **C.polyraft_buffer) cResult) *Error {
	var eb *C.polyraft_buffer
	if code := f(&eb); code != C.POLYRAFT_OK {
		return newError("new raw node", codeError(code), takeErrorText(eb))
	}
	return nil
}

// takeErrorText reads and frees a constructor's error buffer ("" for nil).
func takeErrorText(b *C.polyraft_buffer) string {
	if b == nil {
		return ""
	}
	defer C.polyraft_buffer_free(b)
	var p *C.uint8_t
	var n C.size_t
	if C.polyraft_buffer_data(b, &p, &n) != C.POLYRAFT_OK {
		return ""
	}
	return string(view(p, n))
}

type rawNodeRes struct {
	h    *C.polyraft_node
	logH cgo.Handle
}

func freeRes(r rawNodeRes) {
	C.polyraft_node_free(r.h)
	if r.logH != 0 {
		r.logH.Delete()
	}
}

// NewRawNode creates a node from cfg (etcd's NewRawNode). Its state comes
// from cfg.Storage: for a new cluster give an empty storage and call
// Bootstrap; to restart, give the persisted storage and set cfg.Applied.
//
// Only an exact *MemoryStorage or *DurableStorage of this package is read
// natively (no callbacks); any other Storage, including a type that
// embeds one of them to override some methods, is called back.
func NewRawNode(cfg *Config) (*RawNode, error) {
	return newRawNode(cfg, Extensions{})
}

func newRawNode(cfg *Config, ext Extensions) (*RawNode, error) {
	if cfg == nil {
		return nil, errorf("new raw node", ErrInvalidArgument, "nil config")
	}
	if cfg.Storage == nil {
		return nil, errorf("new raw node", ErrInvalidConfig, "storage cannot be nil")
	}
	var cc C.polyraft_config
	C.polyraft_config_init(&cc)
	cc.id = C.uint64_t(cfg.ID)
	if cfg.ElectionTick < 0 || cfg.HeartbeatTick < 0 || cfg.MaxInflightMsgs < 0 {
		return nil, errorf("new raw node", ErrInvalidConfig, "negative tick or in-flight limit")
	}
	cc.election_tick = C.uint64_t(cfg.ElectionTick)
	cc.heartbeat_tick = C.uint64_t(cfg.HeartbeatTick)
	cc.applied = C.uint64_t(cfg.Applied)
	cc.max_size_per_msg = C.uint64_t(cfg.MaxSizePerMsg)
	cc.max_committed_size_per_ready = C.uint64_t(cfg.MaxCommittedSizePerReady)
	cc.max_uncommitted_entries_size = C.uint64_t(cfg.MaxUncommittedEntriesSize)
	cc.max_inflight_msgs = C.uint64_t(cfg.MaxInflightMsgs)
	cc.max_inflight_bytes = C.uint64_t(cfg.MaxInflightBytes)
	cc.check_quorum = C.bool(cfg.CheckQuorum)
	cc.pre_vote = C.bool(cfg.PreVote)
	cc.read_only_option = C.uint32_t(cfg.ReadOnlyOption)
	cc.disable_proposal_forwarding = C.bool(cfg.DisableProposalForwarding)
	cc.disable_conf_change_validation = C.bool(cfg.DisableConfChangeValidation)
	cc.step_down_on_removal = C.bool(cfg.StepDownOnRemoval)
	cc.async_storage_writes = C.bool(cfg.AsyncStorageWrites)
	cc.priority = C.int64_t(ext.Priority)
	cc.batch_append = C.bool(ext.BatchAppend)

	rn := &RawNode{id: cfg.ID, async: cfg.AsyncStorageWrites}
	// Like etcd: a nil Logger means the package logger. Every line goes
	// through the Go Logger (none is written by the library itself).
	logger := cfg.Logger
	if logger == nil {
		logger = getLogger()
	}
	cc.log_level = libLogLevel(logger)
	if cc.log_level != C.POLYRAFT_LOG_OFF {
		rn.logH = cgo.NewHandle(logger)
		setLogCallback(&cc, rn.logH)
	}

	var gs *goStorage
	switch s := cfg.Storage.(type) {
	case *MemoryStorage:
		if e := s.newNode(&cc, &rn.h); e != nil {
			return nil, rn.newFailed(e)
		}
	case *DurableStorage:
		if e := s.newNode(&cc, &rn.h); e != nil {
			return nil, rn.newFailed(e)
		}
		rn.durable = s
	default:
		gs = &goStorage{s: s}
		var vt C.polyraft_storage_vtable
		h := cgo.NewHandle(gs)
		fillVtable(&vt, h)
		gs.begin()
		var eb *C.polyraft_buffer
		code := C.polyraft_node_new_custom(&cc, &vt, &rn.h, &eb)
		detail := takeErrorText(eb)
		pv, cause := gs.end()
		if code != C.POLYRAFT_OK {
			h.Delete() // not owned by the library on failure
		}
		if pv != nil {
			if code == C.POLYRAFT_OK {
				C.polyraft_node_free(rn.h)
			}
			if rn.logH != 0 {
				rn.logH.Delete()
			}
			panic(pv)
		}
		if code != C.POLYRAFT_OK {
			e := newError("new raw node", codeError(code), detail)
			e.Cause = cause
			return nil, rn.newFailed(e)
		}
	}
	rn.gs = gs
	rn.cleanup = runtime.AddCleanup(rn, freeRes, rawNodeRes{h: rn.h, logH: rn.logH})
	return rn, nil
}

func (rn *RawNode) newFailed(e *Error) error {
	if rn.logH != 0 {
		rn.logH.Delete()
	}
	return e
}

// Close frees the library's node. Later calls return ErrClosed. Closing
// twice is harmless.
func (rn *RawNode) Close() error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.h == nil {
		return nil
	}
	rn.cleanup.Stop()
	h := rn.h
	rn.h = nil
	if rn.gs != nil {
		rn.gs.begin()
	}
	freeRes(rawNodeRes{h: h, logH: rn.logH})
	rn.logH = 0
	if rn.gs != nil {
		if pv, _ := rn.gs.end(); pv != nil {
			panic(pv)
		}
	}
	return nil
}

// Err returns the failure that made the node unusable, or nil.
func (rn *RawNode) Err() error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.err
}

func (rn *RawNode) asyncStorageWrites() bool { return rn.async }

// do runs one library call on the node under the lock, re-raises a panic
// of a Go storage callback, and converts the result.
func (rn *RawNode) do(op string, f func(h *C.polyraft_node) cResult) error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.doLocked(op, f)
}

func (rn *RawNode) doLocked(op string, f func(h *C.polyraft_node) cResult) error {
	if rn.h == nil {
		return newError(op, ErrClosed, "")
	}
	if rn.err != nil {
		return rn.err
	}
	var cause error
	if rn.gs != nil {
		rn.gs.begin()
		code := f(rn.h)
		var pv any
		pv, cause = rn.gs.end()
		if pv != nil {
			// The library saw a storage failure; the node is unusable.
			rn.err = &Error{Op: op, Kind: ErrStorage, Detail: "storage panicked"}
			panic(pv)
		}
		return rn.result(op, code, cause)
	}
	return rn.result(op, f(rn.h), nil)
}

func (rn *RawNode) result(op string, code cResult, cause error) error {
	if code == C.POLYRAFT_OK {
		return nil
	}
	switch code {
	case C.POLYRAFT_FATAL, C.POLYRAFT_POISONED, C.POLYRAFT_PANIC, C.POLYRAFT_STORAGE_FAILURE:
		var buf [1024]C.char
		var n C.size_t
		detail := ""
		if C.polyraft_node_last_error(rn.h, &buf[0], C.size_t(len(buf)), &n) == C.POLYRAFT_OK {
			detail = C.GoStringN(&buf[0], C.int(n))
		}
		e := &Error{Op: op, Kind: codeError(code), Detail: detail, Cause: cause}
		rn.err = e
		return e
	case C.POLYRAFT_PROPOSAL_DROPPED, C.POLYRAFT_STEP_LOCAL_MSG, C.POLYRAFT_STEP_PEER_NOT_FOUND:
		// etcd returns these sentinels bare; so do we (callers compare
		// them with ==).
		return codeError(code)
	}
	var buf [1024]C.char
	var n C.size_t
	detail := ""
	if C.polyraft_node_last_error(rn.h, &buf[0], C.size_t(len(buf)), &n) == C.POLYRAFT_OK {
		detail = C.GoStringN(&buf[0], C.int(n))
	}
	return &Error{Op: op, Kind: codeError(code), Detail: detail, Cause: cause}
}

// Bootstrap initializes a brand-new node (empty storage) with the initial
// members: one ConfChangeAddNode entry per peer, committed at term 1, which
// come out in the first Ready to be persisted and applied.
func (rn *RawNode) Bootstrap(peers []Peer) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	cp := make([]C.polyraft_peer, len(peers))
	for i, p := range peers {
		cp[i].id = C.uint64_t(p.ID)
		cp[i].context, cp[i].context_len = pinBytes(&pin, p.Context)
	}
	return rn.do("bootstrap", func(h *C.polyraft_node) cResult {
		if len(cp) == 0 {
			return C.polyraft_node_bootstrap(h, nil, 0)
		}
		return C.polyraft_node_bootstrap(h, &cp[0], C.size_t(len(cp)))
	})
}

// Tick advances the logical clock by one tick. A failure is kept in Err.
func (rn *RawNode) Tick() {
	_ = rn.do("tick", func(h *C.polyraft_node) cResult { return C.polyraft_node_tick(h) })
}

// Campaign makes the node campaign (MsgHup).
func (rn *RawNode) Campaign() error {
	return rn.do("campaign", func(h *C.polyraft_node) cResult { return C.polyraft_node_campaign(h) })
}

// Propose proposes data to be appended to the log (copied).
func (rn *RawNode) Propose(data []byte) error {
	return rn.do("propose", func(h *C.polyraft_node) cResult {
		p, n := bytesArg(data)
		return C.polyraft_node_propose(h, p, n)
	})
}

// ProposeBatch proposes several entries in one message (one append, one
// broadcast): all are accepted or none. Beyond etcd.
func (rn *RawNode) ProposeBatch(data [][]byte) error {
	if len(data) == 0 {
		return errorf("propose batch", ErrInvalidArgument, "no entries")
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	items := make([]C.polyraft_bytes, len(data))
	for i, d := range data {
		items[i].data, items[i].len = pinBytes(&pin, d)
	}
	return rn.do("propose batch", func(h *C.polyraft_node) cResult {
		return C.polyraft_node_propose_batch(h, &items[0], C.size_t(len(items)))
	})
}

func encodeConfChange(cc pb.ConfChangeI) (C.uint32_t, []byte, error) {
	if cc == nil {
		return 0, nil, errorf("conf change", ErrInvalidArgument, "nil conf change")
	}
	typ, data, err := pb.MarshalConfChange(cc)
	if err != nil {
		return 0, nil, &Error{Op: "conf change", Kind: ErrInvalidArgument, Cause: err}
	}
	return C.uint32_t(typ), data, nil
}

// ProposeConfChange proposes a configuration change (pb.ConfChange or
// pb.ConfChangeV2).
func (rn *RawNode) ProposeConfChange(cc pb.ConfChangeI) error {
	typ, data, err := encodeConfChange(cc)
	if err != nil {
		return err
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, data)
	return rn.do("propose conf change", func(h *C.polyraft_node) cResult {
		return C.polyraft_node_propose_conf_change(h, typ, p, n)
	})
}

// ApplyConfChange applies a committed configuration change and returns the
// new configuration (to record in snapshots). Like etcd's, it panics when
// the change cannot be applied (an application bug); TryApplyConfChange
// returns the error instead.
func (rn *RawNode) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	cs, err := rn.TryApplyConfChange(cc)
	if err != nil {
		panic(err)
	}
	return cs
}

// TryApplyConfChange is ApplyConfChange returning an error (matching
// ErrConfChange, the configuration unchanged) instead of panicking.
func (rn *RawNode) TryApplyConfChange(cc pb.ConfChangeI) (*pb.ConfState, error) {
	typ, data, err := encodeConfChange(cc)
	if err != nil {
		return nil, err
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, data)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var ccs C.polyraft_conf_state
	err = rn.doLocked("apply conf change", func(h *C.polyraft_node) cResult {
		return C.polyraft_node_apply_conf_change(h, typ, p, n, &ccs)
	})
	if err != nil {
		return nil, err
	}
	return goConfState(&ccs), nil
}

// Step steps a message as etcd's RawNode.Step does: a peer's message, or,
// with async storage writes, a response of the node's own storage work
// (local types are accepted from the local append and apply threads). It
// is encoded and handed to the library's trusting entry point; bytes
// received from the network go to StepBytes instead.
func (rn *RawNode) Step(m *pb.Message) error {
	if m == nil {
		return errorf("step", ErrInvalidArgument, "nil message")
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return &Error{Op: "step", Kind: ErrInvalidArgument, Cause: err}
	}
	return rn.do("step", func(h *C.polyraft_node) cResult {
		p, n := bytesArg(b)
		return C.polyraft_node_step_local(h, p, n)
	})
}

// StepBytes steps a raftpb-encoded message received from a peer (from a
// polyraft or an etcd raft node alike). Local-only message types (MsgHup,
// MsgStorageAppendResp, MsgStorageApplyResp...) never travel as bytes:
// they are refused with ErrStepLocalMsg whatever their From says.
func (rn *RawNode) StepBytes(b []byte) error {
	return rn.do("step", func(h *C.polyraft_node) cResult {
		p, n := bytesArg(b)
		return C.polyraft_node_step(h, p, n)
	})
}

// StepBytesBatch steps raftpb-encoded messages in order, as StepBytes
// would one by one, in one call into the library (one cgo call for a whole
// inbox instead of one per message). It stops at the first message that
// fails and returns how many were stepped before it, with that message's
// error: the caller may go on from msgs[n+1]. Beyond etcd.
func (rn *RawNode) StepBytesBatch(msgs [][]byte) (n int, err error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	buf, lens := rn.batchBuf[:0], rn.batchLens[:0]
	for _, m := range msgs {
		buf = append(buf, m...)
		lens = append(lens, C.size_t(len(m)))
	}
	rn.batchBuf, rn.batchLens = buf, lens
	var stepped C.size_t
	err = rn.doLocked("step", func(h *C.polyraft_node) cResult {
		p, _ := bytesArg(buf)
		return C.polyraft_node_step_batch(h, p, &lens[0], C.size_t(len(lens)), &stepped)
	})
	if err == nil {
		return len(msgs), nil
	}
	return int(stepped), err
}

// HasReady reports whether Ready would return something to do. It is false
// once the node failed.
func (rn *RawNode) HasReady() bool {
	var out C.bool
	err := rn.do("has ready", func(h *C.polyraft_node) cResult { return C.polyraft_node_has_ready(h, &out) })
	return err == nil && bool(out)
}

// ReportUnreachable reports that the last send to id failed.
func (rn *RawNode) ReportUnreachable(id uint64) {
	_ = rn.do("report unreachable", func(h *C.polyraft_node) cResult {
		return C.polyraft_node_report_unreachable(h, C.uint64_t(id))
	})
}

// ReportSnapshot reports the outcome of a snapshot sent to id.
func (rn *RawNode) ReportSnapshot(id uint64, status SnapshotStatus) {
	_ = rn.do("report snapshot", func(h *C.polyraft_node) cResult {
		return C.polyraft_node_report_snapshot(h, C.uint64_t(id), C.bool(status == SnapshotFailure))
	})
}

// TransferLeader asks the leader to hand leadership to transferee.
func (rn *RawNode) TransferLeader(transferee uint64) {
	_ = rn.do("transfer leader", func(h *C.polyraft_node) cResult {
		return C.polyraft_node_transfer_leader(h, C.uint64_t(transferee))
	})
}

// ForgetLeader makes a follower forget its leader (see etcd).
func (rn *RawNode) ForgetLeader() error {
	return rn.do("forget leader", func(h *C.polyraft_node) cResult { return C.polyraft_node_forget_leader(h) })
}

// ReadIndex requests a linearizable read; rctx comes back in a ReadState.
// Like etcd's it reports nothing; TryReadIndex returns the outcome (for
// instance ErrProposalDropped when no leader is known).
func (rn *RawNode) ReadIndex(rctx []byte) { _ = rn.TryReadIndex(rctx) }

// TryReadIndex is ReadIndex returning the outcome of the request.
func (rn *RawNode) TryReadIndex(rctx []byte) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, rctx)
	return rn.do("read index", func(h *C.polyraft_node) cResult { return C.polyraft_node_read_index(h, p, n) })
}

// TickQuiesced advances the election clock by one tick and does nothing
// else: no heartbeat, no election (etcd's; for groups the application
// quiesced, use with care).
func (rn *RawNode) TickQuiesced() {
	_ = rn.do("tick quiesced", func(h *C.polyraft_node) cResult { return C.polyraft_node_tick_quiesced(h) })
}
