//! Rebuilding a configuration from a ConfState (snapshots, restarts).

use crate::raftpb::{ConfChangeSingle, ConfChangeType, ConfState};
use crate::tracker::{Config, ProgressMap};
use crate::Result;

use super::Changer;

fn single(t: ConfChangeType, node_id: u64) -> ConfChangeSingle {
    ConfChangeSingle { r#type: t as i32, node_id }
}

/// The changes that build `cs` from an empty config: `outgoing` (simple
/// adds establishing the old voters) and `incoming` (applied while
/// entering the joint state, or one by one when there is no outgoing half).
///
/// Witnesses are added with ConfChangeAddWitnessNode, after the data
/// voters: a configuration must always keep a voter that is not a witness,
/// also between two replayed steps. Without witnesses the order is etcd's.
fn to_conf_change_single(cs: &ConfState) -> (Vec<ConfChangeSingle>, Vec<ConfChangeSingle>) {
    use ConfChangeType::*;
    let adds = |ids: &[u64]| -> Vec<ConfChangeSingle> {
        let is_w = |id: &u64| cs.witnesses.contains(id);
        let data = ids.iter().filter(|id| !is_w(id)).map(|&id| single(ConfChangeAddNode, id));
        let witnesses = ids.iter().filter(|id| is_w(id)).map(|&id| single(ConfChangeAddWitnessNode, id));
        data.chain(witnesses).collect()
    };
    let outgoing = adds(&cs.voters_outgoing);
    let incoming = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(ConfChangeRemoveNode, id))
        .chain(adds(&cs.voters))
        .chain(cs.learners.iter().map(|&id| single(ConfChangeAddLearnerNode, id)))
        // Staged learners are outgoing voters; adding them as learners while
        // joint puts them into learners_next.
        .chain(cs.learners_next.iter().map(|&id| single(ConfChangeAddLearnerNode, id)))
        .collect();
    (outgoing, incoming)
}

/// The configuration and progress map described by `cs`, built on top of
/// `chg.tracker` (normally empty) with new peers at `chg.last_index`.
pub fn restore(chg: Changer<'_>, cs: &ConfState) -> Result<(Config, ProgressMap)> {
    // An id listed as both a voter and a learner would be demoted by the
    // replay below and, for the last voter, reported as "removed all
    // voters": name what is actually wrong instead.
    if let Some(id) = cs.voters.iter().find(|id| cs.learners.contains(id)) {
        return Err(crate::Error::ConfChange(format!("node {id} is both a voter and a learner in the ConfState")));
    }
    if let Some(id) = cs.witnesses.iter().find(|id| !cs.voters.contains(id) && !cs.voters_outgoing.contains(id)) {
        return Err(crate::Error::ConfChange(format!("node {id} is a witness but not a voter in the ConfState")));
    }
    let (outgoing, incoming) = to_conf_change_single(cs);
    let mut trk = chg.tracker.clone();
    let step = |trk: &mut crate::tracker::ProgressTracker, joint: Option<&[ConfChangeSingle]>, cc: Option<&ConfChangeSingle>| -> Result<()> {
        let c = Changer { tracker: trk, last_index: chg.last_index };
        let (cfg, prs) = match (joint, cc) {
            (Some(ccs), _) => c.enter_joint(cs.auto_leave, ccs)?,
            (None, Some(cc)) => c.simple(std::slice::from_ref(cc))?,
            (None, None) => return Ok(()),
        };
        trk.config = cfg;
        trk.progress = prs;
        Ok(())
    };
    if outgoing.is_empty() {
        for cc in &incoming {
            step(&mut trk, None, Some(cc))?;
        }
    } else {
        // Establish the old voters as a simple config, then enter the joint
        // state that rotates them into the outgoing half.
        for cc in &outgoing {
            step(&mut trk, None, Some(cc))?;
        }
        step(&mut trk, Some(&incoming), None)?;
    }
    Ok((trk.config, trk.progress))
}
