//! The simulator's replicated state machine: a key-value register store
//! whose commands are puts and compare-and-sets of `u64` values, built to
//! be checked.
//!
//! Besides the values it keeps, as replicated state (so that it travels in
//! snapshots), the ids of every write applied to each key (the durability
//! check looks acknowledged writes up there), the set of applied operation
//! ids (an id applied twice means a session applied a command twice) and
//! a running digest of everything applied (replicas at the same applied
//! index must have the same digest). Each apply reports the digest and any
//! double application to the shared [`Observer`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use polyraft::raftpb::Entry;
use polyraft_host::{StateMachine, StateMachineFactory};

/// A client's command. Values are the ids of the operations that wrote
/// them (unique and never 0; 0 means "absent").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Sets `key` to `op` (the operation's id is the value).
    Put {
        /// The operation id (and the value written).
        op: u64,
        /// The key.
        key: u64,
    },
    /// Sets `key` to `op` if it holds `expect`; the result says whether.
    Cas {
        /// The operation id (and the value written on success).
        op: u64,
        /// The key.
        key: u64,
        /// The value the key must hold.
        expect: u64,
    },
}

impl Command {
    /// The command's bytes (what the client proposes).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, op, key, expect) = match *self {
            Command::Put { op, key } => (1u8, op, key, 0),
            Command::Cas { op, key, expect } => (2u8, op, key, expect),
        };
        let mut out = Vec::with_capacity(25);
        out.push(kind);
        for w in [op, key, expect] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Decodes [`Command::encode`]'s bytes; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Command> {
        if b.len() != 25 {
            return None;
        }
        let w = |i: usize| u64::from_le_bytes(b[1 + 8 * i..9 + 8 * i].try_into().unwrap());
        match b[0] {
            1 => Some(Command::Put { op: w(0), key: w(1) }),
            2 => Some(Command::Cas { op: w(0), key: w(1), expect: w(2) }),
            _ => None,
        }
    }

    /// The operation id.
    pub fn op(&self) -> u64 {
        match *self {
            Command::Put { op, .. } | Command::Cas { op, .. } => op,
        }
    }
}

/// The query bytes of a read of `key`.
pub fn query(key: u64) -> Vec<u8> {
    key.to_le_bytes().to_vec()
}

/// Decodes a `u64` result (a read's value, a put's or cas's outcome).
pub fn decode_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// What every replica's state machine reports, shared by the simulator.
#[derive(Default)]
pub struct Observations {
    /// (group, index of the last entry applied) -> digest of the state.
    digests: HashMap<(u64, u64), u64>,
    /// Safety violations seen while applying.
    pub violations: Vec<String>,
    /// Entries applied by all state machines.
    pub applied: u64,
}

/// The shared sink of [`Observations`].
pub type Observer = Arc<Mutex<Observations>>;

impl Observations {
    fn digest(&mut self, group: u64, replica: u64, index: u64, digest: u64) {
        self.applied += 1;
        match self.digests.insert((group, index), digest) {
            Some(d) if d != digest => self.violations.push(format!(
                "replicas diverge: group {group} replica {replica} has digest {digest:#x} at applied index {index}, another replica had {d:#x}"
            )),
            _ => {}
        }
    }
}

/// The state of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The current value (0: absent).
    pub value: u64,
    /// Ids of the writes applied to the key, in order.
    pub writes: Vec<u64>,
}

/// The KV state machine of one replica.
pub struct KvMachine {
    group: u64,
    replica: u64,
    observer: Observer,
    /// Keys and their history.
    pub keys: BTreeMap<u64, KeyState>,
    applied_ops: BTreeSet<u64>,
    digest: u64,
}

/// A factory of [`KvMachine`]s reporting to `observer`.
pub fn factory(observer: Observer) -> StateMachineFactory {
    Box::new(move |group, replica| {
        Box::new(KvMachine { group, replica, observer, keys: BTreeMap::new(), applied_ops: BTreeSet::new(), digest: 0 })
    })
}

/// One step of a 64-bit hash chain (splitmix64 finaliser over the words).
pub fn chain(mut h: u64, words: &[u64]) -> u64 {
    for w in words {
        h = (h ^ w).wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
    }
    h
}

impl KvMachine {
    fn apply_one(&mut self, e: &Entry) -> Bytes {
        let Some(cmd) = Command::decode(&e.data) else {
            self.digest = chain(self.digest, &[e.index, 0]);
            return Bytes::new();
        };
        let op = cmd.op();
        if !self.applied_ops.insert(op) {
            self.observer.lock().violations.push(format!(
                "operation {op} applied twice: group {} replica {} at index {} (a session applied a command twice)",
                self.group, self.replica, e.index
            ));
        }
        let out = match cmd {
            Command::Put { op, key } => {
                let k = self.keys.entry(key).or_default();
                k.value = op;
                k.writes.push(op);
                1
            }
            Command::Cas { op, key, expect } => {
                let k = self.keys.entry(key).or_default();
                if k.value == expect {
                    k.value = op;
                    k.writes.push(op);
                    1
                } else {
                    0
                }
            }
        };
        self.digest = chain(self.digest, &[e.index, op, out]);
        Bytes::from(out.to_le_bytes().to_vec())
    }
}

impl StateMachine for KvMachine {
    fn apply(&mut self, entries: &[Entry]) -> Vec<Bytes> {
        let out: Vec<Bytes> = entries.iter().map(|e| self.apply_one(e)).collect();
        if let Some(last) = entries.last() {
            self.observer.lock().digest(self.group, self.replica, last.index, self.digest);
        }
        out
    }

    fn snapshot(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut out = Vec::new();
        let mut put = |v: u64| out.extend_from_slice(&v.to_le_bytes());
        put(self.digest);
        put(self.applied_ops.len() as u64);
        for op in &self.applied_ops {
            put(*op);
        }
        put(self.keys.len() as u64);
        for (key, k) in &self.keys {
            put(*key);
            put(k.value);
            put(k.writes.len() as u64);
            for op in &k.writes {
                put(*op);
            }
        }
        w.write_all(&out)
    }

    fn restore(&mut self, r: &mut dyn Read) -> std::io::Result<()> {
        let mut b = Vec::new();
        r.read_to_end(&mut b)?;
        let mut words = b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()));
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "truncated KV snapshot");
        let mut next = || words.next().ok_or_else(bad);
        let digest = next()?;
        let mut applied_ops = BTreeSet::new();
        for _ in 0..next()? {
            applied_ops.insert(next()?);
        }
        let mut keys = BTreeMap::new();
        for _ in 0..next()? {
            let key = next()?;
            let value = next()?;
            let mut writes = Vec::new();
            for _ in 0..next()? {
                writes.push(next()?);
            }
            keys.insert(key, KeyState { value, writes });
        }
        self.digest = digest;
        self.applied_ops = applied_ops;
        self.keys = keys;
        Ok(())
    }

    fn lookup(&self, q: &[u8]) -> Bytes {
        match decode_u64(q) {
            Some(key) => Bytes::from(self.keys.get(&key).map_or(0, |k| k.value).to_le_bytes().to_vec()),
            // A query for the durability check: every key's write history.
            None if q == b"writes" => {
                let mut out = Vec::new();
                for (key, k) in &self.keys {
                    out.extend_from_slice(&key.to_le_bytes());
                    out.extend_from_slice(&(k.writes.len() as u64).to_le_bytes());
                    for op in &k.writes {
                        out.extend_from_slice(&op.to_le_bytes());
                    }
                }
                Bytes::from(out)
            }
            None => Bytes::new(),
        }
    }
}

/// Decodes the answer to the `writes` query: key -> write ids in order.
pub fn decode_writes(b: &[u8]) -> Option<BTreeMap<u64, Vec<u64>>> {
    let mut words = b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()));
    let mut out = BTreeMap::new();
    while let Some(key) = words.next() {
        let n = words.next()?;
        let mut ops = Vec::new();
        for _ in 0..n {
            ops.push(words.next()?);
        }
        out.insert(key, ops);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, c: Command) -> Entry {
        Entry { index, term: 1, data: Bytes::from(c.encode()), ..Default::default() }
    }

    #[test]
    fn applies_snapshots_and_flags_double_application() {
        let obs = Observer::default();
        let mut m = factory(obs.clone())(1, 1);
        let r = m.apply(&[entry(1, Command::Put { op: 5, key: 9 }), entry(2, Command::Cas { op: 6, key: 9, expect: 4 })]);
        assert_eq!(r, vec![Bytes::from(1u64.to_le_bytes().to_vec()), Bytes::from(0u64.to_le_bytes().to_vec())]);
        assert_eq!(decode_u64(&m.lookup(&query(9))), Some(5));
        let mut snap = Vec::new();
        m.snapshot(&mut snap).unwrap();
        let mut m2 = factory(obs.clone())(1, 2);
        m2.restore(&mut &snap[..]).unwrap();
        assert_eq!(decode_writes(&m2.lookup(b"writes")).unwrap()[&9], vec![5]);
        // Same entries on the restored replica: same digest, no violation.
        m.apply(&[entry(3, Command::Cas { op: 7, key: 9, expect: 5 })]);
        m2.apply(&[entry(3, Command::Cas { op: 7, key: 9, expect: 5 })]);
        assert!(obs.lock().violations.is_empty());
        m2.apply(&[entry(4, Command::Put { op: 7, key: 9 })]);
        assert_eq!(obs.lock().violations.len(), 1, "op 7 applied twice");
        let mut m3 = factory(obs.clone())(1, 3);
        m3.apply(&[entry(3, Command::Put { op: 8, key: 1 })]);
        assert!(obs.lock().violations.last().unwrap().contains("diverge"));
        assert!(m3.restore(&mut &snap[..5]).is_err());
    }
}
