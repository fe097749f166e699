//! The Jupyter messaging protocol, as the code interpreter speaks it to kernels.

pub mod client;
pub mod connection;
pub mod hmac;
pub mod message;
