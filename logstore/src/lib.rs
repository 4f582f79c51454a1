//! The shared, multi-group raft log of a polyraft host.
//!
//! One log per host holds the entries, hard states and snapshot metadata of
//! every raft group the host runs. Writes from many groups that are ready at
//! the same moment go into one [`WriteBatch`] and reach the disk with one
//! write and (when asked) one fdatasync: group commit.
//!
//! [`LogStore`] is the contract the host's engine is written against. It is
//! a trait so that the deterministic simulator can run a whole cluster on an
//! in-memory log that loses unsynced data when a simulated host crashes.
//!
//! Semantics per group follow etcd's MemoryStorage: appending entries that
//! start at or below the last index replaces the conflicting suffix; a
//! snapshot the log holds (its index with its term: one the host created)
//! is recorded and the entries stay, as etcd's `CreateSnapshot`, so the
//! host can keep a tail for slow followers; any other snapshot (one
//! installed from a leader) replaces the whole log, as `ApplySnapshot`;
//! `compact` drops entries up to an index, as `Compact`. The storage reads (`term`, `entries`, ...) answer with the core's
//! storage errors (`Compacted`, `Unavailable`), so a [`polyraft::Storage`]
//! implementation over one group is a thin adapter.

use polyraft::raftpb::{Entry, HardState, SnapshotMetadata};

/// Implements the [`LogStore`] methods that only read the log or drop parts
/// of it (`groups` through `remove_group`) by forwarding them to
/// `self.$inner`: for wrappers that change how writes happen (a stalled
/// disk, injected faults, a gate in a test) and write `write` and `purge`
/// themselves. Use it inside the wrapper's `impl LogStore for ...` block.
#[macro_export]
macro_rules! forward_log_reads {
    ($inner:ident) => {
        fn groups(&self) -> Vec<u64> {
            self.$inner.groups()
        }
        fn hard_state(&self, group: u64) -> polyraft::raftpb::HardState {
            self.$inner.hard_state(group)
        }
        fn snapshot_metadata(&self, group: u64) -> polyraft::raftpb::SnapshotMetadata {
            self.$inner.snapshot_metadata(group)
        }
        fn first_index(&self, group: u64) -> u64 {
            self.$inner.first_index(group)
        }
        fn last_index(&self, group: u64) -> u64 {
            self.$inner.last_index(group)
        }
        fn term(&self, group: u64, index: u64) -> polyraft::Result<u64> {
            self.$inner.term(group, index)
        }
        fn entries(&self, group: u64, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<polyraft::raftpb::Entry>> {
            self.$inner.entries(group, lo, hi, max_size)
        }
        fn compact(&self, group: u64, index: u64) -> Result<(), $crate::Error> {
            self.$inner.compact(group, index)
        }
        fn remove_group(&self, group: u64) -> Result<(), $crate::Error> {
            self.$inner.remove_group(group)
        }
    };
}

mod file;
mod group;
mod mem;
mod stall;

pub use file::{FileLogStore, FileStats, Options, RecoveryReport, TornTail};
pub use mem::{MemLogStore, MemStats};
pub use stall::StallableLogStore;

/// One group's part of a [`WriteBatch`]. Applied in field order: the
/// snapshot first, then the entries, then the hard state.
#[derive(Debug, Clone, Default)]
pub struct GroupWrite {
    /// The raft group.
    pub group: u64,
    /// A snapshot installed or created at this point (its metadata only: the
    /// snapshot's data lives with the host, outside the log). It must be
    /// newer than the group's current one. When the log holds its index
    /// with its term (a snapshot the host created) the entries stay and
    /// [`LogStore::compact`] drops them later; otherwise (a snapshot from
    /// the leader) the whole log is replaced by it.
    pub snapshot: Option<SnapshotMetadata>,
    /// Entries to append; contiguous and ascending. An entry at or below
    /// the group's last index truncates the log from there first.
    pub entries: Vec<Entry>,
    /// The new hard state, if it changed.
    pub hard_state: Option<HardState>,
}

/// Everything to persist at one moment, for any number of groups.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// The groups' writes; a group appears at most once.
    pub groups: Vec<GroupWrite>,
}

/// What one [`LogStore::write`] cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Bytes appended to the log.
    pub bytes: u64,
    /// fdatasync calls made (0 or 1 for one write).
    pub syncs: u64,
}

/// The shared log of one host. Implementations are `Send + Sync`: one writer
/// thread calls `write` while step workers read concurrently.
pub trait LogStore: Send + Sync {
    /// Persists `batch` atomically per record, in order. With `sync`, the
    /// call returns only after the data is durable (one fdatasync for the
    /// whole batch). On error nothing of the batch may be assumed durable,
    /// and the store refuses further writes until reopened.
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<WriteStats, Error>;
    /// Groups that have any state in the log, ascending.
    fn groups(&self) -> Vec<u64>;
    /// The group's last persisted hard state (zero if none).
    fn hard_state(&self, group: u64) -> HardState;
    /// The metadata of the group's latest snapshot (zero if none).
    fn snapshot_metadata(&self, group: u64) -> SnapshotMetadata;
    /// Index of the group's first readable entry (snapshot index + 1 when
    /// the log is empty).
    fn first_index(&self, group: u64) -> u64;
    /// Index of the group's last entry (the snapshot index when empty).
    fn last_index(&self, group: u64) -> u64;
    /// Term of entry `index`, for `first_index - 1 <= index <= last_index`;
    /// `Compacted` below, `Unavailable` above.
    fn term(&self, group: u64, index: u64) -> polyraft::Result<u64>;
    /// Entries in `[lo, hi)`, at most `max_size` encoded bytes but at least
    /// one entry when any is in range; `Compacted`/`Unavailable` as `term`.
    fn entries(&self, group: u64, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>>;
    /// Drops the group's entries up to and including `index` (which must be
    /// applied and covered by a snapshot the host keeps). Durable with the
    /// next synced write; space is reclaimed by [`LogStore::purge`].
    fn compact(&self, group: u64, index: u64) -> Result<(), Error>;
    /// Forgets a group entirely (its replica was removed from this host).
    fn remove_group(&self, group: u64) -> Result<(), Error>;
    /// Reclaims space: old segments whose records are mostly dead have their
    /// live records rewritten to the head and are deleted.
    fn purge(&self) -> Result<PurgeStats, Error>;
}

/// What one [`LogStore::purge`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Segment files deleted.
    pub segments_removed: u64,
    /// Live bytes rewritten to keep them.
    pub bytes_rewritten: u64,
}

/// Failures of the log. Storage reads use [`polyraft::Error`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed; the source keeps the errno.
    #[error("{context}: {source}")]
    Io {
        /// What the log was doing.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The log's files are damaged in a way recovery cannot repair.
    #[error("log damaged: {0}")]
    Corrupt(String),
    /// Another process holds the directory's lock file.
    #[error("log directory {0} is locked by another process")]
    Locked(String),
    /// A caller's mistake (non-contiguous entries, a write after a failure...).
    #[error("{0}")]
    Invalid(String),
}
