//! What the host writes in a normal entry's data: the client's command
//! wrapped with who proposed it (so that the proposing replica can complete
//! the waiting call when it applies the entry) and, for sessions, the
//! client's identity and series number (so that every replica deduplicates
//! the same way).
//!
//! Layout: kind byte, origin replica, proposal key, then per kind:
//! plain: command; session: client id, series, responded-to, command;
//! close-session: client id. Integers are 8 bytes little-endian. An empty
//! entry is the leader's no-op of a new term and carries nothing.

use bytes::Bytes;

use crate::codec::{get_u64, put_u64};

const KIND_PLAIN: u8 = 1;
const KIND_SESSION: u8 = 2;
const KIND_CLOSE_SESSION: u8 = 3;

/// Who proposed an entry: the replica and its proposal key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    pub replica: u64,
    pub key: u64,
}

/// A client's session fields carried by a session proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionTag {
    pub client: u64,
    pub series: u64,
    pub responded_to: u64,
}

/// A decoded normal entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Payload {
    /// A command without a session.
    Plain { origin: Origin, cmd: Bytes },
    /// A command within a session (deduplicated on apply).
    Session { origin: Origin, tag: SessionTag, cmd: Bytes },
    /// Forget a client's session state.
    CloseSession { origin: Origin, client: u64 },
}

/// Encodes a command without a session.
pub(crate) fn plain(origin: Origin, cmd: &[u8]) -> Bytes {
    let mut out = header(KIND_PLAIN, origin, cmd.len());
    out.extend_from_slice(cmd);
    Bytes::from(out)
}

/// Encodes a command within a session.
pub(crate) fn session(origin: Origin, tag: SessionTag, cmd: &[u8]) -> Bytes {
    let mut out = header(KIND_SESSION, origin, 24 + cmd.len());
    put_u64(&mut out, tag.client);
    put_u64(&mut out, tag.series);
    put_u64(&mut out, tag.responded_to);
    out.extend_from_slice(cmd);
    Bytes::from(out)
}

/// Encodes the closing of a session.
pub(crate) fn close_session(origin: Origin, client: u64) -> Bytes {
    let mut out = header(KIND_CLOSE_SESSION, origin, 8);
    put_u64(&mut out, client);
    Bytes::from(out)
}

fn header(kind: u8, origin: Origin, extra: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(17 + extra);
    out.push(kind);
    put_u64(&mut out, origin.replica);
    put_u64(&mut out, origin.key);
    out
}

/// Decodes a normal entry's data; `None` for malformed data (which the
/// host never writes; such entries are skipped, not fatal).
pub(crate) fn decode(data: &Bytes) -> Option<Payload> {
    let mut b = data.clone();
    if b.is_empty() {
        return None;
    }
    let kind = b[0];
    let _ = bytes::Buf::get_u8(&mut b);
    let origin = Origin { replica: get_u64(&mut b)?, key: get_u64(&mut b)? };
    match kind {
        KIND_PLAIN => Some(Payload::Plain { origin, cmd: b }),
        KIND_SESSION => {
            let tag = SessionTag { client: get_u64(&mut b)?, series: get_u64(&mut b)?, responded_to: get_u64(&mut b)? };
            Some(Payload::Session { origin, tag, cmd: b })
        }
        KIND_CLOSE_SESSION => Some(Payload::CloseSession { origin, client: get_u64(&mut b)? }),
        _ => None,
    }
}

/// The context of a membership change: the host of the replica being
/// added (the address book travels with the change), who proposed it, and
/// optionally the network address of that host (the rest of the bytes).
pub(crate) fn conf_context(host: u64, origin: Origin, addr: &str) -> Bytes {
    let mut out = Vec::with_capacity(24 + addr.len());
    put_u64(&mut out, host);
    put_u64(&mut out, origin.replica);
    put_u64(&mut out, origin.key);
    out.extend_from_slice(addr.as_bytes());
    Bytes::from(out)
}

/// The network address a membership change's context carries, if any.
pub(crate) fn decode_conf_address(ctx: &Bytes) -> Option<String> {
    let rest = ctx.get(24..).filter(|r| !r.is_empty())?;
    std::str::from_utf8(rest).ok().map(str::to_string)
}

/// Decodes a membership change's context: (host, origin). Bootstrap
/// changes carry only the host.
pub(crate) fn decode_conf_context(ctx: &Bytes) -> (Option<u64>, Option<Origin>) {
    let mut b = ctx.clone();
    let host = get_u64(&mut b);
    let origin = match (get_u64(&mut b), get_u64(&mut b)) {
        (Some(replica), Some(key)) => Some(Origin { replica, key }),
        _ => None,
    };
    (host, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let o = Origin { replica: 3, key: 77 };
        assert_eq!(decode(&plain(o, b"x")), Some(Payload::Plain { origin: o, cmd: Bytes::from_static(b"x") }));
        let tag = SessionTag { client: 9, series: 2, responded_to: 1 };
        assert_eq!(decode(&session(o, tag, b"y")), Some(Payload::Session { origin: o, tag, cmd: Bytes::from_static(b"y") }));
        assert_eq!(decode(&close_session(o, 9)), Some(Payload::CloseSession { origin: o, client: 9 }));
        assert_eq!(decode(&Bytes::from_static(b"\x02short")), None);
        assert_eq!(decode(&Bytes::new()), None);
        assert_eq!(decode_conf_context(&conf_context(5, o, "")), (Some(5), Some(o)));
        assert_eq!(decode_conf_address(&conf_context(5, o, "")), None);
        let with_addr = conf_context(5, o, "10.0.0.5:7000");
        assert_eq!(decode_conf_context(&with_addr), (Some(5), Some(o)));
        assert_eq!(decode_conf_address(&with_addr).as_deref(), Some("10.0.0.5:7000"));
        assert_eq!(decode_conf_context(&Bytes::from(5u64.to_le_bytes().to_vec())), (Some(5), None));
    }
}
