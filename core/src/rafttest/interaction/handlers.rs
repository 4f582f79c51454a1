//! The script commands. Each mirrors the etcd rafttest handler of the same
//! name, including what it prints.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::output::{OutputLogger, LEVEL_NAMES};
use super::{CmdResult, EnvStorage, InteractionEnv, Node};
use crate::describe::{describe_entries, describe_message, describe_ready};
use crate::raftpb::{
    conf_changes_from_string, decode, is_empty_hard_state, is_empty_snap, is_local_msg_target, ConfChange,
    ConfChangeI, ConfChangeTransition, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message, MessageType,
    Snapshot, SnapshotMetadata,
};
use crate::rafttest::datadriven::CmdArg;
use crate::storage::{MemoryStorage, Storage};
use crate::tracker::{describe_progress_map, ProgressMap};
use crate::{Config, RawNode, ReadOnlyOption};

fn parse<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("cannot parse {key}={v}"))
}

fn first_as_int(args: &[CmdArg]) -> Result<usize, String> {
    let a = args.first().ok_or("missing node argument")?;
    parse("node", &a.key)
}

fn first_as_node_idx(args: &[CmdArg]) -> Result<usize, String> {
    first_as_int(args)?.checked_sub(1).ok_or_else(|| "node ids start at 1".to_string())
}

/// Positional (value-less) arguments as node indexes.
fn node_idxs(args: &[CmdArg]) -> Result<Vec<usize>, String> {
    args.iter()
        .filter(|a| a.vals.is_empty())
        .map(|a| parse::<usize>("node", &a.key)?.checked_sub(1).ok_or_else(|| "node ids start at 1".to_string()))
        .collect()
}

/// Whether a message must not be dropped: to or from the node itself or a
/// local storage thread (those are reliable).
fn is_local(m: &Message) -> bool {
    m.from == m.to || is_local_msg_target(m.from) || is_local_msg_target(m.to)
}

/// Splits `msgs` into those for `to` (of type `typ`, all when `None`) and the
/// rest, keeping order. When dropping, local messages are never taken.
fn split_msgs(msgs: Vec<Message>, to: u64, typ: Option<i32>, drop: bool) -> (Vec<Message>, Vec<Message>) {
    msgs.into_iter()
        .partition(|m| m.to == to && !(drop && is_local(m)) && typ.is_none_or(|t| m.r#type == t))
}

impl InteractionEnv {
    fn node(&mut self, idx: usize) -> Result<&mut Node, String> {
        self.nodes.get_mut(idx).ok_or_else(|| format!("node {} does not exist", idx + 1))
    }

    pub(super) fn handle_add_nodes(&mut self, args: &[CmdArg]) -> CmdResult {
        let n = first_as_int(args)?;
        let mut cs = ConfState::default();
        let mut meta = SnapshotMetadata::default();
        let mut data = Bytes::new();
        let mut cfg = Config {
            election_tick: 3,
            heartbeat_tick: 1,
            max_size_per_msg: u64::MAX,
            max_inflight_msgs: i32::MAX as usize,
            ..Config::default()
        };
        let mut priorities: Vec<i64> = Vec::new();
        for a in &args[1..] {
            for v in &a.vals {
                match a.key.as_str() {
                    "voters" => cs.voters.push(parse(&a.key, v)?),
                    "learners" => cs.learners.push(parse(&a.key, v)?),
                    // Beyond etcd: voters that are witnesses (docs/witness.md).
                    "witnesses" => cs.witnesses.push(parse(&a.key, v)?),
                    "inflight" => cfg.max_inflight_msgs = parse(&a.key, v)?,
                    "index" => {
                        meta.index = parse(&a.key, v)?;
                        cfg.applied = meta.index;
                    }
                    "content" => data = Bytes::from(v.clone()),
                    "async-storage-writes" => cfg.async_storage_writes = parse(&a.key, v)?,
                    "prevote" => cfg.pre_vote = parse(&a.key, v)?,
                    "checkquorum" => cfg.check_quorum = parse(&a.key, v)?,
                    "max-committed-size-per-ready" => cfg.max_committed_size_per_ready = parse(&a.key, v)?,
                    "disable-conf-change-validation" => cfg.disable_conf_change_validation = parse(&a.key, v)?,
                    "step-down-on-removal" => cfg.step_down_on_removal = parse(&a.key, v)?,
                    // Beyond etcd (polyraft's own scripts): one priority for
                    // every added node, or one per node, `priority=(3,2,1)`.
                    "priority" => priorities.push(parse(&a.key, v)?),
                    "batch-append" => cfg.batch_append = parse(&a.key, v)?,
                    "max-size-per-msg" => cfg.max_size_per_msg = parse(&a.key, v)?,
                    "read-only" => {
                        cfg.read_only_option = match v.as_str() {
                            "safe" => ReadOnlyOption::Safe,
                            "lease-based" => ReadOnlyOption::LeaseBased,
                            _ => return Err(format!("invalid read-only option {v:?}")),
                        }
                    }
                    _ => {}
                }
            }
        }
        let bootstrap = cs != ConfState::default() || meta.index != 0 || !data.is_empty();
        if bootstrap {
            meta.term = 1;
        }
        meta.conf_state = Some(cs);
        let snap = Snapshot { data, metadata: Some(meta) };
        if priorities.len() > 1 && priorities.len() != n {
            return Err(format!("{} priorities for {n} nodes", priorities.len()));
        }
        for i in 0..n {
            let id = self.nodes.len() as u64 + 1;
            let storage = EnvStorage { mem: MemoryStorage::new(), history: Arc::new(Mutex::new(vec![snap.clone()])) };
            if bootstrap {
                if snap.index() <= 1 {
                    return Err("index must be specified as > 1 due to bootstrap".to_string());
                }
                storage.mem.apply_snapshot(snap.clone()).map_err(|e| e.to_string())?;
                let fi = storage.mem.first_index().map_err(|e| e.to_string())?;
                if fi != snap.index() + 1 {
                    return Err(format!("failed to establish first index {}; got {fi}", snap.index() + 1));
                }
            }
            let mut cfg = cfg.clone();
            cfg.id = id;
            cfg.priority = priorities.get(i).or(priorities.first()).copied().unwrap_or(0);
            cfg.logger = Some(Arc::new(OutputLogger(self.output.clone())));
            let raw = RawNode::new(&cfg, storage.clone()).map_err(|e| e.to_string())?;
            self.nodes.push(Node { raw, storage, config: cfg, append_work: Vec::new(), apply_work: Vec::new() });
        }
        Ok(())
    }

    pub(super) fn handle_campaign(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        self.node(idx)?.raw.campaign().map_err(|e| e.to_string())
    }

    pub(super) fn handle_compact(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        let new_first: u64 = parse("index", &args.get(1).ok_or("missing index")?.key)?;
        self.node(idx)?.storage.mem.compact(new_first).map_err(|e| e.to_string())?;
        self.raft_log(idx)
    }

    pub(super) fn handle_raft_log(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        self.raft_log(idx)
    }

    fn raft_log(&mut self, idx: usize) -> CmdResult {
        let s = &self.node(idx)?.storage.mem;
        let fi = s.first_index().map_err(|e| e.to_string())?;
        let li = s.last_index().map_err(|e| e.to_string())?;
        if li < fi {
            self.write(&format!("log is empty: first index={fi}, last index={li}"));
            return Ok(());
        }
        let ents = s.entries(fi, li + 1, u64::MAX).map_err(|e| e.to_string())?;
        self.write(&describe_entries(&ents, None));
        Ok(())
    }

    pub(super) fn handle_deliver_msgs(&mut self, args: &[CmdArg]) -> CmdResult {
        let mut typ = None;
        let mut rs: Vec<(u64, bool)> = Vec::new();
        for a in args {
            if a.vals.is_empty() {
                rs.push((parse("id", &a.key)?, false));
            }
            for v in &a.vals {
                match a.key.as_str() {
                    "drop" => {
                        let id: u64 = parse(&a.key, v)?;
                        if rs.iter().any(|r| r.0 == id) {
                            return Err(format!("can't both deliver and drop msgs to {id}"));
                        }
                        rs.push((id, true));
                    }
                    "type" => {
                        let t = MessageType::from_str_name(v).ok_or_else(|| format!("unknown message type {v}"))?;
                        typ = Some(t as i32);
                    }
                    _ => {}
                }
            }
        }
        if self.deliver_msgs(typ, &rs) == 0 {
            self.write("no messages\n");
        }
        Ok(())
    }

    /// Delivers (or drops) the queued messages for each recipient; returns
    /// how many were handled.
    pub(super) fn deliver_msgs(&mut self, typ: Option<i32>, rs: &[(u64, bool)]) -> usize {
        let mut n = 0;
        for &(id, drop) in rs {
            let (msgs, rest) = split_msgs(std::mem::take(&mut self.messages), id, typ, drop);
            self.messages = rest;
            n += msgs.len();
            for m in msgs {
                if drop {
                    self.write("dropped: ");
                }
                self.write(&format!("{}\n", describe_message(&m, None)));
                if drop {
                    continue;
                }
                let to = m.to as usize;
                let res = match to.checked_sub(1).and_then(|i| self.nodes.get_mut(i)) {
                    Some(node) => node.raw.step_as_etcd_harness(m).map_err(|e| e.to_string()),
                    None => Err(format!("node {to} does not exist")),
                };
                if let Err(e) = res {
                    self.write(&format!("{e}\n"));
                }
            }
        }
        n
    }

    pub(super) fn handle_process_ready(&mut self, args: &[CmdArg]) -> CmdResult {
        let idxs = node_idxs(args)?;
        for &idx in &idxs {
            if idxs.len() > 1 {
                self.write(&format!("> {} handling Ready\n", idx + 1));
                self.with_indent(|env| env.process_ready(idx))?;
            } else {
                self.process_ready(idx)?;
            }
        }
        Ok(())
    }

    /// Takes a Ready from the node, prints it, persists and applies it
    /// (unless storage writes are asynchronous), queues its messages, and
    /// advances.
    pub(super) fn process_ready(&mut self, idx: usize) -> CmdResult {
        let node = self.node(idx)?;
        let rd = node.raw.ready();
        let text = describe_ready(&rd, None);
        self.write(&text);
        let node = &mut self.nodes[idx];
        let is_async = node.config.async_storage_writes;
        if !is_async {
            process_append(node, rd.hard_state.unwrap_or_default(), &rd.entries, rd.snapshot.clone().unwrap_or_default())?;
            process_apply(node, &rd.committed_entries)?;
        }
        for m in rd.messages {
            if is_local_msg_target(m.to) {
                if !is_async {
                    return Err("unexpected local msg target".to_string());
                }
                match m.r#type() {
                    MessageType::MsgStorageAppend => node.append_work.push(m),
                    MessageType::MsgStorageApply => node.apply_work.push(m),
                    t => return Err(format!("unexpected message type {}", t.as_str_name())),
                }
            } else {
                self.messages.push(m);
            }
        }
        let node = &mut self.nodes[idx];
        if !is_async {
            node.raw.advance().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub(super) fn handle_process_append_thread(&mut self, args: &[CmdArg]) -> CmdResult {
        let idxs = node_idxs(args)?;
        for &idx in &idxs {
            if idxs.len() > 1 {
                self.write(&format!("> {} processing append thread\n", idx + 1));
                self.with_indent(|env| env.process_append_thread(idx))?;
            } else {
                self.process_append_thread(idx)?;
            }
        }
        Ok(())
    }

    /// Persists the oldest MsgStorageAppend and queues its responses.
    pub(super) fn process_append_thread(&mut self, idx: usize) -> CmdResult {
        let node = self.node(idx)?;
        if node.append_work.is_empty() {
            self.write("no append work to perform");
            return Ok(());
        }
        let mut m = node.append_work.remove(0);
        let resps = std::mem::take(&mut m.responses);
        let st = HardState { term: m.term, vote: m.vote, commit: m.commit };
        let snap = m.snapshot.as_deref().cloned().unwrap_or_default();
        let text = format!("Processing:\n{}\n", describe_message(&m, None));
        self.write(&text);
        process_append(&self.nodes[idx], st, &m.entries, snap)?;
        self.write("Responses:\n");
        for r in &resps {
            self.write(&format!("{}\n", describe_message(r, None)));
        }
        self.messages.extend(resps);
        Ok(())
    }

    pub(super) fn handle_process_apply_thread(&mut self, args: &[CmdArg]) -> CmdResult {
        let idxs = node_idxs(args)?;
        for &idx in &idxs {
            if idxs.len() > 1 {
                self.write(&format!("> {} processing apply thread\n", idx + 1));
                self.with_indent(|env| env.process_apply_thread(idx))?;
            } else {
                self.process_apply_thread(idx)?;
            }
        }
        Ok(())
    }

    /// Applies the oldest MsgStorageApply and queues its responses.
    pub(super) fn process_apply_thread(&mut self, idx: usize) -> CmdResult {
        let node = self.node(idx)?;
        if node.apply_work.is_empty() {
            self.write("no apply work to perform");
            return Ok(());
        }
        let mut m = node.apply_work.remove(0);
        let resps = std::mem::take(&mut m.responses);
        let text = format!("Processing:\n{}\n", describe_message(&m, None));
        self.write(&text);
        process_apply(&mut self.nodes[idx], &m.entries)?;
        self.write("Responses:\n");
        for r in &resps {
            self.write(&format!("{}\n", describe_message(r, None)));
        }
        self.messages.extend(resps);
        Ok(())
    }

    pub(super) fn handle_log_level(&mut self, args: &[CmdArg]) -> CmdResult {
        let name = &args.first().ok_or("missing level")?.key;
        self.set_log_level(name)
    }

    fn set_log_level(&mut self, name: &str) -> CmdResult {
        let i = LEVEL_NAMES
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("log levels must be either of [{}]", LEVEL_NAMES.join(" ")))?;
        self.output.lock().lvl = i;
        Ok(())
    }

    pub(super) fn handle_raft_state(&mut self) -> CmdResult {
        let mut s = String::new();
        for n in &self.nodes {
            let st = n.raw.status();
            let id = st.basic.id;
            let voter = if st.config.witnesses.contains(&id) {
                // Beyond etcd: a voter without data (docs/witness.md).
                "(Witness)"
            } else if st.config.voters.ids().contains(&id) {
                "(Voter)"
            } else {
                "(Non-Voter)"
            };
            s.push_str(&format!(
                "{}: {} {} Term:{} Lead:{}\n",
                id, st.basic.soft_state.raft_state, voter, st.basic.hard_state.term, st.basic.soft_state.lead
            ));
        }
        self.write(&s);
        Ok(())
    }

    pub(super) fn handle_set_randomized_election_timeout(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        let timeout = args
            .iter()
            .find(|a| a.key == "timeout")
            .and_then(|a| a.vals.first())
            .ok_or("missing timeout=")?;
        let timeout: usize = parse("timeout", timeout)?;
        self.node(idx)?.raw.raft_mut().set_randomized_election_timeout(timeout);
        Ok(())
    }

    pub(super) fn handle_stabilize(&mut self, args: &[CmdArg]) -> CmdResult {
        let idxs = node_idxs(args)?;
        let mut restore = None;
        for a in args {
            if a.key == "log-level" {
                if let Some(v) = a.vals.first() {
                    restore.get_or_insert(self.output.lock().lvl);
                    self.set_log_level(v)?;
                }
            }
        }
        let res = self.stabilize(&idxs);
        if let Some(lvl) = restore {
            self.output.lock().lvl = lvl;
        }
        res
    }

    /// Processes Readies, delivers messages and runs storage threads until
    /// nothing changes.
    pub(super) fn stabilize(&mut self, idxs: &[usize]) -> CmdResult {
        let idxs: Vec<usize> = if idxs.is_empty() { (0..self.nodes.len()).collect() } else { idxs.to_vec() };
        loop {
            let mut done = true;
            for &idx in &idxs {
                if self.node(idx)?.raw.has_ready() {
                    self.write(&format!("> {} handling Ready\n", idx + 1));
                    self.with_indent(|env| env.process_ready(idx))?;
                    done = false;
                }
            }
            for &idx in &idxs {
                let id = idx as u64 + 1;
                if self.messages.iter().any(|m| m.to == id) {
                    self.write(&format!("> {id} receiving messages\n"));
                    self.with_indent(|env| env.deliver_msgs(None, &[(id, false)]));
                    done = false;
                }
            }
            for &idx in &idxs {
                if !self.nodes[idx].append_work.is_empty() {
                    self.write(&format!("> {} processing append thread\n", idx + 1));
                    while !self.nodes[idx].append_work.is_empty() {
                        self.with_indent(|env| env.process_append_thread(idx))?;
                    }
                    done = false;
                }
            }
            for &idx in &idxs {
                if !self.nodes[idx].apply_work.is_empty() {
                    self.write(&format!("> {} processing apply thread\n", idx + 1));
                    while !self.nodes[idx].apply_work.is_empty() {
                        self.with_indent(|env| env.process_apply_thread(idx))?;
                    }
                    done = false;
                }
            }
            if done {
                return Ok(());
            }
        }
    }

    pub(super) fn handle_status(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        let st = self.node(idx)?.raw.status();
        let prs: ProgressMap = st.progress.into_iter().collect();
        self.write(&describe_progress_map(&prs));
        Ok(())
    }

    pub(super) fn handle_tick(&mut self, args: &[CmdArg], election: bool) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        let node = self.node(idx)?;
        let n = if election { node.config.election_tick } else { node.config.heartbeat_tick };
        for _ in 0..n {
            node.raw.tick();
        }
        Ok(())
    }

    pub(super) fn handle_transfer_leadership(&mut self, args: &[CmdArg]) -> CmdResult {
        let get = |k: &str| -> Result<u64, String> {
            let v = args.iter().find(|a| a.key == k).and_then(|a| a.vals.first()).ok_or(format!("missing {k}="))?;
            parse(k, v)
        };
        let (from, to) = (get("from")?, get("to")?);
        let idx = (from as usize).checked_sub(1).ok_or("node ids start at 1")?;
        self.node(idx)?.raw.transfer_leader(to);
        Ok(())
    }

    pub(super) fn handle_forget_leader(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        self.node(idx)?.raw.forget_leader().map_err(|e| e.to_string())
    }

    pub(super) fn handle_send_snapshot(&mut self, args: &[CmdArg]) -> CmdResult {
        let idxs = node_idxs(args)?;
        let [from_idx, to_idx] = idxs[..] else { return Err("send-snapshot takes two nodes".to_string()) };
        let node = self.node(from_idx)?;
        let snap = node.storage.snapshot().map_err(|e| e.to_string())?;
        let term = node.raw.basic_status().hard_state.term;
        let m = Message {
            r#type: MessageType::MsgSnap as i32,
            term,
            from: from_idx as u64 + 1,
            to: to_idx as u64 + 1,
            snapshot: Some(Box::new(snap)),
            ..Default::default()
        };
        self.write(&describe_message(&m, None));
        self.messages.push(m);
        Ok(())
    }

    pub(super) fn handle_propose(&mut self, args: &[CmdArg]) -> CmdResult {
        let idx = first_as_node_idx(args)?;
        let data = args.get(1).ok_or("missing proposal data")?.key.clone();
        self.node(idx)?.raw.propose(Bytes::from(data)).map_err(|e| e.to_string())
    }

    pub(super) fn handle_report_unreachable(&mut self, args: &[CmdArg]) -> CmdResult {
        let idxs = node_idxs(args)?;
        let [idx, other] = idxs[..] else { return Err("report-unreachable takes two nodes".to_string()) };
        self.node(idx)?.raw.report_unreachable(other as u64 + 1);
        Ok(())
    }

    pub(super) fn handle_propose_conf_change(&mut self, tc: &crate::rafttest::datadriven::TestCase) -> CmdResult {
        let idx = first_as_node_idx(&tc.args)?;
        let mut v1 = false;
        let mut transition = ConfChangeTransition::Auto;
        for a in &tc.args[1..] {
            for v in &a.vals {
                match a.key.as_str() {
                    "v1" => v1 = parse(&a.key, v)?,
                    "transition" => {
                        transition = match v.as_str() {
                            "auto" => ConfChangeTransition::Auto,
                            "implicit" => ConfChangeTransition::JointImplicit,
                            "explicit" => ConfChangeTransition::JointExplicit,
                            _ => return Err(format!("unknown transition {v}")),
                        }
                    }
                    k => return Err(format!("unknown command {k}")),
                }
            }
        }
        let ccs = conf_changes_from_string(&tc.input).map_err(|e| e.to_string())?;
        let cc: ConfChangeI = if v1 {
            if ccs.len() > 1 || transition != ConfChangeTransition::Auto {
                return Err("v1 conf change can only have one operation and no transition".to_string());
            }
            let first = ccs.first().cloned().unwrap_or_default();
            ConfChangeI::V1(ConfChange { r#type: first.r#type, node_id: first.node_id, ..Default::default() })
        } else {
            ConfChangeI::V2(ConfChangeV2 { transition: transition as i32, changes: ccs, ..Default::default() })
        };
        self.node(idx)?.raw.propose_conf_change(cc).map_err(|e| e.to_string())
    }
}

/// Persists a HardState, entries or a snapshot into the node's storage.
fn process_append(n: &Node, st: HardState, ents: &[Entry], snap: Snapshot) -> CmdResult {
    let s = &n.storage.mem;
    if !is_empty_hard_state(&st) {
        s.set_hard_state(st);
    }
    if !is_empty_snap(&snap) {
        if !ents.is_empty() {
            return Err("can't apply snapshot and entries at the same time".to_string());
        }
        return s.apply_snapshot(snap).map_err(|e| e.to_string());
    }
    s.append(ents).map_err(|e| e.to_string())
}

/// Applies committed entries: conf changes go to the node; every entry
/// extends the node's "appender" state machine, recorded as a snapshot.
fn process_apply(n: &mut Node, ents: &[Entry]) -> CmdResult {
    for e in ents {
        let (update, cs) = match e.r#type() {
            EntryType::EntryConfChange => {
                let cc: ConfChange = decode(&e.data).map_err(|e| e.to_string())?;
                let ctx = cc.context.clone();
                (ctx, Some(n.raw.apply_conf_change(cc).map_err(|e| e.to_string())?))
            }
            EntryType::EntryConfChangeV2 => {
                let cc: ConfChangeV2 = decode(&e.data).map_err(|e| e.to_string())?;
                let ctx = cc.context.clone();
                (ctx, Some(n.raw.apply_conf_change(cc).map_err(|e| e.to_string())?))
            }
            EntryType::EntryNormal => (e.data.clone(), None),
        };
        let mut hist = n.storage.history.lock();
        let last = hist.last().cloned().unwrap_or_default();
        let mut data = last.data.to_vec();
        data.extend_from_slice(&update);
        let cs = cs.unwrap_or_else(|| last.conf_state());
        hist.push(Snapshot {
            data: Bytes::from(data),
            metadata: Some(SnapshotMetadata { conf_state: Some(cs), index: e.index, term: e.term }),
        });
    }
    Ok(())
}
