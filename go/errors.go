package polyraft

import (
	"errors"
	"fmt"
	"syscall"

	raft "go.etcd.io/raft/v3"
)

// Sentinel errors. Every error returned by this package that stems from one
// of these conditions matches it with errors.Is. Those etcd raft has are
// etcd's own values, so errors.Is(err, raft.ErrCompacted) holds as well.
var (
	// ErrProposalDropped: the proposal was dropped (no leader known, a
	// leadership transfer in progress, a size limit...). Retry later.
	ErrProposalDropped = raft.ErrProposalDropped
	// ErrStopped is returned by methods of a Node that has been stopped.
	ErrStopped = raft.ErrStopped
	// ErrStepLocalMsg: a local message type (MsgHup, MsgBeat, ...) was
	// given to Step as if it came from a peer.
	ErrStepLocalMsg = raft.ErrStepLocalMsg
	// ErrStepPeerNotFound: a response from a peer the node does not track.
	ErrStepPeerNotFound = raft.ErrStepPeerNotFound

	// ErrCompacted: the requested index is below the first index.
	ErrCompacted = raft.ErrCompacted
	// ErrSnapOutOfDate: the snapshot offered is older than the one held.
	ErrSnapOutOfDate = raft.ErrSnapOutOfDate
	// ErrUnavailable: the requested entry does not exist (yet).
	ErrUnavailable = raft.ErrUnavailable
	// ErrSnapshotTemporarilyUnavailable: a Storage cannot produce a snapshot
	// right now; raft retries later.
	ErrSnapshotTemporarilyUnavailable = raft.ErrSnapshotTemporarilyUnavailable

	// ErrInvalidConfig: Config failed validation (the detail says why).
	ErrInvalidConfig = errors.New("raft: invalid configuration")
	// ErrConfChange: a configuration change was invalid or could not be
	// applied; the configuration is unchanged.
	ErrConfChange = errors.New("raft: invalid configuration change")
	// ErrDecode: bytes that are not a valid raftpb encoding.
	ErrDecode = errors.New("raft: malformed raftpb bytes")
	// ErrInvalidState: a call not allowed in the node's current state.
	ErrInvalidState = errors.New("raft: call not allowed in the node's current state")
	// ErrInvalidArgument: an argument out of its documented range.
	ErrInvalidArgument = errors.New("raft: invalid argument")
	// ErrStorage: a Storage failed with an error other than the four
	// storage sentinels above. The node becomes unusable (see ErrFatal);
	// the Storage's own error is wrapped too, so errors.Is finds it.
	ErrStorage = errors.New("raft: storage failure")
	// ErrFatal: the node hit an unrecoverable failure (a storage failure,
	// or a peer violating an invariant) and refuses further work. etcd
	// panics here; polyraft reports it. Close the node and restart it from
	// its storage.
	ErrFatal = errors.New("raft: node is unusable after a fatal error")
	// ErrPanic: the Rust library panicked (a bug); the node is poisoned.
	ErrPanic = errors.New("raft: library panic (bug); node poisoned")
	// ErrPoisoned: the node panicked earlier and refuses all work.
	ErrPoisoned = errors.New("raft: node is poisoned by an earlier panic")
	// ErrIO: a DurableStorage's operating system call (create, open,
	// write, fsync, rename...) failed, now or earlier. After one, what
	// reached the disk is unknown: the storage refuses every write until
	// it is closed and reopened. The detail names the call, the file and
	// the OS error.
	ErrIO = errors.New("polyraft: durable storage I/O error")
	// ErrCorrupt: a DurableStorage found damage on disk that recovery
	// must not repair (a bad record in a closed segment, a missing segment
	// or snapshot...); the files are left as they are. The detail names
	// the file, the offset and what is wrong.
	ErrCorrupt = errors.New("polyraft: durable storage is corrupt")
	// ErrClosed: the RawNode, MemoryStorage, DurableStorage or host was
	// closed.
	ErrClosed = errors.New("polyraft: use of closed handle")
	// ErrRejected: a host operation was certainly not applied (no leader,
	// the group is not running there, raft dropped it...); retrying is
	// safe. The host package's ErrRejected is this error.
	ErrRejected = errors.New("polyraft: rejected (not applied)")
	// ErrTimedOut: a host operation's outcome is unknown (its deadline
	// passed); a proposal may still be applied. The host package's
	// ErrTimedOut is this error.
	ErrTimedOut = errors.New("polyraft: timed out (outcome unknown)")
)

// Error is the error type of failed library calls. It matches its sentinel
// (Kind) with errors.Is and carries the library's detail text.
type Error struct {
	// Op is the operation that failed, e.g. "propose".
	Op string
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Detail is the library's description of this failure (may be empty).
	Detail string
	// Cause is an error returned by a Go Storage that led to this failure,
	// if any; errors.Is and errors.As see it.
	Cause error
	// Errno is the operating system's error code behind an ErrIO (ENOSPC,
	// EIO...), 0 otherwise; errors.As(err, &errno) with a syscall.Errno
	// finds it (go-sqlite3's SystemErrno).
	Errno syscall.Errno
}

func (e *Error) Error() string {
	s := "polyraft: " + e.Op + ": " + e.Kind.Error()
	if e.Detail != "" && e.Detail != e.Kind.Error() {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and, when present, the Storage's own error
// and the errno.
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	if e.Errno != 0 {
		errs = append(errs, e.Errno)
	}
	return errs
}

func newError(op string, kind error, detail string) *Error {
	return &Error{Op: op, Kind: kind, Detail: detail}
}

// errorf is used for errors detected on the Go side.
func errorf(op string, kind error, format string, args ...any) *Error {
	return newError(op, kind, fmt.Sprintf(format, args...))
}
