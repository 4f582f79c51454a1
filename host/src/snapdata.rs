//! Snapshot data kept in files instead of in memory.
//!
//! A state machine's snapshot can be many GiB, so a host with a file
//! snapshot store never holds one whole: the state machine writes its
//! snapshot straight into a data file, the network streams that file, the
//! receiver writes the chunks into a file of its own, and `restore` reads
//! from it. What travels inside raft (the `data` of the raftpb Snapshot
//! that raft keeps, sends in MsgSnap and hands back in a Ready) is then a
//! small [`DataRef`] naming the file.
//!
//! A reference starts with [`MAGIC`], 8 bytes that, read as the length
//! prefix of inline snapshot data (see `Replica::write_snapshot_data`),
//! would announce more than 5 exabytes: inline data can never look like a
//! reference.

use std::io::{self, Read, Write};

use bytes::{Buf, Bytes};

use crate::codec::{get_u64, put_u64};

/// The first 8 bytes of every encoded [`DataRef`].
pub const MAGIC: [u8; 8] = [0xff, 0xff, 0xff, 0xff, b'P', b'R', b'S', b'R'];

/// Names one snapshot data file of a group and says what it must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataRef {
    /// The snapshot's log index.
    pub index: u64,
    /// Distinguishes two files of the same index (one taken locally, one
    /// received), so that writing one never clobbers the other.
    pub nonce: u64,
    /// Length of the data in bytes.
    pub size: u64,
    /// CRC-32 (IEEE) of the data.
    pub crc: u32,
}

impl DataRef {
    /// The encoding that replaces the data in a raftpb Snapshot.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(36);
        out.extend_from_slice(&MAGIC);
        put_u64(&mut out, self.index);
        put_u64(&mut out, self.nonce);
        put_u64(&mut out, self.size);
        out.extend_from_slice(&self.crc.to_le_bytes());
        Bytes::from(out)
    }

    /// Decodes snapshot data that is a reference; `None` for inline data.
    pub fn decode(data: &Bytes) -> Option<DataRef> {
        if data.len() != 36 || data[..8] != MAGIC {
            return None;
        }
        let mut b = data.slice(8..);
        let (index, nonce, size) = (get_u64(&mut b)?, get_u64(&mut b)?, get_u64(&mut b)?);
        Some(DataRef { index, nonce, size, crc: b.get_u32_le() })
    }
}

/// A snapshot data file being written. Dropped without
/// [`DataWriter::commit`], it removes what it wrote.
pub trait DataWriter: Write + Send {
    /// Makes the data durable under its final name and returns the encoded
    /// [`DataRef`] to put in the snapshot.
    fn commit(self: Box<Self>) -> Result<Bytes, String>;
}

/// Counts and checksums what passes through a reader, and checks both
/// against a [`DataRef`] when the data is exhausted.
pub(crate) struct CheckedReader<R> {
    inner: R,
    want: DataRef,
    read: u64,
    crc: crc32fast::Hasher,
}

impl<R: Read> CheckedReader<R> {
    pub fn new(inner: R, want: DataRef) -> Self {
        CheckedReader { inner, want, read: 0, crc: crc32fast::Hasher::new() }
    }

    /// Reads what the consumer left and verifies size and checksum.
    pub fn finish(mut self) -> Result<(), String> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| format!("reading snapshot data: {e}"))?;
        if self.read != self.want.size {
            return Err(format!("snapshot data is {} bytes, expected {}", self.read, self.want.size));
        }
        if self.crc.clone().finalize() != self.want.crc {
            return Err("snapshot data checksum mismatch".into());
        }
        Ok(())
    }
}

impl<R: Read> Read for CheckedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never past the announced size: a longer file is damage, reported
        // by `finish` as a size mismatch rather than fed to the state
        // machine.
        let left = self.want.size.saturating_sub(self.read);
        let cap = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if cap == 0 {
            // Probe one byte to detect a file longer than announced.
            let mut one = [0u8; 1];
            let n = self.inner.read(&mut one)?;
            self.read += n as u64;
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..cap])?;
        self.crc.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data longer than announced is reported with its real size, the
    /// extra byte the probe read included.
    #[test]
    fn data_longer_than_announced_is_reported_with_its_size() {
        let data = vec![7u8; 10];
        let want = DataRef { index: 1, nonce: 2, size: 9, crc: crc32fast::hash(&data[..9]) };
        let mut r = CheckedReader::new(&data[..], want);
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).unwrap();
        assert_eq!(buf.len(), 9, "never past the announced size");
        assert_eq!(r.finish(), Err("snapshot data is 10 bytes, expected 9".to_string()));
        let r = CheckedReader::new(&data[..9], want);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn references_round_trip_and_inline_data_is_never_one() {
        let r = DataRef { index: 7, nonce: 9, size: 1 << 33, crc: 0xdead_beef };
        assert_eq!(DataRef::decode(&r.encode()), Some(r));
        assert_eq!(DataRef::decode(&Bytes::from_static(b"inline data")), None);
        let mut inline = r.encode().to_vec();
        inline.push(0);
        assert_eq!(DataRef::decode(&Bytes::from(inline)), None);
    }

    #[test]
    fn checked_reader_detects_damage() {
        let data = b"hello snapshot".to_vec();
        let good = DataRef { index: 1, nonce: 0, size: data.len() as u64, crc: crc32fast::hash(&data) };
        let mut r = CheckedReader::new(&data[..], good);
        let mut first = [0u8; 5];
        r.read_exact(&mut first).unwrap();
        assert!(r.finish().is_ok());
        let bad = DataRef { crc: good.crc ^ 1, ..good };
        assert!(CheckedReader::new(&data[..], bad).finish().unwrap_err().contains("checksum"));
        let short = DataRef { size: good.size - 1, ..good };
        assert!(CheckedReader::new(&data[..], short).finish().unwrap_err().contains("bytes"));
    }
}
