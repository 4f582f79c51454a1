//! Little-endian encodings shared by the envelope, the session table and
//! the host's part of a snapshot. Decoding never panics: short input is
//! `None`.

use bytes::{Buf, BufMut, Bytes};

/// Appends `v` as 8 little-endian bytes.
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.put_u64_le(v);
}

/// Reads 8 little-endian bytes, or `None` when fewer remain.
pub(crate) fn get_u64(b: &mut Bytes) -> Option<u64> {
    (b.remaining() >= 8).then(|| b.get_u64_le())
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, v: &[u8]) {
    put_u64(out, v.len() as u64);
    out.extend_from_slice(v);
}

/// Reads a length-prefixed byte string (zero-copy).
pub(crate) fn get_bytes(b: &mut Bytes) -> Option<Bytes> {
    let n = get_u64(b)?;
    (n <= b.remaining() as u64).then(|| b.split_to(n as usize))
}
