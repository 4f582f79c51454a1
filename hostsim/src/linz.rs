//! A linearizability checker for the history of one register (one key):
//! Wing & Gong's search with Lowe's memoisation, as porcupine does it.
//!
//! Each operation has a call and a return time (distinct event numbers).
//! An operation whose outcome is unknown (it timed out) has no return: it
//! may take effect at any point after its call, or never, so it is never
//! forced into the order; because it returns nothing, placing it last is
//! the same as dropping it. The search tries, at each step, every pending
//! operation that was called before the earliest return of the pending
//! ones, applies it to the register if the outcome it returned allows,
//! and remembers (set of linearized operations, value) pairs already
//! explored.

use std::collections::HashSet;

/// No return: the outcome is unknown.
pub const NEVER: u64 = u64::MAX;

/// What an operation did, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Wrote the value.
    Put(u64),
    /// Read this value (0: absent).
    Get(u64),
    /// Compare-and-set to `new` if the register held `expect`; `ok` is the
    /// returned outcome, `None` when unknown.
    Cas {
        /// The value required.
        expect: u64,
        /// The value written on success.
        new: u64,
        /// The outcome, if known.
        ok: Option<bool>,
    },
}

/// One operation on the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// Event number of the call.
    pub call: u64,
    /// Event number of the return; [`NEVER`] when the outcome is unknown.
    pub ret: u64,
    /// What it did.
    pub kind: Kind,
}

/// The register after `op` takes effect on `value`, or `None` when the
/// operation's returned outcome is impossible in that state.
fn step(value: u64, op: &Op) -> Option<u64> {
    match op.kind {
        Kind::Put(v) => Some(v),
        Kind::Get(v) => (v == value).then_some(value),
        Kind::Cas { expect, new, ok: Some(true) } => (value == expect).then_some(new),
        Kind::Cas { expect, ok: Some(false), .. } => (value != expect).then_some(value),
        // Unknown: if it took effect here it succeeded or failed by the
        // state; "never took effect" is covered by not choosing it.
        Kind::Cas { expect, new, ok: None } => Some(if value == expect { new } else { value }),
    }
}

/// Why a history is not linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The longest prefix order found (indexes into the history).
    pub best: Vec<usize>,
}

/// Checks a register's history, starting from `initial`. `Ok` when some
/// total order of the operations respects real time and the register's
/// semantics (unknown operations may be left out).
pub fn check(history: &[Op], initial: u64) -> Result<(), Violation> {
    // Unknown reads tell nothing; unknown writes placed last are no-ops.
    let ops: Vec<(usize, Op)> = history.iter().copied().enumerate().filter(|(_, o)| !(o.ret == NEVER && matches!(o.kind, Kind::Get(_)))).collect();
    let must: usize = ops.iter().filter(|(_, o)| o.ret != NEVER).count();
    let mut search = Search { ops: &ops, seen: HashSet::new(), order: Vec::new(), best: Vec::new(), must };
    let done = vec![0u64; ops.len().div_ceil(64)];
    if search.dfs(&done, initial, 0) {
        Ok(())
    } else {
        Err(Violation { best: search.best.iter().map(|i| ops[*i].0).collect() })
    }
}

struct Search<'a> {
    ops: &'a [(usize, Op)],
    seen: HashSet<(Vec<u64>, u64)>,
    order: Vec<usize>,
    best: Vec<usize>,
    /// Operations with a known return: all must be linearized.
    must: usize,
}

impl Search<'_> {
    fn dfs(&mut self, done: &[u64], value: u64, known_done: usize) -> bool {
        if known_done == self.must {
            return true;
        }
        if !self.seen.insert((done.to_vec(), value)) {
            return false;
        }
        if self.order.len() > self.best.len() {
            self.best = self.order.clone();
        }
        let is_done = |i: usize| done[i / 64] >> (i % 64) & 1 == 1;
        let min_ret = (0..self.ops.len()).filter(|i| !is_done(*i)).map(|i| self.ops[i].1.ret).min().unwrap_or(NEVER);
        for i in 0..self.ops.len() {
            let op = self.ops[i].1;
            if is_done(i) || op.call > min_ret {
                continue;
            }
            let Some(next) = step(value, &op) else { continue };
            let mut d = done.to_vec();
            d[i / 64] |= 1 << (i % 64);
            self.order.push(i);
            let k = known_done + usize::from(op.ret != NEVER);
            if self.dfs(&d, next, k) {
                return true;
            }
            self.order.pop();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: u64, ret: u64, kind: Kind) -> Op {
        Op { call, ret, kind }
    }

    #[test]
    fn sequential_and_concurrent_histories() {
        // put 1, then get 1: fine; get 0 after put returned: not.
        assert!(check(&[op(1, 2, Kind::Put(1)), op(3, 4, Kind::Get(1))], 0).is_ok());
        assert!(check(&[op(1, 2, Kind::Put(1)), op(3, 4, Kind::Get(0))], 0).is_err());
        // Concurrent put and get may see either value.
        assert!(check(&[op(1, 4, Kind::Put(1)), op(2, 3, Kind::Get(0))], 0).is_ok());
        assert!(check(&[op(1, 4, Kind::Put(1)), op(2, 3, Kind::Get(1))], 0).is_ok());
        // Once both concurrent puts returned the value is fixed: either
        // may win, but two later reads cannot disagree.
        let h = [op(1, 10, Kind::Put(1)), op(2, 11, Kind::Put(2)), op(12, 13, Kind::Get(1)), op(14, 15, Kind::Get(2))];
        assert!(check(&h[..3], 0).is_ok());
        assert!(check(&[h[0], h[1], h[3]], 0).is_ok());
        assert!(check(&h, 0).is_err());
    }

    #[test]
    fn unknown_operations_may_or_may_not_apply() {
        // A timed-out put may be seen, or not, after its call.
        assert!(check(&[op(1, NEVER, Kind::Put(7)), op(2, 3, Kind::Get(7))], 0).is_ok());
        assert!(check(&[op(1, NEVER, Kind::Put(7)), op(2, 3, Kind::Get(0))], 0).is_ok());
        // But not before its call.
        assert!(check(&[op(2, 3, Kind::Get(7)), op(4, NEVER, Kind::Put(7))], 0).is_err());
        // And once seen and overwritten, it cannot come back.
        let h = [op(1, NEVER, Kind::Put(7)), op(2, 3, Kind::Get(7)), op(4, 5, Kind::Put(8)), op(6, 7, Kind::Get(7))];
        assert!(check(&h, 0).is_err());
    }

    #[test]
    fn compare_and_set() {
        let cas = |expect, new, ok| Kind::Cas { expect, new, ok };
        assert!(check(&[op(1, 2, Kind::Put(1)), op(3, 4, cas(1, 2, Some(true))), op(5, 6, Kind::Get(2))], 0).is_ok());
        assert!(check(&[op(1, 2, Kind::Put(1)), op(3, 4, cas(1, 2, Some(false)))], 0).is_err());
        assert!(check(&[op(1, 2, Kind::Put(1)), op(3, 4, cas(9, 2, Some(false))), op(5, 6, Kind::Get(1))], 0).is_ok());
        // Two successful cas from the same expected value: impossible.
        assert!(check(&[op(1, 5, cas(0, 1, Some(true))), op(2, 6, cas(0, 2, Some(true)))], 0).is_err());
        // An unknown cas explains a read of its value.
        assert!(check(&[op(1, NEVER, cas(0, 3, None)), op(2, 4, Kind::Get(3))], 0).is_ok());
        let v = check(&[op(1, 2, Kind::Put(1)), op(3, 4, Kind::Get(0))], 0).unwrap_err();
        assert_eq!(v.best, vec![0]);
    }

    #[test]
    fn many_concurrent_operations_finish_quickly() {
        // 8 clients, 25 rounds each, overlapping windows; reads see the
        // latest write; a few timed out.
        let mut h = Vec::new();
        let mut t = 0;
        let mut last = 0;
        for round in 0..25u64 {
            let base = t;
            for c in 0..8u64 {
                let v = round * 8 + c + 1;
                if c % 4 == 0 {
                    h.push(op(base + c, base + 20 + c, Kind::Get(last)));
                } else if c == 7 && round % 5 == 0 {
                    h.push(op(base + c, NEVER, Kind::Put(v)));
                } else {
                    h.push(op(base + c, base + 20 + c, Kind::Put(v)));
                }
            }
            last = round * 8 + 7; // the last known put of the round (c = 6)
            t += 40;
        }
        let t0 = std::time::Instant::now();
        assert!(check(&h, 0).is_ok());
        assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    }
}
