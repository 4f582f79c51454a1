//! polyraft: etcd raft (go.etcd.io/raft/v3, v3.7 semantics) in Rust.
//!
//! The core is a pure, deterministic state machine: no threads, no I/O, no
//! clocks. The application drives a [`RawNode`] with `tick`, `step` and
//! `propose`, reads a [`Ready`], persists, sends, applies, and calls
//! `advance`, exactly as with etcd's RawNode.
//!
//! Modules follow etcd's packages so that every rule is where a reader of
//! etcd raft expects it. Durable storage (a write-ahead log) lives in its
//! own crate, `polyraft-wal`, so that this one stays free of I/O.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod batch_append;
pub mod confchange;
pub mod describe;
mod error;
pub mod log;
pub mod log_unstable;
pub mod logger;
pub mod priority;
pub mod quorum;
pub mod raft;
pub mod raftpb;
pub mod raw_node;
pub mod read_only;
pub mod status;
pub mod storage;
pub mod tracker;
mod util;
pub mod witness;

#[cfg(feature = "rafttest")]
pub mod rafttest;

pub use error::{Error, IoError, Result};
pub use raft::{Config, ReadOnlyOption, StateType, LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD, NONE};
pub use raw_node::{Peer, RawNode, Ready, SnapshotStatus, SoftState};
pub use read_only::ReadState;
pub use status::{BasicStatus, Status};
pub use storage::{MemoryStorage, Storage};
