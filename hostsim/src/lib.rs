//! polyraft-hostsim: a deterministic simulator of whole polyraft host
//! clusters.
//!
//! N hosts × G raft groups run in one thread on the host's own seams: a
//! simulated clock ([`disk::HostClock`], with per-host jumps), a simulated
//! network ([`net::SimNet`]: loss, duplication, delay, reordering,
//! symmetric and one-way partitions) and a simulated disk
//! ([`disk::SimDisk`] over the in-memory log: crashes that lose unsynced
//! records or keep a torn prefix, crashes inside a write, fsync errors,
//! ENOSPC, stalls). Clients with sessions put, get and compare-and-set keys
//! of a replicated KV store ([`kv`]) while replicas are added and removed.
//! Every run is a function of its seed. [`sim::Sim::run`] checks the
//! client history for linearizability per key ([`linz`]), that every
//! acknowledged write survives a crash of every host, that replicas agree
//! at equal applied indexes, that no command is applied twice, and that
//! every group commits again within a bound once the faults stop.

#![warn(missing_docs)]

pub mod disk;
pub mod kv;
pub mod linz;
pub mod net;
pub mod sim;

pub use sim::{run_one, run_seeds, Failure, Scenario, Sim, SimConfig, Stats};
