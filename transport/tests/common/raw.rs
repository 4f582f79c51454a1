//! A hand-driven dialer, to speak the protocol wrongly on purpose.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use polyraft_transport::tls::{load_certs, load_key, server_name};
use polyraft_transport::wire::{self, Frame, GroupMessage, Hello, HelloReply, StreamKind};
use polyraft_transport::HostId;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A TLS client configuration trusting `ca`, presenting `identity` (cert,
/// key) if given.
#[allow(deprecated)]
pub fn client_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let b = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => b.with_client_auth_cert(load_certs(cert).unwrap(), load_key(key).unwrap()).unwrap(),
        None => b.with_no_client_auth(),
    })
}

/// Dials `addr` as TLS client expecting the certificate of host `server`.
pub async fn dial_tls(addr: SocketAddr, cfg: Arc<ClientConfig>, server: HostId) -> std::io::Result<Box<dyn Io>> {
    let tcp = TcpStream::connect(addr).await?;
    let s = tokio_rustls::TlsConnector::from(cfg).connect(server_name(server), tcp).await?;
    Ok(Box::new(s))
}

/// Sends preamble + Hello and reads the reply (an error if the acceptor
/// closed instead).
pub async fn hello(conn: &mut Box<dyn Io>, from: HostId, to: HostId) -> Result<HelloReply, String> {
    let h = Hello { from_host: from, to_host: to, cluster_id: 0, kind: StreamKind::Frames as i32 };
    let mut out = wire::PREAMBLE.to_vec();
    out.extend(wire::encode_record(&h));
    conn.write_all(&out).await.map_err(|e| e.to_string())?;
    conn.flush().await.map_err(|e| e.to_string())?;
    let body = wire::read_record(conn, wire::MAX_HANDSHAKE_RECORD).await.map_err(|e| e.to_string())?;
    wire::decode_body(body, "reply").map_err(|e| e.to_string())
}

pub fn frame_record(group: u64, payload: &[u8]) -> Vec<u8> {
    wire::encode_record(&Frame { messages: vec![GroupMessage { group, message: payload.to_vec().into() }] })
}

/// Writes bytes, ignoring errors (the acceptor may already have closed).
pub async fn write_quiet(conn: &mut Box<dyn Io>, bytes: &[u8]) {
    let _ = conn.write_all(bytes).await;
    let _ = conn.flush().await;
}

/// True when the acceptor closes the connection within `limit`.
pub async fn closed_within(conn: &mut Box<dyn Io>, limit: std::time::Duration) -> bool {
    let mut b = [0u8; 64];
    let end = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end, conn.read(&mut b)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}
