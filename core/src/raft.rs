//! The Raft state machine: Step, tick, campaign, and the per-role step
//! functions (mirrors etcd's raft.go).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::confchange::{self, Changer};
use crate::log::{EntryId, LogSlice, RaftLog};
use crate::log_unstable::{ents_size, payloads_size};
use crate::logger::{default_logger, Logger};
use crate::quorum::VoteResult;
use crate::raftpb::{
    decode, is_empty_hard_state, is_empty_snap, is_local_msg_target, vote_resp_msg_type, ConfChange,
    ConfChangeI, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot,
};
use crate::raw_node::SoftState;
use crate::read_only::{ReadOnly, ReadState};
use crate::rlog;
use crate::storage::Storage;
use crate::tracker::{Config as TrackerConfig, Inflights, Progress, ProgressMap, ProgressState, ProgressTracker};
use crate::{Error, Result};

/// Placeholder node id meaning "no node" (no leader, no vote).
pub const NONE: u64 = 0;
/// Target of MsgStorageAppend messages when async storage writes are on.
pub const LOCAL_APPEND_THREAD: u64 = u64::MAX;
/// Target of MsgStorageApply messages when async storage writes are on.
pub const LOCAL_APPLY_THREAD: u64 = u64::MAX - 1;
/// "No limit" for the size limits in [`Config`].
pub const NO_LIMIT: u64 = u64::MAX;
/// Terms and indexes a message may carry are below this (2^62): no real
/// cluster gets near it, and a forged value above it could overflow or
/// leave no later term to campaign in.
pub const MAX_WIRE_VALUE: u64 = 1 << 62;

/// Whether every term and index in `m` (its own, its entries', its
/// snapshot's) is below [`MAX_WIRE_VALUE`].
fn within_wire_range(m: &Message) -> bool {
    let ok = |v: u64| v < MAX_WIRE_VALUE;
    ok(m.term)
        && ok(m.log_term)
        && ok(m.index)
        && ok(m.commit)
        && ok(m.reject_hint)
        && m.entries.iter().all(|e| ok(e.term) && ok(e.index))
        && m.snapshot.as_ref().map_or(true, |s| ok(s.index()) && ok(s.term()))
}

/// How many requests (proposals, read requests, leadership transfers) a
/// follower forwards to its leader on behalf of other nodes between two
/// ticks. Beyond etcd: a request reaches a follower from a peer only when
/// that peer took it for the leader (a stale view, so rare); forged
/// leadership can make two followers take each other for the leader, and
/// without a bound they would bounce such a request forever. The budget
/// turns that into a handful of messages per tick. A node's own requests
/// are never limited.
pub const FORWARD_BUDGET_PER_TICK: usize = 128;

/// The largest accepted [`Config::election_tick`] (2^31 - 1): randomized
/// election timeouts go up to twice the value and must not overflow.
pub const MAX_ELECTION_TICK: usize = (1 << 31) - 1;

/// The role of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StateType {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Campaigning in a real election.
    Candidate,
    /// The leader of the current term.
    Leader,
    /// Campaigning in a pre-vote round (Config::pre_vote).
    PreCandidate,
}

impl StateType {
    /// etcd's name: "StateFollower", "StateCandidate", ...
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Follower => "StateFollower",
            StateType::Candidate => "StateCandidate",
            StateType::Leader => "StateLeader",
            StateType::PreCandidate => "StatePreCandidate",
        }
    }
}

impl fmt::Display for StateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How read-only requests (ReadIndex) are confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadOnlyOption {
    /// Confirm leadership with a quorum of heartbeat acks (linearizable).
    #[default]
    Safe,
    /// Rely on the leader lease; requires `check_quorum`. Clock-drift sensitive.
    LeaseBased,
}

/// The parameters of a raft node; every field of etcd's Config, snake_case,
/// with the same meaning and the same validation rules.
#[derive(Clone)]
pub struct Config {
    /// Identity of the local node; must not be 0 nor a local-thread id.
    pub id: u64,
    /// Ticks a follower waits without hearing from a leader before
    /// campaigning. Must exceed `heartbeat_tick`.
    pub election_tick: usize,
    /// Ticks between a leader's heartbeats. Must be > 0.
    pub heartbeat_tick: usize,
    /// Last applied index, set only when restarting.
    pub applied: u64,
    /// Storage writes become MsgStorageAppend/MsgStorageApply messages
    /// instead of the Ready/advance cycle.
    pub async_storage_writes: bool,
    /// Byte limit of one append message (u64::MAX unlimited, 0 one entry).
    pub max_size_per_msg: u64,
    /// Byte limit of committed entries being applied at once (0 means
    /// `max_size_per_msg`).
    pub max_committed_size_per_ready: u64,
    /// Byte limit of a leader's uncommitted tail (0 means no limit).
    pub max_uncommitted_entries_size: u64,
    /// Limit of in-flight append messages per follower; must be > 0.
    pub max_inflight_msgs: usize,
    /// Limit of in-flight append bytes per follower (0 means no limit);
    /// must be >= `max_size_per_msg`.
    pub max_inflight_bytes: u64,
    /// The leader steps down when a quorum was not active for an election
    /// timeout.
    pub check_quorum: bool,
    /// Enables the Pre-Vote phase (Raft thesis 9.6).
    pub pre_vote: bool,
    /// How ReadIndex requests are confirmed.
    pub read_only_option: ReadOnlyOption,
    /// Where log lines go; `None` means [`crate::logger::default_logger`].
    pub logger: Option<Arc<dyn Logger>>,
    /// Followers drop proposals instead of forwarding them to the leader.
    pub disable_proposal_forwarding: bool,
    /// Skip propose-time validation of configuration changes.
    pub disable_conf_change_validation: bool,
    /// A leader removed from (or demoted in) the configuration steps down.
    pub step_down_on_removal: bool,
    /// Beyond etcd (raft-rs `priority`): this node's election priority; 0,
    /// the default, is off. A voter refuses a candidate whose log is exactly
    /// as up to date as its own (same last term and index) but whose
    /// priority is lower than its own, so among equally current replicas the
    /// one with the highest priority wins. Candidates send it in MsgVote and
    /// MsgPreVote (raftpb field 16, which etcd nodes skip; a 0 is not on the
    /// wire at all). See [`crate::priority`].
    pub priority: i64,
    /// Beyond etcd (raft-rs `batch_append`): a leader merges the appends to
    /// one peer queued since the last Ready into one MsgApp while the merged
    /// entries stay within `max_size_per_msg`. Off by default (etcd's
    /// messages, one MsgApp per send). See [`crate::batch_append`].
    pub batch_append: bool,
}

impl Default for Config {
    /// Values that validate for any id: election 10, heartbeat 1, 256
    /// in-flight messages, no size limits.
    fn default() -> Self {
        Config {
            id: 0,
            election_tick: 10,
            heartbeat_tick: 1,
            applied: 0,
            async_storage_writes: false,
            max_size_per_msg: NO_LIMIT,
            max_committed_size_per_ready: 0,
            max_uncommitted_entries_size: 0,
            max_inflight_msgs: 256,
            max_inflight_bytes: 0,
            check_quorum: false,
            pre_vote: false,
            read_only_option: ReadOnlyOption::Safe,
            logger: None,
            disable_proposal_forwarding: false,
            disable_conf_change_validation: false,
            step_down_on_removal: false,
            priority: 0,
            batch_append: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("id", &self.id)
            .field("election_tick", &self.election_tick)
            .field("heartbeat_tick", &self.heartbeat_tick)
            .field("applied", &self.applied)
            .field("async_storage_writes", &self.async_storage_writes)
            .field("max_size_per_msg", &self.max_size_per_msg)
            .field("max_committed_size_per_ready", &self.max_committed_size_per_ready)
            .field("max_uncommitted_entries_size", &self.max_uncommitted_entries_size)
            .field("max_inflight_msgs", &self.max_inflight_msgs)
            .field("max_inflight_bytes", &self.max_inflight_bytes)
            .field("check_quorum", &self.check_quorum)
            .field("pre_vote", &self.pre_vote)
            .field("read_only_option", &self.read_only_option)
            .field("disable_proposal_forwarding", &self.disable_proposal_forwarding)
            .field("disable_conf_change_validation", &self.disable_conf_change_validation)
            .field("step_down_on_removal", &self.step_down_on_removal)
            .field("priority", &self.priority)
            .field("batch_append", &self.batch_append)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Checks the configuration with etcd's rules and texts.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: &str| Err(Error::InvalidConfig(s.to_string()));
        if self.id == NONE {
            return bad("cannot use none as id");
        }
        if is_local_msg_target(self.id) {
            return bad("cannot use local target as id");
        }
        if self.heartbeat_tick == 0 {
            return bad("heartbeat tick must be greater than 0");
        }
        if self.election_tick <= self.heartbeat_tick {
            return bad("election tick must be greater than heartbeat tick");
        }
        if self.election_tick > MAX_ELECTION_TICK {
            // Randomized timeouts reach 2 * election_tick - 1: keep them
            // (and every tick counter) far from overflow on any platform.
            return Err(Error::InvalidConfig(format!(
                "election tick must be at most {MAX_ELECTION_TICK}, got {}",
                self.election_tick
            )));
        }
        if self.max_inflight_msgs == 0 {
            return bad("max inflight messages must be greater than 0");
        }
        if self.max_inflight_bytes != 0 && self.max_inflight_bytes < self.max_size_per_msg {
            return bad("max inflight bytes must be >= max message size");
        }
        if self.read_only_option == ReadOnlyOption::LeaseBased && !self.check_quorum {
            return bad("CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased");
        }
        Ok(())
    }
}

/// Why a node campaigns; the transfer kind forces votes through leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CampaignType {
    PreElection,
    Election,
    Transfer,
}

/// The context a MsgVote carries when it is a leadership transfer.
const CAMPAIGN_TRANSFER: &[u8] = b"CampaignTransfer";

/// The Raft state machine of one node (etcd's `raft` struct).
///
/// All mutation goes through `step` and `tick`; outgoing messages collect
/// in `msgs` (sendable at once) and `msgs_after_append` (sendable only after
/// the current unstable state is durable).
pub struct Raft<S: Storage> {
    /// This node's id.
    pub id: u64,
    /// Current term.
    pub term: u64,
    /// Whom we voted for in `term`, or NONE.
    pub vote: u64,
    /// Confirmed reads not yet handed out in a Ready.
    pub read_states: Vec<ReadState>,
    /// The log (stable storage plus unstable tail).
    pub raft_log: RaftLog<S>,
    max_msg_size: u64,
    max_uncommitted_size: u64,
    /// Configuration and per-peer replication progress.
    pub trk: ProgressTracker,
    /// Our role.
    pub state: StateType,
    /// Whether this node is a learner in the active configuration.
    pub is_learner: bool,
    /// Messages to other nodes that can be sent right away.
    pub msgs: Vec<Message>,
    /// Messages (MsgAppResp, MsgVoteResp, MsgPreVoteResp, possibly to
    /// ourselves) that may only go out once unstable state is persisted.
    pub msgs_after_append: Vec<Message>,
    /// The leader we know of in `term`, or NONE.
    pub lead: u64,
    /// Target of a leadership transfer in progress, or NONE.
    pub lead_transferee: u64,
    /// An index >= that of the latest pending conf change; new conf changes
    /// are refused until it is applied.
    pub pending_conf_index: u64,
    disable_conf_change_validation: bool,
    /// Estimated payload bytes of the uncommitted tail (leader only).
    uncommitted_size: u64,
    read_only: ReadOnly,
    election_elapsed: usize,
    heartbeat_elapsed: usize,
    check_quorum: bool,
    pre_vote: bool,
    heartbeat_timeout: usize,
    election_timeout: usize,
    /// In [election_timeout, 2*election_timeout); reset on each role change.
    randomized_election_timeout: usize,
    disable_proposal_forwarding: bool,
    step_down_on_removal: bool,
    /// Election priority (Config::priority; 0 off).
    priority: i64,
    /// Merge appends to one peer within a Ready (Config::batch_append).
    batch_append: bool,
    /// Sizes of the MsgApps queued in `msgs` (batched appends).
    queued_sizes: crate::batch_append::QueuedSizes,
    /// An empty vector kept from an appended proposal, for the next one
    /// (`RawNode::propose` takes it): no allocation per proposal.
    pub(crate) spare_entries: Vec<Entry>,
    /// Where log lines go.
    pub logger: Arc<dyn Logger>,
    /// MsgReadIndex held until this leader commits an entry of its term.
    pending_read_index_messages: Vec<Message>,
    rng: fastrand::Rng,
    /// Peers removed from the configuration during the current term. A peer
    /// re-added in the same term could otherwise be credited with acks its
    /// earlier incarnation sent (etcd-io/raft#349); see `switch_to_config`.
    removed_in_term: Vec<u64>,
    /// Set when an invariant broke (storage failure, corrupted log); the
    /// node refuses all further work and reports this error.
    fatal: Option<Error>,
    /// Requests forwarded on behalf of other nodes since the last tick;
    /// see [`FORWARD_BUDGET_PER_TICK`].
    forwarded_for_peers: usize,
}

impl<S: Storage> Raft<S> {
    /// Creates the state machine from a validated config and its storage
    /// (etcd's newRaft). Errors instead of panicking on bad config or
    /// storage state.
    pub fn new(c: &Config, store: S) -> Result<Self> {
        c.validate()?;
        let logger = c.logger.clone().unwrap_or_else(default_logger);
        let max_committed = if c.max_committed_size_per_ready == 0 {
            c.max_size_per_msg
        } else {
            c.max_committed_size_per_ready
        };
        let (hs, cs) = store.initial_state()?;
        let raft_log = RaftLog::new_with_size(store, logger.clone(), max_committed)?;
        let max_inflight_bytes = if c.max_inflight_bytes == 0 { NO_LIMIT } else { c.max_inflight_bytes };
        let mut r = Raft {
            id: c.id,
            term: 0,
            vote: NONE,
            read_states: Vec::new(),
            raft_log,
            max_msg_size: c.max_size_per_msg,
            max_uncommitted_size: if c.max_uncommitted_entries_size == 0 {
                NO_LIMIT
            } else {
                c.max_uncommitted_entries_size
            },
            trk: ProgressTracker::new(c.max_inflight_msgs, max_inflight_bytes),
            state: StateType::Follower,
            is_learner: false,
            msgs: Vec::new(),
            msgs_after_append: Vec::new(),
            lead: NONE,
            lead_transferee: NONE,
            pending_conf_index: 0,
            disable_conf_change_validation: c.disable_conf_change_validation,
            uncommitted_size: 0,
            read_only: ReadOnly::new(c.read_only_option),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            check_quorum: c.check_quorum,
            pre_vote: c.pre_vote,
            heartbeat_timeout: c.heartbeat_tick,
            election_timeout: c.election_tick,
            randomized_election_timeout: c.election_tick,
            disable_proposal_forwarding: c.disable_proposal_forwarding,
            step_down_on_removal: c.step_down_on_removal,
            priority: c.priority,
            batch_append: c.batch_append,
            spare_entries: Vec::new(),
            queued_sizes: Default::default(),
            logger,
            pending_read_index_messages: Vec::new(),
            rng: fastrand::Rng::new(),
            removed_in_term: Vec::new(),
            fatal: None,
            forwarded_for_peers: 0,
        };
        let last = r.raft_log.last_entry_id();
        let (cfg, prs) = confchange::restore(Changer { tracker: &r.trk, last_index: last.index }, &cs)?;
        let got = r.switch_to_config(cfg, prs);
        cs.equivalent(&got).map_err(|e| Error::ConfChange(e.to_string()))?;

        if !is_empty_hard_state(&hs) {
            r.load_state(&hs)?;
        }
        if c.applied > 0 {
            if c.applied > r.raft_log.committed {
                return Err(Error::InvalidConfig(format!(
                    "applied({}) is out of range [prevApplied({}), committed({})]",
                    c.applied, r.raft_log.applied, r.raft_log.committed
                )));
            }
            r.raft_log.applied_to(c.applied, 0);
        }
        r.become_follower(r.term, NONE);

        let peers: Vec<String> = r.trk.voter_nodes().iter().map(|n| format!("{n:x}")).collect();
        rlog!(
            r.logger,
            Info,
            "newRaft {:x} [peers: [{}], term: {}, commit: {}, applied: {}, lastindex: {}, lastterm: {}]",
            r.id,
            peers.join(","),
            r.term,
            r.raft_log.committed,
            r.raft_log.applied,
            last.index,
            last.term
        );
        Ok(r)
    }

    /// The node's id.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }
    /// Our role.
    pub fn state(&self) -> StateType {
        self.state
    }
    /// The known leader, or NONE.
    pub fn lead(&self) -> u64 {
        self.lead
    }
    /// The log.
    pub fn raft_log(&self) -> &RaftLog<S> {
        &self.raft_log
    }
    /// The configured election timeout in ticks.
    pub fn election_timeout(&self) -> usize {
        self.election_timeout
    }
    /// The configured heartbeat interval in ticks.
    pub fn heartbeat_timeout(&self) -> usize {
        self.heartbeat_timeout
    }
    /// The current randomized election timeout.
    pub fn randomized_election_timeout(&self) -> usize {
        self.randomized_election_timeout
    }
    /// Sets the randomized election timeout (test hook, as etcd's rafttest).
    pub fn set_randomized_election_timeout(&mut self, t: usize) {
        self.randomized_election_timeout = t;
    }
    /// Seeds the generator behind randomized election timeouts, making a
    /// node's timing reproducible (simulations).
    pub fn seed_rng(&mut self, seed: u64) {
        self.rng = fastrand::Rng::with_seed(seed);
        self.reset_randomized_election_timeout();
    }
    /// Ticks elapsed since the last reset of the election timer.
    pub fn election_elapsed(&self) -> usize {
        self.election_elapsed
    }
    /// Counts one tick on the election timer and does nothing else (etcd's
    /// TickQuiesced; see `RawNode::tick_quiesced`).
    pub(crate) fn tick_quiesced(&mut self) {
        self.election_elapsed += 1;
    }
    /// The unrecoverable error that stopped this node, if any.
    pub fn fatal_error(&self) -> Option<&Error> {
        self.fatal.as_ref()
    }
    /// Pending read requests not yet confirmed (leader).
    pub fn pending_read_count(&self) -> usize {
        self.read_only.pending() + self.pending_read_index_messages.len()
    }

    /// Whether a leader is known.
    pub fn has_leader(&self) -> bool {
        self.lead != NONE
    }

    /// Leader and role.
    pub fn soft_state(&self) -> SoftState {
        SoftState { lead: self.lead, raft_state: self.state }
    }

    /// Term, vote and commit index.
    pub fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.raft_log.committed }
    }

    /// Records an unrecoverable failure: logs it and makes every later call
    /// on the node fail with it.
    /// Poisons the node if the log saw a storage failure or a broken
    /// invariant during the last operation.
    pub(crate) fn check_log(&mut self) {
        if let Some(e) = self.raft_log.take_failure() {
            self.fail(e);
        }
    }

    pub(crate) fn fail(&mut self, e: Error) {
        rlog!(self.logger, Error, "{:x} {}", self.id, e);
        if self.fatal.is_none() {
            self.fatal = Some(match e {
                Error::Fatal(_) => e,
                other => Error::Fatal(other.to_string()),
            });
        }
    }

    /// Queues a message (etcd's send): fills in from/term, and routes
    /// durability-dependent responses to `msgs_after_append`.
    #[inline(always)]
    fn send(&mut self, mut m: Message) {
        if m.from == NONE {
            m.from = self.id;
        }
        let t = m.r#type();
        if matches!(t, MessageType::MsgVote | MessageType::MsgVoteResp | MessageType::MsgPreVote | MessageType::MsgPreVoteResp) {
            // Campaign messages always carry the term they are about.
            debug_assert!(m.term != 0, "term should be set when sending {t:?}");
        } else if t != MessageType::MsgProp && t != MessageType::MsgReadIndex {
            // Proposals and read requests are forwarded to the leader as if
            // local, so they carry no term.
            m.term = self.term;
        }
        if matches!(t, MessageType::MsgAppResp | MessageType::MsgVoteResp | MessageType::MsgPreVoteResp) {
            // Votes and append acks promise durability: they wait until the
            // state they are based on has been persisted.
            self.msgs_after_append.push(m);
        } else {
            self.msgs.push(m);
        }
    }

    fn send_append(&mut self, to: u64) {
        self.maybe_send_append(to, true);
    }

    /// Sends an append (with entries, or empty to carry the commit index
    /// when `send_if_empty`) to `to` unless its progress is paused. Returns
    /// whether a message went out.
    fn maybe_send_append(&mut self, to: u64, send_if_empty: bool) -> bool {
        let Some(pr) = self.trk.progress.get(&to) else { return false };
        if pr.is_paused() {
            return false;
        }
        let (next, replicate_full, witness) = (pr.next, pr.state == ProgressState::Replicate && pr.inflights.full(), pr.is_witness);
        let prev_index = next - 1;
        let prev_term = match self.raft_log.term(prev_index) {
            Ok(t) => t,
            // The log was compacted past what the follower needs.
            Err(_) => return self.maybe_send_snapshot(to),
        };
        // With batched appends the last index is read once for both paths
        // (a storage call when the unstable log is empty).
        let mut known_last = None;
        // A witness's appends are not merged: they carry metadata only and
        // only what is durable here, which the merge path does not check.
        if self.batch_append && !replicate_full && !witness {
            let last = self.raft_log.last_index();
            if self.extend_queued_append(to, next, last, prev_index, prev_term, send_if_empty) {
                return true;
            }
            known_last = Some(last);
        }
        let mut ents = Vec::new();
        // A throttled follower still gets an empty MsgApp, so that a full
        // window whose messages were all dropped can drain.
        if !replicate_full {
            let fetched = match known_last {
                None => self.raft_log.entries(next, self.max_msg_size),
                Some(last) if next > last => Ok(Vec::new()),
                Some(last) => self.raft_log.slice(next, last + 1, self.max_msg_size),
            };
            match fetched {
                Ok(e) => ents = e,
                Err(Error::Compacted) | Err(Error::Unavailable) => {
                    if !send_if_empty {
                        return false;
                    }
                    return self.maybe_send_snapshot(to);
                }
                Err(e) => {
                    self.fail(e);
                    return false;
                }
            }
        }
        if witness {
            // Only what we hold durably (docs/witness.md, "Durability"); when
            // that is nothing yet, the append goes out once it is.
            let durable = crate::witness::durable_last_index(&self.raft_log.unstable);
            let had = ents.len();
            ents.truncate(durable.saturating_sub(prev_index).min(had as u64) as usize);
            if had > 0 && ents.is_empty() {
                return false;
            }
            crate::witness::strip_payloads(&mut ents);
        }
        if ents.is_empty() && !send_if_empty {
            return false;
        }
        let n = ents.len();
        let bytes = payloads_size(&ents);
        let commit = self.raft_log.committed;
        self.send(Message {
            to,
            r#type: MessageType::MsgApp as i32,
            index: prev_index,
            log_term: prev_term,
            entries: ents,
            commit,
            ..Default::default()
        });
        if let Some(pr) = self.trk.progress.get_mut(&to) {
            pr.sent_entries(n, bytes);
            pr.sent_commit(commit);
        }
        true
    }

    /// Batched appends: the entries from `next` to `last` join the MsgApp already
    /// queued for `to` when they directly follow it and fit within the
    /// message size limit (see [`crate::batch_append`]); the peer's progress
    /// accounts for them. They are copied from the log straight into the
    /// queued message. False when a message of its own must go out (nothing
    /// to join, no room, or the log cannot serve the entries). With no
    /// entries to send, the queued message takes the newer commit index
    /// when `send_if_empty` (an empty MsgApp would carry it), else false.
    fn extend_queued_append(
        &mut self,
        to: u64,
        next: u64,
        last: u64,
        prev_index: u64,
        prev_term: u64,
        send_if_empty: bool,
    ) -> bool {
        let Some(i) = crate::batch_append::queued_append(&self.msgs, to, self.term, prev_index, prev_term) else {
            return false;
        };
        let max = self.max_msg_size;
        let queued = &mut self.msgs[i];
        let had = queued.entries.len();
        let size = self.queued_sizes.size_of(to, &queued.entries);
        let commit = self.raft_log.committed;
        if next > last {
            if !send_if_empty {
                // Nothing to send, and nothing was asked for: callers loop
                // while appends go out.
                return false;
            }
            // Nothing new to send: the queued message carries the newer
            // commit index in place of an empty MsgApp of its own.
            queued.commit = queued.commit.max(commit);
            if let Some(pr) = self.trk.progress.get_mut(&to) {
                pr.sent_commit(commit);
            }
            return true;
        }
        if self.raft_log.slice_into(next, last + 1, max.saturating_sub(size), &mut queued.entries).is_err() {
            return false;
        }
        let added = &queued.entries[had..];
        let total = size.saturating_add(ents_size(added));
        if had > 0 && total > max {
            // Even one more entry does not fit: it goes in a new message.
            queued.entries.truncate(had);
            return false;
        }
        let (n, bytes) = (added.len(), payloads_size(added));
        queued.commit = queued.commit.max(commit);
        self.queued_sizes.record(to, &queued.entries, total);
        if let Some(pr) = self.trk.progress.get_mut(&to) {
            // Entries joining a message that carried some are part of its
            // in-flight slot; an empty MsgApp gains its first ones.
            if had > 0 {
                pr.sent_more_entries(n, bytes);
            } else {
                pr.sent_entries(n, bytes);
            }
            pr.sent_commit(commit);
        }
        true
    }

    /// Sends the storage's snapshot to `to` if it is recently active.
    fn maybe_send_snapshot(&mut self, to: u64) -> bool {
        let Some(pr) = self.trk.progress.get(&to) else { return false };
        if !pr.recent_active {
            rlog!(self.logger, Debug, "ignore sending snapshot to {:x} since it is not recently active", to);
            return false;
        }
        let snapshot = match self.raft_log.snapshot() {
            Ok(s) => s,
            Err(Error::SnapshotTemporarilyUnavailable) => {
                rlog!(
                    self.logger,
                    Debug,
                    "{:x} failed to send snapshot to {:x} because snapshot is temporarily unavailable",
                    self.id,
                    to
                );
                return false;
            }
            Err(e) => {
                self.fail(e);
                return false;
            }
        };
        if is_empty_snap(&snapshot) {
            self.fail(Error::Fatal("need non-empty snapshot".into()));
            return false;
        }
        let (sindex, sterm) = (snapshot.index(), snapshot.term());
        let (first, committed) = (self.raft_log.first_index(), self.raft_log.committed);
        let Some(pr) = self.trk.progress.get_mut(&to) else { return false };
        rlog!(
            self.logger,
            Debug,
            "{:x} [firstindex: {}, commit: {}] sent snapshot[index: {}, term: {}] to {:x} [{}]",
            self.id,
            first,
            committed,
            sindex,
            sterm,
            to,
            pr
        );
        pr.become_snapshot(sindex);
        rlog!(self.logger, Debug, "{:x} paused sending replication messages to {:x} [{}]", self.id, to, pr);
        let snapshot = if pr.is_witness { crate::witness::metadata_only(snapshot) } else { snapshot };
        self.send(Message {
            to,
            r#type: MessageType::MsgSnap as i32,
            snapshot: Some(Box::new(snapshot)),
            ..Default::default()
        });
        true
    }

    /// Sends a heartbeat carrying `min(match, committed)`: a follower must
    /// never be told to commit beyond what it is known to hold.
    fn send_heartbeat(&mut self, to: u64, ctx: Bytes) {
        let committed = self.raft_log.committed;
        let Some(pr) = self.trk.progress.get_mut(&to) else { return };
        let commit = pr.matched.min(committed);
        pr.sent_commit(commit);
        pr.sent_heartbeat();
        self.send(Message {
            to,
            r#type: MessageType::MsgHeartbeat as i32,
            commit,
            context: ctx,
            ..Default::default()
        });
    }

    fn peer_ids(&self) -> Vec<u64> {
        self.trk.progress.keys().copied().filter(|&id| id != self.id).collect()
    }

    /// Sends appends to every peer that is not up to date.
    fn bcast_append(&mut self) {
        // Walks the peers in id order without collecting them (this runs
        // for every proposal).
        let mut after = None;
        while let Some(id) = self.next_peer_after(after) {
            after = Some(id);
            self.send_append(id);
        }
    }

    /// The smallest peer id (ours excluded) above `after`, or the first.
    fn next_peer_after(&self, after: Option<u64>) -> Option<u64> {
        use std::ops::Bound::{Excluded, Unbounded};
        let lo = after.map_or(Unbounded, Excluded);
        self.trk.progress.range((lo, Unbounded)).map(|(&id, _)| id).find(|&id| id != self.id)
    }

    /// Sends heartbeats to all peers, carrying the pending-read counter.
    fn bcast_heartbeat(&mut self) {
        let ctx = self.read_only.heartbeat_ctx();
        for id in self.peer_ids() {
            self.send_heartbeat(id, ctx.clone());
        }
    }

    /// Marks entries up to `index` applied; as leader, leaves an auto-leave
    /// joint configuration once it is applied.
    fn applied_to(&mut self, index: u64, size: u64) {
        let new_applied = index.max(self.raft_log.applied);
        self.raft_log.applied_to(new_applied, size);

        if self.trk.config.auto_leave && new_applied >= self.pending_conf_index && self.state == StateType::Leader {
            // An empty ConfChangeV2 leaves the joint config; its zero size
            // means the uncommitted-size limit can never refuse it.
            let m = conf_change_to_msg(None);
            match self.step(m) {
                Err(e) => rlog!(
                    self.logger,
                    Debug,
                    "not initiating automatic transition out of joint configuration {}: {}",
                    self.trk.config,
                    e
                ),
                Ok(()) => rlog!(
                    self.logger,
                    Info,
                    "initiating automatic transition out of joint configuration {}",
                    self.trk.config
                ),
            }
        }
    }

    /// Stepping MsgStorageApplyResp for entries up to `index` whose
    /// encoded size is `size` and payload size `payloads`, without the
    /// message (RawNode::advance uses it when storage writes are sync).
    pub(crate) fn step_applied(&mut self, index: u64, size: u64, payloads: u64) {
        if self.fatal.is_some() {
            return;
        }
        self.applied_to(index, size);
        self.reduce_uncommitted_size(payloads);
        self.check_log();
    }

    fn applied_snap(&mut self, snap: &Snapshot) {
        let index = snap.index();
        self.raft_log.stable_snap_to(index);
        self.applied_to(index, 0);
    }

    /// Advances the commit index to what a quorum has matched, if that entry
    /// is of the current term (Raft §5.4.2). Leader only.
    fn maybe_commit(&mut self) -> bool {
        let mci = self.trk.committed();
        // Only an entry of the current term commits by counting replicas
        // (Raft §5.4.2, Figure 8); earlier ones commit with it.
        let term = if cfg!(polyraft_mutant = "prev_term_commit") {
            // Mutation check only: the Figure 8 bug.
            self.raft_log.term(mci).unwrap_or(0)
        } else {
            self.term
        };
        self.raft_log.maybe_commit(EntryId { term, index: mci })
    }

    fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = NONE;
            self.removed_in_term.clear();
            self.queued_sizes.clear();
        }
        self.lead = NONE;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_timeout();
        self.abort_leader_transfer();
        self.trk.reset_votes();
        let last = self.raft_log.last_index();
        let (max_inflight, max_bytes, id) = (self.trk.max_inflight, self.trk.max_inflight_bytes, self.id);
        for (&pid, pr) in self.trk.progress.iter_mut() {
            let (is_learner, is_witness) = (pr.is_learner, pr.is_witness);
            *pr = Progress::new(last + 1, Inflights::new(max_inflight, max_bytes));
            pr.is_learner = is_learner;
            pr.is_witness = is_witness;
            if pid == id {
                pr.matched = last;
            }
        }
        self.pending_conf_index = 0;
        self.uncommitted_size = 0;
        self.read_only = ReadOnly::new(self.read_only.option);
    }

    /// Appends entries proposed at the leader, stamping term and index.
    /// Returns false (dropping them) when the uncommitted-size limit would
    /// be exceeded.
    fn append_entry(&mut self, mut es: Vec<Entry>) -> bool {
        let li = self.raft_log.last_index();
        for (i, e) in es.iter_mut().enumerate() {
            e.term = self.term;
            e.index = li + 1 + i as u64;
        }
        if !self.increase_uncommitted_size(&es) {
            rlog!(
                self.logger,
                Warn,
                "{:x} appending new entries to log would exceed uncommitted entry size limit; dropping proposal",
                self.id
            );
            return false;
        }
        // The proposal's entries move into the log (no clone per entry),
        // and its emptied vector serves the next local proposal.
        let li = self.raft_log.append_from(&mut es);
        if self.spare_entries.capacity() < es.capacity() {
            self.spare_entries = es;
        }
        // The leader acks its own entries once they are durable; the ack is
        // delivered back to us after the next persistence.
        self.send(Message { to: self.id, r#type: MessageType::MsgAppResp as i32, index: li, ..Default::default() });
        true
    }

    /// Advances the clock: election timer for followers and candidates,
    /// heartbeat timer for leaders.
    pub fn tick(&mut self) {
        if self.fatal.is_some() {
            return;
        }
        self.forwarded_for_peers = 0;
        match self.state {
            StateType::Leader => self.tick_heartbeat(),
            _ => self.tick_election(),
        }
        self.check_log();
    }

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.promotable() && self.past_election_timeout() {
            self.election_elapsed = 0;
            let m = Message { from: self.id, r#type: MessageType::MsgHup as i32, ..Default::default() };
            if let Err(e) = self.step(m) {
                rlog!(self.logger, Debug, "error occurred during election: {}", e);
            }
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;

        if self.election_elapsed >= self.election_timeout {
            self.election_elapsed = 0;
            if self.check_quorum {
                let m = Message { from: self.id, r#type: MessageType::MsgCheckQuorum as i32, ..Default::default() };
                if let Err(e) = self.step(m) {
                    rlog!(self.logger, Debug, "error occurred during checking sending heartbeat: {}", e);
                }
            }
            // A transfer that did not finish within an election timeout is
            // abandoned; we stay leader.
            if self.state == StateType::Leader && self.lead_transferee != NONE {
                self.abort_leader_transfer();
            }
        }
        if self.state != StateType::Leader {
            return;
        }
        if self.heartbeat_elapsed >= self.heartbeat_timeout {
            self.heartbeat_elapsed = 0;
            let m = Message { from: self.id, r#type: MessageType::MsgBeat as i32, ..Default::default() };
            if let Err(e) = self.step(m) {
                rlog!(self.logger, Debug, "error occurred during checking sending heartbeat: {}", e);
            }
        }
    }

    /// Becomes a follower of `lead` at `term`.
    pub fn become_follower(&mut self, term: u64, lead: u64) {
        self.reset(term);
        self.lead = lead;
        self.state = StateType::Follower;
        rlog!(self.logger, Info, "{:x} became follower at term {}", self.id, self.term);
    }

    /// Becomes a candidate for the next term, voting for itself.
    /// A leader cannot become a candidate directly; the call is ignored.
    pub fn become_candidate(&mut self) {
        if self.state == StateType::Leader {
            rlog!(self.logger, Error, "invalid transition [leader -> candidate]");
            return;
        }
        self.reset(self.term.saturating_add(1));
        self.vote = self.id;
        self.state = StateType::Candidate;
        rlog!(self.logger, Info, "{:x} became candidate at term {}", self.id, self.term);
    }

    /// Becomes a pre-candidate: term and vote stay unchanged.
    pub fn become_pre_candidate(&mut self) {
        if self.state == StateType::Leader {
            rlog!(self.logger, Error, "invalid transition [leader -> pre-candidate]");
            return;
        }
        self.trk.reset_votes();
        self.lead = NONE;
        self.state = StateType::PreCandidate;
        rlog!(self.logger, Info, "{:x} became pre-candidate at term {}", self.id, self.term);
    }

    /// Becomes leader and appends the empty entry of the new term.
    /// A follower cannot become leader directly; the call is ignored.
    pub fn become_leader(&mut self) {
        if self.state == StateType::Follower {
            rlog!(self.logger, Error, "invalid transition [follower -> leader]");
            return;
        }
        self.reset(self.term);
        self.lead = self.id;
        self.state = StateType::Leader;
        if let Some(pr) = self.trk.progress.get_mut(&self.id) {
            // The leader is trivially replicating to itself and always active.
            pr.become_replicate();
            pr.recent_active = true;
        }
        // Any conf change in the uncommitted tail may still be pending;
        // refusing new ones until the whole tail applies is always safe.
        self.pending_conf_index = self.raft_log.last_index();
        // An empty entry has zero payload, so it never trips the
        // uncommitted-size limit and cannot be dropped here.
        self.append_entry(vec![Entry::default()]);
        rlog!(self.logger, Info, "{:x} became leader at term {}", self.id, self.term);
    }

    fn hup(&mut self, t: CampaignType) {
        if self.state == StateType::Leader {
            rlog!(self.logger, Debug, "{:x} ignoring MsgHup because already leader", self.id);
            return;
        }
        if !self.promotable() {
            rlog!(self.logger, Warn, "{:x} is unpromotable and can not campaign", self.id);
            return;
        }
        match self.has_unapplied_conf_changes() {
            Ok(false) => {}
            Ok(true) => {
                rlog!(
                    self.logger,
                    Warn,
                    "{:x} cannot campaign at term {} since there are still pending configuration changes to apply",
                    self.id,
                    self.term
                );
                return;
            }
            Err(e) => {
                self.fail(e);
                return;
            }
        }
        if !self.trk.config.witnesses.is_empty() {
            match crate::witness::pending_removal_of(&self.raft_log, self.id) {
                Ok(false) => {}
                Ok(true) => {
                    rlog!(self.logger, Info, "{:x} cannot campaign: its log removes it and the group has witnesses", self.id);
                    return;
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
        rlog!(self.logger, Info, "{:x} is starting a new election at term {}", self.id, self.term);
        self.campaign(t);
    }

    /// Whether committed but unapplied entries hold a conf change (a node
    /// must not campaign before applying them: its config may be stale).
    fn has_unapplied_conf_changes(&self) -> Result<bool> {
        if self.raft_log.applied >= self.raft_log.committed {
            return Ok(false);
        }
        let (lo, hi) = (self.raft_log.applied + 1, self.raft_log.committed + 1);
        let mut found = false;
        let page = self.raft_log.max_applying_ents_size;
        self.raft_log.scan(lo, hi, page, |ents| {
            if !found {
                found = ents.iter().any(|e| {
                    matches!(e.r#type(), EntryType::EntryConfChange | EntryType::EntryConfChangeV2)
                });
            }
            Ok(())
        })?;
        Ok(found)
    }

    fn campaign(&mut self, t: CampaignType) {
        if !self.promotable() {
            rlog!(self.logger, Warn, "{:x} is unpromotable; campaign() should have been called", self.id);
        }
        let (term, vote_msg) = if t == CampaignType::PreElection {
            self.become_pre_candidate();
            // Pre-votes ask about the next term without incrementing ours.
            (self.term.saturating_add(1), MessageType::MsgPreVote)
        } else {
            self.become_candidate();
            (self.term, MessageType::MsgVote)
        };
        let ids: Vec<u64> = self.trk.config.voters.ids().into_iter().collect();
        for id in ids {
            if id == self.id {
                // Our own vote counts once it is persisted.
                self.send(Message { to: id, term, r#type: vote_resp_msg_type(vote_msg) as i32, ..Default::default() });
                continue;
            }
            let last = self.raft_log.last_entry_id();
            rlog!(
                self.logger,
                Info,
                "{:x} [logterm: {}, index: {}] sent {} request to {:x} at term {}",
                self.id,
                last.term,
                last.index,
                vote_msg.as_str_name(),
                id,
                self.term
            );
            let context = if t == CampaignType::Transfer { Bytes::from_static(CAMPAIGN_TRANSFER) } else { Bytes::new() };
            self.send(Message {
                to: id,
                term,
                r#type: vote_msg as i32,
                index: last.index,
                log_term: last.term,
                context,
                priority: self.priority,
                ..Default::default()
            });
        }
    }

    fn poll(&mut self, id: u64, t: MessageType, v: bool) -> (usize, usize, VoteResult) {
        if v {
            rlog!(self.logger, Info, "{:x} received {} from {:x} at term {}", self.id, t.as_str_name(), id, self.term);
        } else {
            rlog!(
                self.logger,
                Info,
                "{:x} received {} rejection from {:x} at term {}",
                self.id,
                t.as_str_name(),
                id,
                self.term
            );
        }
        self.trk.record_vote(id, v);
        self.trk.tally_votes()
    }

    /// The entry point for every message, local or remote (etcd's Step).
    pub fn step(&mut self, m: Message) -> Result<()> {
        if let Some(e) = &self.fatal {
            return Err(e.clone());
        }
        if !within_wire_range(&m) {
            // No real log gets there; such values could only overflow, or
            // leave no room to campaign in a later term.
            return Err(Error::Decode(format!(
                "{:?} with a term or index at or above {MAX_WIRE_VALUE}",
                m.r#type()
            )));
        }
        if m.term == 0
            && matches!(
                m.r#type(),
                MessageType::MsgVote | MessageType::MsgPreVote | MessageType::MsgVoteResp | MessageType::MsgPreVoteResp
            )
        {
            // Campaign messages are always about a term; without one they
            // are malformed (etcd would crash answering them).
            return Err(Error::Decode(format!("{:?} without a term", m.r#type())));
        }
        check_sender(self.id, &m)?;
        self.check_storage_resp(&m)?;
        if m.r#type() == MessageType::MsgHeartbeat && m.commit > self.raft_log.last_index() {
            // A leader only sends min(match, committed), never beyond what
            // we hold. Refused before the heartbeat can make its sender our
            // leader: a forged one would otherwise leave us following a node
            // that never hears back from us (no response goes out), and two
            // such followers forward proposals to each other forever.
            return Err(Error::Decode(format!(
                "MsgHeartbeat with commit {} beyond our last index {}",
                m.commit,
                self.raft_log.last_index()
            )));
        }
        if m.r#type() == MessageType::MsgSnap {
            check_snapshot_msg(&m)?;
        }
        if m.r#type() == MessageType::MsgApp {
            // A malformed append is refused before it can touch the log.
            crate::log::check_append(m.term, EntryId { term: m.log_term, index: m.index }, &m.entries)?;
            let committed = self.raft_log.committed;
            if m.term >= self.term
                && m.index == committed
                && !self.raft_log.match_term(EntryId { term: m.log_term, index: m.index })
            {
                // Our entry at the commit index is committed, so the log of
                // every leader of this or a later term holds it (Leader
                // Completeness): such an append is forged. Refused before it
                // can make its sender our leader, and without an answer: a
                // rejection would make the leader probe the same index again,
                // forever.
                return Err(Error::Decode(format!(
                    "MsgApp whose previous entry {}/{} contradicts our committed entry",
                    m.log_term, m.index
                )));
            }
        }
        let res = self.step_inner(m);
        self.check_log();
        match &self.fatal {
            Some(e) => Err(e.clone()),
            None => res,
        }
    }

    /// Refuses a storage response naming work that was never handed out: a
    /// MsgStorageApplyResp beyond the entries given for applying, or a
    /// MsgStorageAppendResp carrying a snapshot beyond the commit index
    /// (etcd panics on both; only a bug or a forged message sends them).
    fn check_storage_resp(&self, m: &Message) -> Result<()> {
        match m.r#type() {
            MessageType::MsgStorageApplyResp => {
                if let Some(last) = m.entries.last().filter(|e| e.index > self.raft_log.applying) {
                    return Err(Error::InvalidState(format!(
                        "MsgStorageApplyResp for index {} beyond the entries handed out for applying ({})",
                        last.index, self.raft_log.applying
                    )));
                }
            }
            MessageType::MsgStorageAppendResp => {
                if let Some(s) = m.snapshot.as_deref().filter(|s| s.index() > self.raft_log.committed) {
                    return Err(Error::InvalidState(format!(
                        "MsgStorageAppendResp for a snapshot at index {} beyond the commit index {}",
                        s.index(),
                        self.raft_log.committed
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }

    #[inline(always)]
    fn step_inner(&mut self, m: Message) -> Result<()> {
        let mt = m.r#type();
        if m.term == 0 {
            // Local message.
        } else if m.term > self.term {
            if mt == MessageType::MsgVote || mt == MessageType::MsgPreVote {
                let force = m.context.as_ref() == CAMPAIGN_TRANSFER;
                let in_lease =
                    self.check_quorum && self.lead != NONE && self.election_elapsed < self.election_timeout;
                if !force && in_lease {
                    // Within the minimum election timeout of hearing from a
                    // leader we neither update our term nor grant a vote.
                    let last = self.raft_log.last_entry_id();
                    rlog!(
                        self.logger,
                        Info,
                        "{:x} [logterm: {}, index: {}, vote: {:x}] ignored {} from {:x} [logterm: {}, index: {}] at term {}: lease is not expired (remaining ticks: {})",
                        self.id,
                        last.term,
                        last.index,
                        self.vote,
                        mt.as_str_name(),
                        m.from,
                        m.log_term,
                        m.index,
                        self.term,
                        self.election_timeout - self.election_elapsed
                    );
                    return Ok(());
                }
            }
            if mt == MessageType::MsgPreVote || (mt == MessageType::MsgPreVoteResp && !m.reject) {
                // A pre-vote never changes our term; a granted pre-vote
                // response carries the future term we campaign for.
            } else {
                rlog!(
                    self.logger,
                    Info,
                    "{:x} [term: {}] received a {} message with higher term from {:x} [term: {}]",
                    self.id,
                    self.term,
                    mt.as_str_name(),
                    m.from,
                    m.term
                );
                if matches!(mt, MessageType::MsgApp | MessageType::MsgHeartbeat | MessageType::MsgSnap) {
                    self.become_follower(m.term, m.from);
                } else {
                    self.become_follower(m.term, NONE);
                }
            }
        } else if m.term < self.term {
            // A witness answers too whatever the options: it never
            // campaigns, so a term it took from a refused vote request would
            // otherwise cut it off from the leader for good (docs/witness.md).
            let tell = self.check_quorum || self.pre_vote || self.trk.is_witness(self.id);
            if tell && matches!(mt, MessageType::MsgHeartbeat | MessageType::MsgApp) {
                // A leader of a lower term may be stranded behind a
                // partition where it cannot learn our term from votes (which
                // check-quorum/pre-vote suppress); an MsgAppResp at our term
                // tells it to step down.
                self.send(Message { to: m.from, r#type: MessageType::MsgAppResp as i32, ..Default::default() });
            } else if mt == MessageType::MsgPreVote {
                // Rejecting (rather than dropping) lets a pre-candidate with
                // a higher term but shorter log learn it cannot win.
                let last = self.raft_log.last_entry_id();
                rlog!(
                    self.logger,
                    Info,
                    "{:x} [logterm: {}, index: {}, vote: {:x}] rejected {} from {:x} [logterm: {}, index: {}] at term {}",
                    self.id,
                    last.term,
                    last.index,
                    self.vote,
                    mt.as_str_name(),
                    m.from,
                    m.log_term,
                    m.index,
                    self.term
                );
                self.send(Message {
                    to: m.from,
                    term: self.term,
                    r#type: MessageType::MsgPreVoteResp as i32,
                    reject: true,
                    ..Default::default()
                });
            } else if mt == MessageType::MsgStorageAppendResp {
                if m.index != 0 {
                    // The appended entries may have been overwritten in the
                    // unstable log during the newer term (append ABA race).
                    rlog!(
                        self.logger,
                        Info,
                        "{:x} [term: {}] ignored entry appends from a {} message with lower term [term: {}]",
                        self.id,
                        self.term,
                        mt.as_str_name(),
                        m.term
                    );
                }
                if let Some(snap) = &m.snapshot {
                    // A snapshot is committed state, valid in any term.
                    self.applied_snap(snap);
                }
            } else {
                rlog!(
                    self.logger,
                    Info,
                    "{:x} [term: {}] ignored a {} message with lower term from {:x} [term: {}]",
                    self.id,
                    self.term,
                    mt.as_str_name(),
                    m.from,
                    m.term
                );
            }
            return Ok(());
        }

        match mt {
            MessageType::MsgHup => {
                if self.pre_vote {
                    self.hup(CampaignType::PreElection);
                } else {
                    self.hup(CampaignType::Election);
                }
            }
            MessageType::MsgStorageAppendResp => {
                if m.index != 0 {
                    self.raft_log.stable_to(EntryId { term: m.log_term, index: m.index });
                    if self.state == StateType::Leader && !self.trk.config.witnesses.is_empty() {
                        // Entries just became durable: witnesses may have them.
                        for id in crate::witness::peers(&self.trk, self.id) {
                            while self.maybe_send_append(id, false) {}
                        }
                    }
                }
                if let Some(snap) = &m.snapshot {
                    self.applied_snap(snap);
                }
            }
            MessageType::MsgStorageApplyResp => {
                if let Some(last) = m.entries.last() {
                    let index = last.index;
                    self.applied_to(index, ents_size(&m.entries));
                    self.reduce_uncommitted_size(payloads_size(&m.entries));
                }
            }
            MessageType::MsgVote | MessageType::MsgPreVote => self.handle_vote_request(m),
            _ => match self.state {
                StateType::Leader => return self.step_leader(m),
                StateType::Candidate | StateType::PreCandidate => return self.step_candidate(m),
                StateType::Follower => return self.step_follower(m),
            },
        }
        Ok(())
    }

    /// Whether a request that `for_peer` (came from another node) may be
    /// forwarded now; counts it against the per-tick budget.
    fn may_forward(&mut self, for_peer: bool) -> bool {
        if !for_peer {
            return true;
        }
        if self.forwarded_for_peers >= FORWARD_BUDGET_PER_TICK {
            return false;
        }
        self.forwarded_for_peers += 1;
        true
    }

    fn handle_vote_request(&mut self, m: Message) {
        let mt = m.r#type();
        // We can vote for a repeat of our vote, when we have not voted and
        // know no leader, or for a pre-vote of a future term...
        let can_vote = self.vote == m.from
            || (self.vote == NONE && self.lead == NONE)
            || (mt == MessageType::MsgPreVote && m.term > self.term);
        let last = self.raft_log.last_entry_id();
        let cand = EntryId { term: m.log_term, index: m.index };
        // ...and only if the candidate's log is at least as up to date.
        // (`polyraft_mutant = "vote_no_uptodate"` drops that check, for the
        // simulator's mutation check only.)
        let up_to_date = cfg!(polyraft_mutant = "vote_no_uptodate") || self.raft_log.is_up_to_date(cand);
        // Beyond etcd: a witness backs only data voters of its configuration
        // (docs/witness.md, "Whom a witness votes for").
        let up_to_date = up_to_date && crate::witness::may_back(&self.trk, self.id, m.from);
        // Beyond etcd: among equally up-to-date logs, the higher priority
        // wins (a no-op while every priority is 0). A leadership transfer
        // names its target explicitly and is exempt.
        let transfer = mt == MessageType::MsgVote && m.context.as_ref() == CAMPAIGN_TRANSFER;
        let by_priority =
            transfer || crate::priority::may_vote_for(self.priority, last, cand, m.priority) || !self.may_refuse_for_priority();
        if can_vote && up_to_date && by_priority {
            // Learners vote too: one may have been promoted without knowing.
            rlog!(
                self.logger,
                Info,
                "{:x} [logterm: {}, index: {}, vote: {:x}] cast {} for {:x} [logterm: {}, index: {}] at term {}",
                self.id,
                last.term,
                last.index,
                self.vote,
                mt.as_str_name(),
                m.from,
                cand.term,
                cand.index,
                self.term
            );
            // The response carries the message's term, not ours: a pre-vote
            // is about a future term the candidate waits to hear about.
            self.send(Message { to: m.from, term: m.term, r#type: vote_resp_msg_type(mt) as i32, ..Default::default() });
            if mt == MessageType::MsgVote {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            rlog!(
                self.logger,
                Info,
                "{:x} [logterm: {}, index: {}, vote: {:x}] rejected {} from {:x} [logterm: {}, index: {}] at term {}",
                self.id,
                last.term,
                last.index,
                self.vote,
                mt.as_str_name(),
                m.from,
                cand.term,
                cand.index,
                self.term
            );
            // At term 0 (a fresh node, never in an election) the answer
            // carries the request's term instead: a vote response must
            // have one, and etcd, which sends its own term, panics there.
            // Only a pre-vote gets here at term 0 (a vote's higher term was
            // taken first), refused for a priority, a witness's rule, or
            // a storage that starts with entries but no term.
            let term = if self.term == 0 { m.term } else { self.term };
            self.send(Message { to: m.from, term, r#type: vote_resp_msg_type(mt) as i32, reject: true, ..Default::default() });
        }
    }

    #[inline(always)]
    fn step_leader(&mut self, mut m: Message) -> Result<()> {
        let mt = m.r#type();
        // These need no progress for m.from.
        match mt {
            MessageType::MsgBeat => {
                self.bcast_heartbeat();
                return Ok(());
            }
            MessageType::MsgCheckQuorum => {
                if !self.trk.quorum_active() {
                    rlog!(self.logger, Warn, "{:x} stepped down to follower since quorum is not active", self.id);
                    self.become_follower(self.term, NONE);
                }
                // Everyone but us must prove activity again before the next check.
                let id = self.id;
                for (&pid, pr) in self.trk.progress.iter_mut() {
                    if pid != id {
                        pr.recent_active = false;
                    }
                }
                return Ok(());
            }
            MessageType::MsgProp => return self.leader_propose(m),
            MessageType::MsgReadIndex => {
                if m.entries.is_empty() {
                    return Err(Error::InvalidState("MsgReadIndex without a request context entry".into()));
                }
                if self.trk.is_singleton() {
                    // A single voter confirms reads by itself.
                    let committed = self.raft_log.committed;
                    if let Some(resp) = self.response_to_read_index_req(m, committed) {
                        self.send(resp);
                    }
                    return Ok(());
                }
                // Until this leader commits an entry of its term its commit
                // index may trail its predecessor's: hold the read.
                if !self.committed_entry_in_current_term() {
                    self.pending_read_index_messages.push(m);
                    return Ok(());
                }
                self.send_read_index_response(m);
                return Ok(());
            }
            MessageType::MsgForgetLeader => return Ok(()),
            _ => {}
        }

        if !self.trk.progress.contains_key(&m.from) {
            rlog!(self.logger, Debug, "{:x} no progress available for {:x}", self.id, m.from);
            return Ok(());
        }
        match mt {
            MessageType::MsgAppResp => self.handle_append_response(&m),
            MessageType::MsgHeartbeatResp => {
                let last = self.raft_log.last_index();
                let pr = self.trk.progress.get_mut(&m.from).expect("checked above");
                pr.recent_active = true;
                pr.msg_app_flow_paused = false;
                // An empty append lets a paused or probing follower recover
                // (its acks clear the inflight window / resume replicate).
                if pr.matched < last || pr.state == ProgressState::Probe {
                    self.send_append(m.from);
                }
                if self.read_only.option != ReadOnlyOption::Safe || m.context.is_empty() {
                    return Ok(());
                }
                self.read_only.recv_ack(m.from, &m.context);
                let rss = self.read_only.maybe_advance(&self.trk.config.voters);
                for rs in rss {
                    if let Some(resp) = self.response_to_read_index_req(rs.req, rs.index) {
                        self.send(resp);
                    }
                }
            }
            MessageType::MsgSnapStatus => {
                let pr = self.trk.progress.get_mut(&m.from).expect("checked above");
                if pr.state != ProgressState::Snapshot {
                    return Ok(());
                }
                if !m.reject {
                    pr.become_probe();
                    rlog!(
                        self.logger,
                        Debug,
                        "{:x} snapshot succeeded, resumed sending replication messages to {:x} [{}]",
                        self.id,
                        m.from,
                        pr
                    );
                } else {
                    // Forget the snapshot first, or probing would start
                    // from an index the follower never received.
                    pr.pending_snapshot = 0;
                    pr.become_probe();
                    rlog!(
                        self.logger,
                        Debug,
                        "{:x} snapshot failed, resumed sending replication messages to {:x} [{}]",
                        self.id,
                        m.from,
                        pr
                    );
                }
                // Wait for the follower's MsgAppResp (or a heartbeat
                // interval after a failure) before the next MsgApp.
                pr.msg_app_flow_paused = true;
            }
            MessageType::MsgUnreachable => {
                let pr = self.trk.progress.get_mut(&m.from).expect("checked above");
                // An optimistic MsgApp to an unreachable peer was likely lost.
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                rlog!(
                    self.logger,
                    Debug,
                    "{:x} failed to send message to {:x} because it is unreachable [{}]",
                    self.id,
                    m.from,
                    pr
                );
            }
            MessageType::MsgTransferLeader => self.handle_transfer_leader(&m),
            _ => {}
        }
        let _ = &mut m;
        Ok(())
    }

    fn leader_propose(&mut self, mut m: Message) -> Result<()> {
        if m.entries.is_empty() {
            return Err(Error::InvalidState(format!("{:x} stepped empty MsgProp", self.id)));
        }
        if !self.trk.progress.contains_key(&self.id) {
            // Removed from the configuration while leading.
            return Err(Error::ProposalDropped);
        }
        if self.lead_transferee != NONE {
            rlog!(
                self.logger,
                Debug,
                "{:x} [term {}] transfer leadership to {:x} is in progress; dropping proposal",
                self.id,
                self.term,
                self.lead_transferee
            );
            return Err(Error::ProposalDropped);
        }
        let last = self.raft_log.last_index();
        for i in 0..m.entries.len() {
            let cc = match m.entries[i].r#type() {
                EntryType::EntryConfChange => decode::<ConfChange>(&m.entries[i].data).map(ConfChangeI::V1),
                EntryType::EntryConfChangeV2 => decode::<ConfChangeV2>(&m.entries[i].data).map(ConfChangeI::V2),
                EntryType::EntryNormal => continue,
            };
            let cc = match cc {
                Ok(cc) => cc,
                Err(e) => return Err(Error::ConfChange(format!("malformed conf change in proposal: {e}"))),
            };
            cc.as_v2().check()?;
            let already_pending = self.pending_conf_index > self.raft_log.applied;
            let already_joint = !self.trk.config.voters.outgoing.is_empty();
            let wants_leave_joint = cc.as_v2().changes.is_empty();
            let failed_check = if already_pending {
                Some(format!(
                    "possible unapplied conf change at index {} (applied to {})",
                    self.pending_conf_index, self.raft_log.applied
                ))
            } else if already_joint && !wants_leave_joint {
                Some("must transition out of joint config first".to_string())
            } else if !already_joint && wants_leave_joint {
                Some("not in joint state; refusing empty conf change".to_string())
            } else {
                crate::witness::refuse_leader_removal(&self.trk, self.id, &cc.as_v2())
            };
            match failed_check {
                Some(why) if !self.disable_conf_change_validation => {
                    rlog!(
                        self.logger,
                        Info,
                        "{:x} ignoring conf change {} at config {}: {}",
                        self.id,
                        crate::describe::describe_conf_change(&cc),
                        self.trk.config,
                        why
                    );
                    // etcd sets the type explicitly here (`Type:
                    // pb.EntryNormal.Enum()`), which its size accounting counts.
                    m.entries[i] = Entry { r#type: EntryType::EntryNormal as i32, type_set: true, ..Default::default() };
                }
                _ => self.pending_conf_index = last + i as u64 + 1,
            }
        }
        if !self.append_entry(std::mem::take(&mut m.entries)) {
            return Err(Error::ProposalDropped);
        }
        self.bcast_append();
        Ok(())
    }

    fn handle_append_response(&mut self, m: &Message) {
        let from = m.from;
        // An ack below the peer's next index is within our log (next never
        // passes our last index + 1), so only a higher one needs the last
        // index, which may cost a storage call.
        let below_next = self.trk.progress.get(&from).is_some_and(|pr| m.index < pr.next);
        if !m.reject && !below_next && m.index > self.raft_log.last_index() {
            // An ack for entries we never had is bogus; believing it would
            // let a peer commit entries that do not exist.
            rlog!(self.logger, Warn, "{:x} ignored MsgAppResp from {:x} for index {} beyond our log", self.id, from, m.index);
            return;
        }
        let pr = self.trk.progress.get_mut(&from).expect("caller checked");
        pr.recent_active = true;

        if m.reject {
            // reject_hint is the follower's guess of the last index where
            // the logs may match; log_term is its term there.
            rlog!(
                self.logger,
                Debug,
                "{:x} received MsgAppResp(rejected, hint: (index {}, term {})) from {:x} for index {}",
                self.id,
                m.reject_hint,
                m.log_term,
                from,
                m.index
            );
            let mut next_probe_idx = m.reject_hint;
            if m.log_term > 0 {
                // Skip every index where our term exceeds the follower's
                // term at the hint: a probe there must fail too. This probes
                // at most once per term of our log.
                next_probe_idx = self.raft_log.find_conflict_by_term(m.reject_hint, m.log_term).0;
            }
            let pr = self.trk.progress.get_mut(&from).expect("caller checked");
            if pr.maybe_decr_to(m.index, next_probe_idx) {
                rlog!(self.logger, Debug, "{:x} decreased progress of {:x} to [{}]", self.id, from, pr);
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                self.send_append(from);
            }
            return;
        }

        // A probing peer that acks exactly its match can resume replicating
        // (heartbeat_resp_recovers_from_probing).
        let updated = pr.maybe_update(m.index) || (pr.matched == m.index && pr.state == ProgressState::Probe);
        if !updated {
            return;
        }
        // Read (from storage, maybe) only when a snapshot is in flight.
        let snapshot_done = |pr: &Progress, log: &RaftLog<S>| pr.matched + 1 >= log.first_index();
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot if snapshot_done(pr, &self.raft_log) => {
                // Whatever index the snapshot actually had, the follower can
                // now be caught up from the log.
                rlog!(
                    self.logger,
                    Debug,
                    "{:x} recovered from needing snapshot, resumed sending replication messages to {:x} [{}]",
                    self.id,
                    from,
                    pr
                );
                pr.become_probe();
                pr.become_replicate();
            }
            ProgressState::Replicate => pr.inflights.free_le(m.index),
            ProgressState::Snapshot => {}
        }

        if self.maybe_commit() {
            // Commit advanced in our term: held reads may be answered.
            self.release_pending_read_index_messages();
            self.bcast_append();
        } else if self.id != from {
            let committed = self.raft_log.committed;
            if self.trk.progress.get(&from).is_some_and(|pr| pr.can_bump_commit(committed)) {
                // Tell the follower the commit index now rather than with
                // the next heartbeat.
                self.send_append(from);
            }
        }
        // Flow control may have opened: send what we can, without empties.
        if self.id != from {
            while self.maybe_send_append(from, false) {}
        }
        if from == self.lead_transferee
            && self.trk.progress.get(&from).is_some_and(|pr| pr.matched == self.raft_log.last_index())
        {
            rlog!(self.logger, Info, "{:x} sent MsgTimeoutNow to {:x} after received MsgAppResp", self.id, from);
            self.send_timeout_now(from);
        }
    }

    fn handle_transfer_leader(&mut self, m: &Message) {
        let pr = &self.trk.progress[&m.from];
        if pr.is_learner {
            rlog!(self.logger, Debug, "{:x} is learner. Ignored transferring leadership", self.id);
            return;
        }
        if pr.is_witness {
            // A witness has no payloads and can never lead (docs/witness.md).
            rlog!(self.logger, Info, "{:x} ignored transferring leadership to witness {:x}", self.id, m.from);
            return;
        }
        let transferee = m.from;
        let last_transferee = self.lead_transferee;
        if last_transferee != NONE {
            if last_transferee == transferee {
                rlog!(
                    self.logger,
                    Info,
                    "{:x} [term {}] transfer leadership to {:x} is in progress, ignores request to same node {:x}",
                    self.id,
                    self.term,
                    transferee,
                    transferee
                );
                return;
            }
            self.abort_leader_transfer();
            rlog!(
                self.logger,
                Info,
                "{:x} [term {}] abort previous transferring leadership to {:x}",
                self.id,
                self.term,
                last_transferee
            );
        }
        if transferee == self.id {
            rlog!(self.logger, Debug, "{:x} is already leader. Ignored transferring leadership to self", self.id);
            return;
        }
        rlog!(self.logger, Info, "{:x} [term {}] starts to transfer leadership to {:x}", self.id, self.term, transferee);
        // The transfer must finish within one election timeout.
        self.election_elapsed = 0;
        self.lead_transferee = transferee;
        if self.trk.progress[&transferee].matched == self.raft_log.last_index() {
            self.send_timeout_now(transferee);
            rlog!(
                self.logger,
                Info,
                "{:x} sends MsgTimeoutNow to {:x} immediately as {:x} already has up-to-date log",
                self.id,
                transferee,
                transferee
            );
        } else {
            self.send_append(transferee);
        }
    }

    /// Shared by Candidate and PreCandidate; each counts only the vote
    /// responses of its own kind (stale pre-vote responses can arrive).
    fn step_candidate(&mut self, m: Message) -> Result<()> {
        let my_vote_resp =
            if self.state == StateType::PreCandidate { MessageType::MsgPreVoteResp } else { MessageType::MsgVoteResp };
        let mt = m.r#type();
        match mt {
            MessageType::MsgProp => {
                rlog!(self.logger, Info, "{:x} no leader at term {}; dropping proposal", self.id, self.term);
                return Err(Error::ProposalDropped);
            }
            // A message of the current term from a leader: it won.
            MessageType::MsgApp => {
                self.become_follower(m.term, m.from);
                return self.handle_append_entries(m);
            }
            MessageType::MsgHeartbeat => {
                self.become_follower(m.term, m.from);
                self.handle_heartbeat(m);
            }
            MessageType::MsgSnap => {
                self.become_follower(m.term, m.from);
                self.handle_snapshot(m);
            }
            t if t == my_vote_resp => {
                let (gr, rj, res) = self.poll(m.from, mt, !m.reject);
                rlog!(
                    self.logger,
                    Info,
                    "{:x} has received {} {} votes and {} vote rejections",
                    self.id,
                    gr,
                    mt.as_str_name(),
                    rj
                );
                match res {
                    VoteResult::Won => {
                        if self.state == StateType::PreCandidate {
                            self.campaign(CampaignType::Election);
                        } else {
                            self.become_leader();
                            self.bcast_append();
                        }
                    }
                    VoteResult::Lost => {
                        // A pre-vote response carries a future term; stay in ours.
                        self.become_follower(self.term, NONE);
                    }
                    VoteResult::Pending => {}
                }
            }
            MessageType::MsgTimeoutNow => {
                rlog!(
                    self.logger,
                    Debug,
                    "{:x} [term {} state {}] ignored MsgTimeoutNow from {:x}",
                    self.id,
                    self.term,
                    self.state,
                    m.from
                );
            }
            _ => {}
        }
        Ok(())
    }

    #[inline(always)]
    fn step_follower(&mut self, mut m: Message) -> Result<()> {
        match m.r#type() {
            MessageType::MsgProp => {
                if self.lead == NONE {
                    rlog!(self.logger, Info, "{:x} no leader at term {}; dropping proposal", self.id, self.term);
                    return Err(Error::ProposalDropped);
                } else if self.disable_proposal_forwarding {
                    rlog!(
                        self.logger,
                        Info,
                        "{:x} not forwarding to leader {:x} at term {}; dropping proposal",
                        self.id,
                        self.lead,
                        self.term
                    );
                    return Err(Error::ProposalDropped);
                }
                if !self.may_forward(m.from != self.id) {
                    rlog!(self.logger, Warn, "{:x} forwarded {} requests for peers since the last tick; dropping proposal", self.id, FORWARD_BUDGET_PER_TICK);
                    return Err(Error::ProposalDropped);
                }
                m.to = self.lead;
                self.send(m);
            }
            MessageType::MsgApp => {
                self.election_elapsed = 0;
                self.lead = m.from;
                return self.handle_append_entries(m);
            }
            MessageType::MsgHeartbeat => {
                self.election_elapsed = 0;
                self.lead = m.from;
                self.handle_heartbeat(m);
            }
            MessageType::MsgSnap => {
                self.election_elapsed = 0;
                self.lead = m.from;
                self.handle_snapshot(m);
            }
            MessageType::MsgTransferLeader => {
                if self.lead == NONE {
                    rlog!(self.logger, Info, "{:x} no leader at term {}; dropping leader transfer msg", self.id, self.term);
                    return Ok(());
                }
                // A local request has no term; a forwarded one has ours.
                if !self.may_forward(m.term != 0) {
                    rlog!(self.logger, Warn, "{:x} forwarded {} requests for peers since the last tick; dropping leader transfer msg", self.id, FORWARD_BUDGET_PER_TICK);
                    return Ok(());
                }
                m.to = self.lead;
                self.send(m);
            }
            MessageType::MsgForgetLeader => {
                if self.read_only.option == ReadOnlyOption::LeaseBased {
                    rlog!(self.logger, Error, "ignoring MsgForgetLeader due to ReadOnlyLeaseBased");
                    return Ok(());
                }
                if self.lead != NONE {
                    rlog!(self.logger, Info, "{:x} forgetting leader {:x} at term {}", self.id, self.lead, self.term);
                    self.lead = NONE;
                }
            }
            MessageType::MsgTimeoutNow => {
                rlog!(
                    self.logger,
                    Info,
                    "{:x} [term {}] received MsgTimeoutNow from {:x} and starts an election to get leadership.",
                    self.id,
                    self.term,
                    m.from
                );
                // Transfers skip pre-vote: no partition to recover from.
                self.hup(CampaignType::Transfer);
            }
            MessageType::MsgReadIndex => {
                if self.lead == NONE {
                    rlog!(self.logger, Info, "{:x} no leader at term {}; dropping index reading msg", self.id, self.term);
                    return Ok(());
                }
                if !self.may_forward(m.from != NONE && m.from != self.id) {
                    rlog!(self.logger, Warn, "{:x} forwarded {} requests for peers since the last tick; dropping index reading msg", self.id, FORWARD_BUDGET_PER_TICK);
                    return Ok(());
                }
                m.to = self.lead;
                self.send(m);
            }
            MessageType::MsgReadIndexResp => {
                if m.entries.len() != 1 {
                    rlog!(
                        self.logger,
                        Error,
                        "{:x} invalid format of MsgReadIndexResp from {:x}, entries count: {}",
                        self.id,
                        m.from,
                        m.entries.len()
                    );
                    return Ok(());
                }
                let ctx = m.entries.swap_remove(0).data;
                self.read_states.push(ReadState { index: m.index, request_ctx: ctx });
            }
            _ => {}
        }
        Ok(())
    }

    /// Handles an append from the leader. An append that would overwrite
    /// committed entries is refused with an error (etcd panics), leaving
    /// the log untouched.
    fn handle_append_entries(&mut self, m: Message) -> Result<()> {
        let committed = self.raft_log.committed;
        if m.index < committed {
            self.send(Message { to: m.from, r#type: MessageType::MsgAppResp as i32, index: committed, ..Default::default() });
            return Ok(());
        }
        let (from, index, log_term, commit) = (m.from, m.index, m.log_term, m.commit);
        let a = LogSlice { term: m.term, prev: EntryId { term: log_term, index }, entries: m.entries };
        match self.raft_log.maybe_append(a, commit) {
            Ok(Some(mlast)) => {
                self.send(Message { to: from, r#type: MessageType::MsgAppResp as i32, index: mlast, ..Default::default() });
                return Ok(());
            }
            Ok(None) => {}
            Err(e @ Error::Decode(_)) => return Err(e),
            Err(e) => {
                self.fail(e);
                return Ok(());
            }
        }
        let our_term = self.raft_log.zero_term_on_out_of_bounds(self.raft_log.term(index));
        rlog!(
            self.logger,
            Debug,
            "{:x} [logterm: {}, index: {}] rejected MsgApp [logterm: {}, index: {}] from {:x}",
            self.id,
            our_term,
            index,
            log_term,
            index,
            from
        );
        // Hint the largest (index, term) we hold with term <= the leader's
        // log_term and index <= its index, skipping our divergent tail.
        let hint_index = index.min(self.raft_log.last_index());
        let (hint_index, hint_term) = self.raft_log.find_conflict_by_term(hint_index, log_term);
        self.send(Message {
            to: from,
            r#type: MessageType::MsgAppResp as i32,
            index,
            reject: true,
            reject_hint: hint_index,
            log_term: hint_term,
            ..Default::default()
        });
        Ok(())
    }

    fn handle_heartbeat(&mut self, m: Message) {
        // A leader only sends min(match, committed); a larger commit means a
        // corrupted or malicious peer: refuse it rather than lose our log.
        if m.commit > self.raft_log.last_index() {
            rlog!(
                self.logger,
                Error,
                "{:x} ignored heartbeat from {:x}: commit {} is beyond last index {}",
                self.id,
                m.from,
                m.commit,
                self.raft_log.last_index()
            );
            return;
        }
        if let Err(e) = self.raft_log.commit_to(m.commit) {
            self.fail(e);
            return;
        }
        self.send(Message { to: m.from, r#type: MessageType::MsgHeartbeatResp as i32, context: m.context, ..Default::default() });
    }

    fn handle_snapshot(&mut self, m: Message) {
        let s = m.snapshot.map(|b| *b).unwrap_or_default();
        let (sindex, sterm) = (s.index(), s.term());
        if self.restore(s) {
            rlog!(
                self.logger,
                Info,
                "{:x} [commit: {}] restored snapshot [index: {}, term: {}]",
                self.id,
                self.raft_log.committed,
                sindex,
                sterm
            );
            let li = self.raft_log.last_index();
            self.send(Message { to: m.from, r#type: MessageType::MsgAppResp as i32, index: li, ..Default::default() });
        } else {
            rlog!(
                self.logger,
                Info,
                "{:x} [commit: {}] ignored snapshot [index: {}, term: {}]",
                self.id,
                self.raft_log.committed,
                sindex,
                sterm
            );
            let c = self.raft_log.committed;
            self.send(Message { to: m.from, r#type: MessageType::MsgAppResp as i32, index: c, ..Default::default() });
        }
    }

    /// Restores log and configuration from a snapshot. Returns false when
    /// the snapshot was ignored (obsolete, or not applicable here).
    pub fn restore(&mut self, s: Snapshot) -> bool {
        if s.index() <= self.raft_log.committed {
            return false;
        }
        if self.state != StateType::Follower {
            // Defense in depth: never restore as leader or candidate.
            rlog!(self.logger, Warn, "{:x} attempted to restore snapshot as leader; should never happen", self.id);
            self.become_follower(self.term.saturating_add(1), NONE);
            return false;
        }
        let cs = s.conf_state();
        let found = cs.voters.iter().chain(&cs.learners).chain(&cs.voters_outgoing).any(|&id| id == self.id);
        if !found {
            rlog!(
                self.logger,
                Warn,
                "{:x} attempted to restore snapshot but it is not in the ConfState {}; should never happen",
                self.id,
                crate::describe::conf_state_text(&cs)
            );
            return false;
        }
        let id = EntryId { term: s.term(), index: s.index() };
        if self.raft_log.match_term(id) {
            // We already hold the snapshot's last entry: just commit to it.
            let last = self.raft_log.last_entry_id();
            rlog!(
                self.logger,
                Info,
                "{:x} [commit: {}, lastindex: {}, lastterm: {}] fast-forwarded commit to snapshot [index: {}, term: {}]",
                self.id,
                self.raft_log.committed,
                last.index,
                last.term,
                id.index,
                id.term
            );
            if let Err(e) = self.raft_log.commit_to(s.index()) {
                self.fail(e);
            }
            return false;
        }
        // Validate the configuration before touching the log, so that a bad
        // snapshot leaves the node as it was.
        let fresh = ProgressTracker::new(self.trk.max_inflight, self.trk.max_inflight_bytes);
        let (cfg, prs) = match confchange::restore(Changer { tracker: &fresh, last_index: id.index }, &cs) {
            Ok(x) => x,
            Err(e) => {
                rlog!(self.logger, Error, "{:x} unable to restore config {}: {}", self.id, crate::describe::conf_state_text(&cs), e);
                return false;
            }
        };
        // The restored configuration must describe the snapshot's: checked
        // on a scratch tracker, so that a mismatch refuses the snapshot
        // instead of leaving the node in a configuration nobody agreed to.
        let mut scratch = ProgressTracker::new(self.trk.max_inflight, self.trk.max_inflight_bytes);
        scratch.config = cfg.clone();
        scratch.progress = prs.clone();
        if let Err(e) = cs.equivalent(&scratch.conf_state()) {
            rlog!(self.logger, Error, "{:x} unable to restore config {}: {}", self.id, crate::describe::conf_state_text(&cs), e);
            return false;
        }
        self.raft_log.restore(s);
        self.trk = fresh;
        self.switch_to_config(cfg, prs);
        let last = self.raft_log.last_entry_id();
        rlog!(
            self.logger,
            Info,
            "{:x} [commit: {}, lastindex: {}, lastterm: {}] restored snapshot [index: {}, term: {}]",
            self.id,
            self.raft_log.committed,
            last.index,
            last.term,
            id.index,
            id.term
        );
        true
    }

    /// Whether this node may refuse, for priority, a candidate whose log
    /// equals its own (asked only when the priorities would refuse it, so
    /// the storage read below is off the common path). Only a node that can
    /// win an election itself may: a witness, a learner, or a node whose log removes it
    /// (with witnesses it does not campaign) would otherwise refuse the
    /// lower-priority candidates while never standing itself, and a group
    /// where such a node has the highest priority would elect no leader.
    fn may_refuse_for_priority(&self) -> bool {
        self.promotable()
            && (self.trk.config.witnesses.is_empty()
                || matches!(crate::witness::pending_removal_of(&self.raft_log, self.id), Ok(false)))
    }

    /// Whether this node may become leader: a voter in the configuration
    /// that is not a witness, with no snapshot pending application.
    pub fn promotable(&self) -> bool {
        self.trk.progress.get(&self.id).is_some_and(|pr| !pr.is_learner && !pr.is_witness)
            && !self.raft_log.has_next_or_in_progress_snapshot()
    }

    /// Applies a committed configuration change; returns the new ConfState.
    pub fn apply_conf_change(&mut self, cc: ConfChangeV2) -> Result<ConfState> {
        if let Some(e) = &self.fatal {
            return Err(e.clone());
        }
        cc.check()?;
        let changer = Changer { tracker: &self.trk, last_index: self.raft_log.last_index() };
        let (cfg, prs) = if cc.leave_joint() {
            changer.leave_joint()?
        } else if let Some(auto_leave) = cc.enter_joint() {
            changer.enter_joint(auto_leave, &cc.changes)?
        } else {
            changer.simple(&cc.changes)?
        };
        Ok(self.switch_to_config(cfg, prs))
    }

    /// Installs a configuration and reacts to it: a removed leader may step
    /// down, a changed quorum may commit more, new peers get probed.
    fn switch_to_config(&mut self, cfg: TrackerConfig, prs: ProgressMap) -> ConfState {
        let mut rejoined = None;
        if self.state == StateType::Leader {
            for id in self.trk.progress.keys() {
                if !prs.contains_key(id) && !self.removed_in_term.contains(id) {
                    self.removed_in_term.push(*id);
                }
            }
            rejoined = prs.keys().copied().find(|id| !self.trk.progress.contains_key(id) && self.removed_in_term.contains(id));
        }
        self.trk.config = cfg;
        self.trk.progress = prs;
        rlog!(self.logger, Info, "{:x} switched to configuration {}", self.id, self.trk.config);
        let cs = self.trk.conf_state();
        let me = self.trk.progress.get(&self.id);
        let ok = me.is_some();
        self.is_learner = me.is_some_and(|pr| pr.is_learner);

        if (!ok || self.is_learner) && self.state == StateType::Leader {
            // Removed or demoted while leading. With witnesses it always
            // steps down (docs/witness.md): it would otherwise commit with
            // witness acks entries no data voter of the group holds.
            if self.step_down_on_removal || !self.trk.config.witnesses.is_empty() {
                self.become_follower(self.term, NONE);
            }
            return cs;
        }
        if self.state != StateType::Leader || cs.voters.is_empty() {
            return cs;
        }
        if let Some(peer) = rejoined {
            // Beyond etcd: a MsgAppResp that the peer's earlier incarnation
            // sent in this term is indistinguishable from a fresh one and
            // could credit the (possibly wiped) new incarnation with entries
            // it does not hold. Moving to a new term makes every such
            // response stale. The leader campaigns at once, as a transfer to
            // itself, so that leases do not delay the election.
            rlog!(
                self.logger,
                Info,
                "{:x} re-added {:x} which was removed earlier in term {}; campaigning in a new term to fence off its earlier incarnation",
                self.id,
                peer,
                self.term
            );
            self.become_follower(self.term, NONE);
            // Not through hup: the change being applied right now still
            // counts as unapplied there, and it is the one we act upon.
            if self.promotable() {
                rlog!(self.logger, Info, "{:x} is starting a new election at term {}", self.id, self.term);
                self.campaign(CampaignType::Transfer);
            }
            return cs;
        }
        if self.maybe_commit() {
            self.bcast_append();
        } else {
            // Probe new peers now rather than at the next heartbeat.
            for id in self.peer_ids() {
                self.maybe_send_append(id, false);
            }
        }
        if self.lead_transferee != NONE && !self.trk.config.voters.ids().contains(&self.lead_transferee) {
            self.abort_leader_transfer();
        }
        cs
    }

    fn load_state(&mut self, state: &HardState) -> Result<()> {
        if state.commit < self.raft_log.committed || state.commit > self.raft_log.last_index() {
            let msg = format!(
                "{:x} state.commit {} is out of range [{}, {}]",
                self.id,
                state.commit,
                self.raft_log.committed,
                self.raft_log.last_index()
            );
            rlog!(self.logger, Error, "{}", msg);
            return Err(Error::Fatal(msg));
        }
        self.raft_log.committed = state.commit;
        self.term = state.term;
        self.vote = state.vote;
        Ok(())
    }

    fn past_election_timeout(&self) -> bool {
        self.election_elapsed >= self.randomized_election_timeout
    }

    fn reset_randomized_election_timeout(&mut self) {
        self.randomized_election_timeout = self.election_timeout + self.rng.usize(..self.election_timeout);
    }

    fn send_timeout_now(&mut self, to: u64) {
        self.send(Message { to, r#type: MessageType::MsgTimeoutNow as i32, ..Default::default() });
    }

    fn abort_leader_transfer(&mut self) {
        self.lead_transferee = NONE;
    }

    /// Whether the entry at the commit index is of our term.
    fn committed_entry_in_current_term(&self) -> bool {
        self.raft_log.zero_term_on_out_of_bounds(self.raft_log.term(self.raft_log.committed)) == self.term
    }

    /// Answers a confirmed read: locally as a ReadState, or to the follower
    /// that forwarded it.
    fn response_to_read_index_req(&mut self, mut req: Message, read_index: u64) -> Option<Message> {
        if req.from == NONE || req.from == self.id {
            let ctx = req.entries.first().map(|e| e.data.clone()).unwrap_or_default();
            self.read_states.push(ReadState { index: read_index, request_ctx: ctx });
            return None;
        }
        Some(Message {
            r#type: MessageType::MsgReadIndexResp as i32,
            to: req.from,
            index: read_index,
            entries: std::mem::take(&mut req.entries),
            ..Default::default()
        })
    }

    fn increase_uncommitted_size(&mut self, ents: &[Entry]) -> bool {
        let s = payloads_size(ents);
        // An empty tail admits any proposal, and empty payloads are never
        // refused (new-term entries, leaving a joint config).
        if self.uncommitted_size > 0 && s > 0 && self.uncommitted_size.saturating_add(s) > self.max_uncommitted_size {
            return false;
        }
        self.uncommitted_size += s;
        true
    }

    /// Accounts for newly committed entries in the uncommitted-size estimate.
    pub(crate) fn reduce_uncommitted_size(&mut self, s: u64) {
        // The estimate may undercount but never overcount: saturate at 0.
        self.uncommitted_size = self.uncommitted_size.saturating_sub(s);
    }

    fn release_pending_read_index_messages(&mut self) {
        if self.pending_read_index_messages.is_empty() {
            return;
        }
        if !self.committed_entry_in_current_term() {
            rlog!(self.logger, Error, "pending MsgReadIndex should be released only after first commit in current term");
            return;
        }
        for m in std::mem::take(&mut self.pending_read_index_messages) {
            self.send_read_index_response(m);
        }
    }

    fn send_read_index_response(&mut self, m: Message) {
        match self.read_only.option {
            ReadOnlyOption::Safe => {
                // Register the read, ack it ourselves, and confirm it with a
                // heartbeat round whose context covers every pending read.
                let committed = self.raft_log.committed;
                self.read_only.add_request(committed, m);
                let ctx = self.read_only.heartbeat_ctx();
                self.read_only.recv_ack(self.id, &ctx);
                self.bcast_heartbeat();
            }
            ReadOnlyOption::LeaseBased => {
                let committed = self.raft_log.committed;
                if let Some(resp) = self.response_to_read_index_req(m, committed) {
                    self.send(resp);
                }
            }
        }
    }
}

/// The MsgProp that proposes a configuration change (None: the empty
/// ConfChangeV2 that leaves a joint configuration).
pub(crate) fn conf_change_to_msg(cc: Option<&ConfChangeI>) -> Message {
    let (typ, data) = match cc {
        Some(cc) => cc.marshal(),
        None => (EntryType::EntryConfChangeV2, Bytes::new()),
    };
    encoded_conf_change_msg(typ, data)
}

/// The MsgProp carrying one conf-change entry of type `typ` whose bytes
/// are `data` (already encoded).
pub(crate) fn encoded_conf_change_msg(typ: EntryType, data: Bytes) -> Message {
    Message {
        r#type: MessageType::MsgProp as i32,
        entries: vec![Entry { r#type: typ as i32, data, ..Default::default() }],
        ..Default::default()
    }
}

/// Refuses a MsgSnap whose snapshot no leader could have sent: a snapshot
/// term above the message's term (a leader's log holds no entry of a later
/// term; believing one would make the follower claim entries the leader
/// never had, and the two would exchange MsgApp/MsgAppResp forever), a
/// non-empty snapshot at term 0, or a ConfState that breaks the
/// configuration invariants (restoring it would leave the node in a
/// configuration it cannot describe). A message at term 0 is local (etcd's
/// harness sends such snapshots) and is not held to the term rule.
fn check_snapshot_msg(m: &Message) -> Result<()> {
    let Some(s) = m.snapshot.as_deref().filter(|s| !is_empty_snap(s)) else { return Ok(()) };
    if s.term() == 0 {
        return Err(Error::Decode(format!("MsgSnap with a snapshot at index {} and term 0", s.index())));
    }
    if m.term != 0 && s.term() > m.term {
        return Err(Error::Decode(format!(
            "MsgSnap at term {} with a snapshot of a later term {} (index {})",
            m.term,
            s.term(),
            s.index()
        )));
    }
    s.conf_state().validate().map_err(|e| Error::Decode(format!("MsgSnap with an invalid ConfState: {e}")))
}

/// Refuses a message whose sender cannot have sent it: a leader's or
/// candidate's message (MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow,
/// MsgReadIndexResp, MsgVote, MsgPreVote) or a MsgHeartbeatResp claiming
/// to come from this node itself or from no node (believing one, a
/// follower would take itself as its leader and forward requests to
/// itself forever), and any peer message type claiming to come from a
/// local storage thread.
fn check_sender(id: u64, m: &Message) -> Result<()> {
    use MessageType::*;
    let t = m.r#type();
    let peer_only = matches!(
        t,
        MsgApp | MsgHeartbeat | MsgSnap | MsgTimeoutNow | MsgReadIndexResp | MsgVote | MsgPreVote | MsgHeartbeatResp
    );
    if peer_only && (m.from == id || m.from == NONE) {
        let who = if m.from == NONE { "no node" } else { "the node itself" };
        return Err(Error::Decode(format!("{t:?} claiming to come from {who}")));
    }
    if is_local_msg_target(m.from) && !crate::raftpb::is_local_msg(t) {
        return Err(Error::Decode(format!("{t:?} claiming to come from a local storage thread")));
    }
    Ok(())
}
