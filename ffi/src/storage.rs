//! Storage for a node: the built-in memory storage, or the caller's own
//! through a versioned vtable whose callbacks hand data over through sinks.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};

use polyraft::raftpb::{entry_size, ConfState, Entry, HardState, Snapshot};
use polyraft::{Error, MemoryStorage, Storage};

use crate::durable::{owned_snapshot, polyraft_owned_snapshot};
use crate::types::*;
use crate::*;

/// An in-memory raft log (etcd's MemoryStorage), shared by reference
/// counting: the application appends to it through its handle while a node
/// created over it reads it through its own reference. Each handle
/// (from polyraft_memory_storage_new or _clone) is freed with
/// polyraft_memory_storage_free; the storage lives until the last handle and
/// the last node using it are freed. Handles may be used from any thread:
/// the storage locks internally.
pub struct polyraft_memory_storage {
    pub(crate) ms: MemoryStorage,
    /// This handle's error detail (polyraft_memory_storage_last_error).
    detail: ErrorSlot,
}

impl polyraft_memory_storage {
    fn new(ms: MemoryStorage) -> *mut polyraft_memory_storage {
        Box::into_raw(Box::new(polyraft_memory_storage { ms, detail: ErrorSlot::default() }))
    }
}

fn ms_fail(e: Error) -> Fail {
    core_fail(e)
}

/// Runs the body of a polyraft_memory_storage_* export on a handle: null
/// check, the panic boundary, and the handle's detail.
pub(crate) unsafe fn with_memory(
    storage: *const polyraft_memory_storage,
    f: impl FnOnce(&polyraft_memory_storage) -> Result<(), Fail>,
) -> polyraft_result {
    if storage.is_null() {
        return POLYRAFT_NULL_PARAMETER;
    }
    let h = &*storage;
    boundary(Some(&h.detail), || f(h))
}

/// Copies the one-line detail of the last call on this handle into `buf`
/// (truncated to fit, NUL-terminated when len > 0) and the bytes written
/// (without the NUL) into `*written`; empty when that call succeeded. Any
/// thread may read it once the call returned.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_last_error(
    storage: *const polyraft_memory_storage,
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

/// Creates an empty memory storage (no entries, empty snapshot, zero hard
/// state) and writes a new handle to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_new(out: *mut *mut polyraft_memory_storage) -> polyraft_result {
    guard(|| {
        nn!(out);
        *out = polyraft_memory_storage::new(MemoryStorage::new());
        Ok(())
    })
}

/// Writes to `*out` a new handle to the same storage (reference counted).
/// Free each handle with polyraft_memory_storage_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_clone(
    storage: *const polyraft_memory_storage,
    out: *mut *mut polyraft_memory_storage,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(out);
        *out = polyraft_memory_storage::new(h.ms.clone());
        Ok(())
    })
}

/// Frees one handle. Nodes created over the storage keep their own
/// reference. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_free(storage: *mut polyraft_memory_storage) {
    if !storage.is_null() {
        let _ = catch(|| drop(Box::from_raw(storage)));
    }
}

/// Appends `n` entries (copied), overwriting from the first conflicting
/// index: typically the entries of a Ready (polyraft_ready_entries) or of a
/// MsgStorageAppend. Their indexes must increase by one from entry to
/// entry and the first must be at most last_index + 1; ones already
/// compacted are ignored. `encoded` fields are ignored. A refused batch
/// leaves the storage unchanged (as polyraft_durable_storage_append).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (unknown entry
/// type), POLYRAFT_STORAGE_FAILURE (a gap after the last index, or entries
/// not contiguous: a gap, a repeat or a step back inside the batch).
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_append(
    storage: *const polyraft_memory_storage,
    entries: *const polyraft_entry,
    n: usize,
) -> polyraft_result {
    with_memory(storage, |h| {
        let mut ents = Vec::with_capacity(n);
        for e in slice(entries, n, "entries")? {
            ents.push(entry_from_c(e)?);
        }
        h.ms.append(&ents).map_err(ms_fail)
    })
}

/// Saves the hard state (copied).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_set_hard_state(
    storage: *const polyraft_memory_storage,
    hs: *const polyraft_hard_state,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(hs);
        h.ms.set_hard_state((*hs).into());
        Ok(())
    })
}

/// The saved hard state (zero for NULL).
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_hard_state(storage: *const polyraft_memory_storage) -> polyraft_hard_state {
    if storage.is_null() {
        return polyraft_hard_state::default();
    }
    let h = &*storage;
    catch(|| h.ms.hard_state().into()).unwrap_or_default()
}

/// Replaces the storage's contents with a snapshot received from the leader
/// (typically polyraft_ready_snapshot's view; its `encoded` field is
/// ignored, everything else is copied).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_SNAP_OUT_OF_DATE (the
/// storage already holds a snapshot at least as new).
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_apply_snapshot(
    storage: *const polyraft_memory_storage,
    snapshot: *const polyraft_snapshot,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(snapshot);
        let s = snapshot_from_c(&*snapshot)?;
        h.ms.apply_snapshot(s).map_err(ms_fail)
    })
}

/// Makes and keeps a snapshot covering entries up to `index` with the
/// application's state `data` (copied) and the configuration `conf_state`
/// (copied; NULL keeps the previous snapshot's configuration). Applications
/// then usually polyraft_memory_storage_compact. `index` must be in
/// (snapshot index, last index] and already applied.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_SNAP_OUT_OF_DATE,
/// POLYRAFT_STORAGE_COMPACTED, POLYRAFT_STORAGE_FAILURE (beyond the last index).
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_create_snapshot(
    storage: *const polyraft_memory_storage,
    index: u64,
    conf_state: *const polyraft_conf_state,
    data: *const u8,
    data_len: usize,
) -> polyraft_result {
    with_memory(storage, |h| {
        let cs = if conf_state.is_null() { None } else { Some(conf_state_from_c(&*conf_state)?) };
        let data = copy_bytes(data, data_len, "data")?;
        h.ms.create_snapshot(index, cs, data).map(|_| ()).map_err(ms_fail)
    })
}

/// Discards the entries before `compact_index` (they stay covered by the
/// snapshot). Never compact beyond the applied index.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_COMPACTED (already
/// compacted that far), POLYRAFT_STORAGE_FAILURE (beyond the last index).
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_compact(
    storage: *const polyraft_memory_storage,
    compact_index: u64,
) -> polyraft_result {
    with_memory(storage, |h| {
        h.ms.compact(compact_index).map_err(ms_fail)
    })
}

/// Writes the index of the first readable entry to `*out` (snapshot index + 1).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_first_index(
    storage: *const polyraft_memory_storage,
    out: *mut u64,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(out);
        *out = h.ms.first_index().map_err(ms_fail)?;
        Ok(())
    })
}

/// Writes the index of the last entry to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_last_index(
    storage: *const polyraft_memory_storage,
    out: *mut u64,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(out);
        *out = h.ms.last_index().map_err(ms_fail)?;
        Ok(())
    })
}

/// Writes the term of entry `index` to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_COMPACTED,
/// POLYRAFT_STORAGE_UNAVAILABLE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_term(
    storage: *const polyraft_memory_storage,
    index: u64,
    out: *mut u64,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(out);
        *out = h.ms.term(index).map_err(ms_fail)?;
        Ok(())
    })
}

/// Writes to `*out` a copy of the storage's current snapshot (index 0 and
/// no data when it has none), as polyraft_durable_storage_snapshot does:
/// read it with polyraft_owned_snapshot_view (its `encoded` field is the
/// raftpb encoding), free it with polyraft_owned_snapshot_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_snapshot(
    storage: *const polyraft_memory_storage,
    out: *mut *mut polyraft_owned_snapshot,
) -> polyraft_result {
    with_memory(storage, |h| {
        nn!(out);
        let s = h.ms.snapshot().map_err(ms_fail)?;
        owned_snapshot(&s, out);
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The caller's storage.

/// Receives entries from the `entries` storage callback. Valid only during
/// that callback; never keep it.
pub struct polyraft_entry_sink {
    ents: Vec<Entry>,
    next: u64,
    err: Option<String>,
}

/// Receives the snapshot from the `snapshot` storage callback. Valid only
/// during that callback.
pub struct polyraft_snapshot_sink {
    snap: Option<Snapshot>,
}

/// Receives the configuration from the `initial_state` storage callback.
/// Valid only during that callback.
pub struct polyraft_conf_state_sink {
    cs: Option<ConfState>,
}

/// Adds one entry (copied; `encoded` ignored) to the answer of an `entries`
/// callback. Entries must come in order, starting at `lo`, with contiguous
/// indexes.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (wrong index or
/// unknown type; the callback's answer is then refused).
#[no_mangle]
pub unsafe extern "C" fn polyraft_entry_sink_push(
    sink: *mut polyraft_entry_sink,
    entry: *const polyraft_entry,
) -> polyraft_result {
    guard(|| {
        nn!(sink);
        nn!(entry);
        let s = &mut *sink;
        let e = match entry_from_c(&*entry) {
            Ok(e) => e,
            Err(f) => {
                s.err.get_or_insert(f.1.clone());
                return Err(f);
            }
        };
        s.push(e)
    })
}

/// Like polyraft_entry_sink_push, from the entry's raftpb encoding.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_DECODE, POLYRAFT_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn polyraft_entry_sink_push_encoded(
    sink: *mut polyraft_entry_sink,
    bytes: *const u8,
    len: usize,
) -> polyraft_result {
    guard(|| {
        nn!(sink);
        let s = &mut *sink;
        let e: Entry = match slice(bytes, len, "bytes").and_then(|b| polyraft::raftpb::decode(b).map_err(core_fail)) {
            Ok(e) => e,
            Err(f) => {
                s.err.get_or_insert(f.1.clone());
                return Err(f);
            }
        };
        s.push(e)
    })
}

impl polyraft_entry_sink {
    fn push(&mut self, e: Entry) -> Result<(), Fail> {
        if e.index != self.next {
            let msg = format!("entry sink: got index {}, want {}", e.index, self.next);
            self.err.get_or_insert(msg.clone());
            return fail(POLYRAFT_INVALID_ARGUMENT, msg);
        }
        self.next += 1;
        self.ents.push(e);
        Ok(())
    }
}

/// Sets the answer of a `snapshot` callback (copied; `encoded` ignored).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_snapshot_sink_set(
    sink: *mut polyraft_snapshot_sink,
    snapshot: *const polyraft_snapshot,
) -> polyraft_result {
    guard(|| {
        nn!(sink);
        nn!(snapshot);
        (*sink).snap = Some(snapshot_from_c(&*snapshot)?);
        Ok(())
    })
}

/// Sets the answer of a `snapshot` callback from its raftpb encoding.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_DECODE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_snapshot_sink_set_encoded(
    sink: *mut polyraft_snapshot_sink,
    bytes: *const u8,
    len: usize,
) -> polyraft_result {
    guard(|| {
        nn!(sink);
        let s: Snapshot = polyraft::raftpb::decode(slice(bytes, len, "bytes")?).map_err(core_fail)?;
        (*sink).snap = Some(s);
        Ok(())
    })
}

/// Sets the configuration answered by an `initial_state` callback (copied).
/// Not calling it means an empty configuration.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_conf_state_sink_set(
    sink: *mut polyraft_conf_state_sink,
    conf_state: *const polyraft_conf_state,
) -> polyraft_result {
    guard(|| {
        nn!(sink);
        nn!(conf_state);
        (*sink).cs = Some(conf_state_from_c(&*conf_state)?);
        Ok(())
    })
}

/// A storage callback's answer: a polyraft_result value (uint32_t so that any
/// value C returns is well defined). POLYRAFT_OK, or one of the storage
/// codes: POLYRAFT_STORAGE_COMPACTED, POLYRAFT_STORAGE_UNAVAILABLE,
/// POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE, POLYRAFT_STORAGE_FAILURE;
/// any other value counts as POLYRAFT_STORAGE_FAILURE.
pub type polyraft_storage_status = u32;

/// The caller's storage: raft reads its persisted log through these
/// callbacks (etcd's Storage interface). The application writes to its
/// storage on its own (from each Ready) before calling polyraft_node_advance.
///
/// Every callback gets `ctx` first, runs on the thread calling the node,
/// only inside a node call that needs it, and must not call into the same
/// node. Outputs are written through the pointer or sink given, and only
/// read by the library when the callback returns POLYRAFT_OK.
///
/// What raft does with errors: `entries` and `term` may answer
/// POLYRAFT_STORAGE_COMPACTED or POLYRAFT_STORAGE_UNAVAILABLE where etcd
/// allows (the leader then sends a snapshot, the node stays usable);
/// `snapshot` may answer POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE
/// (retried later). Anything else makes the node fail: the node call that
/// needed the data returns the callback's code and every later call
/// returns POLYRAFT_FATAL.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct polyraft_storage_vtable {
    /// Must be POLYRAFT_STORAGE_ABI_VERSION.
    pub abi_version: u32,
    /// Passed back to every callback (the library never dereferences it);
    /// owned by the node once polyraft_node_new_custom returns POLYRAFT_OK.
    pub ctx: *mut c_void,
    /// The saved hard state (write `*hs`, zeroed beforehand) and
    /// configuration (polyraft_conf_state_sink_set; the latest snapshot's
    /// ConfState updated by every applied conf change). Called once, by
    /// polyraft_node_new_custom.
    pub initial_state: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            hs: *mut polyraft_hard_state,
            conf_state: *mut polyraft_conf_state_sink,
        ) -> polyraft_storage_status,
    >,
    /// Entries [lo, hi), pushed in order with polyraft_entry_sink_push (or
    /// _push_encoded). You may stop once their total size passes max_size,
    /// but push at least one; the library trims the answer to etcd's size
    /// rule anyway. lo is at least first_index and hi at most last_index + 1.
    pub entries: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            lo: u64,
            hi: u64,
            max_size: u64,
            sink: *mut polyraft_entry_sink,
        ) -> polyraft_storage_status,
    >,
    /// Term of entry `index` (first_index - 1 <= index <= last_index) into
    /// `*term`; POLYRAFT_STORAGE_COMPACTED below, POLYRAFT_STORAGE_UNAVAILABLE above.
    pub term: Option<unsafe extern "C" fn(ctx: *mut c_void, index: u64, term: *mut u64) -> polyraft_storage_status>,
    /// Index of the first entry still readable (snapshot index + 1) into `*index`.
    pub first_index: Option<unsafe extern "C" fn(ctx: *mut c_void, index: *mut u64) -> polyraft_storage_status>,
    /// Index of the last entry (the snapshot's index when no entry follows it).
    pub last_index: Option<unsafe extern "C" fn(ctx: *mut c_void, index: *mut u64) -> polyraft_storage_status>,
    /// The latest snapshot, through polyraft_snapshot_sink_set (not calling it
    /// means an empty snapshot).
    pub snapshot: Option<
        unsafe extern "C" fn(ctx: *mut c_void, sink: *mut polyraft_snapshot_sink) -> polyraft_storage_status,
    >,
    /// Called exactly once, by polyraft_node_free, to release `ctx`. May be NULL.
    pub destroy: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
}

/// The vtable with its callbacks checked present.
pub(crate) struct VtableStorage {
    vt: polyraft_storage_vtable,
    /// The first failure a callback reported during the current node call
    /// (the core folds storage failures into a fatal error; this keeps the
    /// caller's code).
    pub(crate) err: RefCell<Option<Fail>>,
    /// Whether the node owns ctx (set once creation succeeded): destroy is
    /// called only then.
    pub(crate) armed: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Drop for VtableStorage {
    fn drop(&mut self) {
        if !self.armed.get() {
            return;
        }
        if let Some(d) = self.vt.destroy {
            // SAFETY: the caller's contract: destroy(ctx) releases ctx.
            unsafe { d(self.vt.ctx) };
        }
    }
}

fn status_error(what: &str, code: u32) -> Error {
    match code {
        20 => Error::Compacted,
        21 => Error::SnapOutOfDate,
        22 => Error::Unavailable,
        23 => Error::SnapshotTemporarilyUnavailable,
        24 => Error::Storage(format!("storage callback {what} failed")),
        c => Error::Storage(format!("storage callback {what} returned {c}, not a storage code")),
    }
}

impl VtableStorage {
    pub(crate) unsafe fn new(vt: *const polyraft_storage_vtable) -> Result<VtableStorage, Fail> {
        let version = std::ptr::read(std::ptr::addr_of!((*vt).abi_version));
        if version != POLYRAFT_STORAGE_ABI_VERSION {
            return fail(
                POLYRAFT_ABI_MISMATCH,
                format!("storage vtable abi_version {version}, this library speaks {POLYRAFT_STORAGE_ABI_VERSION}"),
            );
        }
        let vt = *vt;
        if vt.initial_state.is_none()
            || vt.entries.is_none()
            || vt.term.is_none()
            || vt.first_index.is_none()
            || vt.last_index.is_none()
            || vt.snapshot.is_none()
        {
            return fail(POLYRAFT_NULL_PARAMETER, "a required storage callback is NULL");
        }
        Ok(VtableStorage { vt, err: RefCell::new(None), armed: Default::default() })
    }

    /// Records a callback's failure (the first one of a node call) and
    /// converts it for the core.
    fn check(&self, what: &str, code: u32) -> polyraft::Result<()> {
        if code == 0 {
            return Ok(());
        }
        let e = status_error(what, code);
        let c = match code {
            20..=24 => code_of(&e),
            _ => POLYRAFT_STORAGE_FAILURE,
        };
        let mut slot = self.err.borrow_mut();
        if slot.is_none() {
            *slot = Some((c, e.to_string()));
        }
        Err(e)
    }

    /// A failure found in the callback's answer itself.
    fn bad(&self, msg: String) -> Error {
        let mut slot = self.err.borrow_mut();
        if slot.is_none() {
            *slot = Some((POLYRAFT_STORAGE_FAILURE, msg.clone()));
        }
        Error::Storage(msg)
    }
}

impl Storage for VtableStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        let mut hs = polyraft_hard_state::default();
        let mut sink = polyraft_conf_state_sink { cs: None };
        // SAFETY: checked present at construction; pointers are live locals.
        let code = unsafe { (self.vt.initial_state.unwrap())(self.vt.ctx, &mut hs, &mut sink) };
        self.check("initial_state", code)?;
        Ok((hs.into(), sink.cs.unwrap_or_default()))
    }

    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        let mut sink = polyraft_entry_sink { ents: Vec::new(), next: lo, err: None };
        // SAFETY: as above.
        let code = unsafe { (self.vt.entries.unwrap())(self.vt.ctx, lo, hi, max_size, &mut sink) };
        self.check("entries", code)?;
        if let Some(msg) = sink.err {
            return Err(self.bad(msg));
        }
        let mut ents = sink.ents;
        polyraft::storage::check_entries_answer("storage callback entries", lo, hi, &ents).map_err(|m| self.bad(m))?;
        // Enforce the size limit whatever the callback did (at least one).
        let mut size = 0u64;
        let mut keep = 0;
        for e in &ents {
            size = size.saturating_add(entry_size(e));
            if keep > 0 && size > max_size {
                break;
            }
            keep += 1;
        }
        ents.truncate(keep);
        Ok(ents)
    }

    fn term(&self, i: u64) -> polyraft::Result<u64> {
        let mut t = 0;
        // SAFETY: as above.
        let code = unsafe { (self.vt.term.unwrap())(self.vt.ctx, i, &mut t) };
        self.check("term", code)?;
        Ok(t)
    }

    fn last_index(&self) -> polyraft::Result<u64> {
        let mut v = 0;
        // SAFETY: as above.
        let code = unsafe { (self.vt.last_index.unwrap())(self.vt.ctx, &mut v) };
        self.check("last_index", code)?;
        Ok(v)
    }

    fn first_index(&self) -> polyraft::Result<u64> {
        let mut v = 0;
        // SAFETY: as above.
        let code = unsafe { (self.vt.first_index.unwrap())(self.vt.ctx, &mut v) };
        self.check("first_index", code)?;
        Ok(v)
    }

    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        let mut sink = polyraft_snapshot_sink { snap: None };
        // SAFETY: as above.
        let code = unsafe { (self.vt.snapshot.unwrap())(self.vt.ctx, &mut sink) };
        self.check("snapshot", code)?;
        Ok(sink.snap.unwrap_or_default())
    }
}

/// The storage behind a node.
pub(crate) enum FfiStorage {
    Memory(MemoryStorage),
    Custom(VtableStorage),
    Durable(polyraft_wal::DurableStorage),
}

impl FfiStorage {
    pub(crate) fn clear_err(&self) {
        if let FfiStorage::Custom(v) = self {
            v.err.borrow_mut().take();
        }
    }
    pub(crate) fn take_err(&self) -> Option<Fail> {
        match self {
            FfiStorage::Custom(v) => v.err.borrow_mut().take(),
            FfiStorage::Memory(_) | FfiStorage::Durable(_) => None,
        }
    }
}

impl Storage for FfiStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        match self {
            FfiStorage::Memory(s) => s.initial_state(),
            FfiStorage::Custom(s) => s.initial_state(),
            FfiStorage::Durable(s) => s.initial_state(),
        }
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        match self {
            FfiStorage::Memory(s) => s.entries(lo, hi, max_size),
            FfiStorage::Custom(s) => s.entries(lo, hi, max_size),
            FfiStorage::Durable(s) => s.entries(lo, hi, max_size),
        }
    }
    fn term(&self, i: u64) -> polyraft::Result<u64> {
        match self {
            FfiStorage::Memory(s) => s.term(i),
            FfiStorage::Custom(s) => s.term(i),
            FfiStorage::Durable(s) => s.term(i),
        }
    }
    fn last_index(&self) -> polyraft::Result<u64> {
        match self {
            FfiStorage::Memory(s) => s.last_index(),
            FfiStorage::Custom(s) => s.last_index(),
            FfiStorage::Durable(s) => s.last_index(),
        }
    }
    fn first_index(&self) -> polyraft::Result<u64> {
        match self {
            FfiStorage::Memory(s) => s.first_index(),
            FfiStorage::Custom(s) => s.first_index(),
            FfiStorage::Durable(s) => s.first_index(),
        }
    }
    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        match self {
            FfiStorage::Memory(s) => s.snapshot(),
            FfiStorage::Custom(s) => s.snapshot(),
            FfiStorage::Durable(s) => s.snapshot(),
        }
    }
}
