//! A host's configuration and the plain data its API returns.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use polyraft::logger::{Logger, NoopLogger};

/// How a host runs its groups.
#[derive(Clone)]
pub struct HostConfig {
    /// This host's id, unique in the cluster, never 0.
    pub host_id: u64,
    /// Step workers (threads); 0 means one per core.
    pub workers: usize,
    /// No threads: the caller drives every worker with
    /// [`crate::Host::run_once`] (deterministic simulation). Blocking
    /// client calls would wait forever in this mode: use the `_async` forms.
    pub manual: bool,
    /// Real (or simulated) time between two raft ticks.
    pub tick_interval: Duration,
    /// Ticks without a leader before a follower campaigns.
    pub election_ticks: usize,
    /// Ticks between a leader's heartbeats.
    pub heartbeat_ticks: usize,
    /// Take a snapshot after this many applied entries (0: never).
    pub snapshot_entries: u64,
    /// Entries kept in the log behind a snapshot, so that a follower that
    /// lags by fewer catches up from the log rather than by snapshot.
    pub compaction_overhead: u64,
    /// Idle groups stop ticking and heartbeating.
    pub quiesce: bool,
    /// Election timeouts a leader must be idle (everything replicated,
    /// nothing pending) before its group quiesces.
    pub quiesce_after_elections: u64,
    /// Byte limit of one append message.
    pub max_size_per_msg: u64,
    /// Append messages in flight per follower.
    pub max_inflight_msgs: usize,
    /// Clients a group's session table keeps; a new one beyond it evicts
    /// the least recently active. Part of the replicated behaviour: every
    /// host of a cluster must use the same value.
    pub max_sessions: usize,
    /// How often the log reclaims space (rewriting the live records of old
    /// segments); zero disables it.
    pub purge_interval: Duration,
    /// Seed of every random choice (election timeouts, proposal keys);
    /// `None` draws one. Set it for reproducible simulations.
    pub seed: Option<u64>,
    /// Where the raft nodes log (etcd's log lines). Default: nowhere.
    pub raft_logger: Arc<dyn Logger>,
    /// Election priority of every replica on this host (priority
    /// elections, beyond etcd; `polyraft::Config::priority`): among
    /// replicas whose logs are equally up to date, the one on the host with
    /// the highest priority wins, so leaders gather where you want them
    /// (the host closest to the clients). 0 (the default) everywhere is
    /// etcd's behaviour.
    pub election_priority: i64,
}

impl HostConfig {
    /// Defaults for host `host_id`: 100 ms ticks, elections after 10 ticks,
    /// heartbeats every tick, snapshots every 10,000 entries keeping 5,000,
    /// quiescence after 3 idle election timeouts, a worker per core.
    pub fn new(host_id: u64) -> Self {
        HostConfig {
            host_id,
            workers: 0,
            manual: false,
            tick_interval: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 1,
            snapshot_entries: 10_000,
            compaction_overhead: 5_000,
            quiesce: true,
            quiesce_after_elections: 3,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            max_sessions: 10_000,
            purge_interval: Duration::from_secs(10),
            seed: None,
            raft_logger: Arc::new(NoopLogger),
            election_priority: 0,
        }
    }
}

/// How a replica starts when the log holds nothing for its group. When
/// the log has the group's state (a restart), the mode is ignored and the
/// replica recovers from the log and its latest snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartMode {
    /// A new group with these initial members: (replica id, host id). Every
    /// initial member starts with the same list.
    Bootstrap(Vec<(u64, u64)>),
    /// Joins an existing group that has added (or will add) this replica;
    /// the leader brings it up to date by log or snapshot.
    Join,
}

/// What a host knows about one of its replicas' groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group.
    pub group: u64,
    /// The local replica's id.
    pub replica: u64,
    /// The leader's replica id as known here (0: none).
    pub leader: u64,
    /// The local replica's term.
    pub term: u64,
    /// Whether the local replica leads.
    pub is_leader: bool,
    /// Voting members as of the applied index.
    pub voters: Vec<u64>,
    /// Learners as of the applied index.
    pub learners: Vec<u64>,
    /// The voters that are witnesses, as of the applied index (empty
    /// without witnesses; docs/witness.md).
    pub witnesses: Vec<u64>,
    /// Whether the local replica is a witness (started with
    /// `Host::start_witness`): it keeps no state machine.
    pub is_witness: bool,
    /// Applied index.
    pub applied: u64,
    /// Committed index.
    pub committed: u64,
    /// Last log index.
    pub last_index: u64,
    /// Index of the latest snapshot.
    pub snapshot_index: u64,
    /// Whether the group is quiesced here.
    pub quiesced: bool,
    /// The address book of the group: replica id -> host id.
    pub hosts: BTreeMap<u64, u64>,
}
