//! The fuzz smoke of `make test`: every target runs its seeds, then a fixed
//! sequence of mutations for a short time (`E2B_FUZZ_SMOKE_MS` per target,
//! 400 ms by default). `make fuzz` runs the same targets for longer, and
//! coverage-guided.

use std::time::Duration;

use e2b_fuzz::driver::{self, Options};

fn smoke(name: &str) {
    let target = e2b_fuzz::target(name).expect("a target of that name");
    let ms = std::env::var("E2B_FUZZ_SMOKE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut options = Options::new(Duration::from_millis(ms));
    // Debug builds on a shared machine: generous, a hang takes forever anyway.
    options.max_input_time = Duration::from_secs(20);
    options.artifacts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-artifacts");
    let report = driver::run(target, &options);
    assert!(report.runs as usize >= report.seeds);
    assert!(report.seeds > 0, "{name} has no seeds");
}

#[test]
fn every_target_has_a_smoke_test() {
    let mut covered: Vec<&str> = SMOKED.to_vec();
    covered.sort_unstable();
    let mut all: Vec<&str> = e2b_fuzz::TARGETS.iter().map(|t| t.name).collect();
    all.sort_unstable();
    assert_eq!(covered, all);
}

const SMOKED: &[&str] = &[
    "connect_envelope",
    "connect_end_of_stream",
    "connect_server",
    "ndjson_execution",
    "jupyter_message",
    "multipart_upload",
    "files_query",
    "files_headers",
    "control_query",
];

#[test]
fn connect_envelope() {
    smoke("connect_envelope");
}

#[test]
fn connect_end_of_stream() {
    smoke("connect_end_of_stream");
}

#[test]
fn connect_server() {
    smoke("connect_server");
}

#[test]
fn ndjson_execution() {
    smoke("ndjson_execution");
}

#[test]
fn jupyter_message() {
    smoke("jupyter_message");
}

#[test]
fn multipart_upload() {
    smoke("multipart_upload");
}

#[test]
fn files_query() {
    smoke("files_query");
}

#[test]
fn files_headers() {
    smoke("files_headers");
}

#[test]
fn control_query() {
    smoke("control_query");
}
