//! Three hosts on the real TCP / mutual-TLS transport, with a fault
//! injecting proxy on every directed link (`polyraft_transport::proxy`):
//! delay and jitter, reordering, dropped connections, a full partition of a
//! leader's host and a one-way partition. Throughout, every replica records
//! what it applies; no two replicas ever apply different entries at the
//! same index (safety), and after each fault the groups elect leaders and
//! commit again (recovery).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft::raftpb::Entry;
use polyraft_host::net::devcerts;
use polyraft_host::net::proxy::{FaultProxy, Faults};
use polyraft_host::net::{NetConfig, NetHost};
use polyraft_host::*;

const GROUPS: u64 = 3;
type Applied = Arc<Mutex<BTreeMap<(u64, u64), Vec<(u64, Bytes)>>>>;

/// Records every applied entry of its replica.
struct Recorder {
    key: (u64, u64),
    applied: Applied,
}

impl StateMachine for Recorder {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        let mut a = self.applied.lock();
        let log = a.entry(self.key).or_default();
        entries.iter().map(|e| {
            log.push((e.index, e.data.clone()));
            Bytes::from(e.index.to_string())
        }).collect()
    }
    fn snapshot(&self, _: &mut dyn std::io::Write) -> std::io::Result<()> {
        Err(std::io::Error::other("snapshots are off in this test"))
    }
    fn restore(&mut self, _: &mut dyn std::io::Read) -> std::io::Result<()> {
        Err(std::io::Error::other("snapshots are off in this test"))
    }
    fn lookup(&self, _: &[u8]) -> Bytes {
        Bytes::new()
    }
}

struct Net {
    hosts: BTreeMap<u64, NetHost>,
    /// (from, to) -> the proxy that host `from` reaches host `to` through.
    proxies: BTreeMap<(u64, u64), FaultProxy>,
    applied: Applied,
}

impl Net {
    fn start() -> (Net, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let files = devcerts::dev_cluster(&dir.path().join("certs"), &[1, 2, 3]).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut hosts = BTreeMap::new();
        for id in 1..=3u64 {
            let mut cfg = HostConfig::new(id);
            cfg.workers = 1;
            cfg.tick_interval = Duration::from_millis(10);
            cfg.election_ticks = 30;
            // Heartbeats every 50 ms: the proxy delays segments one after
            // another, so a link must not carry more than it can delay.
            cfg.heartbeat_ticks = 5;
            cfg.snapshot_entries = 0;
            let f = &files[id as usize - 1];
            let mut net = NetConfig::tls(any, &f.cert, &f.key, &f.ca);
            net.transport.backoff_max = Duration::from_millis(200);
            net.probe_interval = Duration::from_millis(200);
            hosts.insert(id, NetHost::start(cfg, net, Arc::new(MemLogStore::new()), Arc::new(MemSnapshotStore::new())).unwrap());
        }
        let mut proxies = BTreeMap::new();
        for a in 1..=3u64 {
            for b in (1..=3u64).filter(|b| *b != a) {
                let p = FaultProxy::start(hosts[&b].local_addr()).unwrap();
                hosts[&a].add_peer(b, p.addr().to_string());
                proxies.insert((a, b), p);
            }
        }
        let applied: Applied = Arc::default();
        for (&h, host) in &hosts {
            for g in 1..=GROUPS {
                let applied = applied.clone();
                let members = vec![(1, 1), (2, 2), (3, 3)];
                host.start_replica(g, h, StartMode::Bootstrap(members), Box::new(move |g, r| Box::new(Recorder { key: (r, g), applied }))).unwrap();
            }
        }
        (Net { hosts, proxies, applied }, dir)
    }

    fn all(&self, f: Faults) {
        for p in self.proxies.values() {
            p.set(f.clone());
        }
    }

    /// The host that leads `g` as seen by a majority, waiting for one.
    fn leader(&self, g: u64, among: &[u64]) -> u64 {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            for &h in among {
                if let Some(i) = self.hosts[&h].group_info(g) {
                    if i.is_leader {
                        return h;
                    }
                }
            }
            assert!(Instant::now() < end, "group {g} elected no leader among {among:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Proposes through `via` (round robin) until `n` proposals of every
    /// group completed; timed out ones may or may not apply (that is fine,
    /// safety is checked on what was applied).
    fn commit(&self, n: usize, via: &[u64], label: &str) {
        let start = Instant::now();
        let end = start + Duration::from_secs(60);
        let mut failed = 0;
        for g in 1..=GROUPS {
            let mut done = 0;
            let mut i = 0;
            while done < n {
                if Instant::now() >= end {
                    let infos: Vec<_> = self.hosts.values().map(|h| h.group_info(g)).collect();
                    panic!("{label}: group {g} committed only {done} of {n}: {infos:?}");
                }
                let h = via[i % via.len()];
                i += 1;
                if self.hosts[&h].propose(g, format!("{label}-{g}-{i}").as_bytes(), Duration::from_secs(2)).is_ok() {
                    done += 1;
                } else {
                    failed += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        println!("{label}: {} proposals per group in {:?} ({failed} failed attempts)", n, start.elapsed());
    }

    /// No two replicas applied different entries at one index, and each
    /// replica applied a gap-free prefix of the log.
    fn check_safety(&self) {
        let a = self.applied.lock();
        for g in 1..=GROUPS {
            let mut by_index: BTreeMap<u64, (u64, Bytes)> = BTreeMap::new();
            for r in 1..=3u64 {
                let Some(log) = a.get(&(r, g)) else { continue };
                for w in log.windows(2) {
                    // Increasing, not gap-free: the leaders' empty entries
                    // never reach the state machine.
                    assert!(w[1].0 > w[0].0, "group {g} replica {r} applied {} after {}", w[1].0, w[0].0);
                }
                for (i, d) in log {
                    match by_index.get(i) {
                        Some((other, od)) => assert_eq!(od, d, "group {g}: replicas {other} and {r} applied different entries at {i}"),
                        None => {
                            by_index.insert(*i, (r, d.clone()));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn faults_between_real_hosts_keep_the_cluster_safe_and_it_recovers() {
    let (net, _dir) = Net::start();
    for g in 1..=GROUPS {
        net.leader(g, &[1, 2, 3]);
    }
    net.commit(10, &[1, 2, 3], "clean");

    // Slow, jittery links.
    net.all(Faults { delay: Duration::from_millis(2), jitter: Duration::from_millis(6), ..Faults::default() });
    net.commit(10, &[1, 2, 3], "slow");
    net.check_safety();

    // Reordered segments: inside TLS they fail authentication, the
    // connection closes, and raft sees loss and reordering across
    // reconnections.
    net.all(Faults { reorder_rate: 0.02, ..Faults::default() });
    net.commit(10, &[1, 2, 3], "reorder");
    net.check_safety();

    // Connections cut at random (the transport redials).
    net.all(Faults { drop_rate: 0.02, ..Faults::default() });
    net.commit(10, &[1, 2, 3], "drops");
    net.all(Faults::default());
    net.check_safety();

    // The host leading group 1 is cut off both ways: the other two elect a
    // leader and go on.
    let l = net.leader(1, &[1, 2, 3]);
    let rest: Vec<u64> = (1..=3).filter(|h| *h != l).collect();
    for ((a, b), p) in &net.proxies {
        if *a == l || *b == l {
            p.set(Faults::partition());
        }
    }
    net.commit(10, &rest, "partition");
    let l2 = net.leader(1, &rest);
    assert_ne!(l2, l);
    net.check_safety();
    net.all(Faults::default());

    // One way: the new leader of group 1 can hear but not be heard.
    let l3 = net.leader(1, &[1, 2, 3]);
    let rest: Vec<u64> = (1..=3).filter(|h| *h != l3).collect();
    for b in &rest {
        net.proxies[&(l3, *b)].set(Faults { block_forward: true, ..Faults::default() });
    }
    net.commit(10, &rest, "oneway");
    assert_ne!(net.leader(1, &rest), l3);
    net.check_safety();

    // Healed: every replica catches up to the same log.
    net.all(Faults::default());
    net.commit(5, &[1, 2, 3], "healed");
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let same = (1..=GROUPS).all(|g| {
            let applied: Vec<u64> = (1..=3).map(|h| net.hosts[&h].group_info(g).unwrap().applied).collect();
            applied.iter().all(|a| *a == applied[0])
        });
        if same {
            break;
        }
        assert!(Instant::now() < end, "replicas did not converge after healing");
        std::thread::sleep(Duration::from_millis(50));
    }
    net.check_safety();
    let total: usize = net.applied.lock().values().map(|v| v.len()).sum();
    println!("entries applied over all replicas: {total}");
}
