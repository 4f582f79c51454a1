//! The raft Storage of one group: a view of the shared log for that group,
//! plus the group's latest snapshot, which the host holds.

use std::sync::Arc;

use parking_lot::RwLock;
use polyraft::raftpb::{ConfState, Entry, HardState, Snapshot};
use polyraft_logstore::LogStore;

/// What raft reads for one group. Cheap: every call goes to the shared
/// log's in-memory index or to the snapshot cell.
pub(crate) struct GroupStorage {
    pub group: u64,
    pub log: Arc<dyn LogStore>,
    /// The group's latest snapshot (data included), shared with the
    /// replica, which replaces it when it takes or installs one.
    pub snapshot: Arc<RwLock<Snapshot>>,
}

impl polyraft::Storage for GroupStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        // The configuration raft starts from is the snapshot's; the
        // membership changes after it are applied again from the log.
        Ok((self.log.hard_state(self.group), self.snapshot.read().conf_state()))
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        self.log.entries(self.group, lo, hi, max_size)
    }
    fn term(&self, i: u64) -> polyraft::Result<u64> {
        self.log.term(self.group, i)
    }
    fn last_index(&self) -> polyraft::Result<u64> {
        Ok(self.log.last_index(self.group))
    }
    fn first_index(&self) -> polyraft::Result<u64> {
        Ok(self.log.first_index(self.group))
    }
    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        Ok(self.snapshot.read().clone())
    }
}
