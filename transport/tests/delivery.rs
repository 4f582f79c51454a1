//! Loopback delivery between real transports, over mutual TLS and over plain
//! TCP when named, and coalescing of many groups' messages into frames.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use polyraft_transport::Transport;

#[test]
fn three_hosts_exchange_messages_in_order_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 3, true, |_| {});
    for n in &nodes {
        for m in &nodes {
            if n.id == m.id {
                continue;
            }
            for i in 0..50u64 {
                n.t.send(m.id, vec![(i % 5, Bytes::from(format!("{}->{} #{i}", n.id, m.id)))]);
            }
        }
    }
    for m in &nodes {
        assert!(wait_until(Duration::from_secs(10), || m.rec.count() == 100), "host {} got {}", m.id, m.rec.count());
        let got = m.rec.delivered();
        for from in nodes.iter().map(|n| n.id).filter(|&id| id != m.id) {
            let mine: Vec<_> = got.iter().filter(|(f, _, _)| *f == from).collect();
            assert_eq!(mine.len(), 50);
            for (i, (_, g, b)) in mine.iter().enumerate() {
                assert_eq!(*g, i as u64 % 5);
                assert_eq!(b, &Bytes::from(format!("{from}->{} #{i}", m.id)), "in order");
            }
        }
        assert!(m.rec.unreachable.lock().is_empty());
    }
}

#[test]
fn plaintext_only_when_named_and_it_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, false, |_| {});
    nodes[0].t.send(2, vec![(7, msg("plain"))]);
    assert!(wait_until(Duration::from_secs(5), || nodes[1].rec.count() == 1));
    assert_eq!(nodes[1].rec.delivered()[0], (1, 7, msg("plain")));
}

#[test]
fn heartbeats_of_many_groups_ride_in_few_frames() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |_| {});
    // Establish the connection first, so the batch below is not just queued
    // behind a dial.
    nodes[0].t.send(2, vec![(0, msg("warm-up"))]);
    assert!(wait_until(Duration::from_secs(5), || nodes[1].rec.count() == 1));
    let frames_before = nodes[1].rec.frames.load(std::sync::atomic::Ordering::SeqCst);
    // One engine tick: a heartbeat for each of 1000 groups, in one call.
    let heartbeats: Vec<_> = (1..=1000u64).map(|g| (g, Bytes::from(vec![g as u8; 24]))).collect();
    nodes[0].t.send(2, heartbeats);
    assert!(wait_until(Duration::from_secs(5), || nodes[1].rec.count() == 1001));
    let frames = nodes[1].rec.frames.load(std::sync::atomic::Ordering::SeqCst) - frames_before;
    println!("1000 heartbeats of 1000 groups arrived in {frames} frame(s)");
    assert_eq!(frames, 1, "one send of 1000 groups' heartbeats is one frame");
    // Many small sends while the writer is busy coalesce too. (On a loaded
    // machine the outbox may fill: what it drops is reported, never lost
    // silently.)
    for g in 0..5000u64 {
        nodes[0].t.send(2, vec![(g, Bytes::from(vec![1u8; 24]))]);
    }
    assert!(wait_until(Duration::from_secs(10), || {
        nodes[1].rec.count() as u64 + nodes[0].t.stats().messages_dropped == 6001
    }));
    let s = nodes[0].t.stats();
    println!("sender stats: {s:?}");
    assert_eq!(s.messages_sent + s.messages_dropped, 6001);
    assert_eq!(s.messages_dropped as usize, nodes[0].rec.unreachable.lock().len());
    assert!(s.frames_sent < s.messages_sent, "coalesced: {} frames for {} messages", s.frames_sent, s.messages_sent);
}

#[test]
fn a_frame_never_exceeds_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |c| {
        c.max_frame_bytes = 64 * 1024;
        c.snapshot_chunk_bytes = 16 * 1024;
    });
    // 100 messages of 10 KiB cannot share one 64 KiB frame.
    let batch: Vec<_> = (0..100u64).map(|g| (g, Bytes::from(vec![3u8; 10 * 1024]))).collect();
    nodes[0].t.send(2, batch);
    assert!(wait_until(Duration::from_secs(5), || nodes[1].rec.count() == 100));
    let frames = nodes[1].rec.frames.load(std::sync::atomic::Ordering::SeqCst);
    assert!(frames >= 16, "{frames} frames for 1000 KiB under a 64 KiB limit");
    // A single message over the limit is refused at send and reported.
    nodes[0].t.send(2, vec![(9, Bytes::from(vec![0u8; 70 * 1024]))]);
    assert_eq!(nodes[0].rec.unreachable.lock().last().cloned(), Some((2, vec![9])));
}
