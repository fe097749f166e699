//! A small Connect protocol runtime.
mod code;
mod error;

pub use code::{Code, UnknownCode};
pub use error::{ConnectError, Error, TimeoutKind};
