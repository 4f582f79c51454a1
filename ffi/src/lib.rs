//! The C ABI of polyraft (`libpolyraft.so`, `libpolyraft.a`,
//! `include/polyraft.h`).
//!
//! Conventions follow rustls-ffi: a `polyraft_` prefix, opaque handles, one
//! result enum, null checks and a panic boundary on every export, outputs
//! written only on success. The header is generated from this crate by
//! cbindgen (see build.rs); every doc comment on an export is copied there.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

mod durable;
mod encode;
mod host;
mod node;
mod compat;
mod peek;
mod reads;
mod ready;
mod storage;
mod types;

pub use durable::*;
pub use encode::*;
pub use host::*;
pub use node::*;
pub use compat::*;
pub use peek::*;
pub use reads::*;
pub use ready::*;
pub use storage::*;
pub use types::*;

/// `uintptr_t` from stdint.h (the alias itself is not emitted).
pub type uintptr_t = usize;

/// Every outcome of a polyraft call. POLYRAFT_OK is 0; every other value is
/// an error. polyraft_result_str gives a static description of each.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_result {
    /// Success.
    POLYRAFT_OK = 0,
    /// A required pointer argument was NULL (or a non-empty array was NULL).
    POLYRAFT_NULL_PARAMETER = 1,
    /// The library panicked (a bug). The node involved is poisoned.
    POLYRAFT_PANIC = 2,
    /// The node panicked earlier and refuses all work; free it.
    POLYRAFT_POISONED = 3,
    /// An argument has a value out of its documented range (an unknown
    /// enum value, an index of 0 where one is required...).
    POLYRAFT_INVALID_ARGUMENT = 4,
    /// polyraft_config failed validation; see polyraft_last_new_error.
    POLYRAFT_INVALID_CONFIG = 5,
    /// The call is not allowed in the node's current state: polyraft_node_ready
    /// while a Ready is outstanding, polyraft_node_advance without a Ready or
    /// with async storage writes, bootstrap of a non-empty storage...
    POLYRAFT_INVALID_STATE = 6,
    /// Bytes that are not a valid raftpb encoding (or an invalid message).
    POLYRAFT_DECODE = 7,
    /// The vtable's abi_version is not POLYRAFT_STORAGE_ABI_VERSION.
    POLYRAFT_ABI_MISMATCH = 8,
    /// The proposal was dropped (no leader, leadership transfer, size
    /// limit...); the caller may retry later.
    POLYRAFT_PROPOSAL_DROPPED = 10,
    /// polyraft_node_step was given a local message type (MsgHup, MsgBeat,
    /// MsgStorage*...) as if it came from a peer.
    POLYRAFT_STEP_LOCAL_MSG = 11,
    /// polyraft_node_step was given a response from a peer the node does not
    /// track.
    POLYRAFT_STEP_PEER_NOT_FOUND = 12,
    /// A configuration change was invalid or could not be applied; the
    /// configuration is unchanged.
    POLYRAFT_CONF_CHANGE = 13,
    /// The node hit an unrecoverable failure (a storage failure, or a peer
    /// violating an invariant): it refuses all further work. etcd panics
    /// here; polyraft reports it. Free the node and restart it from storage.
    POLYRAFT_FATAL = 14,
    /// Storage: the requested index is below the first index (compacted).
    POLYRAFT_STORAGE_COMPACTED = 20,
    /// Storage: the snapshot offered is older than the one held.
    POLYRAFT_STORAGE_SNAP_OUT_OF_DATE = 21,
    /// Storage: the requested entry does not exist (yet).
    POLYRAFT_STORAGE_UNAVAILABLE = 22,
    /// Storage: no snapshot can be produced right now; raft retries later.
    POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE = 23,
    /// Storage: any other failure (I/O error, inconsistent data, an
    /// out-of-range request). It makes the node fail (POLYRAFT_FATAL later).
    POLYRAFT_STORAGE_FAILURE = 24,
    /// Durable storage: an operating system call (create, open, write,
    /// fsync, rename...) failed, now or earlier: after one, what reached the
    /// disk is unknown and the storage refuses every write with this code
    /// until it is freed and reopened. Detail (the call, the file, the OS
    /// error) in polyraft_durable_storage_last_error.
    POLYRAFT_IO_ERROR = 30,
    /// Durable storage: data on disk that recovery must not drop (a bad
    /// record in a closed segment, a damaged record a later fsync vouched
    /// for, a missing segment or snapshot...), left as it is; detail
    /// (file, offset, reason) in polyraft_durable_storage_last_error.
    POLYRAFT_CORRUPT = 31,
    /// Host: the operation was rejected and certainly not applied (no
    /// leader, the group is not running here, raft dropped it...); it may be
    /// retried. Detail in polyraft_host_last_error or the outcome.
    POLYRAFT_REJECTED = 40,
    /// Host: the deadline passed before the outcome was known; a proposal
    /// may or may not be applied (retry it in a session to apply it once).
    POLYRAFT_TIMED_OUT = 41,
    /// Host: the host is closed; nothing was done.
    POLYRAFT_CLOSED = 42,
}

pub(crate) use polyraft_result::*;

/// A failure inside an export: its code and the detail text.
pub(crate) type Fail = (polyraft_result, String);

pub(crate) fn fail<T>(code: polyraft_result, msg: impl Into<String>) -> Result<T, Fail> {
    Err((code, msg.into()))
}

/// Maps a core error to its result code.
pub(crate) fn code_of(e: &polyraft::Error) -> polyraft_result {
    use polyraft::Error as E;
    match e {
        E::ProposalDropped => POLYRAFT_PROPOSAL_DROPPED,
        E::StepLocalMsg => POLYRAFT_STEP_LOCAL_MSG,
        E::StepPeerNotFound => POLYRAFT_STEP_PEER_NOT_FOUND,
        E::Compacted => POLYRAFT_STORAGE_COMPACTED,
        E::SnapOutOfDate => POLYRAFT_STORAGE_SNAP_OUT_OF_DATE,
        E::Unavailable => POLYRAFT_STORAGE_UNAVAILABLE,
        E::SnapshotTemporarilyUnavailable => POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE,
        E::InvalidConfig(_) => POLYRAFT_INVALID_CONFIG,
        E::ConfChange(_) => POLYRAFT_CONF_CHANGE,
        E::Decode(_) => POLYRAFT_DECODE,
        E::Storage(_) => POLYRAFT_STORAGE_FAILURE,
        E::InvalidState(_) => POLYRAFT_INVALID_STATE,
        E::Fatal(_) => POLYRAFT_FATAL,
        E::Io(_) => POLYRAFT_IO_ERROR,
        // `polyraft::Error` is non_exhaustive: a kind added later is a
        // failure until it gets its own code.
        _ => POLYRAFT_FATAL,
    }
}

pub(crate) fn core_fail(e: polyraft::Error) -> Fail {
    (code_of(&e), e.to_string())
}

/// The text of a panic payload.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

/// Runs an export body that touches no node: panics become POLYRAFT_PANIC.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> polyraft_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => POLYRAFT_OK,
        Ok(Err((code, _))) => code,
        Err(_) => POLYRAFT_PANIC,
    }
}

/// Checks a pointer argument.
macro_rules! nn {
    ($p:expr) => {
        if $p.is_null() {
            return Err((crate::POLYRAFT_NULL_PARAMETER, format!("{} is NULL", stringify!($p))));
        }
    };
}
pub(crate) use nn;

/// A borrowed C array; NULL is accepted only with length 0.
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize, what: &str) -> Result<&'a [T], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return fail(POLYRAFT_NULL_PARAMETER, format!("{what} is NULL with length {len}"));
    }
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return fail(POLYRAFT_INVALID_ARGUMENT, format!("{what}: length {len} is too large"));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// Copies a borrowed C byte array.
pub(crate) unsafe fn copy_bytes(p: *const u8, len: usize, what: &str) -> Result<bytes::Bytes, Fail> {
    Ok(bytes::Bytes::copy_from_slice(slice(p, len, what)?))
}

/// Writes `text` into a caller buffer, truncated to fit with a NUL; returns
/// the bytes written without the NUL.
pub(crate) unsafe fn write_text(text: &str, buf: *mut c_char, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let n = text.len().min(len - 1);
    std::ptr::copy_nonoverlapping(text.as_ptr() as *const c_char, buf, n);
    *buf.add(n) = 0;
    n
}

static VERSION: &[u8] = concat!("polyraft ", env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// The library's version as static NUL-terminated text, e.g.
/// "polyraft 0.1.0". Never NULL; never free it.
#[no_mangle]
pub extern "C" fn polyraft_version() -> *const c_char {
    VERSION.as_ptr() as *const c_char
}

/// A static NUL-terminated description of a polyraft_result code (any
/// value; unknown codes give "unknown polyraft_result"). Never NULL; never
/// free it.
#[no_mangle]
pub extern "C" fn polyraft_result_str(code: u32) -> *const c_char {
    let s: &'static [u8] = match code {
        0 => b"ok\0",
        1 => b"a required pointer argument was NULL\0",
        2 => b"the library panicked (a bug); the node is poisoned\0",
        3 => b"the node is poisoned by an earlier panic\0",
        4 => b"an argument is out of its documented range\0",
        5 => b"invalid configuration\0",
        6 => b"call not allowed in the node's current state\0",
        7 => b"malformed raftpb bytes\0",
        8 => b"storage vtable abi_version mismatch\0",
        10 => b"raft proposal dropped\0",
        11 => b"raft: cannot step raft local message\0",
        12 => b"raft: cannot step as peer not found\0",
        13 => b"invalid configuration change\0",
        14 => b"raft node is unusable after a fatal error\0",
        20 => b"requested index is unavailable due to compaction\0",
        21 => b"requested index is older than the existing snapshot\0",
        22 => b"requested entry at index is unavailable\0",
        23 => b"snapshot is temporarily unavailable\0",
        24 => b"storage failure\0",
        30 => b"durable storage I/O error\0",
        31 => b"durable storage data is corrupt\0",
        40 => b"rejected: certainly not applied\0",
        41 => b"timed out: the outcome is unknown\0",
        42 => b"the host is closed\0",
        _ => b"unknown polyraft_result\0",
    };
    s.as_ptr() as *const c_char
}

/// An owned byte buffer produced by the library (the encode helpers).
/// Read it with polyraft_buffer_data; release it with polyraft_buffer_free.
pub struct polyraft_buffer {
    pub(crate) data: Vec<u8>,
}

pub(crate) fn new_buffer(data: Vec<u8>, out: *mut *mut polyraft_buffer) {
    // SAFETY: callers checked `out`.
    unsafe { *out = Box::into_raw(Box::new(polyraft_buffer { data })) };
}

/// The contents of a buffer: `*data` (NULL when empty) and `*len`, valid
/// until polyraft_buffer_free(buf).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_buffer_data(
    buf: *const polyraft_buffer,
    data: *mut *const u8,
    len: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(buf);
        nn!(data);
        nn!(len);
        let b = &*buf;
        *data = if b.data.is_empty() { std::ptr::null() } else { b.data.as_ptr() };
        *len = b.data.len();
        Ok(())
    })
}

/// Frees a buffer. NULL is a no-op. The buffer must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn polyraft_buffer_free(buf: *mut polyraft_buffer) {
    if !buf.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(buf))));
    }
}
