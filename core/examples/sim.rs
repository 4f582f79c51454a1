//! The chaos simulator's command line:
//! `sim --seeds N --start S [--ticks T]` runs seeds S..S+N and stops at the
//! first violated invariant, printing the seed and the replay command.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seeds, mut start, mut ticks) = (100u64, 0u64, 300u64);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|v| v.parse::<u64>().ok());
        match (a.as_str(), v) {
            ("--seeds", Some(v)) => seeds = v,
            ("--start", Some(v)) => start = v,
            ("--ticks", Some(v)) => ticks = v,
            _ => {
                eprintln!("usage: sim [--seeds N] [--start S] [--ticks T]");
                std::process::exit(2);
            }
        }
    }
    let t0 = Instant::now();
    match polyraft::rafttest::sim::run_seeds(start, seeds, ticks) {
        Ok(stats) => println!("sim: {seeds} seeds from {start}, 0 violations in {:.1?}\n{stats}", t0.elapsed()),
        Err(e) => {
            eprintln!("sim: VIOLATION\n{e}");
            std::process::exit(1);
        }
    }
}
