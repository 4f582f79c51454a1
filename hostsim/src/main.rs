//! `sim_host`: runs the host simulator over many seeds.
//!
//! `sim_host --seeds N [--start S] [--stall]` runs seeds S..S+N (with
//! `--stall`, all in the leader-stall scenario) and stops at the first
//! violation, printing the seed and the command that replays it;
//! `sim_host --seed S [--verbose] [--stall]` replays one seed (with its
//! schedule printed; `--stall` forces the leader-stall scenario).
//! Results and violations go to stdout; the hosts' own log lines and the
//! verbose schedule go to stderr.

use std::time::Instant;

use polyraft_hostsim::{run_one, run_seeds, Scenario, SimConfig};

fn usage() -> ! {
    eprintln!("usage: sim_host [--seeds N] [--start S] [--stall] | --seed S [--verbose] [--stall]");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seeds, mut start, mut one, mut verbose, mut stall) = (100u64, 0u64, None, false, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--verbose" => verbose = true,
            "--stall" => stall = true,
            "--seeds" | "--start" | "--seed" => {
                let Some(v) = args.next().and_then(|v| v.parse::<u64>().ok()) else { usage() };
                match a.as_str() {
                    "--seeds" => seeds = v,
                    "--start" => start = v,
                    _ => one = Some(v),
                }
            }
            _ => usage(),
        }
    }
    let t0 = Instant::now();
    if let Some(seed) = one {
        let mut cfg = if stall { SimConfig::with_scenario(seed, Scenario::LeaderStall) } else { SimConfig::from_seed(seed) };
        cfg.verbose = verbose;
        eprintln!("{cfg:?}");
        match run_one(cfg) {
            Ok(stats) => println!("sim-host: seed {seed}: 0 violations in {:.1?}\n{stats}", t0.elapsed()),
            Err(f) => {
                println!("sim-host: VIOLATION\n{f}");
                std::process::exit(1);
            }
        }
        return;
    }
    let mut last = Instant::now();
    let scenario = stall.then_some(Scenario::LeaderStall);
    let res = run_seeds(start, seeds, scenario, verbose, |seed, total| {
        if last.elapsed().as_secs() >= 30 {
            last = Instant::now();
            println!("sim-host: through seed {seed} ({:.0?})\n{total}", t0.elapsed());
        }
    });
    match res {
        Ok(stats) => println!("sim-host: {seeds} seeds from {start}, 0 violations in {:.1?}\n{stats}", t0.elapsed()),
        Err(f) => {
            println!("sim-host: VIOLATION\n{f}");
            std::process::exit(1);
        }
    }
}
