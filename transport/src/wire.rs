//! The wire format (version [`VERSION`]); `proto/transport.proto` is the
//! reference.
//!
//! A stream starts with [`PREAMBLE`] (`"PLRAFT"` + big-endian u16 version).
//! Then every message is a *record*: a big-endian u32 length and that many
//! bytes of protobuf. The dialer sends a [`Hello`], the acceptor answers a
//! [`HelloReply`]; a FRAMES stream then carries [`Frame`]s, a SNAPSHOT stream
//! one [`SnapshotHeader`], [`SnapshotChunk`]s up to one with `last`, and one
//! [`SnapshotAck`] back.
//!
//! Compatibility: a new optional field may be added to any message within a
//! version (older readers skip unknown fields); anything that changes what
//! existing fields mean, or the record framing, takes a new version, and
//! hosts of different versions refuse each other at the preamble.
//!
//! The decoding functions here are pure (no I/O), so the fuzzer drives
//! exactly the code the connections run.

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::TransportError;
use crate::{GroupId, HostId};

#[allow(missing_docs, clippy::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/polyraft.transport.rs"));
}
pub use generated::{
    Frame, GroupMessage, Hello, HelloReply, SnapshotAck, SnapshotChunk, SnapshotHeader, StreamKind,
};

/// The protocol version this crate speaks.
pub const VERSION: u16 = 1;
/// The magic that opens every stream.
pub const MAGIC: &[u8; 6] = b"PLRAFT";
/// Bytes of the preamble: magic plus version.
pub const PREAMBLE_LEN: usize = 8;
/// The preamble this crate sends.
pub const PREAMBLE: [u8; PREAMBLE_LEN] = preamble(VERSION);
/// Handshake records (Hello, HelloReply, SnapshotAck) are small; a larger
/// one is refused whatever the frame limit, so an unauthenticated dialer
/// cannot make the acceptor allocate much.
pub const MAX_HANDSHAKE_RECORD: usize = 4096;
/// Bytes a record's length prefix takes.
pub const RECORD_HEADER_LEN: usize = 4;

const fn preamble(version: u16) -> [u8; PREAMBLE_LEN] {
    let v = version.to_be_bytes();
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], MAGIC[4], MAGIC[5], v[0], v[1]]
}

fn protocol(msg: impl Into<String>) -> TransportError {
    TransportError::Protocol(msg.into())
}

/// Checks a received preamble: the magic, then the version.
pub fn check_preamble(p: &[u8]) -> Result<(), TransportError> {
    if p.len() != PREAMBLE_LEN || &p[..6] != MAGIC {
        return Err(protocol("not a polyraft transport stream (bad magic)"));
    }
    let version = u16::from_be_bytes([p[6], p[7]]);
    if version != VERSION {
        return Err(protocol(format!("unsupported protocol version {version} (this host speaks {VERSION})")));
    }
    Ok(())
}

/// Parses a record length prefix and checks it against `limit`.
pub fn record_len(header: [u8; RECORD_HEADER_LEN], limit: usize) -> Result<usize, TransportError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > limit {
        return Err(protocol(format!("record of {len} bytes exceeds the limit of {limit}")));
    }
    Ok(len)
}

/// Encodes `msg` as a record (length prefix + protobuf).
pub fn encode_record(msg: &impl prost::Message) -> Vec<u8> {
    let len = msg.encoded_len();
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut out).expect("a Vec grows as needed");
    out
}

/// Decodes a record body as `M`.
pub fn decode_body<M: prost::Message + Default>(body: Bytes, what: &str) -> Result<M, TransportError> {
    M::decode(body).map_err(|e| protocol(format!("undecodable {what}: {e}")))
}

/// Decodes a frame body into its (group, raft message) pairs. A frame with no
/// message, or a message with no bytes, is a protocol error: the sender never
/// produces one.
pub fn decode_frame(body: Bytes) -> Result<Vec<(GroupId, Bytes)>, TransportError> {
    let frame: Frame = decode_body(body, "frame")?;
    if frame.messages.is_empty() {
        return Err(protocol("empty frame"));
    }
    frame
        .messages
        .into_iter()
        .map(|m| {
            if m.message.is_empty() {
                Err(protocol(format!("empty message for group {}", m.group)))
            } else {
                Ok((m.group, m.message))
            }
        })
        .collect()
}

/// Bytes one (group, message) pair adds to an encoded [`Frame`].
pub fn frame_entry_len(group: GroupId, message_len: usize) -> usize {
    use prost::encoding::encoded_len_varint;
    let inner = if group == 0 { 0 } else { 1 + encoded_len_varint(group) }
        + if message_len == 0 { 0 } else { 1 + encoded_len_varint(message_len as u64) + message_len };
    1 + encoded_len_varint(inner as u64) + inner
}

/// What an acceptor expects of a Hello.
#[derive(Clone, Debug)]
pub struct HelloPolicy {
    /// The acceptor's own host id.
    pub local_host: HostId,
    /// The acceptor's cluster id.
    pub cluster_id: u64,
}

/// Checks a Hello against the acceptor's policy (not the certificate: that is
/// [`crate::tls::verify_peer_host`]). Returns the claimed host and the kind.
pub fn check_hello(hello: &Hello, policy: &HelloPolicy) -> Result<(HostId, StreamKind), TransportError> {
    let refused = |m: String| Err(TransportError::Refused(m));
    if hello.from_host == 0 {
        return refused("host id 0 is not a host".into());
    }
    if hello.from_host == policy.local_host {
        return refused(format!("host {} dialed itself", hello.from_host));
    }
    if hello.to_host != policy.local_host {
        return refused(format!("this is host {}, not host {}", policy.local_host, hello.to_host));
    }
    if hello.cluster_id != policy.cluster_id {
        return refused(format!("cluster {} is not this host's cluster {}", hello.cluster_id, policy.cluster_id));
    }
    match StreamKind::try_from(hello.kind) {
        Ok(k @ (StreamKind::Frames | StreamKind::Snapshot)) => Ok((hello.from_host, k)),
        _ => refused(format!("unknown stream kind {}", hello.kind)),
    }
}

/// Reads the 8-byte preamble and checks it.
pub async fn read_preamble<R: AsyncRead + Unpin>(r: &mut R) -> Result<(), TransportError> {
    let mut p = [0u8; PREAMBLE_LEN];
    r.read_exact(&mut p).await?;
    check_preamble(&p)
}

/// Reads one record of at most `limit` bytes and returns its body.
pub async fn read_record<R: AsyncRead + Unpin>(r: &mut R, limit: usize) -> Result<Bytes, TransportError> {
    let mut h = [0u8; RECORD_HEADER_LEN];
    r.read_exact(&mut h).await?;
    read_record_body(r, record_len(h, limit)?).await
}

/// Reads a record body of `len` bytes (after its header).
pub async fn read_record_body<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> Result<Bytes, TransportError> {
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Bytes::from(body))
}

/// Writes `msg` as one record (not flushed).
pub async fn write_record<W: AsyncWrite + Unpin>(w: &mut W, msg: &impl prost::Message) -> Result<(), TransportError> {
    w.write_all(&encode_record(msg)).await?;
    Ok(())
}

/// Decodes a whole byte string as the handshake an acceptor would read:
/// preamble, then one Hello record, checked against `policy`. The fuzzer's
/// entry point for the handshake path.
pub fn decode_handshake(mut data: &[u8], policy: &HelloPolicy) -> Result<(HostId, StreamKind), TransportError> {
    if data.len() < PREAMBLE_LEN + RECORD_HEADER_LEN {
        return Err(protocol("truncated handshake"));
    }
    check_preamble(&data[..PREAMBLE_LEN])?;
    data.advance(PREAMBLE_LEN);
    let len = record_len([data[0], data[1], data[2], data[3]], MAX_HANDSHAKE_RECORD)?;
    data.advance(RECORD_HEADER_LEN);
    if data.len() < len {
        return Err(protocol("truncated hello"));
    }
    let hello: Hello = decode_body(Bytes::copy_from_slice(&data[..len]), "hello")?;
    check_hello(&hello, policy)
}

/// Decodes a byte string as a sequence of frame records, as an acceptor reads
/// them after the handshake: each record must be at most `limit` bytes and
/// decode as a valid frame. Returns the messages of the valid prefix and the
/// error that ended it, if any. The fuzzer's entry point for frames.
pub fn decode_frame_stream(mut data: &[u8], limit: usize) -> (Vec<(GroupId, Bytes)>, Option<TransportError>) {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < RECORD_HEADER_LEN {
            return (out, Some(protocol("truncated record header")));
        }
        let len = match record_len([data[0], data[1], data[2], data[3]], limit) {
            Ok(l) => l,
            Err(e) => return (out, Some(e)),
        };
        data.advance(RECORD_HEADER_LEN);
        if data.len() < len {
            return (out, Some(protocol("truncated record")));
        }
        match decode_frame(Bytes::copy_from_slice(&data[..len])) {
            Ok(ms) => out.extend(ms),
            Err(e) => return (out, Some(e)),
        }
        data.advance(len);
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn frame_entry_len_matches_prost() {
        for (g, n) in [(0u64, 0usize), (1, 1), (300, 127), (u64::MAX, 128), (7, 70_000)] {
            let f = Frame { messages: vec![GroupMessage { group: g, message: Bytes::from(vec![1u8; n]) }] };
            assert_eq!(f.encoded_len(), frame_entry_len(g, n), "group {g} len {n}");
        }
    }

    #[test]
    fn frame_stream_round_trip_and_errors() {
        let f = Frame { messages: vec![GroupMessage { group: 5, message: Bytes::from_static(b"m") }] };
        let mut data = encode_record(&f);
        data.extend(encode_record(&f));
        let (ms, err) = decode_frame_stream(&data, 1 << 20);
        assert!(err.is_none());
        assert_eq!(ms, vec![(5, Bytes::from_static(b"m")), (5, Bytes::from_static(b"m"))]);
        let (ms, err) = decode_frame_stream(&data[..data.len() - 1], 1 << 20);
        assert_eq!(ms.len(), 1);
        assert!(err.unwrap().to_string().contains("truncated"));
        let (_, err) = decode_frame_stream(&data, 2);
        assert!(err.unwrap().to_string().contains("exceeds the limit"));
        let (_, err) = decode_frame_stream(&encode_record(&Frame::default()), 1 << 20);
        assert!(err.unwrap().to_string().contains("empty frame"));
    }

    #[test]
    fn hello_policy() {
        let p = HelloPolicy { local_host: 2, cluster_id: 9 };
        let ok = Hello { from_host: 3, to_host: 2, cluster_id: 9, kind: StreamKind::Frames as i32 };
        assert_eq!(check_hello(&ok, &p).unwrap(), (3, StreamKind::Frames));
        for bad in [
            Hello { from_host: 0, ..ok },
            Hello { from_host: 2, ..ok },
            Hello { to_host: 4, ..ok },
            Hello { cluster_id: 8, ..ok },
            Hello { kind: 0, ..ok },
            Hello { kind: 77, ..ok },
        ] {
            assert!(matches!(check_hello(&bad, &p), Err(TransportError::Refused(_))), "{bad:?}");
        }
        let mut hs = PREAMBLE.to_vec();
        hs.extend(encode_record(&ok));
        assert!(decode_handshake(&hs, &p).is_ok());
        hs[7] = 2;
        assert!(decode_handshake(&hs, &p).unwrap_err().to_string().contains("version 2"));
    }
}
