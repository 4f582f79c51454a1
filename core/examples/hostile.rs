//! The long hostile-peer run (`make fuzz-hostile`): random inputs for the
//! hostile-peer harness (`polyraft::rafttest::hostile`) until a time or
//! message budget is spent; prints the figures and the first failing input
//! (hex) if any invariant breaks.
//!
//! `hostile --secs 3600 [--messages 10000000] [--seed N]`, or
//! `hostile --replay HEX` to run one reported input again.

use std::time::{Duration, Instant};

use polyraft::rafttest::hostile;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, def: u64| -> u64 {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(def)
    };
    let secs = arg("--secs", 60);
    let max_msgs = arg("--messages", u64::MAX);
    let seed = arg("--seed", 1);
    if let Some(hex) = args.iter().position(|a| a == "--replay").and_then(|i| args.get(i + 1)) {
        // Replays one reported input (POLYRAFT_HOSTILE_TRACE=1 prints it all).
        let input: Vec<u8> = (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
        match hostile::run(&input) {
            Ok(s) => println!("replay: no finding ({s:?})"),
            Err(e) => println!("replay: {e}"),
        }
        return;
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = Instant::now();
    let (mut runs, mut injected, mut refused, mut delivered, mut corrupted) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_report = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) && injected < max_msgs {
        let len = rng.usize(0..4000);
        let input: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        match hostile::run(&input) {
            Ok(s) => {
                runs += 1;
                injected += s.injected;
                refused += s.refused;
                delivered += s.delivered;
                corrupted += s.corrupted;
            }
            Err(e) => {
                let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
                println!("FINDING after {runs} runs: {e}\ninput: {hex}");
                std::process::exit(1);
            }
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            last_report = Instant::now();
            println!(
                "{:>6}s: {runs} runs, {injected} forged messages ({refused} refused), {delivered} normal deliveries, {corrupted} runs with forged commits",
                start.elapsed().as_secs()
            );
        }
    }
    println!(
        "hostile: {runs} runs in {}s, {injected} forged messages ({refused} refused), {delivered} normal deliveries, {corrupted} runs with forged commits (liveness not checked), no finding",
        start.elapsed().as_secs()
    );
}
