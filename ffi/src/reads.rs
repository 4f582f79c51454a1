//! Entry reads on the library's own storages: the log entries of a memory
//! storage and of a durable storage, in one shape for both (an owned copy
//! read through a view, like polyraft_owned_snapshot). With them a caller's
//! storage can wrap a library storage (a Go Storage embedding a
//! MemoryStorage, say) and answer every callback from it.


use polyraft::raftpb::Entry;
use polyraft::Storage;

use crate::durable::{polyraft_durable_storage, with_durable};
use crate::storage::polyraft_memory_storage;
use crate::types::*;
use crate::*;

/// A copy of log entries owned by the caller (from
/// polyraft_memory_storage_entries or polyraft_durable_storage_entries):
/// read it through polyraft_owned_entries_view, free it with
/// polyraft_owned_entries_free. Immutable, so it may be read from any
/// thread.
pub struct polyraft_owned_entries {
    ptr: *const polyraft_entry,
    len: usize,
    _arena: Arena,
}

fn owned_entries(ents: &[Entry], out: *mut *mut polyraft_owned_entries) {
    let mut arena = Arena::default();
    let (ptr, len) = arena.entries(ents);
    // SAFETY: callers checked `out`.
    unsafe { *out = Box::into_raw(Box::new(polyraft_owned_entries { ptr, len, _arena: arena })) };
}

/// Writes to `*out` a copy of the entries in [lo, hi) of a memory storage,
/// limited to `max_size` bytes in total but at least one entry (etcd's
/// Storage.Entries; UINT64_MAX means no limit). Free it with
/// polyraft_owned_entries_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_COMPACTED (lo is at or
/// below the snapshot), POLYRAFT_STORAGE_UNAVAILABLE (hi is past the last
/// index + 1), POLYRAFT_INVALID_ARGUMENT (lo > hi).
#[no_mangle]
pub unsafe extern "C" fn polyraft_memory_storage_entries(
    storage: *const polyraft_memory_storage,
    lo: u64,
    hi: u64,
    max_size: u64,
    out: *mut *mut polyraft_owned_entries,
) -> polyraft_result {
    guard(|| {
        nn!(storage);
        nn!(out);
        if lo > hi {
            return fail(POLYRAFT_INVALID_ARGUMENT, format!("lo {lo} > hi {hi}"));
        }
        let ents = (*storage).ms.entries(lo, hi, max_size).map_err(core_fail)?;
        owned_entries(&ents, out);
        Ok(())
    })
}

/// Writes to `*out` a copy of the entries in [lo, hi) of a durable storage,
/// as polyraft_memory_storage_entries does for a memory storage (the
/// durable storage keeps its log in memory too: no disk read). Details of a
/// failure in polyraft_durable_storage_last_error.
/// Errors: as polyraft_memory_storage_entries.
#[no_mangle]
pub unsafe extern "C" fn polyraft_durable_storage_entries(
    storage: *const polyraft_durable_storage,
    lo: u64,
    hi: u64,
    max_size: u64,
    out: *mut *mut polyraft_owned_entries,
) -> polyraft_result {
    with_durable(storage, |h| {
        nn!(out);
        if lo > hi {
            return fail(POLYRAFT_INVALID_ARGUMENT, format!("lo {lo} > hi {hi}"));
        }
        let ents = h.ds.entries(lo, hi, max_size).map_err(core_fail)?;
        owned_entries(&ents, out);
        Ok(())
    })
}

/// Writes to `*entries` and `*len` a view of the copied entries (NULL and 0
/// when there are none), valid until polyraft_owned_entries_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_owned_entries_view(
    owned: *const polyraft_owned_entries,
    entries: *mut *const polyraft_entry,
    len: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(owned);
        nn!(entries);
        nn!(len);
        *entries = (*owned).ptr;
        *len = (*owned).len;
        Ok(())
    })
}

/// Frees a copy of entries and its view. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn polyraft_owned_entries_free(owned: *mut polyraft_owned_entries) {
    if !owned.is_null() {
        let _ = catch(|| drop(Box::from_raw(owned)));
    }
}
