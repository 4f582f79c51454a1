//! Shared test fixtures: a small KV state machine and an in-process
//! cluster of hosts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use polyraft::raftpb::Entry;
use polyraft_host::*;

/// Commands: `set k v` (result: the old value), `incr k` (result: the new
/// count). Lookup: the value of a key.
#[derive(Default)]
pub struct Kv {
    pub map: BTreeMap<String, String>,
}

impl StateMachine for Kv {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        entries
            .iter()
            .map(|e| {
                let cmd = String::from_utf8_lossy(&e.data).to_string();
                let mut it = cmd.splitn(3, ' ');
                match (it.next(), it.next(), it.next()) {
                    (Some("set"), Some(k), Some(v)) => Bytes::from(self.map.insert(k.into(), v.into()).unwrap_or_default()),
                    (Some("incr"), Some(k), None) => {
                        let n = self.map.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
                        self.map.insert(k.into(), n.to_string());
                        Bytes::from(n.to_string())
                    }
                    _ => Bytes::from_static(b"?"),
                }
            })
            .collect()
    }
    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for (k, v) in &self.map {
            writeln!(w, "{k}\t{v}")?;
        }
        Ok(())
    }
    fn restore(&mut self, r: &mut dyn Read) -> std::io::Result<()> {
        let mut s = String::new();
        r.read_to_string(&mut s)?;
        self.map = s.lines().filter_map(|l| l.split_once('\t')).map(|(k, v)| (k.into(), v.into())).collect();
        Ok(())
    }
    fn lookup(&self, q: &[u8]) -> Bytes {
        Bytes::from(self.map.get(&*String::from_utf8_lossy(q)).cloned().unwrap_or_default())
    }
}

pub fn kv_factory() -> StateMachineFactory {
    Box::new(|_, _| Box::new(Kv::default()))
}

pub const T: Duration = Duration::from_secs(5);

/// Threaded hosts joined by an in-process network; host i runs replica i
/// of every group. Logs and snapshot stores survive a host restart.
pub struct Cluster {
    pub net: InProcNetwork,
    pub hosts: BTreeMap<u64, Host>,
    pub logs: BTreeMap<u64, MemLogStore>,
    pub snaps: BTreeMap<u64, MemSnapshotStore>,
    pub tune: fn(&mut HostConfig),
    /// With a directory, hosts keep their log and snapshots on disk there
    /// (FileLogStore, FileSnapshotStore) instead of in memory.
    pub disk: Option<tempfile::TempDir>,
}

/// 10 ms ticks; elections after 200 ms, so that a loaded CI machine
/// (2 cores shared by several jobs) does not trigger spurious elections.
pub fn fast(c: &mut HostConfig) {
    c.tick_interval = Duration::from_millis(10);
    c.election_ticks = 20;
    c.workers = 2;
}

/// Runs a membership change until `done` holds. A change may time out
/// (forwarded to a leader that just lost its role: the outcome is unknown)
/// or be rejected (raft refused it while another change was pending, or a
/// timed-out earlier attempt was applied after all); the caller's `done`
/// says whether the wanted configuration is in place.
pub fn change_until(mut change: impl FnMut() -> OpResult<()>, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        match change() {
            Ok(()) => return,
            Err(_) if done() => return,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(30), "membership change keeps failing: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Cluster {
    pub fn new(n: u64, tune: fn(&mut HostConfig)) -> Self {
        Self::build(n, tune, None)
    }

    /// Hosts with their logs and snapshots in a temporary directory.
    pub fn on_disk(n: u64, tune: fn(&mut HostConfig)) -> Self {
        Self::build(n, tune, Some(tempfile::tempdir().unwrap()))
    }

    fn build(n: u64, tune: fn(&mut HostConfig), disk: Option<tempfile::TempDir>) -> Self {
        let mut c = Cluster { net: InProcNetwork::new(), hosts: BTreeMap::new(), logs: BTreeMap::new(), snaps: BTreeMap::new(), tune, disk };
        for h in 1..=n {
            c.start_host(h);
        }
        c
    }

    pub fn start_host(&mut self, h: u64) {
        let mut cfg = HostConfig::new(h);
        fast(&mut cfg);
        (self.tune)(&mut cfg);
        let (log, snaps): (Arc<dyn LogStore>, Arc<dyn SnapshotStore>) = match &self.disk {
            Some(d) => {
                let dir = d.path().join(format!("host{h}"));
                let log = FileLogStore::open(dir.join("log"), Default::default()).unwrap();
                (Arc::new(log), Arc::new(FileSnapshotStore::open(dir.join("snap")).unwrap()))
            }
            None => (
                Arc::new(self.logs.entry(h).or_default().clone()),
                Arc::new(self.snaps.entry(h).or_default().clone()),
            ),
        };
        let host = Host::new(
            cfg,
            HostParts {
                log,
                snapshots: snaps,
                transport: self.net.endpoint(h),
                clock: Arc::new(SystemClock::default()),
            },
        )
        .unwrap();
        self.net.register(h, host.inbound());
        self.hosts.insert(h, host);
    }

    pub fn stop_host(&mut self, h: u64) {
        self.net.unregister(h);
        if let Some(host) = self.hosts.remove(&h) {
            host.close();
        }
    }

    pub fn host(&self, h: u64) -> &Host {
        &self.hosts[&h]
    }

    /// Bootstraps `groups` with replicas 1..=3 on hosts 1..=3.
    pub fn bootstrap(&self, groups: impl Iterator<Item = u64> + Clone) {
        let members: Vec<(u64, u64)> = (1..=3).map(|i| (i, i)).collect();
        for h in 1..=3 {
            for g in groups.clone() {
                self.host(h).start_replica(g, h, StartMode::Bootstrap(members.clone()), kv_factory()).unwrap();
            }
        }
    }

    /// Waits until every group has a leader all of `hosts` agree on;
    /// returns group -> leader replica.
    pub fn wait_leaders(&self, groups: impl Iterator<Item = u64> + Clone, hosts: &[u64]) -> BTreeMap<u64, u64> {
        let start = Instant::now();
        loop {
            let mut out = BTreeMap::new();
            let mut all = true;
            for g in groups.clone() {
                let leads: Vec<u64> = hosts.iter().map(|h| self.host(*h).group_info(g).map_or(0, |i| i.leader)).collect();
                if leads[0] != 0 && leads.iter().all(|l| *l == leads[0]) {
                    out.insert(g, leads[0]);
                } else {
                    all = false;
                }
            }
            if all {
                return out;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no stable leaders after 30s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `f` holds, at most 30 s.
    pub fn wait_until(&self, what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
