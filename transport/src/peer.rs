//! One remote host: its outbox and the task that dials it and writes frames.
//!
//! States: IDLE (nothing to send, or connection not yet needed), CONNECTING
//! (dialing; sends queue), CONNECTED (sends queue and leave as frames), and
//! BACKOFF (the last dial failed or the connection broke: sends are dropped
//! and reported until the backoff delay has passed, so the engine learns at
//! once that the host is unreachable rather than after a queue fills).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::timeout;

use crate::config::TransportConfig;
use crate::error::TransportError;
use crate::outbox::Outbox;
use crate::tcp::{dial, read_probe, Conn, Shared};
use crate::wire::{self, Frame, GroupMessage, StreamKind};
use crate::HostId;

const IDLE: u8 = 0;
const CONNECTING: u8 = 1;
const CONNECTED: u8 = 2;
const BACKOFF: u8 = 3;

/// A remote host as seen by the sending side.
pub(crate) struct Peer {
    pub id: HostId,
    pub addr: Mutex<String>,
    pub outbox: Outbox,
    state: AtomicU8,
    stop: watch::Sender<bool>,
}

impl Peer {
    pub(crate) fn new(id: HostId, addr: String, cfg: &TransportConfig) -> Self {
        Peer {
            id,
            addr: Mutex::new(addr),
            outbox: Outbox::new(cfg.queue_messages, cfg.queue_bytes),
            state: AtomicU8::new(IDLE),
            stop: watch::channel(false).0,
        }
    }

    /// False while backing off: sends are dropped, not queued.
    pub(crate) fn accepting(&self) -> bool {
        self.state.load(Ordering::Acquire) != BACKOFF
    }

    /// Ends the peer's task (its connection closes).
    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }

    async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    fn set(&self, s: u8) {
        self.state.store(s, Ordering::Release);
    }
}

/// The peer's task: wait for messages, dial, write frames until the
/// connection fails, back off, repeat; ends when the peer is removed or the
/// transport shuts down.
pub(crate) async fn run(shared: Arc<Shared>, peer: Arc<Peer>) {
    tokio::select! {
        _ = connect_loop(&shared, &peer) => {}
        _ = peer.stopped() => {}
        _ = shared.shut_down() => {}
    }
}

async fn connect_loop(shared: &Shared, peer: &Peer) {
    let cfg = &shared.config;
    let mut backoff = cfg.backoff_min;
    loop {
        while peer.outbox.is_empty() {
            peer.outbox.ready().await;
        }
        peer.set(CONNECTING);
        let err = match dial(shared, peer.id, StreamKind::Frames).await {
            Ok(conn) => {
                peer.set(CONNECTED);
                backoff = cfg.backoff_min;
                pump(shared, peer, conn).await
            }
            Err(e) => {
                let delay = backoff;
                backoff = (backoff * 2).min(cfg.backoff_max);
                back_off(shared, peer, &e, delay).await;
                continue;
            }
        };
        // An established connection broke: retry soon (the peer may simply
        // have restarted), still dropping what arrives meanwhile.
        back_off(shared, peer, &err, cfg.backoff_min).await;
    }
}

/// Enters BACKOFF, drops and reports what is queued, waits `delay`
/// (jittered), and returns to IDLE.
async fn back_off(shared: &Shared, peer: &Peer, why: &TransportError, delay: Duration) {
    log::debug!("host {}: connection to host {} lost: {why}", shared.config.host_id, peer.id);
    peer.set(BACKOFF);
    shared.report_dropped(peer.id, &peer.outbox.drain());
    let jitter = delay.mul_f64(fastrand::f64() * 0.5);
    tokio::time::sleep(delay + jitter).await;
    peer.set(IDLE);
}

/// Writes frames until the connection fails; returns why.
async fn pump(shared: &Shared, peer: &Peer, conn: Conn) -> TransportError {
    let cfg = &shared.config;
    let (mut rd, mut wr) = tokio::io::split(conn);
    let limit = shared.frame_limit();
    loop {
        let batch = peer.outbox.take_frame(limit);
        if batch.is_empty() {
            tokio::select! {
                _ = peer.outbox.ready() => continue,
                // The acceptor never writes after its HelloReply: anything
                // here (normally EOF) means the connection is gone.
                r = read_probe(&mut rd) => {
                    return match r {
                        Ok(0) => TransportError::Protocol("peer closed the connection".into()),
                        Ok(_) => TransportError::Protocol("peer wrote on a frame stream".into()),
                        Err(e) => e.into(),
                    };
                }
            }
        }
        let frame = Frame {
            messages: batch.iter().map(|(g, m)| GroupMessage { group: *g, message: m.clone() }).collect(),
        };
        let record = wire::encode_record(&frame);
        let written = timeout(cfg.write_timeout, async {
            wr.write_all(&record).await?;
            wr.flush().await
        })
        .await;
        let err = match written {
            Ok(Ok(())) => {
                let c = &shared.counters;
                c.frames_sent.fetch_add(1, Ordering::Relaxed);
                c.messages_sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                continue;
            }
            Ok(Err(e)) => TransportError::Io(e),
            Err(_) => TransportError::Timeout("write (slow reader)"),
        };
        shared.report_dropped(peer.id, &batch);
        return err;
    }
}
