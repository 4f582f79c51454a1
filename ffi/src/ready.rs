//! Ready: what the node asks the application to persist, send and apply,
//! exposed as read-only views owned by the node.

use std::ptr;

use polyraft::Ready;

use crate::node::{polyraft_node, with_node};
use crate::types::*;
use crate::*;

/// One Ready (etcd's Ready), owned by the node that handed it out. All
/// pointers reachable from it stay valid until polyraft_node_advance (or,
/// with async storage writes, the next polyraft_node_ready) or
/// polyraft_node_free. Never free it yourself.
///
/// Handle it in this order: persist the snapshot, entries and hard state
/// (in a durable write when must_sync; polyraft_durable_storage_persist_ready
/// does all of it), send the messages (each message's
/// `bytes` to node `to`), apply the committed entries (calling
/// polyraft_node_apply_conf_change for conf change entries), then
/// polyraft_node_advance.
pub struct polyraft_ready {
    soft_state: Option<polyraft_soft_state>,
    hard_state: Option<polyraft_hard_state>,
    must_sync: bool,
    snapshot: *const polyraft_snapshot,
    entries: (*const polyraft_entry, usize),
    committed: (*const polyraft_entry, usize),
    messages: (*const polyraft_message, usize),
    read_states: (*const polyraft_read_state, usize),
    _arena: Arena,
    /// What polyraft_durable_storage_persist_ready writes: the Ready's
    /// snapshot, entries, hard state and must_sync (the views above share
    /// its byte buffers); the rest is left empty.
    pub(crate) rd: Ready,
    /// Whether the node uses async storage writes (the Ready then carries
    /// nothing to persist).
    pub(crate) async_writes: bool,
}

impl polyraft_ready {
    pub(crate) fn build(rd: Ready, async_writes: bool) -> polyraft_ready {
        let mut a = Arena::default();
        let snapshot = rd.snapshot.as_ref().map_or(ptr::null(), |s| a.snapshot(s));
        let entries = a.entries(&rd.entries);
        let committed = a.entries(&rd.committed_entries);
        let messages = a.messages(&rd.messages);
        let read_states = a.read_states(&rd.read_states);
        polyraft_ready {
            soft_state: rd.soft_state.map(Into::into),
            hard_state: rd.hard_state.map(Into::into),
            must_sync: rd.must_sync,
            snapshot,
            entries,
            committed,
            messages,
            read_states,
            _arena: a,
            rd: Ready {
                entries: rd.entries,
                snapshot: rd.snapshot,
                hard_state: rd.hard_state,
                must_sync: rd.must_sync,
                ..Ready::default()
            },
            async_writes,
        }
    }
}

/// Takes the node's pending work as a Ready and writes a pointer to it
/// (owned by the node) to `*out`. May be called when polyraft_node_has_ready
/// says false (the Ready is then empty). Without async storage writes, each
/// Ready must be followed by polyraft_node_advance before the next one; with
/// async storage writes, each call replaces (and frees) the previous Ready,
/// so copy whatever must outlive it (for example the `bytes` of the
/// responses a storage thread delivers later).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED, POLYRAFT_INVALID_STATE
/// (a Ready is outstanding: advance first), POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_ready(node: *mut polyraft_node, out: *mut *const polyraft_ready) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        if !nd.async_writes && nd.ready_outstanding {
            return fail(POLYRAFT_INVALID_STATE, "a Ready is outstanding: call polyraft_node_advance first");
        }
        nd.alive()?;
        let rd = nd.raw.ready();
        nd.alive()?;
        let holder = Box::new(polyraft_ready::build(rd, nd.async_writes));
        let p: *const polyraft_ready = &*holder;
        nd.ready = Some(holder);
        nd.ready_outstanding = !nd.async_writes;
        *out = p;
        Ok(())
    })
}

/// Writes the Ready's messages (`*n` of them, NULL when none) to `*out`.
/// Send each one's `bytes` to node `to` after persisting this Ready's
/// state. With async storage writes, messages to POLYRAFT_LOCAL_APPEND_THREAD
/// and POLYRAFT_LOCAL_APPLY_THREAD are requests to persist or apply (see
/// polyraft_message).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_messages(
    rd: *const polyraft_ready,
    out: *mut *const polyraft_message,
    n: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        nn!(n);
        (*out, *n) = (*rd).messages;
        Ok(())
    })
}

/// Writes the entries to persist (`*n`, NULL when none) to `*out`. Each
/// carries its fields and its raftpb encoding.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_entries(
    rd: *const polyraft_ready,
    out: *mut *const polyraft_entry,
    n: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        nn!(n);
        (*out, *n) = (*rd).entries;
        Ok(())
    })
}

/// Writes the committed entries to apply (`*n`, NULL when none) to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_committed_entries(
    rd: *const polyraft_ready,
    out: *mut *const polyraft_entry,
    n: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        nn!(n);
        (*out, *n) = (*rd).committed;
        Ok(())
    })
}

/// Writes the confirmed read requests (`*n`, NULL when none) to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_read_states(
    rd: *const polyraft_ready,
    out: *mut *const polyraft_read_state,
    n: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        nn!(n);
        (*out, *n) = (*rd).read_states;
        Ok(())
    })
}

/// Writes whether the Ready has a new hard state to `*present`, and if so
/// the hard state to `*out` (left untouched otherwise).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_hard_state(
    rd: *const polyraft_ready,
    out: *mut polyraft_hard_state,
    present: *mut bool,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        nn!(present);
        *present = (*rd).hard_state.is_some();
        if let Some(h) = (*rd).hard_state {
            *out = h;
        }
        Ok(())
    })
}

/// Writes whether leader or role changed to `*present`, and if so the soft
/// state to `*out` (left untouched otherwise).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_soft_state(
    rd: *const polyraft_ready,
    out: *mut polyraft_soft_state,
    present: *mut bool,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        nn!(present);
        *present = (*rd).soft_state.is_some();
        if let Some(s) = (*rd).soft_state {
            *out = s;
        }
        Ok(())
    })
}

/// Writes the snapshot to persist (and restore the state machine from) to
/// `*out`, or NULL when the Ready has none.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_snapshot(
    rd: *const polyraft_ready,
    out: *mut *const polyraft_snapshot,
) -> polyraft_result {
    guard(|| {
        nn!(rd);
        nn!(out);
        *out = (*rd).snapshot;
        Ok(())
    })
}

/// Whether the hard state and entries must be written durably (fsync)
/// before the messages are sent (false for NULL).
#[no_mangle]
pub unsafe extern "C" fn polyraft_ready_must_sync(rd: *const polyraft_ready) -> bool {
    !rd.is_null() && (*rd).must_sync
}
