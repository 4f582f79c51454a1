//! The host from C (`polyraft_host_*`): a runtime for many raft groups per
//! process, over polyraft-host. The application gives each replica a state
//! machine through a versioned vtable; the host owns every thread and all
//! I/O, and completes client operations with their outcome: completed
//! (POLYRAFT_OK), rejected (POLYRAFT_REJECTED: certainly not applied) or
//! timed out (POLYRAFT_TIMED_OUT: the outcome is unknown).
//!
//! Threads: host calls may be made from any thread. State machine callbacks
//! and completions run on the host's worker threads (a group's callbacks
//! always on the same worker, one at a time); an operation rejected before
//! it was queued is reported by the call's return value instead, never by
//! a callback. Inside any callback, blocking host calls, close and free are
//! refused (the worker would wait on itself); the `_async` forms are fine.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::io::{Read, Write};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use polyraft::raftpb::Entry;
use ::polyraft_host::{
    Completion, FileLogStore, FileSnapshotStore, GroupInfo, Host, HostConfig, HostError, HostParts, InProcNetwork, Inbound,
    LogStore, Membership, MemLogStore, MemSnapshotStore, OpError, OpResult, Session, SnapshotStore, StartMode,
    StateMachine, SystemClock, Transport,
};

use ::polyraft_host::net::{NetConfig, NetHost};

use crate::*;

/// The version of polyraft_host_state_machine this library speaks.
pub const POLYRAFT_HOST_SM_ABI_VERSION: u32 = 1;

thread_local! {
    /// How deep the calling thread is inside host callbacks (state machine
    /// or completion): blocking calls are refused there.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Runs a user callback with the callback marker set.
fn in_callback<T>(f: impl FnOnce() -> T) -> T {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            IN_CALLBACK.with(|d| d.set(d.get() - 1));
        }
    }
    IN_CALLBACK.with(|d| d.set(d.get() + 1));
    let _depth = Depth;
    f()
}

fn inside_callback() -> bool {
    IN_CALLBACK.with(|d| d.get() > 0)
}

/// Whether the calling thread is inside a host callback (a state machine
/// callback or a completion), where blocking host calls are refused.
/// Bindings that build their own blocking calls on the `_async` forms check
/// it first, so that they refuse instead of waiting on the calling worker.
#[no_mangle]
pub extern "C" fn polyraft_host_in_callback() -> bool {
    inside_callback()
}

/// A caller's context pointer; the C side promises it may be used from the
/// host's threads (documented on every struct that carries one).
#[derive(Clone, Copy)]
struct Ctx(*mut c_void);
// SAFETY: the API contract: ctx pointers are handed to host threads.
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

// ---------------------------------------------------------------------------
// Transport

/// The seam where transports plug in. The in-process network needs three
/// hooks: the sending side a host is built with (`endpoint`), where
/// received frames go (`attach`, given the host's `Inbound` once it
/// exists) and leaving (`detach`, on close). The TCP network is one host's
/// settings; the host built on it owns its transport (a `NetHost`). An
/// application-provided transport (a vtable that sends bytes, plus a call
/// that hands received bytes to the host) would be another variant.
enum TransportKind {
    /// Every host created with this transport, in this process.
    InProcess(InProcNetwork),
    /// The settings of the one host that may be created with it.
    Tcp(Box<Mutex<TcpSettings>>),
}

/// A TCP transport's settings, and whether a host took them already.
struct TcpSettings {
    config: NetConfig,
    used: bool,
}

/// How a host reaches the others: an in-process network joining every host
/// of the process created with it (tests, examples, one-process clusters),
/// or the TCP network (mutual TLS by default) for the one host created
/// with it. Reference counted: a host keeps its own reference, so the handle may be
/// freed (polyraft_host_transport_free) while hosts still use it. Safe to
/// use from several threads.
pub struct polyraft_host_transport {
    kind: Arc<TransportKind>,
}

impl TransportKind {
    fn endpoint(&self, host: u64) -> Option<Arc<dyn Transport>> {
        match self {
            TransportKind::InProcess(net) => Some(net.endpoint(host)),
            TransportKind::Tcp(_) => None,
        }
    }
    fn attach(&self, host: u64, inbound: Inbound) {
        if let TransportKind::InProcess(net) = self {
            net.register(host, inbound);
        }
    }
    fn detach(&self, host: u64) {
        if let TransportKind::InProcess(net) = self {
            net.unregister(host);
        }
    }
    /// The TCP settings, claimed for one host.
    fn claim_tcp(&self) -> Result<Option<NetConfig>, Fail> {
        let TransportKind::Tcp(t) = self else { return Ok(None) };
        let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
        if t.used {
            return fail(POLYRAFT_INVALID_STATE, "this TCP transport is in use by a host already (one host per TCP transport)");
        }
        t.used = true;
        Ok(Some(t.config.clone()))
    }
}

/// Reads a NUL-terminated listen address (`ip:port`).
unsafe fn listen_addr(listen: *const c_char) -> Result<std::net::SocketAddr, Fail> {
    let l = c_text(listen, "listen")?.ok_or((POLYRAFT_NULL_PARAMETER, "listen is NULL".to_string()))?;
    l.parse().map_err(|e| (POLYRAFT_INVALID_ARGUMENT, format!("listen address {l:?}: {e} (want ip:port)")))
}

unsafe fn new_tcp(config: NetConfig, out: *mut *mut polyraft_host_transport) {
    let kind = Arc::new(TransportKind::Tcp(Box::new(Mutex::new(TcpSettings { config, used: false }))));
    *out = Box::into_raw(Box::new(polyraft_host_transport { kind }));
}

/// Creates the TCP network of one host, with mutual TLS 1.3: it listens on
/// `listen` (`ip:port`, NUL-terminated; port 0 picks one, see
/// polyraft_host_local_addr); `cert_pem` and `key_pem` are the paths of
/// this host's certificate and key, `ca_pem` the CA every peer's
/// certificate must chain to (PEM files; a certificate names its host as
/// `host-<id>.polyraft`, as polyraft's dev certificates do). Add the other
/// hosts with polyraft_host_transport_add_peer, then create one host with
/// it (config.transport). Writes the handle to `*out`.
/// A peer that goes away mid-write costs an error on that connection,
/// never a SIGPIPE: the program need not ignore the signal.
/// On failure, when `error` is not NULL, `*error` receives the one-line
/// detail (free it with polyraft_buffer_free).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (bad address,
/// a path that is not a readable file, not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transport_tcp_new(
    listen: *const c_char,
    cert_pem: *const c_char,
    key_pem: *const c_char,
    ca_pem: *const c_char,
    out: *mut *mut polyraft_host_transport,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(out);
        let addr = listen_addr(listen)?;
        let mut paths = Vec::new();
        for (p, what) in [(cert_pem, "cert_pem"), (key_pem, "key_pem"), (ca_pem, "ca_pem")] {
            let path = c_text(p, what)?.ok_or((POLYRAFT_NULL_PARAMETER, format!("{what} is NULL")))?;
            if !std::path::Path::new(&path).is_file() {
                return fail(POLYRAFT_INVALID_ARGUMENT, format!("{what}: {path} is not a file"));
            }
            paths.push(path);
        }
        let [cert, key, ca]: [String; 3] = paths.try_into().map_err(|_| (POLYRAFT_INVALID_ARGUMENT, "paths".to_string()))?;
        new_tcp(NetConfig::tls(addr, cert, key, ca), out);
        Ok(())
    })
}

/// Creates the TCP network of one host without TLS: anyone who reaches the
/// port can inject raft messages. Only for trusted networks and tests; as
/// polyraft_host_transport_tcp_new otherwise.
/// On failure, when `error` is not NULL, `*error` receives the one-line
/// detail (free it with polyraft_buffer_free).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transport_tcp_insecure_plaintext_new(
    listen: *const c_char,
    out: *mut *mut polyraft_host_transport,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(out);
        new_tcp(NetConfig::insecure_plaintext(listen_addr(listen)?), out);
        Ok(())
    })
}

/// TCP network only, before the host is created: host `id` listens at
/// `addr` (`host:port`, NUL-terminated). A running host learns addresses
/// with polyraft_host_add_peer.
/// On failure, when `error` is not NULL, `*error` receives the one-line
/// detail (free it with polyraft_buffer_free).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (id 0, not a
/// TCP transport, not UTF-8), POLYRAFT_INVALID_STATE (a host uses it).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transport_add_peer(
    transport: *const polyraft_host_transport,
    id: u64,
    addr: *const c_char,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(transport);
        let a = c_text(addr, "addr")?.ok_or((POLYRAFT_NULL_PARAMETER, "addr is NULL".to_string()))?;
        if id == 0 {
            return fail(POLYRAFT_INVALID_ARGUMENT, "host id 0 is reserved");
        }
        let TransportKind::Tcp(t) = &*(*transport).kind else {
            return fail(POLYRAFT_INVALID_ARGUMENT, "not a TCP transport");
        };
        let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
        if t.used {
            return fail(POLYRAFT_INVALID_STATE, "the host runs already: use polyraft_host_add_peer");
        }
        t.config = t.config.clone().peer(id, a);
        Ok(())
    })
}

/// Creates an in-process network: every host created with it (in
/// polyraft_host_config.transport) can reach every other; frames are
/// handed over in memory. Write the handle to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transport_in_process_new(out: *mut *mut polyraft_host_transport) -> polyraft_result {
    guard(|| {
        nn!(out);
        let kind = Arc::new(TransportKind::InProcess(InProcNetwork::new()));
        *out = Box::into_raw(Box::new(polyraft_host_transport { kind }));
        Ok(())
    })
}

/// In-process network only: cuts (`cut` true) or restores both directions
/// between hosts `a` and `b`, to test partitions and failover.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transport_partition(
    transport: *const polyraft_host_transport,
    a: u64,
    b: u64,
    cut: bool,
) -> polyraft_result {
    guard(|| {
        nn!(transport);
        match &*(*transport).kind {
            TransportKind::InProcess(net) => net.set_partitioned(a, b, cut),
            TransportKind::Tcp(_) => return fail(POLYRAFT_INVALID_ARGUMENT, "partition: not an in-process transport"),
        }
        Ok(())
    })
}

/// Development certificates (no manual step for tests and examples):
/// makes a fresh CA and writes `ca.pem`, `host-<id>.pem` and
/// `host-<id>.key` for each of the `n` ids in `ids` into directory `dir`
/// (NUL-terminated, created if missing), ready for
/// polyraft_host_transport_tcp_new. Not for production.
/// On failure, when `error` is not NULL, `*error` receives the one-line
/// detail (free it with polyraft_buffer_free).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (an id 0,
/// not UTF-8), POLYRAFT_STORAGE_FAILURE (the files cannot be written).
#[no_mangle]
pub unsafe extern "C" fn polyraft_dev_certificates(
    dir: *const c_char,
    ids: *const u64,
    n: usize,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        let d = c_text(dir, "dir")?.ok_or((POLYRAFT_NULL_PARAMETER, "dir is NULL".to_string()))?;
        let ids = slice(ids, n, "ids")?;
        if ids.contains(&0) {
            return fail(POLYRAFT_INVALID_ARGUMENT, "host id 0 is reserved");
        }
        ::polyraft_host::net::devcerts::dev_cluster(std::path::Path::new(&d), ids)
            .map(|_| ())
            .map_err(|e| (POLYRAFT_STORAGE_FAILURE, format!("dev certificates in {d}: {e}")))
    })
}

/// Frees this handle (hosts keep their own reference). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transport_free(transport: *mut polyraft_host_transport) {
    if !transport.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(transport))));
    }
}

// ---------------------------------------------------------------------------
// Configuration

/// A host's configuration, read only during polyraft_host_new. Fill it with
/// polyraft_host_config_init, then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_host_config {
    /// This host's id (not 0); unique in the cluster.
    pub host_id: u64,
    /// Step worker threads; 0 means one per core.
    pub workers: u32,
    /// Milliseconds between ticks (> 0). Default 100.
    pub tick_ms: u32,
    /// Ticks without a leader before an election. Default 10.
    pub election_ticks: u32,
    /// Ticks between heartbeats. Default 1.
    pub heartbeat_ticks: u32,
    /// A snapshot is taken every this many applied entries (0: never).
    /// Default 10000.
    pub snapshot_entries: u64,
    /// Entries kept behind a snapshot for slow followers. Default 5000.
    pub compaction_overhead: u64,
    /// Session clients kept per group (least recently active evicted).
    /// Default 10000.
    pub max_sessions: u64,
    /// Whether idle, fully replicated groups stop ticking. Default true.
    pub quiesce: bool,
    /// Directory of the host's log and snapshots (NUL-terminated, created if
    /// missing); NULL keeps them in memory (lost when the host is freed).
    pub data_dir: *const c_char,
    /// How the host reaches the others (required); borrowed during the call.
    pub transport: *const polyraft_host_transport,
    /// Election priority of every replica on this host (beyond etcd): among
    /// equally up-to-date replicas the highest wins. Default 0 (etcd's
    /// behaviour).
    pub election_priority: i64,
}

/// Fills `*config` with the defaults for host `host_id` (no data_dir, no
/// transport).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_config_init(config: *mut polyraft_host_config, host_id: u64) -> polyraft_result {
    guard(|| {
        nn!(config);
        let d = HostConfig::new(host_id);
        *config = polyraft_host_config {
            host_id,
            workers: 0,
            tick_ms: d.tick_interval.as_millis() as u32,
            election_ticks: d.election_ticks as u32,
            heartbeat_ticks: d.heartbeat_ticks as u32,
            snapshot_entries: d.snapshot_entries,
            compaction_overhead: d.compaction_overhead,
            max_sessions: d.max_sessions as u64,
            quiesce: d.quiesce,
            data_dir: std::ptr::null(),
            transport: std::ptr::null(),
            election_priority: d.election_priority,
        };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The host handle

/// A host: one per process (or several in one process, joined by an
/// in-process transport, as in tests). Create with polyraft_host_new; stop
/// with polyraft_host_close (optional) and release with polyraft_host_free.
/// Calls may come from any thread at once.
pub struct polyraft_host {
    host: Arc<Running>,
    id: u64,
    transport: Arc<TransportKind>,
    closed: AtomicBool,
    /// Detail of the last failed call, per calling thread.
    errors: Mutex<HashMap<ThreadId, String>>,
}

/// A running host: on the in-process network, or on TCP (then it owns its
/// transport, shut down after the host).
enum Running {
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
    fn close(&self) {
        match self {
            Running::Local(h) => h.close(),
            Running::Net(n) => n.close(),
        }
    }
}

impl polyraft_host {
    fn set_error(&self, msg: String) {
        let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        // Threads come and go; keep the table small.
        if e.len() > 1024 {
            e.clear();
        }
        e.insert(std::thread::current().id(), msg);
    }
    fn clear_error(&self) {
        let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        e.remove(&std::thread::current().id());
    }
    /// The checks every call starts with.
    fn usable(&self) -> Result<(), Fail> {
        if self.closed.load(Ordering::Acquire) {
            return fail(POLYRAFT_CLOSED, format!("host {} is closed", self.id));
        }
        Ok(())
    }
    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.host.close();
            self.transport.detach(self.id);
        }
    }
}

/// Runs an export on a host: null check, panic boundary, the handle's
/// last error recorded (or cleared on success).
unsafe fn with_host(host: *const polyraft_host, f: impl FnOnce(&polyraft_host) -> Result<(), Fail>) -> polyraft_result {
    if host.is_null() {
        return POLYRAFT_NULL_PARAMETER;
    }
    let h = &*host;
    match catch_unwind(AssertUnwindSafe(|| f(h))) {
        Ok(Ok(())) => {
            h.clear_error();
            POLYRAFT_OK
        }
        Ok(Err((code, msg))) => {
            h.set_error(msg);
            code
        }
        Err(p) => {
            h.set_error(panic_text(&*p));
            POLYRAFT_PANIC
        }
    }
}

/// Refuses a blocking call inside a host callback.
fn not_in_callback(what: &str) -> Result<(), Fail> {
    if inside_callback() {
        return fail(POLYRAFT_INVALID_STATE, format!("{what} inside a host callback would wait on its own worker"));
    }
    Ok(())
}

fn host_fail(e: HostError) -> Fail {
    let code = match &e {
        HostError::Closed => POLYRAFT_CLOSED,
        HostError::Invalid(_) => POLYRAFT_INVALID_ARGUMENT,
        HostError::Raft(c) => code_of(c),
        HostError::Log(_) | HostError::Snapshot(_) => POLYRAFT_STORAGE_FAILURE,
        _ => POLYRAFT_STORAGE_FAILURE,
    };
    (code, e.to_string())
}

fn op_fail(e: OpError) -> Fail {
    match e {
        OpError::Rejected(m) => (POLYRAFT_REJECTED, m),
        OpError::TimedOut => (POLYRAFT_TIMED_OUT, "timed out (the outcome is unknown)".into()),
    }
}

unsafe fn c_text(p: *const c_char, what: &str) -> Result<Option<String>, Fail> {
    if p.is_null() {
        return Ok(None);
    }
    match CStr::from_ptr(p).to_str() {
        Ok(s) => Ok(Some(s.to_string())),
        Err(_) => fail(POLYRAFT_INVALID_ARGUMENT, format!("{what} is not UTF-8")),
    }
}

/// Creates a host from `*config` and starts its workers; writes the handle
/// to `*out`. With a data_dir, replicas started later recover their groups
/// from it (a restart). On failure, when `error` is not NULL, `*error`
/// receives the one-line detail (free it with polyraft_buffer_free); on
/// success `*error` is set to NULL.
/// Errors: POLYRAFT_NULL_PARAMETER (config, out or config->transport),
/// POLYRAFT_INVALID_CONFIG (host id 0, tick_ms 0...),
/// POLYRAFT_STORAGE_FAILURE (the data directory cannot be opened).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_new(
    config: *const polyraft_host_config,
    out: *mut *mut polyraft_host,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(config);
        nn!(out);
        let c = *config;
        if c.transport.is_null() {
            return fail(POLYRAFT_NULL_PARAMETER, "config->transport is NULL");
        }
        if c.host_id == 0 || c.tick_ms == 0 || c.election_ticks <= c.heartbeat_ticks || c.heartbeat_ticks == 0 {
            return fail(
                POLYRAFT_INVALID_CONFIG,
                "host_id and tick_ms must be positive, and election_ticks > heartbeat_ticks > 0",
            );
        }
        let mut cfg = HostConfig::new(c.host_id);
        cfg.workers = c.workers as usize;
        cfg.tick_interval = Duration::from_millis(c.tick_ms as u64);
        cfg.election_ticks = c.election_ticks as usize;
        cfg.heartbeat_ticks = c.heartbeat_ticks as usize;
        cfg.snapshot_entries = c.snapshot_entries;
        cfg.compaction_overhead = c.compaction_overhead;
        cfg.max_sessions = c.max_sessions.min(usize::MAX as u64) as usize;
        cfg.quiesce = c.quiesce;
        cfg.election_priority = c.election_priority;
        let (log, snapshots): (Arc<dyn LogStore>, Arc<dyn SnapshotStore>) = match c_text(c.data_dir, "data_dir")? {
            None => (Arc::new(MemLogStore::new()), Arc::new(MemSnapshotStore::new())),
            Some(dir) => {
                let dir = std::path::PathBuf::from(dir);
                let log = FileLogStore::open(dir.join("log"), Default::default())
                    .map_err(|e| (POLYRAFT_STORAGE_FAILURE, format!("opening the log: {e}")))?;
                let snaps = FileSnapshotStore::open(dir.join("snapshots")).map_err(|e| (POLYRAFT_STORAGE_FAILURE, e))?;
                (Arc::new(log), Arc::new(snaps))
            }
        };
        let kind = (*c.transport).kind.clone();
        let host = match (kind.claim_tcp()?, kind.endpoint(c.host_id)) {
            (Some(net), _) => {
                let h = NetHost::start(cfg, net, log, snapshots).map_err(|e| (POLYRAFT_INVALID_CONFIG, e.to_string()));
                if h.is_err() {
                    // Not in use after all: the caller may fix and retry.
                    if let TransportKind::Tcp(t) = &*kind {
                        t.lock().unwrap_or_else(|p| p.into_inner()).used = false;
                    }
                }
                Running::Net(h?)
            }
            (None, Some(transport)) => {
                let parts = HostParts { log, snapshots, transport, clock: Arc::new(SystemClock::default()) };
                let host = Host::new(cfg, parts).map_err(|e| (POLYRAFT_INVALID_CONFIG, e.to_string()))?;
                kind.attach(c.host_id, host.inbound());
                Running::Local(host)
            }
            (None, None) => return fail(POLYRAFT_INVALID_ARGUMENT, "unknown transport"),
        };
        *out = Box::into_raw(Box::new(polyraft_host {
            host: Arc::new(host),
            id: c.host_id,
            transport: kind,
            closed: AtomicBool::new(false),
            errors: Mutex::new(HashMap::new()),
        }));
        Ok(())
    })
}

/// Copies the detail of the last call on `host` made by the calling thread
/// (empty when it succeeded) into `buf` (truncated, NUL-terminated when
/// len > 0); the bytes written (without the NUL) go to `*written`.
/// For POLYRAFT_REJECTED it says why the operation was not applied.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_last_error(
    host: *const polyraft_host,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(host);
        nn!(buf);
        nn!(written);
        let errors = (*host).errors.lock().unwrap_or_else(|p| p.into_inner());
        let text = errors.get(&std::thread::current().id()).map_or("", |s| s.as_str());
        *written = write_text(text, buf, len);
        Ok(())
    })
}

/// This host's id into `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_id(host: *const polyraft_host, out: *mut u64) -> polyraft_result {
    with_host(host, |h| {
        nn!(out);
        *out = h.id;
        Ok(())
    })
}

/// The address the host's TCP transport listens on (`ip:port`: useful
/// with port 0) into `buf` (truncated, NUL-terminated when len > 0); the
/// bytes written (without the NUL) go to `*written`.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (the host is
/// not on a TCP transport), POLYRAFT_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_local_addr(
    host: *const polyraft_host,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> polyraft_result {
    with_host(host, |h| {
        nn!(written);
        h.usable()?;
        let Running::Net(n) = &*h.host else { return fail(POLYRAFT_INVALID_ARGUMENT, "the host is not on a TCP transport") };
        *written = write_text(&n.local_addr().to_string(), buf, len);
        Ok(())
    })
}

/// TCP transport only: host `id` is at `addr` (`host:port`,
/// NUL-terminated), added to or updated in the running host's address book.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (id 0, not on
/// TCP, not UTF-8), POLYRAFT_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_add_peer(host: *const polyraft_host, id: u64, addr: *const c_char) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let a = c_text(addr, "addr")?.ok_or((POLYRAFT_NULL_PARAMETER, "addr is NULL".to_string()))?;
        if id == 0 {
            return fail(POLYRAFT_INVALID_ARGUMENT, "host id 0 is reserved");
        }
        let Running::Net(n) = &*h.host else { return fail(POLYRAFT_INVALID_ARGUMENT, "the host is not on a TCP transport") };
        n.add_peer(id, a);
        Ok(())
    })
}

/// Stops every replica and worker and leaves the network. Waiting
/// operations complete first (proposals as timed out, others as rejected);
/// every state machine's destroy runs. Later calls return POLYRAFT_CLOSED;
/// closing again is a no-op. The handle stays valid until
/// polyraft_host_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_STATE (inside a host
/// callback).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_close(host: *const polyraft_host) -> polyraft_result {
    with_host(host, |h| {
        not_in_callback("polyraft_host_close")?;
        h.close();
        Ok(())
    })
}

/// Closes the host (if not yet) and frees the handle. NULL is a no-op.
/// No other call on the handle may be running or start afterwards (calls
/// from other threads must have returned; use polyraft_host_close first to
/// make them return POLYRAFT_CLOSED). Inside a host callback it does
/// nothing (freeing would wait on the calling worker): free the host from
/// another thread.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_free(host: *mut polyraft_host) {
    if host.is_null() || inside_callback() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let h = Box::from_raw(host);
        h.close();
        drop(h);
    }));
}

// ---------------------------------------------------------------------------
// State machine vtable

/// One committed entry handed to the `apply` callback; `data` (the proposed
/// command) is valid only during the callback.
#[repr(C)]
pub struct polyraft_host_entry {
    /// The entry's log index.
    pub index: u64,
    /// The entry's term.
    pub term: u64,
    /// The command (NULL when empty).
    pub data: *const u8,
    /// Its length.
    pub len: usize,
}

/// Collects the answers of `apply` (one per entry, in order) and of
/// `lookup` (one). Valid only during that callback; the library copies what
/// is pushed.
pub struct polyraft_host_results {
    items: Vec<Bytes>,
    max: usize,
}

/// Collects the bytes of a `snapshot` callback; valid only during it.
pub struct polyraft_host_writer {
    out: *mut dyn Write,
    failed: Option<String>,
}

/// Hands snapshot bytes to a `restore` callback; valid only during it.
pub struct polyraft_host_reader {
    input: *mut dyn Read,
}

/// Pushes the next result (copied; NULL with len 0 is an empty result).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (more results
/// than entries).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_results_push(results: *mut polyraft_host_results, data: *const u8, len: usize) -> polyraft_result {
    guard(|| {
        nn!(results);
        let r = &mut *results;
        if r.items.len() >= r.max {
            return fail(POLYRAFT_INVALID_ARGUMENT, "more results than entries");
        }
        r.items.push(copy_bytes(data, len, "data")?);
        Ok(())
    })
}

/// Appends `len` bytes (copied) to the snapshot being written.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_STORAGE_FAILURE (the snapshot
/// cannot be stored).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_writer_write(writer: *mut polyraft_host_writer, data: *const u8, len: usize) -> polyraft_result {
    guard(|| {
        nn!(writer);
        let w = &mut *writer;
        let b = slice(data, len, "data")?;
        if let Err(e) = (*w.out).write_all(b) {
            w.failed = Some(e.to_string());
            return fail(POLYRAFT_STORAGE_FAILURE, e.to_string());
        }
        Ok(())
    })
}

/// Reads up to `cap` bytes of the snapshot into `buf`; `*n` gets how many
/// (0 at the end).
/// Errors: POLYRAFT_NULL_PARAMETER (also buf with cap > 0),
/// POLYRAFT_INVALID_ARGUMENT (cap above PTRDIFF_MAX).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_reader_read(reader: *mut polyraft_host_reader, buf: *mut u8, cap: usize, n: *mut usize) -> polyraft_result {
    guard(|| {
        nn!(reader);
        nn!(n);
        if cap == 0 {
            *n = 0;
            return Ok(());
        }
        nn!(buf);
        if cap > isize::MAX as usize {
            return fail(POLYRAFT_INVALID_ARGUMENT, format!("cap {cap} is too large"));
        }
        let dst = std::slice::from_raw_parts_mut(buf, cap);
        *n = (*(*reader).input).read(dst).map_err(|e| (POLYRAFT_STORAGE_FAILURE, e.to_string()))?;
        Ok(())
    })
}

/// A replica's state machine: the application's code, called by the host
/// in log order. Each callback returns a polyraft_result value as uint32_t:
/// POLYRAFT_OK, or anything else for a failure.
///
/// Threads: the callbacks of one replica run one at a time on the worker
/// thread of its group (never concurrently with each other); callbacks of
/// different groups may run concurrently on different workers. From a
/// callback, do not call blocking host functions, polyraft_host_close or
/// polyraft_host_free (they are refused); the `_async` functions are fine.
///
/// Failures: `apply` and `lookup` must not fail for a bad command or query
/// (answer it with a result that says so): a non-OK status, or a wrong
/// number of results, means the state machine is broken, and the host stops
/// that replica (its waiting operations complete; its log stays, so it can
/// be started again). A failing `snapshot` skips that snapshot; a failing
/// `restore` stops the replica (or fails polyraft_host_start_replica).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct polyraft_host_state_machine {
    /// Must be POLYRAFT_HOST_SM_ABI_VERSION.
    pub abi_version: u32,
    /// Passed to every callback. Owned by the host once
    /// polyraft_host_start_replica returns POLYRAFT_OK: `destroy` is then
    /// called exactly once, after the last callback (when the replica
    /// stops or the host closes). On any other return the caller keeps it.
    pub ctx: *mut c_void,
    /// Applies committed entries (oldest first) and pushes exactly one
    /// result per entry with polyraft_host_results_push: the result the
    /// proposal of that entry completes with. Must be deterministic.
    pub apply: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            entries: *const polyraft_host_entry,
            n: usize,
            results: *mut polyraft_host_results,
        ) -> u32,
    >,
    /// Writes the whole state with polyraft_host_writer_write.
    pub snapshot: Option<unsafe extern "C" fn(ctx: *mut c_void, writer: *mut polyraft_host_writer) -> u32>,
    /// Replaces the whole state with the one read (polyraft_host_reader_read)
    /// from a snapshot written by `snapshot`, possibly on another host.
    pub restore: Option<unsafe extern "C" fn(ctx: *mut c_void, reader: *mut polyraft_host_reader) -> u32>,
    /// Answers a read-only query: push one result (none means empty).
    pub lookup: Option<
        unsafe extern "C" fn(ctx: *mut c_void, query: *const u8, len: usize, result: *mut polyraft_host_results) -> u32,
    >,
    /// Releases ctx (see ctx). May be NULL.
    pub destroy: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
}

/// Who owns a state machine's ctx while polyraft_host_start_replica runs:
/// the host only once the start succeeded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The start is still running.
    Starting,
    /// The start ran and the adapter was dropped before it returned.
    DroppedWhileStarting,
    /// The host owns it: the adapter's drop destroys it.
    Host,
    /// The caller kept it (the start failed).
    Caller,
}

struct CStateMachine {
    vt: polyraft_host_state_machine,
    owner: Arc<Mutex<Owner>>,
}

// SAFETY: the vtable contract says callbacks run on host threads.
unsafe impl Send for CStateMachine {}

fn sm_failed(what: &str, code: u32) -> ! {
    // Unwinds to the host's guard around user code, which stops the replica;
    // resume_unwind skips the panic hook (no stderr noise for a user error).
    resume_unwind(Box::new(format!("state machine {what} returned {code}")))
}

impl StateMachine for CStateMachine {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        let ces: Vec<polyraft_host_entry> = entries
            .iter()
            .map(|e| polyraft_host_entry {
                index: e.index,
                term: e.term,
                data: if e.data.is_empty() { std::ptr::null() } else { e.data.as_ptr() },
                len: e.data.len(),
            })
            .collect();
        let mut results = polyraft_host_results { items: Vec::with_capacity(ces.len()), max: ces.len() };
        // SAFETY: checked present at start; the pointers live for the call.
        let code = in_callback(|| unsafe { (self.vt.apply.unwrap())(self.vt.ctx, ces.as_ptr(), ces.len(), &mut results) });
        if code != 0 {
            sm_failed("apply", code);
        }
        if results.items.len() != entries.len() {
            resume_unwind(Box::new(format!(
                "state machine apply pushed {} results for {} entries",
                results.items.len(),
                entries.len()
            )));
        }
        results.items
    }

    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()> {
        // SAFETY: the writer outlives the callback; its lifetime is erased
        // only for the duration of this call.
        let out: *mut (dyn Write + '_) = w;
        let out: *mut dyn Write = unsafe { std::mem::transmute(out) };
        let mut writer = polyraft_host_writer { out, failed: None };
        let code = in_callback(|| unsafe { (self.vt.snapshot.unwrap())(self.vt.ctx, &mut writer) });
        if let Some(e) = writer.failed {
            return Err(std::io::Error::other(e));
        }
        if code != 0 {
            return Err(std::io::Error::other(format!("state machine snapshot returned {code}")));
        }
        Ok(())
    }

    fn restore(&mut self, r: &mut dyn Read) -> std::io::Result<()> {
        let input: *mut (dyn Read + '_) = r;
        // SAFETY: as in snapshot.
        let input: *mut dyn Read = unsafe { std::mem::transmute(input) };
        let mut reader = polyraft_host_reader { input };
        let code = in_callback(|| unsafe { (self.vt.restore.unwrap())(self.vt.ctx, &mut reader) });
        if code != 0 {
            return Err(std::io::Error::other(format!("state machine restore returned {code}")));
        }
        Ok(())
    }

    fn lookup(&self, query: &[u8]) -> Bytes {
        let mut result = polyraft_host_results { items: Vec::with_capacity(1), max: 1 };
        let q = if query.is_empty() { std::ptr::null() } else { query.as_ptr() };
        let code = in_callback(|| unsafe { (self.vt.lookup.unwrap())(self.vt.ctx, q, query.len(), &mut result) });
        if code != 0 {
            sm_failed("lookup", code);
        }
        result.items.pop().unwrap_or_default()
    }
}

impl Drop for CStateMachine {
    fn drop(&mut self) {
        let mut owner = self.owner.lock().unwrap_or_else(|p| p.into_inner());
        match *owner {
            Owner::Host => {
                if let Some(d) = self.vt.destroy {
                    // SAFETY: the contract: destroy(ctx) once, after the
                    // last callback.
                    in_callback(|| unsafe { d(self.vt.ctx) });
                }
            }
            Owner::Starting => *owner = Owner::DroppedWhileStarting,
            Owner::DroppedWhileStarting | Owner::Caller => {}
        }
    }
}

/// A member of a group: a replica id and the host that runs it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_host_peer {
    /// The replica id (its raft node id; not 0).
    pub replica: u64,
    /// The host that runs it.
    pub host: u64,
}

/// Starts replica `replica` of `group` on this host with the state machine
/// `*sm` (the struct is copied; ctx ownership as documented there). When the
/// host's log already has the group (a restart), the replica recovers from
/// it and its latest snapshot and `peers` is ignored. Otherwise, with
/// `n_peers` > 0 it bootstraps a new group whose initial members are
/// `peers` (the same list on every initial member, including this
/// replica); with `n_peers` == 0 it joins a group that has added (or will
/// add) it. Blocking: waits for the group's worker (no network round trip).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_ABI_MISMATCH,
/// POLYRAFT_INVALID_ARGUMENT (a callback missing, replica 0, the group
/// already running here, this replica not among peers),
/// POLYRAFT_STORAGE_FAILURE (recovery or restore failed), POLYRAFT_CLOSED,
/// POLYRAFT_INVALID_STATE (inside a host callback).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_start_replica(
    host: *const polyraft_host,
    group: u64,
    replica: u64,
    peers: *const polyraft_host_peer,
    n_peers: usize,
    sm: *const polyraft_host_state_machine,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_start_replica")?;
        let (mode, vt) = start_args(peers, n_peers, sm)?;
        start(&h.host, group, replica, mode, vt)
    })
}

/// The non-blocking form of polyraft_host_start_replica: the arguments are
/// checked (and copied) now, the start runs on a helper thread, and `done`
/// gets POLYRAFT_OK, or the code polyraft_host_start_replica would have
/// returned with its detail (then ctx stays the caller's). Returns
/// POLYRAFT_OK when `done` will be called (exactly once).
/// Errors: as polyraft_host_start_replica, checked before queueing.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_start_replica_async(
    host: *const polyraft_host,
    group: u64,
    replica: u64,
    peers: *const polyraft_host_peer,
    n_peers: usize,
    sm: *const polyraft_host_state_machine,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let (mode, vt) = start_args(peers, n_peers, sm)?;
        let c = completion_raw(done, ctx)?;
        let host = h.host.clone();
        let vt = SendVt(vt);
        spawn_local_op(c, move || {
            let vt = vt; // the whole wrapper moves, not its field
            start(&host, group, replica, mode, vt.0)
        })
    })
}

/// Runs a local host operation (one that waits for a worker, not for the
/// network) on a helper thread and reports it to `c`.
fn spawn_local_op(c: CCompletion, f: impl FnOnce() -> Result<(), Fail> + Send + 'static) -> Result<(), Fail> {
    let spawned = std::thread::Builder::new().name("polyraft-host-op".into()).spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err((POLYRAFT_PANIC, panic_text(&*p))));
        match r {
            Ok(()) => c.fire_raw(POLYRAFT_OK, &[], ""),
            Err((code, msg)) => c.fire_raw(code, &[], &msg),
        }
    });
    // On failure the closure (and the completion in it) was dropped: the
    // completion then fires as rejected, so report success here.
    spawned.map(|_| ()).or(Ok(()))
}

/// A vtable moving to the helper thread (its callbacks are documented to
/// run on host threads anyway).
struct SendVt(polyraft_host_state_machine);
// SAFETY: see above.
unsafe impl Send for SendVt {}

/// Checks and copies the arguments of a start.
unsafe fn start_args(
    peers: *const polyraft_host_peer,
    n_peers: usize,
    sm: *const polyraft_host_state_machine,
) -> Result<(StartMode, polyraft_host_state_machine), Fail> {
    nn!(sm);
    let version = std::ptr::read(std::ptr::addr_of!((*sm).abi_version));
    if version != POLYRAFT_HOST_SM_ABI_VERSION {
        return fail(
            POLYRAFT_ABI_MISMATCH,
            format!("state machine abi_version {version}, this library speaks {POLYRAFT_HOST_SM_ABI_VERSION}"),
        );
    }
    let vt = *sm;
    if vt.apply.is_none() || vt.snapshot.is_none() || vt.restore.is_none() || vt.lookup.is_none() {
        return fail(POLYRAFT_INVALID_ARGUMENT, "state machine: apply, snapshot, restore and lookup are required");
    }
    let members: Vec<(u64, u64)> = slice(peers, n_peers, "peers")?.iter().map(|p| (p.replica, p.host)).collect();
    let mode = if members.is_empty() { StartMode::Join } else { StartMode::Bootstrap(members) };
    Ok((mode, vt))
}

/// Starts a replica; the state machine's ctx goes to the host only if the
/// start succeeds.
fn start(host: &Host, group: u64, replica: u64, mode: StartMode, vt: polyraft_host_state_machine) -> Result<(), Fail> {
    let owner = Arc::new(Mutex::new(Owner::Starting));
    let machine = CStateMachine { vt, owner: owner.clone() };
    let factory = Box::new(move |_, _| Box::new(machine) as Box<dyn StateMachine>);
    let res = host.start_replica(group, replica, mode, factory);
    let mut o = owner.lock().unwrap_or_else(|p| p.into_inner());
    match res {
        Ok(()) => {
            if *o == Owner::DroppedWhileStarting {
                // Stopped already (e.g. the host closed): the host owned it.
                if let Some(d) = vt.destroy {
                    // SAFETY: the vtable contract, as in CStateMachine's drop.
                    in_callback(|| unsafe { d(vt.ctx) });
                }
            }
            *o = Owner::Host;
            Ok(())
        }
        Err(e) => {
            *o = Owner::Caller;
            Err(host_fail(e))
        }
    }
}

/// Stops the local replica of `group`: waiting proposals complete as timed
/// out (they may still commit), other operations as rejected, and its state
/// machine's destroy runs. The log stays: start it again to resume.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (no replica
/// of the group here), POLYRAFT_CLOSED, POLYRAFT_INVALID_STATE (inside a
/// host callback).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_stop_replica(host: *const polyraft_host, group: u64) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_stop_replica")?;
        h.host.stop_replica(group).map_err(host_fail)
    })
}

/// The non-blocking form of polyraft_host_stop_replica: `done` gets
/// POLYRAFT_OK or the code polyraft_host_stop_replica would have returned.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_stop_replica_async(
    host: *const polyraft_host,
    group: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let c = completion_raw(done, ctx)?;
        let host = h.host.clone();
        spawn_local_op(c, move || host.stop_replica(group).map_err(host_fail))
    })
}

// ---------------------------------------------------------------------------
// Operations

/// The outcome of an operation, as handed to a completion callback. Every
/// pointer is valid only during the callback.
#[repr(C)]
pub struct polyraft_host_outcome {
    /// POLYRAFT_OK (completed), POLYRAFT_REJECTED (certainly not applied:
    /// safe to retry), POLYRAFT_TIMED_OUT (may or may not have been applied:
    /// retry in a session to apply it once).
    pub code: polyraft_result,
    /// The result (proposals: the state machine's result for the entry;
    /// reads: the lookup's answer; NULL when empty).
    pub data: *const u8,
    /// Its length.
    pub len: usize,
    /// Why it was not completed (NUL-terminated; "" on POLYRAFT_OK).
    pub detail: *const c_char,
}

/// A completion callback: called exactly once per operation queued with
/// POLYRAFT_OK by an `_async` function, on a host worker thread (or on the
/// thread closing the host, for operations still queued then, or, when the
/// host closes during the `_async` call, on the calling thread). It must
/// return quickly and must not call blocking host functions (they are
/// refused); queueing another `_async` operation is fine.
pub type polyraft_host_completion = Option<unsafe extern "C" fn(ctx: *mut c_void, outcome: *const polyraft_host_outcome)>;

/// A C completion that fires exactly once: with the outcome, or (if the host
/// drops the operation unrun, e.g. when it closes) as rejected.
struct CCompletion {
    f: unsafe extern "C" fn(*mut c_void, *const polyraft_host_outcome),
    ctx: Ctx,
    fired: bool,
}

impl CCompletion {
    fn fire(self, r: OpResult<Bytes>) {
        match r {
            Ok(b) => self.fire_raw(POLYRAFT_OK, &b, ""),
            Err(e) => {
                let (code, msg) = op_fail(e);
                self.fire_raw(code, &[], &msg)
            }
        }
    }

    fn fire_raw(mut self, code: polyraft_result, data: &[u8], detail: &str) {
        self.fired = true;
        let detail = CString::new(detail.replace('\0', " ")).unwrap_or_default();
        let outcome = polyraft_host_outcome {
            code,
            data: if data.is_empty() { std::ptr::null() } else { data.as_ptr() },
            len: data.len(),
            detail: detail.as_ptr(),
        };
        // SAFETY: the caller's callback, with pointers valid for the call.
        in_callback(|| unsafe { (self.f)(self.ctx.0, &outcome) });
    }
}

impl Drop for CCompletion {
    fn drop(&mut self) {
        if !self.fired {
            let f = CCompletion { f: self.f, ctx: self.ctx, fired: false };
            self.fired = true;
            f.fire(Err(OpError::rejected("the host closed before the operation ran")));
        }
    }
}

/// Builds the host's completion for an `_async` call.
fn completion(done: polyraft_host_completion, ctx: *mut c_void) -> Result<Completion<Bytes>, Fail> {
    let c = completion_raw(done, ctx)?;
    Ok(Box::new(move |r: OpResult<Bytes>| c.fire(r)))
}

fn completion_raw(done: polyraft_host_completion, ctx: *mut c_void) -> Result<CCompletion, Fail> {
    let Some(f) = done else {
        return fail(POLYRAFT_NULL_PARAMETER, "done is NULL");
    };
    Ok(CCompletion { f, ctx: Ctx(ctx), fired: false })
}

fn timeout(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Hands a blocking call's result to the caller: `*result` (when not NULL)
/// gets a new buffer to free with polyraft_buffer_free.
unsafe fn deliver(r: OpResult<Bytes>, result: *mut *mut polyraft_buffer) -> Result<(), Fail> {
    let b = r.map_err(op_fail)?;
    if !result.is_null() {
        new_buffer(b.to_vec(), result);
    }
    Ok(())
}

/// A client's exactly-once identity in one group (dragonboat's session).
/// Plain data: keep it across retries. Retry a proposal that timed out with
/// the session unchanged (it is applied at most once); after an outcome is
/// received (completed or rejected), call
/// polyraft_host_session_completed before the next proposal.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_host_session {
    /// The group it proposes to.
    pub group: u64,
    /// The client's id, unique among the group's clients.
    pub client_id: u64,
    /// The series number of the current proposal (starts at 1).
    pub series: u64,
    /// The highest series whose outcome the client has received.
    pub responded_to: u64,
}

/// Initializes `*session` for `client_id` in `group` (series 1).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (client id 0).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_session_init(session: *mut polyraft_host_session, group: u64, client_id: u64) -> polyraft_result {
    guard(|| {
        nn!(session);
        if client_id == 0 {
            return fail(POLYRAFT_INVALID_ARGUMENT, "client id 0 is reserved");
        }
        *session = polyraft_host_session { group, client_id, series: 1, responded_to: 0 };
        Ok(())
    })
}

/// Marks the current proposal's outcome received: the next proposal gets a
/// new series and the group may drop the cached result.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_session_completed(session: *mut polyraft_host_session) -> polyraft_result {
    guard(|| {
        nn!(session);
        let s = &mut *session;
        s.responded_to = s.series;
        s.series += 1;
        Ok(())
    })
}

unsafe fn session_of(s: *const polyraft_host_session) -> Result<Session, Fail> {
    nn!(s);
    let s = *s;
    if s.client_id == 0 || s.series == 0 || s.responded_to >= s.series {
        return fail(POLYRAFT_INVALID_ARGUMENT, "session: client id 0, or series not above responded_to");
    }
    Ok(Session::resume(s.group, s.client_id, s.series, s.responded_to))
}

/// Proposes `cmd` (copied) to `group` and waits at most `timeout_ms` for
/// the state machine's result, written to `*result` (optional: NULL
/// discards it) as a buffer to free with polyraft_buffer_free. Followers
/// forward the proposal to the leader.
/// Returns POLYRAFT_OK (applied), POLYRAFT_REJECTED (certainly not applied:
/// no leader, group not here...), POLYRAFT_TIMED_OUT (unknown); also
/// POLYRAFT_NULL_PARAMETER, POLYRAFT_CLOSED, POLYRAFT_INVALID_STATE (inside
/// a host callback). Detail in polyraft_host_last_error.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_propose(
    host: *const polyraft_host,
    group: u64,
    cmd: *const u8,
    len: usize,
    timeout_ms: u64,
    result: *mut *mut polyraft_buffer,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_propose")?;
        let cmd = slice(cmd, len, "cmd")?;
        deliver(h.host.propose(group, cmd, timeout(timeout_ms)), result)
    })
}

/// The non-blocking form of polyraft_host_propose: returns at once;
/// POLYRAFT_OK means `done(ctx, outcome)` will be called exactly once.
/// Any other return means it will not be called.
/// Errors: POLYRAFT_NULL_PARAMETER (also done), POLYRAFT_CLOSED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_propose_async(
    host: *const polyraft_host,
    group: u64,
    cmd: *const u8,
    len: usize,
    timeout_ms: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let cmd = slice(cmd, len, "cmd")?;
        let c = completion(done, ctx)?;
        h.host.propose_async(group, cmd, timeout(timeout_ms), c);
        Ok(())
    })
}

/// Like polyraft_host_propose, in `session` (its group is the target): a
/// proposal retried with the same session state is applied at most once,
/// and a retry of an applied one returns the first result.
/// Errors: as polyraft_host_propose, plus POLYRAFT_INVALID_ARGUMENT (a
/// session not initialized).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_propose_session(
    host: *const polyraft_host,
    session: *const polyraft_host_session,
    cmd: *const u8,
    len: usize,
    timeout_ms: u64,
    result: *mut *mut polyraft_buffer,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_propose_session")?;
        let s = session_of(session)?;
        let cmd = slice(cmd, len, "cmd")?;
        deliver(h.host.propose_session(&s, cmd, timeout(timeout_ms)), result)
    })
}

/// The non-blocking form of polyraft_host_propose_session (the session is
/// copied; completion as in polyraft_host_propose_async).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_propose_session_async(
    host: *const polyraft_host,
    session: *const polyraft_host_session,
    cmd: *const u8,
    len: usize,
    timeout_ms: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let s = session_of(session)?;
        let cmd = slice(cmd, len, "cmd")?;
        let c = completion(done, ctx)?;
        h.host.propose_session_async(&s, cmd, timeout(timeout_ms), c);
        Ok(())
    })
}

/// A linearizable read: confirms leadership (ReadIndex), waits until the
/// local replica has applied up to it, then runs `lookup(query)`; the answer
/// goes to `*result` as in polyraft_host_propose.
/// Returns POLYRAFT_OK, POLYRAFT_REJECTED, POLYRAFT_TIMED_OUT (reads have
/// no side effect: retry freely), and the errors of polyraft_host_propose.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_read(
    host: *const polyraft_host,
    group: u64,
    query: *const u8,
    len: usize,
    timeout_ms: u64,
    result: *mut *mut polyraft_buffer,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_read")?;
        let q = slice(query, len, "query")?;
        deliver(h.host.read(group, q, timeout(timeout_ms)), result)
    })
}

/// The non-blocking form of polyraft_host_read.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_read_async(
    host: *const polyraft_host,
    group: u64,
    query: *const u8,
    len: usize,
    timeout_ms: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let q = slice(query, len, "query")?;
        let c = completion(done, ctx)?;
        h.host.read_async(group, q, timeout(timeout_ms), c);
        Ok(())
    })
}

/// Runs `lookup(query)` on the local replica as it is (may be stale; no
/// network round trip); the answer goes to `*result`.
/// Returns POLYRAFT_OK, POLYRAFT_REJECTED (no replica of the group here),
/// and the errors of polyraft_host_propose.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_stale_read(
    host: *const polyraft_host,
    group: u64,
    query: *const u8,
    len: usize,
    result: *mut *mut polyraft_buffer,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_stale_read")?;
        let q = slice(query, len, "query")?;
        deliver(h.host.stale_read(group, q), result)
    })
}

/// The non-blocking form of polyraft_host_stale_read.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_stale_read_async(
    host: *const polyraft_host,
    group: u64,
    query: *const u8,
    len: usize,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let q = slice(query, len, "query")?;
        let c = completion(done, ctx)?;
        h.host.stale_read_async(group, q, c);
        Ok(())
    })
}

/// Membership change kind for polyraft_host_change_membership: add a voter
/// (or promote a learner) on `replica_host`.
pub const POLYRAFT_HOST_ADD_REPLICA: u32 = 0;
/// Membership change kind: add a non-voting learner on `replica_host`.
pub const POLYRAFT_HOST_ADD_LEARNER: u32 = 1;
/// Membership change kind: remove a replica (`replica_host` is ignored).
pub const POLYRAFT_HOST_REMOVE_REPLICA: u32 = 2;

fn membership(kind: u32, replica: u64, host: u64) -> Result<Membership, Fail> {
    Ok(match kind {
        0 => Membership::AddReplica { replica, host },
        1 => Membership::AddLearner { replica, host },
        2 => Membership::RemoveReplica { replica },
        k => return fail(POLYRAFT_INVALID_ARGUMENT, format!("unknown membership change kind {k}")),
    })
}

/// Changes the membership of `group` (`kind`: POLYRAFT_HOST_ADD_REPLICA,
/// POLYRAFT_HOST_ADD_LEARNER or POLYRAFT_HOST_REMOVE_REPLICA) and waits until the change is applied on this host. The new
/// replica's host travels with the change, so every member learns where it
/// runs; start it there with polyraft_host_start_replica (no peers: join).
/// Returns POLYRAFT_OK, POLYRAFT_REJECTED, POLYRAFT_TIMED_OUT, and
/// POLYRAFT_INVALID_ARGUMENT (unknown kind) plus the errors of
/// polyraft_host_propose.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_change_membership(
    host: *const polyraft_host,
    group: u64,
    kind: u32,
    replica: u64,
    replica_host: u64,
    timeout_ms: u64,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_change_membership")?;
        let m = membership(kind, replica, replica_host)?;
        h.host.change_membership(group, m, timeout(timeout_ms)).map_err(op_fail)
    })
}

/// Adds `replica`, running on `replica_host`, to `group` as a witness
/// (docs/witness.md): a voter that receives entry metadata but no payloads,
/// keeps no state machine and never leads. Waits until the change is
/// applied on this host; start the witness there with
/// polyraft_host_start_witness. Refused (POLYRAFT_REJECTED) when the
/// replica already holds data or no data voter would remain.
/// Returns the codes of polyraft_host_change_membership.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_add_witness(
    host: *const polyraft_host,
    group: u64,
    replica: u64,
    replica_host: u64,
    timeout_ms: u64,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_add_witness")?;
        h.host.add_witness(group, replica, replica_host, timeout(timeout_ms)).map_err(op_fail)
    })
}

/// The non-blocking form of polyraft_host_add_witness (the outcome carries
/// no data).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_add_witness_async(
    host: *const polyraft_host,
    group: u64,
    replica: u64,
    replica_host: u64,
    timeout_ms: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let c = completion(done, ctx)?;
        let done = Box::new(move |r: OpResult<()>| c(r.map(|()| Bytes::new())));
        h.host.add_witness_async(group, replica, replica_host, String::new(), timeout(timeout_ms), done);
        Ok(())
    })
}

/// Starts the witness replica `replica` of `group` on this host, joining
/// the group (which must have added it with polyraft_host_add_witness) or
/// restarting it from its log. A witness has no state machine: proposals
/// and reads on it are refused (POLYRAFT_REJECTED).
/// Errors: as polyraft_host_start_replica.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_start_witness(host: *const polyraft_host, group: u64, replica: u64) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_start_witness")?;
        h.host.start_witness(group, replica, StartMode::Join).map_err(host_fail)
    })
}

/// The non-blocking form of polyraft_host_change_membership (the outcome
/// carries no data).
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_change_membership_async(
    host: *const polyraft_host,
    group: u64,
    kind: u32,
    replica: u64,
    replica_host: u64,
    timeout_ms: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let m = membership(kind, replica, replica_host)?;
        let c = completion(done, ctx)?;
        h.host.change_membership_async(group, m, timeout(timeout_ms), Box::new(move |r| c(r.map(|()| Bytes::new()))));
        Ok(())
    })
}

/// Asks `group` to make replica `target` its leader and waits until this
/// host sees it lead.
/// Returns POLYRAFT_OK, POLYRAFT_REJECTED, POLYRAFT_TIMED_OUT, and the
/// errors of polyraft_host_propose.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transfer_leader(
    host: *const polyraft_host,
    group: u64,
    target: u64,
    timeout_ms: u64,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_transfer_leader")?;
        h.host.transfer_leader(group, target, timeout(timeout_ms)).map_err(op_fail)
    })
}

/// The non-blocking form of polyraft_host_transfer_leader.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_transfer_leader_async(
    host: *const polyraft_host,
    group: u64,
    target: u64,
    timeout_ms: u64,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        let c = completion(done, ctx)?;
        h.host.transfer_leader_async(group, target, timeout(timeout_ms), Box::new(move |r| c(r.map(|()| Bytes::new()))));
        Ok(())
    })
}

/// Tells the host that host `down` is unreachable (a failure detector's
/// verdict): local replicas whose leader runs there wake up and elect a new
/// leader after an election timeout instead of waiting quiesced. `*woken`
/// (optional) gets how many woke.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_CLOSED, POLYRAFT_INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_report_host_down(host: *const polyraft_host, down: u64, woken: *mut usize) -> polyraft_result {
    with_host(host, |h| {
        h.usable()?;
        not_in_callback("polyraft_host_report_host_down")?;
        let n = h.host.report_host_down(down);
        if !woken.is_null() {
            *woken = n;
        }
        Ok(())
    })
}

/// What a host knows about its replica of a group (polyraft_host_group_info).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_host_info {
    /// The group.
    pub group: u64,
    /// The local replica's id.
    pub replica: u64,
    /// The leader's replica id as known here (0: none).
    pub leader: u64,
    /// The local replica's term.
    pub term: u64,
    /// Whether the local replica leads.
    pub is_leader: bool,
    /// Whether the group is quiesced here.
    pub quiesced: bool,
    /// Applied index.
    pub applied: u64,
    /// Committed index.
    pub committed: u64,
    /// Last log index.
    pub last_index: u64,
    /// Index of the latest snapshot.
    pub snapshot_index: u64,
    /// Number of voters (as of the applied index).
    pub n_voters: usize,
    /// Number of learners.
    pub n_learners: usize,
    /// Beyond etcd: number of witnesses among the voters (docs/witness.md).
    pub n_witnesses: usize,
    /// Whether the local replica is a witness (polyraft_host_start_witness).
    pub is_witness: bool,
}

fn group_info(h: &polyraft_host, group: u64) -> Result<GroupInfo, Fail> {
    h.usable()?;
    not_in_callback("polyraft_host_group_info")?;
    h.host
        .group_info(group)
        .ok_or_else(|| (POLYRAFT_INVALID_ARGUMENT, format!("group {group} has no replica on host {}", h.id)))
}

/// Writes what this host knows about its replica of `group` to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (no replica
/// of the group here), POLYRAFT_CLOSED, POLYRAFT_INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_group_info(
    host: *const polyraft_host,
    group: u64,
    out: *mut polyraft_host_info,
) -> polyraft_result {
    with_host(host, |h| {
        nn!(out);
        let i = group_info(h, group)?;
        *out = info_to_c(&i);
        Ok(())
    })
}

fn info_to_c(i: &GroupInfo) -> polyraft_host_info {
    polyraft_host_info {
        group: i.group,
        replica: i.replica,
        leader: i.leader,
        term: i.term,
        is_leader: i.is_leader,
        quiesced: i.quiesced,
        applied: i.applied,
        committed: i.committed,
        last_index: i.last_index,
        snapshot_index: i.snapshot_index,
        n_voters: i.voters.len(),
        n_learners: i.learners.len(),
        n_witnesses: i.witnesses.len(),
        is_witness: i.is_witness,
    }
}

/// The non-blocking form of polyraft_host_group_info: `*out` is written on
/// a helper thread just before `done` gets POLYRAFT_OK (or the error
/// polyraft_host_group_info would have returned, `*out` untouched). `*out`
/// must stay valid until `done` runs.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_group_info_async(
    host: *const polyraft_host,
    group: u64,
    out: *mut polyraft_host_info,
    done: polyraft_host_completion,
    ctx: *mut c_void,
) -> polyraft_result {
    with_host(host, |h| {
        nn!(out);
        h.usable()?;
        let c = completion_raw(done, ctx)?;
        let (host, id, out) = (h.host.clone(), h.id, Ctx(out.cast()));
        spawn_local_op(c, move || {
            let out = out; // the whole wrapper moves, not its field
            let i = host
                .group_info(group)
                .ok_or_else(|| (POLYRAFT_INVALID_ARGUMENT, format!("group {group} has no replica on host {id}")))?;
            // SAFETY: the caller keeps *out valid until done runs.
            unsafe { *out.0.cast::<polyraft_host_info>() = info_to_c(&i) };
            Ok(())
        })
    })
}

/// Writes the members of `group` (voters, or learners when `learners`) with
/// their hosts into `out[0..cap)`, and their number into `*n` (which may
/// exceed cap: call again with a larger array). `out` may be NULL when cap
/// is 0.
/// Errors: as polyraft_host_group_info.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_group_members(
    host: *const polyraft_host,
    group: u64,
    learners: bool,
    out: *mut polyraft_host_peer,
    cap: usize,
    n: *mut usize,
) -> polyraft_result {
    with_host(host, |h| {
        nn!(n);
        if cap > 0 {
            nn!(out);
        }
        let i = group_info(h, group)?;
        let ids = if learners { &i.learners } else { &i.voters };
        for (k, id) in ids.iter().take(cap).enumerate() {
            *out.add(k) = polyraft_host_peer { replica: *id, host: i.hosts.get(id).copied().unwrap_or(0) };
        }
        *n = ids.len();
        Ok(())
    })
}

/// Host-wide counters into `*out`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_host_metrics {
    /// Replicas running on the host.
    pub groups: u64,
    /// Replicas not quiesced.
    pub active_groups: u64,
    /// Client operations waiting for their outcome.
    pub pending_ops: u64,
    /// Proposals received.
    pub proposals: u64,
    /// Session proposals answered from the session table (duplicates).
    pub dedup_hits: u64,
    /// Log writes (group commits).
    pub log_writes: u64,
    /// fsyncs of the log.
    pub fsyncs: u64,
}

/// Writes the host's counters to `*out`.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_CLOSED, POLYRAFT_INVALID_STATE.
#[no_mangle]
pub unsafe extern "C" fn polyraft_host_get_metrics(host: *const polyraft_host, out: *mut polyraft_host_metrics) -> polyraft_result {
    with_host(host, |h| {
        nn!(out);
        h.usable()?;
        not_in_callback("polyraft_host_get_metrics")?;
        let m = h.host.metrics();
        *out = polyraft_host_metrics {
            groups: m.groups,
            active_groups: m.active_groups,
            pending_ops: m.pending_ops,
            proposals: m.proposals,
            dedup_hits: m.dedup_hits,
            log_writes: m.log_writes,
            fsyncs: m.fsyncs,
        };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_host_call_is_reported_not_propagated() {
        let mut t = std::ptr::null_mut();
        unsafe {
            assert_eq!(polyraft_host_transport_in_process_new(&mut t), POLYRAFT_OK);
            let mut c = std::mem::zeroed();
            polyraft_host_config_init(&mut c, 1);
            c.transport = t;
            let mut h = std::ptr::null_mut();
            assert_eq!(polyraft_host_new(&c, &mut h, std::ptr::null_mut()), POLYRAFT_OK);
            let code = with_host(h, |_| panic!("boom"));
            assert_eq!(code, POLYRAFT_PANIC);
            let mut buf = [0 as c_char; 64];
            let mut n = 0;
            assert_eq!(polyraft_host_last_error(h, buf.as_mut_ptr(), buf.len(), &mut n), POLYRAFT_OK);
            assert!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap().contains("boom"));
            polyraft_host_free(h);
            polyraft_host_transport_free(t);
        }
    }
}
