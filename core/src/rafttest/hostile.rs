//! The hostile-peer harness: a running 3-node cluster whose normal traffic
//! is interleaved with forged, well-formed raftpb messages (random types,
//! terms, indexes, entries, snapshots and ConfStates, from random ids),
//! delivered through the peer path ([`RawNode::step_peer`]).
//!
//! Invariants checked ([`run`] returns the first broken one):
//! - no node becomes FATAL because of a peer message;
//! - the traffic that follows one forged message stays bounded (no storm:
//!   the cluster quiesces within [`STORM_LIMIT`] deliveries without ticks);
//! - once forging stops, the cluster elects a leader within a bounded
//!   number of ticks and that leader commits a new proposal.
//!
//! The operations are read from a byte string, so that the same harness
//! serves the property test, the cargo-fuzz target and the long run.

use bytes::Bytes;

use crate::raftpb::{
    encode, ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType, Snapshot,
    SnapshotMetadata,
};
use crate::rafttest::cluster::{conf_change_of, test_config};
use crate::{Config, MemoryStorage, RawNode, StateType};

/// Deliveries allowed while the cluster settles after one operation.
pub const STORM_LIMIT: usize = 2_000;
const NODES: u64 = 3;

/// What one run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Forged messages stepped through `step_peer`.
    pub injected: u64,
    /// Of those, how many `step_peer` refused with an error.
    pub refused: u64,
    /// Normal messages delivered.
    pub delivered: u64,
    /// Runs in which forged leadership made nodes commit different entries
    /// at one index or adopt a membership naming nonexistent nodes (Raft
    /// does not withstand Byzantine peers: a peer that impersonates the
    /// leader can make a node commit what it likes); the liveness check is
    /// skipped for them (the FATAL and storm checks are not).
    pub corrupted: u64,
}

/// Reads values from the fuzz input; zeros once exhausted.
struct Bytes2<'a>(&'a [u8]);

impl Bytes2<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn below(&mut self, n: u64) -> u64 {
        let v = u64::from(self.u8()) | u64::from(self.u8()) << 8;
        v % n.max(1)
    }
    fn empty(&self) -> bool {
        self.0.is_empty()
    }
    /// A number near `base` most of the time, sometimes anything.
    fn near(&mut self, base: u64) -> u64 {
        match self.u8() % 8 {
            0 => 0,
            1 => u64::MAX - self.below(3),
            2 => self.below(1 << 16) << 16 | self.below(1 << 16),
            _ => base.saturating_sub(3).saturating_add(self.below(7)),
        }
    }
}

struct Node {
    raw: RawNode<MemoryStorage>,
    storage: MemoryStorage,
}

/// The cluster under attack.
struct Harness {
    nodes: Vec<Node>,
    queue: Vec<Message>,
    stats: Stats,
    /// Prints every operation and delivery (POLYRAFT_HOSTILE_TRACE=1).
    trace: bool,
}

impl Harness {
    fn new(pre_vote: bool, check_quorum: bool) -> Result<Self, String> {
        let voters: Vec<u64> = (1..=NODES).collect();
        let mut nodes = Vec::new();
        for id in 1..=NODES {
            let storage = MemoryStorage::new_with_conf_state(ConfState { voters: voters.clone(), ..Default::default() });
            // A leader removed by a (forged) conf change must step down, or the
            // remaining voters keep following it and never commit again
            // (etcd's behaviour without StepDownOnRemoval).
            let cfg = Config { id, pre_vote, check_quorum, max_size_per_msg: 256, step_down_on_removal: true, ..test_config() };
            let mut raw = RawNode::new(&cfg, storage.clone()).map_err(|e| e.to_string())?;
            raw.raft_mut().seed_rng(id);
            nodes.push(Node { raw, storage });
        }
        Ok(Harness { nodes, queue: Vec::new(), stats: Stats::default(), trace: std::env::var_os("POLYRAFT_HOSTILE_TRACE").is_some() })
    }

    fn check_fatal(&self, after: &str) -> Result<(), String> {
        for n in &self.nodes {
            if let Some(e) = n.raw.raft().fatal_error() {
                return Err(format!("node {} FATAL after {after}: {e}", n.raw.raft().id));
            }
        }
        Ok(())
    }

    /// One Ready cycle of node `i`, handled as an application would: a
    /// conf change that does not apply is skipped (logged by a real one).
    fn ready(&mut self, i: usize) -> Result<bool, String> {
        let n = &mut self.nodes[i];
        if !n.raw.has_ready() {
            return Ok(false);
        }
        let rd = n.raw.ready();
        if let Some(s) = rd.snapshot.clone() {
            n.storage.apply_snapshot(s).map_err(|e| format!("node {} storage refused its snapshot: {e}", i + 1))?;
        }
        n.storage.append(&rd.entries).map_err(|e| format!("node {} storage refused its entries: {e}", i + 1))?;
        if let Some(hs) = rd.hard_state {
            n.storage.set_hard_state(hs);
        }
        for e in &rd.committed_entries {
            if let Ok(Some(cc)) = conf_change_of(e) {
                let _ = n.raw.apply_conf_change(cc);
            }
        }
        self.queue.extend(rd.messages);
        n.raw.advance().map_err(|e| format!("node {} advance: {e}", i + 1))?;
        Ok(true)
    }

    /// Readies and deliveries until nothing moves; errors on a storm.
    fn settle(&mut self, after: &str) -> Result<(), String> {
        let mut deliveries = 0;
        let mut recent = Vec::new();
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                moved |= self.ready(i)?;
            }
            let storming = deliveries > STORM_LIMIT - 12;
            for m in std::mem::take(&mut self.queue) {
                if storming {
                    recent.push(crate::describe::describe_message(&m, None));
                }
                if self.trace {
                    eprintln!("  deliver {}", crate::describe::describe_message(&m, None));
                }
                if let Some(n) = (m.to as usize).checked_sub(1).and_then(|i| self.nodes.get_mut(i)) {
                    let _ = n.raw.step(m);
                    deliveries += 1;
                    moved = true;
                }
            }
            self.check_fatal(after)?;
            if !moved {
                self.stats.delivered += deliveries as u64;
                return Ok(());
            }
            if deliveries > STORM_LIMIT {
                let states: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| {
                        let r = n.raw.raft();
                        format!("{}:{}@{} lead {} last {}", r.id, r.state(), r.term(), r.lead(), r.raft_log.last_index())
                    })
                    .collect();
                let tail = recent.len().saturating_sub(12);
                return Err(format!(
                    "message storm: more than {STORM_LIMIT} deliveries without a tick after {after} ({}); last deliveries:\n  {}",
                    states.join(", "),
                    recent[tail..].join("\n  ")
                ));
            }
        }
    }

    fn states(&self) -> String {
        let states: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                let r = n.raw.raft();
                format!(
                    "{}:{}@{} lead {} last {} commit {} conf {}",
                    r.id,
                    r.state(),
                    r.term(),
                    r.lead(),
                    r.raft_log.last_index(),
                    r.raft_log.committed,
                    r.trk.config
                )
            })
            .collect();
        states.join(", ")
    }

    /// Whether forged messages broke the committed log or the membership:
    /// a configuration names a node that does not exist, two nodes'
    /// committed logs disagree at an index both consider committed, a node
    /// considers committed an index no other node holds (a commit needs a
    /// quorum, so only a forged append or snapshot gets there), or the
    /// leader of the highest term lacks a node's committed entry (Leader
    /// Completeness holds for every leader a real election made).
    fn committed_logs_disagree(&self) -> bool {
        fn log(n: &Node) -> &crate::log::RaftLog<MemoryStorage> {
            &n.raw.raft().raft_log
        }
        for a in &self.nodes {
            // A forged snapshot or conf change may name members that do not
            // exist; their votes never come, and quorums may be out of reach.
            let cfg = &a.raw.raft().trk.config;
            if cfg.voters.ids().into_iter().chain(cfg.learners.iter().copied()).any(|id| id == 0 || id > NODES) {
                return true;
            }
        }
        for a in &self.nodes {
            let c = log(a).committed;
            let others_max =
                self.nodes.iter().filter(|b| b.raw.raft().id != a.raw.raft().id).map(|b| log(b).last_index()).max();
            if c > others_max.unwrap_or(0) {
                return true;
            }
            for b in &self.nodes {
                let i = c.min(log(b).committed);
                if let (Ok(ta), Ok(tb)) = (log(a).term(i), log(b).term(i)) {
                    if ta != tb {
                        return true;
                    }
                }
            }
            if let Some(l) = self.leader() {
                let ll = log(&self.nodes[l]);
                if c > ll.last_index() {
                    return true;
                }
                if let (Ok(ta), Ok(tl)) = (log(a).term(c), ll.term(c)) {
                    if ta != tl {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn tick_all(&mut self) {
        for n in &mut self.nodes {
            n.raw.tick();
        }
    }

    /// The leader of the highest term, if any (a deposed leader that no
    /// longer hears from anyone may still believe it leads a lower term).
    fn leader(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].raw.raft().state() == StateType::Leader)
            .max_by_key(|&i| self.nodes[i].raw.raft().term())
    }

    /// A forged message to node `to`, shaped from the input around the
    /// receiver's own state (so that it is often plausible).
    fn forge(&self, b: &mut Bytes2<'_>, to: u64) -> Message {
        let r = self.nodes[(to - 1) as usize].raw.raft();
        let (term, last) = (r.term(), r.raft_log.last_index());
        let t = match MessageType::try_from(b.below(24) as i32) {
            Ok(t) => t,
            Err(_) => MessageType::MsgApp,
        };
        let from = match b.u8() % 8 {
            0 => 0,
            1 => 4 + b.below(3),
            2 => u64::MAX - b.below(2),
            _ => 1 + b.below(NODES),
        };
        let mut m = Message {
            r#type: t as i32,
            from,
            to,
            term: b.near(term),
            log_term: b.near(term),
            index: b.near(last),
            commit: b.near(last),
            reject: b.u8() % 4 == 0,
            reject_hint: b.near(last),
            vote: b.below(NODES + 2),
            ..Default::default()
        };
        if b.u8() % 4 == 0 {
            m.context = Bytes::from(vec![b.u8(); b.below(20) as usize]);
        }
        let n = b.below(5);
        let mut idx = m.index;
        for _ in 0..n {
            // Mostly contiguous, sometimes not.
            idx = if b.u8() % 8 == 0 { b.near(last) } else { idx.wrapping_add(1) };
            m.entries.push(self.forge_entry(b, idx, m.term));
        }
        if t == MessageType::MsgSnap || b.u8() % 16 == 0 {
            m.snapshot = Some(Box::new(Snapshot {
                data: Bytes::from_static(b"forged"),
                metadata: Some(SnapshotMetadata {
                    conf_state: Some(forge_conf_state(b)),
                    index: b.near(last + 5),
                    term: b.near(term),
                }),
            }));
        }
        m
    }

    fn forge_entry(&self, b: &mut Bytes2<'_>, index: u64, term: u64) -> Entry {
        let mut e = Entry { index, term: b.near(term), ..Default::default() };
        match b.u8() % 6 {
            0 => {
                e.r#type = EntryType::EntryConfChange as i32;
                let cc = ConfChange { r#type: b.below(5) as i32, node_id: b.below(6), ..Default::default() };
                e.data = encode(&cc);
            }
            1 => {
                e.r#type = EntryType::EntryConfChangeV2 as i32;
                let changes = (0..b.below(3))
                    .map(|_| ConfChangeSingle { r#type: b.below(5) as i32, node_id: b.below(6) })
                    .collect();
                e.data = encode(&ConfChangeV2 { transition: b.below(4) as i32, changes, ..Default::default() });
            }
            2 => {
                e.r#type = b.below(4) as i32;
                e.data = Bytes::from(vec![b.u8(); b.below(8) as usize]);
            }
            _ => e.data = Bytes::from(vec![b.u8(); b.below(16) as usize]),
        }
        e
    }
}

fn forge_conf_state(b: &mut Bytes2<'_>) -> ConfState {
    let ids = |b: &mut Bytes2<'_>, max: u64| (0..b.below(max + 1)).map(|_| 1 + b.below(5)).collect::<Vec<u64>>();
    let mut cs = ConfState { voters: ids(b, 4), ..Default::default() };
    if b.u8() % 4 == 0 {
        cs.learners = ids(b, 2);
    }
    if b.u8() % 4 == 0 {
        cs.voters_outgoing = ids(b, 3);
        cs.learners_next = ids(b, 1);
        cs.auto_leave = b.u8() % 2 == 0;
    }
    if b.u8() % 2 == 0 {
        // Often a plausible configuration: the real voters.
        cs = ConfState { voters: (1..=NODES).collect(), ..Default::default() };
    }
    cs
}

/// Runs the cluster on `input`: normal operations (ticks, proposals,
/// campaigns, settling) interleaved with forged messages, then checks
/// liveness. Returns what happened, or the first broken invariant.
pub fn run(input: &[u8]) -> Result<Stats, String> {
    let mut accepted = Vec::new();
    run_inner(input, &mut accepted).map_err(|e| {
        let tail = accepted.len().saturating_sub(8);
        format!("{e}\nlast accepted forged messages:\n  {}", accepted[tail..].join("\n  "))
    })
}

fn run_inner(input: &[u8], accepted: &mut Vec<String>) -> Result<Stats, String> {
    let mut b = Bytes2(input);
    let flags = b.u8();
    // CheckQuorum is always on: without it (or PreVote), a node whose term
    // a forged message inflated ignores the leader's older-term messages
    // without answering, and when it cannot campaign (a learner) the
    // leader never learns the newer term: etcd's documented remedy for
    // disruptive nodes is what lets the cluster recover. PreVote varies.
    let mut h = Harness::new(flags & 1 != 0, true)?;
    h.nodes[0].raw.campaign().map_err(|e| e.to_string())?;
    h.settle("the first election")?;
    let mut ops = 0;
    while !b.empty() && ops < 200 {
        ops += 1;
        let i = b.below(NODES) as usize;
        match b.u8() % 10 {
            0 => h.nodes[i].raw.tick(),
            1 => {
                let _ = h.nodes[i].raw.propose(Bytes::from(vec![b.u8(); 1 + b.below(32) as usize]));
            }
            2 => {
                let _ = h.nodes[i].raw.campaign();
            }
            3 => h.settle("normal traffic")?,
            4 if !h.queue.is_empty() => {
                // Deliver one queued message (out of order).
                let k = b.below(h.queue.len() as u64) as usize;
                let m = h.queue.remove(k);
                if let Some(n) = (m.to as usize).checked_sub(1).and_then(|i| h.nodes.get_mut(i)) {
                    let _ = n.raw.step(m);
                }
            }
            _ => {
                let m = h.forge(&mut b, i as u64 + 1);
                let desc = crate::describe::describe_message(&m, None);
                h.stats.injected += 1;
                if h.trace {
                    eprintln!("forge {desc}\n  before: {}", h.states());
                }
                if h.nodes[i].raw.step_peer(m).is_err() {
                    h.stats.refused += 1;
                } else {
                    accepted.push(desc.clone());
                }
                h.check_fatal(&format!("forged {desc}"))?;
                h.settle(&format!("forged {desc}"))?;
            }
        }
        h.check_fatal("normal operation")?;
    }
    // Forging stopped: a leader must emerge and commit a new proposal,
    // unless forged leadership already broke the committed log.
    h.settle("the end of forging")?;
    if h.committed_logs_disagree() {
        h.stats.corrupted += 1;
        for _ in 0..50 {
            // Still no FATAL and no storm while the nodes keep running.
            h.tick_all();
            h.settle("ticks after forging")?;
        }
        return Ok(h.stats);
    }
    let mut elected = None;
    for _ in 0..400 {
        h.tick_all();
        h.settle("ticks after forging")?;
        if let Some(l) = h.leader() {
            let before = h.nodes[l].raw.raft().raft_log.committed;
            if h.nodes[l].raw.propose(Bytes::from_static(b"after the attack")).is_ok() {
                h.settle("a proposal after forging")?;
                if h.nodes[l].raw.raft().raft_log.committed > before {
                    elected = Some(l);
                    break;
                }
            }
        }
    }
    if elected.is_none() && h.committed_logs_disagree() {
        h.stats.corrupted += 1;
        return Ok(h.stats);
    }
    if elected.is_none() {
        return Err(format!("no leader committed a proposal within 400 ticks after forging stopped ({})", h.states()));
    }
    Ok(h.stats)
}
