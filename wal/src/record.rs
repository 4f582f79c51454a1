//! Record framing of the write-ahead log.
//!
//! A record is `[len: u32 LE][crc: u32 LE][type: u8][payload: len bytes]`.
//! The CRC-32 (IEEE) covers the type byte and the payload, so a record whose
//! type or payload changed is caught; a damaged length is caught too, because
//! it makes the checksum run over the wrong bytes (or past the end of file).
//! Every record stands alone (no chaining between records): recovery can
//! say exactly which record is the first bad one, and everything from it on
//! is untrusted.

use polyraft::raftpb::{self, Entry, HardState};

/// Bytes before the payload: length, checksum, type.
pub(crate) const FRAME_HEADER: usize = 9;

/// Written first in every segment so that a file of another kind (or
/// another version of this format) is refused rather than misread.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"PRAFTWL1";

/// One logical record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// First record of every segment. `base_index`/`base_term` name the log
    /// entry just before the segment's first entry: if every older segment
    /// was deleted by compaction, replay starts from there.
    SegmentHeader { seq: u64, base_index: u64, base_term: u64 },
    /// The HardState from now on.
    HardState(HardState),
    /// Contiguous entries; they replace every stored entry from the first
    /// one's index on (this is the log truncation on conflict).
    Entries(Vec<Entry>),
    /// Entries before `index` are discarded; `index` has term `term`.
    Compact { index: u64, term: u64 },
    /// The snapshot file `(index, term)` is the current snapshot. With
    /// `reset` (a snapshot received from the leader) the log is also
    /// replaced by an empty log starting after the snapshot.
    Snapshot { index: u64, term: u64, reset: bool },
    /// The first `len` bytes of this segment were fsynced before this record
    /// was written. Written at the start of the first write after an fsync,
    /// it lets recovery tell a damaged fsynced record (followed by one of
    /// these naming a larger length) from a torn write.
    Synced { len: u64 },
}

/// Indexes above this are refused as corrupt, so that index arithmetic on
/// replayed data (`index + 1`, lengths) can never overflow: no real log
/// gets anywhere near 2^62 entries.
pub(crate) const MAX_INDEX: u64 = 1 << 62;

const T_HEADER: u8 = 1;
const T_HARD_STATE: u8 = 2;
const T_ENTRIES: u8 = 3;
const T_COMPACT: u8 = 4;
const T_SNAPSHOT: u8 = 5;
const T_SYNCED: u8 = 6;

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The file ends inside the record: what a crash during an append
    /// leaves behind.
    Incomplete(String),
    /// The bytes are all there but wrong (checksum mismatch, unknown type,
    /// undecodable payload).
    Corrupt(String),
}

impl Bad {
    pub(crate) fn reason(&self) -> &str {
        match self {
            Bad::Incomplete(r) | Bad::Corrupt(r) => r,
        }
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends the framed encoding of `rec` to `out`.
pub(crate) fn encode(rec: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    // Reserve the length and checksum; filled in once the payload is known.
    out.extend_from_slice(&[0u8; 8]);
    match rec {
        Record::SegmentHeader { seq, base_index, base_term } => {
            out.push(T_HEADER);
            out.extend_from_slice(SEGMENT_MAGIC);
            put_u64(out, *seq);
            put_u64(out, *base_index);
            put_u64(out, *base_term);
        }
        Record::HardState(hs) => {
            out.push(T_HARD_STATE);
            put_u64(out, hs.term);
            put_u64(out, hs.vote);
            put_u64(out, hs.commit);
        }
        Record::Entries(ents) => {
            out.push(T_ENTRIES);
            for e in ents {
                let b = raftpb::encode(e);
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                out.extend_from_slice(&b);
            }
        }
        Record::Compact { index, term } => {
            out.push(T_COMPACT);
            put_u64(out, *index);
            put_u64(out, *term);
        }
        Record::Snapshot { index, term, reset } => {
            out.push(T_SNAPSHOT);
            put_u64(out, *index);
            put_u64(out, *term);
            out.push(u8::from(*reset));
        }
        Record::Synced { len } => {
            out.push(T_SYNCED);
            put_u64(out, *len);
        }
    }
    let len = (out.len() - start - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the record at the start of `buf` (which must not be empty);
/// returns it with the number of bytes it took.
pub(crate) fn decode(buf: &[u8]) -> Result<(Record, usize), Bad> {
    if buf.len() < FRAME_HEADER {
        return Err(Bad::Incomplete(format!("{} bytes left, less than a record header", buf.len())));
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    // Compared against what is left (not allocated), so a damaged length
    // can never make us allocate or read out of bounds.
    if len > buf.len() - FRAME_HEADER {
        return Err(Bad::Incomplete(format!(
            "record of {len} bytes but only {} bytes left in the file",
            buf.len() - FRAME_HEADER
        )));
    }
    let body = &buf[8..FRAME_HEADER + len];
    if crc32fast::hash(body) != crc {
        return Err(Bad::Corrupt("checksum mismatch".into()));
    }
    let rec = decode_body(body[0], &body[1..]).map_err(Bad::Corrupt)?;
    Ok((rec, FRAME_HEADER + len))
}

/// Reads fixed-size little-endian integers off a payload.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> Result<u64, String> {
        if self.0.len() < 8 {
            return Err("payload too short".into());
        }
        let (h, t) = self.0.split_at(8);
        self.0 = t;
        Ok(u64::from_le_bytes(h.try_into().expect("8 bytes")))
    }
    fn u8(&mut self) -> Result<u8, String> {
        let (&b, t) = self.0.split_first().ok_or("payload too short")?;
        self.0 = t;
        Ok(b)
    }
    fn end(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes in payload".into())
        }
    }
}

fn decode_body(t: u8, p: &[u8]) -> Result<Record, String> {
    let mut r = Reader(p);
    let rec = match t {
        T_HEADER => {
            if p.len() < 8 || &p[..8] != SEGMENT_MAGIC {
                return Err("bad segment magic (not a polyraft WAL segment, or another version)".into());
            }
            r.0 = &p[8..];
            Record::SegmentHeader { seq: r.u64()?, base_index: r.u64()?, base_term: r.u64()? }
        }
        T_HARD_STATE => Record::HardState(HardState { term: r.u64()?, vote: r.u64()?, commit: r.u64()? }),
        T_ENTRIES => {
            let mut ents: Vec<Entry> = Vec::new();
            let mut rest = p;
            while !rest.is_empty() {
                if rest.len() < 4 {
                    return Err("truncated entry length".into());
                }
                let n = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                if n > rest.len() - 4 {
                    return Err("entry longer than its record".into());
                }
                let e: Entry = raftpb::decode(&rest[4..4 + n]).map_err(|e| e.to_string())?;
                if e.index == 0 || e.index > MAX_INDEX {
                    return Err(format!("entry index {} out of range", e.index));
                }
                if let Some(prev) = ents.last() {
                    if e.index != prev.index + 1 {
                        return Err(format!("entries not contiguous ({} after {})", e.index, prev.index));
                    }
                }
                ents.push(e);
                rest = &rest[4 + n..];
            }
            if ents.is_empty() {
                return Err("empty entries record".into());
            }
            r.0 = rest;
            Record::Entries(ents)
        }
        T_COMPACT => Record::Compact { index: r.u64()?, term: r.u64()? },
        T_SNAPSHOT => Record::Snapshot {
            index: r.u64()?,
            term: r.u64()?,
            reset: match r.u8()? {
                0 => false,
                1 => true,
                b => return Err(format!("bad reset flag {b}")),
            },
        },
        T_SYNCED => Record::Synced { len: r.u64()? },
        other => return Err(format!("unknown record type {other}")),
    };
    r.end()?;
    let index = match &rec {
        Record::SegmentHeader { base_index, .. } => *base_index,
        Record::Compact { index, .. } | Record::Snapshot { index, .. } => *index,
        _ => 0,
    };
    if index > MAX_INDEX {
        return Err(format!("index {index} out of range"));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn all() -> Vec<Record> {
        vec![
            Record::SegmentHeader { seq: 3, base_index: 10, base_term: 2 },
            Record::HardState(HardState { term: 1, vote: 2, commit: 3 }),
            Record::Entries(vec![
                Entry { index: 5, term: 1, data: Bytes::from_static(b"x"), ..Default::default() },
                Entry { index: 6, term: 2, ..Default::default() },
            ]),
            Record::Compact { index: 4, term: 1 },
            Record::Snapshot { index: 9, term: 3, reset: true },
            Record::Synced { len: 77 },
        ]
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        for r in all() {
            encode(&r, &mut buf);
        }
        let mut at = 0;
        for want in all() {
            let (got, n) = decode(&buf[at..]).unwrap();
            assert_eq!(got, want);
            at += n;
        }
        assert_eq!(at, buf.len());
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        for r in all() {
            let mut buf = Vec::new();
            encode(&r, &mut buf);
            for cut in 1..buf.len() {
                assert!(matches!(decode(&buf[..cut]), Err(Bad::Incomplete(_))), "cut {cut} of {r:?}");
            }
            for bit in 0..buf.len() * 8 {
                let mut b = buf.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                assert!(decode(&b).is_err(), "flip {bit} of {r:?}");
            }
        }
    }

    #[test]
    fn zeros_are_not_a_record() {
        assert!(decode(&[0u8; 64]).is_err());
    }
}
