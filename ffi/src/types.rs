//! Plain C structs and enum values shared by the whole API, and their
//! conversions to and from the core's raftpb types.

use std::ptr;

use bytes::Bytes;
use polyraft::raftpb::{
    ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot, SnapshotMetadata,
};

use crate::{copy_bytes, fail, slice, Fail, POLYRAFT_INVALID_ARGUMENT};

/// Version of polyraft_storage_vtable this library understands; put it in
/// the vtable's abi_version field.
pub const POLYRAFT_STORAGE_ABI_VERSION: u32 = 1;

/// "No node": no leader, no vote.
pub const POLYRAFT_NONE: u64 = 0;

/// Target of MsgStorageAppend messages with async storage writes
/// (UINT64_MAX).
pub const POLYRAFT_LOCAL_APPEND_THREAD: u64 = 0xffff_ffff_ffff_ffff;

/// Target of MsgStorageApply messages with async storage writes
/// (UINT64_MAX - 1).
pub const POLYRAFT_LOCAL_APPLY_THREAD: u64 = 0xffff_ffff_ffff_fffe;

/// "No limit" for the size fields of polyraft_config (UINT64_MAX).
pub const POLYRAFT_NO_LIMIT: u64 = 0xffff_ffff_ffff_ffff;

/// Entry types (raftpb EntryType), the values of polyraft_entry.entry_type.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_entry_type {
    /// An application entry.
    POLYRAFT_ENTRY_NORMAL = 0,
    /// An encoded ConfChange (v1).
    POLYRAFT_ENTRY_CONF_CHANGE = 1,
    /// An encoded ConfChangeV2.
    POLYRAFT_ENTRY_CONF_CHANGE_V2 = 2,
}

/// Message types (raftpb MessageType), the values of polyraft_message.msg_type.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_message_type {
    /// MsgHup (local).
    POLYRAFT_MSG_HUP = 0,
    /// MsgBeat (local).
    POLYRAFT_MSG_BEAT = 1,
    /// MsgProp.
    POLYRAFT_MSG_PROP = 2,
    /// MsgApp.
    POLYRAFT_MSG_APP = 3,
    /// MsgAppResp.
    POLYRAFT_MSG_APP_RESP = 4,
    /// MsgVote.
    POLYRAFT_MSG_VOTE = 5,
    /// MsgVoteResp.
    POLYRAFT_MSG_VOTE_RESP = 6,
    /// MsgSnap.
    POLYRAFT_MSG_SNAP = 7,
    /// MsgHeartbeat.
    POLYRAFT_MSG_HEARTBEAT = 8,
    /// MsgHeartbeatResp.
    POLYRAFT_MSG_HEARTBEAT_RESP = 9,
    /// MsgUnreachable (local).
    POLYRAFT_MSG_UNREACHABLE = 10,
    /// MsgSnapStatus (local).
    POLYRAFT_MSG_SNAP_STATUS = 11,
    /// MsgCheckQuorum (local).
    POLYRAFT_MSG_CHECK_QUORUM = 12,
    /// MsgTransferLeader.
    POLYRAFT_MSG_TRANSFER_LEADER = 13,
    /// MsgTimeoutNow.
    POLYRAFT_MSG_TIMEOUT_NOW = 14,
    /// MsgReadIndex.
    POLYRAFT_MSG_READ_INDEX = 15,
    /// MsgReadIndexResp.
    POLYRAFT_MSG_READ_INDEX_RESP = 16,
    /// MsgPreVote.
    POLYRAFT_MSG_PRE_VOTE = 17,
    /// MsgPreVoteResp.
    POLYRAFT_MSG_PRE_VOTE_RESP = 18,
    /// MsgStorageAppend (async storage writes: persist, then deliver the
    /// responses).
    POLYRAFT_MSG_STORAGE_APPEND = 19,
    /// MsgStorageAppendResp.
    POLYRAFT_MSG_STORAGE_APPEND_RESP = 20,
    /// MsgStorageApply (async storage writes: apply, then deliver the
    /// responses).
    POLYRAFT_MSG_STORAGE_APPLY = 21,
    /// MsgStorageApplyResp.
    POLYRAFT_MSG_STORAGE_APPLY_RESP = 22,
    /// MsgForgetLeader.
    POLYRAFT_MSG_FORGET_LEADER = 23,
}

/// Configuration change types (raftpb ConfChangeType).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_conf_change_type {
    /// Add a voter (or promote a learner).
    POLYRAFT_CONF_CHANGE_ADD_NODE = 0,
    /// Remove a node.
    POLYRAFT_CONF_CHANGE_REMOVE_NODE = 1,
    /// Update a node (no effect on the configuration).
    POLYRAFT_CONF_CHANGE_UPDATE_NODE = 2,
    /// Add a learner (or demote a voter).
    POLYRAFT_CONF_CHANGE_ADD_LEARNER_NODE = 3,
    /// Beyond etcd: add a witness, a voter that receives entry metadata
    /// without payloads, keeps no state machine and never leads
    /// (docs/witness.md). etcd nodes refuse this type.
    POLYRAFT_CONF_CHANGE_ADD_WITNESS_NODE = 4,
}

/// Joint-consensus transitions of a ConfChangeV2.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_conf_change_transition {
    /// Joint only when needed (several changes), left automatically.
    POLYRAFT_TRANSITION_AUTO = 0,
    /// Always joint, left automatically.
    POLYRAFT_TRANSITION_JOINT_IMPLICIT = 1,
    /// Always joint, left by an explicit empty ConfChangeV2.
    POLYRAFT_TRANSITION_JOINT_EXPLICIT = 2,
}

/// How read-only requests are confirmed (polyraft_config.read_only_option).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_read_only_option {
    /// Confirm leadership with a quorum of heartbeat acks (linearizable).
    POLYRAFT_READ_ONLY_SAFE = 0,
    /// Rely on the leader lease; requires check_quorum. Clock-drift sensitive.
    POLYRAFT_READ_ONLY_LEASE_BASED = 1,
}

/// A node's role (polyraft_soft_state.raft_state).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum polyraft_state_type {
    /// StateFollower.
    POLYRAFT_STATE_FOLLOWER = 0,
    /// StateCandidate.
    POLYRAFT_STATE_CANDIDATE = 1,
    /// StateLeader.
    POLYRAFT_STATE_LEADER = 2,
    /// StatePreCandidate.
    POLYRAFT_STATE_PRE_CANDIDATE = 3,
}

pub(crate) fn state_code(s: polyraft::StateType) -> u32 {
    match s {
        polyraft::StateType::Follower => 0,
        polyraft::StateType::Candidate => 1,
        polyraft::StateType::Leader => 2,
        polyraft::StateType::PreCandidate => 3,
    }
}

/// Term, vote and commit: the state to persist before sending messages.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct polyraft_hard_state {
    /// Current term.
    pub term: u64,
    /// Vote in the current term (0 for none).
    pub vote: u64,
    /// Highest index known committed.
    pub commit: u64,
}

impl From<HardState> for polyraft_hard_state {
    fn from(h: HardState) -> Self {
        polyraft_hard_state { term: h.term, vote: h.vote, commit: h.commit }
    }
}

impl From<polyraft_hard_state> for HardState {
    fn from(h: polyraft_hard_state) -> Self {
        HardState { term: h.term, vote: h.vote, commit: h.commit }
    }
}

/// Leader and role (volatile, need not be persisted).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct polyraft_soft_state {
    /// The known leader, or POLYRAFT_NONE.
    pub lead: u64,
    /// A polyraft_state_type value.
    pub raft_state: u32,
}

impl From<polyraft::SoftState> for polyraft_soft_state {
    fn from(s: polyraft::SoftState) -> Self {
        polyraft_soft_state { lead: s.lead, raft_state: state_code(s.raft_state) }
    }
}

/// One log entry. As an output (a view) every pointer is owned by the
/// library; `encoded` holds the raftpb encoding of the whole entry. As an
/// input, `encoded`/`encoded_len` are ignored and `data` is copied.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_entry {
    /// Log index (> 0).
    pub index: u64,
    /// Term of the entry.
    pub term: u64,
    /// A polyraft_entry_type value.
    pub entry_type: u32,
    /// Payload (NULL when data_len is 0).
    pub data: *const u8,
    /// Payload length.
    pub data_len: usize,
    /// raftpb-encoded Entry (output only; NULL when encoded_len is 0).
    pub encoded: *const u8,
    /// Length of `encoded`.
    pub encoded_len: usize,
    /// Whether the type field is present in the entry's raftpb encoding
    /// although `entry_type` is POLYRAFT_ENTRY_NORMAL. etcd sets it on the
    /// empty entry that replaces a refused configuration change, and its 2
    /// bytes count where byte limits (max_size_per_msg...) cut batches. As
    /// an output it is the entry's; as an input it is kept, so an entry
    /// persisted and read back keeps its size (leave it false otherwise).
    pub type_set: bool,
}

pub(crate) fn entry_type_ok(t: u32) -> Result<i32, Fail> {
    if t > 2 {
        return fail(POLYRAFT_INVALID_ARGUMENT, format!("unknown entry type {t}"));
    }
    Ok(t as i32)
}

/// Copies a C entry into a core entry.
pub(crate) unsafe fn entry_from_c(e: &polyraft_entry) -> Result<Entry, Fail> {
    Ok(Entry {
        index: e.index,
        term: e.term,
        r#type: entry_type_ok(e.entry_type)?,
        data: copy_bytes(e.data, e.data_len, "entry data")?,
        type_set: e.type_set,
    })
}

/// A set of node ids, borrowed (input) or a view (output).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_conf_state {
    /// Voters (the incoming voters while joint).
    pub voters: *const u64,
    /// Number of voters.
    pub voters_len: usize,
    /// Learners.
    pub learners: *const u64,
    /// Number of learners.
    pub learners_len: usize,
    /// Outgoing voters while joint (empty otherwise).
    pub voters_outgoing: *const u64,
    /// Number of outgoing voters.
    pub voters_outgoing_len: usize,
    /// Learners staged to join when the joint configuration is left.
    pub learners_next: *const u64,
    /// Number of staged learners.
    pub learners_next_len: usize,
    /// Whether raft leaves the joint configuration on its own.
    pub auto_leave: bool,
    /// Beyond etcd: the voters (incoming or outgoing) that are witnesses
    /// (docs/witness.md); empty without witnesses. Pass them back when
    /// building a snapshot from a configuration, or a restarted witness
    /// would believe it holds data.
    pub witnesses: *const u64,
    /// Number of witnesses.
    pub witnesses_len: usize,
}

impl Default for polyraft_conf_state {
    fn default() -> Self {
        polyraft_conf_state {
            voters: ptr::null(),
            voters_len: 0,
            learners: ptr::null(),
            learners_len: 0,
            voters_outgoing: ptr::null(),
            voters_outgoing_len: 0,
            learners_next: ptr::null(),
            learners_next_len: 0,
            auto_leave: false,
            witnesses: ptr::null(),
            witnesses_len: 0,
        }
    }
}

pub(crate) unsafe fn conf_state_from_c(c: &polyraft_conf_state) -> Result<ConfState, Fail> {
    Ok(ConfState {
        voters: slice(c.voters, c.voters_len, "voters")?.to_vec(),
        learners: slice(c.learners, c.learners_len, "learners")?.to_vec(),
        voters_outgoing: slice(c.voters_outgoing, c.voters_outgoing_len, "voters_outgoing")?.to_vec(),
        learners_next: slice(c.learners_next, c.learners_next_len, "learners_next")?.to_vec(),
        auto_leave: c.auto_leave,
        witnesses: slice(c.witnesses, c.witnesses_len, "witnesses")?.to_vec(),
    })
}

/// A snapshot. As an output (a view), pointers are owned by the library and
/// `encoded` holds the raftpb encoding of the whole snapshot. As an input,
/// `encoded` is ignored and the other fields are copied.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_snapshot {
    /// Index of the last entry the snapshot covers.
    pub index: u64,
    /// Term of that entry.
    pub term: u64,
    /// The configuration at `index`.
    pub conf_state: polyraft_conf_state,
    /// The application's state machine data (NULL when data_len is 0).
    pub data: *const u8,
    /// Length of `data`.
    pub data_len: usize,
    /// raftpb-encoded Snapshot (output only).
    pub encoded: *const u8,
    /// Length of `encoded`.
    pub encoded_len: usize,
}

pub(crate) unsafe fn snapshot_from_c(s: &polyraft_snapshot) -> Result<Snapshot, Fail> {
    Ok(Snapshot {
        data: copy_bytes(s.data, s.data_len, "snapshot data")?,
        metadata: Some(SnapshotMetadata {
            conf_state: Some(conf_state_from_c(&s.conf_state)?),
            index: s.index,
            term: s.term,
        }),
    })
}

/// A message. As an output (a view in a polyraft_ready) every field is
/// filled and `bytes` is the raftpb encoding to send to node `to`, whose
/// application passes it to polyraft_node_step. As an input
/// (polyraft_message_encode), `bytes` and `responses` are ignored.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_message {
    /// Destination node id (or POLYRAFT_LOCAL_APPEND_THREAD /
    /// POLYRAFT_LOCAL_APPLY_THREAD with async storage writes).
    pub to: u64,
    /// Sender.
    pub from: u64,
    /// A polyraft_message_type value.
    pub msg_type: u32,
    /// Term.
    pub term: u64,
    /// Term of the entry at `index` (appends, votes).
    pub log_term: u64,
    /// Index (appends, votes, responses).
    pub index: u64,
    /// Leader's commit index.
    pub commit: u64,
    /// Vote (MsgStorageAppend carries the HardState as term/vote/commit).
    pub vote: u64,
    /// Rejection flag of responses.
    pub reject: bool,
    /// Rejection hint of MsgAppResp.
    pub reject_hint: u64,
    /// Entries carried (NULL when entries_len is 0).
    pub entries: *const polyraft_entry,
    /// Number of entries.
    pub entries_len: usize,
    /// Snapshot carried, or NULL.
    pub snapshot: *const polyraft_snapshot,
    /// Opaque context (NULL when context_len is 0).
    pub context: *const u8,
    /// Length of `context`.
    pub context_len: usize,
    /// Messages to deliver once this one is handled (MsgStorageAppend,
    /// MsgStorageApply): each to its `to`, which may be this node itself
    /// (step its `bytes` with polyraft_node_step_local) or a peer (send
    /// them; the peer steps them with polyraft_node_step). Output only.
    pub responses: *const polyraft_message,
    /// Number of responses.
    pub responses_len: usize,
    /// The raftpb encoding of the whole message. Output only.
    pub bytes: *const u8,
    /// Length of `bytes`.
    pub bytes_len: usize,
}

pub(crate) unsafe fn message_from_c(m: &polyraft_message) -> Result<Message, Fail> {
    if m.msg_type > 23 {
        return fail(POLYRAFT_INVALID_ARGUMENT, format!("unknown message type {}", m.msg_type));
    }
    let mut ents = Vec::with_capacity(m.entries_len);
    for e in slice(m.entries, m.entries_len, "entries")? {
        ents.push(entry_from_c(e)?);
    }
    let snapshot = if m.snapshot.is_null() { None } else { Some(snapshot_from_c(&*m.snapshot)?) };
    Ok(Message {
        r#type: m.msg_type as i32,
        to: m.to,
        from: m.from,
        term: m.term,
        log_term: m.log_term,
        index: m.index,
        entries: ents,
        commit: m.commit,
        vote: m.vote,
        snapshot: snapshot.map(Box::new),
        reject: m.reject,
        reject_hint: m.reject_hint,
        context: copy_bytes(m.context, m.context_len, "context")?,
        responses: Vec::new(),
        // Not in the C struct (beyond etcd): a vote request built field by
        // field carries no priority; one stepped as bytes keeps it.
        priority: 0,
    })
}

/// A confirmed read: the commit index to wait for before serving the read
/// whose context is `request_ctx`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_read_state {
    /// Commit index at confirmation.
    pub index: u64,
    /// The context given to polyraft_node_read_index (NULL when len is 0).
    pub request_ctx: *const u8,
    /// Length of `request_ctx`.
    pub request_ctx_len: usize,
}

/// A v1 configuration change (raftpb ConfChange).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_conf_change {
    /// A polyraft_conf_change_type value.
    pub change_type: u32,
    /// The node concerned.
    pub node_id: u64,
    /// Application id of the change (raftpb ConfChange.ID), usually 0.
    pub id: u64,
    /// Opaque context (NULL when context_len is 0).
    pub context: *const u8,
    /// Length of `context`.
    pub context_len: usize,
}

/// One change of a ConfChangeV2.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct polyraft_conf_change_single {
    /// A polyraft_conf_change_type value.
    pub change_type: u32,
    /// The node concerned.
    pub node_id: u64,
}

/// A v2 configuration change (raftpb ConfChangeV2): several changes at once,
/// possibly through a joint configuration. No changes with the AUTO
/// transition means "leave the joint configuration".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_conf_change_v2 {
    /// A polyraft_conf_change_transition value.
    pub transition: u32,
    /// The changes (NULL when changes_len is 0).
    pub changes: *const polyraft_conf_change_single,
    /// Number of changes.
    pub changes_len: usize,
    /// Opaque context (NULL when context_len is 0).
    pub context: *const u8,
    /// Length of `context`.
    pub context_len: usize,
}

fn cc_type_ok(t: u32) -> Result<i32, Fail> {
    if t > polyraft_conf_change_type::POLYRAFT_CONF_CHANGE_ADD_WITNESS_NODE as u32 {
        return fail(POLYRAFT_INVALID_ARGUMENT, format!("unknown conf change type {t}"));
    }
    Ok(t as i32)
}

pub(crate) unsafe fn conf_change_from_c(c: &polyraft_conf_change) -> Result<ConfChange, Fail> {
    Ok(ConfChange {
        r#type: cc_type_ok(c.change_type)?,
        node_id: c.node_id,
        id: c.id,
        context: copy_bytes(c.context, c.context_len, "context")?,
    })
}

pub(crate) unsafe fn conf_change_v2_from_c(c: &polyraft_conf_change_v2) -> Result<ConfChangeV2, Fail> {
    if c.transition > 2 {
        return fail(POLYRAFT_INVALID_ARGUMENT, format!("unknown transition {}", c.transition));
    }
    let mut changes = Vec::with_capacity(c.changes_len);
    for s in slice(c.changes, c.changes_len, "changes")? {
        changes.push(ConfChangeSingle { r#type: cc_type_ok(s.change_type)?, node_id: s.node_id });
    }
    Ok(ConfChangeV2 {
        transition: c.transition as i32,
        changes,
        context: copy_bytes(c.context, c.context_len, "context")?,
    })
}

/// A borrowed byte string (for polyraft_node_propose_batch).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_bytes {
    /// The bytes (may be NULL when len is 0).
    pub data: *const u8,
    /// Their length.
    pub len: usize,
}

/// A peer for polyraft_node_bootstrap.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct polyraft_peer {
    /// The peer's id (non-zero).
    pub id: u64,
    /// Context stored in its bootstrap ConfChange (NULL when len is 0).
    pub context: *const u8,
    /// Length of `context`.
    pub context_len: usize,
}

/// Keeps the memory behind views alive: every pointer handed to C points
/// into a boxed allocation owned here, whose address never moves.
#[derive(Default)]
pub(crate) struct Arena {
    bytes: Vec<Bytes>,
    owned: Vec<Box<[u8]>>,
    ids: Vec<Box<[u64]>>,
    entries: Vec<Box<[polyraft_entry]>>,
    messages: Vec<Box<[polyraft_message]>>,
    // Boxed on purpose: C holds pointers to them while the Vec grows.
    #[allow(clippy::vec_box)]
    snapshots: Vec<Box<polyraft_snapshot>>,
    read_states: Vec<Box<[polyraft_read_state]>>,
    text: Vec<Box<[u8]>>,
    /// Encodings of several entries or messages back to back (one
    /// allocation for a whole slice of a Ready). Never touched once
    /// filled, so their heap buffers do not move.
    encodings: Vec<Vec<u8>>,
    entry_lists: Vec<Vec<polyraft_entry>>,
}

/// Walks the top-level fields of a protobuf encoding and calls `f(field
/// number, payload)` for each length-delimited one. The input is an encoding
/// prost just produced, so it is well formed; a malformed one stops the walk.
fn for_each_len_field(mut b: &[u8], mut f: impl FnMut(u64, &[u8])) {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&x, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(x & 0x7f) << (7 * i);
            if x < 0x80 {
                return Some(v);
            }
        }
        None
    }
    while !b.is_empty() {
        let Some(key) = varint(&mut b) else { return };
        let skip = match key & 7 {
            0 => match varint(&mut b) {
                Some(_) => 0,
                None => return,
            },
            1 => 8,
            2 => {
                let Some(n) = varint(&mut b) else { return };
                let Some(n) = usize::try_from(n).ok().filter(|&n| n <= b.len()) else { return };
                f(key >> 3, &b[..n]);
                n
            }
            5 => 4,
            _ => return,
        };
        if skip > b.len() {
            return;
        }
        b = &b[skip..];
    }
}

/// The view of one entry whose raftpb encoding is `enc` (inside a buffer
/// of the arena): `data` points at the data field inside that encoding.
fn entry_view(e: &Entry, enc: &[u8]) -> polyraft_entry {
    let (mut data, mut data_len) = (ptr::null(), 0);
    if !e.data.is_empty() {
        // Entry's field 4 is its data.
        for_each_len_field(enc, |field, payload| {
            if field == 4 {
                (data, data_len) = (payload.as_ptr(), payload.len());
            }
        });
        debug_assert_eq!(data_len, e.data.len());
    }
    polyraft_entry {
        index: e.index,
        term: e.term,
        entry_type: e.r#type as u32,
        data,
        data_len,
        encoded: if enc.is_empty() { ptr::null() } else { enc.as_ptr() },
        encoded_len: enc.len(),
        type_set: e.type_set,
    }
}

impl Arena {
    pub(crate) fn bytes(&mut self, b: &Bytes) -> (*const u8, usize) {
        if b.is_empty() {
            return (ptr::null(), 0);
        }
        let p = b.as_ptr();
        self.bytes.push(b.clone());
        (p, b.len())
    }

    pub(crate) fn owned(&mut self, v: Vec<u8>) -> (*const u8, usize) {
        if v.is_empty() {
            return (ptr::null(), 0);
        }
        let b = v.into_boxed_slice();
        let r = (b.as_ptr(), b.len());
        self.owned.push(b);
        r
    }

    /// NUL-terminated text; returns the pointer and the length without NUL.
    pub(crate) fn text(&mut self, s: &str) -> (*const u8, usize) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        let b = v.into_boxed_slice();
        let r = (b.as_ptr(), s.len());
        self.text.push(b);
        r
    }

    fn ids(&mut self, v: &[u64]) -> (*const u64, usize) {
        if v.is_empty() {
            return (ptr::null(), 0);
        }
        let b: Box<[u64]> = v.into();
        let r = (b.as_ptr(), b.len());
        self.ids.push(b);
        r
    }

    pub(crate) fn conf_state(&mut self, cs: &ConfState) -> polyraft_conf_state {
        let (voters, voters_len) = self.ids(&cs.voters);
        let (learners, learners_len) = self.ids(&cs.learners);
        let (voters_outgoing, voters_outgoing_len) = self.ids(&cs.voters_outgoing);
        let (learners_next, learners_next_len) = self.ids(&cs.learners_next);
        let (witnesses, witnesses_len) = self.ids(&cs.witnesses);
        polyraft_conf_state {
            voters,
            voters_len,
            learners,
            learners_len,
            voters_outgoing,
            voters_outgoing_len,
            learners_next,
            learners_next_len,
            auto_leave: cs.auto_leave,
            witnesses,
            witnesses_len,
        }
    }

    pub(crate) fn entries(&mut self, ents: &[Entry]) -> (*const polyraft_entry, usize) {
        if ents.is_empty() {
            return (ptr::null(), 0);
        }
        // All the encodings in one buffer; each view's `encoded` and `data`
        // point into it.
        let mut buf = Vec::with_capacity(ents.iter().map(|e| e.data.len() + 24).sum());
        let mut ends = Vec::with_capacity(ents.len());
        for e in ents {
            prost::Message::encode_raw(e, &mut buf);
            ends.push(buf.len());
        }
        let mut start = 0;
        let v: Vec<polyraft_entry> = ents
            .iter()
            .zip(&ends)
            .map(|(e, &end)| {
                let view = entry_view(e, &buf[start..end]);
                start = end;
                view
            })
            .collect();
        self.encodings.push(buf);
        let b = v.into_boxed_slice();
        let r = (b.as_ptr(), b.len());
        self.entries.push(b);
        r
    }

    pub(crate) fn snapshot(&mut self, s: &Snapshot) -> *const polyraft_snapshot {
        let conf_state = self.conf_state(&s.conf_state());
        let (data, data_len) = self.bytes(&s.data);
        let (encoded, encoded_len) = self.owned(prost::Message::encode_to_vec(s));
        let b = Box::new(polyraft_snapshot {
            index: s.index(),
            term: s.term(),
            conf_state,
            data,
            data_len,
            encoded,
            encoded_len,
        });
        let p: *const polyraft_snapshot = &*b;
        self.snapshots.push(b);
        p
    }

    pub(crate) fn messages(&mut self, ms: &[Message]) -> (*const polyraft_message, usize) {
        if ms.is_empty() {
            return (ptr::null(), 0);
        }
        // Every message's encoding in one buffer. The entries a message
        // carries are embedded in its encoding exactly as they encode on
        // their own, so their views point there too (no second encoding),
        // all in one list for the whole slice.
        let mut buf = Vec::with_capacity(
            ms.iter().map(|m| 64 + m.context.len() + m.entries.iter().map(|e| e.data.len() + 32).sum::<usize>()).sum(),
        );
        let mut ends = Vec::with_capacity(ms.len());
        for m in ms {
            prost::Message::encode_raw(m, &mut buf);
            ends.push(buf.len());
        }
        let mut ents: Vec<polyraft_entry> = Vec::with_capacity(ms.iter().map(|m| m.entries.len()).sum());
        let mut start = 0;
        for (m, &end) in ms.iter().zip(&ends) {
            if !m.entries.is_empty() {
                let first = ents.len();
                // Message's field 7 holds its entries, in order.
                for_each_len_field(&buf[start..end], |field, payload| {
                    if field == 7 {
                        if let Some(e) = m.entries.get(ents.len() - first) {
                            ents.push(entry_view(e, payload));
                        }
                    }
                });
                assert_eq!(ents.len() - first, m.entries.len(), "entries of an encoded message");
            }
            start = end;
        }
        let mut v = Vec::with_capacity(ms.len());
        let (mut start, mut first) = (0, 0);
        for (m, &end) in ms.iter().zip(&ends) {
            let n = m.entries.len();
            let entries = if n == 0 { ptr::null() } else { ents[first..].as_ptr() };
            first += n;
            let snapshot = m.snapshot.as_ref().map_or(ptr::null(), |s| self.snapshot(s));
            let (context, context_len) = self.bytes(&m.context);
            let (responses, responses_len) = self.messages(&m.responses);
            v.push(polyraft_message {
                to: m.to,
                from: m.from,
                msg_type: m.r#type as u32,
                term: m.term,
                log_term: m.log_term,
                index: m.index,
                commit: m.commit,
                vote: m.vote,
                reject: m.reject,
                reject_hint: m.reject_hint,
                entries,
                entries_len: n,
                snapshot,
                context,
                context_len,
                responses,
                responses_len,
                bytes: if end == start { ptr::null() } else { buf[start..end].as_ptr() },
                bytes_len: end - start,
            });
            start = end;
        }
        self.encodings.push(buf);
        self.entry_lists.push(ents);
        let b = v.into_boxed_slice();
        let r = (b.as_ptr(), b.len());
        self.messages.push(b);
        r
    }

    pub(crate) fn read_states(&mut self, rs: &[polyraft::ReadState]) -> (*const polyraft_read_state, usize) {
        if rs.is_empty() {
            return (ptr::null(), 0);
        }
        let v: Vec<polyraft_read_state> = rs
            .iter()
            .map(|r| {
                let (request_ctx, request_ctx_len) = self.bytes(&r.request_ctx);
                polyraft_read_state { index: r.index, request_ctx, request_ctx_len }
            })
            .collect();
        let b = v.into_boxed_slice();
        let r = (b.as_ptr(), b.len());
        self.read_states.push(b);
        r
    }
}
