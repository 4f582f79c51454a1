//! Snapshot streams: one connection per snapshot, data in chunks, bounded
//! buffering on both sides.
//!
//! Sender: a blocking thread reads the source chunk by chunk into a channel of
//! `snapshot_window` chunks; the connection's task writes them. When the
//! socket stalls the channel fills and the reading thread waits
//! (backpressure down to the file).
//! Receiver: the connection's task reads chunks into a channel of
//! `snapshot_window` chunks; a blocking thread writes them to the sink. When
//! the sink is slow the channel fills, the task stops reading the socket, and
//! TCP flow control stalls the sender.

use std::io;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::error::TransportError;
use crate::handler::{SnapshotSink, SnapshotSource};
use crate::tcp::{dial, read_full, Conn, Shared};
use crate::wire::{self, decode_body, SnapshotAck, SnapshotChunk, SnapshotHeader, StreamKind};
use crate::{GroupId, HostId};

/// Streams one snapshot to `to` and waits for the receiver's verdict.
pub(crate) async fn send(
    shared: &Shared,
    to: HostId,
    group: GroupId,
    message: Bytes,
    source: SnapshotSource,
) -> Result<(), TransportError> {
    let cfg = &shared.config;
    let mut conn = dial(shared, to, StreamKind::Snapshot).await?;
    let header = SnapshotHeader { group, message, size: source.size.unwrap_or(0), has_size: source.size.is_some() };
    write(cfg.write_timeout, &mut conn, &header).await?;

    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(cfg.snapshot_window);
    let chunk_bytes = cfg.snapshot_chunk_bytes;
    let mut reader = source.reader;
    let reading = tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; chunk_bytes];
        let r = read_full(&mut *reader, &mut buf).map(|n| {
            buf.truncate(n);
            Bytes::from(buf)
        });
        let done = !matches!(&r, Ok(b) if !b.is_empty());
        let r = match r {
            Ok(b) if b.is_empty() => return,
            r => r,
        };
        if tx.blocking_send(r).is_err() || done {
            return;
        }
    });

    // The receiver may answer before the end (it refused the snapshot or
    // its sink failed): watch for that while writing, and stop at once.
    let (mut rd, mut wr) = tokio::io::split(conn);
    let ack = async {
        let body = wire::read_record(&mut rd, wire::MAX_HANDSHAKE_RECORD).await?;
        decode_body::<SnapshotAck>(body, "snapshot ack")
    };
    tokio::pin!(ack);
    let mut sent = 0u64;
    let stream = async {
        while let Some(chunk) = rx.recv().await {
            let data = chunk.map_err(|e| TransportError::Io(io::Error::new(e.kind(), format!("reading snapshot: {e}"))))?;
            let n = data.len() as u64;
            sent += n;
            write(cfg.write_timeout, &mut wr, &SnapshotChunk { data, last: false }).await?;
            shared.counters.snapshot_bytes_sent.fetch_add(n, Ordering::Relaxed);
        }
        if let Some(size) = source.size {
            if sent != size {
                return Err(TransportError::Protocol(format!("snapshot source gave {sent} bytes, declared {size}")));
            }
        }
        write(cfg.write_timeout, &mut wr, &SnapshotChunk { data: Bytes::new(), last: true }).await
    };
    let verdict = tokio::select! {
        r = stream => match r {
            Ok(()) => timeout(cfg.snapshot_ack_timeout, &mut ack)
                .await
                .map_err(|_| TransportError::Timeout("snapshot acknowledgement"))?,
            Err(e) => Err(e),
        },
        early = &mut ack => early,
    };
    let result = verdict.and_then(|ack| {
        if ack.ok {
            Ok(())
        } else {
            Err(TransportError::Refused(format!("receiver: {}", ack.error)))
        }
    });
    drop(rx);
    let _ = reading.await;
    result
}

async fn write<W: tokio::io::AsyncWrite + Unpin>(
    limit: std::time::Duration,
    conn: &mut W,
    msg: &impl prost::Message,
) -> Result<(), TransportError> {
    timeout(limit, async {
        wire::write_record(conn, msg).await?;
        conn.flush().await?;
        Ok::<_, TransportError>(())
    })
    .await
    .map_err(|_| TransportError::Timeout("snapshot write (slow reader)"))?
}

enum Piece {
    Data(Bytes),
    End,
}

/// Receives one snapshot stream from host `from` into a sink the handler
/// opens, and answers the verdict.
pub(crate) async fn receive(shared: &Shared, mut conn: Conn, from: HostId) -> Result<(), TransportError> {
    let cfg = &shared.config;
    let verdict = receive_data(shared, &mut conn, from).await;
    let ack = match &verdict {
        Ok(()) => SnapshotAck { ok: true, error: String::new() },
        Err(e) => SnapshotAck { ok: false, error: e.to_string() },
    };
    // Best effort: the connection may be what failed.
    let _ = write(cfg.write_timeout, &mut conn, &ack).await;
    if verdict.is_err() {
        // The sender may still be writing: read and discard until it sees the
        // verdict and closes (briefly), so that closing with unread data
        // (a TCP reset) does not destroy the verdict in flight.
        let mut sink = [0u8; 16 * 1024];
        let _ = timeout(std::time::Duration::from_secs(2), async {
            while matches!(conn.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
    let _ = conn.shutdown().await;
    verdict
}

async fn receive_data(shared: &Shared, conn: &mut Conn, from: HostId) -> Result<(), TransportError> {
    let cfg = &shared.config;
    let _permit = shared
        .snapshot_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| TransportError::Refused("too many snapshot streams at once".into()))?;
    let header: SnapshotHeader = decode_body(
        timeout(cfg.read_timeout, wire::read_record(conn, cfg.max_frame_bytes))
            .await
            .map_err(|_| TransportError::Timeout("snapshot header"))??,
        "snapshot header",
    )?;
    let handler = shared.handler.clone();
    let (group, message) = (header.group, header.message.clone());
    let sink = tokio::task::spawn_blocking(move || handler.open_snapshot(from, group, message))
        .await
        .map_err(|e| TransportError::Io(io::Error::other(e.to_string())))?
        .map_err(|e| TransportError::Refused(format!("cannot store snapshot: {e}")))?;

    let (tx, rx) = mpsc::channel::<Piece>(cfg.snapshot_window);
    let writing = tokio::task::spawn_blocking(move || store(sink, rx));
    let mut received = 0u64;
    let streamed = async {
        loop {
            let body = timeout(cfg.read_timeout, wire::read_record(conn, cfg.max_frame_bytes))
                .await
                .map_err(|_| TransportError::Timeout("snapshot chunk (slow writer)"))??;
            let chunk: SnapshotChunk = decode_body(body, "snapshot chunk")?;
            received += chunk.data.len() as u64;
            if header.has_size && received > header.size {
                return Err(TransportError::Protocol(format!("snapshot exceeds its declared {} bytes", header.size)));
            }
            shared.counters.snapshot_bytes_received.fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
            if !chunk.data.is_empty() && tx.send(Piece::Data(chunk.data)).await.is_err() {
                // The sink failed; its error is the verdict.
                return Ok(false);
            }
            if chunk.last {
                break;
            }
        }
        if header.has_size && received != header.size {
            return Err(TransportError::Protocol(format!(
                "snapshot ended at {received} of its declared {} bytes",
                header.size
            )));
        }
        Ok(tx.send(Piece::End).await.is_ok())
    }
    .await;
    drop(tx);
    let stored = writing.await.map_err(|e| TransportError::Io(io::Error::other(e.to_string())))?;
    streamed?;
    stored.map_err(|e| TransportError::Refused(format!("storing snapshot: {e}")))
}

/// The blocking side of a receive: writes pieces to the sink; finishes it on
/// End, drops it (abandoning the partial data) if the stream ends otherwise.
fn store(mut sink: Box<dyn SnapshotSink>, mut rx: mpsc::Receiver<Piece>) -> io::Result<()> {
    while let Some(piece) = rx.blocking_recv() {
        match piece {
            Piece::Data(d) => sink.write_chunk(&d)?,
            Piece::End => return sink.finish(),
        }
    }
    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "snapshot stream ended early"))
}
