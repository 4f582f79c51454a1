//! Test support shared by several of the core's test files (each includes
//! it with `mod common;`).

#![allow(dead_code)]

use std::sync::Arc;

use parking_lot::Mutex;
use polyraft::raftpb::{ConfState, Entry, HardState, Snapshot};
use polyraft::{Error, MemoryStorage, Result, Storage};

/// Answers a [`FaultyStorage`] gives in place of its MemoryStorage's; `None`
/// lets the call through.
#[derive(Default)]
pub struct Faults {
    pub first_index: Option<Result<u64>>,
    pub last_index: Option<Result<u64>>,
    /// The error `entries` answers.
    pub entries: Option<Error>,
}

/// A MemoryStorage whose bounds and entries can be made to misbehave or
/// fail, for tests of how raft takes such a storage. Clones share the
/// faults, so a test keeps a handle after giving the storage to a node.
#[derive(Clone)]
pub struct FaultyStorage {
    pub inner: MemoryStorage,
    faults: Arc<Mutex<Faults>>,
}

impl FaultyStorage {
    /// Wraps `inner`, answering as it does.
    pub fn new(inner: MemoryStorage) -> Self {
        FaultyStorage { inner, faults: Arc::default() }
    }

    /// Changes the faults.
    pub fn set(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock());
    }
}

impl Storage for FaultyStorage {
    fn initial_state(&self) -> Result<(HardState, ConfState)> {
        self.inner.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
        match &self.faults.lock().entries {
            Some(e) => Err(e.clone()),
            None => self.inner.entries(lo, hi, max_size),
        }
    }
    fn term(&self, i: u64) -> Result<u64> {
        self.inner.term(i)
    }
    fn last_index(&self) -> Result<u64> {
        match &self.faults.lock().last_index {
            Some(r) => r.clone(),
            None => self.inner.last_index(),
        }
    }
    fn first_index(&self) -> Result<u64> {
        match &self.faults.lock().first_index {
            Some(r) => r.clone(),
            None => self.inner.first_index(),
        }
    }
    fn snapshot(&self) -> Result<Snapshot> {
        self.inner.snapshot()
    }
}
