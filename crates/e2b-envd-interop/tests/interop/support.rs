//! Shared helpers.

use e2b_envd::connect::{Client, Codec, ConnectError, Error, Streaming};
use e2b_envd::process::process_client::ProcessClient;
use e2b_envd::process::process_event::Event;
use e2b_envd::process::process_selector::Selector;
use e2b_envd::process::{ProcessSelector, StartResponse};
use e2b_envd_interop::TestServer;

/// How a test talks to the server: the message codec and the HTTP version.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wire {
    pub(crate) codec: Codec,
    /// HTTP/2 over cleartext (prior knowledge) instead of HTTP/1.1.
    pub(crate) h2: bool,
}

impl Wire {
    pub(crate) fn is_json(self) -> bool {
        self.codec == Codec::Json
    }
}

/// Runs `async fn name(wire: Wire)` with each codec over HTTP/1.1 and HTTP/2,
/// as `name::{json, proto, json_h2, proto_h2}`.
macro_rules! wire_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use e2b_envd::connect::Codec;
            use $crate::support::Wire;

            #[tokio::test]
            async fn json() {
                super::$name(Wire { codec: Codec::Json, h2: false }).await
            }
            #[tokio::test]
            async fn proto() {
                super::$name(Wire { codec: Codec::Proto, h2: false }).await
            }
            #[tokio::test]
            async fn json_h2() {
                super::$name(Wire { codec: Codec::Json, h2: true }).await
            }
            #[tokio::test]
            async fn proto_h2() {
                super::$name(Wire { codec: Codec::Proto, h2: true }).await
            }
        }
    )*};
}
pub(crate) use wire_tests;

/// Like [`wire_tests`], for scenarios that mostly wait on timers: one test
/// per scenario (`name::all_wires`) runs the four variants concurrently, so
/// their waits overlap, and names the variants that failed.
macro_rules! concurrent_wire_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn all_wires() {
                $crate::support::each_wire(super::$name).await
            }
        }
    )*};
}
pub(crate) use concurrent_wire_tests;

/// Every codec over every HTTP version.
pub(crate) const WIRES: [Wire; 4] = [
    Wire {
        codec: Codec::Json,
        h2: false,
    },
    Wire {
        codec: Codec::Proto,
        h2: false,
    },
    Wire {
        codec: Codec::Json,
        h2: true,
    },
    Wire {
        codec: Codec::Proto,
        h2: true,
    },
];

/// Runs `scenario` for every [`Wire`] at once; panics naming each variant
/// that failed.
pub(crate) async fn each_wire<F, Fut>(scenario: F)
where
    F: Fn(Wire) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_wires(&WIRES, scenario).await
}

/// [`each_wire`] for one codec, over both HTTP versions.
pub(crate) async fn each_wire_of<F, Fut>(codec: Codec, scenario: F)
where
    F: Fn(Wire) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let wires: Vec<Wire> = WIRES.iter().copied().filter(|w| w.codec == codec).collect();
    run_wires(&wires, scenario).await
}

async fn run_wires<F, Fut>(wires: &[Wire], scenario: F)
where
    F: Fn(Wire) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runs: Vec<_> = wires
        .iter()
        .map(|&w| (w, tokio::spawn(scenario(w))))
        .collect();
    let mut failures = Vec::new();
    for (wire, run) in runs {
        if let Err(e) = run.await {
            let message = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            failures.push(format!("{wire:?}: {message}"));
        }
    }
    assert!(failures.is_empty(), "failed: {failures:#?}");
}

pub(crate) fn connect_client(server: &TestServer, wire: Wire) -> Client {
    let http = if wire.h2 {
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .expect("HTTP/2 client")
    } else {
        reqwest::Client::builder()
            .http1_only()
            .build()
            .expect("HTTP/1.1 client")
    };
    Client::new(http, server.url()).with_codec(wire.codec)
}

pub(crate) fn process_client(server: &TestServer, wire: Wire) -> ProcessClient {
    ProcessClient::new(connect_client(server, wire))
}

pub(crate) fn by_pid(pid: u32) -> Option<ProcessSelector> {
    Some(ProcessSelector {
        selector: Some(Selector::Pid(pid)),
    })
}

pub(crate) fn by_tag(tag: &str) -> Option<ProcessSelector> {
    Some(ProcessSelector {
        selector: Some(Selector::Tag(tag.to_owned())),
    })
}

/// The server's Connect error inside `err`.
#[track_caller]
pub(crate) fn connect_error(err: &Error) -> &ConnectError {
    err.as_connect()
        .unwrap_or_else(|| panic!("expected a Connect error, got {err:?}"))
}

/// The next event of a process stream; panics at the end of the stream or on
/// an error.
pub(crate) async fn next_event(stream: &mut Streaming<StartResponse>) -> Event {
    stream
        .message()
        .await
        .expect("stream message")
        .expect("a message, not the end of the stream")
        .event
        .and_then(|e| e.event)
        .expect("an event")
}

/// Reads the start event and returns the pid.
pub(crate) async fn expect_start(stream: &mut Streaming<StartResponse>) -> u32 {
    match next_event(stream).await {
        Event::Start(s) => s.pid,
        other => panic!("expected a start event, got {other:?}"),
    }
}

/// Asserts the stream ended cleanly.
pub(crate) async fn expect_end_of_stream<T: e2b_envd::connect::StreamMessage + std::fmt::Debug>(
    stream: &mut Streaming<T>,
) {
    match stream.message().await {
        Ok(None) => {}
        other => panic!("expected the end of the stream, got {other:?}"),
    }
}
