//! Configuration changes (mirrors etcd's confchange package): the Changer
//! computes the configuration and progress map that result from simple or
//! joint changes, and `restore` rebuilds them from a ConfState.
//!
//! A change never mutates the tracker it reads: it returns a new config and
//! progress map that the caller installs, so a failed change leaves nothing
//! half-applied.

mod restore;

pub use restore::restore;

use std::collections::BTreeSet;

use crate::raftpb::{ConfChangeSingle, ConfChangeType};
use crate::tracker::{Config, Inflights, Progress, ProgressMap, ProgressTracker};
use crate::{Error, Result};

/// Computes configuration changes against a tracker. `last_index` is the
/// leader's last log index: new peers start probing there.
#[derive(Clone, Copy)]
pub struct Changer<'a> {
    /// The configuration and progress the change starts from.
    pub tracker: &'a ProgressTracker,
    /// The last index of the log, where new peers' progress starts.
    pub last_index: u64,
}

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::ConfChange(msg.into()))
}

fn joint(cfg: &Config) -> bool {
    !cfg.voters.outgoing.is_empty()
}

impl Changer<'_> {
    /// Enters a joint configuration: the current voters become the
    /// outgoing half, `ccs` are applied to the incoming half. With
    /// `auto_leave`, raft proposes leaving the joint state by itself.
    pub fn enter_joint(&self, auto_leave: bool, ccs: &[ConfChangeSingle]) -> Result<(Config, ProgressMap)> {
        let (mut cfg, mut prs) = self.check_and_copy()?;
        if joint(&cfg) {
            return err("config is already joint");
        }
        if cfg.voters.incoming.is_empty() {
            // Adding to an empty config is allowed (bootstrap), but such a
            // config cannot be made joint.
            return err("can't make a zero-voter config joint");
        }
        cfg.voters.outgoing = cfg.voters.incoming.clone();
        self.apply(&mut cfg, &mut prs, ccs)?;
        cfg.auto_leave = auto_leave;
        check_and_return(cfg, prs)
    }

    /// Leaves the joint configuration: the outgoing half is dropped, staged
    /// learners become learners, and peers in neither role are removed.
    pub fn leave_joint(&self) -> Result<(Config, ProgressMap)> {
        let (mut cfg, mut prs) = self.check_and_copy()?;
        if !joint(&cfg) {
            return err("can't leave a non-joint config");
        }
        for id in std::mem::take(&mut cfg.learners_next) {
            cfg.learners.insert(id);
            if let Some(pr) = prs.get_mut(&id) {
                pr.is_learner = true;
            }
        }
        for id in cfg.voters.outgoing.slice() {
            if !cfg.voters.incoming.contains(id) && !cfg.learners.contains(&id) {
                prs.remove(&id);
            }
        }
        cfg.voters.outgoing.clear();
        prune_witnesses(&mut cfg, &prs);
        cfg.auto_leave = false;
        check_and_return(cfg, prs)
    }

    /// Applies changes that alter at most one voter, without a joint state.
    pub fn simple(&self, ccs: &[ConfChangeSingle]) -> Result<(Config, ProgressMap)> {
        let (mut cfg, mut prs) = self.check_and_copy()?;
        if joint(&cfg) {
            return err("can't apply simple config change in joint config");
        }
        self.apply(&mut cfg, &mut prs, ccs)?;
        let before = self.tracker.config.voters.incoming.ids();
        let after = cfg.voters.incoming.ids();
        if before.symmetric_difference(after).count() > 1 {
            return err("more than one voter changed without entering joint config");
        }
        check_and_return(cfg, prs)
    }

    fn apply(&self, cfg: &mut Config, prs: &mut ProgressMap, ccs: &[ConfChangeSingle]) -> Result<()> {
        for cc in ccs {
            if cc.node_id == 0 {
                // Applications zero the id of a change they decided not to
                // apply; such changes are no-ops.
                continue;
            }
            match ConfChangeType::try_from(cc.r#type) {
                Ok(ConfChangeType::ConfChangeAddNode) => {
                    refuse_witness_as_data_replica(prs, cc.node_id, "a voter")?;
                    self.make_voter(cfg, prs, cc.node_id)
                }
                Ok(ConfChangeType::ConfChangeAddLearnerNode) => {
                    refuse_witness_as_data_replica(prs, cc.node_id, "a learner")?;
                    self.make_learner(cfg, prs, cc.node_id)
                }
                Ok(ConfChangeType::ConfChangeAddWitnessNode) => self.make_witness(cfg, prs, cc.node_id)?,
                Ok(ConfChangeType::ConfChangeRemoveNode) => remove(cfg, prs, cc.node_id),
                Ok(ConfChangeType::ConfChangeUpdateNode) => {}
                Err(_) => return err(format!("unexpected conf type {}", cc.r#type)),
            }
        }
        if cfg.voters.incoming.is_empty() {
            return err("removed all voters");
        }
        prune_witnesses(cfg, prs);
        if !cfg.witnesses.is_empty() && cfg.voters.incoming.ids().iter().all(|id| cfg.witnesses.contains(id)) {
            // Only a data replica can lead (docs/witness.md).
            return err("no voter left that is not a witness");
        }
        Ok(())
    }

    /// Adds `id` as a witness voter in the incoming half. A witness already
    /// tracked (e.g. still voting in the outgoing half) becomes an incoming
    /// voter again; a data replica cannot turn into a witness, since its
    /// log holds payloads the witness rules assume it keeps.
    fn make_witness(&self, cfg: &mut Config, prs: &mut ProgressMap, id: u64) -> Result<()> {
        match prs.get(&id) {
            None => {
                self.init_progress(cfg, prs, id, false);
                if let Some(pr) = prs.get_mut(&id) {
                    pr.is_witness = true;
                }
                cfg.witnesses.insert(id);
            }
            Some(pr) if pr.is_witness => {
                cfg.voters.incoming.insert(id);
            }
            Some(_) => return err(format!("{id} holds data and can't become a witness")),
        }
        Ok(())
    }

    fn make_voter(&self, cfg: &mut Config, prs: &mut ProgressMap, id: u64) {
        match prs.get_mut(&id) {
            None => self.init_progress(cfg, prs, id, false),
            Some(pr) => {
                pr.is_learner = false;
                cfg.learners.remove(&id);
                cfg.learners_next.remove(&id);
                cfg.voters.incoming.insert(id);
            }
        }
    }

    fn make_learner(&self, cfg: &mut Config, prs: &mut ProgressMap, id: u64) {
        let Some(pr) = prs.get(&id) else {
            self.init_progress(cfg, prs, id, true);
            return;
        };
        if pr.is_learner {
            return;
        }
        // Demote: drop the voter from the incoming half but keep its progress.
        let saved = pr.clone();
        remove(cfg, prs, id);
        let mut pr = saved;
        // A peer still voting in the outgoing half cannot be a learner yet;
        // it is staged and converted when the joint state is left.
        if cfg.voters.outgoing.contains(id) {
            cfg.learners_next.insert(id);
        } else {
            pr.is_learner = true;
            cfg.learners.insert(id);
        }
        prs.insert(id, pr);
    }

    fn init_progress(&self, cfg: &mut Config, prs: &mut ProgressMap, id: u64, is_learner: bool) {
        if is_learner {
            cfg.learners.insert(id);
        } else {
            cfg.voters.incoming.insert(id);
        }
        // Probing starts at the last index: optimistic, but a new peer
        // usually needs a snapshot anyway. Marked active so CheckQuorum does
        // not count it against us before it had a chance to answer.
        let mut pr = Progress::new(
            self.last_index.max(1),
            Inflights::new(self.tracker.max_inflight, self.tracker.max_inflight_bytes),
        );
        pr.is_learner = is_learner;
        pr.recent_active = true;
        prs.insert(id, pr);
    }

    fn check_and_copy(&self) -> Result<(Config, ProgressMap)> {
        check_and_return(self.tracker.config.clone(), self.tracker.progress.clone())
    }
}

/// A witness never holds payloads, so it can't be promoted to a data voter
/// or demoted to a learner; it can only be removed (docs/witness.md).
fn refuse_witness_as_data_replica(prs: &ProgressMap, id: u64, role: &str) -> Result<()> {
    if prs.get(&id).is_some_and(|pr| pr.is_witness) {
        return err(format!("{id} is a witness and can't become {role}"));
    }
    Ok(())
}

/// Drops the witness mark of peers no longer tracked.
fn prune_witnesses(cfg: &mut Config, prs: &ProgressMap) {
    cfg.witnesses.retain(|id| prs.contains_key(id));
}

fn remove(cfg: &mut Config, prs: &mut ProgressMap, id: u64) {
    if !prs.contains_key(&id) {
        return;
    }
    cfg.voters.incoming.remove(id);
    cfg.learners.remove(&id);
    cfg.learners_next.remove(&id);
    // A peer still voting in the outgoing half keeps its progress.
    if !cfg.voters.outgoing.contains(id) {
        prs.remove(&id);
    }
}

fn check_and_return(cfg: Config, prs: ProgressMap) -> Result<(Config, ProgressMap)> {
    check_invariants(&cfg, &prs)?;
    Ok((cfg, prs))
}

/// The invariants every configuration must satisfy (see tracker::Config).
fn check_invariants(cfg: &Config, prs: &ProgressMap) -> Result<()> {
    let all: BTreeSet<u64> =
        cfg.voters.ids().into_iter().chain(cfg.learners.iter().copied()).chain(cfg.learners_next.iter().copied()).collect();
    for id in all {
        if !prs.contains_key(&id) {
            return err(format!("no progress for {id}"));
        }
    }
    for &id in &cfg.learners_next {
        if !cfg.voters.outgoing.contains(id) {
            return err(format!("{id} is in LearnersNext, but not Voters[1]"));
        }
        if prs[&id].is_learner {
            return err(format!("{id} is in LearnersNext, but is already marked as learner"));
        }
    }
    for &id in &cfg.learners {
        if cfg.voters.outgoing.contains(id) {
            return err(format!("{id} is in Learners and Voters[1]"));
        }
        if cfg.voters.incoming.contains(id) {
            return err(format!("{id} is in Learners and Voters[0]"));
        }
        if !prs[&id].is_learner {
            return err(format!("{id} is in Learners, but is not marked as learner"));
        }
    }
    let voters = cfg.voters.ids();
    for &id in &cfg.witnesses {
        if !voters.contains(&id) {
            return err(format!("{id} is a witness but not a voter"));
        }
    }
    for (id, pr) in prs {
        if pr.is_witness != cfg.witnesses.contains(id) {
            return err(format!("{id} is marked witness={} but the config says otherwise", pr.is_witness));
        }
    }
    if !joint(cfg) {
        if !cfg.learners_next.is_empty() {
            return err("cfg.LearnersNext must be nil when not joint");
        }
        if cfg.auto_leave {
            return err("AutoLeave must be false when not joint");
        }
    }
    Ok(())
}
