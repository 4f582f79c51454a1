package polyraft

import (
	raft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Compile-time proof of the drop-in claim: a polyraft Node is an etcd
// raft.Node, and *RawNode has etcd's *RawNode methods with etcd's
// signatures (the test TestRawNodeMethodSet checks that the list below is
// all of them).

var _ raft.Node = (*node)(nil)

// etcdRawNode is the method set of etcd's *RawNode (v3.7).
type etcdRawNode interface {
	Advance(rd Ready)
	ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState
	BasicStatus() BasicStatus
	Bootstrap(peers []Peer) error
	Campaign() error
	ForgetLeader() error
	HasReady() bool
	Propose(data []byte) error
	ProposeConfChange(cc pb.ConfChangeI) error
	ReadIndex(rctx []byte)
	Ready() Ready
	ReportSnapshot(id uint64, status SnapshotStatus)
	ReportUnreachable(id uint64)
	Status() Status
	Step(m *pb.Message) error
	Tick()
	TickQuiesced()
	TransferLeader(transferee uint64)
	WithProgress(visitor func(id uint64, typ ProgressType, pr Progress))
}

var (
	_ etcdRawNode = (*raft.RawNode)(nil)
	_ etcdRawNode = (*RawNode)(nil)
)
