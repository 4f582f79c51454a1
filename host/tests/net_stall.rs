//! A leader whose disk stalls (hashicorp/raft#503), on the real TCP /
//! mutual-TLS transport: three hosts in one process, each on a log whose
//! writes can be made to block. When the leader's log write blocks, its
//! step worker blocks in it and sends nothing more, heartbeats included:
//! the other hosts elect a leader in a higher term and commit through it,
//! while every blocking call on the stalled host still returns (timed out)
//! at its deadline instead of hanging with the worker. When the disk comes
//! back, the old leader follows the new one at once.
//!
//! The same scenario on real processes, with clients and a linearizability
//! check, is the Go harness's stall test (tests/jepsen, `make jepsen-stall`).
#![cfg(feature = "tcp")]

use std::net::SocketAddr;
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft::raftpb::Entry;
use polyraft_host::net::{devcerts, NetConfig, NetHost};
use polyraft_host::*;
use polyraft_logstore::StallableLogStore;

/// A log whose writes block while stalled (a disk that stops completing
/// writes); reads go on.
type StallLog = StallableLogStore<MemLogStore>;

/// Answers every entry with its index.
struct Indexes;

impl StateMachine for Indexes {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        entries.iter().map(|e| Bytes::from(e.index.to_string())).collect()
    }
    fn snapshot(&self, _: &mut dyn std::io::Write) -> std::io::Result<()> {
        Ok(())
    }
    fn restore(&mut self, _: &mut dyn std::io::Read) -> std::io::Result<()> {
        Ok(())
    }
    fn lookup(&self, _: &[u8]) -> Bytes {
        Bytes::new()
    }
}

/// Ends a stall when dropped.
struct Resume<'a>(&'a StallLog);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.set_stalled(false);
    }
}

/// The host among `among` that says it leads, with its term.
fn leader(hosts: &[NetHost], among: &[usize]) -> Option<(usize, u64)> {
    among.iter().find_map(|&i| hosts[i].group_info(1).filter(|g| g.is_leader).map(|g| (i, g.term)))
}

#[test]
fn a_leader_whose_disk_stalls_loses_leadership_and_the_others_go_on() {
    const ELECTION: Duration = Duration::from_millis(300);
    let dir = tempfile::tempdir().unwrap();
    let files = devcerts::dev_cluster(&dir.path().join("certs"), &[1, 2, 3]).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let logs: Vec<Arc<StallLog>> = (0..3).map(|_| Arc::new(StallLog::new(MemLogStore::new()))).collect();
    let hosts: Vec<NetHost> = (0..3)
        .map(|i| {
            let mut cfg = HostConfig::new(i as u64 + 1);
            cfg.workers = 1;
            cfg.tick_interval = Duration::from_millis(10);
            cfg.election_ticks = 30;
            cfg.heartbeat_ticks = 5;
            cfg.snapshot_entries = 0;
            let f = &files[i];
            let net = NetConfig::tls(any, &f.cert, &f.key, &f.ca);
            NetHost::start(cfg, net, logs[i].clone(), Arc::new(MemSnapshotStore::new())).unwrap()
        })
        .collect();
    for (i, a) in hosts.iter().enumerate() {
        for (j, b) in hosts.iter().enumerate() {
            if i != j {
                a.add_peer(j as u64 + 1, b.local_addr().to_string());
            }
        }
    }
    for (i, h) in hosts.iter().enumerate() {
        let me = i as u64 + 1;
        h.start_replica(1, me, StartMode::Bootstrap(vec![(1, 1), (2, 2), (3, 3)]), Box::new(|_, _| Box::new(Indexes))).unwrap();
    }
    let end = Instant::now() + Duration::from_secs(30);
    let (l, term) = loop {
        if let Some(lt) = leader(&hosts, &[0, 1, 2]) {
            break lt;
        }
        assert!(Instant::now() < end, "no leader elected");
        std::thread::sleep(Duration::from_millis(20));
    };
    for i in 0..5 {
        hosts[l].propose(1, format!("before-{i}").as_bytes(), Duration::from_secs(10)).expect("commits before the stall");
    }

    // The leader's disk stalls; a proposal on it makes its worker write,
    // and the write blocks.
    logs[l].set_stalled(true);
    let t0 = Instant::now();
    let (tx, rx) = channel();
    std::thread::scope(|s| {
        // A failing check must not leave the disk stalled: the scope
        // could not join the thread blocked on the stalled host.
        let _resume = Resume(&logs[l]);
        let stalled = &hosts[l];
        s.spawn(move || {
            let r = stalled.propose(1, b"during-the-stall", Duration::from_millis(200));
            let _ = tx.send((r, t0.elapsed()));
        });

        // The others elect a leader in a higher term and commit through it.
        let others: Vec<usize> = (0..3).filter(|i| *i != l).collect();
        let (new_leader, new_term, elected) = loop {
            if let Some((i, t)) = leader(&hosts, &others).filter(|(_, t)| *t > term) {
                break (i, t, t0.elapsed());
            }
            assert!(t0.elapsed() < 10 * ELECTION, "no other host led within {:?} of the leader's disk stall", 10 * ELECTION);
            std::thread::sleep(Duration::from_millis(5));
        };
        let committed = loop {
            if hosts[others[0]].propose(1, b"through-the-others", Duration::from_millis(500)).is_ok() {
                break t0.elapsed();
            }
            assert!(t0.elapsed() < 10 * ELECTION, "no write committed within {:?} of the leader's disk stall", 10 * ELECTION);
        };
        println!("disk of host {} stalled: host {} leads in term {new_term} after {elected:?}; a write committed after {committed:?}", l + 1, new_leader + 1);

        // The stalled host's blocking call returned at its deadline (plus
        // the host's grace) although its worker is still blocked.
        let (r, took) = rx.recv_timeout(Duration::from_secs(5)).expect("a blocking call on the stalled host returns");
        assert_eq!(r, Err(OpError::TimedOut));
        assert!(took < Duration::from_secs(2), "{took:?}");
        println!("the stalled host's proposal timed out after {took:?}");
        std::thread::sleep(Duration::from_millis(500));

        // The disk comes back: the old leader follows the new one.
        logs[l].set_stalled(false);
        let t1 = Instant::now();
        loop {
            let g = hosts[l].group_info(1).unwrap();
            if !g.is_leader && g.term >= new_term {
                println!("the old leader follows {:?} after its disk came back (term {})", t1.elapsed(), g.term);
                break;
            }
            assert!(t1.elapsed() < 10 * ELECTION, "the old leader still leads after its disk came back: {g:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    // Every host converges on one log.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let applied: Vec<u64> = hosts.iter().map(|h| h.group_info(1).unwrap().applied).collect();
        if applied.iter().all(|a| *a == applied[0]) {
            break;
        }
        assert!(Instant::now() < end, "hosts did not converge: {applied:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
