//! The host: the public API. Client calls become closures queued to the
//! shard that runs the group; their outcome comes back through a
//! completion (callback), which the blocking forms wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use parking_lot::Mutex;
use polyraft::raftpb::ConfChangeType;
use polyraft_logstore::LogStore;

use crate::clock::Clock;
use crate::commit::Committer;
use crate::config::{GroupInfo, HostConfig, StartMode};
use crate::envelope::{self, SessionTag};
use crate::error::{HostError, OpError, OpResult};
use crate::metrics::{GroupMetrics, HostMetrics, HostMetricsSnapshot};
use crate::replica::Completion;
use crate::session::Session;
use crate::shard::{Cmd, Env, Inbound, Shard};
use crate::snapshots::SnapshotStore;
use crate::statemachine::StateMachineFactory;
use crate::transport::Transport;

/// The outside world a host runs on: its log, snapshot storage, network and
/// clock. All four are traits so that a simulation can substitute them.
pub struct HostParts {
    /// The shared log of every group on the host.
    pub log: Arc<dyn LogStore>,
    /// Where snapshot data is kept.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// How frames reach other hosts.
    pub transport: Arc<dyn Transport>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// The result of an operation that is still running; the non-blocking
/// form of every client call.
pub struct Pending<T> {
    rx: Receiver<OpResult<T>>,
}

impl<T> Pending<T> {
    /// A pending result and the completion that fills it: pass the
    /// completion to any `_async` call and wait on (or poll) the pending
    /// result, e.g. from a binding's future or event loop.
    pub fn pair() -> (Self, Completion<T>)
    where
        T: Send + 'static,
    {
        let (tx, rx) = bounded(1);
        (Pending { rx }, Box::new(move |r| drop(tx.send(r))))
    }

    /// Waits for the outcome. Every operation carries a deadline, after
    /// which the host completes it as timed out.
    pub fn wait(self) -> OpResult<T> {
        self.rx.recv().unwrap_or_else(|_| Err(OpError::rejected("host closed")))
    }

    /// Waits at most `limit` for the outcome: [`OpError::TimedOut`] after
    /// it. The host completes every operation at its deadline, but only
    /// when the worker runs: one blocked in a log write whose disk stalls
    /// completes nothing until the disk returns.
    pub fn wait_timeout(self, limit: Duration) -> OpResult<T> {
        match self.rx.recv_timeout(limit) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(OpError::TimedOut),
            Err(RecvTimeoutError::Disconnected) => Err(OpError::rejected("host closed")),
        }
    }

    /// The outcome if it is known, without waiting.
    pub fn try_take(&self) -> Option<OpResult<T>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Some(Err(OpError::rejected("host closed"))),
        }
    }
}

/// A membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Add a voter (or promote a learner) running on `host`.
    AddReplica {
        /// The new replica's id.
        replica: u64,
        /// The host that runs it.
        host: u64,
    },
    /// Add a non-voting learner running on `host`.
    AddLearner {
        /// The new replica's id.
        replica: u64,
        /// The host that runs it.
        host: u64,
    },
    /// Remove a replica (voter or learner).
    RemoveReplica {
        /// The replica's id.
        replica: u64,
    },
}

/// One process's runtime for many raft groups.
pub struct Host {
    env: Arc<Env>,
    inbound: Inbound,
    closed: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The shards, when the caller drives them (`HostConfig::manual`).
    manual: Option<Mutex<Vec<Shard>>>,
}

impl Host {
    /// Creates a host and, unless `config.manual`, starts its workers.
    pub fn new(config: HostConfig, parts: HostParts) -> Result<Host, HostError> {
        if config.host_id == 0 {
            return Err(HostError::Invalid("host id 0 is reserved".into()));
        }
        if config.tick_interval.is_zero() {
            return Err(HostError::Invalid("tick_interval must be positive".into()));
        }
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let metrics = Arc::new(HostMetrics::default());
        let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
        let env = Arc::new(Env {
            host_id: config.host_id,
            committer: Committer::new(parts.log.clone(), metrics.clone()),
            cfg: config,
            log: parts.log,
            snapshots: parts.snapshots,
            transport: parts.transport,
            clock: parts.clock,
            metrics,
        });
        let mut senders = Vec::new();
        let mut shards = Vec::new();
        for i in 0..workers {
            let (tx, rx) = crossbeam_channel::unbounded();
            senders.push(tx);
            shards.push(Shard::new(env.clone(), rx, i, seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        }
        let inbound = Inbound::new(senders);
        let closed = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let manual = if env.cfg.manual {
            Some(Mutex::new(shards))
        } else {
            for (i, shard) in shards.into_iter().enumerate() {
                let t = std::thread::Builder::new()
                    .name(format!("polyraft-host-{}-w{i}", env.host_id))
                    .spawn(move || worker(shard))
                    .map_err(|e| HostError::Invalid(format!("spawning a worker: {e}")))?;
                threads.push(t);
            }
            None
        };
        Ok(Host { env, inbound, closed, threads: Mutex::new(threads), manual })
    }

    /// This host's id.
    pub fn id(&self) -> u64 {
        self.env.host_id
    }

    /// Where the transport delivers frames for this host.
    pub fn inbound(&self) -> Inbound {
        self.inbound.clone()
    }

    /// Runs one round of every worker (manual mode only); true when any
    /// did something, so a driver repeats until false.
    pub fn run_once(&self) -> bool {
        let Some(m) = &self.manual else { return false };
        let mut any = false;
        for s in m.lock().iter_mut() {
            any |= s.run_once();
        }
        any
    }

    /// Runs `f` on the shard of `group` and returns its value: directly in
    /// manual mode, else through the worker's inbox.
    fn call<T: Send + 'static>(&self, group: u64, f: impl FnOnce(&mut Shard) -> T + Send + 'static) -> Result<T, HostError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(HostError::Closed);
        }
        if let Some(m) = &self.manual {
            let mut shards = m.lock();
            let i = self.inbound.shard_of(group);
            return Ok(f(&mut shards[i]));
        }
        let (tx, rx) = bounded(1);
        if !self.inbound.send(group, Cmd::Exec(Box::new(move |s| drop(tx.send(f(s)))))) {
            return Err(HostError::Closed);
        }
        rx.recv().map_err(|_| HostError::Closed)
    }

    /// Queues `f` for the shard of `group`; `done` is rejected at once when
    /// the host is closed.
    fn submit<T>(&self, group: u64, done: Completion<T>, f: impl FnOnce(&mut Shard, Completion<T>) + Send + 'static)
    where
        T: 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            done(Err(OpError::rejected("host closed")));
            return;
        }
        self.inbound.send(group, Cmd::Exec(Box::new(move |s| f(s, done))));
    }

    fn deadline(&self, timeout: Duration) -> Duration {
        self.env.clock.now() + timeout
    }

    /// Waits for a blocking call's outcome. The worker completes it at its
    /// deadline (checked every tick); if the worker cannot run (its log
    /// write is stuck on a stalled disk) the caller still returns, timed
    /// out, a little later, instead of hanging with the worker. In manual
    /// mode time is simulated and the caller drives the workers: no limit.
    fn wait_blocking<T>(&self, p: Pending<T>, timeout: Duration) -> OpResult<T> {
        if self.manual.is_some() {
            return p.wait();
        }
        p.wait_timeout(timeout + self.env.cfg.tick_interval * 2 + Duration::from_millis(500))
    }

    /// Starts a replica of `group` with id `replica` on this host: restarts
    /// it from the log when the log has the group, else bootstraps or joins
    /// as `mode` says. `factory` builds its state machine.
    pub fn start_replica(&self, group: u64, replica: u64, mode: StartMode, factory: StateMachineFactory) -> Result<(), HostError> {
        self.call(group, move |s| s.start_replica(group, replica, mode, factory))?
    }

    /// Stops the local replica of `group` (its log and snapshot stay, so
    /// it can be started again). Waiting operations complete: proposals as
    /// timed out (they may still commit), the others as rejected.
    pub fn stop_replica(&self, group: u64) -> Result<(), HostError> {
        if self.call(group, move |s| s.stop(group))? {
            Ok(())
        } else {
            Err(HostError::Invalid(format!("group {group} has no replica on this host")))
        }
    }

    /// Proposes `cmd` and waits for the state machine's result for it.
    pub fn propose(&self, group: u64, cmd: &[u8], timeout: Duration) -> OpResult<Bytes> {
        let (p, done) = Pending::pair();
        self.propose_async(group, cmd, timeout, done);
        self.wait_blocking(p, timeout)
    }

    /// Proposes `cmd`; `done` receives the outcome (called on a worker
    /// thread: it must not block).
    pub fn propose_async(&self, group: u64, cmd: &[u8], timeout: Duration, done: Completion<Bytes>) {
        let cmd = cmd.to_vec();
        let deadline = self.deadline(timeout);
        self.submit(group, done, move |s, done| s.propose(group, |o| envelope::plain(o, &cmd), deadline, done));
    }

    /// Proposes `cmd` in a session and waits: a proposal retried with the
    /// same session state is applied at most once.
    pub fn propose_session(&self, session: &Session, cmd: &[u8], timeout: Duration) -> OpResult<Bytes> {
        let (p, done) = Pending::pair();
        self.propose_session_async(session, cmd, timeout, done);
        self.wait_blocking(p, timeout)
    }

    /// The non-blocking form of [`Host::propose_session`].
    pub fn propose_session_async(&self, session: &Session, cmd: &[u8], timeout: Duration, done: Completion<Bytes>) {
        let cmd = cmd.to_vec();
        let tag = SessionTag { client: session.client_id, series: session.series(), responded_to: session.responded_to() };
        let group = session.group;
        let deadline = self.deadline(timeout);
        self.submit(group, done, move |s, done| s.propose(group, |o| envelope::session(o, tag, &cmd), deadline, done));
    }

    /// Drops the session's state in the group (its cached results).
    pub fn close_session(&self, session: &Session, timeout: Duration) -> OpResult<()> {
        let (p, done) = Pending::pair();
        let (group, client) = (session.group, session.client_id);
        let deadline = self.deadline(timeout);
        self.submit(group, done, move |s, done| s.propose(group, |o| envelope::close_session(o, client), deadline, done));
        self.wait_blocking(p, timeout).map(|_| ())
    }

    /// A linearizable read: confirms leadership (ReadIndex), waits until the
    /// read index is applied locally, then runs `lookup`.
    pub fn read(&self, group: u64, query: &[u8], timeout: Duration) -> OpResult<Bytes> {
        let (p, done) = Pending::pair();
        self.read_async(group, query, timeout, done);
        self.wait_blocking(p, timeout)
    }

    /// The non-blocking form of [`Host::read`].
    pub fn read_async(&self, group: u64, query: &[u8], timeout: Duration, done: Completion<Bytes>) {
        let query = Bytes::copy_from_slice(query);
        let deadline = self.deadline(timeout);
        self.submit(group, done, move |s, done| s.read(group, query, deadline, done));
    }

    /// Runs `lookup` on the local replica as it is (may be stale).
    pub fn stale_read(&self, group: u64, query: &[u8]) -> OpResult<Bytes> {
        let (p, done) = Pending::pair();
        self.stale_read_async(group, query, done);
        p.wait()
    }

    /// The non-blocking form of [`Host::stale_read`].
    pub fn stale_read_async(&self, group: u64, query: &[u8], done: Completion<Bytes>) {
        let query = query.to_vec();
        self.submit(group, done, move |s, done| s.stale_read(group, &query, done));
    }

    /// Changes the group's membership and waits until the change is applied
    /// here. The new replica's host travels with the change, so every
    /// member learns its address.
    ///
    /// A removed replica stops (and its host deletes its state) a few
    /// election timeouts after it applies its removal, answering votes
    /// meanwhile. When the voters that stay are too few to elect a leader
    /// under the old configuration (a group of two losing one), it also
    /// waits until each of them confirms that it applied the removal, so
    /// that none can come back from a crash needing its vote.
    pub fn change_membership(&self, group: u64, change: Membership, timeout: Duration) -> OpResult<()> {
        let (p, done) = Pending::pair();
        self.change_membership_async(group, change, timeout, done);
        self.wait_blocking(p, timeout)
    }

    /// The non-blocking form of [`Host::change_membership`].
    pub fn change_membership_async(&self, group: u64, change: Membership, timeout: Duration, done: Completion<()>) {
        self.change_membership_at_async(group, change, String::new(), timeout, done)
    }

    /// Adds a voting replica (or promotes a learner) on `host`, whose
    /// network address `addr` travels with the change: every member's
    /// transport learns it when it applies the change.
    pub fn add_replica_at(&self, group: u64, replica: u64, host: u64, addr: &str, timeout: Duration) -> OpResult<()> {
        let (p, done) = Pending::pair();
        self.change_membership_at_async(group, Membership::AddReplica { replica, host }, addr.to_string(), timeout, done);
        self.wait_blocking(p, timeout)
    }

    /// [`Host::change_membership_async`] with the network address of the
    /// new replica's host (empty: none).
    pub fn change_membership_at_async(&self, group: u64, change: Membership, addr: String, timeout: Duration, done: Completion<()>) {
        let (kind, node, host) = match change {
            Membership::AddReplica { replica, host } => (ConfChangeType::ConfChangeAddNode, replica, host),
            Membership::AddLearner { replica, host } => (ConfChangeType::ConfChangeAddLearnerNode, replica, host),
            Membership::RemoveReplica { replica } => (ConfChangeType::ConfChangeRemoveNode, replica, 0),
        };
        if node == 0 {
            done(Err(OpError::rejected("replica id 0 is reserved")));
            return;
        }
        let deadline = self.deadline(timeout);
        self.submit(group, done, move |s, done| s.propose_conf(group, kind, node, host, &addr, deadline, done));
    }

    /// Adds a voting replica (or promotes a learner) on `host`.
    pub fn add_replica(&self, group: u64, replica: u64, host: u64, timeout: Duration) -> OpResult<()> {
        self.change_membership(group, Membership::AddReplica { replica, host }, timeout)
    }

    /// Adds a learner on `host`.
    pub fn add_learner(&self, group: u64, replica: u64, host: u64, timeout: Duration) -> OpResult<()> {
        self.change_membership(group, Membership::AddLearner { replica, host }, timeout)
    }

    /// Adds a witness (docs/witness.md) running on `host`: a voter that
    /// receives entry metadata but no payloads, keeps no state machine and
    /// never leads. Start it there with [`Host::start_witness`]. Refused
    /// when `replica` is already a data replica or learner, or when no data
    /// voter would remain.
    pub fn add_witness(&self, group: u64, replica: u64, host: u64, timeout: Duration) -> OpResult<()> {
        self.add_witness_at(group, replica, host, "", timeout)
    }

    /// [`Host::add_witness`] with the network address of the witness's
    /// host (empty: none), which every member's transport learns.
    pub fn add_witness_at(&self, group: u64, replica: u64, host: u64, addr: &str, timeout: Duration) -> OpResult<()> {
        let (p, done) = Pending::pair();
        self.add_witness_async(group, replica, host, addr.to_string(), timeout, done);
        p.wait()
    }

    /// The non-blocking form of [`Host::add_witness_at`].
    pub fn add_witness_async(&self, group: u64, replica: u64, host: u64, addr: String, timeout: Duration, done: Completion<()>) {
        if replica == 0 {
            done(Err(OpError::rejected("replica id 0 is reserved")));
            return;
        }
        let deadline = self.deadline(timeout);
        let kind = ConfChangeType::ConfChangeAddWitnessNode;
        self.submit(group, done, move |s, done| s.propose_conf(group, kind, replica, host, &addr, deadline, done));
    }

    /// Starts the witness replica `replica` of `group` on this host: like
    /// [`Host::start_replica`] but with no state machine. Proposals, reads
    /// and stale reads on it are refused; membership changes and leader
    /// transfers (to a data replica) may go through it.
    pub fn start_witness(&self, group: u64, replica: u64, mode: StartMode) -> Result<(), HostError> {
        self.call(group, move |s| s.start_witness(group, replica, mode))?
    }

    /// Removes a replica.
    pub fn remove_replica(&self, group: u64, replica: u64, timeout: Duration) -> OpResult<()> {
        self.change_membership(group, Membership::RemoveReplica { replica }, timeout)
    }

    /// Asks the group to make `target` its leader; completes when the local
    /// replica sees `target` lead.
    pub fn transfer_leader(&self, group: u64, target: u64, timeout: Duration) -> OpResult<()> {
        let (p, done) = Pending::pair();
        self.transfer_leader_async(group, target, timeout, done);
        self.wait_blocking(p, timeout)
    }

    /// The non-blocking form of [`Host::transfer_leader`].
    pub fn transfer_leader_async(&self, group: u64, target: u64, timeout: Duration, done: Completion<()>) {
        let deadline = self.deadline(timeout);
        self.submit(group, done, move |s, done| s.transfer_leader(group, target, deadline, done));
    }

    /// Tells the host that `host` is down (a transport's failure detector
    /// calls this). Quiesced groups do not tick, so they cannot notice a
    /// dead leader by themselves: every local replica whose leader runs
    /// there wakes up and, after an election timeout, elects a new one.
    /// Returns how many woke.
    pub fn report_host_down(&self, host: u64) -> usize {
        self.each_shard(move |s| s.wake_led_by(host)).into_iter().sum()
    }

    /// Leader, term, members and indexes of the local replica of `group`.
    pub fn group_info(&self, group: u64) -> Option<GroupInfo> {
        self.call(group, move |s| s.group_info(group)).ok().flatten()
    }

    /// Every worker's answer to `f`, in shard order.
    fn each_shard<T: Send + 'static>(&self, f: impl Fn(&mut Shard) -> T + Send + Sync + 'static) -> Vec<T> {
        if let Some(m) = &self.manual {
            return m.lock().iter_mut().map(&f).collect();
        }
        let f = Arc::new(f);
        let mut rxs = Vec::new();
        self.inbound.send_all(|| {
            let (tx, rx) = bounded(1);
            rxs.push(rx);
            let f = f.clone();
            Cmd::Exec(Box::new(move |s| drop(tx.send(f(s)))))
        });
        rxs.into_iter().filter_map(|rx| rx.recv_timeout(Duration::from_secs(30)).ok()).collect()
    }

    /// The host's counters and gauges.
    pub fn metrics(&self) -> HostMetricsSnapshot {
        let mut m = self.env.metrics.snapshot();
        for (groups, active, pending) in self.each_shard(|s| s.gauges()) {
            m.groups += groups;
            m.active_groups += active;
            m.pending_ops += pending;
        }
        m.queue_depth = self.inbound.queue_depth();
        m
    }

    /// Every local replica's counters and gauges.
    pub fn group_metrics(&self) -> Vec<GroupMetrics> {
        let mut v: Vec<GroupMetrics> = self.each_shard(|s| s.group_metrics()).into_iter().flatten().collect();
        v.sort_by_key(|g| g.group);
        v
    }

    /// The host's and its groups' metrics as Prometheus text.
    pub fn prometheus(&self) -> String {
        let mut out = self.metrics().prometheus(self.id());
        for g in self.group_metrics() {
            out.push_str(&g.prometheus(self.id()));
        }
        out
    }

    /// Stops every replica and worker. Waiting operations complete (see
    /// [`Host::stop_replica`]); later calls are rejected.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(m) = &self.manual {
            for s in m.lock().iter_mut() {
                s.handle(Cmd::Close);
            }
            return;
        }
        self.inbound.send_all(|| Cmd::Close);
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.close();
    }
}

/// A step worker: rounds while there is work, then waits for input or the
/// next tick.
fn worker(mut shard: Shard) {
    loop {
        while shard.run_once() {}
        if shard.closed {
            return;
        }
        let clock = shard.env.clock.clone();
        let wait = match shard.next_wakeup() {
            Some(at) => at.saturating_sub(clock.now()),
            // Nothing ticks: sleep until a command or message arrives.
            None => Duration::from_secs(3600),
        };
        match shard.rx.recv_timeout(wait) {
            Ok(cmd) => shard.handle(cmd),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if shard.closed {
            return;
        }
    }
}
