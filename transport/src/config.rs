//! The transport's configuration.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::HostId;

/// PEM files for mutual TLS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// This host's certificate chain (leaf first). The leaf must name
    /// `host-<id>.polyraft` (see [`crate::tls::host_dns_name`]).
    pub cert: PathBuf,
    /// This host's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificate(s) that peers' certificates must chain to.
    pub ca: PathBuf,
}

/// How connections are secured.
#[derive(Clone, Debug)]
pub enum Security {
    /// TLS 1.3, both sides present certificates from the configured CA, and a
    /// peer's certificate must name the host id it claims. The default.
    MutualTls(TlsFiles),
    /// Plain TCP: anyone who reaches the port can inject raft messages under
    /// any host id. Only for trusted networks and tests that ask for it.
    InsecurePlaintext,
}

/// Everything [`crate::TcpTransport::start`] needs.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// This host's id (not 0).
    pub host_id: HostId,
    /// The address to listen on (port 0 picks a free one; see
    /// [`crate::TcpTransport::local_addr`]).
    pub listen: SocketAddr,
    /// The address book: the address (`host:port`) of every other host.
    /// More can be added at run time with `add_peer`.
    pub peers: HashMap<HostId, String>,
    /// Mutual TLS (default) or plain TCP.
    pub security: Security,
    /// Hosts of different clusters refuse each other's connections.
    pub cluster_id: u64,
    /// Tokio worker threads the transport runs on.
    pub threads: usize,
    /// A remote host's outbox holds at most this many messages...
    pub queue_messages: usize,
    /// ...and at most this many bytes of messages; beyond either, messages
    /// are dropped and reported unreachable.
    pub queue_bytes: usize,
    /// The largest record (frame) sent or accepted, in bytes. A single raft
    /// message larger than this cannot be sent (it is dropped and reported).
    pub max_frame_bytes: usize,
    /// Limit on dialing a host (TCP connect).
    pub connect_timeout: Duration,
    /// Limit on a whole handshake (TLS, preamble, Hello, HelloReply), on both
    /// sides: a dialer that stalls in it is disconnected.
    pub handshake_timeout: Duration,
    /// Limit on writing one record: a peer that reads slower than this is a
    /// slow reader and its connection is closed.
    pub write_timeout: Duration,
    /// Limit on receiving the rest of a record once its length has arrived: a
    /// peer that trickles a record slower than this is disconnected.
    pub read_timeout: Duration,
    /// First reconnect delay after a failed dial or a lost connection; it
    /// doubles on every failure up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Snapshot data per chunk.
    pub snapshot_chunk_bytes: usize,
    /// Chunks buffered between the file and the socket, on each side: the
    /// backpressure window. Memory per stream is about
    /// `(snapshot_window + 2) * snapshot_chunk_bytes`.
    pub snapshot_window: usize,
    /// How long a snapshot sender waits for the receiver's verdict after the
    /// last chunk (the receiver may be syncing a large file).
    pub snapshot_ack_timeout: Duration,
    /// Snapshot streams received at once; more are refused.
    pub max_inbound_snapshots: usize,
    /// Inbound connections open at once (including handshakes in progress);
    /// more are closed on accept.
    pub max_inbound_connections: usize,
}

impl TransportConfig {
    /// A configuration with the defaults below, for host `host_id` listening
    /// on `listen` with the given security.
    pub fn new(host_id: HostId, listen: SocketAddr, security: Security) -> Self {
        TransportConfig {
            host_id,
            listen,
            peers: HashMap::new(),
            security,
            cluster_id: 0,
            threads: 2,
            queue_messages: 4096,
            queue_bytes: 16 << 20,
            max_frame_bytes: 8 << 20,
            connect_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            snapshot_chunk_bytes: 1 << 20,
            snapshot_window: 4,
            snapshot_ack_timeout: Duration::from_secs(120),
            max_inbound_snapshots: 4,
            max_inbound_connections: 1024,
        }
    }

    /// Checks the values that would make the transport misbehave.
    pub fn validate(&self) -> Result<(), String> {
        if self.host_id == 0 {
            return Err("host_id must not be 0".into());
        }
        if self.peers.contains_key(&0) {
            return Err("peer host id 0 is not a host".into());
        }
        let positive = [
            ("threads", self.threads),
            ("queue_messages", self.queue_messages),
            ("queue_bytes", self.queue_bytes),
            ("snapshot_chunk_bytes", self.snapshot_chunk_bytes),
            ("snapshot_window", self.snapshot_window),
            ("max_inbound_snapshots", self.max_inbound_snapshots),
            ("max_inbound_connections", self.max_inbound_connections),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.max_frame_bytes < 1024 || self.max_frame_bytes > u32::MAX as usize {
            return Err("max_frame_bytes must be between 1 KiB and 4 GiB".into());
        }
        if self.snapshot_chunk_bytes + 64 > self.max_frame_bytes {
            return Err("snapshot_chunk_bytes must leave room in max_frame_bytes".into());
        }
        if self.backoff_min.is_zero() || self.backoff_max < self.backoff_min {
            return Err("backoff_min must be positive and at most backoff_max".into());
        }
        Ok(())
    }
}
