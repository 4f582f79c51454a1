//! Writes a development CA and host certificates for mutual TLS:
//!
//!     cargo run -p polyraft-transport --example devcerts -- DIR 1 2 3
//!
//! creates DIR/ca.pem and DIR/host-<id>.pem, DIR/host-<id>.key for each id,
//! the files a `TlsFiles` names. For development and tests only.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: devcerts DIR HOST_ID...");
        return ExitCode::from(2);
    };
    let ids: Result<Vec<u64>, _> = args.map(|a| a.parse::<u64>()).collect();
    let ids = match ids {
        Ok(ids) if !ids.is_empty() && !ids.contains(&0) => ids,
        _ => {
            eprintln!("devcerts: host ids must be positive integers (at least one)");
            return ExitCode::from(2);
        }
    };
    match polyraft_transport::devcerts::dev_cluster(&dir, &ids) {
        Ok(files) => {
            for (id, f) in ids.iter().zip(files) {
                println!("host {id}: cert {} key {} ca {}", f.cert.display(), f.key.display(), f.ca.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("devcerts: {e}");
            ExitCode::FAILURE
        }
    }
}
