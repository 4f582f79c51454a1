//! The durable storage (`polyraft_wal::DurableStorage`): a checksummed,
//! segmented write-ahead log plus snapshot files in one directory, read by
//! a node like the memory storage and written by the application from each
//! Ready.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::sync::Arc;

use polyraft::raftpb::{decode, HardState, Message, MessageType};
use polyraft_wal::{DurableStorage, Error as WalError, Options, RecoveryReport};
use polyraft::Storage;

use crate::node::{new_node, polyraft_config, polyraft_node};
use crate::ready::polyraft_ready;
use crate::storage::FfiStorage;
use crate::types::*;
use crate::*;

/// Runs the body of a polyraft_durable_storage_* export on a handle: null
/// check, the panic boundary, and the handle's detail.
pub(crate) unsafe fn with_durable(
    storage: *const polyraft_durable_storage,
    f: impl FnOnce(&polyraft_durable_storage) -> Result<(), Fail>,
) -> polyraft_result {
    if storage.is_null() {
        return POLYRAFT_NULL_PARAMETER;
    }
    let h = &*storage;
    boundary(Some(&h.detail), || f(h))
}

/// The errno a durable storage error keeps (0 when it did not come from
/// the operating system).
fn wal_errno(e: &WalError) -> i32 {
    match e {
        WalError::Io { source, .. } => source.raw_os_error().unwrap_or(0),
        WalError::Failed(inner) => wal_errno(inner),
        WalError::Raft(e) => errno_of(e),
        _ => 0,
    }
}

impl polyraft_durable_storage {
    /// Converts a durable storage error, keeping its errno in the handle's
    /// detail.
    fn fail(&self, e: WalError) -> Fail {
        self.detail.set_errno(wal_errno(&e));
        wal_fail(e)
    }
}

/// Maps a durable storage error to its result code and detail.
fn wal_fail(e: WalError) -> Fail {
    match e {
        WalError::Raft(e) => core_fail(e),
        e @ (WalError::Io { .. } | WalError::Failed(_)) => (POLYRAFT_IO_ERROR, e.to_string()),
        e @ WalError::Corrupt { .. } => (POLYRAFT_CORRUPT, e.to_string()),
        // Locked, and kinds added later (`WalError` is non_exhaustive).
        e => (POLYRAFT_IO_ERROR, e.to_string()),
    }
}

/// Copies the one-line detail of the last call on this handle into `buf`,
/// truncated to fit and NUL-terminated when len > 0, and the bytes written
/// (without the NUL) into `*written`. Empty when that call succeeded. For
/// POLYRAFT_IO_ERROR it names the operation, the file and the OS error; for
/// POLYRAFT_CORRUPT the file, the offset and what is wrong. Any thread may
/// read it once the call returned. A failed
/// polyraft_durable_storage_open reports through its `error` argument.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_last_error(
    storage: *const polyraft_durable_storage,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(storage);
        nn!(buf);
        nn!(written);
        *written = (*storage).detail.copy_to(buf, len);
        Ok(())
    })
}

/// The errno of the operating-system failure behind this handle's last
/// call (POLYRAFT_IO_ERROR: ENOSPC, EIO...), or 0 when that call succeeded
/// or failed for another reason. 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_last_errno(storage: *const polyraft_durable_storage) -> i32 {
    if storage.is_null() {
        return 0;
    }
    (*storage).detail.last_errno()
}

/// Options of polyraft_durable_storage_open. All zero (or filled by
/// polyraft_durable_options_init) means the defaults. Read only during the
/// call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_durable_options {
    /// A segment file is closed (fsynced) and the next one started once it
    /// holds at least this many bytes; smaller segments let compaction free
    /// disk space sooner. 0: the default, 64 MiB (etcd's).
    pub segment_bytes: u64,
}

/// Fills `*options` with the defaults (all zero: 64 MiB segments).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_options_init(options: *mut polyraft_durable_options) -> polyraft_result {
    guard(|| {
        nn!(options);
        *options = polyraft_durable_options::default();
        Ok(())
    })
}

/// What polyraft_durable_storage_open found and did. Plain values; the
/// texts are available from polyraft_durable_storage_truncation_reason and
/// polyraft_durable_storage_truncated_segment.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_recovery_report {
    /// Whether the directory held no log yet (a new storage was created).
    pub created: bool,
    /// Segment files read.
    pub segments: u64,
    /// WAL records replayed.
    pub records: u64,
    /// Whether a torn or corrupt tail was cut off the last segment (the
    /// remains of a write interrupted by a crash: it had not been
    /// acknowledged, so nothing acknowledged was lost).
    pub truncated: bool,
    /// Where the cut tail started (the segment's new length); 0 when
    /// `truncated` is false.
    pub truncated_offset: u64,
    /// Bytes cut off; 0 when `truncated` is false.
    pub dropped_bytes: u64,
    /// Leftover files removed (temporary files of interrupted writes,
    /// snapshot files no WAL record names).
    pub removed_files: u64,
    /// Index of the recovered snapshot (0 if none). A restarting
    /// application restores its state machine from that snapshot and sets
    /// polyraft_config.applied to this index (or higher, if its state
    /// machine is itself durable).
    pub snapshot_index: u64,
    /// First index of the recovered log (snapshot index + 1).
    pub first_index: u64,
    /// Last index of the recovered log.
    pub last_index: u64,
}

fn report_to_c(r: &RecoveryReport) -> polyraft_recovery_report {
    polyraft_recovery_report {
        created: r.created,
        segments: r.segments as u64,
        records: r.records,
        truncated: r.truncated.is_some(),
        truncated_offset: r.truncated.as_ref().map_or(0, |t| t.offset),
        dropped_bytes: r.truncated.as_ref().map_or(0, |t| t.dropped_bytes),
        removed_files: r.removed_files.len() as u64,
        snapshot_index: r.snapshot_index,
        first_index: r.first_index,
        last_index: r.last_index,
    }
}

/// A durable raft log in one directory (polyraft's DurableStorage): log
/// segments (checksummed records, fsynced before a write is acknowledged)
/// and snapshot files, kept in memory as well so that reads never touch the
/// disk. Shared by reference counting like polyraft_memory_storage: a node
/// created over it (polyraft_node_new_durable) reads through its own
/// reference while the application writes through its handle; each handle
/// (from polyraft_durable_storage_open* or _clone) is freed with
/// polyraft_durable_storage_free, and the files stay open until the last
/// handle and the last node over the storage are freed. Handles may be used
/// from any thread: the storage locks internally (a write holds the lock
/// through its fsync, so the node's reads wait for it).
///
/// One storage per directory at a time: a lock file in the directory
/// refuses a second open (POLYRAFT_IO_ERROR) until every handle and every
/// node over the first one is freed.
pub struct polyraft_durable_storage {
    pub(crate) ds: DurableStorage,
    report: Arc<RecoveryReport>,
    /// This handle's error detail (polyraft_durable_storage_last_error).
    detail: ErrorSlot,
}

/// A path given as bytes: UTF-8, non-empty, no NUL.
fn path_from(b: &[u8]) -> Result<PathBuf, Fail> {
    if b.is_empty() {
        return fail(POLYRAFT_INVALID_ARGUMENT, "dir is empty");
    }
    if b.contains(&0) {
        return fail(POLYRAFT_INVALID_ARGUMENT, "dir contains a NUL byte");
    }
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PathBuf::from(s)),
        Err(e) => fail(POLYRAFT_INVALID_ARGUMENT, format!("dir is not UTF-8: {e}")),
    }
}

unsafe fn open_at(
    dir: PathBuf,
    options: *const polyraft_durable_options,
    out: *mut *mut polyraft_durable_storage,
    report: *mut polyraft_recovery_report,
) -> Result<(), Fail> {
    nn!(out);
    let mut opts = Options::default();
    if !options.is_null() && (*options).segment_bytes != 0 {
        opts.segment_bytes = (*options).segment_bytes;
    }
    let (ds, rep) = DurableStorage::open(&dir, opts).map_err(wal_fail)?;
    if !report.is_null() {
        *report = report_to_c(&rep);
    }
    *out = Box::into_raw(Box::new(polyraft_durable_storage { ds, report: Arc::new(rep), detail: ErrorSlot::default() }));
    Ok(())
}

/// Opens the durable storage in directory `dir` (NUL-terminated UTF-8;
/// created, with its missing parents, if needed) and recovers its state:
/// replays every segment, cuts a torn tail off the last one, loads the
/// current snapshot and removes leftover files. `options` may be NULL (the
/// defaults). On success writes a new handle to `*out` and, if `report` is
/// not NULL, what recovery found to `*report` (also available later from
/// polyraft_durable_storage_recovery_report).
///
/// A new storage is empty: create a node over it and call
/// polyraft_node_bootstrap (or give it a configuration first with
/// polyraft_durable_storage_bootstrap_conf_state). A recovered one is
/// restarted from: create the node with config->applied set to the
/// report's snapshot_index (after restoring the state machine from
/// polyraft_durable_storage_snapshot); the committed entries after it come
/// out again in the node's Readies.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (empty or
/// non-UTF-8 path), POLYRAFT_IO_ERROR (the directory cannot be created or
/// read, a file cannot be opened...), POLYRAFT_CORRUPT (damage recovery must
/// not repair: the damaged files are left as they are, for inspection).
/// On failure, when `error` is not NULL, writes to `*error` a new buffer
/// holding the one-line reason (an operating-system failure ends with its
/// errno: "... (os error 13)"); free it with polyraft_buffer_free. On
/// success NULL is written there.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_open(
    dir: *const c_char,
    options: *const polyraft_durable_options,
    out: *mut *mut polyraft_durable_storage,
    report: *mut polyraft_recovery_report,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(dir);
        let path = path_from(CStr::from_ptr(dir).to_bytes())?;
        open_at(path, options, out, report)
    })
}

/// Like polyraft_durable_storage_open, with the directory given as
/// `dir_len` bytes of UTF-8 at `dir` (no NUL needed, none allowed).
/// Errors: as polyraft_durable_storage_open.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_open_len(
    dir: *const u8,
    dir_len: usize,
    options: *const polyraft_durable_options,
    out: *mut *mut polyraft_durable_storage,
    report: *mut polyraft_recovery_report,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(dir);
        let path = path_from(slice(dir, dir_len, "dir")?)?;
        open_at(path, options, out, report)
    })
}

/// Writes to `*out` a new handle to the same storage (reference counted).
/// Free each handle with polyraft_durable_storage_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_clone(
    storage: *const polyraft_durable_storage,
    out: *mut *mut polyraft_durable_storage,
) -> polyraft_result {
    with_durable(storage, |s| {
        nn!(out);
        *out = Box::into_raw(Box::new(polyraft_durable_storage {
            ds: s.ds.clone(),
            report: s.report.clone(),
            detail: ErrorSlot::default(),
        }));
        Ok(())
    })
}

/// Frees one handle; the files are closed when the last handle and the
/// last node over the storage are gone (nothing is lost: every write the
/// storage acknowledged as durable already is). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_free(storage: *mut polyraft_durable_storage) {
    if !storage.is_null() {
        let _ = catch(|| drop(Box::from_raw(storage)));
    }
}

/// Writes what the open of this storage found (the same report open gave)
/// to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_recovery_report(
    storage: *const polyraft_durable_storage,
    out: *mut polyraft_recovery_report,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(out);
        *out = report_to_c(&h.report);
        Ok(())
    })
}

/// Copies why open cut a tail off the last segment ("checksum mismatch",
/// an incomplete record...) into `buf` (truncated to fit, NUL-terminated
/// when len > 0) and the bytes written (without the NUL) into `*written`.
/// Empty when nothing was cut (report.truncated false).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_truncation_reason(
    storage: *const polyraft_durable_storage,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(buf);
        nn!(written);
        let text = h.report.truncated.as_ref().map_or("", |t| t.reason.as_str());
        *written = write_text(text, buf, len);
        Ok(())
    })
}

/// Copies the path of the segment file open cut a tail off into `buf`
/// (as polyraft_durable_storage_truncation_reason). Empty when nothing was
/// cut.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_truncated_segment(
    storage: *const polyraft_durable_storage,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(buf);
        nn!(written);
        let text = h.report.truncated.as_ref().map(|t| t.segment.to_string_lossy().into_owned());
        *written = write_text(text.as_deref().unwrap_or(""), buf, len);
        Ok(())
    })
}

/// Creates a node over a durable storage. The node takes its own reference
/// to the storage: the caller keeps (and eventually frees) its handle and
/// persists each Ready through it (polyraft_durable_storage_persist_ready).
/// The storage's hard state and snapshot configuration become the node's.
/// Over a new (empty) storage, call polyraft_node_bootstrap next; over a
/// recovered one, set config->applied to at least the recovered snapshot's
/// index (the recovery report's snapshot_index).
/// On success writes the node to `*out`; `error`: as in
/// polyraft_node_new_memory.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_CONFIG, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_new_durable(
    config: *const polyraft_config,
    storage: *const polyraft_durable_storage,
    out: *mut *mut polyraft_node,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(config);
        nn!(storage);
        nn!(out);
        let node = new_node(&*config, FfiStorage::Durable((*storage).ds.clone()))?;
        *out = Box::into_raw(node);
        Ok(())
    })
}

/// Gives a new, empty storage its initial configuration (copied) durably,
/// as an empty snapshot at index 0 (etcd's restart-from-a-known-membership
/// path): a node created over it then starts with that configuration
/// without polyraft_node_bootstrap.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_STATE (the storage
/// holds entries, a hard state or a snapshot), POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_bootstrap_conf_state(
    storage: *const polyraft_durable_storage,
    conf_state: *const polyraft_conf_state,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(conf_state);
        let cs = conf_state_from_c(&*conf_state)?;
        let ds = &h.ds;
        let snap = ds.snapshot().map_err(core_fail)?;
        let last = ds.last_index().map_err(core_fail)?;
        if last != 0 || ds.hard_state() != HardState::default() || snap.metadata.is_some() {
            return fail(POLYRAFT_INVALID_STATE, "bootstrap_conf_state on a non-empty storage");
        }
        ds.bootstrap_conf_state(cs).map_err(|e| h.fail(e))
    })
}

/// Persists a Ready (from polyraft_node_ready): its snapshot, entries and
/// hard state, in that order, then one fsync when the Ready's must_sync is
/// set or it carries a snapshot (a Ready that only moves the commit index
/// is written without syncing, etcd's rule). Call it first when handling a
/// Ready, before sending its messages; then restore the state machine from
/// the snapshot if there is one, apply the committed entries and
/// polyraft_node_advance. The Ready is only read: it stays the node's, so
/// this call must not overlap calls on that node.
/// With async storage writes the Ready carries nothing to persist: use
/// polyraft_durable_storage_persist_storage_append on its MsgStorageAppend.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_STATE (a Ready of a
/// node with async storage writes), POLYRAFT_STORAGE_SNAP_OUT_OF_DATE,
/// POLYRAFT_STORAGE_FAILURE (entries that do not follow the log),
/// POLYRAFT_IO_ERROR (do not send the messages: the state is not durable;
/// free the node and the storage and restart from the directory).
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_persist_ready(
    storage: *const polyraft_durable_storage,
    ready: *const polyraft_ready,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(ready);
        let rd = &*ready;
        if rd.async_writes {
            return fail(
                POLYRAFT_INVALID_STATE,
                "the Ready of a node with async storage writes carries nothing to persist: \
                 persist its MsgStorageAppend with polyraft_durable_storage_persist_storage_append",
            );
        }
        h.ds.persist_ready(&rd.rd).map_err(|e| h.fail(e))
    })
}

/// Async storage writes: persists a MsgStorageAppend given as its raftpb
/// encoding (the `bytes` of the polyraft_message a Ready addressed to
/// POLYRAFT_LOCAL_APPEND_THREAD, or a copy of them kept by a storage
/// thread): its snapshot, entries and the hard state its term, vote and
/// commit carry, then one fsync when etcd's MustSync rule asks for it (new
/// entries, a changed term or vote) or a snapshot is present. Deliver the
/// message's responses only after it returns POLYRAFT_OK.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_DECODE, POLYRAFT_INVALID_ARGUMENT
/// (not a MsgStorageAppend), POLYRAFT_STORAGE_SNAP_OUT_OF_DATE,
/// POLYRAFT_STORAGE_FAILURE, POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_persist_storage_append(
    storage: *const polyraft_durable_storage,
    bytes: *const u8,
    len: usize,
) -> polyraft_result {
    with_durable(storage, |h| {
        let m: Message = decode(slice(bytes, len, "bytes")?).map_err(core_fail)?;
        if m.r#type != MessageType::MsgStorageAppend as i32 {
            return fail(
                POLYRAFT_INVALID_ARGUMENT,
                format!("message type {} is not MsgStorageAppend", m.r#type),
            );
        }
        h.ds.persist_storage_append(&m).map_err(|e| h.fail(e))
    })
}

/// Appends `n` entries (copied) durably (fsynced before it returns),
/// overwriting from the first conflicting index, like
/// polyraft_memory_storage_append. Entries already compacted are ignored.
/// `encoded` fields are ignored.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (unknown entry
/// type), POLYRAFT_STORAGE_FAILURE (a gap after the last index, or entries
/// not contiguous; nothing is written), POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_append(
    storage: *const polyraft_durable_storage,
    entries: *const polyraft_entry,
    n: usize,
) -> polyraft_result {
    with_durable(storage, |h| {
        let src = slice(entries, n, "entries")?;
        let mut ents = Vec::with_capacity(src.len());
        for e in src {
            ents.push(entry_from_c(e)?);
        }
        h.ds.append(&ents).map_err(|e| h.fail(e))
    })
}

/// Saves the hard state (copied) durably.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_set_hard_state(
    storage: *const polyraft_durable_storage,
    hs: *const polyraft_hard_state,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(hs);
        h.ds.set_hard_state((*hs).into()).map_err(|e| h.fail(e))
    })
}

/// The saved hard state (zero for NULL).
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_hard_state(storage: *const polyraft_durable_storage) -> polyraft_hard_state {
    if storage.is_null() {
        return polyraft_hard_state::default();
    }
    let h = &*storage;
    catch(|| h.ds.hard_state().into()).unwrap_or_default()
}

/// Replaces the storage's contents with a snapshot received from the
/// leader (copied; `encoded` ignored), durably: the snapshot file is
/// written and fsynced before the log record naming it.
/// polyraft_durable_storage_persist_ready already does this for a Ready's
/// snapshot.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_SNAP_OUT_OF_DATE (the
/// storage already holds a snapshot at least as new), POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_apply_snapshot(
    storage: *const polyraft_durable_storage,
    snapshot: *const polyraft_snapshot,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(snapshot);
        let s = snapshot_from_c(&*snapshot)?;
        h.ds.apply_snapshot(s).map_err(|e| h.fail(e))
    })
}

/// Makes and keeps, durably, a snapshot covering entries up to `index` with
/// the application's state `data` (copied) and the configuration
/// `conf_state` (copied; NULL keeps the previous snapshot's). The log is
/// not compacted: follow with polyraft_durable_storage_compact(index),
/// which also lets old segment files be deleted. `index` must be in
/// (snapshot index, last index] and already applied.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_SNAP_OUT_OF_DATE,
/// POLYRAFT_STORAGE_COMPACTED, POLYRAFT_STORAGE_FAILURE (beyond the last
/// index), POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_create_snapshot(
    storage: *const polyraft_durable_storage,
    index: u64,
    conf_state: *const polyraft_conf_state,
    data: *const u8,
    data_len: usize,
) -> polyraft_result {
    with_durable(storage, |h| {
        let cs = if conf_state.is_null() { None } else { Some(conf_state_from_c(&*conf_state)?) };
        let data = copy_bytes(data, data_len, "data")?;
        h.ds.create_snapshot(index, cs, data).map(|_| ()).map_err(|e| h.fail(e))
    })
}

/// Discards the entries before `compact_index` and deletes the oldest
/// segment files once every entry they hold is at or below both
/// `compact_index` and the current snapshot (so snapshot first). Never
/// compact beyond the applied index. Syncs only when it deletes files.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_COMPACTED (already
/// compacted that far), POLYRAFT_STORAGE_FAILURE (beyond the last index),
/// POLYRAFT_IO_ERROR.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_compact(
    storage: *const polyraft_durable_storage,
    compact_index: u64,
) -> polyraft_result {
    with_durable(storage, |h| {
        h.ds.compact(compact_index).map_err(|e| h.fail(e))
    })
}

/// Writes the index of the first readable entry to `*out` (snapshot index + 1).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_first_index(
    storage: *const polyraft_durable_storage,
    out: *mut u64,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(out);
        *out = h.ds.first_index().map_err(core_fail)?;
        Ok(())
    })
}

/// Writes the index of the last entry to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_last_index(
    storage: *const polyraft_durable_storage,
    out: *mut u64,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(out);
        *out = h.ds.last_index().map_err(core_fail)?;
        Ok(())
    })
}

/// Writes the term of entry `index` to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_COMPACTED,
/// POLYRAFT_STORAGE_UNAVAILABLE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_term(
    storage: *const polyraft_durable_storage,
    index: u64,
    out: *mut u64,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(out);
        *out = h.ds.term(index).map_err(core_fail)?;
        Ok(())
    })
}

/// Writes a new owned copy of `s` to `*out` (checked by the caller).
pub(crate) unsafe fn owned_snapshot(s: &polyraft::raftpb::Snapshot, out: *mut *mut polyraft_owned_snapshot) {
    let mut arena = Arena::default();
    let view = arena.snapshot(s);
    *out = Box::into_raw(Box::new(polyraft_owned_snapshot { view, _arena: arena }));
}

/// A copy of a snapshot owned by the caller (from
/// polyraft_memory_storage_snapshot or polyraft_durable_storage_snapshot):
/// read it through
/// polyraft_owned_snapshot_view, free it with polyraft_owned_snapshot_free.
/// Immutable, so it may be read from any thread.
pub struct polyraft_owned_snapshot {
    view: *const polyraft_snapshot,
    _arena: Arena,
}

/// Writes to `*out` a copy of the storage's current snapshot (index 0 and
/// no data when it has none): after a restart, the application restores
/// its state machine from its data. Free it with polyraft_owned_snapshot_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_snapshot(
    storage: *const polyraft_durable_storage,
    out: *mut *mut polyraft_owned_snapshot,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(out);
        let s = h.ds.snapshot().map_err(core_fail)?;
        owned_snapshot(&s, out);
        Ok(())
    })
}

/// A view of the snapshot (index, term, configuration, data and its raftpb
/// encoding), valid until polyraft_owned_snapshot_free. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_owned_snapshot_view(snapshot: *const polyraft_owned_snapshot) -> *const polyraft_snapshot {
    if snapshot.is_null() {
        return std::ptr::null();
    }
    (*snapshot).view
}

/// Frees a snapshot copy and its view. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn polyraft_owned_snapshot_free(snapshot: *mut polyraft_owned_snapshot) {
    if !snapshot.is_null() {
        let _ = catch(|| drop(Box::from_raw(snapshot)));
    }
}

/// Disk work counters of a durable storage since it was opened.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_durable_stats {
    /// Every fsync/fdatasync issued, files and directories alike.
    pub fsyncs: u64,
    /// The directory fsyncs among them (file creation and deletion).
    pub dir_fsyncs: u64,
    /// Bytes written to segment and snapshot files.
    pub bytes_written: u64,
    /// Readies and MsgStorageAppend messages persisted (fsyncs / readies is
    /// the fsyncs per Ready).
    pub readies: u64,
    /// Segment files created.
    pub segments_created: u64,
    /// Segment files deleted by compaction.
    pub segments_deleted: u64,
    /// Segment files now in the directory.
    pub segments: u64,
}

/// The storage's disk work counters (zero for NULL).
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_stats(storage: *const polyraft_durable_storage) -> polyraft_durable_stats {
    if storage.is_null() {
        return polyraft_durable_stats::default();
    }
    let ds = &(*storage).ds;
    catch(|| {
        let s = ds.stats();
        polyraft_durable_stats {
            fsyncs: s.fsyncs,
            dir_fsyncs: s.dir_fsyncs,
            bytes_written: s.bytes_written,
            readies: s.readies,
            segments_created: s.segments_created,
            segments_deleted: s.segments_deleted,
            segments: ds.segment_count() as u64,
        }
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside a durable storage call becomes POLYRAFT_PANIC with
    /// its text as the handle's detail, and prints nothing; the next
    /// success clears it.
    #[test]
    fn panic_is_reported_with_detail() {
        let dir = std::env::temp_dir().join(format!("polyraft-ffi-panic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        unsafe {
            let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
            let mut h = std::ptr::null_mut();
            let mut err = std::ptr::null_mut();
            let rc = polyraft_durable_storage_open(path.as_ptr(), std::ptr::null(), &mut h, std::ptr::null_mut(), &mut err);
            assert_eq!(rc, POLYRAFT_OK);
            assert!(err.is_null());
            let r = with_durable(h, |_| panic!("disk on fire"));
            assert_eq!(r, POLYRAFT_PANIC);
            let text = |h| {
                let mut buf = [0 as c_char; 128];
                let mut n = 0usize;
                assert_eq!(polyraft_durable_storage_last_error(h, buf.as_mut_ptr(), buf.len(), &mut n), POLYRAFT_OK);
                CStr::from_ptr(buf.as_ptr()).to_str().unwrap().to_string()
            };
            assert_eq!(text(h), "panic: disk on fire");
            assert_eq!(with_durable(h, |_| Ok(())), POLYRAFT_OK);
            assert_eq!(text(h), "");
            polyraft_durable_storage_free(h);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Every durable storage error has its code (the refusal after an
    /// earlier I/O error is an I/O error too).
    #[test]
    fn error_codes() {
        let io = WalError::Io { op: "fsync", path: "d/x.wal".into(), source: std::io::Error::other("EIO").into() };
        assert_eq!(wal_fail(io.clone()), (POLYRAFT_IO_ERROR, "fsync d/x.wal: EIO".to_string()));
        assert_eq!(wal_fail(WalError::Failed(Box::new(io.clone()))).0, POLYRAFT_IO_ERROR);
        let bad = WalError::Corrupt { file: "d/x.wal".into(), offset: 9, reason: "checksum mismatch".into() };
        assert_eq!(wal_fail(bad).0, POLYRAFT_CORRUPT);
        assert_eq!(wal_fail(WalError::Raft(polyraft::Error::Compacted)).0, POLYRAFT_STORAGE_COMPACTED);
        assert_eq!(wal_fail(WalError::Raft(polyraft::Error::SnapOutOfDate)).0, POLYRAFT_STORAGE_SNAP_OUT_OF_DATE);
    }
}
