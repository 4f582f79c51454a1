//! Tests written for cargo-mutants (issue 24): linearizable reads
//! (ReadIndex, ReadOnlySafe) through the Raft state machine. etcd's
//! conformance scripts have no ReadIndex scenario, so these check the
//! rules directly: a read is answered only after a quorum acknowledged a
//! heartbeat sent after the read arrived, at the leader's commit index.
#![cfg(feature = "rafttest")]

use bytes::Bytes;
use polyraft::raftpb::{Message, MessageType};
use polyraft::rafttest::cluster::{test_config, Cluster};
use polyraft::ReadState;

/// One Ready cycle of `id` (if any), returning the read states it carried.
fn cycle(c: &mut Cluster, id: u64) -> Vec<ReadState> {
    let m = c.node(id);
    if !m.raw.has_ready() {
        return Vec::new();
    }
    let rd = m.raw.ready();
    m.storage.append(&rd.entries).unwrap();
    if let Some(hs) = rd.hard_state {
        m.storage.set_hard_state(hs);
    }
    m.applied.extend(rd.committed_entries.iter().cloned());
    let rs = rd.read_states.clone();
    let msgs = rd.messages;
    m.raw.advance().unwrap();
    c.queue.extend(msgs);
    rs
}

/// Runs Ready cycles and delivers the messages `keep` accepts until nothing
/// moves; returns the read states of each node (index 0 for node 1).
fn settle(c: &mut Cluster, mut keep: impl FnMut(&Message) -> bool) -> Vec<Vec<ReadState>> {
    let mut out = vec![Vec::new(); 3];
    loop {
        let mut moved = false;
        for id in 1..=3 {
            let rs = cycle(c, id);
            moved |= c.node(id).raw.has_ready() || !rs.is_empty();
            out[(id - 1) as usize].extend(rs);
        }
        for id in 1..=3 {
            while c.node(id).raw.has_ready() {
                let rs = cycle(c, id);
                out[(id - 1) as usize].extend(rs);
                moved = true;
            }
        }
        moved |= c.deliver(&mut keep) > 0;
        if !moved {
            return out;
        }
    }
}

/// A cluster of three with node 1 leading and its first entry committed.
fn cluster() -> Cluster {
    let mut c = Cluster::new(3, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.stabilize().unwrap();
    c
}

fn commit(c: &mut Cluster, id: u64) -> u64 {
    c.node(id).raw.basic_status().hard_state.commit
}

fn is_heartbeat_resp(m: &Message) -> bool {
    m.r#type() == MessageType::MsgHeartbeatResp
}

#[test]
fn leader_answers_a_read_after_a_quorum_acknowledges_its_heartbeat() {
    let mut c = cluster();
    let committed = commit(&mut c, 1);
    assert!(committed > 0);
    c.node(1).raw.read_index(Bytes::from_static(b"r1")).unwrap();
    // The leader alone is not a quorum: with every heartbeat response
    // dropped, the read stays pending.
    let out = settle(&mut c, |m| !is_heartbeat_resp(m));
    assert!(
        out[0].is_empty(),
        "read answered without a quorum: {:?}",
        out[0]
    );
    // The next heartbeat round carries the read's context again; one
    // follower's answer makes a quorum of two.
    for _ in 0..c.template.heartbeat_tick {
        c.node(1).raw.tick();
    }
    let out = settle(&mut c, |m| !(is_heartbeat_resp(m) && m.from == 3));
    assert_eq!(
        out[0],
        vec![ReadState {
            index: committed,
            request_ctx: Bytes::from_static(b"r1")
        }]
    );
}

#[test]
fn heartbeat_responses_without_the_read_context_confirm_nothing() {
    let mut c = cluster();
    c.node(1).raw.read_index(Bytes::from_static(b"r1")).unwrap();
    // Strip the context from the responses: they are acknowledgements of
    // an ordinary heartbeat, not of the read.
    let mut out = vec![Vec::new(); 3];
    for _ in 0..5 {
        for id in 1..=3 {
            let rs = cycle(&mut c, id);
            out[(id - 1) as usize].extend(rs);
        }
        for m in c.queue.iter_mut() {
            if is_heartbeat_resp(m) {
                m.context = Bytes::new();
            }
        }
        c.deliver(|_| true);
    }
    assert!(out[0].is_empty(), "{:?}", out[0]);
}

#[test]
fn follower_read_is_forwarded_and_answered_at_the_leaders_commit_index() {
    let mut c = cluster();
    let committed = commit(&mut c, 1);
    c.node(2).raw.read_index(Bytes::from_static(b"f")).unwrap();
    let out = settle(&mut c, |_| true);
    assert!(
        out[0].is_empty(),
        "the leader keeps no read state for a forwarded read"
    );
    assert_eq!(
        out[1],
        vec![ReadState {
            index: committed,
            request_ctx: Bytes::from_static(b"f")
        }]
    );
    assert!(out[2].is_empty());
}

#[test]
fn reads_are_answered_in_order_each_at_its_own_commit_index() {
    let mut c = cluster();
    let first = commit(&mut c, 1);
    c.node(1).raw.read_index(Bytes::from_static(b"a")).unwrap();
    // The read is pending (responses dropped) while a new entry commits.
    let out = settle(&mut c, |m| !is_heartbeat_resp(m));
    assert!(out[0].is_empty());
    c.propose(1, b"x").unwrap();
    let out = settle(&mut c, |m| !is_heartbeat_resp(m));
    assert!(out[0].is_empty());
    let second = commit(&mut c, 1);
    assert!(second > first);
    c.node(1).raw.read_index(Bytes::from_static(b"b")).unwrap();
    let out = settle(&mut c, |_| true);
    assert_eq!(
        out[0],
        vec![
            ReadState {
                index: first,
                request_ctx: Bytes::from_static(b"a")
            },
            ReadState {
                index: second,
                request_ctx: Bytes::from_static(b"b")
            },
        ]
    );
}

/// A single voter confirms a read by itself, at once.
#[test]
fn single_voter_answers_a_read_at_once() {
    let mut c = Cluster::new(1, test_config()).unwrap();
    assert!(c.elect(1).unwrap());
    c.stabilize().unwrap();
    let committed = c.node(1).raw.basic_status().hard_state.commit;
    c.node(1).raw.read_index(Bytes::from_static(b"s")).unwrap();
    let rs = cycle(&mut c, 1);
    assert_eq!(
        rs,
        vec![ReadState {
            index: committed,
            request_ctx: Bytes::from_static(b"s")
        }]
    );
}

/// A new leader holds a read until it commits an entry of its own term (its
/// commit index may trail its predecessor's until then), then answers it at
/// that newer commit index.
#[test]
fn new_leader_holds_reads_until_it_commits_in_its_term() {
    let mut c = cluster();
    c.node(2).raw.campaign().unwrap();
    // Votes flow, but the new leader's appends do not.
    let out = settle(&mut c, |m| m.r#type() != MessageType::MsgApp);
    assert!(out.iter().all(|v| v.is_empty()));
    assert_eq!(c.leaders(), vec![2]);
    let before = commit(&mut c, 2);
    c.node(2).raw.read_index(Bytes::from_static(b"h")).unwrap();
    let out = settle(&mut c, |m| m.r#type() != MessageType::MsgApp);
    assert!(
        out[1].is_empty(),
        "read answered before the leader committed in its term"
    );
    // Let the appends through (a heartbeat round makes the leader resend).
    for _ in 0..c.template.heartbeat_tick {
        c.node(2).raw.tick();
    }
    let out = settle(&mut c, |_| true);
    let after = commit(&mut c, 2);
    assert!(after > before);
    assert_eq!(
        out[1],
        vec![ReadState {
            index: after,
            request_ctx: Bytes::from_static(b"h")
        }]
    );
}
