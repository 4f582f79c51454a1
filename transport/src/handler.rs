//! The two seams between the transport and the host engine: [`Transport`]
//! (the engine calls it) and [`InboundHandler`] (it calls the engine).

use std::io;

use bytes::Bytes;

use crate::{GroupId, HostId};

/// How a snapshot stream ended, as the sender sees it. Maps to raft's
/// `ReportSnapshot(SnapshotFinish | SnapshotFailure)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The receiver stored every byte and accepted the snapshot.
    Finished,
    /// The stream failed (unreachable host, I/O error, refusal); the reason
    /// is for logs.
    Failed(String),
}

/// Where the transport delivers what arrives, and how it reports trouble.
///
/// Called from the transport's threads, and `on_unreachable` also from
/// within [`Transport::send`] on the engine's own thread (so it must not take
/// a lock the engine holds while sending). Every method must return quickly
/// and never block on the engine (hand the work to a channel): a slow handler
/// stalls the connection it is called from.
pub trait InboundHandler: Send + Sync + 'static {
    /// A frame from host `from` (already authenticated): raft messages, each
    /// with its group, in the order the sender queued them.
    fn on_messages(&self, from: HostId, messages: Vec<(GroupId, Bytes)>);

    /// Messages for `to` were dropped (outbox full, host unreachable, or the
    /// connection broke with them in flight). `groups` lists each affected
    /// group once. The engine calls raft's `ReportUnreachable` for its
    /// replicas of those groups on that host.
    fn on_unreachable(&self, to: HostId, groups: Vec<GroupId>);

    /// A snapshot stream sent with [`Transport::send_snapshot`] ended.
    fn on_snapshot_status(&self, to: HostId, group: GroupId, status: SnapshotStatus);

    /// Host `from` starts streaming a snapshot of `group`; `message` is the
    /// sender's opaque header (the MsgSnap without its data). Returns the sink
    /// that will receive the data, or an error to refuse the stream. The
    /// sink's methods run on a blocking thread and may do file I/O.
    fn open_snapshot(&self, from: HostId, group: GroupId, message: Bytes) -> io::Result<Box<dyn SnapshotSink>>;
}

/// Receives one snapshot's data, chunk by chunk.
///
/// Dropped without [`SnapshotSink::finish`] when the stream fails: an
/// implementation removes whatever partial data it wrote on drop.
pub trait SnapshotSink: Send {
    /// Stores the next chunk.
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// All data arrived: make it durable and hand the snapshot to the engine.
    /// An error is reported to the sender as a failed snapshot.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// The data of a snapshot being sent: any reader (typically a file), with its
/// length when known. Read on a blocking thread, chunk by chunk.
pub struct SnapshotSource {
    /// Where the data comes from.
    pub reader: Box<dyn io::Read + Send>,
    /// Its length in bytes, when known; the receiver checks it.
    pub size: Option<u64>,
}

/// What the host engine needs from a network. [`crate::TcpTransport`] is the
/// built-in one; an application can supply another (it sends the bytes it is
/// given and hands what it receives to the host's [`InboundHandler`]).
///
/// No method blocks on the network.
pub trait Transport: Send + Sync {
    /// Queues raft messages for host `to` (each with its group). Messages to
    /// one host that are queued before the connection can write are sent in
    /// one frame. When they cannot be queued, they are dropped and reported
    /// through [`InboundHandler::on_unreachable`].
    fn send(&self, to: HostId, messages: Vec<(GroupId, Bytes)>);

    /// Streams a snapshot of `group` to host `to`: `message` is the MsgSnap
    /// without its data (opaque), `data` the snapshot's bytes. The outcome is
    /// reported through [`InboundHandler::on_snapshot_status`].
    fn send_snapshot(&self, to: HostId, group: GroupId, message: Bytes, data: SnapshotSource);

    /// Adds or updates host `id`'s address (from a membership change).
    fn add_peer(&self, id: HostId, addr: String);

    /// Forgets host `id`: closes its connection and drops its outbox.
    fn remove_peer(&self, id: HostId);

    /// Closes every connection and stops the transport's threads.
    fn shutdown(&self);
}
