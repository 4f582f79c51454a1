//! Messages per second between two hosts over mutual TLS on loopback:
//!
//!     cargo run --release -p polyraft-transport --example throughput -- [MESSAGES] [SIZE] [BATCH]
//!
//! Host 1 sends MESSAGES messages of SIZE bytes to host 2, BATCH per `send`
//! call (BATCH at most 1000), over 1000 groups; prints messages/s, MiB/s, frames and drops. The
//! sender backs off when its outbox is full (as raft would after
//! `report_unreachable`), so drops are retried and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft_transport::devcerts::dev_cluster;
use polyraft_transport::{
    GroupId, HostId, InboundHandler, Security, SnapshotSink, SnapshotStatus, TcpTransport, Transport, TransportConfig,
};

#[derive(Default)]
struct Count {
    received: AtomicU64,
    frames: AtomicU64,
    dropped: AtomicU64,
}

impl InboundHandler for Count {
    fn on_messages(&self, _from: HostId, m: Vec<(GroupId, Bytes)>) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.received.fetch_add(m.len() as u64, Ordering::Relaxed);
    }
    fn on_unreachable(&self, _to: HostId, groups: Vec<GroupId>) {
        self.dropped.fetch_add(groups.len() as u64, Ordering::Relaxed);
    }
    fn on_snapshot_status(&self, _: HostId, _: GroupId, _: SnapshotStatus) {}
    fn open_snapshot(&self, _: HostId, _: GroupId, _: Bytes) -> std::io::Result<Box<dyn SnapshotSink>> {
        Err(std::io::Error::other("no snapshots here"))
    }
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let (total, size, batch) = (arg(1, 2_000_000), arg(2, 100) as usize, arg(3, 64).max(1));
    let dir = std::env::temp_dir().join(format!("polyraft-throughput-{}", std::process::id()));
    let files = dev_cluster(&dir, &[1, 2]).expect("certificates");
    let counts: Vec<Arc<Count>> = (0..2).map(|_| Arc::new(Count::default())).collect();
    let hosts: Vec<TcpTransport> = files
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let cfg = TransportConfig::new(i as u64 + 1, "127.0.0.1:0".parse().unwrap(), Security::MutualTls(f));
            TcpTransport::start(cfg, counts[i].clone()).expect("start")
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    hosts[0].add_peer(2, hosts[1].local_addr().to_string());
    let payload = Bytes::from(vec![7u8; size]);
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let before = counts[0].dropped.load(Ordering::Relaxed);
        let n = batch.min(total - sent);
        hosts[0].send(2, (0..n).map(|i| ((sent + i) % 1000, payload.clone())).collect());
        let dropped = counts[0].dropped.load(Ordering::Relaxed) - before;
        sent += n;
        if dropped > 0 {
            // Outbox full: back off a little, and count the loss as unsent.
            sent -= dropped.min(n);
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    while counts[1].received.load(Ordering::Relaxed) < total {
        std::thread::sleep(Duration::from_millis(1));
    }
    let secs = t0.elapsed().as_secs_f64();
    let frames = counts[1].frames.load(Ordering::Relaxed);
    println!(
        "{total} messages of {size} B in {secs:.2} s: {:.0} messages/s, {:.1} MiB/s; {frames} frames ({:.0} messages/frame); {} dropped and resent",
        total as f64 / secs,
        (total * size as u64) as f64 / secs / (1 << 20) as f64,
        total as f64 / frames as f64,
        counts[0].dropped.load(Ordering::Relaxed),
    );
}
