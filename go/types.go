package polyraft

import (
	raft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// The types that cross the API are etcd raft's own (type aliases), so a
// program written against go.etcd.io/raft/v3 compiles unchanged against
// this package, and values flow between the two (a polyraft Node is an
// etcd raft.Node; its Readys, Statuses and SnapshotStatuses are etcd's).
type (
	// StateType is the role of a node in a cluster.
	StateType = raft.StateType
	// ReadOnlyOption selects how ReadIndex requests are confirmed.
	ReadOnlyOption = raft.ReadOnlyOption
	// SnapshotStatus is reported by the application through ReportSnapshot.
	SnapshotStatus = raft.SnapshotStatus
	// Peer is a member given to Bootstrap / StartNode.
	Peer = raft.Peer
	// Config holds the parameters of a node: etcd's fields, defaults and
	// validation. Storage may be a *MemoryStorage or a *DurableStorage of
	// this package (read natively, without callbacks) or any other
	// Storage (called back). Logger receives the library's log lines (nil:
	// the package logger, see SetLogger). TraceLogger is not supported
	// (it must be nil).
	Config = raft.Config
	// Logger is etcd raft's logger interface.
	Logger = raft.Logger
	// DefaultLogger is etcd raft's standard logger (log.Logger based).
	DefaultLogger = raft.DefaultLogger
	// SoftState is volatile state (leader, role); it need not be persisted.
	SoftState = raft.SoftState
	// ReadState answers a ReadIndex request.
	ReadState = raft.ReadState
	// Ready is what a node has to persist, send and apply: a plain value,
	// a Go copy that stays valid after Advance.
	Ready = raft.Ready
	// BasicStatus is basic information about a node.
	BasicStatus = raft.BasicStatus
	// Status is BasicStatus plus the configuration and, on a leader, the
	// progress of every member.
	Status = raft.Status
	// Progress is a leader's view of one follower. Inflights is not
	// reported (nil).
	Progress = tracker.Progress
	// ProgressState is the replication state of a follower.
	ProgressState = tracker.StateType
	// ProgressType tells voters from learners in RawNode.WithProgress.
	ProgressType = raft.ProgressType
	// EntryFormatter formats an entry's data for the Describe functions.
	EntryFormatter = raft.EntryFormatter
	// Storage is etcd raft's Storage interface (see storage.go).
	Storage = raft.Storage
	// Node is etcd raft's Node interface: a node driven by its own
	// goroutine, talked to through channels. The nodes of this package
	// also have Err (see NodeErr).
	Node = raft.Node
	// CampaignType is etcd's campaign kind.
	CampaignType = raft.CampaignType
	// TraceLogger is etcd's state trace hook (unsupported: leave it nil).
	TraceLogger = raft.TraceLogger
	// TracingEvent is etcd's state trace event.
	TracingEvent = raft.TracingEvent
)

// etcd's constants, with etcd's values.
const (
	// StateTraceDeployed tells whether etcd's state tracing is built in
	// (never here: TraceLogger is not supported).
	StateTraceDeployed = false

	// None is a placeholder node ID used when there is no leader.
	None = raft.None
	// LocalAppendThread is the target of MsgStorageAppend messages.
	LocalAppendThread = raft.LocalAppendThread
	// LocalApplyThread is the target of MsgStorageApply messages.
	LocalApplyThread = raft.LocalApplyThread

	StateFollower     = raft.StateFollower
	StateCandidate    = raft.StateCandidate
	StateLeader       = raft.StateLeader
	StatePreCandidate = raft.StatePreCandidate

	// ReadOnlySafe confirms a read with a round of heartbeats to a quorum.
	ReadOnlySafe = raft.ReadOnlySafe
	// ReadOnlyLeaseBased relies on the leader lease (needs CheckQuorum).
	ReadOnlyLeaseBased = raft.ReadOnlyLeaseBased

	SnapshotFinish  = raft.SnapshotFinish
	SnapshotFailure = raft.SnapshotFailure

	ProgressTypePeer    = raft.ProgressTypePeer
	ProgressTypeLearner = raft.ProgressTypeLearner

	// Progress states (etcd's tracker package).
	StateProbe     = tracker.StateProbe
	StateReplicate = tracker.StateReplicate
	StateSnapshot  = tracker.StateSnapshot
)
