//! [`TcpTransport`]: the built-in transport over TCP, with mutual TLS by
//! default. Owns a small tokio runtime; the engine only ever queues.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{watch, Semaphore};
use tokio::time::timeout;

use crate::config::{Security, TransportConfig};
use crate::error::TransportError;
use crate::handler::{InboundHandler, SnapshotSource, SnapshotStatus, Transport};
use crate::outbox::groups_of;
use crate::peer::Peer;
use crate::socket::QuietTcp;
use crate::tls::{server_name, TlsContext};
use crate::wire::{self, decode_body, frame_entry_len, Hello, HelloReply, StreamKind};
use crate::{server, snapshot, GroupId, HostId};

/// A connection after TCP (and TLS): what the protocol code reads and writes.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
/// A boxed [`Stream`].
pub(crate) type Conn = Box<dyn Stream>;

/// Counters, for tests and metrics. All monotonic.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub frames_sent: AtomicU64,
    pub messages_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_dropped: AtomicU64,
    pub connections_refused: AtomicU64,
    pub snapshot_bytes_sent: AtomicU64,
    pub snapshot_bytes_received: AtomicU64,
}

/// A copy of the transport's counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Frames written to peers.
    pub frames_sent: u64,
    /// Raft messages in those frames.
    pub messages_sent: u64,
    /// Frames received from authenticated peers.
    pub frames_received: u64,
    /// Raft messages in those frames (delivered to the handler).
    pub messages_received: u64,
    /// Messages dropped and reported unreachable.
    pub messages_dropped: u64,
    /// Inbound connections closed for a failed handshake or a protocol
    /// violation.
    pub connections_refused: u64,
    /// Snapshot data bytes written to peers.
    pub snapshot_bytes_sent: u64,
    /// Snapshot data bytes received from peers.
    pub snapshot_bytes_received: u64,
}

/// State shared by the transport's tasks.
pub(crate) struct Shared {
    pub config: TransportConfig,
    pub handler: Arc<dyn InboundHandler>,
    pub tls: Option<TlsContext>,
    pub peers: Mutex<HashMap<HostId, Arc<Peer>>>,
    /// The live inbound FRAMES connection of each host: a newer one replaces
    /// (closes) the older.
    pub inbound: Mutex<HashMap<HostId, (u64, watch::Sender<bool>)>>,
    pub next_conn_id: AtomicU64,
    pub snapshot_permits: Arc<Semaphore>,
    pub shutdown: watch::Sender<bool>,
    pub counters: Counters,
}

impl Shared {
    /// The frame size the writer aims for (the limit less the record header).
    pub(crate) fn frame_limit(&self) -> usize {
        self.config.max_frame_bytes - wire::RECORD_HEADER_LEN
    }

    /// Drops `messages` bound for `to` and tells the handler.
    pub(crate) fn report_dropped(&self, to: HostId, messages: &[(GroupId, Bytes)]) {
        if messages.is_empty() {
            return;
        }
        self.counters.messages_dropped.fetch_add(messages.len() as u64, Ordering::Relaxed);
        self.handler.on_unreachable(to, groups_of(messages));
    }

    /// Resolves once the transport shuts down.
    pub(crate) async fn shut_down(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    fn address(&self, to: HostId) -> Result<String, TransportError> {
        self.peers
            .lock()
            .get(&to)
            .map(|p| p.addr.lock().clone())
            .ok_or_else(|| TransportError::Config(format!("no address for host {to}")))
    }
}

/// Dials host `to` and runs the dialer's handshake for a stream of `kind`.
pub(crate) async fn dial(shared: &Shared, to: HostId, kind: StreamKind) -> Result<Conn, TransportError> {
    let cfg = &shared.config;
    let addr = shared.address(to)?;
    let tcp = timeout(cfg.connect_timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| TransportError::Timeout("connect"))??;
    tcp.set_nodelay(true)?;
    let tcp = QuietTcp::new(tcp)?;
    timeout(cfg.handshake_timeout, async {
        let mut conn: Conn = match &shared.tls {
            Some(ctx) => Box::new(
                tokio_rustls::TlsConnector::from(ctx.client.clone())
                    .connect(server_name(to), tcp)
                    .await
                    .map_err(|e| TransportError::Tls(e.to_string()))?,
            ),
            None => Box::new(tcp),
        };
        conn.write_all(&wire::PREAMBLE).await?;
        let hello = Hello { from_host: cfg.host_id, to_host: to, cluster_id: cfg.cluster_id, kind: kind as i32 };
        wire::write_record(&mut conn, &hello).await?;
        conn.flush().await?;
        let reply: HelloReply =
            decode_body(wire::read_record(&mut conn, wire::MAX_HANDSHAKE_RECORD).await?, "hello reply")?;
        if !reply.accepted {
            return Err(TransportError::Refused(reply.reason));
        }
        Ok(conn)
    })
    .await
    .map_err(|_| TransportError::Timeout("handshake"))?
}

/// The built-in transport: one outbound connection per remote host carrying
/// frames, a listener for inbound ones, a connection per snapshot stream.
///
/// Each pair of hosts uses two frame connections, one per direction (as
/// etcd's rafthttp streams do): each host writes on the connection it dialed
/// and reads the one it accepted, so no tie-break is needed when both dial at
/// once.
pub struct TcpTransport {
    shared: Arc<Shared>,
    handle: Handle,
    runtime: Mutex<Option<Runtime>>,
    local_addr: SocketAddr,
}

impl TcpTransport {
    /// Validates `config`, loads the TLS files, starts the runtime and binds
    /// the listener. Connections to peers are made on first send.
    pub fn start(config: TransportConfig, handler: Arc<dyn InboundHandler>) -> Result<Self, TransportError> {
        config.validate().map_err(TransportError::Config)?;
        let tls = match &config.security {
            Security::MutualTls(files) => Some(TlsContext::load(files)?),
            Security::InsecurePlaintext => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            // Snapshot file reads and writes run on blocking threads.
            .max_blocking_threads(2 * config.max_inbound_snapshots + 8)
            .thread_name(format!("polyraft-net-{}", config.host_id))
            .enable_io()
            .enable_time()
            .build()?;
        let handle = runtime.handle().clone();
        // Bound without block_on, so that start works from inside another
        // runtime too (the host may be async).
        let std_listener = std::net::TcpListener::bind(config.listen)?;
        std_listener.set_nonblocking(true)?;
        let local_addr = std_listener.local_addr()?;
        let listener = {
            let _enter = handle.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            snapshot_permits: Arc::new(Semaphore::new(config.max_inbound_snapshots)),
            handler,
            tls,
            peers: Mutex::new(HashMap::new()),
            inbound: Mutex::new(HashMap::new()),
            next_conn_id: AtomicU64::new(1),
            shutdown,
            counters: Counters::default(),
            config,
        });
        let t = TcpTransport { shared: shared.clone(), handle: handle.clone(), runtime: Mutex::new(Some(runtime)), local_addr };
        for (id, addr) in shared.config.peers.clone() {
            t.add_peer(id, addr);
        }
        handle.spawn(server::accept_loop(shared, listener));
        Ok(t)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This host's id.
    pub fn host_id(&self) -> HostId {
        self.shared.config.host_id
    }

    /// The counters so far.
    pub fn stats(&self) -> TransportStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TransportStats {
            frames_sent: l(&c.frames_sent),
            messages_sent: l(&c.messages_sent),
            frames_received: l(&c.frames_received),
            messages_received: l(&c.messages_received),
            messages_dropped: l(&c.messages_dropped),
            connections_refused: l(&c.connections_refused),
            snapshot_bytes_sent: l(&c.snapshot_bytes_sent),
            snapshot_bytes_received: l(&c.snapshot_bytes_received),
        }
    }

    fn is_shut_down(&self) -> bool {
        *self.shared.shutdown.borrow()
    }
}

impl Transport for TcpTransport {
    fn send(&self, to: HostId, messages: Vec<(GroupId, Bytes)>) {
        if messages.is_empty() {
            return;
        }
        let peer = self.shared.peers.lock().get(&to).cloned();
        let Some(peer) = peer.filter(|_| !self.is_shut_down()) else {
            self.shared.report_dropped(to, &messages);
            return;
        };
        let limit = self.shared.frame_limit();
        let (fit, mut rejected): (Vec<_>, Vec<_>) =
            messages.into_iter().partition(|(g, m)| frame_entry_len(*g, m.len()) <= limit);
        if !rejected.is_empty() {
            log::warn!("host {}: {} message(s) to host {to} exceed the frame limit", self.host_id(), rejected.len());
        }
        if peer.accepting() {
            rejected.extend(peer.outbox.push(fit));
        } else {
            rejected.extend(fit);
        }
        self.shared.report_dropped(to, &rejected);
    }

    fn send_snapshot(&self, to: HostId, group: GroupId, message: Bytes, data: SnapshotSource) {
        let shared = self.shared.clone();
        self.handle.spawn(async move {
            let status = tokio::select! {
                r = snapshot::send(&shared, to, group, message, data) => match r {
                    Ok(()) => SnapshotStatus::Finished,
                    Err(e) => SnapshotStatus::Failed(e.to_string()),
                },
                _ = shared.shut_down() => SnapshotStatus::Failed(TransportError::Closed.to_string()),
            };
            if let SnapshotStatus::Failed(reason) = &status {
                log::warn!("host {}: snapshot of group {group} to host {to} failed: {reason}", shared.config.host_id);
            }
            shared.handler.on_snapshot_status(to, group, status);
        });
    }

    fn add_peer(&self, id: HostId, addr: String) {
        if id == 0 || id == self.host_id() || self.is_shut_down() {
            return;
        }
        let mut peers = self.shared.peers.lock();
        if let Some(p) = peers.get(&id) {
            *p.addr.lock() = addr;
            return;
        }
        let peer = Arc::new(Peer::new(id, addr, &self.shared.config));
        peers.insert(id, peer.clone());
        drop(peers);
        self.handle.spawn(crate::peer::run(self.shared.clone(), peer));
    }

    fn remove_peer(&self, id: HostId) {
        if let Some(p) = self.shared.peers.lock().remove(&id) {
            p.stop();
            self.shared.report_dropped(id, &p.outbox.drain());
        }
    }

    fn shutdown(&self) {
        let _ = self.shared.shutdown.send(true);
        for p in self.shared.peers.lock().values() {
            p.stop();
        }
        if let Some(rt) = self.runtime.lock().take() {
            if Handle::try_current().is_ok() {
                // Inside some runtime (e.g. a handler callback): cannot wait.
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(std::time::Duration::from_secs(2));
            }
        }
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Reads a whole buffer or up to end of file; returns the bytes read.
pub(crate) fn read_full(r: &mut dyn io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads one byte (used to notice that the other side closed).
pub(crate) async fn read_probe<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<usize> {
    let mut b = [0u8; 1];
    r.read(&mut b).await
}
