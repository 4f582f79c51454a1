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
    results: BTreeMap<u64, Bytes>,
}

/// The replicated session table of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SessionTable {
    clients: BTreeMap<u64, ClientState>,
}

impl SessionTable {
    /// Records the client's acknowledgement and says whether `series`
    /// must be applied.
    pub fn check(&mut self, client: u64, series: u64, responded_to: u64) -> Dedup {
        let c = self.clients.entry(client).or_default();
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
            let mut results = BTreeMap::new();
            for _ in 0..get_u64(b)? {
                let s = get_u64(b)?;
                results.insert(s, get_bytes(b)?);
            }
            t.clients.insert(id, ClientState { responded_to, results });
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
        assert_eq!(t.check(7, 1, 0), Dedup::Apply);
        t.record(7, 1, Bytes::from_static(b"r1"));
        assert_eq!(t.check(7, 1, 0), Dedup::Duplicate(Bytes::from_static(b"r1")));
        let mut enc = Vec::new();
        t.encode(&mut enc);
        let mut b = Bytes::from(enc);
        assert_eq!(SessionTable::decode(&mut b), Some(t.clone()));
        assert_eq!(t.check(7, 2, 1), Dedup::Apply);
        assert_eq!(t.check(7, 1, 1), Dedup::Acknowledged);
        t.close(7);
        assert_eq!(t.len(), 0);
        assert_eq!(SessionTable::decode(&mut Bytes::from_static(b"\x05")), None);
    }
}
