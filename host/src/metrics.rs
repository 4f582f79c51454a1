//! Counters and gauges of a host and of its groups, readable as structs and
//! as Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter (relaxed atomics: values are
/// statistics, never used for synchronisation).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

macro_rules! host_metrics {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The live counters of one host, updated by its workers.
        #[derive(Debug, Default)]
        pub struct HostMetrics {
            $($(#[doc = $doc])* pub $name: Counter,)*
        }

        /// A copy of [`HostMetrics`] at one moment, plus the gauges.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct HostMetricsSnapshot {
            $($(#[doc = $doc])* pub $name: u64,)*
            /// Replicas running on the host (gauge).
            pub groups: u64,
            /// Replicas that are ticking, i.e. not quiesced (gauge).
            pub active_groups: u64,
            /// Commands and message batches waiting in the workers' inboxes (gauge).
            pub queue_depth: u64,
            /// Client operations waiting for their outcome (gauge).
            pub pending_ops: u64,
        }

        impl HostMetrics {
            /// Copies the counters; the gauges are filled in by the host.
            pub fn snapshot(&self) -> HostMetricsSnapshot {
                HostMetricsSnapshot { $($name: self.$name.get(),)* ..Default::default() }
            }
        }

        impl HostMetricsSnapshot {
            /// The Prometheus text exposition of the snapshot, labelled
            /// with the host id.
            pub fn prometheus(&self, host: u64) -> String {
                let mut out = String::new();
                $(
                    let _ = writeln!(out, "# TYPE polyraft_host_{} counter", stringify!($name));
                    let _ = writeln!(out, "polyraft_host_{}{{host=\"{}\"}} {}", stringify!($name), host, self.$name);
                )*
                for (name, v) in [("groups", self.groups), ("active_groups", self.active_groups),
                                  ("queue_depth", self.queue_depth), ("pending_ops", self.pending_ops)] {
                    let _ = writeln!(out, "# TYPE polyraft_host_{name} gauge");
                    let _ = writeln!(out, "polyraft_host_{name}{{host=\"{host}\"}} {v}");
                }
                out
            }
        }
    };
}

host_metrics! {
    /// Client proposals received (including membership changes).
    proposals,
    /// Proposals rejected (certainly not applied).
    proposals_rejected,
    /// Proposals whose deadline passed.
    proposals_timed_out,
    /// Linearizable reads received.
    reads,
    /// Committed entries handed to the apply stage.
    commits,
    /// Entries given to state machines.
    applies,
    /// Session entries answered from the session table instead of applied.
    dedup_hits,
    /// Times a replica on this host became leader.
    elections,
    /// Snapshots taken by the host's state machines.
    snapshots_created,
    /// Snapshots received from leaders and restored.
    snapshots_installed,
    /// Snapshots sent to followers.
    snapshots_sent,
    /// Log writes (group commits).
    log_writes,
    /// fdatasync calls made by the log.
    fsyncs,
    /// Group writes carried by all log writes (divide by log_writes for
    /// the mean batch size).
    batch_groups,
    /// Largest number of groups in one log write.
    max_batch_groups,
    /// Entries written to the log.
    entries_written,
    /// Bytes written to the log.
    bytes_written,
    /// Log failures.
    log_errors,
    /// Raft messages sent.
    messages_sent,
    /// Frames sent (one per destination host per send round).
    frames_sent,
    /// Raft messages received.
    messages_received,
    /// Received messages raft refused (stale, from unknown peers, dropped
    /// forwarded proposals...).
    step_errors,
    /// Messages that could not be sent (unknown address, transport error).
    send_failures,
    /// Ticks given to groups (idle groups get none).
    group_ticks,
    /// Times a group quiesced.
    quiesces,
    /// Times a quiesced group woke up.
    wakeups,
}

impl HostMetrics {
    /// Records one group commit.
    pub(crate) fn record_write(&self, groups: u64, entries: u64, bytes: u64, syncs: u64) {
        self.log_writes.inc();
        self.batch_groups.add(groups);
        self.max_batch_groups.0.fetch_max(groups, Ordering::Relaxed);
        self.entries_written.add(entries);
        self.bytes_written.add(bytes);
        self.fsyncs.add(syncs);
    }
}

/// Counters and gauges of one replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupMetrics {
    /// The group.
    pub group: u64,
    /// The local replica id.
    pub replica: u64,
    /// Proposals made on this replica.
    pub proposals: u64,
    /// Committed entries handed to the apply stage.
    pub commits: u64,
    /// Entries given to the state machine.
    pub applies: u64,
    /// Times this replica became leader.
    pub elections: u64,
    /// Snapshots taken or installed.
    pub snapshots: u64,
    /// Whether the group is quiesced (gauge).
    pub quiesced: bool,
    /// Client operations waiting (gauge).
    pub pending_ops: u64,
    /// Applied index (gauge).
    pub applied: u64,
}

impl GroupMetrics {
    /// Prometheus text lines for this group, labelled with host and group.
    pub fn prometheus(&self, host: u64) -> String {
        let mut out = String::new();
        for (name, v) in [
            ("proposals", self.proposals),
            ("commits", self.commits),
            ("applies", self.applies),
            ("elections", self.elections),
            ("snapshots", self.snapshots),
            ("quiesced", self.quiesced as u64),
            ("pending_ops", self.pending_ops),
            ("applied_index", self.applied),
        ] {
            let _ = writeln!(out, "polyraft_group_{name}{{host=\"{host}\",group=\"{}\"}} {v}", self.group);
        }
        out
    }
}
