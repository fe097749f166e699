//! Turns the optional features of the pinned spec, as `e2b-api`'s build script hands them
//! over, into `cfg(e2b_spec = "<name>")` (see `e2b_api::spec_features`).

fn main() {
    let list = |var: &str| -> Vec<String> {
        println!("cargo::rerun-if-env-changed={var}");
        std::env::var(var)
            .unwrap_or_default()
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let values: Vec<String> = list("DEP_E2B_API_SPEC_FEATURES")
        .iter()
        .map(|name| format!("{name:?}"))
        .collect();
    println!(
        "cargo::rustc-check-cfg=cfg(e2b_spec, values({}))",
        values.join(", ")
    );
    for name in list("DEP_E2B_API_SPEC_ENABLED") {
        println!("cargo::rustc-cfg=e2b_spec={name:?}");
    }
}
