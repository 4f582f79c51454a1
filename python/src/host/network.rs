//! How a Python host reaches other hosts: the in-process network (tests,
//! examples in one process) or the TCP transport with mutual TLS (one host
//! per process), see [`Network`]. Also the development certificate helper.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use polyraft_host::net::{devcerts, NetConfig};
use polyraft_host::{Frame, InProcNetwork, SendError, Transport};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
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

/// The settings of one host on the TCP network: where it listens, where
/// the other hosts are, and its TLS files (mutual TLS 1.3; plain TCP only
/// through `TcpNetwork.insecure_plaintext`). One host uses it; it binds
/// the listen address when that host starts.
#[pyclass(module = "polyraft._native", name = "TcpNetwork", frozen)]
pub struct PyTcpNetwork {
    config: NetConfig,
    tls: bool,
}

fn parse_listen(listen: &str) -> PyResult<SocketAddr> {
    listen.parse().map_err(|e| PyValueError::new_err(format!("listen address {listen:?}: {e} (want ip:port)")))
}

fn with_peers(mut config: NetConfig, peers: BTreeMap<u64, String>, probe_interval: f64) -> PyResult<NetConfig> {
    for (id, addr) in peers {
        if id == 0 {
            return Err(PyValueError::new_err("host id 0 is reserved"));
        }
        config = config.peer(id, addr);
    }
    config.probe_interval = super::wait::to_duration("probe_interval", probe_interval)?;
    Ok(config)
}

#[pymethods]
impl PyTcpNetwork {
    /// Mutual TLS: `cert` and `key` are this host's PEM files, `ca` the CA
    /// every peer's certificate must chain to. `peers`: host id -> address.
    #[new]
    #[pyo3(signature = (listen, peers, *, cert, key, ca, probe_interval = 0.5))]
    fn new(listen: &str, peers: BTreeMap<u64, String>, cert: PathBuf, key: PathBuf, ca: PathBuf, probe_interval: f64) -> PyResult<Self> {
        for (what, p) in [("cert", &cert), ("key", &key), ("ca", &ca)] {
            if !p.is_file() {
                return Err(PyValueError::new_err(format!("{what}: {} is not a file", p.display())));
            }
        }
        let config = NetConfig::tls(parse_listen(listen)?, cert, key, ca);
        Ok(PyTcpNetwork { config: with_peers(config, peers, probe_interval)?, tls: true })
    }

    /// Plain TCP, no authentication: anyone who reaches the port can inject
    /// raft messages. Only for trusted networks and tests.
    #[staticmethod]
    #[pyo3(signature = (listen, peers, *, probe_interval = 0.5))]
    fn insecure_plaintext(listen: &str, peers: BTreeMap<u64, String>, probe_interval: f64) -> PyResult<Self> {
        let config = NetConfig::insecure_plaintext(parse_listen(listen)?);
        Ok(PyTcpNetwork { config: with_peers(config, peers, probe_interval)?, tls: false })
    }

    /// Whether connections use mutual TLS.
    #[getter]
    fn tls(&self) -> bool {
        self.tls
    }

    fn __repr__(&self) -> String {
        let kind = if self.tls { "TcpNetwork" } else { "TcpNetwork.insecure_plaintext" };
        format!("{kind}(listen={:?}, peers={})", self.config.transport.listen.to_string(), self.config.transport.peers.len())
    }
}

/// Makes a development CA and, for every id in `host_ids`, the files
/// `host-<id>.pem` / `host-<id>.key` (and `ca.pem`) in `dir`. Returns
/// host id -> (cert, key, ca) paths, ready for `TcpNetwork`. Not for
/// production: the CA is thrown away, its certificates never expire soon.
#[pyfunction]
pub fn dev_certificates(py: Python<'_>, dir: PathBuf, host_ids: Vec<u64>) -> PyResult<BTreeMap<u64, (String, String, String)>> {
    if host_ids.contains(&0) {
        return Err(PyValueError::new_err("host id 0 is reserved"));
    }
    let files = py
        .allow_threads(|| devcerts::dev_cluster(&dir, &host_ids))
        .map_err(|e| PyOSError::new_err(format!("dev certificates in {}: {e}", dir.display())))?;
    Ok(host_ids.into_iter().zip(files).map(|(id, f)| (id, (text(&f.cert), text(&f.key), text(&f.ca)))).collect())
}

fn text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A transport for a host on no network: every frame is refused, so only
/// single-replica groups make progress.
pub(crate) struct NoNetwork;

impl Transport for NoNetwork {
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        Err(SendError { reason: format!("host {to}: this host has no network"), frame })
    }
}

/// Where a host's frames go, from the `network=` argument.
pub(crate) enum Network {
    Standalone,
    InProc(InProcNetwork),
    Tcp(Box<NetConfig>),
}

impl Network {
    pub(crate) fn from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(o) = obj.filter(|o| !o.is_none()) else { return Ok(Network::Standalone) };
        if let Ok(n) = o.downcast::<PyInProcNetwork>() {
            return Ok(Network::InProc(n.get().net.clone()));
        }
        if let Ok(n) = o.downcast::<PyTcpNetwork>() {
            return Ok(Network::Tcp(Box::new(n.get().config.clone())));
        }
        Err(PyTypeError::new_err("network must be an InProcNetwork, a TcpNetwork or None"))
    }

    /// The transport of a host on this network (not for `Tcp`: that host
    /// is a `NetHost`, which brings its own).
    pub(crate) fn transport(&self, host: u64) -> Arc<dyn Transport> {
        match self {
            Network::Standalone | Network::Tcp(_) => Arc::new(NoNetwork),
            Network::InProc(n) => n.endpoint(host),
        }
    }
}
