//! The raft Storage of one group: a view of the shared log for that group,
//! plus the group's latest snapshot, which the host holds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Index of the last membership change applied by the replica.
    pub conf_index: Arc<AtomicU64>,
    /// Set when raft asked for a snapshot older than the membership: the
    /// replica takes a fresh one.
    pub want_snapshot: Arc<AtomicBool>,
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
        let snap = self.snapshot.read().clone();
        // A follower refuses a snapshot whose configuration does not name
        // it (a replica added after the snapshot was taken): send none
        // until a fresh one exists, which the replica takes at once.
        if snap.index() < self.conf_index.load(Ordering::Acquire) {
            self.want_snapshot.store(true, Ordering::Release);
            return Err(polyraft::Error::SnapshotTemporarilyUnavailable);
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyraft::raftpb::SnapshotMetadata;
    use polyraft::Storage;
    use polyraft_logstore::{GroupWrite, MemLogStore, WriteBatch};

    /// Raft sees the group's log as the shared log holds it: after a
    /// snapshot and a compaction, the log starts after the snapshot (raft
    /// decides from the first index when a follower in snapshot state may
    /// be caught up from the log again).
    #[test]
    fn bounds_follow_the_compacted_log() {
        let log = Arc::new(MemLogStore::new());
        let entries = (1..=20).map(|i| Entry { index: i, term: 1, ..Default::default() }).collect();
        let write = |gw: GroupWrite| log.write(&WriteBatch { groups: vec![gw] }, true).unwrap();
        write(GroupWrite { group: 7, entries, hard_state: Some(HardState { term: 1, vote: 0, commit: 20 }), ..Default::default() });
        let store = GroupStorage {
            group: 7,
            log: log.clone(),
            snapshot: Arc::default(),
            conf_index: Arc::default(),
            want_snapshot: Arc::default(),
        };
        assert_eq!((store.first_index().unwrap(), store.last_index().unwrap()), (1, 20));
        let snap = SnapshotMetadata { index: 10, term: 1, conf_state: Some(ConfState { voters: vec![1], ..Default::default() }) };
        write(GroupWrite { group: 7, snapshot: Some(snap), ..Default::default() });
        log.compact(7, 10).unwrap();
        assert_eq!((store.first_index().unwrap(), store.last_index().unwrap()), (11, 20));
        assert_eq!(store.term(10).unwrap(), 1);
        assert_eq!(store.entries(5, 12, u64::MAX), Err(polyraft::Error::Compacted));
    }
}
