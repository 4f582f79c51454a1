//! Segment files: naming, reading with the first-bad-record rule, and the
//! appending writer.
//!
//! A segment is named `{seq:016x}-{first_index:016x}.wal`: the sequence
//! number orders the segments (a missing one is detected) and the first
//! index tells compaction, without reading the file, which entries the
//! older segments can hold. New segments are written under a `.tmp` name,
//! fsynced and renamed, so a `.wal` file always starts with a complete
//! header.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::record::{self, Bad, Record};
use super::{io_err, Error, Stats};

/// A segment file on disk.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    pub seq: u64,
    /// Index of the first entry the segment may hold (last index + 1 when
    /// it was created).
    pub first_index: u64,
    pub path: PathBuf,
}

pub(crate) fn file_name(seq: u64, first_index: u64) -> String {
    format!("{seq:016x}-{first_index:016x}.wal")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    parse_hex_pair(name, ".wal")
}

/// Parses `{a:016x}-{b:016x}{suffix}`, the naming of segment and snapshot
/// files (fixed width, so names sort in numeric order).
pub(crate) fn parse_hex_pair(name: &str, suffix: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(suffix)?;
    let (a, b) = stem.split_once('-')?;
    if a.len() != 16 || b.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
}

/// The segments in `dir`, by sequence number. Gaps in the sequence are an
/// error: a segment in the middle of the log was lost.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>, Error> {
    let mut segs = Vec::new();
    for de in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let de = de.map_err(io_err("list", dir))?;
        if let Some((seq, first_index)) = de.file_name().to_str().and_then(parse_name) {
            segs.push(SegmentFile { seq, first_index, path: de.path() });
        }
    }
    segs.sort_by_key(|s| s.seq);
    for w in segs.windows(2) {
        if w[1].seq != w[0].seq + 1 {
            return Err(Error::Corrupt {
                file: w[1].path.clone(),
                offset: 0,
                reason: format!("segment {} is missing before this one", w[0].seq + 1),
            });
        }
    }
    Ok(segs)
}

/// What reading a segment found: the records up to the first bad one.
pub(crate) struct Scan {
    /// Each record with the offset it starts at.
    pub records: Vec<(Record, u64)>,
    /// Length of the valid prefix.
    pub valid_len: u64,
    /// File length.
    pub file_len: u64,
    /// The first bad record, if any (at `valid_len`).
    pub bad: Option<Bad>,
    /// A length beyond the bad record that a later `Synced` record says was
    /// fsynced.
    pub synced_past_bad: Option<u64>,
}

/// Reads a whole segment, decoding records until the end or the first bad
/// one. Never fails on content, only on I/O.
pub(crate) fn scan(path: &Path) -> Result<Scan, Error> {
    let buf = fs::read(path).map_err(io_err("read", path))?;
    let mut records = Vec::new();
    let mut at = 0usize;
    let mut bad = None;
    while at < buf.len() {
        match record::decode(&buf[at..]) {
            Ok((rec, n)) => {
                records.push((rec, at as u64));
                at += n;
            }
            Err(b) => {
                bad = Some(b);
                break;
            }
        }
    }
    // Past a bad record whose length field still fits, look for a later
    // `Synced` record proving the bad one had been fsynced: then it is
    // damage to acknowledged data, not a torn write.
    let mut synced_past_bad = None;
    if bad.is_some() && buf.len() - at >= record::FRAME_HEADER {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        let mut next = at + record::FRAME_HEADER + len.min(buf.len());
        while next < buf.len() {
            let Ok((rec, n)) = record::decode(&buf[next..]) else { break };
            if let Record::Synced { len } = rec {
                if len > at as u64 {
                    synced_past_bad = Some(len);
                }
            }
            next += n;
        }
    }
    Ok(Scan { records, valid_len: at as u64, file_len: buf.len() as u64, bad, synced_past_bad })
}

/// fsync of a file's data (and the size, which `fdatasync` includes).
pub(crate) fn sync_file(f: &File, path: &Path, stats: &mut Stats) -> Result<(), Error> {
    stats.fsyncs += 1;
    f.sync_data().map_err(io_err("fsync", path))
}

/// Creates `dir/name` holding `buf` atomically: written to a temporary
/// file, fsynced, renamed into place, then the directory fsynced, so a
/// crash leaves either no file or the whole one. Returns the open file.
pub(crate) fn write_atomically(dir: &Path, name: &str, buf: &[u8], stats: &mut Stats) -> Result<File, Error> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f =
        OpenOptions::new().create(true).truncate(true).write(true).open(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(buf).map_err(io_err("write", &tmp))?;
    sync_file(&f, &tmp, stats)?;
    fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
    sync_dir(dir, stats)?;
    stats.bytes_written += buf.len() as u64;
    Ok(f)
}

/// fsync of a directory, which makes creations, renames and deletions in it
/// durable.
pub(crate) fn sync_dir(dir: &Path, stats: &mut Stats) -> Result<(), Error> {
    stats.fsyncs += 1;
    stats.dir_fsyncs += 1;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("fsync directory", dir))
}

/// Cuts `path` to `len` bytes (dropping a torn tail) and syncs it.
pub(crate) fn truncate(path: &Path, len: u64, stats: &mut Stats) -> Result<(), Error> {
    let f = OpenOptions::new().write(true).open(path).map_err(io_err("open", path))?;
    f.set_len(len).map_err(io_err("truncate", path))?;
    sync_file(&f, path, stats)
}

/// The segment being appended to.
pub(crate) struct Writer {
    pub file: File,
    pub seg: SegmentFile,
    /// Bytes in the file.
    pub len: u64,
    /// Whether bytes were written since the last fsync.
    pub dirty: bool,
    /// A `Synced` record is owed: an fsync happened since the last one.
    pub owe_synced: bool,
}

impl Writer {
    /// Creates segment `seq` holding `header` (a SegmentHeader and the state
    /// a replay starting here needs) atomically: write a temporary file,
    /// fsync, rename, fsync the directory.
    pub(crate) fn create(
        dir: &Path,
        seq: u64,
        first_index: u64,
        header: &[Record],
        stats: &mut Stats,
    ) -> Result<Writer, Error> {
        let name = file_name(seq, first_index);
        let path = dir.join(&name);
        let mut buf = Vec::new();
        for r in header {
            record::encode(r, &mut buf);
        }
        let f = write_atomically(dir, &name, &buf, stats)?;
        Ok(Writer {
            file: f,
            seg: SegmentFile { seq, first_index, path },
            len: buf.len() as u64,
            dirty: false,
            owe_synced: false,
        })
    }

    /// Reopens an existing (recovered) segment to append at `len`. It is
    /// fsynced first: what was read may still have been only in the page
    /// cache (a process crash before its fsync), and nothing may be built
    /// on state that a power cut could still take back.
    pub(crate) fn open(seg: SegmentFile, len: u64, stats: &mut Stats) -> Result<Writer, Error> {
        let f = OpenOptions::new().append(true).open(&seg.path).map_err(io_err("open", &seg.path))?;
        sync_file(&f, &seg.path, stats)?;
        Ok(Writer { file: f, seg, len, dirty: false, owe_synced: true })
    }

    /// Appends bytes (not yet durable), led by a `Synced` record when one
    /// is owed.
    pub(crate) fn write(&mut self, buf: &[u8], stats: &mut Stats) -> Result<(), Error> {
        let mut owed = Vec::new();
        if self.owe_synced {
            record::encode(&Record::Synced { len: self.len }, &mut owed);
            self.owe_synced = false;
        }
        let buf = if owed.is_empty() {
            buf
        } else {
            owed.extend_from_slice(buf);
            &owed[..]
        };
        self.dirty = true;
        self.file.write_all(buf).map_err(io_err("write", &self.seg.path))?;
        self.len += buf.len() as u64;
        stats.bytes_written += buf.len() as u64;
        Ok(())
    }

    /// Makes everything written durable (no-op when nothing was written).
    pub(crate) fn sync(&mut self, stats: &mut Stats) -> Result<(), Error> {
        if self.dirty {
            sync_file(&self.file, &self.seg.path, stats)?;
            self.dirty = false;
            self.owe_synced = true;
        }
        Ok(())
    }
}

/// Whether `io` is "not found" (a file someone already removed).
pub(crate) fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = file_name(7, 0x1234);
        assert_eq!(parse_name(&n), Some((7, 0x1234)));
        assert_eq!(parse_name("0000000000000007-0000000000001234.wal.tmp"), None);
        assert_eq!(parse_name("x-y.wal"), None);
    }
}
