//! `RawNode::tick_quiesced` (etcd's TickQuiesced): the election timer
//! counts the tick, and nothing else happens: no heartbeat, no election,
//! no CheckQuorum step-down.

use std::sync::Arc;

use polyraft::logger::{Logger, NoopLogger};
use polyraft::raftpb::{ConfState, HardState, Message, MessageType};
use polyraft::{Config, MemoryStorage, RawNode, StateType, Storage};

fn config(id: u64) -> Config {
    Config {
        id,
        election_tick: 10,
        heartbeat_tick: 1,
        check_quorum: true,
        logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>),
        ..Config::default()
    }
}

fn node(id: u64, voters: &[u64]) -> RawNode<MemoryStorage> {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: voters.to_vec(), ..Default::default() });
    RawNode::new(&config(id), s).unwrap()
}

/// Persists and applies every pending Ready; returns the messages to send.
fn drain(rn: &mut RawNode<MemoryStorage>) -> Vec<Message> {
    let mut out = Vec::new();
    while rn.has_ready() {
        let rd = rn.ready();
        let s = rn.store().clone();
        if let Some(hs) = rd.hard_state {
            s.set_hard_state(hs);
        }
        s.append(&rd.entries).unwrap();
        out.extend(rd.messages);
        rn.advance().unwrap();
    }
    out
}

#[test]
fn follower_counts_quiesced_ticks_but_never_campaigns_on_them() {
    let mut rn = node(1, &[1, 2, 3]);
    drain(&mut rn);
    for k in 1..=100 {
        rn.tick_quiesced();
        assert_eq!(rn.raft().election_elapsed(), k);
    }
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Follower);
    assert!(!rn.has_ready(), "a quiesced tick produced work");
    assert_eq!(rn.basic_status().hard_state, HardState::default());

    // The quiesced ticks are past any randomized election timeout
    // (< 2 * election_tick), so the first ordinary tick campaigns.
    rn.tick();
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Candidate);
    let votes = drain(&mut rn);
    assert_eq!(votes.iter().filter(|m| m.r#type() == MessageType::MsgVote).count(), 2);
}

/// Node 1 as the leader of voters {1, 2}, its Readies drained.
fn leader() -> RawNode<MemoryStorage> {
    let mut rn = node(1, &[1, 2]);
    rn.campaign().unwrap();
    let term = rn.basic_status().hard_state.term;
    drain(&mut rn);
    rn.step(Message { r#type: MessageType::MsgVoteResp as i32, from: 2, to: 1, term, ..Default::default() })
        .unwrap();
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Leader);
    drain(&mut rn);
    rn
}

#[test]
fn leader_sends_no_heartbeat_on_quiesced_ticks() {
    let mut rn = leader();
    // heartbeat_tick is 1: every ordinary tick would send one.
    for _ in 0..5 {
        rn.tick_quiesced();
    }
    assert!(!rn.has_ready(), "a quiesced tick produced work");
    rn.tick();
    let msgs = drain(&mut rn);
    assert!(msgs.iter().any(|m| m.r#type() == MessageType::MsgHeartbeat && m.to == 2), "{msgs:?}");
}

#[test]
fn leader_runs_no_quorum_check_on_quiesced_ticks_but_counts_them() {
    let mut rn = leader();
    // Far beyond the election timeout, and peer 2 never answers: an
    // ordinary tick would have run CheckQuorum rounds and stepped down.
    for _ in 0..50 {
        rn.tick_quiesced();
    }
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Leader);
    assert!(!rn.has_ready(), "a quiesced tick produced work");
    assert_eq!(rn.raft().election_elapsed(), 50);

    // The next ordinary tick finds the election timeout (counted by the
    // quiesced ticks) elapsed: the quorum check runs, and with peer 2
    // silent since the election the leader steps down.
    rn.tick();
    assert_eq!(rn.raft().election_elapsed(), 0);
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Follower);
}

#[test]
fn storage_reads_through_a_shared_reference() {
    // `Storage for &T`: a node can borrow a storage that outlives it.
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1], ..Default::default() });
    let mut rn = RawNode::new(&config(1), &s).unwrap();
    rn.campaign().unwrap();
    // The self-vote counts once persisted (etcd v3.6+), then the leader
    // appends its empty entry.
    while rn.has_ready() {
        let rd = rn.ready();
        s.append(&rd.entries).unwrap();
        rn.advance().unwrap();
    }
    assert_eq!(rn.basic_status().soft_state.raft_state, StateType::Leader);
    assert_eq!(s.last_index(), Ok(1));
}
