//! What every scenario prints: one JSON line per measured operation, the shape
//! `benches/report.py` reads (and the Python and JS twins print).

use std::time::Duration;

use serde_json::{Map, Value, json};

/// Which client measured: this SDK or the raw floor.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Client {
    Ours,
    Floor,
    Curl,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Ours => "e2b-rs",
            Client::Floor => "floor",
            Client::Curl => "curl",
        }
    }
}

/// Print the samples of `scenario`, in milliseconds (`unit` "ms") or seconds ("s").
pub(crate) fn emit(client: Client, scenario: &str, unit: &str, samples: &[Duration], extra: Value) {
    let scale = if unit == "ms" { 1000.0 } else { 1.0 };
    let mut line = Map::new();
    line.insert("client".into(), client.name().into());
    line.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    line.insert("scenario".into(), scenario.into());
    line.insert("unit".into(), unit.into());
    line.insert(
        "samples".into(),
        json!(
            samples
                .iter()
                .map(|d| d.as_secs_f64() * scale)
                .collect::<Vec<_>>()
        ),
    );
    if let Value::Object(extra) = extra {
        line.extend(extra);
    }
    println!("{}", Value::Object(line));
}

/// This process's peak resident set size in MiB (`VmHWM`), if the kernel says.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
