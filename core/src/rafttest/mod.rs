//! The scripted multi-node harness (etcd's rafttest) and the datadriven
//! script reader. Public behind the `rafttest` feature.

pub mod cluster;
pub mod confchange_runner;
pub mod datadriven;
pub mod hostile;
pub mod interaction;
pub mod quorum_runner;
pub mod sim;
