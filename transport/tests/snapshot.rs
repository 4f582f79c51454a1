//! Snapshot streams: delivered intact with their header, and every failure
//! reported to the sender as a failed snapshot.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::gen::Generated;
use common::*;
use polyraft_transport::{SnapshotSource, SnapshotStatus, Transport};

fn status(rec: &Recorder) -> Option<(u64, u64, SnapshotStatus)> {
    rec.snapshot_status.lock().last().cloned()
}

fn await_status(rec: &Recorder) -> (u64, u64, SnapshotStatus) {
    assert!(wait_until(Duration::from_secs(20), || status(rec).is_some()), "a status is reported");
    status(rec).unwrap()
}

fn source(len: u64, seed: u64) -> SnapshotSource {
    SnapshotSource { reader: Box::new(Generated::new(len, seed)), size: Some(len) }
}

#[test]
fn a_snapshot_arrives_intact_with_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |c| c.snapshot_chunk_bytes = 64 * 1024);
    let len = 3 * 1024 * 1024 + 17;
    nodes[0].t.send_snapshot(2, 42, msg("MsgSnap header"), source(len, 7));
    assert_eq!(await_status(&nodes[0].rec), (2, 42, SnapshotStatus::Finished));
    let got = nodes[1].rec.snapshots.lock().clone();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].from, got[0].group, got[0].message.clone(), got[0].len), (1, 42, msg("MsgSnap header"), len));
    assert_eq!(got[0].hash, Generated::expected_hash(len, 7));
    // Frames keep flowing beside it, and an empty snapshot of unknown size works.
    nodes[0].t.send(2, vec![(1, msg("after"))]);
    assert!(wait_until(Duration::from_secs(5), || nodes[1].rec.count() == 1));
    nodes[0].rec.snapshot_status.lock().clear();
    nodes[0].t.send_snapshot(2, 43, msg("empty"), SnapshotSource { reader: Box::new(std::io::empty()), size: None });
    assert_eq!(await_status(&nodes[0].rec), (2, 43, SnapshotStatus::Finished));
    assert_eq!(nodes[1].rec.snapshots.lock().last().unwrap().len, 0);
}

fn failed(s: (u64, u64, SnapshotStatus)) -> String {
    match s.2 {
        SnapshotStatus::Failed(r) => r,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_refusing_receiver_fails_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |_| {});
    *nodes[1].rec.refuse_snapshots.lock() = Some("no space".into());
    nodes[0].t.send_snapshot(2, 1, msg("h"), source(1 << 20, 1));
    let r = failed(await_status(&nodes[0].rec));
    assert!(r.contains("no space"), "{r}");
}

#[test]
fn a_failing_sink_fails_the_snapshot_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |c| c.snapshot_chunk_bytes = 64 * 1024);
    *nodes[1].rec.fail_sink_after.lock() = Some(1 << 20);
    nodes[0].t.send_snapshot(2, 1, msg("h"), source(8 << 20, 1));
    let r = failed(await_status(&nodes[0].rec));
    assert!(r.contains("disk full"), "{r}");
    assert!(nodes[1].rec.snapshots.lock().is_empty());
}

#[test]
fn a_source_shorter_than_declared_or_unreadable_fails() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |c| c.snapshot_chunk_bytes = 64 * 1024);
    nodes[0].t.send_snapshot(2, 1, msg("h"), SnapshotSource { reader: Box::new(Generated::new(1000, 1)), size: Some(5000) });
    let r = failed(await_status(&nodes[0].rec));
    assert!(r.contains("declared"), "{r}");
    nodes[0].rec.snapshot_status.lock().clear();
    let mut g = Generated::new(4 << 20, 1);
    g.fail_at = Some(1 << 20);
    nodes[0].t.send_snapshot(2, 2, msg("h"), SnapshotSource { reader: Box::new(g), size: Some(4 << 20) });
    let r = failed(await_status(&nodes[0].rec));
    assert!(r.contains("unreadable"), "{r}");
    assert!(nodes[1].rec.snapshots.lock().is_empty());
}

#[test]
fn a_snapshot_to_an_unreachable_host_fails() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let rec = Recorder::new();
    let t = polyraft_transport::TcpTransport::start(
        test_config(1, polyraft_transport::Security::InsecurePlaintext),
        std::sync::Arc::new(Handler(rec.clone())),
    )
    .unwrap();
    t.add_peer(2, addr.to_string());
    t.send_snapshot(2, 5, Bytes::from_static(b"h"), source(10, 1));
    let s = await_status(&rec);
    assert_eq!((s.0, s.1), (2, 5));
    failed(s);
}
