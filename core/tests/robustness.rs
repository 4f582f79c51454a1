//! No message from a peer, however malformed, may panic a node: it is
//! stepped into nodes in every role and must at worst return an error.

use bytes::Bytes;
use polyraft::raftpb::{ConfState, Entry, Message, Snapshot, SnapshotMetadata};
use polyraft::rafttest::cluster::{drain, node_in_role};
use proptest::prelude::*;

fn num() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..6, 0u64..40, Just(u64::MAX), Just(u64::MAX - 1)]
}

fn entry() -> impl Strategy<Value = Entry> {
    (num(), num(), 0i32..4, proptest::collection::vec(any::<u8>(), 0..6))
        .prop_map(|(term, index, t, data)| Entry { term, index, r#type: t, data: Bytes::from(data), ..Default::default() })
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
            })
            .map(Box::new),
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_messages_never_panic(role in 0u8..4, msgs in proptest::collection::vec(message(), 1..8)) {
        let (mut rn, s) = node_in_role(role).unwrap();
        for m in msgs {
            let _ = rn.step(m);
            drain(&mut rn, &s);
            rn.tick();
            let _ = rn.status().to_json();
        }
        // Whatever happened, the API keeps answering.
        let _ = rn.propose(Bytes::from_static(b"x"));
        let _ = rn.basic_status();
    }
}
