//! RawNode: the node the application drives, and Ready (mirrors etcd's
//! rawnode.go, node.go's Ready and bootstrap.go).
//!
//! The loop: `tick`/`step`/`propose`; when `has_ready`, take `ready()`,
//! persist its entries, hard state and snapshot, send its messages, apply
//! its committed entries, then call `advance()`. With
//! `Config::async_storage_writes` the persistence and application requests
//! arrive instead as MsgStorageAppend/MsgStorageApply messages whose
//! responses are stepped back, and `advance` must not be called.

use bytes::Bytes;

use crate::raft::{conf_change_to_msg, encoded_conf_change_msg, Config, Raft, StateType, LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD};
use crate::raftpb::{
    is_empty_hard_state, is_empty_snap, is_local_msg, is_local_msg_target, is_response_msg, ConfChange,
    ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot,
};
use crate::read_only::ReadState;
use crate::log_unstable::{ents_size, payloads_size};
use crate::status::{BasicStatus, Status};
use crate::storage::Storage;
use crate::tracker::Progress;
use crate::{Error, Result};

/// Either kind of configuration change, as `propose_conf_change` and
/// `apply_conf_change` take it (defined in [`crate::raftpb`], re-exported
/// here beside the methods that use it).
pub use crate::raftpb::ConfChangeI;

/// Volatile state that need not be persisted: who leads and our role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftState {
    /// Current leader id, or NONE.
    pub lead: u64,
    /// Our role.
    pub raft_state: StateType,
}

/// A peer given to `bootstrap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The peer's id.
    pub id: u64,
    /// Context stored in the bootstrap ConfChange.
    pub context: Bytes,
}

/// Whether a snapshot sent to a follower arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The follower received and applied it.
    Finish,
    /// Sending failed.
    Failure,
}

/// What the node asks the application to do: persist, send, apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ready {
    /// Changed leader or role, if any.
    pub soft_state: Option<SoftState>,
    /// Changed HardState to persist before sending messages, if any.
    pub hard_state: Option<HardState>,
    /// Confirmed ReadIndex requests.
    pub read_states: Vec<ReadState>,
    /// Entries to persist before sending messages.
    pub entries: Vec<Entry>,
    /// Snapshot to persist, if any.
    pub snapshot: Option<Snapshot>,
    /// Entries to apply (already persisted and committed).
    pub committed_entries: Vec<Entry>,
    /// Messages to send after persisting (or, with async storage writes,
    /// local storage messages).
    pub messages: Vec<Message>,
    /// Whether the HardState and entries must be synced to disk.
    pub must_sync: bool,
}

/// What `advance` steps, in order: local messages, and the application
/// of committed entries (MsgStorageApplyResp's effect, kept as numbers).
enum AdvanceStep {
    Msg(Message),
    Applied { index: u64, size: u64, payloads: u64 },
}

/// The node. Not thread-safe: calls must not overlap, but it may move
/// between threads. Holds the state machine and what the application has
/// already been told (to compute the next Ready's differences).
pub struct RawNode<S: Storage> {
    raft: Raft<S>,
    async_storage_writes: bool,
    prev_soft_st: SoftState,
    prev_hard_st: HardState,
    /// Local messages (self-acks, storage responses) to step on `advance`.
    steps_on_advance: Vec<AdvanceStep>,
    /// Vectors of Readys lent back with `advance_with`, for the next Ready.
    lent: LentBuffers,
}

/// The emptied vectors of a Ready given back through
/// [`RawNode::advance_with`]: the next Ready is built in them instead of in
/// new allocations.
#[derive(Default)]
struct LentBuffers {
    entries: Vec<Entry>,
    committed_entries: Vec<Entry>,
    messages: Vec<Message>,
}

impl LentBuffers {
    /// Keeps the vectors of `rd`, emptied (whatever they still hold is
    /// dropped); a vector with no buffer leaves the kept one in place.
    fn keep(&mut self, rd: Ready) {
        fn keep_one<T>(slot: &mut Vec<T>, mut v: Vec<T>) {
            if v.capacity() > slot.capacity() {
                v.clear();
                *slot = v;
            }
        }
        keep_one(&mut self.entries, rd.entries);
        keep_one(&mut self.committed_entries, rd.committed_entries);
        keep_one(&mut self.messages, rd.messages);
    }
}

impl<S: Storage> RawNode<S> {
    /// Creates a node from a validated config over `storage`. Use
    /// `bootstrap` for a brand-new cluster, or a storage whose initial
    /// state already holds the configuration.
    pub fn new(config: &Config, storage: S) -> Result<Self> {
        let raft = Raft::new(config, storage)?;
        let prev_soft_st = raft.soft_state();
        let prev_hard_st = raft.hard_state();
        Ok(RawNode {
            raft,
            async_storage_writes: config.async_storage_writes,
            prev_soft_st,
            prev_hard_st,
            steps_on_advance: Vec::new(),
            lent: LentBuffers::default(),
        })
    }

    fn check(&self) -> Result<()> {
        match self.raft.fatal_error() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Bootstraps a new cluster: appends one ConfChangeAddNode per peer as
    /// committed entries at term 1 and applies them. Storage must be empty.
    pub fn bootstrap(&mut self, peers: &[Peer]) -> Result<()> {
        self.check()?;
        if peers.is_empty() {
            return Err(Error::InvalidState("must provide at least one peer to Bootstrap".into()));
        }
        if self.raft.raft_log.store.last_index()? != 0 {
            return Err(Error::InvalidState("can't bootstrap a nonempty Storage".into()));
        }
        // Nothing is persisted yet: the first Ready must carry a HardState.
        self.prev_hard_st = HardState::default();
        self.raft.become_follower(1, crate::NONE);
        let ents: Vec<Entry> = peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let cc = ConfChange {
                    r#type: ConfChangeType::ConfChangeAddNode as i32,
                    node_id: p.id,
                    context: p.context.clone(),
                    id: 0,
                };
                Entry {
                    r#type: EntryType::EntryConfChange as i32,
                    term: 1,
                    index: i as u64 + 1,
                    data: crate::raftpb::encode_explicit_conf_change(&cc),
                    type_set: true,
                }
            })
            .collect();
        self.raft.raft_log.append(&ents);
        // Apply them now so that the application may campaign at once; the
        // entries will also be handed out as committed entries.
        self.raft.raft_log.committed = ents.len() as u64;
        for p in peers {
            let cc = ConfChange { r#type: ConfChangeType::ConfChangeAddNode as i32, node_id: p.id, ..Default::default() };
            self.raft.apply_conf_change(ConfChangeI::V1(cc).as_v2())?;
        }
        Ok(())
    }

    /// Advances the logical clock by one tick (no-op on a failed node).
    pub fn tick(&mut self) {
        if self.check().is_ok() {
            self.raft.tick();
        }
    }

    /// Advances the logical clock by one tick without any other processing
    /// (etcd's `TickQuiesced`): only the election timer counts the tick, so
    /// a quiesced group (all peers known to be at the same state) sends no
    /// heartbeats and starts no elections. The ticks still count: once
    /// `tick` is called again, a follower that saw no leader for an election
    /// timeout campaigns on that tick. This subverts the Raft timers; use
    /// `tick` unless the application tracks quiescence itself (etcd marks
    /// the method deprecated). No-op on a failed node.
    pub fn tick_quiesced(&mut self) {
        if self.check().is_ok() {
            self.raft.tick_quiesced();
        }
    }

    /// Starts an election (MsgHup).
    pub fn campaign(&mut self) -> Result<()> {
        self.raft.step(Message { r#type: MessageType::MsgHup as i32, ..Default::default() })
    }

    /// Proposes one entry to be appended to the log.
    pub fn propose(&mut self, data: Bytes) -> Result<()> {
        let id = self.raft.id;
        // The vector of the previous appended proposal, when there is one.
        let mut entries = std::mem::take(&mut self.raft.spare_entries);
        entries.clear();
        entries.push(Entry { data, ..Default::default() });
        self.raft.step(Message { r#type: MessageType::MsgProp as i32, from: id, entries, ..Default::default() })
    }

    /// Proposes many entries in one MsgProp (one append, one broadcast).
    /// All or none are accepted.
    pub fn propose_batch(&mut self, data: &[Bytes]) -> Result<()> {
        if data.is_empty() {
            return Err(Error::InvalidState("propose_batch needs at least one entry".into()));
        }
        let id = self.raft.id;
        self.raft.step(Message {
            r#type: MessageType::MsgProp as i32,
            from: id,
            entries: data.iter().map(|d| Entry { data: d.clone(), ..Default::default() }).collect(),
            ..Default::default()
        })
    }

    /// Proposes a configuration change (v1 or v2). It takes effect when the
    /// application applies the committed entry with `apply_conf_change`.
    pub fn propose_conf_change(&mut self, cc: impl Into<ConfChangeI>) -> Result<()> {
        let cc = cc.into();
        check_conf_change(&cc)?;
        self.raft.step(conf_change_to_msg(Some(&cc)))
    }

    /// Proposes a configuration change already encoded by the caller
    /// (`EntryConfChange` with a ConfChange, or `EntryConfChangeV2` with a
    /// ConfChangeV2). The bytes must decode; they go into the log verbatim,
    /// as etcd stores the application's bytes (re-encoding could change
    /// their size, and with it the uncommitted-size accounting).
    pub fn propose_conf_change_encoded(&mut self, entry_type: EntryType, data: Bytes) -> Result<()> {
        match entry_type {
            EntryType::EntryConfChange => {
                crate::raftpb::decode::<crate::raftpb::ConfChange>(&data)?;
            }
            EntryType::EntryConfChangeV2 => {
                crate::raftpb::decode::<crate::raftpb::ConfChangeV2>(&data)?.check()?;
            }
            EntryType::EntryNormal => {
                return Err(Error::InvalidState("a conf change entry must be EntryConfChange or EntryConfChangeV2".into()));
            }
        }
        self.raft.step(encoded_conf_change_msg(entry_type, data))
    }

    /// Applies a committed configuration change; returns the new ConfState.
    /// An invalid change (e.g. entering a joint config twice) is an error
    /// and leaves the configuration unchanged.
    pub fn apply_conf_change(&mut self, cc: impl Into<ConfChangeI>) -> Result<ConfState> {
        self.check()?;
        let cc = cc.into();
        check_conf_change(&cc)?;
        self.raft.apply_conf_change(cc.as_v2())
    }

    /// Steps a message received from a peer (or, with async storage writes,
    /// a response from a local storage thread). Local message types from a
    /// peer and responses from unknown peers are refused.
    pub fn step(&mut self, m: Message) -> Result<()> {
        self.step_checked(m, false)
    }

    /// [`RawNode::step`] that, as etcd's RawNode.Step, accepts a MsgSnap at
    /// term 0: etcd's scripted harness sends snapshots from nodes at term 0
    /// (`send-snapshot`) and its scripts record what follows. A real peer
    /// never sends one, and `step` refuses it.
    #[cfg(feature = "rafttest")]
    pub fn step_as_etcd_harness(&mut self, m: Message) -> Result<()> {
        self.step_checked(m, true)
    }

    fn step_checked(&mut self, m: Message, term0_snap: bool) -> Result<()> {
        self.check()?;
        let Ok(t) = MessageType::try_from(m.r#type) else {
            return Err(Error::Decode(format!("unknown message type {}", m.r#type)));
        };
        if is_local_msg(t) && !is_local_msg_target(m.from) {
            return Err(Error::StepLocalMsg);
        }
        if is_response_msg(t) && !is_local_msg_target(m.from) && !self.raft.trk.progress.contains_key(&m.from) {
            return Err(Error::StepPeerNotFound);
        }
        if m.term == 0 && (always_carries_term(t) || (t == MessageType::MsgSnap && !term0_snap)) {
            // Raft treats a message without a term as local: from a peer,
            // one of these would act outside any term (a MsgApp appending
            // without a leader, an ack bypassing the term guards).
            return Err(Error::Decode(format!("{t:?} without a term")));
        }
        self.raft.step(m)
    }

    /// Steps a message decoded from the network. Like [`RawNode::step`], but
    /// local-only types (MsgHup, MsgBeat, MsgStorage*, ...) are refused
    /// whatever `from` claims: only the application's own storage threads
    /// may send those, and they never travel as bytes. Every binding's
    /// wire-bytes entry point goes through here.
    pub fn step_peer(&mut self, m: Message) -> Result<()> {
        self.check()?;
        if MessageType::try_from(m.r#type).is_ok_and(is_local_msg) {
            return Err(Error::StepLocalMsg);
        }
        self.step(m)
    }

    fn apply_unstable_entries(&self) -> bool {
        !self.async_storage_writes
    }

    /// Whether `ready` would return something to do.
    pub fn has_ready(&self) -> bool {
        let r = &self.raft;
        if r.fatal_error().is_some() {
            return false;
        }
        if r.soft_state() != self.prev_soft_st {
            return true;
        }
        let hs = r.hard_state();
        if !is_empty_hard_state(&hs) && hs != self.prev_hard_st {
            return true;
        }
        if r.raft_log.has_next_unstable_snapshot() {
            return true;
        }
        if !r.msgs.is_empty() || !r.msgs_after_append.is_empty() {
            return true;
        }
        if r.raft_log.has_next_unstable_ents() || r.raft_log.has_next_committed_ents(self.apply_unstable_entries()) {
            return true;
        }
        !r.read_states.is_empty()
    }

    /// The pending work. Without async storage writes it must be followed
    /// by `advance` once handled; calling `ready` again first is allowed
    /// and accumulates (the application must then handle both).
    pub fn ready(&mut self) -> Ready {
        let rd = self.ready_without_accept();
        self.accept_ready(&rd);
        rd
    }

    /// The pending work as `ready` would return it, without accepting it:
    /// nothing is marked as handed out, so a later call returns it again
    /// together with whatever happened meanwhile (etcd's node loop rebuilds
    /// its pending Ready this way until the application takes it). Hand a
    /// peeked Ready out only with `accept_peeked`, with no other call on
    /// the node in between.
    pub fn peek_ready(&mut self) -> Ready {
        self.build_ready(false)
    }

    /// Accepts a Ready from `peek_ready`, as `ready` accepts the one it
    /// returns: the node must not have been called since the peek.
    pub fn accept_peeked(&mut self, rd: &Ready) {
        self.accept_ready(rd);
        // The peek copied the messages and read states instead of taking
        // them (etcd's acceptReady drops them here).
        self.raft.msgs.clear();
        self.raft.read_states.clear();
    }

    fn ready_without_accept(&mut self) -> Ready {
        self.build_ready(true)
    }

    /// Builds the pending Ready; `take` moves the queued messages and read
    /// states into it, otherwise they are copied and stay queued.
    fn build_ready(&mut self, take: bool) -> Ready {
        let allow_unstable = self.apply_unstable_entries();
        let r = &mut self.raft;
        let n_msgs = r.msgs.len();
        // Vectors lent back by `advance_with`, if any, else new ones.
        let mut committed_entries = std::mem::take(&mut self.lent.committed_entries);
        if let Err(e) = r.raft_log.next_committed_ents_into(allow_unstable, &mut committed_entries) {
            r.fail(e);
            committed_entries.clear();
        }
        let mut entries = std::mem::take(&mut self.lent.entries);
        entries.extend_from_slice(r.raft_log.next_unstable_ents());
        let messages = if take {
            // The next Ready likely carries as many: keep the capacity so
            // that queueing them does not grow the vector step by step.
            let mut next = std::mem::take(&mut self.lent.messages);
            next.reserve(n_msgs);
            std::mem::replace(&mut r.msgs, next)
        } else {
            r.msgs.clone()
        };
        let mut rd = Ready { entries, committed_entries, messages, ..Default::default() };
        let ss = r.soft_state();
        if ss != self.prev_soft_st {
            rd.soft_state = Some(ss);
        }
        let hs = r.hard_state();
        if hs != self.prev_hard_st {
            rd.hard_state = Some(hs.clone());
        }
        if let Some(snap) = r.raft_log.next_unstable_snapshot() {
            rd.snapshot = Some(snap.clone());
        }
        rd.read_states = if take { std::mem::take(&mut r.read_states) } else { r.read_states.clone() };
        rd.must_sync = must_sync(&hs, &self.prev_hard_st, rd.entries.len());

        if self.async_storage_writes {
            if self.need_storage_append_msg(&rd) {
                let m = self.new_storage_append_msg(&rd);
                rd.messages.push(m);
            }
            if !rd.committed_entries.is_empty() {
                let m = self.new_storage_apply_msg(&rd.committed_entries);
                rd.messages.push(m);
            }
        } else {
            // Messages may only go out after the Ready's state is durable,
            // which the Ready contract already requires.
            let id = self.raft.id;
            // Reserve first: the filter hides the count from extend, which
            // would otherwise grow (and copy) the vector step by step.
            rd.messages.reserve(self.raft.msgs_after_append.len());
            rd.messages.extend(self.raft.msgs_after_append.iter().filter(|m| m.to != id).cloned());
        }
        rd
    }

    fn need_storage_append_msg(&self, rd: &Ready) -> bool {
        !rd.entries.is_empty()
            || rd.hard_state.as_ref().is_some_and(|hs| !is_empty_hard_state(hs))
            || rd.snapshot.as_ref().is_some_and(|s| !is_empty_snap(s))
            || !self.raft.msgs_after_append.is_empty()
    }

    fn need_storage_append_resp_msg(&self, rd: &Ready) -> bool {
        self.raft.raft_log.has_next_or_in_progress_unstable_ents()
            || rd.snapshot.as_ref().is_some_and(|s| !is_empty_snap(s))
    }

    fn new_storage_append_msg(&self, rd: &Ready) -> Message {
        let r = &self.raft;
        let mut m = Message {
            r#type: MessageType::MsgStorageAppend as i32,
            to: LOCAL_APPEND_THREAD,
            from: r.id,
            entries: rd.entries.clone(),
            ..Default::default()
        };
        // Term, vote and commit are all set (a HardState to persist) or all
        // zero (nothing to persist).
        if let Some(hs) = rd.hard_state.as_ref().filter(|hs| !is_empty_hard_state(hs)) {
            m.term = hs.term;
            m.vote = hs.vote;
            m.commit = hs.commit;
        }
        m.snapshot = rd.snapshot.clone().filter(|s| !is_empty_snap(s)).map(Box::new);
        m.responses = r.msgs_after_append.clone();
        if self.need_storage_append_resp_msg(rd) {
            m.responses.push(self.new_storage_append_resp_msg(rd));
        }
        m
    }

    /// The self-addressed response confirming that everything handed out
    /// so far is durable. It carries our term: if the term changed by the
    /// time it returns, entries may have been overwritten by a newer
    /// leader meanwhile (the append ABA race), so it is ignored then.
    fn new_storage_append_resp_msg(&self, rd: &Ready) -> Message {
        let r = &self.raft;
        let mut m = Message {
            r#type: MessageType::MsgStorageAppendResp as i32,
            to: r.id,
            from: LOCAL_APPEND_THREAD,
            term: r.term,
            ..Default::default()
        };
        if r.raft_log.has_next_or_in_progress_unstable_ents() {
            // Attest the current last entry even when this Ready had none,
            // so that a dropped earlier response cannot strand the
            // unstable log.
            let last = r.raft_log.last_entry_id();
            m.index = last.index;
            m.log_term = last.term;
        }
        m.snapshot = rd.snapshot.clone().filter(|s| !is_empty_snap(s)).map(Box::new);
        m
    }

    fn new_storage_apply_msg(&self, ents: &[Entry]) -> Message {
        let id = self.raft.id;
        Message {
            r#type: MessageType::MsgStorageApply as i32,
            to: LOCAL_APPLY_THREAD,
            from: id,
            entries: ents.to_vec(),
            responses: vec![new_storage_apply_resp_msg(id, ents)],
            ..Default::default()
        }
    }

    fn accept_ready(&mut self, rd: &Ready) {
        if let Some(ss) = rd.soft_state {
            self.prev_soft_st = ss;
        }
        if let Some(hs) = rd.hard_state.as_ref().filter(|hs| !is_empty_hard_state(hs)) {
            self.prev_hard_st = hs.clone();
        }
        if !self.async_storage_writes {
            let id = self.raft.id;
            for m in self.raft.msgs_after_append.iter().filter(|m| m.to == id) {
                self.steps_on_advance.push(AdvanceStep::Msg(m.clone()));
            }
            if self.need_storage_append_resp_msg(rd) {
                let m = self.new_storage_append_resp_msg(rd);
                self.steps_on_advance.push(AdvanceStep::Msg(m));
            }
        }
        let applied = rd.committed_entries.last().map(|last| (last.index, ents_size(&rd.committed_entries)));
        if let (false, Some((index, size))) = (self.async_storage_writes, applied) {
            // What stepping MsgStorageApplyResp for these entries does,
            // without copying them into a message.
            let payloads = payloads_size(&rd.committed_entries);
            self.steps_on_advance.push(AdvanceStep::Applied { index, size, payloads });
        }
        self.raft.msgs_after_append.clear();
        self.raft.raft_log.accept_unstable();
        if let Some((index, size)) = applied {
            let allow = self.apply_unstable_entries();
            self.raft.raft_log.accept_applying(index, size, allow);
        }
    }

    /// Acknowledges every Ready handed out since the last call as persisted
    /// and applied. An error with async storage writes enabled (the storage
    /// responses take its place).
    pub fn advance(&mut self) -> Result<()> {
        self.advance_steps()
    }

    /// [`RawNode::advance`] that takes the handled Ready back: its vectors
    /// (entries, committed entries, messages), emptied, hold the next
    /// Ready's, so that a steady Ready/advance loop allocates none of them.
    /// Whatever `rd` still holds is dropped; take the messages out with
    /// `drain(..)` rather than by value to lend their vector too. `rd` must
    /// be the Ready last returned (any Ready's vectors would do, but only
    /// that one is acknowledged, as with `advance`).
    pub fn advance_with(&mut self, rd: Ready) -> Result<()> {
        self.lent.keep(rd);
        self.advance_steps()
    }

    fn advance_steps(&mut self) -> Result<()> {
        self.check()?;
        if self.async_storage_writes {
            return Err(Error::InvalidState("Advance must not be called when using AsyncStorageWrites".into()));
        }
        // The vector goes back afterwards: its buffer serves every Ready.
        let mut steps = std::mem::take(&mut self.steps_on_advance);
        for step in steps.drain(..) {
            match step {
                // Local acks cannot be refused except by a node failure,
                // which the check below reports.
                AdvanceStep::Msg(m) => {
                    let _ = self.raft.step(m);
                }
                AdvanceStep::Applied { index, size, payloads } => self.raft.step_applied(index, size, payloads),
            }
        }
        self.steps_on_advance = steps;
        self.check()
    }

    /// Full status: basic status, configuration, and (on the leader) every
    /// peer's progress.
    pub fn status(&self) -> Status {
        let r = &self.raft;
        let basic = self.basic_status();
        let progress = if r.state == StateType::Leader {
            r.trk.progress.iter().map(|(&id, pr)| (id, pr.clone())).collect()
        } else {
            Default::default()
        };
        Status { basic, config: r.trk.config.clone(), progress }
    }

    /// Status without progress (no allocation).
    pub fn basic_status(&self) -> BasicStatus {
        let r = &self.raft;
        BasicStatus {
            id: r.id,
            hard_state: r.hard_state(),
            soft_state: r.soft_state(),
            applied: r.raft_log.applied,
            lead_transferee: r.lead_transferee,
        }
    }

    /// Visits every tracked peer's progress in ascending id order.
    pub fn with_progress(&self, mut f: impl FnMut(u64, &Progress)) {
        for (&id, pr) in self.raft.trk.progress.iter() {
            f(id, pr);
        }
    }

    /// Reports that the last send to `id` failed (MsgUnreachable).
    pub fn report_unreachable(&mut self, id: u64) {
        let _ = self.raft.step(Message { r#type: MessageType::MsgUnreachable as i32, from: id, ..Default::default() });
    }

    /// Reports the outcome of sending a snapshot to `id` (MsgSnapStatus).
    pub fn report_snapshot(&mut self, id: u64, status: SnapshotStatus) {
        let reject = status == SnapshotStatus::Failure;
        let _ = self.raft.step(Message {
            r#type: MessageType::MsgSnapStatus as i32,
            from: id,
            reject,
            ..Default::default()
        });
    }

    /// Asks to transfer leadership to `transferee` (MsgTransferLeader).
    pub fn transfer_leader(&mut self, transferee: u64) {
        let _ = self.raft.step(Message {
            r#type: MessageType::MsgTransferLeader as i32,
            from: transferee,
            ..Default::default()
        });
    }

    /// Forgets the current leader (MsgForgetLeader), so that a pre-vote
    /// campaign can win before the leader lease expires. Ignored (with an
    /// error log) under lease-based reads.
    pub fn forget_leader(&mut self) -> Result<()> {
        self.raft.step(Message { r#type: MessageType::MsgForgetLeader as i32, ..Default::default() })
    }

    /// Requests a linearizable read; a ReadState with the same `rctx`
    /// appears in a later Ready once confirmed.
    pub fn read_index(&mut self, rctx: Bytes) -> Result<()> {
        self.raft.step(Message {
            r#type: MessageType::MsgReadIndex as i32,
            entries: vec![Entry { data: rctx, ..Default::default() }],
            ..Default::default()
        })
    }

    /// The underlying state machine (for harnesses and tests).
    pub fn raft(&self) -> &Raft<S> {
        &self.raft
    }

    /// The underlying state machine, mutable (for harnesses and tests).
    pub fn raft_mut(&mut self) -> &mut Raft<S> {
        &mut self.raft
    }

    /// The storage the node reads its log from.
    pub fn store(&self) -> &S {
        &self.raft.raft_log.store
    }
}

fn new_storage_apply_resp_msg(id: u64, ents: &[Entry]) -> Message {
    Message {
        r#type: MessageType::MsgStorageApplyResp as i32,
        to: id,
        from: LOCAL_APPLY_THREAD,
        // Committed entries apply in no particular term.
        term: 0,
        entries: ents.to_vec(),
        ..Default::default()
    }
}

/// Whether a Ready's state must be synced before its messages are sent:
/// new entries, or a changed term or vote (Raft §5 persistent state).
pub fn must_sync(st: &HardState, prev: &HardState, ents: usize) -> bool {
    ents != 0 || st.vote != prev.vote || st.term != prev.term
}

/// Message types that a node always sends with its term (etcd's `send`
/// stamps them): replication, heartbeats and their answers, and leadership
/// transfer. (So does MsgSnap; see `step_as_etcd_harness`.)
fn always_carries_term(t: MessageType) -> bool {
    use MessageType::*;
    matches!(t, MsgApp | MsgAppResp | MsgHeartbeat | MsgHeartbeatResp | MsgTimeoutNow | MsgReadIndexResp)
}

/// Refuses a change holding enum values this version does not know (a
/// transition, a change type): the one validation every binding relies on.
fn check_conf_change(cc: &ConfChangeI) -> Result<()> {
    match cc {
        ConfChangeI::V1(c) => {
            if crate::raftpb::ConfChangeType::try_from(c.r#type).is_err() {
                return Err(Error::ConfChange(format!("unexpected conf type {}", c.r#type)));
            }
            Ok(())
        }
        ConfChangeI::V2(c) => c.check(),
    }
}
