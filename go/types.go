package polyraft

import (
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// None is a placeholder node ID used when there is no leader.
const None uint64 = 0

// StateType is the role of a node in a cluster.
type StateType uint64

// The roles, with etcd's values.
const (
	StateFollower StateType = iota
	StateCandidate
	StateLeader
	StatePreCandidate
)

var stateNames = [...]string{"StateFollower", "StateCandidate", "StateLeader", "StatePreCandidate"}

func (st StateType) String() string {
	if int(st) < len(stateNames) {
		return stateNames[st]
	}
	return fmt.Sprintf("StateType(%d)", uint64(st))
}

// ReadOnlyOption selects how ReadIndex requests are confirmed.
type ReadOnlyOption int

const (
	// ReadOnlySafe confirms a read with a round of heartbeats to a quorum.
	ReadOnlySafe ReadOnlyOption = iota
	// ReadOnlyLeaseBased relies on the leader lease (needs CheckQuorum);
	// it is affected by clock drift.
	ReadOnlyLeaseBased
)

// SnapshotStatus is reported by the application through ReportSnapshot.
type SnapshotStatus int

// Snapshot outcomes, with etcd's values.
const (
	SnapshotFinish  SnapshotStatus = 1
	SnapshotFailure SnapshotStatus = 2
)

// Peer is a member given to Bootstrap / StartNode.
type Peer struct {
	ID      uint64
	Context []byte
}

// Config holds the parameters of a node; the fields, their meaning, defaults
// and validation rules are etcd raft's (see go.etcd.io/raft/v3 Config).
type Config struct {
	// ID of the local node; must not be 0.
	ID uint64
	// ElectionTick is the number of Ticks a follower waits without hearing
	// from a leader before campaigning; must exceed HeartbeatTick.
	ElectionTick int
	// HeartbeatTick is the number of Ticks between a leader's heartbeats.
	HeartbeatTick int
	// Storage is the node's log and state storage: a *MemoryStorage (used
	// natively, no callbacks) or any implementation of Storage.
	Storage Storage
	// Applied is the last applied index; set it only when restarting.
	Applied uint64
	// AsyncStorageWrites turns storage writes into MsgStorageAppend and
	// MsgStorageApply messages instead of the Ready/Advance cycle.
	AsyncStorageWrites bool
	// MaxSizePerMsg limits the bytes of one append message (0: one entry
	// at a time; math.MaxUint64: unlimited).
	MaxSizePerMsg uint64
	// MaxCommittedSizePerReady limits committed entries per Ready (0 means
	// MaxSizePerMsg).
	MaxCommittedSizePerReady uint64
	// MaxUncommittedEntriesSize limits the leader's uncommitted tail (0:
	// no limit).
	MaxUncommittedEntriesSize uint64
	// MaxInflightMsgs limits in-flight append messages per follower; > 0.
	MaxInflightMsgs int
	// MaxInflightBytes limits in-flight append bytes per follower (0: no
	// limit).
	MaxInflightBytes uint64
	// CheckQuorum makes a leader step down when a quorum was not active
	// for an election timeout.
	CheckQuorum bool
	// PreVote enables the Pre-Vote phase.
	PreVote bool
	// ReadOnlyOption selects how ReadIndex is confirmed.
	ReadOnlyOption ReadOnlyOption
	// DisableProposalForwarding makes followers drop proposals instead of
	// forwarding them to the leader.
	DisableProposalForwarding bool
	// DisableConfChangeValidation skips propose-time checks of
	// configuration changes.
	DisableConfChangeValidation bool
	// StepDownOnRemoval makes a leader removed from (or demoted in) the
	// configuration step down.
	StepDownOnRemoval bool
	// Logger receives the library's log lines (etcd's texts). nil keeps
	// the library's default: standard error. DiscardLogger turns logging
	// off.
	Logger Logger
	// LogLevel is the lowest level logged; the zero value is LevelInfo.
	LogLevel LogLevel
}

// Logger receives log lines from the library. Log runs inside the node call
// that logs (on its goroutine, with the node locked): it must not call into
// the node.
type Logger interface {
	Log(level LogLevel, line string)
}

// LogLevel is the severity of a log line.
type LogLevel int

// Log levels (the zero value is LevelInfo).
const (
	LevelDebug LogLevel = iota - 1
	LevelInfo
	LevelWarning
	LevelError
)

func (l LogLevel) String() string {
	switch l {
	case LevelDebug:
		return "DEBUG"
	case LevelInfo:
		return "INFO"
	case LevelWarning:
		return "WARN"
	case LevelError:
		return "ERROR"
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

type discardLogger struct{}

func (discardLogger) Log(LogLevel, string) {}

// DiscardLogger drops every line (the library does not even format them).
var DiscardLogger Logger = discardLogger{}

// SoftState is volatile state useful for logging and debugging; it need not
// be persisted.
type SoftState struct {
	Lead      uint64
	RaftState StateType
}

// ReadState answers a ReadIndex request: once the application has applied
// up to Index, reads issued before the request may be served.
type ReadState struct {
	Index      uint64
	RequestCtx []byte
}

// Ready is what a node has to persist, send and apply. All fields are
// read-only. It is a Go copy: it stays valid after Advance.
type Ready struct {
	// SoftState is nil when unchanged.
	*SoftState
	// HardState is nil when unchanged; persist it before sending Messages.
	*pb.HardState
	// ReadStates answer ReadIndex requests.
	ReadStates []ReadState
	// Entries to append to stable storage before sending Messages.
	Entries []*pb.Entry
	// Snapshot to persist (nil when none).
	Snapshot *pb.Snapshot
	// CommittedEntries to apply to the state machine.
	CommittedEntries []*pb.Entry
	// Messages to send (after Entries are persisted, unless async storage
	// writes are enabled). A MsgSnap must be answered with ReportSnapshot.
	Messages []*pb.Message
	// MustSync tells whether HardState and Entries need a durable write.
	MustSync bool
}

// IsEmptyHardState reports whether st is nil or all zero.
func IsEmptyHardState(st *pb.HardState) bool {
	return st.GetTerm() == 0 && st.GetVote() == 0 && st.GetCommit() == 0
}

// IsEmptySnap reports whether sp is nil or has index 0.
func IsEmptySnap(sp *pb.Snapshot) bool {
	return sp.GetMetadata().GetIndex() == 0
}

// ProgressState is the replication state of a follower seen by the leader.
type ProgressState uint64

// Progress states, with etcd's values.
const (
	StateProbe ProgressState = iota
	StateReplicate
	StateSnapshot
)

func (s ProgressState) String() string {
	switch s {
	case StateProbe:
		return "StateProbe"
	case StateReplicate:
		return "StateReplicate"
	case StateSnapshot:
		return "StateSnapshot"
	}
	return fmt.Sprintf("ProgressState(%d)", uint64(s))
}

// Progress is a leader's view of one follower. The C API reports Match,
// Next and State only; the other fields are zero.
type Progress struct {
	Match, Next      uint64
	State            ProgressState
	PendingSnapshot  uint64
	RecentActive     bool
	MsgAppFlowPaused bool
	IsLearner        bool
	// InflightsCount is the number of in-flight append messages.
	InflightsCount int
}

// BasicStatus is basic information about a node.
type BasicStatus struct {
	ID uint64
	*pb.HardState
	SoftState
	Applied        uint64
	LeadTransferee uint64
}

// Status is BasicStatus plus, on a leader, the progress of every member.
type Status struct {
	BasicStatus
	// Progress is only populated on the leader.
	Progress map[uint64]Progress
}
