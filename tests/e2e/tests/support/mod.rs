//! Fixtures of this crate's routing and transfer tests: servers put in front of
//! e2b-local. The helpers shared with other crates live in `e2b-test-support`.

#![allow(dead_code, unreachable_pub)]

pub mod edge;
pub mod proxy;
