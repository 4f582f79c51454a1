//! Runs etcd's confchange/testdata scripts: `simple`, `enter-joint
//! [autoleave=true]` and `leave-joint`, each printing the resulting
//! configuration and progress map (or the error).

use std::path::Path;

use super::datadriven::{run_file, TestCase};
use crate::confchange::Changer;
use crate::raftpb::{ConfChangeSingle, ConfChangeType};
use crate::tracker::{describe_progress_map, ProgressTracker};

/// Runs one confchange script; `Err` holds the diff. Each command bumps the
/// last index by one, so `next` shows in which step a peer was added.
pub fn run_confchange_script(path: &Path) -> Result<(), String> {
    run_file(path, confchange_handler())
}

/// The handler [`run_confchange_script`] feeds each command to, starting
/// from an empty tracker; exposed so a script's output can be regenerated.
pub fn confchange_handler() -> impl FnMut(&TestCase) -> String {
    let mut trk = ProgressTracker::new(10, 0);
    let mut last_index = 0;
    move |tc| {
        let out = handle(tc, &mut trk, last_index);
        last_index += 1;
        out
    }
}

fn parse_changes(input: &str) -> Result<Vec<ConfChangeSingle>, String> {
    let mut ccs = Vec::new();
    for tok in input.split_whitespace() {
        if tok.len() < 2 {
            return Err(format!("unknown token {tok}"));
        }
        let t = match tok.as_bytes()[0] {
            b'v' => ConfChangeType::ConfChangeAddNode,
            b'l' => ConfChangeType::ConfChangeAddLearnerNode,
            b'r' => ConfChangeType::ConfChangeRemoveNode,
            b'u' => ConfChangeType::ConfChangeUpdateNode,
            // Beyond etcd: a witness (docs/witness.md).
            b'w' => ConfChangeType::ConfChangeAddWitnessNode,
            _ => return Err(format!("unknown input: {tok}")),
        };
        let id = tok[1..].parse::<u64>().map_err(|e| format!("strconv.ParseUint: parsing {:?}: {e}", &tok[1..]))?;
        ccs.push(ConfChangeSingle { r#type: t as i32, node_id: id });
    }
    Ok(ccs)
}

fn handle(tc: &TestCase, trk: &mut ProgressTracker, last_index: u64) -> String {
    let ccs = match parse_changes(&tc.input) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let chg = Changer { tracker: trk, last_index };
    let res = match tc.cmd.as_str() {
        "simple" => chg.simple(&ccs),
        "enter-joint" => {
            let auto_leave = match tc.scan::<bool>("autoleave") {
                Ok(v) => v.unwrap_or(false),
                Err(e) => return e,
            };
            chg.enter_joint(auto_leave, &ccs)
        }
        "leave-joint" if !ccs.is_empty() => return "this command takes no input\n".to_string(),
        "leave-joint" => chg.leave_joint(),
        _ => return "unknown command".to_string(),
    };
    match res {
        Err(e) => format!("{e}\n"),
        Ok((cfg, prs)) => {
            trk.config = cfg;
            trk.progress = prs;
            format!("{}\n{}", trk.config, describe_progress_map(&trk.progress))
        }
    }
}
