//! The conformance run: etcd raft's own datadriven scripts (interaction,
//! confchange, quorum), read from `POLYRAFT_CONFORMANCE_DIR` (default: the
//! shared folder beside the checkout), must reproduce byte for byte.
//!
//! `POLYRAFT_CONFORMANCE_FILTER=substring` runs only matching scripts.
//!
//! The divergence scripts (scenarios where polyraft once differed from etcd,
//! with etcd v3.7.0's output) are read from `POLYRAFT_DIVERGENCES_DIR`
//! (default: `shared/conformance/divergences` beside the checkout).

use std::path::{Path, PathBuf};

use polyraft::rafttest::confchange_runner::run_confchange_script;
use polyraft::rafttest::interaction::run_interaction_script;
use polyraft::rafttest::quorum_runner::run_quorum_script;

type Runner = fn(&Path) -> Result<(), String>;

fn conformance_dir() -> PathBuf {
    match std::env::var_os("POLYRAFT_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/etcd-raft"),
    }
}

fn scripts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("conformance scripts not found at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    v.sort();
    v
}

#[test]
fn conformance() {
    let root = conformance_dir();
    assert!(
        root.is_dir(),
        "the etcd conformance scripts are missing: expected them at {} (set POLYRAFT_CONFORMANCE_DIR)",
        root.display()
    );
    let filter = std::env::var("POLYRAFT_CONFORMANCE_FILTER").unwrap_or_default();
    let suites: [(&str, Runner); 3] = [
        ("testdata", run_interaction_script),
        ("confchange/testdata", run_confchange_script),
        ("quorum/testdata", run_quorum_script),
    ];
    let (mut passed, mut failed) = (0, Vec::new());
    for (sub, run) in suites {
        for path in scripts(&root.join(sub)) {
            let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
            if !name.contains(&filter) {
                continue;
            }
            match std::panic::catch_unwind(|| run(&path)) {
                Ok(Ok(())) => passed += 1,
                Ok(Err(diff)) => {
                    eprintln!("FAIL {name}\n{diff}");
                    failed.push(name);
                }
                Err(_) => {
                    eprintln!("FAIL {name}: panicked");
                    failed.push(name);
                }
            }
        }
    }
    println!("conformance: {passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "failing conformance scripts: {failed:?}");
}

/// The folder of divergence scripts: scenarios where polyraft once differed
/// from etcd raft v3.7.0, each holding etcd's real output.
fn divergences_dir() -> PathBuf {
    match std::env::var_os("POLYRAFT_DIVERGENCES_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/divergences"),
    }
}

#[test]
fn divergences() {
    let dir = divergences_dir();
    assert!(
        dir.is_dir(),
        "the divergence scripts are missing: expected them at {} (set POLYRAFT_DIVERGENCES_DIR)",
        dir.display()
    );
    let (mut passed, mut failed) = (0, Vec::new());
    for path in scripts(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match std::panic::catch_unwind(|| run_interaction_script(&path)) {
            Ok(Ok(())) => passed += 1,
            Ok(Err(diff)) => {
                eprintln!("FAIL {name}\n{diff}");
                failed.push(name);
            }
            Err(_) => {
                eprintln!("FAIL {name}: panicked");
                failed.push(name);
            }
        }
    }
    println!("divergences: {passed} passed, {} failed", failed.len());
    assert!(passed > 0, "no divergence scripts found in {}", dir.display());
    assert!(failed.is_empty(), "failing divergence scripts: {failed:?}");
}

/// polyraft's own interaction scripts (features beyond etcd: priority
/// elections, batched appends), kept in this repository's tests/testdata.
#[test]
fn own_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let (mut passed, mut failed) = (0, Vec::new());
    for path in scripts(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match std::panic::catch_unwind(|| run_interaction_script(&path)) {
            Ok(Ok(())) => passed += 1,
            Ok(Err(diff)) => {
                eprintln!("FAIL {name}\n{diff}");
                failed.push(name);
            }
            Err(_) => {
                eprintln!("FAIL {name}: panicked");
                failed.push(name);
            }
        }
    }
    println!("own scripts: {passed} passed, {} failed", failed.len());
    assert!(passed > 0, "no scripts found in {}", dir.display());
    assert!(failed.is_empty(), "failing scripts: {failed:?}");
}
