//! Tests written to kill cargo-mutants survivors in `core/src/raft.rs`
//! (issue 24): the answers to pre-votes, checked on a single RawNode fed
//! messages by hand, with etcd raft v3.7's behaviour as the reference.

use std::sync::Arc;

use bytes::Bytes;
use polyraft::logger::{Logger, NoopLogger};
use polyraft::raftpb::{ConfState, Entry, HardState, Message, MessageType};
use polyraft::{Config, MemoryStorage, RawNode};

fn ent(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: Bytes::from_static(b"x"),
        ..Default::default()
    }
}

/// Node 1 of voters {1, 2, 3}, restarted at `term` (no vote) with entries
/// 1 and 2 of term 1 in its storage.
fn node(term: u64, check_quorum: bool) -> RawNode<MemoryStorage> {
    let s = MemoryStorage::new_with_conf_state(ConfState {
        voters: vec![1, 2, 3],
        ..Default::default()
    });
    s.append(&[ent(1, 1), ent(2, 1)]).unwrap();
    s.set_hard_state(HardState {
        term,
        vote: 0,
        commit: 0,
    });
    let cfg = Config {
        id: 1,
        pre_vote: true,
        check_quorum,
        logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>),
        ..Config::default()
    };
    RawNode::new(&cfg, s).unwrap()
}

/// A (pre-)vote request from `from` at `term` for a log ending at
/// (`log_term`, `index`).
fn request(t: MessageType, from: u64, term: u64, log_term: u64, index: u64) -> Message {
    Message {
        r#type: t as i32,
        from,
        to: 1,
        term,
        log_term,
        index,
        ..Default::default()
    }
}

/// Steps `m`, then drains the Ready and returns the messages of type `t`.
fn answers(n: &mut RawNode<MemoryStorage>, m: Message, t: MessageType) -> Vec<Message> {
    n.step(m).unwrap();
    let mut out = Vec::new();
    while n.has_ready() {
        let rd = n.ready();
        out.extend(rd.messages.iter().filter(|m| m.r#type() == t).cloned());
        n.advance().unwrap();
    }
    out
}

/// The one MsgPreVoteResp to `to`: (term, reject).
fn pre_vote_resp(n: &mut RawNode<MemoryStorage>, m: Message) -> (u64, bool) {
    let to = m.from;
    let rs = answers(n, m, MessageType::MsgPreVoteResp);
    assert_eq!(rs.len(), 1, "expected one MsgPreVoteResp, got {rs:?}");
    assert_eq!(rs[0].to, to);
    (rs[0].term, rs[0].reject)
}

fn hard_state(n: &RawNode<MemoryStorage>) -> (u64, u64) {
    let hs = n.basic_status().hard_state;
    (hs.term, hs.vote)
}

/// etcd: a pre-vote of a lower term is answered (not dropped) with a
/// rejection at our term, so that the pre-candidate learns it cannot win.
#[test]
fn lower_term_pre_vote_is_rejected_at_our_term() {
    let mut n = node(5, false);
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 3, 1, 2)),
        (5, true)
    );
    assert_eq!(hard_state(&n), (5, 0));
}

/// A pre-vote at our own term while we follow a leader: neither a repeat
/// of our vote, nor a free vote, nor a future term; rejected.
#[test]
fn same_term_pre_vote_is_rejected_when_we_know_a_leader() {
    let mut n = node(2, false);
    // Node 3 is the leader of term 2.
    answers(
        &mut n,
        Message {
            r#type: MessageType::MsgHeartbeat as i32,
            from: 3,
            to: 1,
            term: 2,
            ..Default::default()
        },
        MessageType::MsgHeartbeatResp,
    );
    assert_eq!(n.basic_status().soft_state.lead, 3);
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 2, 1, 2)),
        (2, true)
    );
}

/// A pre-vote at our own term after we voted for someone else: rejected.
#[test]
fn same_term_pre_vote_is_rejected_after_voting_for_another() {
    let mut n = node(2, false);
    let granted = answers(
        &mut n,
        request(MessageType::MsgVote, 3, 2, 1, 2),
        MessageType::MsgVoteResp,
    );
    assert_eq!(granted.len(), 1);
    assert!(!granted[0].reject);
    assert_eq!(hard_state(&n), (2, 3));
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 2, 1, 2)),
        (2, true)
    );
    // The voter itself may repeat its request.
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 3, 2, 1, 2)),
        (2, false)
    );
}

/// A pre-vote at our own term with no vote cast and no leader known: the
/// free vote applies, granted at the message's term, and nothing persists.
#[test]
fn same_term_pre_vote_is_granted_without_vote_or_leader() {
    let mut n = node(2, false);
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 2, 1, 2)),
        (2, false)
    );
    assert_eq!(hard_state(&n), (2, 0));
}

/// A pre-vote for a future term from an up-to-date log is granted even
/// though we follow a leader (without check-quorum there is no lease), at
/// the message's term, and changes neither our term nor our vote.
#[test]
fn higher_term_pre_vote_is_granted_despite_a_leader() {
    let mut n = node(2, false);
    answers(
        &mut n,
        Message {
            r#type: MessageType::MsgHeartbeat as i32,
            from: 3,
            to: 1,
            term: 2,
            ..Default::default()
        },
        MessageType::MsgHeartbeatResp,
    );
    assert_eq!(n.basic_status().soft_state.lead, 3);
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 3, 1, 2)),
        (3, false)
    );
    assert_eq!(hard_state(&n), (2, 0));
    assert_eq!(n.basic_status().soft_state.lead, 3);
}

/// A pre-vote for a future term after we voted for another at our term:
/// granted too (the vote binds only our own term).
#[test]
fn higher_term_pre_vote_is_granted_after_voting_for_another() {
    let mut n = node(2, false);
    answers(
        &mut n,
        request(MessageType::MsgVote, 3, 2, 1, 2),
        MessageType::MsgVoteResp,
    );
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 3, 1, 2)),
        (3, false)
    );
    assert_eq!(hard_state(&n), (2, 3));
}

/// A pre-vote for a future term from a log behind ours is rejected, at our
/// term: the up-to-date check applies to pre-votes as to votes.
#[test]
fn higher_term_pre_vote_from_a_stale_log_is_rejected() {
    let mut n = node(2, false);
    assert_eq!(
        pre_vote_resp(&mut n, request(MessageType::MsgPreVote, 2, 3, 1, 1)),
        (2, true)
    );
    assert_eq!(hard_state(&n), (2, 0));
}

/// With check-quorum, a follower that heard from its leader within the
/// election timeout ignores a future-term pre-vote (the leader lease).
#[test]
fn higher_term_pre_vote_is_ignored_within_the_leader_lease() {
    let mut n = node(2, true);
    answers(
        &mut n,
        Message {
            r#type: MessageType::MsgHeartbeat as i32,
            from: 3,
            to: 1,
            term: 2,
            ..Default::default()
        },
        MessageType::MsgHeartbeatResp,
    );
    let rs = answers(
        &mut n,
        request(MessageType::MsgPreVote, 2, 3, 1, 2),
        MessageType::MsgPreVoteResp,
    );
    assert!(rs.is_empty(), "{rs:?}");
    assert_eq!(hard_state(&n), (2, 0));
}
