//! Tests written for cargo-mutants (issue 24) on `core/src/tracker` and the
//! shape check of appends in `core/src/log.rs`.

use bytes::Bytes;
use polyraft::log::{EntryId, LogSlice};
use polyraft::raftpb::Entry;
use polyraft::tracker::{Inflights, Progress, ProgressState};

fn progress(matched: u64, next: u64) -> Progress {
    let mut p = Progress::new(next, Inflights::new(16, 0));
    p.matched = matched;
    p
}

/// etcd BecomeProbe: after a snapshot the follower has everything up to
/// the snapshot, so probing resumes right after it (or after the match,
/// if that is further).
#[test]
fn probe_after_a_snapshot_resumes_after_the_snapshot() {
    let mut p = progress(5, 6);
    p.become_snapshot(10);
    assert_eq!(p.state, ProgressState::Snapshot);
    p.become_probe();
    assert_eq!(p.state, ProgressState::Probe);
    assert_eq!(p.next, 11);

    let mut p = progress(15, 16);
    p.become_snapshot(10);
    p.become_probe();
    assert_eq!(p.next, 16);
}

/// Probing restarts after the match index, and the commit index already
/// sent is capped below the next index (the follower cannot have been told
/// a commit index above what it is about to be sent).
#[test]
fn probe_caps_the_sent_commit_below_next() {
    let mut p = progress(5, 30);
    p.sent_commit = 20;
    p.become_probe();
    assert_eq!(p.next, 6);
    assert_eq!(p.sent_commit, 5);

    let mut p = progress(5, 30);
    p.sent_commit = 3;
    p.become_probe();
    assert_eq!(p.sent_commit, 3, "a lower sent commit stays as it is");

    let mut p = progress(5, 6);
    p.sent_commit = 20;
    p.become_snapshot(10);
    p.become_probe();
    assert_eq!(p.next, 11);
    assert_eq!(p.sent_commit, 10);
}

fn ent(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: Bytes::from_static(b"x"),
        ..Default::default()
    }
}

fn slice(prev: (u64, u64), entries: Vec<Entry>) -> LogSlice {
    LogSlice {
        term: 3,
        prev: EntryId {
            index: prev.0,
            term: prev.1,
        },
        entries,
    }
}

/// A log slice is valid when its entries follow `prev` one index at a
/// time and none has term 0; a malformed one is an error, not a panic.
#[test]
fn log_slice_shape_is_checked() {
    assert!(slice((4, 2), vec![]).valid().is_ok());
    assert!(slice((4, 2), vec![ent(5, 2), ent(6, 3)]).valid().is_ok());
    assert!(
        slice((4, 2), vec![ent(6, 3)]).valid().is_err(),
        "a gap after prev"
    );
    assert!(
        slice((4, 2), vec![ent(4, 3)]).valid().is_err(),
        "an entry at prev's index"
    );
    assert!(
        slice((4, 2), vec![ent(5, 3), ent(7, 3)]).valid().is_err(),
        "a gap inside"
    );
    assert!(
        slice((4, 2), vec![ent(5, 0)]).valid().is_err(),
        "an entry of term 0"
    );
    assert!(
        slice((u64::MAX, 2), vec![ent(0, 3)]).valid().is_err(),
        "an index past u64::MAX"
    );
}

/// A probe without entries (a commit-only or empty append) does not pause
/// the flow; one with entries does (etcd SentEntries).
#[test]
fn only_a_probe_with_entries_pauses_the_flow() {
    let mut p = progress(5, 6);
    assert_eq!(p.state, ProgressState::Probe);
    p.sent_entries(0, 0);
    assert!(!p.msg_app_flow_paused);
    p.sent_entries(1, 10);
    assert!(p.msg_app_flow_paused);
}

/// Sending a newer commit index helps only if the follower has entries
/// beyond the commit index it was last sent.
#[test]
fn commit_bump_needs_entries_beyond_the_sent_commit() {
    let mut p = progress(5, 6);
    p.sent_commit = 5;
    assert!(!p.can_bump_commit(7), "the follower has nothing beyond 5");
    p.sent_commit = 4;
    assert!(p.can_bump_commit(5));
    assert!(!p.can_bump_commit(4), "not newer than what was sent");
}

/// A rejection in replicate state falls back to just after the match, and
/// caps the commit index already sent below the new next index.
#[test]
fn rejection_in_replicate_falls_back_to_the_match() {
    let mut p = progress(5, 6);
    p.become_replicate();
    p.next = 10;
    p.sent_commit = 8;
    assert!(p.maybe_decr_to(9, 5));
    assert_eq!(p.next, 6);
    assert_eq!(p.sent_commit, 5);
}

/// A probe rejection moves next back to the hint, never at or below the
/// match index.
#[test]
fn probe_rejection_never_goes_below_the_match() {
    let mut p = progress(5, 7);
    assert!(p.maybe_decr_to(6, 2));
    assert_eq!(p.next, 6);
    let mut p = progress(2, 10);
    p.sent_commit = 9;
    assert!(p.maybe_decr_to(9, 4));
    assert_eq!(p.next, 5);
    assert_eq!(p.sent_commit, 4);
}
