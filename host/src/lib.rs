//! polyraft-host: a runtime for many raft groups per process.
//!
//! A [`Host`] runs replicas of any number of raft groups on top of the
//! core's [`polyraft::RawNode`] (no raft rule is re-implemented here). It
//! owns the Ready loop every application otherwise writes by hand:
//!
//! - **Engine.** Groups are sharded over step workers. A worker ticks its
//!   groups, steps received messages and client operations, collects the
//!   Readies of all its groups, writes them to the shared [`LogStore`] as
//!   one batch with one sync (group commit, merged across workers), sends
//!   the messages once their entries are durable, applies committed
//!   entries to the state machines in log order, and advances.
//! - **State machines** ([`StateMachine`]): `apply`, `snapshot`,
//!   `restore`, `lookup`. Snapshots are taken every N applied entries and
//!   the log is compacted behind them, keeping some entries for lagging
//!   followers; followers that need a snapshot get one and restore it.
//! - **Client operations**: [`Host::propose`] returns the state machine's
//!   result; outcomes are completed, rejected (certainly not applied) or
//!   timed out (unknown). Followers forward proposals to the leader.
//!   [`Session`]s make retried proposals apply once. [`Host::read`] is
//!   linearizable (ReadIndex, then lookup); [`Host::stale_read`] is local.
//!   Membership changes, leader transfer, group info, metrics. Every call
//!   has a blocking form and a non-blocking one taking a [`Completion`].
//! - **Quiescence.** A leader whose group is idle and fully replicated for
//!   a few election timeouts stops ticking and tells its followers to stop
//!   too; any proposal or message wakes the group. Idle groups cost nothing
//!   per tick.
//! - **Network** ([`net`], feature `tcp`, on by default): [`net::NetHost`]
//!   runs a host on polyraft-transport's TCP transport, mutual TLS from PEM
//!   files by default. With a [`FileSnapshotStore`], snapshot data lives in
//!   files and is streamed in chunks, never held whole in memory.
//! - **Seams.** The log, the snapshot store, the transport and the clock
//!   are traits; with [`HostConfig::manual`] a host has no threads and a
//!   single thread can drive a whole simulated cluster deterministically.

#![warn(missing_docs)]

mod clock;
mod codec;
mod commit;
mod config;
mod envelope;
mod error;
mod host;
mod metrics;
#[cfg(feature = "tcp")]
pub mod net;
mod replica;
mod session;
mod shard;
mod snapdata;
mod snapshots;
mod statemachine;
mod storage;
mod transport;

pub use clock::{Clock, SimClock, SystemClock};
pub use config::{GroupInfo, HostConfig, StartMode};
pub use error::{HostError, OpError, OpResult};
pub use host::{Host, HostParts, Membership, Pending};
pub use metrics::{Counter, GroupMetrics, HostMetrics, HostMetricsSnapshot};
pub use polyraft_logstore::{FileLogStore, LogStore, MemLogStore};
pub use replica::Completion;
pub use session::Session;
pub use shard::Inbound;
pub use snapdata::{DataRef, DataWriter};
pub use snapshots::{FileSnapshotStore, MemSnapshotStore, SnapshotStore};
pub use statemachine::{StateMachine, StateMachineFactory};
pub use transport::{Frame, GroupMessage, InProcNetwork, SendError, Transport};
