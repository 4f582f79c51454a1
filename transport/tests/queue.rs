//! Bounded outboxes, unreachable reports, backoff and reconnection.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use polyraft_transport::devcerts::DevCa;
use polyraft_transport::{Security, TcpTransport, Transport};

fn groups_reported(rec: &Recorder, to: u64) -> Vec<u64> {
    rec.unreachable.lock().iter().filter(|(h, _)| *h == to).flat_map(|(_, g)| g.clone()).collect()
}

#[test]
fn a_full_outbox_drops_and_reports_the_excess() {
    // A peer that accepts TCP and never answers the TLS handshake: the
    // outbox fills while the dial hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = test_config(1, Security::MutualTls(ca.write_host_files(dir.path(), 1).unwrap()));
    cfg.queue_messages = 10;
    cfg.handshake_timeout = Duration::from_millis(500);
    let rec = Recorder::new();
    let t = TcpTransport::start(cfg, Arc::new(Handler(rec.clone()))).unwrap();
    t.add_peer(2, silent.local_addr().unwrap().to_string());
    for g in 0..25u64 {
        t.send(2, vec![(g, Bytes::from_static(b"append"))]);
    }
    assert_eq!(groups_reported(&rec, 2), (10..25).collect::<Vec<_>>(), "the 15 that did not fit, at once");
    // When the handshake times out, the 10 queued ones are dropped too.
    assert!(wait_until(Duration::from_secs(3), || groups_reported(&rec, 2).len() == 25));
    let mut all = groups_reported(&rec, 2);
    all.sort();
    assert_eq!(all, (0..25).collect::<Vec<_>>());
    assert_eq!(t.stats().messages_dropped, 25);
    // A byte bound applies as well.
    drop(t);
    let mut cfg = test_config(1, Security::InsecurePlaintext);
    cfg.queue_bytes = 1000;
    cfg.handshake_timeout = Duration::from_millis(500);
    let rec = Recorder::new();
    let t = TcpTransport::start(cfg, Arc::new(Handler(rec.clone()))).unwrap();
    t.add_peer(2, silent.local_addr().unwrap().to_string());
    t.send(2, vec![(1, Bytes::from(vec![0u8; 600])), (2, Bytes::from(vec![0u8; 600]))]);
    assert_eq!(groups_reported(&rec, 2), vec![2]);
}

#[test]
fn an_unreachable_or_unknown_host_is_reported_and_backed_off() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let rec = Recorder::new();
    let mut cfg = test_config(1, Security::InsecurePlaintext);
    cfg.backoff_min = Duration::from_secs(1);
    cfg.backoff_max = Duration::from_secs(2);
    let t = TcpTransport::start(cfg, Arc::new(Handler(rec.clone()))).unwrap();
    t.send(9, vec![(4, Bytes::from_static(b"x"))]);
    assert_eq!(groups_reported(&rec, 9), vec![4], "no address: reported at once");
    t.add_peer(2, addr.to_string());
    t.send(2, vec![(1, Bytes::from_static(b"x"))]);
    assert!(wait_until(Duration::from_secs(2), || groups_reported(&rec, 2) == vec![1]), "refused dial reported");
    // During the (1 s) backoff, sends are reported before send returns.
    t.send(2, vec![(2, Bytes::from_static(b"x"))]);
    assert_eq!(groups_reported(&rec, 2), vec![1, 2]);
}

#[test]
fn remove_peer_drops_its_outbox() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rec = Recorder::new();
    let t = TcpTransport::start(test_config(1, Security::InsecurePlaintext), Arc::new(Handler(rec.clone()))).unwrap();
    t.add_peer(2, silent.local_addr().unwrap().to_string());
    t.send(2, vec![(3, Bytes::from_static(b"x"))]);
    t.remove_peer(2);
    assert_eq!(groups_reported(&rec, 2), vec![3]);
    t.send(2, vec![(4, Bytes::from_static(b"x"))]);
    assert_eq!(groups_reported(&rec, 2), vec![3, 4]);
}

#[test]
fn reconnects_after_the_peer_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = DevCa::new("ca").unwrap();
    let files: Vec<_> = [1, 2].iter().map(|&id| ca.write_host_files(dir.path(), id).unwrap()).collect();
    let start = |id: u64, listen: std::net::SocketAddr| {
        let mut cfg = test_config(id, Security::MutualTls(files[id as usize - 1].clone()));
        cfg.listen = listen;
        let rec = Recorder::new();
        (TcpTransport::start(cfg, Arc::new(Handler(rec.clone()))).unwrap(), rec)
    };
    let (t1, rec1) = start(1, loopback());
    let (t2, rec2) = start(2, loopback());
    let addr2 = t2.local_addr();
    t1.add_peer(2, addr2.to_string());
    t1.send(2, vec![(1, msg("before"))]);
    assert!(wait_until(Duration::from_secs(5), || rec2.count() == 1));

    t2.shutdown();
    drop(t2);
    // Host 2 is down: host 1 learns it (EOF on its connection, then a
    // refused dial) and reports what it cannot send.
    assert!(wait_until(Duration::from_secs(5), || {
        t1.send(2, vec![(1, msg("while down"))]);
        std::thread::sleep(Duration::from_millis(10));
        rec1.unreachable_count(2) > 0
    }));

    let (t2, rec2) = start(2, addr2);
    let t0 = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || {
        t1.send(2, vec![(1, msg("after"))]);
        std::thread::sleep(Duration::from_millis(10));
        rec2.delivered().iter().any(|m| m.2 == msg("after"))
    }));
    println!("delivery resumed {:?} after the restart", t0.elapsed());
    // And host 2 can answer over its own connection.
    t2.add_peer(1, t1.local_addr().to_string());
    t2.send(1, vec![(1, msg("reply"))]);
    assert!(wait_until(Duration::from_secs(5), || rec1.count() == 1));
}
