//! Entry points for fuzzers: the cargo-fuzz target `transport_wire`
//! (fuzz/fuzz_targets/) and the proptest loop in tests/fuzz_wire.rs both call
//! [`run`], so the short run in `make test` and the long run with libFuzzer
//! exercise the same code. Each input must never panic, and what decodes must
//! satisfy the format's invariants (checked with assertions, which the
//! fuzzers report as findings).

use bytes::Bytes;
use prost::Message as _;

use crate::wire::{self, Frame, GroupMessage, HelloPolicy, HelloReply, SnapshotAck, SnapshotChunk, SnapshotHeader};

/// The frame limit the fuzzers use (small, so oversize paths are reached).
pub const FUZZ_FRAME_LIMIT: usize = 64 * 1024;

/// Feeds one input to the decoder chosen by its first byte: the acceptor's
/// handshake (preamble + Hello), a stream of frame records, the snapshot
/// records, or (with the `dev-certs` feature) the TLS server handshake as the
/// acceptor configures it.
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 4 {
        0 => handshake(rest),
        1 => frames(rest),
        2 => snapshot_records(rest),
        _ => tls_server(rest),
    }
}

fn handshake(data: &[u8]) {
    let policy = HelloPolicy { local_host: 2, cluster_id: 7 };
    if let Ok((from, kind)) = wire::decode_handshake(data, &policy) {
        assert!(from != 0 && from != 2, "accepted a Hello from host {from}");
        assert!(matches!(kind, wire::StreamKind::Frames | wire::StreamKind::Snapshot));
        assert!(data.starts_with(&wire::PREAMBLE));
    }
}

fn frames(data: &[u8]) {
    let (messages, err) = wire::decode_frame_stream(data, FUZZ_FRAME_LIMIT);
    if err.is_none() && !data.is_empty() {
        assert!(!messages.is_empty(), "a valid non-empty stream carries messages");
    }
    assert!(messages.iter().all(|(_, m)| !m.is_empty()), "an empty message was accepted");
    // What decoded re-encodes to something that decodes to the same, and the
    // writer's size estimate is exact.
    if messages.is_empty() {
        return;
    }
    let frame = Frame {
        messages: messages.iter().map(|(g, m)| GroupMessage { group: *g, message: m.clone() }).collect(),
    };
    let estimate: usize = messages.iter().map(|(g, m)| wire::frame_entry_len(*g, m.len())).sum();
    assert_eq!(estimate, frame.encoded_len());
    let again = wire::decode_frame(Bytes::from(frame.encode_to_vec())).expect("re-encoded frame decodes");
    assert_eq!(again, messages);
}

fn snapshot_records(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let _ = wire::decode_body::<SnapshotHeader>(body.clone(), "snapshot header");
    if let Ok(c) = wire::decode_body::<SnapshotChunk>(body.clone(), "snapshot chunk") {
        assert!(c.data.len() <= data.len());
    }
    let _ = wire::decode_body::<SnapshotAck>(body.clone(), "snapshot ack");
    let _ = wire::decode_body::<HelloReply>(body, "hello reply");
    if data.len() >= wire::RECORD_HEADER_LEN {
        let h = [data[0], data[1], data[2], data[3]];
        if let Ok(n) = wire::record_len(h, wire::MAX_HANDSHAKE_RECORD) {
            assert!(n <= wire::MAX_HANDSHAKE_RECORD);
        }
    }
}

#[cfg(feature = "dev-certs")]
fn tls_server(data: &[u8]) {
    use std::sync::{Arc, OnceLock};
    static SERVER: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    let config = SERVER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("polyraft-fuzz-certs-{}", std::process::id()));
        let files = crate::devcerts::dev_cluster(&dir, &[2]).expect("dev certificates").remove(0);
        let server = crate::tls::TlsContext::load(&files).expect("TLS context").server;
        let _ = std::fs::remove_dir_all(&dir);
        server
    });
    let mut conn = rustls::ServerConnection::new(config.clone()).expect("server connection");
    let mut rd = data;
    while !rd.is_empty() {
        match conn.read_tls(&mut rd) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if conn.process_new_packets().is_err() {
            break;
        }
    }
    // Random bytes never complete a mutual-TLS handshake.
    assert!(conn.is_handshaking() || conn.peer_certificates().is_none());
}

#[cfg(not(feature = "dev-certs"))]
fn tls_server(data: &[u8]) {
    frames(data)
}
