//! The one error type of the crate. Display texts are etcd's, because the
//! conformance scripts print them.

use std::sync::Arc;

/// Every failure polyraft reports. Storage errors (`Compacted`,
/// `SnapOutOfDate`, `Unavailable`, `SnapshotTemporarilyUnavailable`) are the
/// ones a [`crate::Storage`] implementation returns; [`Error::Io`] and
/// [`Error::Storage`] are its unrecoverable failures.
///
/// New variants may be added in minor releases (`#[non_exhaustive]`): match
/// with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// A storage's operating-system call failed; the [`IoError`] keeps the
    /// `std::io::Error` and its errno. Unrecoverable, like [`Error::Storage`].
    #[error("storage failure: {0}")]
    Io(#[source] IoError),
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

impl Error {
    /// The kind of the error as every binding names it: the name of its C
    /// result code (`POLYRAFT_PROPOSAL_DROPPED`...). The C ABI maps it to
    /// its code, Python to its exception class, Go (through the code) to
    /// its sentinel: this is the one place the kinds are assigned.
    pub fn code_name(&self) -> &'static str {
        match self {
            Error::ProposalDropped => "POLYRAFT_PROPOSAL_DROPPED",
            Error::StepLocalMsg => "POLYRAFT_STEP_LOCAL_MSG",
            Error::StepPeerNotFound => "POLYRAFT_STEP_PEER_NOT_FOUND",
            Error::Compacted => "POLYRAFT_STORAGE_COMPACTED",
            Error::SnapOutOfDate => "POLYRAFT_STORAGE_SNAP_OUT_OF_DATE",
            Error::Unavailable => "POLYRAFT_STORAGE_UNAVAILABLE",
            Error::SnapshotTemporarilyUnavailable => "POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE",
            Error::InvalidConfig(_) => "POLYRAFT_INVALID_CONFIG",
            Error::ConfChange(_) => "POLYRAFT_CONF_CHANGE",
            Error::Decode(_) => "POLYRAFT_DECODE",
            Error::Storage(_) => "POLYRAFT_STORAGE_FAILURE",
            Error::Io(_) => "POLYRAFT_IO_ERROR",
            Error::InvalidState(_) => "POLYRAFT_INVALID_STATE",
            Error::Fatal(_) => "POLYRAFT_FATAL",
        }
    }
}

/// Shorthand for `std::result::Result<T, polyraft::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// An operating-system I/O failure and what was being done, as kept by
/// [`Error::Io`]. Cheap to clone (the `std::io::Error` is shared), so the
/// error a node stores and returns again keeps its errno.
#[derive(Debug, Clone)]
pub struct IoError {
    context: String,
    error: Arc<std::io::Error>,
}

impl IoError {
    /// Wraps `error`; `context` says what failed, for example
    /// `"fsync /var/raft/0000000000000000-0000000000000001.wal"`.
    pub fn new(context: impl Into<String>, error: std::io::Error) -> Self {
        Self::from_shared(context, Arc::new(error))
    }

    /// Like [`IoError::new`], for an error already shared (a storage that
    /// keeps its first failure and reports it again).
    pub fn from_shared(context: impl Into<String>, error: Arc<std::io::Error>) -> Self {
        IoError { context: context.into(), error }
    }

    /// What was being done.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The operating system's error code (errno on Unix), if the failure
    /// came from the operating system.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.error.raw_os_error()
    }

    /// The portable category of the failure.
    pub fn kind(&self) -> std::io::ErrorKind {
        self.error.kind()
    }

    /// The underlying error.
    pub fn io_error(&self) -> &std::io::Error {
        &self.error
    }
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.error)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// Equal when they describe the same failure: same context, kind, errno and
/// message (`std::io::Error` itself has no equality).
impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context
            && self.kind() == other.kind()
            && self.raw_os_error() == other.raw_os_error()
            && self.error.to_string() == other.error.to_string()
    }
}

impl Eq for IoError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_errno_and_source_through_clones() {
        let e = Error::Io(IoError::new("fsync d/1.wal", std::io::Error::from_raw_os_error(5)));
        let copy = e.clone();
        assert_eq!(e, copy);
        let Error::Io(io) = &copy else { panic!("{copy:?}") };
        assert_eq!(io.raw_os_error(), Some(5));
        assert_eq!(io.context(), "fsync d/1.wal");
        assert!(e.to_string().starts_with("storage failure: fsync d/1.wal: "), "{e}");
        // The chain: Error -> IoError -> std::io::Error.
        let src = std::error::Error::source(&e).expect("IoError");
        let inner = src.source().and_then(|s| s.downcast_ref::<std::io::Error>()).expect("io::Error");
        assert_eq!(inner.raw_os_error(), Some(5));
        let other = Error::Io(IoError::new("fsync d/1.wal", std::io::Error::from_raw_os_error(28)));
        assert_ne!(e, other);
    }
}
