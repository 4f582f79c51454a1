//! Witness replicas (beyond etcd; the rules are in docs/witness.md).
//!
//! A witness is a voter that holds the log's metadata (each entry's index,
//! term and type) but not the payloads of normal entries, keeps no state
//! machine and never becomes leader. The configuration marks it (see
//! [`crate::tracker::Config::witnesses`]); this module holds what the
//! leader does differently when it replicates to one: payloads are
//! stripped before the message leaves, and snapshots carry only their
//! metadata. Conf-change entries keep their payload, because a witness
//! applies them to track the membership like any replica.

use bytes::Bytes;

use crate::log_unstable::Unstable;
use crate::log::RaftLog;
use crate::raftpb::{decode, ConfChange, ConfChangeI, ConfChangeType, ConfChangeV2, Entry, EntryType, Snapshot};
use crate::storage::Storage;
use crate::tracker::ProgressTracker;

/// Whether a witness receives `e`'s payload: only conf changes (v1 or v2)
/// are sent whole; a normal entry's data is application state.
pub fn keeps_payload(e: &Entry) -> bool {
    matches!(e.r#type(), EntryType::EntryConfChange | EntryType::EntryConfChangeV2)
}

/// Empties the payload of every normal entry in `ents`, keeping index,
/// term and type (and the type's wire presence), so the witness's log
/// matches the leader's entry for entry in everything Raft compares.
pub fn strip_payloads(ents: &mut [Entry]) {
    for e in ents.iter_mut().filter(|e| !keeps_payload(e)) {
        e.data = Bytes::new();
    }
}

/// The last index of the leader's log that is in stable storage: entries
/// from `unstable.offset` on may still be lost in a crash. A leader sends a
/// witness only entries up to here, so that whatever a witness holds is
/// durable on the data replica that created it (docs/witness.md,
/// "Durability"): otherwise a leader crashing before its disk write could
/// leave the witnesses with entries no data replica has, and they would
/// refuse their votes to every candidate forever.
pub fn durable_last_index(unstable: &Unstable) -> u64 {
    if unstable.snapshot.is_some() {
        // Not a leader's state (a leader never installs a snapshot); be
        // conservative.
        return 0;
    }
    unstable.offset.saturating_sub(1)
}

/// Why the leader `leader` refuses the proposed change `cc`, if it does:
/// with witnesses in the configuration (or added by `cc`), a leader may not
/// remove or demote itself. The entries it appends after such a change
/// would be durable on no data replica that stays (the application stops a
/// removed replica), while the witnesses may hold them and so refuse every
/// remaining candidate (docs/witness.md, "Durability"). Transferring
/// leadership first, then removing the old leader, is always possible.
pub fn refuse_leader_removal(trk: &ProgressTracker, leader: u64, cc: &ConfChangeV2) -> Option<String> {
    let is = |c: &crate::raftpb::ConfChangeSingle, t: ConfChangeType| c.r#type == t as i32;
    let adds_witness = cc.changes.iter().any(|c| is(c, ConfChangeType::ConfChangeAddWitnessNode));
    if trk.config.witnesses.is_empty() && !adds_witness {
        return None;
    }
    let leaves = cc.changes.iter().any(|c| {
        c.node_id == leader && (is(c, ConfChangeType::ConfChangeRemoveNode) || is(c, ConfChangeType::ConfChangeAddLearnerNode))
    });
    leaves.then(|| "with witnesses, a leader cannot remove or demote itself: transfer leadership first".to_string())
}

/// Whether node `me` may grant its vote to `candidate`: always for a data
/// replica; a witness backs only candidates that are data voters of its
/// configuration (not a learner, not a witness, not a node it has seen
/// removed). A node being removed could otherwise win with the witnesses'
/// votes before it applies its removal, commit entries with them, and leave:
/// the remaining data voters would lack entries the witnesses hold.
pub fn may_back(trk: &ProgressTracker, me: u64, candidate: u64) -> bool {
    if !trk.is_witness(me) {
        return true;
    }
    trk.progress.get(&candidate).is_some_and(|pr| !pr.is_learner && !pr.is_witness)
}

/// Whether the not yet applied part of `log` holds a conf change that
/// removes or demotes `id`. With witnesses such a node does not campaign:
/// elected with its old configuration, it could commit entries with the
/// witnesses' acks and then leave, and the remaining data voters would lack
/// entries the witnesses hold (docs/witness.md). Costs a scan of the
/// unapplied tail, only when a node with witnesses is about to campaign.
pub fn pending_removal_of<S: Storage>(log: &RaftLog<S>, id: u64) -> crate::Result<bool> {
    let (lo, hi) = (log.applied + 1, log.last_index() + 1);
    if lo >= hi {
        return Ok(false);
    }
    let mut found = false;
    log.scan(lo, hi, log.max_applying_ents_size, |ents| {
        found = found || ents.iter().any(|e| removes(e, id));
        Ok(())
    })?;
    Ok(found)
}

/// Whether entry `e` is a conf change that removes or demotes `id`; an
/// undecodable one does not count (raft refuses it when applied).
fn removes(e: &Entry, id: u64) -> bool {
    let cc = match e.r#type() {
        EntryType::EntryConfChange => decode::<ConfChange>(&e.data).map(ConfChangeI::V1),
        EntryType::EntryConfChangeV2 => decode::<ConfChangeV2>(&e.data).map(ConfChangeI::V2),
        EntryType::EntryNormal => return false,
    };
    let leaves = |t: i32| t == ConfChangeType::ConfChangeRemoveNode as i32 || t == ConfChangeType::ConfChangeAddLearnerNode as i32;
    cc.is_ok_and(|cc| cc.as_v2().changes.iter().any(|c| c.node_id == id && leaves(c.r#type)))
}

/// The witnesses among the peers of `me`, ascending.
pub fn peers(trk: &ProgressTracker, me: u64) -> Vec<u64> {
    trk.config.witnesses.iter().copied().filter(|&id| id != me).collect()
}

/// The snapshot a witness receives: the metadata (index, term and
/// ConfState) without the state machine's data, which a witness never
/// applies.
pub fn metadata_only(mut s: Snapshot) -> Snapshot {
    s.data = Bytes::new();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raftpb::{ConfState, SnapshotMetadata};

    fn entry(index: u64, t: EntryType, data: &'static [u8]) -> Entry {
        Entry { term: 2, index, r#type: t as i32, data: Bytes::from_static(data), type_set: false }
    }

    #[test]
    fn strips_normal_payloads_and_keeps_conf_changes() {
        let mut ents = vec![
            entry(1, EntryType::EntryNormal, b"put x"),
            entry(2, EntryType::EntryConfChange, b"cc1"),
            entry(3, EntryType::EntryConfChangeV2, b"cc2"),
            entry(4, EntryType::EntryNormal, b""),
        ];
        let mut refused = entry(5, EntryType::EntryNormal, b"z");
        refused.type_set = true;
        ents.push(refused);
        strip_payloads(&mut ents);
        let data: Vec<&[u8]> = ents.iter().map(|e| e.data.as_ref()).collect();
        assert_eq!(data, vec![&b""[..], b"cc1", b"cc2", b"", b""]);
        assert_eq!(ents.iter().map(|e| (e.index, e.term)).collect::<Vec<_>>(), (1..=5).map(|i| (i, 2)).collect::<Vec<_>>());
        assert!(ents[4].type_set, "the type's presence on the wire is kept");
    }

    #[test]
    fn snapshot_keeps_metadata_only() {
        let cs = ConfState { voters: vec![1, 2, 3], witnesses: vec![3], ..Default::default() };
        let s = Snapshot {
            data: Bytes::from_static(b"state machine"),
            metadata: Some(SnapshotMetadata { conf_state: Some(cs.clone()), index: 7, term: 3 }),
        };
        let m = metadata_only(s);
        assert!(m.data.is_empty());
        assert_eq!((m.index(), m.term(), m.conf_state()), (7, 3, cs));
    }
}
