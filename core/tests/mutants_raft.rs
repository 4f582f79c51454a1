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

mod common;
use common::FaultyStorage;

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

/// Node `id` of voters {1, 2, 3} with the given timeouts.
fn node_with(id: u64, election_tick: usize, heartbeat_tick: usize) -> RawNode<MemoryStorage> {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    let mut cfg = config(id);
    cfg.election_tick = election_tick;
    cfg.heartbeat_tick = heartbeat_tick;
    RawNode::new(&cfg, s).unwrap()
}

/// The accessors the host reads report the node's state.
#[test]
fn accessors_report_the_node_state() {
    let mut n = node_with(2, 12, 3);
    let r = n.raft();
    assert_eq!((r.id(), r.term(), r.lead(), r.has_leader()), (2, 0, 0, false));
    assert_eq!((r.election_timeout(), r.heartbeat_timeout()), (12, 3));
    let mut hb = from_2(MessageType::MsgHeartbeat, 5);
    hb.from = 3;
    hb.to = 2;
    n.step(hb).unwrap();
    let r = n.raft();
    assert_eq!((r.id(), r.term(), r.lead(), r.has_leader()), (2, 5, 3, true));
}

/// Writes the Ready's entries and hard state to the node's storage and
/// advances; the Ready's messages are dropped.
fn persist(n: &mut RawNode<MemoryStorage>) {
    let rd = n.ready();
    n.store().append(&rd.entries).unwrap();
    if let Some(hs) = rd.hard_state {
        n.store().set_hard_state(hs);
    }
    n.advance().unwrap();
}

/// Campaigns and wins with node 2's vote (its own persisted first); the
/// Readies are persisted.
fn elect(n: &mut RawNode<MemoryStorage>) {
    n.campaign().unwrap();
    persist(n);
    let term = n.raft().term;
    n.step(Message { r#type: MessageType::MsgVoteResp as i32, from: 2, to: 1, term, ..Default::default() }).unwrap();
    assert_eq!(n.raft().state(), polyraft::StateType::Leader);
    persist(n);
}

/// Leader 1 of {1, 2, 3} whose uncommitted tail may hold `max` bytes.
fn budget_leader(max: u64) -> RawNode<MemoryStorage> {
    let mut cfg = config(1);
    cfg.max_uncommitted_entries_size = max;
    let mut n = RawNode::new(&cfg, voters3()).unwrap();
    elect(&mut n);
    n
}

/// Read requests waiting for the leader's first commit, and those waiting
/// for a heartbeat round, are both counted.
#[test]
fn pending_reads_are_counted_in_both_queues() {
    let mut n = node_with(1, 10, 1);
    elect(&mut n);
    // No entry of its term committed yet: the request waits.
    n.read_index(Bytes::from_static(b"a")).unwrap();
    assert_eq!(n.raft().pending_read_count(), 1);
    // Its no-op commits: the request moves to a heartbeat round.
    let last = n.raft().raft_log().last_index();
    let mut ack = from_2(MessageType::MsgAppResp, 1);
    ack.index = last;
    n.step(ack).unwrap();
    assert_eq!(n.raft().raft_log().committed, last);
    assert_eq!(n.raft().pending_read_count(), 1);
    n.read_index(Bytes::from_static(b"b")).unwrap();
    assert_eq!(n.raft().pending_read_count(), 2);
}

/// Seeding the generator makes the randomized election timeouts
/// reproducible.
#[test]
fn a_seeded_node_draws_the_same_election_timeouts() {
    let draws = |seed: u64| {
        let mut n = node_with(1, 10, 1);
        n.raft_mut().seed_rng(seed);
        let mut out = vec![n.raft().randomized_election_timeout()];
        for term in 1..=30 {
            n.step(from_2(MessageType::MsgHeartbeat, term)).unwrap();
            out.push(n.raft().randomized_election_timeout());
        }
        out
    };
    let a = draws(42);
    assert_eq!(a, draws(42));
    assert!(a.iter().all(|t| (10..20).contains(t)), "{a:?}");
}

/// MaxInflightBytes must be at least MaxSizePerMsg (etcd's validate).
#[test]
fn inflight_bytes_must_hold_one_message() {
    let s = || MemoryStorage::new_with_conf_state(ConfState { voters: vec![1], ..Default::default() });
    let mut cfg = config(1);
    cfg.max_size_per_msg = 100;
    for (bytes, ok) in [(99, false), (100, true), (101, true), (0, true)] {
        cfg.max_inflight_bytes = bytes;
        assert_eq!(RawNode::new(&cfg, s()).is_ok(), ok, "max_inflight_bytes {bytes}");
    }
}

/// Entries can be made to answer Compacted while their terms are still
/// readable (FaultyStorage): a compaction running between the two reads.
/// When the entries a probing follower needs turn out compacted, the
/// leader answers its heartbeat with a snapshot (etcd's maybeSendAppend:
/// an append that must be sent falls back to the snapshot).
#[test]
fn entries_compacted_under_a_probe_are_replaced_by_a_snapshot() {
    let inner = MemoryStorage::new();
    inner
        .apply_snapshot(Snapshot {
            metadata: Some(SnapshotMetadata {
                index: 5,
                term: 1,
                conf_state: Some(ConfState { voters: vec![1, 2], ..Default::default() }),
            }),
            ..Default::default()
        })
        .unwrap();
    let store = FaultyStorage::new(inner);
    let mut n = RawNode::new(&config(1), store).unwrap();
    n.campaign().unwrap();
    let persist = |n: &mut RawNode<FaultyStorage>| {
        let rd = n.ready();
        n.store().inner.append(&rd.entries).unwrap();
        if let Some(hs) = rd.hard_state {
            n.store().inner.set_hard_state(hs);
        }
        n.advance().unwrap();
        rd.messages
    };
    persist(&mut n);
    let term = n.raft().term;
    n.step(Message { r#type: MessageType::MsgVoteResp as i32, from: 2, to: 1, term, ..Default::default() }).unwrap();
    assert_eq!(n.raft().state(), polyraft::StateType::Leader);
    persist(&mut n);
    n.store().set(|f| f.entries = Some(polyraft::Error::Compacted));
    n.step(Message { r#type: MessageType::MsgHeartbeatResp as i32, from: 2, to: 1, term, ..Default::default() }).unwrap();
    let sent = persist(&mut n);
    assert!(
        sent.iter().any(|m| m.r#type() == MessageType::MsgSnap && m.to == 2),
        "{:?}",
        sent.iter().map(|m| m.r#type()).collect::<Vec<_>>()
    );
    assert!(n.raft().fatal_error().is_none());
}

/// A vote request of a leadership transfer (MsgVote with the transfer
/// context) is exempt from priorities: a node of higher priority grants it
/// to an equally up-to-date candidate of lower priority, which it refuses
/// in an ordinary election.
#[test]
fn a_transfer_vote_is_exempt_from_priorities() {
    let vote = |context: &'static [u8], t: MessageType| {
        let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
        let mut cfg = config(1);
        cfg.priority = 5;
        let mut n = RawNode::new(&cfg, s).unwrap();
        let mut m = from_2(t, 1);
        m.context = Bytes::from_static(context);
        n.step(m).unwrap();
        let rd = n.ready();
        let resp = rd.messages.iter().find(|m| matches!(m.r#type(), MessageType::MsgVoteResp | MessageType::MsgPreVoteResp)).cloned();
        resp.map(|m| !m.reject)
    };
    assert_eq!(vote(b"CampaignTransfer", MessageType::MsgVote), Some(true), "a transfer's vote is granted");
    assert_eq!(vote(b"", MessageType::MsgVote), Some(false), "an ordinary vote is refused for priority");
    assert_eq!(vote(b"CampaignTransfer", MessageType::MsgPreVote), Some(false), "a pre-vote is never a transfer");
}

/// A fresh node (term 0) that refuses a pre-vote (here for its priority)
/// answers with the request's term: a vote response without a term used to
/// panic the node (etcd panics alike, but reaches that refusal only with a
/// storage that has entries and no term).
#[test]
fn a_fresh_node_refusing_a_pre_vote_answers_instead_of_panicking() {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    let mut cfg = config(1);
    cfg.priority = 5;
    let mut n = RawNode::new(&cfg, s).unwrap();
    n.step(from_2(MessageType::MsgPreVote, 3)).unwrap();
    let rd = n.ready();
    let resp: Vec<&Message> = rd.messages.iter().filter(|m| m.r#type() == MessageType::MsgPreVoteResp).collect();
    assert_eq!(resp.len(), 1);
    assert!(resp[0].reject);
    assert_eq!(resp[0].term, 3);
    assert_eq!(n.raft().term, 0, "a pre-vote changes no term");
}

/// Leader 1 of {1, 2} with batched appends and `max_msg` bytes per
/// message, follower 2 replicating and caught up; no message queued.
fn batching_leader(max_msg: u64) -> RawNode<MemoryStorage> {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2], ..Default::default() });
    let mut cfg = config(1);
    cfg.batch_append = true;
    cfg.max_size_per_msg = max_msg;
    cfg.max_inflight_bytes = 0;
    let mut n = RawNode::new(&cfg, s).unwrap();
    elect(&mut n);
    ack(&mut n);
    persist(&mut n);
    assert_eq!(n.raft().raft_log().committed, n.raft().raft_log().last_index());
    n
}

/// Follower 2 acknowledges the whole log.
fn ack(n: &mut RawNode<MemoryStorage>) {
    let index = n.raft().raft_log().last_index();
    let term = n.raft().term;
    n.step(Message { r#type: MessageType::MsgAppResp as i32, from: 2, to: 1, term, index, ..Default::default() }).unwrap();
}

/// The MsgApps queued for follower 2: their entries' indexes.
fn queued_apps(n: &RawNode<MemoryStorage>) -> Vec<Vec<u64>> {
    n.raft().msgs.iter().filter(|m| m.r#type() == MessageType::MsgApp && m.to == 2).map(|m| m.entries.iter().map(|e| e.index).collect()).collect()
}

fn inflight(n: &RawNode<MemoryStorage>) -> usize {
    n.raft().trk.progress[&2].inflights.count()
}

/// A proposal joining a queued MsgApp that carries entries extends that
/// message's in-flight slot instead of taking a new one.
#[test]
fn a_batched_append_extends_the_queued_messages_inflight_slot() {
    let mut n = batching_leader(1 << 20);
    let last = n.raft().raft_log().last_index();
    n.propose(Bytes::from_static(b"a")).unwrap();
    n.propose(Bytes::from_static(b"b")).unwrap();
    assert_eq!(queued_apps(&n), vec![vec![last + 1, last + 2]]);
    assert_eq!(inflight(&n), 1);
    // The slot ends at the last entry it carries: an ack of the first one
    // does not free it.
    persist(&mut n);
    ack_at(&mut n, 2, last + 1);
    assert_eq!(inflight(&n), 1);
    ack_at(&mut n, 2, last + 2);
    assert_eq!(inflight(&n), 0);
}

/// Entries joining a queued empty MsgApp (one carrying a commit index)
/// take the in-flight slot such a message never had, and may be larger
/// than the size limit: a message of one entry always goes out.
#[test]
fn entries_joining_a_queued_empty_append_take_an_inflight_slot() {
    for payload in [1usize, 4096] {
        let mut n = batching_leader(1024);
        n.propose(Bytes::from_static(b"a")).unwrap();
        persist(&mut n);
        ack(&mut n);
        // The commit moved: an empty MsgApp tells the follower.
        assert_eq!(queued_apps(&n), vec![Vec::<u64>::new()], "payload {payload}");
        assert_eq!(inflight(&n), 0);
        let last = n.raft().raft_log().last_index();
        n.propose(Bytes::from(vec![b'x'; payload])).unwrap();
        assert_eq!(queued_apps(&n), vec![vec![last + 1]], "payload {payload}");
        assert_eq!(inflight(&n), 1, "payload {payload}");
    }
}

/// Entries that fill a queued MsgApp exactly to the size limit join it.
#[test]
fn a_batched_append_may_fill_the_message_exactly() {
    let (a, b) = (Bytes::from(vec![b'a'; 40]), Bytes::from(vec![b'b'; 50]));
    let probe = batching_leader(1 << 20);
    let last = probe.raft().raft_log().last_index();
    let size = |index: u64, data: &Bytes| polyraft::raftpb::entry_size(&Entry { term: 1, index, data: data.clone(), ..Default::default() });
    let max = size(last + 1, &a) + size(last + 2, &b);
    let mut n = batching_leader(max);
    n.propose(a).unwrap();
    n.propose(b.clone()).unwrap();
    assert_eq!(queued_apps(&n), vec![vec![last + 1, last + 2]]);
    // One byte more does not fit: a message of its own.
    n.propose(Bytes::from_static(b"c")).unwrap();
    assert_eq!(queued_apps(&n), vec![vec![last + 1, last + 2], vec![last + 3]]);
}

/// Entries joining a queued empty MsgApp while earlier entries are still
/// in flight take a slot of their own: the empty message had none to
/// extend (the window counts messages, as etcd's Inflights).
#[test]
fn entries_joining_an_empty_append_behind_unacknowledged_ones_take_a_new_slot() {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    let mut cfg = config(1);
    cfg.batch_append = true;
    let mut n = RawNode::new(&cfg, s).unwrap();
    elect(&mut n);
    let ack_from = |n: &mut RawNode<MemoryStorage>, from: u64| {
        let index = n.raft().raft_log().last_index();
        n.step(Message { r#type: MessageType::MsgAppResp as i32, from, to: 1, term: 1, index, ..Default::default() }).unwrap();
    };
    ack_from(&mut n, 2);
    ack_from(&mut n, 3);
    persist(&mut n);
    n.propose(Bytes::from_static(b"a")).unwrap();
    persist(&mut n);
    // Only 3 acknowledges: the commit moves, 2 still has "a" in flight.
    ack_from(&mut n, 3);
    assert_eq!(queued_apps(&n), vec![Vec::<u64>::new()]);
    assert_eq!(inflight(&n), 1);
    let last = n.raft().raft_log().last_index();
    n.propose(Bytes::from_static(b"b")).unwrap();
    assert_eq!(queued_apps(&n), vec![vec![last + 1]]);
    assert_eq!(inflight(&n), 2);
}

/// Leader 1 of {1, 2, 3} over `s`, with 2 and 3 caught up (their acks
/// stepped) and everything persisted and applied.
fn leader3(s: MemoryStorage) -> RawNode<MemoryStorage> {
    leader3_acked_by(s, &[2, 3])
}

/// Leader 1 of {1, 2, 3} over `s`, elected with 2's vote; the peers in
/// `acks` acknowledged its whole log, the others nothing yet.
fn leader3_acked_by(s: MemoryStorage, acks: &[u64]) -> RawNode<MemoryStorage> {
    let mut n = RawNode::new(&config(1), s).unwrap();
    elect(&mut n);
    let last = n.raft().raft_log().last_index();
    for from in acks {
        ack_at(&mut n, *from, last);
    }
    persist(&mut n);
    n
}

fn ack_at(n: &mut RawNode<MemoryStorage>, from: u64, index: u64) {
    let term = n.raft().term;
    n.step(Message { r#type: MessageType::MsgAppResp as i32, from, to: 1, term, index, ..Default::default() }).unwrap();
}

fn progress(n: &RawNode<MemoryStorage>, id: u64) -> &polyraft::tracker::Progress {
    &n.raft().trk.progress[&id]
}

fn voters3() -> MemoryStorage {
    MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() })
}

fn conf_change_entry(node: u64) -> Entry {
    let cc = polyraft::raftpb::ConfChange { r#type: polyraft::raftpb::ConfChangeType::ConfChangeAddNode as i32, node_id: node, ..Default::default() };
    Entry { r#type: polyraft::raftpb::EntryType::EntryConfChange as i32, data: polyraft::raftpb::encode(&cc), ..Default::default() }
}

/// A configuration change proposed second in a batch is pending at its own
/// index: until that index is applied, another change is refused (turned
/// into an empty normal entry), even once the entry before it is applied.
#[test]
fn a_conf_change_later_in_a_batch_stays_pending_until_applied() {
    let mut n = leader3(voters3());
    let last = n.raft().raft_log().last_index();
    let prop = Message {
        r#type: MessageType::MsgProp as i32,
        from: 1,
        to: 1,
        entries: vec![Entry { data: Bytes::from_static(b"x"), ..Default::default() }, conf_change_entry(4)],
        ..Default::default()
    };
    n.step(prop).unwrap();
    persist(&mut n);
    // Only the normal entry commits and is applied.
    ack_at(&mut n, 2, last + 1);
    persist(&mut n);
    assert_eq!(n.raft().raft_log().applied, last + 1);
    n.propose_conf_change(polyraft::raftpb::ConfChange {
        r#type: polyraft::raftpb::ConfChangeType::ConfChangeAddNode as i32,
        node_id: 5,
        ..Default::default()
    })
    .unwrap();
    let rd = n.ready();
    let e = rd.entries.last().unwrap();
    assert_eq!(e.index, last + 3);
    assert_eq!(e.r#type, polyraft::raftpb::EntryType::EntryNormal as i32, "the second change is refused");
    assert!(e.data.is_empty());
}

/// An acknowledgement of exactly the peer's next index, past our last
/// index, is for an entry we never had: it is ignored.
#[test]
fn an_ack_of_the_next_index_beyond_our_log_is_ignored() {
    let mut n = leader3(voters3());
    let last = n.raft().raft_log().last_index();
    assert_eq!(progress(&n, 2).next, last + 1);
    ack_at(&mut n, 2, last + 1);
    assert_eq!(progress(&n, 2).matched, last);
    assert_eq!(n.raft().raft_log().committed, last);
}

/// A rejection without the follower's term at its hint (log_term 0) probes
/// right after the hint, without searching our log by term.
#[test]
fn a_rejection_without_a_term_probes_after_the_hint() {
    let s = voters3();
    s.append(&(1..=5).map(|i| Entry { index: i, term: 1, ..Default::default() }).collect::<Vec<_>>()).unwrap();
    s.set_hard_state(polyraft::raftpb::HardState { term: 1, vote: 0, commit: 0 });
    // Elected at term 2; 3 is probed from index 6 and refuses.
    let mut n = leader3_acked_by(s, &[2]);
    assert_eq!(progress(&n, 3).next, 6);
    let term = n.raft().term;
    let reject = Message { r#type: MessageType::MsgAppResp as i32, from: 3, to: 1, term, index: 5, reject: true, reject_hint: 2, log_term: 0, ..Default::default() };
    n.step(reject).unwrap();
    assert_eq!(progress(&n, 3).next, 3);
}

/// While a peer is probed, a stale acknowledgement (below its match) does
/// not make it replicate again; one of exactly its match does.
#[test]
fn a_stale_ack_does_not_end_a_probe() {
    let mut n = leader3(voters3());
    n.propose(Bytes::from_static(b"x")).unwrap();
    persist(&mut n);
    let last = n.raft().raft_log().last_index();
    ack_at(&mut n, 2, last);
    n.report_unreachable(2);
    assert_eq!(progress(&n, 2).state, polyraft::tracker::ProgressState::Probe);
    ack_at(&mut n, 2, last - 1);
    assert_eq!(progress(&n, 2).state, polyraft::tracker::ProgressState::Probe);
    ack_at(&mut n, 2, last);
    assert_eq!(progress(&n, 2).state, polyraft::tracker::ProgressState::Replicate);
}

/// A peer being sent a snapshot stays in snapshot state when it
/// acknowledges an index still below the log's first index.
#[test]
fn an_ack_below_the_first_index_does_not_end_a_snapshot() {
    let s = MemoryStorage::new();
    s.apply_snapshot(Snapshot {
        metadata: Some(SnapshotMetadata { index: 5, term: 1, conf_state: Some(ConfState { voters: vec![1, 2, 3], ..Default::default() }) }),
        ..Default::default()
    })
    .unwrap();
    let mut n = leader3_acked_by(s, &[2]);
    let term = n.raft().term;
    // 3 has nothing: its refusal sends it the snapshot.
    let reject = Message { r#type: MessageType::MsgAppResp as i32, from: 3, to: 1, term, index: 5, reject: true, reject_hint: 0, log_term: 0, ..Default::default() };
    n.step(reject).unwrap();
    assert_eq!(progress(&n, 3).state, polyraft::tracker::ProgressState::Snapshot);
    assert_eq!(progress(&n, 3).pending_snapshot, 5);
    let snaps = |n: &RawNode<MemoryStorage>| n.raft().msgs.iter().filter(|m| m.r#type() == MessageType::MsgSnap && m.to == 3).count();
    assert_eq!(snaps(&n), 1);
    ack_at(&mut n, 3, 3);
    assert_eq!(progress(&n, 3).state, polyraft::tracker::ProgressState::Snapshot, "index 3 is below the first index, 6");
    assert_eq!(snaps(&n), 1, "the snapshot in flight is not sent again");
    // Caught up to the snapshot: replicating from the log again (through
    // probe, as etcd).
    ack_at(&mut n, 3, 5);
    assert_eq!(progress(&n, 3).state, polyraft::tracker::ProgressState::Replicate);
}

/// Node 1 of {1, 2, 3}, following leader 2 at term 1.
fn follower_of_2() -> RawNode<MemoryStorage> {
    let mut n = node();
    n.step(from_2(MessageType::MsgHeartbeat, 1)).unwrap();
    assert_eq!(n.raft().lead, 2);
    let _ = n.ready();
    n.advance().unwrap();
    n
}

fn sent(n: &RawNode<MemoryStorage>, t: MessageType) -> Vec<&Message> {
    n.raft().msgs.iter().filter(|m| m.r#type() == t).collect()
}

/// A follower forwards a transfer request to its leader; without a leader
/// it drops it.
#[test]
fn a_follower_forwards_a_transfer_to_its_leader() {
    let mut n = follower_of_2();
    n.transfer_leader(3);
    let fwd = sent(&n, MessageType::MsgTransferLeader);
    assert_eq!(fwd.len(), 1);
    assert_eq!((fwd[0].to, fwd[0].from), (2, 3));
    let mut n = node();
    n.transfer_leader(3);
    assert!(sent(&n, MessageType::MsgTransferLeader).is_empty());
}

/// Requests forwarded on behalf of peers are limited per tick; a node's
/// own are not.
#[test]
fn only_requests_forwarded_for_peers_are_limited() {
    let budget = polyraft::raft::FORWARD_BUDGET_PER_TICK;
    let mut n = follower_of_2();
    for _ in 0..budget + 50 {
        n.transfer_leader(3);
        n.read_index(Bytes::from_static(b"r")).unwrap();
    }
    assert_eq!(sent(&n, MessageType::MsgTransferLeader).len(), budget + 50, "own transfers");
    assert_eq!(sent(&n, MessageType::MsgReadIndex).len(), budget + 50, "own reads");
    let mut n = follower_of_2();
    for _ in 0..budget + 50 {
        let mut t = from_2(MessageType::MsgTransferLeader, 1);
        t.from = 3;
        n.step(t).unwrap();
        let mut r = from_2(MessageType::MsgReadIndex, 0);
        r.from = 3;
        r.entries = vec![Entry { data: Bytes::from_static(b"r"), ..Default::default() }];
        n.step(r).unwrap();
    }
    let forwarded = sent(&n, MessageType::MsgTransferLeader).len() + sent(&n, MessageType::MsgReadIndex).len();
    assert_eq!(forwarded, budget, "peers' requests share one budget per tick");
}

/// A candidate refuses proposals: there is no leader to take them.
#[test]
fn a_candidate_refuses_proposals() {
    let mut n = node();
    n.campaign().unwrap();
    assert_eq!(n.raft().state(), polyraft::StateType::Candidate);
    assert_eq!(n.propose(Bytes::from_static(b"x")), Err(polyraft::Error::ProposalDropped));
}

/// A follower with a committed configuration change it has not applied
/// does not campaign (its configuration may be stale), also when the
/// change is the last committed entry.
#[test]
fn no_campaign_with_an_unapplied_conf_change() {
    let mut n = node();
    let mut app = from_2(MessageType::MsgApp, 1);
    let mut cc = conf_change_entry(4);
    (cc.index, cc.term) = (2, 1);
    app.entries = vec![Entry { index: 1, term: 1, ..Default::default() }, cc];
    app.commit = 2;
    n.step(app).unwrap();
    assert_eq!((n.raft().raft_log().committed, n.raft().raft_log().applied), (2, 0));
    n.campaign().unwrap();
    assert_eq!(n.raft().state(), polyraft::StateType::Follower);
    // Without the change, it would.
    let mut n = node();
    let mut app = from_2(MessageType::MsgApp, 1);
    app.entries = vec![Entry { index: 1, term: 1, ..Default::default() }];
    app.commit = 1;
    n.step(app).unwrap();
    n.campaign().unwrap();
    assert_eq!(n.raft().state(), polyraft::StateType::Candidate);
}

/// A transfer that does not finish within an election timeout is abandoned.
#[test]
fn an_unfinished_transfer_is_abandoned_after_an_election_timeout() {
    let s = voters3();
    let mut n = leader3_acked_by(s, &[2]);
    n.transfer_leader(3);
    assert_eq!(n.raft().lead_transferee, 3);
    assert_eq!(n.propose(Bytes::from_static(b"x")), Err(polyraft::Error::ProposalDropped), "proposals wait for the transfer");
    for _ in 0..n.raft().election_timeout() {
        n.tick();
    }
    assert_eq!(n.raft().lead_transferee, 0);
    assert_eq!(n.raft().state(), polyraft::StateType::Leader);
    n.propose(Bytes::from_static(b"x")).unwrap();
}

/// The transferee gets MsgTimeoutNow once it has acknowledged the whole
/// log, not before.
#[test]
fn the_transferee_is_told_to_campaign_once_caught_up() {
    let s = voters3();
    let mut n = leader3_acked_by(s, &[2]);
    for _ in 0..3 {
        n.propose(Bytes::from_static(b"x")).unwrap();
    }
    persist(&mut n);
    let last = n.raft().raft_log().last_index();
    n.transfer_leader(3);
    ack_at(&mut n, 3, last - 1);
    assert!(sent(&n, MessageType::MsgTimeoutNow).is_empty());
    ack_at(&mut n, 3, last);
    assert_eq!(sent(&n, MessageType::MsgTimeoutNow).len(), 1);
}

/// A transfer to another node replaces the one in progress; a repeated
/// request for the same node is ignored.
#[test]
fn a_new_transfer_replaces_the_one_in_progress() {
    let mut n = leader3_acked_by(voters3(), &[]);
    n.transfer_leader(3);
    assert_eq!(n.raft().lead_transferee, 3);
    n.transfer_leader(3);
    assert_eq!(n.raft().lead_transferee, 3);
    n.transfer_leader(2);
    assert_eq!(n.raft().lead_transferee, 2);
}

/// A campaign started by the leader's MsgTimeoutNow (a transfer) marks its
/// vote requests, so that voters still in the old leader's lease take them.
#[test]
fn a_transfer_campaign_marks_its_vote_requests() {
    let mut n = follower_of_2();
    n.step(from_2(MessageType::MsgTimeoutNow, 1)).unwrap();
    let votes = sent(&n, MessageType::MsgVote);
    assert_eq!(votes.len(), 2);
    assert!(votes.iter().all(|m| m.context.as_ref() == b"CampaignTransfer"), "{votes:?}");
    let mut n = node();
    n.campaign().unwrap();
    assert!(sent(&n, MessageType::MsgVote).iter().all(|m| m.context.is_empty()));
}

/// A follower that heard from its leader within the election timeout
/// ignores a vote request of a higher term (check-quorum lease); at the
/// timeout exactly, the lease is over.
#[test]
fn the_lease_ends_at_the_election_timeout() {
    for (ticks, granted) in [(9, false), (10, true)] {
        let s = voters3();
        let mut cfg = config(1);
        cfg.check_quorum = true;
        cfg.election_tick = 10;
        let mut n = RawNode::new(&cfg, s).unwrap();
        n.step(from_2(MessageType::MsgHeartbeat, 1)).unwrap();
        n.raft_mut().set_randomized_election_timeout(19);
        for _ in 0..ticks {
            n.tick();
        }
        assert_eq!(n.raft().election_elapsed(), ticks);
        let mut vote = from_2(MessageType::MsgVote, 2);
        vote.from = 3;
        n.step(vote).unwrap();
        assert_eq!(n.raft().term, if granted { 2 } else { 1 }, "after {ticks} ticks");
        assert_eq!(n.raft().vote, if granted { 3 } else { 0 }, "after {ticks} ticks");
    }
}

fn change(t: polyraft::raftpb::ConfChangeType, node: u64) -> polyraft::raftpb::ConfChange {
    polyraft::raftpb::ConfChange { r#type: t as i32, node_id: node, ..Default::default() }
}

/// A transfer to a node that the configuration removes is abandoned;
/// another change leaves it going.
#[test]
fn a_transfer_to_a_removed_node_is_abandoned() {
    use polyraft::raftpb::ConfChangeType::{ConfChangeAddNode, ConfChangeRemoveNode};
    let mut n = leader3_acked_by(voters3(), &[2]);
    n.transfer_leader(3);
    assert_eq!(n.raft().lead_transferee, 3);
    n.apply_conf_change(change(ConfChangeAddNode, 4)).unwrap();
    assert_eq!(n.raft().lead_transferee, 3);
    n.apply_conf_change(change(ConfChangeRemoveNode, 3)).unwrap();
    assert_eq!(n.raft().lead_transferee, 0);
}

/// A stored commit index beyond the stored log is refused at start.
#[test]
fn a_stored_commit_beyond_the_log_is_refused() {
    for commit in [3, 4] {
        let s = voters3();
        s.append(&(1..=3).map(|i| Entry { index: i, term: 1, ..Default::default() }).collect::<Vec<_>>()).unwrap();
        s.set_hard_state(polyraft::raftpb::HardState { term: 1, vote: 0, commit });
        assert_eq!(RawNode::new(&config(1), s).is_ok(), commit == 3, "commit {commit}");
    }
}

/// Proposals may fill the uncommitted-size budget exactly; one byte more is
/// refused.
#[test]
fn proposals_may_fill_the_uncommitted_budget_exactly() {
    let mut n = budget_leader(10);
    n.propose(Bytes::from_static(b"aaaa")).unwrap();
    n.propose(Bytes::from_static(b"bbbbbb")).unwrap();
    assert_eq!(n.propose(Bytes::from_static(b"c")), Err(polyraft::Error::ProposalDropped));
}

/// A leader's message claiming to come from no node, or from the node
/// itself, is refused with an error that says which.
#[test]
fn a_forged_sender_is_named_in_the_error() {
    let mut n = node();
    let mut m = from_2(MessageType::MsgApp, 1);
    m.from = 0;
    let e = n.step(m).unwrap_err().to_string();
    assert!(e.contains("no node"), "{e}");
    let mut m = from_2(MessageType::MsgApp, 1);
    m.from = 1;
    let e = n.step(m).unwrap_err().to_string();
    assert!(e.contains("the node itself"), "{e}");
}

/// An empty entry (a new term's, or leaving a joint configuration) is never
/// refused for the uncommitted-size budget, even when one large proposal
/// has taken the tail past it.
#[test]
fn an_empty_entry_passes_an_exceeded_uncommitted_budget() {
    let mut n = budget_leader(10);
    n.propose(Bytes::from(vec![b'x'; 20])).unwrap();
    assert_eq!(n.propose(Bytes::from_static(b"y")), Err(polyraft::Error::ProposalDropped));
    n.propose(Bytes::new()).unwrap();
}

/// An acknowledgement far beyond our log is ignored too.
#[test]
fn an_ack_far_beyond_our_log_is_ignored() {
    let mut n = leader3(voters3());
    let last = n.raft().raft_log().last_index();
    ack_at(&mut n, 2, last + 100);
    assert_eq!(progress(&n, 2).matched, last);
    assert_eq!(n.raft().raft_log().committed, last);
    assert!(n.raft().fatal_error().is_none());
}
