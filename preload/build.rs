//! Links the unwinder (libgcc_eh) into libarmr.so instead of depending on libgcc_s.so.
//!
//! Rust's standard library asks the linker for `-lgcc_s`. A `libgcc_s.a` placed first on the
//! search path answers it with the static unwinder: one shared library fewer for the dynamic
//! loader to find, map and relocate in every process armr is preloaded into (start-up cost,
//! docs/performance.md). libgcc_eh's symbols are hidden, so the program's own unwinder is
//! untouched. `stack.rs` walks stacks with this copy too, so that a stack trace never loads a
//! library.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("libgcc_s.a"), "INPUT(-lgcc_eh)\n").expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rerun-if-changed=build.rs");
}
