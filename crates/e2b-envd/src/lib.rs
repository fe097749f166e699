//! Low-level envd client and server plumbing.
pub mod connect;
