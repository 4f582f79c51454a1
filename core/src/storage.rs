//! The Storage interface raft reads its log from, and MemoryStorage, the
//! in-memory implementation (mirrors etcd's storage.go).
//!
//! CONTRACT (filled in by the storage work; signatures are fixed):
//! MemoryStorage is a cheap-clone handle over shared state so that the
//! application and the RawNode can both hold it.

use crate::raftpb::{ConfState, Entry, HardState, Snapshot};
use crate::Result;

/// Read access raft needs to the persisted log. Errors are
/// [`crate::Error::Compacted`], [`crate::Error::Unavailable`],
/// [`crate::Error::SnapshotTemporarilyUnavailable`], or any other error,
/// which makes the node report a failure and refuse further work.
pub trait Storage {
    /// The saved HardState and ConfState, read once at start.
    fn initial_state(&self) -> Result<(HardState, ConfState)>;
    /// Entries in `[lo, hi)`, limited to `max_size` bytes of encoded
    /// entries but always at least one entry if any is in range.
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>>;
    /// Term of entry `i`, for `first_index()-1 <= i <= last_index()`.
    fn term(&self, i: u64) -> Result<u64>;
    /// Index of the last entry in storage.
    fn last_index(&self) -> Result<u64>;
    /// Index of the first entry that may be read via `entries` (older ones
    /// are compacted into the snapshot).
    fn first_index(&self) -> Result<u64>;
    /// The most recent snapshot.
    fn snapshot(&self) -> Result<Snapshot>;
}

/// In-memory storage with etcd MemoryStorage's semantics.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    _todo: (),
}
