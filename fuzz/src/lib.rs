//! Fuzz targets for every decoder in the workspace that reads network input,
//! runnable on the stable toolchain.
//!
//! Each [`Target`] is a function of bytes that decodes them and asserts
//! properties: it never panics, it finishes in bounded time, garbage becomes a
//! typed error, and what a decoder accepts survives a round trip through the
//! matching encoder. Targets carry a seed corpus of realistic inputs (valid
//! frames and messages built with the real encoders) and a dictionary of
//! protocol tokens.
//!
//! Two engines drive them:
//!
//! * [`driver`]: replays the seeds, then mutates them for a bounded time; no
//!   instrumentation, so it runs in `cargo test` (the smoke in `make test`) and
//!   as the `e2b-fuzz` binary.
//! * libFuzzer (`e2b-fuzz-libfuzzer`, feature `libfuzzer`): coverage-guided,
//!   built by `make fuzz` with the stable compiler's SanitizerCoverage flags
//!   and no sanitizer.
//!
//! Inputs with several fields (a content type and a body, the frames of a
//! message) separate them with [`input::SEP`].

use std::fmt;

pub mod driver;
pub mod input;
mod targets;

/// One fuzz target.
pub struct Target {
    /// Its name (`make fuzz FUZZ_TARGETS=name`).
    pub name: &'static str,
    /// The decoders it covers.
    pub covers: &'static str,
    /// Decode `data` and check the properties; panics on a violation.
    pub run: fn(&[u8]),
    /// Realistic inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens worth inserting.
    pub dictionary: &'static [&'static [u8]],
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Every target.
pub const TARGETS: &[Target] = targets::ALL;

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
