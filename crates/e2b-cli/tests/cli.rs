//! The `e2b` binary, run against in-process e2b-local servers: one module per command
//! group, one test binary.

mod support;

mod files;
#[cfg(feature = "local")]
mod local;
mod run_code;
mod sandbox;
mod template;
mod terminal;
mod volume;
