//! A fault-injecting TCP proxy for tests: put it between two hosts (give the
//! dialer the proxy's address for the other host) and change its [`Faults`]
//! while traffic flows.
//!
//! It works on the byte stream, below TLS, as a network would: it can delay
//! bytes, cut connections, black-hole one or both directions (a partition: the
//! connection stays open but nothing arrives), and tamper with or reorder
//! segments. Inside TLS a tampered or reordered segment fails authentication,
//! so the receiver closes that connection and nothing forged or reordered is
//! ever delivered: what raft sees is message loss, and reordering across
//! reconnections. Traffic is only ever forwarded to the configured target.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::time::Instant;

/// The faults in force. `Default` is a perfect network.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Dialer → target bytes are discarded.
    pub block_forward: bool,
    /// Target → dialer bytes are discarded.
    pub block_backward: bool,
    /// Added to every forwarded segment.
    pub delay: Duration,
    /// A random extra delay in `[0, jitter)` per segment.
    pub jitter: Duration,
    /// Probability, per segment, that the connection is cut (both ways).
    pub drop_rate: f64,
    /// Probability, per segment, that one byte of it is flipped.
    pub tamper_rate: f64,
    /// Probability, per segment, that it is held back and sent after the
    /// next one, if the next one comes within [`REORDER_WINDOW`]; otherwise
    /// it is sent late but in order.
    pub reorder_rate: f64,
}

impl Faults {
    /// Both directions black-holed.
    pub fn partition() -> Self {
        Faults { block_forward: true, block_backward: true, ..Faults::default() }
    }
}

/// How long a segment held back for reordering waits for the next one. A
/// network reorders packets that are close in time; holding a segment until
/// the next one however late it comes would, on a link that falls quiet (a
/// candidate's vote request with no heartbeats behind it), turn every
/// election message into a loss.
pub const REORDER_WINDOW: Duration = Duration::from_millis(10);

struct State {
    faults: Faults,
    /// Bumped to cut every open connection.
    generation: watch::Sender<u64>,
}

/// A running proxy. Dropping it stops it and closes its connections.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    runtime: Option<Runtime>,
}

impl FaultProxy {
    /// Listens on an ephemeral loopback port and forwards every connection to
    /// `target`.
    pub fn start(target: SocketAddr) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("a valid address"), target)
    }

    /// Listens on `listen` and forwards every connection to `target`.
    pub fn start_on(listen: SocketAddr, target: SocketAddr) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("polyraft-fault-proxy")
            .enable_io()
            .enable_time()
            .build()?;
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _enter = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let state = Arc::new(Mutex::new(State { faults: Faults::default(), generation: watch::channel(0).0 }));
        runtime.spawn(accept(listener, target, state.clone()));
        Ok(FaultProxy { addr, state, runtime: Some(runtime) })
    }

    /// The address dialers should use.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the faults in force (open connections included).
    pub fn set(&self, faults: Faults) {
        self.state.lock().faults = faults;
    }

    /// Back to a perfect network.
    pub fn heal(&self) {
        self.set(Faults::default());
    }

    /// Cuts every open connection now (new ones are still accepted).
    pub fn cut_all(&self) {
        self.state.lock().generation.send_modify(|g| *g += 1);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, state: Arc<Mutex<State>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let mut cut = state.lock().generation.subscribe();
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::select! {
                _ = pump(cr, sw, state.clone(), true) => {}
                _ = pump(sr, cw, state.clone(), false) => {}
                _ = cut.changed() => {}
            }
        });
    }
}

/// Forwards one direction until either side closes or a fault cuts it.
///
/// A reader takes segments off the socket and stamps each with the time it
/// is due; a writer sends them when due, in order. The delay is latency, as
/// on a real link: it does not also cap the link's throughput, which a
/// reader sleeping before each write would (a backlog then grows until
/// elections time out).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<Mutex<State>>,
    forward: bool,
) {
    let (line, mut due) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut held: Option<(Instant, Vec<u8>)> = None;
        loop {
            let read = if held.is_some() {
                match tokio::time::timeout(REORDER_WINDOW, from.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        // Nothing came to overtake it: send it as it is.
                        if let Some(h) = held.take() {
                            let _ = line.send(h);
                        }
                        continue;
                    }
                }
            } else {
                from.read(&mut buf).await
            };
            let n = match read {
                // Closed: what is on its way still arrives.
                Ok(0) | Err(_) => {
                    if let Some(h) = held.take() {
                        let _ = line.send(h);
                    }
                    return true;
                }
                Ok(n) => n,
            };
            let f = state.lock().faults.clone();
            if (forward && f.block_forward) || (!forward && f.block_backward) {
                continue;
            }
            if fastrand::f64() < f.drop_rate {
                return false;
            }
            let mut seg = buf[..n].to_vec();
            if fastrand::f64() < f.tamper_rate {
                let i = fastrand::usize(..seg.len());
                seg[i] ^= 0x5a;
            }
            let at = Instant::now() + f.delay + f.jitter.mul_f64(fastrand::f64());
            if held.is_none() && fastrand::f64() < f.reorder_rate {
                held = Some((at, seg));
                continue;
            }
            if line.send((at, seg)).is_err() {
                return false;
            }
            if let Some(h) = held.take() {
                let _ = line.send(h);
            }
        }
    };
    let writer = async move {
        while let Some((at, seg)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&seg).await.is_err() {
                return;
            }
        }
    };
    // The writer is its own task so that a closed reader can let it finish
    // what is due; a cut (here or by the caller dropping this future) aborts
    // it with whatever is still on the line.
    let mut writer = AbortOnDrop(tokio::spawn(writer));
    if reader.await {
        let _ = (&mut writer.0).await;
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
