//! The in-memory copy of the log that reads are served from, with
//! MemoryStorage's exact semantics (same checks, same errors). Like etcd's
//! users (which keep a MemoryStorage beside their WAL), DurableStorage keeps
//! every live entry in memory: the disk is only read at open.
//!
//! Writes are split into a `check_*` (may fail, changes nothing) and an
//! infallible apply, so the WAL record is written only for a change that
//! will be made, and memory changes only after the record was written.

use super::record::MAX_INDEX;
use crate::raftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use crate::storage::check_contiguous;
use crate::util::limit_size;
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub(crate) struct MemLog {
    pub hard_state: HardState,
    pub snapshot: Snapshot,
    /// `ents[0]` is a dummy holding the index and term of the entry before
    /// the first stored one (the compaction point).
    ents: Vec<Entry>,
}

fn dummy(index: u64, term: u64) -> Entry {
    Entry { index, term, ..Default::default() }
}

impl MemLog {
    pub(crate) fn new(base_index: u64, base_term: u64) -> Self {
        MemLog {
            hard_state: HardState::default(),
            snapshot: Snapshot::default(),
            ents: vec![dummy(base_index, base_term)],
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.ents[0].index
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.offset() + self.ents.len() as u64 - 1
    }

    pub(crate) fn last_term(&self) -> u64 {
        self.ents[self.ents.len() - 1].term
    }

    pub(crate) fn conf_state(&self) -> ConfState {
        self.snapshot.conf_state()
    }

    pub(crate) fn entries(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
        let offset = self.offset();
        if lo <= offset {
            return Err(Error::Compacted);
        }
        let last = self.last_index();
        if hi > last + 1 {
            return Err(Error::Storage(format!("entries' hi({hi}) is out of bound lastindex({last})")));
        }
        if self.ents.len() == 1 {
            return Err(Error::Unavailable);
        }
        if lo >= hi {
            return Ok(Vec::new());
        }
        Ok(limit_size(self.ents[(lo - offset) as usize..(hi - offset) as usize].to_vec(), max_size))
    }

    pub(crate) fn term(&self, i: u64) -> Result<u64> {
        let offset = self.offset();
        if i < offset {
            return Err(Error::Compacted);
        }
        self.ents.get((i - offset) as usize).map(|e| e.term).ok_or(Error::Unavailable)
    }

    /// The part of `entries` append would store (compacted ones dropped),
    /// or the error MemoryStorage gives.
    pub(crate) fn check_append<'a>(&self, entries: &'a [Entry]) -> Result<&'a [Entry]> {
        if entries.is_empty() {
            return Ok(entries);
        }
        // The whole batch, compacted part included: skipping that part
        // below assumes it is contiguous too.
        check_contiguous(entries)?;
        if entries[0].index > MAX_INDEX - entries.len() as u64 {
            // Replay refuses such indexes; never write what cannot be read.
            return Err(Error::Storage(format!("entry index {} out of range", entries[0].index)));
        }
        let first = self.offset() + 1;
        let last = entries[0].index + entries.len() as u64 - 1;
        if last < first {
            return Ok(&[]);
        }
        let entries = if first > entries[0].index { &entries[(first - entries[0].index) as usize..] } else { entries };
        if entries[0].index > self.last_index() + 1 {
            return Err(Error::Storage(format!(
                "missing log entry [last: {}, append at: {}]",
                self.last_index(),
                entries[0].index
            )));
        }
        Ok(entries)
    }

    /// Stores entries that passed `check_append` (non-empty), replacing
    /// everything from the first one's index on.
    pub(crate) fn append_checked(&mut self, entries: &[Entry]) {
        let at = (entries[0].index - self.offset()) as usize;
        self.ents.truncate(at);
        self.ents.extend_from_slice(entries);
    }

    /// The term of the new compaction point, or MemoryStorage's error.
    pub(crate) fn check_compact(&self, compact_index: u64) -> Result<u64> {
        if compact_index <= self.offset() {
            return Err(Error::Compacted);
        }
        let last = self.last_index();
        if compact_index > last {
            return Err(Error::Storage(format!("compact {compact_index} is out of bound lastindex({last})")));
        }
        self.term(compact_index)
    }

    /// Discards entries before `index` (which has `term`). Tolerant, for
    /// replay: a point at or behind the offset only fixes the offset's term,
    /// one beyond the log empties it.
    pub(crate) fn compact(&mut self, index: u64, term: u64) {
        let offset = self.offset();
        if index < offset {
            return;
        }
        if index > self.last_index() {
            self.ents = vec![dummy(index, term)];
            return;
        }
        self.ents.drain(..(index - offset) as usize);
        self.ents[0] = dummy(index, term);
    }

    /// The term of entry `i` for a new snapshot there, or MemoryStorage's
    /// error.
    pub(crate) fn check_create_snapshot(&self, i: u64) -> Result<u64> {
        if i <= self.snapshot.index() {
            return Err(Error::SnapOutOfDate);
        }
        let last = self.last_index();
        if i > last {
            return Err(Error::Storage(format!("snapshot {i} is out of bound lastindex({last})")));
        }
        if i < self.offset() {
            return Err(Error::Compacted);
        }
        self.term(i)
    }

    /// The snapshot `create_snapshot` makes (metadata from the current one,
    /// as MemoryStorage does).
    pub(crate) fn new_snapshot(&self, i: u64, term: u64, cs: Option<ConfState>, data: bytes::Bytes) -> Snapshot {
        let mut snap = self.snapshot.clone();
        let meta = snap.metadata.get_or_insert_with(SnapshotMetadata::default);
        meta.index = i;
        meta.term = term;
        if let Some(cs) = cs {
            meta.conf_state = Some(cs);
        }
        snap.data = data;
        snap
    }

    pub(crate) fn check_apply_snapshot(&self, snap: &Snapshot) -> Result<()> {
        if self.snapshot.index() >= snap.index() {
            return Err(Error::SnapOutOfDate);
        }
        if snap.index() > MAX_INDEX {
            return Err(Error::Storage(format!("snapshot index {} out of range", snap.index())));
        }
        Ok(())
    }

    /// Empties the log down to a dummy at `(index, term)` (what applying a
    /// received snapshot does).
    pub(crate) fn reset(&mut self, index: u64, term: u64) {
        self.ents = vec![dummy(index, term)];
    }
}
