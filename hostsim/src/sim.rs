//! One simulated cluster run: N hosts × G groups driven by one thread on a
//! simulated clock, a seeded fault schedule, a client workload with
//! sessions, and the checks at the end.
//!
//! A run has four phases:
//! 1. **faults**: clients put, get and compare-and-set keys of every group
//!    while hosts crash (also inside log writes), disks fail, fill, stall,
//!    the network loses, duplicates, delays and partitions, clocks jump,
//!    and replicas are added and removed;
//! 2. **recovery**: faults stop (crashed hosts restart, links heal, disks
//!    recover); every group must commit a probe write within a bound;
//! 3. **restart**: clients finish, every host crashes at once (unsynced
//!    data lost, torn tails) and restarts; every group must commit again;
//! 4. **checks**: per-key linearizability of the whole client history,
//!    every acknowledged write present on every member, replicas equal at
//!    equal applied indexes (also checked on every apply), no operation
//!    applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft_host::{Clock, Completion, SnapshotStore, Host, HostConfig, HostParts, MemSnapshotStore, Membership, OpError, OpResult, Session, SimClock, StartMode};

use crate::disk::{HostClock, SimDisk};
use crate::kv::{self, Command, Observer};
use crate::linz;
use crate::net::{NetFaults, SimNet};

/// Simulated time between two driver steps.
const STEP: Duration = Duration::from_millis(2);
const TICK: Duration = Duration::from_millis(10);
/// Election timeout in ticks (100 ms).
const ELECTION_TICKS: usize = 10;
/// Keys of a probe write (one per group) are `PROBE_KEY` within the group.
const PROBE_KEY: u64 = 999;

/// Which run to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every kind of fault, at seeded rates.
    Chaos,
    /// A clean network and one fault: the disk of the host leading the most
    /// groups stalls for longer than the bound; its groups must elect other
    /// leaders and commit within the bound (hashicorp/raft#503).
    LeaderStall,
}

/// The shape of a run, drawn from its seed.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed of every random choice.
    pub seed: u64,
    /// What to do.
    pub scenario: Scenario,
    /// Hosts (3 to 5).
    pub hosts: u64,
    /// Raft groups (each starts with 3 replicas on 3 hosts).
    pub groups: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Keys per group.
    pub keys: u64,
    /// Length of the fault phase.
    pub fault_time: Duration,
    /// After faults stop (or after the full restart), every group must
    /// commit a write within this time.
    pub recovery_bound: Duration,
    /// Leader stall: its groups must have a new leader and a commit within
    /// this time of the stall's start.
    pub stall_bound: Duration,
    /// A client's operation timeout.
    pub op_timeout: Duration,
    /// Take snapshots every this many entries.
    pub snapshot_entries: u64,
    /// Entries kept behind a snapshot.
    pub compaction_overhead: u64,
    /// Print the schedule as it happens.
    pub verbose: bool,
}

impl SimConfig {
    /// The run of `seed`: every tenth seed is a leader-stall run.
    pub fn from_seed(seed: u64) -> Self {
        let scenario = if seed % 10 == 9 { Scenario::LeaderStall } else { Scenario::Chaos };
        Self::with_scenario(seed, scenario)
    }

    /// The run of `seed` in `scenario`.
    pub fn with_scenario(seed: u64, scenario: Scenario) -> Self {
        let mut rng = fastrand::Rng::with_seed(kv::chain(seed, &[0x5eed]));
        SimConfig {
            seed,
            scenario,
            hosts: rng.u64(3..=5),
            groups: rng.u64(2..=4),
            clients: rng.usize(3..=6),
            keys: rng.u64(2..=4),
            fault_time: Duration::from_millis(rng.u64(3000..=6000)),
            recovery_bound: Duration::from_secs(10),
            stall_bound: Duration::from_millis(1500),
            op_timeout: Duration::from_millis(rng.u64(200..=800)),
            snapshot_entries: rng.u64(5..=40),
            compaction_overhead: rng.u64(0..=10),
            verbose: false,
        }
    }
}

/// What a run (or many) did: workload outcomes and faults injected.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Runs.
    pub runs: u64,
    /// Operations completed (puts, cas, gets).
    pub ops_ok: u64,
    /// Operations whose outcome stayed unknown (timed out, given up).
    pub ops_unknown: u64,
    /// Operations rejected (certainly not applied) or reads that failed.
    pub ops_failed: u64,
    /// Attempts that timed out (retried in the session).
    pub timeouts: u64,
    /// Hosts crashed between steps.
    pub crashes: u64,
    /// Hosts crashed inside a log write.
    pub crashes_mid_write: u64,
    /// Unsynced log records lost by crashes.
    pub records_lost: u64,
    /// Unsynced log records kept by crashes (torn tails).
    pub records_torn_kept: u64,
    /// fdatasync failures injected.
    pub fsync_errors: u64,
    /// Disk-full periods.
    pub enospc: u64,
    /// Disk stalls.
    pub stalls: u64,
    /// Symmetric partitions.
    pub partitions: u64,
    /// One-way partitions.
    pub one_way: u64,
    /// Clock jumps.
    pub clock_jumps: u64,
    /// Messages lost, duplicated, long-delayed, dropped on cut links.
    pub msgs_lost: u64,
    /// See `msgs_lost`.
    pub msgs_dup: u64,
    /// See `msgs_lost`.
    pub msgs_delayed: u64,
    /// See `msgs_lost`.
    pub msgs_cut: u64,
    /// Membership changes that completed.
    pub conf_changes: u64,
    /// Of those, removals that left a group of two with one voter.
    pub removals_to_one: u64,
    /// Snapshots installed from leaders.
    pub snapshots_installed: u64,
    /// Longest time from the end of faults (or the full restart) to a
    /// commit in every group.
    pub max_recovery: Duration,
    /// Longest time from a leader's disk stall to a new leader and a
    /// commit in each of its groups.
    pub max_stall_failover: Duration,
    /// Longest time from a leader's disk stall to a leader on another host
    /// in each of its groups (the commit then waits on the client's retry).
    pub max_stall_new_leader: Duration,
    /// Per-key histories checked and their operations.
    pub keys_checked: u64,
}

impl Stats {
    /// Adds another run's counters.
    pub fn merge(&mut self, o: &Stats) {
        self.runs += o.runs;
        self.ops_ok += o.ops_ok;
        self.ops_unknown += o.ops_unknown;
        self.ops_failed += o.ops_failed;
        self.timeouts += o.timeouts;
        self.crashes += o.crashes;
        self.crashes_mid_write += o.crashes_mid_write;
        self.records_lost += o.records_lost;
        self.records_torn_kept += o.records_torn_kept;
        self.fsync_errors += o.fsync_errors;
        self.enospc += o.enospc;
        self.stalls += o.stalls;
        self.partitions += o.partitions;
        self.one_way += o.one_way;
        self.clock_jumps += o.clock_jumps;
        self.msgs_lost += o.msgs_lost;
        self.msgs_dup += o.msgs_dup;
        self.msgs_delayed += o.msgs_delayed;
        self.msgs_cut += o.msgs_cut;
        self.conf_changes += o.conf_changes;
        self.removals_to_one += o.removals_to_one;
        self.snapshots_installed += o.snapshots_installed;
        self.max_recovery = self.max_recovery.max(o.max_recovery);
        self.max_stall_failover = self.max_stall_failover.max(o.max_stall_failover);
        self.max_stall_new_leader = self.max_stall_new_leader.max(o.max_stall_new_leader);
        self.keys_checked += o.keys_checked;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runs {}; operations: {} ok, {} unknown, {} failed; {} attempts timed out", self.runs, self.ops_ok, self.ops_unknown, self.ops_failed, self.timeouts)?;
        writeln!(
            f,
            "faults: {} crashes + {} inside a log write ({} unsynced records lost, {} kept torn); {} fsync errors; {} ENOSPC; {} disk stalls; {} partitions + {} one-way; {} clock jumps",
            self.crashes, self.crashes_mid_write, self.records_lost, self.records_torn_kept, self.fsync_errors, self.enospc, self.stalls, self.partitions, self.one_way, self.clock_jumps
        )?;
        writeln!(f, "messages: {} lost, {} duplicated, {} long-delayed, {} cut", self.msgs_lost, self.msgs_dup, self.msgs_delayed, self.msgs_cut)?;
        writeln!(
            f,
            "membership changes {} ({} leaving one voter); snapshots installed {}; keys checked {}",
            self.conf_changes, self.removals_to_one, self.snapshots_installed, self.keys_checked
        )?;
        write!(
            f,
            "worst recovery after faults {:?}; worst leader-stall failover {:?} (new leaders after {:?})",
            self.max_recovery, self.max_stall_failover, self.max_stall_new_leader
        )
    }
}

/// A failed run: the seed, what broke, and how to replay it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: Scenario,
    /// The violations found.
    pub violations: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {} ({:?}): {} violation(s)", self.seed, self.scenario, self.violations.len())?;
        for v in self.violations.iter().take(10) {
            writeln!(f, "  {v}")?;
        }
        write!(f, "reproduce: cargo run --release -p polyraft-hostsim --bin sim_host -- --seed {} --verbose", self.seed)
    }
}

/// Who waits for an operation's outcome.
#[derive(Debug, Clone, Copy)]
enum Waiter {
    Client(usize),
    Reconf,
}

type Inbox = Arc<Mutex<Vec<(u64, OpResult<Bytes>, u64)>>>;

/// Delivers an outcome to the simulator's inbox exactly once: when the host
/// drops an operation without completing it (its process crashed), the
/// client sees a lost connection, i.e. an unknown outcome.
struct Reply {
    token: u64,
    inbox: Inbox,
    events: Arc<AtomicU64>,
    fired: bool,
}

impl Reply {
    fn fire(&mut self, r: OpResult<Bytes>) {
        self.fired = true;
        let ev = self.events.fetch_add(1, Ordering::SeqCst);
        self.inbox.lock().push((self.token, r, ev));
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.fired {
            self.fire(Err(OpError::TimedOut));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Put,
    Cas { expect: u64 },
    Get,
}

/// A client's operation in progress.
#[derive(Debug, Clone)]
struct InFlight {
    kind: OpKind,
    group: u64,
    key: u64,
    op: u64,
    /// Index in the key's history.
    hist: usize,
    attempts: u32,
    any_timeout: bool,
    retry_at: Option<Duration>,
    token: u64,
    /// When the current attempt was sent: the client gives up on an
    /// attempt the host does not answer (a frozen host cannot time it out).
    sent_at: Duration,
}

struct Client {
    id: u64,
    sessions: BTreeMap<u64, Session>,
    busy: Option<InFlight>,
    next_at: Duration,
    /// Last value seen per (group, key): what a cas expects.
    seen: BTreeMap<(u64, u64), u64>,
    /// A probe client writes only its group's probe key, retrying forever.
    probe: Option<u64>,
    /// When the probe's write completed.
    probe_done: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct HistOp {
    op: linz::Op,
    dropped: bool,
}

/// A membership change in progress.
#[derive(Debug, Clone, Copy)]
enum Reconf {
    Idle { next_at: Duration },
    Adding { group: u64, replica: u64, host: u64, attempts: u32, token: u64 },
    Removing { group: u64, replica: u64, attempts: u32, token: u64 },
}

struct Slot {
    host: Option<Host>,
    disk: SimDisk,
    snaps: MemSnapshotStore,
    clock: HostClock,
    /// Down: restart at this time.
    restart_at: Option<Duration>,
    /// Its log failed: the supervisor restarts it at this time.
    broken_until: Option<Duration>,
}

/// A whole simulated cluster.
pub struct Sim {
    cfg: SimConfig,
    clock: SimClock,
    net: SimNet,
    rng: fastrand::Rng,
    slots: BTreeMap<u64, Slot>,
    initial: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Replicas the simulator started, per group: replica -> host.
    placement: BTreeMap<u64, BTreeMap<u64, u64>>,
    next_replica: BTreeMap<u64, u64>,
    /// Replicas whose removal completed, per group: replica -> host. A
    /// host restarts one if its log still holds the group (it was
    /// lingering when the host went down), as a host restarts every
    /// replica its log has.
    /// (group, host) -> replica: the latest one removed there.
    retired: BTreeMap<(u64, u64), u64>,
    /// Per group, the voters and learners as the most advanced running
    /// replica knows them. A replica whose log lost the group is started
    /// again only if it is still a member: a host restarts the replicas its
    /// log holds and those the group's membership places on it, and a
    /// replica that finished its removal is neither.
    /// (applied index it is as of, members); it only moves forward.
    members_view: BTreeMap<u64, (u64, BTreeSet<u64>)>,
    observer: Observer,
    events: Arc<AtomicU64>,
    inbox: Inbox,
    waiters: BTreeMap<u64, Waiter>,
    next_token: u64,
    clients: Vec<Client>,
    reconf: Reconf,
    history: BTreeMap<(u64, u64), Vec<HistOp>>,
    /// (group, key, op): writes whose success was acknowledged.
    acked: Vec<(u64, u64, u64)>,
    next_op: u64,
    workload: bool,
    stats: Stats,
    violations: Vec<String>,
    /// Partitions and one-way cuts end at these times.
    cuts_until: Vec<(Duration, Vec<(u64, u64)>)>,
    enospc_until: BTreeMap<u64, Duration>,
    /// Probes are sent to other hosts than this one (a stalled leader:
    /// the check measures failover, not the client's timeout).
    probe_avoid: Option<u64>,
    /// Hosts started so far (each start gets its own seed).
    incarnations: u64,
}

fn reply<T: Send + 'static>(inbox: &Inbox, events: &Arc<AtomicU64>, token: u64, conv: fn(T) -> Bytes) -> Completion<T> {
    let mut r = Reply { token, inbox: inbox.clone(), events: events.clone(), fired: false };
    Box::new(move |res: OpResult<T>| r.fire(res.map(conv)))
}

impl Sim {
    /// Builds the cluster of `cfg` and bootstraps its groups.
    pub fn new(cfg: SimConfig) -> Self {
        let clock = SimClock::new();
        let net = SimNet::new(clock.clone(), kv::chain(cfg.seed, &[1]));
        let mut rng = fastrand::Rng::with_seed(kv::chain(cfg.seed, &[2]));
        let mut slots = BTreeMap::new();
        for h in 1..=cfg.hosts {
            let hc = HostClock { base: clock.clone(), offset: Arc::default() };
            slots.insert(
                h,
                Slot { host: None, disk: SimDisk::new(h, clock.clone(), net.clone()), snaps: MemSnapshotStore::new(), clock: hc, restart_at: None, broken_until: None },
            );
        }
        let mut initial = BTreeMap::new();
        let mut placement = BTreeMap::new();
        let mut next_replica = BTreeMap::new();
        for g in 1..=cfg.groups {
            let mut hosts: Vec<u64> = (1..=cfg.hosts).collect();
            rng.shuffle(&mut hosts);
            let members: Vec<(u64, u64)> = hosts[..3].iter().enumerate().map(|(i, h)| (i as u64 + 1, *h)).collect();
            placement.insert(g, members.iter().copied().collect::<BTreeMap<_, _>>());
            initial.insert(g, members);
            next_replica.insert(g, 4);
        }
        let clients = (0..cfg.clients)
            .map(|i| Client::new(i as u64 + 1, cfg.groups, None))
            .chain((1..=cfg.groups).map(|g| Client::new(1000 + g, cfg.groups, Some(g))))
            .collect();
        let mut sim = Sim {
            clock,
            net,
            rng,
            slots,
            initial,
            placement,
            next_replica,
            retired: BTreeMap::new(),
            members_view: BTreeMap::new(),
            observer: Observer::default(),
            events: Arc::new(AtomicU64::new(1)),
            inbox: Inbox::default(),
            waiters: BTreeMap::new(),
            next_token: 1,
            clients,
            reconf: Reconf::Idle { next_at: Duration::from_millis(500) },
            history: BTreeMap::new(),
            acked: Vec::new(),
            next_op: 1,
            workload: true,
            stats: Stats { runs: 1, ..Default::default() },
            violations: Vec::new(),
            cuts_until: Vec::new(),
            enospc_until: BTreeMap::new(),
            probe_avoid: None,
            incarnations: 0,
            cfg,
        };
        for h in 1..=sim.cfg.hosts {
            sim.start_host(h);
        }
        sim
    }

    fn now(&self) -> Duration {
        self.clock.now()
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.cfg.verbose {
            eprintln!("[{:>8.3}s] {}", self.now().as_secs_f64(), what());
        }
    }

    // ---- hosts ----

    fn start_host(&mut self, h: u64) {
        let slot = &self.slots[&h];
        let mut hc = HostConfig::new(h);
        hc.manual = true;
        hc.workers = 1;
        // Each run of a host needs its own seed: proposal keys are drawn
        // from it, and a restarted host must not reuse the keys of entries
        // its previous run left in the log.
        self.incarnations += 1;
        hc.seed = Some(kv::chain(self.cfg.seed, &[3, h, self.incarnations]));
        hc.tick_interval = TICK;
        hc.election_ticks = ELECTION_TICKS;
        hc.heartbeat_ticks = 1;
        hc.snapshot_entries = self.cfg.snapshot_entries;
        hc.compaction_overhead = self.cfg.compaction_overhead;
        hc.purge_interval = Duration::ZERO;
        // A third of the seeds give the hosts election priorities (some
        // equal), fixed per host across restarts.
        if kv::chain(self.cfg.seed, &[7]) % 3 == 0 {
            hc.election_priority = (kv::chain(self.cfg.seed, &[8, h]) % 4) as i64;
        }
        let parts = HostParts {
            log: Arc::new(slot.disk.clone()),
            snapshots: Arc::new(slot.snaps.clone()),
            transport: self.net.endpoint(h),
            clock: Arc::new(slot.clock.clone()),
        };
        let host = match Host::new(hc, parts) {
            Ok(host) => host,
            Err(e) => {
                self.violations.push(format!("host {h} failed to start: {e}"));
                return;
            }
        };
        self.net.register(h, host.inbound());
        let mut failed = false;
        let in_log: BTreeSet<u64> = polyraft_host::LogStore::groups(&slot.disk.log).into_iter().collect();
        let mut todo: Vec<(u64, u64)> = Vec::new();
        for (g, reps) in &self.placement {
            let has_snap = slot.snaps.load(*g).ok().flatten().is_some();
            for (r, _) in reps.iter().filter(|(_, hh)| **hh == h) {
                let member = self.members_view.get(g).is_none_or(|(_, m)| m.contains(r));
                if in_log.contains(g) || has_snap || member {
                    todo.push((*g, *r));
                } else if self.cfg.verbose {
                    eprintln!("host {h}: replica {r} of group {g} has no state left: not restarted");
                }
            }
        }
        for ((g, hh), r) in &self.retired {
            if *hh == h && in_log.contains(g) && !self.placement[g].values().any(|x| *x == h) {
                todo.push((*g, *r));
            }
        }
        {
            for (g, r) in &todo {
                let mode = if self.initial[g].iter().any(|(ir, ih)| ir == r && *ih == h) {
                    StartMode::Bootstrap(self.initial[g].clone())
                } else {
                    StartMode::Join
                };
                if let Err(e) = host.start_replica(*g, *r, mode, kv::factory(self.observer.clone())) {
                    if matches!(e, polyraft_host::HostError::Removed(_)) {
                        // It applied its own removal before the crash (the
                        // simulator's view of the membership may lag).
                        if self.cfg.verbose {
                            eprintln!("host {h}: replica {r} of group {g} not restarted: {e}");
                        }
                    } else if slot.disk.failing() {
                        // The disk is full (or failed) again: the host
                        // stays broken and its supervisor retries later.
                        failed = true;
                    } else {
                        self.violations.push(format!("host {h}: replica {r} of group {g} failed to restart: {e}"));
                    }
                }
            }
        }
        let retry = Duration::from_millis(self.rng.u64(50..=300));
        let now = self.now();
        let slot = self.slots.get_mut(&h).unwrap();
        slot.host = Some(host);
        slot.restart_at = None;
        slot.broken_until = failed.then_some(now + retry);
    }

    /// Kills host `h` now: in-flight operations are lost, the log keeps a
    /// random prefix of its unsynced records.
    fn crash_host(&mut self, h: u64, restart_after: Option<Duration>) {
        let slot = self.slots.get_mut(&h).unwrap();
        let Some(host) = slot.host.take() else { return };
        self.net.unregister(h);
        drop(host);
        let unsynced = slot.disk.log.unsynced_records();
        let keep = if unsynced == 0 { 0 } else { self.rng.usize(0..=unsynced) };
        self.stats.records_lost += (unsynced - keep) as u64;
        self.stats.records_torn_kept += keep as u64;
        slot.disk.crash(keep);


        slot.restart_at = restart_after.map(|d| self.clock.now() + d);
        slot.broken_until = None;
        for (o, s) in &self.slots {
            if *o != h {
                if let Some(host) = &s.host {
                    host.report_host_down(h);
                }
            }
        }
        self.log(|| format!("host {h} crashed ({keep} of {unsynced} unsynced records kept)"));
    }

    fn up_hosts(&self) -> Vec<u64> {
        self.slots.iter().filter(|(_, s)| s.host.is_some()).map(|(h, _)| *h).collect()
    }

    /// Hosts down, broken or stalled.
    fn impaired(&self) -> usize {
        self.slots.values().filter(|s| s.host.is_none() || s.broken_until.is_some() || s.disk.ctl.lock().stalled_until.is_some()).count()
    }

    /// One driver step: deliver due frames, run every host that is not
    /// blocked until it is idle, route outcomes, advance the clock.
    fn step(&mut self) {
        let now = self.now();
        // Restarts and the end of stalls, disk-full periods and cuts.
        let hosts: Vec<u64> = self.slots.keys().copied().collect();
        for h in &hosts {
            let (restart, broken, stall_end) = {
                let s = &self.slots[h];
                (s.restart_at, s.broken_until, s.disk.ctl.lock().stalled_until)
            };
            if stall_end.is_some_and(|t| t <= now) {
                self.slots[h].disk.end_stall();
                self.log(|| format!("host {h}: disk stall ends"));
            }
            if broken.is_some_and(|t| t <= now) {
                // The supervisor restarts a host whose log failed.
                self.crash_host(*h, Some(Duration::ZERO));
            }
            if restart.is_some_and(|t| t <= now) || self.slots[h].restart_at.is_some_and(|t| t <= now) {
                self.log(|| format!("host {h} restarts"));
                self.start_host(*h);
            }
            if self.enospc_until.get(h).is_some_and(|t| *t <= now) {
                self.enospc_until.remove(h);
                self.slots[h].disk.ctl.lock().full = false;
            }
        }
        let (ended, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.cuts_until).into_iter().partition(|(t, _)| *t <= now);
        self.cuts_until = keep;
        for (_, links) in ended {
            for (a, b) in links {
                self.net.set_cut(a, b, false);
            }
        }
        self.net.deliver_due();
        for h in &hosts {
            self.run_host(*h);
        }
        self.route_outcomes();
        self.update_members_view();
        self.drive_clients();
        self.drive_reconf();
        self.route_outcomes();
        self.clock.advance(STEP);
    }

    fn update_members_view(&mut self) {
        for g in 1..=self.cfg.groups {
            let best = self.slots.values().filter_map(|s| s.host.as_ref()?.group_info(g)).filter(|i| i.applied > 0).max_by_key(|i| (i.applied, i.term));
            if let Some(i) = best.filter(|i| self.members_view.get(&g).is_none_or(|(a, _)| i.applied >= *a)) {
                self.members_view.insert(g, (i.applied, i.voters.iter().chain(&i.learners).copied().collect()));
            }
        }
        // A host starts the replicas the membership places on it (a
        // joining replica whose host restarted before its addition
        // committed has no log to be found in).
        let mut todo = Vec::new();
        for (g, reps) in &self.placement {
            let Some((_, members)) = self.members_view.get(g) else { continue };
            for (r, h) in reps {
                let s = &self.slots[h];
                let Some(host) = &s.host else { continue };
                if members.contains(r) && s.broken_until.is_none() && host.group_info(*g).is_none() && !polyraft_host::LogStore::groups(&s.disk.log).contains(g) {
                    todo.push((*g, *r, *h));
                }
            }
        }
        for (g, r, h) in todo {
            let host = self.slots[&h].host.as_ref().unwrap();
            self.log(|| format!("host {h}: starting replica {r} of group {g} (a member without state here)"));
            if let Err(e) = host.start_replica(g, r, StartMode::Join, kv::factory(self.observer.clone())) {
                if !self.slots[&h].disk.failing() {
                    self.violations.push(format!("host {h}: starting member replica {r} of group {g}: {e}"));
                }
            }
        }
    }

    fn run_host(&mut self, h: u64) {
        for _ in 0..10_000 {
            let slot = &self.slots[&h];
            let Some(host) = &slot.host else { return };
            {
                let c = slot.disk.ctl.lock();
                if c.blocked {
                    return; // the worker waits on the stalled write
                }
            }
            let more = host.run_once();
            let (died, failed) = {
                let c = slot.disk.ctl.lock();
                (c.died, c.write_failed)
            };
            if died {
                self.stats.crashes_mid_write += 1;
                let d = Duration::from_millis(self.rng.u64(50..=1000));
                self.crash_host(h, Some(d));
                return;
            }
            if failed && slot.broken_until.is_none() {
                let d = Duration::from_millis(self.rng.u64(20..=500));
                let until = self.now() + d;
                self.slots.get_mut(&h).unwrap().broken_until = Some(until);
                self.log(|| format!("host {h}: log write failed; restarts in {d:?}"));
            }
            if !more {
                return;
            }
        }
        self.violations.push(format!("host {h} never went idle in one step (a busy loop)"));
    }

    // ---- clients ----

    fn token(&mut self, w: Waiter) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        self.waiters.insert(t, w);
        t
    }

    fn pick_host(&mut self, avoid: Option<u64>) -> Option<u64> {
        let up: Vec<u64> = self.up_hosts().into_iter().filter(|h| Some(*h) != avoid).collect();
        (!up.is_empty()).then(|| up[self.rng.usize(..up.len())])
    }

    fn drive_clients(&mut self) {
        let now = self.now();
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            match &c.busy {
                Some(f) if f.retry_at.is_some_and(|t| t <= now) => self.submit(i),
                Some(f) if f.retry_at.is_none() && now > f.sent_at + self.cfg.op_timeout * 2 => {
                    // The client's own timeout: the outcome is unknown.
                    let token = f.token;
                    self.waiters.remove(&token);
                    let ev = self.events.fetch_add(1, Ordering::SeqCst);
                    self.client_outcome(i, token, Err(OpError::TimedOut), ev);
                }
                Some(_) => {}
                None if c.probe.is_none() && self.workload && c.next_at <= now => self.start_op(i),
                None => {}
            }
        }
    }

    fn start_op(&mut self, i: usize) {
        let g = self.rng.u64(1..=self.cfg.groups);
        let key = self.rng.u64(0..self.cfg.keys);
        let kind = match self.rng.u32(0..10) {
            0..=3 => OpKind::Put,
            4..=6 => OpKind::Get,
            _ => OpKind::Cas { expect: self.clients[i].seen.get(&(g, key)).copied().unwrap_or(0) },
        };
        self.begin(i, kind, g, key);
    }

    /// Starts a probe write in group `g` (retried until it completes).
    fn start_probe(&mut self, g: u64) {
        let i = self.clients.iter().position(|c| c.probe == Some(g)).unwrap();
        self.clients[i].probe_done = None;
        self.begin(i, OpKind::Put, g, PROBE_KEY);
    }

    fn begin(&mut self, i: usize, kind: OpKind, g: u64, key: u64) {
        let op = self.next_op;
        self.next_op += 1;
        let call = self.events.fetch_add(1, Ordering::SeqCst);
        let lk = match kind {
            OpKind::Put => linz::Kind::Put(op),
            OpKind::Get => linz::Kind::Get(0),
            OpKind::Cas { expect } => linz::Kind::Cas { expect, new: op, ok: None },
        };
        let h = self.history.entry((g, key)).or_default();
        h.push(HistOp { op: linz::Op { call, ret: linz::NEVER, kind: lk }, dropped: false });
        let hist = h.len() - 1;
        self.clients[i].busy = Some(InFlight { kind, group: g, key, op, hist, attempts: 0, any_timeout: false, retry_at: None, token: 0, sent_at: Duration::ZERO });
        self.submit(i);
    }

    fn submit(&mut self, i: usize) {
        let token = self.token(Waiter::Client(i));
        let f = {
            let f = self.clients[i].busy.as_mut().unwrap();
            f.retry_at = None;
            f.sent_at = self.clock.now();
            f.attempts += 1;
            f.token = token;
            f.clone()
        };
        let avoid = if self.clients[i].probe.is_some() { self.probe_avoid } else { None };
        let Some(h) = self.pick_host(avoid) else {
            // Nobody to talk to: a connection refused, certainly not applied.
            self.inbox.lock().push((token, Err(OpError::rejected("no host is up")), self.events.fetch_add(1, Ordering::SeqCst)));
            return;
        };
        let host = self.slots[&h].host.as_ref().unwrap();
        let timeout = self.cfg.op_timeout;
        match f.kind {
            OpKind::Get => {
                host.read_async(f.group, &kv::query(f.key), timeout, reply(&self.inbox, &self.events, token, |b| b));
            }
            OpKind::Put | OpKind::Cas { .. } => {
                let cmd = match f.kind {
                    OpKind::Cas { expect } => Command::Cas { op: f.op, key: f.key, expect },
                    _ => Command::Put { op: f.op, key: f.key },
                };
                let session = &self.clients[i].sessions[&f.group];
                host.propose_session_async(session, &cmd.encode(), timeout, reply(&self.inbox, &self.events, token, |b| b));
            }
        }
    }

    fn route_outcomes(&mut self) {
        loop {
            let batch = std::mem::take(&mut *self.inbox.lock());
            if batch.is_empty() {
                return;
            }
            for (token, res, ev) in batch {
                match self.waiters.remove(&token) {
                    Some(Waiter::Client(i)) => self.client_outcome(i, token, res, ev),
                    Some(Waiter::Reconf) => self.reconf_outcome(token, res),
                    None => {}
                }
            }
        }
    }

    fn client_outcome(&mut self, i: usize, token: u64, res: OpResult<Bytes>, ev: u64) {
        let now = self.now();
        let max_attempts = if self.clients[i].probe.is_some() { u32::MAX } else { 4 };
        let Some(mut f) = self.clients[i].busy.clone().filter(|f| f.token == token) else { return };
        let hist = &mut self.history.get_mut(&(f.group, f.key)).unwrap()[f.hist];
        let done = match (&f.kind, res) {
            (OpKind::Get, Ok(v)) => {
                let v = kv::decode_u64(&v).unwrap_or(u64::MAX);
                hist.op.ret = ev;
                hist.op.kind = linz::Kind::Get(v);
                self.clients[i].seen.insert((f.group, f.key), v);
                self.stats.ops_ok += 1;
                true
            }
            (OpKind::Get, Err(_)) => {
                // A failed read tells nothing.
                hist.dropped = true;
                self.stats.ops_failed += 1;
                true
            }
            (OpKind::Put | OpKind::Cas { .. }, Ok(v)) => {
                let ok = kv::decode_u64(&v) == Some(1);
                hist.op.ret = ev;
                if let linz::Kind::Cas { ok: o, .. } = &mut hist.op.kind {
                    *o = Some(ok);
                } else if !ok {
                    self.violations.push(format!("put {} (client {}, group {}, key {}, attempt {}) returned {:?}", f.op, self.clients[i].id, f.group, f.key, f.attempts, v));
                }
                if ok {
                    self.acked.push((f.group, f.key, f.op));
                    self.clients[i].seen.insert((f.group, f.key), f.op);
                }
                self.stats.ops_ok += 1;
                if self.clients[i].probe.is_some() {
                    self.clients[i].probe_done = Some(now);
                }
                true
            }
            (_, Err(e)) => {
                if e == OpError::TimedOut {
                    f.any_timeout = true;
                    self.stats.timeouts += 1;
                }
                if f.attempts < max_attempts {
                    // Retry with the same session series: applied at most once.
                    f.retry_at = Some(now + Duration::from_millis(self.rng.u64(5..=60)));
                    self.clients[i].busy = Some(f);
                    return;
                }
                if f.any_timeout {
                    self.stats.ops_unknown += 1; // stays in the history, no return
                } else {
                    hist.dropped = true; // every attempt certainly not applied
                    self.stats.ops_failed += 1;
                }
                true
            }
        };
        if done {
            let c = &mut self.clients[i];
            if !matches!(f.kind, OpKind::Get) {
                c.sessions.get_mut(&f.group).unwrap().proposal_completed();
            }
            c.busy = None;
            c.next_at = now + Duration::from_millis(self.rng.u64(0..=30));
        }
    }

    // ---- membership ----

    fn drive_reconf(&mut self) {
        let now = self.now();
        let Reconf::Idle { next_at } = self.reconf else { return };
        if !self.workload || next_at > now || self.cfg.scenario != Scenario::Chaos {
            return;
        }
        self.reconf = Reconf::Idle { next_at: now + Duration::from_millis(self.rng.u64(300..=1500)) };
        let g = self.rng.u64(1..=self.cfg.groups);
        let reps = self.placement[&g].clone();
        // Decide on the leader's configuration. Groups of two lose a voter
        // now and then: the remaining one must still recover if it forgets
        // that the removal committed (seed 316632; the removed replica
        // waits for its confirmation).
        // The leader of the highest term: a deposed leader cut off from the
        // others still believes it leads, with an older configuration.
        let leader = self.slots.values().filter_map(|s| s.host.as_ref()?.group_info(g)).filter(|i| i.is_leader).max_by_key(|i| (i.term, i.applied));
        let Some(leader) = leader else { return };
        let used: BTreeSet<u64> = reps.values().copied().collect();
        // A removed replica that never learned of its removal keeps running
        // on its host: that host is not free either.
        let free: Vec<u64> = (1..=self.cfg.hosts)
            .filter(|h| !used.contains(h) && self.slots[h].host.as_ref().is_some_and(|x| x.group_info(g).is_none()))
            .collect();
        let voters = leader.voters.len();
        if voters >= 4 || voters == 3 && (free.is_empty() || self.rng.bool()) || voters == 2 && self.rng.u64(0..4) == 0 {
            let v = leader.voters[self.rng.usize(..voters)];
            self.propose_change(g, Membership::RemoveReplica { replica: v }, 0);
            return;
        }
        if free.is_empty() {
            return;
        }
        let h = free[self.rng.usize(..free.len())];
        let r = self.next_replica[&g];
        *self.next_replica.get_mut(&g).unwrap() += 1;
        let host = self.slots[&h].host.as_ref().unwrap();
        if let Err(e) = host.start_replica(g, r, StartMode::Join, kv::factory(self.observer.clone())) {
            if self.slots[&h].disk.failing() {
                return; // the disk is full or failed: the start may fail
            }
            self.violations.push(format!("host {h}: starting joining replica {r} of group {g}: {e}"));
            return;
        }
        self.placement.get_mut(&g).unwrap().insert(r, h);
        self.retired.remove(&(g, h));
        self.log(|| format!("group {g}: adding replica {r} on host {h}"));
        self.propose_change(g, Membership::AddReplica { replica: r, host: h }, 0);
    }

    fn propose_change(&mut self, g: u64, change: Membership, attempts: u32) {
        let token = self.token(Waiter::Reconf);
        self.reconf = match change {
            Membership::AddReplica { replica, host } => Reconf::Adding { group: g, replica, host, attempts: attempts + 1, token },
            Membership::RemoveReplica { replica } => Reconf::Removing { group: g, replica, attempts: attempts + 1, token },
            Membership::AddLearner { .. } => unreachable!("the simulator adds voters"),
        };
        // Through a host holding a replica of the group (followers forward).
        let holders: Vec<u64> = self.placement[&g].values().copied().filter(|h| self.slots[h].host.is_some()).collect();
        let timeout = self.cfg.op_timeout * 2;
        match holders.get(self.rng.usize(..holders.len().max(1))) {
            Some(h) => self.slots[h].host.as_ref().unwrap().change_membership_async(g, change, timeout, reply(&self.inbox, &self.events, token, |()| Bytes::new())),
            None => self.inbox.lock().push((token, Err(OpError::rejected("no holder up")), 0)),
        }
    }

    fn reconf_outcome(&mut self, token: u64, res: OpResult<Bytes>) {
        let next_at = self.now() + Duration::from_millis(self.rng.u64(300..=1500));
        match self.reconf {
            Reconf::Adding { group, replica, host, attempts, token: t } if t == token => match res {
                Ok(_) => {
                    self.stats.conf_changes += 1;
                    self.log(|| format!("group {group}: replica {replica} on host {host} added"));
                    self.reconf = Reconf::Idle { next_at: self.now() + Duration::from_millis(self.rng.u64(50..=300)) };
                }
                Err(e) if attempts < 3 => {
                    self.log(|| format!("group {group}: adding replica {replica}: {e}"));
                    self.propose_change(group, Membership::AddReplica { replica, host }, attempts)
                }
                Err(_) => self.reconf = Reconf::Idle { next_at },
            },
            Reconf::Removing { group, replica, attempts, token: t } if t == token => match res {
                Ok(_) => {
                    self.stats.conf_changes += 1;
                    self.log(|| format!("group {group}: replica {replica} removed"));
                    if self.placement[&group].len() == 2 {
                        self.stats.removals_to_one += 1;
                    }
                    if let Some(h) = self.placement.get_mut(&group).unwrap().remove(&replica) {
                        self.retired.insert((group, h), replica);
                    }
                    self.reconf = Reconf::Idle { next_at };
                }
                Err(e) if attempts < 3 => {
                    self.log(|| format!("group {group}: removing replica {replica}: {e}"));
                    self.propose_change(group, Membership::RemoveReplica { replica }, attempts)
                }
                Err(_) => self.reconf = Reconf::Idle { next_at },
            },
            _ => {}
        }
    }

    // ---- faults ----

    fn chance(&mut self, per_second: f64) -> bool {
        self.rng.f64() < per_second * STEP.as_secs_f64()
    }

    fn inject_faults(&mut self, rates: &Rates) {
        let now = self.now();
        let minority = ((self.cfg.hosts - 1) / 2) as usize;
        let n = self.cfg.hosts;
        if self.chance(rates.net) {
            let f = NetFaults {
                loss: self.rng.f64() * rates.max_loss,
                dup: self.rng.f64() * 0.1,
                max_delay: Duration::from_micros(self.rng.u64(500..=15_000)),
                long_delay: self.rng.f64() * 0.03,
            };
            self.net.set_faults(f);
        }
        let up = self.up_hosts();
        if self.impaired() < minority && !up.is_empty() {
            let h = up[self.rng.usize(..up.len())];
            if self.chance(rates.crash) {
                self.stats.crashes += 1;
                let d = Duration::from_millis(self.rng.u64(50..=1500));
                self.crash_host(h, Some(d));
            } else if self.chance(rates.mid_write) {
                self.slots[&h].disk.ctl.lock().crash_in_next_write = true;
            } else if self.chance(rates.fsync) {
                self.stats.fsync_errors += 1;
                self.slots[&h].disk.ctl.lock().fail_next_fsync = true;
                self.log(|| format!("host {h}: the next fsync fails"));
            } else if self.chance(rates.enospc) {
                self.stats.enospc += 1;
                self.slots[&h].disk.ctl.lock().full = true;
                self.enospc_until.insert(h, now + Duration::from_millis(self.rng.u64(50..=1000)));
                self.log(|| format!("host {h}: disk full"));
            } else if self.chance(rates.stall) {
                self.stats.stalls += 1;
                let h = self.most_leading().unwrap_or(h);
                let until = now + Duration::from_millis(self.rng.u64(100..=2500));
                self.slots[&h].disk.ctl.lock().stalled_until = Some(until);
                self.log(|| format!("host {h}: disk stalls until {until:?}"));
            }
        }
        if self.chance(rates.partition) {
            let mut hosts: Vec<u64> = (1..=n).collect();
            self.rng.shuffle(&mut hosts);
            let cut_at = self.rng.usize(1..hosts.len());
            let (a, b) = hosts.split_at(cut_at);
            let mut links = Vec::new();
            for x in a {
                for y in b {
                    links.push((*x, *y));
                    links.push((*y, *x));
                }
            }
            self.stats.partitions += 1;
            self.cut(links, now);
        } else if self.chance(rates.one_way) {
            let a = self.rng.u64(1..=n);
            let b = loop {
                let b = self.rng.u64(1..=n);
                if b != a {
                    break b;
                }
            };
            self.stats.one_way += 1;
            self.cut(vec![(a, b)], now);
        }
        if self.chance(rates.clock_jump) {
            let h = self.rng.u64(1..=n);
            self.stats.clock_jumps += 1;
            let d = Duration::from_millis(self.rng.u64(50..=3000));
            self.slots[&h].clock.jump(d);
            self.log(|| format!("host {h}: clock jumps {d:?} ahead"));
        }
    }

    fn cut(&mut self, links: Vec<(u64, u64)>, now: Duration) {
        let until = now + Duration::from_millis(self.rng.u64(100..=2500));
        self.log(|| format!("cut {links:?} until {until:?}"));
        for (a, b) in &links {
            self.net.set_cut(*a, *b, true);
        }
        self.cuts_until.push((until, links));
    }

    /// The up host whose replicas lead the most groups.
    fn most_leading(&self) -> Option<u64> {
        let mut best: Option<(usize, u64)> = None;
        for (h, s) in &self.slots {
            let Some(host) = &s.host else { continue };
            let n = (1..=self.cfg.groups).filter(|g| host.group_info(*g).is_some_and(|i| i.is_leader)).count();
            if best.is_none_or(|(b, _)| n > b) {
                best = Some((n, *h));
            }
        }
        best.map(|(_, h)| h)
    }

    /// Ends every fault: links heal, the network is clean, disks recover,
    /// hosts that are down or broken restart now.
    fn heal(&mut self) {
        self.net.heal();
        self.cuts_until.clear();
        self.net.set_faults(NetFaults { max_delay: Duration::from_millis(2), ..Default::default() });
        let hosts: Vec<u64> = self.slots.keys().copied().collect();
        for h in hosts {
            self.slots[&h].disk.end_stall();
            {
                let mut c = self.slots[&h].disk.ctl.lock();
                c.full = false;
                c.crash_in_next_write = false;
                c.fail_next_fsync = false;
            }
            let s = &self.slots[&h];
            if s.broken_until.is_some() {
                self.crash_host(h, Some(Duration::ZERO));
            }
            if self.slots[&h].host.is_none() {
                self.start_host(h);
            }
        }
        self.enospc_until.clear();
    }

    /// Probes every group until each commits a write or `bound` passes;
    /// returns the time it took.
    fn await_available(&mut self, what: &str, bound: Duration) -> Duration {
        let start = self.now();
        for g in 1..=self.cfg.groups {
            self.start_probe(g);
        }
        while self.now() < start + bound {
            self.step();
            if self.clients.iter().all(|c| c.probe.is_none() || c.probe_done.is_some()) {
                return self.now() - start;
            }
        }
        self.log(|| self.describe());
        for c in &self.clients {
            if let (Some(g), None) = (c.probe, c.probe_done) {
                self.violations.push(format!("group {g} did not commit a write within {bound:?} {what}"));
            }
        }
        bound
    }

    // ---- the run ----

    /// Runs the scenario and the checks; `Ok` with the run's statistics or
    /// the violations found.
    pub fn run(mut self) -> Result<Stats, Failure> {
        let rates = Rates::draw(&mut self.rng);
        self.net.set_faults(NetFaults { max_delay: Duration::from_millis(2), ..Default::default() });
        // Let the groups elect leaders before the workload.
        let warmup = Duration::from_millis(500);
        while self.now() < warmup {
            self.step();
        }
        let end = warmup + self.cfg.fault_time;
        let mut stall: Option<(Duration, u64, Vec<u64>)> = None;
        let mut new_leaders = false;
        while self.now() < end {
            match self.cfg.scenario {
                Scenario::Chaos => self.inject_faults(&rates),
                Scenario::LeaderStall if stall.is_none() && self.now() >= warmup + Duration::from_millis(1000) => {
                    stall = self.start_leader_stall();
                }
                Scenario::LeaderStall => {}
            }
            self.step();
            if let Some((t0, h, groups)) = &stall {
                if !new_leaders && !groups.is_empty() && self.led_elsewhere(*h, groups) {
                    new_leaders = true;
                    self.stats.max_stall_new_leader = self.stats.max_stall_new_leader.max(self.now() - *t0);
                }
                if self.stall_failover_done(*h, groups) {
                    let d = self.now() - *t0;
                    self.stats.max_stall_failover = self.stats.max_stall_failover.max(d);
                    self.log(|| format!("leader stall: groups {groups:?} of host {h} have new leaders and commits after {d:?}"));
                    stall = Some((Duration::MAX, *h, Vec::new()));
                } else if *t0 != Duration::MAX && self.now() > *t0 + self.cfg.stall_bound {
                    self.log(|| self.describe());
                    self.violations.push(format!(
                        "host {h}'s disk stalled at {t0:?} while it led groups {groups:?}: they had no other leader with a commit within {:?}",
                        self.cfg.stall_bound
                    ));
                    stall = Some((Duration::MAX, *h, Vec::new()));
                }
            }
        }
        self.probe_avoid = None;
        self.heal();
        self.log(|| "faults stop".into());
        let rec = self.await_available("after faults stopped", self.cfg.recovery_bound);
        self.stats.max_recovery = self.stats.max_recovery.max(rec);
        // Clients finish their operations (retries included).
        self.workload = false;
        let deadline = self.now() + self.cfg.op_timeout * 6 + Duration::from_secs(1);
        while self.clients.iter().any(|c| c.busy.is_some()) && self.now() < deadline {
            self.step();
        }
        for c in &self.clients {
            if let Some(f) = &c.busy {
                self.violations.push(format!("client {}: operation {} never completed", c.id, f.op));
            }
        }
        // Every host crashes at once and restarts: acknowledged writes
        // must survive.
        for h in 1..=self.cfg.hosts {
            self.crash_host(h, None);
        }
        for h in 1..=self.cfg.hosts {
            self.start_host(h);
        }
        self.log(|| "every host restarted".into());
        let rec = self.await_available("after every host restarted", self.cfg.recovery_bound);
        self.stats.max_recovery = self.stats.max_recovery.max(rec);
        self.settle();
        self.check_final();
        self.collect_stats();
        if self.violations.is_empty() {
            Ok(self.stats)
        } else {
            Err(Failure { seed: self.cfg.seed, scenario: self.cfg.scenario, violations: self.violations })
        }
    }

    /// Leader stall: the disk of the host leading the most groups stops
    /// completing writes for longer than the bound.
    fn start_leader_stall(&mut self) -> Option<(Duration, u64, Vec<u64>)> {
        let h = self.most_leading()?;
        let host = self.slots[&h].host.as_ref()?;
        let groups: Vec<u64> = (1..=self.cfg.groups).filter(|g| host.group_info(*g).is_some_and(|i| i.is_leader)).collect();
        if groups.is_empty() {
            return None;
        }
        let now = self.now();
        self.stats.stalls += 1;
        self.slots[&h].disk.ctl.lock().stalled_until = Some(now + self.cfg.stall_bound * 3);
        self.log(|| format!("leader stall: host {h} (leading {groups:?}) stops completing writes"));
        self.probe_avoid = Some(h);
        for g in &groups {
            self.start_probe(*g);
        }
        Some((now, h, groups))
    }

    /// Whether every group in `groups` has a leader on another host that
    /// committed the group's probe write.
    fn stall_failover_done(&self, stalled: u64, groups: &[u64]) -> bool {
        !groups.is_empty()
            && self.led_elsewhere(stalled, groups)
            && groups.iter().all(|g| self.clients.iter().any(|c| c.probe == Some(*g) && c.probe_done.is_some()))
    }

    /// Whether every group in `groups` has a leader on a host other than
    /// `stalled`.
    fn led_elsewhere(&self, stalled: u64, groups: &[u64]) -> bool {
        groups.iter().all(|g| {
            self.slots.iter().any(|(h, s)| *h != stalled && s.host.as_ref().and_then(|x| x.group_info(*g)).is_some_and(|i| i.is_leader))
        })
    }

    /// Every replica's view of its group and the probes' state (verbose
    /// output on a violation).
    fn describe(&self) -> String {
        let mut out = String::from("state:");
        for (h, s) in &self.slots {
            let Some(host) = &s.host else {
                out.push_str(&format!("\n  host {h}: down"));
                continue;
            };
            for g in 1..=self.cfg.groups {
                if let Some(i) = host.group_info(g) {
                    out.push_str(&format!(
                        "\n  host {h} g{g} r{} lead {} (me: {}) term {} commit {} applied {} last {} snap {} voters {:?} quiesced {}",
                        i.replica, i.leader, i.is_leader, i.term, i.committed, i.applied, i.last_index, i.snapshot_index, i.voters, i.quiesced
                    ));
                }
            }
        }
        for c in self.clients.iter().filter(|c| c.probe.is_some()) {
            out.push_str(&format!("\n  probe g{}: done {:?} busy {:?}", c.probe.unwrap(), c.probe_done, c.busy));
        }
        out
    }

    /// Runs until every running replica has applied its group's commit.
    fn settle(&mut self) {
        let deadline = self.now() + Duration::from_secs(5);
        while self.now() < deadline {
            self.step();
            if self.caught_up() {
                return;
            }
        }
        self.log(|| format!("not caught up: {}", self.describe()));
    }

    fn caught_up(&self) -> bool {
        (1..=self.cfg.groups).all(|g| {
            let infos: Vec<_> = self.slots.values().filter_map(|s| s.host.as_ref()?.group_info(g)).collect();
            let Some(leader) = infos.iter().find(|i| i.is_leader) else { return false };
            infos.iter().filter(|i| leader.voters.contains(&i.replica) || leader.learners.contains(&i.replica)).all(|i| i.applied == leader.committed)
        })
    }

    /// Every member's state holds every acknowledged write, members at the
    /// same applied index hold the same state, and every key's history is
    /// linearizable.
    fn check_final(&mut self) {
        self.violations.extend(std::mem::take(&mut self.observer.lock().violations));
        for g in 1..=self.cfg.groups {
            let mut states: Vec<(u64, u64, BTreeMap<u64, Vec<u64>>)> = Vec::new();
            let leader = self.slots.values().filter_map(|s| s.host.as_ref()?.group_info(g)).find(|i| i.is_leader);
            let Some(leader) = leader else {
                self.violations.push(format!("group {g} has no leader at the end"));
                continue;
            };
            for (h, s) in &self.slots {
                let Some(host) = &s.host else { continue };
                let Some(info) = host.group_info(g) else { continue };
                if !leader.voters.contains(&info.replica) && !leader.learners.contains(&info.replica) {
                    continue;
                }
                let cell = Arc::new(Mutex::new(None));
                let c2 = cell.clone();
                host.stale_read_async(g, b"writes", Box::new(move |r| *c2.lock() = Some(r)));
                while host.run_once() {}
                let Some(Ok(b)) = cell.lock().take() else {
                    self.violations.push(format!("group {g}: host {h} could not read its state"));
                    continue;
                };
                let Some(writes) = kv::decode_writes(&b) else {
                    self.violations.push(format!("group {g}: host {h} returned a malformed state"));
                    continue;
                };
                for (ag, key, op) in &self.acked {
                    if *ag == g && !writes.get(key).is_some_and(|w| w.contains(op)) {
                        self.violations.push(format!(
                            "acknowledged write {op} to key {key} of group {g} is missing on host {h} (replica {}, applied {})",
                            info.replica, info.applied
                        ));
                    }
                }
                states.push((*h, info.applied, writes));
            }
            for w in states.windows(2) {
                if w[0].1 == w[1].1 && w[0].2 != w[1].2 {
                    self.violations.push(format!("group {g}: hosts {} and {} differ at applied index {}", w[0].0, w[1].0, w[0].1));
                }
            }
        }
        for ((g, key), ops) in &self.history {
            let h: Vec<linz::Op> = ops.iter().filter(|o| !o.dropped).map(|o| o.op).collect();
            self.stats.keys_checked += 1;
            if let Err(v) = linz::check(&h, 0) {
                let mut msg = format!("group {g} key {key}: history not linearizable ({} ops); longest linearizable prefix {:?}; history:", h.len(), v.best.len());
                for o in h.iter().take(60) {
                    let ret = if o.ret == linz::NEVER { "?".to_string() } else { o.ret.to_string() };
                    msg.push_str(&format!(" [{}..{} {:?}]", o.call, ret, o.kind));
                }
                self.violations.push(msg);
            }
        }
    }

    fn collect_stats(&mut self) {
        let n = self.net.stats();
        self.stats.msgs_lost = n.lost;
        self.stats.msgs_dup = n.duplicated;
        self.stats.msgs_delayed = n.delayed;
        self.stats.msgs_cut = n.cut;
        for s in self.slots.values() {
            if let Some(h) = &s.host {
                self.stats.snapshots_installed += h.metrics().snapshots_installed;
            }
        }
    }
}

impl Client {
    fn new(id: u64, groups: u64, probe: Option<u64>) -> Self {
        Client {
            id,
            sessions: (1..=groups).map(|g| (g, Session::new(g, id))).collect(),
            busy: None,
            next_at: Duration::ZERO,
            seen: BTreeMap::new(),
            probe,
            probe_done: None,
        }
    }
}

/// Fault rates (per simulated second) of one chaos run.
struct Rates {
    net: f64,
    max_loss: f64,
    crash: f64,
    mid_write: f64,
    fsync: f64,
    enospc: f64,
    stall: f64,
    partition: f64,
    one_way: f64,
    clock_jump: f64,
}

impl Rates {
    fn draw(rng: &mut fastrand::Rng) -> Self {
        let mut r = |max: f64| if rng.u32(0..4) == 0 { 0.0 } else { rng.f64() * max };
        Rates {
            net: r(2.0),
            max_loss: r(0.3),
            crash: r(1.0),
            mid_write: r(1.0),
            fsync: r(0.6),
            enospc: r(0.5),
            stall: r(0.6),
            partition: r(0.6),
            one_way: r(0.6),
            clock_jump: r(0.6),
        }
    }
}

/// Runs one configuration; a panic (of the engine or the simulator) is a
/// failure of that seed too.
pub fn run_one(cfg: SimConfig) -> Result<Stats, Failure> {
    let (seed, scenario) = (cfg.seed, cfg.scenario);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Sim::new(cfg).run())) {
        Ok(r) => r,
        Err(p) => {
            let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default();
            Err(Failure { seed, scenario, violations: vec![format!("panic: {what}")] })
        }
    }
}

/// Runs seeds `start..start + count` (in `scenario`, or each seed's own);
/// stops at the first failure.
pub fn run_seeds(start: u64, count: u64, scenario: Option<Scenario>, verbose: bool, mut progress: impl FnMut(u64, &Stats)) -> Result<Stats, Failure> {
    let mut total = Stats::default();
    for seed in start..start + count {
        let mut cfg = scenario.map_or_else(|| SimConfig::from_seed(seed), |s| SimConfig::with_scenario(seed, s));
        cfg.verbose = verbose;
        let s = run_one(cfg)?;
        total.merge(&s);
        progress(seed, &total);
    }
    Ok(total)
}
