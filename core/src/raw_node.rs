//! RawNode: the thread-unsafe node the application drives, and Ready.
//! (API fixed; bodies in progress.)

use bytes::Bytes;

use crate::raft::{Config, StateType};
use crate::raftpb::{ConfState, Entry, HardState, Message, Snapshot};
use crate::read_only::ReadState;
use crate::status::{BasicStatus, Status};
use crate::storage::Storage;
use crate::tracker::Progress;
use crate::Result;

/// Volatile state that need not be persisted: who leads and our role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftState {
    /// Current leader id, or NONE.
    pub lead: u64,
    /// Our role.
    pub raft_state: StateType,
}

/// A peer given to `bootstrap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The peer's id.
    pub id: u64,
    /// Context stored in the bootstrap ConfChange.
    pub context: Bytes,
}

/// Whether a snapshot sent to a follower arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The follower received and applied it.
    Finish,
    /// Sending failed.
    Failure,
}

/// What the node asks the application to do: persist, send, apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ready {
    /// Changed leader or role, if any.
    pub soft_state: Option<SoftState>,
    /// Changed HardState to persist before sending messages, if any.
    pub hard_state: Option<HardState>,
    /// Confirmed ReadIndex requests.
    pub read_states: Vec<ReadState>,
    /// Entries to persist before sending messages.
    pub entries: Vec<Entry>,
    /// Snapshot to persist, if any.
    pub snapshot: Option<Snapshot>,
    /// Entries to apply (already persisted and committed).
    pub committed_entries: Vec<Entry>,
    /// Messages to send after persisting (or, with async storage writes,
    /// local storage messages).
    pub messages: Vec<Message>,
    /// Whether the HardState and entries must be synced to disk.
    pub must_sync: bool,
}

/// Either kind of configuration change.
pub use crate::raftpb::ConfChangeI;

/// The node. Not thread-safe; see the crate docs for the driving loop.
pub struct RawNode<S: Storage> {
    _s: std::marker::PhantomData<S>,
}

#[allow(unused_variables)]
impl<S: Storage> RawNode<S> {
    /// Creates a node from a validated config over `storage`.
    pub fn new(config: &Config, storage: S) -> Result<Self> { todo!() }
    /// Bootstraps a new cluster: appends one ConfChangeAddNode per peer.
    pub fn bootstrap(&mut self, peers: &[Peer]) -> Result<()> { todo!() }
    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) { todo!() }
    /// Starts an election (MsgHup).
    pub fn campaign(&mut self) -> Result<()> { todo!() }
    /// Proposes one entry.
    pub fn propose(&mut self, data: Bytes) -> Result<()> { todo!() }
    /// Proposes many entries in one MsgProp.
    pub fn propose_batch(&mut self, data: &[Bytes]) -> Result<()> { todo!() }
    /// Proposes a configuration change (v1 or v2).
    pub fn propose_conf_change(&mut self, cc: impl Into<ConfChangeI>) -> Result<()> { todo!() }
    /// Applies a committed configuration change; returns the new ConfState.
    pub fn apply_conf_change(&mut self, cc: impl Into<ConfChangeI>) -> Result<ConfState> { todo!() }
    /// Steps a message received from a peer (or a local storage response).
    pub fn step(&mut self, m: Message) -> Result<()> { todo!() }
    /// Whether `ready` would return something to do.
    pub fn has_ready(&self) -> bool { todo!() }
    /// The pending work; must be followed by `advance` (unless async).
    pub fn ready(&mut self) -> Ready { todo!() }
    /// Acknowledges the last Ready as persisted and applied.
    pub fn advance(&mut self) -> Result<()> { todo!() }
    /// Full status including progress.
    pub fn status(&self) -> Status { todo!() }
    /// Status without progress (cheap).
    pub fn basic_status(&self) -> BasicStatus { todo!() }
    /// Visits every tracked peer's progress in ascending id order.
    pub fn with_progress(&self, f: impl FnMut(u64, &Progress)) { todo!() }
    /// Reports a peer unreachable (MsgUnreachable).
    pub fn report_unreachable(&mut self, id: u64) { todo!() }
    /// Reports the outcome of sending a snapshot (MsgSnapStatus).
    pub fn report_snapshot(&mut self, id: u64, status: SnapshotStatus) { todo!() }
    /// Asks to transfer leadership to `transferee`.
    pub fn transfer_leader(&mut self, transferee: u64) { todo!() }
    /// Forgets the current leader (MsgForgetLeader).
    pub fn forget_leader(&mut self) -> Result<()> { todo!() }
    /// Requests a linearizable read; answered by a ReadState in a Ready.
    pub fn read_index(&mut self, rctx: Bytes) -> Result<()> { todo!() }
    /// The underlying state machine (for harnesses and tests).
    pub fn raft(&self) -> &crate::raft::Raft<S> { todo!() }
    /// The underlying state machine, mutable (for harnesses and tests).
    pub fn raft_mut(&mut self) -> &mut crate::raft::Raft<S> { todo!() }
}
