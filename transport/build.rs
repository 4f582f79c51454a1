//! Generates the wire types from proto/transport.proto with a pure-Rust
//! protobuf compiler (protox), so the build needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/transport.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let mut cfg = prost_build::Config::new();
    // Decoding a frame from a `Bytes` buffer slices the raft messages out of
    // it instead of copying them.
    cfg.bytes(["."]);
    cfg.compile_fds(fds)?;
    Ok(())
}
