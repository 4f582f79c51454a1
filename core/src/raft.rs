//! The Raft state machine: Step, tick, campaign, and the per-role step
//! functions (mirrors etcd's raft.go).

use std::fmt;
use std::sync::Arc;

use crate::logger::Logger;

/// Placeholder node id meaning "no node" (no leader, no vote).
pub const NONE: u64 = 0;
/// Target of MsgStorageAppend messages when async storage writes are on.
pub const LOCAL_APPEND_THREAD: u64 = u64::MAX;
/// Target of MsgStorageApply messages when async storage writes are on.
pub const LOCAL_APPLY_THREAD: u64 = u64::MAX - 1;
/// "No limit" for the size limits in [`Config`].
pub const NO_LIMIT: u64 = u64::MAX;

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
            .finish_non_exhaustive()
    }
}

/// The state machine. (in progress)
pub struct Raft<S> {
    _s: std::marker::PhantomData<S>,
}

#[allow(unused_variables)]
impl<S> Raft<S> {
    /// Sets the randomized election timeout (test hook, as etcd's rafttest).
    pub fn set_randomized_election_timeout(&mut self, t: usize) { todo!() }
}
