//! The unstable part of the log: entries and a snapshot not yet persisted
//! to [`crate::Storage`] (mirrors etcd's log_unstable.go).
//!
//! Invariants: `entries[i]` has index `offset + i`; if `snapshot` is set,
//! `offset == snapshot.index + 1`. Entries below `offset_in_progress` (and
//! the snapshot when `snapshot_in_progress`) were handed to the application
//! for persistence but are not yet acknowledged as stable.

use std::sync::Arc;

use crate::log::EntryId;
use crate::logger::Logger;
use crate::raftpb::{Entry, Snapshot};
use crate::rlog;

pub use crate::util::{ents_size, limit_size, payloads_size};

/// The term guard of [`Unstable::stable_to`]. Always on; off only in the
/// simulator's `no_append_term_guard` mutant (`make mutants`), which checks
/// that the simulation catches its absence.
const APPEND_TERM_GUARD: bool = !cfg!(polyraft_mutant = "no_append_term_guard");

/// Entries and a snapshot waiting to be persisted.
pub struct Unstable {
    /// An incoming snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Entries not yet persisted, starting at `offset`.
    pub entries: Vec<Entry>,
    /// Index of `entries[0]`.
    pub offset: u64,
    /// Whether the snapshot is being persisted.
    pub snapshot_in_progress: bool,
    /// Entries with index below this are being persisted.
    pub offset_in_progress: u64,
    logger: Arc<dyn Logger>,
}

impl Unstable {
    /// An empty unstable log whose next entry will have index `offset`.
    pub fn new(offset: u64, logger: Arc<dyn Logger>) -> Self {
        Unstable {
            snapshot: None,
            entries: Vec::new(),
            offset,
            snapshot_in_progress: false,
            offset_in_progress: offset,
            logger,
        }
    }

    /// The first index, if the unstable log holds a snapshot.
    pub fn maybe_first_index(&self) -> Option<u64> {
        self.snapshot.as_ref().map(|s| s.index() + 1)
    }

    /// The last index, if the unstable log holds entries or a snapshot.
    pub fn maybe_last_index(&self) -> Option<u64> {
        if !self.entries.is_empty() {
            return Some(self.offset + self.entries.len() as u64 - 1);
        }
        self.snapshot.as_ref().map(|s| s.index())
    }

    /// The term of entry `i`, if the unstable log knows it.
    pub fn maybe_term(&self, i: u64) -> Option<u64> {
        if i < self.offset {
            return self.snapshot.as_ref().filter(|s| s.index() == i).map(|s| s.term());
        }
        let last = self.maybe_last_index()?;
        if i > last {
            return None;
        }
        Some(self.entries[(i - self.offset) as usize].term)
    }

    /// Entries not yet handed out for persistence.
    pub fn next_entries(&self) -> &[Entry] {
        let in_progress = (self.offset_in_progress - self.offset) as usize;
        &self.entries[in_progress.min(self.entries.len())..]
    }

    /// The snapshot, unless it is already being persisted.
    pub fn next_snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref().filter(|_| !self.snapshot_in_progress)
    }

    /// Marks everything currently unstable as handed out for persistence.
    pub fn accept_in_progress(&mut self) {
        if let Some(last) = self.entries.last() {
            self.offset_in_progress = last.index + 1;
        }
        if self.snapshot.is_some() {
            self.snapshot_in_progress = true;
        }
    }

    /// Drops entries up to `id` once they are persisted, unless the log was
    /// rewritten since (then `id.term` no longer matches and the entries
    /// stay: a later persistence will cover them).
    pub fn stable_to(&mut self, id: EntryId) {
        let Some(gt) = self.maybe_term(id.index) else {
            rlog!(self.logger, Info, "entry at index {} missing from unstable log; ignoring", id.index);
            return;
        };
        if id.index < self.offset {
            rlog!(self.logger, Info, "entry at index {} matched unstable snapshot; ignoring", id.index);
            return;
        }
        // The term guard: a write acknowledged for entries that were since
        // replaced (the append ABA race) must not mark the new ones stable.
        if APPEND_TERM_GUARD && gt != id.term {
            rlog!(
                self.logger,
                Info,
                "entry at (index,term)=({},{}) mismatched with entry at ({},{}) in unstable log; ignoring",
                id.index,
                id.term,
                id.index,
                gt
            );
            return;
        }
        let num = (id.index + 1 - self.offset) as usize;
        self.entries.drain(..num);
        self.offset = id.index + 1;
        self.offset_in_progress = self.offset_in_progress.max(self.offset);
        // Give memory back when the buffer became mostly empty.
        if self.entries.capacity() > 1024 && self.entries.len() * 2 < self.entries.capacity() {
            self.entries.shrink_to_fit();
        }
    }

    /// Drops the snapshot once it is persisted.
    pub fn stable_snap_to(&mut self, i: u64) {
        if self.snapshot.as_ref().is_some_and(|s| s.index() == i) {
            self.snapshot = None;
            self.snapshot_in_progress = false;
        }
    }

    /// Replaces everything with the snapshot `s`.
    pub fn restore(&mut self, s: Snapshot) {
        self.offset = s.index() + 1;
        self.offset_in_progress = self.offset;
        self.entries.clear();
        self.snapshot = Some(s);
        self.snapshot_in_progress = false;
    }

    /// Appends `ents` (contiguous, non-empty), first cutting off any
    /// unstable entries at or after `ents[0].index`.
    pub fn truncate_and_append(&mut self, ents: &[Entry]) {
        self.truncate_and_append_owned(ents.to_vec());
    }

    /// [`Unstable::truncate_and_append`] for entries the caller gives away:
    /// they move in rather than being cloned.
    pub fn truncate_and_append_owned(&mut self, mut ents: Vec<Entry>) {
        self.append_from(&mut ents);
    }

    /// [`Unstable::truncate_and_append_owned`] moving the entries out of
    /// `ents`: it is left empty, with its buffer for the caller to reuse
    /// unless it became the unstable log's own.
    pub fn append_from(&mut self, ents: &mut Vec<Entry>) {
        let Some(first) = ents.first() else { return };
        let from = first.index;
        if from == self.offset + self.entries.len() as u64 {
            self.entries.append(ents);
        } else if from <= self.offset {
            rlog!(self.logger, Info, "replace the unstable entries from index {}", from);
            // The whole unstable tail, and possibly part of the stable log,
            // is superseded.
            self.entries = std::mem::take(ents);
            self.offset = from;
            self.offset_in_progress = self.offset;
        } else {
            rlog!(self.logger, Info, "truncate the unstable entries before index {}", from);
            self.entries.truncate((from - self.offset) as usize);
            self.entries.append(ents);
            // Entries from `from` on must be persisted again.
            self.offset_in_progress = self.offset_in_progress.min(from);
        }
    }

    /// Entries `[lo, hi)`, which must lie within the unstable entries.
    pub fn slice(&self, lo: u64, hi: u64) -> &[Entry] {
        let upper = self.offset + self.entries.len() as u64;
        let (lo, hi) = (lo.clamp(self.offset, upper), hi.clamp(self.offset, upper));
        if lo >= hi {
            return &[];
        }
        &self.entries[(lo - self.offset) as usize..(hi - self.offset) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logger::NoopLogger;

    fn ent(i: u64, t: u64) -> Entry {
        Entry { index: i, term: t, ..Default::default() }
    }

    fn unstable(offset: u64, ents: &[Entry]) -> Unstable {
        let mut u = Unstable::new(offset, Arc::new(NoopLogger));
        u.entries = ents.to_vec();
        u
    }

    #[test]
    fn truncate_and_append_cases() {
        // Append directly after.
        let mut u = unstable(5, &[ent(5, 1)]);
        u.truncate_and_append(&[ent(6, 1), ent(7, 1)]);
        assert_eq!(u.entries, vec![ent(5, 1), ent(6, 1), ent(7, 1)]);
        // Replace from before offset.
        let mut u = unstable(5, &[ent(5, 1)]);
        u.truncate_and_append(&[ent(4, 2), ent(5, 2)]);
        assert_eq!((u.offset, u.entries.clone()), (4, vec![ent(4, 2), ent(5, 2)]));
        // Truncate in the middle.
        let mut u = unstable(5, &[ent(5, 1), ent(6, 1), ent(7, 1)]);
        u.offset_in_progress = 8;
        u.truncate_and_append(&[ent(6, 2)]);
        assert_eq!(u.entries, vec![ent(5, 1), ent(6, 2)]);
        assert_eq!(u.offset_in_progress, 6);
    }

    #[test]
    fn stable_to_respects_terms() {
        let mut u = unstable(5, &[ent(5, 1), ent(6, 1)]);
        u.stable_to(EntryId { term: 2, index: 5 });
        assert_eq!(u.offset, 5, "term mismatch must not drop entries");
        u.stable_to(EntryId { term: 1, index: 5 });
        assert_eq!((u.offset, u.entries.len()), (6, 1));
        u.stable_to(EntryId { term: 1, index: 9 });
        assert_eq!(u.entries.len(), 1);
    }

    #[test]
    fn terms_and_indexes() {
        let mut u = unstable(5, &[ent(5, 1)]);
        assert_eq!(u.maybe_last_index(), Some(5));
        assert_eq!(u.maybe_term(5), Some(1));
        assert_eq!(u.maybe_term(4), None);
        let snap = Snapshot {
            metadata: Some(crate::raftpb::SnapshotMetadata { index: 4, term: 1, conf_state: None }),
            ..Default::default()
        };
        u.snapshot = Some(snap);
        assert_eq!(u.maybe_first_index(), Some(5));
        assert_eq!(u.maybe_term(4), Some(1));
        u.accept_in_progress();
        assert!(u.next_entries().is_empty());
        assert!(u.next_snapshot().is_none());
    }
}
