//! The fault proxy between real TLS hosts: delay, partitions (both ways and
//! one way), cut connections, tampering, reordering and loss. Nothing forged
//! is ever delivered and delivery resumes when the fault ends.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use polyraft_transport::proxy::{FaultProxy, Faults};
use polyraft_transport::Transport;

/// Hosts 1 and 2; host 1 reaches host 2 through a proxy, host 2 reaches
/// host 1 directly.
fn pair() -> (tempfile::TempDir, Vec<Node>, FaultProxy) {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path(), 2, true, |c| c.write_timeout = Duration::from_millis(500));
    let proxy = FaultProxy::start(nodes[1].t.local_addr()).unwrap();
    nodes[0].t.add_peer(2, proxy.addr().to_string());
    (dir, nodes, proxy)
}

/// Sends numbered messages from host 1 until `n` distinct ones arrived at
/// host 2; returns how many were sent.
fn pump_until_delivered(nodes: &[Node], tag: &str, n: usize, limit: Duration) -> usize {
    pump_until(nodes, tag, n, limit, || true)
}

/// Like [`pump_until_delivered`], until `also` holds too.
fn pump_until(nodes: &[Node], tag: &str, n: usize, limit: Duration, mut also: impl FnMut() -> bool) -> usize {
    let mut sent = 0;
    let ok = wait_until(limit, || {
        nodes[0].t.send(2, vec![(1, Bytes::from(format!("{tag} {sent}")))]);
        sent += 1;
        std::thread::sleep(Duration::from_millis(2));
        nodes[1].rec.delivered().iter().filter(|m| m.2.starts_with(tag.as_bytes())).count() >= n && also()
    });
    assert!(ok, "{tag}: {n} messages delivered within {limit:?} ({sent} sent)");
    sent
}

/// Every message host 2 received is one host 1 sent, byte for byte.
fn assert_no_forgery(nodes: &[Node], sent: &HashSet<Bytes>) {
    for (from, g, b) in nodes[1].rec.delivered() {
        assert_eq!((from, g), (1, 1));
        assert!(sent.contains(&b), "forged or corrupted message delivered: {b:?}");
    }
}

#[test]
fn delay_is_added_and_messages_still_arrive() {
    let (_d, nodes, proxy) = pair();
    pump_until_delivered(&nodes, "warm", 1, Duration::from_secs(5));
    proxy.set(Faults { delay: Duration::from_millis(150), ..Faults::default() });
    let t0 = Instant::now();
    nodes[0].t.send(2, vec![(1, msg("slow"))]);
    assert!(wait_until(Duration::from_secs(5), || nodes[1].rec.delivered().iter().any(|m| m.2 == msg("slow"))));
    let took = t0.elapsed();
    println!("delayed message took {took:?}");
    assert!(took >= Duration::from_millis(150));
}

#[test]
fn a_partition_stops_delivery_and_healing_resumes_it() {
    let (_d, nodes, proxy) = pair();
    pump_until_delivered(&nodes, "before", 1, Duration::from_secs(5));
    proxy.set(Faults::partition());
    for i in 0..20 {
        nodes[0].t.send(2, vec![(1, Bytes::from(format!("during {i}")))]);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(!nodes[1].rec.delivered().iter().any(|m| m.2.starts_with(b"during")), "nothing crosses a partition");
    proxy.heal();
    let t0 = Instant::now();
    pump_until_delivered(&nodes, "after", 5, Duration::from_secs(10));
    println!("delivery resumed {:?} after healing", t0.elapsed());
}

#[test]
fn a_one_way_partition_blocks_one_direction_only() {
    let (_d, nodes, proxy) = pair();
    pump_until_delivered(&nodes, "before", 1, Duration::from_secs(5));
    proxy.set(Faults { block_forward: true, ..Faults::default() });
    nodes[0].t.send(2, vec![(1, msg("1 to 2 blocked"))]);
    nodes[1].t.send(1, vec![(1, msg("2 to 1 open"))]);
    assert!(wait_until(Duration::from_secs(5), || nodes[0].rec.delivered().iter().any(|m| m.2 == msg("2 to 1 open"))));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!nodes[1].rec.delivered().iter().any(|m| m.2 == msg("1 to 2 blocked")));
    proxy.heal();
    pump_until_delivered(&nodes, "healed", 3, Duration::from_secs(10));
}

#[test]
fn cut_connections_are_redialed() {
    let (_d, nodes, proxy) = pair();
    pump_until_delivered(&nodes, "a", 1, Duration::from_secs(5));
    for round in 0..3 {
        proxy.cut_all();
        pump_until_delivered(&nodes, &format!("round{round}"), 2, Duration::from_secs(5));
    }
}

#[test]
fn tampering_reordering_and_loss_never_deliver_forgeries() {
    let (_d, nodes, proxy) = pair();
    let clean = pump_until_delivered(&nodes, "clean", 1, Duration::from_secs(5));
    let mut sent_all: HashSet<Bytes> = (0..clean).map(|i| Bytes::from(format!("clean {i}"))).collect();
    for (name, faults) in [
        ("tamper", (Faults { tamper_rate: 0.05, ..Faults::default() }, true)),
        ("reorder", (Faults { reorder_rate: 0.05, ..Faults::default() }, true)),
        ("loss", (Faults { drop_rate: 0.1, jitter: Duration::from_millis(3), ..Faults::default() }, false)),
    ] {
        let (faults, detected_by_receiver) = (faults.0, faults.1);
        proxy.set(faults);
        let refused_before = nodes[1].t.stats().connections_refused;
        // Until 20 got through and, for tampering and reordering, the
        // receiver caught the fault at least once.
        let sent = pump_until(&nodes, name, 20, Duration::from_secs(30), || {
            !detected_by_receiver || nodes[1].t.stats().connections_refused > refused_before
        });
        for i in 0..sent {
            sent_all.insert(Bytes::from(format!("{name} {i}")));
        }
        let delivered = nodes[1].rec.delivered().iter().filter(|m| m.2.starts_with(name.as_bytes())).count();
        println!(
            "{name}: {sent} sent, {delivered} delivered, {} connections closed by the receiver",
            nodes[1].t.stats().connections_refused - refused_before
        );
        proxy.heal();
        assert_no_forgery(&nodes, &sent_all);
    }
    // Every surviving message arrived once at most (no duplicates).
    let all = nodes[1].rec.delivered();
    let distinct: HashSet<_> = all.iter().map(|m| m.2.clone()).collect();
    assert_eq!(distinct.len(), all.len());
}

#[test]
fn a_segment_held_for_reordering_on_a_quiet_link_still_arrives() {
    let (_d, nodes, proxy) = pair();
    pump_until_delivered(&nodes, "warm", 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    // Every segment is held for the next one; none follows this message.
    proxy.set(Faults { reorder_rate: 1.0, ..Faults::default() });
    nodes[0].t.send(2, vec![(1, msg("lonely"))]);
    assert!(
        wait_until(Duration::from_secs(2), || nodes[1].rec.delivered().iter().any(|m| m.2 == msg("lonely"))),
        "a held segment waits for the next one only a short while"
    );
}

#[test]
fn delay_is_latency_and_does_not_cap_throughput() {
    let (_d, nodes, proxy) = pair();
    pump_until_delivered(&nodes, "warm", 1, Duration::from_secs(5));
    proxy.set(Faults { delay: Duration::from_millis(50), ..Faults::default() });
    let t0 = Instant::now();
    for i in 0..100 {
        nodes[0].t.send(2, vec![(1, Bytes::from(format!("burst {i}")))]);
        std::thread::sleep(Duration::from_millis(2));
    }
    let last = Bytes::from("burst 99");
    assert!(wait_until(Duration::from_secs(10), || nodes[1].rec.delivered().iter().any(|m| m.2 == last)));
    let took = t0.elapsed();
    println!("100 segments 2 ms apart through a 50 ms link took {took:?}");
    // Delaying each segment one after another would take 100 × 50 ms.
    assert!(took < Duration::from_millis(2500), "the link delayed segments one after another: {took:?}");
}
