package polyraft

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"reflect"
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

// statusDetail is the node's configuration and the progress of every
// peer it tracks, read through the typed calls.
type statusDetail struct {
	config   *pb.ConfState
	progress []C.polyraft_progress
}

// detailLocked reads the configuration and every tracked progress (the
// node locked by the caller).
func (rn *RawNode) detailLocked(op string) (statusDetail, error) {
	var d statusDetail
	var cs C.polyraft_conf_state
	if err := rn.doLocked(op, func(h *C.polyraft_node) cResult { return C.polyraft_node_config(h, &cs) }); err != nil {
		return d, err
	}
	d.config = goConfState(&cs)
	var n C.size_t
	for {
		var p *C.polyraft_progress
		if len(d.progress) > 0 {
			p = &d.progress[0]
		}
		err := rn.doLocked(op, func(h *C.polyraft_node) cResult {
			return C.polyraft_node_progress(h, p, C.size_t(len(d.progress)), &n)
		})
		if err != nil {
			return d, err
		}
		if int(n) <= len(d.progress) {
			d.progress = d.progress[:n]
			return d, nil
		}
		d.progress = make([]C.polyraft_progress, n)
	}
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

// progressMap converts the progress, keyed by id.
func (d *statusDetail) progressMap() map[uint64]Progress {
	out := make(map[uint64]Progress, len(d.progress))
	for i := range d.progress {
		p := &d.progress[i]
		pr := Progress{
			Match: uint64(p.match_index), Next: uint64(p.next), State: tracker.StateType(p.state),
			PendingSnapshot: uint64(p.pending_snapshot), RecentActive: bool(p.recent_active),
			MsgAppFlowPaused: bool(p.msg_app_flow_paused), IsLearner: bool(p.is_learner),
		}
		setSentCommit(&pr, uint64(p.sent_commit))
		out[uint64(p.id)] = pr
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
	c := d.config
	st.Config = tracker.Config{
		Voters:       quorum.JointConfig{majority(c.GetVoters()), nil},
		AutoLeave:    c.GetAutoLeave(),
		Learners:     idSet(c.GetLearners()),
		LearnersNext: idSet(c.GetLearnersNext()),
	}
	if len(c.GetVotersOutgoing()) > 0 {
		st.Config.Voters[1] = majority(c.GetVotersOutgoing())
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
