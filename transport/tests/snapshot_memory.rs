//! A large snapshot streams with bounded memory on both sides. Alone in its
//! test binary so the process's peak RSS measures this transfer only.
//! SNAPSHOT_MIB sets the size (default 64).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::gen::Generated;
use common::*;
use polyraft_transport::{SnapshotSource, SnapshotStatus, Transport};

/// VmHWM (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_large_snapshot_streams_with_bounded_memory() {
    let mib: u64 = std::env::var("SNAPSHOT_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let len = mib << 20;
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |_| {});
    // Warm up both directions' TLS and allocator pools with a small one.
    nodes[0].t.send_snapshot(2, 1, msg("warm"), SnapshotSource { reader: Box::new(Generated::new(4 << 20, 1)), size: Some(4 << 20) });
    assert!(wait_until(Duration::from_secs(20), || nodes[0].rec.snapshot_status.lock().len() == 1));
    nodes[1].rec.snapshots.lock().clear();
    nodes[1].rec.sunk.store(0, Ordering::SeqCst);
    let before = peak_rss_kib();

    let g = Generated::new(len, 9);
    let produced = g.produced.clone();
    let sunk = nodes[1].rec.sunk.clone();
    let max_in_flight = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (max_in_flight, done, produced, sunk) = (max_in_flight.clone(), done.clone(), produced.clone(), sunk.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                // Read by the source but not yet stored by the sink: what the
                // transport (and the kernel's socket buffers) hold.
                let f = produced.load(Ordering::SeqCst).saturating_sub(sunk.load(Ordering::SeqCst));
                max_in_flight.fetch_max(f, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let t0 = Instant::now();
    nodes[0].t.send_snapshot(2, 2, msg("big"), SnapshotSource { reader: Box::new(g), size: Some(len) });
    assert!(wait_until(Duration::from_secs(600), || nodes[0].rec.snapshot_status.lock().len() == 2));
    let secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert_eq!(nodes[0].rec.snapshot_status.lock()[1], (2, 2, SnapshotStatus::Finished));
    let got = nodes[1].rec.snapshots.lock()[0].clone();
    assert_eq!(got.len, len);
    assert_eq!(got.hash, Generated::expected_hash(len, 9));

    let growth_mib = (peak_rss_kib().saturating_sub(before)) as f64 / 1024.0;
    let in_flight_mib = max_in_flight.load(Ordering::SeqCst) as f64 / (1 << 20) as f64;
    println!(
        "snapshot {mib} MiB over TLS in {secs:.2} s ({:.0} MiB/s); peak RSS {} MiB (+{growth_mib:.1} MiB during the stream); \
         max bytes in flight {in_flight_mib:.1} MiB",
        mib as f64 / secs,
        peak_rss_kib() / 1024,
    );
    // Per side: a window of 4 chunks of 1 MiB, one being read and one being
    // written (12 MiB in all), plus the kernel's loopback socket buffers
    // (about 10 MiB with autotuning): bounded whatever the snapshot's size.
    assert!(in_flight_mib < 32.0, "in flight {in_flight_mib:.1} MiB");
    assert!(growth_mib < 32.0, "peak RSS grew {growth_mib:.1} MiB for a {mib} MiB snapshot");
}
