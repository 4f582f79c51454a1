//! Runs etcd's quorum/testdata scripts: `committed` and `vote` over a
//! majority (`cfg=`) or joint (`cfg=` plus `cfgj=`) configuration.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::datadriven::{run_file, TestCase};
use crate::quorum::{index_string, JointConfig, MajorityConfig};

/// Runs one quorum script; `Err` holds the diff.
pub fn run_quorum_script(path: &Path) -> Result<(), String> {
    run_file(path, |tc| handle(tc).unwrap_or_else(|e| format!("{e}\n")))
}

/// Values given positionally for the voters of cfg then cfgj, without
/// repeats; `None` is "_" (nothing known).
fn lookup(vals: &[Option<u64>], ids: &[u64], idsj: &[u64]) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    let mut seen = Vec::new();
    let mut p = 0;
    for &id in ids.iter().chain(idsj) {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if p < vals.len() {
            if let Some(v) = vals[p] {
                out.insert(id, v);
            }
            p += 1;
        }
    }
    out
}

fn handle(tc: &TestCase) -> Result<String, String> {
    let (mut ids, mut idsj, mut joint) = (Vec::new(), Vec::new(), false);
    let (mut idxs, mut votes) = (Vec::new(), Vec::new());
    for a in &tc.args {
        for v in &a.vals {
            let num = || v.parse::<u64>().map_err(|_| format!("cannot parse {}={v}", a.key));
            match a.key.as_str() {
                "cfg" => ids.push(num()?),
                "cfgj" => {
                    joint = true;
                    if v != "zero" {
                        idsj.push(num()?);
                    }
                }
                "idx" => idxs.push(if v == "_" { None } else { Some(num()?) }),
                "votes" => votes.push(match v.as_str() {
                    "y" => Some(1),
                    "n" => Some(0),
                    "_" => None,
                    other => return Err(format!("unknown vote: {other}")),
                }),
                other => return Err(format!("unknown arg {other}")),
            }
        }
    }
    let c = MajorityConfig::new(ids.iter().copied());
    let cj = MajorityConfig::new(idsj.iter().copied());
    let jc = JointConfig { incoming: c.clone(), outgoing: cj.clone() };
    let swapped = JointConfig { incoming: cj.clone(), outgoing: c.clone() };
    let input_len = if tc.cmd == "vote" { votes.len() } else { idxs.len() };
    let voters = jc.ids();
    if voters.len() != input_len {
        return Ok(format!("error: mismatched input (explicit or _) for voters {voters:?}: {input_len}\n"));
    }
    let mut out = String::new();
    match tc.cmd.as_str() {
        "committed" => {
            let l = lookup(&idxs, &ids, &idsj);
            if !joint {
                let idx = c.committed_index(&l);
                out.push_str(&c.describe(&l));
                // The same answer must come out of equivalent joint forms.
                let zero_joint = JointConfig { incoming: c.clone(), outgoing: MajorityConfig::default() };
                if zero_joint.committed_index(&l) != idx {
                    let _ = writeln!(out, "{} <-- via zero-joint quorum", index_string(zero_joint.committed_index(&l)));
                }
                let self_joint = JointConfig { incoming: c.clone(), outgoing: c.clone() };
                if self_joint.committed_index(&l) != idx {
                    let _ = writeln!(out, "{} <-- via self-joint quorum", index_string(self_joint.committed_index(&l)));
                }
                let _ = writeln!(out, "{}", index_string(idx));
            } else {
                out.push_str(&jc.describe(&l));
                let idx = jc.committed_index(&l);
                if swapped.committed_index(&l) != idx {
                    let _ = writeln!(out, "{} <-- via symmetry", index_string(swapped.committed_index(&l)));
                }
                let _ = writeln!(out, "{}", index_string(idx));
            }
        }
        "vote" => {
            let l: BTreeMap<u64, bool> = lookup(&votes, &ids, &idsj).into_iter().map(|(id, v)| (id, v == 1)).collect();
            if !joint {
                let _ = writeln!(out, "{}", c.vote_result(&l));
            } else {
                let r = jc.vote_result(&l);
                if swapped.vote_result(&l) != r {
                    let _ = writeln!(out, "{} <-- via symmetry", swapped.vote_result(&l));
                }
                let _ = writeln!(out, "{r}");
            }
        }
        other => return Err(format!("unknown command: {other}")),
    }
    Ok(out)
}
