//! The fuzz targets under libFuzzer (coverage-guided). The target is named by
//! `E2B_FUZZ_TARGET`; every other argument is libFuzzer's. `make fuzz` builds
//! this with SanitizerCoverage on the stable compiler and runs each target.

#![no_main]

use std::sync::OnceLock;

static TARGET: OnceLock<&'static e2b_fuzz::Target> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = TARGET.get_or_init(|| {
        let name = std::env::var("E2B_FUZZ_TARGET").unwrap_or_default();
        e2b_fuzz::target(&name).unwrap_or_else(|| {
            let names: Vec<&str> = e2b_fuzz::TARGETS.iter().map(|t| t.name).collect();
            panic!("set E2B_FUZZ_TARGET to one of {names:?}")
        })
    });
    (target.run)(data);
});
