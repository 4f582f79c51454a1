//! [`FileLogStore`]: the shared log on disk, one directory per host.
//!
//! # Files
//!
//! * `LOCK`: held (`flock`, exclusive) while the store is open, so a second
//!   process (or a second open in this one) gets [`Error::Locked`].
//! * `{seq:016x}.plog`: segments, numbered consecutively, each created
//!   atomically with its header (temporary file, fsync, rename). Each write is one
//!   frame appended to the newest segment (one `write` and, when synced,
//!   one `fdatasync`: group commit). The format is in `format.rs`. A
//!   segment is fdatasynced before the next one is created, so only the
//!   newest can end in a torn write.
//!
//! # Recovery (on [`FileLogStore::open`])
//!
//! Segments are replayed oldest first into the index. In the newest
//! segment, the first frame that is incomplete or fails its checksum and
//! everything after it are cut off (a torn write: the write was never
//! acknowledged as synced) and reported in [`RecoveryReport::torn`]; the
//! segment is then fdatasynced. Unless a later frame (found by skipping the
//! bad one by its length) says, in its `synced` field, that the bad bytes
//! had been fsynced: that is damage to acknowledged data and open fails
//! with [`Error::Corrupt`]. Damage anywhere else (an older segment, a
//! segment header, a missing segment, a record that passes its checksum
//! but does not decode) fails with [`Error::Corrupt`] naming the file and
//! offset. Nothing panics on any file content.
//!
//! # Compaction and purge
//!
//! [`LogStore::compact`] and [`LogStore::remove_group`] change the index
//! at once and queue a small record written with the next write.
//! [`LogStore::purge`] reclaims every segment older than the newest: each
//! group with live state in them gets its whole state rewritten to the
//! head (a checkpoint record: offset, hard state, snapshot metadata and a
//! first run of entries, then entries records of about 256 KiB for the
//! rest), in frames of about 8 MiB, the last one synced; then the old
//! segments are deleted oldest first. A checkpoint replaces everything
//! before it for its group, so replay order stays right whatever a crash
//! leaves of the deletion. Purge costs the live state of the groups it
//! rewrites: call it after compaction, when [`FileLogStore::segment_count`]
//! passes a threshold.
//!
//! # Concurrency
//!
//! One mutex serializes the writers (write, compact, remove, purge); reads
//! take a read lock on the index only to copy locations, then `pread` the
//! records without any lock. Deleted segments stay readable through the
//! open handles a reader holds.

mod format;
mod index;
mod replay;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use polyraft::raftpb::{Entry, HardState, SnapshotMetadata};

use crate::group::{check_batch, GroupLog};
use crate::{Error, LogStore, PurgeStats, WriteBatch, WriteStats};
use format::{FrameBuf, Rec};
use index::{FileGroup, Groups, Loc};

/// Purge writes its checkpoints in frames of about this many bytes.
const PURGE_FRAME: usize = 8 << 20;

/// Purge's checkpoints hold entries in runs of about this many bytes.
const CHECKPOINT_RUN: usize = 256 << 10;

/// Splits `ents` into runs of about `bytes` payload bytes (at least one
/// entry each).
fn runs_of(ents: &[Entry], bytes: usize) -> Vec<&[Entry]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, e) in ents.iter().enumerate() {
        if i > start && size + e.data.len() > bytes {
            out.push(&ents[start..i]);
            (start, size) = (i, 0);
        }
        size += e.data.len() + 16;
    }
    if start < ents.len() {
        out.push(&ents[start..]);
    }
    out
}

/// Tuning of a [`FileLogStore`].
#[derive(Debug, Clone)]
pub struct Options {
    /// A new segment is started once the newest passes this size (bytes;
    /// at most 2 GiB). Purge reclaims whole segments, so smaller segments
    /// reclaim sooner at the cost of more files.
    pub segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { segment_bytes: 64 << 20 }
    }
}

/// A torn write cut off the newest segment on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the cut was made (the bad frame's offset).
    pub offset: u64,
    /// Bytes dropped.
    pub dropped: u64,
    /// Why the frame was bad (incomplete, checksum mismatch...).
    pub reason: String,
}

/// What [`FileLogStore::open`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments replayed.
    pub segments: u64,
    /// Frames (writes) replayed.
    pub frames: u64,
    /// Records replayed.
    pub records: u64,
    /// Groups in the log after replay.
    pub groups: u64,
    /// The torn write cut off, if any.
    pub torn: Option<TornTail>,
}

/// Counters of a [`FileLogStore`] since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Frames written (one per write that had something to write).
    pub writes: u64,
    /// fdatasync calls on segments.
    pub syncs: u64,
    /// Bytes appended to segments.
    pub bytes: u64,
    /// Segments created.
    pub segments_created: u64,
    /// Segments deleted by purge.
    pub segments_removed: u64,
    /// Bytes written by purge's checkpoints.
    pub bytes_rewritten: u64,
}

/// A compaction or removal waiting for the next frame.
#[derive(Debug, Clone, Copy)]
enum Mark {
    Compact { group: u64, index: u64, term: u64 },
    Remove { group: u64 },
}

/// The index and the open segments, shared with readers.
#[derive(Default)]
struct State {
    groups: Groups,
    segments: BTreeMap<u32, Arc<File>>,
}

/// The writer's side: the newest segment and what is queued.
struct Writer {
    seq: u32,
    file: Arc<File>,
    /// Bytes in the newest segment.
    len: u64,
    /// Of which fdatasynced.
    synced: u64,
    marks: Vec<Mark>,
    /// Set by an I/O failure: the disk's state is unknown, writes refused.
    failed: Option<String>,
    stats: FileStats,
}

/// The shared log of one host in one directory. See the module docs for
/// the format, recovery rules and costs.
pub struct FileLogStore {
    dir: PathBuf,
    opts: Options,
    state: RwLock<State>,
    writer: Mutex<Writer>,
    report: RecoveryReport,
    /// Holds the directory's lock until the store is dropped.
    _lock: File,
}

impl std::fmt::Debug for FileLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileLogStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// The name of segment `seq`.
fn segment_name(seq: u32) -> String {
    format!("{seq:016x}.plog")
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(format!("fsync directory {}", dir.display())))
}

/// Creates segment `seq` holding only its header, atomically: written and
/// synced under a temporary name, renamed, directory synced. A crash leaves
/// either no segment or a whole header (and maybe a temporary file, which
/// open deletes).
fn create_segment(dir: &Path, seq: u32) -> Result<File, Error> {
    let path = dir.join(segment_name(seq));
    let tmp = dir.join(format!("{}.tmp", segment_name(seq)));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err(format!("create segment {}", tmp.display())))?;
    f.write_all_at(&format::segment_header(u64::from(seq)), 0)
        .and_then(|()| f.sync_data())
        .map_err(io_err(format!("write segment header {}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(io_err(format!("rename {} to {}", tmp.display(), path.display())))?;
    sync_dir(dir)?;
    Ok(f)
}

impl FileLogStore {
    /// Opens (creating if needed) the log in `dir`: takes the lock, replays
    /// the segments, cuts a torn tail. See the module docs for what is an
    /// error.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<FileLogStore, Error> {
        if opts.segment_bytes > (2 << 30) || opts.segment_bytes < 1024 {
            return Err(Error::Invalid(format!("segment_bytes {} out of range [1 KiB, 2 GiB]", opts.segment_bytes)));
        }
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err(format!("create log directory {}", dir.display())))?;
        let lock_path = dir.join("LOCK");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(format!("open lock file {}", lock_path.display())))?;
        // A child this process is spawning shares its open files between
        // fork and exec, so a lock just released by a closed log can look
        // held for a moment: retry briefly (20 x 10 ms) before blaming an
        // owner.
        let mut attempts = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if attempts < 20 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked(dir.display().to_string())),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io_err(format!("lock {}", lock_path.display()))(e));
                }
            }
        }
        let r = replay::replay(&dir)?;
        let (seq, file, len, created) = match r.segments.last_key_value() {
            Some((&seq, f)) => (seq, f.clone(), r.active_len, 0),
            None => (1, Arc::new(create_segment(&dir, 1)?), format::SEGMENT_HEADER as u64, 1),
        };
        let mut segments = r.segments;
        segments.insert(seq, file.clone());
        let writer = Writer {
            seq,
            file,
            len,
            synced: len,
            marks: Vec::new(),
            failed: None,
            stats: FileStats { segments_created: created, ..FileStats::default() },
        };
        Ok(FileLogStore {
            dir,
            opts,
            state: RwLock::new(State { groups: r.groups, segments }),
            writer: Mutex::new(writer),
            report: r.report,
            _lock: lock,
        })
    }

    /// What open found (segments, frames, the torn tail cut off).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Counters since open.
    pub fn stats(&self) -> FileStats {
        self.writer.lock().stats
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Segment files currently in the log.
    pub fn segment_count(&self) -> usize {
        self.state.read().segments.len()
    }

    /// Entries currently indexed, over all groups (their locations are the
    /// index's main memory cost: 24 bytes each).
    pub fn indexed_entries(&self) -> usize {
        self.state.read().groups.values().map(|g| g.log.len()).sum()
    }

    fn read<R>(&self, group: u64, f: impl FnOnce(&GroupLog<Loc>) -> R) -> R {
        let st = self.state.read();
        match st.groups.get(&group) {
            Some(g) => f(&g.log),
            None => f(&GroupLog::default()),
        }
    }

    /// Reads the entries at `locs` (ascending, starting at index `lo`) from
    /// their records, stopping once `max_size` is passed (keeping one).
    fn read_entries(&self, lo: u64, locs: &[Loc], files: &BTreeMap<u32, Arc<File>>, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        let mut out: Vec<Entry> = Vec::with_capacity(locs.len().min(1024));
        let mut size = 0u64;
        let mut i = 0;
        while i < locs.len() {
            let loc = locs[i];
            let file = files.get(&loc.seg).ok_or_else(|| {
                polyraft::Error::Storage(format!("log segment {} is gone (index out of date)", loc.seg))
            })?;
            let mut buf = vec![0u8; loc.len as usize];
            file.read_exact_at(&mut buf, u64::from(loc.off)).map_err(|e| {
                polyraft::Error::Storage(format!("read {} at {}: {e}", segment_name(loc.seg), loc.off))
            })?;
            let bad = |why: String| polyraft::Error::Storage(format!("log record in {} at {}: {why}", segment_name(loc.seg), loc.off));
            let (kind, payload) = format::check_record(&buf).map_err(bad)?;
            let ents = format::record_entries(kind, payload).map_err(bad)?;
            // The record's entries that the index places here: every
            // following location in the same record.
            let mut want = lo + i as u64;
            let first = ents.first().map_or(0, |e| e.index);
            while i < locs.len() && locs[i].seg == loc.seg && locs[i].off == loc.off {
                let e = want.checked_sub(first).and_then(|k| ents.get(k as usize)).filter(|e| e.term == locs[i].term);
                let Some(e) = e else {
                    return Err(bad(format!("entry {want} is not where the index says")));
                };
                size = size.saturating_add(prost::Message::encoded_len(e) as u64);
                if !out.is_empty() && size > max_size {
                    return Ok(out);
                }
                out.push(e.clone());
                i += 1;
                want += 1;
            }
        }
        Ok(out)
    }

    /// Appends one frame built by `build` (after the queued marks) to the
    /// newest segment, syncs it when asked, and applies its records to the
    /// index. Called with the writer lock held.
    fn append_frame(
        &self,
        w: &mut Writer,
        sync: bool,
        build: impl FnOnce(&mut FrameBuf, &mut Vec<(u64, Rec, usize, usize)>),
    ) -> Result<WriteStats, Error> {
        let mut frame = FrameBuf::new();
        let mut recs: Vec<(u64, Rec, usize, usize)> = Vec::new();
        let marks = w.marks.clone();
        for m in w.marks.drain(..) {
            let (group, kind, rec) = match m {
                Mark::Compact { group, index, term } => (group, format::K_COMPACT, Rec::Compact { index, term }),
                Mark::Remove { group } => (group, format::K_REMOVE, Rec::Remove),
            };
            // Marks already changed the index: not pushed to `recs`.
            frame.record(kind, group, |out| {
                if let Rec::Compact { index, term } = rec {
                    format::put_compact(out, index, term);
                }
            });
        }
        build(&mut frame, &mut recs);
        let mut stats = WriteStats::default();
        if frame.buf.len() > format::MAX_FRAME {
            // Refused whole, before anything reaches the disk: the store
            // stays usable and the queued marks wait for the next frame.
            w.marks = marks;
            return Err(Error::Invalid(format!(
                "a write of {} bytes exceeds the log's limit of {} bytes per write; split the batch",
                frame.buf.len(),
                format::MAX_FRAME
            )));
        }
        if !frame.is_empty() {
            let flen = frame.buf.len() as u64;
            if w.len > format::SEGMENT_HEADER as u64 && (w.len + flen > self.opts.segment_bytes || w.len + flen > u64::from(u32::MAX)) {
                self.rotate(w)?;
            }
            // What is durable of the segment the frame lands in.
            frame.set_synced(w.synced);
            let bytes = frame.finish();
            let at = w.len;
            if let Err(e) = w.file.write_all_at(bytes, at) {
                w.failed = Some(format!("write failed: {e}"));
                return Err(io_err(format!("write {}", segment_name(w.seq)))(e));
            }
            w.len += flen;
            w.stats.writes += 1;
            w.stats.bytes += flen;
            stats.bytes = flen;
            if sync {
                self.sync(w)?;
                stats.syncs = 1;
            }
            let mut st = self.state.write();
            for (group, rec, rat, rlen) in &recs {
                index::apply(&mut st.groups, *group, rec, w.seq, (at as usize + rat) as u32, *rlen as u32);
            }
        } else if sync && w.synced < w.len {
            self.sync(w)?;
            stats.syncs = 1;
        }
        Ok(stats)
    }

    fn sync(&self, w: &mut Writer) -> Result<(), Error> {
        if let Err(e) = w.file.sync_data() {
            // Retrying an fdatasync that failed is not safe on Linux (the
            // dirty pages may be dropped): refuse writes until reopened.
            w.failed = Some(format!("fdatasync failed: {e}"));
            return Err(io_err(format!("fdatasync {}", segment_name(w.seq)))(e));
        }
        w.synced = w.len;
        w.stats.syncs += 1;
        Ok(())
    }

    /// Seals the newest segment (synced) and starts the next.
    fn rotate(&self, w: &mut Writer) -> Result<(), Error> {
        if w.synced < w.len {
            self.sync(w)?;
        }
        let seq = w.seq.checked_add(1).filter(|&s| s != index::NO_SEG).ok_or_else(|| Error::Invalid("segment numbers exhausted".into()))?;
        let f = match create_segment(&self.dir, seq) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                w.failed = Some(format!("{e}"));
                return Err(e);
            }
        };
        self.state.write().segments.insert(seq, f.clone());
        w.seq = seq;
        w.file = f;
        w.len = format::SEGMENT_HEADER as u64;
        w.synced = w.len;
        w.stats.segments_created += 1;
        Ok(())
    }

    fn check_ok(w: &Writer) -> Result<(), Error> {
        match &w.failed {
            Some(why) => Err(Error::Invalid(format!("log store failed earlier ({why}); writes are refused until it is reopened"))),
            None => Ok(()),
        }
    }
}

/// Records of one group write, in the order they apply.
/// `state` is the group's current state (what a snapshot's reset flag is
/// decided against).
fn encode_group_write(
    frame: &mut FrameBuf,
    recs: &mut Vec<(u64, Rec, usize, usize)>,
    w: &crate::GroupWrite,
    state: Option<&FileGroup>,
) {
    let g = w.group;
    if let Some(meta) = &w.snapshot {
        let reset = !state.is_some_and(|s| s.log.holds(meta.index, meta.term));
        let (at, len) = frame.record(format::K_SNAPSHOT, g, |out| {
            out.push(u8::from(reset));
            prost::Message::encode(meta, out).expect("a Vec grows");
        });
        recs.push((g, Rec::Snapshot { meta: meta.clone(), reset }, at, len));
    }
    if let Some(e0) = w.entries.first() {
        let (at, len) = frame.record(format::K_ENTRIES, g, |out| format::put_entries(out, &w.entries));
        let terms = w.entries.iter().map(|e| e.term).collect();
        recs.push((g, Rec::Entries { first: e0.index, terms }, at, len));
    }
    if let Some(hs) = &w.hard_state {
        let (at, len) = frame.record(format::K_HARD_STATE, g, |out| prost::Message::encode(hs, out).expect("a Vec grows"));
        recs.push((g, Rec::HardState(*hs), at, len));
    }
}

impl LogStore for FileLogStore {
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<WriteStats, Error> {
        let mut w = self.writer.lock();
        Self::check_ok(&w)?;
        {
            let st = self.state.read();
            check_batch(batch, |g| st.groups.get(&g).map(|fg| &fg.log))?;
        }
        self.append_frame(&mut w, sync, |frame, recs| {
            // The index changes only under the writer lock, held here.
            let st = self.state.read();
            for gw in &batch.groups {
                encode_group_write(frame, recs, gw, st.groups.get(&gw.group));
            }
        })
    }

    fn groups(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.state.read().groups.keys().copied().collect();
        v.sort_unstable();
        v
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
        let (locs, files) = {
            let st = self.state.read();
            let empty = GroupLog::default();
            let g = st.groups.get(&group).map_or(&empty, |g| &g.log);
            let locs: Vec<Loc> = g.range(lo, hi)?.copied().collect();
            let mut files = BTreeMap::new();
            for l in &locs {
                if let std::collections::btree_map::Entry::Vacant(v) = files.entry(l.seg) {
                    if let Some(f) = st.segments.get(&l.seg) {
                        v.insert(f.clone());
                    }
                }
            }
            (locs, files)
        };
        self.read_entries(lo, &locs, &files, max_size)
    }

    fn compact(&self, group: u64, index: u64) -> Result<(), Error> {
        let mut w = self.writer.lock();
        Self::check_ok(&w)?;
        let mut st = self.state.write();
        let Some(g) = st.groups.get_mut(&group) else {
            return GroupLog::<Loc>::default().compact(index);
        };
        if index <= g.log.offset() {
            return Ok(());
        }
        g.log.compact(index)?;
        // The mark goes into the next frame, in this segment or a later
        // one: naming this one is conservative for purge.
        g.base_seg = w.seq;
        w.marks.push(Mark::Compact { group, index, term: g.log.offset_term() });
        Ok(())
    }

    fn remove_group(&self, group: u64) -> Result<(), Error> {
        let mut w = self.writer.lock();
        Self::check_ok(&w)?;
        if self.state.write().groups.remove(&group).is_some() {
            w.marks.push(Mark::Remove { group });
        }
        Ok(())
    }

    fn purge(&self) -> Result<PurgeStats, Error> {
        let mut w = self.writer.lock();
        Self::check_ok(&w)?;
        let active = w.seq;
        // While the writer lock is held nothing changes the index.
        let (old, todo): (Vec<u32>, Vec<(u64, FileGroup)>) = {
            let st = self.state.read();
            let old = st.segments.range(..active).map(|(&s, _)| s).collect();
            let mut todo: Vec<(u64, FileGroup)> =
                st.groups.iter().filter(|(_, g)| g.min_seg() < active).map(|(&id, g)| (id, g.clone())).collect();
            todo.sort_unstable_by_key(|(id, _)| *id);
            (old, todo)
        };
        if old.is_empty() {
            return Ok(PurgeStats::default());
        }
        // Checkpoints go out in frames of about PURGE_FRAME bytes (the
        // last one synced), so memory stays bounded whatever the live size.
        let before = w.stats.bytes;
        let mut i = 0;
        while i < todo.len() {
            let mut chunk: Vec<(u64, &FileGroup, Vec<Entry>)> = Vec::new();
            let mut size = 0usize;
            while i < todo.len() && (chunk.is_empty() || size < PURGE_FRAME) {
                let (id, g) = (todo[i].0, &todo[i].1);
                let ents = if g.log.len() == 0 {
                    Vec::new()
                } else {
                    let locs: Vec<Loc> = g.log.slots().map(|(_, l)| *l).collect();
                    let files = self.state.read().segments.clone();
                    self.read_entries(g.log.first_index(), &locs, &files, u64::MAX)
                        .map_err(|e| Error::Corrupt(format!("purge: group {id}: {e}")))?
                };
                size += ents.iter().map(|e| e.data.len() + 16).sum::<usize>() + 64;
                chunk.push((id, g, ents));
                i += 1;
            }
            let last = i == todo.len();
            self.append_frame(&mut w, last, |frame, recs| {
                for (id, g, ents) in &chunk {
                    let (offset, offset_term) = (g.log.offset(), g.log.offset_term());
                    let (hs, snap) = (g.log.hard_state, g.log.snapshot.clone());
                    // The checkpoint carries the first run of entries; the
                    // rest follow as entries records, so a reader never
                    // decodes more than one run to reach an entry.
                    let mut runs = runs_of(ents, CHECKPOINT_RUN).into_iter();
                    let head = runs.next().unwrap_or(&[]);
                    let (at, len) = frame.record(format::K_CHECKPOINT, *id, |out| {
                        format::put_checkpoint(out, offset, offset_term, &hs, &snap, head)
                    });
                    let terms = head.iter().map(|e| e.term).collect();
                    recs.push((*id, Rec::Checkpoint { offset, offset_term, hs, snap, first: offset + 1, terms }, at, len));
                    for run in runs {
                        let (at, len) = frame.record(format::K_ENTRIES, *id, |out| format::put_entries(out, run));
                        let terms = run.iter().map(|e| e.term).collect();
                        recs.push((*id, Rec::Entries { first: run[0].index, terms }, at, len));
                    }
                }
            })?;
        }
        // An empty frame wrote nothing but the old segments are still dead
        // only once everything before is durable.
        if w.synced < w.len {
            self.sync(&mut w)?;
        }
        let rewritten = w.stats.bytes - before;
        let mut removed = 0;
        for seq in old {
            let path = self.dir.join(segment_name(seq));
            if let Err(e) = std::fs::remove_file(&path) {
                w.failed = Some(format!("delete {} failed: {e}", path.display()));
                return Err(io_err(format!("delete {}", path.display()))(e));
            }
            self.state.write().segments.remove(&seq);
            removed += 1;
        }
        sync_dir(&self.dir)?;
        w.stats.segments_removed += removed;
        w.stats.bytes_rewritten += rewritten;
        Ok(PurgeStats { segments_removed: removed, bytes_rewritten: rewritten })
    }
}
