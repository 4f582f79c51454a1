//! Rebuilding the index from the segments on open, with the recovery rules
//! of the module docs: cut a torn tail in the newest segment, refuse damage
//! anywhere else.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::format::{self, BadFrame};
use super::index::{self, Groups};
use super::{io_err, segment_name, RecoveryReport, TornTail};
use crate::Error;

/// The outcome of a replay.
pub(super) struct Replayed {
    pub(super) groups: Groups,
    /// Every segment, open (the newest for writing).
    pub(super) segments: BTreeMap<u32, Arc<File>>,
    /// Length of the newest segment after any cut.
    pub(super) active_len: u64,
    pub(super) report: RecoveryReport,
}

/// Sequence numbers of the segment files in `dir`, ascending.
fn list(dir: &Path) -> Result<Vec<u32>, Error> {
    let mut seqs = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(io_err(format!("list {}", dir.display())))?;
    for ent in rd {
        let ent = ent.map_err(io_err(format!("list {}", dir.display())))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".plog.tmp") {
            // A segment whose creation a crash interrupted: never used.
            let p = ent.path();
            std::fs::remove_file(&p).map_err(io_err(format!("remove {}", p.display())))?;
            continue;
        }
        let Some(hex) = name.strip_suffix(".plog") else { continue };
        match u32::from_str_radix(hex, 16) {
            Ok(seq) if hex.len() == 16 => seqs.push(seq),
            _ => return Err(Error::Corrupt(format!("unexpected segment file name {name}"))),
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Replays every segment of `dir`.
pub(super) fn replay(dir: &Path) -> Result<Replayed, Error> {
    let seqs = list(dir)?;
    for pair in seqs.windows(2) {
        if pair[1] != pair[0] + 1 {
            return Err(Error::Corrupt(format!(
                "segment {} is missing (found {} then {})",
                segment_name(pair[0] + 1),
                segment_name(pair[0]),
                segment_name(pair[1])
            )));
        }
    }
    let mut out = Replayed {
        groups: Groups::default(),
        segments: BTreeMap::new(),
        active_len: 0,
        report: RecoveryReport::default(),
    };
    for (i, &seq) in seqs.iter().enumerate() {
        let newest = i + 1 == seqs.len();
        let path = dir.join(segment_name(seq));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(newest)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))?;
        let buf = std::fs::read(&path).map_err(io_err(format!("read {}", path.display())))?;
        let len = replay_segment(&mut out, seq, &path, &buf, newest, &file)?;
        if newest {
            out.active_len = len;
            // Whatever the previous process wrote but did not sync may
            // still be in the page cache: make it durable before building
            // on it.
            file.sync_data().map_err(io_err(format!("fdatasync {}", path.display())))?;
        }
        out.segments.insert(seq, Arc::new(file));
        out.report.segments += 1;
    }
    if let Some((g, fg)) = out.groups.iter().find(|(_, g)| g.broken) {
        return Err(Error::Corrupt(format!(
            "group {g}: its log has a gap before index {} (a segment's records are missing)",
            fg.log.first_index()
        )));
    }
    out.report.groups = out.groups.len() as u64;
    Ok(out)
}

/// Replays one segment; returns its valid length (after cutting a torn
/// tail off the newest one).
fn replay_segment(out: &mut Replayed, seq: u32, path: &Path, buf: &[u8], newest: bool, file: &File) -> Result<u64, Error> {
    if buf.len() > u32::MAX as usize {
        // Offsets within a segment are 32-bit; the writer never makes one
        // this large.
        return Err(Error::Corrupt(format!("{}: segment larger than 4 GiB", path.display())));
    }
    let header = format::segment_header(u64::from(seq));
    if buf.len() < format::SEGMENT_HEADER || buf[..format::SEGMENT_HEADER] != header {
        // Headers are written whole before a segment gets its name.
        return Err(Error::Corrupt(format!("{}: bad segment header", path.display())));
    }
    let mut pos = format::SEGMENT_HEADER;
    while pos < buf.len() {
        match format::parse_frame(buf, pos) {
            Ok(frame) => {
                for r in &frame.records {
                    let rec = format::decode_rec(r.kind, r.payload).map_err(|why| {
                        Error::Corrupt(format!("{}: record at offset {}: {why}", path.display(), r.at))
                    })?;
                    index::apply(&mut out.groups, r.group, &rec, seq, r.at as u32, r.len as u32);
                    out.report.records += 1;
                }
                out.report.frames += 1;
                pos += frame.len;
            }
            Err(bad) => {
                let at = format!("{}: frame at offset {pos}: {}", path.display(), bad.reason());
                if !newest {
                    return Err(Error::Corrupt(format!("{at} (in a sealed segment)")));
                }
                if let Some(synced) = later_synced(buf, pos, &bad) {
                    if synced > pos as u64 {
                        return Err(Error::Corrupt(format!(
                            "{at}, but a later write says the first {synced} bytes were synced: acknowledged data is damaged"
                        )));
                    }
                }
                file.set_len(pos as u64)
                    .and_then(|()| file.sync_data())
                    .map_err(io_err(format!("cut torn tail of {}", path.display())))?;
                out.report.torn = Some(TornTail {
                    segment: path.to_path_buf(),
                    offset: pos as u64,
                    dropped: (buf.len() - pos) as u64,
                    reason: bad.reason().to_string(),
                });
                return Ok(pos as u64);
            }
        }
    }
    Ok(buf.len() as u64)
}

/// The largest `synced` field of the valid frames after a bad one (found
/// by skipping the bad frame by its claimed length), if any.
fn later_synced(buf: &[u8], pos: usize, bad: &BadFrame) -> Option<u64> {
    if let BadFrame::Incomplete(_) = bad {
        return None; // its length runs past the end: nothing follows
    }
    let mut p = pos.checked_add(format::claimed_len(buf, pos)?)?;
    let mut best = None;
    while p < buf.len() {
        let Ok(f) = format::parse_frame(buf, p) else { break };
        best = Some(best.unwrap_or(0).max(f.synced));
        p += f.len;
    }
    best
}
