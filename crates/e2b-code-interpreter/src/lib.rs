//! The E2B code interpreter from Rust: run Python (and JavaScript, TypeScript, R, Java,
//! bash) in stateful Jupyter kernels inside a sandbox, and get back rich results —
//! text, HTML, images, DataFrames as data, matplotlib figures as typed charts.
//!
//! ```no_run
//! use e2b_code_interpreter::{Chart, Client, CodeInterpreter, RunCodeOptions};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // E2B_API_KEY (and E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL, …) from the environment.
//!     let client = Client::from_env()?;
//!     let interpreter = CodeInterpreter::create(&client).await?;
//!
//!     // State persists between calls.
//!     interpreter.run_code("x = 21").await?;
//!     let execution = interpreter.run_code("x * 2").await?;
//!     assert_eq!(execution.text(), Some("42"));
//!
//!     // Output streams to callbacks; plots come back as images and typed data.
//!     let code = "import matplotlib.pyplot as plt\n\
//!                 print('plotting')\n\
//!                 plt.plot([1, 2, 3], [1, 4, 9]); plt.title('squares'); plt.show()";
//!     let execution = interpreter
//!         .run_code_with(code, RunCodeOptions::new().on_stdout(|m| print!("{}", m.line)))
//!         .await?;
//!     for result in &execution.results {
//!         if let Some(Chart::Line(chart)) = &result.chart {
//!             println!("{:?}: {:?}", chart.title, chart.elements[0].points);
//!         }
//!         if let Some(png) = result.png_bytes()? {
//!             std::fs::write("squares.png", png)?;
//!         }
//!     }
//!
//!     // Errors raised by the code are data, not `Err`.
//!     let execution = interpreter.run_code("1 / 0").await?;
//!     let error = execution.error.expect("ZeroDivisionError");
//!     println!("{}: {}", error.name, error.value);
//!
//!     interpreter.sandbox().kill().await?;
//!     Ok(())
//! }
//! ```
//!
//! # Overview
//!
//! - [`CodeInterpreter`]: a sandbox of the `code-interpreter-v1` template
//!   ([`DEFAULT_TEMPLATE`]), created with [`CodeInterpreter::create`] /
//!   [`CodeInterpreter::builder`] or reached with [`CodeInterpreter::connect`]. Its
//!   [`Sandbox`] — commands, files, git, the lifecycle — is
//!   [`sandbox()`](CodeInterpreter::sandbox).
//! - [`run_code`](CodeInterpreter::run_code) waits and returns an [`Execution`]
//!   ([`results`](Execution::results), [`logs`](Execution::logs),
//!   [`error`](Execution::error), [`execution_count`](Execution::execution_count),
//!   [`text()`](Execution::text)); with [`run_code_with`](CodeInterpreter::run_code_with),
//!   callbacks in [`RunCodeOptions`] see output as it arrives.
//!   [`run_code_stream`](CodeInterpreter::run_code_stream) returns the output as a
//!   `Stream` of [`OutputEvent`]s instead.
//! - [`ExecutionResult`] (upstream's `Result`) holds every representation: text, html,
//!   markdown, svg, png, jpeg, pdf, latex, json, javascript, data, chart, extra, with
//!   [`formats`](ExecutionResult::formats) and decoded images. Executions and results
//!   serialize (serde) to the JSON shape of the server's messages, e.g. to hand to a model.
//! - [`charts`]: typed chart data (line, scatter, bar, pie, box-and-whisker, superchart),
//!   tolerant of fields and types newer than this crate.
//! - Contexts ([`Context`]): independent kernels with their own language and working
//!   directory: [`create_code_context`](CodeInterpreter::create_code_context),
//!   [`list_code_contexts`](CodeInterpreter::list_code_contexts),
//!   [`restart_code_context`](CodeInterpreter::restart_code_context),
//!   [`remove_code_context`](CodeInterpreter::remove_code_context).
//!
//! # Timeouts
//!
//! | Deadline | Default | Bounds | Error ([`TimeoutKind`]) |
//! |---|---|---|---|
//! | execution | 300 s (the Python SDK's; JavaScript uses 60 s) | a whole `run_code`; the kernel is interrupted, its state kept | [`Execution`](TimeoutKind::Execution) |
//! | request | the sandbox's (60 s) | the wait for the server's answer to begin; a whole context call | [`Request`](TimeoutKind::Request) |
//! | stream idle | none | silence on the output stream (the server sends keepalives every 5 s) | [`StreamIdle`](TimeoutKind::StreamIdle) |
//!
//! `Duration::ZERO` turns a deadline off. When the connection breaks, envd's `/health` is
//! probed: if the sandbox no longer answers, the error is
//! [`SandboxGone`](TimeoutKind::SandboxGone) ([`Error::is_sandbox_gone`]).
//!
//! # Errors
//!
//! Every fallible call returns [`Error`] (from `e2b-core`), as in `e2b-sandbox`. Like the
//! official SDKs: 404 is not found ([`NotFoundKind::Context`] for context operations),
//! 502 means the sandbox is gone, other statuses keep their status and text
//! ([`Error::status`]). Passing both a language and a context is an invalid-argument
//! error raised before any request.
//!
//! # Routing
//!
//! Requests go to port 49999 of the sandbox exactly as envd traffic goes to 49983 (see
//! [`Sandbox::port_endpoint`]): the sandbox's own host or the sandbox URL override, the
//! `E2b-Sandbox-Id`/`E2b-Sandbox-Port` headers, `X-Access-Token` for secure sandboxes and
//! `E2B-Traffic-Access-Token` where the sandbox has one. They go through the SDK's one HTTP
//! seam ([`e2b_sandbox::raw::HttpClient`]), with its pools, tracing and connection retries.
//!
//! # Tracing
//!
//! Operations run in `tracing` spans (`e2b.code_interpreter.run_code`, …) with the sandbox
//! id and, where relevant, the language and context id; code and output are not recorded.
//! Each request inside them has an `e2b.http` span (operation, status, request id).

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The crate README's Rust code, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

pub mod charts;
#[doc(hidden)]
pub mod fuzzing;
mod models;
mod options;
mod sandbox;
mod stream;

pub use charts::{Chart, ChartType, ChartValue, ScaleType};
pub use e2b_core::{Error, ErrorKind, NotFoundKind, Result, TimeoutKind};
pub use e2b_sandbox::{Client, ConnectionConfig, Sandbox};
pub use models::{Execution, ExecutionError, ExecutionResult, Logs, OutputEvent, OutputMessage};
pub use options::{ContextOptions, DEFAULT_EXECUTION_TIMEOUT, RunCodeOptions, language};
pub use sandbox::{CodeInterpreter, CodeInterpreterBuilder, Context, DEFAULT_TEMPLATE};
pub use stream::ExecutionStream;
