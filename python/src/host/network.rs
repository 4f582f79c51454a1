//! How a Python host reaches other hosts: the in-process network now,
//! the TCP/TLS transport later (see [`Network`]).

use std::sync::Arc;

use polyraft_host::{Frame, InProcNetwork, SendError, Transport};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// An in-process network joining the hosts of one process (tests,
/// examples). Partitions can be cut and healed.
#[pyclass(module = "polyraft._native", name = "InProcNetwork", frozen)]
pub struct PyInProcNetwork {
    pub(crate) net: InProcNetwork,
}

#[pymethods]
impl PyInProcNetwork {
    #[new]
    fn new() -> Self {
        PyInProcNetwork { net: InProcNetwork::new() }
    }

    /// Cuts both directions between hosts `a` and `b` (frames are dropped).
    fn partition(&self, a: u64, b: u64) {
        self.net.set_partitioned(a, b, true);
    }

    /// Restores both directions between hosts `a` and `b`.
    fn heal(&self, a: u64, b: u64) {
        self.net.set_partitioned(a, b, false);
    }

    fn __repr__(&self) -> String {
        "InProcNetwork()".into()
    }
}

/// A transport for a host on no network: every frame is refused, so only
/// single-replica groups make progress.
pub(crate) struct NoNetwork;

impl Transport for NoNetwork {
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        Err(SendError { reason: format!("host {to}: this host has no network"), frame })
    }
}

/// Where a host's frames go. This is the seam for the TCP/TLS transport:
/// it becomes one more variant, built from its own config object passed as
/// `network=`.
pub(crate) enum Network {
    Standalone,
    InProc(InProcNetwork),
}

impl Network {
    pub(crate) fn from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match obj {
            None => Ok(Network::Standalone),
            Some(o) if o.is_none() => Ok(Network::Standalone),
            Some(o) => match o.downcast::<PyInProcNetwork>() {
                Ok(n) => Ok(Network::InProc(n.get().net.clone())),
                Err(_) => Err(PyTypeError::new_err("network must be an InProcNetwork or None")),
            },
        }
    }

    pub(crate) fn transport(&self, host: u64) -> Arc<dyn Transport> {
        match self {
            Network::Standalone => Arc::new(NoNetwork),
            Network::InProc(n) => n.endpoint(host),
        }
    }
}
