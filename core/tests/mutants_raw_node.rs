//! Tests written for cargo-mutants (issue 24) on `core/src/raw_node.rs`:
//! a node stopped by a storage failure answers every later call with that
//! failure, before any other check of the call's arguments; a follower's
//! own proposals, batches and encoded configuration changes reach the log.
#![cfg(feature = "rafttest")]


use bytes::Bytes;
use polyraft::raftpb::{ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType};
use polyraft::rafttest::cluster::{test_config, Cluster};
use polyraft::raft::FORWARD_BUDGET_PER_TICK;
use polyraft::tracker::ProgressState;
use polyraft::{Config, Error, MemoryStorage, Peer, RawNode, SnapshotStatus, StateType, Storage, LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD};
use prost::Message as _;

mod common;
use common::FaultyStorage;

/// A single-voter node (id 1) over a storage that fails from its first
/// campaign on; returns the node, poisoned, and the failure it reported.
fn poisoned_node(cfg: Config) -> (RawNode<FaultyStorage>, Error) {
    let storage = FaultyStorage::new(MemoryStorage::new_with_conf_state(ConfState { voters: vec![1], ..Default::default() }));
    let mut rn = RawNode::new(&Config { id: 1, ..cfg }, storage.clone()).unwrap();
    // From now on `last_index` fails: the failure raft cannot work around
    // (it poisons the node).
    storage.set(|f| f.last_index = Some(Err(Error::Storage("disk gone".into()))));
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
    assert_fatal("propose", rn.propose(Bytes::from_static(b"x")), &fatal);
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

/// The normal entries node `id` applied, as byte strings.
fn applied_data(c: &mut Cluster, id: u64) -> Vec<Vec<u8>> {
    c.node(id)
        .applied
        .iter()
        .filter(|e| e.r#type() == EntryType::EntryNormal && !e.data.is_empty())
        .map(|e| e.data.to_vec())
        .collect()
}

/// A follower's own proposals are not requests forwarded for peers: more
/// of them in one tick than the per-tick forwarding budget all reach the
/// leader, each MsgProp naming the follower, and commit in order. Single
/// proposals and batches alike.
#[test]
fn a_followers_own_proposals_are_not_bounded_by_the_forwarding_budget() {
    let n = FORWARD_BUDGET_PER_TICK + 2;
    for batched in [false, true] {
        let mut c = Cluster::new(3, test_config()).unwrap();
        assert!(c.elect(1).unwrap());
        let term = c.node(2).raw.basic_status().hard_state.term;
        let mut want = Vec::new();
        for i in 0..n {
            let (a, b) = (format!("p{i}a").into_bytes(), format!("p{i}b").into_bytes());
            let r = if batched {
                want.extend([a.clone(), b.clone()]);
                c.node(2).raw.propose_batch(&[Bytes::from(a), Bytes::from(b)])
            } else {
                want.push(a.clone());
                c.node(2).raw.propose(Bytes::from(a))
            };
            r.unwrap_or_else(|e| panic!("proposal {i} of the follower itself (batched: {batched}): {e}"));
        }
        let rd = c.node(2).raw.ready();
        let props: Vec<&Message> = rd.messages.iter().filter(|m| m.r#type() == MessageType::MsgProp).collect();
        assert_eq!(props.len(), n, "batched: {batched}");
        // A forwarded proposal carries no term (etcd's send leaves MsgProp
        // local); its sender is the follower.
        assert!(props.iter().all(|m| m.from == 2 && m.to == 1 && m.term == 0), "batched: {batched}");
        c.queue.extend(rd.messages);
        c.node(2).raw.advance().unwrap();
        c.stabilize().unwrap();
        for id in 1..=3 {
            assert_eq!(applied_data(&mut c, id), want, "node {id}, batched: {batched}");
            assert_eq!(c.node(id).raw.basic_status().hard_state.term, term, "node {id}: a proposal started an election");
        }
    }
}

/// On the leader, a batch is one append: its entries are consecutive, in
/// the order given, with their data; an empty batch is refused.
#[test]
fn a_batch_is_appended_in_order_and_commits() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    let last = c.node(1).raw.raft().raft_log.last_index();
    c.node(1).raw.propose_batch(&[Bytes::from_static(b"x"), Bytes::from_static(b"y"), Bytes::from_static(b"z")]).unwrap();
    assert_eq!(c.node(1).raw.raft().raft_log.last_index(), last + 3);
    assert!(matches!(c.node(1).raw.propose_batch(&[]), Err(Error::InvalidState(_))));
    c.stabilize().unwrap();
    for id in 1..=3 {
        assert_eq!(applied_data(&mut c, id), vec![b"x".to_vec(), b"y".to_vec(), b"z".to_vec()], "node {id}");
    }
}

/// An encoded configuration change is proposed verbatim (its entry type
/// and bytes), commits, and is applied; bytes that do not decode and a
/// normal entry type are refused without proposing anything.
#[test]
fn an_encoded_conf_change_is_proposed_verbatim() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    let cc = ConfChange { r#type: ConfChangeType::ConfChangeAddLearnerNode as i32, node_id: 4, ..Default::default() };
    let data = Bytes::from(cc.encode_to_vec());
    let last = c.node(1).raw.raft().raft_log.last_index();
    assert!(c.node(1).raw.propose_conf_change_encoded(EntryType::EntryNormal, data.clone()).is_err());
    assert!(c.node(1).raw.propose_conf_change_encoded(EntryType::EntryConfChange, Bytes::from_static(b"\xff\xff")).is_err());
    assert_eq!(c.node(1).raw.raft().raft_log.last_index(), last, "a refused change was proposed");
    c.node(1).raw.propose_conf_change_encoded(EntryType::EntryConfChange, data.clone()).unwrap();
    c.stabilize().unwrap();
    for id in 1..=3 {
        let e = c.node(id).applied.iter().find(|e| e.r#type() == EntryType::EntryConfChange && e.index > last).cloned();
        let e = e.unwrap_or_else(|| panic!("node {id} applied no conf change"));
        assert_eq!(e.data, data, "node {id}: the bytes were not kept verbatim");
        assert_eq!(c.node(id).conf_state.learners, vec![4], "node {id}");
    }
}

/// Three nodes with async storage writes, driven by hand: each node's
/// storage messages are carried out here (append: persist, then deliver
/// the responses; apply: record the entries, then deliver the responses),
/// except that node 1's appends can be held back.
struct AsyncNet {
    nodes: Vec<(RawNode<MemoryStorage>, MemoryStorage)>,
    applied: Vec<Vec<Entry>>,
    queue: Vec<Message>,
    held: Vec<Message>,
}

impl AsyncNet {
    fn new() -> Self {
        let cs = ConfState { voters: vec![1, 2, 3], ..Default::default() };
        let nodes = (1..=3)
            .map(|id| {
                let s = MemoryStorage::new_with_conf_state(cs.clone());
                let cfg = Config { id, async_storage_writes: true, ..test_config() };
                (RawNode::new(&cfg, s.clone()).unwrap(), s)
            })
            .collect();
        AsyncNet { nodes, applied: vec![Vec::new(); 3], queue: Vec::new(), held: Vec::new() }
    }

    fn persist(&mut self, id: u64, m: Message) {
        let s = &self.nodes[(id - 1) as usize].1;
        if let Some(snap) = m.snapshot {
            s.apply_snapshot(*snap).unwrap();
        }
        s.append(&m.entries).unwrap();
        if m.term != 0 {
            s.set_hard_state(HardState { term: m.term, vote: m.vote, commit: m.commit });
        }
        self.queue.extend(m.responses);
    }

    /// Runs Readies and delivers messages until nothing moves; node 1's
    /// appends go to `held` when `hold` is set.
    fn pump(&mut self, hold: bool) {
        loop {
            let mut moved = false;
            for id in 1..=3u64 {
                let rn = &mut self.nodes[(id - 1) as usize].0;
                if !rn.has_ready() {
                    continue;
                }
                moved = true;
                for m in rn.ready().messages {
                    match m.to {
                        LOCAL_APPEND_THREAD if hold && id == 1 => self.held.push(m),
                        LOCAL_APPEND_THREAD => self.persist(id, m),
                        LOCAL_APPLY_THREAD => {
                            self.applied[(id - 1) as usize].extend(m.entries.iter().cloned());
                            self.queue.extend(m.responses);
                        }
                        _ => self.queue.push(m),
                    }
                }
            }
            for m in std::mem::take(&mut self.queue) {
                moved = true;
                let _ = self.nodes[(m.to - 1) as usize].0.step(m);
            }
            if !moved {
                return;
            }
        }
    }

    fn applied_data(&self, id: u64) -> Vec<&[u8]> {
        self.applied[(id - 1) as usize].iter().filter(|e| !e.data.is_empty()).map(|e| &e.data[..]).collect()
    }
}

/// etcd's applyUnstableEntries: with async storage writes, an entry that
/// a quorum of followers acknowledged commits on the leader before its own
/// write completes, but the leader hands it out for applying only once that
/// write is done (an application must not apply what its own log may not
/// hold after a crash).
#[test]
fn with_async_writes_a_committed_entry_is_applied_only_once_stable() {
    let mut net = AsyncNet::new();
    net.nodes[0].0.campaign().unwrap();
    net.pump(false);
    assert_eq!(net.nodes[0].0.basic_status().soft_state.raft_state, StateType::Leader);
    net.nodes[0].0.propose(Bytes::from_static(b"x")).unwrap();
    let index = net.nodes[0].0.raft().raft_log.last_index();
    net.pump(true);
    assert!(!net.held.is_empty(), "the leader's append was not held");
    assert!(net.nodes[0].0.raft().raft_log.committed >= index, "the followers' acks commit the entry");
    assert_eq!(net.applied_data(2), vec![b"x"], "a follower applies it");
    assert!(net.applied_data(1).is_empty(), "the leader applied an entry its own log does not hold yet");
    for m in std::mem::take(&mut net.held) {
        net.persist(1, m);
    }
    net.pump(false);
    assert_eq!(net.applied_data(1), vec![b"x"], "once written, the leader applies it");
    // Every HardState change went to storage, a commit index learnt
    // without new entries (the followers') included.
    for (id, (rn, s)) in (1..).zip(&net.nodes) {
        assert_eq!(s.hard_state(), rn.basic_status().hard_state, "node {id}'s persisted HardState");
        assert!(s.hard_state().commit >= index, "node {id}");
    }
}

/// etcd's node loop: a peeked Ready is what `ready` would return, peeking
/// again returns it again, and once accepted it is handed out no more
/// (its messages are not resent, its entries not persisted twice).
#[test]
fn a_peeked_ready_is_handed_out_once_accepted() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.propose(1, b"x").unwrap();
    let rn = &mut c.node(1).raw;
    let peeked = rn.peek_ready();
    assert_eq!(peeked.entries.iter().map(|e| &e.data[..]).collect::<Vec<_>>(), vec![b"x"]);
    let apps: Vec<u64> =
        peeked.messages.iter().filter(|m| m.r#type() == MessageType::MsgApp).map(|m| m.to).collect();
    assert_eq!(apps, vec![2, 3], "the proposal goes to both followers");
    assert_eq!(rn.peek_ready(), peeked, "a second peek sees the same Ready");
    assert!(rn.has_ready());
    rn.accept_peeked(&peeked);
    assert!(!rn.has_ready(), "an accepted Ready is not pending any more");
    let storage = c.node(1).storage.clone();
    storage.append(&peeked.entries).unwrap();
    if let Some(hs) = peeked.hard_state {
        storage.set_hard_state(hs);
    }
    c.queue.extend(peeked.messages);
    c.node(1).raw.advance().unwrap();
    c.stabilize().unwrap();
    for id in 1..=3 {
        assert_eq!(applied_data(&mut c, id), vec![b"x".to_vec()], "node {id}");
    }
}

/// with_progress visits every peer the leader tracks, in ascending id
/// order, with its progress (after a committed proposal every follower
/// matches the leader's last index).
#[test]
fn with_progress_visits_every_peer_in_order() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.propose(1, b"x").unwrap();
    c.stabilize().unwrap();
    let last = c.node(1).raw.raft().raft_log.last_index();
    let mut seen = Vec::new();
    c.node(1).raw.with_progress(|id, pr| seen.push((id, pr.matched)));
    assert_eq!(seen, vec![(1, last), (2, last), (3, last)]);
}

/// report_unreachable sends a replicating follower back to probing (etcd:
/// MsgUnreachable), so that the leader stops streaming appends into a
/// broken connection; other followers keep replicating.
#[test]
fn an_unreachable_follower_is_probed_again() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.propose(1, b"x").unwrap();
    c.stabilize().unwrap();
    let states = |c: &mut Cluster| {
        let mut v = Vec::new();
        c.node(1).raw.with_progress(|id, pr| v.push((id, pr.state)));
        v
    };
    assert_eq!(states(&mut c)[1..], [(2, ProgressState::Replicate), (3, ProgressState::Replicate)]);
    c.node(1).raw.report_unreachable(2);
    assert_eq!(states(&mut c)[1..], [(2, ProgressState::Probe), (3, ProgressState::Replicate)]);
}

/// store() is the storage the node reads its log from.
#[test]
fn store_is_the_nodes_storage() {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.propose(1, b"x").unwrap();
    c.stabilize().unwrap();
    let last = c.node(1).storage.last_index().unwrap();
    assert!(last >= 2);
    assert_eq!(c.node(1).raw.store().last_index().unwrap(), last);
    assert_eq!(c.node(1).raw.store().term(last).unwrap(), c.node(1).storage.term(last).unwrap());
}

/// report_snapshot: after a finished snapshot the leader probes from just
/// past it; after a failed one it forgets the snapshot and probes from the
/// follower's match index (etcd's MsgSnapStatus with reject).
#[test]
fn a_snapshot_report_says_where_probing_resumes() {
    for (status, from_snapshot) in [(SnapshotStatus::Finish, true), (SnapshotStatus::Failure, false)] {
        let mut c = Cluster::new(3, test_config()).unwrap();
        assert!(c.elect(1).unwrap());
        c.propose(1, b"x").unwrap();
        c.stabilize().unwrap();
        let matched = c.node(1).raw.raft().trk.progress[&3].matched;
        let snap_index = matched + 10;
        c.node(1).raw.raft_mut().trk.progress.get_mut(&3).unwrap().become_snapshot(snap_index);
        c.node(1).raw.report_snapshot(3, status);
        let pr = &c.node(1).raw.raft().trk.progress[&3];
        assert_eq!(pr.state, ProgressState::Probe, "{status:?}");
        let next = if from_snapshot { snap_index + 1 } else { matched + 1 };
        assert_eq!(pr.next, next, "{status:?}");
    }
}

/// A configuration change holding a change type or transition this version
/// does not know is refused when proposed, on the leader and on a follower
/// (which would otherwise forward it and report success), and nothing
/// enters the log or goes out.
#[test]
fn a_conf_change_of_unknown_values_is_refused_when_proposed() {
    use polyraft::raftpb::{ConfChangeSingle, ConfChangeV2};
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    let last = c.node(1).raw.raft().raft_log.last_index();
    for id in [1, 2] {
        let v1 = ConfChange { r#type: 99, node_id: 4, ..Default::default() };
        assert!(matches!(c.node(id).raw.propose_conf_change(v1), Err(Error::ConfChange(_))), "node {id}");
        let v2_type = ConfChangeV2 { changes: vec![ConfChangeSingle { r#type: 99, node_id: 4 }], ..Default::default() };
        assert!(matches!(c.node(id).raw.propose_conf_change(v2_type), Err(Error::ConfChange(_))), "node {id}");
        let v2_transition = ConfChangeV2 { transition: 7, ..Default::default() };
        assert!(matches!(c.node(id).raw.propose_conf_change(v2_transition), Err(Error::ConfChange(_))), "node {id}");
        assert!(!c.node(id).raw.has_ready(), "node {id}: a refused change produced work");
    }
    c.stabilize().unwrap();
    assert_eq!(c.node(1).raw.raft().raft_log.last_index(), last, "a refused change entered the log");
}
