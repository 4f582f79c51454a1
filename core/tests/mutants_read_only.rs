//! Tests written for cargo-mutants (issue 24) on `core/src/read_only.rs`:
//! the leader's queue of linearizable reads, confirmed by a quorum of
//! heartbeat acknowledgements that carry a read counter.

use bytes::Bytes;
use polyraft::quorum::{JointConfig, MajorityConfig};
use polyraft::raftpb::{Entry, Message, MessageType};
use polyraft::read_only::ReadOnly;
use polyraft::ReadOnlyOption;

fn voters(ids: &[u64]) -> JointConfig {
    JointConfig {
        incoming: MajorityConfig::new(ids.iter().copied()),
        outgoing: MajorityConfig::default(),
    }
}

/// A read request tagged `tag` (in its entry's data).
fn read(tag: &'static [u8]) -> Message {
    Message {
        r#type: MessageType::MsgReadIndex as i32,
        entries: vec![Entry {
            data: Bytes::from_static(tag),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn ctx(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

fn tags(rs: &[polyraft::read_only::ReadIndexRequest]) -> Vec<(&[u8], u64)> {
    rs.iter()
        .map(|r| (&r.req.entries[0].data[..], r.index))
        .collect()
}

/// Nothing pending: the heartbeat carries no context and nothing advances.
#[test]
fn empty_queue_has_no_heartbeat_context() {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    assert!(ro.heartbeat_ctx().is_empty());
    assert_eq!(ro.pending(), 0);
    ro.recv_ack(1, &ctx(1));
    ro.recv_ack(2, &ctx(1));
    assert!(ro.maybe_advance(&voters(&[1, 2, 3])).is_empty());
}

/// Each read gets the next counter; the heartbeat context names the newest
/// one; a quorum acknowledging counter k confirms the reads up to k, oldest
/// first, with the commit index each was registered at.
#[test]
fn quorum_of_acks_confirms_reads_in_order() {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    let cfg = voters(&[1, 2, 3]);
    ro.add_request(5, read(b"a"));
    assert_eq!(ro.heartbeat_ctx(), Bytes::from(ctx(1)));
    ro.add_request(6, read(b"b"));
    ro.add_request(7, read(b"c"));
    assert_eq!(ro.heartbeat_ctx(), Bytes::from(ctx(3)));
    assert_eq!(ro.pending(), 3);

    // One voter (the leader itself) is not a quorum of three.
    ro.recv_ack(1, &ctx(2));
    assert!(ro.maybe_advance(&cfg).is_empty());
    assert_eq!(ro.pending(), 3);

    // Two of three acknowledged counter 2: reads a and b are confirmed.
    ro.recv_ack(2, &ctx(2));
    let done = ro.maybe_advance(&cfg);
    assert_eq!(tags(&done), vec![(&b"a"[..], 5), (&b"b"[..], 6)]);
    assert_eq!(ro.pending(), 1);
    // The context now names read c, whose counter is still 3.
    assert_eq!(ro.heartbeat_ctx(), Bytes::from(ctx(3)));
    // Confirmed reads are not confirmed twice.
    assert!(ro.maybe_advance(&cfg).is_empty());

    ro.recv_ack(3, &ctx(3));
    ro.recv_ack(1, &ctx(3));
    assert_eq!(tags(&ro.maybe_advance(&cfg)), vec![(&b"c"[..], 7)]);
    assert_eq!(ro.pending(), 0);
    assert!(ro.heartbeat_ctx().is_empty());

    // Counters go on from where they were: the next read is number 4.
    ro.add_request(8, read(b"d"));
    assert_eq!(ro.heartbeat_ctx(), Bytes::from(ctx(4)));
    ro.recv_ack(2, &ctx(3));
    assert!(
        ro.maybe_advance(&cfg).is_empty(),
        "an old counter must not confirm a newer read"
    );
    ro.recv_ack(2, &ctx(4));
    assert!(
        ro.maybe_advance(&cfg).is_empty(),
        "one voter of three acknowledged read d"
    );
    ro.recv_ack(1, &ctx(4));
    assert_eq!(tags(&ro.maybe_advance(&cfg)), vec![(&b"d"[..], 8)]);
}

/// An acknowledgement never lowers what a peer acknowledged before (a late,
/// reordered heartbeat response carries an older counter).
#[test]
fn older_ack_does_not_undo_a_newer_one() {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    ro.add_request(1, read(b"a"));
    ro.add_request(1, read(b"b"));
    ro.recv_ack(2, &ctx(2));
    ro.recv_ack(2, &ctx(1));
    ro.recv_ack(1, &ctx(2));
    assert_eq!(ro.maybe_advance(&voters(&[1, 2, 3])).len(), 2);
}

/// A quorum acknowledging a counter never handed out (a confused or
/// hostile peer) confirms nothing: the acknowledgement is dropped, and the
/// reads wait for real ones.
#[test]
fn ack_beyond_the_newest_counter_confirms_nothing() {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    ro.add_request(1, read(b"a"));
    ro.add_request(2, read(b"b"));
    ro.recv_ack(1, &ctx(100));
    ro.recv_ack(2, &ctx(100));
    assert!(ro.maybe_advance(&voters(&[1, 2, 3])).is_empty());
    assert_eq!(ro.pending(), 2);
    ro.recv_ack(1, &ctx(2));
    ro.recv_ack(2, &ctx(2));
    assert_eq!(
        tags(&ro.maybe_advance(&voters(&[1, 2, 3]))),
        vec![(&b"a"[..], 1), (&b"b"[..], 2)]
    );
    assert_eq!(ro.pending(), 0);
    assert!(ro.heartbeat_ctx().is_empty());
}

/// Contexts that are not an 8-byte counter are ignored.
#[test]
fn malformed_contexts_confirm_nothing() {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    let cfg = voters(&[1, 2, 3]);
    ro.add_request(1, read(b"a"));
    for (from, c) in [(1, vec![]), (2, vec![1u8]), (3, vec![1u8; 9])] {
        ro.recv_ack(from, &c);
    }
    assert!(ro.maybe_advance(&cfg).is_empty());
    assert_eq!(ro.pending(), 1);
}

/// Acknowledgements of non-voters do not count towards the quorum.
#[test]
fn acks_of_non_voters_do_not_count() {
    let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
    ro.add_request(1, read(b"a"));
    ro.recv_ack(1, &ctx(1));
    ro.recv_ack(4, &ctx(1));
    ro.recv_ack(5, &ctx(1));
    assert!(ro.maybe_advance(&voters(&[1, 2, 3])).is_empty());
}
