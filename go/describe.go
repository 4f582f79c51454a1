package polyraft

import (
	raft "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Helpers over etcd's types. They are pure functions of their arguments,
// so they are etcd's own: the texts and answers are the same byte for
// byte whichever implementation produced the values.

// IsEmptyHardState reports whether st is nil or all zero.
func IsEmptyHardState(st *pb.HardState) bool { return raft.IsEmptyHardState(st) }

// IsEmptySnap reports whether sp is nil or has index 0.
func IsEmptySnap(sp *pb.Snapshot) bool { return raft.IsEmptySnap(sp) }

// IsLocalMsg reports whether a message type never leaves the node (MsgHup,
// MsgBeat, MsgStorage*...).
func IsLocalMsg(msgt pb.MessageType) bool { return raft.IsLocalMsg(msgt) }

// IsLocalMsgTarget reports whether id is one of the local storage threads
// (LocalAppendThread, LocalApplyThread).
func IsLocalMsgTarget(id uint64) bool { return raft.IsLocalMsgTarget(id) }

// IsResponseMsg reports whether a message type answers another.
func IsResponseMsg(msgt pb.MessageType) bool { return raft.IsResponseMsg(msgt) }

// MustSync reports whether a Ready with hard state st (previously prevst)
// and entsnum entries needs a durable write.
func MustSync(st, prevst *pb.HardState, entsnum int) bool { return raft.MustSync(st, prevst, entsnum) }

// DescribeConfChange describes a configuration change.
func DescribeConfChange(cc pb.ConfChangeI) string { return raft.DescribeConfChange(cc) }

// DescribeConfState describes a configuration.
func DescribeConfState(state *pb.ConfState) string { return raft.DescribeConfState(state) }

// DescribeEntries describes entries, one per line; f formats their data
// (nil: quoted).
func DescribeEntries(ents []*pb.Entry, f EntryFormatter) string { return raft.DescribeEntries(ents, f) }

// DescribeEntry describes an entry; f formats its data (nil: quoted).
func DescribeEntry(e *pb.Entry, f EntryFormatter) string { return raft.DescribeEntry(e, f) }

// DescribeHardState describes a hard state.
func DescribeHardState(hs *pb.HardState) string { return raft.DescribeHardState(hs) }

// DescribeMessage describes a message; f formats entry data (nil: quoted).
func DescribeMessage(m *pb.Message, f EntryFormatter) string { return raft.DescribeMessage(m, f) }

// DescribeReady describes a Ready; f formats entry data (nil: quoted).
func DescribeReady(rd Ready, f EntryFormatter) string { return raft.DescribeReady(rd, f) }

// DescribeSnapshot describes a snapshot.
func DescribeSnapshot(snap *pb.Snapshot) string { return raft.DescribeSnapshot(snap) }

// DescribeSoftState describes a soft state.
func DescribeSoftState(ss SoftState) string { return raft.DescribeSoftState(ss) }
