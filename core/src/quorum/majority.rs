//! A simple majority of a set of voters.

use std::collections::BTreeSet;
use std::fmt;

use super::{index_string, AckedIndexer, VoteLookup, VoteResult};

/// A set of voters deciding by simple majority. The empty set is a quorum
/// of nobody: it commits everything and wins every vote, so that a joint
/// configuration with an empty half behaves like its other half.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MajorityConfig {
    ids: BTreeSet<u64>,
}

impl MajorityConfig {
    /// A majority over `ids`.
    pub fn new(ids: impl IntoIterator<Item = u64>) -> Self {
        MajorityConfig { ids: ids.into_iter().collect() }
    }

    /// The voter ids, ascending.
    pub fn ids(&self) -> &BTreeSet<u64> {
        &self.ids
    }

    /// The voter ids as a sorted vector.
    pub fn slice(&self) -> Vec<u64> {
        self.ids.iter().copied().collect()
    }

    /// Whether there are no voters.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of voters.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether `id` is a voter.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    /// Adds a voter.
    pub fn insert(&mut self, id: u64) {
        self.ids.insert(id);
    }

    /// Removes a voter.
    pub fn remove(&mut self, id: u64) {
        self.ids.remove(&id);
    }

    /// Removes every voter.
    pub fn clear(&mut self) {
        self.ids.clear();
    }

    /// The highest index acknowledged by a majority (u64::MAX when empty).
    /// Voters without a known index count as 0.
    pub fn committed_index<A: AckedIndexer + ?Sized>(&self, l: &A) -> u64 {
        let n = self.ids.len();
        if n == 0 {
            return u64::MAX;
        }
        // Small configurations sort on the stack (etcd does the same): no
        // allocation per commit check.
        let mut stk = [0u64; 7];
        let mut heap;
        let acked: &mut [u64] = if n <= stk.len() {
            &mut stk[..n]
        } else {
            heap = vec![0u64; n];
            &mut heap
        };
        for (slot, &id) in acked.iter_mut().zip(&self.ids) {
            *slot = l.acked_index(id).unwrap_or(0);
        }
        acked.sort_unstable();
        // The largest index that at least n/2+1 voters have reached.
        acked[n - (n / 2 + 1)]
    }

    /// Won with a majority of granted votes, Lost when that is impossible,
    /// Pending otherwise. The empty config wins.
    pub fn vote_result<V: VoteLookup + ?Sized>(&self, votes: &V) -> VoteResult {
        if self.ids.is_empty() {
            return VoteResult::Won;
        }
        let (mut granted, mut missing) = (0, 0);
        for &id in &self.ids {
            match votes.vote(id) {
                None => missing += 1,
                Some(true) => granted += 1,
                Some(false) => {}
            }
        }
        let q = self.ids.len() / 2 + 1;
        if granted >= q {
            VoteResult::Won
        } else if granted + missing >= q {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }

    /// A bar chart of the voters' acknowledged indexes, as etcd prints it in
    /// its quorum tests: the i-th smallest index gets a bar of length i
    /// (equal indexes equal bars), unknown indexes a "?".
    pub fn describe<A: AckedIndexer + ?Sized>(&self, l: &A) -> String {
        if self.ids.is_empty() {
            return "<empty majority quorum>".to_string();
        }
        let n = self.ids.len();
        struct Row {
            id: u64,
            idx: u64,
            known: bool,
            bar: usize,
        }
        let mut rows: Vec<Row> = self
            .ids
            .iter()
            .map(|&id| {
                let a = l.acked_index(id);
                Row { id, idx: a.unwrap_or(0), known: a.is_some(), bar: 0 }
            })
            .collect();
        rows.sort_by_key(|r| (r.idx, r.id));
        for i in 1..rows.len() {
            rows[i].bar = if rows[i - 1].idx < rows[i].idx { i } else { rows[i - 1].bar };
        }
        rows.sort_by_key(|r| r.id);
        let mut s = format!("{}    idx\n", " ".repeat(n));
        for r in rows {
            if r.known {
                s.push_str(&"x".repeat(r.bar));
                s.push('>');
                s.push_str(&" ".repeat(n - r.bar));
            } else {
                s.push('?');
                s.push_str(&" ".repeat(n));
            }
            s.push_str(&format!(" {:>5}    (id={})\n", index_string(r.idx), r.id));
        }
        s
    }
}

impl FromIterator<u64> for MajorityConfig {
    fn from_iter<T: IntoIterator<Item = u64>>(iter: T) -> Self {
        MajorityConfig::new(iter)
    }
}

impl fmt::Display for MajorityConfig {
    /// "(1 2 3)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.ids.iter().map(|i| i.to_string()).collect();
        write!(f, "({})", parts.join(" "))
    }
}
