//! One replica: its raft node, its state machine, the replicated host state
//! beside it (session table, address book) and the client operations
//! waiting on it. The apply stage lives here: committed entries are turned
//! into state machine calls in log order, and their results complete the
//! waiting operations.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::RwLock;
use polyraft::raftpb::{self, ConfChange, ConfChangeI, ConfChangeV2, ConfState, Entry, EntryType, Snapshot, SnapshotMetadata};
use polyraft::{RawNode, StateType};

use crate::codec::{get_u64, put_bytes, put_u64};
use crate::envelope::{self, Origin, Payload, SessionTag};
use crate::error::{OpError, OpResult};
use crate::metrics::{GroupMetrics, HostMetrics};
use crate::session::{Dedup, SessionTable};
use crate::snapdata::{CheckedReader, DataRef};
use crate::snapshots::SnapshotStore;
use crate::statemachine::StateMachine;
use crate::storage::GroupStorage;

/// A completion: called once with the outcome of an operation, on a step
/// worker's thread (or, in manual mode, inside [`crate::Host::run_once`]).
/// It must return quickly and must not call the host's blocking methods
/// (the worker would wait on itself); queueing another `_async` call is
/// fine.
pub type Completion<T> = Box<dyn FnOnce(OpResult<T>) + Send>;

pub(crate) struct PendingProposal {
    pub deadline: Duration,
    pub done: Completion<Bytes>,
}

/// A proposal received in the current round, not yet given to raft: the
/// shard proposes every proposal of a round together (see
/// `Shard::flush_proposals`).
pub(crate) struct QueuedProposal {
    pub data: Bytes,
    pub key: u64,
    pub deadline: Duration,
    pub done: Completion<Bytes>,
}

pub(crate) struct PendingConf {
    pub deadline: Duration,
    pub done: Completion<()>,
}

pub(crate) struct PendingRead {
    pub deadline: Duration,
    pub query: Bytes,
    /// The read index, once the leader confirmed it.
    pub index: Option<u64>,
    pub done: Completion<Bytes>,
}

pub(crate) struct PendingTransfer {
    pub deadline: Duration,
    pub target: u64,
    pub done: Completion<()>,
}

/// A replica of a group on this host.
pub(crate) struct Replica {
    pub group: u64,
    pub id: u64,
    pub node: RawNode<GroupStorage>,
    pub sm: Box<dyn StateMachine>,
    /// The latest snapshot, shared with the storage adapter.
    pub snapshot: Arc<RwLock<Snapshot>>,
    /// Shared with the storage adapter: see [`GroupStorage`].
    pub conf_index: Arc<AtomicU64>,
    /// Shared with the storage adapter: see [`GroupStorage`].
    pub want_snapshot: Arc<AtomicBool>,
    /// Replicated: exactly-once state of the group's clients.
    pub sessions: SessionTable,
    /// Replicated: replica id -> host id, from membership changes.
    pub members: BTreeMap<u64, u64>,
    /// Host addresses carried by membership changes applied since the
    /// shard last looked: (host, address); the shard gives them to the
    /// transport.
    pub new_addresses: Vec<(u64, String)>,
    /// Local: replica id -> host id learned from received messages.
    pub learned: BTreeMap<u64, u64>,
    pub conf_state: ConfState,
    pub applied: u64,
    pub snapshot_index: u64,
    key_nonce: u64,
    next_key: u64,
    pub proposals: BTreeMap<u64, PendingProposal>,
    /// Proposals of the current round, not yet proposed (in arrival order).
    pub queued: Vec<QueuedProposal>,
    /// Leader-local proposals by the log index they were appended at: if
    /// another entry is applied there, the proposal was certainly dropped.
    pub by_index: BTreeMap<u64, u64>,
    pub confs: BTreeMap<u64, PendingConf>,
    pub reads: BTreeMap<u64, PendingRead>,
    pub transfers: Vec<PendingTransfer>,
    /// Clients the session table keeps (see `HostConfig::max_sessions`).
    pub max_sessions: usize,
    pub quiesced: bool,
    pub idle_ticks: u64,
    /// The replica's own removal was applied: the shard stops it after
    /// lingering for a few election timeouts (see `Shard::tick`).
    pub removed: bool,
    /// Ticks spent lingering since the removal was applied.
    pub linger_ticks: u64,
    /// The log index of the replica's own removal (0 until applied).
    pub removal_index: u64,
    /// The voters that must confirm they applied the removal before the
    /// replica may stop: set when the remaining voters are too few to
    /// elect a leader under the old configuration, so that one that forgot
    /// the removal committed (a commit index is not synced, etcd's
    /// `MustSync`) would need this replica's vote. Empty otherwise.
    pub removal_waits: BTreeSet<u64>,
    /// In a group of two whose other voter stays (`removal_waits` is that
    /// voter alone): the replica grants it every vote while it waits, see
    /// `Shard::removal_vote`.
    pub removal_votes_for: Option<u64>,
    /// A witness replica (docs/witness.md): no state machine; proposals
    /// and reads are refused here, and the leader's snapshots arrive
    /// without data.
    pub witness: bool,
    pub stats: GroupMetrics,
}

impl Replica {
    /// A replica over a node and state machine already restored to
    /// `snapshot` (index 0 when none).
    pub fn new(group: u64, id: u64, node: RawNode<GroupStorage>, sm: Box<dyn StateMachine>, key_nonce: u64) -> Self {
        let store = node.store();
        let (snapshot, conf_index, want_snapshot) = (store.snapshot.clone(), store.conf_index.clone(), store.want_snapshot.clone());
        let snap = snapshot.read().clone();
        Replica {
            group,
            id,
            node,
            sm,
            snapshot,
            conf_index,
            want_snapshot,
            sessions: SessionTable::default(),
            members: BTreeMap::new(),
            new_addresses: Vec::new(),
            learned: BTreeMap::new(),
            conf_state: snap.conf_state(),
            applied: snap.index(),
            snapshot_index: snap.index(),
            key_nonce,
            next_key: 0,
            proposals: BTreeMap::new(),
            queued: Vec::new(),
            by_index: BTreeMap::new(),
            confs: BTreeMap::new(),
            reads: BTreeMap::new(),
            transfers: Vec::new(),
            max_sessions: usize::MAX,
            quiesced: false,
            idle_ticks: 0,
            removed: false,
            linger_ticks: 0,
            removal_index: 0,
            removal_waits: BTreeSet::new(),
            removal_votes_for: None,
            witness: false,
            stats: GroupMetrics { group, replica: id, ..Default::default() },
        }
    }

    /// A fresh proposal key: unique within this run of the replica, and
    /// unlike keys of earlier runs (the nonce), whose entries may still be
    /// applied after a restart.
    pub fn new_key(&mut self) -> u64 {
        self.next_key += 1;
        self.key_nonce.wrapping_add(self.next_key)
    }

    /// Our origin for a new proposal.
    pub fn origin(&mut self) -> Origin {
        Origin { replica: self.id, key: self.new_key() }
    }

    /// The host of a replica of this group, if known.
    pub fn host_of(&self, replica: u64) -> Option<u64> {
        self.members.get(&replica).or_else(|| self.learned.get(&replica)).copied()
    }

    /// Whether client operations are waiting.
    pub fn has_pending(&self) -> bool {
        !self.proposals.is_empty() || !self.queued.is_empty() || !self.confs.is_empty() || !self.reads.is_empty() || !self.transfers.is_empty()
    }

    pub fn pending_count(&self) -> u64 {
        (self.proposals.len() + self.queued.len() + self.confs.len() + self.reads.len() + self.transfers.len()) as u64
    }

    /// Remembers where a leader-local proposal landed.
    pub fn note_leader_index(&mut self, key: u64) {
        let r = self.node.raft();
        if r.state() == StateType::Leader {
            self.by_index.insert(r.raft_log().last_index(), key);
        }
    }

    /// Completes every operation whose deadline passed.
    pub fn expire(&mut self, now: Duration, metrics: &HostMetrics) {
        let expired: Vec<u64> = self.proposals.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| *k).collect();
        for k in expired {
            metrics.proposals_timed_out.inc();
            (self.proposals.remove(&k).unwrap().done)(Err(OpError::TimedOut));
        }
        let expired: Vec<u64> = self.confs.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| *k).collect();
        for k in expired {
            metrics.proposals_timed_out.inc();
            (self.confs.remove(&k).unwrap().done)(Err(OpError::TimedOut));
        }
        let expired: Vec<u64> = self.reads.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| *k).collect();
        for k in expired {
            (self.reads.remove(&k).unwrap().done)(Err(OpError::TimedOut));
        }
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.transfers).into_iter().partition(|t| t.deadline <= now);
        self.transfers = keep;
        for t in gone {
            (t.done)(Err(OpError::TimedOut));
        }
        if self.by_index.len() > self.proposals.len() + self.confs.len() {
            let live = |k: &u64| self.proposals.contains_key(k) || self.confs.contains_key(k);
            let by_index = std::mem::take(&mut self.by_index);
            self.by_index = by_index.into_iter().filter(|(_, k)| live(k)).collect();
        }
    }

    /// Fails every waiting operation: the replica stops. Proposals may
    /// still commit elsewhere, so their outcome is unknown.
    pub fn fail_all(&mut self) {
        // Never given to raft: certainly not applied.
        for q in std::mem::take(&mut self.queued) {
            (q.done)(Err(OpError::rejected("replica stopped")));
        }
        for (_, p) in std::mem::take(&mut self.proposals) {
            (p.done)(Err(OpError::TimedOut));
        }
        for (_, p) in std::mem::take(&mut self.confs) {
            (p.done)(Err(OpError::TimedOut));
        }
        for (_, p) in std::mem::take(&mut self.reads) {
            (p.done)(Err(OpError::rejected("replica stopped")));
        }
        for t in std::mem::take(&mut self.transfers) {
            (t.done)(Err(OpError::rejected("replica stopped")));
        }
        self.by_index.clear();
    }

    /// Completes transfers whose target now leads.
    pub fn check_transfers(&mut self) {
        let lead = self.node.raft().lead();
        if self.transfers.iter().any(|t| t.target == lead) {
            let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.transfers).into_iter().partition(|t| t.target == lead);
            self.transfers = keep;
            for t in done {
                (t.done)(Ok(()));
            }
        }
    }

    /// Records confirmed read indexes.
    pub fn read_states(&mut self, states: Vec<polyraft::ReadState>) {
        for rs in states {
            let Ok(k) = <[u8; 8]>::try_from(&rs.request_ctx[..]) else { continue };
            if let Some(r) = self.reads.get_mut(&u64::from_le_bytes(k)) {
                r.index = Some(rs.index);
            }
        }
    }

    /// Answers confirmed reads whose index is applied.
    pub fn complete_reads(&mut self) {
        let applied = self.applied;
        let ready: Vec<u64> = self.reads.iter().filter(|(_, r)| r.index.is_some_and(|i| i <= applied)).map(|(k, _)| *k).collect();
        for k in ready {
            let r = self.reads.remove(&k).unwrap();
            let v = self.sm.lookup(&r.query);
            (r.done)(Ok(v));
        }
    }

    /// Writes the snapshot data: the host's part (length-prefixed: sessions
    /// and address book) followed by the state machine's, straight into `w`.
    pub fn write_snapshot_data(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut host = Vec::new();
        self.sessions.encode(&mut host);
        put_u64(&mut host, self.members.len() as u64);
        for (r, h) in &self.members {
            put_u64(&mut host, *r);
            put_u64(&mut host, *h);
        }
        let mut head = Vec::with_capacity(host.len() + 8);
        put_bytes(&mut head, &host);
        w.write_all(&head)?;
        self.sm.snapshot(w)
    }

    /// Restores the host's part and the state machine from snapshot data:
    /// inline bytes, or a reference to a data file of `store`, which is
    /// read as a stream (never whole in memory) and checked (size, CRC).
    pub fn restore_data(&mut self, data: &Bytes, store: &dyn SnapshotStore) -> Result<(), String> {
        if self.witness && data.is_empty() {
            // A leader's snapshot to a witness carries metadata only: there
            // is no state to restore, and the address book is learned from
            // conf changes and from the peers' messages.
            return Ok(());
        }
        match DataRef::decode(data) {
            None => self.restore_from(&mut Cursor::new(&data[..])),
            Some(r) => {
                let mut reader = CheckedReader::new(store.open_data(self.group, &r)?, r);
                self.restore_from(&mut reader)?;
                reader.finish()
            }
        }
    }

    /// Whether a snapshot's data, as a data replica would restore it, is
    /// well formed as far as the host can tell before raft takes it: a
    /// reference to a data file (checked against its size and CRC when
    /// read), or inline bytes that start with a whole host section.
    /// Checked on every MsgSnap from a peer, so that a malformed one is
    /// dropped like any refused message instead of being persisted by raft
    /// and then failing its restore, which stops the replica.
    pub fn snapshot_data_well_formed(data: &Bytes) -> bool {
        DataRef::decode(data).is_some() || read_host_section(&mut Cursor::new(&data[..])).is_ok()
    }

    fn restore_from(&mut self, r: &mut dyn Read) -> Result<(), String> {
        let (sessions, members) = read_host_section(r)?;
        self.sm.restore(r).map_err(|e| format!("state machine restore: {e}"))?;
        // Mutant (make mutants-host): the session table is not restored, so
        // a retried proposal applied before the snapshot applies again.
        self.sessions = if cfg!(polyraft_host_mutant = "no_session_restore") { SessionTable::default() } else { sessions };
        self.members = members;
        Ok(())
    }

    /// Installs a snapshot received from the leader (already persisted).
    pub fn install_snapshot(&mut self, snap: &Snapshot, store: &dyn SnapshotStore) -> Result<(), String> {
        self.restore_data(&snap.data, store)?;
        self.conf_state = snap.conf_state();
        self.applied = snap.index();
        self.snapshot_index = snap.index();
        self.stats.snapshots += 1;
        self.by_index = self.by_index.split_off(&(snap.index() + 1));
        Ok(())
    }

    /// Builds a snapshot of the applied state: into a data file when the
    /// store keeps them (the snapshot then holds a reference), else inline.
    pub fn make_snapshot(&self, store: &dyn SnapshotStore) -> Result<Snapshot, String> {
        let term = self.node.raft().raft_log().term(self.applied).map_err(|e| e.to_string())?;
        let data = match store.create_data(self.group, self.applied)? {
            Some(mut w) => {
                self.write_snapshot_data(&mut w).map_err(|e| format!("state machine snapshot: {e}"))?;
                w.commit()?
            }
            None => {
                let mut out = Vec::new();
                self.write_snapshot_data(&mut out).map_err(|e| format!("state machine snapshot: {e}"))?;
                Bytes::from(out)
            }
        };
        Ok(Snapshot {
            data,
            metadata: Some(SnapshotMetadata { conf_state: Some(self.conf_state.clone()), index: self.applied, term }),
        })
    }

    /// The apply stage for one Ready's committed entries, in log order.
    pub fn apply_committed(&mut self, entries: Vec<Entry>, metrics: &HostMetrics) {
        let mut entries = entries;
        if cfg!(polyraft_host_mutant = "apply_out_of_order") && entries.len() >= 2 {
            // Mutant (make mutants-host): the last two committed entries
            // are applied in the wrong order.
            let n = entries.len();
            entries.swap(n - 2, n - 1);
        }
        metrics.commits.add(entries.len() as u64);
        self.stats.commits += entries.len() as u64;
        let mut batch = ApplyBatch::default();
        for e in entries {
            let index = e.index;
            match EntryType::try_from(e.r#type) {
                Ok(EntryType::EntryNormal) => self.apply_normal(e, &mut batch, metrics),
                Ok(EntryType::EntryConfChange) | Ok(EntryType::EntryConfChangeV2) => {
                    self.flush(&mut batch, metrics);
                    self.apply_conf_change(&e);
                }
                Err(_) => {}
            }
            self.applied = self.applied.max(index);
        }
        self.flush(&mut batch, metrics);
    }

    fn apply_normal(&mut self, e: Entry, batch: &mut ApplyBatch, metrics: &HostMetrics) {
        let payload = envelope::decode(&e.data);
        let key = match &payload {
            Some(Payload::Plain { origin, .. } | Payload::Session { origin, .. } | Payload::CloseSession { origin, .. })
                if origin.replica == self.id =>
            {
                Some(origin.key)
            }
            _ => None,
        };
        self.check_displaced(e.index, key);
        match payload {
            // The leader's empty entry of a new term, or bytes the host
            // did not write: nothing to apply.
            None => {}
            Some(Payload::Plain { origin, cmd }) => batch.push(Entry { data: cmd, ..e }, origin, None),
            Some(Payload::Session { origin, tag, cmd }) => {
                if batch.has_series(tag.client, tag.series) {
                    self.flush(batch, metrics);
                }
                match self.sessions.check(tag.client, tag.series, tag.responded_to, e.index, self.max_sessions) {
                    Dedup::Apply => batch.push(Entry { data: cmd, ..e }, origin, Some(tag)),
                    Dedup::Duplicate(r) => {
                        metrics.dedup_hits.inc();
                        self.complete(origin, Ok(r));
                    }
                    Dedup::Acknowledged => {
                        self.complete(origin, Err(OpError::rejected("session series already acknowledged")))
                    }
                }
            }
            Some(Payload::CloseSession { origin, client }) => {
                self.flush(batch, metrics);
                self.sessions.close(client);
                self.complete(origin, Ok(Bytes::new()));
            }
        }
    }

    /// A leader-local proposal placed at `index` is certainly lost when a
    /// different entry is applied there.
    fn check_displaced(&mut self, index: u64, key: Option<u64>) {
        if let Some(k) = self.by_index.remove(&index) {
            if Some(k) != key {
                let msg = "another leader's entry replaced the proposal in the log";
                if let Some(p) = self.proposals.remove(&k) {
                    (p.done)(Err(OpError::rejected(msg)));
                } else if let Some(p) = self.confs.remove(&k) {
                    (p.done)(Err(OpError::rejected("the configuration change was refused (another one is pending)")));
                }
            }
        }
    }

    fn complete(&mut self, origin: Origin, res: OpResult<Bytes>) {
        if origin.replica != self.id {
            return;
        }
        if let Some(p) = self.proposals.remove(&origin.key) {
            (p.done)(res);
        }
    }

    fn flush(&mut self, batch: &mut ApplyBatch, metrics: &HostMetrics) {
        if batch.entries.is_empty() {
            return;
        }
        let mut results = self.sm.apply(&batch.entries);
        metrics.applies.add(batch.entries.len() as u64);
        self.stats.applies += batch.entries.len() as u64;
        // A state machine that returns the wrong number of results broke
        // its contract; pad with empty results rather than lose the
        // completions of the others.
        results.resize(batch.entries.len(), Bytes::new());
        for ((origin, tag), r) in batch.meta.drain(..).zip(results) {
            if let Some(t) = tag {
                self.sessions.record(t.client, t.series, r.clone());
            }
            self.complete(origin, Ok(r));
        }
        batch.entries.clear();
    }

    fn apply_conf_change(&mut self, e: &Entry) {
        let decoded: Result<ConfChangeI, polyraft::Error> = if e.r#type == EntryType::EntryConfChange as i32 {
            raftpb::decode::<ConfChange>(&e.data).map(ConfChangeI::V1)
        } else {
            raftpb::decode::<ConfChangeV2>(&e.data).map(ConfChangeI::V2)
        };
        let Ok(cc) = decoded else { return };
        let v2 = cc.as_v2();
        let (host, origin) = envelope::decode_conf_context(&v2.context);
        let mine = origin.filter(|o| o.replica == self.id).map(|o| o.key);
        self.check_displaced(e.index, mine);
        let res = self.node.apply_conf_change(cc);
        self.conf_index.store(e.index, Ordering::Release);
        let outcome = match res {
            Ok(cs) => {
                for c in &v2.changes {
                    match raftpb::ConfChangeType::try_from(c.r#type) {
                        Ok(raftpb::ConfChangeType::ConfChangeRemoveNode) => {
                            self.members.remove(&c.node_id);
                            if c.node_id == self.id {
                                self.removed = true;
                                self.removal_index = e.index;
                                self.removal_waits = removal_waits(&self.conf_state, &cs);
                                self.removal_votes_for = removal_votes_for(&self.conf_state, &cs);
                            }
                        }
                        Ok(_) => {
                            if let Some(h) = host {
                                self.members.insert(c.node_id, h);
                                if let Some(addr) = envelope::decode_conf_address(&v2.context) {
                                    self.new_addresses.push((h, addr));
                                }
                            }
                        }
                        Err(_) => {}
                    }
                }
                self.conf_state = cs;
                Ok(())
            }
            Err(err) => Err(OpError::rejected(format!("configuration change refused: {err}"))),
        };
        if let Some(k) = mine {
            if let Some(p) = self.confs.remove(&k) {
                (p.done)(outcome);
            }
        }
    }

    /// Whether the leader may quiesce now: everything is committed,
    /// applied and replicated to every peer, and nothing waits.
    pub fn can_quiesce(&self) -> bool {
        let r = self.node.raft();
        if r.state() != StateType::Leader || self.has_pending() || r.pending_read_count() != 0 {
            return false;
        }
        let last = r.raft_log().last_index();
        if r.raft_log().committed != last || self.applied != last || self.node.basic_status().lead_transferee != 0 {
            return false;
        }
        let mut all = true;
        self.node.with_progress(|id, pr| {
            if id != self.id && pr.matched != last {
                all = false;
            }
        });
        all
    }
}

/// Consecutive entries to give the state machine in one call.
#[derive(Default)]
struct ApplyBatch {
    entries: Vec<Entry>,
    meta: Vec<(Origin, Option<SessionTag>)>,
}

impl ApplyBatch {
    fn push(&mut self, e: Entry, origin: Origin, tag: Option<SessionTag>) {
        self.entries.push(e);
        self.meta.push((origin, tag));
    }

    fn has_series(&self, client: u64, series: u64) -> bool {
        self.meta.iter().any(|(_, t)| t.is_some_and(|t| t.client == client && t.series == series))
    }
}

/// The voters a replica removed by the change from `old` to `new` must hear
/// from before it stops (see `Replica::removal_waits`): none when the
/// voters that stay still make a majority of the old configuration's
/// voters (they can elect a leader without the removed ones), else every
/// voter of the new configuration.
fn removal_waits(old: &ConfState, new: &ConfState) -> BTreeSet<u64> {
    let (old, new) = (all_voters(old), all_voters(new));
    if new.intersection(&old).count() > old.len() / 2 {
        BTreeSet::new()
    } else {
        new
    }
}

/// The voter a replica removed by the change from `old` to `new` votes for
/// unconditionally while it waits (see `Shard::removal_vote`): when the
/// group goes from two voters, itself and another, to that other alone.
fn removal_votes_for(old: &ConfState, new: &ConfState) -> Option<u64> {
    let (old, new) = (all_voters(old), all_voters(new));
    match new.iter().next() {
        Some(v) if old.len() == 2 && new.len() == 1 && old.contains(v) => Some(*v),
        _ => None,
    }
}

/// The voters of a configuration, both halves of a joint one.
fn all_voters(cs: &ConfState) -> BTreeSet<u64> {
    cs.voters.iter().chain(&cs.voters_outgoing).copied().collect()
}

/// Reads the host's section at the head of snapshot data (sessions, then
/// the address book), leaving `r` at the state machine's part.
fn read_host_section(r: &mut dyn Read) -> Result<(SessionTable, BTreeMap<u64, u64>), String> {
    let bad = |what: &str| format!("malformed host section in snapshot: {what}");
    let mut len = [0u8; 8];
    r.read_exact(&mut len).map_err(|e| bad(&e.to_string()))?;
    let len = u64::from_le_bytes(len);
    let mut host = Vec::new();
    // `take` bounds the read by what the data holds, not by the length it
    // claims: a damaged prefix cannot make us allocate exabytes.
    r.take(len).read_to_end(&mut host).map_err(|e| bad(&e.to_string()))?;
    if host.len() as u64 != len {
        return Err(bad("truncated"));
    }
    let mut host = Bytes::from(host);
    let sessions = SessionTable::decode(&mut host).ok_or_else(|| bad("sessions"))?;
    let mut members = BTreeMap::new();
    for _ in 0..get_u64(&mut host).ok_or_else(|| bad("members"))? {
        members.insert(get_u64(&mut host).ok_or_else(|| bad("members"))?, get_u64(&mut host).ok_or_else(|| bad("members"))?);
    }
    Ok((sessions, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voters(v: &[u64]) -> ConfState {
        ConfState { voters: v.to_vec(), ..Default::default() }
    }

    #[test]
    fn only_a_group_going_from_two_voters_to_one_gets_the_unconditional_vote() {
        assert_eq!(removal_votes_for(&voters(&[1, 2]), &voters(&[2])), Some(2));
        // Three voters to two: the two can elect a leader by themselves,
        // and a vote given without raft's log check could count under the
        // old configuration.
        assert_eq!(removal_votes_for(&voters(&[1, 2, 3]), &voters(&[2, 3])), None);
        // Two voters, one replaced by another (a joint change's outcome).
        assert_eq!(removal_votes_for(&voters(&[1, 2]), &voters(&[2, 3])), None);
        // The one left must be one of the two.
        assert_eq!(removal_votes_for(&voters(&[1, 2]), &voters(&[3])), None);
        assert_eq!(removal_votes_for(&voters(&[1]), &voters(&[1])), None);
    }

    #[test]
    fn a_removed_replica_waits_for_the_voters_only_when_they_lack_a_majority() {
        assert_eq!(removal_waits(&voters(&[1, 2]), &voters(&[2])), BTreeSet::from([2]));
        assert!(removal_waits(&voters(&[1, 2, 3]), &voters(&[2, 3])).is_empty());
        assert_eq!(removal_waits(&voters(&[1, 2, 3, 4]), &voters(&[3, 4])), BTreeSet::from([3, 4]));
        assert!(removal_waits(&voters(&[1, 2, 3, 4, 5]), &voters(&[2, 3, 4])).is_empty());
    }
}
