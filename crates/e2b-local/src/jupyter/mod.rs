//! The Jupyter messaging protocol, as the code interpreter speaks it to kernels.

pub mod hmac;
pub mod message;
