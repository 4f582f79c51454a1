//! An in-process network for tests of code built on [`Transport`]: hosts in
//! one process, connected through memory, with the same delivery contract as
//! [`crate::TcpTransport`] (per-host bounded inboxes, batches per sender,
//! unreachable reports, streamed snapshots with a status) and with one-way
//! partitions. Each host's handler runs on that host's own delivery thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use crate::handler::{InboundHandler, SnapshotSource, SnapshotStatus, Transport};
use crate::outbox::groups_of;
use crate::tcp::read_full;
use crate::{GroupId, HostId};

/// The in-process network: a set of hosts and the links cut between them.
#[derive(Clone, Default)]
pub struct LocalNetwork {
    net: Arc<Net>,
}

#[derive(Default)]
struct Net {
    hosts: Mutex<HashMap<HostId, Arc<Endpoint>>>,
    /// (from, to) pairs whose messages are lost.
    cut: Mutex<HashSet<(HostId, HostId)>>,
}

struct Inbox {
    queue: VecDeque<(HostId, GroupId, Bytes)>,
    closed: bool,
}

struct Endpoint {
    handler: Arc<dyn InboundHandler>,
    inbox: Mutex<Inbox>,
    wake: Condvar,
    capacity: usize,
}

/// One host's side of a [`LocalNetwork`].
pub struct LocalTransport {
    net: Arc<Net>,
    id: HostId,
    me: Arc<Endpoint>,
    delivery: Mutex<Option<JoinHandle<()>>>,
}

impl LocalNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds host `id` with its handler and an inbox of `capacity` messages
    /// (beyond which messages are dropped and reported to their sender).
    /// A host id already present is replaced (a restart).
    pub fn join(&self, id: HostId, handler: Arc<dyn InboundHandler>, capacity: usize) -> LocalTransport {
        let me = Arc::new(Endpoint {
            handler,
            inbox: Mutex::new(Inbox { queue: VecDeque::new(), closed: false }),
            wake: Condvar::new(),
            capacity: capacity.max(1),
        });
        if let Some(old) = self.net.hosts.lock().insert(id, me.clone()) {
            old.close();
        }
        let ep = me.clone();
        let delivery = std::thread::Builder::new()
            .name(format!("polyraft-local-{id}"))
            .spawn(move || ep.deliver())
            .expect("spawn a delivery thread");
        LocalTransport { net: self.net.clone(), id, me, delivery: Mutex::new(Some(delivery)) }
    }

    /// Loses every message from `from` to `to` (one way) until healed.
    pub fn cut(&self, from: HostId, to: HostId) {
        self.net.cut.lock().insert((from, to));
    }

    /// Cuts both directions between `a` and `b`.
    pub fn partition(&self, a: HostId, b: HostId) {
        self.cut(a, b);
        self.cut(b, a);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.net.cut.lock().clear();
    }
}

impl Endpoint {
    fn close(&self) {
        self.inbox.lock().closed = true;
        self.wake.notify_all();
    }

    /// Delivers everything queued at each wake-up, one batch per run of
    /// messages from the same sender (the frames of this network).
    fn deliver(&self) {
        loop {
            let batch: Vec<_> = {
                let mut inbox = self.inbox.lock();
                while inbox.queue.is_empty() && !inbox.closed {
                    self.wake.wait(&mut inbox);
                }
                if inbox.closed {
                    return;
                }
                inbox.queue.drain(..).collect()
            };
            let mut run: Vec<(GroupId, Bytes)> = Vec::new();
            let mut from = None;
            for (f, g, m) in batch {
                if from.is_some_and(|x| x != f) {
                    self.handler.on_messages(from.take().expect("set"), std::mem::take(&mut run));
                }
                from = Some(f);
                run.push((g, m));
            }
            if let Some(f) = from {
                self.handler.on_messages(f, run);
            }
        }
    }
}

impl LocalTransport {
    fn reachable(&self, to: HostId) -> Option<Arc<Endpoint>> {
        if self.net.cut.lock().contains(&(self.id, to)) {
            return None;
        }
        self.net.hosts.lock().get(&to).cloned()
    }
}

impl Transport for LocalTransport {
    fn send(&self, to: HostId, messages: Vec<(GroupId, Bytes)>) {
        if messages.is_empty() {
            return;
        }
        let Some(dest) = self.reachable(to) else {
            self.me.handler.on_unreachable(to, groups_of(&messages));
            return;
        };
        let mut rejected = Vec::new();
        {
            let mut inbox = dest.inbox.lock();
            for (g, m) in messages {
                if inbox.closed || inbox.queue.len() >= dest.capacity || !rejected.is_empty() {
                    rejected.push((g, m));
                } else {
                    inbox.queue.push_back((self.id, g, m));
                }
            }
        }
        dest.wake.notify_one();
        if !rejected.is_empty() {
            self.me.handler.on_unreachable(to, groups_of(&rejected));
        }
    }

    fn send_snapshot(&self, to: HostId, group: GroupId, message: Bytes, data: SnapshotSource) {
        let dest = self.reachable(to);
        let (me, from) = (self.me.clone(), self.id);
        std::thread::spawn(move || {
            let status = match dest {
                None => SnapshotStatus::Failed(format!("host {to} unreachable")),
                Some(dest) => match copy_snapshot(&dest, from, group, message, data) {
                    Ok(()) => SnapshotStatus::Finished,
                    Err(e) => SnapshotStatus::Failed(e.to_string()),
                },
            };
            me.handler.on_snapshot_status(to, group, status);
        });
    }

    /// Addresses mean nothing in memory.
    fn add_peer(&self, _id: HostId, _addr: String) {}

    /// Hosts are reached by id; nothing to forget.
    fn remove_peer(&self, _id: HostId) {}

    fn shutdown(&self) {
        let mut hosts = self.net.hosts.lock();
        if hosts.get(&self.id).is_some_and(|e| Arc::ptr_eq(e, &self.me)) {
            hosts.remove(&self.id);
        }
        drop(hosts);
        self.me.close();
        if let Some(t) = self.delivery.lock().take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for LocalTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn copy_snapshot(dest: &Endpoint, from: HostId, group: GroupId, message: Bytes, data: SnapshotSource) -> io::Result<()> {
    let mut sink = dest.handler.open_snapshot(from, group, message)?;
    let mut reader = data.reader;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut *reader, &mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        sink.write_chunk(&buf[..n])?;
    }
    if data.size.is_some_and(|s| s != total) {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("snapshot gave {total} bytes, declared {:?}", data.size)));
    }
    sink.finish()
}
