//! The outcomes of client operations.

/// Why a client operation did not complete. The two kinds are distinct on
/// purpose: a `Rejected` proposal was certainly not applied (it may be
/// retried freely), a `TimedOut` one may or may not have been (retry it
/// within a session to have it applied once).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Certainly not applied: no leader to take it, the group is not running
    /// here, the input is invalid, raft dropped it, or another leader's entry
    /// took its place in the log.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The deadline passed before the outcome was known; a proposal may
    /// still be applied later.
    #[error("timed out (the outcome is unknown)")]
    TimedOut,
}

impl OpError {
    /// Shorthand for a [`OpError::Rejected`] with a message.
    pub fn rejected(msg: impl Into<String>) -> Self {
        OpError::Rejected(msg.into())
    }
}

/// Failures of host-level calls that are not client operations (creating a
/// host, starting a replica...).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The shared log failed.
    #[error("log: {0}")]
    Log(#[from] polyraft_logstore::Error),
    /// The raft core refused (bad configuration, damaged state...).
    #[error("raft: {0}")]
    Raft(#[from] polyraft::Error),
    /// Snapshot storage failed.
    #[error("snapshot store: {0}")]
    Snapshot(String),
    /// A caller's mistake (unknown group, replica already running...).
    #[error("{0}")]
    Invalid(String),
    /// The replica was removed from its group on this host: its log is
    /// deleted, and it must never run again under the same id (it would be
    /// a voter that forgot its votes and acknowledgements).
    #[error("{0}")]
    Removed(String),
    /// The host is closed or its worker stopped.
    #[error("host closed")]
    Closed,
}

/// Result of a client operation.
pub type OpResult<T> = Result<T, OpError>;
