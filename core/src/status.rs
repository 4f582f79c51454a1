//! Status and BasicStatus (mirrors etcd's status.go).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::raftpb::HardState;
use crate::raw_node::SoftState;
use crate::tracker::{self, Progress};

/// The node's state without the (allocation-heavy) progress map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicStatus {
    /// This node's id.
    pub id: u64,
    /// Term, vote and commit index.
    pub hard_state: HardState,
    /// Leader and role.
    pub soft_state: SoftState,
    /// Highest index applied by the application (as acknowledged).
    pub applied: u64,
    /// Target of a leader transfer in progress, or 0.
    pub lead_transferee: u64,
}

/// The full status: basic status, the active configuration and, on the
/// leader only, every peer's progress.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The basic status.
    pub basic: BasicStatus,
    /// The active configuration.
    pub config: tracker::Config,
    /// Progress of each peer, by id; empty unless this node leads.
    pub progress: BTreeMap<u64, Progress>,
}

impl Status {
    /// The status as JSON in etcd's `Status.MarshalJSON` shape: ids in hex
    /// strings, progress keyed by hex id.
    pub fn to_json(&self) -> String {
        let b = &self.basic;
        let mut s = format!(
            "{{\"id\":\"{:x}\",\"term\":{},\"vote\":\"{:x}\",\"commit\":{},\"lead\":\"{:x}\",\"raftState\":\"{}\",\"applied\":{},\"progress\":{{",
            b.id, b.hard_state.term, b.hard_state.vote, b.hard_state.commit, b.soft_state.lead,
            b.soft_state.raft_state, b.applied
        );
        for (i, (id, pr)) in self.progress.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{:x}\":{{\"match\":{},\"next\":{},\"state\":\"{}\"", id, pr.matched, pr.next, pr.state);
            if pr.is_witness {
                // Beyond etcd: absent unless the peer is a witness.
                s.push_str(",\"witness\":true");
            }
            s.push('}');
        }
        let _ = write!(s, "}},\"leadtransferee\":\"{:x}\"}}", b.lead_transferee);
        s
    }
}
