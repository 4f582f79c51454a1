//! The one error type of the crate. Display texts are etcd's, because the
//! conformance scripts print them.

/// Every failure polyraft reports. Storage errors (`Compacted`,
/// `SnapOutOfDate`, `Unavailable`, `SnapshotTemporarilyUnavailable`) are the
/// ones a [`crate::Storage`] implementation returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A proposal was ignored (no leader, leader transfer in progress,
    /// uncommitted size limit, removed leader...); the caller may retry.
    #[error("raft proposal dropped")]
    ProposalDropped,
    /// A local message type (MsgHup, MsgBeat, MsgStorage*...) was given to
    /// `step` as if it came from a peer.
    #[error("raft: cannot step raft local message")]
    StepLocalMsg,
    /// A response message names a peer the node does not track.
    #[error("raft: cannot step as peer not found")]
    StepPeerNotFound,
    /// The requested index is below the storage's first index.
    #[error("requested index is unavailable due to compaction")]
    Compacted,
    /// The snapshot offered is older than the one storage holds.
    #[error("requested index is older than the existing snapshot")]
    SnapOutOfDate,
    /// The requested entry does not exist (yet).
    #[error("requested entry at index is unavailable")]
    Unavailable,
    /// The storage cannot produce a snapshot right now; raft retries later.
    #[error("snapshot is temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
    /// The configuration failed validation.
    #[error("{0}")]
    InvalidConfig(String),
    /// A configuration change could not be applied or was invalid.
    #[error("{0}")]
    ConfChange(String),
    /// Bytes that are not a valid raftpb encoding.
    #[error("malformed raftpb bytes: {0}")]
    Decode(String),
    /// A caller's storage failed in a way raft cannot recover from.
    #[error("storage failure: {0}")]
    Storage(String),
    /// A method was called in a state that does not allow it (for example
    /// `advance` with async storage writes enabled).
    #[error("{0}")]
    InvalidState(String),
    /// An invariant was violated (for example a peer claims a commit index
    /// beyond our log). etcd panics here; polyraft refuses further work on
    /// the node instead. Every later call returns this error again.
    #[error("raft node is unusable: {0}")]
    Fatal(String),
}

/// Shorthand for `std::result::Result<T, polyraft::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
