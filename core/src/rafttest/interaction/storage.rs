//! The storage each scripted node runs on: a MemoryStorage whose
//! `snapshot()` is the node's latest applied state (etcd's
//! snapOverrideStorage), since the harness's "state machine" is the
//! history of snapshots built while applying.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::raftpb::{ConfState, Entry, HardState, Snapshot};
use crate::storage::{MemoryStorage, Storage};
use crate::Result;

/// MemoryStorage plus the node's snapshot history.
#[derive(Clone)]
pub struct EnvStorage {
    /// The persisted log and HardState.
    pub mem: MemoryStorage,
    /// Every state the node reached by applying entries; the last one is
    /// what the node offers as its snapshot.
    pub history: Arc<Mutex<Vec<Snapshot>>>,
}

impl Storage for EnvStorage {
    fn initial_state(&self) -> Result<(HardState, ConfState)> {
        self.mem.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
        self.mem.entries(lo, hi, max_size)
    }
    fn term(&self, i: u64) -> Result<u64> {
        self.mem.term(i)
    }
    fn last_index(&self) -> Result<u64> {
        self.mem.last_index()
    }
    fn first_index(&self) -> Result<u64> {
        self.mem.first_index()
    }
    fn snapshot(&self) -> Result<Snapshot> {
        Ok(super::last_snapshot(&self.history))
    }
}
