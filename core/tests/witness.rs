//! Witness replicas (docs/witness.md): polyraft's own interaction scripts
//! in `tests/testdata/witness`, run like etcd's, plus the checks a script
//! cannot show (payloads and snapshot data on the wire).
//!
//! `POLYRAFT_REWRITE=1` regenerates the scripts' expected output; review the
//! diff before committing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polyraft::rafttest::confchange_runner::{confchange_handler, run_confchange_script};
use polyraft::rafttest::datadriven::{parse, TestCase};
use polyraft::rafttest::interaction::{run_interaction_script, InteractionEnv};

fn scripts(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/witness").join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    v.sort();
    v
}

/// Runs the script and writes its actual output in place of the expected.
fn rewrite(path: &Path, mut handle: impl FnMut(&TestCase) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cases = parse(&text).unwrap();
    let mut out = String::new();
    let mut i = 0; // next source line to copy (0-based)
    for case in &cases {
        // Copy comments, the command and its input up to the separator.
        let mut j = case.line - 1;
        while lines[j] != "----" {
            j += 1;
        }
        for l in &lines[i..=j] {
            let _ = writeln!(out, "{l}");
        }
        // Skip the old expected block.
        let mut k = j + 1;
        if lines.get(k) == Some(&"----") {
            k += 1;
            while !(lines[k] == "----" && lines.get(k + 1) == Some(&"----")) {
                k += 1;
            }
            k += 2;
        } else {
            while k < lines.len() && !lines[k].is_empty() {
                k += 1;
            }
        }
        let mut got = handle(case);
        if !got.ends_with('\n') {
            got.push('\n');
        }
        if got.lines().any(|l| l.is_empty()) {
            let _ = write!(out, "----\n{got}----\n----\n");
        } else {
            out.push_str(&got);
        }
        i = k;
    }
    for l in &lines[i.min(lines.len())..] {
        let _ = writeln!(out, "{l}");
    }
    std::fs::write(path, out).unwrap();
}

type Runner = fn(&Path) -> Result<(), String>;

fn run_all(sub: &str, run: Runner, fresh: fn() -> Box<dyn FnMut(&TestCase) -> String>) {
    let all = scripts(sub);
    assert!(!all.is_empty(), "no witness scripts found in {sub:?}");
    let mut failed = Vec::new();
    for path in &all {
        if std::env::var_os("POLYRAFT_REWRITE").is_some() {
            rewrite(path, fresh());
        }
        if let Err(diff) = run(path) {
            eprintln!("FAIL {}\n{diff}", path.display());
            failed.push(path.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    println!("witness scripts in {sub:?}: {} passed, {} failed", all.len() - failed.len(), failed.len());
    assert!(failed.is_empty(), "failing witness scripts: {failed:?}");
}

/// Interaction scripts: join, commit, elections, snapshot, removal.
#[test]
fn witness_interaction_scripts() {
    run_all("", run_interaction_script, || {
        let mut env = InteractionEnv::new();
        Box::new(move |tc| env.handle(tc))
    });
}

/// Configuration-change scripts: the Changer's witness rules.
#[test]
fn witness_confchange_scripts() {
    run_all("confchange", run_confchange_script, || Box::new(confchange_handler()));
}
