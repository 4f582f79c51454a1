//! The cost of idle groups: 3 hosts in one process, each running a replica
//! of 10,000 groups (3 replicas per group). Once every group has quiesced,
//! the process's CPU time is measured over a window and divided by the
//! number of hosts.
//!
//! cargo run --release -p polyraft-host --example idle [groups] [seconds]

use std::sync::Arc;
use std::time::{Duration, Instant};

use polyraft_host::*;

/// User + system CPU time of this process, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let groups: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let window = Duration::from_secs(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20));
    let net = InProcNetwork::new();
    let members: Vec<(u64, u64)> = (1..=3).map(|h| (h, h)).collect();
    let mut hosts = Vec::new();
    for h in 1..=3 {
        let host = Host::new(
            HostConfig::new(h),
            HostParts {
                log: Arc::new(MemLogStore::new()),
                snapshots: Arc::new(MemSnapshotStore::new()),
                transport: net.endpoint(h),
                clock: Arc::new(SystemClock::default()),
            },
        )?;
        net.register(h, host.inbound());
        hosts.push(host);
    }
    let start = Instant::now();
    for g in 1..=groups {
        for (i, host) in hosts.iter().enumerate() {
            let factory: StateMachineFactory = Box::new(|_, _| Box::new(Nop));
            host.start_replica(g, i as u64 + 1, StartMode::Bootstrap(members.clone()), factory)?;
        }
    }
    println!("started {} replicas in {:.1?}", 3 * groups, start.elapsed());
    loop {
        let active: u64 = hosts.iter().map(|h| h.metrics().active_groups).sum();
        if active == 0 {
            break;
        }
        println!("{:>6.1?}: {active} replicas still ticking", start.elapsed());
        std::thread::sleep(Duration::from_secs(2));
    }
    let leaders: u64 = hosts.iter().map(|h| h.metrics().elections).sum();
    println!("all {groups} groups quiesced after {:.1?} ({leaders} elections)", start.elapsed());
    let (t0, c0) = (Instant::now(), cpu_time());
    let ticks0: u64 = hosts.iter().map(|h| h.metrics().group_ticks).sum();
    std::thread::sleep(window);
    let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
    let ticks: u64 = hosts.iter().map(|h| h.metrics().group_ticks).sum::<u64>() - ticks0;
    let pct = 100.0 * cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "idle window {:.1?}: process CPU {:.3?} = {:.3}% of one core for 3 hosts; {:.3}% per host of {groups} idle groups; {ticks} group ticks",
        wall,
        cpu,
        pct,
        pct / 3.0
    );
    Ok(())
}

/// A state machine that holds nothing.
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
