package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"encoding/json"
	"reflect"
	"strconv"
	"unsafe"

	"go.etcd.io/raft/v3/quorum"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// BasicStatus returns the node's basic status (zero with ID set when the
// node is closed or poisoned).
func (rn *RawNode) BasicStatus() BasicStatus {
	var bs C.polyraft_basic_status
	if err := rn.do("basic status", func(h *C.polyraft_node) cResult { return C.polyraft_node_basic_status(h, &bs) }); err != nil {
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

// statusDetail is the document of polyraft_node_status_detail.
type statusDetail struct {
	Config struct {
		Voters         []uint64 `json:"voters"`
		VotersOutgoing []uint64 `json:"voters_outgoing"`
		Learners       []uint64 `json:"learners"`
		LearnersNext   []uint64 `json:"learners_next"`
		AutoLeave      bool     `json:"auto_leave"`
	} `json:"config"`
	Progress map[string]struct {
		Match            uint64 `json:"match"`
		Next             uint64 `json:"next"`
		SentCommit       uint64 `json:"sent_commit"`
		State            uint64 `json:"state"`
		PendingSnapshot  uint64 `json:"pending_snapshot"`
		RecentActive     bool   `json:"recent_active"`
		MsgAppFlowPaused bool   `json:"msg_app_flow_paused"`
		IsLearner        bool   `json:"is_learner"`
	} `json:"progress"`
}

// detail reads the configuration and every tracked progress (the node
// locked by the caller).
func (rn *RawNode) detailLocked(op string) (statusDetail, error) {
	var d statusDetail
	var buf *C.polyraft_buffer
	if err := rn.doLocked(op, func(h *C.polyraft_node) cResult { return C.polyraft_node_status_detail(h, &buf) }); err != nil {
		return d, err
	}
	defer C.polyraft_buffer_free(buf)
	var p *C.uint8_t
	var n C.size_t
	if code := C.polyraft_buffer_data(buf, &p, &n); code != C.POLYRAFT_OK {
		return d, newError(op, codeError(code), resultText(code))
	}
	if err := json.Unmarshal(view(p, n), &d); err != nil {
		return d, &Error{Op: op, Kind: ErrDecode, Cause: err}
	}
	return d, nil
}

func idSet(ids []uint64) map[uint64]struct{} {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

func majority(ids []uint64) quorum.MajorityConfig {
	m := quorum.MajorityConfig{}
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// progressMap converts the document's progress, keyed by id.
func (d *statusDetail) progressMap() map[uint64]Progress {
	out := make(map[uint64]Progress, len(d.Progress))
	for k, p := range d.Progress {
		id, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			continue
		}
		pr := Progress{
			Match: p.Match, Next: p.Next, State: tracker.StateType(p.State),
			PendingSnapshot: p.PendingSnapshot, RecentActive: p.RecentActive,
			MsgAppFlowPaused: p.MsgAppFlowPaused, IsLearner: p.IsLearner,
		}
		setSentCommit(&pr, p.SentCommit)
		out[id] = pr
	}
	return out
}

// setSentCommit fills etcd's unexported Progress.sentCommit (the highest
// commit index sent to the follower), so that a Status equals etcd's
// field for field. It is located by name and type; if a later etcd
// version drops it, nothing is written.
func setSentCommit(pr *Progress, v uint64) {
	f := reflect.ValueOf(pr).Elem().FieldByName("sentCommit")
	if !f.IsValid() || f.Kind() != reflect.Uint64 {
		return
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetUint(v)
}

// Status returns the status: the basic status, the active configuration
// and, on a leader, the progress of every member (etcd's). Progress
// entries carry no Inflights (nil).
func (rn *RawNode) Status() Status {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var bs C.polyraft_basic_status
	if rn.doLocked("status", func(h *C.polyraft_node) cResult { return C.polyraft_node_basic_status(h, &bs) }) != nil {
		return Status{BasicStatus: BasicStatus{ID: rn.id, HardState: &pb.HardState{}}}
	}
	st := Status{BasicStatus: goBasicStatus(&bs)}
	d, err := rn.detailLocked("status")
	if err != nil {
		return st
	}
	c := &d.Config
	st.Config = tracker.Config{
		Voters:       quorum.JointConfig{majority(c.Voters), nil},
		AutoLeave:    c.AutoLeave,
		Learners:     idSet(c.Learners),
		LearnersNext: idSet(c.LearnersNext),
	}
	if len(c.VotersOutgoing) > 0 {
		st.Config.Voters[1] = majority(c.VotersOutgoing)
	}
	if st.RaftState == StateLeader {
		st.Progress = d.progressMap()
	}
	return st
}

// WithProgress calls visitor for every tracked peer (voters and learners,
// on any node) with a copy of its Progress (etcd's).
func (rn *RawNode) WithProgress(visitor func(id uint64, typ ProgressType, pr Progress)) {
	rn.mu.Lock()
	d, err := rn.detailLocked("with progress")
	rn.mu.Unlock()
	if err != nil {
		return
	}
	for id, pr := range d.progressMap() {
		typ := ProgressTypePeer
		if pr.IsLearner {
			typ = ProgressTypeLearner
		}
		visitor(id, typ, pr)
	}
}
