//! The transport's errors.

use std::io;

/// What can go wrong starting the transport or on one connection. Connection
/// errors never escape to the engine: they close the connection, and the
/// engine hears of lost messages through `on_unreachable`.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The configuration is unusable (bad PEM file, zero host id, ...).
    #[error("config: {0}")]
    Config(String),
    /// TLS setup or handshake failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The peer broke the wire protocol (bad preamble, undecodable or
    /// oversized record, unexpected message).
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer refused our Hello, or we refused theirs.
    #[error("refused: {0}")]
    Refused(String),
    /// An operation did not finish in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The transport is shut down.
    #[error("transport closed")]
    Closed,
}

impl From<rustls::Error> for TransportError {
    fn from(e: rustls::Error) -> Self {
        TransportError::Tls(e.to_string())
    }
}
