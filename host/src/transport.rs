//! The transport seam: how frames of raft messages travel between hosts.
//!
//! A frame carries every message a host has for one remote host at one
//! moment, from any number of groups (batching). The network transport
//! (TCP/TLS, a later issue) implements [`Transport`]; received frames are
//! handed to the destination host through its [`Inbound`] handle. This
//! module also has [`InProcNetwork`], an in-process network for tests and
//! simulations, which can hold frames until told to deliver them and drop
//! or cut links on demand.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use polyraft::raftpb::Message;

use crate::shard::Inbound;

/// One raft message of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMessage {
    /// The raft group.
    pub group: u64,
    /// The message (its `from` and `to` are replica ids of that group).
    pub message: Message,
}

/// Everything one host sends another at one moment.
pub type Frame = Vec<GroupMessage>;

/// A frame that could not be sent, handed back with the reason.
#[derive(Debug)]
pub struct SendError {
    /// Why (unknown host, queue full, link down...).
    pub reason: String,
    /// The frame, so that the engine can report its receivers.
    pub frame: Frame,
}

/// Sends frames to other hosts. Implementations must not block for long:
/// a step worker calls `send` after each group-commit write.
pub trait Transport: Send + Sync {
    /// Sends `frame` to host `to`. An error means the frame was dropped;
    /// raft retransmits, and the engine reports the replicas unreachable.
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError>;

    /// Whether this transport streams snapshot data from files
    /// ([`Transport::send_snapshot`]). When false (the default), a snapshot
    /// whose data is in a file is read back into the MsgSnap and framed.
    fn streams_snapshots(&self) -> bool {
        false
    }

    /// Streams a snapshot to host `to`: `msg` is the MsgSnap without its
    /// data, `data` reads the `size` bytes of data. The outcome must come
    /// back later through [`crate::Inbound::report_snapshot`]. An
    /// error means nothing was sent.
    fn send_snapshot(&self, to: u64, group: u64, msg: Message, data: Box<dyn std::io::Read + Send>, size: u64) -> Result<(), String> {
        let _ = (to, group, msg, data, size);
        Err("this transport does not stream snapshots".into())
    }

    /// Learns (or updates) the network address of host `host`: a membership
    /// change carried it. Transports without addresses ignore it.
    fn add_peer(&self, host: u64, addr: &str) {
        let _ = (host, addr);
    }
}

/// An in-process network joining hosts of one process. Created once;
/// [`InProcNetwork::endpoint`] gives each host its [`Transport`], and
/// [`InProcNetwork::register`] tells the network where a host receives.
///
/// In immediate mode frames are handed to the destination's inbox at once
/// (threaded tests). In held mode (simulation) they queue until
/// [`InProcNetwork::deliver_all`], so one thread decides when and in which
/// order they arrive.
#[derive(Clone, Default)]
pub struct InProcNetwork {
    inner: Arc<Mutex<NetInner>>,
}

#[derive(Default)]
struct NetInner {
    hosts: BTreeMap<u64, Inbound>,
    held: bool,
    queue: VecDeque<(u64, u64, Frame)>,
    /// Directed links that drop everything: (from, to).
    cut: BTreeSet<(u64, u64)>,
    delivered_frames: u64,
}

impl InProcNetwork {
    /// A network that delivers frames immediately.
    pub fn new() -> Self {
        Self::default()
    }

    /// A network that holds frames until [`InProcNetwork::deliver_all`].
    pub fn held() -> Self {
        let n = Self::default();
        n.inner.lock().held = true;
        n
    }

    /// Makes frames addressed to `host` arrive at `inbound`. Registering a
    /// host again (a restart) replaces its inbox.
    pub fn register(&self, host: u64, inbound: Inbound) {
        self.inner.lock().hosts.insert(host, inbound);
    }

    /// Forgets a host: frames to it are dropped (as to a crashed machine).
    pub fn unregister(&self, host: u64) {
        self.inner.lock().hosts.remove(&host);
    }

    /// The transport host `host` sends through.
    pub fn endpoint(&self, host: u64) -> Arc<dyn Transport> {
        Arc::new(Endpoint { host, net: self.clone() })
    }

    /// Cuts (or with `false` restores) both directions between two hosts.
    pub fn set_partitioned(&self, a: u64, b: u64, cut: bool) {
        let mut n = self.inner.lock();
        for link in [(a, b), (b, a)] {
            if cut {
                n.cut.insert(link);
            } else {
                n.cut.remove(&link);
            }
        }
    }

    /// Delivers every held frame in the order sent; returns how many.
    pub fn deliver_all(&self) -> usize {
        let (frames, hosts) = {
            let mut n = self.inner.lock();
            let frames: Vec<_> = n.queue.drain(..).collect();
            (frames, n.hosts.clone())
        };
        let count = frames.len();
        for (from, to, frame) in frames {
            if let Some(inb) = hosts.get(&to) {
                inb.deliver(from, frame);
            }
        }
        self.inner.lock().delivered_frames += count as u64;
        count
    }

    /// Frames waiting in held mode.
    pub fn pending(&self) -> usize {
        self.inner.lock().queue.len()
    }
}

struct Endpoint {
    host: u64,
    net: InProcNetwork,
}

impl Transport for Endpoint {
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        let target = {
            let mut n = self.net.inner.lock();
            if n.cut.contains(&(self.host, to)) {
                return Err(SendError { reason: format!("link {} -> {} is cut", self.host, to), frame });
            }
            let Some(inb) = n.hosts.get(&to).cloned() else {
                return Err(SendError { reason: format!("host {to} is not on the network"), frame });
            };
            if n.held {
                n.queue.push_back((self.host, to, frame));
                return Ok(());
            }
            inb
        };
        // Outside the network's lock: delivery takes the destination's locks.
        target.deliver(self.host, frame);
        Ok(())
    }
}
