//! A seeded, deterministic chaos simulation of 3–7 nodes: lossy,
//! duplicating, reordering network with full and partial partitions,
//! crashes that lose unpersisted state, compaction and snapshots, random
//! membership changes (witnesses too, in a third of the seeds), leader
//! transfers and ReadIndex. Raft's safety
//! properties are checked after every step; after the faults stop, the
//! healed cluster must elect a leader and commit within a bound.
//!
//! Everything derives from the seed, so a failure replays exactly:
//! `cargo run -p polyraft --features rafttest --example sim -- --seeds 1 --start SEED`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::cluster::conf_change_of;
use crate::logger::NoopLogger;
use crate::raftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message,
    MessageType, Snapshot,
};
use crate::{Config, MemoryStorage, Peer, RawNode, SnapshotStatus, StateType, Storage};

/// Counts of what a run did.
#[derive(Debug, Default, Clone)]
pub struct SimStats {
    /// Seeds run.
    pub seeds: u64,
    /// Ticks simulated (all nodes tick once per tick).
    pub ticks: u64,
    /// Ready cycles processed.
    pub readies: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped by the network (loss, partitions, crashed targets).
    pub dropped: u64,
    /// Messages duplicated.
    pub duplicated: u64,
    /// Messages delayed by at least one tick (reordering).
    pub delayed: u64,
    /// Partitions installed (full or partial).
    pub partitions: u64,
    /// Node crashes.
    pub crashes: u64,
    /// Snapshots taken with log compaction.
    pub compactions: u64,
    /// Conf changes proposed.
    pub conf_changes: u64,
    /// Leader transfers requested.
    pub transfers: u64,
    /// ReadIndex requests issued.
    pub reads: u64,
    /// Client proposals issued.
    pub proposals: u64,
    /// Storage stalls (async writes: a node's disk stops for some ticks).
    pub stalls: u64,
    /// Witnesses added (docs/witness.md).
    pub witnesses: u64,
    /// Seeds whose nodes have election priorities.
    pub priority_seeds: u64,
    /// Seeds with batched appends on.
    pub batch_append_seeds: u64,
}

impl SimStats {
    /// Adds another run's counts.
    pub fn add(&mut self, o: &SimStats) {
        self.seeds += o.seeds;
        self.ticks += o.ticks;
        self.readies += o.readies;
        self.delivered += o.delivered;
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.delayed += o.delayed;
        self.partitions += o.partitions;
        self.crashes += o.crashes;
        self.compactions += o.compactions;
        self.conf_changes += o.conf_changes;
        self.transfers += o.transfers;
        self.reads += o.reads;
        self.proposals += o.proposals;
        self.stalls += o.stalls;
        self.witnesses += o.witnesses;
        self.priority_seeds += o.priority_seeds;
        self.batch_append_seeds += o.batch_append_seeds;
    }
}

impl fmt::Display for SimStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeds={} ticks={} readies={} delivered={} dropped={} duplicated={} delayed={} partitions={} crashes={} compactions={} conf_changes={} transfers={} reads={} proposals={} stalls={} witnesses={} priority_seeds={} batch_append_seeds={}",
            self.seeds, self.ticks, self.readies, self.delivered, self.dropped, self.duplicated, self.delayed,
            self.partitions, self.crashes, self.compactions, self.conf_changes, self.transfers, self.reads, self.proposals, self.stalls, self.witnesses,
            self.priority_seeds, self.batch_append_seeds
        )
    }
}

/// One applied entry of the replicated "state machine" (a log of payloads).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    index: u64,
    term: u64,
    data: Bytes,
}

/// A node: alive (`raw` set) or crashed; storage and the applied state
/// survive crashes (they are what was persisted).
struct SimNode {
    raw: Option<RawNode<MemoryStorage>>,
    storage: MemoryStorage,
    applied: Vec<Applied>,
    app_index: u64,
    conf_state: ConfState,
    last_commit: u64,
    /// Applied its own removal: the application shut it down for good.
    removed: bool,
    /// Log index after which this incarnation was added: conf changes at
    /// or below it are history (a re-added node replaying the log passes
    /// through its own earlier removal and must not act on it).
    joined_at: u64,
    /// Set when it applies its own removal (after `joined_at`).
    retire: bool,
    /// MsgStorageAppend jobs not yet done (async storage writes); lost in a
    /// crash, like anything unpersisted.
    append_work: Vec<Message>,
    /// MsgStorageApply jobs not yet done.
    apply_work: Vec<Message>,
    /// Index of the last snapshot installed into the state machine: apply
    /// jobs queued before it may still hold older entries, which it covers.
    snap_floor: u64,
    /// (term, commit index) at this node's previous Ready as leader.
    leader_commit: Option<(u64, u64)>,
    /// Its storage threads do nothing before this tick (a stalled disk).
    stalled_until: u64,
}

/// The seed's world.
struct World {
    rng: fastrand::Rng,
    seed: u64,
    cfg: Config,
    nodes: BTreeMap<u64, SimNode>,
    /// (deliver at tick, message).
    net: Vec<(u64, Message)>,
    /// Links that drop everything: (from, to).
    cut: BTreeSet<(u64, u64)>,
    now: u64,
    loss: f64,
    dup: f64,
    max_delay: u64,
    /// Chance that a node's storage threads do one job per settle round
    /// (async writes): low values keep writes in flight across elections.
    storage_speed: f64,
    leaders: HashMap<u64, u64>,
    /// index -> (term, data, is a normal entry, term of the first node
    /// seen applying it) of every entry applied anywhere. The last value
    /// bounds the term in which the entry was committed from above.
    committed: BTreeMap<u64, (u64, Bytes, bool, u64)>,
    acked: BTreeSet<Bytes>,
    reads: HashMap<Bytes, u64>,
    next_payload: u64,
    stats: SimStats,
    /// Whether this seed adds witnesses; decided by a generator of its own
    /// so the other seeds replay exactly as before witnesses existed.
    witness_seed: bool,
    /// Draws for witness decisions (never touches `rng`).
    wrng: fastrand::Rng,
    /// Every id ever added as a witness (a witness stays one for life).
    witness_ids: BTreeSet<u64>,
    /// Whether nodes get election priorities (each id its own, fixed for
    /// life, some equal, some negative).
    priority_seed: bool,
}

type Check = Result<(), String>;

fn is_member(cs: &ConfState, id: u64) -> bool {
    cs.voters.iter().chain(&cs.learners).chain(&cs.voters_outgoing).any(|&v| v == id)
}

fn encode_state(applied: &[Applied]) -> Bytes {
    let mut b = BytesMut::new();
    for a in applied {
        b.put_u64(a.index);
        b.put_u64(a.term);
        b.put_u32(a.data.len() as u32);
        b.put_slice(&a.data);
    }
    b.freeze()
}

fn decode_state(mut b: Bytes) -> Vec<Applied> {
    let mut out = Vec::new();
    while b.remaining() >= 20 {
        let index = b.get_u64();
        let term = b.get_u64();
        let n = b.get_u32() as usize;
        let data = b.split_to(n.min(b.remaining()));
        out.push(Applied { index, term, data });
    }
    out
}

impl World {
    fn new(seed: u64) -> Result<World, String> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let n = rng.u64(3..=5);
        let cfg = Config {
            election_tick: 10,
            heartbeat_tick: 1,
            pre_vote: rng.bool(),
            async_storage_writes: rng.bool(),
            check_quorum: rng.bool(),
            max_size_per_msg: if rng.bool() { u64::MAX } else { 64 },
            max_inflight_msgs: rng.usize(1..=8),
            logger: Some(std::sync::Arc::new(NoopLogger)),
            ..Config::default()
        };
        let mut w = World {
            loss: [0.0, 0.02, 0.1, 0.25][rng.usize(0..4)],
            dup: [0.0, 0.05][rng.usize(0..2)],
            max_delay: rng.u64(0..=3),
            storage_speed: [0.7, 0.25][rng.usize(0..2)],
            rng,
            seed,
            cfg,
            nodes: BTreeMap::new(),
            net: Vec::new(),
            cut: BTreeSet::new(),
            now: 0,
            leaders: HashMap::new(),
            committed: BTreeMap::new(),
            acked: BTreeSet::new(),
            reads: HashMap::new(),
            next_payload: 0,
            stats: SimStats { seeds: 1, ..Default::default() },
            witness_seed: false,
            wrng: fastrand::Rng::with_seed(seed ^ 0x5749_544e_4553_5300),
            witness_ids: BTreeSet::new(),
            priority_seed: false,
        };
        w.witness_seed = w.wrng.u8(0..3) == 0;
        // Priority elections and batched appends (beyond etcd), each in a
        // third of the seeds, drawn from a generator of their own so the
        // other seeds replay as before.
        let mut orng = fastrand::Rng::with_seed(seed ^ 0x5052_494f_5249_5459);
        w.priority_seed = orng.u8(0..3) == 0;
        w.cfg.batch_append = orng.u8(0..3) == 0;
        w.stats.priority_seeds = u64::from(w.priority_seed);
        w.stats.batch_append_seeds = u64::from(w.cfg.batch_append);
        let peers: Vec<Peer> = (1..=n).map(|id| Peer { id, ..Default::default() }).collect();
        for id in 1..=n {
            w.add_fresh(id, Some(&peers), 0)?;
        }
        Ok(w)
    }

    fn node_config(&self, id: u64, applied: u64) -> Config {
        let mut c = self.cfg.clone();
        c.id = id;
        c.applied = applied;
        let mut rng = fastrand::Rng::with_seed(self.seed ^ (id << 32) ^ self.now);
        c.election_tick = 10;
        let _ = rng.u8(..);
        if self.priority_seed {
            c.priority = fastrand::Rng::with_seed(self.seed ^ id.wrapping_mul(0x9e37_79b9)).i64(-2..=3);
        }
        c
    }

    fn seeded(&self, raw: &mut RawNode<MemoryStorage>, id: u64) {
        raw.raft_mut().seed_rng(self.seed.wrapping_mul(31).wrapping_add(id).wrapping_add(self.now << 8));
    }

    /// A brand-new node with empty storage (bootstrapped with `peers` when
    /// it is one of the founders).
    fn add_fresh(&mut self, id: u64, peers: Option<&[Peer]>, joined_at: u64) -> Check {
        if std::env::var_os("POLYRAFT_SIM_TRACE").is_some() {
            eprintln!("add {id} joined_at {joined_at} tick {}", self.now);
        }
        let storage = MemoryStorage::new();
        let mut raw = RawNode::new(&self.node_config(id, 0), storage.clone()).map_err(|e| e.to_string())?;
        self.seeded(&mut raw, id);
        if let Some(p) = peers {
            raw.bootstrap(p).map_err(|e| e.to_string())?;
        }
        self.nodes.insert(
            id,
            SimNode { raw: Some(raw), storage, applied: Vec::new(), app_index: 0, conf_state: ConfState::default(), last_commit: 0, removed: false, joined_at, retire: false, append_work: Vec::new(), apply_work: Vec::new(), snap_floor: 0, leader_commit: None, stalled_until: 0 },
        );
        Ok(())
    }

    /// Every node's state, for failure reports.
    fn describe_world(&self) -> String {
        let mut out = String::new();
        for (id, n) in &self.nodes {
            let r = n.raw.as_ref().map(|r| {
                format!(
                    "{:?} term {} lead {} log [{}] raft config {}",
                    r.raft().state,
                    r.raft().term,
                    r.raft().lead,
                    r.raft().raft_log,
                    r.raft().trk.config
                )
            });
            out.push_str(&format!(
                "  node {id}: app {} applied cs {:?}/{:?}/{:?} removed {} -> {r:?}\n",
                n.app_index, n.conf_state.voters, n.conf_state.learners, n.conf_state.voters_outgoing, n.removed
            ));
        }
        out
    }

    fn fail(&self, what: impl fmt::Display) -> String {
        format!(
            "seed {} tick {}: {what}\nreplay: cargo run -p polyraft --features rafttest --example sim -- --seeds 1 --start {}",
            self.seed, self.now, self.seed
        )
    }

    fn crash(&mut self, id: u64) {
        if let Some(n) = self.nodes.get_mut(&id) {
            if n.raw.take().is_some() {
                self.stats.crashes += 1;
            }
            n.append_work.clear();
            n.apply_work.clear();
        }
    }

    /// Restarts from what was persisted: the storage (made to carry the
    /// applied configuration as a snapshot) and the applied state.
    fn restart(&mut self, id: u64) -> Check {
        let cfg = {
            let n = &self.nodes[&id];
            if n.raw.is_some() || n.removed {
                return Ok(());
            }
            self.node_config(id, n.app_index)
        };
        let n = self.nodes.get_mut(&id).expect("exists");
        let snap_index = n.storage.snapshot().map_err(|e| e.to_string())?.index();
        if n.app_index > snap_index {
            n.storage
                .create_snapshot(n.app_index, Some(n.conf_state.clone()), encode_state(&n.applied))
                .map_err(|e| format!("restart {id}: {e}"))?;
        }
        let mut raw = RawNode::new(&cfg, n.storage.clone()).map_err(|e| format!("restart {id}: {e}"))?;
        raw.raft_mut().seed_rng(self.seed ^ id ^ (self.now << 16));
        self.nodes.get_mut(&id).expect("exists").raw = Some(raw);
        Ok(())
    }

    fn send(&mut self, m: Message) {
        // Forwarded proposals are not duplicated: raft forwards them
        // at-least-once, and exactly-once is the client's job (it would
        // dedupe by request id), not raft's.
        let dup_ok = m.r#type() != MessageType::MsgProp;
        let reps = if dup_ok && self.rng.f64() < self.dup { 2 } else { 1 };
        if reps == 2 {
            self.stats.duplicated += 1;
        }
        for _ in 0..reps {
            let delay = if self.max_delay == 0 { 0 } else { self.rng.u64(0..=self.max_delay) };
            if delay > 0 {
                self.stats.delayed += 1;
            }
            self.net.push((self.now + delay, m.clone()));
        }
    }

    /// One Ready cycle of `id`, with every check that depends on it. With
    /// async storage writes the persistence and apply work is queued for the
    /// node's storage threads instead (see `run_storage_work`).
    fn process_ready(&mut self, id: u64) -> Result<bool, String> {
        let Some(n) = self.nodes.get_mut(&id) else { return Ok(false) };
        let Some(raw) = n.raw.as_mut() else { return Ok(false) };
        if !raw.has_ready() {
            return Ok(false);
        }
        let rd = raw.ready();
        self.stats.readies += 1;
        let term = raw.raft().term;
        let first_index = raw.raft().raft_log.first_index();
        let became_leader = rd.soft_state.is_some_and(|s| s.raft_state == StateType::Leader);
        self.check_leader_commit(id)?;
        if became_leader {
            self.check_new_leader(id, term, first_index)?;
        }
        self.check_reads(id, &rd.read_states)?;
        if self.cfg.async_storage_writes {
            let n = self.nodes.get_mut(&id).expect("exists");
            let mut out = Vec::new();
            for m in rd.messages {
                match m.to {
                    crate::LOCAL_APPEND_THREAD => n.append_work.push(m),
                    crate::LOCAL_APPLY_THREAD => n.apply_work.push(m),
                    _ => out.push(m),
                }
            }
            self.send_all(id, out);
            return Ok(true);
        }
        self.persist(id, rd.hard_state, &rd.entries, rd.snapshot.clone())?;
        let retire = self.apply(id, &rd.committed_entries)?;
        let n = self.nodes.get_mut(&id).expect("exists");
        if let Some(raw) = n.raw.as_mut() {
            raw.advance().map_err(|e| format!("advance on {id}: {e}"))?;
        }
        if retire {
            self.retire(id);
        }
        self.send_all(id, rd.messages);
        Ok(true)
    }

    /// Runs one queued storage-thread job per node (async storage writes):
    /// persist or apply, then deliver the responses the node attached.
    fn run_storage_work(&mut self, id: u64) -> Result<bool, String> {
        let n = self.nodes.get_mut(&id).expect("exists");
        if n.raw.is_none() || n.stalled_until > self.now {
            return Ok(false);
        }
        let (resps, retire) = if !n.append_work.is_empty() {
            let m = n.append_work.remove(0);
            let hs = HardState { term: m.term, vote: m.vote, commit: m.commit };
            let hs = (hs != HardState::default()).then_some(hs);
            self.persist(id, hs, &m.entries, m.snapshot.as_deref().cloned())?;
            (m.responses, false)
        } else if !n.apply_work.is_empty() {
            let m = n.apply_work.remove(0);
            let retire = self.apply(id, &m.entries)?;
            (m.responses, retire)
        } else {
            return Ok(false);
        };
        let mut out = Vec::new();
        for r in resps {
            if r.to == id {
                if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
                    let _ = raw.step(r);
                }
            } else {
                out.push(r);
            }
        }
        self.check_stable_view(id)?;
        if retire {
            self.retire(id);
        }
        self.send_all(id, out);
        Ok(true)
    }

    /// Raft §5.4.2 (Figure 8): a leader advances its commit index only to
    /// an entry of its own term; earlier entries commit with it.
    fn check_leader_commit(&mut self, id: u64) -> Check {
        let n = self.nodes.get_mut(&id).expect("exists");
        let Some(raw) = n.raw.as_ref() else { return Ok(()) };
        let r = raw.raft();
        if r.state != StateType::Leader {
            n.leader_commit = None;
            return Ok(());
        }
        let (term, commit) = (r.term, r.raft_log.committed);
        let at = r.raft_log.term(commit).ok();
        let prev = n.leader_commit.replace((term, commit));
        match prev {
            Some((t, c)) if t == term && commit > c && at != Some(term) => Err(self.fail(format!(
                "leader {id} of term {term} committed index {commit} of term {at:?} by counting (Figure 8)"
            ))),
            _ => Ok(()),
        }
    }

    /// Async writes: every entry the node counts as stable (below its
    /// unstable offset) is, once the writes still queued for its append
    /// thread are done, in storage with the term the node believes. A stale
    /// write acknowledgement must not mark newer entries stable (the term
    /// guard against the append ABA race).
    fn check_stable_view(&self, id: u64) -> Check {
        let n = &self.nodes[&id];
        let Some(raw) = n.raw.as_ref() else { return Ok(()) };
        let log = &raw.raft().raft_log;
        let (first, offset) = (log.first_index(), log.unstable.offset);
        // Indexes at and above `cut` are what the queued writes leave.
        let mut cut = u64::MAX;
        let mut pending: BTreeMap<u64, u64> = BTreeMap::new();
        for m in &n.append_work {
            if let Some(e0) = m.entries.first() {
                cut = cut.min(e0.index);
                pending.retain(|&i, _| i < e0.index);
                pending.extend(m.entries.iter().map(|e| (e.index, e.term)));
            }
        }
        for i in first.max(cut)..offset {
            let will = pending.get(&i).copied();
            let believed = log.term(i).ok();
            if will != believed {
                return Err(self.fail(format!(
                    "node {id} counts entry {i} (term {believed:?}) as stable, but its queued writes leave term {will:?} there"
                )));
            }
        }
        Ok(())
    }

    fn retire(&mut self, id: u64) {
        // Like etcd's server, stop a member once it applied its removal.
        let n = self.nodes.get_mut(&id).expect("exists");
        n.raw = None;
        n.removed = true;
        n.append_work.clear();
        n.apply_work.clear();
        if std::env::var_os("POLYRAFT_SIM_TRACE").is_some() {
            eprintln!("retire {id} at app {} joined {} cs {:?}", n.app_index, n.joined_at, n.conf_state);
        }
    }

    fn send_all(&mut self, from: u64, msgs: Vec<Message>) {
        for m in msgs {
            if m.r#type() == MessageType::MsgSnap {
                // The application reports snapshot delivery.
                self.net_snapshot(from, &m);
            }
            self.send(m);
        }
    }

    /// Writes a HardState, entries or a snapshot to `id`'s storage.
    fn persist(&mut self, id: u64, hs: Option<HardState>, entries: &[Entry], snap: Option<Snapshot>) -> Check {
        if self.witness_ids.contains(&id) {
            // A witness receives metadata only (docs/witness.md).
            if let Some(e) = entries.iter().find(|e| e.r#type() == EntryType::EntryNormal && !e.data.is_empty()) {
                return Err(self.fail(format!("witness {id} received the payload of entry {}/{}", e.term, e.index)));
            }
            if let Some(s) = snap.as_ref().filter(|s| !s.data.is_empty()) {
                return Err(self.fail(format!("witness {id} received snapshot data at index {}", s.index())));
            }
        }
        let n = self.nodes.get_mut(&id).expect("exists");
        if let Some(snap) = snap.filter(|s| s.index() > 0) {
            n.storage.apply_snapshot(snap.clone()).map_err(|e| format!("apply snapshot on {id}: {e}"))?;
            // The state machine jumps to the snapshot's state.
            n.applied = decode_state(snap.data.clone());
            n.app_index = snap.index();
            n.snap_floor = snap.index();
            n.conf_state = snap.conf_state();
        }
        n.storage.append(entries).map_err(|e| format!("append on {id}: {e}"))?;
        if let Some(hs) = hs {
            if hs.commit < n.last_commit {
                let msg = format!("node {id} commit went back from {} to {}", n.last_commit, hs.commit);
                return Err(self.fail(msg));
            }
            n.last_commit = hs.commit;
            n.storage.set_hard_state(hs);
        }
        Ok(())
    }

    /// Applies committed entries on `id` and checks state-machine safety.
    /// Returns whether the node applied its own removal.
    fn apply(&mut self, id: u64, ents: &[Entry]) -> Result<bool, String> {
        // A witness keeps no state machine: it applies conf changes only,
        // and its normal entries are checked by term alone.
        let witness = self.witness_ids.contains(&id);
        let n = self.nodes.get_mut(&id).expect("exists");
        let seen_term = n.raw.as_ref().map_or(u64::MAX, |r| r.raft().term);
        let mut newly = Vec::new();
        for e in ents {
            if e.index <= n.snap_floor && e.index <= n.app_index {
                // Already covered by a snapshot installed meanwhile.
                continue;
            }
            if e.index != n.app_index + 1 {
                let msg = format!("node {id} applied index {} after {}", e.index, n.app_index);
                return Err(self.fail(msg));
            }
            if let Some(cc) = conf_change_of(e).map_err(|x| x.to_string())? {
                let Some(raw) = n.raw.as_mut() else { break };
                let before = is_member(&n.conf_state, id);
                match raw.apply_conf_change(cc.clone()) {
                    Ok(cs) => {
                        // Only a change that drops us (not replaying history
                        // from an empty config after a restart) retires us.
                        let after = is_member(&cs, id);
                        if before && !after && e.index > n.joined_at {
                            n.retire = true;
                        } else if after {
                            n.retire = false;
                        }
                        n.conf_state = cs;
                    }
                    Err(err) => {
                        let msg = format!("node {id} could not apply committed conf change {cc:?}: {err}");
                        return Err(self.fail(msg));
                    }
                }
            }
            n.app_index = e.index;
            let a = Applied { index: e.index, term: e.term, data: e.data.clone() };
            let normal = e.r#type() == EntryType::EntryNormal;
            if normal && !e.data.is_empty() && !witness {
                n.applied.push(a.clone());
            }
            newly.push((a, normal));
        }
        let retire = std::mem::take(&mut n.retire);
        for (a, normal) in newly {
            if witness && normal {
                match self.committed.get(&a.index) {
                    Some((t, _, _, _)) if *t != a.term => {
                        return Err(self.fail(format!(
                            "state machine safety: witness {id} committed {}/{} but {}/{} was applied elsewhere",
                            a.term, a.index, t, a.index
                        )));
                    }
                    _ => continue,
                }
            }
            match self.committed.get(&a.index) {
                Some((t, d, _, _)) if *t != a.term || *d != a.data => {
                    return Err(self.fail(format!(
                        "state machine safety: node {id} applied {}/{} but {}/{} was applied elsewhere",
                        a.term, a.index, t, a.index
                    )));
                }
                Some(_) => {}
                None => {
                    if normal && !a.data.is_empty() {
                        self.acked.insert(a.data.clone());
                    }
                    self.committed.insert(a.index, (a.term, a.data, normal, seen_term));
                }
            }
        }
        Ok(retire)
    }

    /// Election safety and leader completeness for a node that just became
    /// leader of `term`.
    fn check_new_leader(&mut self, id: u64, term: u64, first_index: u64) -> Check {
        if self.witness_ids.contains(&id) {
            return Err(self.fail(format!("witness {id} became leader of term {term}")));
        }
        if let Some(&other) = self.leaders.get(&term) {
            if other != id {
                return Err(self.fail(format!("two leaders in term {term}: {other} and {id}")));
            }
        }
        self.leaders.insert(term, id);
        if let Some(raw) = self.nodes[&id].raw.as_ref() {
            // Entries known committed before `term` began (a leader's Ready
            // may be processed after later terms committed more).
            for (&i, (t, _, _, seen)) in self.committed.range(first_index..) {
                if *seen >= term {
                    continue;
                }
                let have = raw.raft().raft_log.term(i).ok();
                if have != Some(*t) {
                    let world = self.describe_world();
                    return Err(self.fail(format!(
                        "leader {id} of term {term} lacks committed entry {i} (term {t}); has {have:?}\n{world}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A ReadIndex answer is never below what was committed when the read
    /// was issued.
    fn check_reads(&self, id: u64, read_states: &[crate::ReadState]) -> Check {
        for rs in read_states {
            if let Some(&floor) = self.reads.get(&rs.request_ctx) {
                if rs.index < floor {
                    return Err(self.fail(format!(
                        "read {:?} on {id} answered at index {} below {floor}, committed when it was issued",
                        rs.request_ctx, rs.index
                    )));
                }
            }
        }
        Ok(())
    }

    fn net_snapshot(&mut self, from: u64, m: &Message) {
        let ok = !self.cut.contains(&(from, m.to)) && self.nodes.get(&m.to).is_some_and(|n| n.raw.is_some());
        if let Some(raw) = self.nodes.get_mut(&from).and_then(|n| n.raw.as_mut()) {
            raw.report_snapshot(m.to, if ok { SnapshotStatus::Finish } else { SnapshotStatus::Failure });
        }
    }

    /// Processes Readies and delivers due messages until quiet.
    fn settle(&mut self) -> Check {
        for _ in 0..200 {
            let mut moved = false;
            let ids: Vec<u64> = self.nodes.keys().copied().collect();
            for &id in &ids {
                moved |= self.process_ready(id)?;
            }
            for &id in &ids {
                // Storage threads lag behind at random (async writes).
                if self.rng.f64() < self.storage_speed {
                    moved |= self.run_storage_work(id)?;
                } else if self.nodes[&id].stalled_until <= self.now
                    && (!self.nodes[&id].append_work.is_empty() || !self.nodes[&id].apply_work.is_empty())
                {
                    moved = true;
                }
            }
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net).into_iter().partition(|(t, _)| *t <= self.now);
            self.net = later;
            for (_, m) in due {
                moved = true;
                let lost = self.rng.f64() < self.loss || self.cut.contains(&(m.from, m.to));
                match self.nodes.get_mut(&m.to).and_then(|n| n.raw.as_mut()) {
                    Some(raw) if !lost => {
                        let _ = raw.step(m);
                        self.stats.delivered += 1;
                    }
                    _ => self.stats.dropped += 1,
                }
            }
            if !moved {
                return Ok(());
            }
        }
        Ok(())
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(&id, n)| n.raw.as_ref().map(|r| (id, r)))
            .filter(|(_, r)| r.raft().state == StateType::Leader)
            .max_by_key(|(_, r)| r.raft().term)
            .map(|(id, _)| id)
    }

    fn max_commit(&self) -> u64 {
        self.nodes.values().filter_map(|n| n.raw.as_ref()).map(|r| r.raft().raft_log.committed).max().unwrap_or(0)
    }

    fn propose(&mut self, id: u64) {
        self.next_payload += 1;
        let data = Bytes::from(format!("p{}", self.next_payload));
        if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
            let _ = raw.propose(data);
            self.stats.proposals += 1;
        }
    }

    fn random_conf_change(&mut self, leader: u64) -> Check {
        let cs = self.nodes[&leader].conf_state.clone();
        let voters: Vec<u64> = cs.voters.clone();
        let learners: Vec<u64> = cs.learners.clone();
        let single = |t: ConfChangeType, id: u64| ConfChangeSingle { r#type: t as i32, node_id: id };
        let cc = if !cs.voters_outgoing.is_empty() {
            ConfChangeV2::default()
        } else {
            let members = voters.len() + learners.len();
            // Witness seeds favour adding a witness while there are few.
            let choice = if self.witness_seed && cs.witnesses.len() < 2 && self.wrng.bool() { 0 } else { self.rng.u8(0..5) };
            match choice {
                0 if members < 7 => {
                    // Ids are never reused (as etcd requires): a wiped node
                    // under an old id would be a voter that lost its disk.
                    let id = self.nodes.keys().max().copied().unwrap_or(0) + 1;
                    let joined_at = self.nodes[&leader].raw.as_ref().map_or(0, |r| r.raft().raft_log.last_index());
                    self.add_fresh(id, None, joined_at)?;
                    let t = if self.witness_seed && cs.witnesses.len() < 2 && self.wrng.u8(0..4) != 0 {
                        // Witnesses join as voters directly (docs/witness.md).
                        self.witness_ids.insert(id);
                        self.stats.witnesses += 1;
                        ConfChangeType::ConfChangeAddWitnessNode
                    } else {
                        ConfChangeType::ConfChangeAddLearnerNode
                    };
                    ConfChangeV2 { changes: vec![single(t, id)], ..Default::default() }
                }
                1 if !learners.is_empty() => {
                    let id = learners[self.rng.usize(0..learners.len())];
                    ConfChangeV2 { changes: vec![single(ConfChangeType::ConfChangeAddNode, id)], ..Default::default() }
                }
                2 if voters.len() > 3 => {
                    let id = voters[self.rng.usize(0..voters.len())];
                    let mut t = if self.rng.bool() { ConfChangeType::ConfChangeRemoveNode } else { ConfChangeType::ConfChangeAddLearnerNode };
                    let data_voters = voters.iter().filter(|v| !cs.witnesses.contains(v)).count();
                    if cs.witnesses.contains(&id) {
                        // A witness can only leave, never become a learner.
                        t = ConfChangeType::ConfChangeRemoveNode;
                    } else if data_voters <= 1 {
                        // The last data voter stays (only it can lead).
                        return Ok(());
                    }
                    ConfChangeV2 { changes: vec![single(t, id)], ..Default::default() }
                }
                3 if !learners.is_empty() && voters.len() >= 3 => {
                    // Joint: promote a learner and demote or remove a voter.
                    let add = learners[self.rng.usize(0..learners.len())];
                    let out = voters[self.rng.usize(0..voters.len())];
                    let mut t = if self.rng.bool() { ConfChangeType::ConfChangeRemoveNode } else { ConfChangeType::ConfChangeAddLearnerNode };
                    if cs.witnesses.contains(&out) {
                        t = ConfChangeType::ConfChangeRemoveNode;
                    }
                    let transition = [ConfChangeTransition::Auto, ConfChangeTransition::JointImplicit, ConfChangeTransition::JointExplicit][self.rng.usize(0..3)];
                    ConfChangeV2 {
                        transition: transition as i32,
                        changes: vec![single(ConfChangeType::ConfChangeAddNode, add), single(t, out)],
                        ..Default::default()
                    }
                }
                _ if !learners.is_empty() => {
                    let id = learners[self.rng.usize(0..learners.len())];
                    ConfChangeV2 { changes: vec![single(ConfChangeType::ConfChangeRemoveNode, id)], ..Default::default() }
                }
                _ => return Ok(()),
            }
        };
        if let Some(raw) = self.nodes.get_mut(&leader).and_then(|n| n.raw.as_mut()) {
            let _ = raw.propose_conf_change(cc);
            self.stats.conf_changes += 1;
        }
        Ok(())
    }

    fn random_partition(&mut self) {
        self.cut.clear();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        self.stats.partitions += 1;
        if self.rng.bool() {
            // Full split into two sides.
            let side: BTreeSet<u64> = ids.iter().copied().filter(|_| self.rng.bool()).collect();
            for &a in &ids {
                for &b in &ids {
                    if side.contains(&a) != side.contains(&b) {
                        self.cut.insert((a, b));
                    }
                }
            }
        } else {
            // Partial: some links fail, possibly one way (A sees B, B sees
            // C, A does not see C).
            for _ in 0..self.rng.usize(1..=3) {
                let a = ids[self.rng.usize(0..ids.len())];
                let b = ids[self.rng.usize(0..ids.len())];
                if a != b {
                    self.cut.insert((a, b));
                    if self.rng.bool() {
                        self.cut.insert((b, a));
                    }
                }
            }
        }
    }

    /// Takes a snapshot of the applied state (no compaction). Snapshots
    /// must be refreshed after membership changes: a node added after the
    /// newest snapshot rejects it (it is not in its ConfState), as in etcd.
    fn refresh_snapshot(&mut self, id: u64) -> Check {
        let n = self.nodes.get_mut(&id).expect("exists");
        let snap_index = n.storage.snapshot().map_err(|e| e.to_string())?.index();
        if n.raw.is_some() && n.app_index > snap_index {
            n.storage
                .create_snapshot(n.app_index, Some(n.conf_state.clone()), encode_state(&n.applied))
                .map_err(|e| format!("snapshot on {id}: {e}"))?;
        }
        Ok(())
    }

    fn compact(&mut self, id: u64) -> Check {
        let n = self.nodes.get_mut(&id).expect("exists");
        if n.raw.is_none() || n.app_index < 3 {
            return Ok(());
        }
        let snap_index = n.storage.snapshot().map_err(|e| e.to_string())?.index();
        if n.app_index <= snap_index {
            return Ok(());
        }
        n.storage
            .create_snapshot(n.app_index, Some(n.conf_state.clone()), encode_state(&n.applied))
            .map_err(|e| format!("snapshot on {id}: {e}"))?;
        let keep = 2;
        let to = n.app_index.saturating_sub(keep);
        if to > n.storage.first_index().map_err(|e| e.to_string())? {
            n.storage.compact(to).map_err(|e| format!("compact on {id}: {e}"))?;
            self.stats.compactions += 1;
        }
        Ok(())
    }

    /// Log matching between every pair of live logs: agreeing on an
    /// entry's term implies agreeing on everything before it.
    fn check_log_matching(&self) -> Check {
        // A witness holds no payloads of normal entries (and must not):
        // against a witness, only index, term and conf changes compare.
        let logs: Vec<(u64, bool, Vec<Entry>)> = self
            .nodes
            .iter()
            .filter_map(|(&id, n)| n.raw.as_ref().map(|r| (id, self.witness_ids.contains(&id), r.raft().raft_log.all_entries())))
            .collect();
        for (id, witness, ents) in &logs {
            if let Some(e) = ents.iter().find(|e| *witness && !crate::witness::keeps_payload(e) && !e.data.is_empty()) {
                return Err(self.fail(format!("witness {id} holds the payload of entry {}/{}", e.term, e.index)));
            }
        }
        for (i, (a_id, a_w, a)) in logs.iter().enumerate() {
            for (b_id, b_w, b) in &logs[i + 1..] {
                let bm: HashMap<u64, &Entry> = b.iter().map(|e| (e.index, e)).collect();
                let with_witness = *a_w || *b_w;
                let same = |x: &Entry, y: &Entry| {
                    let payload_compares = !with_witness || crate::witness::keeps_payload(x);
                    x.term == y.term && (!with_witness || x.r#type == y.r#type) && (!payload_compares || x.data == y.data)
                };
                // From the highest common entry with equal terms downwards,
                // everything must match.
                let mut matched = false;
                for e in a.iter().rev() {
                    match bm.get(&e.index) {
                        Some(f) if matched || f.term == e.term => {
                            if !same(e, f) {
                                return Err(self.fail(format!(
                                    "log matching: nodes {a_id} and {b_id} agree below index {} on a term but differ at {}",
                                    e.index, e.index
                                )));
                            }
                            matched = true;
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    fn tick(&mut self, faults: bool) -> Check {
        self.now += 1;
        self.stats.ticks += 1;
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        if faults {
            if self.rng.f64() < 0.03 {
                self.random_partition();
            } else if self.rng.f64() < 0.05 {
                self.cut.clear();
            }
            if self.rng.f64() < 0.01 {
                let id = ids[self.rng.usize(0..ids.len())];
                self.crash(id);
            }
            // Leaders fail more often than average nodes do in the scenarios
            // that matter (Figure 8): entries of old terms left half-replicated.
            if self.rng.f64() < 0.02 {
                if let Some(l) = self.leader() {
                    self.crash(l);
                }
            }
            // A slow disk: writes stay in flight across elections, where a
            // stale acknowledgement can meet entries that replaced its own.
            if self.cfg.async_storage_writes && self.rng.f64() < 0.03 {
                let id = ids[self.rng.usize(0..ids.len())];
                let until = self.now + self.rng.u64(1..=20);
                self.nodes.get_mut(&id).expect("exists").stalled_until = until;
                self.stats.stalls += 1;
            }
            for &id in &ids {
                if self.nodes[&id].raw.is_none() && self.rng.f64() < 0.1 {
                    self.restart(id)?;
                }
            }
        }
        for &id in &ids {
            if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
                raw.tick();
            }
        }
        if self.rng.f64() < 0.3 {
            let id = ids[self.rng.usize(0..ids.len())];
            self.propose(id);
        }
        if faults {
            if let Some(l) = self.leader() {
                if self.rng.f64() < 0.03 {
                    self.random_conf_change(l)?;
                }
                if self.rng.f64() < 0.01 {
                    let to = ids[self.rng.usize(0..ids.len())];
                    if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
                        raw.transfer_leader(to);
                        self.stats.transfers += 1;
                    }
                }
            }
            if self.rng.f64() < 0.05 {
                let id = ids[self.rng.usize(0..ids.len())];
                let ctx = Bytes::from(format!("r{}", self.now));
                let floor = self.max_commit();
                if let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) {
                    self.reads.insert(ctx.clone(), floor);
                    let _ = raw.read_index(ctx);
                    self.stats.reads += 1;
                }
            }
            for &id in &ids {
                if self.rng.f64() < 0.02 {
                    self.compact(id)?;
                }
            }
        }
        self.settle()?;
        if std::env::var_os("POLYRAFT_SIM_TRACE").is_some() {
            let states: Vec<String> = self
                .nodes
                .iter()
                .filter_map(|(i, n)| n.raw.as_ref().map(|r| format!("{i}:{:?}/t{}/l{}/c{}/ee{}", r.raft().state, r.raft().term, r.raft().lead, r.raft().raft_log.committed, r.raft().election_elapsed())))
                .collect();
            eprintln!("tick {} {}", self.now, states.join(" "));
        }
        if self.now % 10 == 0 {
            self.check_log_matching()?;
        }
        Ok(())
    }

    /// What an application does once the cluster works again (etcd's
    /// server learns membership from its peers): stop nodes that the
    /// leader's applied configuration no longer contains, unless they are
    /// joining after it. Without PreVote and CheckQuorum such a node would
    /// otherwise disrupt elections forever (Raft §6), in etcd as here.
    fn retire_non_members(&mut self) {
        let Some(l) = self.leader() else { return };
        let (cs, applied) = {
            let n = &self.nodes[&l];
            (n.conf_state.clone(), n.app_index)
        };
        let members: BTreeSet<u64> = cs.voters.iter().chain(&cs.learners).chain(&cs.voters_outgoing).copied().collect();
        for (id, n) in self.nodes.iter_mut() {
            if n.raw.is_some() && !members.contains(id) && n.joined_at <= applied {
                n.raw = None;
                n.removed = true;
            }
        }
    }

    /// Heals everything and requires progress: a leader, and a new
    /// proposal applied, within a bound.
    fn liveness(&mut self) -> Check {
        self.cut.clear();
        self.loss = 0.0;
        self.dup = 0.0;
        self.max_delay = 0;
        // Members of the newest configuration survive; others are retired
        // (an application stops removed nodes).
        let newest = self
            .nodes
            .values()
            .max_by_key(|n| (n.app_index, n.last_commit))
            .map(|n| n.conf_state.clone())
            .unwrap_or_default();
        let members: BTreeSet<u64> =
            newest.voters.iter().chain(&newest.learners).chain(&newest.voters_outgoing).copied().collect();
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            if members.contains(&id) {
                self.restart(id)?;
            } else {
                self.crash(id);
            }
        }
        // Each attempt carries a fresh payload: re-proposing the same bytes
        // would make a retried proposal look like a duplicate apply.
        let mut probes: Vec<Bytes> = Vec::new();
        let mut proposed_at = None;
        for _ in 0..400 {
            self.tick(false)?;
            self.retire_non_members();
            if self.now % 10 == 0 {
                let ids: Vec<u64> = self.nodes.keys().copied().collect();
                for id in ids {
                    self.refresh_snapshot(id)?;
                }
            }
            if let Some(l) = self.leader() {
                if proposed_at.is_none_or(|t| self.now - t > 30) {
                    let probe = Bytes::from(format!("live-{}-{}", self.seed, probes.len()));
                    if let Some(raw) = self.nodes.get_mut(&l).and_then(|n| n.raw.as_mut()) {
                        if raw.propose(probe.clone()).is_ok() {
                            proposed_at = Some(self.now);
                            probes.push(probe);
                        }
                    }
                }
            }
            if probes.iter().any(|p| self.acked.contains(p)) {
                return self.check_history(&members);
            }
        }
        let detail = self.leader().and_then(|l| self.nodes[&l].raw.as_ref()).map(|r| {
            let st = r.status();
            format!(
                "term {} config {} log [{}] progress {:?}",
                r.raft().term,
                st.config,
                r.raft().raft_log,
                st.progress.iter().map(|(id, p)| format!("{id}: {p}")).collect::<Vec<_>>()
            )
        });
        let alive: Vec<u64> = self.nodes.iter().filter(|(_, n)| n.raw.is_some()).map(|(&id, _)| id).collect();
        Err(self.fail(format!(
            "no progress within 400 ticks after healing (leader {:?}: {detail:?}; alive {alive:?}; members {members:?})",
            self.leader()
        )))
    }

    /// A learner whose term is above the leader's, without PreVote and
    /// CheckQuorum, never rejoins, in etcd as here: it ignores the leader's
    /// lower-term appends without answering (etcd answers only when one of
    /// the two options is on), and as a learner it never campaigns to carry
    /// its term to the others. (It got there by voting for a candidate that
    /// lost.) Its history must still be a prefix, but it need not catch up.
    fn stranded_learner(&self, id: u64) -> bool {
        if self.cfg.pre_vote || self.cfg.check_quorum {
            return false;
        }
        let Some(l) = self.leader() else { return false };
        let (Some(me), Some(leader)) = (self.nodes[&id].raw.as_ref(), self.nodes[&l].raw.as_ref()) else { return false };
        me.raft().term > leader.raft().term && leader.raft().trk.progress.get(&id).is_some_and(|p| p.is_learner)
    }

    /// Every acknowledged proposal is applied exactly once, in one order,
    /// on every surviving member that caught up.
    fn check_history(&mut self, members: &BTreeSet<u64>) -> Check {
        for _ in 0..100 {
            self.tick(false)?;
            self.retire_non_members();
            if self.now % 10 == 0 {
                let ids: Vec<u64> = self.nodes.keys().copied().collect();
                for id in ids {
                    self.refresh_snapshot(id)?;
                }
            }
        }
        // Conf changes proposed before healing may have landed since: check
        // the members of the leader's configuration now.
        let final_members: BTreeSet<u64> = match self.leader() {
            Some(l) => {
                let cs = &self.nodes[&l].conf_state;
                cs.voters.iter().chain(&cs.learners).chain(&cs.voters_outgoing).copied().collect()
            }
            None => members.clone(),
        };
        let members = &final_members;
        let order: Vec<&Bytes> =
            self.committed.values().filter(|(_, d, normal, _)| *normal && !d.is_empty()).map(|(_, d, _, _)| d).collect();
        for id in members {
            let n = &self.nodes[id];
            if self.witness_ids.contains(id) {
                if !n.applied.is_empty() {
                    return Err(self.fail(format!("witness {id} applied payloads")));
                }
                continue;
            }
            let mut seen = BTreeSet::new();
            for a in &n.applied {
                if !seen.insert(a.data.clone()) {
                    return Err(self.fail(format!("node {id} applied {:?} twice", a.data)));
                }
            }
            let mine: Vec<&Bytes> = n.applied.iter().map(|a| &a.data).collect();
            if mine.len() > order.len() || mine[..] != order[..mine.len()] {
                return Err(self.fail(format!("node {id} applied payloads in a different order")));
            }
            if n.raw.is_some() && mine.len() < order.len() && !self.stranded_learner(*id) {
                let lead = self.leader();
                let pr = lead
                    .and_then(|l| self.nodes[&l].raw.as_ref())
                    .and_then(|r| r.raft().trk.progress.get(id).map(|p| p.to_string()));
                let st = n.raw.as_ref().map(|r| (r.raft().state, r.raft().term, r.raft().raft_log.to_string()));
                let world: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|(i, x)| {
                        format!(
                            "{i}: alive={} removed={} app={} cs={:?}/{:?}/{:?} state={:?}",
                            x.raw.is_some(),
                            x.removed,
                            x.app_index,
                            x.conf_state.voters,
                            x.conf_state.learners,
                            x.conf_state.voters_outgoing,
                            x.raw.as_ref().map(|r| (r.raft().state, r.raft().term, r.raft().lead))
                        )
                    })
                    .collect();
                let st = (st, world);
                return Err(self.fail(format!(
                    "node {id} applied {} of {} acknowledged payloads after healing (leader {lead:?}, its progress {pr:?}, node {st:?})",
                    mine.len(),
                    order.len()
                )));
            }
        }
        Ok(())
    }
}

/// Runs one seed: a fault phase of `ticks` ticks, then the liveness phase.
pub fn run_seed(seed: u64, ticks: u64) -> Result<SimStats, String> {
    let mut w = World::new(seed)?;
    for _ in 0..ticks {
        w.tick(true)?;
    }
    w.liveness()?;
    Ok(w.stats)
}

/// Runs `count` seeds from `start`; returns the totals or the first failure.
pub fn run_seeds(start: u64, count: u64, ticks: u64) -> Result<SimStats, String> {
    let mut total = SimStats::default();
    for seed in start..start + count {
        total.add(&run_seed(seed, ticks)?);
    }
    Ok(total)
}
