//! A blocking facade over the async SDK, like `reqwest::blocking`: the same operations,
//! call shapes and types, for programs without an async runtime.
//!
//! ```no_run
//! use e2b::blocking::{Client, Sandbox};
//!
//! fn main() -> e2b::Result<()> {
//!     let client = Client::from_env()?;
//!     let sandbox = Sandbox::create(&client)?;
//!     let result = sandbox.commands().run("echo hello")?;
//!     print!("{}", result.stdout);
//!     sandbox.kill()?;
//!     Ok(())
//! }
//! ```
//!
//! # How it works
//!
//! A blocking [`Client`] owns a small tokio runtime (one worker thread, named
//! `e2b-blocking`) shared by every handle made from it; each call runs the async
//! operation to completion on the calling thread with `block_on`, while the worker drives
//! what runs in the background (the output of a started command, its callbacks). Handles
//! ([`Client`], [`Sandbox`], [`CommandHandle`], [`CodeInterpreter`]) are `Send + Sync`
//! and cheap to clone: use them from any thread. Options, results and errors are the async
//! API's own types ([`CommandOptions`](crate::CommandOptions),
//! [`CommandResult`](crate::CommandResult), [`Error`](crate::Error), …), so streaming
//! callbacks set on options work as they do there.
//!
//! # Panics
//!
//! Every blocking call panics when made from inside an async runtime (a `#[tokio::main]`
//! function, a task, `block_on`), as `reqwest::blocking` does: blocking there would stall
//! the runtime's thread. Use the async API in async code, or move the blocking call onto a
//! thread of its own (`tokio::task::spawn_blocking`, `std::thread::spawn`). Dropping the
//! last handle inside a runtime is fine: the runtime is then shut down in the background.
//!
//! The blocking facade is behind the `blocking` feature (off by default).

mod client;
#[cfg(feature = "code-interpreter")]
mod code_interpreter;
mod commands;
mod files;
mod runtime;
mod sandbox;

pub use client::{Client, Iter};
#[cfg(feature = "code-interpreter")]
#[cfg_attr(docsrs, doc(cfg(feature = "code-interpreter")))]
pub use code_interpreter::CodeInterpreter;
pub use commands::{CommandHandle, Commands};
pub use files::Files;
pub use sandbox::Sandbox;
