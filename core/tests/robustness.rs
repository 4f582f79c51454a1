//! No message from a peer, however malformed, may panic a node: it is
//! stepped into nodes in every role and must at worst return an error.

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, HardState, Message, Snapshot, SnapshotMetadata};
use polyraft::{Config, MemoryStorage, RawNode};
use proptest::prelude::*;

fn drain(rn: &mut RawNode<MemoryStorage>, s: &MemoryStorage) {
    for _ in 0..16 {
        if !rn.has_ready() {
            return;
        }
        let rd = rn.ready();
        if let Some(snap) = rd.snapshot.clone() {
            let _ = s.apply_snapshot(snap);
        }
        let _ = s.append(&rd.entries);
        if let Some(hs) = rd.hard_state {
            s.set_hard_state(hs);
        }
        if rn.advance().is_err() {
            return;
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

fn node(role: Role) -> (RawNode<MemoryStorage>, MemoryStorage) {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], learners: vec![4], ..Default::default() });
    let cfg = Config {
        id: 1,
        pre_vote: matches!(role, Role::PreCandidate),
        check_quorum: true,
        logger: Some(std::sync::Arc::new(polyraft::logger::NoopLogger)),
        ..Config::default()
    };
    let mut rn = RawNode::new(&cfg, s.clone()).unwrap();
    match role {
        Role::Follower => {
            let hb = Message { r#type: 8, from: 2, to: 1, term: 1, ..Default::default() };
            rn.step(hb).unwrap();
        }
        Role::PreCandidate | Role::Candidate => rn.campaign().unwrap(),
        Role::Leader => {
            rn.campaign().unwrap();
            drain(&mut rn, &s);
            rn.step(Message { r#type: 6, from: 2, to: 1, term: 1, ..Default::default() }).unwrap();
            assert_eq!(rn.basic_status().soft_state.raft_state, polyraft::StateType::Leader);
        }
    }
    drain(&mut rn, &s);
    (rn, s)
}

fn num() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..6, 0u64..40, Just(u64::MAX), Just(u64::MAX - 1)]
}

fn entry() -> impl Strategy<Value = Entry> {
    (num(), num(), 0i32..4, proptest::collection::vec(any::<u8>(), 0..6))
        .prop_map(|(term, index, t, data)| Entry { term, index, r#type: t, data: Bytes::from(data) })
}

fn message() -> impl Strategy<Value = Message> {
    (
        (0i32..26, prop_oneof![0u64..6, Just(u64::MAX)], num(), num(), num(), num()),
        (proptest::collection::vec(entry(), 0..4), any::<bool>(), num(), proptest::collection::vec(any::<u8>(), 0..10)),
        proptest::option::of((num(), num(), proptest::collection::vec(0u64..6, 0..4))),
    )
        .prop_map(|((t, from, term, log_term, index, commit), (entries, reject, hint, ctx), snap)| Message {
            r#type: t,
            from,
            to: 1,
            term,
            log_term,
            index,
            commit,
            entries,
            reject,
            reject_hint: hint,
            context: Bytes::from(ctx),
            snapshot: snap.map(|(i, t, voters)| Snapshot {
                data: Bytes::new(),
                metadata: Some(SnapshotMetadata {
                    index: i,
                    term: t,
                    conf_state: Some(ConfState { voters, ..Default::default() }),
                }),
            }),
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_messages_never_panic(role in 0usize..4, msgs in proptest::collection::vec(message(), 1..8)) {
        let role = [Role::Follower, Role::PreCandidate, Role::Candidate, Role::Leader][role];
        let (mut rn, s) = node(role);
        for m in msgs {
            let _ = rn.step(m);
            drain(&mut rn, &s);
            rn.tick();
            let _ = rn.status().to_json();
        }
        // Whatever happened, the API keeps answering.
        let _ = rn.propose(Bytes::from_static(b"x"));
        let _ = rn.basic_status();
        let _ = HardState::default();
    }
}
