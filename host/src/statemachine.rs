//! The user's state machine.

use std::io::{Read, Write};

use bytes::Bytes;
use polyraft::raftpb::Entry;

/// A replicated state machine: one instance per replica, driven by the
/// host in log order. Every replica of a group applies the same entries in
/// the same order, so implementations must be deterministic: the result of
/// `apply` may depend only on the state and the entries.
pub trait StateMachine: Send {
    /// Applies committed entries, oldest first, and returns exactly one
    /// result per entry (the result of the proposal that wrote it). Each
    /// entry's `data` is the command the client proposed; `index` and `term`
    /// are its place in the log.
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes>;
    /// Writes the whole state to `w` (called between applies).
    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()>;
    /// Replaces the whole state with the one `r` holds (written by
    /// `snapshot`, possibly on another replica).
    fn restore(&mut self, r: &mut dyn Read) -> std::io::Result<()>;
    /// Answers a read-only query against the current state.
    fn lookup(&self, query: &[u8]) -> Bytes;
}

/// The "state machine" of a witness replica (docs/witness.md): a witness
/// receives no payloads, so it applies nothing, its snapshots hold nothing
/// of it, and it answers no queries (the host refuses them before asking).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStateMachine;

impl StateMachine for NoStateMachine {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        vec![Bytes::new(); entries.len()]
    }
    fn snapshot(&self, _w: &mut dyn Write) -> std::io::Result<()> {
        Ok(())
    }
    fn restore(&mut self, _r: &mut dyn Read) -> std::io::Result<()> {
        Ok(())
    }
    fn lookup(&self, _query: &[u8]) -> Bytes {
        Bytes::new()
    }
}

/// Builds the state machine of a replica being started: (group, replica).
pub type StateMachineFactory = Box<dyn FnOnce(u64, u64) -> Box<dyn StateMachine> + Send>;
