//! Idle groups on the real network stay idle: once every group of three
//! TCP hosts has quiesced, the hosts' probes (sent every interval so that a
//! dead host is noticed while nothing else moves) keep their connections
//! open, drop nothing and wake no group. Probes used to be empty payloads,
//! which the transport refuses: every probe closed the connection, the
//! messages queued on it were reported lost, and the host woke every
//! group led from the other side, so quiescence never held (and every
//! 500 ms a busy group lost its in-flight appends).

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyraft_host::net::{NetConfig, NetHost};
use polyraft_host::*;

const GROUPS: u64 = 8;

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn probes_keep_connections_and_quiesced_groups_stay_quiesced() {
    let any = "127.0.0.1:0".parse().unwrap();
    let hosts: Vec<NetHost> = (1..=3u64)
        .map(|id| {
            let mut cfg = HostConfig::new(id);
            common::fast(&mut cfg);
            cfg.quiesce_after_elections = 1;
            let mut net = NetConfig::insecure_plaintext(any);
            net.probe_interval = Duration::from_millis(50);
            NetHost::start(cfg, net, Arc::new(MemLogStore::new()), Arc::new(MemSnapshotStore::new())).unwrap()
        })
        .collect();
    for a in &hosts {
        for b in &hosts {
            a.add_peer(b.id(), b.local_addr().to_string());
        }
    }
    let members: Vec<(u64, u64)> = (1..=3).map(|h| (h, h)).collect();
    for g in 1..=GROUPS {
        for h in &hosts {
            h.start_replica(g, h.id(), StartMode::Bootstrap(members.clone()), common::kv_factory()).unwrap();
        }
    }
    for g in 1..=GROUPS {
        wait("a leader", || hosts.iter().any(|h| h.group_info(g).is_some_and(|i| i.is_leader)));
        hosts[0].propose(g, b"k=v", Duration::from_secs(10)).unwrap();
    }
    wait("every group to quiesce", || hosts.iter().all(|h| h.metrics().active_groups == 0));

    let before: Vec<_> = hosts.iter().map(|h| (h.transport_stats(), h.metrics().wakeups)).collect();
    // Twenty probe intervals with nothing else to send.
    std::thread::sleep(Duration::from_secs(1));
    for (h, (stats, wakeups)) in hosts.iter().zip(before) {
        let now = h.transport_stats();
        assert!(now.frames_sent > stats.frames_sent, "host {}: no probe went out", h.id());
        assert_eq!(now.connections_refused, 0, "host {}: connections were closed: {now:?}", h.id());
        assert_eq!(now.messages_dropped, 0, "host {}: messages were dropped: {now:?}", h.id());
        assert_eq!(h.net_counters().hosts_reported_down.load(Ordering::Relaxed), 0, "host {}", h.id());
        assert_eq!(h.net_counters().malformed.load(Ordering::Relaxed), 0, "host {}", h.id());
        assert_eq!(h.metrics().wakeups, wakeups, "host {}: quiesced groups woke up", h.id());
        assert_eq!(h.metrics().active_groups, 0, "host {}", h.id());
    }
    for h in &hosts {
        h.close();
    }
}
