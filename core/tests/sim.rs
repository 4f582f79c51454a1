//! Runs the chaos simulation over many seeds (POLYRAFT_SIM_SEEDS, default
//! 2000, from POLYRAFT_SIM_START, default 0). A failure names its seed and
//! the command that replays it.

use polyraft::rafttest::sim::run_seeds;

#[test]
fn simulation_keeps_raft_safe_and_live() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (seeds, start) = (env("POLYRAFT_SIM_SEEDS", 2000), env("POLYRAFT_SIM_START", 0));
    let t0 = std::time::Instant::now();
    match run_seeds(start, seeds, 300) {
        Ok(stats) => println!("sim: {seeds} seeds, 0 violations in {:.1?}: {stats}", t0.elapsed()),
        Err(e) => panic!("{e}"),
    }
}

/// Seeds that once found a bug, replayed whatever the range above:
/// 26, payloads merged into a witness's append by batched appends; 8969, a
/// witness of the highest priority refusing every candidate with a log
/// equal to its own while never standing itself (no leader after healing).
#[test]
fn seeds_that_once_failed_stay_clean() {
    for seed in [26, 8969] {
        if let Err(e) = run_seeds(seed, 1, 300) {
            panic!("{e}");
        }
    }
}
