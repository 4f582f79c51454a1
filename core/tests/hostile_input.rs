//! Regression tests for malformed input that once disabled a node: each
//! peer message below is refused with a one-line error and the node stays
//! usable; broken storage answers and absurd configurations are refused at
//! creation, with the same error in debug and release builds.

use polyraft::raftpb::{ConfState, Entry, Message, MessageType, Snapshot, SnapshotMetadata};
use polyraft::rafttest::cluster::{test_config, Cluster};
use polyraft::{Config, Error, MemoryStorage, RawNode, StateType};

mod common;
use common::FaultyStorage;

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

#[test]
fn storage_answers_out_of_range_are_refused_at_creation() {
    let cases = [(Some(0), Some(0)), (None, Some(u64::MAX)), (Some(5), Some(2))];
    for (first, last) in cases {
        // A storage whose first or last index answer is out of range.
        let st = FaultyStorage::new(MemoryStorage::new_with_conf_state(voters(&[1])));
        st.set(|f| (f.first_index, f.last_index) = (first.map(Ok), last.map(Ok)));
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

fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message { r#type: t as i32, from, to, term, ..Default::default() }
}

#[test]
fn forged_storage_responses_are_refused_and_the_node_stays_usable() {
    let cfg = Config { id: 1, async_storage_writes: true, ..test_config() };
    let mut rn = RawNode::new(&cfg, MemoryStorage::new_with_conf_state(voters(&[1]))).unwrap();
    let mut apply = msg(MessageType::MsgStorageApplyResp, polyraft::LOCAL_APPLY_THREAD, 1, 0);
    apply.entries = vec![Entry { index: 1000, term: 1, ..Default::default() }];
    assert!(matches!(rn.step(apply), Err(Error::InvalidState(_))));
    let mut append = msg(MessageType::MsgStorageAppendResp, polyraft::LOCAL_APPEND_THREAD, 1, 0);
    append.snapshot = Some(Box::new(Snapshot {
        metadata: Some(SnapshotMetadata { conf_state: Some(voters(&[1])), index: 50, term: 1 }),
        ..Default::default()
    }));
    assert!(matches!(rn.step(append), Err(Error::InvalidState(_))));
    rn.tick();
    assert!(rn.raft().fatal_error().is_none());
    rn.campaign().unwrap();
}

#[test]
fn peer_messages_no_sender_could_send_are_refused() {
    let mut c = cluster();
    let term = c.node(2).raw.raft().term;
    let last = c.node(2).raw.raft().raft_log.last_index();
    let mut cases = vec![
        // A leader's messages claiming to come from the node itself, from
        // no node, or from a storage thread.
        msg(MessageType::MsgHeartbeat, 2, 2, term),
        msg(MessageType::MsgApp, 0, 2, term),
        msg(MessageType::MsgHeartbeat, polyraft::LOCAL_APPEND_THREAD, 2, term),
        // Messages a node always sends with its term, without one.
        msg(MessageType::MsgApp, 1, 2, 0),
        msg(MessageType::MsgHeartbeat, 1, 2, 0),
        msg(MessageType::MsgSnap, 1, 2, 0),
        // A term too large to ever campaign after.
        msg(MessageType::MsgHeartbeat, 1, 2, u64::MAX - 1),
    ];
    // A heartbeat committing beyond our log.
    let mut hb = msg(MessageType::MsgHeartbeat, 1, 2, term);
    hb.commit = last + 5;
    cases.push(hb);
    // An append contradicting our committed entry.
    let committed = c.node(2).raw.raft().raft_log.committed;
    let mut app = msg(MessageType::MsgApp, 1, 2, term);
    app.index = committed;
    app.log_term = term + 1;
    cases.push(app);
    for m in cases {
        let desc = polyraft::describe::describe_message(&m, None);
        let before = (c.node(2).raw.raft().term, c.node(2).raw.raft().lead(), c.node(2).raw.raft().raft_log.last_index());
        let r = c.node(2).raw.step_peer(m);
        assert!(matches!(r, Err(Error::Decode(_)) | Err(Error::StepLocalMsg)), "{desc}: {r:?}");
        let after = (c.node(2).raw.raft().term, c.node(2).raw.raft().lead(), c.node(2).raw.raft().raft_log.last_index());
        assert_eq!(before, after, "{desc} changed the node");
    }
    assert_usable(&mut c);
}

#[test]
fn requests_bounced_between_followers_are_bounded_per_tick() {
    // Two followers that each take the other for the leader (forged
    // leadership) would bounce a proposal forever; the forwarding budget
    // ends it within the tick.
    let mut c = Cluster::new(3, test_config()).unwrap();
    // Node 2 follows 3 and node 3 follows 2, at different terms.
    let mut hb = msg(MessageType::MsgHeartbeat, 3, 2, 5);
    c.node(2).raw.step_peer(hb.clone()).unwrap();
    hb = msg(MessageType::MsgHeartbeat, 2, 3, 7);
    c.node(3).raw.step_peer(hb).unwrap();
    // Drop the heartbeat answers, which would tell each about the other.
    for id in 2..=3 {
        c.process_ready(id).unwrap();
    }
    c.queue.clear();
    c.propose(2, b"bounced").unwrap();
    let mut deliveries = 0;
    for _ in 0..10_000 {
        for id in 1..=3 {
            c.process_ready(id).unwrap();
        }
        let n = c.deliver(|m| m.r#type() == MessageType::MsgProp);
        if n == 0 {
            break;
        }
        deliveries += n;
    }
    // The loop did happen (each node forwarded its whole budget), and ended.
    let budget = polyraft::raft::FORWARD_BUDGET_PER_TICK;
    assert!(deliveries >= budget && deliveries <= 2 * budget + 2, "{deliveries} forwards");
}

#[test]
fn a_follower_denying_its_match_gets_a_bounded_number_of_probes() {
    use polyraft::tracker::{Inflights, Progress, StateType as PS, MAX_DENIALS_PER_HEARTBEAT};
    let mut pr = Progress::new(8, Inflights::new(16, 0));
    pr.matched = 7;
    assert_eq!(pr.state, PS::Probe);
    // Stale duplicate rejections: each gets the probe again, as in etcd...
    for _ in 0..MAX_DENIALS_PER_HEARTBEAT {
        assert!(pr.maybe_decr_to(7, 6));
        assert_eq!((pr.matched, pr.next), (7, 8));
    }
    // ...up to the bound (a forged acknowledgement would loop forever).
    assert!(!pr.maybe_decr_to(7, 6));
    // The next heartbeat interval starts a new budget.
    pr.sent_heartbeat();
    assert!(pr.maybe_decr_to(7, 6));
}
