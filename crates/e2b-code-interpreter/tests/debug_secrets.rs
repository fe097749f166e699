//! `Debug` of the code interpreter's options and builder never prints a secret.

use e2b_code_interpreter::{CodeInterpreter, ContextOptions, RunCodeOptions};

const SENTINEL: &str = "s3ntinel-secret-value";

#[test]
fn options_and_builder_hide_secrets() {
    let run = RunCodeOptions::new().envs([("API_KEY", SENTINEL)]);
    let builder = CodeInterpreter::builder()
        .envs([("API_KEY", SENTINEL)])
        .metadata([("token", SENTINEL)]);
    for (what, debug) in [
        ("RunCodeOptions", format!("{run:?}")),
        ("CodeInterpreterBuilder", format!("{builder:?}")),
        ("ContextOptions", format!("{:?}", ContextOptions::new())),
    ] {
        assert!(
            !debug.contains(SENTINEL),
            "{what} printed a secret: {debug}"
        );
    }
    // The names stay visible for debugging.
    assert!(format!("{run:?}").contains("API_KEY"));
}
