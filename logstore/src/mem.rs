//! [`MemLogStore`]: the shared log in memory, for tests and for the
//! deterministic simulator, which crashes it like a disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use polyraft::raftpb::{Entry, HardState, SnapshotMetadata};
use prost::Message;

use crate::group::{check_batch, limit_size, GroupLog};
use crate::{Error, GroupWrite, LogStore, PurgeStats, WriteBatch, WriteStats};

/// One change to the log, in the order it was written: what a crash keeps
/// a prefix of.
#[derive(Debug, Clone)]
enum Op {
    Write(GroupWrite),
    Compact(u64, u64),
    Remove(u64),
}

type Groups = BTreeMap<u64, GroupLog<Entry>>;

#[derive(Debug, Default)]
struct Inner {
    /// What reads see: everything written.
    live: Groups,
    /// What survives a crash: everything up to the last synced write.
    durable: Groups,
    /// Changes written since the last sync, oldest first.
    unsynced: Vec<Op>,
    /// Set by a failed write: further writes are refused until a crash.
    failed: bool,
    /// The next write fails (after its records were "written" unsynced).
    fail_next: bool,
    stats: MemStats,
}

/// Counters of a [`MemLogStore`] since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemStats {
    /// Calls to `write` that succeeded.
    pub writes: u64,
    /// Simulated fdatasyncs (synced writes).
    pub syncs: u64,
    /// Encoded bytes of the records written.
    pub bytes: u64,
    /// Simulated crashes.
    pub crashes: u64,
}

/// The shared log in memory, with etcd MemoryStorage's semantics per group.
///
/// A cheap-clone handle: the host owns one clone, a simulator keeps another
/// to crash it. Each write is recorded as its records (one per group write,
/// compaction or removal); a synced write makes every record so far durable.
/// [`MemLogStore::crash`] loses everything not durable, as a power cut
/// does; [`MemLogStore::crash_keeping`] keeps a prefix of the unsynced
/// records (a torn tail: what reached the disk before the cut).
/// [`MemLogStore::fail_next_write`] makes the next write fail like an
/// fdatasync error; the store then refuses writes until the next crash
/// ("reopen").
#[derive(Debug, Clone, Default)]
pub struct MemLogStore {
    inner: Arc<RwLock<Inner>>,
}

impl MemLogStore {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a crash and a restart: every record written since the
    /// last synced write is lost, and a failed store is usable again.
    pub fn crash(&self) {
        self.crash_keeping(0);
    }

    /// Simulates a crash that keeps the first `keep` unsynced records (at
    /// most [`MemLogStore::unsynced_records`]) and loses the rest: a torn
    /// last write. A simulator draws `keep` from its seeded RNG.
    pub fn crash_keeping(&self, keep: usize) {
        let mut s = self.inner.write();
        let ops = std::mem::take(&mut s.unsynced);
        let keep = keep.min(ops.len());
        for op in &ops[..keep] {
            apply_op(&mut s.durable, op);
        }
        s.live = s.durable.clone();
        s.failed = false;
        s.fail_next = false;
        s.stats.crashes += 1;
    }

    /// Records written since the last synced write (what a crash may lose).
    pub fn unsynced_records(&self) -> usize {
        self.inner.read().unsynced.len()
    }

    /// Makes the next `write` fail as an fdatasync error would: its records
    /// may or may not survive a crash (they count as unsynced), the caller
    /// gets [`Error::Io`], and the store refuses writes until a crash.
    pub fn fail_next_write(&self) {
        self.inner.write().fail_next = true;
    }

    /// Counters since creation.
    pub fn stats(&self) -> MemStats {
        self.inner.read().stats
    }

    fn read<R>(&self, group: u64, f: impl FnOnce(&GroupLog<Entry>) -> R) -> R {
        let s = self.inner.read();
        match s.live.get(&group) {
            Some(g) => f(g),
            None => f(&GroupLog::default()),
        }
    }
}

/// Applies one already validated change.
fn apply_op(groups: &mut Groups, op: &Op) {
    match op {
        Op::Write(w) => {
            if w.snapshot.is_none() && w.entries.is_empty() && w.hard_state.is_none() {
                return; // no record: the group does not come into being
            }
            let g = groups.entry(w.group).or_default();
            if let Some(meta) = &w.snapshot {
                g.apply_snapshot(meta);
            }
            if let Some(e0) = w.entries.first() {
                g.append(e0.index, w.entries.iter().cloned());
            }
            if let Some(hs) = w.hard_state {
                g.hard_state = hs;
            }
        }
        Op::Compact(group, index) => {
            if let Some(g) = groups.get_mut(group) {
                // Validated against the live state, which is ahead of (or
                // equal to) this one; an index beyond this state's log
                // cannot be compacted here.
                if *index <= g.last_index() {
                    let _ = g.compact(*index);
                }
            }
        }
        Op::Remove(group) => {
            groups.remove(group);
        }
    }
}

fn write_bytes(w: &GroupWrite) -> u64 {
    let ents: usize = w.entries.iter().map(|e| e.encoded_len()).sum();
    let hs = w.hard_state.map_or(0, |h| h.encoded_len());
    let snap = w.snapshot.as_ref().map_or(0, |m| m.encoded_len());
    (ents + hs + snap + 9) as u64
}

impl LogStore for MemLogStore {
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<WriteStats, Error> {
        let mut s = self.inner.write();
        if s.failed {
            return Err(Error::Invalid("log store failed earlier; writes are refused until it is reopened".into()));
        }
        check_batch(batch, |g| s.live.get(&g))?;
        let bytes: u64 = batch.groups.iter().map(write_bytes).sum();
        if s.fail_next {
            s.fail_next = false;
            s.failed = true;
            let ops = batch.groups.iter().cloned().map(Op::Write);
            s.unsynced.extend(ops);
            return Err(Error::Io {
                context: "fdatasync of the log (simulated)".into(),
                source: std::io::Error::other("injected failure"),
            });
        }
        for w in &batch.groups {
            let op = Op::Write(w.clone());
            apply_op(&mut s.live, &op);
            s.unsynced.push(op);
        }
        s.stats.writes += 1;
        s.stats.bytes += bytes;
        let mut syncs = 0;
        if sync {
            let inner = &mut *s;
            for op in inner.unsynced.drain(..) {
                apply_op(&mut inner.durable, &op);
            }
            inner.stats.syncs += 1;
            syncs = 1;
        }
        Ok(WriteStats { bytes, syncs })
    }

    fn groups(&self) -> Vec<u64> {
        self.inner.read().live.keys().copied().collect()
    }

    fn hard_state(&self, group: u64) -> HardState {
        self.read(group, |g| g.hard_state)
    }

    fn snapshot_metadata(&self, group: u64) -> SnapshotMetadata {
        self.read(group, |g| g.snapshot.clone())
    }

    fn first_index(&self, group: u64) -> u64 {
        self.read(group, |g| g.first_index())
    }

    fn last_index(&self, group: u64) -> u64 {
        self.read(group, |g| g.last_index())
    }

    fn term(&self, group: u64, index: u64) -> polyraft::Result<u64> {
        self.read(group, |g| g.term(index))
    }

    fn entries(&self, group: u64, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        self.read(group, |g| Ok(limit_size(g.range(lo, hi)?.cloned(), max_size)))
    }

    fn compact(&self, group: u64, index: u64) -> Result<(), Error> {
        let mut s = self.inner.write();
        if s.failed {
            return Err(Error::Invalid("log store failed earlier; writes are refused until it is reopened".into()));
        }
        let Some(g) = s.live.get_mut(&group) else {
            // An unknown group's log is empty: only index 0 is "compacted".
            return GroupLog::<Entry>::default().compact(index);
        };
        if index <= g.offset() {
            return Ok(());
        }
        g.compact(index)?;
        s.unsynced.push(Op::Compact(group, index));
        Ok(())
    }

    fn remove_group(&self, group: u64) -> Result<(), Error> {
        let mut s = self.inner.write();
        if s.failed {
            return Err(Error::Invalid("log store failed earlier; writes are refused until it is reopened".into()));
        }
        if s.live.remove(&group).is_some() {
            s.unsynced.push(Op::Remove(group));
        }
        Ok(())
    }

    fn purge(&self) -> Result<PurgeStats, Error> {
        // Nothing to reclaim in memory: compaction already freed the entries.
        Ok(PurgeStats::default())
    }
}
