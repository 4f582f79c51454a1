//! Security at the host level, over the real network adapter: a peer that
//! presents a certificate for another host id is refused by the transport,
//! and a peer with a valid certificate of its own cannot speak for a
//! replica that the group places on another host, nor point raft at a
//! snapshot file. None of their messages reaches the group.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft::raftpb::{self, Entry, Message, MessageType, Snapshot, SnapshotMetadata};
use polyraft_host::net::devcerts::DevCa;
use polyraft_host::net::{NetConfig, NetHost};
use polyraft_host::*;
use polyraft_transport::{InboundHandler, Security, SnapshotSink, SnapshotStatus, TcpTransport, Transport as _, TransportConfig};

struct Null;

impl StateMachine for Null {
    fn apply(&mut self, e: &[Entry]) -> Vec<Bytes> {
        e.iter().map(|_| Bytes::new()).collect()
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

struct Ignore;

impl InboundHandler for Ignore {
    fn on_messages(&self, _: u64, _: Vec<(u64, Bytes)>) {}
    fn on_unreachable(&self, _: u64, _: Vec<u64>) {}
    fn on_snapshot_status(&self, _: u64, _: u64, _: SnapshotStatus) {}
    fn open_snapshot(&self, _: u64, _: u64, _: Bytes) -> std::io::Result<Box<dyn SnapshotSink>> {
        Err(std::io::Error::other("no"))
    }
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn forged_identities_and_references_never_reach_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let ca = DevCa::new("test CA").unwrap();
    let files: Vec<_> = (1..=4).map(|id| ca.write_host_files(&dir.path().join("certs"), id).unwrap()).collect();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let hosts: Vec<NetHost> = (1..=2u64)
        .map(|id| {
            let mut cfg = HostConfig::new(id);
            cfg.workers = 1;
            cfg.tick_interval = Duration::from_millis(10);
            cfg.election_ticks = 20;
            cfg.quiesce = false;
            let f = &files[id as usize - 1];
            let net = NetConfig::tls(any, &f.cert, &f.key, &f.ca);
            NetHost::start(cfg, net, Arc::new(MemLogStore::new()), Arc::new(MemSnapshotStore::new())).unwrap()
        })
        .collect();
    hosts[0].add_peer(2, hosts[1].local_addr().to_string());
    hosts[1].add_peer(1, hosts[0].local_addr().to_string());
    for (i, h) in hosts.iter().enumerate() {
        h.start_replica(1, i as u64 + 1, StartMode::Bootstrap(vec![(1, 1), (2, 2)]), Box::new(|_, _| Box::new(Null))).unwrap();
    }
    wait("a leader", || hosts[0].group_info(1).is_some_and(|i| i.leader != 0));
    hosts[0].propose(1, b"x", Duration::from_secs(5)).unwrap();
    let term = hosts[0].group_info(1).unwrap().term;
    let target = hosts[0].local_addr().to_string();

    // What an attacker would send: a vote request of a far later term from
    // replica 2 (which lives on host 2), and a snapshot naming a file.
    let vote = Message { r#type: MessageType::MsgVote as i32, from: 2, to: 1, term: term + 100, log_term: 1000, index: 1000, ..Default::default() };
    let snap_ref = DataRef { index: 1000, nonce: 1, size: 0, crc: 0 }.encode();
    let snap = Message {
        r#type: MessageType::MsgSnap as i32,
        from: 9,
        to: 1,
        term: term + 100,
        snapshot: Some(Box::new(Snapshot { data: snap_ref, metadata: Some(SnapshotMetadata { index: 1000, term: term + 100, ..Default::default() }) })),
        ..Default::default()
    };
    let attack = |as_host: u64, cert_of: usize| {
        let f = &files[cert_of];
        let mut tc = TransportConfig::new(as_host, any, Security::MutualTls(f.clone()));
        tc.peers.insert(1, target.clone());
        let t = TcpTransport::start(tc, Arc::new(Ignore)).unwrap();
        for _ in 0..5 {
            t.send(1, vec![(1, raftpb::encode(&vote)), (1, raftpb::encode(&snap))]);
            std::thread::sleep(Duration::from_millis(100));
        }
        t.shutdown();
    };

    // 1. Host 4's valid certificate, claiming to be host 2: the handshake
    //    is refused.
    let refused_before = hosts[0].transport_stats().connections_refused;
    attack(2, 3);
    assert!(hosts[0].transport_stats().connections_refused > refused_before, "the impostor was refused");
    // 2. Host 4 as itself (a valid identity), speaking for replica 2.
    let errors_before = hosts[0].metrics().step_errors;
    attack(4, 3);
    wait("the forged vote refused", || hosts[0].metrics().step_errors > errors_before);
    assert!(hosts[0].net_counters().forged_snapshot_refs.load(std::sync::atomic::Ordering::Relaxed) >= 1);

    // The group never saw either: same term, still led, still working.
    std::thread::sleep(Duration::from_millis(300));
    let info = hosts[0].group_info(1).unwrap();
    assert_eq!(info.term, term, "no forged message changed the term");
    assert_ne!(info.leader, 0);
    // A forwarded proposal lost with a dropped frame times out (its outcome
    // is unknown): retry, as a client would.
    let ok = (0..15).any(|i| hosts[i % 2].propose(1, b"y", Duration::from_secs(2)).is_ok());
    assert!(ok, "the group still commits: {:?}", hosts[1].group_info(1));
    assert_eq!(hosts[0].group_info(1).unwrap().term, term);
}
