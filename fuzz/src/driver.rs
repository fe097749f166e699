//! The stable engine: replay a target's seeds, then mutate them (bit flips,
//! boundary values, dictionary tokens, cuts, copies, splices) until the time
//! budget is spent. No coverage feedback, so it needs no instrumentation and
//! runs in `cargo test`.
//!
//! A panic fails the run; so does an input that takes longer than
//! [`Options::max_input_time`] (a watchdog notices, since a hung decoder
//! never returns). Either way the input is written to
//! [`Options::artifacts`] and the message says how to replay it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Target;

/// How long and how hard to fuzz.
#[derive(Clone, Debug)]
pub struct Options {
    /// Total time for the target (seeds are always all run).
    pub budget: Duration,
    /// Longest time one input may take.
    pub max_input_time: Duration,
    /// Seed of the mutation RNG (the same seed gives the same inputs).
    pub seed: u64,
    /// Longest input generated.
    pub max_len: usize,
    /// Where failing inputs are written.
    pub artifacts: PathBuf,
}

impl Options {
    /// `budget` per target, everything else default.
    pub fn new(budget: Duration) -> Self {
        Options {
            budget,
            max_input_time: Duration::from_secs(10),
            seed: 0x5eed_e2b0_f022,
            max_len: 64 * 1024,
            artifacts: PathBuf::from("target/fuzz-artifacts"),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Inputs executed.
    pub runs: u64,
    /// Seeds among them.
    pub seeds: usize,
    /// Longest time one input took.
    pub slowest: Duration,
    /// Wall time.
    pub elapsed: Duration,
}

/// A small xorshift generator: deterministic, no dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x02, 0x05, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x25, 0x26, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x39, 0x3a, 0x3b, 0x3d, 0x3f, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d, 0x7e, 0x7f, 0x80, 0xc3, 0xe2,
    0xfe, 0xff,
];

const INTERESTING_TEXT: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "65535",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e309",
    "-0",
    "0.5",
    "NaN",
    "Infinity",
    "null",
    "true",
    "\"\"",
    "{}",
    "[]",
    "\\u0000",
    "\\ud800",
    "%00",
    "%ff",
    "%",
    "\r\n",
    "\u{fffd}",
    "é",
];

/// Mutate `input` in place: one to four edits, sometimes a splice with `other`.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], dictionary: &[&[u8]], max_len: usize) {
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        let len = input.len();
        match rng.below(12) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let n = (1 + rng.below(16)).min(len - at);
                input.drain(at..at + n);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = (1 + rng.below(32)).min(len - at);
                let copy = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            4 => {
                let to = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(to..to, bytes);
            }
            5 | 6 if !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())];
                let to = rng.below(len + 1);
                if rng.chance(2) || to + token.len() > len {
                    input.splice(to..to, token.iter().copied());
                } else {
                    input[to..to + token.len()].copy_from_slice(token);
                }
            }
            7 => {
                let token = INTERESTING_TEXT[rng.below(INTERESTING_TEXT.len())].as_bytes();
                replace_number(rng, input, token);
            }
            8 if len > 0 => input.truncate(rng.below(len)),
            9 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            10 if len > 1 => {
                let a = rng.below(len);
                let b = rng.below(len);
                input.swap(a, b);
            }
            _ => {
                let to = rng.below(len + 1);
                input.insert(to, crate::input::SEP);
            }
        }
    }
    input.truncate(max_len);
}

/// Replace a run of ASCII digits (or, if there is none, some position) with `token`.
fn replace_number(rng: &mut Rng, input: &mut Vec<u8>, token: &[u8]) {
    let len = input.len();
    let start = rng.below(len + 1);
    let found = (start..len)
        .chain(0..start)
        .find(|&i| input[i].is_ascii_digit());
    match found {
        Some(mut from) => {
            while from > 0 && input[from - 1].is_ascii_digit() {
                from -= 1;
            }
            let mut to = from;
            while to < len && input[to].is_ascii_digit() {
                to += 1;
            }
            input.splice(from..to, token.iter().copied());
        }
        None => {
            input.splice(start..start, token.iter().copied());
        }
    }
}

/// Watches the input being run; ends the process if it runs too long.
struct Watchdog {
    started_ms: Arc<AtomicU64>,
    current: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    clock: Instant,
}

impl Watchdog {
    fn start(target: &'static str, options: &Options) -> Watchdog {
        let started_ms = Arc::new(AtomicU64::new(u64::MAX));
        let current = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let clock = Instant::now();
        let limit = options.max_input_time;
        let artifacts = options.artifacts.clone();
        {
            let (started_ms, current, stop) = (started_ms.clone(), current.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                    let started = started_ms.load(Ordering::SeqCst);
                    if started == u64::MAX {
                        continue;
                    }
                    let now = clock.elapsed().as_millis() as u64;
                    if now.saturating_sub(started) > limit.as_millis() as u64 {
                        let input = current.lock().map(|i| i.clone()).unwrap_or_default();
                        let saved = save(&artifacts, target, "timeout", &input);
                        eprintln!(
                            "fuzz target `{target}`: one input ran longer than {limit:?}; \
                             {saved}; replay with `cargo run -p e2b-fuzz -- replay {target} FILE`"
                        );
                        std::process::exit(70);
                    }
                }
            });
        }
        Watchdog {
            started_ms,
            current,
            stop,
            clock,
        }
    }

    fn enter(&self, input: &[u8]) {
        if let Ok(mut current) = self.current.lock() {
            current.clear();
            current.extend_from_slice(input);
        }
        let now = self.clock.elapsed().as_millis() as u64;
        self.started_ms.store(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.started_ms.store(u64::MAX, Ordering::SeqCst);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Write a failing input under `artifacts/<target>/`; says where (or why not).
fn save(artifacts: &std::path::Path, target: &str, kind: &str, input: &[u8]) -> String {
    let dir = artifacts.join(target);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{kind}-{hash:016x}"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
        Ok(()) => format!("input saved to {}", path.display()),
        Err(e) => format!(
            "input not saved ({e}): {:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

/// Run one input, turning a panic into a failure that names the saved input.
fn execute(target: &'static Target, watchdog: &Watchdog, options: &Options, input: &[u8]) {
    watchdog.enter(input);
    let outcome = std::panic::catch_unwind(|| (target.run)(input));
    watchdog.leave();
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(non-string panic)");
        let saved = save(&options.artifacts, target.name, "crash", input);
        panic!(
            "fuzz target `{}` failed: {message}\n{saved}; replay with \
             `cargo run -p e2b-fuzz -- replay {} FILE`",
            target.name, target.name
        );
    }
}

/// Fuzz `target` for `options.budget`; panics on the first failing input.
pub fn run(target: &'static Target, options: &Options) -> Report {
    let clock = Instant::now();
    let watchdog = Watchdog::start(target.name, options);
    let mut rng = Rng(options.seed | 1);
    let mut corpus = (target.seeds)();
    let seeds = corpus.len();
    let mut runs = 0u64;
    let mut slowest = Duration::ZERO;
    let mut timed = |input: &[u8]| {
        let started = Instant::now();
        execute(target, &watchdog, options, input);
        slowest = slowest.max(started.elapsed());
    };
    for seed in &corpus {
        timed(seed);
        runs += 1;
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let pool_limit = seeds + 256;
    while clock.elapsed() < options.budget {
        let pick = rng.below(corpus.len());
        let other = rng.below(corpus.len());
        let mut input = corpus[pick].clone();
        mutate(
            &mut rng,
            &mut input,
            &corpus[other],
            target.dictionary,
            options.max_len,
        );
        timed(&input);
        runs += 1;
        // Keep a few mutants to mutate further: random walks away from the seeds.
        if rng.chance(16) {
            if corpus.len() < pool_limit {
                corpus.push(input);
            } else {
                let slot = seeds + rng.below(pool_limit - seeds);
                corpus[slot] = input;
            }
        }
    }
    Report {
        runs,
        seeds,
        slowest,
        elapsed: clock.elapsed(),
    }
}

/// Run `target` once on `input` (a saved artifact), with the panic as is.
pub fn replay(target: &Target, input: &[u8]) {
    (target.run)(input);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_stays_within_bounds() {
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let mut input = b"{\"a\": 12, \"b\": [1, 2]}".to_vec();
            mutate(&mut rng, &mut input, b"other", &[b"tok"], 64);
            assert!(input.len() <= 64);
        }
        let mut empty = Vec::new();
        for _ in 0..1000 {
            mutate(&mut rng, &mut empty, b"", &[], 16);
        }
    }
}
