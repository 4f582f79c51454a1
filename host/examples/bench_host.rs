//! The host end to end (bench/README.md, "W4/W5"): a 3-node cluster as 3
//! OS processes on loopback, each a [`NetHost`] over a [`FileLogStore`]
//! (every write fdatasync'ed) and the TCP transport (plain, or mutual TLS
//! with development certificates), closed-loop clients proposing to the
//! leader, one JSON line of results on stdout.
//!
//! ```text
//! bench_host --concurrency C --duration S --size 128 --dir DIR
//!            [--warmup S] [--tls] [--groups G] [--idle S]
//! ```
//!
//! This process is node 1: it starts nodes 2 and 3 as copies of itself
//! (`--follower ID`, driven over their stdin), waits for every group to
//! elect a leader, moves every leadership to node 1 (for at most a
//! minute; `led_elsewhere` in the output counts the groups it could not
//! move, whose proposals node 1 forwards), then runs C clients
//! for the warmup and the measured duration. A client proposes one
//! command of `size` bytes to its group, waits for the state machine's
//! result and repeats: the n-th proposal of client i goes to group
//! `(i + n * C) % G + 1`, so the load is spread evenly over the groups.
//! Clients are completion callbacks (`Host::propose_async`), each
//! proposing the next command from the completion of the previous one: C
//! proposals are in flight at any time, without C threads.
//!
//! With `--idle S` (W5), before the load: once every group is quiesced on
//! every host, the CPU time of each process is measured over S seconds,
//! and the resident memory each host gained by starting its G replicas is
//! divided by G.
//!
//! Output: `library`, `variant`, `concurrency`, `writes`, `seconds`,
//! `writes_per_s`, `p50_ms`, `p99_ms`, `p999_ms`, `cpu_s` (user + system
//! of the 3 processes in the measured window), `fsync`; then `groups`,
//! `errors` and, with `--idle`, `idle_cpu_pct` (mean of the 3 hosts, % of
//! one core), `idle_cpu_pct_max`, `rss_per_group_kib` (mean of the 3).
//! Logs go to stderr; failures exit non-zero.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft::raftpb::Entry;
use polyraft_host::net::{devcerts, NetConfig, NetHost};
use polyraft_host::*;

/// How long a client waits for one proposal.
const PROPOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the cluster may take to elect, move leaders or quiesce.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(180);

type Res<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = if args.first().map(String::as_str) == Some("--follower") { follower(&args) } else { leader(&args) };
    if let Err(e) = out {
        eprintln!("bench_host: {e}");
        std::process::exit(1);
    }
}

/// The command line of node 1.
struct Opts {
    concurrency: usize,
    duration: f64,
    size: usize,
    dir: PathBuf,
    warmup: f64,
    tls: bool,
    groups: u64,
    idle: f64,
}

fn parse(args: &[String]) -> Res<Opts> {
    let mut o = Opts { concurrency: 1, duration: 10.0, size: 128, dir: PathBuf::new(), warmup: 1.0, tls: false, groups: 1, idle: 0.0 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        let num = |v: &String| v.parse::<f64>().map_err(|_| format!("{a}: not a number: {v}"));
        match a.as_str() {
            "--concurrency" => o.concurrency = num(val()?)? as usize,
            "--duration" => o.duration = num(val()?)?,
            "--size" => o.size = num(val()?)? as usize,
            "--dir" => o.dir = PathBuf::from(val()?),
            "--warmup" => o.warmup = num(val()?)?,
            "--groups" => o.groups = num(val()?)? as u64,
            "--idle" => o.idle = num(val()?)?,
            "--tls" => o.tls = true,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.dir.as_os_str().is_empty() {
        return Err("--dir is required".into());
    }
    if o.concurrency == 0 || o.groups == 0 || o.size < 16 || o.duration <= 0.0 {
        return Err("--concurrency and --groups must be positive, --size at least 16, --duration above 0".into());
    }
    Ok(o)
}

/// Starts host `id` with its log and snapshots under `dir/node-ID`.
fn start_node(id: u64, dir: &Path, tls: bool) -> Res<NetHost> {
    let listen = "127.0.0.1:0".parse().unwrap();
    let net = if tls {
        let c = dir.join("certs");
        NetConfig::tls(listen, c.join(format!("host-{id}.pem")), c.join(format!("host-{id}.key")), c.join("ca.pem"))
    } else {
        NetConfig::insecure_plaintext(listen)
    };
    let data = dir.join(format!("node-{id}"));
    let log = Arc::new(FileLogStore::open(data.join("log"), Default::default()).map_err(|e| format!("log: {e}"))?);
    let snaps = Arc::new(FileSnapshotStore::open(data.join("snap")).map_err(|e| format!("snapshots: {e}"))?);
    let mut cfg = HostConfig::new(id);
    // Diagnostics only: the figures use the defaults.
    if let Some(ms) = std::env::var("BENCH_HOST_TICK_MS").ok().and_then(|v| v.parse().ok()) {
        cfg.tick_interval = Duration::from_millis(ms);
    }
    NetHost::start(cfg, net, log, snaps).map_err(|e| format!("host {id}: {e}"))
}

const MEMBERS: [(u64, u64); 3] = [(1, 1), (2, 2), (3, 3)];

/// Starts replica `id` of groups 1..=groups.
fn start_groups(node: &NetHost, id: u64, groups: u64) -> Res<()> {
    for g in 1..=groups {
        node.start_replica(g, id, StartMode::Bootstrap(MEMBERS.to_vec()), Box::new(|_, _| Box::new(Counter::default())))
            .map_err(|e| format!("starting group {g}: {e}"))?;
    }
    Ok(())
}

/// Nodes 2 and 3: a host driven line by line on stdin.
fn follower(args: &[String]) -> Res<()> {
    let id: u64 = args.get(1).and_then(|v| v.parse().ok()).ok_or("--follower ID")?;
    let dir = PathBuf::from(args.get(3).ok_or("--follower ID --dir DIR [--tls]")?);
    let tls = args.iter().any(|a| a == "--tls");
    let node = start_node(id, &dir, tls)?;
    let mut out = std::io::stdout().lock();
    let mut say = |s: String| {
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    };
    say(format!("ready {}", node.local_addr()));
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["peer", h, addr] => node.add_peer(h.parse().map_err(|_| "peer id")?, *addr),
            ["start", g] => {
                start_groups(&node, id, g.parse().map_err(|_| "group count")?)?;
                say("started".into());
            }
            ["active"] => say(format!("active {}", node.metrics().active_groups)),
            ["quit"] => break,
            _ => return Err(format!("unknown command {line}")),
        }
    }
    node.close();
    Ok(())
}

/// A follower process and its pipes.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(id: u64, dir: &Path, tls: bool) -> Res<Peer> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.args(["--follower", &id.to_string(), "--dir"]).arg(dir);
        if tls {
            cmd.arg("--tls");
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().map_err(|e| format!("spawning node {id}: {e}"))?;
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Ok(Peer { child, stdin, stdout })
    }

    fn send(&mut self, line: &str) -> Res<()> {
        writeln!(self.stdin, "{line}").map_err(|e| format!("node {}: {e}", self.child.id()))
    }

    /// The next line the follower prints, which must start with `want`.
    fn expect(&mut self, want: &str) -> Res<String> {
        let mut s = String::new();
        self.stdout.read_line(&mut s).map_err(|e| e.to_string())?;
        let s = s.trim().to_string();
        match s.strip_prefix(want) {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(format!("node {} said {s:?}, expected {want}", self.child.id())),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.send("quit");
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of process `pid` (Linux /proc).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else { return 0.0 };
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0 // USER_HZ is 100 on Linux
}

/// Resident memory of process `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

fn wait_until(what: &str, mut done: impl FnMut() -> Res<bool>) -> Res<()> {
    let t = Instant::now();
    let mut next_log = Duration::from_secs(10);
    while !done()? {
        if t.elapsed() > SETTLE_TIMEOUT {
            return Err(format!("timed out waiting for {what}"));
        }
        if t.elapsed() > next_log {
            eprintln!("bench_host: still waiting for {what} ({:.0?})", t.elapsed());
            next_log += Duration::from_secs(10);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn leader(args: &[String]) -> Res<()> {
    let o = parse(args)?;
    std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    if o.tls {
        devcerts::dev_cluster(&o.dir.join("certs"), &[1, 2, 3]).map_err(|e| format!("certificates: {e}"))?;
    }
    let mut peers = vec![Peer::spawn(2, &o.dir, o.tls)?, Peer::spawn(3, &o.dir, o.tls)?];
    let node = Arc::new(start_node(1, &o.dir, o.tls)?);
    let mut addrs = vec![(1u64, node.local_addr().to_string())];
    for (i, p) in peers.iter_mut().enumerate() {
        addrs.push((i as u64 + 2, p.expect("ready")?));
    }
    for (h, a) in &addrs {
        node.add_peer(*h, a.clone());
        for p in peers.iter_mut() {
            p.send(&format!("peer {h} {a}"))?;
        }
    }
    let pids: Vec<u32> = std::iter::once(std::process::id()).chain(peers.iter().map(|p| p.child.id())).collect();
    let rss0: Vec<u64> = pids.iter().map(|&p| rss_kib(p)).collect();

    let t = Instant::now();
    for p in peers.iter_mut() {
        p.send(&format!("start {}", o.groups))?;
    }
    start_groups(&node, 1, o.groups)?;
    for p in peers.iter_mut() {
        p.expect("started")?;
    }
    eprintln!("bench_host: {} groups started in {:.1?}", o.groups, t.elapsed());
    wait_until("leaders", || Ok((1..=o.groups).all(|g| node.group_info(g).is_some_and(|i| i.leader != 0))))?;
    eprintln!("bench_host: every group has a leader after {:.1?}", t.elapsed());

    let mut idle = None;
    if o.idle > 0.0 {
        wait_until("quiescence", || {
            let mut active = vec![node.metrics().active_groups];
            for p in peers.iter_mut() {
                p.send("active")?;
                active.push(p.expect("active")?.parse::<u64>().map_err(|e| e.to_string())?);
            }
            if std::env::var_os("BENCH_HOST_DEBUG").is_some() {
                let m = node.metrics();
                eprintln!(
                    "bench_host: active groups per host {active:?}; node 1: elections {} quiesces {} wakeups {} hosts reported down {}; {:?}",
                    m.elections,
                    m.quiesces,
                    m.wakeups,
                    node.net_counters().hosts_reported_down.load(Ordering::Relaxed),
                    node.transport_stats()
                );
            }
            Ok(active.iter().all(|a| *a == 0))
        })?;
        eprintln!("bench_host: every group quiesced after {:.1?}", t.elapsed());
        let rss1: Vec<u64> = pids.iter().map(|&p| rss_kib(p)).collect();
        let c0: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
        let w = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(o.idle));
        let wall = w.elapsed().as_secs_f64();
        let pct: Vec<f64> = pids.iter().zip(&c0).map(|(&p, c)| 100.0 * (cpu_seconds(p) - c) / wall).collect();
        let per_group: Vec<f64> = rss1.iter().zip(&rss0).map(|(a, b)| a.saturating_sub(*b) as f64 / o.groups as f64).collect();
        eprintln!("bench_host: idle CPU % per host {pct:.3?}, RSS KiB {rss0:?} -> {rss1:?}");
        idle = Some((mean(&pct), pct.iter().cloned().fold(0.0, f64::max), mean(&per_group)));
    }

    let elsewhere = move_leaders(&node, o.groups);
    eprintln!("bench_host: node 1 leads {} of {} groups after {:.1?}", o.groups - elsewhere, o.groups, t.elapsed());

    let run = Load::run(&node, &o, &pids)?;
    drop(peers); // quit and wait for the followers
    node.close();

    let mut lat = run.latencies;
    lat.sort_unstable();
    let q = |p: f64| if lat.is_empty() { 0.0 } else { lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1e6 };
    let mut line = format!(
        "{{\"library\": \"polyraft\", \"variant\": \"rust{}\", \"concurrency\": {}, \"writes\": {}, \"seconds\": {:.3}, \"writes_per_s\": {:.1}, \
         \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"p999_ms\": {:.3}, \"cpu_s\": {:.2}, \"fsync\": true, \"groups\": {}, \"errors\": {}, \"led_elsewhere\": {}",
        if o.tls { "-tls" } else { "" },
        o.concurrency,
        lat.len(),
        run.seconds,
        lat.len() as f64 / run.seconds,
        q(0.5),
        q(0.99),
        q(0.999),
        run.cpu_s,
        o.groups,
        run.errors,
        elsewhere
    );
    if let Some((pct, max, kib)) = idle {
        line += &format!(", \"idle_cpu_pct\": {pct:.3}, \"idle_cpu_pct_max\": {max:.3}, \"rss_per_group_kib\": {kib:.2}");
    }
    println!("{line}}}");
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Asks every group led elsewhere to hand its leadership to replica 1 (all
/// at once) and waits until node 1 leads them all, or for at most a minute:
/// returns how many groups it does not lead then (their proposals are
/// forwarded by node 1's replica to their leader).
fn move_leaders(node: &NetHost, groups: u64) -> u64 {
    let not_led = |node: &NetHost| (1..=groups).filter(|&g| !node.group_info(g).is_some_and(|i| i.is_leader)).collect::<Vec<_>>();
    let t = Instant::now();
    loop {
        let todo = not_led(node);
        if todo.is_empty() || t.elapsed() > Duration::from_secs(60) {
            return todo.len() as u64;
        }
        let waits: Vec<Pending<()>> = todo
            .iter()
            .map(|&g| {
                let (p, done) = Pending::pair();
                node.transfer_leader_async(g, 1, Duration::from_secs(5), done);
                p
            })
            .collect();
        for p in waits {
            let _ = p.wait(); // a failed transfer is retried by the loop
        }
    }
}

/// What the measured window saw.
struct Load {
    latencies: Vec<u64>,
    seconds: f64,
    cpu_s: f64,
    errors: u64,
}

/// State shared by every client callback.
struct Shared {
    node: Arc<NetHost>,
    start: Instant,
    /// Window bounds in ns since `start`; completions inside are counted.
    from_ns: u64,
    to_ns: u64,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    errors: AtomicU64,
    concurrency: u64,
    groups: u64,
    size: usize,
    /// Latencies (ns) of the proposals completed in the window, per client
    /// slot group (fewer lock collisions between workers).
    latencies: Vec<Mutex<Vec<u64>>>,
}

impl Shared {
    /// Proposes client `client`'s `n`-th command.
    fn propose(self: &Arc<Self>, client: u64, n: u64) {
        let group = (client + n * self.concurrency) % self.groups + 1;
        let mut cmd = vec![0u8; self.size];
        cmd[..8].copy_from_slice(&client.to_le_bytes());
        cmd[8..16].copy_from_slice(&n.to_le_bytes());
        let sent = self.start.elapsed().as_nanos() as u64;
        let me = self.clone();
        self.node.propose_async(
            group,
            &cmd,
            PROPOSE_TIMEOUT,
            Box::new(move |r| {
                let now = me.start.elapsed().as_nanos() as u64;
                match r {
                    Ok(_) if now >= me.from_ns && now < me.to_ns => {
                        me.latencies[client as usize % me.latencies.len()].lock().push(now - sent)
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if me.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("bench_host: client {client}: {e}");
                        }
                    }
                }
                if me.stop.load(Ordering::Acquire) || now >= me.to_ns {
                    me.in_flight.fetch_sub(1, Ordering::AcqRel);
                } else {
                    me.propose(client, n + 1);
                }
            }),
        );
    }
}

impl Load {
    fn run(node: &Arc<NetHost>, o: &Opts, pids: &[u32]) -> Res<Load> {
        let start = Instant::now();
        let from_ns = (o.warmup * 1e9) as u64;
        let to_ns = from_ns + (o.duration * 1e9) as u64;
        let shared = Arc::new(Shared {
            node: node.clone(),
            start,
            from_ns,
            to_ns,
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(o.concurrency),
            errors: AtomicU64::new(0),
            concurrency: o.concurrency as u64,
            groups: o.groups,
            size: o.size,
            latencies: (0..16).map(|_| Mutex::new(Vec::new())).collect(),
        });
        for c in 0..o.concurrency as u64 {
            shared.propose(c, 0);
        }
        let sleep_until = |ns: u64| {
            let el = start.elapsed().as_nanos() as u64;
            if ns > el {
                std::thread::sleep(Duration::from_nanos(ns - el));
            }
        };
        sleep_until(from_ns);
        let c0: f64 = pids.iter().map(|&p| cpu_seconds(p)).sum();
        let m0 = node.metrics();
        let t0 = start.elapsed();
        sleep_until(to_ns);
        let c1: f64 = pids.iter().map(|&p| cpu_seconds(p)).sum();
        let seconds = (start.elapsed() - t0).as_secs_f64();
        let m1 = node.metrics();
        // The leader's side of the window, for profiles (stderr).
        let d = |f: fn(&HostMetricsSnapshot) -> u64| f(&m1) - f(&m0);
        let writes = d(|m| m.log_writes).max(1);
        eprintln!(
            "bench_host: node 1 in the window: {} log writes ({:.0}/s), {} fsyncs, {:.1} entries and {:.0} bytes per write, \
             {} messages in {} frames sent, {} received, {} proposals",
            writes,
            writes as f64 / seconds,
            d(|m| m.fsyncs),
            d(|m| m.entries_written) as f64 / writes as f64,
            d(|m| m.bytes_written) as f64 / writes as f64,
            d(|m| m.messages_sent),
            d(|m| m.frames_sent),
            d(|m| m.messages_received),
            d(|m| m.proposals)
        );
        shared.stop.store(true, Ordering::Release);
        let t = Instant::now();
        while shared.in_flight.load(Ordering::Acquire) > 0 {
            if t.elapsed() > PROPOSE_TIMEOUT + Duration::from_secs(5) {
                return Err(format!("{} proposals never completed", shared.in_flight.load(Ordering::Acquire)));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let latencies = shared.latencies.iter().flat_map(|l| std::mem::take(&mut *l.lock())).collect();
        Ok(Load { latencies, seconds, cpu_s: c1 - c0, errors: shared.errors.load(Ordering::Relaxed) })
    }
}

/// The replicated state: a count of applied commands and, per client (the
/// command's first 8 bytes), its latest command. Each command's result is
/// the count after it.
#[derive(Default)]
struct Counter {
    count: u64,
    last: HashMap<u64, Bytes>,
}

impl StateMachine for Counter {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        entries
            .iter()
            .map(|e| {
                self.count += 1;
                if e.data.len() >= 8 {
                    let key = u64::from_le_bytes(e.data[..8].try_into().unwrap());
                    self.last.insert(key, e.data.clone());
                }
                Bytes::copy_from_slice(&self.count.to_le_bytes())
            })
            .collect()
    }

    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()> {
        w.write_all(&self.count.to_le_bytes())?;
        w.write_all(&(self.last.len() as u64).to_le_bytes())?;
        for (k, v) in &self.last {
            w.write_all(&k.to_le_bytes())?;
            w.write_all(&(v.len() as u64).to_le_bytes())?;
            w.write_all(v)?;
        }
        Ok(())
    }

    fn restore(&mut self, r: &mut dyn std::io::Read) -> std::io::Result<()> {
        let mut u = [0u8; 8];
        let mut word = |r: &mut dyn std::io::Read| -> std::io::Result<u64> {
            r.read_exact(&mut u)?;
            Ok(u64::from_le_bytes(u))
        };
        let count = word(r)?;
        let n = word(r)?;
        let mut last = HashMap::new();
        for _ in 0..n {
            let k = word(r)?;
            let len = word(r)?;
            if len > 1 << 20 {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "command longer than 1 MiB"));
            }
            let mut v = vec![0u8; len as usize];
            r.read_exact(&mut v)?;
            last.insert(k, Bytes::from(v));
        }
        (self.count, self.last) = (count, last);
        Ok(())
    }

    fn lookup(&self, _: &[u8]) -> Bytes {
        Bytes::copy_from_slice(&self.count.to_le_bytes())
    }
}
