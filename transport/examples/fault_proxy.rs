//! The fault proxy as a process, for tests that run hosts as processes:
//!
//!     cargo run -p polyraft-transport --example fault_proxy -- LISTEN TARGET
//!
//! forwards connections from LISTEN to TARGET and reads commands, one per
//! line, on standard input (answering "ok" or an error line on stdout):
//!
//!     heal | partition | block-forward | block-backward | cut
//!     delay MS | jitter MS | drop P | tamper P | reorder P
//!
//! Faults accumulate until `heal`. End of input stops the proxy.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use polyraft_transport::proxy::{FaultProxy, Faults};

fn apply(faults: &mut Faults, proxy: &FaultProxy, line: &str) -> Result<(), String> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let arg = words.next();
    let num = |what: &str| -> Result<f64, String> {
        arg.ok_or(format!("{what} needs a value"))?.parse::<f64>().map_err(|e| format!("{what}: {e}"))
    };
    let prob = |what: &str| -> Result<f64, String> {
        let p = num(what)?;
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(format!("{what}: a probability is between 0 and 1"))
        }
    };
    let ms = |what: &str| -> Result<Duration, String> {
        let v = num(what)?;
        if v >= 0.0 && v.is_finite() {
            Ok(Duration::from_secs_f64(v / 1000.0))
        } else {
            Err(format!("{what}: milliseconds must be non-negative"))
        }
    };
    match cmd {
        "heal" => *faults = Faults::default(),
        "partition" => {
            faults.block_forward = true;
            faults.block_backward = true;
        }
        "block-forward" => faults.block_forward = true,
        "block-backward" => faults.block_backward = true,
        "cut" => proxy.cut_all(),
        "delay" => faults.delay = ms("delay")?,
        "jitter" => faults.jitter = ms("jitter")?,
        "drop" => faults.drop_rate = prob("drop")?,
        "tamper" => faults.tamper_rate = prob("tamper")?,
        "reorder" => faults.reorder_rate = prob("reorder")?,
        "" => return Ok(()),
        other => return Err(format!("unknown command {other:?}")),
    }
    proxy.set(faults.clone());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addrs: Result<Vec<SocketAddr>, _> = args.iter().map(|a| a.parse()).collect();
    let (listen, target) = match addrs.as_deref() {
        Ok([l, t]) => (*l, *t),
        _ => {
            eprintln!("usage: fault_proxy LISTEN_ADDR TARGET_ADDR (ip:port each)");
            return ExitCode::from(2);
        }
    };
    let proxy = match FaultProxy::start_on(listen, target) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fault_proxy: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening {} -> {target}", proxy.addr());
    let mut faults = Faults::default();
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = match apply(&mut faults, &proxy, line.trim()) {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}
