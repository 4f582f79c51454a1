//! Waiting for an outcome with the GIL released, and refusing to wait
//! where it would deadlock (inside a state machine callback).

use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::errors::closed_err;

thread_local! {
    /// Set while a state machine callback runs on this (worker) thread: a
    /// blocking host call from there would wait on its own worker forever.
    pub(crate) static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) struct InCallback(bool);

impl InCallback {
    pub(crate) fn enter() -> Self {
        InCallback(IN_CALLBACK.with(|c| c.replace(true)))
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.set(self.0));
    }
}

pub(crate) fn refuse_in_callback() -> PyResult<()> {
    if IN_CALLBACK.with(|c| c.get()) {
        return Err(PyRuntimeError::new_err(
            "blocking Host calls cannot be made from a state machine callback (the worker would wait on itself)",
        ));
    }
    Ok(())
}

/// Waits for the value `submit` hands to its callback, with the GIL
/// released, waking every 100 ms to let Ctrl-C through. The host completes
/// every operation by its deadline, so this always returns.
pub(crate) fn block_on<T: Send + 'static>(
    py: Python<'_>,
    submit: impl FnOnce(Box<dyn FnOnce(T) + Send>),
) -> PyResult<T> {
    refuse_in_callback()?;
    let (tx, rx) = sync_channel(1);
    submit(Box::new(move |v| drop(tx.send(v))));
    let mut rx = rx;
    loop {
        // The receiver moves into the GIL-free closure and back (it is Send,
        // not Sync).
        let (back, r) = py.allow_threads(move || {
            let r = rx.recv_timeout(Duration::from_millis(100));
            (rx, r)
        });
        rx = back;
        match r {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => return Err(closed_err(py)),
        }
    }
}

pub(crate) fn to_duration(what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| PyValueError::new_err(format!("{what} must be a finite number of seconds >= 0, got {secs}")))
}
