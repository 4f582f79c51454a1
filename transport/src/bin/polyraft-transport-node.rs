//! A transport-only host process, for tests that run hosts as processes
//! (transport/tests/processes.rs) until the host engine provides the real
//! one. It speaks mutual TLS with the certificates in CERTDIR (made by the
//! `devcerts` example or `devcerts::dev_cluster`):
//!
//!     polyraft-transport-node ID LISTEN CERTDIR [PEER_ID=ADDR]...
//!
//! prints `ready ADDR`, then obeys one command per line on standard input:
//!
//!     send TO COUNT GROUPS   COUNT messages to host TO, spread over GROUPS
//!                            groups, in one call (one frame where it fits)
//!     snapshot TO MIB        stream a generated MIB MiB snapshot to host TO
//!     stats                  print `stats` with counters and peak RSS
//!     peer ID ADDR           add host ID at ADDR to the address book
//!
//! Events are printed as they happen: `snapshot-status TO ok|failed: ...`,
//! `snapshot-received FROM BYTES`. Received snapshots are written to a file
//! in CERTDIR and deleted once complete. End of input stops the process.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft_transport::{
    GroupId, HostId, InboundHandler, Security, SnapshotSink, SnapshotSource, SnapshotStatus, TcpTransport, TlsFiles,
    Transport, TransportConfig,
};

/// Prints one line at a time (stdout is shared by the handler's threads).
fn say(line: String) {
    static OUT: Mutex<()> = Mutex::new(());
    let _g = OUT.lock();
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[derive(Default)]
struct Counts {
    messages: AtomicU64,
    frames: AtomicU64,
    unreachable: AtomicU64,
    per_host: Mutex<HashMap<HostId, u64>>,
}

struct Node {
    counts: Arc<Counts>,
    dir: PathBuf,
}

struct FileSink {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    from: HostId,
    len: u64,
}

impl SnapshotSink for FileSink {
    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        self.file.as_mut().expect("open until finish").write_all(chunk)
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let file = self.file.take().expect("open until finish");
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        say(format!("snapshot-received {} {}", self.from, self.len));
        Ok(())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl InboundHandler for Node {
    fn on_messages(&self, from: HostId, messages: Vec<(GroupId, Bytes)>) {
        self.counts.frames.fetch_add(1, Ordering::Relaxed);
        self.counts.messages.fetch_add(messages.len() as u64, Ordering::Relaxed);
        *self.counts.per_host.lock().entry(from).or_default() += messages.len() as u64;
    }
    fn on_unreachable(&self, _to: HostId, groups: Vec<GroupId>) {
        self.counts.unreachable.fetch_add(groups.len() as u64, Ordering::Relaxed);
    }
    fn on_snapshot_status(&self, to: HostId, _group: GroupId, status: SnapshotStatus) {
        match status {
            SnapshotStatus::Finished => say(format!("snapshot-status {to} ok")),
            SnapshotStatus::Failed(e) => say(format!("snapshot-status {to} failed: {e}")),
        }
    }
    fn open_snapshot(&self, from: HostId, group: GroupId, _message: Bytes) -> io::Result<Box<dyn SnapshotSink>> {
        let path = self.dir.join(format!("incoming-{from}-{group}.snap"));
        let file = BufWriter::with_capacity(256 * 1024, File::create(&path)?);
        Ok(Box::new(FileSink { path, file: Some(file), from, len: 0 }))
    }
}

/// Generated snapshot bytes: costs neither memory nor disk on the sender.
struct Pattern {
    left: u64,
    x: u8,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        for b in &mut buf[..n] {
            self.x = self.x.wrapping_mul(31).wrapping_add(7);
            *b = self.x;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn command(t: &TcpTransport, counts: &Counts, line: &str) -> Result<(), String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> Result<u64, String> {
        w.get(i).ok_or(format!("{line:?}: missing argument {i}"))?.parse::<u64>().map_err(|e| format!("{line:?}: {e}"))
    };
    match w.first().copied() {
        Some("send") => {
            let (to, count, groups) = (num(1)?, num(2)?, num(3)?.max(1));
            let batch = (0..count).map(|i| (1 + i % groups, Bytes::from(format!("message {i}")))).collect();
            t.send(to, batch);
        }
        Some("snapshot") => {
            let (to, mib) = (num(1)?, num(2)?);
            let len = mib << 20;
            t.send_snapshot(to, 1, Bytes::from_static(b"snapshot"), SnapshotSource {
                reader: Box::new(Pattern { left: len, x: 1 }),
                size: Some(len),
            });
        }
        Some("peer") => {
            let addr = w.get(2).ok_or(format!("{line:?}: missing address"))?;
            t.add_peer(num(1)?, addr.to_string());
        }
        Some("stats") => {
            let s = t.stats();
            let mut per: Vec<_> = counts.per_host.lock().iter().map(|(h, n)| format!("{h}:{n}")).collect();
            per.sort();
            say(format!(
                "stats messages={} frames={} unreachable={} refused={} snapshot_bytes_received={} per_host={} peak_rss_kib={}",
                counts.messages.load(Ordering::Relaxed),
                counts.frames.load(Ordering::Relaxed),
                counts.unreachable.load(Ordering::Relaxed),
                s.connections_refused,
                s.snapshot_bytes_received,
                per.join(","),
                peak_rss_kib()
            ));
        }
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => {}
    }
    Ok(())
}

fn start(args: &[String]) -> Result<(TcpTransport, Arc<Counts>), String> {
    let [id, listen, dir, peers @ ..] = args else {
        return Err("usage: polyraft-transport-node ID LISTEN CERTDIR [PEER_ID=ADDR]...".into());
    };
    let id: HostId = id.parse().map_err(|e| format!("ID: {e}"))?;
    let listen = listen.parse().map_err(|e| format!("LISTEN: {e}"))?;
    let dir = Path::new(dir);
    let files = TlsFiles {
        cert: dir.join(format!("host-{id}.pem")),
        key: dir.join(format!("host-{id}.key")),
        ca: dir.join("ca.pem"),
    };
    let mut cfg = TransportConfig::new(id, listen, Security::MutualTls(files));
    for p in peers {
        let (pid, addr) = p.split_once('=').ok_or(format!("peer {p:?}: expected ID=ADDR"))?;
        cfg.peers.insert(pid.parse().map_err(|e| format!("peer {p:?}: {e}"))?, addr.to_string());
    }
    let counts = Arc::new(Counts::default());
    let node = Node { counts: counts.clone(), dir: dir.to_path_buf() };
    let t = TcpTransport::start(cfg, Arc::new(node)).map_err(|e| e.to_string())?;
    Ok((t, counts))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (t, counts) = match start(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("polyraft-transport-node: {e}");
            return ExitCode::from(2);
        }
    };
    say(format!("ready {}", t.local_addr()));
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Err(e) = command(&t, &counts, &line) {
            say(format!("error {e}"));
        }
    }
    t.shutdown();
    ExitCode::SUCCESS
}
