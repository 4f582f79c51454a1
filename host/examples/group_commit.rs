//! Group commit, measured: 3 hosts in one process, each with its log on
//! disk (FileLogStore, one fdatasync per group commit), N groups each with
//! one client keeping one proposal in flight (closed loop). Prints, per
//! host, fsyncs per second, entries per fsync and groups per log write.
//!
//! cargo run --release -p polyraft-host --example group_commit [seconds] [groups...]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyraft_host::*;

struct Nop;

impl StateMachine for Nop {
    fn apply(&mut self, entries: &[polyraft::raftpb::Entry]) -> Vec<bytes::Bytes> {
        vec![bytes::Bytes::new(); entries.len()]
    }
    fn snapshot(&self, _: &mut dyn std::io::Write) -> std::io::Result<()> {
        Ok(())
    }
    fn restore(&mut self, _: &mut dyn std::io::Read) -> std::io::Result<()> {
        Ok(())
    }
    fn lookup(&self, _: &[u8]) -> bytes::Bytes {
        bytes::Bytes::new()
    }
}

/// Proposes to `group` again each time the previous proposal completes.
fn client(host: Arc<Host>, group: u64, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    let h = host.clone();
    host.propose_async(
        group,
        &[0u8; 64],
        Duration::from_secs(5),
        Box::new(move |r| {
            if r.is_ok() {
                done.fetch_add(1, Ordering::Relaxed);
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
            client(h, group, stop, done);
        }),
    );
}

fn run(groups: u64, secs: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let net = InProcNetwork::new();
    let members: Vec<(u64, u64)> = (1..=3).map(|h| (h, h)).collect();
    let mut hosts = Vec::new();
    for h in 1..=3u64 {
        let cfg = HostConfig::new(h);
        let d = dir.path().join(format!("host{h}"));
        let host = Arc::new(Host::new(
            cfg,
            HostParts {
                log: Arc::new(FileLogStore::open(d.join("log"), Default::default())?),
                snapshots: Arc::new(FileSnapshotStore::open(d.join("snap"))?),
                transport: net.endpoint(h),
                clock: Arc::new(SystemClock::default()),
            },
        )?);
        net.register(h, host.inbound());
        for g in 1..=groups {
            host.start_replica(g, h, StartMode::Bootstrap(members.clone()), Box::new(|_, _| Box::new(Nop)))?;
        }
        hosts.push(host);
    }
    // Wait for leaders, then give each group a client on its leader's host.
    let mut leader_host = Vec::new();
    for g in 1..=groups {
        loop {
            match hosts[0].group_info(g).map(|i| i.leader).unwrap_or(0) {
                0 => std::thread::sleep(Duration::from_millis(20)),
                l => {
                    leader_host.push(l as usize - 1);
                    break;
                }
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let before: Vec<HostMetricsSnapshot> = hosts.iter().map(|h| h.metrics()).collect();
    let t0 = Instant::now();
    for g in 1..=groups {
        client(hosts[leader_host[g as usize - 1]].clone(), g, stop.clone(), done.clone());
    }
    std::thread::sleep(Duration::from_secs(secs));
    let wall = t0.elapsed().as_secs_f64();
    let after: Vec<HostMetricsSnapshot> = hosts.iter().map(|h| h.metrics()).collect();
    let completed = done.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let (mut fsyncs, mut entries, mut writes, mut batch_groups) = (0, 0, 0, 0);
    for (a, b) in after.iter().zip(&before) {
        fsyncs += a.fsyncs - b.fsyncs;
        entries += a.entries_written - b.entries_written;
        writes += a.log_writes - b.log_writes;
        batch_groups += a.batch_groups - b.batch_groups;
    }
    println!(
        "{groups:>5} active groups: {:>8.0} proposals/s; per host {:>6.0} fsyncs/s, {:>6.1} entries per fsync, {:>6.1} groups per log write",
        completed as f64 / wall,
        fsyncs as f64 / 3.0 / wall,
        entries as f64 / fsyncs.max(1) as f64,
        batch_groups as f64 / writes.max(1) as f64,
    );
    for h in &hosts {
        h.close();
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let secs = args.first().copied().unwrap_or(5);
    let counts: Vec<u64> = if args.len() > 1 { args[1..].to_vec() } else { vec![1, 10, 100, 1000] };
    for n in counts {
        run(n, secs)?;
    }
    Ok(())
}
