//! Tests written to kill cargo-mutants survivors in `core/src/raft.rs`
//! (issue 24) that no conformance script, property or simulator run
//! noticed: the bounds on what a peer's message and a configuration may
//! carry, checked on a single RawNode.

use std::sync::Arc;

use bytes::Bytes;
use polyraft::logger::{Logger, NoopLogger};
use polyraft::raft::{MAX_ELECTION_TICK, MAX_WIRE_VALUE};
use polyraft::raftpb::{ConfState, Entry, Message, MessageType, Snapshot, SnapshotMetadata};
use polyraft::{Config, MemoryStorage, RawNode};

fn config(id: u64) -> Config {
    Config { id, logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>), ..Config::default() }
}

/// Node 1 of voters {1, 2, 3}, fresh.
fn node() -> RawNode<MemoryStorage> {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    RawNode::new(&config(1), s).unwrap()
}

fn from_2(t: MessageType, term: u64) -> Message {
    Message { r#type: t as i32, from: 2, to: 1, term, ..Default::default() }
}

/// A term of exactly MAX_WIRE_VALUE is refused; one below is taken.
#[test]
fn a_term_at_the_wire_limit_is_refused() {
    let mut n = node();
    assert!(n.step(from_2(MessageType::MsgHeartbeat, MAX_WIRE_VALUE)).is_err());
    assert_eq!(n.raft().term, 0);
    n.step(from_2(MessageType::MsgHeartbeat, MAX_WIRE_VALUE - 1)).unwrap();
    assert_eq!(n.raft().term, MAX_WIRE_VALUE - 1);
}

/// An entry whose term is fine but whose index is at the limit makes the
/// whole append refused.
#[test]
fn an_entry_index_at_the_wire_limit_is_refused() {
    let mut n = node();
    let mut m = from_2(MessageType::MsgApp, 1);
    m.entries = vec![Entry { term: 1, index: MAX_WIRE_VALUE, data: Bytes::from_static(b"x"), ..Default::default() }];
    assert!(n.step(m).is_err());
    assert_eq!(n.raft().term, 0, "nothing of the message was taken");
    let mut m = from_2(MessageType::MsgApp, 1);
    m.entries = vec![Entry { term: MAX_WIRE_VALUE, index: 1, data: Bytes::from_static(b"x"), ..Default::default() }];
    assert!(n.step(m).is_err());
}

/// A snapshot whose index is fine but whose term is at the limit is
/// refused, and the other way round.
#[test]
fn a_snapshot_term_at_the_wire_limit_is_refused() {
    for (index, term) in [(10, MAX_WIRE_VALUE), (MAX_WIRE_VALUE, 1)] {
        let mut n = node();
        let mut m = from_2(MessageType::MsgSnap, 1);
        m.snapshot = Some(Box::new(Snapshot {
            metadata: Some(SnapshotMetadata {
                index,
                term,
                conf_state: Some(ConfState { voters: vec![1, 2, 3], ..Default::default() }),
            }),
            ..Default::default()
        }));
        assert!(n.step(m).is_err(), "snapshot ({index}, {term})");
        assert_eq!(n.raft().term, 0);
    }
}

/// The largest election tick is 2^31 - 1: that one is accepted, the next
/// is refused as a configuration error.
#[test]
fn the_election_tick_limit() {
    assert_eq!(MAX_ELECTION_TICK, (1 << 31) - 1);
    let s = || MemoryStorage::new_with_conf_state(ConfState { voters: vec![1], ..Default::default() });
    let mut cfg = config(1);
    cfg.election_tick = MAX_ELECTION_TICK;
    assert!(RawNode::new(&cfg, s()).is_ok());
    cfg.election_tick = MAX_ELECTION_TICK + 1;
    assert!(RawNode::new(&cfg, s()).is_err());
}
