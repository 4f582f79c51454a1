package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"strconv"
	"sync"
	"unsafe"

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
// A RawNode that hits a fatal failure (a Storage error, a peer violating an
// invariant, a library panic) refuses further work: Err reports it and
// every call returns it.
type RawNode struct {
	mu    sync.Mutex
	h     *C.polyraft_node
	id    uint64
	async bool
	// gs is the Go storage reached through the vtable (nil for a
	// *MemoryStorage); its cgo.Handle is freed by the vtable's destroy.
	gs      *goStorage
	logH    cgo.Handle
	err     error // sticky: fatal, poisoned
	cleanup runtime.Cleanup
	// durable is the storage the node was created over, when durable.
	durable *DurableStorage
	// crd is the library's current Ready (nil once advanced), readyGen
	// counts the Readies handed out: a Go Ready is persisted through the
	// library's only while its gen is readyGen and crd is set.
	crd      *C.polyraft_ready
	readyGen uint64
	// StepBytesBatch's buffers, reused from call to call.
	batchBuf  []byte
	batchLens []C.size_t
}

// nativeStorage is a storage of the library itself, which a node reads
// natively (no callbacks): *MemoryStorage and *DurableStorage.
type nativeStorage interface {
	newNode(cc *C.polyraft_config, out **C.polyraft_node) *Error
}

// newNodeCall runs a node constructor and reads its detail text on the
// same OS thread (the library keeps it per thread).
func newNodeCall(f func() C.polyraft_result) *Error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if code := f(); code != C.POLYRAFT_OK {
		return newError("new raw node", codeError(code), lastNewError())
	}
	return nil
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

// NewRawNode creates a node from cfg. Its state comes from cfg.Storage: for
// a new cluster give an empty storage and call Bootstrap; to restart, give
// the persisted storage and set cfg.Applied.
func NewRawNode(cfg *Config) (*RawNode, error) {
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

	rn := &RawNode{id: cfg.ID, async: cfg.AsyncStorageWrites}
	switch l := cfg.Logger.(type) {
	case nil:
		// The library's default: standard error, from LevelInfo.
		cc.log_level = C.uint32_t(cfg.LogLevel + 1)
	case discardLogger:
		cc.log_level = C.POLYRAFT_LOG_OFF
	default:
		rn.logH = cgo.NewHandle(l)
		setLogCallback(&cc, rn.logH)
		cc.log_level = C.uint32_t(cfg.LogLevel + 1)
	}
	if cfg.LogLevel < LevelDebug || cfg.LogLevel > LevelError {
		if rn.logH != 0 {
			rn.logH.Delete()
		}
		return nil, errorf("new raw node", ErrInvalidConfig, "unknown log level %d", cfg.LogLevel)
	}

	var gs *goStorage
	switch s := cfg.Storage.(type) {
	case nativeStorage:
		if e := s.newNode(&cc, &rn.h); e != nil {
			return nil, rn.newFailed(e)
		}
		rn.durable, _ = s.(*DurableStorage)
	default:
		gs = &goStorage{s: s}
		var vt C.polyraft_storage_vtable
		h := cgo.NewHandle(gs)
		fillVtable(&vt, h)
		gs.begin()
		runtime.LockOSThread()
		code := C.polyraft_node_new_custom(&cc, &vt, &rn.h)
		detail := ""
		if code != C.POLYRAFT_OK {
			detail = lastNewError()
		}
		runtime.UnlockOSThread()
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

func lastNewError() string {
	var buf [1024]C.char
	var n C.size_t
	if C.polyraft_last_new_error(&buf[0], C.size_t(len(buf)), &n) != C.POLYRAFT_OK {
		return ""
	}
	return C.GoStringN(&buf[0], C.int(n))
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
	rn.crd = nil
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
func (rn *RawNode) do(op string, f func(h *C.polyraft_node) C.polyraft_result) error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.doLocked(op, f)
}

func (rn *RawNode) doLocked(op string, f func(h *C.polyraft_node) C.polyraft_result) error {
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

func (rn *RawNode) result(op string, code C.polyraft_result, cause error) error {
	if code == C.POLYRAFT_OK {
		return nil
	}
	var buf [1024]C.char
	var n C.size_t
	detail := ""
	if C.polyraft_node_last_error(rn.h, &buf[0], C.size_t(len(buf)), &n) == C.POLYRAFT_OK {
		detail = C.GoStringN(&buf[0], C.int(n))
	}
	e := &Error{Op: op, Kind: codeError(code), Detail: detail, Cause: cause}
	switch code {
	case C.POLYRAFT_FATAL, C.POLYRAFT_POISONED, C.POLYRAFT_PANIC, C.POLYRAFT_STORAGE_FAILURE:
		rn.err = e
	}
	return e
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
	return rn.do("bootstrap", func(h *C.polyraft_node) C.polyraft_result {
		if len(cp) == 0 {
			return C.polyraft_node_bootstrap(h, nil, 0)
		}
		return C.polyraft_node_bootstrap(h, &cp[0], C.size_t(len(cp)))
	})
}

// Tick advances the logical clock by one tick. A failure is kept in Err.
func (rn *RawNode) Tick() {
	_ = rn.do("tick", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_tick(h) })
}

// Campaign makes the node campaign (MsgHup).
func (rn *RawNode) Campaign() error {
	return rn.do("campaign", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_campaign(h) })
}

// Propose proposes data to be appended to the log (copied).
func (rn *RawNode) Propose(data []byte) error {
	return rn.do("propose", func(h *C.polyraft_node) C.polyraft_result {
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
	return rn.do("propose batch", func(h *C.polyraft_node) C.polyraft_result {
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
	return rn.do("propose conf change", func(h *C.polyraft_node) C.polyraft_result {
		return C.polyraft_node_propose_conf_change(h, typ, p, n)
	})
}

// ApplyConfChange applies a committed configuration change and returns the
// new configuration (to record in snapshots). etcd panics on an invalid
// change; this returns an error matching ErrConfChange and changes nothing.
func (rn *RawNode) ApplyConfChange(cc pb.ConfChangeI) (*pb.ConfState, error) {
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
	err = rn.doLocked("apply conf change", func(h *C.polyraft_node) C.polyraft_result {
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
	return rn.do("step", func(h *C.polyraft_node) C.polyraft_result {
		p, n := bytesArg(b)
		return C.polyraft_node_step_local(h, p, n)
	})
}

// StepBytes steps a raftpb-encoded message received from a peer (from a
// polyraft or an etcd raft node alike). Local-only message types (MsgHup,
// MsgStorageAppendResp, MsgStorageApplyResp...) never travel as bytes:
// they are refused with ErrStepLocalMsg whatever their From says.
func (rn *RawNode) StepBytes(b []byte) error {
	return rn.do("step", func(h *C.polyraft_node) C.polyraft_result {
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
	err = rn.doLocked("step", func(h *C.polyraft_node) C.polyraft_result {
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
	err := rn.do("has ready", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_has_ready(h, &out) })
	return err == nil && bool(out)
}

// Ready returns the pending work: persist Snapshot, Entries and HardState,
// send Messages, apply CommittedEntries, then call Advance (unless async
// storage writes are on). The Ready is a Go copy, valid after Advance.
func (rn *RawNode) Ready() (Ready, error) {
	rd, _, err := rn.ready(false)
	return rd, err
}

// WireMessage is a message of a Ready in its raftpb encoding, as the
// library produced it: the bytes to send to node To, which steps them with
// StepBytes (an etcd raft node would proto.Unmarshal them).
//
// Data is not a Go copy: it is the library's memory, read-only, valid until
// the next Advance (or Ready, or Close) of the node; copy whatever must
// outlive that (a transport's write, or an append to an outgoing buffer,
// does).
type WireMessage struct {
	To   uint64
	Type pb.MessageType
	Data []byte
}

// ReadyWire is Ready for a transport that sends bytes: the messages come
// encoded, as WireMessages over the library's own buffers (valid until
// Advance: see WireMessage), instead of decoded into rd.Messages (which is
// nil), so nothing is decoded only to be encoded again, nor copied. The
// rest is as in Ready (Go copies); call Advance(rd) afterwards. Beyond
// etcd.
func (rn *RawNode) ReadyWire() (rd Ready, msgs []WireMessage, err error) {
	return rn.ready(true)
}

func (rn *RawNode) ready(wire bool) (Ready, []WireMessage, error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var rd Ready
	var crd *C.polyraft_ready
	// The previous Ready is no longer the current one (and no longer
	// valid with async storage writes).
	rn.crd = nil
	err := rn.doLocked("ready", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_ready(h, &crd) })
	if err != nil {
		return rd, nil, err
	}
	rn.readyGen++
	rn.crd = crd
	rd.rn, rd.gen = rn, rn.readyGen
	var ss C.polyraft_soft_state
	var present C.bool
	if C.polyraft_ready_soft_state(crd, &ss, &present) == C.POLYRAFT_OK && bool(present) {
		rd.SoftState = &SoftState{Lead: uint64(ss.lead), RaftState: StateType(ss.raft_state)}
	}
	var hs C.polyraft_hard_state
	if C.polyraft_ready_hard_state(crd, &hs, &present) == C.POLYRAFT_OK && bool(present) {
		rd.HardState = goHardState(&hs)
	}
	var rs *C.polyraft_read_state
	var n C.size_t
	if C.polyraft_ready_read_states(crd, &rs, &n) == C.POLYRAFT_OK && n > 0 {
		for _, r := range unsafe.Slice(rs, int(n)) {
			rd.ReadStates = append(rd.ReadStates, ReadState{Index: uint64(r.index), RequestCtx: goBytes(r.request_ctx, r.request_ctx_len)})
		}
	}
	var ents *C.polyraft_entry
	if C.polyraft_ready_entries(crd, &ents, &n) == C.POLYRAFT_OK {
		rd.Entries = goEntries(ents, n)
	}
	if C.polyraft_ready_committed_entries(crd, &ents, &n) == C.POLYRAFT_OK {
		rd.CommittedEntries = goEntries(ents, n)
	}
	var snap *C.polyraft_snapshot
	if C.polyraft_ready_snapshot(crd, &snap) == C.POLYRAFT_OK && snap != nil {
		s := &pb.Snapshot{}
		if err := proto.Unmarshal(view(snap.encoded, snap.encoded_len), s); err != nil {
			return Ready{}, nil, &Error{Op: "ready", Kind: ErrDecode, Detail: "snapshot", Cause: err}
		}
		rd.Snapshot = s
	}
	var msgs *C.polyraft_message
	var wms []WireMessage
	if C.polyraft_ready_messages(crd, &msgs, &n) == C.POLYRAFT_OK && n > 0 {
		cm := unsafe.Slice(msgs, int(n))
		if wire {
			wms = make([]WireMessage, len(cm))
			for i := range cm {
				b := view(cm[i].bytes, cm[i].bytes_len)
				wms[i] = WireMessage{To: uint64(cm[i].to), Type: pb.MessageType(cm[i].msg_type), Data: b[:len(b):len(b)]}
			}
		} else {
			rd.Messages = make([]*pb.Message, len(cm))
			for i := range cm {
				m := &pb.Message{}
				if err := proto.Unmarshal(view(cm[i].bytes, cm[i].bytes_len), m); err != nil {
					return Ready{}, nil, &Error{Op: "ready", Kind: ErrDecode, Detail: "message", Cause: err}
				}
				rd.Messages[i] = m
			}
		}
	}
	var ms C.bool
	if C.polyraft_ready_must_sync(crd, &ms) == C.POLYRAFT_OK {
		rd.MustSync = bool(ms)
	}
	return rd, wms, nil
}

// Advance acknowledges the last Ready as persisted, sent and applied. It
// must not be called with async storage writes.
func (rn *RawNode) Advance(_ Ready) error {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	err := rn.doLocked("advance", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_advance(h) })
	if err == nil {
		rn.crd = nil
	}
	return err
}

// BasicStatus returns the node's basic status (zero with ID set when the
// node is closed or poisoned).
func (rn *RawNode) BasicStatus() BasicStatus {
	var bs C.polyraft_basic_status
	if err := rn.do("basic status", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_basic_status(h, &bs) }); err != nil {
		return BasicStatus{ID: rn.id, HardState: &pb.HardState{}}
	}
	return goBasicStatus(&bs)
}

func goBasicStatus(bs *C.polyraft_basic_status) BasicStatus {
	return BasicStatus{
		ID:             uint64(bs.id),
		HardState:      goHardState(&bs.hard_state),
		SoftState:      SoftState{Lead: uint64(bs.soft_state.lead), RaftState: StateType(bs.soft_state.raft_state)},
		Applied:        uint64(bs.applied),
		LeadTransferee: uint64(bs.lead_transferee),
	}
}

// Status returns the status, with the progress of every member on a leader.
func (rn *RawNode) Status() Status {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var bs C.polyraft_basic_status
	if rn.doLocked("status", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_basic_status(h, &bs) }) != nil {
		return Status{BasicStatus: BasicStatus{ID: rn.id, HardState: &pb.HardState{}}}
	}
	st := Status{BasicStatus: goBasicStatus(&bs)}
	var js *C.char
	var n C.size_t
	if rn.doLocked("status", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_status_json(h, &js, &n) }) != nil {
		return st
	}
	st.Progress = parseProgress(C.GoStringN(js, C.int(n)))
	return st
}

// parseProgress reads the "progress" object of etcd's Status JSON.
func parseProgress(text string) map[uint64]Progress {
	var v struct {
		Progress map[string]struct {
			Match uint64 `json:"match"`
			Next  uint64 `json:"next"`
			State string `json:"state"`
		} `json:"progress"`
	}
	if json.Unmarshal([]byte(text), &v) != nil || len(v.Progress) == 0 {
		return nil
	}
	out := make(map[uint64]Progress, len(v.Progress))
	for k, p := range v.Progress {
		id, err := strconv.ParseUint(k, 16, 64)
		if err != nil {
			continue
		}
		pr := Progress{Match: p.Match, Next: p.Next}
		switch p.State {
		case "StateReplicate":
			pr.State = StateReplicate
		case "StateSnapshot":
			pr.State = StateSnapshot
		}
		out[id] = pr
	}
	return out
}

// ReportUnreachable reports that the last send to id failed.
func (rn *RawNode) ReportUnreachable(id uint64) {
	_ = rn.do("report unreachable", func(h *C.polyraft_node) C.polyraft_result {
		return C.polyraft_node_report_unreachable(h, C.uint64_t(id))
	})
}

// ReportSnapshot reports the outcome of a snapshot sent to id.
func (rn *RawNode) ReportSnapshot(id uint64, status SnapshotStatus) {
	_ = rn.do("report snapshot", func(h *C.polyraft_node) C.polyraft_result {
		return C.polyraft_node_report_snapshot(h, C.uint64_t(id), C.bool(status == SnapshotFailure))
	})
}

// TransferLeader asks the leader to hand leadership to transferee.
func (rn *RawNode) TransferLeader(transferee uint64) {
	_ = rn.do("transfer leader", func(h *C.polyraft_node) C.polyraft_result {
		return C.polyraft_node_transfer_leader(h, C.uint64_t(transferee))
	})
}

// ForgetLeader makes a follower forget its leader (see etcd).
func (rn *RawNode) ForgetLeader() error {
	return rn.do("forget leader", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_forget_leader(h) })
}

// ReadIndex requests a linearizable read; rctx comes back in a ReadState.
func (rn *RawNode) ReadIndex(rctx []byte) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, rctx)
	return rn.do("read index", func(h *C.polyraft_node) C.polyraft_result { return C.polyraft_node_read_index(h, p, n) })
}
