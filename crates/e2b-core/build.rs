//! Records the compiler version for the `lang_version` metadata header.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    // `rustc 1.90.0 (1159e78c4 2025-09-14)` → `1.90.0`
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
        .filter(|v| v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=E2B_RUSTC_VERSION={version}");
}
