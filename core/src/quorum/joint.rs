//! Two majorities that must both agree (joint consensus, Raft §6).

use std::collections::BTreeSet;
use std::fmt;

use super::{AckedIndexer, MajorityConfig, VoteLookup, VoteResult};

/// The incoming and outgoing voter sets of a configuration. Outside a
/// configuration change `outgoing` is empty, and the joint config behaves
/// exactly like `incoming`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JointConfig {
    /// The new (or only) voters.
    pub incoming: MajorityConfig,
    /// The old voters while a joint change is in progress, else empty.
    pub outgoing: MajorityConfig,
}

impl JointConfig {
    /// Every voter of either half, ascending.
    pub fn ids(&self) -> BTreeSet<u64> {
        self.incoming.ids().union(self.outgoing.ids()).copied().collect()
    }

    /// Whether `id` votes in either half.
    pub fn contains(&self, id: u64) -> bool {
        self.incoming.contains(id) || self.outgoing.contains(id)
    }

    /// The highest index acknowledged by both majorities.
    pub fn committed_index<A: AckedIndexer + ?Sized>(&self, l: &A) -> u64 {
        self.incoming.committed_index(l).min(self.outgoing.committed_index(l))
    }

    /// Won when both halves won, Lost when either lost, else Pending.
    pub fn vote_result<V: VoteLookup + ?Sized>(&self, votes: &V) -> VoteResult {
        let r1 = self.incoming.vote_result(votes);
        let r2 = self.outgoing.vote_result(votes);
        if r1 == r2 {
            r1
        } else if r1 == VoteResult::Lost || r2 == VoteResult::Lost {
            VoteResult::Lost
        } else {
            VoteResult::Pending
        }
    }

    /// The bar chart of [`MajorityConfig::describe`] over all voters.
    pub fn describe<A: AckedIndexer + ?Sized>(&self, l: &A) -> String {
        MajorityConfig::new(self.ids()).describe(l)
    }
}

impl fmt::Display for JointConfig {
    /// "(1 2 3)" or, while joint, "(1 2 3)&&(1 2)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.outgoing.is_empty() {
            write!(f, "{}", self.incoming)
        } else {
            write!(f, "{}&&{}", self.incoming, self.outgoing)
        }
    }
}
