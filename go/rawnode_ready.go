package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"unsafe"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Ready returns the pending work (etcd's RawNode.Ready): persist
// Snapshot, Entries and HardState, send Messages, apply
// CommittedEntries, then call Advance (unless async storage writes are
// on). The Ready is a plain Go copy, valid after Advance. Called again
// before Advance, it returns the work that became pending since, as
// etcd's does (one Advance then acknowledges both). When the node has
// failed (see Err) it is empty; TryReady tells why.
func (rn *RawNode) Ready() Ready {
	rd, _ := rn.TryReady()
	return rd
}

// TryReady is Ready returning an error when no Ready can be taken (the
// node failed: sticky, see Err).
func (rn *RawNode) TryReady() (Ready, error) {
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

// ReadyWire is TryReady for a transport that sends bytes: the messages
// come encoded, as WireMessages over the library's own buffers (valid
// until Advance: see WireMessage), instead of decoded into rd.Messages
// (which is nil), so nothing is decoded only to be encoded again, nor
// copied. The rest is as in Ready (Go copies); call Advance(rd) afterwards.
// Beyond etcd.
func (rn *RawNode) ReadyWire() (rd Ready, msgs []WireMessage, err error) {
	return rn.ready(true)
}

func (rn *RawNode) ready(wire bool) (Ready, []WireMessage, error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var crd *C.polyraft_ready
	err := rn.doLocked("ready", func(h *C.polyraft_node) cResult { return C.polyraft_node_ready_again(h, &crd) })
	if err != nil {
		return Ready{}, nil, err
	}
	return copyReady(crd, wire)
}

// peekedReady is the library's peeked Ready behind a Go copy: accepted when
// the copy is handed out, freed otherwise. The zero value holds nothing.
type peekedReady struct{ p *C.polyraft_peeked_ready }

// free releases a peeked Ready that was not handed out.
func (pr *peekedReady) free() {
	if pr.p != nil {
		C.polyraft_peeked_ready_free(pr.p)
		pr.p = nil
	}
}

// take gives up the peeked Ready (to acceptPeeked).
func (pr *peekedReady) take() peekedReady {
	p := *pr
	pr.p = nil
	return p
}

// peekReady returns the node's pending work without handing it out (see
// polyraft_node_ready_peek), and the library's peeked Ready, to give to
// acceptPeeked if the Ready is handed out, or to free.
func (rn *RawNode) peekReady() (Ready, peekedReady, error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var p *C.polyraft_peeked_ready
	err := rn.doLocked("ready", func(h *C.polyraft_node) cResult { return C.polyraft_node_ready_peek(h, &p) })
	if err != nil {
		return Ready{}, peekedReady{}, err
	}
	crd := C.polyraft_peeked_ready_view(p)
	rd, _, err := copyReady(crd, false)
	if err != nil {
		C.polyraft_peeked_ready_free(p)
		return Ready{}, peekedReady{}, err
	}
	return rd, peekedReady{p}, nil
}

// acceptPeeked hands out the Ready of the last peekReady (no call on the
// node in between): the node records it as taken. It consumes p.
func (rn *RawNode) acceptPeeked(p peekedReady) error {
	if p.p == nil {
		return errorf("ready", ErrInvalidState, "no peeked Ready")
	}
	return rn.do("ready", func(h *C.polyraft_node) cResult { return C.polyraft_node_ready_accept(h, p.p) })
}

// health returns the node's failure (sticky, see Err), asking the library
// whether a call that reports nothing recorded one.
func (rn *RawNode) health() error {
	return rn.do("health", func(h *C.polyraft_node) cResult { return C.polyraft_node_health(h) })
}

// copyReady copies the library's Ready into a Go value (messages decoded,
// or as WireMessages over the library's buffers when wire is set).
func copyReady(crd *C.polyraft_ready, wire bool) (Ready, []WireMessage, error) {
	var rd Ready
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
	rd.MustSync = bool(C.polyraft_ready_must_sync(crd))
	return rd, wms, nil
}

// Advance acknowledges the last Ready as persisted, sent and applied
// (etcd's; the argument is ignored, as in etcd). It must not be called
// with async storage writes. A failure is kept in Err; TryAdvance returns
// it.
func (rn *RawNode) Advance(rd Ready) { _ = rn.TryAdvance(rd) }

// TryAdvance is Advance returning an error: ErrInvalidState without an
// outstanding Ready or with async storage writes, or the node's failure.
func (rn *RawNode) TryAdvance(_ Ready) error {
	return rn.do("advance", func(h *C.polyraft_node) cResult { return C.polyraft_node_advance(h) })
}
