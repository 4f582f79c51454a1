//! The host transport's untrusted input: the acceptor's handshake (preamble
//! and Hello), frame streams, snapshot records and the mutual-TLS server
//! handshake. The input's first byte picks the decoder; see
//! polyraft_transport::fuzzing, which the stable proptest loop in
//! transport/tests/fuzz_wire.rs drives too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    polyraft_transport::fuzzing::run(data);
});
