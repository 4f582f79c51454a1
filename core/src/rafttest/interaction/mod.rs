//! InteractionEnv: etcd's scripted multi-node harness. A script adds nodes,
//! ticks them, delivers (or drops) their messages, and processes their
//! Readies one step at a time; every step prints what happened in etcd's
//! words, so etcd's own scripts check polyraft byte for byte.

mod handlers;
mod output;
mod storage;

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::raftpb::{Message, Snapshot};
use crate::{Config, RawNode};

pub use output::Output;
pub use storage::EnvStorage;

use super::datadriven::{run_file, CmdArg, TestCase};

/// A member of the scripted group.
pub struct Node {
    /// The node under test.
    pub raw: RawNode<EnvStorage>,
    /// The storage the harness persists into (shared with `raw`).
    pub storage: EnvStorage,
    /// The configuration the node was created with.
    pub config: Config,
    /// MsgStorageAppend messages waiting for the append thread.
    pub append_work: Vec<Message>,
    /// MsgStorageApply messages waiting for the apply thread.
    pub apply_work: Vec<Message>,
}

/// The scripted group: nodes, messages in flight, and the output buffer.
pub struct InteractionEnv {
    /// Nodes; node `i` has id `i + 1`.
    pub nodes: Vec<Node>,
    /// Messages sent but not yet delivered or dropped, in send order.
    pub messages: Vec<Message>,
    /// Where handlers and node loggers write.
    pub output: Arc<Mutex<Output>>,
}

impl Default for InteractionEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// An error a command reports in its output (etcd prints `err.Error()`).
pub type CmdResult = Result<(), String>;

impl InteractionEnv {
    /// An empty group.
    pub fn new() -> Self {
        InteractionEnv { nodes: Vec::new(), messages: Vec::new(), output: Arc::new(Mutex::new(Output::default())) }
    }

    /// Writes harness output (suppressed at log level NONE).
    pub(crate) fn write(&self, s: &str) {
        self.output.lock().write(s);
    }

    /// Runs `f` and indents everything it printed by two spaces.
    pub(crate) fn with_indent<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let orig = std::mem::take(&mut self.output.lock().buf);
        let res = f(self);
        let mut out = self.output.lock();
        let inner = std::mem::replace(&mut out.buf, orig);
        for line in inner.lines() {
            out.buf.push_str("  ");
            out.buf.push_str(line);
            out.buf.push('\n');
        }
        res
    }

    /// Runs one datadriven command and returns its output, or "ok" when it
    /// printed nothing. Input lines under a command are ignored, except for
    /// `propose-conf-change` (whose input is the change), as in etcd's
    /// harness.
    pub fn handle(&mut self, tc: &TestCase) -> String {
        self.output.lock().buf.clear();
        let res = if tc.cmd == "propose-conf-change" {
            self.handle_propose_conf_change(tc)
        } else {
            self.handle_single(&tc.cmd, &tc.args)
        };
        if let Err(e) = res {
            let mut out = self.output.lock();
            if out.quiet() {
                return e;
            }
            out.write(&e);
        }
        let out = self.output.lock();
        if out.buf.is_empty() {
            "ok".to_string()
        } else {
            out.buf.clone()
        }
    }

    fn handle_single(&mut self, cmd: &str, args: &[CmdArg]) -> CmdResult {
        match cmd {
            "_breakpoint" => Ok(()),
            "add-nodes" => self.handle_add_nodes(args),
            "campaign" => self.handle_campaign(args),
            "compact" => self.handle_compact(args),
            "deliver-msgs" => self.handle_deliver_msgs(args),
            "process-ready" => self.handle_process_ready(args),
            "process-append-thread" => self.handle_process_append_thread(args),
            "process-apply-thread" => self.handle_process_apply_thread(args),
            "log-level" => self.handle_log_level(args),
            "raft-log" => self.handle_raft_log(args),
            "raft-state" => self.handle_raft_state(),
            "set-randomized-election-timeout" => self.handle_set_randomized_election_timeout(args),
            "stabilize" => self.handle_stabilize(args),
            "status" => self.handle_status(args),
            "tick-election" => self.handle_tick(args, true),
            "tick-heartbeat" => self.handle_tick(args, false),
            "transfer-leadership" => self.handle_transfer_leadership(args),
            "forget-leader" => self.handle_forget_leader(args),
            "send-snapshot" => self.handle_send_snapshot(args),
            "propose" => self.handle_propose(args),
            "report-unreachable" => self.handle_report_unreachable(args),
            _ => Err("unknown command".to_string()),
        }
    }
}

/// Runs one interaction script in a fresh environment; `Err` holds a diff.
pub fn run_interaction_script(path: &Path) -> Result<(), String> {
    let mut env = InteractionEnv::new();
    run_file(path, |tc| env.handle(tc))
}

/// The last snapshot in a node's history (its "state machine").
pub(crate) fn last_snapshot(history: &Mutex<Vec<Snapshot>>) -> Snapshot {
    history.lock().last().cloned().unwrap_or_default()
}
