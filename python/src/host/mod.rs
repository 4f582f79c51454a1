//! `polyraft.Host`: the multi-group runtime (crate `polyraft-host`) for
//! Python.
//!
//! The host owns every thread. Python code runs only in three places, each
//! under the GIL and nowhere else:
//! - state machine callbacks (`apply`, `snapshot`, `restore`, `lookup`),
//!   called on a step worker thread;
//! - the caller's own thread, which releases the GIL while it waits for an
//!   operation's outcome (blocking API);
//! - the asyncio loop's thread, which resolves futures from a
//!   [`PyCompletionQueue`] that worker threads fill without the GIL
//!   (they take it only to wake the loop, once per burst of outcomes).
//!
//! Outcomes map onto the exception tree of `polyraft.host`: rejected
//! (certainly not applied) and timed out (unknown) stay distinct.

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft_host::net::NetHost;
use polyraft_host::{
    Completion, FileLogStore, FileSnapshotStore, Host, HostConfig, HostError, HostParts, InProcNetwork, LogStore,
    MemLogStore, MemSnapshotStore, Membership, OpResult, SnapshotStore, StartMode, SystemClock,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

mod aio;
mod errors;
mod info;
mod network;
mod session;
mod statemachine;
mod wait;

use aio::{bytes_done, read_done, unit_done, PyCompletionQueue};
use errors::{closed_err, hosting_err, op_err, Failure};
use info::PyGroupInfo;
use network::{dev_certificates, Network, PyInProcNetwork, PyTcpNetwork};
use session::PySession;
use statemachine::{untag_lookup, Failures, PyStateMachine};
use wait::{block_on, refuse_in_callback, to_duration, IN_CALLBACK};

/// Hosts not closed yet, so that interpreter exit can stop their threads
/// before Python is gone (`polyraft.host` registers `_close_all_hosts`
/// with atexit).
static LIVE: Mutex<Vec<Weak<Running>>> = Mutex::new(Vec::new());

/// A running host: alone or on the in-process network, or on the TCP
/// network (then it owns its transport, closed after the host).
pub(crate) enum Running {
    Local(Host),
    Net(NetHost),
}

impl std::ops::Deref for Running {
    type Target = Host;
    fn deref(&self) -> &Host {
        match self {
            Running::Local(h) => h,
            Running::Net(n) => n.host(),
        }
    }
}

impl Running {
    /// Closes the host (and its transport). Idempotent.
    fn close(&self) {
        match self {
            Running::Local(h) => h.close(),
            Running::Net(n) => n.close(),
        }
    }
}

/// Stops every host still running (called at interpreter exit).
#[pyfunction]
pub fn _close_all_hosts(py: Python<'_>) {
    let hosts: Vec<Arc<Running>> = LIVE.lock().drain(..).filter_map(|w| w.upgrade()).collect();
    py.allow_threads(|| hosts.iter().for_each(|h| h.close()));
}

/// One process's runtime for many raft groups: see `polyraft/_native.pyi`.
#[pyclass(module = "polyraft._native", name = "Host", frozen)]
pub struct PyHost {
    host: Mutex<Option<Arc<Running>>>,
    id: u64,
    net: Option<InProcNetwork>,
    failures: Failures,
}

impl Drop for PyHost {
    fn drop(&mut self) {
        if let Some(h) = self.host.lock().take() {
            if let Some(n) = &self.net {
                n.unregister(self.id);
            }
            if IN_CALLBACK.with(|c| c.get()) {
                // Dropped by a state machine callback on a worker: closing
                // here would join that worker from itself.
                let _ = std::thread::Builder::new().name("polyraft-host-close".into()).spawn(move || h.close());
                return;
            }
            // A worker may be waiting for the GIL to run a callback.
            Python::with_gil(|py| py.allow_threads(|| h.close()));
        }
    }
}

/// The membership change kinds of the asyncio API.
const ADD_REPLICA: u8 = 0;
const ADD_LEARNER: u8 = 1;
const REMOVE_REPLICA: u8 = 2;
const TRANSFER_LEADER: u8 = 3;

impl PyHost {
    fn get(&self, py: Python<'_>) -> PyResult<Arc<Running>> {
        self.host.lock().clone().ok_or_else(|| closed_err(py))
    }

    /// Runs a blocking client operation that yields bytes.
    fn wait_bytes(&self, py: Python<'_>, f: impl FnOnce(&Host, Completion<Bytes>)) -> PyResult<Py<PyBytes>> {
        let h = self.get(py)?;
        let r: OpResult<Bytes> = block_on(py, |done| f(&h, done))?;
        r.map(|b| PyBytes::new(py, &b).unbind()).map_err(|e| op_err(py, &e))
    }

    fn wait_unit(&self, py: Python<'_>, f: impl FnOnce(&Host, Completion<()>)) -> PyResult<()> {
        let h = self.get(py)?;
        let r: OpResult<()> = block_on(py, |done| f(&h, done))?;
        r.map_err(|e| op_err(py, &e))
    }

    fn wait_read(&self, py: Python<'_>, f: impl FnOnce(&Host, Completion<Bytes>)) -> PyResult<Py<PyBytes>> {
        let h = self.get(py)?;
        let r: Result<Bytes, Failure> = block_on(py, |done| f(&h, Box::new(move |r| done(untag_lookup(r)))))?;
        r.map(|b| PyBytes::new(py, &b).unbind()).map_err(|e| e.into_py_err(py))
    }

    fn membership(kind: u8, replica: u64, host: u64) -> PyResult<Membership> {
        match kind {
            ADD_REPLICA => Ok(Membership::AddReplica { replica, host }),
            ADD_LEARNER => Ok(Membership::AddLearner { replica, host }),
            REMOVE_REPLICA => Ok(Membership::RemoveReplica { replica }),
            _ => Err(PyValueError::new_err(format!("unknown membership change kind {kind}"))),
        }
    }
}

#[pymethods]
impl PyHost {
    #[new]
    #[pyo3(signature = (host_id, *, network = None, data_dir = None, tick_interval = 0.1, election_ticks = 10,
                        heartbeat_ticks = 1, snapshot_entries = 10_000, compaction_overhead = 5_000, quiesce = true,
                        workers = 0, max_sessions = 10_000, seed = None, election_priority = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host_id: u64,
        network: Option<&Bound<'_, PyAny>>,
        data_dir: Option<PathBuf>,
        tick_interval: f64,
        election_ticks: usize,
        heartbeat_ticks: usize,
        snapshot_entries: u64,
        compaction_overhead: u64,
        quiesce: bool,
        workers: usize,
        max_sessions: usize,
        seed: Option<u64>,
        election_priority: i64,
    ) -> PyResult<Self> {
        let network = Network::from_py(network)?;
        if election_ticks <= heartbeat_ticks || heartbeat_ticks == 0 {
            return Err(PyValueError::new_err("need 0 < heartbeat_ticks < election_ticks"));
        }
        let mut cfg = HostConfig::new(host_id);
        cfg.tick_interval = to_duration("tick_interval", tick_interval)?;
        cfg.election_ticks = election_ticks;
        cfg.heartbeat_ticks = heartbeat_ticks;
        cfg.snapshot_entries = snapshot_entries;
        cfg.compaction_overhead = compaction_overhead;
        cfg.quiesce = quiesce;
        cfg.workers = workers;
        cfg.max_sessions = max_sessions;
        cfg.seed = seed;
        cfg.election_priority = election_priority;
        let (log, snapshots): (Arc<dyn LogStore>, Arc<dyn SnapshotStore>) = match &data_dir {
            None => (Arc::new(MemLogStore::new()), Arc::new(MemSnapshotStore::new())),
            Some(dir) => {
                let log = py.allow_threads(|| FileLogStore::open(dir.join("log"), Default::default()));
                let log = log.map_err(|e| hosting_err(py, &HostError::Log(e)))?;
                let snaps = FileSnapshotStore::open(dir.join("snapshots"))
                    .map_err(|e| hosting_err(py, &HostError::Snapshot(e)))?;
                (Arc::new(log), Arc::new(snaps))
            }
        };
        let host = match &network {
            Network::Tcp(net) => {
                let net = (**net).clone();
                let h = py.allow_threads(|| NetHost::start(cfg, net, log, snapshots));
                Running::Net(h.map_err(|e| hosting_err(py, &e))?)
            }
            _ => {
                let parts =
                    HostParts { log, snapshots, transport: network.transport(host_id), clock: Arc::new(SystemClock::default()) };
                Running::Local(Host::new(cfg, parts).map_err(|e| hosting_err(py, &e))?)
            }
        };
        let host = Arc::new(host);
        let net = match network {
            Network::InProc(n) => {
                n.register(host_id, host.inbound());
                Some(n)
            }
            Network::Standalone | Network::Tcp(_) => None,
        };
        let mut live = LIVE.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&host));
        Ok(PyHost { host: Mutex::new(Some(host)), id: host_id, net, failures: Arc::default() })
    }

    /// This host's id.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The address the TCP transport listens on (`ip:port`, useful with
    /// port 0), or None when the host is not on a TCP network.
    #[getter]
    fn local_addr(&self) -> Option<String> {
        match self.host.lock().as_deref() {
            Some(Running::Net(n)) => Some(n.local_addr().to_string()),
            _ => None,
        }
    }

    /// Adds or updates the address of host `host` (TCP network only).
    fn add_peer(&self, py: Python<'_>, host: u64, address: &str) -> PyResult<()> {
        match &*self.get(py)? {
            Running::Net(n) => {
                n.add_peer(host, address);
                Ok(())
            }
            Running::Local(_) => Err(PyValueError::new_err("add_peer: this host is not on a TcpNetwork")),
        }
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.host.lock().is_none()
    }

    /// Starts (or restarts from the log) the replica of `group`.
    #[pyo3(signature = (group, replica, state_machine, *, members = None, join = false))]
    fn start_replica(
        &self,
        py: Python<'_>,
        group: u64,
        replica: u64,
        state_machine: Py<PyAny>,
        members: Option<std::collections::BTreeMap<u64, u64>>,
        join: bool,
    ) -> PyResult<()> {
        let mode = match (members, join) {
            (Some(m), false) => StartMode::Bootstrap(m.into_iter().collect()),
            (None, true) => StartMode::Join,
            _ => {
                return Err(PyValueError::new_err(
                    "pass members={replica: host, ...} to bootstrap a group, or join=True to join one",
                ))
            }
        };
        for m in ["apply", "snapshot", "restore", "lookup"] {
            if !state_machine.bind(py).hasattr(m)? {
                return Err(PyTypeError::new_err(format!("state_machine has no {m}() method")));
            }
        }
        refuse_in_callback()?;
        let h = self.get(py)?;
        let sm = PyStateMachine { obj: state_machine, group, replica, failures: self.failures.clone() };
        let r = py.allow_threads(|| h.start_replica(group, replica, mode, Box::new(move |_, _| Box::new(sm))));
        r.map_err(|e| hosting_err(py, &e))
    }

    /// Stops the local replica of `group`; its log stays.
    fn stop_replica(&self, py: Python<'_>, group: u64) -> PyResult<()> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        py.allow_threads(|| h.stop_replica(group)).map_err(|e| hosting_err(py, &e))
    }

    /// Proposes `command` and returns the state machine's result for it.
    #[pyo3(signature = (group, command, timeout = 5.0))]
    fn propose(&self, py: Python<'_>, group: u64, command: &[u8], timeout: f64) -> PyResult<Py<PyBytes>> {
        let t = to_duration("timeout", timeout)?;
        self.wait_bytes(py, |h, done| h.propose_async(group, command, t, done))
    }

    /// Proposes `command` within `session`: retried after a timeout with
    /// the same session, it applies at most once.
    #[pyo3(signature = (session, command, timeout = 5.0))]
    fn propose_session(
        &self,
        py: Python<'_>,
        session: &PySession,
        command: &[u8],
        timeout: f64,
    ) -> PyResult<Py<PyBytes>> {
        let t = to_duration("timeout", timeout)?;
        refuse_in_callback()?;
        let h = self.get(py)?;
        let s = session.begin()?;
        let r: OpResult<Bytes> = block_on(py, |done| h.propose_session_async(&s, command, t, session.finisher(done)))?;
        r.map(|b| PyBytes::new(py, &b).unbind()).map_err(|e| op_err(py, &e))
    }

    /// Drops the session's state (its cached results) in its group.
    #[pyo3(signature = (session, timeout = 5.0))]
    fn close_session(&self, py: Python<'_>, session: &PySession, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        refuse_in_callback()?;
        let h = self.get(py)?;
        let s = session.inner.lock().session.clone();
        py.allow_threads(|| h.close_session(&s, t)).map_err(|e| op_err(py, &e))
    }

    /// A linearizable read: ReadIndex, then `lookup(query)`.
    #[pyo3(signature = (group, query, timeout = 5.0))]
    fn read(&self, py: Python<'_>, group: u64, query: &[u8], timeout: f64) -> PyResult<Py<PyBytes>> {
        let t = to_duration("timeout", timeout)?;
        self.wait_read(py, |h, done| h.read_async(group, query, t, done))
    }

    /// `lookup(query)` on the local replica as it is (may be stale).
    fn stale_read(&self, py: Python<'_>, group: u64, query: &[u8]) -> PyResult<Py<PyBytes>> {
        self.wait_read(py, |h, done| h.stale_read_async(group, query, done))
    }

    /// Adds a voter (or promotes a learner) running on host `host`;
    /// `address` (TCP network) travels with the change to every replica.
    #[pyo3(signature = (group, replica, host, timeout = 5.0, *, address = None))]
    fn add_replica(
        &self,
        py: Python<'_>,
        group: u64,
        replica: u64,
        host: u64,
        timeout: f64,
        address: Option<String>,
    ) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| change(h, group, Membership::AddReplica { replica, host }, address, t, done))
    }

    /// Adds a non-voting learner running on host `host` (`address`: as for
    /// `add_replica`).
    #[pyo3(signature = (group, replica, host, timeout = 5.0, *, address = None))]
    fn add_learner(
        &self,
        py: Python<'_>,
        group: u64,
        replica: u64,
        host: u64,
        timeout: f64,
        address: Option<String>,
    ) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| change(h, group, Membership::AddLearner { replica, host }, address, t, done))
    }

    /// Adds a witness running on host `host` (docs/witness.md): a voter
    /// that receives entry metadata without payloads, keeps no state
    /// machine and never leads. Start it there with `start_witness`.
    #[pyo3(signature = (group, replica, host, timeout = 5.0))]
    fn add_witness(&self, py: Python<'_>, group: u64, replica: u64, host: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.add_witness_async(group, replica, host, String::new(), t, done))
    }

    /// Starts (or restarts from the log) the witness replica of `group`:
    /// no state machine; proposals and reads on it are refused.
    fn start_witness(&self, py: Python<'_>, group: u64, replica: u64) -> PyResult<()> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        py.allow_threads(|| h.start_witness(group, replica, StartMode::Join)).map_err(|e| hosting_err(py, &e))
    }

    /// Removes a replica (voter or learner) from the group.
    #[pyo3(signature = (group, replica, timeout = 5.0))]
    fn remove_replica(&self, py: Python<'_>, group: u64, replica: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.change_membership_async(group, Membership::RemoveReplica { replica }, t, done))
    }

    /// Hands leadership of the group to replica `target`.
    #[pyo3(signature = (group, target, timeout = 5.0))]
    fn transfer_leader(&self, py: Python<'_>, group: u64, target: u64, timeout: f64) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.wait_unit(py, |h, done| h.transfer_leader_async(group, target, t, done))
    }

    /// Leader, term, members and indexes of the local replica, or None.
    fn group_info(&self, py: Python<'_>, group: u64) -> PyResult<Option<PyGroupInfo>> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        Ok(py.allow_threads(|| h.group_info(group)).map(PyGroupInfo::from))
    }

    /// Tells the host that `host` is down: groups it led wake up and elect.
    fn report_host_down(&self, py: Python<'_>, host: u64) -> PyResult<usize> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        Ok(py.allow_threads(|| h.report_host_down(host)))
    }

    /// The host's counters and gauges by name.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        let m = py.allow_threads(|| h.metrics());
        let d = PyDict::new(py);
        macro_rules! put {
            ($($f:ident),*) => { $( d.set_item(stringify!($f), m.$f)?; )* };
        }
        put!(
            proposals,
            proposals_rejected,
            proposals_timed_out,
            reads,
            commits,
            applies,
            dedup_hits,
            elections,
            snapshots_created,
            snapshots_installed,
            snapshots_sent,
            log_writes,
            fsyncs,
            batch_groups,
            max_batch_groups,
            entries_written,
            bytes_written,
            log_errors,
            messages_sent,
            frames_sent,
            messages_received,
            step_errors,
            send_failures,
            group_ticks,
            quiesces,
            wakeups,
            groups,
            active_groups,
            queue_depth,
            pending_ops
        );
        Ok(d)
    }

    /// The host's and its groups' metrics as Prometheus text.
    fn prometheus(&self, py: Python<'_>) -> PyResult<String> {
        refuse_in_callback()?;
        let h = self.get(py)?;
        Ok(py.allow_threads(|| h.prometheus()))
    }

    /// State machine failures so far: `(group, replica, report)`. A failed
    /// `apply` stopped its replica.
    fn failures(&self) -> Vec<(u64, u64, String)> {
        self.failures.lock().clone()
    }

    /// Stops every replica and worker; waiting operations complete
    /// (proposals as timed out, the rest as rejected). Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        refuse_in_callback()?;
        let h = self.host.lock().take();
        if let Some(h) = h {
            if let Some(n) = &self.net {
                n.unregister(self.id);
            }
            py.allow_threads(|| h.close());
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&self, py: Python<'_>, _t: Py<PyAny>, _v: Py<PyAny>, _tb: Py<PyAny>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("Host(id={}{})", self.id, if self.closed() { ", closed" } else { "" })
    }

    // ---- the non-blocking forms, for polyraft.host.AsyncHost: each
    // queues the operation and later pushes (token, outcome) to `queue`.

    fn _propose_to(
        &self,
        py: Python<'_>,
        queue: &PyCompletionQueue,
        token: u64,
        group: u64,
        command: &[u8],
        timeout: f64,
    ) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.get(py)?.propose_async(group, command, t, bytes_done(&queue.inner, token));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn _propose_session_to(
        &self,
        py: Python<'_>,
        queue: &PyCompletionQueue,
        token: u64,
        session: &PySession,
        command: &[u8],
        timeout: f64,
    ) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        let h = self.get(py)?;
        let s = session.begin()?;
        h.propose_session_async(&s, command, t, session.finisher(bytes_done(&queue.inner, token)));
        Ok(())
    }

    fn _read_to(
        &self,
        py: Python<'_>,
        queue: &PyCompletionQueue,
        token: u64,
        group: u64,
        query: &[u8],
        timeout: f64,
    ) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        self.get(py)?.read_async(group, query, t, read_done(&queue.inner, token));
        Ok(())
    }

    fn _stale_read_to(
        &self,
        py: Python<'_>,
        queue: &PyCompletionQueue,
        token: u64,
        group: u64,
        query: &[u8],
    ) -> PyResult<()> {
        self.get(py)?.stale_read_async(group, query, read_done(&queue.inner, token));
        Ok(())
    }

    /// `kind`: 0 add replica, 1 add learner, 2 remove replica, 3 transfer
    /// leadership to `replica` (`host` unused for 2 and 3).
    #[allow(clippy::too_many_arguments)]
    fn _change_to(
        &self,
        py: Python<'_>,
        queue: &PyCompletionQueue,
        token: u64,
        group: u64,
        kind: u8,
        replica: u64,
        host: u64,
        timeout: f64,
    ) -> PyResult<()> {
        let t = to_duration("timeout", timeout)?;
        let h = self.get(py)?;
        if kind == TRANSFER_LEADER {
            h.transfer_leader_async(group, replica, t, unit_done(&queue.inner, token));
        } else {
            let change = Self::membership(kind, replica, host)?;
            h.change_membership_async(group, change, t, unit_done(&queue.inner, token));
        }
        Ok(())
    }
}

/// Proposes a membership change, with the new host's address when given.
fn change(h: &Host, group: u64, c: Membership, address: Option<String>, t: std::time::Duration, done: Completion<()>) {
    match address {
        Some(a) => h.change_membership_at_async(group, c, a, t, done),
        None => h.change_membership_async(group, c, t, done),
    }
}

/// Adds the host's classes and functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHost>()?;
    m.add_class::<PySession>()?;
    m.add_class::<PyGroupInfo>()?;
    m.add_class::<PyInProcNetwork>()?;
    m.add_class::<PyTcpNetwork>()?;
    m.add_function(wrap_pyfunction!(dev_certificates, m)?)?;
    m.add_class::<PyCompletionQueue>()?;
    m.add_function(wrap_pyfunction!(_close_all_hosts, m)?)?;
    Ok(())
}
