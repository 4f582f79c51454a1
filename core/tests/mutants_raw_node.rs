//! Tests written for cargo-mutants (issue 24) on `core/src/raw_node.rs`:
//! a node stopped by a storage failure answers every later call with that
//! failure, before any other check of the call's arguments.
#![cfg(feature = "rafttest")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use polyraft::raftpb::{ConfState, Entry, HardState, Message, MessageType, Snapshot};
use polyraft::rafttest::cluster::test_config;
use polyraft::{Config, Error, MemoryStorage, Peer, RawNode, Storage};

/// A MemoryStorage whose `last_index` fails once `broken` is set: the
/// failure raft cannot work around (it poisons the node).
#[derive(Clone)]
struct BreakableStorage {
    inner: MemoryStorage,
    broken: Arc<AtomicBool>,
}

impl Storage for BreakableStorage {
    fn initial_state(&self) -> polyraft::Result<(HardState, ConfState)> {
        self.inner.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max_size: u64) -> polyraft::Result<Vec<Entry>> {
        self.inner.entries(lo, hi, max_size)
    }
    fn term(&self, i: u64) -> polyraft::Result<u64> {
        self.inner.term(i)
    }
    fn last_index(&self) -> polyraft::Result<u64> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(Error::Storage("disk gone".into()));
        }
        self.inner.last_index()
    }
    fn first_index(&self) -> polyraft::Result<u64> {
        self.inner.first_index()
    }
    fn snapshot(&self) -> polyraft::Result<Snapshot> {
        self.inner.snapshot()
    }
}

/// A single-voter node (id 1) over a storage that fails from its first
/// campaign on; returns the node, poisoned, and the failure it reported.
fn poisoned_node(cfg: Config) -> (RawNode<BreakableStorage>, Error) {
    let storage = BreakableStorage {
        inner: MemoryStorage::new_with_conf_state(ConfState { voters: vec![1], ..Default::default() }),
        broken: Arc::new(AtomicBool::new(false)),
    };
    let mut rn = RawNode::new(&Config { id: 1, ..cfg }, storage.clone()).unwrap();
    storage.broken.store(true, Ordering::SeqCst);
    let fatal = rn.campaign().expect_err("a campaign reading a failing storage must fail");
    assert!(matches!(fatal, Error::Fatal(_)), "{fatal:?}");
    assert!(fatal.to_string().contains("disk gone"), "{fatal}");
    assert_eq!(rn.raft().fatal_error(), Some(&fatal));
    (rn, fatal)
}

fn assert_fatal(what: &str, r: polyraft::Result<impl std::fmt::Debug>, fatal: &Error) {
    match r {
        Err(e) => assert_eq!(&e, fatal, "{what}: another error than the node's failure"),
        Ok(v) => panic!("{what}: a poisoned node answered {v:?}"),
    }
}

/// Every call reports the failure first: a message the node would refuse
/// for another reason (an unknown type, a local type from a peer), a
/// bootstrap (whose storage check would fail differently), and advance.
#[test]
fn a_poisoned_node_answers_every_call_with_its_failure() {
    let (mut rn, fatal) = poisoned_node(test_config());
    assert_fatal(
        "step of an unknown type",
        rn.step(Message { r#type: 9_999, from: 2, to: 1, term: 1, ..Default::default() }),
        &fatal,
    );
    assert_fatal(
        "step of a local type from a peer",
        rn.step(Message { r#type: MessageType::MsgHup as i32, from: 2, to: 1, ..Default::default() }),
        &fatal,
    );
    assert_fatal(
        "step_peer of a local type",
        rn.step_peer(Message { r#type: MessageType::MsgBeat as i32, from: 2, to: 1, ..Default::default() }),
        &fatal,
    );
    assert_fatal("bootstrap", rn.bootstrap(&[Peer { id: 1, context: Default::default() }]), &fatal);
    assert_fatal("propose", rn.propose(bytes::Bytes::from_static(b"x")), &fatal);
    assert_fatal("advance", rn.advance(), &fatal);
    assert!(!rn.has_ready(), "a poisoned node has nothing to do");
}

/// With async storage writes, `advance` is a misuse; on a poisoned node
/// the failure still comes first.
#[test]
fn a_poisoned_node_reports_its_failure_before_a_misused_advance() {
    let (mut rn, fatal) = poisoned_node(Config { async_storage_writes: true, ..test_config() });
    assert_fatal("advance", rn.advance(), &fatal);
}
