//! Durable storage for polyraft: a checksummed, segmented write-ahead log
//! plus snapshot files in one directory, behind the same
//! [`polyraft::Storage`] interface as [`polyraft::MemoryStorage`]. It lives
//! apart from the core crate, which does no I/O.
//!
//! [`DurableStorage`] keeps the live log in a [`polyraft::MemoryStorage`]
//! (as etcd's users keep a MemoryStorage beside their WAL), so reads have
//! MemoryStorage's exact semantics, and makes every change durable on disk
//! before it is acknowledged; [`DurableStorage::open`] rebuilds the memory
//! state from the directory and returns a [`RecoveryReport`].
//!
//! # On-disk format
//!
//! * `{seq:016x}-{first_index:016x}.wal`: log segments. A segment is a
//!   sequence of records `[len u32][crc32 u32][type u8][payload]` (little
//!   endian; the CRC-32 covers type and payload). Each segment opens with a
//!   header record (magic, sequence number, index and term of the entry
//!   before its first entry), the HardState and the current snapshot's
//!   name, so replay can start at any segment once older ones are deleted.
//!   Then: `Entries` (contiguous entries that replace the log from the first
//!   one's index on: truncation on conflict), `HardState`, `Compact`
//!   (entries before an index are gone), `Snapshot` (a snapshot file
//!   became current; with `reset`, the log was replaced by it) and `Synced`
//!   (written first after each fsync: "the first N bytes of this segment
//!   are durable"). A segment is closed (fsynced) once it passes
//!   [`Options::segment_bytes`]; a new one is written under a temporary
//!   name, fsynced and renamed. Compaction deletes the oldest segments once every entry they hold is
//!   at or below both the compaction point and the current snapshot.
//! * `{index:016x}-{term:016x}.snap`: snapshot files, written atomically
//!   (temporary file, fsync, rename, fsync directory) before the WAL record
//!   naming them. Only the newest named snapshot is kept.
//!
//! # Recovery rules
//!
//! * In the last segment, the first incomplete or corrupt record and all
//!   bytes after it are cut off (that is where a crash during an append
//!   leaves garbage; nothing after it can be trusted) and reported in
//!   [`RecoveryReport::truncated`]; the segment is then fsynced, so nothing
//!   is built on data a power cut could still take back.
//! * Unless a later `Synced` record (found by skipping the bad record by
//!   its length) says the bad record had been fsynced: then it is damage to
//!   acknowledged data, not a torn write, and open fails with
//!   [`Error::Corrupt`]. Damage within the last unsynced write, or that
//!   also destroyed the length, cannot be told from a torn write and is cut
//!   off; the report gives the offset, the bytes dropped and the reason
//!   (`checksum mismatch` or an incomplete record).
//! * Anywhere else (a bad record in an older segment, which was fsynced in
//!   full before the next one was created; a bad segment header; a segment
//!   header that disagrees with the records before it, which means records
//!   were lost from the end of the previous segment; a missing segment; a
//!   missing or corrupt current snapshot) open fails with
//!   [`Error::Corrupt`]: that is committed data, and dropping it silently
//!   could lose acknowledged writes.
//!
//! # Durability
//!
//! [`DurableStorage::persist_ready`] writes a Ready's snapshot, entries and
//! HardState and then issues one `fdatasync` when `ready.must_sync` (or a
//! snapshot is present), before the application sends the Ready's messages;
//! when `!must_sync` (only the commit index changed) it writes without
//! syncing, which is etcd's rule: a lost commit index is relearned. The
//! single-purpose writers (`append`, `set_hard_state`, `apply_snapshot`,
//! `create_snapshot`) each sync before returning. `compact` syncs only when
//! it deletes segments (losing a compaction record is harmless: the entries
//! come back). After an I/O error the storage refuses further writes
//! ([`Error::Failed`]): what reached the disk is unknown, and retrying an
//! fsync that failed is not safe on Linux.
//!
//! Reads never wait for the disk: raft's reads (`term`, `entries`...) take
//! only the in-memory log's lock, which writers hold just long enough to
//! change memory, never across a write or an fsync. Writers are serialized
//! by a second lock, held for the whole write and its fsync. So a change is
//! visible to reads once it is in memory, before its fsync returns. Raft
//! does not depend on it earlier: it serves entries it has not yet seen
//! acknowledged from its own unstable log, and it sends nothing that
//! depends on them before the write returns (or, with async storage
//! writes, before the `MsgStorageAppend`'s responses are delivered).
//!
//! # One owner
//!
//! One open storage at a time may use a directory: [`DurableStorage::open`]
//! takes an exclusive lock on the file `LOCK` in it (`flock` on Unix,
//! `LockFileEx` on Windows) and fails with [`Error::Locked`] if another
//! process, or another open storage in this process, holds it. The lock is
//! released when the last clone of the storage is dropped, or when the
//! process dies. etcd's WAL does the same with a lock on each segment file.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dir_lock;
mod record;
mod segment;
mod snapshot;
mod storage;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use storage::DurableStorage;

/// Errors of the durable storage. New variants may be added in minor
/// releases (`#[non_exhaustive]`): match with a wildcard arm.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating system call failed; `source` keeps its errno
    /// (`raw_os_error`).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`write`, `fsync`, `rename`...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error (shared, so the storage can report it again
        /// after it failed).
        source: Arc<std::io::Error>,
    },
    /// Another open storage (in this process or another) holds the
    /// directory's lock file.
    #[error("{dir} is already open: another DurableStorage holds its lock file {lock}")]
    Locked {
        /// The storage directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// Data on disk that recovery must not drop: a bad record in a
    /// non-final segment, a bad segment header, a missing segment or
    /// snapshot, or records that contradict each other.
    #[error("corrupt WAL data in {file} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Byte offset of the bad record (0 for whole-file problems).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The call was refused with the error MemoryStorage gives for it
    /// (Compacted, SnapOutOfDate, out of bounds...); nothing was written.
    #[error(transparent)]
    Raft(#[from] polyraft::Error),
    /// An earlier I/O error (kept here, with its errno) left the files in
    /// an unknown state; the storage refuses writes until reopened.
    #[error("storage failed earlier and refuses writes: {0}")]
    Failed(#[source] Box<Error>),
}

impl Error {
    /// The operating system's error code (errno on Unix) behind this
    /// error, if an I/O call failed (directly or, for [`Error::Failed`],
    /// earlier).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Failed(first) => first.raw_os_error(),
            Error::Raft(polyraft::Error::Io(e)) => e.raw_os_error(),
            _ => None,
        }
    }
}

/// Raft-level errors pass through unchanged; I/O failures become
/// [`polyraft::Error::Io`] (keeping the `std::io::Error` and its errno),
/// the rest [`polyraft::Error::Storage`]. Both make a node refuse further
/// work.
impl From<Error> for polyraft::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Raft(e) => e,
            Error::Io { op, path, source } => {
                polyraft::Error::Io(polyraft::IoError::from_shared(format!("{op} {}", path.display()), source))
            }
            Error::Failed(first) => match *first {
                Error::Io { op, path, source } => polyraft::Error::Io(polyraft::IoError::from_shared(
                    format!("storage failed earlier and refuses writes: {op} {}", path.display()),
                    source,
                )),
                other => polyraft::Error::Storage(format!("storage failed earlier and refuses writes: {other}")),
            },
            other => polyraft::Error::Storage(other.to_string()),
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Builds the `map_err` closure for an I/O call on `path`.
pub(crate) fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source: Arc::new(source) }
}

/// Tuning of a [`DurableStorage`].
#[derive(Debug, Clone)]
pub struct Options {
    /// A segment is closed and a new one started once it holds at least
    /// this many bytes (64 MiB by default, as etcd). Smaller segments let
    /// compaction free space sooner.
    pub segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { segment_bytes: 64 << 20 }
    }
}

/// Counters of the work done on disk since open, to measure (for example)
/// fsyncs per Ready.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every fsync/fdatasync issued, files and directories alike.
    pub fsyncs: u64,
    /// The directory fsyncs among them (segment and snapshot creation,
    /// deletions).
    pub dir_fsyncs: u64,
    /// Bytes written to segments and snapshot files.
    pub bytes_written: u64,
    /// `persist_ready` and `persist_storage_append` calls.
    pub readies: u64,
    /// Segments created.
    pub segments_created: u64,
    /// Segments deleted by compaction.
    pub segments_deleted: u64,
}

/// What [`DurableStorage::open`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Whether the directory held no log yet (a new storage was created).
    pub created: bool,
    /// Segments read.
    pub segments: usize,
    /// Records replayed.
    pub records: u64,
    /// The torn or corrupt tail cut off the last segment, if any.
    pub truncated: Option<TruncatedTail>,
    /// Leftover files removed: temporary files of interrupted writes,
    /// snapshot files no WAL record names (a crash before the record) or
    /// superseded ones (a crash before their deletion).
    pub removed_files: Vec<PathBuf>,
    /// Index of the recovered snapshot (0 if none).
    pub snapshot_index: u64,
    /// First and last index of the recovered log.
    pub first_index: u64,
    /// See `first_index`.
    pub last_index: u64,
}

/// A tail dropped from the last segment at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the first bad record started (the new file length).
    pub offset: u64,
    /// Bytes removed.
    pub dropped_bytes: u64,
    /// Why the record was rejected (incomplete, checksum mismatch...).
    pub reason: String,
}
