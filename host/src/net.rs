//! The host on a real network: [`NetHost`] joins a [`Host`] to
//! polyraft-transport's [`TcpTransport`] (one mutual-TLS connection per
//! remote host, frames batching every group's messages, streamed
//! snapshots).
//!
//! Two adapters do the work:
//!
//! - [`TcpHostTransport`] is the host's [`Transport`]: it encodes each
//!   raftpb message of a frame and queues them for the remote host; a
//!   snapshot whose data is a file goes out with `send_snapshot`, as a
//!   reader over the file, so it never sits whole in memory.
//! - [`NetHandler`] is the transport's [`InboundHandler`]: received bytes are
//!   decoded and handed to the host's workers, which step them as messages
//!   from a peer (`RawNode::step_peer`: local message types are refused, and
//!   a replica that the group's address book places on another host cannot
//!   speak through this one). Lost messages become `report_unreachable` for
//!   the group's replicas on that host, and wake quiesced groups led from
//!   there (a failure detector: idle groups do not tick, so they could not
//!   notice a dead leader). Streamed snapshots are written chunk by chunk
//!   into a data file of the host's snapshot store, then stepped as a
//!   MsgSnap whose data names that file; the state machine's `restore`
//!   reads it as a stream. Their outcome on the sending side becomes
//!   `report_snapshot`.
//!
//! A prober sends a probe ([`PROBE`] for group 0: never a raft message,
//! and ignored by receivers) to every known host at a fixed interval, so
//! that a host that went down is reported even when every group is
//! quiesced and nothing else is sent. (Not an empty payload: the transport
//! closes a connection that carries one, as a protocol violation.)

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use polyraft::raftpb::{self, Message, MessageType};
use polyraft_logstore::LogStore;
use polyraft_transport::{
    GroupId, HostId, InboundHandler, Security, SnapshotSink, SnapshotSource, SnapshotStatus, TcpTransport, TlsFiles,
    Transport as NetTransport, TransportConfig, TransportStats,
};

use crate::clock::SystemClock;
use crate::config::HostConfig;
use crate::error::HostError;
use crate::host::{Host, HostParts};
use crate::shard::{Cmd, Inbound};
use crate::snapdata::{DataRef, DataWriter};
use crate::snapshots::SnapshotStore;
use crate::transport::{Frame, GroupMessage, SendError, Transport};

pub use polyraft_transport::{devcerts, proxy, Security as NetSecurity, TlsFiles as NetTlsFiles};

/// The prober's payload, sent for group 0. It does not decode as a raft
/// message (its third byte is an end-group tag), so no peer can mistake it
/// for one; receivers drop it before decoding.
pub const PROBE: &[u8] = b"polyraft-probe";

/// How a host reaches the network.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The transport's settings: listen address, the address book (host id
    /// -> `host:port`), security, queue and frame limits. Its `host_id` is
    /// set from the host's.
    pub transport: TransportConfig,
    /// How often every known host is probed (see the module doc); zero
    /// disables the prober.
    pub probe_interval: Duration,
}

impl NetConfig {
    /// Mutual TLS 1.3 (the default and the only safe choice on a network
    /// anyone else can reach): this host's certificate and key and the CA
    /// that every peer's certificate must chain to, as PEM files.
    pub fn tls(listen: SocketAddr, cert: impl Into<std::path::PathBuf>, key: impl Into<std::path::PathBuf>, ca: impl Into<std::path::PathBuf>) -> Self {
        let files = TlsFiles { cert: cert.into(), key: key.into(), ca: ca.into() };
        Self::with_security(listen, Security::MutualTls(files))
    }

    /// Plain TCP: anyone who reaches the port can inject raft messages. Only
    /// when asked for by name, for trusted networks and tests.
    pub fn insecure_plaintext(listen: SocketAddr) -> Self {
        Self::with_security(listen, Security::InsecurePlaintext)
    }

    fn with_security(listen: SocketAddr, security: Security) -> Self {
        NetConfig { transport: TransportConfig::new(1, listen, security), probe_interval: Duration::from_millis(500) }
    }

    /// Adds host `id` at `addr` (`host:port`) to the address book.
    pub fn peer(mut self, id: u64, addr: impl Into<String>) -> Self {
        self.transport.peers.insert(id, addr.into());
        self
    }
}

/// Counters of the adapter (the transport has its own: [`NetHost::transport_stats`]).
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Received payloads that were not raftpb messages (dropped).
    pub malformed: AtomicU64,
    /// Received MsgSnap frames refused because their data named a local file.
    pub forged_snapshot_refs: AtomicU64,
    /// Snapshot streams received and handed to raft.
    pub snapshots_received: AtomicU64,
    /// Snapshot streams refused or failed on the receiving side.
    pub snapshots_refused: AtomicU64,
    /// Times a host was reported down to the engine.
    pub hosts_reported_down: AtomicU64,
}

/// The transport's view of the host: where received messages go and what
/// happens when messages are lost. Built before the host exists (the
/// transport needs it first); messages that arrive before the host is
/// bound are dropped (raft retransmits).
pub struct NetHandler {
    host_id: u64,
    inbound: OnceLock<Inbound>,
    snapshots: Arc<dyn SnapshotStore>,
    /// Streamed snapshots in flight: (host, group) -> receiving replica.
    sending: Mutex<HashMap<(u64, u64), u64>>,
    /// When each host was last reported down (rate limit: once per probe).
    reported_down: Mutex<HashMap<u64, Instant>>,
    report_every: Duration,
    counters: Arc<NetCounters>,
}

impl NetHandler {
    fn new(host_id: u64, snapshots: Arc<dyn SnapshotStore>, report_every: Duration) -> Self {
        NetHandler {
            host_id,
            inbound: OnceLock::new(),
            snapshots,
            sending: Mutex::new(HashMap::new()),
            reported_down: Mutex::new(HashMap::new()),
            report_every,
            counters: Arc::default(),
        }
    }

    /// Decodes one received payload; `None` for probes and garbage.
    fn decode(&self, bytes: &Bytes) -> Option<Message> {
        if bytes.is_empty() {
            return None; // nothing to decode (the transport refuses these anyway)
        }
        match raftpb::decode::<Message>(bytes) {
            Ok(m) => {
                // A snapshot's data may name a file only when this host
                // wrote that file from a stream it received; a peer must not
                // point raft at files of ours.
                let forged = m.r#type == MessageType::MsgSnap as i32
                    && m.snapshot.as_ref().is_some_and(|s| DataRef::decode(&s.data).is_some());
                if forged {
                    self.counters.forged_snapshot_refs.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                Some(m)
            }
            Err(_) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Wakes the quiesced groups led from `host`, at most once per interval.
    fn host_down(&self, inbound: &Inbound, host: u64) {
        let now = Instant::now();
        {
            let mut last = self.reported_down.lock();
            if last.get(&host).is_some_and(|t| now.duration_since(*t) < self.report_every) {
                return;
            }
            last.insert(host, now);
        }
        self.counters.hosts_reported_down.fetch_add(1, Ordering::Relaxed);
        inbound.send_all(|| {
            Cmd::Exec(Box::new(move |s| {
                s.wake_led_by(host);
            }))
        });
    }
}

impl InboundHandler for NetHandler {
    fn on_messages(&self, from: HostId, messages: Vec<(GroupId, Bytes)>) {
        let Some(inbound) = self.inbound.get() else { return };
        let frame: Frame = messages
            .iter()
            .filter(|(group, b)| !(*group == 0 && b.as_ref() == PROBE))
            .filter_map(|(group, b)| self.decode(b).map(|message| GroupMessage { group: *group, message }))
            .collect();
        if !frame.is_empty() {
            inbound.deliver(from, frame);
        }
    }

    fn on_unreachable(&self, to: HostId, groups: Vec<GroupId>) {
        let Some(inbound) = self.inbound.get() else { return };
        inbound.report_unreachable(to, &groups);
        self.host_down(inbound, to);
    }

    fn on_snapshot_status(&self, to: HostId, group: GroupId, status: SnapshotStatus) {
        let Some(inbound) = self.inbound.get() else { return };
        let Some(replica) = self.sending.lock().remove(&(to, group)) else { return };
        let ok = status == SnapshotStatus::Finished;
        if let SnapshotStatus::Failed(why) = status {
            eprintln!("polyraft-host {}: snapshot of group {group} to host {to} failed: {why}", self.host_id);
        }
        inbound.report_snapshot(group, replica, ok);
    }

    fn open_snapshot(&self, from: HostId, group: GroupId, message: Bytes) -> io::Result<Box<dyn SnapshotSink>> {
        let refuse = |why: String| {
            self.counters.snapshots_refused.fetch_add(1, Ordering::Relaxed);
            Err(io::Error::new(io::ErrorKind::InvalidData, why))
        };
        let Some(inbound) = self.inbound.get() else { return refuse("the host is not running yet".into()) };
        let msg: Message = match raftpb::decode(&message) {
            Ok(m) => m,
            Err(e) => return refuse(format!("snapshot header is not a raft message: {e}")),
        };
        if msg.r#type != MessageType::MsgSnap as i32 || msg.snapshot.as_ref().and_then(|s| s.metadata.as_ref()).is_none() {
            return refuse("snapshot header is not a MsgSnap with metadata".into());
        }
        let index = msg.snapshot.as_ref().map_or(0, |s| s.index());
        let out = match self.snapshots.create_data(group, index) {
            Ok(Some(w)) => SinkData::File(w),
            // A store without data files keeps the data inline (in memory).
            Ok(None) => SinkData::Inline(Vec::new()),
            Err(e) => return refuse(e),
        };
        Ok(Box::new(Sink { out, msg, from, group, inbound: inbound.clone(), counters: self.counters.clone() }))
    }
}

enum SinkData {
    File(Box<dyn DataWriter>),
    Inline(Vec<u8>),
}

/// Receives one streamed snapshot: chunks into a data file, then the
/// MsgSnap (its data now naming the file) to the group's worker.
struct Sink {
    out: SinkData,
    msg: Message,
    from: u64,
    group: u64,
    inbound: Inbound,
    counters: Arc<NetCounters>,
}

impl SnapshotSink for Sink {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        match &mut self.out {
            SinkData::File(w) => io::Write::write_all(w, chunk),
            SinkData::Inline(v) => {
                v.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let Sink { out, mut msg, from, group, inbound, counters } = *self;
        let data = match out {
            SinkData::File(w) => w.commit().map_err(|e| {
                counters.snapshots_refused.fetch_add(1, Ordering::Relaxed);
                io::Error::other(e)
            })?,
            SinkData::Inline(v) => Bytes::from(v),
        };
        if let Some(s) = msg.snapshot.as_mut() {
            s.data = data;
        }
        counters.snapshots_received.fetch_add(1, Ordering::Relaxed);
        inbound.deliver(from, vec![GroupMessage { group, message: msg }]);
        Ok(())
    }
}

/// The host's [`Transport`] over a [`TcpTransport`].
pub struct TcpHostTransport {
    tcp: Arc<TcpTransport>,
    handler: Arc<NetHandler>,
    /// Hosts the prober visits: the configured ones and those learned
    /// from membership changes.
    known: Arc<Mutex<BTreeSet<u64>>>,
}

impl Transport for TcpHostTransport {
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        let msgs: Vec<(u64, Bytes)> = frame.iter().map(|gm| (gm.group, raftpb::encode(&gm.message))).collect();
        // Never blocks; losses come back through `on_unreachable`.
        self.tcp.send(to, msgs);
        Ok(())
    }

    fn streams_snapshots(&self) -> bool {
        true
    }

    fn send_snapshot(&self, to: u64, group: u64, msg: Message, data: Box<dyn io::Read + Send>, size: u64) -> Result<(), String> {
        self.handler.sending.lock().insert((to, group), msg.to);
        self.tcp.send_snapshot(to, group, raftpb::encode(&msg), SnapshotSource { reader: data, size: Some(size) });
        Ok(())
    }

    fn add_peer(&self, host: u64, addr: &str) {
        if host != self.handler.host_id && !addr.is_empty() {
            self.tcp.add_peer(host, addr.to_string());
            self.known.lock().insert(host);
        }
    }
}

/// A [`Host`] on the network: the host, its TCP/TLS transport and the
/// prober. Dereferences to the [`Host`]; closing (or dropping) it closes
/// the host, then the transport.
pub struct NetHost {
    host: Host,
    tcp: Arc<TcpTransport>,
    handler: Arc<NetHandler>,
    known: Arc<Mutex<BTreeSet<u64>>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    prober: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl NetHost {
    /// Starts the transport (binding `net`'s listen address) and the host on
    /// it, with the given log and snapshot store. Use a
    /// [`crate::FileSnapshotStore`] for large snapshots: with it, snapshot
    /// data lives in files and is streamed, never held whole in memory.
    pub fn start(config: HostConfig, net: NetConfig, log: Arc<dyn LogStore>, snapshots: Arc<dyn SnapshotStore>) -> Result<NetHost, HostError> {
        let mut tc = net.transport;
        tc.host_id = config.host_id;
        let report_every = if net.probe_interval.is_zero() { Duration::from_millis(500) } else { net.probe_interval };
        let handler = Arc::new(NetHandler::new(config.host_id, snapshots.clone(), report_every));
        let known = Arc::new(Mutex::new(tc.peers.keys().copied().filter(|h| *h != config.host_id).collect::<BTreeSet<u64>>()));
        let tcp = Arc::new(TcpTransport::start(tc, handler.clone()).map_err(|e| HostError::Invalid(format!("network: {e}")))?);
        let transport = Arc::new(TcpHostTransport { tcp: tcp.clone(), handler: handler.clone(), known: known.clone() });
        let parts = HostParts { log, snapshots, transport, clock: Arc::new(SystemClock::default()) };
        let host = match Host::new(config, parts) {
            Ok(h) => h,
            Err(e) => {
                tcp.shutdown();
                return Err(e);
            }
        };
        let _ = handler.inbound.set(host.inbound());
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let prober = if net.probe_interval.is_zero() {
            None
        } else {
            let (tcp, known, stop, every) = (tcp.clone(), known.clone(), stop.clone(), net.probe_interval);
            let t = std::thread::Builder::new()
                .name(format!("polyraft-probe-{}", host.id()))
                .spawn(move || probe(&tcp, &known, &stop, every))
                .map_err(|e| HostError::Invalid(format!("spawning the prober: {e}")))?;
            Some(t)
        };
        Ok(NetHost { host, tcp, handler, known, stop, prober: Mutex::new(prober), closed: AtomicBool::new(false) })
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The address the transport listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp.local_addr()
    }

    /// Adds or updates host `id`'s address.
    pub fn add_peer(&self, id: u64, addr: impl Into<String>) {
        if id != self.host.id() {
            self.tcp.add_peer(id, addr.into());
            self.known.lock().insert(id);
        }
    }

    /// The transport's counters.
    pub fn transport_stats(&self) -> TransportStats {
        self.tcp.stats()
    }

    /// The adapter's counters.
    pub fn net_counters(&self) -> &NetCounters {
        &self.handler.counters
    }

    /// Stops the prober, the host (see [`Host::close`]) and the transport.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let (lock, cv) = &*self.stop;
            *lock.lock() = true;
            cv.notify_all();
        }
        if let Some(t) = self.prober.lock().take() {
            let _ = t.join();
        }
        self.host.close();
        self.tcp.shutdown();
    }
}

impl std::ops::Deref for NetHost {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl Drop for NetHost {
    fn drop(&mut self) {
        self.close();
    }
}

/// The prober's loop: an empty message to every known host per interval.
fn probe(tcp: &TcpTransport, known: &Mutex<BTreeSet<u64>>, stop: &(Mutex<bool>, Condvar), every: Duration) {
    let (lock, cv) = stop;
    loop {
        {
            let mut stopped = lock.lock();
            if *stopped {
                return;
            }
            cv.wait_for(&mut stopped, every);
            if *stopped {
                return;
            }
        }
        let hosts: Vec<u64> = known.lock().iter().copied().collect();
        for h in hosts {
            tcp.send(h, vec![(0, Bytes::from_static(PROBE))]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_never_a_raft_message() {
        assert!(!PROBE.is_empty());
        assert!(raftpb::decode::<Message>(&Bytes::from_static(PROBE)).is_err());
    }
}
