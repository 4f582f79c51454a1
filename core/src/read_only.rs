//! ReadIndex bookkeeping on the leader (mirrors etcd's read_only.go).

use bytes::Bytes;

/// A read request served: the application may answer `request_ctx` once it
/// has applied up to `index`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The commit index at the time the read was confirmed.
    pub index: u64,
    /// The context the application passed to `read_index`.
    pub request_ctx: Bytes,
}
