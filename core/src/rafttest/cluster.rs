//! A small in-process cluster of RawNodes over MemoryStorage with a
//! message queue the test controls: the driver behind the membership,
//! paper-property and simulation tests.

use std::sync::Arc;

use bytes::Bytes;

use crate::logger::{Logger, NoopLogger};
use crate::raftpb::{ConfChange, ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType};
use crate::{Config, MemoryStorage, RawNode, Result, StateType};

/// One member: the node, its storage, and what it applied.
pub struct Member {
    /// The node.
    pub raw: RawNode<MemoryStorage>,
    /// Its persisted state (shared with the node).
    pub storage: MemoryStorage,
    /// Every entry the application applied, in order.
    pub applied: Vec<Entry>,
    /// The last ConfState returned by `apply_conf_change`.
    pub conf_state: ConfState,
}

/// Nodes by id (index `id - 1`; removed or crashed members are `None`) and
/// the messages in flight.
pub struct Cluster {
    /// The members.
    pub members: Vec<Option<Member>>,
    /// Sent, undelivered messages in send order.
    pub queue: Vec<Message>,
    /// The config template every member is created from (id overwritten).
    pub template: Config,
}

/// The default template: election 10, heartbeat 1, silent logs.
pub fn test_config() -> Config {
    Config { logger: Some(Arc::new(NoopLogger) as Arc<dyn Logger>), ..Config::default() }
}

impl Cluster {
    /// `n` voters 1..=n with a shared initial configuration.
    pub fn new(n: u64, template: Config) -> Result<Self> {
        let voters: Vec<u64> = (1..=n).collect();
        let mut c = Cluster { members: Vec::new(), queue: Vec::new(), template };
        for id in 1..=n {
            c.start(id, ConfState { voters: voters.clone(), ..Default::default() })?;
        }
        Ok(c)
    }

    /// Starts node `id` on fresh storage holding configuration `cs`.
    pub fn start(&mut self, id: u64, cs: ConfState) -> Result<()> {
        let storage = MemoryStorage::new_with_conf_state(cs.clone());
        let cfg = Config { id, ..self.template.clone() };
        let raw = RawNode::new(&cfg, storage.clone())?;
        let idx = (id - 1) as usize;
        if self.members.len() <= idx {
            self.members.resize_with(idx + 1, || None);
        }
        self.members[idx] = Some(Member { raw, storage, applied: Vec::new(), conf_state: cs });
        Ok(())
    }

    /// The member `id`. Panics (test code) when absent.
    pub fn node(&mut self, id: u64) -> &mut Member {
        self.members[(id - 1) as usize].as_mut().expect("member exists")
    }

    /// Runs one Ready cycle on `id` if it has one: persist, apply (conf
    /// changes included), queue messages, advance. Returns whether it did.
    pub fn process_ready(&mut self, id: u64) -> Result<bool> {
        let Some(m) = self.members.get_mut((id - 1) as usize).and_then(|m| m.as_mut()) else { return Ok(false) };
        if !m.raw.has_ready() {
            return Ok(false);
        }
        let rd = m.raw.ready();
        if let Some(snap) = rd.snapshot.clone() {
            m.storage.apply_snapshot(snap)?;
        }
        m.storage.append(&rd.entries)?;
        if let Some(hs) = rd.hard_state {
            m.storage.set_hard_state(hs);
        }
        for e in &rd.committed_entries {
            if let Some(cc) = conf_change_of(e)? {
                m.conf_state = m.raw.apply_conf_change(cc)?;
            }
            m.applied.push(e.clone());
        }
        self.queue.extend(rd.messages);
        m.raw.advance()?;
        Ok(true)
    }

    /// Delivers every queued message accepted by `keep` (others are
    /// dropped); returns how many were delivered.
    pub fn deliver(&mut self, mut keep: impl FnMut(&Message) -> bool) -> usize {
        let msgs = std::mem::take(&mut self.queue);
        let mut n = 0;
        for msg in msgs {
            if !keep(&msg) {
                continue;
            }
            if let Some(Some(m)) = self.members.get_mut((msg.to as usize).wrapping_sub(1)) {
                let _ = m.raw.step(msg);
                n += 1;
            }
        }
        n
    }

    /// Processes Readies and delivers messages (filtered by `keep`) until
    /// nothing moves.
    pub fn stabilize_with(&mut self, mut keep: impl FnMut(&Message) -> bool) -> Result<()> {
        loop {
            let mut moved = false;
            for id in 1..=self.members.len() as u64 {
                moved |= self.process_ready(id)?;
            }
            moved |= self.deliver(&mut keep) > 0;
            if !moved {
                return Ok(());
            }
        }
    }

    /// Stabilizes delivering everything.
    pub fn stabilize(&mut self) -> Result<()> {
        self.stabilize_with(|_| true)
    }

    /// Campaigns `id` and stabilizes; returns whether it became leader.
    pub fn elect(&mut self, id: u64) -> Result<bool> {
        self.node(id).raw.campaign()?;
        self.stabilize()?;
        Ok(self.node(id).raw.basic_status().soft_state.raft_state == StateType::Leader)
    }

    /// Proposes `data` on `id`.
    pub fn propose(&mut self, id: u64, data: &'static [u8]) -> Result<()> {
        self.node(id).raw.propose(Bytes::from_static(data))
    }

    /// Ids of members currently leading.
    pub fn leaders(&self) -> Vec<u64> {
        self.members
            .iter()
            .flatten()
            .filter(|m| m.raw.basic_status().soft_state.raft_state == StateType::Leader)
            .map(|m| m.raw.basic_status().id)
            .collect()
    }
}

/// A message of type `t` from `from` to `to` (test helper).
pub fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message { r#type: t as i32, from, to, term, ..Default::default() }
}

/// The conf change in a committed entry, if it holds one (helper for
/// applications; both encodings become a ConfChangeV2).
pub fn conf_change_of(e: &Entry) -> Result<Option<ConfChangeV2>> {
    Ok(match e.r#type() {
        EntryType::EntryConfChange => {
            Some(crate::raftpb::ConfChangeI::V1(crate::raftpb::decode::<ConfChange>(&e.data)?).as_v2())
        }
        EntryType::EntryConfChangeV2 => Some(crate::raftpb::decode::<ConfChangeV2>(&e.data)?),
        EntryType::EntryNormal => None,
    })
}

/// Runs Ready cycles on a lone node (persisting into `s`, applying
/// nothing) until it has no more work or 16 cycles passed.
pub fn drain(rn: &mut RawNode<MemoryStorage>, s: &MemoryStorage) {
    for _ in 0..16 {
        if !rn.has_ready() {
            return;
        }
        let rd = rn.ready();
        if let Some(snap) = rd.snapshot.clone() {
            let _ = s.apply_snapshot(snap);
        }
        let _ = s.append(&rd.entries);
        if let Some(hs) = rd.hard_state {
            s.set_hard_state(hs);
        }
        if rn.advance().is_err() {
            return;
        }
    }
}

/// Node 1 of voters {1,2,3} (learner 4) brought into a role: 0 follower of
/// 2, 1 pre-candidate, 2 candidate, anything else leader. For robustness
/// tests and fuzzing that step arbitrary messages into every role.
pub fn node_in_role(role: u8) -> Result<(RawNode<MemoryStorage>, MemoryStorage)> {
    let s = MemoryStorage::new_with_conf_state(ConfState { voters: vec![1, 2, 3], learners: vec![4], ..Default::default() });
    let cfg = Config { id: 1, pre_vote: role == 1, check_quorum: true, ..test_config() };
    let mut rn = RawNode::new(&cfg, s.clone())?;
    match role {
        0 => rn.step(msg(MessageType::MsgHeartbeat, 2, 1, 1))?,
        1 | 2 => rn.campaign()?,
        _ => {
            rn.campaign()?;
            drain(&mut rn, &s);
            rn.step(msg(MessageType::MsgVoteResp, 2, 1, 1))?;
        }
    }
    drain(&mut rn, &s);
    Ok((rn, s))
}
