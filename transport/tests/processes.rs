//! Three hosts as three processes (polyraft-transport-node) on loopback with
//! mutual TLS: coalesced messages in every direction, then a snapshot
//! streamed between processes with each process's peak RSS reported.
//! SNAPSHOT_MIB sets the snapshot size (default 64; the full-scale
//! run is 300: `make transport-processes-big`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Proc {
    fn start(id: u64, certs: &std::path::Path) -> (Proc, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_polyraft-transport-node"))
            .args([id.to_string(), "127.0.0.1:0".into(), certs.display().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn a node");
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let mut p = Proc { child, stdin, lines };
        let ready = p.expect(|l| l.starts_with("ready "), Duration::from_secs(20));
        (p, ready["ready ".len()..].to_string())
    }

    fn cmd(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The first line satisfying `pred` (others are skipped).
    fn expect(&mut self, pred: impl Fn(&str) -> bool, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let l = self.lines.recv_timeout(left).expect("the node answers in time");
            assert!(!l.starts_with("error"), "node error: {l}");
            if pred(&l) {
                return l;
            }
        }
    }

    fn stats(&mut self) -> String {
        self.cmd("stats");
        self.expect(|l| l.starts_with("stats "), Duration::from_secs(10))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(stats: &str, name: &str) -> String {
    stats.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{name}="))).unwrap_or("").to_string()
}

#[test]
fn three_processes_over_mutual_tls() {
    let mib: u64 = std::env::var("SNAPSHOT_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let dir = tempfile::tempdir().unwrap();
    polyraft_transport::devcerts::dev_cluster(dir.path(), &[1, 2, 3]).unwrap();
    let mut procs = Vec::new();
    let mut addrs = Vec::new();
    for id in 1..=3 {
        let (p, a) = Proc::start(id, dir.path());
        procs.push(p);
        addrs.push(a);
    }
    for (i, p) in procs.iter_mut().enumerate() {
        for (j, a) in addrs.iter().enumerate() {
            if i != j {
                p.cmd(&format!("peer {} {a}", j + 1));
            }
        }
    }
    // Every host sends 1000 messages of 100 groups to every other host.
    for (i, p) in procs.iter_mut().enumerate() {
        for j in 1..=3 {
            if j != i + 1 {
                p.cmd(&format!("send {j} 1000 100"));
            }
        }
    }
    for (i, p) in procs.iter_mut().enumerate() {
        let want: Vec<String> = (1..=3).filter(|&j| j != i + 1).map(|j| format!("{j}:1000")).collect();
        let end = Instant::now() + Duration::from_secs(20);
        let mut s = p.stats();
        while field(&s, "per_host") != want.join(",") && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
            s = p.stats();
        }
        println!("host {}: {s}", i + 1);
        assert_eq!(field(&s, "per_host"), want.join(","), "host {} received everything", i + 1);
        assert_eq!(field(&s, "unreachable"), "0");
        let frames: u64 = field(&s, "frames").parse().unwrap();
        assert!(frames <= 10, "2000 messages in {frames} frames");
    }

    // A snapshot from host 1 to host 3, process to process, to a file.
    let t0 = Instant::now();
    procs[0].cmd(&format!("snapshot 3 {mib}"));
    let status = procs[0].expect(|l| l.starts_with("snapshot-status"), Duration::from_secs(600));
    assert_eq!(status, "snapshot-status 3 ok");
    let got = procs[2].expect(|l| l.starts_with("snapshot-received"), Duration::from_secs(10));
    assert_eq!(got, format!("snapshot-received 1 {}", mib << 20));
    let secs = t0.elapsed().as_secs_f64();
    let rss = |p: &mut Proc| field(&p.stats(), "peak_rss_kib").parse::<u64>().unwrap() / 1024;
    let (send_rss, recv_rss) = (rss(&mut procs[0]), rss(&mut procs[2]));
    println!(
        "snapshot {mib} MiB host 1 -> host 3 in {secs:.2} s ({:.0} MiB/s); peak RSS sender {send_rss} MiB, receiver {recv_rss} MiB",
        mib as f64 / secs
    );
    assert!(send_rss < 64 && recv_rss < 64, "bounded memory for a {mib} MiB snapshot");
}
