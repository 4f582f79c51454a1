//! Generates the C header with cbindgen.
//!
//! The header is always written to `$OUT_DIR/polyraft.h` and copied to
//! `<target>/<profile>/polyraft.h`, where `mk/c.mk` compares it with the
//! committed `include/polyraft.h` (the drift check). With
//! `POLYRAFT_UPDATE_HEADER=1` the committed header is overwritten instead
//! (`make header`).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=../include/polyraft.h");
    println!("cargo:rerun-if-env-changed=POLYRAFT_UPDATE_HEADER");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut raw = Vec::new();
    bindings.write(&mut raw);
    // cbindgen prints every usize as size_t (usize_is_size_t); the callback
    // contexts are documented as uintptr_t, so name them so.
    let text = String::from_utf8(raw)
        .expect("header is UTF-8")
        .replace("size_t ctx", "uintptr_t ctx")
        .replace("size_t log_ctx", "uintptr_t log_ctx")
        .into_bytes();

    fs::write(out_dir.join("polyraft.h"), &text).expect("write OUT_DIR/polyraft.h");
    // OUT_DIR is <target>/<profile>/build/polyraft-ffi-<hash>/out.
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        fs::write(profile_dir.join("polyraft.h"), &text).expect("write generated header");
    }
    if env::var("POLYRAFT_UPDATE_HEADER").as_deref() == Ok("1") {
        let committed = crate_dir.join("../include/polyraft.h");
        if fs::read(&committed).ok().as_deref() != Some(&text[..]) {
            fs::write(&committed, &text).expect("write include/polyraft.h");
        }
    }
}
