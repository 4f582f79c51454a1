//! A peer that goes away mid-stream must cost an error on its connection,
//! never the process: C and Go programs that link polyraft keep SIGPIPE's
//! default action (terminate), unlike Rust and Python programs, which
//! ignore it before `main`. This binary restores the default, as a C
//! program has it, and then makes the transport write into connections
//! whose reader is gone.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use polyraft_transport::Transport;

/// Puts SIGPIPE back to its default action, as in a C program.
fn sigpipe_terminates_the_process() {
    // SAFETY: signal(2) with a valid signal number and SIG_DFL; this test
    // binary holds one test, so no other test thread depends on the old
    // disposition.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
}

#[test]
fn writing_to_a_vanished_peer_is_an_error_not_a_signal() {
    sigpipe_terminates_the_process();
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4 {
        let mut nodes = cluster(dir.path(), 2, true, |c| {
            c.write_timeout = Duration::from_secs(5)
        });
        nodes[0].t.send(2, vec![(1, msg("warm-up"))]);
        assert!(
            wait_until(Duration::from_secs(5), || nodes[1].rec.count() == 1),
            "round {round}: no connection"
        );
        // Large messages keep the writer busy in the kernel's socket buffer
        // when the reader disappears, so writes land on a reset connection.
        let big = Bytes::from(vec![7u8; 256 * 1024]);
        let sender = nodes.remove(0);
        let receiver = nodes.remove(0);
        let until = Instant::now() + Duration::from_millis(600);
        let mut dropped = Some(receiver);
        while Instant::now() < until {
            sender.t.send(2, vec![(1, big.clone()), (2, big.clone())]);
            if dropped.is_some()
                && until.saturating_duration_since(Instant::now()) < Duration::from_millis(450)
            {
                drop(dropped.take());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Still alive, and the loss was reported as such.
        assert!(
            wait_until(Duration::from_secs(10), || sender.rec.unreachable_count(2)
                > 0),
            "round {round}: the lost messages were not reported"
        );
    }
}
