//! Replication bookkeeping on the leader (mirrors etcd's tracker package):
//! the active configuration, each peer's [`Progress`], and vote counting.

mod inflights;
mod progress;

pub use inflights::Inflights;
pub use progress::{Progress, ProgressState, MAX_DENIALS_PER_HEARTBEAT};

/// The old name of [`ProgressState`], which clashed with the node role
/// [`crate::StateType`].
#[deprecated(since = "0.1.0", note = "renamed ProgressState")]
pub type StateType = ProgressState;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;

use crate::quorum::{AckedIndexer, JointConfig, MajorityConfig, VoteResult};
use crate::raftpb::ConfState;

/// Progress of every tracked peer (voters and learners), by id. A BTreeMap
/// so every visit is in ascending id order, as etcd sorts.
pub type ProgressMap = BTreeMap<u64, Progress>;

/// etcd's ProgressMap.String(): "id: progress" per line, ascending ids.
pub fn describe_progress_map(prs: &ProgressMap) -> String {
    let mut s = String::new();
    for (id, pr) in prs {
        let _ = writeln!(s, "{id}: {pr}");
    }
    s
}

/// The active configuration: voters (possibly joint), learners, and the
/// learners staged to join once a joint configuration is left.
///
/// Invariants (checked by the confchange Changer): learners and voters are
/// disjoint; `learners_next` is a subset of the outgoing voters and empty
/// when not joint; `auto_leave` only while joint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The voters, incoming and (while joint) outgoing.
    pub voters: JointConfig,
    /// Whether raft leaves the joint configuration on its own once it is
    /// applied.
    pub auto_leave: bool,
    /// Non-voting members that receive the log.
    pub learners: BTreeSet<u64>,
    /// Outgoing voters that become learners when the joint state is left
    /// (a peer cannot be a voter and a learner at once).
    pub learners_next: BTreeSet<u64>,
    /// Voters (incoming or outgoing) that are witnesses: they vote and count
    /// toward quorums but hold no payloads and never lead
    /// (docs/witness.md). Always a subset of the voters; empty unless a
    /// witness was added, which keeps every etcd output unchanged.
    pub witnesses: BTreeSet<u64>,
}

impl fmt::Display for Config {
    /// "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(5) autoleave".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters={}", self.voters)?;
        if !self.learners.is_empty() {
            write!(f, " learners={}", MajorityConfig::new(self.learners.iter().copied()))?;
        }
        if !self.learners_next.is_empty() {
            write!(f, " learners_next={}", MajorityConfig::new(self.learners_next.iter().copied()))?;
        }
        if self.auto_leave {
            f.write_str(" autoleave")?;
        }
        if !self.witnesses.is_empty() {
            write!(f, " witnesses={}", MajorityConfig::new(self.witnesses.iter().copied()))?;
        }
        Ok(())
    }
}

/// The configuration, the progress of every peer, and the votes of the
/// current election.
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    /// The active configuration.
    pub config: Config,
    /// Progress of every voter and learner.
    pub progress: ProgressMap,
    /// Votes received in the current election.
    pub votes: BTreeMap<u64, bool>,
    /// In-flight append limit per peer (messages).
    pub max_inflight: usize,
    /// In-flight append limit per peer (bytes; u64::MAX or 0 = none).
    pub max_inflight_bytes: u64,
}

/// Acked indexes are the peers' match indexes.
struct MatchAck<'a>(&'a ProgressMap);

impl AckedIndexer for MatchAck<'_> {
    fn acked_index(&self, id: u64) -> Option<u64> {
        self.0.get(&id).map(|pr| pr.matched)
    }
}

impl ProgressTracker {
    /// An empty tracker with the given in-flight limits.
    pub fn new(max_inflight: usize, max_inflight_bytes: u64) -> Self {
        ProgressTracker {
            config: Config::default(),
            progress: ProgressMap::new(),
            votes: BTreeMap::new(),
            max_inflight,
            max_inflight_bytes,
        }
    }

    /// The configuration as a ConfState (sorted ids).
    pub fn conf_state(&self) -> ConfState {
        ConfState {
            voters: self.config.voters.incoming.slice(),
            voters_outgoing: self.config.voters.outgoing.slice(),
            learners: self.config.learners.iter().copied().collect(),
            learners_next: self.config.learners_next.iter().copied().collect(),
            auto_leave: self.config.auto_leave,
            witnesses: self.config.witnesses.iter().copied().collect(),
        }
    }

    /// Whether `id` is a tracked witness.
    pub fn is_witness(&self, id: u64) -> bool {
        self.progress.get(&id).is_some_and(|pr| pr.is_witness)
    }

    /// Whether there is exactly one voter and no joint configuration.
    pub fn is_singleton(&self) -> bool {
        self.config.voters.incoming.len() == 1 && self.config.voters.outgoing.is_empty()
    }

    /// The highest index replicated on a quorum (by match indexes).
    pub fn committed(&self) -> u64 {
        self.config.voters.committed_index(&MatchAck(&self.progress))
    }

    /// Whether a quorum of voters was recently active (CheckQuorum).
    pub fn quorum_active(&self) -> bool {
        let votes: BTreeMap<u64, bool> = self
            .progress
            .iter()
            .filter(|(_, pr)| !pr.is_learner)
            .map(|(&id, pr)| (id, pr.recent_active))
            .collect();
        self.config.voters.vote_result(&votes) == VoteResult::Won
    }

    /// Voter ids, ascending.
    pub fn voter_nodes(&self) -> Vec<u64> {
        self.config.voters.ids().into_iter().collect()
    }

    /// Forgets the votes of the previous election.
    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records `id`'s vote; only its first vote in an election counts.
    pub fn record_vote(&mut self, id: u64, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    /// (granted, rejected, result) of the current election over voters.
    pub fn tally_votes(&self) -> (usize, usize, VoteResult) {
        let (mut granted, mut rejected) = (0, 0);
        for (id, pr) in &self.progress {
            if pr.is_learner {
                continue;
            }
            match self.votes.get(id) {
                Some(true) => granted += 1,
                Some(false) => rejected += 1,
                None => {}
            }
        }
        (granted, rejected, self.config.voters.vote_result(&self.votes))
    }
}
