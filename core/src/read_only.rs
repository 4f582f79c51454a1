//! ReadIndex bookkeeping on the leader (mirrors etcd's read_only.go).
//!
//! With `ReadOnlyOption::Safe`, a read is confirmed once a quorum of voters
//! has acknowledged a heartbeat sent after the read was registered. Reads are
//! numbered in arrival order; a heartbeat carries the number of the newest
//! unconfirmed read as an 8-byte little-endian counter in its context, and a
//! voter's ack of counter `n` confirms every read up to `n`. The quorum's
//! acknowledged counter is then simply the joint configuration's "committed
//! index" over the acks, so one heartbeat round confirms any number of reads.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::quorum::{AckedIndexer, JointConfig};
use crate::raft::ReadOnlyOption;
use crate::raftpb::Message;

/// A read request served: the application may answer `request_ctx` once it
/// has applied up to `index`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The commit index at the time the read was confirmed.
    pub index: u64,
    /// The context the application passed to `read_index`.
    pub request_ctx: Bytes,
}

/// A pending read: the request message and the commit index when it came in.
#[derive(Debug, Clone)]
pub struct ReadIndexRequest {
    /// The MsgReadIndex as received (local or forwarded by a follower).
    pub req: Message,
    /// The leader's commit index when the request was registered.
    pub index: u64,
}

/// The leader's queue of reads awaiting quorum confirmation.
#[derive(Debug, Clone)]
pub struct ReadOnly {
    /// How reads are confirmed.
    pub option: ReadOnlyOption,
    /// Highest read counter acknowledged by each peer.
    acks: HashMap<u64, u64>,
    /// Registered, not yet confirmed reads, oldest first.
    unconfirmed: VecDeque<ReadIndexRequest>,
    /// How many reads were confirmed (and removed from the queue) so far;
    /// the counter of `unconfirmed[i]` is `confirmed + i + 1`.
    confirmed: u64,
}

impl ReadOnly {
    /// An empty queue.
    pub fn new(option: ReadOnlyOption) -> Self {
        ReadOnly { option, acks: HashMap::new(), unconfirmed: VecDeque::new(), confirmed: 0 }
    }

    /// Registers a read that arrived when the commit index was `commit_index`.
    pub fn add_request(&mut self, commit_index: u64, req: Message) {
        self.unconfirmed.push_back(ReadIndexRequest { req, index: commit_index });
    }

    /// Records that `from` acknowledged a heartbeat carrying `ctx`. Contexts
    /// that are not an 8-byte counter are ignored (an old peer or a
    /// malformed message must not confirm anything), and so are counters
    /// never handed out: kept, a forged one would confirm, without a fresh
    /// heartbeat round, reads registered after it arrived.
    pub fn recv_ack(&mut self, from: u64, ctx: &[u8]) {
        let Ok(raw) = <[u8; 8]>::try_from(ctx) else { return };
        let n = u64::from_le_bytes(raw);
        if n > self.confirmed + self.unconfirmed.len() as u64 {
            return;
        }
        let e = self.acks.entry(from).or_insert(0);
        *e = (*e).max(n);
    }

    /// Pops every read confirmed by a quorum of `voters`, oldest first.
    pub fn maybe_advance(&mut self, voters: &JointConfig) -> Vec<ReadIndexRequest> {
        // Never beyond the newest counter handed out: `recv_ack` keeps no
        // other, and that newest counter never decreases.
        let acked = voters.committed_index(&Acks(&self.acks));
        if acked <= self.confirmed {
            return Vec::new();
        }
        let n = (acked - self.confirmed) as usize;
        self.confirmed = acked;
        self.unconfirmed.drain(..n).collect()
    }

    /// The context a heartbeat must carry to confirm every pending read, or
    /// empty when nothing is pending.
    pub fn heartbeat_ctx(&self) -> Bytes {
        if self.unconfirmed.is_empty() {
            return Bytes::new();
        }
        let newest = self.confirmed + self.unconfirmed.len() as u64;
        Bytes::copy_from_slice(&newest.to_le_bytes())
    }

    /// Number of reads awaiting confirmation.
    pub fn pending(&self) -> usize {
        self.unconfirmed.len()
    }
}

struct Acks<'a>(&'a HashMap<u64, u64>);

impl AckedIndexer for Acks<'_> {
    fn acked_index(&self, voter_id: u64) -> Option<u64> {
        self.0.get(&voter_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::MajorityConfig;

    fn voters(ids: &[u64]) -> JointConfig {
        JointConfig { incoming: MajorityConfig::new(ids.iter().copied()), outgoing: MajorityConfig::default() }
    }

    #[test]
    fn an_ack_of_a_counter_never_handed_out_confirms_no_later_read() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        let cfg = voters(&[1, 2, 3]);
        ro.add_request(5, Message::default());
        // Peer 2 acks a counter far beyond the one read handed out.
        ro.recv_ack(2, &1000u64.to_le_bytes());
        ro.recv_ack(1, &1u64.to_le_bytes());
        assert!(ro.maybe_advance(&cfg).is_empty(), "a forged counter is not an acknowledgement");
        ro.recv_ack(2, &1u64.to_le_bytes());
        assert_eq!(ro.maybe_advance(&cfg).len(), 1);
        // A read registered later needs a fresh round from a quorum.
        ro.add_request(6, Message::default());
        ro.recv_ack(1, &2u64.to_le_bytes());
        assert!(ro.maybe_advance(&cfg).is_empty(), "one voter of three confirmed it");
        ro.recv_ack(3, &2u64.to_le_bytes());
        assert_eq!(ro.maybe_advance(&cfg).len(), 1);
    }
}
