//! A step worker's shard of groups and one round of its loop.
//!
//! A round: take the inbox (client operations and received messages),
//! tick the groups that are not quiesced, collect the Readies of every
//! group touched, write all of their entries, hard states and snapshot
//! metadata to the log as one batch (group commit), then per group: send
//! its messages (only now, when what they announce is durable), install a
//! received snapshot, apply committed entries, answer reads, advance, and
//! maybe take a snapshot. Messages to each remote host go out as one frame
//! per round.
//!
//! Everything a round does depends only on its inputs and the clock, so a
//! simulation can run shards of many hosts in one thread.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::RwLock;
use polyraft::raftpb::{is_empty_hard_state, is_empty_snap, ConfChange, ConfChangeI, ConfChangeType, EntryType, HardState, Message, MessageType};
use polyraft::{Config, Peer, RawNode, Ready, SnapshotStatus, StateType};
use polyraft_logstore::{GroupWrite, LogStore, WriteBatch};

use crate::clock::Clock;
use crate::commit::Committer;
use crate::config::{GroupInfo, HostConfig, StartMode};
use crate::envelope::{self, Origin};
use crate::error::{HostError, OpError};
use crate::metrics::{GroupMetrics, HostMetrics};
use crate::replica::{Completion, PendingConf, PendingProposal, PendingRead, PendingTransfer, QueuedProposal, Replica};
use crate::snapdata::{CheckedReader, DataRef};
use crate::snapshots::SnapshotStore;
use crate::statemachine::StateMachineFactory;
use crate::storage::GroupStorage;
use crate::transport::{Frame, GroupMessage, Transport};

/// The context of the heartbeat a quiescing leader sends: followers that
/// receive it stop ticking too. Not 8 bytes long, so raft's ReadIndex
/// bookkeeping (which uses 8-byte heartbeat contexts) never mistakes it.
pub(crate) const QUIESCE_CTX: &[u8] = b"polyraft/quiesce";

/// The context of a removed replica's question to a voter it waits for
/// (`Replica::removal_waits`): "have you applied my removal at `index`?".
/// The host answers it and never steps it into raft (its term is 0).
pub(crate) const REMOVAL_ASK_CTX: &[u8] = b"polyraft/removal?";

/// The context of the answer: the voter applied the removal at `index`,
/// and its commit index covering it is durable (a Ready that commits a
/// configuration change is synced, see `process_readies`).
pub(crate) const REMOVAL_DONE_CTX: &[u8] = b"polyraft/removal!";

/// What a shard's inbox carries.
pub(crate) enum Cmd {
    /// Run on the shard (client operations, start/stop, queries).
    Exec(Box<dyn FnOnce(&mut Shard) + Send>),
    /// Messages received from a host.
    Messages { from: u64, msgs: Vec<GroupMessage> },
    /// Stop the worker.
    Close,
}

/// Where frames for a host are delivered: routes each message to the
/// shard that runs its group. Cheap to clone; the transport keeps one.
#[derive(Clone)]
pub struct Inbound {
    shards: Arc<Vec<Sender<Cmd>>>,
}


/// Why a witness replica refuses proposals and reads (docs/witness.md).
const WITNESS_REFUSES: &str = "this replica is a witness: it keeps no state machine; send proposals and reads to a data replica";

impl Inbound {
    pub(crate) fn new(shards: Vec<Sender<Cmd>>) -> Self {
        Inbound { shards: Arc::new(shards) }
    }

    pub(crate) fn shard_of(&self, group: u64) -> usize {
        (group % self.shards.len() as u64) as usize
    }

    /// Hands a frame received from host `from` to the host's workers.
    pub fn deliver(&self, from: u64, frame: Frame) {
        if self.shards.len() == 1 {
            let _ = self.shards[0].send(Cmd::Messages { from, msgs: frame });
            return;
        }
        let mut parts: Vec<Vec<GroupMessage>> = vec![Vec::new(); self.shards.len()];
        for gm in frame {
            parts[self.shard_of(gm.group)].push(gm);
        }
        for (i, msgs) in parts.into_iter().enumerate() {
            if !msgs.is_empty() {
                let _ = self.shards[i].send(Cmd::Messages { from, msgs });
            }
        }
    }

    /// Messages of `groups` to host `to` were lost (a transport's queue was
    /// full or the host is unreachable): raft stops pipelining to that
    /// host's replicas of those groups until it hears from them again.
    pub fn report_unreachable(&self, to: u64, groups: &[u64]) {
        for &group in groups {
            self.send(group, Cmd::Exec(Box::new(move |s| s.report_unreachable_host(group, to))));
        }
    }

    /// A snapshot of `group` streamed to `replica` ended (`ok`: stored by
    /// the receiver); raft's `report_snapshot` for transports that stream
    /// snapshots ([`crate::Transport::send_snapshot`]).
    pub fn report_snapshot(&self, group: u64, replica: u64, ok: bool) {
        self.send(group, Cmd::Exec(Box::new(move |s| s.report_snapshot_status(group, replica, ok))));
    }

    /// Queues a command for the shard of `group`; false when the worker
    /// is gone.
    pub(crate) fn send(&self, group: u64, cmd: Cmd) -> bool {
        self.shards[self.shard_of(group)].send(cmd).is_ok()
    }

    pub(crate) fn send_all(&self, mut mk: impl FnMut() -> Cmd) {
        for s in self.shards.iter() {
            let _ = s.send(mk());
        }
    }

    pub(crate) fn queue_depth(&self) -> u64 {
        self.shards.iter().map(|s| s.len() as u64).sum()
    }
}

/// What every shard of a host shares.
pub(crate) struct Env {
    pub host_id: u64,
    pub cfg: HostConfig,
    pub log: Arc<dyn LogStore>,
    pub snapshots: Arc<dyn SnapshotStore>,
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    pub committer: Committer,
    pub metrics: Arc<HostMetrics>,
}

/// The groups of one step worker.
pub(crate) struct Shard {
    pub env: Arc<Env>,
    pub rx: Receiver<Cmd>,
    pub replicas: BTreeMap<u64, Replica>,
    /// Groups that tick (not quiesced).
    active: BTreeSet<u64>,
    /// Groups touched since their last Ready check.
    dirty: BTreeSet<u64>,
    /// Groups with client operations waiting (deadlines to check).
    pending: BTreeSet<u64>,
    /// Groups with proposals queued in this round (`Replica::queued`).
    proposing: BTreeSet<u64>,
    outbox: BTreeMap<u64, Frame>,
    next_tick: Duration,
    /// When shard 0 next asks the log to purge (the other shards never do).
    next_purge: Option<Duration>,
    rng: fastrand::Rng,
    pub closed: bool,
}

impl Shard {
    pub fn new(env: Arc<Env>, rx: Receiver<Cmd>, index: usize, seed: u64) -> Self {
        let next_tick = env.clock.now() + env.cfg.tick_interval;
        let purge = env.cfg.purge_interval;
        let next_purge = (index == 0 && !purge.is_zero()).then(|| env.clock.now() + purge);
        Shard {
            env,
            rx,
            replicas: BTreeMap::new(),
            active: BTreeSet::new(),
            dirty: BTreeSet::new(),
            pending: BTreeSet::new(),
            proposing: BTreeSet::new(),
            outbox: BTreeMap::new(),
            next_tick,
            next_purge,
            rng: fastrand::Rng::with_seed(seed),
            closed: false,
        }
    }

    /// One round; true when it did anything (run it again at once).
    pub fn run_once(&mut self) -> bool {
        let mut work = false;
        while let Ok(cmd) = self.rx.try_recv() {
            self.handle(cmd);
            work = true;
        }
        if self.closed {
            return false;
        }
        self.flush_proposals();
        let now = self.env.clock.now();
        if now >= self.next_tick {
            self.tick();
            // Deadlines are checked once per tick: scanning every waiting
            // operation each round would cost more than the rounds.
            self.expire(now);
            self.next_tick += self.env.cfg.tick_interval;
            if self.next_tick <= now {
                self.next_tick = now + self.env.cfg.tick_interval;
            }
        }
        work |= self.process_readies();
        if self.next_purge.is_some_and(|at| now >= at) {
            self.next_purge = Some(now + self.env.cfg.purge_interval);
            if let Err(e) = self.env.log.purge() {
                eprintln!("polyraft-host {}: log purge failed: {e}", self.env.host_id);
            }
        }
        // Quiesce heartbeats are queued outside any Ready: send them now.
        if !self.outbox.is_empty() {
            self.flush_outbox();
            work = true;
        }
        work
    }

    /// When the worker must run again without input: the next tick while
    /// any group ticks or waits on a deadline; otherwise not until a
    /// command or message arrives.
    pub fn next_wakeup(&self) -> Option<Duration> {
        (!self.active.is_empty() || !self.pending.is_empty()).then_some(self.next_tick)
    }

    pub fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Exec(f) => f(self),
            Cmd::Messages { from, msgs } => self.receive(from, msgs),
            Cmd::Close => self.close(),
        }
    }

    fn close(&mut self) {
        self.closed = true;
        for (_, mut r) in std::mem::take(&mut self.replicas) {
            r.fail_all();
        }
        self.active.clear();
        self.dirty.clear();
        self.pending.clear();
    }

    fn receive(&mut self, from_host: u64, msgs: Vec<GroupMessage>) {
        let metrics = self.env.metrics.clone();
        metrics.messages_received.add(msgs.len() as u64);
        for GroupMessage { group, message: m } in msgs {
            let Some(r) = self.replicas.get_mut(&group) else { continue };
            // The transport authenticated the sending host; a member of the
            // group that lives on another host cannot speak through it. A
            // MsgTransferLeader is the exception: its `from` names the
            // transferee (etcd's convention), and any follower forwards it
            // to the leader, so it says nothing about who sent it.
            let sender = (m.r#type != MessageType::MsgTransferLeader as i32).then_some(m.from);
            if sender.is_some_and(|id| r.members.get(&id).is_some_and(|h| *h != from_host)) {
                metrics.step_errors.inc();
                if std::env::var_os("POLYRAFT_HOST_DEBUG").is_some() {
                    eprintln!("host {} group {group}: host {from_host} sent a message as replica {}, which is on another host", self.env.host_id, m.from);
                }
                continue;
            }
            if let Some(id) = sender.filter(|id| *id != 0 && r.learned.get(id) != Some(&from_host)) {
                r.learned.insert(id, from_host);
            }
            if m.context == REMOVAL_ASK_CTX || m.context == REMOVAL_DONE_CTX {
                self.removal_notice(group, m);
                continue;
            }
            if r.removed && r.removal_votes_for == Some(m.from) && !r.removal_waits.is_empty() {
                if let Some(grant) = removal_vote(&m) {
                    self.queue_send(group, grant);
                    continue;
                }
            }
            if m.r#type == MessageType::MsgSnap as i32
                && !r.witness
                && !m.snapshot.as_ref().is_some_and(|s| Replica::snapshot_data_well_formed(&s.data))
            {
                metrics.step_errors.inc();
                if std::env::var_os("POLYRAFT_HOST_DEBUG").is_some() {
                    eprintln!("host {} group {group}: refused a snapshot from {} whose data is malformed", self.env.host_id, m.from);
                }
                continue;
            }
            // Heartbeat responses carry nothing new: they never wake.
            let quiesce_hb = m.context == QUIESCE_CTX || m.r#type == MessageType::MsgHeartbeatResp as i32;
            let is_hb = m.r#type == MessageType::MsgHeartbeat as i32;
            let m_ctx_quiesce = m.context == QUIESCE_CTX;
            let from = m.from;
            let term = m.term;
            if let Err(e) = r.node.step_peer(m) {
                metrics.step_errors.inc();
                if std::env::var_os("POLYRAFT_HOST_DEBUG").is_some() {
                    eprintln!("host {} group {group}: refused a message from {from}: {e}", self.env.host_id);
                }
                continue;
            }
            self.dirty.insert(group);
            let r = self.replicas.get_mut(&group).unwrap();
            if quiesce_hb && is_hb && m_ctx_quiesce {
                let raft = r.node.raft();
                if raft.state() == StateType::Follower && raft.lead() == from && raft.term() == term && !r.has_pending() && !r.removed {
                    if !r.quiesced {
                        r.quiesced = true;
                        self.active.remove(&group);
                        metrics.quiesces.inc();
                    }
                    continue;
                }
            }
            if !quiesce_hb {
                self.wake(group);
            }
        }
    }

    /// Resumes ticking a quiesced group. Messages wake a group without
    /// resetting its idle count (heartbeats flow in an idle group); see
    /// [`Shard::touch`] for client operations.
    fn wake(&mut self, group: u64) {
        // Every replica that is not quiesced is in `active` already.
        if let Some(r) = self.replicas.get_mut(&group) {
            if r.quiesced {
                r.idle_ticks = 0;
                r.quiesced = false;
                self.env.metrics.wakeups.inc();
                self.active.insert(group);
            }
        }
    }

    /// Wakes every quiesced replica whose leader runs on `host`: that host
    /// is down, and only ticking followers can elect a new leader.
    pub fn wake_led_by(&mut self, host: u64) -> usize {
        let groups: Vec<u64> = self
            .replicas
            .iter()
            .filter(|(_, r)| r.quiesced && r.host_of(r.node.raft().lead()) == Some(host))
            .map(|(g, _)| *g)
            .collect();
        for g in &groups {
            self.wake(*g);
        }
        groups.len()
    }

    /// A client operation: wakes the group and restarts its idle count.
    fn touch(&mut self, group: u64) {
        self.wake(group);
        if let Some(r) = self.replicas.get_mut(&group) {
            r.idle_ticks = 0;
        }
    }

    fn tick(&mut self) {
        let quiesce_after = if self.env.cfg.quiesce {
            self.env.cfg.quiesce_after_elections.max(1) * self.env.cfg.election_ticks as u64
        } else {
            u64::MAX
        };
        let groups: Vec<u64> = self.active.iter().copied().collect();
        self.env.metrics.group_ticks.add(groups.len() as u64);
        for g in groups {
            let Some(r) = self.replicas.get_mut(&g) else {
                self.active.remove(&g);
                continue;
            };
            // A removed replica lingers for a few election timeouts before
            // it stops: the remaining voters may not know yet that its
            // removal committed (a removed leader applies it first), and
            // in a group of two they need its vote to elect a leader that
            // commits it. Not a voter any more, it never campaigns.
            //
            // In a group whose remaining voters cannot elect a leader under
            // the old configuration without it (two voters, one removed),
            // it also waits until each of them answers that it applied the
            // removal durably: one that crashed before syncing the commit
            // index would come back with the old configuration and need
            // this replica's vote for ever.
            if r.removed {
                r.linger_ticks += 1;
                if r.linger_ticks > 4 * self.env.cfg.election_ticks as u64 && r.removal_waits.is_empty() {
                    self.finish_removal(g);
                    continue;
                }
            }
            let asks: Vec<Message> = if r.removed && r.linger_ticks % self.env.cfg.heartbeat_ticks.max(1) as u64 == 0 {
                r.removal_waits.iter().map(|to| removal_message(MessageType::MsgHeartbeat, r.id, *to, r.removal_index, REMOVAL_ASK_CTX)).collect()
            } else {
                Vec::new()
            };
            // Decide before ticking: a quiescing leader must not send a
            // regular heartbeat after its quiesce heartbeat, which would
            // wake the followers again.
            if r.can_quiesce() && !r.removed {
                r.idle_ticks += 1;
                if r.idle_ticks >= quiesce_after {
                    self.quiesce_leader(g);
                    continue;
                }
            } else {
                r.idle_ticks = 0;
            }
            r.node.tick();
            self.dirty.insert(g);
            for m in asks {
                self.queue_send(g, m);
            }
        }
    }

    /// Stops ticking a leader whose group is idle, and tells its followers
    /// to stop too with a heartbeat marked for quiescence.
    fn quiesce_leader(&mut self, g: u64) {
        let r = self.replicas.get_mut(&g).unwrap();
        let raft = r.node.raft();
        let (id, term, committed) = (r.id, raft.term(), raft.raft_log().committed);
        let mut hbs = Vec::new();
        r.node.with_progress(|peer, pr| {
            if peer != id {
                hbs.push(Message {
                    r#type: MessageType::MsgHeartbeat as i32,
                    to: peer,
                    from: id,
                    term,
                    commit: pr.matched.min(committed),
                    context: Bytes::from_static(QUIESCE_CTX),
                    ..Default::default()
                });
            }
        });
        r.quiesced = true;
        self.active.remove(&g);
        self.env.metrics.quiesces.inc();
        for m in hbs {
            self.queue_send(g, m);
        }
    }

    fn expire(&mut self, now: Duration) {
        if self.pending.is_empty() {
            return;
        }
        let groups: Vec<u64> = self.pending.iter().copied().collect();
        for g in groups {
            match self.replicas.get_mut(&g) {
                Some(r) => {
                    r.expire(now, &self.env.metrics);
                    if !r.has_pending() {
                        self.pending.remove(&g);
                    }
                }
                None => {
                    self.pending.remove(&g);
                }
            }
        }
    }

    fn process_readies(&mut self) -> bool {
        if self.dirty.is_empty() {
            return false;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let mut readies: Vec<(u64, Ready)> = Vec::new();
        // Messages that go out before the write (see below).
        let mut early: Vec<(u64, Vec<Message>)> = Vec::new();
        let mut batch = WriteBatch::default();
        let mut sync = false;
        let mut failed = Vec::new();
        for g in dirty {
            let Some(r) = self.replicas.get_mut(&g) else { continue };
            if r.want_snapshot.swap(false, std::sync::atomic::Ordering::AcqRel) {
                self.take_snapshot(g);
            }
            let Some(r) = self.replicas.get_mut(&g) else { continue };
            if !r.node.has_ready() {
                continue;
            }
            let mut rd = r.node.ready();
            let mut gw = GroupWrite { group: g, ..Default::default() };
            if let Some(snap) = rd.snapshot.as_ref().filter(|s| !is_empty_snap(s)) {
                // The data first: the log's record of the snapshot must
                // never point at data that is not on disk.
                if let Err(e) = self.env.snapshots.save(g, snap) {
                    failed.push((g, format!("saving a received snapshot: {e}")));
                    continue;
                }
                *r.snapshot.write() = snap.clone();
                gw.snapshot = snap.metadata.clone();
            }
            if r.node.raft().state() == StateType::Leader && !rd.messages.is_empty() {
                // A leader's appends and heartbeats go out while it writes
                // its own log (Raft thesis 10.2.1, as etcd's server does):
                // the leader counts its own entries only once they are
                // durable (its self-acknowledgement is stepped on advance,
                // after the write), so a quorum never includes an entry
                // only its memory holds. Responses that promise durability
                // still wait for the write.
                let (now, after): (Vec<Message>, Vec<Message>) = std::mem::take(&mut rd.messages).into_iter().partition(|m| !promises_durability(m));
                rd.messages = after;
                early.push((g, now));
            }
            gw.entries = std::mem::take(&mut rd.entries);
            gw.hard_state = rd.hard_state.filter(|hs| !is_empty_hard_state(hs));
            // A commit index alone is not synced (etcd's MustSync), but one
            // that covers a configuration change is: a replica that forgot
            // a committed removal after a crash would need the removed
            // replica's vote (see `Shard::tick` and `removal_notice`).
            let commits_conf = rd.committed_entries.iter().any(|e| {
                e.r#type == EntryType::EntryConfChange as i32 || e.r#type == EntryType::EntryConfChangeV2 as i32
            });
            sync |= rd.must_sync || gw.snapshot.is_some() || commits_conf;
            if gw.snapshot.is_some() || !gw.entries.is_empty() || gw.hard_state.is_some() {
                batch.groups.push(gw);
            }
            readies.push((g, rd));
        }
        for (g, why) in failed {
            self.stop_failed(g, &why);
        }
        if readies.is_empty() {
            return false;
        }
        if !early.is_empty() {
            for (g, msgs) in early {
                for m in msgs {
                    self.queue_send(g, m);
                }
            }
            self.flush_outbox();
        }
        if !batch.groups.is_empty() {
            // Mutant (make mutants-host): the write is not synced, so the
            // messages sent after it acknowledge entries that are not durable.
            let sync = sync && !cfg!(polyraft_host_mutant = "ack_before_fsync");
            if let Err(e) = self.env.committer.write(batch, sync) {
                for (g, _) in readies {
                    self.stop_failed(g, &format!("log write failed: {e}"));
                }
                return true;
            }
        }
        for (g, rd) in readies {
            self.handle_ready(g, rd);
        }
        self.flush_outbox();
        true
    }

    fn stop_failed(&mut self, g: u64, why: &str) {
        eprintln!("polyraft-host {}: group {g} stopped: {why}", self.env.host_id);
        self.stop(g);
    }

    /// After the Ready's state is durable: send, install, apply, advance.
    fn handle_ready(&mut self, g: u64, rd: Ready) {
        let metrics = self.env.metrics.clone();
        {
            let r = self.replicas.get_mut(&g).unwrap();
            if let Some(ss) = rd.soft_state {
                // A leader's soft state changes only when it becomes leader.
                if ss.raft_state == StateType::Leader {
                    r.stats.elections += 1;
                    metrics.elections.inc();
                }
            }
        }
        for m in rd.messages {
            self.queue_send(g, m);
        }
        let r = self.replicas.get_mut(&g).unwrap();
        let snap = rd.snapshot.filter(|s| !is_empty_snap(s));
        let committed = rd.committed_entries;
        let applied = guarded(|| {
            if let Some(snap) = &snap {
                r.install_snapshot(snap, &*self.env.snapshots)?;
                metrics.snapshots_installed.inc();
            }
            r.apply_committed(committed, &metrics);
            Ok(())
        });
        // Hosts whose address arrived with a membership change.
        for (h, addr) in std::mem::take(&mut r.new_addresses) {
            self.env.transport.add_peer(h, &addr);
        }
        if let Err(e) = applied {
            self.stop_failed(g, &e);
            return;
        }
        r.read_states(rd.read_states);
        if let Err(e) = r.node.advance() {
            self.stop_failed(g, &format!("raft failed: {e}"));
            return;
        }
        if let Err(e) = guarded(|| {
            r.complete_reads();
            Ok(())
        }) {
            self.stop_failed(g, &e);
            return;
        }
        r.check_transfers();
        self.maybe_snapshot(g);
        self.dirty.insert(g);
    }

    /// Handles a removed replica's question (`REMOVAL_ASK_CTX`) or a
    /// voter's answer (`REMOVAL_DONE_CTX`); neither is a raft message.
    fn removal_notice(&mut self, g: u64, m: Message) {
        let Some(r) = self.replicas.get_mut(&g) else { return };
        if m.context == REMOVAL_ASK_CTX {
            // Applied means durable: the Ready that committed it was
            // synced. A replica removed later (itself lingering) answers
            // too: what it applied stays applied.
            if m.index > 0 && r.applied >= m.index {
                let answer = removal_message(MessageType::MsgHeartbeatResp, r.id, m.from, m.index, REMOVAL_DONE_CTX);
                self.queue_send(g, answer);
            }
        } else if r.removed && m.index == r.removal_index {
            r.removal_waits.remove(&m.from);
        }
    }

    /// Takes a snapshot every `snapshot_entries` applied entries and
    /// compacts the log behind it, keeping `compaction_overhead` entries
    /// for followers that lag a little (they catch up from the log instead
    /// of receiving a snapshot).
    fn maybe_snapshot(&mut self, g: u64) {
        let every = self.env.cfg.snapshot_entries;
        let r = self.replicas.get_mut(&g).unwrap();
        if every == 0 || r.applied < r.snapshot_index + every {
            return;
        }
        self.take_snapshot(g);
    }

    /// Stops a replica whose own removal it applied, and deletes its state.
    fn finish_removal(&mut self, g: u64) {
        self.stop(g);
        // The log's removal must be durable before the snapshot goes:
        // a crash in between would otherwise bring back a compacted
        // log without the snapshot it needs, which cannot be started.
        let removed = self.env.log.remove_group(g).is_ok();
        if removed && self.env.committer.write(WriteBatch::default(), true).is_ok() {
            let _ = self.env.snapshots.remove(g);
        }
    }

    /// Snapshots the applied state of `g` and compacts its log.
    fn take_snapshot(&mut self, g: u64) {
        let Some(r) = self.replicas.get_mut(&g) else { return };
        if r.applied == r.snapshot_index {
            return;
        }
        let store = self.env.snapshots.clone();
        let snap = match guarded(|| r.make_snapshot(&*store)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("polyraft-host {}: group {g}: snapshot failed: {e}", self.env.host_id);
                return;
            }
        };
        if let Err(e) = self.env.snapshots.save(g, &snap) {
            eprintln!("polyraft-host {}: group {g}: saving snapshot failed: {e}", self.env.host_id);
            return;
        }
        r.snapshot_index = snap.index();
        *r.snapshot.write() = snap;
        r.stats.snapshots += 1;
        self.env.metrics.snapshots_created.inc();
        let compact_to = r.applied.saturating_sub(self.env.cfg.compaction_overhead);
        if compact_to >= self.env.log.first_index(g) {
            if let Err(e) = self.env.log.compact(g, compact_to) {
                eprintln!("polyraft-host {}: group {g}: compaction failed: {e}", self.env.host_id);
            }
        }
    }

    fn queue_send(&mut self, g: u64, mut m: Message) {
        let Some(r) = self.replicas.get_mut(&g) else { return };
        match r.host_of(m.to) {
            Some(h) => {
                let data_ref = m.snapshot.as_ref().and_then(|s| DataRef::decode(&s.data));
                if let (true, Some(dr)) = (m.r#type == MessageType::MsgSnap as i32, data_ref) {
                    if let Err(e) = self.send_snapshot_file(g, h, &mut m, dr) {
                        eprintln!("polyraft-host {}: group {g}: sending a snapshot to replica {}: {e}", self.env.host_id, m.to);
                        self.env.metrics.send_failures.inc();
                        let r = self.replicas.get_mut(&g).unwrap();
                        r.node.report_snapshot(m.to, SnapshotStatus::Failure);
                        r.node.report_unreachable(m.to);
                        self.dirty.insert(g);
                        return;
                    }
                    if self.env.transport.streams_snapshots() {
                        // Streamed: the outcome arrives later, through
                        // `report_snapshot_status`.
                        return;
                    }
                }
                self.outbox.entry(h).or_default().push(GroupMessage { group: g, message: m })
            }
            None => {
                self.env.metrics.send_failures.inc();
                if m.r#type == MessageType::MsgSnap as i32 {
                    r.node.report_snapshot(m.to, SnapshotStatus::Failure);
                }
                r.node.report_unreachable(m.to);
                self.dirty.insert(g);
            }
        }
    }

    /// A snapshot whose data is a file: a streaming transport gets a reader
    /// over the file and the message without its data; any other transport
    /// gets the message with the data read back inline (as it was before
    /// data files existed), which `queue_send` then frames.
    fn send_snapshot_file(&mut self, g: u64, host: u64, m: &mut Message, dr: DataRef) -> Result<(), String> {
        let reader = self.env.snapshots.open_data(g, &dr)?;
        let snap = m.snapshot.as_mut().expect("a MsgSnap with data has a snapshot");
        if self.env.transport.streams_snapshots() {
            snap.data = Bytes::new();
            self.env.metrics.snapshots_sent.inc();
            return self.env.transport.send_snapshot(host, g, m.clone(), reader, dr.size);
        }
        let mut checked = CheckedReader::new(reader, dr);
        let mut data = Vec::new();
        checked.read_to_end(&mut data).map_err(|e| format!("reading snapshot data: {e}"))?;
        checked.finish()?;
        snap.data = Bytes::from(data);
        Ok(())
    }

    /// The outcome of a streamed snapshot sent to `replica` of `group`.
    pub(crate) fn report_snapshot_status(&mut self, group: u64, replica: u64, ok: bool) {
        let Some(r) = self.replicas.get_mut(&group) else { return };
        r.node.report_snapshot(replica, if ok { SnapshotStatus::Finish } else { SnapshotStatus::Failure });
        if !ok {
            r.node.report_unreachable(replica);
        }
        self.wake(group);
        self.dirty.insert(group);
    }

    /// Messages of `group` to `host` were lost: raft stops pipelining to
    /// that host's replicas of the group until it hears from them.
    pub(crate) fn report_unreachable_host(&mut self, group: u64, host: u64) {
        let Some(r) = self.replicas.get_mut(&group) else { return };
        let ids: Vec<u64> = r.conf_state.voters.iter().chain(&r.conf_state.learners).copied().filter(|id| *id != r.id && r.host_of(*id) == Some(host)).collect();
        for id in ids {
            r.node.report_unreachable(id);
        }
        self.dirty.insert(group);
    }

    /// Sends one frame per destination host; reports failures to raft.
    fn flush_outbox(&mut self) {
        let metrics = self.env.metrics.clone();
        for (host, frame) in std::mem::take(&mut self.outbox) {
            let n = frame.len() as u64;
            let is_snap = |gm: &GroupMessage| gm.message.r#type == MessageType::MsgSnap as i32;
            // Snapshot receivers learn the outcome either way (rare: the
            // list is usually empty); on failure, every receiver is
            // reported unreachable (the frame comes back with the error).
            let snaps: Vec<(u64, u64, bool)> = frame.iter().filter(|gm| is_snap(gm)).map(|gm| (gm.group, gm.message.to, true)).collect();
            let (ok, sent) = match self.env.transport.send(host, frame) {
                Ok(()) => {
                    metrics.frames_sent.inc();
                    metrics.messages_sent.add(n);
                    (true, snaps)
                }
                Err(e) => {
                    metrics.send_failures.add(n);
                    (false, e.frame.iter().map(|gm| (gm.group, gm.message.to, is_snap(gm))).collect())
                }
            };
            for (g, to, snap) in sent {
                let Some(r) = self.replicas.get_mut(&g) else { continue };
                if snap {
                    // The in-process and framed transports hand the whole
                    // snapshot over in one piece: sent means delivered.
                    let status = if ok { SnapshotStatus::Finish } else { SnapshotStatus::Failure };
                    if ok {
                        metrics.snapshots_sent.inc();
                    }
                    r.node.report_snapshot(to, status);
                    self.dirty.insert(g);
                }
                if !ok {
                    r.node.report_unreachable(to);
                    self.dirty.insert(g);
                }
            }
        }
    }

    // ---- replicas ----

    /// Starts (or restarts from the log) the replica of `group`.
    pub fn start_replica(&mut self, group: u64, replica: u64, mode: StartMode, factory: StateMachineFactory) -> Result<(), HostError> {
        self.start_replica_as(group, replica, mode, factory, false)
    }

    /// Starts a witness replica (docs/witness.md): no state machine.
    pub fn start_witness(&mut self, group: u64, replica: u64, mode: StartMode) -> Result<(), HostError> {
        self.start_replica_as(group, replica, mode, Box::new(|_, _| Box::new(crate::statemachine::NoStateMachine)), true)
    }

    fn start_replica_as(&mut self, group: u64, replica: u64, mode: StartMode, factory: StateMachineFactory, witness: bool) -> Result<(), HostError> {
        if self.replicas.contains_key(&group) {
            return Err(HostError::Invalid(format!("group {group} already has a replica on this host")));
        }
        if replica == 0 {
            return Err(HostError::Invalid("replica id 0 is reserved".into()));
        }
        let env = self.env.clone();
        let log = &env.log;
        let mut snap = env.snapshots.load(group).map_err(HostError::Snapshot)?.unwrap_or_default();
        let mut hs = log.hard_state(group);
        if snap.index() > 0 && log.last_index(group) == 0 && is_empty_hard_state(&hs) {
            // A snapshot with no trace of the group in the log: a removal
            // whose log deletion survived a crash but whose snapshot
            // deletion did not happen (`finish_removal`). A leader's
            // snapshot is never the first thing a replica records (its
            // hard state is in the log before it can be sent one), so it
            // is not a received snapshot whose log record was lost.
            let cs = snap.conf_state();
            if cs.voters.iter().chain(&cs.learners).chain(&cs.voters_outgoing).any(|id| *id == replica) {
                // Bringing it back from the snapshot would make a voter
                // that forgot its votes and acknowledgements.
                return Err(HostError::Removed(format!("group {group}: replica {replica} was removed on this host: it cannot restart")));
            }
            // A new replica of the group placed here: finish the removal,
            // the log's deletion made durable first (see `finish_removal`).
            env.committer.write(WriteBatch::default(), true).map_err(HostError::Snapshot)?;
            env.snapshots.remove(group).map_err(HostError::Snapshot)?;
            snap = Default::default();
        }
        if snap.index() > hs.commit {
            // A snapshot received from a leader was saved but the crash came
            // before the log recorded it: record it now. It holds committed
            // entries only, so its index is committed.
            if snap.term() > hs.term {
                hs = HardState { term: snap.term(), vote: 0, commit: hs.commit };
            }
            hs.commit = snap.index();
            let gw = GroupWrite { group, snapshot: snap.metadata.clone(), entries: Vec::new(), hard_state: Some(hs) };
            env.committer.write(WriteBatch { groups: vec![gw] }, true).map_err(HostError::Snapshot)?;
        }
        if log.first_index(group) > snap.index() + 1 {
            return Err(HostError::Snapshot(format!(
                "group {group}: the log is compacted to {} but the latest snapshot is at {}",
                log.first_index(group) - 1,
                snap.index()
            )));
        }
        let has_state = log.last_index(group) > 0 || !is_empty_hard_state(&log.hard_state(group)) || snap.index() > 0;
        let cell = Arc::new(RwLock::new(snap.clone()));
        let storage = GroupStorage {
            group,
            log: env.log.clone(),
            snapshot: cell,
            conf_index: Default::default(),
            want_snapshot: Default::default(),
        };
        let cfg = &env.cfg;
        let rc = Config {
            id: replica,
            election_tick: cfg.election_ticks,
            heartbeat_tick: cfg.heartbeat_ticks,
            applied: snap.index(),
            max_size_per_msg: cfg.max_size_per_msg,
            max_inflight_msgs: cfg.max_inflight_msgs,
            check_quorum: true,
            pre_vote: true,
            step_down_on_removal: true,
            // Every client request is its own proposal: the appends a
            // leader queues for a peer between two Readys go as one MsgApp
            // (one frame, one follower write and ack instead of one each).
            batch_append: true,
            priority: cfg.election_priority,
            logger: Some(cfg.raft_logger.clone()),
            ..Default::default()
        };
        let mut node = RawNode::new(&rc, storage)?;
        let seed = cfg.seed.map_or_else(|| self.rng.u64(..), |s| mix(&[s, self.env.host_id, group, replica]));
        node.raft_mut().seed_rng(seed);
        let sm = factory(group, replica);
        let nonce = self.rng.u64(..) & !0xffff_ffff;
        let mut r = Replica::new(group, replica, node, sm, nonce);
        r.max_sessions = cfg.max_sessions;
        r.witness = witness;
        if !is_empty_snap(&snap) {
            r.restore_data(&snap.data, &*env.snapshots).map_err(HostError::Snapshot)?;
        }
        if !has_state {
            match mode {
                StartMode::Bootstrap(members) => {
                    if !members.iter().any(|(id, _)| *id == replica) {
                        return Err(HostError::Invalid(format!("replica {replica} is not among the bootstrap members")));
                    }
                    let peers: Vec<Peer> =
                        members.iter().map(|(id, h)| Peer { id: *id, context: Bytes::from(h.to_le_bytes().to_vec()) }).collect();
                    r.node.bootstrap(&peers)?;
                    r.members.extend(members.iter().copied());
                }
                StartMode::Join => {}
            }
        }
        self.replicas.insert(group, r);
        self.active.insert(group);
        self.dirty.insert(group);
        Ok(())
    }

    /// Stops the replica of `group` (its log stays).
    pub fn stop(&mut self, group: u64) -> bool {
        self.active.remove(&group);
        self.dirty.remove(&group);
        self.pending.remove(&group);
        match self.replicas.remove(&group) {
            Some(mut r) => {
                r.fail_all();
                true
            }
            None => false,
        }
    }

    fn replica_or_reject<T>(&mut self, group: u64, done: Completion<T>) -> Option<(&mut Replica, Completion<T>)> {
        match self.replicas.get_mut(&group) {
            Some(r) => Some((r, done)),
            None => {
                done(Err(OpError::rejected(format!("group {group} has no replica on this host"))));
                None
            }
        }
    }

    /// Queues a normal entry built by `make` from its origin; it is
    /// proposed with the round's other proposals (`flush_proposals`), before
    /// the round ticks or collects Readies.
    pub fn propose(&mut self, group: u64, make: impl FnOnce(Origin) -> Bytes, deadline: Duration, done: Completion<Bytes>) {
        self.env.metrics.proposals.inc();
        self.touch(group);
        let metrics = self.env.metrics.clone();
        let Some((r, done)) = self.replica_or_reject(group, done) else {
            metrics.proposals_rejected.inc();
            return;
        };
        if r.witness {
            // It would never see its result: a witness applies no payloads.
            metrics.proposals_rejected.inc();
            done(Err(OpError::rejected(WITNESS_REFUSES)));
            return;
        }
        let origin = r.origin();
        r.queued.push(QueuedProposal { data: make(origin), key: origin.key, deadline, done });
        self.proposing.insert(group);
    }

    /// Gives raft the proposals queued in this round, each group's in one
    /// `propose_batch` (in arrival order): one append and one MsgApp per
    /// follower for all of them, instead of one per proposal. Raft accepts
    /// or drops a batch whole, as it would each of its proposals at this
    /// point (same leader, same state).
    fn flush_proposals(&mut self) {
        for g in std::mem::take(&mut self.proposing) {
            // A stopped replica rejected its queue (`Replica::fail_all`).
            let Some(r) = self.replicas.get_mut(&g) else { continue };
            let batch = std::mem::take(&mut r.queued);
            if batch.is_empty() {
                continue;
            }
            let data: Vec<Bytes> = batch.iter().map(|q| q.data.clone()).collect();
            match r.node.propose_batch(&data) {
                Ok(()) => {
                    let raft = r.node.raft();
                    // A leader appended them at the end of its log; a
                    // follower forwarded them.
                    let first = (raft.state() == StateType::Leader).then(|| raft.raft_log().last_index() + 1 - batch.len() as u64);
                    r.stats.proposals += batch.len() as u64;
                    for (i, q) in batch.into_iter().enumerate() {
                        if let Some(first) = first {
                            r.by_index.insert(first + i as u64, q.key);
                        }
                        r.proposals.insert(q.key, PendingProposal { deadline: q.deadline, done: q.done });
                    }
                    self.pending.insert(g);
                    self.dirty.insert(g);
                }
                Err(e) => {
                    self.env.metrics.proposals_rejected.add(batch.len() as u64);
                    let why = e.to_string();
                    for q in batch {
                        (q.done)(Err(OpError::rejected(why.clone())));
                    }
                }
            }
        }
    }

    /// Proposes a single membership change.
    #[allow(clippy::too_many_arguments)]
    pub fn propose_conf(&mut self, group: u64, kind: ConfChangeType, node: u64, host: u64, addr: &str, deadline: Duration, done: Completion<()>) {
        self.env.metrics.proposals.inc();
        self.touch(group);
        let metrics = self.env.metrics.clone();
        let Some((r, done)) = self.replica_or_reject(group, done) else {
            metrics.proposals_rejected.inc();
            return;
        };
        let origin = r.origin();
        let cc = ConfChange { id: 0, r#type: kind as i32, node_id: node, context: envelope::conf_context(host, origin, addr) };
        match r.node.propose_conf_change(ConfChangeI::V1(cc)) {
            Ok(()) => {
                r.stats.proposals += 1;
                r.confs.insert(origin.key, PendingConf { deadline, done });
                r.note_leader_index(origin.key);
                self.pending.insert(group);
                self.dirty.insert(group);
            }
            Err(e) => {
                metrics.proposals_rejected.inc();
                done(Err(OpError::rejected(e.to_string())));
            }
        }
    }

    /// Starts a linearizable read.
    pub fn read(&mut self, group: u64, query: Bytes, deadline: Duration, done: Completion<Bytes>) {
        self.env.metrics.reads.inc();
        self.touch(group);
        let Some((r, done)) = self.replica_or_reject(group, done) else { return };
        if r.witness {
            done(Err(OpError::rejected(WITNESS_REFUSES)));
            return;
        }
        // Raft drops a read request silently without a leader: say so now.
        if r.node.raft().lead() == polyraft::NONE {
            done(Err(OpError::rejected("no leader known for the group")));
            return;
        }
        let key = r.new_key();
        match r.node.read_index(Bytes::from(key.to_le_bytes().to_vec())) {
            Ok(()) => {
                r.reads.insert(key, PendingRead { deadline, query, index: None, done });
                self.pending.insert(group);
                self.dirty.insert(group);
            }
            Err(e) => done(Err(OpError::rejected(e.to_string()))),
        }
    }

    /// Reads the local replica's state without any check.
    pub fn stale_read(&mut self, group: u64, query: &[u8], done: Completion<Bytes>) {
        let Some((r, done)) = self.replica_or_reject(group, done) else { return };
        if r.witness {
            done(Err(OpError::rejected(WITNESS_REFUSES)));
            return;
        }
        match guarded(|| Ok(r.sm.lookup(query))) {
            Ok(v) => done(Ok(v)),
            Err(e) => {
                done(Err(OpError::rejected(e.clone())));
                self.stop_failed(group, &e);
            }
        }
    }

    /// Asks the group to hand leadership to `target`.
    pub fn transfer_leader(&mut self, group: u64, target: u64, deadline: Duration, done: Completion<()>) {
        self.touch(group);
        let Some((r, done)) = self.replica_or_reject(group, done) else { return };
        if r.node.raft().lead() == target {
            done(Ok(()));
            return;
        }
        if !r.conf_state.voters.contains(&target) {
            done(Err(OpError::rejected(format!("replica {target} is not a voter of group {group}"))));
            return;
        }
        r.node.transfer_leader(target);
        r.transfers.push(PendingTransfer { deadline, target, done });
        self.pending.insert(group);
        self.dirty.insert(group);
    }

    /// Leader, term, members and progress of the local replica.
    pub fn group_info(&self, group: u64) -> Option<GroupInfo> {
        let r = self.replicas.get(&group)?;
        let raft = r.node.raft();
        Some(GroupInfo {
            group,
            replica: r.id,
            leader: raft.lead(),
            term: raft.term(),
            is_leader: raft.state() == StateType::Leader,
            voters: r.conf_state.voters.clone(),
            learners: r.conf_state.learners.clone(),
            witnesses: r.conf_state.witnesses.clone(),
            is_witness: r.witness,
            applied: r.applied,
            committed: raft.raft_log().committed,
            last_index: raft.raft_log().last_index(),
            snapshot_index: r.snapshot_index,
            quiesced: r.quiesced,
            hosts: r.members.clone(),
        })
    }

    /// Metrics of every replica of the shard.
    pub fn group_metrics(&self) -> Vec<GroupMetrics> {
        self.replicas
            .values()
            .map(|r| GroupMetrics { quiesced: r.quiesced, pending_ops: r.pending_count(), applied: r.applied, ..r.stats.clone() })
            .collect()
    }

    /// (replicas, active, pending operations)
    pub fn gauges(&self) -> (u64, u64, u64) {
        (self.replicas.len() as u64, self.active.len() as u64, self.replicas.values().map(|r| r.pending_count()).sum())
    }
}

/// A question or answer about a replica's removal (see `REMOVAL_ASK_CTX`):
/// term 0, so that raft would never take it for one of its own.
fn removal_message(kind: MessageType, from: u64, to: u64, index: u64, ctx: &'static [u8]) -> Message {
    Message { r#type: kind as i32, from, to, index, context: Bytes::from_static(ctx), ..Default::default() }
}

/// The vote a removed replica of a group of two grants the voter that
/// stays, for a vote or pre-vote request (`None` for anything else),
/// without asking raft: raft would refuse a candidate whose log is shorter,
/// and the removed replica can no longer campaign itself (it is not in its
/// configuration), so after it had appended entries the other voter lacks
/// (a removed leader still leads, etcd's default) neither could ever be
/// elected. Granting is safe here: every quorum of both configurations
/// contains the remaining voter, so any committed entry is in its log, and
/// the removed replica never votes for anyone else (no other voter exists
/// in its configurations, and later ones never include it).
fn removal_vote(m: &Message) -> Option<Message> {
    let kind = match m.r#type() {
        MessageType::MsgVote => MessageType::MsgVoteResp,
        MessageType::MsgPreVote => MessageType::MsgPreVoteResp,
        _ => return None,
    };
    Some(Message { r#type: kind as i32, from: m.to, to: m.from, term: m.term, reject: false, ..Default::default() })
}

/// Whether a message promises that the sender's state is durable (an
/// append acknowledgement or a vote): such messages leave only after the
/// Ready's write (etcd's `msgsAfterAppend`).
fn promises_durability(m: &Message) -> bool {
    matches!(m.r#type(), MessageType::MsgAppResp | MessageType::MsgVoteResp | MessageType::MsgPreVoteResp)
}

/// Runs user code (state machine, completions): a panic stops the replica
/// it happened in, never the worker and the other groups.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
            Err(format!("user code panicked: {}", what.unwrap_or_default()))
        }
    }
}

/// A 64-bit mix of several words (splitmix64 steps), for per-node seeds.
fn mix(words: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for w in words {
        h ^= *w;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h = z ^ (z >> 31);
    }
    h
}
