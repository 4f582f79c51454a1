//! The accepting side: the listener, the acceptor's handshake, and the frame
//! reader of each inbound connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::timeout;

use crate::error::TransportError;
use crate::socket::QuietTcp;
use crate::tcp::{Conn, Shared};
use crate::tls::verify_peer_host;
use crate::wire::{self, decode_body, Hello, HelloPolicy, HelloReply, StreamKind};
use crate::{snapshot, HostId};

/// Accepts connections until shutdown; each runs in its own task, so a bad
/// one affects nothing else.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let permits = Arc::new(Semaphore::new(shared.config.max_inbound_connections));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shut_down() => return,
        };
        let (tcp, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and the like: wait a little rather than spin.
                log::warn!("host {}: accept failed: {e}", shared.config.host_id);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            log::warn!("host {}: too many inbound connections, closing one from {addr}", shared.config.host_id);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let r = tokio::select! {
                r = serve(&shared, tcp) => r,
                _ = shared.shut_down() => Ok(()),
            };
            if let Err(e) = r {
                shared.counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                log::info!("host {}: closed inbound connection from {addr}: {e}", shared.config.host_id);
            }
        });
    }
}

async fn serve(shared: &Shared, tcp: TcpStream) -> Result<(), TransportError> {
    tcp.set_nodelay(true)?;
    let tcp = QuietTcp::new(tcp)?;
    let (conn, from, kind) = timeout(shared.config.handshake_timeout, handshake(shared, tcp))
        .await
        .map_err(|_| TransportError::Timeout("handshake"))??;
    match kind {
        StreamKind::Snapshot => snapshot::receive(shared, conn, from).await,
        _ => read_frames(shared, conn, from).await,
    }
}

/// The acceptor's handshake: TLS (client certificate required), preamble,
/// Hello checked against this host and against the certificate, HelloReply.
async fn handshake(shared: &Shared, tcp: QuietTcp) -> Result<(Conn, HostId, StreamKind), TransportError> {
    let (mut conn, cert): (Conn, _) = match &shared.tls {
        Some(ctx) => {
            let s = tokio_rustls::TlsAcceptor::from(ctx.server.clone())
                .accept(tcp)
                .await
                .map_err(|e| TransportError::Tls(e.to_string()))?;
            let cert = s.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned();
            let cert = cert.ok_or_else(|| TransportError::Tls("no client certificate".into()))?;
            (Box::new(s), Some(cert))
        }
        None => (Box::new(tcp), None),
    };
    wire::read_preamble(&mut conn).await?;
    let hello: Hello = decode_body(wire::read_record(&mut conn, wire::MAX_HANDSHAKE_RECORD).await?, "hello")?;
    let policy = HelloPolicy { local_host: shared.config.host_id, cluster_id: shared.config.cluster_id };
    let verdict = wire::check_hello(&hello, &policy).and_then(|(from, kind)| {
        if let Some(cert) = &cert {
            verify_peer_host(cert, from)?;
        }
        Ok((from, kind))
    });
    let reply = match &verdict {
        Ok(_) => HelloReply { version: wire::VERSION.into(), accepted: true, reason: String::new() },
        Err(e) => HelloReply { version: wire::VERSION.into(), accepted: false, reason: e.to_string() },
    };
    wire::write_record(&mut conn, &reply).await?;
    conn.flush().await?;
    let (from, kind) = verdict?;
    Ok((conn, from, kind))
}

/// Reads frames from host `from` and hands them to the handler, until the
/// connection ends, breaks the protocol, or a newer connection from the same
/// host replaces it.
async fn read_frames(shared: &Shared, mut conn: Conn, from: HostId) -> Result<(), TransportError> {
    let id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    let (kick, mut kicked) = watch::channel(false);
    if let Some((_, old)) = shared.inbound.lock().insert(from, (id, kick)) {
        let _ = old.send(true);
    }
    let r = async {
        loop {
            let mut header = [0u8; wire::RECORD_HEADER_LEN];
            tokio::select! {
                r = conn.read_exact(&mut header) => match r {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(e) => return Err(e.into()),
                },
                _ = kicked.wait_for(|v| *v) => return Ok(()),
            }
            let len = wire::record_len(header, shared.config.max_frame_bytes)?;
            let body = timeout(shared.config.read_timeout, wire::read_record_body(&mut conn, len))
                .await
                .map_err(|_| TransportError::Timeout("read (slow writer)"))??;
            let messages = wire::decode_frame(body)?;
            let c = &shared.counters;
            c.frames_received.fetch_add(1, Ordering::Relaxed);
            c.messages_received.fetch_add(messages.len() as u64, Ordering::Relaxed);
            shared.handler.on_messages(from, messages);
        }
    }
    .await;
    let mut inbound = shared.inbound.lock();
    if inbound.get(&from).is_some_and(|(i, _)| *i == id) {
        inbound.remove(&from);
    }
    r
}
