//! Priority elections (beyond etcd; raft-rs's `priority`): among replicas
//! whose logs are equally up to date, the one with the highest
//! [`Config::priority`](crate::Config::priority) becomes leader.
//!
//! The rule sits on top of the Raft paper's election restriction (§5.4.1)
//! and only ever refuses more votes, so it cannot elect a candidate with a
//! stale log. A voter refuses a candidate whose last entry is the same as
//! its own (same term, same index) when the candidate's priority is lower
//! than its own. A candidate with a strictly more up-to-date log is granted
//! as in etcd whatever its priority (raft-rs also applies the priority when
//! the candidate's last term is higher but its last index is not: not here).
//!
//! Liveness: the highest-priority replica among any group of equally
//! current ones is refused by no one for priority, so an election among
//! them can always be won by it (and leadership transfers, which name
//! their target explicitly, are exempt). With every priority 0, as in an
//! etcd cluster, nothing changes: etcd nodes send no priority and a 0 in
//! the message is the same as none.

use crate::log::EntryId;

/// Whether a voter with priority `ours` and last entry `our_last` may vote
/// for a candidate whose last entry is `cand_last` and whose priority is
/// `cand_priority`, as far as priorities go (the paper's up-to-date check
/// is separate).
pub fn may_vote_for(ours: i64, our_last: EntryId, cand_last: EntryId, cand_priority: i64) -> bool {
    cand_last != our_last || cand_priority >= ours
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAST: EntryId = EntryId { term: 3, index: 7 };

    #[test]
    fn equal_logs_go_to_the_higher_or_equal_priority() {
        assert!(!may_vote_for(5, LAST, LAST, 4));
        assert!(may_vote_for(5, LAST, LAST, 5));
        assert!(may_vote_for(5, LAST, LAST, 6));
    }

    #[test]
    fn a_more_current_log_wins_whatever_its_priority() {
        assert!(may_vote_for(5, LAST, EntryId { term: 3, index: 8 }, 0));
        assert!(may_vote_for(5, LAST, EntryId { term: 4, index: 2 }, -9));
    }

    #[test]
    fn all_zero_is_etcd() {
        assert!(may_vote_for(0, LAST, LAST, 0));
    }
}
