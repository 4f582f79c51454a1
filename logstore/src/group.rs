//! One group's log in memory, with etcd MemoryStorage's rules, shared by the
//! in-memory and the file store. The file store keeps a small location per
//! entry instead of the entry itself; both are a [`Slot`].

use std::collections::VecDeque;

use polyraft::raftpb::{Entry, HardState, SnapshotMetadata};
use prost::Message;

use crate::{Error, GroupWrite};

/// What a group's log holds for each entry: at least its term.
pub(crate) trait Slot: Clone {
    /// The entry's term.
    fn term(&self) -> u64;
}

impl Slot for Entry {
    fn term(&self) -> u64 {
        self.term
    }
}

/// One group's state: hard state, snapshot metadata, and the entries after
/// `offset` (the index of the entry before the first stored one; its term
/// is `offset_term`, known from a snapshot or a compaction).
#[derive(Debug, Clone)]
pub(crate) struct GroupLog<T> {
    pub(crate) hard_state: HardState,
    pub(crate) snapshot: SnapshotMetadata,
    offset: u64,
    offset_term: u64,
    slots: VecDeque<T>,
}

impl<T> Default for GroupLog<T> {
    fn default() -> Self {
        GroupLog {
            hard_state: HardState::default(),
            snapshot: SnapshotMetadata::default(),
            offset: 0,
            offset_term: 0,
            slots: VecDeque::new(),
        }
    }
}

impl<T: Slot> GroupLog<T> {
    /// Index of the entry before the first stored one.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Term of the entry at `offset`.
    pub(crate) fn offset_term(&self) -> u64 {
        self.offset_term
    }

    pub(crate) fn first_index(&self) -> u64 {
        self.offset + 1
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.offset + self.slots.len() as u64
    }

    /// Number of stored entries.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slots of the stored entries, oldest first.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (u64, &T)> {
        self.slots.iter().enumerate().map(move |(i, s)| (self.offset + 1 + i as u64, s))
    }

    /// Term of entry `index`, as MemoryStorage answers it.
    pub(crate) fn term(&self, index: u64) -> polyraft::Result<u64> {
        if index < self.offset {
            return Err(polyraft::Error::Compacted);
        }
        if index == self.offset {
            return Ok(self.offset_term);
        }
        self.slots.get((index - self.offset - 1) as usize).map(Slot::term).ok_or(polyraft::Error::Unavailable)
    }

    /// The slots of entries `[lo, hi)`, with MemoryStorage's checks and
    /// their order: `Compacted` when `lo` is at or below the offset,
    /// `Unavailable` when `hi` passes the last index + 1 or the log is
    /// empty, nothing when `lo >= hi`.
    pub(crate) fn range(&self, lo: u64, hi: u64) -> polyraft::Result<impl Iterator<Item = &T>> {
        if lo <= self.offset {
            return Err(polyraft::Error::Compacted);
        }
        if hi > self.last_index() + 1 || self.slots.is_empty() {
            return Err(polyraft::Error::Unavailable);
        }
        let (a, b) = ((lo - self.offset - 1) as usize, (hi.max(lo) - self.offset - 1) as usize);
        Ok(self.slots.range(a..b))
    }

    /// Records a snapshot (already validated by [`check_write`]). When the
    /// log holds its index with its term (the host created it) the entries
    /// stay: compaction is the host's separate call. Otherwise the whole
    /// log is replaced by the snapshot.
    pub(crate) fn apply_snapshot(&mut self, meta: &SnapshotMetadata) {
        if !self.holds(meta.index, meta.term) {
            self.slots.clear();
            self.offset = meta.index;
            self.offset_term = meta.term;
            self.shrink();
        }
        self.snapshot = meta.clone();
    }

    /// Appends slots for entries from `first` on (already validated):
    /// those at or below the offset are skipped, a conflicting suffix is
    /// replaced.
    pub(crate) fn append(&mut self, first: u64, slots: impl IntoIterator<Item = T>) {
        let skip = (self.offset + 1).saturating_sub(first) as usize;
        let start = first.max(self.offset + 1);
        let mut it = slots.into_iter().skip(skip).peekable();
        if it.peek().is_none() {
            return;
        }
        self.slots.truncate((start - self.offset - 1) as usize);
        self.slots.extend(it);
    }

    /// Drops entries up to and including `index`; at or below the offset
    /// it does nothing. `index` must not pass the last index.
    pub(crate) fn compact(&mut self, index: u64) -> Result<(), Error> {
        if index <= self.offset {
            return Ok(());
        }
        let last = self.last_index();
        if index > last {
            return Err(Error::Invalid(format!("compact {index} is out of bound lastindex({last})")));
        }
        let term = self.term(index).expect("index is stored");
        self.slots.drain(..(index - self.offset) as usize);
        self.offset = index;
        self.offset_term = term;
        self.shrink();
        Ok(())
    }

    /// Drops every entry (the offset stays).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.shrink();
    }

    /// Whether the log holds entry `index` with `term` (a snapshot there is
    /// one the host created: recorded, the entries stay).
    pub(crate) fn holds(&self, index: u64, term: u64) -> bool {
        index >= self.offset && self.term(index).ok() == Some(term)
    }

    /// Sets the offset and its term directly (replay of a compaction mark
    /// or a checkpoint), dropping the entries it covers.
    pub(crate) fn set_offset(&mut self, index: u64, term: u64) {
        if index >= self.offset && index <= self.last_index() {
            self.slots.drain(..(index - self.offset) as usize);
        } else {
            self.slots.clear();
        }
        self.offset = index;
        self.offset_term = term;
        self.shrink();
    }

    /// Gives memory back once compaction left most of it unused, so an
    /// idle, compacted group costs little.
    fn shrink(&mut self) {
        if self.slots.capacity() > 4 * self.slots.len().max(8) {
            self.slots.shrink_to_fit();
        }
    }
}

/// Checks one group's write against its current state (`None`: a group the
/// log does not know yet) before anything of the batch is applied, so a
/// caller's mistake is refused whole: entries contiguous and ascending,
/// a snapshot newer than the current one, no gap after the log, no index
/// overflow.
pub(crate) fn check_write<T: Slot>(state: Option<&GroupLog<T>>, w: &GroupWrite) -> Result<(), Error> {
    let g = w.group;
    let (mut last, snap_index) = match state {
        Some(s) => (s.last_index(), s.snapshot.index),
        None => (0, 0),
    };
    if let Some(meta) = &w.snapshot {
        if meta.index <= snap_index {
            return Err(Error::Invalid(format!(
                "group {g}: snapshot at index {} is not newer than the current one at {snap_index}",
                meta.index
            )));
        }
        if meta.index == u64::MAX {
            return Err(Error::Invalid(format!("group {g}: snapshot index out of range (u64::MAX)")));
        }
        if !state.is_some_and(|s| s.holds(meta.index, meta.term)) {
            last = meta.index;
        }
    }
    let Some(e0) = w.entries.first() else { return Ok(()) };
    for (k, e) in w.entries.iter().enumerate() {
        if Some(e.index) != e0.index.checked_add(k as u64) {
            return Err(Error::Invalid(format!(
                "group {g}: entries are not contiguous (index {} at position {k} after {})",
                e.index, e0.index
            )));
        }
    }
    let end = e0.index.checked_add(w.entries.len() as u64).filter(|&l| l < u64::MAX);
    if end.is_none() {
        return Err(Error::Invalid(format!("group {g}: entries from index {} overflow the log", e0.index)));
    }
    if e0.index > last + 1 {
        return Err(Error::Invalid(format!("group {g}: missing log entry [last: {last}, append at: {}]", e0.index)));
    }
    Ok(())
}

/// Checks a whole batch: each group at most once, each write valid.
pub(crate) fn check_batch<'a, T: Slot + 'a>(
    batch: &crate::WriteBatch,
    state: impl Fn(u64) -> Option<&'a GroupLog<T>>,
) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::with_capacity(batch.groups.len());
    for w in &batch.groups {
        if !seen.insert(w.group) {
            return Err(Error::Invalid(format!("group {} appears twice in one batch", w.group)));
        }
        check_write(state(w.group), w)?;
    }
    Ok(())
}

/// The entries of `it` that fit in `max_size` encoded bytes, at least one.
pub(crate) fn limit_size(it: impl Iterator<Item = Entry>, max_size: u64) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut size = 0u64;
    for e in it {
        size = size.saturating_add(e.encoded_len() as u64);
        if !out.is_empty() && size > max_size {
            break;
        }
        out.push(e);
    }
    out
}
