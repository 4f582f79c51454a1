//! Client sessions: exactly-once application of retried proposals.
//!
//! A client names itself (client id) and numbers its proposals (series).
//! When an entry of a session is applied, the replica looks the series up
//! in the session table: a series already applied returns the cached
//! result instead of applying again. The client acknowledges results by
//! sending the highest series it has seen completed (responded-to); cached
//! results up to it are dropped. The table is part of the replicated state
//! (it is changed only by applying entries and travels in snapshots), so
//! every replica deduplicates identically.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::codec::{get_bytes, get_u64, put_bytes, put_u64};

/// A client's handle for proposals that must apply once. Retry a proposal
/// that timed out with the same handle unchanged; after it completes (or is
/// rejected), call [`Session::proposal_completed`] before the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The group this session proposes to.
    pub group: u64,
    /// The client's identity; unique among the group's clients.
    pub client_id: u64,
    series: u64,
    responded_to: u64,
}

impl Session {
    /// A new session for `client_id` in `group`; its first series is 1.
    pub fn new(group: u64, client_id: u64) -> Self {
        Session { group, client_id, series: 1, responded_to: 0 }
    }

    /// A session resumed at a known state: for a node that proposes on
    /// behalf of a remote client, which sends its client id, the series of
    /// its request and the highest series it has seen answered.
    pub fn resume(group: u64, client_id: u64, series: u64, responded_to: u64) -> Self {
        Session { group, client_id, series, responded_to }
    }

    /// The series number the next proposal carries.
    pub fn series(&self) -> u64 {
        self.series
    }

    /// The highest series whose result the client has received.
    pub fn responded_to(&self) -> u64 {
        self.responded_to
    }

    /// Marks the current proposal's outcome as received: the next proposal
    /// gets a new series, and the group may drop the cached result.
    pub fn proposal_completed(&mut self) {
        self.responded_to = self.series;
        self.series += 1;
    }
}

/// What the table says about a session entry about to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dedup {
    /// Not applied yet: apply it.
    Apply,
    /// Applied before: this is its result.
    Duplicate(Bytes),
    /// Applied and acknowledged; its result is gone.
    Acknowledged,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ClientState {
    responded_to: u64,
    /// Log index of the client's latest entry: the least recently active
    /// client is evicted first.
    last_index: u64,
    results: BTreeMap<u64, Bytes>,
}

/// The replicated session table of one group, holding at most a fixed
/// number of clients (the same limit on every replica: it is part of the
/// replicated behaviour). A new client beyond the limit evicts the one whose
/// latest entry is oldest; an evicted client's retries apply again, so the
/// limit must exceed the number of clients active at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SessionTable {
    clients: BTreeMap<u64, ClientState>,
}

impl SessionTable {
    /// Records the client's acknowledgement and says whether `series`
    /// (in the entry at `index`) must be applied.
    pub fn check(&mut self, client: u64, series: u64, responded_to: u64, index: u64, max_clients: usize) -> Dedup {
        if !self.clients.contains_key(&client) && self.clients.len() >= max_clients.max(1) {
            let oldest = self.clients.iter().min_by_key(|(id, c)| (c.last_index, **id)).map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.clients.remove(&id);
            }
        }
        let c = self.clients.entry(client).or_default();
        c.last_index = index;
        if responded_to > c.responded_to {
            c.responded_to = responded_to;
            c.results = c.results.split_off(&(responded_to + 1));
        }
        if let Some(r) = c.results.get(&series) {
            return Dedup::Duplicate(r.clone());
        }
        if series <= c.responded_to {
            return Dedup::Acknowledged;
        }
        Dedup::Apply
    }

    /// Caches the result of an applied series until acknowledged.
    pub fn record(&mut self, client: u64, series: u64, result: Bytes) {
        self.clients.entry(client).or_default().results.insert(series, result);
    }

    /// Forgets a client.
    pub fn close(&mut self, client: u64) {
        self.clients.remove(&client);
    }

    /// Number of clients with state.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Appends the table's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.clients.len() as u64);
        for (id, c) in &self.clients {
            put_u64(out, *id);
            put_u64(out, c.responded_to);
            put_u64(out, c.last_index);
            put_u64(out, c.results.len() as u64);
            for (s, r) in &c.results {
                put_u64(out, *s);
                put_bytes(out, r);
            }
        }
    }

    /// Decodes a table written by `encode`.
    pub fn decode(b: &mut Bytes) -> Option<Self> {
        let mut t = SessionTable::default();
        for _ in 0..get_u64(b)? {
            let id = get_u64(b)?;
            let responded_to = get_u64(b)?;
            let last_index = get_u64(b)?;
            let mut results = BTreeMap::new();
            for _ in 0..get_u64(b)? {
                let s = get_u64(b)?;
                results.insert(s, get_bytes(b)?);
            }
            t.clients.insert(id, ClientState { responded_to, last_index, results });
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedups_until_acknowledged_and_round_trips() {
        let mut t = SessionTable::default();
        assert_eq!(t.check(7, 1, 0, 10, 8), Dedup::Apply);
        t.record(7, 1, Bytes::from_static(b"r1"));
        assert_eq!(t.check(7, 1, 0, 11, 8), Dedup::Duplicate(Bytes::from_static(b"r1")));
        let mut enc = Vec::new();
        t.encode(&mut enc);
        let mut b = Bytes::from(enc);
        assert_eq!(SessionTable::decode(&mut b), Some(t.clone()));
        assert_eq!(t.check(7, 2, 1, 12, 8), Dedup::Apply);
        assert_eq!(t.check(7, 1, 1, 13, 8), Dedup::Acknowledged);
        t.close(7);
        assert_eq!(t.len(), 0);
        assert_eq!(SessionTable::decode(&mut Bytes::from_static(b"\x05")), None);
    }

    #[test]
    fn evicts_the_least_recently_active_client_beyond_the_limit() {
        let mut t = SessionTable::default();
        for (client, index) in [(1, 5), (2, 3), (3, 9)] {
            assert_eq!(t.check(client, 1, 0, index, 3), Dedup::Apply);
            t.record(client, 1, Bytes::new());
        }
        assert_eq!(t.check(4, 1, 0, 10, 3), Dedup::Apply);
        assert_eq!(t.len(), 3);
        assert_eq!(t.check(2, 1, 0, 11, 3), Dedup::Apply, "client 2 (latest entry at 3) was evicted");
        assert_eq!(t.len(), 3);
        assert_eq!(t.check(3, 1, 0, 12, 3), Dedup::Duplicate(Bytes::new()), "client 3 kept");
    }
}
