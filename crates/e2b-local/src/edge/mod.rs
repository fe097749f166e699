//! The edge: the one listener, and how each request reaches the control
//! plane or a sandbox (routing by host or headers, envd's access token,
//! signed file URLs, the proxy into the sandbox's agent, and the guards on
//! connections and request bodies).

pub(crate) mod drain;
pub(crate) mod envd_auth;
pub(crate) mod eof_grace;
pub(crate) mod idle_body;
pub(crate) mod proxy;
pub(crate) mod reset;
pub(crate) mod routing;
pub(crate) mod server;
pub mod signature;
