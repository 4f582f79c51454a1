//! Snapshot files: `{index:016x}-{term:016x}.snap`, holding
//! `[magic 8][crc32 u32 LE][len u64 LE][protobuf Snapshot]`.
//!
//! Written atomically (temporary file, fsync, rename, fsync directory), so
//! a `.snap` file is either complete or absent after a crash. A snapshot
//! file only counts once a WAL record names it (see `storage.rs`): a file
//! whose record never made it to the log is an orphan and is removed.

use std::fs;
use std::path::{Path, PathBuf};

use super::segment::write_atomically;
use super::{io_err, Error, Stats};
use polyraft::raftpb::{self, Snapshot};

const MAGIC: &[u8; 8] = b"PRAFTSN1";
const HEADER: usize = 20;

pub(crate) fn file_name(index: u64, term: u64) -> String {
    format!("{index:016x}-{term:016x}.snap")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    super::segment::parse_hex_pair(name, ".snap")
}

/// Snapshot files in `dir` as `(index, term, path)`.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, u64, PathBuf)>, Error> {
    let mut v = Vec::new();
    for de in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let de = de.map_err(io_err("list", dir))?;
        if let Some((i, t)) = de.file_name().to_str().and_then(parse_name) {
            v.push((i, t, de.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// Writes `snap` durably under its name; returns the path.
pub(crate) fn write(dir: &Path, snap: &Snapshot, stats: &mut Stats) -> Result<PathBuf, Error> {
    let name = file_name(snap.index(), snap.term());
    let body = raftpb::encode(snap);
    let mut buf = Vec::with_capacity(HEADER + body.len());
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    buf.extend_from_slice(&(body.len() as u64).to_le_bytes());
    buf.extend_from_slice(&body);
    write_atomically(dir, &name, &buf, stats)?;
    Ok(dir.join(&name))
}

/// Reads and verifies the snapshot file `path`, which must hold snapshot
/// `(index, term)`.
pub(crate) fn read(path: &Path, index: u64, term: u64) -> Result<Snapshot, Error> {
    let buf = fs::read(path).map_err(io_err("read", path))?;
    let corrupt = |reason: &str| Error::Corrupt { file: path.to_path_buf(), offset: 0, reason: reason.to_string() };
    if buf.len() < HEADER || &buf[..8] != MAGIC {
        return Err(corrupt("not a polyraft snapshot file"));
    }
    let crc = u32::from_le_bytes(buf[8..12].try_into().expect("4 bytes"));
    let len = u64::from_le_bytes(buf[12..20].try_into().expect("8 bytes"));
    if len != (buf.len() - HEADER) as u64 {
        return Err(corrupt("snapshot length does not match the file"));
    }
    let body = &buf[HEADER..];
    if crc32fast::hash(body) != crc {
        return Err(corrupt("snapshot checksum mismatch"));
    }
    let snap: Snapshot = raftpb::decode(body).map_err(|e| corrupt(&e.to_string()))?;
    if snap.index() != index || snap.term() != term {
        return Err(corrupt("snapshot metadata does not match its name"));
    }
    Ok(snap)
}
