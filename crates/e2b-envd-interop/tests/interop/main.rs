//! e2b-envd's Connect client (reqwest) against connectrpc's server. Every
//! scenario runs with JSON and with binary protobuf, over HTTP/1.1 and over
//! cleartext HTTP/2.
//!
//! No test sleeps to synchronise: the server is scripted through the request
//! (see `e2b_envd_interop::FakeProcess`), and waits are on messages or on
//! futures that never complete.

mod support;

mod client_stream;
mod deadlines;
mod filesystem;
mod large;
mod server_stream;
mod unary;
