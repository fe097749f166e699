//! Hands the optional features of the pinned spec (`src/generated/spec_features.rs`, written
//! by `cargo xtask codegen`) to the crates built on this one. Their build scripts read
//! `DEP_E2B_API_SPEC_FEATURES` (every feature) and `DEP_E2B_API_SPEC_ENABLED` (those the
//! pinned spec has), and turn them into `cfg(e2b_spec = "<name>")`.

const FILE: &str = "src/generated/spec_features.rs";

fn main() {
    println!("cargo::rerun-if-changed={FILE}");
    let text = match std::fs::read_to_string(FILE) {
        Ok(text) => text,
        Err(err) => panic!("cannot read {FILE} ({err}); run `cargo xtask codegen`"),
    };
    println!(
        "cargo::metadata=spec_features={}",
        string_list(&text, "NAMES").join(",")
    );
    println!(
        "cargo::metadata=spec_enabled={}",
        string_list(&text, "ENABLED").join(",")
    );
}

/// The strings of `pub const {name}: &[&str] = &[…];` in the generated file.
fn string_list(text: &str, name: &str) -> Vec<String> {
    let start = format!("pub const {name}: &[&str] = &[");
    let Some(at) = text.find(&start) else {
        panic!("{FILE} has no `{name}` list; run `cargo xtask codegen`");
    };
    let rest = &text[at + start.len()..];
    let list = &rest[..rest.find("];").unwrap_or(rest.len())];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}
