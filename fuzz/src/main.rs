//! `e2b-fuzz`: run the fuzz targets with the stable engine, list them, write
//! their seed corpora (for libFuzzer), or replay a saved input.
//!
//! ```text
//! e2b-fuzz run [--seconds N] [--seed S] [TARGET…]   (all targets when none is named)
//! e2b-fuzz list
//! e2b-fuzz seeds DIR [TARGET…]                     (DIR/<target>/seed-<n>)
//! e2b-fuzz dict DIR                                (DIR/<target>.dict, libFuzzer's format)
//! e2b-fuzz replay TARGET FILE…
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use e2b_fuzz::driver::{self, Options};
use e2b_fuzz::{TARGETS, Target};

fn targets(names: &[String]) -> Result<Vec<&'static Target>, String> {
    if names.is_empty() {
        return Ok(TARGETS.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            e2b_fuzz::target(n).ok_or_else(|| format!("no fuzz target `{n}` (see `e2b-fuzz list`)"))
        })
        .collect()
}

fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = 60.0;
    let mut seed = None;
    let mut names = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or("--seconds takes a number")?;
            }
            "--seed" => {
                seed = Some(
                    args.next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .ok_or("--seed takes a number")?,
                );
            }
            name => names.push(name.to_owned()),
        }
    }
    let mut options = Options::new(Duration::from_secs_f64(seconds));
    options.seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    if let Some(dir) = std::env::var_os("FUZZ_ARTIFACTS") {
        options.artifacts = PathBuf::from(dir);
    }
    println!("seed {} ({seconds} s per target)", options.seed);
    for target in targets(&names)? {
        let report = driver::run(target, &options);
        println!(
            "{:<22} {:>9} runs ({} seeds) in {:.1?}, slowest input {:.1?}",
            target.name, report.runs, report.seeds, report.elapsed, report.slowest
        );
    }
    Ok(())
}

fn write_seeds(args: &[String]) -> Result<(), String> {
    let (dir, names) = args.split_first().ok_or("seeds DIR [TARGET…]")?;
    for target in targets(names)? {
        let dir = PathBuf::from(dir).join(target.name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (i, seed) in (target.seeds)().iter().enumerate() {
            let path = dir.join(format!("seed-{i:03}"));
            std::fs::write(&path, seed).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// libFuzzer dictionaries: one `"token"` a line, with `\xNN` escapes.
fn write_dictionaries(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(args.first().ok_or("dict DIR")?);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for target in TARGETS {
        let mut out = String::new();
        for token in target.dictionary {
            out.push('"');
            for &b in *token {
                if b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ' {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out.push_str("\"\n");
        }
        let path = dir.join(format!("{}.dict", target.name));
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn replay(args: &[String]) -> Result<(), String> {
    let (name, files) = args.split_first().ok_or("replay TARGET FILE…")?;
    let target = targets(std::slice::from_ref(name))?[0];
    for file in files {
        let input = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        driver::replay(target, &input);
        println!("{file}: ok");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("list") => {
            for target in TARGETS {
                println!("{:<22} {}", target.name, target.covers);
            }
            Ok(())
        }
        Some("seeds") => write_seeds(&args[1..]),
        Some("dict") => write_dictionaries(&args[1..]),
        Some("replay") => replay(&args[1..]),
        _ => Err(
            "usage: e2b-fuzz run [--seconds N] [--seed S] [TARGET…] | list | \
                  seeds DIR [TARGET…] | dict DIR | replay TARGET FILE…"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2b-fuzz: {e}");
            ExitCode::FAILURE
        }
    }
}
