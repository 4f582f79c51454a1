//! The directory lock between processes: this test binary re-runs itself
//! as a child (the `lock_holder_child` test, enabled by an environment
//! variable) that opens a storage and waits; while it lives, the parent's
//! open is refused, and once it is killed (SIGKILL: no chance to clean up)
//! the directory opens again.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use polyraft_wal::{DurableStorage, Error, Options};

const CHILD_DIR: &str = "POLYRAFT_LOCK_CHILD_DIR";

/// In the child: hold the directory until killed (or stdin closes).
#[test]
fn lock_holder_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let (_s, _) = DurableStorage::open(&dir, Options::default()).expect("child open");
    println!("LOCKED");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn another_process_cannot_open_a_locked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["lock_holder_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the child exited before locking");
        // The harness prints "test lock_holder_child ... " before it.
        if line.trim_end().ends_with("LOCKED") {
            break;
        }
    }
    match DurableStorage::open(dir.path(), Options::default()) {
        Err(Error::Locked { dir: d, lock }) => {
            assert_eq!(d, dir.path());
            assert_eq!(lock, dir.path().join("LOCK"));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (s, rep) = DurableStorage::open(dir.path(), Options::default()).expect("open after the holder died");
    assert!(!rep.created);
    s.append(&[]).unwrap();
}
