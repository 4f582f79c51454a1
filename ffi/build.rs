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

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    // The version macros come from Cargo.toml, the one place it is written.
    let part = |k: &str| env::var(k).expect(k).parse::<u32>().expect("numeric version");
    let (major, minor, patch) =
        (part("CARGO_PKG_VERSION_MAJOR"), part("CARGO_PKG_VERSION_MINOR"), part("CARGO_PKG_VERSION_PATCH"));
    config.after_includes = Some(format!(
        "\n/** The version of this header (polyraft_version_number() is the library's). */\n\
         #define POLYRAFT_VERSION_MAJOR {major}\n\
         #define POLYRAFT_VERSION_MINOR {minor}\n\
         #define POLYRAFT_VERSION_PATCH {patch}\n\
         /** MAJOR * 1000000 + MINOR * 1000 + PATCH. */\n\
         #define POLYRAFT_VERSION_NUMBER {}\n\
         #define POLYRAFT_VERSION_STRING \"{major}.{minor}.{patch}\"\n",
        major * 1_000_000 + minor * 1_000 + patch
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut raw = Vec::new();
    bindings.write(&mut raw);
    // cbindgen opens `extern "C"` just before the functions; open it before
    // the first declaration instead, so that every typedef is inside too.
    let text = String::from_utf8(raw).expect("header is UTF-8");
    let open = "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n";
    let anchor = "#include <stdint.h>\n";
    let text = match (text.find(open), text.find(anchor)) {
        (Some(_), Some(at)) => {
            let moved = text.replacen(open, "", 1);
            let at = at + anchor.len();
            format!("{}\n{}{}", &moved[..at], open, &moved[at..])
        }
        _ => panic!("cbindgen's header layout changed: cannot place extern \"C\""),
    }
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
