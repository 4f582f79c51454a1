//! Config: etcd's raft.Config with snake_case keyword arguments, the same
//! defaults as polyraft's `Config::default()` and etcd's validation.

use std::fmt;
use std::sync::Arc;

use polyraft::logger::{Level, Logger};
use polyraft::{Config, ReadOnlyOption};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyInt;

use crate::common::{check, common_attr};
use crate::storage::{is_interrupt, SharedStash};

/// Log lines go to a Python callable `logger(level, message)`; levels are
/// "DEBUG", "INFO", "WARN", "ERROR". Lines below `min_level` are never
/// formatted. An Exception from the callable is reported as unraisable (a
/// broken logger must not break raft); a KeyboardInterrupt, SystemExit or
/// other BaseException that is not an Exception goes to the node's stash
/// and is raised from the node call once it is over.
struct PyLogger {
    callable: Py<PyAny>,
    min_level: Level,
    stash: SharedStash,
}

impl Logger for PyLogger {
    fn enabled(&self, level: Level) -> bool {
        level >= self.min_level
    }
    fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        let line = args.to_string();
        Python::with_gil(|py| {
            if let Err(e) = self.callable.bind(py).call1((level.as_str(), line)) {
                if is_interrupt(py, &e) {
                    self.stash.lock().interrupt(e);
                } else {
                    e.write_unraisable(py, Some(self.callable.bind(py)));
                }
            }
        });
    }
}

fn level_of(s: &str) -> PyResult<Level> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "DEBUG" => Level::Debug,
        "INFO" => Level::Info,
        "WARN" | "WARNING" => Level::Warn,
        "ERROR" => Level::Error,
        _ => return Err(PyValueError::new_err(format!("log_level must be DEBUG, INFO, WARN or ERROR, got {s:?}"))),
    })
}

/// An unsigned integer argument with a clear error: TypeError for a
/// non-int (bool included), ValueError for a negative or too large one.
fn uint(name: &str, v: &Bound<'_, PyAny>, max: u64) -> PyResult<u64> {
    if !v.is_instance_of::<PyInt>() || v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int, not {}",
            v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        )));
    }
    match v.extract::<u64>() {
        Ok(x) if x <= max => Ok(x),
        _ => Err(PyValueError::new_err(format!("{name} must be an integer in [0, {max}], got {v}"))),
    }
}

/// The parameters of a raft node (etcd's raft.Config).
#[pyclass(module = "polyraft._native", name = "Config", frozen)]
pub struct PyConfig {
    pub inner: Config,
    logger: Option<Py<PyAny>>,
    log_level: Level,
}

impl PyConfig {
    /// The core config, with the Python logger if one was given; it hands
    /// interrupts to `stash`, the node's.
    pub fn to_core(&self, py: Python<'_>, stash: SharedStash) -> Config {
        let mut c = self.inner.clone();
        if let Some(l) = &self.logger {
            c.logger = Some(Arc::new(PyLogger { callable: l.clone_ref(py), min_level: self.log_level, stash }));
        } else if self.log_level != Level::Info {
            c.logger = Some(Arc::new(LevelStderr(self.log_level)));
        }
        c
    }
}

/// The default stderr logger with another threshold.
struct LevelStderr(Level);

impl Logger for LevelStderr {
    fn enabled(&self, level: Level) -> bool {
        level >= self.0
    }
    fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        eprintln!("raft {level}: {args}");
    }
}

#[pymethods]
impl PyConfig {
    #[new]
    #[pyo3(signature = (
        id,
        *,
        election_tick = None,
        heartbeat_tick = None,
        applied = None,
        async_storage_writes = false,
        max_size_per_msg = None,
        max_committed_size_per_ready = None,
        max_uncommitted_entries_size = None,
        max_inflight_msgs = None,
        max_inflight_bytes = None,
        check_quorum = false,
        pre_vote = false,
        read_only_option = 0,
        disable_proposal_forwarding = false,
        disable_conf_change_validation = false,
        step_down_on_removal = false,
        priority = 0,
        batch_append = false,
        logger = None,
        log_level = "INFO",
    ))]
    #[pyo3(text_signature = "(id, *, election_tick=10, heartbeat_tick=1, applied=0, async_storage_writes=False, \
        max_size_per_msg=18446744073709551615, max_committed_size_per_ready=0, max_uncommitted_entries_size=0, \
        max_inflight_msgs=256, max_inflight_bytes=0, check_quorum=False, pre_vote=False, read_only_option=0, \
        disable_proposal_forwarding=False, disable_conf_change_validation=False, step_down_on_removal=False, \
        priority=0, batch_append=False, logger=None, log_level='INFO')")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        election_tick: Option<&Bound<'_, PyAny>>,
        heartbeat_tick: Option<&Bound<'_, PyAny>>,
        applied: Option<&Bound<'_, PyAny>>,
        async_storage_writes: bool,
        max_size_per_msg: Option<&Bound<'_, PyAny>>,
        max_committed_size_per_ready: Option<&Bound<'_, PyAny>>,
        max_uncommitted_entries_size: Option<&Bound<'_, PyAny>>,
        max_inflight_msgs: Option<&Bound<'_, PyAny>>,
        max_inflight_bytes: Option<&Bound<'_, PyAny>>,
        check_quorum: bool,
        pre_vote: bool,
        read_only_option: i32,
        disable_proposal_forwarding: bool,
        disable_conf_change_validation: bool,
        step_down_on_removal: bool,
        priority: i64,
        batch_append: bool,
        logger: Option<Py<PyAny>>,
        log_level: &str,
    ) -> PyResult<Self> {
        let d = Config::default();
        let usize_max = usize::MAX as u64;
        let opt = |name: &str, v: Option<&Bound<'_, PyAny>>, default: u64, max: u64| -> PyResult<u64> {
            v.map_or(Ok(default), |v| uint(name, v, max))
        };
        let read_only_option = match read_only_option {
            0 => ReadOnlyOption::Safe,
            1 => ReadOnlyOption::LeaseBased,
            v => return Err(PyValueError::new_err(format!("unknown ReadOnlyOption value {v}"))),
        };
        if let Some(l) = &logger {
            if !l.bind(py).is_callable() {
                return Err(PyTypeError::new_err("logger must be a callable logger(level: str, message: str)"));
            }
        }
        let inner = Config {
            id: uint("id", id, u64::MAX)?,
            election_tick: opt("election_tick", election_tick, d.election_tick as u64, usize_max)? as usize,
            heartbeat_tick: opt("heartbeat_tick", heartbeat_tick, d.heartbeat_tick as u64, usize_max)? as usize,
            applied: opt("applied", applied, d.applied, u64::MAX)?,
            async_storage_writes,
            max_size_per_msg: opt("max_size_per_msg", max_size_per_msg, d.max_size_per_msg, u64::MAX)?,
            max_committed_size_per_ready: opt(
                "max_committed_size_per_ready",
                max_committed_size_per_ready,
                d.max_committed_size_per_ready,
                u64::MAX,
            )?,
            max_uncommitted_entries_size: opt(
                "max_uncommitted_entries_size",
                max_uncommitted_entries_size,
                d.max_uncommitted_entries_size,
                u64::MAX,
            )?,
            max_inflight_msgs: opt("max_inflight_msgs", max_inflight_msgs, d.max_inflight_msgs as u64, usize_max)?
                as usize,
            max_inflight_bytes: opt("max_inflight_bytes", max_inflight_bytes, d.max_inflight_bytes, u64::MAX)?,
            check_quorum,
            pre_vote,
            read_only_option,
            logger: None,
            disable_proposal_forwarding,
            disable_conf_change_validation,
            step_down_on_removal,
            priority,
            batch_append,
        };
        check(py, inner.validate())?;
        Ok(PyConfig { inner, logger, log_level: level_of(log_level)? })
    }

    #[getter]
    fn id(&self) -> u64 { self.inner.id }
    #[getter]
    fn election_tick(&self) -> usize { self.inner.election_tick }
    #[getter]
    fn heartbeat_tick(&self) -> usize { self.inner.heartbeat_tick }
    #[getter]
    fn applied(&self) -> u64 { self.inner.applied }
    #[getter]
    fn async_storage_writes(&self) -> bool { self.inner.async_storage_writes }
    #[getter]
    fn max_size_per_msg(&self) -> u64 { self.inner.max_size_per_msg }
    #[getter]
    fn max_committed_size_per_ready(&self) -> u64 { self.inner.max_committed_size_per_ready }
    #[getter]
    fn max_uncommitted_entries_size(&self) -> u64 { self.inner.max_uncommitted_entries_size }
    #[getter]
    fn max_inflight_msgs(&self) -> usize { self.inner.max_inflight_msgs }
    #[getter]
    fn max_inflight_bytes(&self) -> u64 { self.inner.max_inflight_bytes }
    #[getter]
    fn check_quorum(&self) -> bool { self.inner.check_quorum }
    #[getter]
    fn pre_vote(&self) -> bool { self.inner.pre_vote }
    #[getter]
    fn read_only_option(&self, py: Python<'_>) -> PyResult<PyObject> {
        let v = match self.inner.read_only_option {
            ReadOnlyOption::Safe => 0,
            ReadOnlyOption::LeaseBased => 1,
        };
        Ok(common_attr(py, "ReadOnlyOption")?.call1((v,))?.unbind())
    }
    #[getter]
    fn disable_proposal_forwarding(&self) -> bool { self.inner.disable_proposal_forwarding }
    #[getter]
    fn disable_conf_change_validation(&self) -> bool { self.inner.disable_conf_change_validation }
    #[getter]
    fn step_down_on_removal(&self) -> bool { self.inner.step_down_on_removal }
    /// Beyond etcd: election priority (0 off); see polyraft's Config.priority.
    #[getter]
    fn priority(&self) -> i64 { self.inner.priority }
    /// Beyond etcd: appends to one peer merged within a Ready.
    #[getter]
    fn batch_append(&self) -> bool { self.inner.batch_append }
    #[getter]
    fn logger(&self, py: Python<'_>) -> Option<Py<PyAny>> { self.logger.as_ref().map(|l| l.clone_ref(py)) }
    #[getter]
    fn log_level(&self) -> &'static str { self.log_level.as_str() }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        format!(
            "Config(id={}, election_tick={}, heartbeat_tick={}, applied={}, async_storage_writes={}, \
             max_size_per_msg={}, max_committed_size_per_ready={}, max_uncommitted_entries_size={}, \
             max_inflight_msgs={}, max_inflight_bytes={}, check_quorum={}, pre_vote={}, read_only_option={}, \
             disable_proposal_forwarding={}, disable_conf_change_validation={}, step_down_on_removal={}, \
             priority={}, batch_append={})",
            c.id,
            c.election_tick,
            c.heartbeat_tick,
            c.applied,
            py_bool(c.async_storage_writes),
            c.max_size_per_msg,
            c.max_committed_size_per_ready,
            c.max_uncommitted_entries_size,
            c.max_inflight_msgs,
            c.max_inflight_bytes,
            py_bool(c.check_quorum),
            py_bool(c.pre_vote),
            match c.read_only_option {
                ReadOnlyOption::Safe => "ReadOnlyOption.ReadOnlySafe",
                ReadOnlyOption::LeaseBased => "ReadOnlyOption.ReadOnlyLeaseBased",
            },
            py_bool(c.disable_proposal_forwarding),
            py_bool(c.disable_conf_change_validation),
            py_bool(c.step_down_on_removal),
            c.priority,
            py_bool(c.batch_append),
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}
