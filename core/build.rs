//! Generates the raftpb types from core/proto/raftpb.proto with a pure-Rust
//! protobuf compiler (protox), so the build needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/raftpb.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let mut cfg = prost_build::Config::new();
    // Payloads are shared, never copied: cloning an Entry bumps a refcount.
    cfg.bytes(["."]);
    // A Message carries a snapshot rarely but is moved on every step: boxing
    // the snapshot keeps the message small (a third fewer bytes copied).
    cfg.boxed(".raftpb.Message.snapshot");
    // Entry is written by hand (src/raftpb/entry.rs): it keeps whether its
    // type was set explicitly, as etcd's proto2 types do.
    cfg.extern_path(".raftpb.Entry", "crate::raftpb::Entry");
    cfg.compile_fds(fds)?;
    Ok(())
}
