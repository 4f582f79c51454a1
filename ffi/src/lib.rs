//! The C ABI of polyraft (`libpolyraft.so`, `libpolyraft.a`,
//! `include/polyraft.h`).
//!
//! Conventions follow rustls-ffi: a `polyraft_` prefix, opaque handles, one
//! result enum, null checks and a panic boundary on every export, outputs
//! written only on success. The header is generated from this crate by
//! cbindgen (see build.rs); every doc comment on an export is copied there.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use std::cell::Cell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, Once};

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

/// Every outcome of a polyraft call. POLYRAFT_OK is 0; every other value is
/// an error. polyraft_result_name gives each one's name ("POLYRAFT_OK"),
/// polyraft_result_str a static description. A real C enum: a `switch` on
/// it is checked by -Wswitch.
#[repr(C)]
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
    /// polyraft_config failed validation; the reason comes in the
    /// constructor's `error` buffer.
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
    /// error) in polyraft_durable_storage_last_error, the errno in
    /// polyraft_durable_storage_last_errno (and polyraft_node_last_errno).
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

/// Maps a core error to its result code: the core names the kind
/// (`Error::code_name`), the one table below gives its code.
pub(crate) fn code_of(e: &polyraft::Error) -> polyraft_result {
    let name = e.code_name();
    RESULT_TEXTS
        .iter()
        .find(|(_, n, _)| n.strip_suffix('\0') == Some(name))
        // A kind without a code (none today) is a failure.
        .map_or(POLYRAFT_FATAL, |e| e.0)
}

pub(crate) fn core_fail(e: polyraft::Error) -> Fail {
    (code_of(&e), e.to_string())
}

/// The errno a core error keeps (0 when it did not come from the
/// operating system).
pub(crate) fn errno_of(e: &polyraft::Error) -> i32 {
    match e {
        polyraft::Error::Io(io) => io.raw_os_error().unwrap_or(0),
        _ => 0,
    }
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

/// A handle's error detail: the one-line text and the errno of its last
/// call (empty and 0 when that call succeeded). Each handle has its own, so
/// any thread can read it after the call (no thread-local state); calls
/// that overlap on one handle share it.
#[derive(Default)]
pub(crate) struct ErrorSlot {
    inner: Mutex<(String, i32)>,
}

impl ErrorSlot {
    /// Records a call's outcome.
    pub(crate) fn set(&self, text: &str, errno: i32) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0.clear();
        // One line, whatever the text (a panic message may hold newlines).
        g.0.extend(text.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }));
        g.1 = errno;
    }

    /// Records the errno of the failure being reported (the text comes from
    /// the call's result).
    pub(crate) fn set_errno(&self, errno: i32) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1 = errno;
    }

    fn errno(&self) -> i32 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Copies the text into a caller buffer (see write_text).
    pub(crate) unsafe fn copy_to(&self, buf: *mut c_char, len: usize) -> usize {
        write_text(&self.inner.lock().unwrap_or_else(|p| p.into_inner()).0, buf, len)
    }

    /// Appends the text to `out`.
    pub(crate) fn copy_text(&self, out: &mut String) {
        out.push_str(&self.inner.lock().unwrap_or_else(|p| p.into_inner()).0);
    }

    pub(crate) fn last_errno(&self) -> i32 {
        self.errno()
    }
}

thread_local! {
    /// How many panic boundaries the thread is inside: a panic there is
    /// caught and reported, so the hook must not print it. (Not error
    /// state: nothing is read back from it.)
    static IN_BOUNDARY: Cell<u32> = const { Cell::new(0) };
}

/// Installs, once per process, a panic hook that stays silent for panics
/// inside the library's boundary (they are caught and reported through the
/// result, the handle's detail and the node's logger) and hands every other
/// panic to the hook that was there before.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_BOUNDARY.with(|c| c.get()) == 0 {
                prev(info);
            }
        }));
    });
}

/// Runs `f` with panics silenced (see quiet_panics) and caught.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    quiet_panics();
    IN_BOUNDARY.with(|c| c.set(c.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_BOUNDARY.with(|c| c.set(c.get() - 1));
    r
}

/// The panic boundary of every export: runs `f`, turns a panic into
/// POLYRAFT_PANIC, and records the outcome's detail in `slot` (the
/// handle's, when the call has one; its errno is whatever `f` set).
pub(crate) fn boundary(slot: Option<&ErrorSlot>, f: impl FnOnce() -> Result<(), Fail>) -> polyraft_result {
    if let Some(s) = slot {
        s.set("", 0);
    }
    let (code, text) = match catch(f) {
        Ok(Ok(())) => return POLYRAFT_OK,
        Ok(Err((code, msg))) => (code, msg),
        Err(p) => (POLYRAFT_PANIC, panic_text(&*p)),
    };
    if let Some(s) = slot {
        let errno = s.errno();
        s.set(&text, errno);
    }
    code
}

/// Runs an export body that touches no handle: panics become POLYRAFT_PANIC.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> polyraft_result {
    boundary(None, f)
}

/// Runs a constructor's body: the detail of a failure goes to `*error` as a
/// new buffer when `error` is not NULL (NULL written there on success).
pub(crate) unsafe fn construct(error: *mut *mut polyraft_buffer, f: impl FnOnce() -> Result<(), Fail>) -> polyraft_result {
    let slot = ErrorSlot::default();
    let code = boundary(Some(&slot), f);
    if !error.is_null() {
        if code == POLYRAFT_OK {
            *error = std::ptr::null_mut();
        } else {
            let text = std::mem::take(&mut slot.inner.lock().unwrap_or_else(|p| p.into_inner()).0);
            new_buffer(text.into_bytes(), error);
        }
    }
    code
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

/// Deprecated (0.1 API): constructors now hand the detail of a failure
/// out through their `error` argument, and the library keeps no per-thread
/// state to read it back from. Writes an empty string (`*written` = 0) so
/// that 0.1 programs still build and run.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_last_new_error(buf: *mut c_char, len: usize, written: *mut usize) -> polyraft_result {
    guard(|| {
        nn!(buf);
        nn!(written);
        *written = write_text("", buf, len);
        Ok(())
    })
}

static VERSION: &[u8] = concat!("polyraft ", env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// The library's version as static NUL-terminated text, e.g.
/// "polyraft 0.1.0". Never NULL; never free it.
#[no_mangle]
pub extern "C" fn polyraft_version() -> *const c_char {
    VERSION.as_ptr() as *const c_char
}

/// The library's version as a number, MAJOR * 1000000 + MINOR * 1000 +
/// PATCH: compare it with POLYRAFT_VERSION_NUMBER (the header's) to check
/// that the library linked at run time is the one compiled against.
#[no_mangle]
pub extern "C" fn polyraft_version_number() -> u32 {
    fn part(s: &str) -> u32 {
        s.parse().unwrap_or(0)
    }
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

/// The one table of every result code's name and description.
/// `result_listed` is an exhaustive match on the same list: a code added to
/// the enum and missing here does not compile.
macro_rules! result_texts {
    ($($code:ident => $desc:literal,)*) => {
        const RESULT_TEXTS: &[(polyraft_result, &str, &str)] =
            &[$(($code, concat!(stringify!($code), "\0"), concat!($desc, "\0")),)*];

        #[allow(dead_code)]
        const fn result_listed(r: polyraft_result) -> bool {
            match r {
                $($code)|* => true,
            }
        }
    };
}

result_texts! {
    POLYRAFT_OK => "ok",
    POLYRAFT_NULL_PARAMETER => "a required pointer argument was NULL",
    POLYRAFT_PANIC => "the library panicked (a bug)",
    POLYRAFT_POISONED => "the node is poisoned by an earlier panic",
    POLYRAFT_INVALID_ARGUMENT => "an argument is out of its documented range",
    POLYRAFT_INVALID_CONFIG => "invalid configuration",
    POLYRAFT_INVALID_STATE => "call not allowed in the node's current state",
    POLYRAFT_DECODE => "malformed raftpb bytes",
    POLYRAFT_ABI_MISMATCH => "storage vtable abi_version mismatch",
    POLYRAFT_PROPOSAL_DROPPED => "raft proposal dropped",
    POLYRAFT_STEP_LOCAL_MSG => "raft: cannot step raft local message",
    POLYRAFT_STEP_PEER_NOT_FOUND => "raft: cannot step as peer not found",
    POLYRAFT_CONF_CHANGE => "invalid configuration change",
    POLYRAFT_FATAL => "raft node is unusable after a fatal error",
    POLYRAFT_STORAGE_COMPACTED => "requested index is unavailable due to compaction",
    POLYRAFT_STORAGE_SNAP_OUT_OF_DATE => "requested index is older than the existing snapshot",
    POLYRAFT_STORAGE_UNAVAILABLE => "requested entry at index is unavailable",
    POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE => "snapshot is temporarily unavailable",
    POLYRAFT_STORAGE_FAILURE => "storage failure",
    POLYRAFT_IO_ERROR => "durable storage I/O error",
    POLYRAFT_CORRUPT => "durable storage data is corrupt",
    POLYRAFT_REJECTED => "rejected: certainly not applied",
    POLYRAFT_TIMED_OUT => "timed out: the outcome is unknown",
    POLYRAFT_CLOSED => "the host is closed",
}

#[cfg(test)]
mod result_tests {
    use super::*;

    /// Every kind the core names has its code in the table.
    #[test]
    fn every_core_kind_has_a_code() {
        use polyraft::Error as E;
        let io = polyraft::IoError::new("fsync x", std::io::Error::from_raw_os_error(5));
        let kinds = [
            (E::ProposalDropped, POLYRAFT_PROPOSAL_DROPPED),
            (E::StepLocalMsg, POLYRAFT_STEP_LOCAL_MSG),
            (E::StepPeerNotFound, POLYRAFT_STEP_PEER_NOT_FOUND),
            (E::Compacted, POLYRAFT_STORAGE_COMPACTED),
            (E::SnapOutOfDate, POLYRAFT_STORAGE_SNAP_OUT_OF_DATE),
            (E::Unavailable, POLYRAFT_STORAGE_UNAVAILABLE),
            (E::SnapshotTemporarilyUnavailable, POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE),
            (E::InvalidConfig(String::new()), POLYRAFT_INVALID_CONFIG),
            (E::ConfChange(String::new()), POLYRAFT_CONF_CHANGE),
            (E::Decode(String::new()), POLYRAFT_DECODE),
            (E::Storage(String::new()), POLYRAFT_STORAGE_FAILURE),
            (E::Io(io), POLYRAFT_IO_ERROR),
            (E::InvalidState(String::new()), POLYRAFT_INVALID_STATE),
            (E::Fatal(String::new()), POLYRAFT_FATAL),
        ];
        for (e, code) in kinds {
            assert_eq!(code_of(&e), code, "{e:?}");
        }
        assert!(RESULT_TEXTS.iter().all(|(c, _, _)| result_listed(*c)));
    }
}

fn result_entry(code: u32) -> Option<&'static (polyraft_result, &'static str, &'static str)> {
    RESULT_TEXTS.iter().find(|(c, _, _)| *c as u32 == code)
}

/// A static NUL-terminated description of a polyraft_result code (any
/// value; unknown codes give "unknown polyraft_result"). Never NULL; never
/// free it.
#[no_mangle]
pub extern "C" fn polyraft_result_str(code: u32) -> *const c_char {
    result_entry(code).map_or("unknown polyraft_result\0", |e| e.2).as_ptr() as *const c_char
}

/// The static NUL-terminated name of a polyraft_result code, e.g.
/// "POLYRAFT_IO_ERROR" (any value; unknown codes give NULL). Never free it.
#[no_mangle]
pub extern "C" fn polyraft_result_name(code: u32) -> *const c_char {
    result_entry(code).map_or(std::ptr::null(), |e| e.1.as_ptr() as *const c_char)
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
        let _ = catch(|| drop(Box::from_raw(buf)));
    }
}
