//! A small Connect protocol runtime: what the generated client stubs and server
//! dispatchers call.
//!
//! * Unary, server-streaming and client-streaming calls; JSON (ProtoJSON) by
//!   default, binary protobuf as an option ([`Codec`]).
//! * Envelope framing with end-of-stream errors and metadata ([`envelope`]).
//! * `Connect-Timeout-Ms` deadlines, stream idle timeouts ([`CallOptions`]);
//!   keepalive messages are consumed, never yielded ([`StreamMessage`]).
//! * Errors are Connect codes with messages ([`Code`], [`ConnectError`]);
//!   failures of the connection itself are kept apart ([`Error`]).
//!
//! The client rides on reqwest, so it speaks HTTP/1.1, or HTTP/2 when TLS
//! negotiates it. The server half works with any `http`-based server.

// `ConnectError` (code, message, details, metadata) is the error of every
// server handler; it travels on error paths only, so its size costs nothing on
// the success path. Client calls return the smaller boxed `Error`.
#![allow(clippy::result_large_err)]

mod code;
mod codec;
pub mod envelope;
mod error;
mod options;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "client")]
mod streaming;

#[cfg(feature = "client")]
pub use client::{Client, ExecFuture, Execute};
pub use code::{Code, UnknownCode};
pub use codec::{Codec, Message, StreamMessage};
pub use error::{ConnectError, Error, TimeoutKind};
pub use options::{CallOptions, parse_timeout_header, timeout_header_value};
#[cfg(feature = "client")]
pub use streaming::Streaming;
