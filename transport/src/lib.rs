//! polyraft's host transport: the network between polyraft hosts.
//!
//! A host runs many raft groups; this crate carries their messages to other
//! hosts. It knows nothing of raft beyond group ids: raft messages are opaque
//! bytes (encoded `raftpb.Message`s), so the host engine depends on this crate
//! and not the other way round.
//!
//! - **One connection per remote host** ([`TcpTransport`]), carrying *frames*:
//!   every message of every group queued for that host when the connection is
//!   ready to write goes into one frame, so the heartbeats of many groups ride
//!   in one frame (coalescing). The wire format is versioned and documented in
//!   [`wire`] and `proto/transport.proto`.
//! - **Mutual TLS 1.3** (rustls, `ring` provider) is the default
//!   ([`Security::MutualTls`]); the certificate, key and CA come from PEM
//!   files. A peer's certificate must name the host id it claims
//!   (`host-<id>.polyraft`, see [`tls::host_dns_name`]), so a certificate for
//!   host 3 cannot pose as host 2. Plain TCP only with
//!   [`Security::InsecurePlaintext`]. [`devcerts`] makes a development CA and
//!   per-host certificates.
//! - **Never blocks the engine.** [`Transport::send`] queues into a bounded
//!   per-host outbox; when the outbox is full or the host is unreachable the
//!   messages are dropped and [`InboundHandler::on_unreachable`] says so (raft
//!   retransmits). Reconnects back off exponentially.
//! - **Snapshots** stream in chunks on their own connection with bounded
//!   buffering on both sides ([`Transport::send_snapshot`],
//!   [`InboundHandler::open_snapshot`]); the outcome comes back through
//!   [`InboundHandler::on_snapshot_status`].
//! - **Faults stay local.** A malformed or oversized frame, a failed
//!   handshake or a stalled reader closes that one connection.
//! - [`proxy::FaultProxy`] injects drops, delays, tampering and (one-way)
//!   partitions between real hosts for integration tests.
//!
//! ```no_run
//! use std::sync::Arc;
//! use polyraft_transport::{devcerts, Security, TcpTransport, Transport, TransportConfig};
//! # fn handler() -> Arc<dyn polyraft_transport::InboundHandler> { unimplemented!() }
//! let files = devcerts::dev_cluster("certs".as_ref(), &[1, 2, 3]).unwrap();
//! let mut cfg = TransportConfig::new(1, "127.0.0.1:7001".parse().unwrap(), Security::MutualTls(files[0].clone()));
//! cfg.peers.insert(2, "127.0.0.1:7002".into());
//! let t = TcpTransport::start(cfg, handler()).unwrap();
//! // Everything ready for host 2 this tick, from every group, in one call:
//! t.send(2, vec![(10, bytes::Bytes::from_static(b"raftpb heartbeat")), (11, bytes::Bytes::from_static(b"..."))]);
//! ```
//!
//! The [`Transport`] trait is the seam: the host engine talks to it, and an
//! application can supply its own implementation. [`local::LocalNetwork`] is
//! an in-process one for tests (many hosts in one process, with partitions).

#![warn(missing_docs)]

pub mod config;
#[cfg(feature = "dev-certs")]
pub mod devcerts;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod local;
mod outbox;
mod peer;
pub mod proxy;
mod server;
mod snapshot;
mod socket;
mod tcp;
pub mod tls;
pub mod wire;

pub use config::{Security, TlsFiles, TransportConfig};
pub use error::TransportError;
pub use handler::{InboundHandler, SnapshotSink, SnapshotSource, SnapshotStatus, Transport};
pub use tcp::{TcpTransport, TransportStats};

/// A host's id: one per process, unique in the cluster, never 0.
pub type HostId = u64;
/// A raft group's id.
pub type GroupId = u64;
