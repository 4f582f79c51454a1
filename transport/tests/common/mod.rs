//! Shared test helpers: a recording handler, TLS clusters on loopback.
#![allow(dead_code)]

use std::collections::HashMap;
use std::hash::Hasher;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft_transport::devcerts::DevCa;
use polyraft_transport::{
    GroupId, HostId, InboundHandler, Security, SnapshotSink, SnapshotStatus, TcpTransport, Transport, TransportConfig,
};

/// A snapshot received completely.
#[derive(Clone, Debug)]
pub struct ReceivedSnapshot {
    pub from: HostId,
    pub group: GroupId,
    pub message: Bytes,
    pub len: u64,
    pub hash: u64,
}

/// Records everything the transport reports.
#[derive(Default)]
pub struct Recorder {
    pub messages: Mutex<Vec<(HostId, GroupId, Bytes)>>,
    pub frames: AtomicU64,
    pub unreachable: Mutex<Vec<(HostId, Vec<GroupId>)>>,
    pub snapshot_status: Mutex<Vec<(HostId, GroupId, SnapshotStatus)>>,
    pub snapshots: Mutex<Vec<ReceivedSnapshot>>,
    /// Refuse snapshots with this error.
    pub refuse_snapshots: Mutex<Option<String>>,
    /// Fail a sink after this many bytes.
    pub fail_sink_after: Mutex<Option<u64>>,
    /// Bytes sinks have consumed, for in-flight accounting.
    pub sunk: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Recorder::default())
    }
    pub fn delivered(&self) -> Vec<(HostId, GroupId, Bytes)> {
        self.messages.lock().clone()
    }
    pub fn count(&self) -> usize {
        self.messages.lock().len()
    }
    pub fn unreachable_count(&self, to: HostId) -> usize {
        self.unreachable.lock().iter().filter(|(h, _)| *h == to).count()
    }
}

struct HashSink {
    rec: Arc<Recorder>,
    from: HostId,
    group: GroupId,
    message: Bytes,
    len: u64,
    hasher: std::collections::hash_map::DefaultHasher,
    fail_after: Option<u64>,
}

impl SnapshotSink for HashSink {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        if self.fail_after.is_some_and(|n| self.len > n) {
            return Err(io::Error::other("disk full (injected)"));
        }
        self.hasher.write(chunk);
        self.rec.sunk.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok(())
    }
    fn finish(self: Box<Self>) -> io::Result<()> {
        let s = ReceivedSnapshot { from: self.from, group: self.group, message: self.message.clone(), len: self.len, hash: self.hasher.finish() };
        self.rec.snapshots.lock().push(s);
        Ok(())
    }
}

pub struct Handler(pub Arc<Recorder>);

impl InboundHandler for Handler {
    fn on_messages(&self, from: HostId, messages: Vec<(GroupId, Bytes)>) {
        self.0.frames.fetch_add(1, Ordering::SeqCst);
        let mut m = self.0.messages.lock();
        for (g, b) in messages {
            m.push((from, g, b));
        }
    }
    fn on_unreachable(&self, to: HostId, groups: Vec<GroupId>) {
        self.0.unreachable.lock().push((to, groups));
    }
    fn on_snapshot_status(&self, to: HostId, group: GroupId, status: SnapshotStatus) {
        self.0.snapshot_status.lock().push((to, group, status));
    }
    fn open_snapshot(&self, from: HostId, group: GroupId, message: Bytes) -> io::Result<Box<dyn SnapshotSink>> {
        if let Some(e) = self.0.refuse_snapshots.lock().clone() {
            return Err(io::Error::other(e));
        }
        Ok(Box::new(HashSink {
            rec: self.0.clone(),
            from,
            group,
            message,
            len: 0,
            hasher: Default::default(),
            fail_after: *self.0.fail_sink_after.lock(),
        }))
    }
}

/// Polls `cond` every 5 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A short-timeout configuration for tests.
pub fn test_config(id: HostId, security: Security) -> TransportConfig {
    let mut c = TransportConfig::new(id, loopback(), security);
    c.threads = 1;
    c.connect_timeout = Duration::from_secs(2);
    c.handshake_timeout = Duration::from_secs(2);
    c.write_timeout = Duration::from_secs(2);
    c.read_timeout = Duration::from_secs(2);
    c.backoff_min = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c
}

/// A host of a test cluster.
pub struct Node {
    pub id: HostId,
    pub t: TcpTransport,
    pub rec: Arc<Recorder>,
}

/// Starts hosts 1..=n with certificates from one fresh CA (or plain TCP),
/// and fills in every host's address book.
pub fn cluster(dir: &Path, n: u64, tls: bool, tweak: impl Fn(&mut TransportConfig)) -> Vec<Node> {
    let ca = DevCa::new("test CA").unwrap();
    let mut nodes: Vec<Node> = (1..=n)
        .map(|id| {
            let security = if tls {
                Security::MutualTls(ca.write_host_files(dir, id).unwrap())
            } else {
                Security::InsecurePlaintext
            };
            let mut cfg = test_config(id, security);
            tweak(&mut cfg);
            let rec = Recorder::new();
            let t = TcpTransport::start(cfg, Arc::new(Handler(rec.clone()))).unwrap();
            Node { id, t, rec }
        })
        .collect();
    let addrs: HashMap<HostId, SocketAddr> = nodes.iter().map(|n| (n.id, n.t.local_addr())).collect();
    for n in &mut nodes {
        for (&id, a) in &addrs {
            n.t.add_peer(id, a.to_string());
        }
    }
    nodes
}

pub fn msg(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub mod raw;
pub mod gen;
