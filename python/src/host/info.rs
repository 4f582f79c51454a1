//! `polyraft.GroupInfo`.

use polyraft_host::GroupInfo;
use pyo3::prelude::*;

/// What a host knows about one of its replicas' groups.
#[pyclass(module = "polyraft._native", name = "GroupInfo", frozen, get_all)]
pub struct PyGroupInfo {
    /// The group.
    pub(crate) group: u64,
    /// The local replica's id.
    pub(crate) replica: u64,
    /// The leader's replica id as known here (0: none).
    pub(crate) leader: u64,
    /// The local replica's term.
    pub(crate) term: u64,
    /// Whether the local replica leads.
    pub(crate) is_leader: bool,
    /// Voting members as of the applied index.
    pub(crate) voters: Vec<u64>,
    /// Learners as of the applied index.
    pub(crate) learners: Vec<u64>,
    /// The voters that are witnesses (docs/witness.md).
    pub(crate) witnesses: Vec<u64>,
    /// Whether the local replica is a witness (no state machine).
    pub(crate) is_witness: bool,
    /// Applied index.
    pub(crate) applied: u64,
    /// Committed index.
    pub(crate) committed: u64,
    /// Last log index.
    pub(crate) last_index: u64,
    /// Index of the latest snapshot.
    pub(crate) snapshot_index: u64,
    /// Whether the group is quiesced here.
    pub(crate) quiesced: bool,
    /// The group's address book: replica id -> host id.
    pub(crate) hosts: std::collections::BTreeMap<u64, u64>,
}

impl From<GroupInfo> for PyGroupInfo {
    fn from(g: GroupInfo) -> Self {
        PyGroupInfo {
            group: g.group,
            replica: g.replica,
            leader: g.leader,
            term: g.term,
            is_leader: g.is_leader,
            voters: g.voters,
            learners: g.learners,
            witnesses: g.witnesses,
            is_witness: g.is_witness,
            applied: g.applied,
            committed: g.committed,
            last_index: g.last_index,
            snapshot_index: g.snapshot_index,
            quiesced: g.quiesced,
            hosts: g.hosts,
        }
    }
}

#[pymethods]
impl PyGroupInfo {
    fn __repr__(&self) -> String {
        format!(
            "GroupInfo(group={}, replica={}, leader={}, term={}, voters={:?}, learners={:?}, applied={})",
            self.group, self.replica, self.leader, self.term, self.voters, self.learners, self.applied
        )
    }
}
