//! Quorum rules (mirrors etcd's quorum package): majorities, and joint
//! configurations made of two majorities that must both agree.

mod joint;
mod majority;

pub use joint::JointConfig;
pub use majority::MajorityConfig;

use std::collections::BTreeMap;
use std::fmt;

/// The outcome of an election so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteResult {
    /// Not decided: enough voters have not answered yet.
    Pending,
    /// Cannot be won any more.
    Lost,
    /// Won by a quorum.
    Won,
}

impl fmt::Display for VoteResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VoteResult::Pending => "VotePending",
            VoteResult::Lost => "VoteLost",
            VoteResult::Won => "VoteWon",
        })
    }
}

/// Where a quorum computation learns each voter's acknowledged index.
/// `None` means nothing is known for the voter (different from 0).
pub trait AckedIndexer {
    /// The highest index `voter_id` is known to have acknowledged.
    fn acked_index(&self, voter_id: u64) -> Option<u64>;
}

impl AckedIndexer for BTreeMap<u64, u64> {
    fn acked_index(&self, voter_id: u64) -> Option<u64> {
        self.get(&voter_id).copied()
    }
}

/// A vote lookup: `Some(true)` granted, `Some(false)` rejected, `None` not
/// (yet) answered.
pub trait VoteLookup {
    /// The vote of `voter_id`, if it answered.
    fn vote(&self, voter_id: u64) -> Option<bool>;
}

impl VoteLookup for BTreeMap<u64, bool> {
    fn vote(&self, voter_id: u64) -> Option<bool> {
        self.get(&voter_id).copied()
    }
}

/// An index as etcd prints it: the "everything" index of an empty quorum
/// is "∞".
pub fn index_string(i: u64) -> String {
    if i == u64::MAX {
        "∞".to_string()
    } else {
        i.to_string()
    }
}
