//! DurableStorage: the in-memory log (a core MemoryStorage, served to raft)
//! kept in step with the WAL and snapshot files.
//!
//! Two locks. Raft's reads take only the MemoryStorage's own lock. Writers
//! take the [`Wal`] mutex for a whole write, including its fsync, and touch
//! the MemoryStorage only for the instant of a change; so a reader never
//! waits for the disk, and with async storage writes the raft thread never
//! waits for a flush.
//!
//! Every change goes to the MemoryStorage first: its checks are the
//! semantics (written once, in the core), and a refused change writes
//! nothing. Then the record is written (and, when asked, synced). If that
//! write fails, memory is ahead of the disk; the storage then refuses every
//! write ([`Error::Failed`]) and must be reopened, which rebuilds memory from
//! the disk.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::dir_lock::DirLock;
use super::record::{Bad, Record, MAX_INDEX};
use super::segment::{self, Scan, SegmentFile, Writer};
use super::{io_err, snapshot, Error, Options, RecoveryReport, Result, Stats, TruncatedTail};
use polyraft::raftpb::{
    is_empty_hard_state, is_empty_snap, ConfState, Entry, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use polyraft::raw_node::must_sync;
use polyraft::{MemoryStorage, Ready, Storage};

/// A [`Storage`] persisted in one directory (see the [crate docs](crate)
/// for the format and guarantees). A cheap-clone handle over shared state,
/// like [`polyraft::MemoryStorage`]: the RawNode reads through one clone
/// while the application writes through another. Reads never touch the
/// disk and never wait for a write's fsync. The directory stays locked
/// until the last clone is dropped.
#[derive(Clone)]
pub struct DurableStorage {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DurableStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mem = &self.shared.mem;
        f.debug_struct("DurableStorage")
            .field("dir", &self.shared.dir)
            .field("first_index", &mem.first_index().unwrap_or_default())
            .field("last_index", &mem.last_index().unwrap_or_default())
            .field("hard_state", &mem.hard_state())
            .finish()
    }
}

struct Shared {
    /// The log raft reads. Changed only by a writer holding `wal`.
    mem: MemoryStorage,
    wal: Mutex<Wal>,
    dir: PathBuf,
    /// Declared last so it is released after the segment files close.
    _lock: DirLock,
}

/// The files and the writer's state, behind the writers' mutex.
struct Wal {
    dir: PathBuf,
    opts: Options,
    /// Segments on disk, oldest first; the last one is `writer`'s.
    segments: Vec<SegmentFile>,
    writer: Writer,
    stats: Stats,
    /// The first I/O error; writes are refused from then on.
    failed: Option<Box<Error>>,
    /// `(index, term)` of the current snapshot file, if any (the one the
    /// MemoryStorage's snapshot came from).
    current_snap: Option<(u64, u64)>,
    /// Superseded snapshot files, removed once the record naming the new
    /// one is durable.
    obsolete: Vec<PathBuf>,
    /// Runs before every fsync of the segment (tests block in it).
    #[cfg(test)]
    sync_hook: Option<Arc<dyn Fn() + Send + Sync>>,
}

fn corrupt(file: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt { file: file.to_path_buf(), offset, reason: reason.into() }
}

fn snap_path(dir: &Path, index: u64, term: u64) -> PathBuf {
    dir.join(snapshot::file_name(index, term))
}

/// The WAL's own limit on indexes: replay refuses larger ones, so they are
/// never written.
fn check_index_range(entries: &[Entry]) -> Result<()> {
    match entries.first() {
        Some(e) if e.index > MAX_INDEX - entries.len() as u64 => {
            Err(polyraft::Error::Storage(format!("entry index {} out of range", e.index)).into())
        }
        _ => Ok(()),
    }
}

impl DurableStorage {
    /// Opens (creating it if needed) the storage in `dir`, locks it, and
    /// recovers its state: replays every segment, cuts a torn or corrupt
    /// tail off the last one, loads the current snapshot and removes
    /// leftover files. Fails with [`Error::Locked`] if another open storage
    /// holds the directory, with [`Error::Corrupt`] on damage it must not
    /// repair (see the crate docs); never panics on file contents.
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
        // Before anything is read or removed: another owner may be writing.
        let lock = DirLock::acquire(&dir)?;
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
        let (mem, writer, current_snap) = if segs.is_empty() {
            if let Some((_, _, p)) = snaps.first() {
                return Err(corrupt(p, 0, "snapshot file in a directory without WAL segments"));
            }
            report.created = true;
            let header = [Record::SegmentHeader { seq: 0, base_index: 0, base_term: 0 }];
            let w = Writer::create(&dir, 0, 1, &header, &mut stats)?;
            stats.segments_created += 1;
            (MemoryStorage::new(), w, None)
        } else {
            replay(&dir, &segs, &mut stats, &mut report)?
        };
        let segments = if segs.is_empty() { vec![writer.seg.clone()] } else { segs };

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
        report.snapshot_index = mem.snapshot().map_or(0, |s| s.index());
        report.first_index = mem.first_index().unwrap_or_default();
        report.last_index = mem.last_index().unwrap_or_default();
        let wal = Wal {
            dir: dir.clone(),
            opts,
            segments,
            writer,
            stats,
            failed: None,
            current_snap,
            obsolete: Vec::new(),
            #[cfg(test)]
            sync_hook: None,
        };
        let shared = Shared { mem, wal: Mutex::new(wal), dir, _lock: lock };
        Ok((DurableStorage { shared: Arc::new(shared) }, report))
    }

    /// Gives a new storage (one [`DurableStorage::open`] reported as
    /// `created`) the initial configuration `cs`, as an empty snapshot at
    /// index 0, like [`polyraft::MemoryStorage::new_with_conf_state`].
    /// Fails on a storage that already holds anything.
    pub fn bootstrap_conf_state(&self, cs: ConfState) -> Result<()> {
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        if w.current_snap.is_some() || mem.last_index()? != 0 || mem.hard_state() != HardState::default() {
            return Err(polyraft::Error::Storage("bootstrap_conf_state on a non-empty storage".into()).into());
        }
        let snap = Snapshot {
            metadata: Some(SnapshotMetadata { conf_state: Some(cs), index: 0, term: 0 }),
            ..Default::default()
        };
        w.begin(mem)?;
        mem.restore(snap.clone(), 0, 0);
        w.install_snapshot(&snap, false)?;
        w.sync(mem)
    }

    /// Persists a Ready's snapshot, entries and HardState, in that order,
    /// then fsyncs once if `rd.must_sync` or the Ready carries a snapshot.
    /// Call it before sending `rd.messages`; without async storage writes
    /// this is all the persisting a Ready needs.
    pub fn persist_ready(&self, rd: &Ready) -> Result<()> {
        let mut w = self.shared.wal.lock();
        w.persist(&self.shared.mem, rd.snapshot.as_ref(), &rd.entries, rd.hard_state, rd.must_sync)
    }

    /// The async-storage-writes counterpart of [`Self::persist_ready`]:
    /// persists a `MsgStorageAppend` (snapshot, entries, and the HardState
    /// its term/vote/commit carry) and fsyncs when etcd's MustSync rule
    /// ([`polyraft::raw_node::must_sync`]) asks for it against the stored
    /// HardState (new entries, or a changed term or vote) or a snapshot is
    /// present. Deliver `m.responses` after it returns.
    pub fn persist_storage_append(&self, m: &Message) -> Result<()> {
        if m.r#type() != MessageType::MsgStorageAppend {
            return Err(polyraft::Error::Storage(format!("{:?} is not a MsgStorageAppend", m.r#type())).into());
        }
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        let hs = HardState { term: m.term, vote: m.vote, commit: m.commit };
        // Term, vote and commit are all set or all zero (nothing to save).
        let hs = (!is_empty_hard_state(&hs)).then_some(hs);
        let prev = mem.hard_state();
        let sync = must_sync(&hs.unwrap_or(prev), &prev, m.entries.len());
        w.persist(mem, m.snapshot.as_deref(), &m.entries, hs, sync)
    }

    /// Appends entries durably, replacing any stored entries from the first
    /// new index on (the truncation on conflict of MemoryStorage.Append);
    /// already compacted ones are ignored.
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        w.begin(mem)?;
        w.append(mem, entries)?;
        w.sync(mem)
    }

    /// Saves the HardState durably.
    pub fn set_hard_state(&self, hs: HardState) -> Result<()> {
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        w.begin(mem)?;
        w.set_hard_state(mem, hs)?;
        w.sync(mem)
    }

    /// The saved HardState.
    pub fn hard_state(&self) -> HardState {
        self.shared.mem.hard_state()
    }

    /// Replaces the storage's contents with `snap` durably. Fails with
    /// [`polyraft::Error::SnapOutOfDate`] when the storage already holds a
    /// snapshot at least as new.
    pub fn apply_snapshot(&self, snap: Snapshot) -> Result<()> {
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        w.begin(mem)?;
        w.apply_snapshot(mem, &snap)?;
        w.sync(mem)
    }

    /// Makes (and keeps, durably) a snapshot covering up to entry `i`, with
    /// the configuration `cs` (or the previous snapshot's when `None`) and
    /// the application's `data`; the log is not compacted (see
    /// [`DurableStorage::compact`]). Errors as MemoryStorage's.
    pub fn create_snapshot(&self, i: u64, cs: Option<ConfState>, data: Bytes) -> Result<Snapshot> {
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        w.begin(mem)?;
        let snap = mem.create_snapshot(i, cs, data)?;
        w.install_snapshot(&snap, false)?;
        w.sync(mem)?;
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
        let mem = &self.shared.mem;
        let mut w = self.shared.wal.lock();
        w.begin(mem)?;
        mem.compact(compact_index)?;
        let term = mem.term(compact_index)?;
        w.write(&[Record::Compact { index: compact_index, term }])?;
        if w.releasable(mem) {
            w.sync(mem)?;
        }
        Ok(())
    }

    /// Disk work counters since open. Waits for a write in progress.
    pub fn stats(&self) -> Stats {
        self.shared.wal.lock().stats
    }

    /// The directory.
    pub fn dir(&self) -> PathBuf {
        self.shared.dir.clone()
    }

    /// Number of segment files. Waits for a write in progress.
    pub fn segment_count(&self) -> usize {
        self.shared.wal.lock().segments.len()
    }

    /// Installs a function that runs before every fsync of a segment.
    #[cfg(test)]
    fn set_sync_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.shared.wal.lock().sync_hook = Some(Arc::new(hook));
    }
}

/// What replaying the segments gives: the log, the writer for the last
/// segment, and the current snapshot's `(index, term)`.
type Replayed = (MemoryStorage, Writer, Option<(u64, u64)>);

/// Reads a segment and checks its header and, for all but the last one,
/// that it holds no bad record.
fn scan_segment(seg: &SegmentFile, is_last: bool) -> Result<Scan> {
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
    Ok(scan)
}

/// The `(index, term)` of the last snapshot record of a scan.
fn last_snapshot_named(scan: &Scan) -> Option<(u64, u64)> {
    scan.records.iter().rev().find_map(|(r, _)| match r {
        Record::Snapshot { index, term, .. } => Some((*index, *term)),
        _ => None,
    })
}

/// Replays the segments into a MemoryStorage, through the same calls the
/// live writes made (so replay cannot disagree with them).
///
/// The current snapshot is loaded first: it is named by the last snapshot
/// record, normally in the last segment (every segment's header repeats the
/// name of the snapshot current when it was created), so segments are
/// scanned from the last backwards until one names it; those scans are kept
/// for the replay. The log's base is then reset under it as the records say.
fn replay(dir: &Path, segs: &[SegmentFile], stats: &mut Stats, report: &mut RecoveryReport) -> Result<Replayed> {
    let mut scans: Vec<Option<Scan>> = segs.iter().map(|_| None).collect();
    let mut current_snap = None;
    for (k, seg) in segs.iter().enumerate().rev() {
        let scan = scan_segment(seg, k + 1 == segs.len())?;
        current_snap = last_snapshot_named(&scan);
        scans[k] = Some(scan);
        if current_snap.is_some() {
            break;
        }
    }
    let snap = match current_snap {
        Some((i, t)) => {
            let p = snap_path(dir, i, t);
            if !p.exists() {
                return Err(corrupt(&p, 0, "the current snapshot file is missing"));
            }
            snapshot::read(&p, i, t)?
        }
        None => Snapshot::default(),
    };

    let mem = MemoryStorage::new();
    let mut based = false;
    // The snapshot named by the records replayed so far.
    let mut named = None;
    // The last segment's scan, whose torn tail is cut off afterwards.
    let mut last = None;
    for (k, seg) in segs.iter().enumerate() {
        let is_last = k + 1 == segs.len();
        let scan = match scans[k].take() {
            Some(scan) => scan,
            None => scan_segment(seg, is_last)?,
        };
        // A later segment's header repeats what the records before it
        // made: the log's end, the HardState and the snapshot's name. A
        // mismatch means records were lost from the end of the previous
        // segment (cut at a record boundary, so no bad record shows it).
        let check_header = based;
        // SegmentHeader, HardState, and the snapshot's name if there is one.
        let header_len = if named.is_some() { 3 } else { 2 };
        for (pos, (rec, off)) in scan.records.iter().enumerate() {
            report.records += 1;
            let bad = |what: &str, e: polyraft::Error| corrupt(&seg.path, *off, format!("{what}: {e}"));
            let lost = || corrupt(&seg.path, *off, "the segment header does not match the records before it");
            let in_header = check_header && pos < header_len;
            match rec {
                Record::SegmentHeader { base_index, base_term, .. } => {
                    // Only the first surviving segment's header sets the
                    // base; later ones are checked against the replay.
                    if !based {
                        mem.restore(snap.clone(), *base_index, *base_term);
                        based = true;
                    } else if mem.last_index()? != *base_index || mem.term(*base_index).ok() != Some(*base_term) {
                        return Err(lost());
                    }
                }
                Record::HardState(hs) if in_header && mem.hard_state() != *hs => return Err(lost()),
                Record::Snapshot { index, term, reset: false } if in_header && named != Some((*index, *term)) => {
                    return Err(lost());
                }
                Record::HardState(hs) => mem.set_hard_state(*hs),
                Record::Entries(ents) => mem.append(ents).map_err(|e| bad("entries do not follow the log", e))?,
                Record::Compact { index, term } => {
                    // Tolerant, as a replay starting at a later segment
                    // must be: a point at or behind the log's base changes
                    // nothing, one beyond its end empties it.
                    let base = mem.first_index()? - 1;
                    if *index > mem.last_index()? {
                        mem.restore(snap.clone(), *index, *term);
                    } else if *index > base {
                        mem.compact(*index).map_err(|e| bad("compaction does not fit the log", e))?;
                    }
                }
                Record::Snapshot { index, term, reset } => {
                    named = Some((*index, *term));
                    if *reset {
                        mem.restore(snap.clone(), *index, *term);
                    }
                }
                Record::Synced { .. } => {}
            }
        }
        if is_last {
            last = Some(scan);
        }
    }
    let (Some(seg), Some(scan)) = (segs.last(), last) else {
        return Err(corrupt(dir, 0, "no WAL segment to replay"));
    };
    if let Some(bad) = &scan.bad {
        segment::truncate(&seg.path, scan.valid_len, stats)?;
        report.truncated = Some(TruncatedTail {
            segment: seg.path.clone(),
            offset: scan.valid_len,
            dropped_bytes: scan.file_len - scan.valid_len,
            reason: bad.reason().to_string(),
        });
    }
    let writer = Writer::open(seg.clone(), scan.valid_len, stats)?;
    Ok((mem, writer, current_snap))
}

impl Wal {
    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(first) => Err(Error::Failed(first.clone())),
            None => Ok(()),
        }
    }

    /// Records an I/O failure: later writes are refused.
    fn fail<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if self.failed.is_none() {
                self.failed = Some(Box::new(e.clone()));
            }
        }
        r
    }

    /// Starts a write: refuses it after a failure, and starts a new segment
    /// when the current one is full. Called before the write changes
    /// `mem`, so a new segment's header describes exactly the records
    /// written before it.
    fn begin(&mut self, mem: &MemoryStorage) -> Result<()> {
        self.check_usable()?;
        if self.writer.len >= self.opts.segment_bytes {
            let r = self.roll(mem);
            self.fail(r)?;
        }
        Ok(())
    }

    /// Appends records to the current segment. Not durable until `sync`.
    fn write(&mut self, recs: &[Record]) -> Result<()> {
        self.check_usable()?;
        let mut buf = Vec::new();
        for r in recs {
            super::record::encode(r, &mut buf);
        }
        let r = self.writer.write(&buf, &mut self.stats);
        self.fail(r)
    }

    /// Closes the current segment (fsynced in full, so that a bad record in
    /// it is corruption, never a torn write) and starts the next one with a
    /// header that lets replay begin there: the log's end, the HardState
    /// and the current snapshot, from `mem` as the records so far made it.
    fn roll(&mut self, mem: &MemoryStorage) -> Result<()> {
        self.writer.sync(&mut self.stats)?;
        let seq = self.writer.seg.seq + 1;
        let last = mem.last_index()?;
        let mut header = vec![
            Record::SegmentHeader { seq, base_index: last, base_term: mem.term(last)? },
            Record::HardState(mem.hard_state()),
        ];
        if let Some((index, term)) = self.current_snap {
            header.push(Record::Snapshot { index, term, reset: false });
        }
        self.writer = Writer::create(&self.dir, seq, last + 1, &header, &mut self.stats)?;
        self.stats.segments_created += 1;
        self.segments.push(self.writer.seg.clone());
        Ok(())
    }

    /// Makes everything written durable, then removes what that made
    /// obsolete: segments below the compaction point, superseded snapshots.
    fn sync(&mut self, mem: &MemoryStorage) -> Result<()> {
        self.check_usable()?;
        let r = self.sync_inner(mem);
        self.fail(r)
    }

    fn sync_inner(&mut self, mem: &MemoryStorage) -> Result<()> {
        #[cfg(test)]
        if let Some(hook) = &self.sync_hook {
            hook();
        }
        self.writer.sync(&mut self.stats)?;
        let mut removed = false;
        while self.releasable(mem) {
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
    fn releasable(&self, mem: &MemoryStorage) -> bool {
        let snap = self.current_snap.map_or(0, |(index, _)| index);
        let compacted = mem.first_index().unwrap_or(1) - 1;
        self.segments.len() > 1 && self.segments[1].first_index - 1 <= compacted.min(snap)
    }

    /// Writes what a Ready (or MsgStorageAppend) asks for, in etcd's
    /// order: snapshot, entries, HardState; then syncs if `must_sync` or a
    /// snapshot was written (a snapshot is always made durable, as etcd's
    /// server does).
    fn persist(
        &mut self,
        mem: &MemoryStorage,
        snap: Option<&Snapshot>,
        entries: &[Entry],
        hs: Option<HardState>,
        must_sync: bool,
    ) -> Result<()> {
        self.begin(mem)?;
        self.stats.readies += 1;
        let snap = snap.filter(|sn| !is_empty_snap(sn));
        if let Some(sn) = snap {
            self.apply_snapshot(mem, sn)?;
        }
        self.append(mem, entries)?;
        if let Some(hs) = hs {
            self.set_hard_state(mem, hs)?;
        }
        if must_sync || snap.is_some() {
            self.sync(mem)?;
        }
        Ok(())
    }

    /// MemoryStorage's append, then its record: the entries it kept (the
    /// compacted ones dropped), which replace the log from the first one's
    /// index on when replayed.
    fn append(&mut self, mem: &MemoryStorage, entries: &[Entry]) -> Result<()> {
        check_index_range(entries)?;
        let first = mem.first_index()?;
        mem.append(entries)?;
        let kept = match entries.first() {
            Some(e) if e.index < first => &entries[((first - e.index) as usize).min(entries.len())..],
            _ => entries,
        };
        if kept.is_empty() {
            return Ok(());
        }
        self.write(&[Record::Entries(kept.to_vec())])
    }

    fn set_hard_state(&mut self, mem: &MemoryStorage, hs: HardState) -> Result<()> {
        self.write(&[Record::HardState(hs)])?;
        mem.set_hard_state(hs);
        Ok(())
    }

    /// MemoryStorage's apply_snapshot (which refuses an older snapshot),
    /// then the snapshot file and its record.
    fn apply_snapshot(&mut self, mem: &MemoryStorage, snap: &Snapshot) -> Result<()> {
        if snap.index() > MAX_INDEX {
            return Err(polyraft::Error::Storage(format!("snapshot index {} out of range", snap.index())).into());
        }
        mem.apply_snapshot(snap.clone())?;
        self.install_snapshot(snap, true)
    }

    /// Writes the snapshot file, then the record naming it (`reset`: the
    /// log was replaced by it, a snapshot received from the leader). The
    /// MemoryStorage already holds it.
    fn install_snapshot(&mut self, snap: &Snapshot, reset: bool) -> Result<()> {
        self.check_usable()?;
        let r = snapshot::write(&self.dir, snap, &mut self.stats);
        let path = self.fail(r)?;
        let (index, term) = (snap.index(), snap.term());
        self.write(&[Record::Snapshot { index, term, reset }])?;
        if let Some((i, t)) = self.current_snap {
            let old = snap_path(&self.dir, i, t);
            if old != path {
                self.obsolete.push(old);
            }
        }
        self.current_snap = Some((index, term));
        Ok(())
    }
}
/// Reads take only the in-memory log's lock (never the writers' mutex), so
/// they do not wait for a write's fsync.
impl Storage for DurableStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        self.shared.mem.initial_state()
    }

    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        self.shared.mem.entries(lo, hi, max_size)
    }

    fn term(&self, i: u64) -> polyraft::Result<u64> {
        self.shared.mem.term(i)
    }

    fn last_index(&self) -> polyraft::Result<u64> {
        self.shared.mem.last_index()
    }

    fn first_index(&self) -> polyraft::Result<u64> {
        self.shared.mem.first_index()
    }

    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        self.shared.mem.snapshot()
    }
}

#[cfg(test)]
mod tests;
