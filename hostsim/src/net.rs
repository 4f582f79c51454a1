//! The simulated network: a [`Transport`] per host over one seeded queue of
//! frames in flight. Every message may be lost, duplicated or delayed (a
//! random delay per copy, so frames overtake each other: reordering), and
//! directed links may be cut (symmetric and one-way partitions). Frames
//! from a host whose disk write is stalled wait until the stall ends (the
//! engine sends only after its write returns).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use polyraft_host::{Clock, Frame, Inbound, SendError, SimClock, Transport};

/// How lossy the network is at the moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetFaults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub dup: f64,
    /// Largest ordinary delay.
    pub max_delay: Duration,
    /// Probability of a long delay (up to 20 × `max_delay`).
    pub long_delay: f64,
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetStats {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages lost by the loss probability.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Messages dropped on a cut link.
    pub cut: u64,
    /// Messages given a long delay.
    pub delayed: u64,
    /// Frames delivered.
    pub delivered: u64,
}

struct State {
    rng: fastrand::Rng,
    faults: NetFaults,
    /// (delivery time in ns, sequence) -> (from, to, frame).
    queue: BTreeMap<(u64, u64), (u64, u64, Frame)>,
    seq: u64,
    hosts: BTreeMap<u64, Inbound>,
    cut: BTreeSet<(u64, u64)>,
    /// Host -> time before which its frames are held (stalled disk).
    hold: BTreeMap<u64, Duration>,
    stats: NetStats,
}

/// The network of one simulated cluster (cheap to clone).
#[derive(Clone)]
pub struct SimNet {
    clock: SimClock,
    state: Arc<Mutex<State>>,
}

impl SimNet {
    /// A network on `clock` drawing its faults from `seed`.
    pub fn new(clock: SimClock, seed: u64) -> Self {
        let state = State {
            rng: fastrand::Rng::with_seed(seed),
            faults: NetFaults::default(),
            queue: BTreeMap::new(),
            seq: 0,
            hosts: BTreeMap::new(),
            cut: BTreeSet::new(),
            hold: BTreeMap::new(),
            stats: NetStats::default(),
        };
        SimNet { clock, state: Arc::new(Mutex::new(state)) }
    }

    /// The transport host `host` sends through.
    pub fn endpoint(&self, host: u64) -> Arc<dyn Transport> {
        Arc::new(Endpoint { host, net: self.clone() })
    }

    /// Frames to `host` arrive at `inbound` (a start or restart).
    pub fn register(&self, host: u64, inbound: Inbound) {
        self.state.lock().hosts.insert(host, inbound);
    }

    /// `host` is down: frames to it are dropped, its send holds forgotten.
    pub fn unregister(&self, host: u64) {
        let mut s = self.state.lock();
        s.hosts.remove(&host);
        s.hold.remove(&host);
    }

    /// Sets the loss, duplication and delay of every later message.
    pub fn set_faults(&self, f: NetFaults) {
        self.state.lock().faults = f;
    }

    /// Cuts (or restores) the directed link `from -> to`.
    pub fn set_cut(&self, from: u64, to: u64, cut: bool) {
        let mut s = self.state.lock();
        if cut {
            s.cut.insert((from, to));
        } else {
            s.cut.remove(&(from, to));
        }
    }

    /// Drops the frames from `from` to `to` that are in flight.
    pub fn drop_in_flight(&self, from: u64, to: u64) -> usize {
        let mut s = self.state.lock();
        let before = s.queue.len();
        s.queue.retain(|_, (f, t, _)| !(*f == from && *t == to));
        before - s.queue.len()
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.state.lock().cut.clear();
    }

    /// Frames `host` sends are held until `until` (its disk is stalled).
    pub fn hold(&self, host: u64, until: Duration) {
        self.state.lock().hold.insert(host, until);
    }

    /// Delivers every frame due by now, in delivery order; returns how many.
    pub fn deliver_due(&self) -> usize {
        let now = self.clock.now().as_nanos() as u64;
        let mut n = 0;
        loop {
            let (to, from, frame, inbound) = {
                let mut s = self.state.lock();
                let Some((&key, _)) = s.queue.iter().next() else { break };
                if key.0 > now {
                    break;
                }
                let (from, to, frame) = s.queue.remove(&key).unwrap();
                let inbound = s.hosts.get(&to).cloned();
                if inbound.is_some() {
                    s.stats.delivered += 1;
                }
                (to, from, frame, inbound)
            };
            let _ = to;
            if let Some(inb) = inbound {
                inb.deliver(from, frame);
                n += 1;
            }
        }
        n
    }

    /// Frames in flight.
    pub fn in_flight(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Counters so far.
    pub fn stats(&self) -> NetStats {
        self.state.lock().stats
    }
}

struct Endpoint {
    host: u64,
    net: SimNet,
}

impl Transport for Endpoint {
    fn send(&self, to: u64, frame: Frame) -> Result<(), SendError> {
        let now = self.net.clock.now();
        let mut guard = self.net.state.lock();
        let s = &mut *guard;
        if !s.hosts.contains_key(&to) {
            // A connection to a host that is down is refused.
            return Err(SendError { reason: format!("host {to} is down"), frame });
        }
        s.stats.sent += frame.len() as u64;
        if s.cut.contains(&(self.host, to)) {
            // A partition loses frames silently (no connection error).
            s.stats.cut += frame.len() as u64;
            return Ok(());
        }
        let start = s.hold.get(&self.host).copied().filter(|h| *h > now).unwrap_or(now);
        let f = s.faults;
        // Each message fares on its own: frames are split into the copies
        // that arrive at each delay.
        let mut copies: BTreeMap<u64, Frame> = BTreeMap::new();
        for gm in frame {
            if s.rng.f64() < f.loss {
                s.stats.lost += 1;
                continue;
            }
            let n = if s.rng.f64() < f.dup { 2 } else { 1 };
            s.stats.duplicated += n - 1;
            for _ in 0..n {
                let max = f.max_delay.as_nanos() as u64;
                let mut d = if max == 0 { 0 } else { s.rng.u64(0..=max) };
                if max > 0 && s.rng.f64() < f.long_delay {
                    s.stats.delayed += 1;
                    d = s.rng.u64(max..=20 * max);
                }
                // Same-delay copies share a frame; a tiny base delay keeps
                // delivery after this round.
                copies.entry(d).or_default().push(gm.clone());
            }
        }
        for (d, frame) in copies {
            let at = (start + Duration::from_nanos(d + 1)).as_nanos() as u64;
            let seq = s.seq;
            s.seq += 1;
            s.queue.insert((at, seq), (self.host, to, frame));
        }
        Ok(())
    }
}
