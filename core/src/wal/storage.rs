//! DurableStorage: the in-memory log (served to raft) kept in step with the
//! WAL and snapshot files (written before memory changes).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::memlog::MemLog;
use super::record::{Bad, Record};
use super::segment::{self, SegmentFile, Writer};
use super::{io_err, snapshot, Error, Options, RecoveryReport, Result, Stats, TruncatedTail};
use crate::raftpb::{
    is_empty_hard_state, is_empty_snap, ConfState, Entry, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use crate::{Ready, Storage};

/// A [`Storage`] persisted in one directory (see the [module docs](super)
/// for the format and guarantees). A cheap-clone handle over shared state,
/// like [`crate::MemoryStorage`]: the RawNode reads through one clone while
/// the application writes through another. Reads never touch the disk.
#[derive(Clone)]
pub struct DurableStorage {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for DurableStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.lock();
        f.debug_struct("DurableStorage")
            .field("dir", &s.dir)
            .field("first_index", &(s.log.offset() + 1))
            .field("last_index", &s.log.last_index())
            .field("hard_state", &s.log.hard_state)
            .finish()
    }
}

struct Inner {
    log: MemLog,
    dir: PathBuf,
    opts: Options,
    /// Segments on disk, oldest first; the last one is `writer`'s.
    segments: Vec<SegmentFile>,
    writer: Writer,
    stats: Stats,
    /// Set by the first I/O error; writes are refused from then on.
    failed: Option<String>,
    /// Whether a snapshot file is current (`log.snapshot` came from one).
    has_snapshot: bool,
    /// Superseded snapshot files, removed once the record naming the new
    /// one is durable.
    obsolete: Vec<PathBuf>,
}

fn corrupt(file: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt { file: file.to_path_buf(), offset, reason: reason.into() }
}

fn snap_path(dir: &Path, index: u64, term: u64) -> PathBuf {
    dir.join(snapshot::file_name(index, term))
}

impl DurableStorage {
    /// Opens (creating it if needed) the storage in `dir` and recovers its
    /// state: replays every segment, cuts a torn or corrupt tail off the
    /// last one, loads the current snapshot and removes leftover files.
    /// Fails with [`Error::Corrupt`] on damage it must not repair (see the
    /// module docs), never panics on file contents.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<(DurableStorage, RecoveryReport)> {
        let dir = dir.as_ref().to_path_buf();
        let mut stats = Stats::default();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
            // The new directory's own entry must be durable too.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                segment::sync_dir(parent, &mut stats)?;
            }
        }
        let mut report = RecoveryReport::default();

        // Interrupted segment or snapshot creations: never renamed, so never
        // part of the state.
        for de in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let p = de.map_err(io_err("list", &dir))?.path();
            if p.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&p).map_err(io_err("remove", &p))?;
                report.removed_files.push(p);
            }
        }

        let segs = segment::list(&dir)?;
        let snaps = snapshot::list(&dir)?;
        let (log, writer, current_snap) = if segs.is_empty() {
            if let Some((_, _, p)) = snaps.first() {
                return Err(corrupt(p, 0, "snapshot file in a directory without WAL segments"));
            }
            report.created = true;
            let header = [Record::SegmentHeader { seq: 0, base_index: 0, base_term: 0 }];
            let w = Writer::create(&dir, 0, 1, &header, &mut stats)?;
            stats.segments_created += 1;
            (MemLog::new(0, 0), w, None)
        } else {
            replay(&dir, &segs, &mut stats, &mut report)?
        };
        let segments = if segs.is_empty() { vec![writer.seg.clone()] } else { segs };

        let mut log = log;
        if let Some((i, t)) = current_snap {
            log.snapshot = snapshot::read(&snap_path(&dir, i, t), i, t)?;
        }
        // Snapshot files no record names: newer ones lost the race with a
        // crash before their record, older ones were superseded.
        for (i, t, p) in snaps {
            if Some((i, t)) != current_snap {
                fs::remove_file(&p).map_err(io_err("remove", &p))?;
                report.removed_files.push(p);
            }
        }
        if !report.removed_files.is_empty() {
            segment::sync_dir(&dir, &mut stats)?;
        }
        report.segments = segments.len();
        report.snapshot_index = log.snapshot.index();
        report.first_index = log.offset() + 1;
        report.last_index = log.last_index();
        let inner = Inner {
            log,
            dir,
            opts,
            segments,
            writer,
            stats,
            failed: None,
            has_snapshot: current_snap.is_some(),
            obsolete: Vec::new(),
        };
        Ok((DurableStorage { inner: Arc::new(Mutex::new(inner)) }, report))
    }

    /// Gives a new storage (one [`DurableStorage::open`] reported as
    /// `created`) the initial configuration `cs`, as an empty snapshot at
    /// index 0, like [`crate::MemoryStorage::new_with_conf_state`]. Fails
    /// on a storage that already holds anything.
    pub fn bootstrap_conf_state(&self, cs: ConfState) -> Result<()> {
        let mut s = self.inner.lock();
        if s.has_snapshot || s.log.last_index() != 0 || s.log.hard_state != HardState::default() {
            return Err(crate::Error::Storage("bootstrap_conf_state on a non-empty storage".into()).into());
        }
        let snap = Snapshot {
            metadata: Some(SnapshotMetadata { conf_state: Some(cs), index: 0, term: 0 }),
            ..Default::default()
        };
        s.install_snapshot(snap, false)?;
        s.sync()
    }

    /// Persists a Ready's snapshot, entries and HardState, in that order,
    /// then fsyncs once if `rd.must_sync` or the Ready carries a snapshot.
    /// Call it before sending `rd.messages`; without async storage writes
    /// this is all the persisting a Ready needs.
    pub fn persist_ready(&self, rd: &Ready) -> Result<()> {
        let mut s = self.inner.lock();
        s.persist(rd.snapshot.as_ref(), &rd.entries, rd.hard_state, rd.must_sync)
    }

    /// The async-storage-writes counterpart of [`Self::persist_ready`]:
    /// persists a `MsgStorageAppend` (snapshot, entries, and the HardState
    /// its term/vote/commit carry) and fsyncs when etcd's MustSync rule asks
    /// for it against the stored HardState (new entries, or a changed term
    /// or vote) or a snapshot is present. Deliver `m.responses` after it
    /// returns.
    pub fn persist_storage_append(&self, m: &Message) -> Result<()> {
        if m.r#type() != MessageType::MsgStorageAppend {
            return Err(crate::Error::Storage(format!("{:?} is not a MsgStorageAppend", m.r#type())).into());
        }
        let mut s = self.inner.lock();
        let hs = HardState { term: m.term, vote: m.vote, commit: m.commit };
        // Term, vote and commit are all set or all zero (nothing to save).
        let hs = (!is_empty_hard_state(&hs)).then_some(hs);
        let prev = s.log.hard_state;
        let must_sync = !m.entries.is_empty() || hs.is_some_and(|h| h.term != prev.term || h.vote != prev.vote);
        s.persist(m.snapshot.as_ref(), &m.entries, hs, must_sync)
    }

    /// Appends entries durably, replacing any stored entries from the first
    /// new index on (the truncation on conflict of MemoryStorage.Append);
    /// already compacted ones are ignored.
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        let mut s = self.inner.lock();
        s.append(entries)?;
        s.sync()
    }

    /// Saves the HardState durably.
    pub fn set_hard_state(&self, hs: HardState) -> Result<()> {
        let mut s = self.inner.lock();
        s.set_hard_state(hs)?;
        s.sync()
    }

    /// The saved HardState.
    pub fn hard_state(&self) -> HardState {
        self.inner.lock().log.hard_state
    }

    /// Replaces the storage's contents with `snap` durably. Fails with
    /// [`crate::Error::SnapOutOfDate`] when the storage already holds a
    /// snapshot at least as new.
    pub fn apply_snapshot(&self, snap: Snapshot) -> Result<()> {
        let mut s = self.inner.lock();
        s.log.check_apply_snapshot(&snap)?;
        s.install_snapshot(snap, true)?;
        s.sync()
    }

    /// Makes (and keeps, durably) a snapshot covering up to entry `i`, with
    /// the configuration `cs` (or the previous snapshot's when `None`) and
    /// the application's `data`; the log is not compacted (see
    /// [`DurableStorage::compact`]). Errors as MemoryStorage's.
    pub fn create_snapshot(&self, i: u64, cs: Option<ConfState>, data: Bytes) -> Result<Snapshot> {
        let mut s = self.inner.lock();
        let term = s.log.check_create_snapshot(i)?;
        let snap = s.log.new_snapshot(i, term, cs, data);
        s.install_snapshot(snap.clone(), false)?;
        s.sync()?;
        Ok(snap)
    }

    /// Discards entries before `compact_index` and deletes the oldest
    /// segments whose entries are all at or below both `compact_index` and
    /// the current snapshot (so compact up to a snapshot made with
    /// [`Self::create_snapshot`], as etcd's servers do; segments held back
    /// go at the next sync once a snapshot covers them). The application
    /// must not compact beyond its applied index. Syncs only when segments
    /// are deleted.
    pub fn compact(&self, compact_index: u64) -> Result<()> {
        let mut s = self.inner.lock();
        let term = s.log.check_compact(compact_index)?;
        s.write(&[Record::Compact { index: compact_index, term }])?;
        s.log.compact(compact_index, term);
        if s.releasable() {
            s.sync()?;
        }
        Ok(())
    }

    /// Disk work counters since open.
    pub fn stats(&self) -> Stats {
        self.inner.lock().stats
    }

    /// The directory.
    pub fn dir(&self) -> PathBuf {
        self.inner.lock().dir.clone()
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.inner.lock().segments.len()
    }
}

/// What replaying the segments gives: the log, the writer for the last
/// segment, and the current snapshot's `(index, term)`.
type Replayed = (MemLog, Writer, Option<(u64, u64)>);

/// Replays the segments into a log.
fn replay(dir: &Path, segs: &[SegmentFile], stats: &mut Stats, report: &mut RecoveryReport) -> Result<Replayed> {
    let mut log: Option<MemLog> = None;
    let mut current_snap = None;
    let mut last_len = 0;
    for (k, seg) in segs.iter().enumerate() {
        let is_last = k + 1 == segs.len();
        let scan = segment::scan(&seg.path)?;
        match scan.records.first() {
            Some((Record::SegmentHeader { seq, base_index, .. }, _))
                if *seq == seg.seq && base_index.checked_add(1) == Some(seg.first_index) => {}
            Some(_) => return Err(corrupt(&seg.path, 0, "segment header does not match the file name")),
            None => {
                let why = scan.bad.as_ref().map_or("empty segment", Bad::reason);
                return Err(corrupt(&seg.path, 0, format!("unreadable segment header: {why}")));
            }
        }
        if let Some(bad) = &scan.bad {
            if !is_last {
                return Err(corrupt(&seg.path, scan.valid_len, format!("{} in a closed segment", bad.reason())));
            }
            if let Some(len) = scan.synced_past_bad {
                return Err(corrupt(
                    &seg.path,
                    scan.valid_len,
                    format!("{}, but a later record says the first {len} bytes were fsynced", bad.reason()),
                ));
            }
        }
        for (rec, off) in scan.records {
            report.records += 1;
            match rec {
                Record::SegmentHeader { base_index, base_term, .. } => {
                    // Only the first surviving segment's header sets the
                    // base; later ones repeat what replay already knows.
                    log.get_or_insert_with(|| MemLog::new(base_index, base_term));
                }
                Record::HardState(hs) => log.as_mut().expect("header first").hard_state = hs,
                Record::Entries(ents) => {
                    let l = log.as_mut().expect("header first");
                    let keep = l
                        .check_append(&ents)
                        .map_err(|e| corrupt(&seg.path, off, format!("entries do not follow the log: {e}")))?;
                    if !keep.is_empty() {
                        let keep = keep.to_vec();
                        l.append_checked(&keep);
                    }
                }
                Record::Compact { index, term } => log.as_mut().expect("header first").compact(index, term),
                Record::Snapshot { index, term, reset } => {
                    current_snap = Some((index, term));
                    if reset {
                        log.as_mut().expect("header first").reset(index, term);
                    }
                }
                Record::Synced { .. } => {}
            }
        }
        if is_last {
            if let Some(bad) = scan.bad {
                segment::truncate(&seg.path, scan.valid_len, stats)?;
                report.truncated = Some(TruncatedTail {
                    segment: seg.path.clone(),
                    offset: scan.valid_len,
                    dropped_bytes: scan.file_len - scan.valid_len,
                    reason: bad.reason().to_string(),
                });
            }
            last_len = scan.valid_len;
        }
    }
    let log = log.expect("at least one segment with a header");
    if let Some((i, t)) = current_snap {
        if !snap_path(dir, i, t).exists() {
            return Err(corrupt(&snap_path(dir, i, t), 0, "the current snapshot file is missing"));
        }
    }
    let last = segs.last().expect("non-empty").clone();
    Ok((log, Writer::open(last, last_len, stats)?, current_snap))
}

impl Inner {
    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(why) => Err(Error::Failed(why.clone())),
            None => Ok(()),
        }
    }

    /// Records an I/O failure: later writes are refused.
    fn fail<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if self.failed.is_none() {
                self.failed = Some(e.to_string());
            }
        }
        r
    }

    /// Appends records to the current segment (starting a new segment
    /// first when it is full). Not durable until `sync`.
    fn write(&mut self, recs: &[Record]) -> Result<()> {
        self.check_usable()?;
        let r = self.write_inner(recs);
        self.fail(r)
    }

    fn write_inner(&mut self, recs: &[Record]) -> Result<()> {
        if self.writer.len >= self.opts.segment_bytes {
            self.roll()?;
        }
        let mut buf = Vec::new();
        for r in recs {
            super::record::encode(r, &mut buf);
        }
        self.writer.write(&buf, &mut self.stats)
    }

    /// Closes the current segment (fsynced in full, so that a bad record in
    /// it is corruption, never a torn write) and starts the next one with a
    /// header that lets replay begin there.
    fn roll(&mut self) -> Result<()> {
        self.writer.sync(&mut self.stats)?;
        let seq = self.writer.seg.seq + 1;
        let last = self.log.last_index();
        let mut header = vec![
            Record::SegmentHeader { seq, base_index: last, base_term: self.log.last_term() },
            Record::HardState(self.log.hard_state),
        ];
        if self.has_snapshot {
            header.push(Record::Snapshot {
                index: self.log.snapshot.index(),
                term: self.log.snapshot.term(),
                reset: false,
            });
        }
        self.writer = Writer::create(&self.dir, seq, last + 1, &header, &mut self.stats)?;
        self.stats.segments_created += 1;
        self.segments.push(self.writer.seg.clone());
        Ok(())
    }

    /// Makes everything written durable, then removes what that made
    /// obsolete: segments below the compaction point, superseded snapshots.
    fn sync(&mut self) -> Result<()> {
        self.check_usable()?;
        let r = self.sync_inner();
        self.fail(r)
    }

    fn sync_inner(&mut self) -> Result<()> {
        self.writer.sync(&mut self.stats)?;
        let mut removed = false;
        while self.releasable() {
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path)
                .or_else(|e| if segment::not_found(&e) { Ok(()) } else { Err(e) })
                .map_err(io_err("remove", &seg.path))?;
            self.stats.segments_deleted += 1;
            removed = true;
        }
        for p in std::mem::take(&mut self.obsolete) {
            fs::remove_file(&p)
                .or_else(|e| if segment::not_found(&e) { Ok(()) } else { Err(e) })
                .map_err(io_err("remove", &p))?;
            removed = true;
        }
        if removed {
            segment::sync_dir(&self.dir, &mut self.stats)?;
        }
        Ok(())
    }

    /// Whether the oldest segment may be deleted: replay can then start at
    /// the next one, because every entry up to that segment's base is both
    /// compacted (durably once synced) and covered by the current snapshot,
    /// and its header repeats the HardState and the snapshot's name. Asking
    /// for the snapshot too means that even a log cut short before the
    /// latest compaction record recovers a log that joins its snapshot.
    fn releasable(&self) -> bool {
        let snap = if self.has_snapshot { self.log.snapshot.index() } else { 0 };
        self.segments.len() > 1 && self.segments[1].first_index - 1 <= self.log.offset().min(snap)
    }

    /// Writes what a Ready (or MsgStorageAppend) asks for, in etcd's
    /// order: snapshot, entries, HardState; then syncs if `must_sync` or a
    /// snapshot was written (a snapshot is always made durable, as etcd's
    /// server does).
    fn persist(
        &mut self,
        snap: Option<&Snapshot>,
        entries: &[Entry],
        hs: Option<HardState>,
        must_sync: bool,
    ) -> Result<()> {
        self.stats.readies += 1;
        let snap = snap.filter(|sn| !is_empty_snap(sn));
        if let Some(sn) = snap {
            self.log.check_apply_snapshot(sn)?;
            self.install_snapshot(sn.clone(), true)?;
        }
        self.append(entries)?;
        if let Some(hs) = hs {
            self.set_hard_state(hs)?;
        }
        if must_sync || snap.is_some() {
            self.sync()?;
        }
        Ok(())
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let keep = self.log.check_append(entries)?;
        if keep.is_empty() {
            return Ok(());
        }
        let keep = keep.to_vec();
        self.write(&[Record::Entries(keep.clone())])?;
        self.log.append_checked(&keep);
        Ok(())
    }

    fn set_hard_state(&mut self, hs: HardState) -> Result<()> {
        self.write(&[Record::HardState(hs)])?;
        self.log.hard_state = hs;
        Ok(())
    }

    /// Writes the snapshot file, then the record naming it; `reset` also
    /// empties the log (a snapshot received from the leader). Checks are
    /// the caller's.
    fn install_snapshot(&mut self, snap: Snapshot, reset: bool) -> Result<()> {
        self.check_usable()?;
        let r = snapshot::write(&self.dir, &snap, &mut self.stats);
        let path = self.fail(r)?;
        let (index, term) = (snap.index(), snap.term());
        self.write(&[Record::Snapshot { index, term, reset }])?;
        if self.has_snapshot {
            let old = snap_path(&self.dir, self.log.snapshot.index(), self.log.snapshot.term());
            if old != path {
                self.obsolete.push(old);
            }
        }
        if reset {
            self.log.reset(index, term);
        }
        self.log.snapshot = snap;
        self.has_snapshot = true;
        Ok(())
    }
}

impl Storage for DurableStorage {
    fn initial_state(&self) -> crate::Result<(HardState, ConfState)> {
        let s = self.inner.lock();
        Ok((s.log.hard_state, s.log.conf_state()))
    }

    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> crate::Result<Vec<Entry>> {
        self.inner.lock().log.entries(lo, hi, max_size)
    }

    fn term(&self, i: u64) -> crate::Result<u64> {
        self.inner.lock().log.term(i)
    }

    fn last_index(&self) -> crate::Result<u64> {
        Ok(self.inner.lock().log.last_index())
    }

    fn first_index(&self) -> crate::Result<u64> {
        Ok(self.inner.lock().log.offset() + 1)
    }

    fn snapshot(&self) -> crate::Result<Snapshot> {
        Ok(self.inner.lock().log.snapshot.clone())
    }
}

#[cfg(test)]
mod tests;
