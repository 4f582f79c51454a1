//! Encode helpers: build raftpb bytes from plain C structs, so C users need
//! no protobuf library. Each writes a new polyraft_buffer to `*out`.

use polyraft::raftpb::{HardState, Snapshot};

use crate::types::*;
use crate::*;

fn encode_to<M: prost::Message>(m: &M, out: *mut *mut polyraft_buffer) {
    new_buffer(m.encode_to_vec(), out);
}

/// Encodes a v1 ConfChange (for polyraft_node_propose_conf_change with
/// POLYRAFT_ENTRY_CONF_CHANGE). Writes a new buffer to `*out`; free it with
/// polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (unknown type).
#[no_mangle]
pub unsafe extern "C" fn polyraft_conf_change_encode(
    cc: *const polyraft_conf_change,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(cc);
        nn!(out);
        let c = conf_change_from_c(&*cc)?;
        encode_to(&c, out);
        Ok(())
    })
}

/// Encodes a ConfChangeV2 (for polyraft_node_propose_conf_change with
/// POLYRAFT_ENTRY_CONF_CHANGE_V2). Writes a new buffer to `*out`; free it
/// with polyraft_buffer_free. An empty change with the AUTO transition
/// encodes to zero bytes (the buffer is then empty).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (unknown type or
/// transition).
#[no_mangle]
pub unsafe extern "C" fn polyraft_conf_change_v2_encode(
    cc: *const polyraft_conf_change_v2,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(cc);
        nn!(out);
        let c = conf_change_v2_from_c(&*cc)?;
        encode_to(&c, out);
        Ok(())
    })
}

/// Encodes an entry (its `encoded` fields are ignored). Writes a new buffer
/// to `*out`; free it with polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn polyraft_entry_encode(
    entry: *const polyraft_entry,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(entry);
        nn!(out);
        let e = entry_from_c(&*entry)?;
        encode_to(&e, out);
        Ok(())
    })
}

/// Encodes a message from its fields, entries and snapshot (`bytes` and
/// `responses` are ignored): the bytes polyraft_node_step accepts. Writes a
/// new buffer to `*out`; free it with polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn polyraft_message_encode(
    msg: *const polyraft_message,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(msg);
        nn!(out);
        let m = message_from_c(&*msg)?;
        encode_to(&m, out);
        Ok(())
    })
}

/// Encodes a hard state (raftpb HardState). Writes a new buffer to `*out`;
/// free it with polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_hard_state_encode(
    hs: *const polyraft_hard_state,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(hs);
        nn!(out);
        let h: HardState = (*hs).into();
        encode_to(&h, out);
        Ok(())
    })
}

/// Encodes a configuration (raftpb ConfState). Writes a new buffer to
/// `*out`; free it with polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_conf_state_encode(
    cs: *const polyraft_conf_state,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(cs);
        nn!(out);
        let c = conf_state_from_c(&*cs)?;
        encode_to(&c, out);
        Ok(())
    })
}

/// Encodes a snapshot (its `encoded` fields are ignored). Writes a new
/// buffer to `*out`; free it with polyraft_buffer_free.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_snapshot_encode(
    snapshot: *const polyraft_snapshot,
    out: *mut *mut polyraft_buffer,
) -> polyraft_result {
    guard(|| {
        nn!(snapshot);
        nn!(out);
        let s: Snapshot = snapshot_from_c(&*snapshot)?;
        encode_to(&s, out);
        Ok(())
    })
}
