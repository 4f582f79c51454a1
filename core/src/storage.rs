//! The Storage interface raft reads its log from, and MemoryStorage, the
//! in-memory implementation (mirrors etcd's storage.go).

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::raftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use crate::util::prefix_within;
use crate::{Error, Result};

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
    /// [`Storage::entries`] appended to `out` (same range, limit and
    /// errors; on error `out` is unchanged). The default calls `entries`; a
    /// storage that can copy its entries straight into `out` overrides it,
    /// so that a buffer the application lends back (see
    /// [`crate::RawNode::advance_with`]) saves the allocation of a vector.
    fn entries_into(&self, lo: u64, hi: u64, max_size: u64, out: &mut Vec<Entry>) -> Result<()> {
        let ents = self.entries(lo, hi, max_size)?;
        if out.is_empty() && out.capacity() <= ents.capacity() {
            *out = ents;
        } else {
            out.extend(ents);
        }
        Ok(())
    }
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

/// Fails unless each entry's index is its predecessor's plus one: a batch
/// with a gap or going backwards ([7, 5]) would be stored at the wrong
/// positions. Shared by MemoryStorage and the durable storage's memory log.
pub(crate) fn check_contiguous(entries: &[Entry]) -> Result<()> {
    for w in entries.windows(2) {
        if w[0].index.checked_add(1) != Some(w[1].index) {
            return Err(Error::Storage(format!("entries not contiguous ({} after {})", w[1].index, w[0].index)));
        }
    }
    Ok(())
}

/// Checks an answer to [`Storage::entries`]`(lo, hi, _)` from a storage
/// written outside Rust (the C vtable, a Python object) against the
/// contract raft relies on: at least one entry of a non-empty range, no
/// more than the range holds, indexes `lo, lo + 1, ...`. Raft would
/// otherwise spin on an empty answer or read a corrupt log. `who` names the
/// storage in the message, e.g. `"Storage.entries"`.
pub fn check_entries_answer(who: &str, lo: u64, hi: u64, ents: &[Entry]) -> std::result::Result<(), String> {
    if ents.is_empty() && lo < hi {
        return Err(format!(
            "{who}({lo}, {hi}) returned no entry (it must return at least one of a non-empty range)"
        ));
    }
    if ents.len() as u64 > hi.saturating_sub(lo) {
        return Err(format!("{who}({lo}, {hi}) returned {} entries, more than the range holds", ents.len()));
    }
    match ents.iter().zip(lo..).find(|(e, want)| e.index != *want) {
        Some((e, want)) => Err(format!("{who}({lo}, {hi}) returned an entry with index {} where {want} belongs", e.index)),
        None => Ok(()),
    }
}

/// The state behind a [`MemoryStorage`] handle.
#[derive(Debug)]
struct Inner {
    hard_state: HardState,
    snapshot: Snapshot,
    /// `ents[0]` is a dummy standing for the snapshot's last entry (its index
    /// and term only), so `ents[i]` has index `ents[0].index + i`.
    ents: Vec<Entry>,
}

impl Inner {
    fn offset(&self) -> u64 {
        self.ents[0].index
    }
    fn last_index(&self) -> u64 {
        self.offset() + self.ents.len() as u64 - 1
    }
}

/// In-memory storage with etcd MemoryStorage's semantics. A cheap-clone
/// handle over shared state: the application writes through one clone
/// while the RawNode reads through another. Safe to share across threads.
#[derive(Debug, Clone)]
pub struct MemoryStorage {
    inner: Arc<RwLock<Inner>>,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStorage {
    /// An empty storage: no entries, empty snapshot, zero HardState.
    pub fn new() -> Self {
        MemoryStorage {
            inner: Arc::new(RwLock::new(Inner {
                hard_state: HardState::default(),
                snapshot: Snapshot::default(),
                ents: vec![Entry::default()],
            })),
        }
    }

    /// An empty storage whose snapshot carries `cs`, so a node created
    /// over it starts with that configuration (handy in tests).
    pub fn new_with_conf_state(cs: ConfState) -> Self {
        let s = Self::new();
        s.inner.write().snapshot.metadata = Some(SnapshotMetadata { conf_state: Some(cs), index: 0, term: 0 });
        s
    }

    /// Saves the HardState.
    pub fn set_hard_state(&self, hs: HardState) {
        self.inner.write().hard_state = hs;
    }

    /// The saved HardState.
    pub fn hard_state(&self) -> HardState {
        self.inner.read().hard_state
    }

    /// Replaces the storage's contents with `snap`. Fails with
    /// [`Error::SnapOutOfDate`] when the storage already holds a snapshot
    /// at least as new.
    pub fn apply_snapshot(&self, snap: Snapshot) -> Result<()> {
        let mut s = self.inner.write();
        // etcd v3.7: an application may bootstrap an empty storage with a
        // snapshot carrying only the configuration (index and term 0).
        if s.snapshot.index() != 0 && s.snapshot.index() >= snap.index() {
            return Err(Error::SnapOutOfDate);
        }
        if snap.index() == u64::MAX {
            // No log could follow it: every later index would overflow.
            return Err(Error::Storage("snapshot index out of range (u64::MAX)".into()));
        }
        s.ents = vec![Entry { term: snap.term(), index: snap.index(), ..Default::default() }];
        s.snapshot = snap;
        Ok(())
    }

    /// Replaces the snapshot and empties the log down to the compaction
    /// point `(index, term)`: the next entry appended must have index
    /// `index + 1`. Unlike [`MemoryStorage::apply_snapshot`] nothing is
    /// checked, and the compaction point need not be the snapshot's (a log
    /// may be compacted ahead of or behind its snapshot). This is for a
    /// storage that keeps a MemoryStorage as the in-memory copy of its own
    /// durable records and rebuilds it from them (polyraft-wal's recovery);
    /// an application wants `apply_snapshot`.
    pub fn restore(&self, snapshot: Snapshot, index: u64, term: u64) {
        let mut s = self.inner.write();
        s.ents = vec![Entry { index, term, ..Default::default() }];
        s.snapshot = snapshot;
    }

    /// Makes (and keeps) a snapshot covering up to entry `i`, with the
    /// configuration `cs` (or the previous snapshot's when `None`) and the
    /// application's `data`. `i` must be in `(snapshot index, last index]`.
    pub fn create_snapshot(&self, i: u64, cs: Option<ConfState>, data: Bytes) -> Result<Snapshot> {
        let mut s = self.inner.write();
        if i <= s.snapshot.index() {
            return Err(Error::SnapOutOfDate);
        }
        let last = s.last_index();
        if i > last {
            return Err(Error::Storage(format!("snapshot {i} is out of bound lastindex({last})")));
        }
        if i < s.offset() {
            // Compacted past `i` already (compaction may run ahead of the
            // snapshot): its term is gone.
            return Err(Error::Compacted);
        }
        let term = s.ents[(i - s.offset()) as usize].term;
        let meta = s.snapshot.metadata.get_or_insert_with(Default::default);
        meta.index = i;
        meta.term = term;
        if let Some(cs) = cs {
            meta.conf_state = Some(cs);
        }
        s.snapshot.data = data;
        Ok(s.snapshot.clone())
    }

    /// Discards entries before `compact_index`; raft then reads them only
    /// through the snapshot. The application must not compact beyond its
    /// applied index.
    pub fn compact(&self, compact_index: u64) -> Result<()> {
        let mut s = self.inner.write();
        let offset = s.offset();
        if compact_index <= offset {
            return Err(Error::Compacted);
        }
        let last = s.last_index();
        if compact_index > last {
            return Err(Error::Storage(format!("compact {compact_index} is out of bound lastindex({last})")));
        }
        let i = (compact_index - offset) as usize;
        let head = Entry { index: s.ents[i].index, term: s.ents[i].term, ..Default::default() };
        s.ents.drain(..i);
        s.ents[0] = head;
        Ok(())
    }

    /// Appends (or overwrites from the first conflicting index) entries.
    /// Their indexes must increase by one from entry to entry, and the
    /// first must be at most `last_index() + 1`; entries already compacted
    /// are ignored. A batch breaking either rule is refused with
    /// [`Error::Storage`] and the log is left unchanged (as the durable
    /// storage does).
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Every index computation below assumes a contiguous batch.
        check_contiguous(entries)?;
        let mut s = self.inner.write();
        let first = s.offset() + 1;
        // Indexes must leave room for the whole batch (and one more, so
        // `last_index + 1` stays representable).
        let Some(last) = entries[0].index.checked_add(entries.len() as u64).filter(|&l| l < u64::MAX) else {
            return Err(Error::Storage(format!("entries from index {} overflow the log", entries[0].index)));
        };
        let last = last - 1;
        if last < first {
            return Ok(());
        }
        // Skip what is already compacted.
        let entries = if first > entries[0].index { &entries[(first - entries[0].index) as usize..] } else { entries };
        let offset = (entries[0].index - s.offset()) as usize;
        if offset > s.ents.len() {
            return Err(Error::Storage(format!(
                "missing log entry [last: {}, append at: {}]",
                s.last_index(),
                entries[0].index
            )));
        }
        s.ents.truncate(offset);
        s.ents.extend_from_slice(entries);
        Ok(())
    }
}

impl Storage for MemoryStorage {
    fn initial_state(&self) -> Result<(HardState, ConfState)> {
        let s = self.inner.read();
        Ok((s.hard_state, s.snapshot.conf_state()))
    }

    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.entries_into(lo, hi, max_size, &mut out)?;
        Ok(out)
    }

    fn entries_into(&self, lo: u64, hi: u64, max_size: u64, out: &mut Vec<Entry>) -> Result<()> {
        let s = self.inner.read();
        let offset = s.offset();
        if lo <= offset {
            return Err(Error::Compacted);
        }
        let last = s.last_index();
        if hi > last + 1 {
            return Err(Error::Storage(format!("entries' hi({hi}) is out of bound lastindex({last})")));
        }
        if s.ents.len() == 1 {
            return Err(Error::Unavailable);
        }
        if lo >= hi {
            return Ok(());
        }
        // Cut first, then copy: entries past the limit are never cloned.
        let ents = &s.ents[(lo - offset) as usize..(hi - offset) as usize];
        out.extend_from_slice(&ents[..prefix_within(ents, max_size)]);
        Ok(())
    }

    fn term(&self, i: u64) -> Result<u64> {
        let s = self.inner.read();
        let offset = s.offset();
        if i < offset {
            return Err(Error::Compacted);
        }
        s.ents.get((i - offset) as usize).map(|e| e.term).ok_or(Error::Unavailable)
    }

    fn last_index(&self) -> Result<u64> {
        Ok(self.inner.read().last_index())
    }

    fn first_index(&self) -> Result<u64> {
        Ok(self.inner.read().offset() + 1)
    }

    fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.inner.read().snapshot.clone())
    }
}

/// The body of a [`Storage`] implementation for a pointer to a storage:
/// every method forwards to the storage pointed to.
macro_rules! forward_storage {
    () => {
        fn initial_state(&self) -> Result<(HardState, ConfState)> {
            (**self).initial_state()
        }
        fn entries(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
            (**self).entries(lo, hi, max_size)
        }
        fn entries_into(&self, lo: u64, hi: u64, max_size: u64, out: &mut Vec<Entry>) -> Result<()> {
            (**self).entries_into(lo, hi, max_size, out)
        }
        fn term(&self, i: u64) -> Result<u64> {
            (**self).term(i)
        }
        fn last_index(&self) -> Result<u64> {
            (**self).last_index()
        }
        fn first_index(&self) -> Result<u64> {
            (**self).first_index()
        }
        fn snapshot(&self) -> Result<Snapshot> {
            (**self).snapshot()
        }
    };
}

/// Lets a node use a storage through a shared reference (a node borrowing
/// a storage that outlives it).
impl<T: Storage + ?Sized> Storage for &T {
    forward_storage!();
}

/// Lets a node use a boxed storage (for example a `Box<dyn Storage>`
/// chosen at run time).
impl<T: Storage + ?Sized> Storage for Box<T> {
    forward_storage!();
}

/// Lets a node use a storage it shares with other owners (for example
/// with the thread that writes it).
impl<T: Storage + ?Sized> Storage for Arc<T> {
    forward_storage!();
}

#[cfg(test)]
mod tests;
