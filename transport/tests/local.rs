//! The in-process network keeps the transport's contract.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::gen::Generated;
use common::*;
use polyraft_transport::local::LocalNetwork;
use polyraft_transport::{SnapshotSource, SnapshotStatus, Transport};

#[test]
fn delivers_in_order_partitions_and_streams_snapshots() {
    let net = LocalNetwork::new();
    let recs: Vec<_> = (0..3).map(|_| Recorder::new()).collect();
    let ts: Vec<_> = (0..3).map(|i| net.join(i as u64 + 1, Arc::new(Handler(recs[i].clone())), 100)).collect();
    for i in 0..10u64 {
        ts[0].send(2, vec![(i, msg(&format!("m{i}")))]);
    }
    assert!(wait_until(Duration::from_secs(5), || recs[1].count() == 10));
    let got: Vec<_> = recs[1].delivered().into_iter().map(|m| (m.0, m.1)).collect();
    assert_eq!(got, (0..10).map(|i| (1, i)).collect::<Vec<_>>());

    net.cut(1, 3);
    ts[0].send(3, vec![(5, msg("lost"))]);
    ts[2].send(1, vec![(5, msg("one way is open"))]);
    assert_eq!(recs[0].unreachable.lock().clone(), vec![(3, vec![5])]);
    assert!(wait_until(Duration::from_secs(5), || recs[0].count() == 1));
    net.heal();
    ts[0].send(3, vec![(5, msg("healed"))]);
    assert!(wait_until(Duration::from_secs(5), || recs[2].count() == 1));

    // A full inbox (100) drops the rest of a send and reports it.
    let many: Vec<_> = (0..150u64).map(|g| (g, msg("x"))).collect();
    ts[1].send(3, many);
    assert_eq!(recs[1].unreachable.lock().clone(), vec![(3, (100..150).collect::<Vec<_>>())]);
    assert!(wait_until(Duration::from_secs(5), || recs[2].count() == 101));

    ts[0].send_snapshot(2, 9, msg("hdr"), SnapshotSource { reader: Box::new(Generated::new(1 << 20, 3)), size: Some(1 << 20) });
    assert!(wait_until(Duration::from_secs(5), || !recs[0].snapshot_status.lock().is_empty()));
    assert_eq!(recs[0].snapshot_status.lock()[0], (2, 9, SnapshotStatus::Finished));
    assert_eq!(recs[1].snapshots.lock()[0].hash, Generated::expected_hash(1 << 20, 3));
}
