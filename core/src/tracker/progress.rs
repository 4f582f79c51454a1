//! What the leader knows about one follower's log.

use std::fmt;

use super::Inflights;

/// How the leader replicates to a follower.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressState {
    /// One append per heartbeat interval until the follower's last index is
    /// found.
    #[default]
    Probe,
    /// Optimistic streaming of appends, bounded by the in-flight window.
    Replicate,
    /// A snapshot was sent; appends wait until it is reported.
    Snapshot,
}

impl fmt::Display for ProgressState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProgressState::Probe => "StateProbe",
            ProgressState::Replicate => "StateReplicate",
            ProgressState::Snapshot => "StateSnapshot",
        })
    }
}

/// A follower's replication state as seen by the leader.
///
/// Invariant: `matched < next`; `sent_commit <= next - 1` in Probe and
/// Replicate.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Highest index known to be in the follower's log.
    pub matched: u64,
    /// Index of the next entry to send.
    pub next: u64,
    /// Highest commit index sent to the follower.
    pub sent_commit: u64,
    /// How replication proceeds.
    pub state: ProgressState,
    /// Index of the snapshot in flight (Snapshot state only).
    pub pending_snapshot: u64,
    /// Whether the follower was heard from recently (reset on each
    /// CheckQuorum round).
    pub recent_active: bool,
    /// Whether appends to the follower are paused (a probe is in flight, or
    /// the in-flight window is full).
    pub msg_app_flow_paused: bool,
    /// Appends in flight.
    pub inflights: Inflights,
    /// Whether the follower is a learner.
    pub is_learner: bool,
    /// Whether the follower is a witness: a voter that receives entry
    /// metadata without payloads and never leads (docs/witness.md). Fixed
    /// for as long as the peer is tracked.
    pub is_witness: bool,
    /// Rejections at or below `matched` answered with a new probe since
    /// the last heartbeat (see `maybe_decr_to`).
    denials: u32,
}

/// How many rejections at or below a follower's match the leader answers
/// with a new probe between two heartbeats. A follower cannot lack an entry
/// it acknowledged, so such a rejection is a stale duplicate (etcd answers
/// each with a probe, and so does polyraft up to this bound) or the
/// acknowledgement was forged: then every probe is rejected again, and
/// without a bound leader and follower would exchange them forever.
pub const MAX_DENIALS_PER_HEARTBEAT: u32 = 16;

impl Progress {
    /// A probing progress that will next send `next`.
    pub fn new(next: u64, inflights: Inflights) -> Self {
        Progress {
            matched: 0,
            next,
            sent_commit: 0,
            state: ProgressState::Probe,
            pending_snapshot: 0,
            recent_active: false,
            msg_app_flow_paused: false,
            inflights,
            is_learner: false,
            is_witness: false,
            denials: 0,
        }
    }

    /// Switches state, clearing what belonged to the old one.
    pub fn reset_state(&mut self, state: ProgressState) {
        self.msg_app_flow_paused = false;
        self.pending_snapshot = 0;
        self.state = state;
        self.inflights.reset();
    }

    /// Back to probing, just after what the follower is known to have (or
    /// after the snapshot it was sent, which it has now applied).
    pub fn become_probe(&mut self) {
        if self.state == ProgressState::Snapshot {
            let pending = self.pending_snapshot;
            self.reset_state(ProgressState::Probe);
            self.next = (self.matched + 1).max(pending + 1);
        } else {
            self.reset_state(ProgressState::Probe);
            self.next = self.matched + 1;
        }
        self.sent_commit = self.sent_commit.min(self.next - 1);
    }

    /// Streams appends right after the match index.
    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next = self.matched + 1;
    }

    /// Waits for the snapshot at `snapshot_index` to be reported.
    pub fn become_snapshot(&mut self, snapshot_index: u64) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = snapshot_index;
        self.next = snapshot_index + 1;
        self.sent_commit = snapshot_index;
    }

    /// Accounts for an append of `entries` entries (`bytes` payload) just
    /// sent: advances `next` when replicating, pauses the flow when the
    /// window filled up or a probe went out.
    pub fn sent_entries(&mut self, entries: usize, bytes: u64) {
        match self.state {
            ProgressState::Replicate => {
                if entries > 0 {
                    self.next += entries as u64;
                    self.inflights.add(self.next - 1, bytes);
                }
                self.msg_app_flow_paused = self.inflights.full();
            }
            ProgressState::Probe => {
                if entries > 0 {
                    self.msg_app_flow_paused = true;
                }
            }
            // Appends are never sent while a snapshot is pending.
            ProgressState::Snapshot => {}
        }
    }

    /// As [`Progress::sent_entries`] for entries merged into the append
    /// sent last (batched appends): they travel in that message, so they
    /// take no new in-flight slot. Only a replicating peer has several
    /// appends queued to merge; in any other state this is `sent_entries`.
    pub fn sent_more_entries(&mut self, entries: usize, bytes: u64) {
        if self.state != ProgressState::Replicate || entries == 0 {
            return self.sent_entries(entries, bytes);
        }
        self.next += entries as u64;
        self.inflights.extend_last(self.next - 1, bytes);
        self.msg_app_flow_paused = self.inflights.full();
    }

    /// Whether sending commit index `index` could advance the follower's
    /// commit: it is newer than what we sent, and the follower has entries
    /// beyond what we told it is committed.
    pub fn can_bump_commit(&self, index: u64) -> bool {
        index > self.sent_commit && self.sent_commit < self.next - 1
    }

    /// Records that commit index `commit` was sent.
    pub fn sent_commit(&mut self, commit: u64) {
        self.sent_commit = commit;
    }

    /// Raises the match index to `n` after an ack. Returns false for a
    /// stale ack.
    pub fn maybe_update(&mut self, n: u64) -> bool {
        if n <= self.matched {
            return false;
        }
        self.matched = n;
        self.next = self.next.max(n + 1);
        self.msg_app_flow_paused = false;
        self.denials = 0;
        true
    }

    /// A heartbeat went out: the denial budget starts again.
    pub fn sent_heartbeat(&mut self) {
        self.denials = 0;
    }

    /// Moves `next` back after the follower rejected an append at
    /// `rejected`, guided by its hint `match_hint`. Returns false when the
    /// rejection is stale.
    pub fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.matched {
                return false;
            }
            self.next = self.matched + 1;
            self.sent_commit = self.sent_commit.min(self.next - 1);
            return true;
        }
        // Probes go out one at a time, so only the latest one is answered.
        if self.next - 1 != rejected {
            return false;
        }
        if rejected <= self.matched {
            // The follower denies holding an entry it acknowledged: see
            // MAX_DENIALS_PER_HEARTBEAT.
            if self.denials >= MAX_DENIALS_PER_HEARTBEAT {
                return false;
            }
            self.denials += 1;
        }
        self.next = rejected.min(match_hint + 1).max(self.matched + 1);
        self.sent_commit = self.sent_commit.min(self.next - 1);
        self.msg_app_flow_paused = false;
        true
    }

    /// Whether the leader must not send appends to this follower now.
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe | ProgressState::Replicate => self.msg_app_flow_paused,
            ProgressState::Snapshot => true,
        }
    }
}

impl fmt::Display for Progress {
    /// etcd's Progress.String(): "StateReplicate match=5 next=6 learner
    /// paused pendingSnap=3 inactive inflight=2[full]" (parts as they apply).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} match={} next={}", self.state, self.matched, self.next)?;
        if self.is_learner {
            f.write_str(" learner")?;
        }
        if self.is_witness {
            // Beyond etcd; never printed without witnesses.
            f.write_str(" witness")?;
        }
        if self.is_paused() {
            f.write_str(" paused")?;
        }
        if self.pending_snapshot > 0 {
            write!(f, " pendingSnap={}", self.pending_snapshot)?;
        }
        if !self.recent_active {
            f.write_str(" inactive")?;
        }
        let n = self.inflights.count();
        if n > 0 {
            write!(f, " inflight={n}")?;
            if self.inflights.full() {
                f.write_str("[full]")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(matched: u64, next: u64, state: ProgressState) -> Progress {
        let mut p = Progress::new(next, Inflights::new(256, 0));
        p.matched = matched;
        p.state = state;
        p
    }

    #[test]
    fn decr_in_replicate_goes_to_match() {
        let mut p = pr(5, 10, ProgressState::Replicate);
        assert!(!p.maybe_decr_to(4, 4), "stale rejection");
        assert!(p.maybe_decr_to(9, 9));
        assert_eq!(p.next, 6);
    }

    #[test]
    fn decr_in_probe_uses_hint() {
        let mut p = pr(0, 10, ProgressState::Probe);
        assert!(!p.maybe_decr_to(5, 5), "not the outstanding probe");
        assert!(p.maybe_decr_to(9, 3));
        assert_eq!(p.next, 4);
        p.msg_app_flow_paused = true;
        assert!(p.maybe_decr_to(3, 0));
        assert_eq!(p.next, 1);
        assert!(!p.msg_app_flow_paused);
    }

    #[test]
    fn probe_after_snapshot_skips_past_it() {
        let mut p = pr(1, 2, ProgressState::Probe);
        p.become_snapshot(10);
        assert!(p.is_paused());
        p.become_probe();
        assert_eq!(p.next, 11);
    }

    #[test]
    fn update_and_display() {
        let mut p = pr(1, 2, ProgressState::Replicate);
        assert!(p.maybe_update(5));
        assert!(!p.maybe_update(4));
        assert_eq!((p.matched, p.next), (5, 6));
        p.recent_active = true;
        p.sent_entries(2, 10);
        assert_eq!(p.to_string(), "StateReplicate match=5 next=8 inflight=1");
        p.is_learner = true;
        p.recent_active = false;
        assert_eq!(p.to_string(), "StateReplicate match=5 next=8 learner inactive inflight=1");
    }
}
