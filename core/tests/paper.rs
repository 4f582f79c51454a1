//! Sentences of the Raft paper (Ongaro & Ousterhout, "In Search of an
//! Understandable Consensus Algorithm"), each checked against polyraft.

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, Message, MessageType};
use polyraft::rafttest::cluster::{msg, test_config, Cluster};
use polyraft::{Config, MemoryStorage, RawNode, StateType};

fn state(c: &mut Cluster, id: u64) -> StateType {
    c.node(id).raw.basic_status().soft_state.raft_state
}

fn term(c: &mut Cluster, id: u64) -> u64 {
    c.node(id).raw.basic_status().hard_state.term
}

fn ent(index: u64, term: u64) -> Entry {
    Entry { index, term, data: Bytes::from_static(b"d"), ..Default::default() }
}

/// A node over storage already holding `ents` (as if persisted earlier).
fn node_with_log(id: u64, ents: &[Entry], hs_term: u64) -> RawNode<MemoryStorage> {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    s.append(ents).unwrap();
    s.set_hard_state(HardState { term: hs_term, vote: 0, commit: 0 });
    RawNode::new(&Config { id, ..test_config() }, s).unwrap()
}

/// §5.1: "If a server receives a request with a stale term number, it
/// rejects the request" and "if one server's current term is smaller than
/// the other's, then it updates its current term to the larger value. If a
/// candidate or leader discovers that its term is out of date, it
/// immediately reverts to follower state."
#[test]
fn term_update_for_every_role() {
    for role in [StateType::Follower, StateType::Candidate, StateType::Leader] {
        let mut c = Cluster::new(3, test_config()).unwrap();
        match role {
            StateType::Candidate => c.node(1).raw.campaign().unwrap(),
            StateType::Leader => assert!(c.elect(1).unwrap()),
            _ => {}
        }
        assert_eq!(state(&mut c, 1), role);
        let t = term(&mut c, 1);
        c.node(1).raw.step(msg(MessageType::MsgHeartbeat, 2, 1, t + 5)).unwrap();
        assert_eq!(term(&mut c, 1), t + 5, "{role:?} adopts the larger term");
        assert_eq!(state(&mut c, 1), StateType::Follower, "{role:?} reverts to follower");
    }
}

#[test]
fn stale_terms_are_rejected() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    assert!(c.elect(2).unwrap());
    let t = term(&mut c, 2);
    // The deposed leader's append at its old term changes nothing on 2.
    let mut app = msg(MessageType::MsgApp, 1, 2, t - 1);
    app.entries = vec![ent(100, t - 1)];
    app.index = 99;
    c.node(2).raw.step(app).unwrap();
    assert_eq!(state(&mut c, 2), StateType::Leader);
    assert_eq!(term(&mut c, 2), t);
}

/// §5.2: "A candidate wins an election if it receives votes from a majority
/// of the servers in the full cluster for the same term."
#[test]
fn election_in_one_round() {
    for n in [1u64, 3, 5, 7] {
        let mut c = Cluster::new(n, test_config()).unwrap();
        assert!(c.elect(1).unwrap(), "{n} nodes");
        assert_eq!(term(&mut c, 1), 1, "won in the first round with {n} nodes");
    }
    // A minority of votes is not enough.
    let mut c = Cluster::new(5, test_config()).unwrap();
    c.node(1).raw.campaign().unwrap();
    c.stabilize_with(|m| m.r#type() != MessageType::MsgVoteResp || m.from == 2).unwrap();
    assert_eq!(state(&mut c, 1), StateType::Candidate);
}

/// §5.2: "election timeouts are chosen randomly from a fixed interval".
#[test]
fn randomized_election_timeouts() {
    let mut seen = std::collections::BTreeSet::new();
    for id in 1..=50u64 {
        let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1], ..Default::default() });
        let mut rn = RawNode::new(&Config { id: 1, ..test_config() }, s).unwrap();
        rn.raft_mut().seed_rng(id);
        rn.raft_mut().become_follower(1, 0);
        let t = rn.raft().randomized_election_timeout();
        assert!((10..20).contains(&t), "timeout {t} within [et, 2et)");
        seen.insert(t);
    }
    assert!(seen.len() > 3, "timeouts vary: {seen:?}");
}

/// §5.3: "Each follower checks the previous index and term in an
/// AppendEntries; if it does not find an entry with the same index and
/// term, it refuses the new entries."
#[test]
fn followers_check_msg_app() {
    let mut f = node_with_log(2, &[ent(1, 1), ent(2, 2)], 2);
    for (log_term, index, reject) in [(2, 2, false), (1, 2, true), (3, 3, true), (1, 1, false)] {
        let mut m = msg(MessageType::MsgApp, 1, 2, 3);
        m.log_term = log_term;
        m.index = index;
        f.step(m).unwrap();
        let rd = f.ready();
        let resp = rd.messages.iter().find(|m| m.r#type() == MessageType::MsgAppResp).unwrap();
        assert_eq!(resp.reject, reject, "prev {log_term}/{index}");
        f.advance().unwrap();
    }
}

/// §5.3: "the leader handles inconsistencies by forcing the followers' logs
/// to duplicate its own": conflicting entries are overwritten.
#[test]
fn leader_syncs_follower_logs() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    // 1 writes entries that only it has; then 2 becomes leader and writes
    // its own; 1's extra entries must be replaced.
    for _ in 0..3 {
        c.propose(1, b"lost").unwrap();
    }
    c.stabilize_with(|m| m.from != 1 || m.r#type() != MessageType::MsgApp).unwrap();
    assert!(c.elect(2).unwrap());
    c.propose(2, b"kept").unwrap();
    c.stabilize().unwrap();
    let l2 = c.node(2).raw.raft().raft_log.all_entries();
    let l1 = c.node(1).raw.raft().raft_log.all_entries();
    assert_eq!(l1, l2, "follower log equals the leader's");
    assert!(l1.iter().all(|e| e.data.as_ref() != b"lost"));
}

/// §5.4.1: "the voter denies its vote if its own log is more up-to-date
/// than that of the candidate."
#[test]
fn voter_restriction() {
    let mut v = node_with_log(2, &[ent(1, 1), ent(2, 2)], 2);
    for (log_term, index, granted) in [(2, 2, true), (2, 1, false), (1, 5, false), (3, 1, true)] {
        let mut v2 = node_with_log(2, &[ent(1, 1), ent(2, 2)], 2);
        let mut m = msg(MessageType::MsgVote, 1, 2, 3);
        m.log_term = log_term;
        m.index = index;
        v2.step(m).unwrap();
        let rd = v2.ready();
        let resp = rd.messages.iter().find(|m| m.r#type() == MessageType::MsgVoteResp);
        // The vote response waits for persistence: it shows up after advance.
        let granted_now = match resp {
            Some(r) => !r.reject,
            None => {
                v2.advance().unwrap();
                let rd = v2.ready();
                rd.messages.iter().any(|m| m.r#type() == MessageType::MsgVoteResp && !m.reject)
            }
        };
        assert_eq!(granted_now, granted, "candidate log {log_term}/{index}");
    }
    let _ = v.ready();
}

/// §5.4.2 / Figure 8: "Raft never commits log entries from previous terms
/// by counting replicas. Only log entries from the leader's current term are
/// committed by counting replicas; once an entry from the current term has
/// been committed, all prior entries are committed indirectly."
#[test]
fn figure_8_only_current_term_entries_commit_by_counting() {
    let mut c = Cluster::new(5, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    let t1 = term(&mut c, 1);
    let base = c.node(1).raw.basic_status().hard_state.commit;
    // The leader replicates an entry to 2 only, then loses leadership.
    c.propose(1, b"old").unwrap();
    c.stabilize_with(|m| !(m.r#type() == MessageType::MsgApp && m.from == 1 && m.to != 2)).unwrap();
    // 1 wins again in a later term with votes from 2 and 3 but its new
    // term's entries are not replicated yet; the old-term entry reaches 3.
    c.node(1).raw.step(msg(MessageType::MsgHeartbeat, 5, 1, t1 + 1)).unwrap();
    c.queue.clear();
    c.node(1).raw.campaign().unwrap();
    c.stabilize_with(|m| {
        !(m.from == 1 && m.r#type() == MessageType::MsgApp && m.to != 3) && !(m.to == 4 || m.to == 5 || m.from == 4 || m.from == 5)
    })
    .unwrap();
    let t2 = term(&mut c, 1);
    assert!(t2 > t1);
    let old_index = base + 1;
    let old_term = c.node(1).raw.raft().raft_log.term(old_index).unwrap();
    assert_eq!(old_term, t1, "the old entry is from the earlier term");
    // Whatever the leader committed, it committed only with a current-term
    // entry at or after the old one on a majority.
    let commit = c.node(1).raw.basic_status().hard_state.commit;
    if commit >= old_index {
        let committed_term = c.node(1).raw.raft().raft_log.term(commit).unwrap();
        assert_eq!(committed_term, t2, "commit index {commit} points at a current-term entry");
    }
    // And the leader's own new-term entry commits everything before it
    // (dropped appends are retried after a heartbeat).
    for _ in 0..3 {
        c.node(1).raw.tick();
        c.stabilize().unwrap();
    }
    let commit = c.node(1).raw.basic_status().hard_state.commit;
    assert!(commit > old_index, "commit {commit} old {old_index} status {:?}", c.node(1).raw.basic_status());
    assert_eq!(c.node(1).raw.raft().raft_log.term(commit).unwrap(), t2);
}

/// Figure 8 at the unit level: a leader whose match indexes put a
/// previous-term entry on a majority must not advance commit to it.
#[test]
fn previous_term_entry_on_majority_is_not_committed() {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    s.append(&[ent(1, 1), ent(2, 1)]).unwrap();
    s.set_hard_state(HardState { term: 1, vote: 1, commit: 0 });
    let mut rn = RawNode::new(&Config { id: 1, ..test_config() }, s.clone()).unwrap();
    rn.campaign().unwrap();
    let drain = |rn: &mut RawNode<MemoryStorage>| {
        while rn.has_ready() {
            let rd = rn.ready();
            s.append(&rd.entries).unwrap();
            if let Some(hs) = rd.hard_state {
                s.set_hard_state(hs);
            }
            rn.advance().unwrap();
        }
    };
    drain(&mut rn);
    rn.step(Message { r#type: MessageType::MsgVoteResp as i32, from: 2, to: 1, term: 2, ..Default::default() }).unwrap();
    drain(&mut rn);
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Leader);
    // Follower 2 acknowledges index 2 (a term-1 entry): with the leader that
    // is a majority for index 2, but index 2 is from term 1.
    let mut ack = msg(MessageType::MsgAppResp, 2, 1, 2);
    ack.index = 2;
    rn.step(ack).unwrap();
    assert_eq!(rn.raft().raft_log.committed, 0, "no commit of a previous-term entry by counting");
    // Acknowledging the leader's empty entry of term 2 (index 3) commits all.
    let mut ack = msg(MessageType::MsgAppResp, 2, 1, 2);
    ack.index = 3;
    rn.step(ack).unwrap();
    assert_eq!(rn.raft().raft_log.committed, 3);
}
