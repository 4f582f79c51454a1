//! A replicated key-value store on polyraft-host: three hosts in one
//! process (joined by the in-process network), 16 groups (shards of the key
//! space), exactly-once writes through a session, linearizable reads.
//!
//! cargo run -p polyraft-host --example kv

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use polyraft::raftpb::Entry;
use polyraft_host::*;

/// The state machine: `key=value` sets a key and returns its old value.
#[derive(Default)]
struct Kv(BTreeMap<String, String>);

impl StateMachine for Kv {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        entries
            .iter()
            .map(|e| {
                let cmd = String::from_utf8_lossy(&e.data);
                let (k, v) = cmd.split_once('=').unwrap_or((&cmd, ""));
                Bytes::from(self.0.insert(k.to_string(), v.to_string()).unwrap_or_default())
            })
            .collect()
    }
    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for (k, v) in &self.0 {
            writeln!(w, "{k}={v}")?;
        }
        Ok(())
    }
    fn restore(&mut self, r: &mut dyn Read) -> std::io::Result<()> {
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        self.0 = s.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
        Ok(())
    }
    fn lookup(&self, key: &[u8]) -> Bytes {
        Bytes::from(self.0.get(&*String::from_utf8_lossy(key)).cloned().unwrap_or_default())
    }
}

const GROUPS: u64 = 16;
const TIMEOUT: Duration = Duration::from_secs(5);

/// The group (shard) that owns a key.
fn group_of(key: &str) -> u64 {
    key.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)) % GROUPS + 1
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = InProcNetwork::new();
    let members: Vec<(u64, u64)> = (1..=3).map(|h| (h, h)).collect(); // replica h runs on host h
    let mut hosts = Vec::new();
    for h in 1..=3 {
        let mut cfg = HostConfig::new(h);
        cfg.tick_interval = Duration::from_millis(20);
        let host = Host::new(
            cfg,
            HostParts {
                log: Arc::new(MemLogStore::new()),
                snapshots: Arc::new(MemSnapshotStore::new()),
                transport: net.endpoint(h),
                clock: Arc::new(SystemClock::default()),
            },
        )?;
        net.register(h, host.inbound());
        for g in 1..=GROUPS {
            host.start_replica(g, h, StartMode::Bootstrap(members.clone()), Box::new(|_, _| Box::new(Kv::default())))?;
        }
        hosts.push(host);
    }

    // Writes may go to any host: followers forward them to the leader.
    for (i, (k, v)) in [("apple", "red"), ("banana", "yellow"), ("cherry", "dark red"), ("apple", "green")].iter().enumerate() {
        let host = &hosts[i % 3];
        let old = retry(|| host.propose(group_of(k), format!("{k}={v}").as_bytes(), TIMEOUT))?;
        println!("host {} set {k}={v} (was {:?})", host.id(), String::from_utf8_lossy(&old));
    }

    // A session makes a retried write apply once.
    let mut session = Session::new(group_of("counter"), 42);
    for attempt in 0..2 {
        let r = retry(|| hosts[1].propose_session(&session, b"counter=1", TIMEOUT))?;
        println!("session write, attempt {attempt}: result {:?}", String::from_utf8_lossy(&r));
    }
    session.proposal_completed();
    println!("answered from the session table: {}", hosts.iter().map(|h| h.metrics().dedup_hits).sum::<u64>());

    // Linearizable reads from every host see the last write.
    for host in &hosts {
        let v = retry(|| host.read(group_of("apple"), b"apple", TIMEOUT))?;
        println!("host {} reads apple={}", host.id(), String::from_utf8_lossy(&v));
    }
    let info = hosts[0].group_info(group_of("apple")).ok_or("no such group")?;
    println!("group {}: leader {} term {} voters {:?} applied {}", info.group, info.leader, info.term, info.voters, info.applied);
    let m = hosts[0].metrics();
    println!("host 1: {} log writes, {} fsyncs, {} groups, {} active", m.log_writes, m.fsyncs, m.groups, m.active_groups);
    for host in &hosts {
        host.close();
    }
    Ok(())
}

/// Retries while the group has no leader known yet (rejected: certainly not
/// applied, so retrying is safe, also within a session).
fn retry(mut f: impl FnMut() -> OpResult<Bytes>) -> OpResult<Bytes> {
    loop {
        match f() {
            Err(OpError::Rejected(_)) => std::thread::sleep(Duration::from_millis(50)),
            other => return other,
        }
    }
}
