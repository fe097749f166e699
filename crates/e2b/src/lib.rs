//! The Rust SDK for [E2B](https://e2b.dev): secure sandboxes for AI agents, in the cloud,
//! self-hosted, or on one machine with `e2b-local`.
//!
//! ```no_run
//! # #[cfg(feature = "sandbox")]
//! #[tokio::main]
//! async fn main() -> e2b::Result<()> {
//!     let client = e2b::Client::from_env()?;
//!     let sandbox = e2b::Sandbox::create(&client).await?;
//!     let result = sandbox
//!         .commands()
//!         .run("echo hello")
//!         .await?;
//!     print!("{}", result.stdout);
//!     sandbox.kill().await?;
//!     Ok(())
//! }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! # Features
//!
//! - `sandbox` (default): [`e2b-sandbox`](https://docs.rs/e2b-sandbox), re-exported at the
//!   crate root and as [`sandbox`].
//! - `code-interpreter`: [`e2b-code-interpreter`](https://docs.rs/e2b-code-interpreter)
//!   (run code in stateful kernels, rich results, typed charts), re-exported as
//!   `code_interpreter`, with `CodeInterpreter` and `RunCodeOptions` at the crate root.
//!   Enables `sandbox`.
//! - `blocking`: `e2b::blocking`, a blocking facade (like `reqwest::blocking`) over a tokio
//!   runtime it owns, for programs without an async runtime: lifecycle, commands, files
//!   and, with `code-interpreter`, `run_code` and contexts. Off by default: it costs async
//!   users compile time and nothing else needs it. Enables `sandbox`.
//! - `volume`: [`e2b-volume`](https://docs.rs/e2b-volume) (persistent volumes: create,
//!   mount into sandboxes, read and write their files), re-exported as `volume`, with
//!   `Volume` at the crate root. Enables `sandbox`.
//! - `template`: [`e2b-template`](https://docs.rs/e2b-template) (the template builder,
//!   Dockerfile import, builds with streamed logs, tags), re-exported as `template`, with
//!   `Template` at the crate root. Enables `sandbox`.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

// The crate README's Rust code, compiled as doctests (its examples need both features).
#[cfg(all(doctest, feature = "code-interpreter", feature = "blocking"))]
#[doc = include_str!("../README.md")]
mod readme {}

/// Sandboxes: lifecycle, commands, pseudo-terminals (the `e2b-sandbox` crate).
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub use e2b_sandbox as sandbox;

#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
#[doc(inline)]
pub use e2b_sandbox::*;

/// The code interpreter: run code in stateful kernels, rich results, typed charts (the
/// `e2b-code-interpreter` crate).
#[cfg(feature = "code-interpreter")]
#[cfg_attr(docsrs, doc(cfg(feature = "code-interpreter")))]
pub use e2b_code_interpreter as code_interpreter;

#[cfg(feature = "code-interpreter")]
#[cfg_attr(docsrs, doc(cfg(feature = "code-interpreter")))]
#[doc(inline)]
pub use e2b_code_interpreter::{CodeInterpreter, RunCodeOptions};

/// Persistent volumes: create, mount into sandboxes, read and write their files (the
/// `e2b-volume` crate).
#[cfg(feature = "volume")]
#[cfg_attr(docsrs, doc(cfg(feature = "volume")))]
pub use e2b_volume as volume;

#[cfg(feature = "volume")]
#[cfg_attr(docsrs, doc(cfg(feature = "volume")))]
#[doc(inline)]
pub use e2b_volume::Volume;

/// Templates: the builder, Dockerfile import, builds and tags (the `e2b-template` crate).
#[cfg(feature = "template")]
#[cfg_attr(docsrs, doc(cfg(feature = "template")))]
pub use e2b_template as template;

#[cfg(feature = "template")]
#[cfg_attr(docsrs, doc(cfg(feature = "template")))]
#[doc(inline)]
pub use e2b_template::Template;

/// A blocking facade over the async API, for programs without an async runtime.
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
