//! The on-disk format of the file log: segment headers, frames (one per
//! write, one CRC over the whole write) and the group-tagged records inside
//! them (each with its own CRC, so a reader can check one record alone).
//!
//! ```text
//! segment = header frame*
//! header  = "PLOGSEG1" seq:u64                                   (16 bytes)
//! frame   = len:u32 crc:u32 body                 crc = CRC-32(body), len = |body|
//! body    = synced:u64 record*     synced = bytes of this segment fsynced before
//! record  = kind:u8 group:u64 len:u32 crc:u32 payload    crc = CRC-32(payload)
//! ```
//! All integers little endian. Payloads: entries are a run of
//! length-delimited `raftpb.Entry`; hard state is its protobuf encoding;
//! a snapshot is `reset:u8` (1: the whole log went) then the metadata's; a compaction mark is `index:u64 term:u64`; a
//! removal is empty; a checkpoint (written by purge: the group's whole
//! state, replacing everything before it) is `offset:u64 offset_term:u64`,
//! then the length-delimited hard state and snapshot metadata, then the
//! entries as in an entries record.

use bytes::Bytes;
use polyraft::raftpb::{Entry, HardState, SnapshotMetadata};
use prost::Message;

/// Magic opening every segment (format version 1).
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"PLOGSEG1";
/// Bytes of the segment header.
pub(crate) const SEGMENT_HEADER: usize = 16;
/// Bytes of a frame header (`len`, `crc`).
pub(crate) const FRAME_HEADER: usize = 8;
/// Bytes of a record header (`kind`, `group`, `len`, `crc`).
pub(crate) const RECORD_HEADER: usize = 17;
/// Frames larger than this are refused, by the writer and by recovery (a
/// damaged length must never make recovery allocate gigabytes).
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// Record kinds.
pub(crate) const K_ENTRIES: u8 = 1;
pub(crate) const K_HARD_STATE: u8 = 2;
pub(crate) const K_SNAPSHOT: u8 = 3;
pub(crate) const K_COMPACT: u8 = 4;
pub(crate) const K_REMOVE: u8 = 5;
pub(crate) const K_CHECKPOINT: u8 = 6;

/// A decoded record's meaning, as the index needs it (entry payloads are
/// not kept: only their terms).
#[derive(Debug, Clone)]
pub(crate) enum Rec {
    Entries { first: u64, terms: Vec<u64> },
    HardState(HardState),
    /// `reset`: the log did not hold the snapshot's index and term, so it
    /// was replaced by the snapshot (decided when written, replayed as
    /// decided); otherwise only the metadata was recorded.
    Snapshot { meta: SnapshotMetadata, reset: bool },
    Compact { index: u64, term: u64 },
    Remove,
    Checkpoint { offset: u64, offset_term: u64, hs: HardState, snap: SnapshotMetadata, first: u64, terms: Vec<u64> },
}

/// A segment header for sequence number `seq`.
pub(crate) fn segment_header(seq: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&seq.to_le_bytes());
    h
}

/// Builds one frame in a reusable buffer.
pub(crate) struct FrameBuf {
    pub(crate) buf: Vec<u8>,
}

impl FrameBuf {
    /// Starts a frame.
    pub(crate) fn new() -> FrameBuf {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(&[0u8; FRAME_HEADER + 8]);
        FrameBuf { buf }
    }

    /// Records that the first `synced` bytes of the segment the frame goes
    /// to are durable (set once the segment is known).
    pub(crate) fn set_synced(&mut self, synced: u64) {
        self.buf[FRAME_HEADER..FRAME_HEADER + 8].copy_from_slice(&synced.to_le_bytes());
    }

    /// Appends a record; `payload` writes its payload. Returns the record's
    /// offset within the frame and its total length.
    pub(crate) fn record(&mut self, kind: u8, group: u64, payload: impl FnOnce(&mut Vec<u8>)) -> (usize, usize) {
        let start = self.buf.len();
        self.buf.push(kind);
        self.buf.extend_from_slice(&group.to_le_bytes());
        self.buf.extend_from_slice(&[0u8; 8]);
        let p0 = self.buf.len();
        payload(&mut self.buf);
        let plen = (self.buf.len() - p0) as u32;
        let crc = crc32fast::hash(&self.buf[p0..]);
        self.buf[start + 9..start + 13].copy_from_slice(&plen.to_le_bytes());
        self.buf[start + 13..start + 17].copy_from_slice(&crc.to_le_bytes());
        (start, self.buf.len() - start)
    }

    /// Fills in the frame header; the buffer is then ready to write.
    pub(crate) fn finish(&mut self) -> &[u8] {
        let len = (self.buf.len() - FRAME_HEADER) as u32;
        let crc = crc32fast::hash(&self.buf[FRAME_HEADER..]);
        self.buf[0..4].copy_from_slice(&len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        &self.buf
    }

    /// Whether the frame holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.len() == FRAME_HEADER + 8
    }
}

/// Writes entries as length-delimited protobufs.
pub(crate) fn put_entries(out: &mut Vec<u8>, ents: &[Entry]) {
    for e in ents {
        e.encode_length_delimited(out).expect("a Vec grows");
    }
}

/// Writes a compaction mark.
pub(crate) fn put_compact(out: &mut Vec<u8>, index: u64, term: u64) {
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&term.to_le_bytes());
}

/// Writes a checkpoint's payload.
pub(crate) fn put_checkpoint(
    out: &mut Vec<u8>,
    offset: u64,
    offset_term: u64,
    hs: &HardState,
    snap: &SnapshotMetadata,
    ents: &[Entry],
) {
    put_compact(out, offset, offset_term);
    hs.encode_length_delimited(out).expect("a Vec grows");
    snap.encode_length_delimited(out).expect("a Vec grows");
    put_entries(out, ents);
}

/// Why a frame could not be read.
#[derive(Debug)]
pub(crate) enum BadFrame {
    /// Fewer bytes left than the frame needs: a write cut short.
    Incomplete(String),
    /// The bytes are all there but wrong.
    Corrupt(String),
}

impl BadFrame {
    pub(crate) fn reason(&self) -> &str {
        match self {
            BadFrame::Incomplete(s) | BadFrame::Corrupt(s) => s,
        }
    }
}

/// One record inside a frame: where it is (offset within the segment,
/// total length) and its header fields.
#[derive(Debug)]
pub(crate) struct RawRecord<'a> {
    pub(crate) kind: u8,
    pub(crate) group: u64,
    pub(crate) payload: &'a [u8],
    /// Offset of the record within the buffer given to [`parse_frame`].
    pub(crate) at: usize,
    pub(crate) len: usize,
}

/// A parsed frame: its `synced` field, its records and its total length.
pub(crate) struct Frame<'a> {
    pub(crate) synced: u64,
    pub(crate) records: Vec<RawRecord<'a>>,
    pub(crate) len: usize,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The length a frame starting at `buf[at..]` claims (header included),
/// if its header is there.
pub(crate) fn claimed_len(buf: &[u8], at: usize) -> Option<usize> {
    (buf.len() >= at + FRAME_HEADER).then(|| FRAME_HEADER + u32_at(buf, at) as usize)
}

/// Parses the frame starting at `buf[at..]`, checking its CRC and the
/// framing of every record in it (record CRCs included).
pub(crate) fn parse_frame(buf: &[u8], at: usize) -> Result<Frame<'_>, BadFrame> {
    let left = buf.len() - at;
    if left < FRAME_HEADER {
        return Err(BadFrame::Incomplete(format!("{left} bytes left, less than a frame header")));
    }
    let len = u32_at(buf, at) as usize;
    let crc = u32_at(buf, at + 4);
    if !(8..=MAX_FRAME).contains(&len) {
        return Err(BadFrame::Corrupt(format!("frame length {len} out of range")));
    }
    if len > left - FRAME_HEADER {
        return Err(BadFrame::Incomplete(format!(
            "frame of {len} bytes but only {} bytes left in the segment",
            left - FRAME_HEADER
        )));
    }
    let body = &buf[at + FRAME_HEADER..at + FRAME_HEADER + len];
    if crc32fast::hash(body) != crc {
        return Err(BadFrame::Corrupt("frame checksum mismatch".into()));
    }
    let synced = u64_at(body, 0);
    let mut records = Vec::new();
    let mut p = 8;
    while p < body.len() {
        if body.len() - p < RECORD_HEADER {
            return Err(BadFrame::Corrupt("truncated record header inside a frame".into()));
        }
        let kind = body[p];
        let group = u64_at(body, p + 1);
        let plen = u32_at(body, p + 9) as usize;
        let rcrc = u32_at(body, p + 13);
        if plen > body.len() - p - RECORD_HEADER {
            return Err(BadFrame::Corrupt("record longer than its frame".into()));
        }
        let payload = &body[p + RECORD_HEADER..p + RECORD_HEADER + plen];
        if crc32fast::hash(payload) != rcrc {
            return Err(BadFrame::Corrupt("record checksum mismatch".into()));
        }
        let total = RECORD_HEADER + plen;
        records.push(RawRecord { kind, group, payload, at: at + FRAME_HEADER + p, len: total });
        p += total;
    }
    Ok(Frame { synced, records, len: FRAME_HEADER + len })
}

/// Checks one record read back alone (`buf` is the record, header
/// included) and returns its kind and payload.
pub(crate) fn check_record(buf: &[u8]) -> Result<(u8, &[u8]), String> {
    if buf.len() < RECORD_HEADER {
        return Err("record shorter than its header".into());
    }
    let plen = u32_at(buf, 9) as usize;
    if plen != buf.len() - RECORD_HEADER {
        return Err("record length does not match the index".into());
    }
    let payload = &buf[RECORD_HEADER..];
    if crc32fast::hash(payload) != u32_at(buf, 13) {
        return Err("record checksum mismatch".into());
    }
    Ok((buf[0], payload))
}

/// Decodes a run of length-delimited entries; they must be contiguous.
pub(crate) fn decode_entries(p: &[u8]) -> Result<Vec<Entry>, String> {
    use bytes::Buf;
    let mut out: Vec<Entry> = Vec::new();
    // Payload bytes are copied once into a shared buffer; prost slices each
    // entry's data out of it without another copy.
    let mut b = Bytes::copy_from_slice(p);
    while b.has_remaining() {
        let e = Entry::decode_length_delimited(&mut b).map_err(|e| format!("bad entry: {e}"))?;
        if let Some(prev) = out.last() {
            if Some(e.index) != prev.index.checked_add(1) {
                return Err(format!("entries not contiguous ({} after {})", e.index, prev.index));
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// Decodes a checkpoint's payload.
pub(crate) fn decode_checkpoint(p: &[u8]) -> Result<(u64, u64, HardState, SnapshotMetadata, Vec<Entry>), String> {
    if p.len() < 16 {
        return Err("checkpoint too short".into());
    }
    let (offset, offset_term) = (u64_at(p, 0), u64_at(p, 8));
    let mut rest = &p[16..];
    let hs = HardState::decode_length_delimited(&mut rest).map_err(|e| format!("bad hard state: {e}"))?;
    let snap = SnapshotMetadata::decode_length_delimited(&mut rest).map_err(|e| format!("bad snapshot metadata: {e}"))?;
    let ents = decode_entries(rest)?;
    if let Some(e) = ents.first() {
        if e.index != offset.wrapping_add(1) {
            return Err(format!("checkpoint entries start at {} after offset {offset}", e.index));
        }
    }
    Ok((offset, offset_term, hs, snap, ents))
}

/// Decodes a record into what the index keeps.
pub(crate) fn decode_rec(kind: u8, p: &[u8]) -> Result<Rec, String> {
    let terms = |ents: &[Entry]| ents.iter().map(|e| e.term).collect::<Vec<_>>();
    Ok(match kind {
        K_ENTRIES => {
            let ents = decode_entries(p)?;
            let first = ents.first().ok_or("empty entries record")?.index;
            Rec::Entries { first, terms: terms(&ents) }
        }
        K_HARD_STATE => Rec::HardState(HardState::decode(p).map_err(|e| format!("bad hard state: {e}"))?),
        K_SNAPSHOT => {
            let (&reset, meta) = p.split_first().ok_or("empty snapshot record")?;
            if reset > 1 {
                return Err("bad snapshot reset flag".into());
            }
            let meta = SnapshotMetadata::decode(meta).map_err(|e| format!("bad snapshot metadata: {e}"))?;
            Rec::Snapshot { meta, reset: reset == 1 }
        }
        K_COMPACT => {
            if p.len() != 16 {
                return Err("bad compaction mark".into());
            }
            Rec::Compact { index: u64_at(p, 0), term: u64_at(p, 8) }
        }
        K_REMOVE => {
            if !p.is_empty() {
                return Err("bad removal record".into());
            }
            Rec::Remove
        }
        K_CHECKPOINT => {
            let (offset, offset_term, hs, snap, ents) = decode_checkpoint(p)?;
            Rec::Checkpoint { offset, offset_term, hs, snap, first: offset + 1, terms: terms(&ents) }
        }
        k => return Err(format!("unknown record kind {k}")),
    })
}

/// The entries a record holds (entries or checkpoint records).
pub(crate) fn record_entries(kind: u8, p: &[u8]) -> Result<Vec<Entry>, String> {
    match kind {
        K_ENTRIES => decode_entries(p),
        K_CHECKPOINT => Ok(decode_checkpoint(p)?.4),
        k => Err(format!("record of kind {k} holds no entries")),
    }
}
