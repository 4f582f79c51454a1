//! polyraft-bench: W1 and W2 of shared BENCH.md for polyraft and raft-rs,
//! with etcd raft (Go, bench/go) and the bindings (W3) run as child
//! processes speaking the same protocol.
//!
//! `polyraft-bench all [--smoke] [--go BIN] [--out FILE]` runs everything
//! and prints the table. `polyraft-bench child --impl polyraft|raftrs --w
//! W1|W2 --voters V --n N --b B --p P --mode entry|batch --wire 0|1` runs one
//! workload in this process and prints one JSON line; every measurement is
//! such a child, so peak RSS is per workload.

mod common;
mod pr;
mod rr;

use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

use common::{Mode, Spec};

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

fn arg<'a>(args: &'a [String], k: &str) -> Option<&'a str> {
    args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).map(|s| s.as_str())
}

fn num(args: &[String], k: &str, d: u64) -> u64 {
    arg(args, k).map(|v| v.parse().expect(k)).unwrap_or(d)
}

/// One workload in this process; prints one JSON line.
fn child(args: &[String]) {
    let imp = arg(args, "--impl").expect("--impl");
    let w = arg(args, "--w").expect("--w");
    let s = Spec {
        voters: num(args, "--voters", 3),
        n: num(args, "--n", 1_000_000),
        batch: num(args, "--b", 64),
        payload: num(args, "--p", 128) as usize,
        mode: if arg(args, "--mode") == Some("batch") { Mode::Batch } else { Mode::PerEntry },
        wire: num(args, "--wire", 0) == 1,
        compact_every: num(args, "--compact", 65536),
        // On unless `--batch-append 0`: the libraries that have the option
        // run with it (etcd raft, in the Go harness, has none).
        batch_append: num(args, "--batch-append", 1) == 1,
    };
    let o = match (imp, w) {
        ("polyraft", "W1") => pr::w1(&s),
        ("polyraft", "W2") => pr::w2(&s),
        ("raftrs", "W1") => rr::w1(&s),
        ("raftrs", "W2") => rr::w2(&s),
        _ => panic!("unknown impl/workload {imp}/{w}"),
    };
    let v = json!({
        "impl": imp, "w": w, "voters": s.voters, "n": s.n, "b": s.batch, "p": s.payload,
        "mode": if s.mode == Mode::Batch { "batch" } else { "entry" }, "wire": s.wire as u8,
        "batch_append": s.batch_append as u8,
        "applied": o.applied, "elapsed_ns": o.elapsed_ns, "msgs": o.msgs,
        "readies_leader": o.readies_leader, "readies_total": o.readies_total,
        "storage_calls_leader": o.storage_calls_leader, "storage_calls_total": o.storage_calls_total,
        "allocs_leader": o.allocs_leader, "allocs_total": o.allocs_total,
        "rss_kb": common::peak_rss_kb(),
    });
    println!("{v}");
}

/// A variant of the matrix.
#[derive(Clone)]
struct V {
    w: &'static str,
    voters: u64,
    n: u64,
    b: u64,
    p: u64,
    mode: &'static str,
    wire: u8,
}

impl V {
    fn args(&self) -> Vec<String> {
        [
            ("--w", self.w.to_string()),
            ("--voters", self.voters.to_string()),
            ("--n", self.n.to_string()),
            ("--b", self.b.to_string()),
            ("--p", self.p.to_string()),
            ("--mode", self.mode.to_string()),
            ("--wire", self.wire.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }
    fn label(&self) -> String {
        if self.w == "W2" {
            return format!("{} voter{}", self.voters, if self.voters > 1 { "s" } else { "" });
        }
        format!(
            "B={} P={} {}{} N={}",
            self.b,
            self.p,
            if self.mode == "batch" { "batch" } else { "per-entry" },
            if self.wire == 1 { " wire" } else { "" },
            human(self.n)
        )
    }
}

fn human(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn matrix(smoke: bool) -> Vec<V> {
    let mut v = Vec::new();
    let w1 = |b: u64, p: u64, mode: &'static str, wire: u8| {
        // B=1 runs a full cycle per entry: fewer entries keep `make bench`
        // within minutes.
        let n = if smoke { 20_000 } else if b == 1 { 100_000 } else { 1_000_000 };
        V { w: "W1", voters: 3, n, b, p, mode, wire }
    };
    // The headline variants first.
    v.push(w1(64, 128, "entry", 0));
    v.push(w1(64, 128, "batch", 0));
    v.push(w1(64, 128, "entry", 1));
    v.push(w1(64, 128, "batch", 1));
    for p in [16, 128, 1024] {
        for b in [1, 64, 1024] {
            if !(b == 64 && p == 128) {
                v.push(w1(b, p, "entry", 0));
            }
        }
        for b in [1024] {
            v.push(w1(b, p, "batch", 0));
        }
    }
    v.push(w1(1024, 128, "batch", 1));
    let cycles = if smoke { 2000 } else { 200_000 };
    for voters in [1, 3] {
        v.push(V { w: "W2", voters, n: cycles, b: 1, p: 128, mode: "entry", wire: 0 });
    }
    v
}

/// Runs `cmd args...` and parses the last JSON line it prints.
fn run_child(cmd: &[String], v: &V, extra: &[&str]) -> Option<Value> {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..]).args(extra).args(v.args());
    let out = c.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "child failed: {:?} {}\n{}",
            cmd,
            v.label(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok())
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn eps(v: &Value) -> f64 {
    f(v, "applied") / (f(v, "elapsed_ns") / 1e9)
}

fn per(v: &Value, k: &str) -> f64 {
    f(v, k) / f(v, "n")
}

struct Row {
    workload: String,
    variant: String,
    metric: &'static str,
    ours: f64,
    reference: &'static str,
    theirs: f64,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ours / self.theirs
    }
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Checks a run did what it was asked: the loop completed and the counters
/// are plausible.
fn sane(v: &Value, spec: &V) -> Result<(), String> {
    let applied = f(v, "applied");
    let want = spec.n as f64;
    if !(applied >= want && applied < want + spec.b as f64 + 1.0) {
        return Err(format!("applied {applied}, wanted {want}"));
    }
    if !(f(v, "elapsed_ns") > 0.0) {
        return Err("no time elapsed".into());
    }
    if spec.voters > 1 && !(f(v, "msgs") > 0.0) {
        return Err("no messages delivered".into());
    }
    if !(f(v, "readies_leader") >= 1.0) {
        return Err("no Ready on the leader".into());
    }
    if !(f(v, "rss_kb") > 0.0) {
        return Err("no peak RSS".into());
    }
    Ok(())
}

fn all(args: &[String]) {
    let smoke = args.iter().any(|a| a == "--smoke");
    let go = arg(args, "--go").map(|s| s.to_string());
    let out_path = arg(args, "--out").unwrap_or("bench/results.json").to_string();
    let repeat = num(args, "--repeat", 3);
    let me = vec![std::env::current_exe().unwrap().to_string_lossy().into_owned(), "child".to_string()];
    let t_all = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut runs: Vec<Value> = Vec::new();
    let mut failures = Vec::new();
    let mut native_wire: Option<Value> = None;
    let mut etcd_wire: Option<Value> = None;

    for v in matrix(smoke) {
        let t = Instant::now();
        // On a shared machine one run can be slowed by a neighbour: the
        // headline variants run `repeat` times, interleaved, and each
        // implementation keeps its fastest run (the spread is recorded).
        let headline = v.w == "W2" || (v.b == 64 && v.p == 128);
        let reps = if smoke || !headline { 1 } else { repeat };
        let mut got: [Vec<Value>; 3] = Default::default();
        for _ in 0..reps {
            if let Some(r) = run_child(&me, &v, &["--impl", "polyraft"]) {
                got[0].push(r);
            }
            if let Some(r) = run_child(&me, &v, &["--impl", "raftrs"]) {
                got[1].push(r);
            }
            if let Some(r) = go.as_ref().and_then(|g| run_child(&[g.clone()], &v, &["--impl", "etcd"])) {
                got[2].push(r);
            }
        }
        let mut best: Vec<Option<Value>> = Vec::new();
        for (k, name) in ["polyraft", "raft-rs", "etcd"].into_iter().enumerate() {
            let rs = &got[k];
            for r in rs {
                if let Err(e) = sane(r, &v) {
                    failures.push(format!("{name} {} {}: {e}", v.w, v.label()));
                }
            }
            if rs.is_empty() {
                if !(name == "etcd" && go.is_none()) {
                    failures.push(format!("{name} {} {}: no result", v.w, v.label()));
                }
                best.push(None);
                continue;
            }
            let times: Vec<f64> = rs.iter().map(|r| f(r, "elapsed_ns")).collect();
            let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = times.iter().cloned().fold(0.0, f64::max);
            let mut b = rs.iter().find(|r| f(r, "elapsed_ns") == min).unwrap().clone();
            b["runs"] = json!(rs.len());
            b["spread"] = json!(max / min);
            runs.push(b.clone());
            best.push(Some(b));
        }
        let go_r = best.pop().unwrap();
        let rs = best.pop().unwrap();
        let ours = best.pop().unwrap();
        eprintln!("  {} {} ({:.1}s)", v.w, v.label(), t.elapsed().as_secs_f64());
        let Some(o) = ours else { continue };
        if v.w == "W1" && v.b == 64 && v.p == 128 && v.mode == "entry" && v.wire == 1 {
            native_wire = Some(o.clone());
            etcd_wire = go_r.clone();
        }
        for (rname, r) in [("raft-rs", &rs), ("etcd", &go_r)] {
            let Some(r) = r else { continue };
            let mut push = |metric: &'static str, a: f64, b: f64| {
                rows.push(Row {
                    workload: v.w.to_string(),
                    variant: v.label(),
                    metric,
                    ours: a,
                    reference: rname,
                    theirs: b,
                })
            };
            if v.w == "W1" {
                push("entries/s", eps(&o), eps(r));
                if v.b == 64 && v.p == 128 && v.wire == 0 {
                    push("peak RSS KiB", f(&o, "rss_kb"), f(r, "rss_kb"));
                }
            } else {
                push("ns/cycle", per(&o, "elapsed_ns"), per(r, "elapsed_ns"));
                if rname == "raft-rs" {
                    push("allocs/cycle leader", per(&o, "allocs_leader"), per(r, "allocs_leader"));
                }
                push("allocs/cycle all", per(&o, "allocs_total"), per(r, "allocs_total"));
                push("Readys/proposal leader", per(&o, "readies_leader"), per(r, "readies_leader"));
                push("Readys/proposal all", per(&o, "readies_total"), per(r, "readies_total"));
                push("storage calls/proposal leader", per(&o, "storage_calls_leader"), per(r, "storage_calls_leader"));
                push("storage calls/proposal all", per(&o, "storage_calls_total"), per(r, "storage_calls_total"));
            }
        }
    }

    // W3: the bindings, each a driver that takes the child arguments and
    // prints the same JSON line (see bench/README.md). Run when named; like
    // the headline variants, `repeat` times interleaved, keeping the fastest.
    // Go through cgo is also compared with the pure-Go etcd run of the same
    // variant.
    let w3 = V { w: "W1", voters: 3, n: if smoke { 20_000 } else { 1_000_000 }, b: 64, p: 128, mode: "entry", wire: 1 };
    let drivers: Vec<(&str, Vec<String>)> = [("POLYRAFT_W3_C", "W3 C"), ("POLYRAFT_W3_PY", "W3 Python"), ("POLYRAFT_W3_GO", "W3 Go cgo")]
        .into_iter()
        .filter_map(|(envk, name)| {
            let cmd: Vec<String> = std::env::var(envk).ok()?.split_whitespace().map(String::from).collect();
            (!cmd.is_empty()).then_some((name, cmd))
        })
        .collect();
    let mut got: Vec<Vec<Value>> = vec![Vec::new(); drivers.len()];
    let t = Instant::now();
    for _ in 0..(if smoke { 1 } else { repeat }) {
        for (k, (_, cmd)) in drivers.iter().enumerate() {
            if let Some(r) = run_child(cmd, &w3, &["--impl", "polyraft"]) {
                got[k].push(r);
            }
        }
    }
    if !drivers.is_empty() {
        eprintln!("  W3 {} ({:.1}s)", w3.label(), t.elapsed().as_secs_f64());
    }
    for ((name, _), rs) in drivers.iter().zip(got) {
        let (Some(nat), false) = (&native_wire, rs.is_empty()) else {
            failures.push(format!("{name}: no result"));
            continue;
        };
        for r in &rs {
            if let Err(e) = sane(r, &w3) {
                failures.push(format!("{name}: {e}"));
            }
        }
        let times: Vec<f64> = rs.iter().map(|r| f(r, "elapsed_ns")).collect();
        let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = times.iter().cloned().fold(0.0, f64::max);
        let mut r = rs.iter().find(|r| f(r, "elapsed_ns") == min).unwrap().clone();
        r["runs"] = json!(rs.len());
        r["spread"] = json!(max / min);
        r["w3"] = json!(name);
        let refs = [("Rust native", Some(nat)), ("etcd", etcd_wire.as_ref().filter(|_| *name == "W3 Go cgo"))];
        for (reference, theirs) in refs {
            let Some(theirs) = theirs else { continue };
            rows.push(Row {
                workload: name.to_string(),
                variant: w3.label(),
                metric: "entries/s",
                ours: eps(&r),
                reference,
                theirs: eps(theirs),
            });
        }
        runs.push(r);
    }

    let elapsed = t_all.elapsed().as_secs_f64();
    println!(
        "\n{:<10} {:<34} {:<30} {:>10} {:<8} {:>10} {:>7}",
        "workload", "variant", "metric", "polyraft", "ref", "reference", "ratio"
    );
    for r in &rows {
        println!(
            "{:<10} {:<34} {:<30} {:>10} {:<8} {:>10} {:>7.2}",
            r.workload,
            r.variant,
            r.metric,
            fmt_num(r.ours),
            r.reference,
            fmt_num(r.theirs),
            r.ratio()
        );
    }
    println!("(entries/s: higher is better; ns, allocs, Readys, calls, RSS: lower is better; ratio = polyraft / reference)");
    let spreads: Vec<String> = runs
        .iter()
        .filter(|r| r["runs"].as_u64().unwrap_or(1) > 1)
        .map(|r| {
            format!(
                "{} {} {}v B={} {}{}: {:.2}",
                r["w3"].as_str().or(r["impl"].as_str()).unwrap_or("?"),
                r["w"].as_str().unwrap_or("?"),
                r["voters"],
                r["b"],
                r["mode"].as_str().unwrap_or("?"),
                if r["wire"].as_u64() == Some(1) { " wire" } else { "" },
                f(r, "spread")
            )
        })
        .collect();
    if !spreads.is_empty() {
        println!("noise (slowest/fastest of the repeated runs): {}", spreads.join("; "));
    }
    let doc = json!({
        "smoke": smoke,
        "repeat": repeat,
        "elapsed_s": elapsed,
        "rows": rows.iter().map(|r| json!({
            "workload": r.workload, "variant": r.variant, "metric": r.metric,
            "polyraft": r.ours, "reference": r.reference, "reference_value": r.theirs,
            "ratio": r.ratio(),
        })).collect::<Vec<_>>(),
        "runs": runs,
        "failures": failures,
    });
    std::fs::write(&out_path, serde_json::to_string_pretty(&doc).unwrap() + "\n").expect("write results");
    println!("wrote {out_path} ({elapsed:.0}s)");
    if smoke {
        println!("bench-smoke: {} passed, {} failed", runs.len().saturating_sub(failures.len()), failures.len());
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(|s| s.as_str()) {
        Some("child") => child(&args[1..]),
        Some("sizes") => println!("polyraft Message {} Entry {} Snapshot {}; raft-rs Message {} Entry {}", std::mem::size_of::<polyraft::raftpb::Message>(), std::mem::size_of::<polyraft::raftpb::Entry>(), std::mem::size_of::<polyraft::raftpb::Snapshot>(), std::mem::size_of::<raft::prelude::Message>(), std::mem::size_of::<raft::prelude::Entry>()),
        Some("all") => all(&args[1..]),
        _ => {
            eprintln!("usage: polyraft-bench all [--smoke] [--go BIN] [--out FILE] | child --impl I --w W ...");
            std::process::exit(2);
        }
    }
}
