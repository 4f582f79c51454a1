//! The raft log: stable entries in [`Storage`] followed by the
//! [`Unstable`] tail, with the commit/applying/applied cursors (mirrors
//! etcd's log.go).
//!
//! Invariants: `applied <= applying <= committed <= last_index()`;
//! `first_index() - 1 <= committed`. etcd panics when storage misbehaves
//! or a caller breaks these; polyraft records the failure instead (see
//! [`RaftLog::take_failure`]) so the node can refuse further work cleanly.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use crate::log_unstable::Unstable;
use crate::logger::Logger;
use crate::raftpb::{Entry, Snapshot};
use crate::rlog;
use crate::storage::Storage;
use crate::util::{ents_size, prefix_within};
use crate::{Error, Result};

/// The identity of a log entry: its term and index. Two logs that hold an
/// entry with the same id agree on every entry up to it (Log Matching).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryId {
    /// The entry's term.
    pub term: u64,
    /// The entry's index.
    pub index: u64,
}

/// A run of entries appended by a leader of `term`, directly following the
/// entry `prev`. Entries are contiguous and start at `prev.index + 1`
/// (see [`check_append`] for why their terms are not checked).
#[derive(Debug, Clone, Default)]
pub struct LogSlice {
    /// The term of the leader that sent the slice.
    pub term: u64,
    /// The entry the slice follows.
    pub prev: EntryId,
    /// The entries.
    pub entries: Vec<Entry>,
}

impl LogSlice {
    /// Checks the slice's shape; a malformed MsgApp must not corrupt the log.
    pub fn valid(&self) -> Result<()> {
        check_append(self.term, self.prev, &self.entries)
    }
}

/// Checks that `entries` can follow `prev` in an append from a leader of
/// `term`: contiguous indexes without overflow, and no entry of term 0
/// (every entry is stamped with its leader's term, at least 1).
///
/// Terms are not required to be ordered, nor at most `term`: etcd accepts
/// such appends, and they occur in valid runs. A node that receives a
/// MsgSnap at term 0 (treated as local) drops to term 0 while keeping
/// entries of a higher term, and may then lead at a term below them
/// (divergence script term0_snapshot_then_append_check).
pub fn check_append(term: u64, prev: EntryId, entries: &[Entry]) -> Result<()> {
    let mut last = prev;
    for e in entries {
        if last.index.checked_add(1) != Some(e.index) || e.term == 0 {
            return Err(Error::Decode(format!(
                "invalid log slice: entry {}/{} after {}/{} in a term-{term} append",
                e.term, e.index, last.term, last.index
            )));
        }
        last = EntryId { term: e.term, index: e.index };
    }
    Ok(())
}

/// Checks a storage's first and last index before any arithmetic on them:
/// the first index is at least 1, the last at least `first - 1` (an empty
/// log), and below u64::MAX (the next index must exist).
pub fn check_storage_bounds(first: u64, last: u64) -> Result<()> {
    if first == 0 {
        return Err(Error::Storage("storage answered first_index 0 (the first index is at least 1)".into()));
    }
    if last == u64::MAX {
        // (Named, not printed: the number reads like a wrapped value.)
        return Err(Error::Storage("storage answered last_index u64::MAX (no index can follow it)".into()));
    }
    if last < first - 1 {
        return Err(Error::Storage(format!("storage answered last_index {last} below first_index {first} - 1")));
    }
    Ok(())
}

/// The log of one node.
pub struct RaftLog<S: Storage> {
    /// Everything persisted since the last snapshot.
    pub store: S,
    /// Entries and snapshot not yet persisted.
    pub unstable: Unstable,
    /// Highest index known to be committed by a quorum.
    pub committed: u64,
    /// Highest index handed to the application for applying.
    pub applying: u64,
    /// Highest index the application reported as applied.
    pub applied: u64,
    /// Byte budget of entries being applied at once.
    pub max_applying_ents_size: u64,
    applying_ents_size: u64,
    applying_ents_paused: bool,
    /// First failure seen; interior mutability so read paths (`&self`)
    /// can report storage errors too.
    failure: RefCell<Option<Error>>,
    logger: Arc<dyn Logger>,
}

impl<S: Storage> fmt::Display for RaftLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed={}, applied={}, applying={}, unstable.offset={}, unstable.offsetInProgress={}, len(unstable.Entries)={}",
            self.committed,
            self.applied,
            self.applying,
            self.unstable.offset,
            self.unstable.offset_in_progress,
            self.unstable.entries.len()
        )
    }
}

impl<S: Storage> RaftLog<S> {
    /// A log over `store`, committed and applied up to the storage's
    /// snapshot; `max_applying_ents_size` bounds entries applied at once.
    pub fn new_with_size(store: S, logger: Arc<dyn Logger>, max_applying_ents_size: u64) -> Result<Self> {
        let first = store.first_index()?;
        let last = store.last_index()?;
        check_storage_bounds(first, last)?;
        Ok(RaftLog {
            store,
            unstable: Unstable::new(last + 1, logger.clone()),
            committed: first - 1,
            applying: first - 1,
            applied: first - 1,
            max_applying_ents_size,
            applying_ents_size: 0,
            applying_ents_paused: false,
            failure: RefCell::new(None),
            logger,
        })
    }

    /// Takes the first storage failure or broken invariant seen since the
    /// last call. The state machine checks this after every step.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.get_mut().take()
    }

    fn record(&self, e: Error) {
        let mut f = self.failure.borrow_mut();
        if f.is_none() {
            *f = Some(e);
        }
    }

    /// Appends `a` if its `prev` matches our log, overwriting from the
    /// first conflicting entry, and commits up to `min(committed, last new
    /// index)`. `Ok(None)` means the previous entry does not match.
    pub fn maybe_append(&mut self, a: LogSlice, committed: u64) -> Result<Option<u64>> {
        if !self.match_term(a.prev) {
            return Ok(None);
        }
        let last_new = a.prev.index + a.entries.len() as u64;
        let ci = self.find_conflict(&a.entries);
        if ci != 0 {
            if ci <= self.committed {
                // Only a corrupt or hostile leader sends this (etcd panics):
                // refuse the append and keep the log as it is.
                return Err(Error::Decode(format!(
                    "MsgApp entry {} conflicts with committed entry [committed({})]",
                    ci, self.committed
                )));
            }
            let start = (ci - (a.prev.index + 1)) as usize;
            // The message's entries move into the log (no clone per entry).
            let mut ents = a.entries;
            ents.drain(..start);
            self.append_owned(ents);
        }
        self.commit_to(committed.min(last_new))?;
        Ok(Some(last_new))
    }

    /// Appends entries to the unstable tail (truncating any conflicting
    /// suffix) and returns the new last index.
    pub fn append(&mut self, ents: &[Entry]) -> u64 {
        self.append_owned(ents.to_vec())
    }

    /// [`RaftLog::append`] for entries the caller gives away.
    pub fn append_owned(&mut self, mut ents: Vec<Entry>) -> u64 {
        self.append_from(&mut ents)
    }

    /// [`RaftLog::append_owned`] moving the entries out of `ents`, which is
    /// left empty (its buffer free for reuse, unless the log adopted it).
    pub fn append_from(&mut self, ents: &mut Vec<Entry>) -> u64 {
        let Some(first) = ents.first() else { return self.last_index() };
        if first.index - 1 < self.committed {
            self.record(Error::Fatal(format!(
                "after({}) is out of range [committed({})]",
                first.index - 1,
                self.committed
            )));
            return self.last_index();
        }
        self.unstable.append_from(ents);
        self.last_index()
    }

    /// Index of the first entry of `ents` whose term differs from ours (or
    /// that we lack), or 0 when all match.
    fn find_conflict(&self, ents: &[Entry]) -> u64 {
        for e in ents {
            let id = EntryId { term: e.term, index: e.index };
            if !self.match_term(id) {
                if e.index <= self.last_index() {
                    rlog!(
                        self.logger,
                        Info,
                        "found conflict at index {} [existing term: {}, conflicting term: {}]",
                        e.index,
                        self.zero_term_on_out_of_bounds(self.term(e.index)),
                        e.term
                    );
                }
                return e.index;
            }
        }
        0
    }

    /// The last (index, term) at or below `index` whose term is <= `term`:
    /// where a log with `term` at `index` can possibly match ours. Returns
    /// the index with term 0 when terms are no longer known (compacted).
    pub fn find_conflict_by_term(&self, mut index: u64, term: u64) -> (u64, u64) {
        while index > 0 {
            match self.term(index) {
                Err(_) => return (index, 0),
                Ok(t) if t <= term => return (index, t),
                Ok(_) => index -= 1,
            }
        }
        (0, 0)
    }

    /// Unstable entries not yet handed out for persistence.
    pub fn next_unstable_ents(&self) -> &[Entry] {
        self.unstable.next_entries()
    }

    /// Whether there are unstable entries to hand out.
    pub fn has_next_unstable_ents(&self) -> bool {
        !self.next_unstable_ents().is_empty()
    }

    /// Whether any entry is not yet stable (handed out or not).
    pub fn has_next_or_in_progress_unstable_ents(&self) -> bool {
        !self.unstable.entries.is_empty()
    }

    /// Committed entries ready to apply, within the applying byte budget.
    /// With `allow_unstable`, entries not yet persisted locally qualify
    /// (they are committed, so a quorum has them).
    pub fn next_committed_ents(&mut self, allow_unstable: bool) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.next_committed_ents_into(allow_unstable, &mut out)?;
        Ok(out)
    }

    /// [`RaftLog::next_committed_ents`] appended to `out` (a buffer to
    /// reuse).
    pub fn next_committed_ents_into(&mut self, allow_unstable: bool, out: &mut Vec<Entry>) -> Result<()> {
        if self.applying_ents_paused || self.has_next_or_in_progress_snapshot() {
            return Ok(());
        }
        let (lo, hi) = (self.applying + 1, self.max_appliable_index(allow_unstable) + 1);
        if lo >= hi {
            return Ok(());
        }
        let max = self.max_applying_ents_size.saturating_sub(self.applying_ents_size);
        self.slice_into(lo, hi, max.max(1), out)
    }

    /// Whether `next_committed_ents` would return something.
    pub fn has_next_committed_ents(&self, allow_unstable: bool) -> bool {
        if self.applying_ents_paused || self.has_next_or_in_progress_snapshot() {
            return false;
        }
        self.applying + 1 < self.max_appliable_index(allow_unstable) + 1
    }

    fn max_appliable_index(&self, allow_unstable: bool) -> u64 {
        if allow_unstable {
            self.committed
        } else {
            self.committed.min(self.unstable.offset - 1)
        }
    }

    /// The unstable snapshot, unless it is already being persisted.
    pub fn next_unstable_snapshot(&self) -> Option<&Snapshot> {
        self.unstable.next_snapshot()
    }

    /// Whether there is an unstable snapshot to hand out.
    pub fn has_next_unstable_snapshot(&self) -> bool {
        self.unstable.next_snapshot().is_some()
    }

    /// Whether a snapshot is unstable (handed out or not).
    pub fn has_next_or_in_progress_snapshot(&self) -> bool {
        self.unstable.snapshot.is_some()
    }

    /// The newest snapshot: the unstable one, or the storage's.
    pub fn snapshot(&self) -> Result<Snapshot> {
        match &self.unstable.snapshot {
            Some(s) => Ok(s.clone()),
            None => self.store.snapshot(),
        }
    }

    /// Index of the first entry still in the log.
    pub fn first_index(&self) -> u64 {
        if let Some(i) = self.unstable.maybe_first_index() {
            return i;
        }
        match self.store.first_index() {
            Ok(0) => {
                self.note_storage_error(Error::Storage("storage answered first_index 0 (the first index is at least 1)".into()));
                self.committed + 1
            }
            Ok(i) => i,
            Err(e) => {
                self.note_storage_error(e);
                self.committed + 1
            }
        }
    }

    /// Index of the last entry in the log.
    pub fn last_index(&self) -> u64 {
        if let Some(i) = self.unstable.maybe_last_index() {
            return i;
        }
        match self.store.last_index() {
            Ok(u64::MAX) => {
                self.note_storage_error(Error::Storage("storage answered last_index u64::MAX".into()));
                self.committed
            }
            Ok(i) => i,
            Err(e) => {
                self.note_storage_error(e);
                self.committed
            }
        }
    }

    /// Logs and records an unexpected storage failure; the state machine
    /// poisons the node when it next checks the log.
    fn note_storage_error(&self, e: Error) {
        rlog!(self.logger, Error, "storage failure: {}", e);
        self.record(storage_failure(e));
    }

    /// Raises the commit index to `to` (never lowers it). Committing beyond
    /// the last index means the log was corrupted, truncated or lost.
    pub fn commit_to(&mut self, to: u64) -> Result<()> {
        if self.committed < to {
            let last = self.last_index();
            if last < to {
                return Err(Error::Fatal(format!(
                    "tocommit({to}) is out of range [lastIndex({last})]. Was the raft log corrupted, truncated, or lost?"
                )));
            }
            self.committed = to;
        }
        Ok(())
    }

    /// Records that the application applied up to `i`, releasing `size`
    /// bytes of the applying budget.
    pub fn applied_to(&mut self, i: u64, size: u64) {
        if self.committed < i || i < self.applied {
            self.record(Error::Fatal(format!(
                "applied({}) is out of range [prevApplied({}), committed({})]",
                i, self.applied, self.committed
            )));
            return;
        }
        self.applied = i;
        self.applying = self.applying.max(i);
        self.applying_ents_size = self.applying_ents_size.saturating_sub(size);
        self.applying_ents_paused = self.applying_ents_size >= self.max_applying_ents_size;
    }

    /// Records that entries up to `i` (`size` bytes) were handed out for
    /// applying.
    pub fn accept_applying(&mut self, i: u64, size: u64, allow_unstable: bool) {
        if self.committed < i {
            self.record(Error::Fatal(format!("applying({}) is out of range [committed({})]", i, self.committed)));
            return;
        }
        self.applying = i;
        self.applying_ents_size = self.applying_ents_size.saturating_add(size);
        // Pause when over budget, or when the budget cut the last batch short
        // (the next Ready resumes after this batch is applied).
        self.applying_ents_paused =
            self.applying_ents_size >= self.max_applying_ents_size || i < self.max_appliable_index(allow_unstable);
    }

    /// Entries up to `id` were persisted.
    pub fn stable_to(&mut self, id: EntryId) {
        self.unstable.stable_to(id);
    }

    /// The snapshot at `i` was persisted.
    pub fn stable_snap_to(&mut self, i: u64) {
        self.unstable.stable_snap_to(i);
    }

    /// Everything currently unstable was handed out for persistence.
    pub fn accept_unstable(&mut self) {
        self.unstable.accept_in_progress();
    }

    /// The id of the last entry.
    pub fn last_entry_id(&self) -> EntryId {
        let index = self.last_index();
        match self.term(index) {
            Ok(term) => EntryId { term, index },
            Err(e) => {
                self.record(Error::Fatal(format!("unexpected error when getting the last term at {index}: {e}")));
                EntryId { term: 0, index }
            }
        }
    }

    /// The term of entry `i`, valid for `first_index()-1 <= i <= last_index()`.
    pub fn term(&self, i: u64) -> Result<u64> {
        // The unstable log answers without touching storage when it can.
        if let Some(t) = self.unstable.maybe_term(i) {
            return Ok(t);
        }
        // The entry before the first one is compacted, but its term is kept
        // for matching appends.
        // (Written without `i + 1`: a peer's hint may be u64::MAX.)
        if i < self.first_index().saturating_sub(1) {
            return Err(Error::Compacted);
        }
        if i > self.last_index() {
            return Err(Error::Unavailable);
        }
        match self.store.term(i) {
            Ok(t) => Ok(t),
            Err(e @ (Error::Compacted | Error::Unavailable)) => Err(e),
            Err(e) => {
                self.note_storage_error(e.clone());
                Err(storage_failure(e))
            }
        }
    }

    /// Entries from `i` to the end, limited to `max_size` bytes.
    pub fn entries(&self, i: u64, max_size: u64) -> Result<Vec<Entry>> {
        let last = self.last_index();
        if i > last {
            return Ok(Vec::new());
        }
        self.slice(i, last + 1, max_size)
    }

    /// Every entry in the log (test helper; compaction races are retried).
    pub fn all_entries(&self) -> Vec<Entry> {
        loop {
            match self.entries(self.first_index(), u64::MAX) {
                Ok(e) => return e,
                Err(Error::Compacted) => continue,
                Err(_) => return Vec::new(),
            }
        }
    }

    /// Whether a log ending at `their` is at least as up to date as ours
    /// (Raft §5.4.1): a later last term, or the same term and no shorter.
    pub fn is_up_to_date(&self, their: EntryId) -> bool {
        let our = self.last_entry_id();
        their.term > our.term || (their.term == our.term && their.index >= our.index)
    }

    /// Whether our log holds the entry `id`.
    pub fn match_term(&self, id: EntryId) -> bool {
        self.term(id.index).is_ok_and(|t| t == id.term)
    }

    /// Commits up to `at` if it is in our log and newer than the commit
    /// index. A zero term never matches (no leader commits at term 0).
    pub fn maybe_commit(&mut self, at: EntryId) -> bool {
        if at.term != 0 && at.index > self.committed && self.match_term(at) {
            // Cannot fail: match_term proved the entry exists.
            self.committed = at.index;
            return true;
        }
        false
    }

    /// Replaces the log with a snapshot (its entries arrive later, if ever).
    pub fn restore(&mut self, s: Snapshot) {
        rlog!(self.logger, Info, "log [{}] starts to restore snapshot [index: {}, term: {}]", self, s.index(), s.term());
        self.committed = s.index();
        self.unstable.restore(s);
    }

    /// Visits entries `[lo, hi)` in pages of at most `page_size` bytes
    /// (at least one entry each).
    pub fn scan(&self, mut lo: u64, hi: u64, page_size: u64, mut v: impl FnMut(&[Entry]) -> Result<()>) -> Result<()> {
        while lo < hi {
            let ents = self.slice(lo, hi, page_size)?;
            if ents.is_empty() {
                return Err(Error::Fatal(format!("got 0 entries in [{lo}, {hi})")));
            }
            v(&ents)?;
            lo += ents.len() as u64;
        }
        Ok(())
    }

    /// Entries `[lo, hi)` limited to `max_size` bytes (at least one entry),
    /// reading the stable part from storage and the rest from unstable.
    pub fn slice(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.slice_into(lo, hi, max_size, &mut out)?;
        Ok(out)
    }

    /// [`RaftLog::slice`] appended to `out` (a buffer to reuse, or a
    /// message's entries to extend). On error `out` is unchanged.
    pub fn slice_into(&self, lo: u64, hi: u64, max_size: u64, out: &mut Vec<Entry>) -> Result<()> {
        self.check_out_of_bounds(lo, hi)?;
        if lo == hi {
            return Ok(());
        }
        let off = self.unstable.offset;
        if lo >= off {
            // Cut first, then copy: entries past the limit are never cloned.
            let ents = self.unstable.slice(lo, hi);
            out.extend_from_slice(&ents[..prefix_within(ents, max_size)]);
            return Ok(());
        }
        let cut = hi.min(off);
        let start = out.len();
        match self.store.entries_into(lo, cut, max_size, out) {
            Ok(()) => {}
            Err(Error::Compacted) => return Err(Error::Compacted),
            Err(Error::Unavailable) => {
                return Err(Error::Fatal(format!("entries[{lo}:{cut}) is unavailable from storage")));
            }
            Err(e) => return Err(storage_failure(e)),
        }
        let got = out.len() - start;
        if hi <= off || (got as u64) < cut - lo {
            // Done, or storage already cut the batch at the size limit.
            return Ok(());
        }
        let size = ents_size(&out[start..]);
        if size >= max_size {
            return Ok(());
        }
        let tail = self.unstable.slice(off, hi);
        let n = prefix_within(tail, max_size - size);
        // A single oversized unstable entry does not join a non-empty batch.
        if n == 1 && size + ents_size(&tail[..1]) > max_size {
            return Ok(());
        }
        out.extend_from_slice(&tail[..n]);
        Ok(())
    }

    fn check_out_of_bounds(&self, lo: u64, hi: u64) -> Result<()> {
        if lo > hi {
            return Err(Error::Fatal(format!("invalid slice {lo} > {hi}")));
        }
        let fi = self.first_index();
        if lo < fi {
            return Err(Error::Compacted);
        }
        let li = self.last_index();
        if hi > li + 1 {
            return Err(Error::Fatal(format!("slice[{lo},{hi}) out of bound [{fi},{li}]")));
        }
        Ok(())
    }

    /// The term, or 0 when the entry is compacted or not (yet) in the log.
    pub fn zero_term_on_out_of_bounds(&self, t: Result<u64>) -> u64 {
        t.unwrap_or(0)
    }
}

/// Wraps an unexpected storage error so the node poisons itself with it.
fn storage_failure(e: Error) -> Error {
    match e {
        Error::Storage(_) | Error::Fatal(_) => e,
        other => Error::Storage(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
