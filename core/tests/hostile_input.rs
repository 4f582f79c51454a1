//! Regression tests for malformed input that once disabled a node: each
//! peer message below is refused with a one-line error and the node stays
//! usable; broken storage answers and absurd configurations are refused at
//! creation, with the same error in debug and release builds.

use polyraft::raftpb::{ConfState, Entry, HardState, Message, MessageType, Snapshot, SnapshotMetadata};
use polyraft::rafttest::cluster::{test_config, Cluster};
use polyraft::{Config, Error, MemoryStorage, RawNode, StateType, Storage};

fn snap_msg(from: u64, to: u64, term: u64, index: u64, snap_term: u64, cs: ConfState) -> Message {
    Message {
        r#type: MessageType::MsgSnap as i32,
        from,
        to,
        term,
        snapshot: Some(Box::new(Snapshot {
            metadata: Some(SnapshotMetadata { conf_state: Some(cs), index, term: snap_term }),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn voters(ids: &[u64]) -> ConfState {
    ConfState { voters: ids.to_vec(), ..Default::default() }
}

/// A 3-node cluster with leader 1 and one committed proposal.
fn cluster() -> Cluster {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.propose(1, b"x").unwrap();
    c.stabilize().unwrap();
    c
}

fn assert_one_line_decode(r: polyraft::Result<()>) -> String {
    match r {
        Err(Error::Decode(s)) => {
            assert!(!s.contains('\n'), "multi-line error: {s}");
            s
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// The cluster still elects, replicates and commits.
fn assert_usable(c: &mut Cluster) {
    for id in 1..=3 {
        assert!(c.node(id).raw.raft().fatal_error().is_none(), "node {id} is FATAL");
    }
    let lead = c.leaders()[0];
    let before = c.node(2).raw.raft().raft_log.committed;
    c.propose(lead, b"after").unwrap();
    c.stabilize().unwrap();
    for id in 1..=3 {
        assert!(c.node(id).raw.raft().raft_log.committed > before, "node {id} did not commit");
    }
}

#[test]
fn msgsnap_with_a_snapshot_term_above_the_message_term_is_refused() {
    let mut c = cluster();
    let term = c.node(2).raw.raft().term;
    let last = c.node(2).raw.raft().raft_log.last_index();
    let m = snap_msg(1, 2, term, last + 10, term + 100, voters(&[1, 2, 3]));
    let e = assert_one_line_decode(c.node(2).raw.step_peer(m));
    assert!(e.contains("later term"), "{e}");
    assert_eq!(c.node(2).raw.raft().raft_log.last_index(), last);
    // No endless MsgApp/MsgAppResp exchange: proposals quiesce.
    for _ in 0..15 {
        c.propose(1, b"p").unwrap();
    }
    let mut deliveries = 0;
    for _ in 0..1000 {
        for id in 1..=3 {
            c.process_ready(id).unwrap();
        }
        let n = c.deliver(|_| true);
        if n == 0 {
            break;
        }
        deliveries += n;
    }
    assert!(c.queue.is_empty() && deliveries < 1000, "not quiet after {deliveries} deliveries");
    assert_usable(&mut c);
}

#[test]
fn msgsnap_with_an_inconsistent_conf_state_is_refused() {
    let bad = [
        ConfState { voters: vec![1, 2, 3], learners: vec![2], ..Default::default() },
        ConfState { voters: vec![1, 2, 3, 3], ..Default::default() },
        ConfState { voters: vec![1, 2, 3], voters_outgoing: vec![1, 2], learners: vec![2], ..Default::default() },
        ConfState { voters: vec![1, 2, 3], learners_next: vec![3], ..Default::default() },
        ConfState { voters: vec![1, 2], voters_outgoing: vec![1, 2, 3], learners_next: vec![2], ..Default::default() },
        ConfState { voters: vec![1, 2, 3], auto_leave: true, ..Default::default() },
    ];
    let mut c = cluster();
    for cs in bad {
        let term = c.node(2).raw.raft().term;
        let m = snap_msg(1, 2, term, 20, term, cs.clone());
        let e = assert_one_line_decode(c.node(2).raw.step_peer(m));
        assert!(e.contains("invalid ConfState"), "{cs:?}: {e}");
        c.node(2).raw.tick();
        assert!(c.node(2).raw.raft().fatal_error().is_none());
    }
    assert_usable(&mut c);
}

#[test]
fn msgsnap_at_index_with_term_zero_is_refused() {
    let mut c = cluster();
    let term = c.node(2).raw.raft().term;
    assert_one_line_decode(c.node(2).raw.step_peer(snap_msg(1, 2, term, 20, 0, voters(&[1, 2, 3]))));
    assert_usable(&mut c);
}

/// A storage whose first or last index answer is out of range.
#[derive(Clone)]
struct BadBounds {
    inner: MemoryStorage,
    first: Option<u64>,
    last: Option<u64>,
}

impl Storage for BadBounds {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        self.inner.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max: u64) -> polyraft::Result<Vec<Entry>> {
        self.inner.entries(lo, hi, max)
    }
    fn term(&self, i: u64) -> polyraft::Result<u64> {
        self.inner.term(i)
    }
    fn first_index(&self) -> polyraft::Result<u64> {
        Ok(self.first.unwrap_or(self.inner.first_index()?))
    }
    fn last_index(&self) -> polyraft::Result<u64> {
        Ok(self.last.unwrap_or(self.inner.last_index()?))
    }
    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        self.inner.snapshot()
    }
}

#[test]
fn storage_answers_out_of_range_are_refused_at_creation() {
    let cases = [(Some(0), Some(0)), (None, Some(u64::MAX)), (Some(5), Some(2))];
    for (first, last) in cases {
        let st = BadBounds { inner: MemoryStorage::new_with_conf_state(voters(&[1])), first, last };
        let r = RawNode::new(&Config { id: 1, ..test_config() }, st);
        match r {
            Err(Error::Storage(s)) => assert!(!s.contains('\n') && s.contains("storage answered"), "{s}"),
            Err(e) => panic!("first {first:?} last {last:?}: wrong error {e:?}"),
            Ok(_) => panic!("first {first:?} last {last:?}: accepted"),
        }
    }
}

#[test]
fn absurd_config_values_are_refused_or_harmless() {
    for t in [usize::MAX, usize::MAX / 2 + 1, 1 << 40] {
        let cfg = Config { id: 1, election_tick: t, ..test_config() };
        match RawNode::new(&cfg, MemoryStorage::new_with_conf_state(voters(&[1]))) {
            Err(Error::InvalidConfig(s)) => assert!(s.contains("election tick"), "{s}"),
            other => panic!("election_tick {t}: {:?}", other.err()),
        }
    }
    // The largest accepted value works, and so does an unbounded window.
    let cfg = Config {
        id: 1,
        election_tick: polyraft::raft::MAX_ELECTION_TICK,
        heartbeat_tick: polyraft::raft::MAX_ELECTION_TICK - 1,
        max_inflight_msgs: usize::MAX,
        max_size_per_msg: u64::MAX,
        max_committed_size_per_ready: u64::MAX,
        max_uncommitted_entries_size: u64::MAX,
        ..test_config()
    };
    let mut c = Cluster::new(3, cfg).unwrap();
    assert!(c.elect(1).unwrap());
    for _ in 0..50 {
        c.propose(1, b"v").unwrap();
        for id in 1..=3 {
            c.node(id).raw.tick();
        }
        c.stabilize().unwrap();
    }
    assert_eq!(c.node(1).raw.basic_status().soft_state.raft_state, StateType::Leader);
}
