//! The node: configuration, creation, and the RawNode surface.

use std::ffi::{c_char, c_void};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use polyraft::logger::{Level, Logger};
use polyraft::raftpb::{decode, ConfChange, ConfChangeV2, Message};
use polyraft::{Config, Error, Peer, RawNode, ReadOnlyOption, SnapshotStatus};

use crate::ready::polyraft_ready;
use crate::storage::{polyraft_memory_storage, polyraft_storage_vtable, FfiStorage, VtableStorage};
use crate::types::*;
use crate::*;

/// Log levels for polyraft_config.log_level.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_log_level {
    /// Per-message detail.
    POLYRAFT_LOG_DEBUG = 0,
    /// Elections, leadership, configuration changes (the default).
    POLYRAFT_LOG_INFO = 1,
    /// Unexpected but handled situations.
    POLYRAFT_LOG_WARN = 2,
    /// Failures.
    POLYRAFT_LOG_ERROR = 3,
    /// Nothing is logged.
    POLYRAFT_LOG_OFF = 4,
}

/// Receives one log line: `level` is a polyraft_log_level, `msg` is
/// NUL-terminated text of `len` bytes (without the NUL), valid only during
/// the call. Runs inside the node call that logs; must not call into the
/// node.
pub type polyraft_log_callback = Option<unsafe extern "C" fn(ctx: *mut c_void, level: u32, msg: *const c_char, len: usize)>;

/// A node's configuration: every field of etcd raft's Config. Fill it with
/// polyraft_config_init (etcd-compatible defaults), then set at least `id`.
/// Read only during polyraft_node_new_*; nothing in it is kept except
/// `log_callback`/`log_ctx`, which the node calls while it lives.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_config {
    /// This node's id: non-zero, not a local thread id.
    pub id: u64,
    /// Ticks without hearing from a leader before a follower campaigns;
    /// must exceed heartbeat_tick. Default 10.
    pub election_tick: u64,
    /// Ticks between a leader's heartbeats; > 0. Default 1.
    pub heartbeat_tick: u64,
    /// Last applied index, when restarting (0 for a new node); at most the
    /// stored commit index.
    pub applied: u64,
    /// Byte limit of one append message (POLYRAFT_NO_LIMIT: unlimited, the
    /// default; 0: one entry per message).
    pub max_size_per_msg: u64,
    /// Byte limit of the committed entries of one Ready (0: max_size_per_msg).
    pub max_committed_size_per_ready: u64,
    /// Byte limit of a leader's uncommitted tail (0: no limit).
    pub max_uncommitted_entries_size: u64,
    /// In-flight append messages per follower; > 0. Default 256.
    pub max_inflight_msgs: u64,
    /// In-flight append bytes per follower (0: no limit); if set, at least
    /// max_size_per_msg.
    pub max_inflight_bytes: u64,
    /// The leader steps down when a quorum is not active for an election
    /// timeout.
    pub check_quorum: bool,
    /// Pre-Vote phase before campaigning (Raft thesis 9.6).
    pub pre_vote: bool,
    /// A polyraft_read_only_option value: POLYRAFT_READ_ONLY_SAFE (the
    /// default) or POLYRAFT_READ_ONLY_LEASE_BASED (requires check_quorum).
    pub read_only_option: u32,
    /// Followers drop proposals instead of forwarding them to the leader.
    pub disable_proposal_forwarding: bool,
    /// Skip propose-time validation of configuration changes.
    pub disable_conf_change_validation: bool,
    /// A leader removed from (or demoted in) the configuration steps down.
    pub step_down_on_removal: bool,
    /// Async storage writes: persistence and application requests arrive as
    /// MsgStorageAppend/MsgStorageApply messages to POLYRAFT_LOCAL_APPEND_THREAD
    /// and POLYRAFT_LOCAL_APPLY_THREAD; polyraft_node_advance is refused.
    pub async_storage_writes: bool,
    /// Minimum polyraft_log_level logged. Default POLYRAFT_LOG_INFO.
    pub log_level: u32,
    /// Where log lines go; NULL: standard error ("raft INFO: ...").
    pub log_callback: polyraft_log_callback,
    /// Passed to log_callback (the library never dereferences it).
    pub log_ctx: *mut c_void,
    /// Beyond etcd (raft-rs `priority`): election priority, 0 (the default)
    /// off. A voter refuses a candidate whose log is exactly as up to date
    /// as its own but whose priority is lower. Sent in vote requests in a
    /// field etcd nodes skip.
    pub priority: i64,
    /// Beyond etcd (raft-rs `batch_append`): a leader merges the appends to
    /// one peer queued before a Ready into one message, within
    /// max_size_per_msg. Default false (etcd's messages).
    pub batch_append: bool,
}

impl Default for polyraft_config {
    fn default() -> Self {
        let c = Config::default();
        polyraft_config {
            id: 0,
            election_tick: c.election_tick as u64,
            heartbeat_tick: c.heartbeat_tick as u64,
            applied: 0,
            max_size_per_msg: c.max_size_per_msg,
            max_committed_size_per_ready: c.max_committed_size_per_ready,
            max_uncommitted_entries_size: c.max_uncommitted_entries_size,
            max_inflight_msgs: c.max_inflight_msgs as u64,
            max_inflight_bytes: c.max_inflight_bytes,
            check_quorum: false,
            pre_vote: false,
            read_only_option: 0,
            disable_proposal_forwarding: false,
            disable_conf_change_validation: false,
            step_down_on_removal: false,
            async_storage_writes: false,
            log_level: polyraft_log_level::POLYRAFT_LOG_INFO as u32,
            log_callback: None,
            log_ctx: std::ptr::null_mut(),
            priority: c.priority,
            batch_append: c.batch_append,
        }
    }
}

/// Fills `*config` with the defaults (etcd's usual values: election 10,
/// heartbeat 1, 256 in-flight messages, no size limits, no check quorum,
/// no pre-vote, safe reads, log level INFO to standard error, id 0 which
/// the caller must set).
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_config_init(config: *mut polyraft_config) -> polyraft_result {
    guard(|| {
        nn!(config);
        *config = polyraft_config::default();
        Ok(())
    })
}

struct CLogger {
    cb: polyraft_log_callback,
    ctx: *mut c_void,
    min: u32,
}

// SAFETY: the context is the caller's, only handed back to its callback;
// the threading rules of the header (calls on one node never overlap) are
// the caller's contract for it.
unsafe impl Send for CLogger {}
unsafe impl Sync for CLogger {}

fn level_code(l: Level) -> u32 {
    match l {
        Level::Debug => 0,
        Level::Info => 1,
        Level::Warn => 2,
        Level::Error => 3,
    }
}

impl Logger for CLogger {
    fn enabled(&self, level: Level) -> bool {
        level_code(level) >= self.min
    }
    fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        match self.cb {
            Some(cb) => {
                let mut s = args.to_string().replace('\0', "\\0");
                let len = s.len();
                s.push('\0');
                // SAFETY: the caller's callback contract; `s` outlives the call.
                unsafe { cb(self.ctx, level_code(level), s.as_ptr() as *const c_char, len) };
            }
            None => eprintln!("raft {level}: {args}"),
        }
    }
}

fn to_usize(v: u64, what: &str) -> Result<usize, Fail> {
    usize::try_from(v).map_err(|_| (POLYRAFT_INVALID_CONFIG, format!("{what} is too large")))
}

/// Converts and validates a C config with etcd's rules and texts.
pub(crate) fn config_from_c(c: &polyraft_config) -> Result<Config, Fail> {
    let read_only_option = match c.read_only_option {
        0 => ReadOnlyOption::Safe,
        1 => ReadOnlyOption::LeaseBased,
        v => return fail(POLYRAFT_INVALID_CONFIG, format!("unknown read_only_option {v}")),
    };
    if c.log_level > 4 {
        return fail(POLYRAFT_INVALID_CONFIG, format!("unknown log_level {}", c.log_level));
    }
    let cfg = Config {
        id: c.id,
        election_tick: to_usize(c.election_tick, "election_tick")?,
        heartbeat_tick: to_usize(c.heartbeat_tick, "heartbeat_tick")?,
        applied: c.applied,
        async_storage_writes: c.async_storage_writes,
        max_size_per_msg: c.max_size_per_msg,
        max_committed_size_per_ready: c.max_committed_size_per_ready,
        max_uncommitted_entries_size: c.max_uncommitted_entries_size,
        max_inflight_msgs: to_usize(c.max_inflight_msgs, "max_inflight_msgs")?,
        max_inflight_bytes: c.max_inflight_bytes,
        check_quorum: c.check_quorum,
        pre_vote: c.pre_vote,
        read_only_option,
        logger: Some(Arc::new(CLogger { cb: c.log_callback, ctx: c.log_ctx, min: c.log_level }) as Arc<dyn Logger>),
        disable_proposal_forwarding: c.disable_proposal_forwarding,
        disable_conf_change_validation: c.disable_conf_change_validation,
        step_down_on_removal: c.step_down_on_removal,
        priority: c.priority,
        batch_append: c.batch_append,
    };
    cfg.validate().map_err(core_fail)?;
    Ok(cfg)
}

/// Validates a configuration without creating a node. On failure, when
/// `error` is not NULL, writes to `*error` a new buffer holding the one-line
/// reason (free it with polyraft_buffer_free); on success writes NULL there.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_CONFIG.
#[no_mangle]
pub unsafe extern "C" fn polyraft_config_validate(
    config: *const polyraft_config,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(config);
        config_from_c(&*config).map(|_| ())
    })
}

/// A raft node (etcd's RawNode). Created by polyraft_node_new_memory,
/// polyraft_node_new_durable or polyraft_node_new_custom, freed by
/// polyraft_node_free.
pub struct polyraft_node {
    pub(crate) raw: RawNode<FfiStorage>,
    pub(crate) poisoned: bool,
    /// The detail of the node's last call (polyraft_node_last_error).
    pub(crate) detail: Arc<ErrorSlot>,
    /// The node's logger, which also reports a caught panic.
    logger: Arc<dyn Logger>,
    pub(crate) async_writes: bool,
    /// The Ready handed out last (its views), kept until advance (or, with
    /// async storage writes, until the next ready).
    pub(crate) ready: Option<Box<polyraft_ready>>,
    pub(crate) ready_outstanding: bool,
    /// Views of the last apply_conf_change result.
    cs_arena: Arena,
    /// The last status_json text.
    status_text: Arena,
    /// The views of the last polyraft_node_config.
    config_arena: Arena,
}

impl polyraft_node {
    /// Converts a core result, giving a storage callback's own code when a
    /// storage failure caused the error.
    pub(crate) fn core<T>(&self, r: polyraft::Result<T>) -> Result<T, Fail> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let storage_like = matches!(
                    e,
                    Error::Fatal(_)
                        | Error::Storage(_)
                        | Error::Compacted
                        | Error::Unavailable
                        | Error::SnapshotTemporarilyUnavailable
                        | Error::SnapOutOfDate
                );
                self.detail.set_errno(errno_of(&e));
                if storage_like {
                    if let Some((code, msg)) = self.raw.store().take_err() {
                        return Err((code, one_line(&e.to_string(), &msg)));
                    }
                }
                Err(core_fail(e))
            }
        }
    }
}

impl polyraft_node {
    /// A view of `cs` owned by the node until the next call.
    pub(crate) fn config_view(&mut self, cs: &polyraft::raftpb::ConfState) -> polyraft_conf_state {
        let mut arena = Arena::default();
        let view = arena.conf_state(cs);
        self.config_arena = arena;
        view
    }
}

/// Joins an error's text and its cause's without saying anything twice.
fn one_line(text: &str, cause: &str) -> String {
    if text.contains(cause) {
        text.to_string()
    } else if cause.contains(text) {
        cause.to_string()
    } else {
        format!("{text}: {cause}")
    }
}

impl polyraft_node {
    /// Fails when the node has failed (after calls that report nothing).
    pub(crate) fn alive(&self) -> Result<(), Fail> {
        match self.raw.raft().fatal_error() {
            Some(e) => self.core(Err(e.clone())),
            None => Ok(()),
        }
    }
}

/// Runs an export body on a node: null check, poison check, the panic
/// boundary, and the node's detail. A caught panic poisons the node and is
/// logged through the node's logger.
pub(crate) unsafe fn with_node(
    node: *mut polyraft_node,
    f: impl FnOnce(&mut polyraft_node) -> Result<(), Fail>,
) -> polyraft_result {
    if node.is_null() {
        return POLYRAFT_NULL_PARAMETER;
    }
    let slot = (*node).detail.clone();
    if (*node).poisoned {
        slot.set("the node panicked earlier and refuses all work: free it", 0);
        return POLYRAFT_POISONED;
    }
    let code = boundary(Some(&slot), || {
        // SAFETY: the caller's pointer, checked non-NULL; calls on one
        // node never overlap (the header's rule).
        let n = unsafe { &mut *node };
        n.raw.store().clear_err();
        f(n)
    });
    if code == POLYRAFT_PANIC {
        let n = &mut *node;
        n.poisoned = true;
        let mut text = String::new();
        let _ = slot.copy_text(&mut text);
        let logger = n.logger.clone();
        let _ = catch(|| logger.log(Level::Error, format_args!("polyraft: caught {text}; the node is poisoned")));
    }
    code
}

pub(crate) fn new_node(cfg: &polyraft_config, storage: FfiStorage) -> Result<Box<polyraft_node>, Fail> {
    let config = config_from_c(cfg)?;
    let logger = config.logger.clone().expect("config_from_c sets the logger");
    let raw = RawNode::new(&config, storage).map_err(core_fail)?;
    Ok(Box::new(polyraft_node {
        raw,
        poisoned: false,
        detail: Arc::default(),
        logger,
        async_writes: cfg.async_storage_writes,
        ready: None,
        ready_outstanding: false,
        cs_arena: Arena::default(),
        status_text: Arena::default(),
        config_arena: Arena::default(),
    }))
}

/// Creates a node over a memory storage. The node takes its own reference
/// to the storage: the caller keeps (and eventually frees) its handle and
/// writes to the storage through it. For a brand-new cluster, create the
/// node over an empty storage and call polyraft_node_bootstrap; to restart,
/// fill the storage first and set config->applied.
/// On success writes the node to `*out`. On failure, when `error` is not
/// NULL, writes to `*error` a new buffer holding the one-line reason (free
/// it with polyraft_buffer_free); on success writes NULL there.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_CONFIG, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_new_memory(
    config: *const polyraft_config,
    storage: *const polyraft_memory_storage,
    out: *mut *mut polyraft_node,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(config);
        nn!(storage);
        nn!(out);
        let node = new_node(&*config, FfiStorage::Memory((*storage).ms.clone()))?;
        *out = Box::into_raw(node);
        Ok(())
    })
}

/// Creates a node over the caller's storage. The vtable is copied. On
/// success the node owns `vtable->ctx` and calls `vtable->destroy(ctx)`
/// (if not NULL) exactly once, from polyraft_node_free; on failure nothing
/// is kept and destroy is not called (the caller still owns ctx).
/// `initial_state` is called during this call; the storage's hard state
/// and configuration become the node's.
/// Errors: POLYRAFT_NULL_PARAMETER (also a NULL required callback),
/// POLYRAFT_ABI_MISMATCH, POLYRAFT_INVALID_CONFIG, storage codes returned by
/// the callbacks, POLYRAFT_CONF_CHANGE (inconsistent configuration).
/// `error`: as in polyraft_node_new_memory.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_new_custom(
    config: *const polyraft_config,
    vtable: *const polyraft_storage_vtable,
    out: *mut *mut polyraft_node,
    error: *mut *mut polyraft_buffer,
) -> polyraft_result {
    construct(error, || {
        nn!(config);
        nn!(vtable);
        nn!(out);
        // Validate before taking ownership of ctx.
        config_from_c(&*config)?;
        let vs = VtableStorage::new(vtable)?;
        let armed = vs.armed.clone();
        let node = new_node(&*config, FfiStorage::Custom(vs))?;
        armed.set(true);
        *out = Box::into_raw(node);
        Ok(())
    })
}

/// Frees a node and everything it handed out (Ready views, status text,
/// ConfState views); calls the custom storage's destroy callback. NULL is a
/// no-op. Works on a poisoned node.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_free(node: *mut polyraft_node) {
    if node.is_null() {
        return;
    }
    let _ = catch(|| drop(Box::from_raw(node)));
}

/// Copies the one-line detail of the node's last call into `buf`
/// (truncated to fit, NUL-terminated when len > 0) and the bytes written
/// (without the NUL) into `*written`; empty when that call succeeded. Any
/// thread may read it once the call returned. Works on a poisoned node.
/// Errors: POLYRAFT_NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_last_error(
    node: *const polyraft_node,
    buf: *mut c_char,
    len: usize,
    written: *mut usize,
) -> polyraft_result {
    guard(|| {
        nn!(node);
        nn!(buf);
        nn!(written);
        *written = (*node).detail.copy_to(buf, len);
        Ok(())
    })
}

/// The errno of the operating-system failure behind the node's last call
/// (a durable storage's failed write or fsync...), or 0 when that call
/// succeeded or failed for another reason. 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_last_errno(node: *const polyraft_node) -> i32 {
    if node.is_null() {
        return 0;
    }
    (*node).detail.last_errno()
}

/// Bootstraps a brand-new cluster: appends a ConfChangeAddNode entry per peer
/// (committed at term 1) and applies them, so the node may campaign at once.
/// The entries also come out in the next Ready, to be persisted and applied
/// like any other. The storage must be empty.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (no peers, or a
/// peer id of 0 or a local thread id), POLYRAFT_INVALID_STATE (non-empty
/// storage), POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_bootstrap(
    node: *mut polyraft_node,
    peers: *const polyraft_peer,
    n: usize,
) -> polyraft_result {
    with_node(node, |nd| {
        let ps = slice(peers, n, "peers")?;
        if ps.is_empty() {
            return fail(POLYRAFT_INVALID_ARGUMENT, "must provide at least one peer to Bootstrap");
        }
        let mut v = Vec::with_capacity(ps.len());
        for p in ps {
            check_id(p.id)?;
            v.push(Peer { id: p.id, context: copy_bytes(p.context, p.context_len, "context")? });
        }
        let r = nd.raw.bootstrap(&v);
        nd.core(r)
    })
}

fn check_id(id: u64) -> Result<(), Fail> {
    if id == 0 || id == POLYRAFT_LOCAL_APPEND_THREAD || id == POLYRAFT_LOCAL_APPLY_THREAD {
        return fail(POLYRAFT_INVALID_ARGUMENT, format!("invalid node id {id:#x}"));
    }
    Ok(())
}

/// Advances the node's logical clock by one tick (elections, heartbeats).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED, POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_tick(node: *mut polyraft_node) -> polyraft_result {
    with_node(node, |nd| {
        nd.alive()?;
        nd.raw.tick();
        nd.alive()
    })
}

/// Starts an election now (MsgHup).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED, POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_campaign(node: *mut polyraft_node) -> polyraft_result {
    with_node(node, |nd| {
        let r = nd.raw.campaign();
        nd.core(r)
    })
}

/// Proposes one entry (data copied; NULL allowed when len is 0). It is
/// committed when it comes out in a Ready's committed entries.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_PROPOSAL_DROPPED (no leader
/// known, transfer in progress, size limit), POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_propose(node: *mut polyraft_node, data: *const u8, len: usize) -> polyraft_result {
    with_node(node, |nd| {
        let d = copy_bytes(data, len, "data")?;
        let r = nd.raw.propose(d);
        nd.core(r)
    })
}

/// Proposes `n` entries in one message (one append, one broadcast); all or
/// none are accepted. Data copied.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (n == 0),
/// POLYRAFT_PROPOSAL_DROPPED, POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_propose_batch(
    node: *mut polyraft_node,
    items: *const polyraft_bytes,
    n: usize,
) -> polyraft_result {
    with_node(node, |nd| {
        let items = slice(items, n, "items")?;
        if items.is_empty() {
            return fail(POLYRAFT_INVALID_ARGUMENT, "propose_batch needs at least one entry");
        }
        let mut v: Vec<Bytes> = Vec::with_capacity(items.len());
        for it in items {
            v.push(copy_bytes(it.data, it.len, "item data")?);
        }
        let r = nd.raw.propose_batch(&v);
        nd.core(r)
    })
}

unsafe fn decode_cc(entry_type: u32, data: *const u8, len: usize) -> Result<polyraft::raw_node::ConfChangeI, Fail> {
    let b = slice(data, len, "data")?;
    match entry_type {
        1 => Ok(decode::<ConfChange>(b).map_err(core_fail)?.into()),
        2 => Ok(decode::<ConfChangeV2>(b).map_err(core_fail)?.into()),
        t => fail(
            POLYRAFT_INVALID_ARGUMENT,
            format!("conf change type must be POLYRAFT_ENTRY_CONF_CHANGE or _V2, got {t}"),
        ),
    }
}

/// Proposes a configuration change given as raftpb bytes: `entry_type` is
/// POLYRAFT_ENTRY_CONF_CHANGE (an encoded ConfChange, see
/// polyraft_conf_change_encode) or POLYRAFT_ENTRY_CONF_CHANGE_V2 (an encoded
/// ConfChangeV2, see polyraft_conf_change_v2_encode; empty bytes leave a
/// joint configuration). It takes effect when the committed entry is
/// applied with polyraft_node_apply_conf_change.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT, POLYRAFT_DECODE,
/// POLYRAFT_PROPOSAL_DROPPED (e.g. another change pending), POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_propose_conf_change(
    node: *mut polyraft_node,
    entry_type: u32,
    data: *const u8,
    len: usize,
) -> polyraft_result {
    with_node(node, |nd| {
        let cc = decode_cc(entry_type, data, len)?;
        // The caller's bytes go into the log as they are (etcd stores the
        // application's encoding; ours could differ in size).
        let typ = match cc {
            polyraft::raw_node::ConfChangeI::V1(_) => polyraft::raftpb::EntryType::EntryConfChange,
            polyraft::raw_node::ConfChangeI::V2(_) => polyraft::raftpb::EntryType::EntryConfChangeV2,
        };
        let bytes = bytes::Bytes::copy_from_slice(slice(data, len, "data")?);
        let r = nd.raw.propose_conf_change_encoded(typ, bytes);
        nd.core(r)
    })
}

/// Applies a committed configuration change: pass a committed entry's
/// entry_type, data and data_len (POLYRAFT_ENTRY_CONF_CHANGE or
/// POLYRAFT_ENTRY_CONF_CHANGE_V2). Writes the resulting configuration to
/// `*conf_state`, whose arrays are owned by the node and valid until the
/// next polyraft_node_apply_conf_change or polyraft_node_free. Save it with
/// your snapshot metadata.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT, POLYRAFT_DECODE,
/// POLYRAFT_CONF_CHANGE (invalid change; configuration unchanged), POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_apply_conf_change(
    node: *mut polyraft_node,
    entry_type: u32,
    data: *const u8,
    len: usize,
    conf_state: *mut polyraft_conf_state,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(conf_state);
        let cc = decode_cc(entry_type, data, len)?;
        let r = nd.raw.apply_conf_change(cc);
        let cs = nd.core(r)?;
        let mut arena = Arena::default();
        let view = arena.conf_state(&cs);
        nd.cs_arena = arena;
        *conf_state = view;
        Ok(())
    })
}

/// Decodes raftpb message bytes; garbage is POLYRAFT_DECODE.
fn decode_message(b: Bytes) -> Result<Message, Fail> {
    // From `Bytes`, the entries' payloads decode as slices of it (from a
    // borrowed slice, prost would copy each one).
    <Message as prost::Message>::decode(b).map_err(|e| core_fail(Error::Decode(e.to_string())))
}

/// Steps one message decoded from bytes that may have crossed the network:
/// `step_peer` refuses local-only types (MsgHup, MsgStorageApplyResp...)
/// whatever their `from` claims, so no peer can forge the node's own
/// storage acknowledgements.
fn step_wire(nd: &mut polyraft_node, b: Bytes) -> Result<(), Fail> {
    let m = decode_message(b)?;
    let r = nd.raw.step_peer(m);
    nd.core(r)
}

/// Steps a raftpb-encoded message received from a peer (the `bytes` of a
/// polyraft_message from another node's Ready). Copied. Local-only message
/// types (MsgHup, MsgBeat, MsgStorageAppend(Resp), MsgStorageApply(Resp)...)
/// are refused with POLYRAFT_STEP_LOCAL_MSG whatever their `from` says and
/// the node is unaffected: the responses of async storage writes go to
/// polyraft_node_step_local instead.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_DECODE (garbage bytes or an
/// invalid message; the node is unaffected), POLYRAFT_STEP_LOCAL_MSG,
/// POLYRAFT_STEP_PEER_NOT_FOUND, POLYRAFT_PROPOSAL_DROPPED (a forwarded
/// proposal), POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_step(node: *mut polyraft_node, bytes: *const u8, len: usize) -> polyraft_result {
    with_node(node, |nd| {
        let b = Bytes::copy_from_slice(slice(bytes, len, "bytes")?);
        step_wire(nd, b)
    })
}

/// Async storage writes: steps a raftpb-encoded response of the node's own
/// storage work, the `bytes` of a `responses` element addressed to this
/// node (`to` is its id) of a MsgStorageAppend or MsgStorageApply, once
/// that work is done. Copied. Unlike polyraft_node_step it accepts the
/// local types MsgStorageAppendResp and MsgStorageApplyResp, sent from
/// POLYRAFT_LOCAL_APPEND_THREAD / POLYRAFT_LOCAL_APPLY_THREAD (etcd's
/// RawNode.Step rules); they are trusted as the node's own, so never pass
/// bytes received from the network here.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_DECODE,
/// POLYRAFT_STEP_LOCAL_MSG (a local type not from a local thread),
/// POLYRAFT_STEP_PEER_NOT_FOUND, POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_step_local(
    node: *mut polyraft_node,
    bytes: *const u8,
    len: usize,
) -> polyraft_result {
    with_node(node, |nd| {
        let m = decode_message(Bytes::copy_from_slice(slice(bytes, len, "bytes")?))?;
        let r = nd.raw.step(m);
        nd.core(r)
    })
}

/// Steps `n` raftpb-encoded messages from peers in order, exactly as `n`
/// calls of polyraft_node_step would (local-only types are refused the
/// same way), in one call: message `i` is the next `lens[i]` bytes of
/// `bytes` (the messages back to back). Stops at the first message whose
/// step fails and returns that step's code. Unlike other outputs,
/// `*stepped` is written whatever the result (except
/// POLYRAFT_NULL_PARAMETER and POLYRAFT_POISONED): the number of messages
/// stepped successfully, so on a failure message `*stepped` is the one that
/// failed and the caller may go on from the next one.
/// Errors: those of polyraft_node_step, and POLYRAFT_INVALID_ARGUMENT (the
/// lengths overflow).
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_step_batch(
    node: *mut polyraft_node,
    bytes: *const u8,
    lens: *const usize,
    n: usize,
    stepped: *mut usize,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(stepped);
        *stepped = 0;
        let lens = slice(lens, n, "lens")?;
        let Some(total) = lens.iter().try_fold(0usize, |a, &l| a.checked_add(l)) else {
            return fail(POLYRAFT_INVALID_ARGUMENT, "the lengths overflow");
        };
        let all = slice(bytes, total, "bytes")?;
        let mut off = 0;
        for (i, &len) in lens.iter().enumerate() {
            if i > 0 {
                // Each step starts afresh, as a call of its own would.
                nd.raw.store().clear_err();
            }
            let b = Bytes::copy_from_slice(&all[off..off + len]);
            off += len;
            step_wire(nd, b)?;
            *stepped += 1;
        }
        Ok(())
    })
}

/// Writes to `*out` whether polyraft_node_ready would return something to do.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_has_ready(node: *mut polyraft_node, out: *mut bool) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        *out = nd.raw.has_ready();
        Ok(())
    })
}

/// Acknowledges the outstanding Ready as persisted and applied: call it
/// after saving its entries, hard state and snapshot, sending its messages
/// and applying its committed entries. Frees the Ready and all its views.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_STATE (no outstanding
/// Ready, or async storage writes are on), POLYRAFT_FATAL, storage codes.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_advance(node: *mut polyraft_node) -> polyraft_result {
    with_node(node, |nd| {
        // With async storage writes no Ready is ever outstanding; the core
        // refuses the call then (its rule, not repeated here).
        if !nd.ready_outstanding && !nd.async_writes {
            return fail(POLYRAFT_INVALID_STATE, "advance without an outstanding Ready");
        }
        nd.ready_outstanding = false;
        nd.ready = None;
        let r = nd.raw.advance();
        nd.core(r)
    })
}

/// Requests a linearizable read; `ctx` (copied, unique per request)
/// returns in a polyraft_read_state of a later Ready once the leader
/// confirmed its commit index.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_PROPOSAL_DROPPED (no leader),
/// POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_read_index(node: *mut polyraft_node, ctx: *const u8, len: usize) -> polyraft_result {
    with_node(node, |nd| {
        let c = copy_bytes(ctx, len, "ctx")?;
        let r = nd.raw.read_index(c);
        nd.core(r)
    })
}

/// Asks the leader to transfer leadership to `transferee` (ignored by a
/// node that cannot do it, as in etcd).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (id 0),
/// POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_transfer_leader(node: *mut polyraft_node, transferee: u64) -> polyraft_result {
    with_node(node, |nd| {
        check_id(transferee)?;
        nd.alive()?;
        nd.raw.transfer_leader(transferee);
        nd.alive()
    })
}

/// Forgets the current leader (MsgForgetLeader), so a pre-vote campaign can
/// win before the leader's lease expires. Ignored under lease-based reads.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_forget_leader(node: *mut polyraft_node) -> polyraft_result {
    with_node(node, |nd| {
        let r = nd.raw.forget_leader();
        nd.core(r)
    })
}

/// Reports that the last send to node `id` failed.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (id 0), POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_report_unreachable(node: *mut polyraft_node, id: u64) -> polyraft_result {
    with_node(node, |nd| {
        check_id(id)?;
        nd.alive()?;
        nd.raw.report_unreachable(id);
        nd.alive()
    })
}

/// Reports the outcome of sending a snapshot (a MsgSnap) to node `id`:
/// `failure` false when it was delivered, true when sending failed.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_INVALID_ARGUMENT (id 0), POLYRAFT_FATAL.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_report_snapshot(node: *mut polyraft_node, id: u64, failure: bool) -> polyraft_result {
    with_node(node, |nd| {
        check_id(id)?;
        nd.alive()?;
        nd.raw.report_snapshot(id, if failure { SnapshotStatus::Failure } else { SnapshotStatus::Finish });
        nd.alive()
    })
}

/// The node's state without progress (etcd's BasicStatus).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_basic_status {
    /// This node's id.
    pub id: u64,
    /// Term, vote, commit.
    pub hard_state: polyraft_hard_state,
    /// Leader and role.
    pub soft_state: polyraft_soft_state,
    /// Highest index acknowledged as applied.
    pub applied: u64,
    /// Target of a leadership transfer in progress, or 0.
    pub lead_transferee: u64,
}

/// Writes the basic status into `*out`. Works on a failed node (not on a
/// poisoned one).
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_basic_status(
    node: *mut polyraft_node,
    out: *mut polyraft_basic_status,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(out);
        let b = nd.raw.basic_status();
        *out = polyraft_basic_status {
            id: b.id,
            hard_state: b.hard_state.into(),
            soft_state: b.soft_state.into(),
            applied: b.applied,
            lead_transferee: b.lead_transferee,
        };
        Ok(())
    })
}

/// The full status as JSON in etcd's Status.MarshalJSON shape (ids as hex
/// strings; "progress" keyed by hex id, on the leader only), e.g.
/// {"id":"1","term":2,"vote":"1","commit":5,"lead":"1","raftState":"StateLeader",
/// "applied":5,"progress":{"1":{"match":5,"next":6,"state":"StateReplicate"}},
/// "leadtransferee":"0"}.
/// Writes a NUL-terminated text owned by the node to `*json` and its length
/// (without the NUL) to `*len`, valid until the next
/// polyraft_node_status_json or polyraft_node_free.
/// Errors: POLYRAFT_NULL_PARAMETER, POLYRAFT_POISONED.
#[no_mangle]
pub unsafe extern "C" fn polyraft_node_status_json(
    node: *mut polyraft_node,
    json: *mut *const c_char,
    len: *mut usize,
) -> polyraft_result {
    with_node(node, |nd| {
        nn!(json);
        nn!(len);
        let text = nd.raw.status().to_json();
        let mut arena = Arena::default();
        let (p, n) = arena.text(&text);
        nd.status_text = arena;
        *json = p as *const c_char;
        *len = n;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{polyraft_memory_storage_free, polyraft_memory_storage_new};

    /// A panic inside a node call becomes POLYRAFT_PANIC, poisons the node,
    /// and later calls answer POLYRAFT_POISONED; free still works.
    #[test]
    fn panic_poisons_the_node() {
        static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        unsafe extern "C" fn log(_: *mut c_void, level: u32, msg: *const c_char, len: usize) {
            let text = std::slice::from_raw_parts(msg as *const u8, len);
            LINES.lock().unwrap().push(format!("{level} {}", String::from_utf8_lossy(text)));
        }
        unsafe fn detail(node: *const polyraft_node) -> String {
            let mut buf = [0 as c_char; 96];
            let mut written = 0usize;
            assert_eq!(polyraft_node_last_error(node, buf.as_mut_ptr(), buf.len(), &mut written), POLYRAFT_OK);
            let text = std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap().to_string();
            assert_eq!(written, text.len());
            text
        }
        unsafe {
            let mut ms = std::ptr::null_mut();
            assert_eq!(polyraft_memory_storage_new(&mut ms), POLYRAFT_OK);
            let mut cfg = polyraft_config::default();
            cfg.id = 1;
            cfg.log_level = polyraft_log_level::POLYRAFT_LOG_ERROR as u32;
            cfg.log_callback = Some(log);
            let mut node = std::ptr::null_mut();
            assert_eq!(polyraft_node_new_memory(&cfg, ms, &mut node, std::ptr::null_mut()), POLYRAFT_OK);

            // The library's hook keeps it quiet (nothing on stderr): the
            // result, the node's detail and its logger report it.
            let r = with_node(node, |_| panic!("boom"));
            assert_eq!(r, POLYRAFT_PANIC);
            assert_eq!(detail(node), "panic: boom");
            assert_eq!(*LINES.lock().unwrap(), vec!["3 polyraft: caught panic: boom; the node is poisoned".to_string()]);
            assert_eq!(polyraft_node_tick(node), POLYRAFT_POISONED);
            assert_eq!(polyraft_node_campaign(node), POLYRAFT_POISONED);
            assert_eq!(detail(node), "the node panicked earlier and refuses all work: free it");
            polyraft_node_free(node);
            polyraft_memory_storage_free(ms);
        }
    }

    /// Outside a node, a panic becomes POLYRAFT_PANIC; a panic outside
    /// the boundary still reaches the hook that was there before.
    #[test]
    fn guard_catches_panics() {
        let r = guard(|| panic!("boom"));
        assert_eq!(r, POLYRAFT_PANIC);
        let outside = std::panic::catch_unwind(|| panic!("outside the library"));
        assert!(outside.is_err());
    }

    /// The one result table names every code; a constructor's failure
    /// comes back in its error buffer, one line, and no handle is made.
    #[test]
    fn result_table_and_constructor_errors() {
        unsafe {
            let name = std::ffi::CStr::from_ptr(crate::polyraft_result_name(POLYRAFT_CORRUPT as u32));
            assert_eq!(name.to_str().unwrap(), "POLYRAFT_CORRUPT");
            assert!(crate::polyraft_result_name(99).is_null());
            let cfg = polyraft_config { id: 0, ..Default::default() };
            let mut err = std::ptr::null_mut();
            assert_eq!(polyraft_config_validate(&cfg, &mut err), POLYRAFT_INVALID_CONFIG);
            assert!(!err.is_null());
            let text = String::from_utf8((*err).data.clone()).unwrap();
            crate::polyraft_buffer_free(err);
            assert_eq!(text, "cannot use none as id");
        }
    }
}
